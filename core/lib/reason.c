/*
 * reason.c - names and RFC 8460 result types of discovery failures.
 *
 * The mapping follows RFC 8460 §4.3.2: failures to obtain the policy are
 * sts-policy-fetch-error, a policy host certificate failing PKIX validation
 * is sts-webpki-invalid, and anything fetched that is not a valid policy
 * (wrong media type, oversized, syntax) is sts-policy-invalid.
 */
#include "stsguard/reason.h"

#include <stddef.h>

static const struct {
	const char *name;
	const char *result_type;
	int temporary;
} reasons[STSGUARD_REASON_MAX_] = {
	[STSGUARD_REASON_NONE] = {"none", NULL, 0},
	[STSGUARD_REASON_TXT_INVALID] = {"txt-invalid", "sts-policy-invalid", 0},
	[STSGUARD_REASON_TXT_TEMPFAIL] = {"txt-tempfail", "sts-policy-fetch-error", 1},
	[STSGUARD_REASON_HOST_NOT_FOUND] = {"policy-host-not-found", "sts-policy-fetch-error", 0},
	[STSGUARD_REASON_HOST_TEMPFAIL] = {"policy-host-tempfail", "sts-policy-fetch-error", 1},
	[STSGUARD_REASON_CONNECT] = {"connect-failed", "sts-policy-fetch-error", 1},
	[STSGUARD_REASON_TIMEOUT] = {"timeout", "sts-policy-fetch-error", 1},
	[STSGUARD_REASON_TLS] = {"tls-handshake-failed", "sts-policy-fetch-error", 1},
	[STSGUARD_REASON_CERT_UNTRUSTED] = {"certificate-not-trusted", "sts-webpki-invalid", 0},
	[STSGUARD_REASON_CERT_EXPIRED] = {"certificate-expired", "sts-webpki-invalid", 0},
	[STSGUARD_REASON_CERT_HOSTNAME] = {"certificate-host-mismatch", "sts-webpki-invalid", 0},
	[STSGUARD_REASON_HTTP_STATUS] = {"http-status", "sts-policy-fetch-error", 0},
	[STSGUARD_REASON_HTTP_REDIRECT] = {"http-redirect", "sts-policy-fetch-error", 0},
	[STSGUARD_REASON_CONTENT_TYPE] = {"content-type", "sts-policy-invalid", 0},
	[STSGUARD_REASON_TOO_BIG] = {"too-big", "sts-policy-invalid", 0},
	[STSGUARD_REASON_POLICY_INVALID] = {"policy-invalid", "sts-policy-invalid", 0},
	[STSGUARD_REASON_INTERNAL] = {"internal-error", "sts-policy-fetch-error", 1},
	[STSGUARD_REASON_BACKOFF] = {"backoff", "sts-policy-fetch-error", 0},
};

const char *stsguard_reason_name(stsguard_reason reason)
{
	if ((unsigned)reason >= STSGUARD_REASON_MAX_)
		return "unknown";
	return reasons[reason].name;
}

const char *stsguard_reason_result_type(stsguard_reason reason)
{
	if ((unsigned)reason >= STSGUARD_REASON_MAX_)
		return "sts-policy-fetch-error";
	return reasons[reason].result_type;
}

int stsguard_reason_is_temporary(stsguard_reason reason)
{
	if ((unsigned)reason >= STSGUARD_REASON_MAX_)
		return 1;
	return reasons[reason].temporary;
}
