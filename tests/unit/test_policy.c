/*
 * test_policy.c - table-driven tests of stsguard_policy_parse() and
 * stsguard_policy_to_json().
 *
 * Expectations come from RFC 8461 §3.2 (ABNF below, first occurrence wins,
 * every mx counts, keys case-sensitive, max_age <= 31557600), errata 6253 (LF
 * or CRLF) and 7282 (max_age digits), and the contract in policy.h (trailing
 * empty lines tolerated, max_age capped with max_age_capped, mx lower-cased,
 * 64 KiB body cap, 256 mx cap), never from the code.
 *
 *   sts-policy-record     = sts-policy-field *WSP
 *                           *(sts-policy-term sts-policy-field *WSP)
 *                           [sts-policy-term]
 *   sts-policy-field-delim = ":" *WSP
 *   sts-policy-version-value = %s"STSv1"
 *   sts-policy-mode-value = %s"testing" / %s"enforce" / %s"none"
 *   sts-policy-mx-value   = ["*."] Domain
 *   sts-policy-max-age-value = 1*10(DIGIT)
 *   sts-policy-ext-name   = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
 *   sts-policy-term       = LF / CRLF
 *   sts-policy-ext-value  = sts-policy-vchar [*(%x20 / sts-policy-vchar) sts-policy-vchar]
 *   sts-policy-vchar      = VCHAR / UTF8-2 / UTF8-3 / UTF8-4
 *
 * Every body is copied to an exact-size heap buffer before the call, so a
 * parser that reads past `len` (or expects a NUL) trips ASan.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsguard/policy.h"

#include "check.h"

#define MAX_MX 4

#define VER "version: STSv1\n"
#define ENF "mode: enforce\n"
#define AGE "max_age: 86400\n"
#define MX1 "mx: mx.example.com\n"
/* Everything but max_age, to try max_age values. */
#define NO_AGE VER ENF MX1
/* Everything but mx, to try mx values. */
#define NO_MX VER ENF AGE
#define GOOD VER ENF AGE MX1

/* A body from a string literal; the length counts embedded NULs. */
#define B(s) (s), sizeof(s) - 1

struct policy_case {
	const char *name;
	const char *body;
	size_t len;
	stsguard_status want;
	/* checked only when want is STSGUARD_OK */
	stsguard_mode mode;
	uint32_t max_age;
	bool capped;
	size_t n_mx;
	const char *mx[MAX_MX];
};

#define FAIL(name, body, want) { name, B(body), want, STSGUARD_MODE_NONE, 0, false, 0, { NULL } }
#define BAD(name, body) FAIL(name, body, STSGUARD_INVALID)
#define ENFORCE_1MX(name, body) \
	{ name, B(body), STSGUARD_OK, STSGUARD_MODE_ENFORCE, 86400, false, 1, { "mx.example.com" } }
#define AGE_OK(name, value, want_age, want_capped)                                       \
	{ name, B(NO_AGE "max_age: " value "\n"), STSGUARD_OK, STSGUARD_MODE_ENFORCE, want_age, \
	  want_capped, 1, { "mx.example.com" } }

