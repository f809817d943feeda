/*
 * status.h - the one status enum of libstsguard.
 *
 * Every public function that can fail returns a stsguard_status. The numbers
 * are stable (they appear in logs and in the daemon protocol), so new values
 * are only ever appended. Three-way answers are kept apart everywhere:
 * STSGUARD_OK (found), STSGUARD_NONE (definitely absent) and
 * STSGUARD_TEMPFAIL (could not find out, try again) must never collapse.
 *
 * Detail text for a failure goes to a caller-supplied stsguard_err, which may
 * be NULL when the caller does not want it.
 */
#ifndef STSGUARD_STATUS_H
#define STSGUARD_STATUS_H

#include <stddef.h>

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum stsguard_status {
	STSGUARD_OK = 0,
	STSGUARD_NONE = 1,     /* definite absence: no record, no policy */
	STSGUARD_INVALID = 2,  /* input violates the grammar */
	STSGUARD_TOOBIG = 3,   /* input exceeds a length cap */
	STSGUARD_NOMEM = 4,    /* allocation failed */
	STSGUARD_TEMPFAIL = 5, /* could not find out: try again later */
	STSGUARD_BADARG = 6,   /* caller error */
	STSGUARD_IO = 7,       /* file or socket error */
	STSGUARD_TIMEOUT = 8,  /* a bounded wait ran out */
	STSGUARD_STATUS_MAX_
} stsguard_status;

/* Detail text for the last failure of one call. */
#define STSGUARD_ERR_LEN 256
typedef struct stsguard_err {
	char msg[STSGUARD_ERR_LEN];
} stsguard_err;

/* A short, static, English name for a status ("invalid input"). */
STSGUARD_EXPORT const char *stsguard_strerror(stsguard_status status);

#ifdef __cplusplus
}
#endif
#endif
