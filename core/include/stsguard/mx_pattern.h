/*
 * mx_pattern.h - MTA-STS "mx" patterns (RFC 8461 §3.2, §4.1).
 */
#ifndef STSGUARD_MX_PATTERN_H
#define STSGUARD_MX_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest host name we consider: 253 characters plus an optional final dot. */
#define STSGUARD_HOSTNAME_MAX 254

/*
 * Check one policy "mx" value against sts-policy-mx-value = ["*."] Domain,
 * Domain being RFC 5321's (LDH labels, no trailing dot) in A-labels only.
 * Also rejected: labels over 63 octets, names over 253, and an all-numeric
 * last label, which makes the value an IP address literal (RFC 3696 §2: no
 * top-level domain is all-numeric). STSGUARD_OK or STSGUARD_INVALID with the
 * reason in err.
 */
STSGUARD_EXPORT stsguard_status stsguard_mx_pattern_check(const char *pattern, size_t len,
                                                          stsguard_err *err);

/*
 * RFC 8461 §4.1: does MX host name `host` match `pattern`? A pattern
 * "*.rest" matches exactly one whole leftmost label followed by ".rest";
 * any other pattern (including one that starts with ".") must equal the host.
 * ASCII case-insensitive; one trailing dot on the host is ignored. A host
 * that is not a syntactically valid host name never matches. Pure function.
 */
STSGUARD_EXPORT bool stsguard_mx_pattern_match(const char *pattern, const char *host);

#ifdef __cplusplus
}
#endif
#endif
