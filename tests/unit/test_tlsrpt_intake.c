/*
 * test_tlsrpt_intake.c - table-driven tests of the `tlsrpt` map's key
 * (tlsrpt_intake.h): parsing, classification of raw session facts against
 * the policy the daemon served, and the finished RFC 8460 result.
 *
 * Expectations come from the contract in tlsrpt_intake.h and docs/PROTOCOL.md
 * (NAME=VALUE tokens, single spaces, %HH escapes, unknown names ignored, one
 * token per name) and from RFC 8460 §4.3/§4.4 (result types, policy-string
 * as the policy's lines, mx-host as its patterns), never from the code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stsguard/tlsrpt_intake.h"
#include "stsguard/tlsrpt_store.h"

#include "check.h"

#define NOW INT64_C(1795901280) /* 2026-11-28T20:48:00Z */

struct parse_case {
	const char *name;
	const char *key;
	stsguard_status want;
	const char *domain, *mx, *ip, *reason; /* checked on OK */
	int has_result;
	stsguard_result_type result;
};

static const struct parse_case parse_cases[] = {
	{"minimal", "domain=example.com result=success", STSGUARD_OK, "example.com", "", "", "", 1, STSGUARD_RESULT_SUCCESS},
	{"all fields", "domain=example.com result=certificate-expired mx=mx1.example.com ip=192.0.2.7 src=198.51.100.1 helo=mx1 reason=expired%20at%20noon time=1795901000 policy=sts",
	 STSGUARD_OK, "example.com", "mx1.example.com", "192.0.2.7", "expired at noon", 1, STSGUARD_RESULT_CERTIFICATE_EXPIRED},
	{"domain normalised", "domain=Example.COM. result=success", STSGUARD_OK, "example.com", "", "", "", 1, 0},
	{"mx normalised", "domain=a.test result=success mx=MX.A.Test.", STSGUARD_OK, "a.test", "mx.a.test", "", "", 1, 0},
	{"order free", "result=success mx=m.a.test domain=a.test", STSGUARD_OK, "a.test", "m.a.test", "", "", 1, 0},
	{"unknown name ignored", "domain=a.test result=success future=x%20y", STSGUARD_OK, "a.test", "", "", "", 1, 0},
	{"facts only", "domain=a.test verify=ok cipher=TLS_AES_256_GCM_SHA384", STSGUARD_OK, "a.test", "", "", "", 0, 0},
	{"cipher empty with verify", "domain=a.test verify=NONE cipher=", STSGUARD_OK, "a.test", "", "", "", 0, 0},
	{"empty values allowed", "domain=a.test result=success helo= mx= ip=", STSGUARD_OK, "a.test", "", "", "", 1, 0},
	{"escaped percent", "domain=a.test result=success reason=100%25", STSGUARD_OK, "a.test", "", "", "100%", 1, 0},
	{"lower-case hex", "domain=a.test result=success reason=a%2cb", STSGUARD_OK, "a.test", "", "", "a,b", 1, 0},
	{"every result type", "domain=a.test result=dane-required", STSGUARD_OK, "a.test", "", "", "", 1, STSGUARD_RESULT_DANE_REQUIRED},

	{"empty key", "", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"no domain", "result=success", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"no result and no facts", "domain=a.test mx=m.a.test", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"bad domain", "domain=a_b.test result=success", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"address literal domain", "domain=[192.0.2.1] result=success", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"bad result", "domain=a.test result=failure", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"result case matters", "domain=a.test result=SUCCESS", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"bad policy", "domain=a.test result=success policy=dane", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"bad san", "domain=a.test verify=OK cipher=x san=maybe", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"bad mx", "domain=a.test result=success mx=-bad-.test", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"duplicate name", "domain=a.test result=success domain=b.test", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"duplicate result", "domain=a.test result=success result=success", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"double space", "domain=a.test  result=success", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"leading space", " domain=a.test result=success", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"trailing space", "domain=a.test result=success ", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"token without =", "domain=a.test success", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"empty name", "domain=a.test =x result=success", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"bad name char", "domain=a.test re.sult=success result=success", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"raw tab", "domain=a.test result=success reason=a\tb", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"raw 8-bit", "domain=a.test result=success reason=caf\xc3\xa9", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"raw percent", "domain=a.test result=success reason=100%", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"short escape", "domain=a.test result=success reason=%4", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"bad hex", "domain=a.test result=success reason=%G0", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"escaped NUL", "domain=a.test result=success reason=a%00b", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"bad escape in unknown field", "domain=a.test result=success x=%zz", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"time not a number", "domain=a.test result=success time=12a", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"time leading zero", "domain=a.test result=success time=0123", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"time negative", "domain=a.test result=success time=-5", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"time too large", "domain=a.test result=success time=253402300800", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"time overflow", "domain=a.test result=success time=99999999999999999999999", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"verify too long", "domain=a.test verify=AAAAAAAAAAAAAAAAAAAAAAAA cipher=x", STSGUARD_TOOBIG, NULL, NULL, NULL, NULL, 0, 0},
	{"probe bad value", "domain=a.test result=certificate-not-trusted probe=yes", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"probe twice", "domain=a.test result=success probe=1 probe=1", STSGUARD_INVALID, NULL, NULL, NULL, NULL, 0, 0},
	{"ip too long", "domain=a.test result=success ip=0000:0000:0000:0000:0000:0000:0000:0000:0000:0000", STSGUARD_TOOBIG, NULL, NULL, NULL, NULL, 0, 0},
};

