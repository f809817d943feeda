/*
 * test_maps.c - map names, request keys and the golden replies of every map.
 *
 * Expectations come from the contract in maps.h, docs/PROTOCOL.md and the
 * MTA facts in shared/reference/sendmail-postfix.md (§3 Sendmail's exact
 * grammar, §9 Postfix 3.7's attribute set and ".parent" probes, §10 the
 * 3.10 TLSRPT attributes), never from the code.
 *
 * The reply of every map for every hand-built discovery below is kept as a
 * file, tests/golden/maps/<case>.<map>.txt (no trailing newline), so the
 * wire replies can be reviewed as they are; the files are found next to
 * this source through __FILE__. Discoveries are built by parsing real
 * policy bodies with stsguard_policy_parse(), so the patterns are what
 * discovery would really hand over (lower-cased, validated).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stsguard/discover.h"
#include "stsguard/maps.h"
#include "stsguard/policy.h"
#include "stsguard/socketmap.h"

#include "check.h"

#define NOW INT64_C(1700000000)

/* ---- map names ---------------------------------------------------------- */

static void test_map_names(void)
{
	static const struct {
		const char *name;
		stsguard_map want;
	} cases[] = {
		{"sts", STSGUARD_MAP_STS},
		{"postfix", STSGUARD_MAP_POSTFIX},
		{"postfix-tlsrpt", STSGUARD_MAP_POSTFIX_TLSRPT},
		{"policy", STSGUARD_MAP_POLICY},
		{"prefetch", STSGUARD_MAP_PREFETCH},
		{"routes", STSGUARD_MAP_ROUTES},
		{"STS", STSGUARD_MAP_UNKNOWN}, /* split() folds case; by_name is exact */
		{"postfix_tlsrpt", STSGUARD_MAP_UNKNOWN},
		{"stats", STSGUARD_MAP_UNKNOWN}, /* admin maps belong to the daemon */
		{"", STSGUARD_MAP_UNKNOWN},
		{"sts ", STSGUARD_MAP_UNKNOWN},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		stsguard_map got = stsguard_map_by_name(cases[i].name);
		CHECK_INT(got, cases[i].want, cases[i].name);
		if (cases[i].want != STSGUARD_MAP_UNKNOWN)
			CHECK_STR(stsguard_map_name(got), cases[i].name, cases[i].name);
	}
	CHECK_INT(stsguard_map_by_name(NULL), STSGUARD_MAP_UNKNOWN, "NULL name");
	CHECK_STR(stsguard_map_name(STSGUARD_MAP_UNKNOWN), "unknown", "name of UNKNOWN");
	CHECK_STR(stsguard_map_name(STSGUARD_MAP_COUNT_), "unknown", "name of COUNT_");
}

/* ---- request keys ------------------------------------------------------- */

struct key_case {
	const char *name;
	const char *key;
	stsguard_status want;
	const char *want_domain; /* "" unless want is STSGUARD_OK */
};

#define L63 "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyza"
#define L64 L63 "b"
#define L61 "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxy"
#define L62 L61 "z"

