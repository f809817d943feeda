/*
 * test_tlsrpt_dgram.c - table-driven tests of stsguard_tlsrpt_dgram_parse().
 *
 * The valid datagrams are what sys4/libtlsrpt builds, byte for byte, for
 * the call sequences of its doc/example.txt and of Postfix's
 * tlsrpt_wrapper.c (one policy; a success, or exactly one failure): read
 * from libtlsrpt.c at commit 15c962ddc614 (write_first_attribute writes
 * "name": "value" with one space, numbers as "name":N, policies joined by
 * ",{", sub-arrays only when non-empty, "t" and "f" last). The "dpv":"1"
 * member of libtlsrpt 0.5.0 is shown after "pr"; the parser does not depend
 * on member order. Expectations come from RFC 8460 §4, libtlsrpt's
 * numbering (tlsrpt.h) and tlsrpt_dgram.h's contract, never from the code.
 * Every input is copied into a heap buffer of exactly its length.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stsguard/tlsrpt_dgram.h"
#include "stsguard/tlsrpt_store.h"

#include "check.h"

#define NOW INT64_C(1795869000) /* 2026-11-28T12:30:00Z */

/* ---- datagrams as libtlsrpt writes them ---- */

#define HEAD_D "{\"d\": \"company-y.example\""
#define HEAD_PR ",\"pr\": \"v=TLSRPTv1;rua=mailto:tlsrpt@company-y.example\""
#define HEAD HEAD_D HEAD_PR
#define POLICIES ",\"policies\":["
#define TAIL "]}"

#define STS_P                                                                                              \
	"{\"policy-type\":2,\"policy-domain\": \"company-y.example\",\"policy-string\":[\"version: STSv1\","  \
	"\"mode: testing\",\"mx: *.mail.company-y.example\",\"max_age: 86400\"],"                             \
	"\"mx-host\":[\"*.mail.company-y.example\",\"*.mail2.company-y.example\"]"
#define TLSA_P                                                                                             \
	"{\"policy-type\":1,\"policy-domain\": \"company-y.example\",\"policy-string\":["                     \
	"\"3 0 1 1F850A337E6DB9C609C522D136A475638CC43E1ED424F8EEC8513D747D1D085D\","                        \
	"\"3 0 1 12350A337E6DB9C6123522D136A475638CC43E1ED424F8EEC8513D747D1D1234\"]"
#define NOPOL_P "{\"policy-type\":9"

#define FD_302                                                                                             \
	"{\"c\":302,\"s\": \"1.2.3.4\",\"n\": \"mailin.example.com\",\"h\": \"test-ehlo.example.com\","      \
	"\"r\": \"11.22.33.44\",\"a\": \"https://company-y.example/tlsrpt-info\",\"f\": \"999 TEST ERROR\"}"
#define FD_303                                                                                             \
	"{\"c\":303,\"s\": \"1.2.3.5\",\"n\": \"mailin.example.com\",\"h\": \"test-ehlo.example.com\","      \
	"\"r\": \"11.22.33.55\",\"f\": \"999 TEST ERROR\"}"
#define FD_204                                                                                             \
	"{\"c\":204,\"s\": \"1.2.3.4\",\"n\": \"mailin.example.com\",\"h\": \"tes-ehlo.example.com\","        \
	"\"r\": \"11.22.33.55\",\"f\": \"999 TEST ERROR\"}"
/* Example 4: receiving_mx_hostname and _helo NULL, so absent. */
#define FD_205 "{\"c\":205,\"s\": \"192.0.2.25\",\"r\": \"11.22.33.55\",\"f\": \"Something unexpected happened\"}"

#define SUCCESS ",\"t\":0,\"f\":0}"
#define FAILED(n) ",\"t\":" #n ",\"f\":1}"
#define FDS(...) ",\"failure-details\":[" __VA_ARGS__ "]"

#define DGRAM(...) HEAD POLICIES __VA_ARGS__ TAIL

/* Example 6: one STS policy, no failures. */
static const char sts_success[] = DGRAM(STS_P SUCCESS);
/* Example 8: an STS policy with two failures, then a TLSA policy that succeeded. */
static const char mixed[] = DGRAM(STS_P FDS(FD_302 "," FD_303) FAILED(2) "," TLSA_P SUCCESS);

#define MAXR 4

struct dgram_case {
	const char *name;
	const char *in;
	stsguard_status want;
	unsigned version;
	size_t n;                            /* results when OK */
	stsguard_result_type result[MAXR];
	stsguard_policy_type policy[MAXR];
};

#define OKC(name, in, ver, n, res, pol) { name, in, STSGUARD_OK, ver, n, res, pol }
#define BAD(name, in) { name, in, STSGUARD_INVALID, 0, 0, {0}, {0} }
#define BIG(name, in) { name, in, STSGUARD_TOOBIG, 0, 0, {0}, {0} }
#define R(...) { __VA_ARGS__ }

