/*
 * test_socketmap.c - table-driven tests of the netstring framing and the
 * request split (socketmap.h).
 *
 * Expectations come from the netstring definition (D. J. Bernstein,
 * "Netstrings", 1997: "[len]":"[string]",", len without leading zeros),
 * from what Sendmail and Postfix send and accept (shared/reference/
 * sendmail-postfix.md §8: Sendmail reads the length with %9u, Postfix
 * pipelines nothing but reuses one connection) and from socketmap.h, never
 * from the code.
 *
 * Every input is copied into a heap buffer of exactly its length, so a
 * parser that reads one byte past `len` trips ASan in the asan preset.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsguard/socketmap.h"

#include "check.h"

/* A byte range from a literal; the length counts embedded NULs. */
#define B(s) (s), sizeof(s) - 1

static char *exact_copy(const char *s, size_t len)
{
	char *p = malloc(len ? len : 1);
	if (p == NULL)
		abort();
	if (len)
		memcpy(p, s, len);
	return p;
}

/* ---- netstring_next ----------------------------------------------------- */

struct ns_case {
	const char *name;
	const char *in;
	size_t len;
	size_t max;
	stsguard_status want;
	size_t want_consumed;
	const char *want_payload; /* compared over want_plen bytes */
	size_t want_plen;
};

#define CAP STSGUARD_SOCKETMAP_REQUEST_MAX

static const struct ns_case ns_cases[] = {
	/* --- complete --- */
	{"simple", B("11:hello there,"), CAP, STSGUARD_OK, 15, B("hello there")},
	{"sendmail request", B("15:sts example.com,"), CAP, STSGUARD_OK, 19, B("sts example.com")},
	{"empty payload", B("0:,"), CAP, STSGUARD_OK, 3, B("")},
	{"empty payload, cap 0", B("0:,"), 0, STSGUARD_OK, 3, B("")},
	{"payload holds ',' and ':'", B("5:a,b:c,"), CAP, STSGUARD_OK, 8, B("a,b:c")},
	{"payload holds NULs", B("3:\0\0\0,"), CAP, STSGUARD_OK, 6, B("\0\0\0")},
	{"first of two pipelined", B("3:abc,3:def,"), CAP, STSGUARD_OK, 6, B("abc")},
	{"trailing partial next", B("1:a,2"), CAP, STSGUARD_OK, 4, B("a")},
	{"length equal to cap", B("3:abc,"), 3, STSGUARD_OK, 6, B("abc")},
	/* --- incomplete: read more, nothing consumed --- */
	{"nothing", B(""), CAP, STSGUARD_NONE, 0, B("")},
	{"one digit", B("1"), CAP, STSGUARD_NONE, 0, B("")},
	{"lone zero", B("0"), CAP, STSGUARD_NONE, 0, B("")},
	{"ten digits, huge cap", B("9999999999"), SIZE_MAX, STSGUARD_NONE, 0, B("")},
	{"digits and colon", B("11:"), CAP, STSGUARD_NONE, 0, B("")},
	{"part of payload", B("11:hello"), CAP, STSGUARD_NONE, 0, B("")},
	{"payload without comma yet", B("11:hello there"), CAP, STSGUARD_NONE, 0, B("")},
	{"empty payload without comma", B("0:"), CAP, STSGUARD_NONE, 0, B("")},
	/* --- not a netstring --- */
	{"missing comma", B("11:hello thereX"), CAP, STSGUARD_INVALID, 0, B("")},
	{"one byte too long", B("1:ab,"), CAP, STSGUARD_INVALID, 0, B("")},
	{"leading zero", B("01:a,"), CAP, STSGUARD_INVALID, 0, B("")},
	{"two zeros", B("00:,"), CAP, STSGUARD_INVALID, 0, B("")},
	{"leading zero, partial", B("00"), CAP, STSGUARD_INVALID, 0, B("")},
	{"negative length", B("-1:"), CAP, STSGUARD_INVALID, 0, B("")},
	{"plus sign", B("+1:a,"), CAP, STSGUARD_INVALID, 0, B("")},
	{"no length", B(":a,"), CAP, STSGUARD_INVALID, 0, B("")},
	{"leading space", B(" 3:abc,"), CAP, STSGUARD_INVALID, 0, B("")},
	{"space before colon", B("3 :abc,"), CAP, STSGUARD_INVALID, 0, B("")},
	{"semicolon for colon", B("3;abc,"), CAP, STSGUARD_INVALID, 0, B("")},
	{"CRLF line", B("sts example.com\r\n"), CAP, STSGUARD_INVALID, 0, B("")},
	{"HTTP request", B("GET / HTTP/1.1\r\n"), CAP, STSGUARD_INVALID, 0, B("")},
	{"garbage byte", B("\xff"), CAP, STSGUARD_INVALID, 0, B("")},
	{"NUL first", B("\0"), CAP, STSGUARD_INVALID, 0, B("")},
	{"11 digits, huge cap", B("12345678901:"), SIZE_MAX, STSGUARD_INVALID, 0, B("")},
	{"11 digits, no colon yet", B("99999999999"), SIZE_MAX, STSGUARD_INVALID, 0, B("")},
	/* --- announced length over the cap: decided by the digits alone --- */
	{"1025 over 1024", B("1025:"), 1024, STSGUARD_TOOBIG, 0, B("")},
	{"1025 digits only", B("1025"), 1024, STSGUARD_TOOBIG, 0, B("")},
	{"2000: four digits show it", B("2000"), 1024, STSGUARD_TOOBIG, 0, B("")},
	{"10250: decided at 1025", B("10250"), 1024, STSGUARD_TOOBIG, 0, B("")},
	{"102 may still be small", B("102"), 1024, STSGUARD_NONE, 0, B("")},
	{"11 digits, small cap", B("12345678901:"), CAP, STSGUARD_TOOBIG, 0, B("")},
	{"1 over cap 0", B("1:a,"), 0, STSGUARD_TOOBIG, 0, B("")},
};