static const struct policy_case cases[] = {
	/* --- RFC 8461 §3.2 example, LF and CRLF (erratum 6253) --- */
	{ "rfc example, LF",
	  B("version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\n"
	    "mx: backupmx.example.com\nmax_age: 604800\n"),
	  STSGUARD_OK, STSGUARD_MODE_ENFORCE, 604800, false, 3,
	  { "mail.example.com", "*.example.net", "backupmx.example.com" } },
	{ "rfc example, CRLF",
	  B("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n"
	    "mx: backupmx.example.com\r\nmax_age: 604800\r\n"),
	  STSGUARD_OK, STSGUARD_MODE_ENFORCE, 604800, false, 3,
	  { "mail.example.com", "*.example.net", "backupmx.example.com" } },
	ENFORCE_1MX("mixed LF and CRLF", "version: STSv1\r\nmode: enforce\nmax_age: 86400\r\n"
	                                 "mx: mx.example.com\n"),
	ENFORCE_1MX("no final line end", VER ENF AGE "mx: mx.example.com"),
	ENFORCE_1MX("no final line end after CRLF lines",
	            "version: STSv1\r\nmode: enforce\r\nmax_age: 86400\r\nmx: mx.example.com"),
	ENFORCE_1MX("fields in another order", MX1 AGE ENF "version: STSv1"),
	ENFORCE_1MX("no space after colon",
	            "version:STSv1\nmode:enforce\nmax_age:86400\nmx:mx.example.com\n"),
	ENFORCE_1MX("tabs after colon",
	            "version:\tSTSv1\nmode:\t\tenforce\nmax_age: \t86400\nmx:\tmx.example.com\n"),
	ENFORCE_1MX("several spaces after colon", "version:    STSv1\n" ENF AGE MX1),
	ENFORCE_1MX("trailing WSP before LF",
	            "version: STSv1 \nmode: enforce\t\nmax_age: 86400  \nmx: mx.example.com \t\n"),
	ENFORCE_1MX("trailing WSP before CRLF",
	            "version: STSv1 \r\nmode: enforce\t\r\nmax_age: 86400 \r\n"
	            "mx: mx.example.com  \r\n"),
	ENFORCE_1MX("trailing WSP at the very end", VER ENF AGE "mx: mx.example.com  "),
	ENFORCE_1MX("trailing empty lines, LF", GOOD "\n\n\n"),
	ENFORCE_1MX("trailing empty lines, CRLF", VER ENF AGE "mx: mx.example.com\r\n\r\n\r\n"),
	ENFORCE_1MX("one trailing empty line", GOOD "\n"),

	/* --- modes --- */
	{ "mode testing", B(VER "mode: testing\n" AGE MX1), STSGUARD_OK, STSGUARD_MODE_TESTING,
	  86400, false, 1, { "mx.example.com" } },
	{ "mode none without mx", B(VER "mode: none\n" AGE), STSGUARD_OK, STSGUARD_MODE_NONE,
	  86400, false, 0, { NULL } },
	{ "mode none with mx keeps it", B(VER "mode: none\n" AGE MX1), STSGUARD_OK,
	  STSGUARD_MODE_NONE, 86400, false, 1, { "mx.example.com" } },

	/* --- mx lines: all kept, in order, lower-cased --- */
	{ "mx lower-cased", B(NO_MX "mx: MX1.Example.COM\nmx: *.EXAMPLE.net\n"), STSGUARD_OK,
	  STSGUARD_MODE_ENFORCE, 86400, false, 2, { "mx1.example.com", "*.example.net" } },
	{ "mx order kept", B(NO_MX "mx: b.example\nmx: a.example\nmx: c.example\n"), STSGUARD_OK,
	  STSGUARD_MODE_ENFORCE, 86400, false, 3, { "b.example", "a.example", "c.example" } },
	{ "mx lines spread between other lines",
	  B("mx: one.example\n" VER "mx: two.example\n" ENF "mx: three.example\n" AGE
	    "mx: four.example"),
	  STSGUARD_OK, STSGUARD_MODE_ENFORCE, 86400, false, 4,
	  { "one.example", "two.example", "three.example", "four.example" } },
	{ "duplicated mx kept twice", B(NO_MX "mx: a.example\nmx: a.example\n"), STSGUARD_OK,
	  STSGUARD_MODE_ENFORCE, 86400, false, 2, { "a.example", "a.example" } },
	{ "A-label mx", B(NO_MX "mx: xn--bcher-kva.example\n"), STSGUARD_OK,
	  STSGUARD_MODE_ENFORCE, 86400, false, 1, { "xn--bcher-kva.example" } },
	{ "wildcard mx", B(NO_MX "mx: *.example.com\n"), STSGUARD_OK, STSGUARD_MODE_ENFORCE, 86400,
	  false, 1, { "*.example.com" } },

	/* --- first occurrence wins for every key but mx --- */
	ENFORCE_1MX("duplicated version, second different", VER "version: STSv2\n" ENF AGE MX1),
	{ "duplicated mode: first wins", B(VER "mode: testing\nmode: enforce\n" AGE MX1),
	  STSGUARD_OK, STSGUARD_MODE_TESTING, 86400, false, 1, { "mx.example.com" } },
	ENFORCE_1MX("duplicated mode, later one bogus", VER ENF "mode: bogus\n" AGE MX1),
	{ "duplicated max_age: first wins", B(NO_AGE "max_age: 100\nmax_age: 200\n"), STSGUARD_OK,
	  STSGUARD_MODE_ENFORCE, 100, false, 1, { "mx.example.com" } },
	{ "duplicated max_age, later one too long",
	  B(NO_AGE "max_age: 100\nmax_age: 999999999999\n"), STSGUARD_OK, STSGUARD_MODE_ENFORCE,
	  100, false, 1, { "mx.example.com" } },

	/* --- unknown keys: extension grammar, then ignored --- */
	ENFORCE_1MX("unknown key ignored", GOOD "foo: bar\n"),
	ENFORCE_1MX("unknown key first", "foo: bar\n" GOOD),
	ENFORCE_1MX("extension value with inner spaces", GOOD "comment: hello  big world\n"),
	ENFORCE_1MX("extension value in UTF-8", GOOD "comment: caf\xc3\xa9 \xe2\x82\xac\n"),
	ENFORCE_1MX("extension name with . - _ and digits", GOOD "x-a.b_c9: 1\n"),
	ENFORCE_1MX("extension name starting with a digit", GOOD "1foo: bar\n"),
	ENFORCE_1MX("extension name of 32 chars", GOOD "a234567890123456789012345678901b: v\n"),
	ENFORCE_1MX("extension value with punctuation", GOOD "x: !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\n"),
	ENFORCE_1MX("Mode is another key than mode", VER "Mode: testing\n" ENF AGE MX1),
	ENFORCE_1MX("MX is another key than mx", NO_MX "MX: other.example\n" MX1),
	ENFORCE_1MX("keys with a known prefix are unknown keys",
	            GOOD "modes: bogus\nmax_age2: x\nmxx: 1.2.3.4\nversion1: STSv2\n"),

	/* --- max_age: 1*10 DIGIT, capped above 31557600 --- */
	AGE_OK("max_age 0", "0", 0, false),
	AGE_OK("max_age 1", "1", 1, false),
	AGE_OK("max_age with leading zeros, 10 digits", "0000086400", 86400, false),
	AGE_OK("max_age exactly the limit", "31557600", 31557600, false),
	AGE_OK("max_age limit + 1 is capped", "31557601", 31557600, true),
	AGE_OK("max_age 8 nines capped", "99999999", 31557600, true),
	AGE_OK("max_age 10 nines capped", "9999999999", 31557600, true),
	AGE_OK("max_age 2^32-1 capped", "4294967295", 31557600, true),
	AGE_OK("max_age 2^32 capped, no wrap", "4294967296", 31557600, true),
	AGE_OK("max_age 2^32+5 capped, no wrap", "4294967301", 31557600, true),

	/* --- empty and structural errors --- */
	FAIL("empty body", "", STSGUARD_INVALID),
	BAD("only LF", "\n"),
	BAD("only CRLF", "\r\n"),
	BAD("leading empty line", "\n" GOOD),
	BAD("empty line in the middle", VER ENF "\n" AGE MX1),
	BAD("empty CRLF line in the middle", "version: STSv1\r\n\r\nmode: enforce\r\n" AGE MX1),
	BAD("leading WSP on a line", VER " mode: enforce\n" AGE MX1),
	BAD("space before colon", VER "mode : enforce\n" AGE MX1),
	BAD("line without colon", GOOD "garbage\n"),
	BAD("key and value without colon", VER "mode enforce\n" AGE MX1),
	BAD("empty key", GOOD ": value\n"),
	BAD("bare CR as line separator",
	    "version: STSv1\rmode: enforce\rmax_age: 86400\rmx: mx.example.com\r"),
	BAD("bare CR inside a value", VER "mode: enf\rorce\n" AGE MX1),
	BAD("bare CR at the very end", VER ENF AGE "mx: mx.example.com\r"),
	BAD("CR CR LF", VER "mode: enforce\r\r\n" AGE MX1),
	BAD("NUL inside a value", VER "mode: enf\0orce\n" AGE MX1),
	BAD("NUL after the last line", GOOD "\0"),
	BAD("NUL as first byte", "\0" GOOD),

	/* --- required fields; keys are case-sensitive --- */
	BAD("missing version", ENF AGE MX1),
	BAD("missing mode", VER AGE MX1),
	BAD("missing max_age", VER ENF MX1),
	BAD("enforce without mx", VER ENF AGE),
	BAD("testing without mx", VER "mode: testing\n" AGE),
	BAD("Mode: enforce is unknown, mode missing", VER "Mode: enforce\n" AGE MX1),
	BAD("Version: STSv1 is unknown, version missing", "Version: STSv1\n" ENF AGE MX1),
	BAD("MAX_AGE is unknown, max_age missing", VER ENF "MAX_AGE: 86400\n" MX1),
	BAD("max-age is unknown, max_age missing", VER ENF "max-age: 86400\n" MX1),
	BAD("MX is unknown, mx missing", NO_MX "MX: mx.example.com\n"),
	BAD("mxx is not mx", NO_MX "mxx: mx.example.com\n"),
	BAD("mod is not mode", VER "mod: enforce\n" AGE MX1),
	BAD("modes is not mode", VER "modes: enforce\n" AGE MX1),
	BAD("versions is not version", "versions: STSv1\n" ENF AGE MX1),
	BAD("max_ag is not max_age", VER ENF "max_ag: 86400\n" MX1),

	/* --- version and mode values --- */
	BAD("version STSv2", "version: STSv2\n" ENF AGE MX1),
	BAD("version stsv1", "version: stsv1\n" ENF AGE MX1),
	BAD("version STSv1x", "version: STSv1x\n" ENF AGE MX1),
	BAD("version STSv10", "version: STSv10\n" ENF AGE MX1),
	BAD("version empty", "version:\n" ENF AGE MX1),
	BAD("version with extra word", "version: STSv1 extra\n" ENF AGE MX1),
	BAD("first version wrong, second right", "version: STSv2\n" VER ENF AGE MX1),
	BAD("mode Enforce", VER "mode: Enforce\n" AGE MX1),
	BAD("mode ENFORCE", VER "mode: ENFORCE\n" AGE MX1),
	BAD("mode enforcing", VER "mode: enforcing\n" AGE MX1),
	BAD("mode empty", VER "mode:\n" AGE MX1),
	BAD("mode only WSP", VER "mode:   \n" AGE MX1),
	BAD("mode with extra word", VER "mode: enforce now\n" AGE MX1),
	BAD("first mode bogus, second right", VER "mode: bogus\n" ENF AGE MX1),

	/* --- max_age values --- */
	BAD("max_age 11 digits", NO_AGE "max_age: 99999999999\n"),
	BAD("max_age 11 digits, leading zeros", NO_AGE "max_age: 00000086400\n"),
	BAD("max_age negative", NO_AGE "max_age: -1\n"),
	BAD("max_age with plus", NO_AGE "max_age: +86400\n"),
	BAD("max_age with unit", NO_AGE "max_age: 86400s\n"),
	BAD("max_age decimal", NO_AGE "max_age: 86400.0\n"),
	BAD("max_age hex", NO_AGE "max_age: 0x100\n"),
	BAD("max_age inner space", NO_AGE "max_age: 86 400\n"),
	BAD("max_age empty", NO_AGE "max_age:\n"),
	BAD("max_age words", NO_AGE "max_age: one day\n"),
	BAD("first max_age bad, second right", VER ENF "max_age: x\n" AGE MX1),

	/* --- mx values --- */
	BAD("mx IPv4 literal", NO_MX "mx: 1.2.3.4\n"),
	BAD("mx bracketed IP literal", NO_MX "mx: [192.0.2.1]\n"),
	BAD("mx U-label", NO_MX "mx: b\xc3\xbc" "cher.example\n"),
	BAD("mx two wildcard labels", NO_MX "mx: *.*.x.com\n"),
	BAD("mx double star", NO_MX "mx: **.x.com\n"),
	BAD("mx star glued to label", NO_MX "mx: *x.com\n"),
	BAD("mx leading dot", NO_MX "mx: .x.com\n"),
	BAD("mx trailing dot", NO_MX "mx: mx.example.com.\n"),
	BAD("mx empty label", NO_MX "mx: mx..example.com\n"),
	BAD("mx label of 64 octets",
	    NO_MX "mx: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example\n"),
	BAD("mx label leading hyphen", NO_MX "mx: -mx.example.com\n"),
	BAD("mx label trailing hyphen", NO_MX "mx: mx-.example.com\n"),
	BAD("mx empty value", NO_MX "mx:\n"),
	BAD("mx two values on one line", NO_MX "mx: a.example b.example\n"),
	BAD("mx list with comma", NO_MX "mx: a.example,b.example\n"),
	BAD("one bad mx among good ones", NO_MX "mx: a.example\nmx: 10.0.0.1\nmx: b.example\n"),
	BAD("mode none with an invalid mx", VER "mode: none\n" AGE "mx: *.*.example\n"),

	/* --- unknown keys that break the extension grammar --- */
	BAD("extension name starting with _", GOOD "_foo: bar\n"),
	BAD("extension name starting with -", GOOD "-foo: bar\n"),
	BAD("extension name of 33 chars", GOOD "a234567890123456789012345678901bc: v\n"),
	BAD("extension name with space", GOOD "foo bar: baz\n"),
	BAD("extension with empty value", GOOD "foo:\n"),
	BAD("extension value with control char", GOOD "foo: a\x01z\n"),
	BAD("extension value with inner tab", GOOD "foo: a\tb\n"),
	BAD("extension value with invalid UTF-8", GOOD "foo: \xff\xfe\n"),
};

