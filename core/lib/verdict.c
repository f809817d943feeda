/*
 * verdict.c - the per-delivery decision (see verdict.h). Pure.
 */
#include "stsguard/verdict.h"

#include "stsguard/mx_pattern.h"

static bool host_matches(const stsguard_policy *p, const char *host)
{
	for (size_t i = 0; i < p->n_mx; i++)
		if (stsguard_mx_pattern_match(p->mx[i], host))
			return true;
	return false;
}

stsguard_verdict stsguard_decide(const stsguard_decision_input *in, bool *allowed)
{
	const stsguard_policy *p = in->policy;
	bool any_dane = false, any_unknown = false;

	for (size_t i = 0; i < in->n_hosts; i++) {
		if (allowed != NULL)
			allowed[i] = true;
		if (in->dane != NULL) {
			any_dane |= in->dane[i] == STSGUARD_DANE_PRESENT;
			any_unknown |= in->dane[i] == STSGUARD_DANE_UNKNOWN;
		}
	}
	if (p == NULL)
		return in->policy_tempfail ? STSGUARD_VERDICT_TEMPFAIL : STSGUARD_VERDICT_NO_POLICY;
	if (p->mode == STSGUARD_MODE_NONE)
		return STSGUARD_VERDICT_NONE;

	/* RFC 8461 §4.1: only MX hosts matching a pattern are valid candidates. */
	for (size_t i = 0; allowed != NULL && i < in->n_hosts; i++)
		allowed[i] = host_matches(p, in->hosts[i]);

	if (any_dane)
		return STSGUARD_VERDICT_DANE;
	if (any_unknown && p->mode == STSGUARD_MODE_ENFORCE)
		return STSGUARD_VERDICT_TEMPFAIL;
	return p->mode == STSGUARD_MODE_ENFORCE ? STSGUARD_VERDICT_ENFORCE : STSGUARD_VERDICT_TESTING;
}

const char *stsguard_verdict_name(stsguard_verdict verdict)
{
	switch (verdict) {
	case STSGUARD_VERDICT_NO_POLICY: return "no-policy";
	case STSGUARD_VERDICT_NONE: return "none";
	case STSGUARD_VERDICT_TESTING: return "testing";
	case STSGUARD_VERDICT_ENFORCE: return "enforce";
	case STSGUARD_VERDICT_DANE: return "dane";
	case STSGUARD_VERDICT_TEMPFAIL: return "tempfail";
	}
	return "unknown";
}