static void test_netstring_table(void)
{
	for (size_t i = 0; i < sizeof ns_cases / sizeof ns_cases[0]; i++) {
		const struct ns_case *c = &ns_cases[i];
		char *in = exact_copy(c->in, c->len);
		size_t consumed = 77, plen = 77;
		const char *payload = in;
		stsguard_err err = {""};

		stsguard_status st = stsguard_netstring_next(in, c->len, c->max, &consumed, &payload, &plen, &err);
		CHECK_STATUS(st, c->want, c->name);
		CHECK_INT(consumed, c->want_consumed, c->name);
		if (c->want == STSGUARD_OK) {
			CHECK_INT(plen, c->want_plen, c->name);
			CHECK_TRUE(payload >= in && payload + plen <= in + c->len, c->name);
			CHECK_TRUE(payload != NULL && memcmp(payload, c->want_payload, c->want_plen) == 0, c->name);
		} else {
			CHECK_TRUE(payload == NULL && plen == 0, c->name);
		}
		if (c->want == STSGUARD_INVALID || c->want == STSGUARD_TOOBIG)
			CHECK_TRUE(err.msg[0] != '\0', c->name);
		free(in);
	}
}

/* 1024 bytes is the request cap: accepted; 1025: refused before the payload. */
static void test_netstring_cap(void)
{
	static char buf[1100];
	size_t consumed = 0, plen = 0;
	const char *payload = NULL;

	memcpy(buf, "1024:", 5);
	memset(buf + 5, 'x', 1024);
	buf[5 + 1024] = ',';
	char *in = exact_copy(buf, 5 + 1024 + 1);
	CHECK_STATUS(stsguard_netstring_next(in, 1030, CAP, &consumed, &payload, &plen, NULL), STSGUARD_OK, "1024 bytes");
	CHECK_INT(consumed, 1030, "1024 bytes");
	CHECK_INT(plen, 1024, "1024 bytes");
	free(in);

	memcpy(buf, "1025:", 5);
	memset(buf + 5, 'x', 1025);
	buf[5 + 1025] = ',';
	in = exact_copy(buf, 5 + 1025 + 1);
	CHECK_STATUS(stsguard_netstring_next(in, 1031, CAP, &consumed, &payload, &plen, NULL), STSGUARD_TOOBIG,
	             "1025 bytes");
	CHECK_INT(consumed, 0, "1025 bytes");
	free(in);
}

/* The daemon may see a request one byte at a time: every prefix is "read more". */
static void test_netstring_bytewise(void)
{
	static const char req[] = "26:postfix-tlsrpt example.com,";
	size_t n = sizeof req - 1;

	for (size_t k = 0; k <= n; k++) {
		char *in = exact_copy(req, k);
		size_t consumed = 0, plen = 0;
		const char *payload = NULL;
		stsguard_status st = stsguard_netstring_next(in, k, CAP, &consumed, &payload, &plen, NULL);
		if (k < n) {
			CHECK_STATUS(st, STSGUARD_NONE, "prefix");
			CHECK_INT(consumed, 0, "prefix");
		} else if (CHECK_STATUS(st, STSGUARD_OK, "whole")) {
			CHECK_INT(consumed, n, "whole");
			CHECK_TRUE(plen == 26 && memcmp(payload, "postfix-tlsrpt example.com", 26) == 0, "whole");
		}
		free(in);
	}
}

