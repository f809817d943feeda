/*
 * test_mx_pattern.c - table-driven tests of stsguard_mx_pattern_check() and
 * stsguard_mx_pattern_match().
 *
 * Expectations come from RFC 8461 §3.2 (sts-policy-mx-value = ["*."] Domain,
 * A-labels only), RFC 5321 §4.1.2 (Domain: LDH sub-domains, each starting and
 * ending with a letter or digit), RFC 1035 (63-octet labels, 253-character
 * names), RFC 3696 §2 (no all-numeric TLD, so such a value is an IP literal),
 * RFC 8461 §4.1 ("*" is exactly one whole left-most label) and the contract in
 * mx_pattern.h, never from the code.
 *
 * check() input is copied to an exact-size heap buffer so that reading past
 * `len` trips ASan.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "stsguard/mx_pattern.h"

#include "check.h"

#define L10 "aaaaaaaaaa"
#define L60 L10 L10 L10 L10 L10 L10
#define L61 L60 "a"
#define L62 L60 "aa"
#define L63 L60 "aaa"
#define L64 L60 "aaaa"
#define NAME253 L63 "." L63 "." L63 "." L61
#define NAME254 L63 "." L63 "." L63 "." L62

/* A pattern from a string literal; the length counts embedded NULs. */
#define P(s) (s), sizeof(s) - 1

struct check_case {
	const char *name;
	const char *pattern;
	size_t len;
	stsguard_status want;
};

static const struct check_case check_cases[] = {
	/* --- valid values --- */
	{ "plain host name", P("mx.example.com"), STSGUARD_OK },
	{ "wildcard", P("*.example.com"), STSGUARD_OK },
	{ "A-label", P("xn--bcher-kva.example"), STSGUARD_OK },
	{ "A-label below a host", P("mail.xn--bcher-kva.example"), STSGUARD_OK },
	{ "wildcard over an A-label", P("*.xn--bcher-kva.example"), STSGUARD_OK },
	{ "upper case is still valid", P("MX.Example.COM"), STSGUARD_OK },
	{ "single label", P("localhost"), STSGUARD_OK },
	{ "wildcard over a TLD", P("*.com"), STSGUARD_OK },
	{ "shortest two-label name", P("a.b"), STSGUARD_OK },
	{ "numeric first label", P("123.example.com"), STSGUARD_OK },
	{ "label starting with a digit", P("1mx.example.com"), STSGUARD_OK },
	{ "last label with a digit, not all-numeric", P("mx.example.c0m"), STSGUARD_OK },
	{ "double hyphen inside a label", P("a--b.example.com"), STSGUARD_OK },
	{ "label of 63 octets", P(L63 ".example.com"), STSGUARD_OK },
	{ "name of 253 characters", P(NAME253), STSGUARD_OK },
	{ "len stops before trailing bytes", "mx.example.com.", 14, STSGUARD_OK },
	{ "len stops before a wildcard tail", "*.example.com..", 13, STSGUARD_OK },

	/* --- IP literals --- */
	{ "IPv4 literal", P("1.2.3.4"), STSGUARD_INVALID },
	{ "bracketed IPv4 literal", P("[1.2.3.4]"), STSGUARD_INVALID },
	{ "IPv6 literal", P("2001:db8::1"), STSGUARD_INVALID },
	{ "bracketed IPv6 literal", P("[IPv6:2001:db8::1]"), STSGUARD_INVALID },
	{ "all-numeric last label", P("mx.123"), STSGUARD_INVALID },
	{ "wildcard over an IP", P("*.1.2.3"), STSGUARD_INVALID },

	/* --- wildcards other than one leading "*." --- */
	{ "star alone", P("*"), STSGUARD_INVALID },
	{ "star dot alone", P("*."), STSGUARD_INVALID },
	{ "two wildcard labels", P("*.*.x.com"), STSGUARD_INVALID },
	{ "double star", P("**.x.com"), STSGUARD_INVALID },
	{ "star glued to a label", P("*x.com"), STSGUARD_INVALID },
	{ "star at the end of a label", P("x*.example.com"), STSGUARD_INVALID },
	{ "star in the middle", P("mx.*.example.com"), STSGUARD_INVALID },
	{ "star as last label", P("example.*"), STSGUARD_INVALID },

	/* --- dots and empty labels --- */
	{ "empty value", P(""), STSGUARD_INVALID },
	{ "leading dot", P(".x.com"), STSGUARD_INVALID },
	{ "trailing dot", P("mx.example.com."), STSGUARD_INVALID },
	{ "wildcard with trailing dot", P("*.example.com."), STSGUARD_INVALID },
	{ "empty label", P("mx..example.com"), STSGUARD_INVALID },
	{ "dot alone", P("."), STSGUARD_INVALID },
	{ "star then empty label", P("*..example.com"), STSGUARD_INVALID },

	/* --- LDH rule and lengths --- */
	{ "label with leading hyphen", P("-mx.example.com"), STSGUARD_INVALID },
	{ "label with trailing hyphen", P("mx-.example.com"), STSGUARD_INVALID },
	{ "middle label with leading hyphen", P("mx.-example.com"), STSGUARD_INVALID },
	{ "middle label with trailing hyphen", P("mx.example-.com"), STSGUARD_INVALID },
	{ "last label with trailing hyphen", P("mx.example.com-"), STSGUARD_INVALID },
	{ "label that is one hyphen", P("mx.-.com"), STSGUARD_INVALID },
	{ "label of 64 octets", P(L64 ".example.com"), STSGUARD_INVALID },
	{ "last label of 64 octets", P("mx." L64), STSGUARD_INVALID },
	{ "name of 254 characters", P(NAME254), STSGUARD_INVALID },
	{ "U-label (UTF-8 bytes)", P("b\xc3\xbc" "cher.example"), STSGUARD_INVALID },
	{ "Latin-1 byte", P("b\xfc" "cher.example"), STSGUARD_INVALID },
	{ "underscore", P("mx_1.example.com"), STSGUARD_INVALID },
	{ "inner space", P("mx .example.com"), STSGUARD_INVALID },
	{ "leading space", P(" mx.example.com"), STSGUARD_INVALID },
	{ "trailing space", P("mx.example.com "), STSGUARD_INVALID },
	{ "trailing newline", P("mx.example.com\n"), STSGUARD_INVALID },
	{ "trailing NUL inside len", P("mx.example.com\0"), STSGUARD_INVALID },
	{ "NUL in the middle", P("mx\0.example.com"), STSGUARD_INVALID },
	{ "port suffix", P("mx.example.com:25"), STSGUARD_INVALID },
	{ "slash", P("mx/example.com"), STSGUARD_INVALID },
	{ "at sign", P("postmaster@example.com"), STSGUARD_INVALID },
};