static void check_policy(const struct policy_case *c, const stsguard_policy *p)
{
	CHECK_INT(p->mode, c->mode, c->name);
	CHECK_INT(p->max_age, c->max_age, c->name);
	CHECK_INT(p->max_age_capped, c->capped, c->name);
	if (!CHECK_INT(p->n_mx, c->n_mx, c->name))
		return;
	if (c->n_mx > 0 && !CHECK_TRUE(p->mx != NULL, c->name))
		return;
	for (size_t i = 0; i < c->n_mx && i < MAX_MX; i++)
		CHECK_STR(p->mx[i], c->mx[i], c->name);
}

/* Copies the body to an exact-size heap buffer and parses it. */
static stsguard_status parse_copy(const char *body, size_t len, stsguard_policy **out,
                                  stsguard_err *err)
{
	char *buf = malloc(len ? len : 1);
	stsguard_status st;

	if (buf == NULL)
		return STSGUARD_NOMEM;
	if (len > 0)
		memcpy(buf, body, len);
	st = stsguard_policy_parse(buf, len, out, err);
	free(buf);
	return st;
}

static void run_case(const struct policy_case *c)
{
	stsguard_policy sentinel;
	stsguard_policy *p = &sentinel;
	stsguard_err err;
	stsguard_status got;

	memset(&err, 0, sizeof(err));
	got = parse_copy(c->body, c->len, &p, &err);
	CHECK_STATUS(got, c->want, c->name);
	if (c->want == STSGUARD_OK) {
		if (got == STSGUARD_OK && CHECK_TRUE(p != NULL && p != &sentinel, c->name))
			check_policy(c, p);
	} else {
		CHECK_TRUE(p == NULL, c->name);
		CHECK_TRUE(err.msg[0] != '\0' && memchr(err.msg, '\0', sizeof(err.msg)) != NULL,
		           c->name);
	}
	if (p != &sentinel)
		stsguard_policy_free(p);

	/* err == NULL must give the same answer */
	p = &sentinel;
	got = parse_copy(c->body, c->len, &p, NULL);
	CHECK_STATUS(got, c->want, c->name);
	if (c->want != STSGUARD_OK)
		CHECK_TRUE(p == NULL, c->name);
	if (p != &sentinel)
		stsguard_policy_free(p);
}