#define S STSGUARD_RESULT_SUCCESS
#define STS STSGUARD_POLICY_STS
#define TLSA STSGUARD_POLICY_TLSA
#define NOPOL STSGUARD_POLICY_NO_POLICY_FOUND

static const struct dgram_case cases[] = {
	/* --- what libtlsrpt sends --- */
	OKC("sts success (example 6)", sts_success, 0, 1, R(S), R(STS)),
	OKC("sts two failures + tlsa success (example 8)", mixed, 0, 3,
	    R(STSGUARD_RESULT_STS_POLICY_INVALID, STSGUARD_RESULT_STS_WEBPKI_INVALID, S), R(STS, STS, TLSA)),
	OKC("tlsa certificate-expired (example 2, postfix shape)", DGRAM(TLSA_P FDS(FD_204) FAILED(1)), 0, 1,
	    R(STSGUARD_RESULT_CERTIFICATE_EXPIRED), R(TLSA)),
	OKC("tlsa success", DGRAM(TLSA_P SUCCESS), 0, 1, R(S), R(TLSA)),
	OKC("no-policy-found success (example 1, domain NULL)", DGRAM(NOPOL_P SUCCESS), 0, 1, R(S), R(NOPOL)),
	OKC("no-policy-found validation-failure (example 4)", DGRAM(NOPOL_P FDS(FD_205) FAILED(1)), 0, 1,
	    R(STSGUARD_RESULT_VALIDATION_FAILURE), R(NOPOL)),
	OKC("two successes (example 7)", DGRAM(STS_P SUCCESS "," TLSA_P SUCCESS), 0, 2, R(S, S), R(STS, TLSA)),
	OKC("libtlsrpt 0.5.0 dpv", HEAD ",\"dpv\": \"1\"" POLICIES STS_P SUCCESS TAIL, 1, 1, R(S), R(STS)),
	OKC("dpv first", "{\"dpv\": \"1\",\"d\": \"company-y.example\"" POLICIES NOPOL_P SUCCESS TAIL, 1, 1, R(S),
	    R(NOPOL)),
	OKC("first libtlsrpt layout: no pr, newline before policies",
	    HEAD_D "\n,\"policies\":[" NOPOL_P SUCCESS TAIL, 0, 1, R(S), R(NOPOL)),
	OKC("starttls-not-supported, only c",
	    DGRAM(NOPOL_P FDS("{\"c\":201}") FAILED(1)), 0, 1, R(STSGUARD_RESULT_STARTTLS_NOT_SUPPORTED), R(NOPOL)),
	OKC("unknown members ignored",
	    "{\"d\": \"company-y.example\",\"x-new\": {\"a\":[1,2]}" POLICIES
	    "{\"policy-type\":9,\"x\":null,\"t\":0,\"f\":0}" TAIL, 0, 1, R(S), R(NOPOL)),
	OKC("whitespace between tokens", " { \"d\" : \"company-y.example\" , \"policies\" : [ { \"policy-type\" : 9 ,"
	    " \"t\" : 0 , \"f\" : 0 } ] } \n", 0, 1, R(S), R(NOPOL)),
	OKC("upper-case domain accepted", "{\"d\": \"Company-Y.Example\"" POLICIES NOPOL_P SUCCESS TAIL, 0, 1, R(S),
	    R(NOPOL)),
	OKC("policy-domain differs from d",
	    HEAD POLICIES "{\"policy-type\":1,\"policy-domain\": \"mx.other.example\"" SUCCESS TAIL, 0, 1, R(S),
	    R(TLSA)),

	/* --- framing and encoding --- */
	BAD("empty", ""),
	BAD("not json", "hello"),
	BAD("array root", "[" NOPOL_P SUCCESS "]"),
	BAD("string root", "\"company-y.example\""),
	BAD("trailing garbage", DGRAM(NOPOL_P SUCCESS) "x"),
	BAD("two datagrams glued", DGRAM(NOPOL_P SUCCESS) DGRAM(NOPOL_P SUCCESS)),
	BAD("invalid utf-8 in reason (latin-1 byte)",
	    DGRAM(NOPOL_P FDS("{\"c\":201,\"f\": \"Zertifikat ung\xfcltig\"}") FAILED(1))),
	BAD("overlong utf-8", DGRAM(NOPOL_P FDS("{\"c\":201,\"f\": \"\xc0\xaf\"}") FAILED(1))),
	BAD("utf-8 surrogate", DGRAM(NOPOL_P FDS("{\"c\":201,\"f\": \"\xed\xa0\x80\"}") FAILED(1))),
	BAD("escaped NUL", DGRAM(NOPOL_P FDS("{\"c\":201,\"f\": \"a\\u0000b\"}") FAILED(1))),
	BAD("control char escaped (libtlsrpt \\u0001)", DGRAM(NOPOL_P FDS("{\"c\":201,\"f\": \"a\\u0001b\"}") FAILED(1))),
	BAD("newline escaped in reason", DGRAM(NOPOL_P FDS("{\"c\":201,\"f\": \"a\\nb\"}") FAILED(1))),
	BAD("duplicate member", "{\"d\": \"company-y.example\",\"d\": \"other.example\"" POLICIES NOPOL_P SUCCESS TAIL),
	BIG("deep nesting in unknown member",
	    "{\"d\": \"company-y.example\",\"x\":[[[[[[[[]]]]]]]]" POLICIES NOPOL_P SUCCESS TAIL),

	/* --- version --- */
	BAD("dpv 2", HEAD ",\"dpv\": \"2\"" POLICIES NOPOL_P SUCCESS TAIL),
	BAD("dpv as number", HEAD ",\"dpv\":1" POLICIES NOPOL_P SUCCESS TAIL),
	BAD("dpv empty", HEAD ",\"dpv\": \"\"" POLICIES NOPOL_P SUCCESS TAIL),
	BAD("dpv 1.0", HEAD ",\"dpv\": \"1.0\"" POLICIES NOPOL_P SUCCESS TAIL),

	/* --- missing fields --- */
	BAD("no d", "{\"pr\": \"v=TLSRPTv1;rua=mailto:a@b.example\"" POLICIES NOPOL_P SUCCESS TAIL),
	BAD("no policies", HEAD "}"),
	BAD("empty policies", HEAD POLICIES TAIL),
	BAD("no policy-type", DGRAM("{\"policy-domain\": \"company-y.example\"" SUCCESS)),
	BAD("no t", DGRAM(NOPOL_P ",\"f\":0}")),
	BAD("no f", DGRAM(NOPOL_P ",\"t\":0}")),
	BAD("no c", DGRAM(NOPOL_P FDS("{\"s\": \"192.0.2.1\"}") FAILED(1))),

	/* --- wrong types --- */
	BAD("d number", "{\"d\":1" POLICIES NOPOL_P SUCCESS TAIL),
	BAD("d null", "{\"d\":null" POLICIES NOPOL_P SUCCESS TAIL),
	BAD("pr number", HEAD_D ",\"pr\":1" POLICIES NOPOL_P SUCCESS TAIL),
	BAD("policies object", HEAD ",\"policies\":{}}"),
	BAD("policy a string", DGRAM("\"sts\"")),
	BAD("policy-type string", DGRAM("{\"policy-type\":\"2\"" SUCCESS)),
	BAD("policy-type true", DGRAM("{\"policy-type\":true" SUCCESS)),
	BAD("policy-type fraction", DGRAM("{\"policy-type\":2.0" SUCCESS)),
	BAD("policy-type exponent", DGRAM("{\"policy-type\":9e0" SUCCESS)),
	BAD("t string", DGRAM(NOPOL_P ",\"t\":\"0\",\"f\":0}")),
	BAD("f boolean", DGRAM(NOPOL_P ",\"t\":0,\"f\":false}")),
	BAD("policy-string not array", DGRAM("{\"policy-type\":1,\"policy-string\": \"3 0 1 AB\"" SUCCESS)),
	BAD("policy-string element number", DGRAM("{\"policy-type\":1,\"policy-string\":[301]" SUCCESS)),
	BAD("mx-host element null", DGRAM("{\"policy-type\":2,\"mx-host\":[null]" SUCCESS)),
	BAD("failure-details object", DGRAM(NOPOL_P ",\"failure-details\":{\"c\":201}" FAILED(1))),
	BAD("failure detail a number", DGRAM(NOPOL_P FDS("201") FAILED(1))),
	BAD("c string", DGRAM(NOPOL_P FDS("{\"c\":\"201\"}") FAILED(1))),
	BAD("s number", DGRAM(NOPOL_P FDS("{\"c\":201,\"s\":3221225985}") FAILED(1))),
	BAD("policy-domain number", DGRAM("{\"policy-type\":9,\"policy-domain\":1" SUCCESS)),

	/* --- values out of range --- */
	BAD("huge c", DGRAM(NOPOL_P FDS("{\"c\":99999999999999999999999999}") FAILED(1))),
	BAD("negative t", DGRAM(NOPOL_P ",\"t\":-1,\"f\":0}")),
	BAD("f 2", DGRAM(NOPOL_P ",\"t\":0,\"f\":2}")),
	BAD("policy-type 0", DGRAM("{\"policy-type\":0" SUCCESS)),
	BAD("policy-type 3", DGRAM("{\"policy-type\":3" SUCCESS)),
	BAD("c 0 (success is not a failure)", DGRAM(NOPOL_P FDS("{\"c\":0}") FAILED(1))),
	BAD("c 901 (libtlsrpt internal unfinished-policy)", DGRAM(NOPOL_P FDS("{\"c\":901}") FAILED(1))),
	BAD("c 200", DGRAM(NOPOL_P FDS("{\"c\":200}") FAILED(1))),
	BAD("c 307", DGRAM(NOPOL_P FDS("{\"c\":307}") FAILED(1))),

	/* --- consistency (t, f, failure details) --- */
	BAD("t 1 without details", DGRAM(NOPOL_P ",\"t\":1,\"f\":1}")),
	BAD("t 0 with one detail", DGRAM(NOPOL_P FDS("{\"c\":201}") ",\"t\":0,\"f\":1}")),
	BAD("t 1 with two details", DGRAM(NOPOL_P FDS("{\"c\":201},{\"c\":202}") FAILED(1))),
	BAD("success with a failure detail", DGRAM(NOPOL_P FDS("{\"c\":201}") ",\"t\":1,\"f\":0}")),
	BAD("failure without details", DGRAM(NOPOL_P ",\"t\":0,\"f\":1}")),

	/* --- field rules (stsguard_tlsrpt_result_check) --- */
	BAD("d not a host name", "{\"d\": \"company y.example\"" POLICIES NOPOL_P SUCCESS TAIL),
	BAD("d wildcard", "{\"d\": \"*.company-y.example\"" POLICIES NOPOL_P SUCCESS TAIL),
	BAD("d empty", "{\"d\": \"\"" POLICIES NOPOL_P SUCCESS TAIL),
	BAD("policy-domain not a host name", DGRAM("{\"policy-type\":9,\"policy-domain\": \"a..b\"" SUCCESS)),
	BAD("sending ip not an ip", DGRAM(NOPOL_P FDS("{\"c\":201,\"s\": \"1.2.3.999\"}") FAILED(1))),
	BAD("receiving ip with zone", DGRAM(NOPOL_P FDS("{\"c\":201,\"r\": \"fe80::1%eth0\"}") FAILED(1))),
	BAD("mx hostname not a host name", DGRAM(NOPOL_P FDS("{\"c\":201,\"n\": \"mx_1.example\"}") FAILED(1))),
	BAD("helo not a host name or literal", DGRAM(NOPOL_P FDS("{\"c\":201,\"h\": \"mx ready\"}") FAILED(1))),
	OKC("additional information not a URI (libtlsrpt demo text): kept as the reason",
	    DGRAM(NOPOL_P FDS("{\"c\":201,\"a\": \"This is additional information\"}") FAILED(1)), 0, 1,
	    R(STSGUARD_RESULT_STARTTLS_NOT_SUPPORTED), R(NOPOL)),
	BAD("policy strings on no-policy-found", DGRAM("{\"policy-type\":9,\"policy-string\":[\"x\"]" SUCCESS)),
	BAD("mx-host on tlsa", DGRAM("{\"policy-type\":1,\"mx-host\":[\"mx.example\"]" SUCCESS)),
	BAD("bad mx pattern", DGRAM("{\"policy-type\":2,\"mx-host\":[\"mx.*.example\"]" SUCCESS)),
	BAD("empty policy string", DGRAM("{\"policy-type\":1,\"policy-string\":[\"\"]" SUCCESS)),

	/* --- caps --- */
	BIG("ip field too long", DGRAM(NOPOL_P FDS("{\"c\":201,\"s\": \"0000:0000:0000:0000:0000:0000:0000:0000:0000:0000\"}")
	                              FAILED(1))),
};

