/*
 * test_tlsrpt_txt.c - table-driven tests of stsguard_tlsrpt_txt_parse().
 *
 * Expectations come from RFC 8460 §3 (ABNF below; records not beginning with
 * "v=TLSRPTv1;" are discarded; not exactly one record, or an invalid one,
 * means "does not implement TLSRPT"; unknown fields ignored) and the contract
 * in tlsrpt_txt.h (mailto: and https: only, first rua kept, 32 URIs, TXT
 * caps), never from the code.
 *
 *   tlsrpt-record    = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
 *   field-delim      = *WSP ";" *WSP
 *   tlsrpt-field     = tlsrpt-rua / tlsrpt-extension
 *   tlsrpt-version   = %s"v=TLSRPTv1"
 *   tlsrpt-rua       = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
 *   tlsrpt-uri       = URI   ; RFC 3986, "," and "!" percent-encoded
 *   tlsrpt-extension = tlsrpt-ext-name "=" tlsrpt-ext-value
 *   tlsrpt-ext-name  = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
 *   tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E)
 *
 * Every record is copied into a heap buffer of exactly its length.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stsguard/tlsrpt_txt.h"
#include "stsguard/txt.h"

#include "check.h"

#define MAX_RECORDS 4
#define MAX_RUA 4

#define R(s) { (s), sizeof(s) - 1 }

struct tlsrpt_case {
	const char *name;
	size_t n;
	stsguard_txt records[MAX_RECORDS];
	stsguard_status want;
	size_t n_rua; /* checked only when want is STSGUARD_OK */
	const char *rua[MAX_RUA];
};

#define ONE(name, rec, want) { name, 1, { R(rec) }, want, 0, { NULL } }
#define BAD(name, rec) ONE(name, rec, STSGUARD_INVALID)
#define NONE(name, rec) ONE(name, rec, STSGUARD_NONE)
#define OK1(name, rec, uri) { name, 1, { R(rec) }, STSGUARD_OK, 1, { uri } }

#define MA "mailto:a@b.example"