/*
 * A valid policy padded to exactly len bytes: GOOD, then "pad: aaa..." and
 * one line end.
 */
static char *make_padded(size_t len, const char *line_end)
{
	static const char head[] = GOOD "pad: ";
	size_t hlen = sizeof(head) - 1;
	size_t tlen = strlen(line_end);
	char *buf = malloc(len);

	if (buf == NULL || len < hlen + 1 + tlen) {
		free(buf);
		return NULL;
	}
	memcpy(buf, head, hlen);
	memset(buf + hlen, 'a', len - hlen - tlen);
	memcpy(buf + len - tlen, line_end, tlen);
	return buf;
}

static unsigned run_sized(const char *name, size_t len, const char *unit, stsguard_status want)
{
	char *body = make_padded(len, unit);
	stsguard_policy *p = NULL;
	stsguard_err err;

	if (!CHECK_TRUE(body != NULL, name)) {
		free(body);
		return 1;
	}
	memset(&err, 0, sizeof(err));
	CHECK_STATUS(stsguard_policy_parse(body, len, &p, &err), want, name);
	if (want == STSGUARD_OK) {
		if (CHECK_TRUE(p != NULL, name)) {
			CHECK_INT(p->mode, STSGUARD_MODE_ENFORCE, name);
			CHECK_INT(p->n_mx, 1, name);
		}
	} else {
		CHECK_TRUE(p == NULL, name);
	}
	stsguard_policy_free(p);
	free(body);
	return 1;
}

