/*
 * status.c - names for stsguard_status values.
 */
#include "stsguard/status.h"

const char *stsguard_strerror(stsguard_status status)
{
	switch (status) {
	case STSGUARD_OK: return "success";
	case STSGUARD_NONE: return "not found";
	case STSGUARD_INVALID: return "invalid input";
	case STSGUARD_TOOBIG: return "input too large";
	case STSGUARD_NOMEM: return "out of memory";
	case STSGUARD_TEMPFAIL: return "temporary failure, try again";
	case STSGUARD_BADARG: return "bad argument";
	case STSGUARD_IO: return "I/O error";
	case STSGUARD_TIMEOUT: return "timed out";
	case STSGUARD_STATUS_MAX_: break;
	}
	return "unknown status";
}