static const struct tlsrpt_case cases[] = {
	/* --- one valid record --- */
	OK1("rfc example, mailto", "v=TLSRPTv1; rua=mailto:reports@example.com",
	    "mailto:reports@example.com"),
	OK1("rfc example, https", "v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt",
	    "https://reporting.example.com/v1/tlsrpt"),
	OK1("trailing delimiter", "v=TLSRPTv1; rua=" MA ";", MA),
	OK1("trailing delimiter and WSP", "v=TLSRPTv1; rua=" MA " ; ", MA),
	OK1("no whitespace", "v=TLSRPTv1;rua=" MA, MA),
	OK1("WSP before ;", "v=TLSRPTv1 ; rua=" MA, MA),
	OK1("tabs around ;", "v=TLSRPTv1\t;\trua=" MA, MA),
	OK1("extension after rua", "v=TLSRPTv1; rua=" MA "; ext=val", MA),
	OK1("extension before rua", "v=TLSRPTv1; ext=val; rua=" MA, MA),
	OK1("extension name with . - _ digits", "v=TLSRPTv1; rua=" MA "; 9a.b-c_d=x", MA),
	OK1("extension value punctuation", "v=TLSRPTv1; rua=" MA "; x=!\"#$%&'()*+,-./:<>?@[\\]^_`{|}~",
	    MA),
	OK1("ruax extension before rua", "v=TLSRPTv1; ruax=" MA "; rua=mailto:c@d.example",
	    "mailto:c@d.example"),
	OK1("duplicated rua keeps the first",
	    "v=TLSRPTv1; rua=mailto:first@x.example; rua=mailto:second@x.example",
	    "mailto:first@x.example"),
	OK1("https with port, path and query",
	    "v=TLSRPTv1; rua=https://r.example:8443/v1/report?a=b",
	    "https://r.example:8443/v1/report?a=b"),
	OK1("mailto with percent-encoded comma", "v=TLSRPTv1; rua=mailto:a%2Cb@x.example",
	    "mailto:a%2Cb@x.example"),
	{ "len stops before trailing bytes", 1, { { "v=TLSRPTv1; rua=" MA ",junk", 34 } },
	  STSGUARD_OK, 1, { MA } },
	{ "two URIs, comma", 1, { R("v=TLSRPTv1; rua=" MA ",https://r.example/tlsrpt") },
	  STSGUARD_OK, 2, { MA, "https://r.example/tlsrpt" } },
	{ "two URIs, spaces around comma", 1,
	  { R("v=TLSRPTv1; rua=" MA " , mailto:c@d.example") }, STSGUARD_OK, 2,
	  { MA, "mailto:c@d.example" } },
	{ "two URIs, https first, tab after comma", 1,
	  { R("v=TLSRPTv1; rua=https://r.example/x,\tmailto:c@d.example;") }, STSGUARD_OK, 2,
	  { "https://r.example/x", "mailto:c@d.example" } },
	{ "three URIs, order kept", 1,
	  { R("v=TLSRPTv1; rua=mailto:z@z.example, mailto:a@a.example ,https://m.example/") },
	  STSGUARD_OK, 3, { "mailto:z@z.example", "mailto:a@a.example", "https://m.example/" } },

	/* --- RRsets --- */
	{ "spf then tlsrpt", 2, { R("v=spf1 -all"), R("v=TLSRPTv1; rua=" MA) }, STSGUARD_OK, 1,
	  { MA } },
	{ "tlsrpt then spf", 2, { R("v=TLSRPTv1; rua=" MA), R("v=spf1 -all") }, STSGUARD_OK, 1,
	  { MA } },
	{ "sts record next to tlsrpt", 2, { R("v=STSv1; id=abc"), R("v=TLSRPTv1; rua=" MA) },
	  STSGUARD_OK, 1, { MA } },
	{ "TLSRPTv10 discarded, TLSRPTv1 kept", 2,
	  { R("v=TLSRPTv10; rua=mailto:x@x.example"), R("v=TLSRPTv1; rua=" MA) }, STSGUARD_OK, 1,
	  { MA } },
	{ "bare v=TLSRPTv1 discarded", 2, { R("v=TLSRPTv1"), R("v=TLSRPTv1; rua=" MA) },
	  STSGUARD_OK, 1, { MA } },
	{ "empty record discarded", 3, { R(""), R("v=TLSRPTv1; rua=" MA), R("hello") },
	  STSGUARD_OK, 1, { MA } },

	/* --- nothing left: NONE --- */
	{ "empty RRset", 0, { R("") }, STSGUARD_NONE, 0, { NULL } },
	NONE("only spf", "v=spf1 -all"),
	NONE("only sts", "v=STSv1; id=abc"),
	NONE("TLSRPTv10", "v=TLSRPTv10; rua=" MA),
	NONE("TLSRPTv2", "v=TLSRPTv2; rua=" MA),
	NONE("lower-case version", "v=tlsrptv1; rua=" MA),
	NONE("upper-case V", "V=TLSRPTv1; rua=" MA),
	NONE("leading space", " v=TLSRPTv1; rua=" MA),
	NONE("version only", "v=TLSRPTv1"),
	NONE("no ; after version", "v=TLSRPTv1 rua=" MA),
	NONE("comma after version", "v=TLSRPTv1, rua=" MA),
	NONE("empty record", ""),

	/* --- exactly one must remain --- */
	{ "two TLSRPTv1 records", 2,
	  { R("v=TLSRPTv1; rua=" MA), R("v=TLSRPTv1; rua=mailto:c@d.example") },
	  STSGUARD_INVALID, 0, { NULL } },
	{ "two identical TLSRPTv1 records", 2, { R("v=TLSRPTv1; rua=" MA), R("v=TLSRPTv1; rua=" MA) },
	  STSGUARD_INVALID, 0, { NULL } },
	{ "two records, one without rua", 3,
	  { R("v=spf1 -all"), R("v=TLSRPTv1; rua=" MA), R("v=TLSRPTv1;") }, STSGUARD_INVALID, 0,
	  { NULL } },

	/* --- the record breaks the ABNF --- */
	BAD("no fields", "v=TLSRPTv1;"),
	BAD("missing rua", "v=TLSRPTv1; ext=val"),
	BAD("RUA is not rua", "v=TLSRPTv1; RUA=" MA),
	BAD("empty rua", "v=TLSRPTv1; rua="),
	BAD("ruax is not rua", "v=TLSRPTv1; ruax=" MA),
	BAD("xrua is not rua", "v=TLSRPTv1; xrua=" MA),
	BAD("scheme mailtox", "v=TLSRPTv1; rua=mailtox:a@b.example"),
	BAD("scheme httpss", "v=TLSRPTv1; rua=httpss://r.example/"),
	BAD("empty rua then ;", "v=TLSRPTv1; rua=;"),
	BAD("http scheme", "v=TLSRPTv1; rua=http://r.example/tlsrpt"),
	BAD("ftp scheme", "v=TLSRPTv1; rua=ftp://r.example/tlsrpt"),
	BAD("ldap scheme", "v=TLSRPTv1; rua=ldap://r.example/"),
	BAD("no scheme", "v=TLSRPTv1; rua=a@b.example"),
	BAD("second URI has a bad scheme", "v=TLSRPTv1; rua=" MA ",ftp://r.example/"),
	BAD("trailing comma", "v=TLSRPTv1; rua=" MA ","),
	BAD("leading comma", "v=TLSRPTv1; rua=," MA),
	BAD("double comma", "v=TLSRPTv1; rua=" MA ",,mailto:c@d.example"),
	BAD("URIs separated by space only", "v=TLSRPTv1; rua=" MA " mailto:c@d.example"),
	BAD("space inside a URI", "v=TLSRPTv1; rua=mailto:a b@x.example"),
	BAD("control char inside a URI", "v=TLSRPTv1; rua=mailto:a\x01z@x.example"),
	BAD("NUL inside a URI", "v=TLSRPTv1; rua=mailto:a\0z@x.example"),
	BAD("NUL at the end", "v=TLSRPTv1; rua=" MA "\0"),
	BAD("CRLF at the end", "v=TLSRPTv1; rua=" MA "\r\n"),
	BAD("trailing WSP without ;", "v=TLSRPTv1; rua=" MA " "),
	BAD("double ;", "v=TLSRPTv1; rua=" MA ";;"),
	BAD("empty field before rua", "v=TLSRPTv1;; rua=" MA),
	BAD("field without =", "v=TLSRPTv1; rua=" MA "; junk"),
	BAD("extension name starting with _", "v=TLSRPTv1; rua=" MA "; _x=1"),
	BAD("extension name of 33 chars",
	    "v=TLSRPTv1; rua=" MA "; a234567890123456789012345678901bc=1"),
	BAD("extension with empty value", "v=TLSRPTv1; rua=" MA "; x="),
	BAD("extension value with space", "v=TLSRPTv1; rua=" MA "; x=a b"),
	BAD("extension value with =", "v=TLSRPTv1; rua=" MA "; x=a=b"),
	BAD("extension value non-ASCII", "v=TLSRPTv1; rua=" MA "; x=\xc3\xa9"),
	BAD("space before =", "v=TLSRPTv1; rua =" MA),
};