/* Anything over the cap is too big, before any grammar question. */
static unsigned run_oversize_garbage(void)
{
	static const char name[] = "65537 bytes of garbage";
	size_t len = STSGUARD_POLICY_BODY_MAX + 1;
	char *body = malloc(len);
	stsguard_policy *p = NULL;

	if (!CHECK_TRUE(body != NULL, name))
		return 1;
	memset(body, 'x', len);
	CHECK_STATUS(stsguard_policy_parse(body, len, &p, NULL), STSGUARD_TOOBIG, name);
	CHECK_TRUE(p == NULL, name);
	stsguard_policy_free(p);
	free(body);
	return 1;
}

/* A policy with `count` mx lines "mx: hN.example". */
static unsigned run_many_mx(const char *name, size_t count, stsguard_status want)
{
	size_t cap = 64 + count * 32;
	char *body = malloc(cap);
	size_t len;
	stsguard_policy *p = NULL;

	if (body == NULL) {
		CHECK_TRUE(body != NULL, name);
		return 1;
	}
	len = (size_t)snprintf(body, cap, "%s", NO_MX);
	for (size_t i = 0; i < count; i++)
		len += (size_t)snprintf(body + len, cap - len, "mx: h%zu.example\n", i);
	CHECK_STATUS(stsguard_policy_parse(body, len, &p, NULL), want, name);
	if (want == STSGUARD_OK) {
		if (CHECK_TRUE(p != NULL, name) && CHECK_INT(p->n_mx, count, name)) {
			CHECK_STR(p->mx[0], "h0.example", name);
			char last[32];
			snprintf(last, sizeof(last), "h%zu.example", count - 1);
			CHECK_STR(p->mx[count - 1], last, name);
		}
	} else {
		CHECK_TRUE(p == NULL, name);
	}
	stsguard_policy_free(p);
	free(body);
	return 1;
}