static char *copy_exact(const char *s, size_t len)
{
	char *p = malloc(len ? len : 1);
	if (p != NULL && len > 0)
		memcpy(p, s, len);
	return p;
}

/* Parse len bytes from an exact-size copy. */
static stsguard_status parse(const char *in, size_t len, stsguard_tlsrpt_dgram **d, stsguard_err *err)
{
	char *buf = copy_exact(in, len);
	stsguard_status st = stsguard_tlsrpt_dgram_parse(buf, len, NOW, d, err);
	free(buf);
	return st;
}

static void check_results_valid(const stsguard_tlsrpt_dgram *d, const char *name)
{
	for (size_t i = 0; i < d->n_results; i++) {
		CHECK_STATUS(stsguard_tlsrpt_result_check(&d->results[i], NULL), STSGUARD_OK, name);
		CHECK_INT(d->results[i].time, NOW, name);
	}
}

static void run_table(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct dgram_case *c = &cases[i];
		size_t len = strlen(c->in);
		stsguard_tlsrpt_dgram *d = (stsguard_tlsrpt_dgram *)&d;
		stsguard_err err = {""};
		stsguard_status st = parse(c->in, len, &d, &err);
		if (!CHECK_STATUS(st, c->want, c->name))
			fprintf(stderr, "    (%s)\n", err.msg);
		if (st != STSGUARD_OK) {
			CHECK_TRUE(d == NULL, c->name);
			CHECK_TRUE(err.msg[0] != '\0', c->name);
			continue;
		}
		CHECK_INT(d->version, c->version, c->name);
		if (CHECK_INT(d->n_results, c->n, c->name)) {
			for (size_t k = 0; k < c->n && k < MAXR; k++) {
				CHECK_INT(d->results[k].result, c->result[k], c->name);
				CHECK_INT(d->results[k].policy_type, c->policy[k], c->name);
			}
		}
		check_results_valid(d, c->name);
		stsguard_tlsrpt_dgram_free(d);
	}
}