static const struct key_case key_cases[] = {
	/* --- domains --- */
	{"plain domain", "example.com", STSGUARD_OK, "example.com"},
	{"upper case and trailing dot", "Example.COM.", STSGUARD_OK, "example.com"},
	{"port suffix", "example.com:25", STSGUARD_OK, "example.com"},
	{"port after trailing dot", "EXAMPLE.com.:587", STSGUARD_OK, "example.com"},
	{"five-digit port", "example.com:65535", STSGUARD_OK, "example.com"},
	{"A-label", "xn--exmple-cua.com", STSGUARD_OK, "xn--exmple-cua.com"},
	{"single label", "localhost", STSGUARD_OK, "localhost"},
	{"63-char label", L63 ".example", STSGUARD_OK, L63 ".example"},
	{"253 characters", L63 "." L63 "." L63 "." L61, STSGUARD_OK, L63 "." L63 "." L63 "." L61},
	{"253 characters plus trailing dot", L63 "." L63 "." L63 "." L61 ".", STSGUARD_OK,
	 L63 "." L63 "." L63 "." L61},
	/* --- no policy, no lookup: NONE --- */
	{"Postfix parent probe", ".parent", STSGUARD_NONE, ""},
	{"parent probe with dots", ".example.com", STSGUARD_NONE, ""},
	{"lone dot", ".", STSGUARD_NONE, ""},
	{"[IPv4]", "[1.2.3.4]", STSGUARD_NONE, ""},
	{"[IPv4]:port", "[192.0.2.1]:25", STSGUARD_NONE, ""},
	{"[host]:port", "[mx.example.com]:587", STSGUARD_NONE, ""},
	{"[host]", "[MX.Example.com]", STSGUARD_NONE, ""},
	{"[IPv6:...]", "[IPv6:2001:db8::1]", STSGUARD_NONE, ""},
	{"bare IPv4", "1.2.3.4", STSGUARD_NONE, ""},
	{"bare IPv4 with port", "1.2.3.4:25", STSGUARD_NONE, ""},
	{"bare IPv4 with trailing dot", "192.0.2.1.", STSGUARD_NONE, ""},
	{"IPv6 loopback", "::1", STSGUARD_NONE, ""},
	{"IPv6 address", "2001:DB8::25", STSGUARD_NONE, ""},
	{"IPv4-mapped IPv6", "::ffff:192.0.2.1", STSGUARD_NONE, ""},
	/* --- not a domain: INVALID --- */
	{"empty key", "", STSGUARD_INVALID, ""},
	{"64-char label", L64 ".example", STSGUARD_INVALID, ""},
	{"254 characters", L63 "." L63 "." L63 "." L62, STSGUARD_INVALID, ""},
	{"two trailing dots", "example.com..", STSGUARD_INVALID, ""},
	{"empty label", "example..com", STSGUARD_INVALID, ""},
	{"leading hyphen", "-example.com", STSGUARD_INVALID, ""},
	{"underscore", "exa_mple.com", STSGUARD_INVALID, ""},
	{"wildcard", "*.example.com", STSGUARD_INVALID, ""},
	{"U-label", "ex\xc3\xa4mple.com", STSGUARD_INVALID, ""},
	{"space", "exa mple.com", STSGUARD_INVALID, ""},
	{"tab", "exa\tmple.com", STSGUARD_INVALID, ""},
	{"all-numeric last label", "1.2.3", STSGUARD_INVALID, ""},
	{"numeric TLD", "example.123", STSGUARD_INVALID, ""},
	{"port only", ":25", STSGUARD_INVALID, ""},
	{"empty port", "example.com:", STSGUARD_INVALID, ""},
	{"port not a number", "example.com:smtp", STSGUARD_INVALID, ""},
	{"six-digit port", "example.com:123456", STSGUARD_INVALID, ""},
	{"not IPv6", "a:b:c", STSGUARD_INVALID, ""},
	{"IPv6 with zone", "fe80::1%eth0", STSGUARD_INVALID, ""},
	{"unclosed bracket", "[mx.example.com", STSGUARD_INVALID, ""},
	{"empty brackets", "[]", STSGUARD_INVALID, ""},
	{"junk after bracket", "[mx.example.com]x", STSGUARD_INVALID, ""},
	{"empty port after bracket", "[mx.example.com]:", STSGUARD_INVALID, ""},
	{"bad port after bracket", "[mx.example.com]:2x", STSGUARD_INVALID, ""},
	{"five numeric labels", "1.2.3.4.5", STSGUARD_INVALID, ""},
	{"digits then letters is a name", "1.2.3.4x", STSGUARD_OK, "1.2.3.4x"},
	{"mailbox, not a domain", "user@example.com", STSGUARD_INVALID, ""},
};

