/*
 * reason.h - why a policy could not be discovered, by name.
 *
 * Every discovery failure carries one of these. Each maps to the RFC 8460
 * §4.3 result type it becomes in a TLS-RPT report, and to a stable short
 * name used in logs, in `stsguard query --json` ("error") and in the daemon
 * protocol. Numbers are stable; new reasons are appended.
 */
#ifndef STSGUARD_REASON_H
#define STSGUARD_REASON_H

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum stsguard_reason {
	STSGUARD_REASON_NONE = 0,          /* no failure */
	STSGUARD_REASON_TXT_INVALID,       /* _mta-sts TXT present but invalid or several */
	STSGUARD_REASON_TXT_TEMPFAIL,      /* _mta-sts TXT lookup failed (SERVFAIL, timeout) */
	STSGUARD_REASON_HOST_NOT_FOUND,    /* mta-sts.<domain> has no address */
	STSGUARD_REASON_HOST_TEMPFAIL,     /* address lookup of mta-sts.<domain> failed */
	STSGUARD_REASON_CONNECT,           /* no TCP connection to the policy host */
	STSGUARD_REASON_TIMEOUT,           /* fetch exceeded fetch_timeout */
	STSGUARD_REASON_TLS,               /* TLS handshake failed (not a certificate problem) */
	STSGUARD_REASON_CERT_UNTRUSTED,    /* policy host certificate does not chain to a trusted root */
	STSGUARD_REASON_CERT_EXPIRED,      /* policy host certificate expired or not yet valid */
	STSGUARD_REASON_CERT_HOSTNAME,     /* policy host certificate not valid for mta-sts.<domain> */
	STSGUARD_REASON_HTTP_STATUS,       /* HTTP status other than 200 (and not a redirect) */
	STSGUARD_REASON_HTTP_REDIRECT,     /* 3xx: RFC 8461 §3.3 forbids following it */
	STSGUARD_REASON_CONTENT_TYPE,      /* Content-Type is not text/plain */
	STSGUARD_REASON_TOO_BIG,           /* body over STSGUARD_POLICY_BODY_MAX */
	STSGUARD_REASON_POLICY_INVALID,    /* body fetched but not a valid policy */
	STSGUARD_REASON_INTERNAL,          /* local failure (out of memory, curl setup) */
	STSGUARD_REASON_BACKOFF,           /* not fetched, backing off (used only when the first failure is unknown) */
	STSGUARD_REASON_MAX_
} stsguard_reason;

/* Stable short name: "txt-invalid", "http-redirect", "certificate-expired", ... */
STSGUARD_EXPORT const char *stsguard_reason_name(stsguard_reason reason);

/*
 * RFC 8460 §4.3 result type: "sts-policy-fetch-error", "sts-policy-invalid"
 * or "sts-webpki-invalid"; NULL for STSGUARD_REASON_NONE.
 */
STSGUARD_EXPORT const char *stsguard_reason_result_type(stsguard_reason reason);

/* Is this a "try again" kind of failure (DNS trouble, timeout)? */
STSGUARD_EXPORT int stsguard_reason_is_temporary(stsguard_reason reason);

#ifdef __cplusplus
}
#endif
#endif
