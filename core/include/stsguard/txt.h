/*
 * txt.h - one DNS TXT record as the parsers see it.
 *
 * RFC 8461 §3.1 and RFC 8460 §3: the character-strings of one TXT record are
 * concatenated without separators before parsing. The DNS layer does that;
 * the parsers receive one (data, len) pair per record. Data need not be
 * NUL-terminated and may contain any byte, NUL included.
 */
#ifndef STSGUARD_TXT_H
#define STSGUARD_TXT_H

#include <stddef.h>

/* Largest record a parser looks at: the largest possible TXT RDATA. */
#define STSGUARD_TXT_RECORD_MAX 65535u
/* Most records of one RRset a parser looks at; more is "too big". */
#define STSGUARD_TXT_RRSET_MAX 64u

typedef struct stsguard_txt {
	const char *data;
	size_t len;
} stsguard_txt;

#endif