struct match_case {
	const char *name;
	const char *pattern;
	const char *host;
	bool want;
};

static const struct match_case match_cases[] = {
	/* --- exact patterns --- */
	{ "exact match", "mx.example.com", "mx.example.com", true },
	{ "exact, host upper case", "mx.example.com", "MX.EXAMPLE.COM", true },
	{ "exact, pattern mixed case", "MX.Example.com", "mx.example.COM", true },
	{ "exact, host trailing dot", "mx.example.com", "mx.example.com.", true },
	{ "exact, two trailing dots", "mx.example.com", "mx.example.com..", false },
	{ "exact, other host", "mx.example.com", "mx2.example.com", false },
	{ "exact, parent", "mx.example.com", "example.com", false },
	{ "exact, child", "mx.example.com", "a.mx.example.com", false },
	{ "exact, prefix of host", "mx.example.com", "mx.example.com.evil", false },
	{ "exact, host is prefix", "mx.example.com", "mx.example.co", false },
	{ "exact, suffix only", "example.com", "badexample.com", false },
	{ "exact, host with trailing space", "mx.example.com", "mx.example.com ", false },
	{ "exact, empty host", "mx.example.com", "", false },
	{ "exact, single-label", "localhost", "LOCALHOST", true },

	/* --- "*." patterns: exactly one whole left-most label --- */
	{ "wildcard, one label", "*.example.com", "mx.example.com", true },
	{ "wildcard, upper-case host, trailing dot", "*.example.com", "MX.EXAMPLE.COM.", true },
	{ "wildcard, mixed-case pattern", "*.Example.COM", "mx.example.com", true },
	{ "wildcard, one-char label", "*.example.com", "a.example.com", true },
	{ "wildcard, A-label host", "*.example.com", "xn--bcher-kva.example.com", true },
	{ "wildcard, 63-octet label", "*.example.com", L63 ".example.com", true },
	{ "wildcard over TLD", "*.com", "example.com", true },
	{ "wildcard, bare parent", "*.example.com", "example.com", false },
	{ "wildcard, parent with trailing dot", "*.example.com", "example.com.", false },
	{ "wildcard, two labels", "*.example.com", "a.b.example.com", false },
	{ "wildcard, two labels, trailing dot", "*.example.com", "a.b.example.com.", false },
	{ "wildcard, empty label", "*.example.com", ".example.com", false },
	{ "wildcard, host is the pattern", "*.example.com", "*.example.com", false },
	{ "wildcard, star in host label", "*.example.com", "a*.example.com", false },
	{ "wildcard, no dot before suffix", "*.example.com", "mxexample.com", false },
	{ "wildcard, suffix inside a label", "*.example.com", "mx.notexample.com", false },
	{ "wildcard, suffix continues", "*.example.com", "mx.example.com.evil", false },
	{ "wildcard, shorter suffix", "*.example.com", "mx.example.co", false },
	{ "wildcard, host label leading hyphen", "*.example.com", "-mx.example.com", false },
	{ "wildcard, host label trailing hyphen", "*.example.com", "mx-.example.com", false },
	{ "wildcard, host label with underscore", "*.example.com", "mx_1.example.com", false },
	{ "wildcard, host U-label", "*.example.com", "m\xc3\xbc.example.com", false },
	{ "wildcard, host label of 64 octets", "*.example.com", L64 ".example.com", false },
	{ "wildcard, host with inner space", "*.example.com", "m x.example.com", false },

	/* --- a leading "." is not a wildcard (chasquid) --- */
	{ "dot pattern vs child", ".aa.b.cc.com", "x.aa.b.cc.com", false },
	{ "dot pattern vs bare name", ".aa.b.cc.com", "aa.b.cc.com", false },
	{ "dot pattern vs itself", ".aa.b.cc.com", ".aa.b.cc.com", false },

	/* --- invalid host names never match --- */
	{ "empty label in host", "mx..example.com", "mx..example.com", false },
	{ "host is a dot", "*.example.com", ".", false },
	{ "empty pattern and host", "", "", false },
	{ "host of 253 characters", NAME253, NAME253, true },
	{ "host of 253 characters plus dot", NAME253, NAME253 ".", true },
	{ "host of 254 characters", NAME254, NAME254, false },
};