/* Example 8 field by field: the mapping of docs/tlsrpt-intake.md. */
static void test_mapping(void)
{
	stsguard_tlsrpt_dgram *d = NULL;
	stsguard_err err = {""};
	const char *n = "mapping";

	if (!CHECK_STATUS(parse(mixed, strlen(mixed), &d, &err), STSGUARD_OK, n))
		return;
	CHECK_STR(d->domain, "company-y.example", n);
	CHECK_STR(d->tlsrpt_record, "v=TLSRPTv1;rua=mailto:tlsrpt@company-y.example", n);
	CHECK_INT(d->version, 0, n);
	if (!CHECK_INT(d->n_results, 3, n)) {
		stsguard_tlsrpt_dgram_free(d);
		return;
	}
	const stsguard_tlsrpt_result *r = &d->results[0];
	CHECK_INT(r->time, NOW, "mapping time");
	CHECK_INT(r->policy_type, STSGUARD_POLICY_STS, "mapping policy type");
	CHECK_STR(r->policy_domain, "company-y.example", "mapping policy domain");
	CHECK_STR(r->policy_id, "", "mapping policy id (not in the datagram)");
	if (CHECK_INT(r->n_policy_strings, 4, "mapping policy strings")) {
		CHECK_STR(r->policy_strings[0], "version: STSv1", "mapping policy string 0");
		CHECK_STR(r->policy_strings[3], "max_age: 86400", "mapping policy string 3");
	}
	if (CHECK_INT(r->n_mx_host_patterns, 2, "mapping mx patterns")) {
		CHECK_STR(r->mx_host_patterns[0], "*.mail.company-y.example", "mapping mx pattern 0");
		CHECK_STR(r->mx_host_patterns[1], "*.mail2.company-y.example", "mapping mx pattern 1");
	}
	CHECK_INT(r->result, STSGUARD_RESULT_STS_POLICY_INVALID, "mapping c");
	CHECK_STR(r->sending_mta_ip, "1.2.3.4", "mapping s");
	CHECK_STR(r->receiving_mx_hostname, "mailin.example.com", "mapping n");
	CHECK_STR(r->receiving_mx_helo, "test-ehlo.example.com", "mapping h");
	CHECK_STR(r->receiving_ip, "11.22.33.44", "mapping r");
	CHECK_STR(r->additional_information, "https://company-y.example/tlsrpt-info", "mapping a");
	CHECK_STR(r->failure_reason_code, "999 TEST ERROR", "mapping f");
	r = &d->results[1];
	CHECK_INT(r->result, STSGUARD_RESULT_STS_WEBPKI_INVALID, "mapping second detail");
	CHECK_STR(r->sending_mta_ip, "1.2.3.5", "mapping second s");
	CHECK_STR(r->additional_information, "", "mapping absent a");
	CHECK_INT(r->n_policy_strings, 4, "mapping second detail keeps the policy");
	r = &d->results[2];
	CHECK_INT(r->result, STSGUARD_RESULT_SUCCESS, "mapping tlsa success");
	CHECK_INT(r->policy_type, STSGUARD_POLICY_TLSA, "mapping tlsa type");
	CHECK_INT(r->n_policy_strings, 2, "mapping tlsa records");
	CHECK_INT(r->n_mx_host_patterns, 0, "mapping tlsa no mx");
	CHECK_STR(r->sending_mta_ip, "", "mapping success has no detail");
	stsguard_tlsrpt_dgram_free(d);
}