static void test_parse(void)
{
	for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
		const struct parse_case *c = &parse_cases[i];
		stsguard_tlsrpt_intake in;
		stsguard_err err = {""};
		stsguard_status st = stsguard_tlsrpt_intake_parse(c->key, strlen(c->key), &in, &err);
		CHECK_STATUS(st, c->want, c->name);
		if (st != STSGUARD_OK) {
			CHECK_TRUE(err.msg[0] != '\0', c->name);
			continue;
		}
		CHECK_STR(in.domain, c->domain, c->name);
		CHECK_STR(in.mx, c->mx, c->name);
		CHECK_STR(in.ip, c->ip, c->name);
		CHECK_STR(in.reason, c->reason, c->name);
		CHECK_INT(in.has_result, c->has_result, c->name);
		if (c->has_result)
			CHECK_INT(in.result, c->result, c->name);
	}
}

/* probe=1 / probe=0 / absent (PROTOCOL.md §5.6). */
static void test_probe(void)
{
	static const struct {
		const char *key;
		int want;
	} cases[] = {
		{"domain=a.test result=certificate-not-trusted mx=mx.a.test ip=192.0.2.1 probe=1", 1},
		{"domain=a.test result=certificate-not-trusted probe=0", 0},
		{"domain=a.test result=certificate-not-trusted", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		stsguard_tlsrpt_intake in;
		stsguard_err err = {""};
		if (CHECK_STATUS(stsguard_tlsrpt_intake_parse(cases[i].key, strlen(cases[i].key), &in, &err), STSGUARD_OK,
		                 cases[i].key))
			CHECK_INT(in.probe, cases[i].want, cases[i].key);
	}
}

static void test_length_cap(void)
{
	char big[STSGUARD_TLSRPT_INTAKE_MAX + 64];
	int n = snprintf(big, sizeof big, "domain=a.test result=success");
	while ((size_t)n < STSGUARD_TLSRPT_INTAKE_MAX + 8)
		n += snprintf(big + n, sizeof big - (size_t)n, " x=y");
	stsguard_tlsrpt_intake in;
	stsguard_err err = {""};
	CHECK_STATUS(stsguard_tlsrpt_intake_parse(big, (size_t)n, &in, &err), STSGUARD_TOOBIG, "key over the cap");
	/* A value longer than any field, even of an unknown name. */
	char val[600];
	n = snprintf(val, sizeof val, "domain=a.test result=success zz=");
	memset(val + n, 'a', 300);
	val[n + 300] = '\0';
	CHECK_STATUS(stsguard_tlsrpt_intake_parse(val, strlen(val), &in, &err), STSGUARD_TOOBIG, "value over 255 bytes");
	/* Length is honoured: bytes after len are never read. */
	const char *k = "domain=a.test result=success GARBAGE";
	CHECK_STATUS(stsguard_tlsrpt_intake_parse(k, 28, &in, &err), STSGUARD_OK, "len honoured");
}

/* The policy the daemon served: enforce, mx a.test and *.b.test. */
static char mx0[] = "mx.a.test", mx1[] = "*.b.test";
static char *mxs[] = {mx0, mx1};
static const stsguard_policy POLICY = {STSGUARD_MODE_ENFORCE, 604800, false, 2, mxs};

struct classify_case {
	const char *name;
	const char *key;
	int with_policy;
	stsguard_result_type want;
};

static const struct classify_case classify_cases[] = {
	{"verify OK in policy", "domain=a.test verify=OK cipher=X mx=mx.a.test", 1, STSGUARD_RESULT_SUCCESS},
	{"verify TRUSTED", "domain=a.test verify=TRUSTED cipher=X mx=mx.a.test", 1, STSGUARD_RESULT_SUCCESS},
	{"verify lower case", "domain=a.test verify=ok cipher=X mx=c.b.test", 1, STSGUARD_RESULT_SUCCESS},
	{"wildcard one label", "domain=a.test verify=OK cipher=X mx=x.b.test", 1, STSGUARD_RESULT_SUCCESS},
	{"wildcard two labels", "domain=a.test verify=OK cipher=X mx=y.x.b.test", 1, STSGUARD_RESULT_VALIDATION_FAILURE},
	{"mx outside policy beats TLS", "domain=a.test verify=OK cipher=X mx=rogue.test", 1, STSGUARD_RESULT_VALIDATION_FAILURE},
	{"mx outside, no policy known", "domain=a.test verify=OK cipher=X mx=rogue.test", 0, STSGUARD_RESULT_SUCCESS},
	{"mx outside but DANE decided", "domain=a.test verify=OK cipher=X mx=rogue.test policy=tlsa", 1, STSGUARD_RESULT_SUCCESS},
	{"no cipher", "domain=a.test verify=NONE mx=mx.a.test", 1, STSGUARD_RESULT_STARTTLS_NOT_SUPPORTED},
	{"verify NONE", "domain=a.test verify=NONE cipher=X mx=mx.a.test", 1, STSGUARD_RESULT_STARTTLS_NOT_SUPPORTED},
	{"verify FAIL", "domain=a.test verify=FAIL cipher=X mx=mx.a.test", 1, STSGUARD_RESULT_CERTIFICATE_NOT_TRUSTED},
	{"verify NO", "domain=a.test verify=NO cipher=X mx=mx.a.test", 1, STSGUARD_RESULT_CERTIFICATE_NOT_TRUSTED},
	{"verify empty", "domain=a.test verify= cipher=X mx=mx.a.test", 1, STSGUARD_RESULT_CERTIFICATE_NOT_TRUSTED},
	{"san fail", "domain=a.test verify=OK cipher=X san=fail mx=mx.a.test", 1, STSGUARD_RESULT_CERTIFICATE_HOST_MISMATCH},
	{"san ok", "domain=a.test verify=OK cipher=X san=ok mx=mx.a.test", 1, STSGUARD_RESULT_SUCCESS},
	{"given result wins", "domain=a.test result=certificate-expired verify=OK cipher=X mx=rogue.test", 1,
	 STSGUARD_RESULT_CERTIFICATE_EXPIRED},
};

static void test_classify(void)
{
	for (size_t i = 0; i < sizeof classify_cases / sizeof classify_cases[0]; i++) {
		const struct classify_case *c = &classify_cases[i];
		stsguard_tlsrpt_intake in;
		stsguard_err err = {""};
		if (!CHECK_STATUS(stsguard_tlsrpt_intake_parse(c->key, strlen(c->key), &in, &err), STSGUARD_OK, c->name))
			continue;
		CHECK_INT(stsguard_tlsrpt_intake_classify(&in, c->with_policy ? &POLICY : NULL), c->want, c->name);
	}
}

static void test_result(void)
{
	stsguard_tlsrpt_intake in;
	stsguard_tlsrpt_result r;
	stsguard_err err = {""};
	const char *k = "domain=a.test result=certificate-expired mx=mx.a.test ip=192.0.2.7 src=2001:DB8::1 reason=notAfter";

	CHECK_STATUS(stsguard_tlsrpt_intake_parse(k, strlen(k), &in, &err), STSGUARD_OK, "sts parse");
	CHECK_STATUS(stsguard_tlsrpt_intake_result(&in, &POLICY, "20261128", NOW, &r, &err), STSGUARD_OK, "sts result");
	CHECK_INT(r.policy_type, STSGUARD_POLICY_STS, "sts type");
	CHECK_STR(r.policy_id, "20261128", "sts id");
	CHECK_INT(r.time, NOW, "now used");
	CHECK_INT(r.result, STSGUARD_RESULT_CERTIFICATE_EXPIRED, "sts result type");
	CHECK_INT(r.n_policy_strings, 5, "policy-string count");
	if (r.n_policy_strings == 5) {
		CHECK_STR(r.policy_strings[0], "version: STSv1", "ps 0");
		CHECK_STR(r.policy_strings[1], "mode: enforce", "ps 1");
		CHECK_STR(r.policy_strings[2], "mx: mx.a.test", "ps 2");
		CHECK_STR(r.policy_strings[3], "mx: *.b.test", "ps 3");
		CHECK_STR(r.policy_strings[4], "max_age: 604800", "ps 4");
	}
	CHECK_INT(r.n_mx_host_patterns, 2, "mx-host count");
	if (r.n_mx_host_patterns == 2)
		CHECK_STR(r.mx_host_patterns[1], "*.b.test", "mx-host 1");
	CHECK_STR(r.failure_reason_code, "notAfter", "reason kept");
	CHECK_STATUS(stsguard_tlsrpt_result_check(&r, &err), STSGUARD_OK, "passes the store's check");
	char *enc = NULL;
	CHECK_STATUS(stsguard_tlsrpt_result_encode_alloc(&r, &enc, NULL, &err), STSGUARD_OK, "encodes");
	CHECK_TRUE(enc != NULL && strstr(enc, " 2001:db8::1 ") != NULL, "sending ip canonical");
	free(enc);
	stsguard_tlsrpt_result_clear(&r);

	/* No policy held: no-policy-found, no id, no strings. */
	CHECK_STATUS(stsguard_tlsrpt_intake_result(&in, NULL, "", NOW, &r, &err), STSGUARD_OK, "nopolicy result");
	CHECK_INT(r.policy_type, STSGUARD_POLICY_NO_POLICY_FOUND, "nopolicy type");
	CHECK_INT(r.n_policy_strings, 0, "nopolicy strings");
	CHECK_STR(r.policy_id, "", "nopolicy id");
	stsguard_tlsrpt_result_clear(&r);

	/* DANE decided: tlsa, the STS policy is not attached. */
	k = "domain=a.test result=success mx=mx.a.test policy=tlsa time=1795900000";
	CHECK_STATUS(stsguard_tlsrpt_intake_parse(k, strlen(k), &in, &err), STSGUARD_OK, "tlsa parse");
	CHECK_STATUS(stsguard_tlsrpt_intake_result(&in, &POLICY, "20261128", NOW, &r, &err), STSGUARD_OK, "tlsa result");
	CHECK_INT(r.policy_type, STSGUARD_POLICY_TLSA, "tlsa type");
	CHECK_INT(r.n_mx_host_patterns, 0, "tlsa mx-host");
	CHECK_INT(r.time, 1795900000, "given time kept");
	stsguard_tlsrpt_result_clear(&r);

	/* A success carries no failure reason. */
	k = "domain=a.test result=success reason=ignored";
	CHECK_STATUS(stsguard_tlsrpt_intake_parse(k, strlen(k), &in, &err), STSGUARD_OK, "success parse");
	CHECK_STATUS(stsguard_tlsrpt_intake_result(&in, NULL, "", NOW, &r, &err), STSGUARD_OK, "success result");
	CHECK_STR(r.failure_reason_code, "", "success without reason");
	stsguard_tlsrpt_result_clear(&r);

	/* Field rules applied at the end: a bad IP is refused, nothing owned. */
	k = "domain=a.test result=success ip=192.0.2.300";
	CHECK_STATUS(stsguard_tlsrpt_intake_parse(k, strlen(k), &in, &err), STSGUARD_OK, "bad ip parses");
	CHECK_STATUS(stsguard_tlsrpt_intake_result(&in, NULL, "", NOW, &r, &err), STSGUARD_INVALID, "bad ip refused");
	CHECK_TRUE(r.policy_strings == NULL && r.n_policy_strings == 0, "refused owns nothing");
	k = "domain=a.test result=certificate-expired reason=%FF%FE";
	CHECK_STATUS(stsguard_tlsrpt_intake_parse(k, strlen(k), &in, &err), STSGUARD_OK, "bad utf8 parses");
	CHECK_STATUS(stsguard_tlsrpt_intake_result(&in, NULL, "", NOW, &r, &err), STSGUARD_INVALID, "bad utf8 refused");
}

int main(void)
{
	test_parse();
	test_probe();
	test_length_cap();
	test_classify();
	test_result();
	return check_summary();
}