static void test_key_domain(void)
{
	char domain[STSGUARD_DOMAIN_MAX + 1];
	stsguard_err err;

	for (size_t i = 0; i < sizeof key_cases / sizeof key_cases[0]; i++) {
		const struct key_case *c = &key_cases[i];
		/* Every map reads keys the same way. */
		for (int m = 0; m < STSGUARD_MAP_COUNT_; m++) {
			memset(domain, 'x', sizeof domain);
			err.msg[0] = '\0';
			stsguard_status st = stsguard_map_key_domain((stsguard_map)m, c->key, domain, &err);
			CHECK_STATUS(st, c->want, c->name);
			CHECK_STR(domain, c->want_domain, c->name);
			if (c->want != STSGUARD_OK)
				CHECK_TRUE(err.msg[0] != '\0', c->name);
		}
	}

	/* A key longer than a socketmap key can be (255 bytes) is refused, not read on. */
	char longkey[300];
	memset(longkey, 'a', sizeof longkey - 1);
	longkey[sizeof longkey - 1] = '\0';
	CHECK_STATUS(stsguard_map_key_domain(STSGUARD_MAP_POSTFIX, longkey, domain, NULL), STSGUARD_INVALID, "300-byte key");
	CHECK_STATUS(stsguard_map_key_domain(STSGUARD_MAP_UNKNOWN, "example.com", domain, NULL), STSGUARD_BADARG,
	             "unknown map");
	CHECK_STATUS(stsguard_map_key_domain(STSGUARD_MAP_STS, NULL, domain, NULL), STSGUARD_BADARG, "NULL key");
	CHECK_STATUS(stsguard_map_key_domain(STSGUARD_MAP_STS, "example.com", NULL, NULL), STSGUARD_BADARG,
	             "NULL domain");
}

/* ---- fixtures ----------------------------------------------------------- */

static const char body_enforce[] = "version: STSv1\nmode: enforce\nmx: mx1.example.com\n"
                                   "mx: *.mail.example.com\nmax_age: 604800\n";
static const char body_testing[] = "version: STSv1\r\nmode: testing\r\nmx: mx.example.net\r\n"
                                   "mx: *.Backup.example.net\r\nmax_age: 86400\r\n";
static const char body_none[] = "version: STSv1\nmode: none\nmax_age: 86400\n";

static stsguard_policy *p_enforce, *p_testing, *p_none;
static stsguard_tlsrpt_record rpt = {0, NULL};

static stsguard_policy *parse(const char *body)
{
	stsguard_policy *p = NULL;
	stsguard_err err;
	if (stsguard_policy_parse(body, strlen(body), &p, &err) != STSGUARD_OK) {
		fprintf(stderr, "fixture policy does not parse: %s\n", err.msg);
		exit(1);
	}
	return p;
}

static void add_host(stsguard_discovery *d, const char *host, uint16_t pref, bool allowed, stsguard_dane_state dane)
{
	struct stsguard_discovered_mx *h = &d->hosts[d->n_hosts++];
	snprintf(h->host, sizeof h->host, "%s", host);
	h->preference = pref;
	h->allowed = allowed;
	h->dane = dane;
}

static void base(stsguard_discovery *d, const char *domain, stsguard_verdict v, stsguard_policy *p, const char *id,
                 int64_t expires, int64_t recheck)
{
	memset(d, 0, sizeof *d);
	snprintf(d->domain, sizeof d->domain, "%s", domain);
	d->verdict = v;
	d->policy = p;
	snprintf(d->policy_id, sizeof d->policy_id, "%s", id);
	d->expires_at = expires;
	d->recheck_at = recheck;
}

/* An enforce policy fetched 800 s ago: max_age 604800 leaves 604000 s. */
static void enforce_like(stsguard_discovery *d, stsguard_verdict v, stsguard_dane_state d1, stsguard_dane_state d2,
                         int64_t recheck)
{
	base(d, "example.com", v, p_enforce, "20240101T000000", NOW + 604000, recheck);
	d->tlsrpt = &rpt;
	add_host(d, "mx1.example.com", 10, true, d1);
	add_host(d, "a.mail.example.com", 20, true, d2);
}