/* Escapes as libtlsrpt writes them, raw UTF-8, lower-casing of host names. */
/* Free text in "a" (libtlsrpt's examples) becomes the failure reason, or is dropped if there is one. */
static void test_additional_text(void)
{
	static const char *const in[2] = {
		DGRAM(NOPOL_P FDS("{\"c\":201,\"a\": \"This is additional information\"}") FAILED(1)),
		DGRAM(NOPOL_P FDS("{\"c\":201,\"a\": \"free text\",\"f\": \"421 busy\"}") FAILED(1)),
	};
	static const char *const want_reason[2] = {"This is additional information", "421 busy"};
	for (int i = 0; i < 2; i++) {
		stsguard_tlsrpt_dgram *d = NULL;
		stsguard_err err = {""};
		if (!CHECK_STATUS(parse(in[i], strlen(in[i]), &d, &err), STSGUARD_OK, "additional text"))
			continue;
		CHECK_STR(d->results[0].failure_reason_code, want_reason[i], "additional text: reason");
		CHECK_STR(d->results[0].additional_information, "", "additional text: not a URI, not kept");
		stsguard_tlsrpt_dgram_free(d);
	}
}

static void test_text(void)
{
	static const char in[] = DGRAM(
	    NOPOL_P FDS("{\"c\":203,\"n\": \"MX1.Company-Y.Example\",\"h\": \"[IPv6:2001:db8::25]\","
	                "\"r\": \"2001:db8::25\",\"f\": \"454 4.7.0 \\\"TLS\\\" \\\\ failed\\t\xc3\xa9\xe2\x82\xac\"}")
	        FAILED(1));
	stsguard_tlsrpt_dgram *d = NULL;
	stsguard_err err = {""};

	if (!CHECK_STATUS(parse(in, strlen(in), &d, &err), STSGUARD_OK, "text"))
		return;
	const stsguard_tlsrpt_result *r = &d->results[0];
	CHECK_INT(r->result, STSGUARD_RESULT_CERTIFICATE_NOT_TRUSTED, "text c");
	CHECK_STR(r->failure_reason_code, "454 4.7.0 \"TLS\" \\ failed\t\xc3\xa9\xe2\x82\xac", "text escapes");
	CHECK_STR(r->receiving_mx_hostname, "mx1.company-y.example", "text mx lower-cased");
	CHECK_STR(r->receiving_mx_helo, "[IPv6:2001:db8::25]", "text helo literal kept");
	CHECK_STR(r->receiving_ip, "2001:db8::25", "text ipv6");
	stsguard_tlsrpt_dgram_free(d);

	static const char upper[] = "{\"d\": \"Company-Y.Example\"" POLICIES NOPOL_P SUCCESS TAIL;
	if (CHECK_STATUS(parse(upper, strlen(upper), &d, &err), STSGUARD_OK, "upper")) {
		CHECK_STR(d->domain, "company-y.example", "d lower-cased");
		CHECK_STR(d->results[0].policy_domain, "company-y.example", "policy domain lower-cased");
		CHECK_STR(d->tlsrpt_record, "", "absent pr");
		stsguard_tlsrpt_dgram_free(d);
	}
}