static void check_record(const char *name, const stsguard_tlsrpt_record *r, size_t n_rua,
                         const char *const *rua)
{
	if (!CHECK_INT(r->n_rua, n_rua, name))
		return;
	if (!CHECK_TRUE(r->rua != NULL, name))
		return;
	for (size_t i = 0; i < n_rua; i++)
		CHECK_STR(r->rua[i], rua[i], name);
}

static void run_rrset(const char *name, const stsguard_txt *records, size_t n,
                      stsguard_status want, size_t n_rua, const char *const *rua)
{
	stsguard_txt *copies = calloc(n ? n : 1, sizeof(*copies));
	char **bufs = calloc(n ? n : 1, sizeof(*bufs));
	stsguard_tlsrpt_record sentinel;
	stsguard_tlsrpt_record *out;
	stsguard_err err;
	stsguard_status got;

	if (!CHECK_TRUE(copies != NULL && bufs != NULL, name)) {
		free(copies);
		free(bufs);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		bufs[i] = malloc(records[i].len ? records[i].len : 1);
		if (!CHECK_TRUE(bufs[i] != NULL, name))
			goto out;
		if (records[i].len > 0)
			memcpy(bufs[i], records[i].data, records[i].len);
		copies[i].data = bufs[i];
		copies[i].len = records[i].len;
	}

	out = &sentinel;
	memset(&err, 0, sizeof(err));
	got = stsguard_tlsrpt_txt_parse(copies, n, &out, &err);
	CHECK_STATUS(got, want, name);
	if (want == STSGUARD_OK) {
		if (got == STSGUARD_OK && CHECK_TRUE(out != NULL && out != &sentinel, name))
			check_record(name, out, n_rua, rua);
	} else {
		CHECK_TRUE(out == NULL, name);
		if (want != STSGUARD_NONE)
			CHECK_TRUE(err.msg[0] != '\0' &&
			                   memchr(err.msg, '\0', sizeof(err.msg)) != NULL,
			           name);
	}
	if (out != &sentinel)
		stsguard_tlsrpt_record_free(out);

	out = &sentinel;
	got = stsguard_tlsrpt_txt_parse(copies, n, &out, NULL);
	CHECK_STATUS(got, want, name);
	if (want != STSGUARD_OK)
		CHECK_TRUE(out == NULL, name);
	if (out != &sentinel)
		stsguard_tlsrpt_record_free(out);

out:
	for (size_t i = 0; i < n; i++)
		free(bufs[i]);
	free(bufs);
	free(copies);
}