struct golden_case {
	const char *name;
	bool null_discovery;
	stsguard_tempfail_answer answer;
	void (*build)(stsguard_discovery *d);
};

static void build_enforce(stsguard_discovery *d)
{
	enforce_like(d, STSGUARD_VERDICT_ENFORCE, STSGUARD_DANE_ABSENT, STSGUARD_DANE_ABSENT, NOW + 3600);
}

static void build_testing(stsguard_discovery *d)
{
	base(d, "example.net", STSGUARD_VERDICT_TESTING, p_testing, "abc123", NOW + 86400, NOW + 3600);
	add_host(d, "mx.example.net", 10, true, STSGUARD_DANE_ABSENT);
	add_host(d, "other.example.org", 20, false, STSGUARD_DANE_ABSENT);
}

static void build_none(stsguard_discovery *d)
{
	base(d, "example.org", STSGUARD_VERDICT_NONE, p_none, "n1", NOW + 86400, NOW + 3600);
}

static void build_no_policy(stsguard_discovery *d)
{
	base(d, "nopolicy.example", STSGUARD_VERDICT_NO_POLICY, NULL, "", 0, NOW + 1800);
}

/* A valid TXT record but the policy host's certificate has expired (RFC 8461 §5: no policy). */
static void build_fetch_failure(stsguard_discovery *d)
{
	base(d, "broken.example", STSGUARD_VERDICT_NO_POLICY, NULL, "", 0, NOW + 300);
	d->error = STSGUARD_REASON_CERT_EXPIRED;
	snprintf(d->error_detail, sizeof d->error_detail, "certificate has expired");
	d->tlsrpt = &rpt;
}

/* The _mta-sts TXT lookup timed out and nothing is cached. */
static void build_tempfail_nopolicy(stsguard_discovery *d)
{
	base(d, "slow.example", STSGUARD_VERDICT_TEMPFAIL, NULL, "", 0, NOW + 60);
	d->error = STSGUARD_REASON_TXT_TEMPFAIL;
}

/* verdict.h: enforce with a TLSA lookup that failed must not turn into plain STS. */
static void build_tempfail_enforce(stsguard_discovery *d)
{
	enforce_like(d, STSGUARD_VERDICT_TEMPFAIL, STSGUARD_DANE_ABSENT, STSGUARD_DANE_UNKNOWN, NOW + 60);
}

static void build_dane_all(stsguard_discovery *d)
{
	enforce_like(d, STSGUARD_VERDICT_DANE, STSGUARD_DANE_PRESENT, STSGUARD_DANE_PRESENT, NOW + 3600);
}

static void build_dane_partial(stsguard_discovery *d)
{
	enforce_like(d, STSGUARD_VERDICT_DANE, STSGUARD_DANE_PRESENT, STSGUARD_DANE_ABSENT, NOW + 3600);
}

static void build_dane_testing(stsguard_discovery *d)
{
	base(d, "example.net", STSGUARD_VERDICT_DANE, p_testing, "abc123", NOW + 86400, NOW + 3600);
	add_host(d, "mx.example.net", 10, true, STSGUARD_DANE_PRESENT);
}

static const struct golden_case golden_cases[] = {
	{"enforce", false, STSGUARD_TEMPFAIL_AUTO, build_enforce},
	{"testing", false, STSGUARD_TEMPFAIL_AUTO, build_testing},
	{"none", false, STSGUARD_TEMPFAIL_AUTO, build_none},
	{"no-policy", false, STSGUARD_TEMPFAIL_AUTO, build_no_policy},
	{"fetch-failure", false, STSGUARD_TEMPFAIL_AUTO, build_fetch_failure},
	{"tempfail-nopolicy-auto", false, STSGUARD_TEMPFAIL_AUTO, build_tempfail_nopolicy},
	{"tempfail-nopolicy-temp", false, STSGUARD_TEMPFAIL_TEMP, build_tempfail_nopolicy},
	{"tempfail-nopolicy-notfound", false, STSGUARD_TEMPFAIL_NOTFOUND, build_tempfail_nopolicy},
	{"tempfail-enforce-auto", false, STSGUARD_TEMPFAIL_AUTO, build_tempfail_enforce},
	{"tempfail-enforce-temp", false, STSGUARD_TEMPFAIL_TEMP, build_tempfail_enforce},
	{"tempfail-enforce-notfound", false, STSGUARD_TEMPFAIL_NOTFOUND, build_tempfail_enforce},
	{"dane-all", false, STSGUARD_TEMPFAIL_AUTO, build_dane_all},
	{"dane-partial", false, STSGUARD_TEMPFAIL_AUTO, build_dane_partial},
	{"dane-testing", false, STSGUARD_TEMPFAIL_AUTO, build_dane_testing},
	{"null", true, STSGUARD_TEMPFAIL_AUTO, NULL},
};