/* Every RFC 8460 §4.3 failure type, under the policy type it belongs to. */
static void test_each_failure_type(void)
{
	static const struct {
		int code;
		stsguard_result_type want;
		int policy;
	} types[] = {
	    {201, STSGUARD_RESULT_STARTTLS_NOT_SUPPORTED, 9}, {202, STSGUARD_RESULT_CERTIFICATE_HOST_MISMATCH, 2},
	    {203, STSGUARD_RESULT_CERTIFICATE_NOT_TRUSTED, 2}, {204, STSGUARD_RESULT_CERTIFICATE_EXPIRED, 2},
	    {205, STSGUARD_RESULT_VALIDATION_FAILURE, 9},       {301, STSGUARD_RESULT_STS_POLICY_FETCH_ERROR, 2},
	    {302, STSGUARD_RESULT_STS_POLICY_INVALID, 2},      {303, STSGUARD_RESULT_STS_WEBPKI_INVALID, 2},
	    {304, STSGUARD_RESULT_TLSA_INVALID, 1},            {305, STSGUARD_RESULT_DNSSEC_INVALID, 1},
	    {306, STSGUARD_RESULT_DANE_REQUIRED, 1},
	};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		char buf[512], name[64];
		int n = snprintf(buf, sizeof buf,
		                 HEAD POLICIES "{\"policy-type\":%d,\"policy-domain\": \"company-y.example\""
		                               ",\"failure-details\":[{\"c\":%d,\"s\": \"192.0.2.1\",\"n\": "
		                               "\"mx.company-y.example\",\"r\": \"198.51.100.7\"}],\"t\":1,\"f\":1}" TAIL,
		                 types[i].policy, types[i].code);
		snprintf(name, sizeof name, "failure type %d", types[i].code);
		stsguard_tlsrpt_dgram *d = NULL;
		stsguard_err err = {""};
		if (!CHECK_STATUS(parse(buf, (size_t)n, &d, &err), STSGUARD_OK, name)) {
			fprintf(stderr, "    (%s)\n", err.msg);
			continue;
		}
		if (CHECK_INT(d->n_results, 1, name)) {
			CHECK_INT(d->results[0].result, types[i].want, name);
			CHECK_INT(d->results[0].policy_type, types[i].policy, name);
			CHECK_STR(stsguard_result_type_name(d->results[0].result),
			          stsguard_result_type_name(types[i].want), name);
		}
		stsguard_tlsrpt_dgram_free(d);
	}
}

/* A datagram cut short anywhere (a receive buffer too small, a torn write) is refused whole. */
static void test_truncated(void)
{
	size_t len = strlen(mixed);
	size_t refused = 0;

	for (size_t cut = 0; cut < len; cut++) {
		stsguard_tlsrpt_dgram *d = NULL;
		stsguard_err err = {""};
		if (parse(mixed, cut, &d, &err) == STSGUARD_INVALID && d == NULL && err.msg[0] != '\0')
			refused++;
		stsguard_tlsrpt_dgram_free(d);
	}
	CHECK_INT(refused, len, "every proper prefix refused");
}

