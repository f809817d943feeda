/*
 * test_verdict.c - table-driven tests of stsguard_decide() and
 * stsguard_verdict_name().
 *
 * Expectations come from the contract in verdict.h and RFC 8461:
 *   - no policy: TEMPFAIL when discovery said "try again", else NO_POLICY;
 *   - mode none: NONE (§5: treat as having no active policy), whatever DANE says;
 *   - any MX host with DNSSEC-validated TLSA: DANE (§2: STS must not override DANE);
 *   - enforce with a TLSA lookup that failed (UNKNOWN): TEMPFAIL;
 *   - else the policy's mode;
 *   - allowed[i]: every host allowed without a policy or in mode none; with
 *     enforce / testing / dane-with-a-policy only hosts matching an mx pattern
 *     (§4.1: "*" stands for exactly one whole leftmost label, ASCII
 *     case-insensitive).
 * Policies are built with stsguard_policy_parse() from literal bodies.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stsguard/policy.h"
#include "stsguard/verdict.h"

#include "check.h"

#define MAXH 8

#define P_ENFORCE "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: *.example.net\nmax_age: 86400\n"
#define P_TESTING "version: STSv1\nmode: testing\nmx: mx1.example.com\nmx: *.example.net\nmax_age: 86400\n"
#define P_NONE "version: STSv1\nmode: none\nmax_age: 86400\n"
#define P_NONE_MX "version: STSv1\nmode: none\nmx: mx1.example.com\nmax_age: 86400\n"

/* DANE state per host; D_NOTCHECKED in the first slot means dane == NULL. */
enum { A = STSGUARD_DANE_ABSENT, P = STSGUARD_DANE_PRESENT, U = STSGUARD_DANE_UNKNOWN, D_NOTCHECKED = 9 };
enum { F = 0, T = 1 };

struct verdict_case {
	const char *name;
	const char *policy; /* body, NULL: no policy */
	bool tempfail;
	size_t n;
	const char *hosts[MAXH];
	int dane[MAXH];
	stsguard_verdict want;
	int allowed[MAXH];
};

#define V_NO STSGUARD_VERDICT_NO_POLICY
#define V_NONE STSGUARD_VERDICT_NONE
#define V_TEST STSGUARD_VERDICT_TESTING
#define V_ENF STSGUARD_VERDICT_ENFORCE
#define V_DANE STSGUARD_VERDICT_DANE
#define V_TEMP STSGUARD_VERDICT_TEMPFAIL

/* Two hosts: one matching the policy patterns, one not. */
#define H2 2, { "mx1.example.com", "mx.other.example" }

static const struct verdict_case cases[] = {
	/* --- no policy --- */
	{ "no policy", NULL, false, H2, { A, A }, V_NO, { T, T } },
	{ "no policy, DANE not checked", NULL, false, H2, { D_NOTCHECKED }, V_NO, { T, T } },
	{ "no policy, discovery said try again", NULL, true, H2, { A, A }, V_TEMP, { T, T } },
	{ "no policy, DANE present (rule order: no policy first)", NULL, false, H2, { P, A }, V_NO, { T, T } },
	{ "no policy, DANE unknown", NULL, false, H2, { U, U }, V_NO, { T, T } },
	{ "no policy, no hosts", NULL, false, 0, { NULL }, { A }, V_NO, { F } },
	{ "no policy, try again, no hosts", NULL, true, 0, { NULL }, { A }, V_TEMP, { F } },

	/* --- mode none: no enforcement, every host allowed --- */
	{ "mode none", P_NONE, false, H2, { A, A }, V_NONE, { T, T } },
	{ "mode none with mx lines", P_NONE_MX, false, H2, { A, A }, V_NONE, { T, T } },
	{ "mode none, DANE present", P_NONE, false, H2, { P, P }, V_NONE, { T, T } },
	{ "mode none, DANE unknown", P_NONE, false, H2, { U, U }, V_NONE, { T, T } },
	{ "mode none, tempfail flag ignored with a policy", P_NONE, true, H2, { A, A }, V_NONE, { T, T } },

	/* --- testing --- */
	{ "testing", P_TESTING, false, H2, { A, A }, V_TEST, { T, F } },
	{ "testing, DANE not checked", P_TESTING, false, H2, { D_NOTCHECKED }, V_TEST, { T, F } },
	{ "testing, DANE unknown does not tempfail", P_TESTING, false, H2, { U, U }, V_TEST, { T, F } },
	{ "testing, DANE present on the second host", P_TESTING, false, H2, { A, P }, V_DANE, { T, F } },

	/* --- enforce --- */
	{ "enforce", P_ENFORCE, false, H2, { A, A }, V_ENF, { T, F } },
	{ "enforce, DANE not checked", P_ENFORCE, false, H2, { D_NOTCHECKED }, V_ENF, { T, F } },
	{ "enforce, tempfail flag ignored with a policy", P_ENFORCE, true, H2, { A, A }, V_ENF, { T, F } },
	{ "enforce, no hosts", P_ENFORCE, false, 0, { NULL }, { A }, V_ENF, { F } },
	{ "enforce, DANE present on the first host", P_ENFORCE, false, H2, { P, A }, V_DANE, { T, F } },
	{ "enforce, DANE present on the non-matching host", P_ENFORCE, false, H2, { A, P }, V_DANE, { T, F } },
	{ "enforce, DANE on every host", P_ENFORCE, false, H2, { P, P }, V_DANE, { T, F } },
	{ "enforce, DANE unknown on the first host", P_ENFORCE, false, H2, { U, A }, V_TEMP, { T, F } },
	{ "enforce, DANE unknown on the last host", P_ENFORCE, false, H2, { A, U }, V_TEMP, { T, F } },
	{ "enforce, DANE present and another unknown", P_ENFORCE, false, H2, { U, P }, V_DANE, { T, F } },

	/* --- allowed flags from the patterns (RFC 8461 §4.1) --- */
	{ "enforce, pattern matching per host", P_ENFORCE, false, 8,
	  { "mx1.example.com", "mx2.example.com", "a.example.net", "a.b.example.net", "example.net",
	    "MX1.Example.COM", "mx1.example.com.", "xmx1.example.com" },
	  { A, A, A, A, A, A, A, A }, V_ENF, { T, F, T, F, F, T, T, F } },
	{ "testing, pattern matching per host", P_TESTING, false, 6,
	  { "b.example.net", "B.EXAMPLE.NET", "example.net.evil", "mx1.example.com.evil", "x.y.example.net",
	    "mx1" },
	  { A, A, A, A, A, A }, V_TEST, { T, T, F, F, F, F } },
	{ "dane with a policy, pattern matching per host", P_ENFORCE, false, 3,
	  { "mx1.example.com", "a.example.net", "mx.other.example" }, { P, A, A }, V_DANE, { T, T, F } },
	{ "enforce, address-literal-looking host never allowed", P_ENFORCE, false, 2,
	  { "192.0.2.1", "[192.0.2.1]" }, { A, A }, V_ENF, { F, F } },
};