/* ---- golden files ------------------------------------------------------- */

/* tests/golden/maps/, found from this source file's own path. */
static void golden_path(char *out, size_t cap, const char *casename, const char *map)
{
	const char *file = __FILE__;
	const char *slash = strrchr(file, '/');
	int dirlen = slash != NULL ? (int)(slash - file) : 1;
	const char *dir = slash != NULL ? file : ".";
	snprintf(out, cap, "%.*s/../golden/maps/%s.%s.txt", dirlen, dir, casename, map);
}

static char reply[1000001];

static void test_golden(void)
{
	static stsguard_discovery d;
	char path[4096], name[160];

	for (size_t i = 0; i < sizeof golden_cases / sizeof golden_cases[0]; i++) {
		const struct golden_case *c = &golden_cases[i];
		stsguard_map_opts opts = {c->answer};
		if (c->build != NULL)
			c->build(&d);
		for (int m = 0; m < STSGUARD_MAP_COUNT_; m++) {
			const char *map = stsguard_map_name((stsguard_map)m);
			size_t len = 0, wlen = 0;
			snprintf(name, sizeof name, "%s.%s", c->name, map);
			golden_path(path, sizeof path, c->name, map);

			char *want = check_read_file(path, &wlen);
			if (!CHECK_TRUE(want != NULL, path))
				continue;
			CHECK_INT(strlen(want), wlen, "golden file has no NUL byte");
			stsguard_status st = stsguard_map_render((stsguard_map)m, c->null_discovery ? NULL : &d, &opts, NOW,
			                                         reply, sizeof reply, &len);
			if (CHECK_STATUS(st, STSGUARD_OK, name)) {
				CHECK_STR(reply, want, name);
				CHECK_INT(len, wlen, name);
			}
			free(want);
		}
	}
}

/* ---- render edge cases -------------------------------------------------- */

static void test_render_caps(void)
{
	static stsguard_discovery d;
	char buf[600];
	size_t len = 0, full = 0;
	stsguard_map_opts opts = {STSGUARD_TEMPFAIL_AUTO};

	build_enforce(&d);
	for (int m = 0; m < STSGUARD_MAP_COUNT_; m++) {
		const char *map = stsguard_map_name((stsguard_map)m);
		if (!CHECK_STATUS(stsguard_map_render((stsguard_map)m, &d, &opts, NOW, buf, sizeof buf, &full), STSGUARD_OK,
		                  map))
			continue;
		CHECK_INT(strlen(buf), full, map);
		/* Exactly the reply's size: fits, and nothing is written past it. */
		memset(buf, '#', sizeof buf);
		CHECK_STATUS(stsguard_map_render((stsguard_map)m, &d, &opts, NOW, buf, full, &len), STSGUARD_OK, map);
		CHECK_INT(len, full, map);
		CHECK_TRUE(buf[full] == '#', map);
		/* One byte less: refused, nothing half-written is left to send. */
		memset(buf, '#', sizeof buf);
		len = 99;
		CHECK_STATUS(stsguard_map_render((stsguard_map)m, &d, &opts, NOW, buf, full - 1, &len), STSGUARD_TOOBIG, map);
		CHECK_INT(len, 0, map);
		CHECK_TRUE(buf[0] == '\0', map);
	}
	CHECK_STATUS(stsguard_map_render(STSGUARD_MAP_STS, &d, &opts, NOW, NULL, 0, &len), STSGUARD_TOOBIG, "cap 0");
	CHECK_STATUS(stsguard_map_render(STSGUARD_MAP_UNKNOWN, &d, &opts, NOW, buf, sizeof buf, &len), STSGUARD_BADARG,
	             "unknown map");
	CHECK_STATUS(stsguard_map_render(STSGUARD_MAP_STS, &d, &opts, NOW, buf, sizeof buf, NULL), STSGUARD_BADARG,
	             "NULL len");
	/* opts NULL means AUTO. */
	build_tempfail_enforce(&d);
	CHECK_STATUS(stsguard_map_render(STSGUARD_MAP_POSTFIX, &d, NULL, NOW, buf, sizeof buf, &len), STSGUARD_OK,
	             "NULL opts");
	CHECK_STR(buf, "TEMP tlsa-tempfail", "NULL opts is AUTO");
}

