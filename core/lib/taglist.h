/*
 * taglist.h - the "v=...; name=value; ..." grammar shared by the _mta-sts
 * (RFC 8461 §3.1) and _smtp._tls (RFC 8460 §3) TXT records. Internal.
 */
#ifndef STSGUARD_TAGLIST_H
#define STSGUARD_TAGLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "stsguard/status.h"
#include "stsguard/txt.h"

typedef struct sg_tag {
	const char *name;
	size_t name_len;
	const char *value; /* up to the delimiter, trailing WSP removed */
	size_t value_len;
	size_t index;      /* 0 for the first field after the version */
} sg_tag;

/* Called per field; a status other than STSGUARD_OK stops the scan and is returned. */
typedef stsguard_status (*sg_tag_fn)(void *ctx, const sg_tag *tag, stsguard_err *err);

/* Does the record begin with `version` *WSP ";"? (the discard rule of both RFCs) */
bool sg_taglist_is_version(const char *rec, size_t len, const char *version);

/*
 * Pick the one record of an RRset that begins with `version` *WSP ";".
 * STSGUARD_OK with *chosen set, STSGUARD_NONE, STSGUARD_INVALID (several),
 * or STSGUARD_TOOBIG (caps of txt.h).
 */
stsguard_status sg_taglist_select(const stsguard_txt *records, size_t n, const char *version,
                                  const char *what, const stsguard_txt **chosen, stsguard_err *err);

/*
 * Scan `version` 1*(delim field) [delim] with delim = *WSP ";" *WSP and
 * field = name "=" value, name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" /
 * "-" / "."). Values are handed to fn unvalidated (each field has its own
 * value grammar); a value never contains ';' and is never empty.
 */
stsguard_status sg_taglist_scan(const char *rec, size_t len, const char *version, sg_tag_fn fn,
                                void *ctx, stsguard_err *err);

/* The generic extension value: 1*(%x21-3A / %x3C / %x3E-7E). */
bool sg_taglist_ext_value_ok(const char *v, size_t len);

#endif