static stsguard_policy *make_policy(const char *body, const char *name)
{
	stsguard_policy *p = NULL;
	stsguard_err err = {""};

	if (body == NULL)
		return NULL;
	if (!CHECK_STATUS(stsguard_policy_parse(body, strlen(body), &p, &err), STSGUARD_OK, name))
		fprintf(stderr, "    policy: %s\n", err.msg);
	return p;
}

static void run_case(const struct verdict_case *c)
{
	stsguard_dane_state dane[MAXH];
	bool allowed[MAXH];
	char label[160];
	stsguard_policy *p = make_policy(c->policy, c->name);

	if (c->policy != NULL && p == NULL)
		return;
	for (size_t i = 0; i < MAXH; i++) {
		dane[i] = (stsguard_dane_state)(c->dane[i] == D_NOTCHECKED ? A : c->dane[i]);
		allowed[i] = (i % 2) == 0; /* garbage the function must overwrite */
	}
	stsguard_decision_input in = {
		.policy = p,
		.policy_tempfail = c->tempfail,
		.n_hosts = c->n,
		.hosts = c->hosts,
		.dane = c->dane[0] == D_NOTCHECKED ? NULL : dane,
	};
	stsguard_verdict v = stsguard_decide(&in, allowed);
	CHECK_INT(v, c->want, c->name);
	/* verdict.h does not say what allowed[] holds when an enforce policy
	 * turns into TEMPFAIL (DANE unknown): not checked there. */
	for (size_t i = 0; i < c->n && !(c->policy != NULL && c->want == V_TEMP); i++) {
		snprintf(label, sizeof label, "%s: allowed[%zu] (%s)", c->name, i, c->hosts[i]);
		CHECK_INT(allowed[i], c->allowed[i], label);
	}
	/* allowed may be NULL: same verdict, no crash. */
	snprintf(label, sizeof label, "%s: allowed == NULL", c->name);
	CHECK_INT(stsguard_decide(&in, NULL), c->want, label);
	/* Pure: the same input gives the same answer. */
	snprintf(label, sizeof label, "%s: second call", c->name);
	CHECK_INT(stsguard_decide(&in, allowed), c->want, label);
	stsguard_policy_free(p);
}

static const struct {
	stsguard_verdict v;
	const char *name;
} names[] = {
	{ STSGUARD_VERDICT_NO_POLICY, "no-policy" }, { STSGUARD_VERDICT_NONE, "none" },
	{ STSGUARD_VERDICT_TESTING, "testing" },     { STSGUARD_VERDICT_ENFORCE, "enforce" },
	{ STSGUARD_VERDICT_DANE, "dane" },           { STSGUARD_VERDICT_TEMPFAIL, "tempfail" },
};

int main(void)
{
	size_t n_cases = sizeof cases / sizeof cases[0];
	size_t n_names = sizeof names / sizeof names[0];

	for (size_t i = 0; i < n_cases; i++)
		run_case(&cases[i]);
	for (size_t i = 0; i < n_names; i++)
		CHECK_STR(stsguard_verdict_name(names[i].v), names[i].name, names[i].name);
	/* Stable numbers (they appear in the daemon protocol). */
	CHECK_INT(STSGUARD_VERDICT_NO_POLICY, 0, "verdict numbers");
	CHECK_INT(STSGUARD_VERDICT_TEMPFAIL, 5, "verdict numbers");
	printf("test_verdict: %zu cases\n", n_cases + n_names);
	return check_summary();
}