/* "v=TLSRPTv1; rua=mailto:r0@x.example,mailto:r1@x.example,..." with count URIs. */
static unsigned run_many_rua(const char *name, size_t count, stsguard_status want)
{
	size_t cap = 32 + count * 32;
	char *rec = malloc(cap);
	char first[32], last[32];
	size_t len;

	if (rec == NULL) {
		CHECK_TRUE(rec != NULL, name);
		return 1;
	}
	len = (size_t)snprintf(rec, cap, "v=TLSRPTv1; rua=");
	for (size_t i = 0; i < count; i++)
		len += (size_t)snprintf(rec + len, cap - len, "%smailto:r%zu@x.example",
		                        i ? "," : "", i);
	stsguard_txt one = { rec, len };
	stsguard_tlsrpt_record *out = NULL;

	CHECK_STATUS(stsguard_tlsrpt_txt_parse(&one, 1, &out, NULL), want, name);
	if (want == STSGUARD_OK) {
		snprintf(first, sizeof(first), "mailto:r0@x.example");
		snprintf(last, sizeof(last), "mailto:r%zu@x.example", count - 1);
		if (CHECK_TRUE(out != NULL, name) && CHECK_INT(out->n_rua, count, name)) {
			CHECK_STR(out->rua[0], first, name);
			CHECK_STR(out->rua[count - 1], last, name);
		}
	} else {
		CHECK_TRUE(out == NULL, name);
	}
	stsguard_tlsrpt_record_free(out);
	free(rec);
	return 1;
}

static char *make_record(const char *prefix, size_t len)
{
	size_t plen = strlen(prefix);
	char *buf = malloc(len);

	if (buf == NULL || len < plen) {
		free(buf);
		return NULL;
	}
	memcpy(buf, prefix, plen);
	memset(buf + plen, 'a', len - plen);
	return buf;
}

static unsigned run_caps(void)
{
	static const char *const one_ma[] = { MA };
	stsguard_txt rrset[STSGUARD_TXT_RRSET_MAX + 1];
	unsigned ncases = 0;
	char *big;

	big = make_record("v=TLSRPTv1; rua=" MA "; x=", STSGUARD_TXT_RECORD_MAX);
	if (CHECK_TRUE(big != NULL, "record of 65535 bytes")) {
		stsguard_txt one = { big, STSGUARD_TXT_RECORD_MAX };
		run_rrset("record of exactly 65535 bytes", &one, 1, STSGUARD_OK, 1, one_ma);
	}
	free(big);
	ncases++;

	big = make_record("v=TLSRPTv1; rua=" MA "; x=", STSGUARD_TXT_RECORD_MAX + 1);
	if (CHECK_TRUE(big != NULL, "record of 65536 bytes")) {
		stsguard_txt one = { big, STSGUARD_TXT_RECORD_MAX + 1 };
		run_rrset("record of 65536 bytes", &one, 1, STSGUARD_TOOBIG, 0, NULL);
	}
	free(big);
	ncases++;

	for (size_t i = 0; i < STSGUARD_TXT_RRSET_MAX + 1; i++) {
		rrset[i].data = "v=spf1 -all";
		rrset[i].len = 11;
	}
	rrset[0].data = "v=TLSRPTv1; rua=" MA;
	rrset[0].len = sizeof("v=TLSRPTv1; rua=" MA) - 1;
	run_rrset("64 records, first is tlsrpt", rrset, STSGUARD_TXT_RRSET_MAX, STSGUARD_OK, 1,
	          one_ma);
	ncases++;
	run_rrset("65 records, first is tlsrpt", rrset, STSGUARD_TXT_RRSET_MAX + 1,
	          STSGUARD_TOOBIG, 0, NULL);
	ncases++;

	ncases += run_many_rua("32 rua URIs", STSGUARD_RUA_MAX, STSGUARD_OK);
	ncases += run_many_rua("33 rua URIs", STSGUARD_RUA_MAX + 1, STSGUARD_TOOBIG);
	return ncases;
}

int main(void)
{
	size_t ncases = sizeof(cases) / sizeof(cases[0]);

	for (size_t i = 0; i < ncases; i++)
		run_rrset(cases[i].name, cases[i].records, cases[i].n, cases[i].want,
		          cases[i].n_rua, cases[i].rua);
	ncases += run_caps();

	stsguard_tlsrpt_record_free(NULL); /* must be a no-op */

	printf("test_tlsrpt_txt: %zu cases\n", ncases);
	return check_summary();
}
