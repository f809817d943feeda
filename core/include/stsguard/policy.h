/*
 * policy.h - the MTA-STS policy body (RFC 8461 §3.2).
 */
#ifndef STSGUARD_POLICY_H
#define STSGUARD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* RFC 8461 §3.3 suggests 64 KB; we cap the body at 64 KiB. */
#define STSGUARD_POLICY_BODY_MAX 65536u
/* RFC 8461 §3.2: max_age is at most 31557600 seconds (about one year). */
#define STSGUARD_MAX_AGE_LIMIT 31557600u
/* Most mx lines kept; a longer list is refused as too big. */
#define STSGUARD_POLICY_MX_MAX 256u

typedef enum stsguard_mode {
	STSGUARD_MODE_NONE = 0,
	STSGUARD_MODE_TESTING = 1,
	STSGUARD_MODE_ENFORCE = 2
} stsguard_mode;

typedef struct stsguard_policy {
	stsguard_mode mode;
	uint32_t max_age;     /* seconds, already capped at STSGUARD_MAX_AGE_LIMIT */
	bool max_age_capped;  /* the published value was larger and was capped */
	size_t n_mx;
	char **mx;            /* patterns in policy order, lower-cased */
} stsguard_policy;

/*
 * Parse a fetched policy body of len bytes (no NUL needed).
 *
 * Grammar of RFC 8461 §3.2 with the errata: lines end in LF or CRLF
 * (erratum 6253); "key:" *WSP value *WSP; keys are case-sensitive; version
 * must be "STSv1"; mode one of enforce/testing/none; max_age 1*10 DIGIT;
 * every mx line is kept, in order, and each must pass
 * stsguard_mx_pattern_check(); for every other key the first occurrence wins
 * and later ones are ignored; unknown keys must match the extension grammar
 * and are otherwise ignored. version, mode and max_age are required; mx is
 * required unless mode is none. Empty lines at the very end of the body are
 * tolerated (they change no meaning; refusing them would turn a published
 * enforce policy into "no policy"). max_age above 31557600 is capped, not
 * refused, for the same reason: refusing would silently downgrade a domain
 * that asked for enforcement to no protection at all (max_age_capped says
 * so). Body over STSGUARD_POLICY_BODY_MAX: STSGUARD_TOOBIG.
 *
 * On STSGUARD_OK *out is a new policy for stsguard_policy_free(); on failure
 * *out is NULL and err (if not NULL) says which line and what is wrong.
 */
STSGUARD_EXPORT stsguard_status stsguard_policy_parse(const char *body, size_t len,
                                                      stsguard_policy **out, stsguard_err *err);

STSGUARD_EXPORT void stsguard_policy_free(stsguard_policy *policy);

/* "enforce", "testing", "none". */
STSGUARD_EXPORT const char *stsguard_mode_name(stsguard_mode mode);

/*
 * One line of JSON: {"version":"STSv1","mode":...,"max_age":N,"mx":[...]}
 * without a newline. *out is a new NUL-terminated string for free().
 */
STSGUARD_EXPORT stsguard_status stsguard_policy_to_json(const stsguard_policy *policy, char **out);

#ifdef __cplusplus
}
#endif
#endif