static void test_render_ttl(void)
{
	static stsguard_discovery d;
	char buf[2000];
	size_t len = 0;

	/* An expired policy (discovery would not apply it, but never print a negative TTL). */
	build_enforce(&d);
	d.expires_at = NOW - 5;
	d.recheck_at = NOW - 5;
	CHECK_STATUS(stsguard_map_render(STSGUARD_MAP_POSTFIX_TLSRPT, &d, NULL, NOW, buf, sizeof buf, &len), STSGUARD_OK,
	             "expired");
	CHECK_TRUE(strstr(buf, " policy_ttl=0 ") != NULL, "expired policy: policy_ttl=0");
	CHECK_STATUS(stsguard_map_render(STSGUARD_MAP_POLICY, &d, NULL, NOW, buf, sizeof buf, &len), STSGUARD_OK,
	             "expired");
	CHECK_TRUE(strstr(buf, " ttl=0 ") != NULL, "past recheck_at: ttl=0");
	/* The full 31557600 s of RFC 8461 §3.2. */
	d.expires_at = NOW + 31557600;
	CHECK_STATUS(stsguard_map_render(STSGUARD_MAP_POSTFIX_TLSRPT, &d, NULL, NOW, buf, sizeof buf, &len), STSGUARD_OK,
	             "one year");
	CHECK_TRUE(strstr(buf, " policy_ttl=31557600 ") != NULL, "one year policy_ttl");
}