/* The size cap is checked before anything is read; up to the cap is fine. */
static void test_size(void)
{
	size_t base = strlen(sts_success);
	char *buf = malloc(STSGUARD_TLSRPT_DGRAM_MAX + 1);
	stsguard_tlsrpt_dgram *d = NULL;
	stsguard_err err = {""};

	if (!CHECK_TRUE(buf != NULL, "size alloc"))
		return;
	memcpy(buf, sts_success, base);
	memset(buf + base, ' ', STSGUARD_TLSRPT_DGRAM_MAX + 1 - base);
	CHECK_STATUS(stsguard_tlsrpt_dgram_parse(buf, STSGUARD_TLSRPT_DGRAM_MAX, NOW, &d, &err), STSGUARD_OK,
	             "exactly the cap");
	stsguard_tlsrpt_dgram_free(d);
	CHECK_STATUS(stsguard_tlsrpt_dgram_parse(buf, STSGUARD_TLSRPT_DGRAM_MAX + 1, NOW, &d, &err), STSGUARD_TOOBIG,
	             "one byte over the cap");
	CHECK_TRUE(d == NULL, "over the cap: no datagram");
	/* What recv(MSG_TRUNC) reports for a 1 MiB datagram: refused without touching the bytes. */
	CHECK_STATUS(stsguard_tlsrpt_dgram_parse(buf, (size_t)1 << 20, NOW, &d, &err), STSGUARD_TOOBIG, "1 MiB");
	free(buf);

	/* "pr" over its cap. */
	char pr[4200];
	int n = snprintf(pr, sizeof pr, "{\"d\": \"company-y.example\",\"pr\": \"v=TLSRPTv1;rua=mailto:");
	while ((size_t)n < STSGUARD_TLSRPT_DGRAM_RECORD_MAX + 40)
		pr[n++] = 'a';
	n += snprintf(pr + n, sizeof pr - (size_t)n, "@company-y.example\"" POLICIES NOPOL_P SUCCESS TAIL);
	CHECK_STATUS(parse(pr, (size_t)n, &d, &err), STSGUARD_TOOBIG, "pr too long");

	/* 17 policies. */
	char many[2048];
	n = snprintf(many, sizeof many, HEAD POLICIES);
	for (int i = 0; i < 17; i++)
		n += snprintf(many + n, sizeof many - (size_t)n, "%s" NOPOL_P SUCCESS, i ? "," : "");
	n += snprintf(many + n, sizeof many - (size_t)n, TAIL);
	CHECK_STATUS(parse(many, (size_t)n, &d, &err), STSGUARD_TOOBIG, "17 policies");
	/* 16 policies are fine. */
	n = snprintf(many, sizeof many, HEAD POLICIES);
	for (int i = 0; i < 16; i++)
		n += snprintf(many + n, sizeof many - (size_t)n, "%s" NOPOL_P SUCCESS, i ? "," : "");
	n += snprintf(many + n, sizeof many - (size_t)n, TAIL);
	if (CHECK_STATUS(parse(many, (size_t)n, &d, &err), STSGUARD_OK, "16 policies")) {
		CHECK_INT(d->n_results, 16, "16 policies, 16 results");
		stsguard_tlsrpt_dgram_free(d);
	}

	/* More values than a datagram may hold, in a member we would ignore. */
	char *vals = malloc(20000);
	if (CHECK_TRUE(vals != NULL, "values alloc")) {
		n = snprintf(vals, 20000, "{\"d\": \"company-y.example\",\"x\":[");
		for (int i = 0; i < 8200; i++)
			n += snprintf(vals + n, 20000 - (size_t)n, "%s0", i ? "," : "");
		n += snprintf(vals + n, 20000 - (size_t)n, "]" POLICIES NOPOL_P SUCCESS TAIL);
		CHECK_STATUS(parse(vals, (size_t)n, &d, &err), STSGUARD_TOOBIG, "8200 values");
		free(vals);
	}

	/* 65 failure details in one policy. */
	char *fd = malloc(8192);
	if (!CHECK_TRUE(fd != NULL, "fd alloc"))
		return;
	for (int k = 64; k <= 65; k++) {
		n = snprintf(fd, 8192, HEAD POLICIES NOPOL_P ",\"failure-details\":[");
		for (int i = 0; i < k; i++)
			n += snprintf(fd + n, 8192 - (size_t)n, "%s{\"c\":201}", i ? "," : "");
		n += snprintf(fd + n, 8192 - (size_t)n, "],\"t\":%d,\"f\":1}" TAIL, k);
		stsguard_status st = parse(fd, (size_t)n, &d, &err);
		CHECK_STATUS(st, k == 64 ? STSGUARD_OK : STSGUARD_TOOBIG, k == 64 ? "64 details" : "65 details");
		if (st == STSGUARD_OK) {
			CHECK_INT(d->n_results, 64, "64 details, 64 results");
			stsguard_tlsrpt_dgram_free(d);
		}
	}
	/* Five policies of 64 failures: 320 results, over the per-datagram cap. */
	char *five = malloc(16384);
	if (CHECK_TRUE(five != NULL, "five alloc")) {
		n = snprintf(five, 16384, HEAD POLICIES);
		for (int p = 0; p < 5; p++) {
			n += snprintf(five + n, 16384 - (size_t)n, "%s" NOPOL_P ",\"failure-details\":[", p ? "," : "");
			for (int i = 0; i < 64; i++)
				n += snprintf(five + n, 16384 - (size_t)n, "%s{\"c\":201}", i ? "," : "");
			n += snprintf(five + n, 16384 - (size_t)n, "],\"t\":64,\"f\":1}");
		}
		n += snprintf(five + n, 16384 - (size_t)n, TAIL);
		CHECK_STATUS(parse(five, (size_t)n, &d, &err), STSGUARD_TOOBIG, "320 results");
		free(five);
	}
	free(fd);
}