struct json_case {
	const char *name;
	const char *body;
	const char *want;
};

static const struct json_case json_cases[] = {
	{ "json: enforce, two mx",
	  "version: STSv1\nmode: enforce\nmax_age: 86400\nmx: mx1.example.com\nmx: *.example.net\n",
	  "{\"version\":\"STSv1\",\"mode\":\"enforce\",\"max_age\":86400,"
	  "\"mx\":[\"mx1.example.com\",\"*.example.net\"]}" },
	{ "json: rfc example, CRLF",
	  "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n"
	  "mx: backupmx.example.com\r\nmax_age: 604800\r\n",
	  "{\"version\":\"STSv1\",\"mode\":\"enforce\",\"max_age\":604800,"
	  "\"mx\":[\"mail.example.com\",\"*.example.net\",\"backupmx.example.com\"]}" },
	{ "json: testing, capped, lower-cased",
	  "mx: MX.Example.ORG\nmode: testing\nmax_age: 99999999\nversion: STSv1\nfoo: bar\n",
	  "{\"version\":\"STSv1\",\"mode\":\"testing\",\"max_age\":31557600,"
	  "\"mx\":[\"mx.example.org\"]}" },
	{ "json: none without mx", "version: STSv1\nmode: none\nmax_age: 0\n",
	  "{\"version\":\"STSv1\",\"mode\":\"none\",\"max_age\":0,\"mx\":[]}" },
};