/* A discovery that does not hold together is a caller error, never a reply. */
static void test_render_badarg(void)
{
	static stsguard_discovery d;
	static char upper[] = "MX1.example.com";
	static char spaced[] = "mx1.example.com servername=evil";
	static char *bad_mx[1];
	stsguard_policy bad = {STSGUARD_MODE_ENFORCE, 86400, false, 1, bad_mx};
	stsguard_policy empty = {STSGUARD_MODE_ENFORCE, 86400, false, 0, NULL};
	char buf[1000];
	size_t len = 0;

	for (int m = 0; m < STSGUARD_MAP_COUNT_; m++) {
		const char *map = stsguard_map_name((stsguard_map)m);

		build_enforce(&d);
		d.policy = NULL; /* enforce without a policy */
		stsguard_status st = stsguard_map_render((stsguard_map)m, &d, NULL, NOW, buf, sizeof buf, &len);
		if (m == STSGUARD_MAP_STS || m == STSGUARD_MAP_POSTFIX || m == STSGUARD_MAP_POSTFIX_TLSRPT)
			CHECK_STATUS(st, STSGUARD_BADARG, map);

		build_enforce(&d);
		d.policy = &empty; /* never an empty match= */
		st = stsguard_map_render((stsguard_map)m, &d, NULL, NOW, buf, sizeof buf, &len);
		if (m == STSGUARD_MAP_STS || m == STSGUARD_MAP_POSTFIX || m == STSGUARD_MAP_POSTFIX_TLSRPT)
			CHECK_STATUS(st, STSGUARD_BADARG, map);

		bad_mx[0] = spaced;
		d.policy = &bad;
		CHECK_STATUS(stsguard_map_render((stsguard_map)m, &d, NULL, NOW, buf, sizeof buf, &len), STSGUARD_BADARG,
		             map);
		bad_mx[0] = upper;
		CHECK_STATUS(stsguard_map_render((stsguard_map)m, &d, NULL, NOW, buf, sizeof buf, &len), STSGUARD_BADARG,
		             map);
		bad_mx[0] = NULL;
		CHECK_STATUS(stsguard_map_render((stsguard_map)m, &d, NULL, NOW, buf, sizeof buf, &len), STSGUARD_BADARG,
		             map);

		build_enforce(&d);
		snprintf(d.domain, sizeof d.domain, "Example.com");
		CHECK_STATUS(stsguard_map_render((stsguard_map)m, &d, NULL, NOW, buf, sizeof buf, &len), STSGUARD_BADARG,
		             map);
		build_enforce(&d);
		snprintf(d.policy_id, sizeof d.policy_id, "id with space");
		CHECK_STATUS(stsguard_map_render((stsguard_map)m, &d, NULL, NOW, buf, sizeof buf, &len), STSGUARD_BADARG,
		             map);
		build_enforce(&d);
		d.verdict = (stsguard_verdict)42;
		st = stsguard_map_render((stsguard_map)m, &d, NULL, NOW, buf, sizeof buf, &len);
		if (m == STSGUARD_MAP_STS || m == STSGUARD_MAP_POSTFIX || m == STSGUARD_MAP_POSTFIX_TLSRPT)
			CHECK_STATUS(st, STSGUARD_BADARG, map);
	}
	/* testing needs its policy for the 3.10 attributes. */
	build_testing(&d);
	d.policy = NULL;
	CHECK_STATUS(stsguard_map_render(STSGUARD_MAP_POSTFIX_TLSRPT, &d, NULL, NOW, buf, sizeof buf, &len),
	             STSGUARD_BADARG, "testing without policy");
}

/*
 * The largest policy we accept (256 long mx lines): Sendmail's and Postfix
 * 3.7's replies fit, the 3.10 reply would pass Postfix's 100,000-byte limit
 * and is refused even with a bigger buffer.
 */
static void test_render_limits(void)
{
	static stsguard_discovery d;
	static char body[65536];
	size_t off = 0, len = 0;

	off += (size_t)snprintf(body + off, sizeof body - off, "version: STSv1\nmode: enforce\nmax_age: 86400\n");
	for (int i = 0; i < (int)STSGUARD_POLICY_MX_MAX; i++)
		off += (size_t)snprintf(body + off, sizeof body - off, "mx: *.m%03d.%s.%s.%s.example\n", i, L61, L61, L61);
	stsguard_policy *big = parse(body);
	CHECK_INT(big->n_mx, STSGUARD_POLICY_MX_MAX, "256 mx lines");

	build_enforce(&d);
	d.policy = big;
	CHECK_STATUS(stsguard_map_render(STSGUARD_MAP_STS, &d, NULL, NOW, reply, sizeof reply, &len), STSGUARD_OK,
	             "big sts");
	CHECK_TRUE(len > 50000 && len <= 100000, "big sts size");
	CHECK_STATUS(stsguard_map_render(STSGUARD_MAP_POSTFIX, &d, NULL, NOW, reply, sizeof reply, &len), STSGUARD_OK,
	             "big postfix");
	CHECK_STATUS(stsguard_map_render(STSGUARD_MAP_POLICY, &d, NULL, NOW, reply, sizeof reply, &len), STSGUARD_OK,
	             "big policy");
	CHECK_STATUS(stsguard_map_render(STSGUARD_MAP_POSTFIX_TLSRPT, &d, NULL, NOW, reply, sizeof reply, &len),
	             STSGUARD_TOOBIG, "big postfix-tlsrpt over 100,000 bytes");
	CHECK_INT(len, 0, "big postfix-tlsrpt");
	stsguard_policy_free(big);
}