/* Pipelined requests come out one after the other, in order. */
static void test_netstring_pipelined(void)
{
	static const char stream[] = "15:sts example.com,19:postfix example.org,0:,7:prefetc";
	static const char *const want[] = {"sts example.com", "postfix example.org", ""};
	char *in = exact_copy(stream, sizeof stream - 1);
	size_t pos = 0, got = 0;

	for (;;) {
		size_t consumed = 0, plen = 0;
		const char *payload = NULL;
		stsguard_status st = stsguard_netstring_next(in + pos, sizeof stream - 1 - pos, CAP, &consumed, &payload,
		                                             &plen, NULL);
		if (st != STSGUARD_OK) {
			CHECK_STATUS(st, STSGUARD_NONE, "pipelined tail is incomplete");
			break;
		}
		if (!CHECK_TRUE(got < 3, "no more than three"))
			break;
		CHECK_INT(plen, strlen(want[got]), want[got]);
		CHECK_TRUE(memcmp(payload, want[got], plen) == 0, want[got]);
		pos += consumed;
		got++;
	}
	CHECK_INT(got, 3, "three pipelined requests");
	CHECK_INT(pos, 45, "consumed up to the partial fourth");
	free(in);
}

static void test_netstring_badarg(void)
{
	size_t consumed, plen;
	const char *payload;

	CHECK_STATUS(stsguard_netstring_next(NULL, 1, CAP, &consumed, &payload, &plen, NULL), STSGUARD_BADARG, "NULL buf");
	CHECK_STATUS(stsguard_netstring_next(NULL, 0, CAP, &consumed, &payload, &plen, NULL), STSGUARD_NONE,
	             "NULL empty buf");
	CHECK_STATUS(stsguard_netstring_next("0:,", 3, CAP, NULL, &payload, &plen, NULL), STSGUARD_BADARG, "NULL consumed");
}

/* ---- netstring_encode --------------------------------------------------- */

