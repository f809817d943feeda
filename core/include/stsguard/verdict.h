/*
 * verdict.h - the per-delivery decision (pure).
 *
 * From what discovery found (policy or not, its mode and mx patterns) and
 * the DANE state of each MX host, decide what the MTA must do, and which MX
 * hosts it may use. No I/O, no clock: the same input gives the same answer.
 */
#ifndef STSGUARD_VERDICT_H
#define STSGUARD_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum stsguard_verdict {
	STSGUARD_VERDICT_NO_POLICY = 0, /* no MTA-STS policy: the MTA's own behaviour */
	STSGUARD_VERDICT_NONE = 1,      /* policy in mode none: no enforcement */
	STSGUARD_VERDICT_TESTING = 2,   /* deliver as usual, report failures */
	STSGUARD_VERDICT_ENFORCE = 3,   /* only matching MX, TLS >= 1.2, valid certificate */
	STSGUARD_VERDICT_DANE = 4,      /* DNSSEC-validated TLSA records: DANE governs (RFC 8461 §2) */
	STSGUARD_VERDICT_TEMPFAIL = 5   /* could not find out: try again */
} stsguard_verdict;

typedef enum stsguard_dane_state {
	STSGUARD_DANE_ABSENT = 0,  /* no TLSA records, or not DNSSEC-validated */
	STSGUARD_DANE_PRESENT = 1, /* DNSSEC-validated TLSA records */
	STSGUARD_DANE_UNKNOWN = 2  /* the TLSA lookup failed (SERVFAIL, e.g. bogus; timeout) */
} stsguard_dane_state;

typedef struct stsguard_decision_input {
	const stsguard_policy *policy; /* NULL: no usable policy */
	bool policy_tempfail;          /* no policy because discovery said "try again" */
	size_t n_hosts;                /* MX hosts of the domain, in preference order */
	const char *const *hosts;
	const stsguard_dane_state *dane; /* per host; NULL: DANE not checked */
} stsguard_decision_input;

/*
 * Decide. allowed (n_hosts entries, may be NULL) receives, per MX host,
 * whether the policy permits delivering to it (RFC 8461 §4.1): with no
 * policy or a mode-none policy every host is allowed; with an enforce or
 * testing policy only hosts matching an mx pattern are, whatever the verdict
 * (testing still delivers to the others: the flag says what enforce would
 * do; dane and tempfail keep the policy's view for reporting).
 *
 * Rules: no policy -> TEMPFAIL or NO_POLICY; mode none -> NONE; any MX host
 * with DANE_PRESENT -> DANE (RFC 8461 §2: a valid or testing STS result
 * must not override DANE); in enforce mode, an MX host whose DANE state is
 * UNKNOWN -> TEMPFAIL (a bogus or failed TLSA lookup must not silently turn
 * into STS); else the policy's mode.
 */
STSGUARD_EXPORT stsguard_verdict stsguard_decide(const stsguard_decision_input *in, bool *allowed);

/* "no-policy", "none", "testing", "enforce", "dane", "tempfail". */
STSGUARD_EXPORT const char *stsguard_verdict_name(stsguard_verdict verdict);

#ifdef __cplusplus
}
#endif
#endif