static void run_check(const struct check_case *c)
{
	char *buf = malloc(c->len ? c->len : 1);
	stsguard_err err;

	if (!CHECK_TRUE(buf != NULL, c->name))
		return;
	if (c->len > 0)
		memcpy(buf, c->pattern, c->len);
	memset(&err, 0, sizeof(err));
	CHECK_STATUS(stsguard_mx_pattern_check(buf, c->len, &err), c->want, c->name);
	if (c->want == STSGUARD_INVALID)
		CHECK_TRUE(err.msg[0] != '\0' && memchr(err.msg, '\0', sizeof(err.msg)) != NULL,
		           c->name);
	CHECK_STATUS(stsguard_mx_pattern_check(buf, c->len, NULL), c->want, c->name);
	free(buf);
}

static void run_match(const struct match_case *c)
{
	bool got = stsguard_mx_pattern_match(c->pattern, c->host);

	if (!CHECK_INT(got, c->want, c->name))
		fprintf(stderr, "    pattern \"%s\", host \"%s\"\n", c->pattern, c->host);
}

int main(void)
{
	size_t n_check = sizeof(check_cases) / sizeof(check_cases[0]);
	size_t n_match = sizeof(match_cases) / sizeof(match_cases[0]);

	for (size_t i = 0; i < n_check; i++)
		run_check(&check_cases[i]);
	for (size_t i = 0; i < n_match; i++)
		run_match(&match_cases[i]);
	printf("test_mx_pattern: %zu cases\n", n_check + n_match);
	return check_summary();
}