/* Bytes a C string cannot show: a NUL between tokens and inside a string. */
static void test_nul(void)
{
	static const char between[] = "{\"d\": \"company-y.example\"\0" POLICIES NOPOL_P SUCCESS TAIL;
	static const char inside[] = "{\"d\": \"company-y.example\0x\"" POLICIES NOPOL_P SUCCESS TAIL;
	stsguard_tlsrpt_dgram *d = NULL;

	CHECK_STATUS(parse(between, sizeof between - 1, &d, NULL), STSGUARD_INVALID, "NUL between tokens");
	CHECK_STATUS(parse(inside, sizeof inside - 1, &d, NULL), STSGUARD_INVALID, "raw NUL in a string");
	CHECK_TRUE(d == NULL, "NUL: no datagram");
}

static void test_args(void)
{
	stsguard_tlsrpt_dgram *d = NULL;
	stsguard_err err = {""};
	size_t len = strlen(sts_success);

	CHECK_STATUS(stsguard_tlsrpt_dgram_parse(sts_success, len, NOW, NULL, &err), STSGUARD_BADARG, "no out");
	CHECK_STATUS(stsguard_tlsrpt_dgram_parse(NULL, len, NOW, &d, &err), STSGUARD_BADARG, "no buffer");
	CHECK_STATUS(stsguard_tlsrpt_dgram_parse(sts_success, len, -1, &d, &err), STSGUARD_BADARG, "negative time");
	CHECK_STATUS(stsguard_tlsrpt_dgram_parse(sts_success, len, STSGUARD_TLSRPT_TIME_MAX + 1, &d, &err),
	             STSGUARD_BADARG, "time past 9999");
	CHECK_TRUE(d == NULL, "bad args: no datagram");
	CHECK_STATUS(stsguard_tlsrpt_dgram_parse(sts_success, len, NOW, &d, NULL), STSGUARD_OK, "err may be NULL");
	stsguard_tlsrpt_dgram_free(d);
	CHECK_STATUS(stsguard_tlsrpt_dgram_parse("{", 1, NOW, &d, NULL), STSGUARD_INVALID, "err NULL on failure");
	stsguard_tlsrpt_dgram_free(NULL);
}

/* Results go to the store unchanged: each encodes, and decodes to itself. */
static void test_store_roundtrip(void)
{
	stsguard_tlsrpt_dgram *d = NULL;

	if (!CHECK_STATUS(parse(mixed, strlen(mixed), &d, NULL), STSGUARD_OK, "roundtrip parse"))
		return;
	for (size_t i = 0; i < d->n_results; i++) {
		char *line = NULL;
		size_t len = 0;
		stsguard_tlsrpt_result back;
		if (!CHECK_STATUS(stsguard_tlsrpt_result_encode_alloc(&d->results[i], &line, &len, NULL), STSGUARD_OK,
		                  "roundtrip encode"))
			continue;
		if (CHECK_STATUS(stsguard_tlsrpt_result_decode(line, len, &back, NULL), STSGUARD_OK, "roundtrip decode")) {
			CHECK_INT(back.result, d->results[i].result, "roundtrip result");
			CHECK_STR(back.failure_reason_code, d->results[i].failure_reason_code, "roundtrip reason");
			stsguard_tlsrpt_result_clear(&back);
		}
		free(line);
	}
	stsguard_tlsrpt_dgram_free(d);
}

int main(void)
{
	run_table();
	test_mapping();
	test_text();
	test_additional_text();
	test_each_failure_type();
	test_truncated();
	test_size();
	test_nul();
	test_args();
	test_store_roundtrip();
	return check_summary();
}
