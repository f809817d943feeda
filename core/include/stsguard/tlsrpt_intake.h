/*
 * tlsrpt_intake.h - what an MTA adapter tells stsguardd about one outbound
 * TLS session, and how the daemon turns it into a TLS-RPT result.
 *
 * Adapters send a socketmap request to the `tlsrpt` map (docs/PROTOCOL.md):
 *
 *   tlsrpt domain=example.com result=certificate-expired mx=mx1.example.com ip=192.0.2.7
 *
 * The key is tokens NAME=VALUE separated by single spaces. A value is bytes
 * 0x21-0x7e other than '%', any byte may be written %HH, and the empty
 * value is allowed ("helo="). A name appears at most once. Unknown names
 * are ignored (their values must still be well-formed), so a newer adapter
 * can talk to an older daemon. The whole key is at most
 * STSGUARD_TLSRPT_INTAKE_MAX bytes.
 *
 * The adapter reports what it saw; the daemon adds what it knows: the
 * policy it served for the domain (RFC 8460 §4.4 policy-type, policy-string,
 * mx-host), and, when the adapter sends raw session facts instead of a
 * result type (Sendmail's rulesets cannot classify), the classification.
 */
#ifndef STSGUARD_TLSRPT_INTAKE_H
#define STSGUARD_TLSRPT_INTAKE_H

#include <stdint.h>

#include "policy.h"
#include "status.h"
#include "tlsrpt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest key accepted: what fits in one socketmap request (STSGUARD_SOCKETMAP_REQUEST_MAX). */
#define STSGUARD_TLSRPT_INTAKE_MAX 1024u

/* Which policy the MTA applied, as the adapter says ("policy=" token). */
typedef enum stsguard_intake_policy {
	STSGUARD_INTAKE_POLICY_STS = 0, /* default: the STS policy the daemon holds, else no-policy-found */
	STSGUARD_INTAKE_POLICY_TLSA,    /* DANE decided (RFC 8461 §2: DANE wins) */
	STSGUARD_INTAKE_POLICY_NONE     /* the MTA applied none: no-policy-found */
} stsguard_intake_policy;

/* The SAN check an adapter reports ("san=" token). */
typedef enum stsguard_intake_san { STSGUARD_SAN_UNKNOWN = 0, STSGUARD_SAN_OK, STSGUARD_SAN_FAIL } stsguard_intake_san;

typedef struct stsguard_tlsrpt_intake {
	char domain[256];          /* policy domain, lower case, no trailing dot */
	int has_result;            /* result was given */
	stsguard_result_type result;
	stsguard_intake_policy policy;
	/* raw session facts, for adapters that cannot classify */
	char verify[16];           /* Sendmail ${verify}: OK, FAIL, NONE, NO, NOT, TEMP, ... (upper case) */
	char tls_version[32];
	char cipher[128];
	char sni[256];
	stsguard_intake_san san;
	/* the session */
	char mx[256];              /* receiving MX host name */
	char ip[46];               /* receiving IP */
	char src[46];              /* sending MTA IP */
	char helo[256];            /* receiving MX's EHLO name */
	char reason[STSGUARD_TLSRPT_TEXT_MAX + 1]; /* failure-reason-code */
	int64_t time;              /* 0: not given (the daemon uses now) */
	int probe;                 /* probe=1: the daemon may check the MX itself to classify a certificate failure */
} stsguard_tlsrpt_intake;

/*
 * Parse the key of one `tlsrpt` request (len bytes, no NUL needed) into
 * *out. STSGUARD_OK, or STSGUARD_INVALID / STSGUARD_TOOBIG with the token
 * and what is wrong in err; *out is then unusable. Field values are only
 * checked for form here (a domain is a host name, a time is a number); the
 * full RFC 8460 rules are applied by stsguard_tlsrpt_intake_result().
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_intake_parse(const char *key, size_t len,
                                                             stsguard_tlsrpt_intake *out, stsguard_err *err);

/*
 * The result type for raw facts, judged against policy (NULL: none known):
 * an MX outside the policy's patterns is validation-failure (RFC 8460 §4.3),
 * no cipher / verify NONE is starttls-not-supported, a failed SAN check is
 * certificate-host-mismatch, verify OK or TRUSTED is success, any other
 * verify value is certificate-not-trusted. A given result is returned as is.
 */
STSGUARD_EXPORT stsguard_result_type stsguard_tlsrpt_intake_classify(const stsguard_tlsrpt_intake *in,
                                                                     const stsguard_policy *policy);

/*
 * Build the TLS-RPT result for in. policy and policy_id are the STS policy
 * the daemon holds for in->domain (NULL / "" if none): with
 * STSGUARD_INTAKE_POLICY_STS and a policy, the result carries it
 * (policy-type sts, its id, its lines as policy-string, its patterns as
 * mx-host); without one, policy-type no-policy-found. now is used when the
 * adapter gave no time. On STSGUARD_OK *out owns its strings (release with
 * stsguard_tlsrpt_result_clear()) and passes stsguard_tlsrpt_result_check();
 * STSGUARD_INVALID (err says which field) or STSGUARD_NOMEM otherwise, *out
 * zeroed.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_intake_result(const stsguard_tlsrpt_intake *in,
                                                              const stsguard_policy *policy, const char *policy_id,
                                                              int64_t now, stsguard_tlsrpt_result *out,
                                                              stsguard_err *err);

#ifdef __cplusplus
}
#endif
#endif