static void run_json(const struct json_case *c)
{
	stsguard_policy *p = NULL;
	char *json = NULL;

	if (!CHECK_STATUS(stsguard_policy_parse(c->body, strlen(c->body), &p, NULL), STSGUARD_OK,
	                  c->name))
		return;
	if (CHECK_STATUS(stsguard_policy_to_json(p, &json), STSGUARD_OK, c->name))
		CHECK_STR(json, c->want, c->name);
	free(json);
	stsguard_policy_free(p);
}

/* to_json of a policy built by hand, independent of the parser. */
static void run_json_handmade(void)
{
	static const char name[] = "json: hand-made policy";
	char mx0[] = "a.example";
	char mx1[] = "*.b.example";
	char *mxs[] = { mx0, mx1 };
	stsguard_policy p = { STSGUARD_MODE_TESTING, 1, false, 2, mxs };
	char *json = NULL;

	if (CHECK_STATUS(stsguard_policy_to_json(&p, &json), STSGUARD_OK, name))
		CHECK_STR(json,
		          "{\"version\":\"STSv1\",\"mode\":\"testing\",\"max_age\":1,"
		          "\"mx\":[\"a.example\",\"*.b.example\"]}",
		          name);
	free(json);
}

int main(void)
{
	size_t ncases = sizeof(cases) / sizeof(cases[0]);
	size_t njson = sizeof(json_cases) / sizeof(json_cases[0]);

	for (size_t i = 0; i < ncases; i++)
		run_case(&cases[i]);

	ncases += run_sized("body of exactly 65536 bytes", STSGUARD_POLICY_BODY_MAX, "\n",
	                    STSGUARD_OK);
	ncases += run_sized("body of 65537 bytes", STSGUARD_POLICY_BODY_MAX + 1, "\n",
	                    STSGUARD_TOOBIG);
	ncases += run_sized("body of exactly 65536 bytes, CRLF tail", STSGUARD_POLICY_BODY_MAX,
	                    "\r\n", STSGUARD_OK);
	ncases += run_sized("body of 65537 bytes, CRLF tail", STSGUARD_POLICY_BODY_MAX + 1,
	                    "\r\n", STSGUARD_TOOBIG);
	ncases += run_oversize_garbage();
	ncases += run_many_mx("256 mx lines", STSGUARD_POLICY_MX_MAX, STSGUARD_OK);
	ncases += run_many_mx("257 mx lines", STSGUARD_POLICY_MX_MAX + 1, STSGUARD_TOOBIG);

	for (size_t i = 0; i < njson; i++)
		run_json(&json_cases[i]);
	run_json_handmade();
	ncases += njson + 1;

	CHECK_STR(stsguard_mode_name(STSGUARD_MODE_ENFORCE), "enforce", "mode name enforce");
	CHECK_STR(stsguard_mode_name(STSGUARD_MODE_TESTING), "testing", "mode name testing");
	CHECK_STR(stsguard_mode_name(STSGUARD_MODE_NONE), "none", "mode name none");
	ncases += 3;

	stsguard_policy_free(NULL); /* must be a no-op */

	printf("test_policy: %zu cases\n", ncases);
	return check_summary();
}