/* Rendered replies frame into netstrings that parse back to themselves. */
static void test_render_framing(void)
{
	static stsguard_discovery d;
	char framed[2100];
	size_t len = 0, flen = 0, consumed = 0, plen = 0;
	const char *payload = NULL;

	build_enforce(&d);
	CHECK_STATUS(stsguard_map_render(STSGUARD_MAP_POSTFIX_TLSRPT, &d, NULL, NOW, reply, sizeof reply, &len),
	             STSGUARD_OK, "framing");
	CHECK_STATUS(stsguard_netstring_encode(reply, len, framed, sizeof framed, &flen), STSGUARD_OK, "framing");
	CHECK_STATUS(stsguard_netstring_next(framed, flen, 100000, &consumed, &payload, &plen, NULL), STSGUARD_OK,
	             "framing");
	CHECK_INT(consumed, flen, "framing");
	CHECK_INT(plen, len, "framing");
	CHECK_TRUE(payload != NULL && memcmp(payload, reply, len) == 0, "framing");
}

/*
 * routes: allowed hosts only, by preference whatever order they come in
 * (ties keep their order), never a host that is not a plain host name.
 */
static void test_render_routes(void)
{
	static stsguard_discovery d;
	static const struct {
		const char *name;
		const char *hosts[4];
		uint16_t pref[4];
		bool allowed[4];
		const char *want;
	} cases[] = {
		{"preference order", {"mx2.example.com", "mx1.example.com"}, {20, 10}, {true, true},
		 "OK mx1.example.com,mx2.example.com"},
		{"ties keep order", {"b.example.com", "a.example.com", "c.example.com"}, {10, 10, 5}, {true, true, true},
		 "OK c.example.com,b.example.com,a.example.com"},
		{"outside the policy left out", {"rogue.example.org", "mx1.example.com"}, {1, 10}, {false, true},
		 "OK mx1.example.com"},
		{"none allowed", {"rogue.example.org"}, {1}, {false}, "NOTFOUND "},
		{"not a host name", {"mx1.example.com,evil", "MX2.example.com", "mx 3.example.com", "mx4.example.com"},
		 {1, 2, 3, 4}, {true, true, true, true}, "OK mx4.example.com"},
	};
	char buf[2000];
	size_t len = 0;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		base(&d, "example.com", STSGUARD_VERDICT_ENFORCE, p_enforce, "x1", NOW + 600, NOW + 60);
		for (size_t k = 0; k < 4 && cases[i].hosts[k] != NULL; k++)
			add_host(&d, cases[i].hosts[k], cases[i].pref[k], cases[i].allowed[k], STSGUARD_DANE_ABSENT);
		if (CHECK_STATUS(stsguard_map_render(STSGUARD_MAP_ROUTES, &d, NULL, NOW, buf, sizeof buf, &len),
		                 STSGUARD_OK, cases[i].name))
			CHECK_STR(buf, cases[i].want, cases[i].name);
	}
	/* A policy in mode none restricts nothing: no route to pin. */
	base(&d, "example.org", STSGUARD_VERDICT_NONE, p_none, "n1", NOW + 600, NOW + 60);
	add_host(&d, "mx.example.org", 10, true, STSGUARD_DANE_ABSENT);
	CHECK_STATUS(stsguard_map_render(STSGUARD_MAP_ROUTES, &d, NULL, NOW, buf, sizeof buf, &len), STSGUARD_OK, "none");
	CHECK_STR(buf, "NOTFOUND ", "mode none");
}

int main(void)
{
	p_enforce = parse(body_enforce);
	p_testing = parse(body_testing);
	p_none = parse(body_none);

	test_map_names();
	test_key_domain();
	test_golden();
	test_render_caps();
	test_render_ttl();
	test_render_badarg();
	test_render_limits();
	test_render_framing();
	test_render_routes();

	stsguard_policy_free(p_enforce);
	stsguard_policy_free(p_testing);
	stsguard_policy_free(p_none);
	return check_summary();
}