static void test_netstring_encode(void)
{
	static const struct {
		const char *name;
		const char *payload;
		size_t len;
		size_t cap;
		stsguard_status want;
		const char *want_out;
	} cases[] = {
		{"reply", B("OK secure match=mx.example.com servername=hostname"), 100, STSGUARD_OK,
		 "50:OK secure match=mx.example.com servername=hostname,"},
		{"NOTFOUND with its space", B("NOTFOUND "), 100, STSGUARD_OK, "9:NOTFOUND ,"},
		{"empty", B(""), 100, STSGUARD_OK, "0:,"},
		{"exact fit, no room for NUL", B("abc"), 6, STSGUARD_OK, "3:abc,"},
		{"one byte short", B("abc"), 5, STSGUARD_TOOBIG, ""},
		{"no room for the header", B("abc"), 1, STSGUARD_TOOBIG, ""},
		{"ten-byte payload", B("0123456789"), 14, STSGUARD_OK, "10:0123456789,"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[128];
		size_t outlen = 99;
		memset(out, '#', sizeof out);
		stsguard_status st = stsguard_netstring_encode(cases[i].payload, cases[i].len, out, cases[i].cap, &outlen);
		CHECK_STATUS(st, cases[i].want, cases[i].name);
		if (st == STSGUARD_OK) {
			CHECK_INT(outlen, strlen(cases[i].want_out), cases[i].name);
			CHECK_TRUE(memcmp(out, cases[i].want_out, outlen) == 0, cases[i].name);
			CHECK_TRUE(outlen < cases[i].cap ? out[outlen] == '\0' : out[outlen] == '#', cases[i].name);
		} else {
			CHECK_INT(outlen, 0, cases[i].name);
		}
	}
	size_t outlen;
	CHECK_STATUS(stsguard_netstring_encode(NULL, 3, (char[8]){0}, 8, &outlen), STSGUARD_BADARG, "NULL payload");
	CHECK_STATUS(stsguard_netstring_encode("a", 1, (char[8]){0}, 8, NULL), STSGUARD_BADARG, "NULL outlen");

	/* Round trip, NUL and comma bytes included. */
	static const char odd[] = "a,\0:b";
	char out[32];
	size_t consumed = 0, plen = 0;
	const char *payload = NULL;
	CHECK_STATUS(stsguard_netstring_encode(odd, sizeof odd - 1, out, sizeof out, &outlen), STSGUARD_OK, "round trip");
	CHECK_STATUS(stsguard_netstring_next(out, outlen, CAP, &consumed, &payload, &plen, NULL), STSGUARD_OK,
	             "round trip");
	CHECK_TRUE(consumed == outlen && plen == sizeof odd - 1 && memcmp(payload, odd, plen) == 0, "round trip");
}

/* ---- socketmap_split ---------------------------------------------------- */

struct split_case {
	const char *name;
	const char *in;
	size_t len;
	stsguard_status want;
	const char *want_map;
	const char *want_key;
};

#define K255 \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define K300 K255 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define M32 "abcdefghijklmnopqrstuvwxyz012345"

static const struct split_case split_cases[] = {
	{"sendmail", B("sts example.com"), STSGUARD_OK, "sts", "example.com"},
	{"postfix next-hop", B("postfix [mx.example.com]:587"), STSGUARD_OK, "postfix", "[mx.example.com]:587"},
	{"parent probe", B("postfix .example.com"), STSGUARD_OK, "postfix", ".example.com"},
	{"upper-case map name folded, key kept", B("POSTFIX-TLSRPT Example.COM"), STSGUARD_OK, "postfix-tlsrpt",
	 "Example.COM"},
	{"underscore in map name", B("stsguard_rpt x"), STSGUARD_OK, "stsguard_rpt", "x"},
	{"digits in map name", B("v2 k"), STSGUARD_OK, "v2", "k"},
	{"admin map", B("cache-purge *"), STSGUARD_OK, "cache-purge", "*"},
	{"key of one byte", B("sts a"), STSGUARD_OK, "sts", "a"},
	{"255-byte key", B("sts " K255), STSGUARD_OK, "sts", K255},
	{"32-char map name", B(M32 " k"), STSGUARD_OK, M32, "k"},
	{"33-char map name", B(M32 "6 k"), STSGUARD_INVALID, "", ""},
	{"256-byte key", B("sts " K255 "a"), STSGUARD_INVALID, "", ""},
	{"300-byte key", B("sts " K300), STSGUARD_INVALID, "", ""},
	{"empty payload", B(""), STSGUARD_INVALID, "", ""},
	{"no space", B("sts"), STSGUARD_INVALID, "", ""},
	{"empty key", B("sts "), STSGUARD_INVALID, "", ""},
	{"empty map name", B(" example.com"), STSGUARD_INVALID, "", ""},
	{"two spaces", B("sts  example.com"), STSGUARD_INVALID, "", ""},
	{"trailing space", B("sts example.com "), STSGUARD_INVALID, "", ""},
	{"second word", B("sts a b"), STSGUARD_INVALID, "", ""},
	{"NUL in key", B("sts exa\0mple.com"), STSGUARD_INVALID, "", ""},
	{"NUL in map name", B("s\0s example.com"), STSGUARD_INVALID, "", ""},
	{"UTF-8 in key", B("sts ex\xc3\xa4mple.com"), STSGUARD_INVALID, "", ""},
	{"Latin-1 in map name", B("st\xe4 x"), STSGUARD_INVALID, "", ""},
	{"tab separator", B("sts\texample.com"), STSGUARD_INVALID, "", ""},
	{"tab in key", B("sts exa\tmple.com"), STSGUARD_INVALID, "", ""},
	{"CR LF at end", B("sts example.com\r\n"), STSGUARD_INVALID, "", ""},
	{"DEL in key", B("sts exa\x7fmple"), STSGUARD_INVALID, "", ""},
	{"dot in map name", B("s.t x"), STSGUARD_INVALID, "", ""},
	{"colon in map name", B("sts: x"), STSGUARD_INVALID, "", ""},
};

static void test_split(void)
{
	for (size_t i = 0; i < sizeof split_cases / sizeof split_cases[0]; i++) {
		const struct split_case *c = &split_cases[i];
		char *in = exact_copy(c->in, c->len);
		char map[STSGUARD_MAPNAME_MAX + 1];
		char key[STSGUARD_MAPKEY_MAX + 1];
		stsguard_err err = {""};

		memset(map, 'z', sizeof map);
		memset(key, 'z', sizeof key);
		stsguard_status st = stsguard_socketmap_split(in, c->len, map, key, &err);
		CHECK_STATUS(st, c->want, c->name);
		CHECK_STR(map, c->want_map, c->name);
		CHECK_STR(key, c->want_key, c->name);
		if (c->want != STSGUARD_OK)
			CHECK_TRUE(err.msg[0] != '\0', c->name);
		free(in);
	}
	char map[STSGUARD_MAPNAME_MAX + 1], key[STSGUARD_MAPKEY_MAX + 1];
	CHECK_STATUS(stsguard_socketmap_split(NULL, 3, map, key, NULL), STSGUARD_BADARG, "NULL payload");
	CHECK_STATUS(stsguard_socketmap_split("sts a", 5, NULL, key, NULL), STSGUARD_BADARG, "NULL map");
}

int main(void)
{
	test_netstring_table();
	test_netstring_cap();
	test_netstring_bytewise();
	test_netstring_pipelined();
	test_netstring_badarg();
	test_netstring_encode();
	test_split();
	return check_summary();
}
