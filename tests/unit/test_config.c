/*
 * test_config.c - table-driven tests of stsguard_config_parse(),
 * stsguard_config_load() and stsguard_config_keys().
 *
 * Expectations come from config.h and docs/configuration.md: "key = value"
 * lines, '#' comment lines, blank lines ignored, keys case-sensitive, an
 * unknown key or a bad value is an error naming "FILE:LINE:", resolver is a
 * comma-separated list of at most 4 of IP / IP:PORT / [IPv6]:PORT / bare IPv6
 * (port 53 by default, never a host name), dns_timeout 100-30000 ms,
 * dns_tries 1-10, ca_file and cache_dir absolute paths, fetch_timeout 1-300 s,
 * https_proxy an http://, https:// or socks5h:// URL; lines are capped at
 * STSGUARD_CONFIG_LINE_MAX and files at STSGUARD_CONFIG_FILE_MAX (TOOBIG).
 * Every text is copied to an exact-size heap buffer so reads past len trip ASan.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stsguard/config.h"

#include "check.h"

#define NAME "t.conf"

/* Where *out points before a call that must set it to NULL on failure. */
static stsguard_config sentinel;

/* Expected values; 0 / NULL means "the default" (no valid setting is 0). */
struct cfg_want {
	size_t n_res;
	struct {
		const char *ip;
		unsigned port;
	} res[STSGUARD_RESOLVERS_MAX];
	unsigned timeout_ms;
	unsigned retries;
	const char *ca_file;
	const char *cache_dir;
	unsigned fetch_timeout;
	const char *proxy;
};

struct cfg_case {
	const char *name;
	const char *text;
	size_t len;
	stsguard_status want;
	unsigned err_line; /* on failure: err must start with "t.conf:LINE:" */
	struct cfg_want cfg;
};

#define B(s) (s), sizeof(s) - 1
#define OK(name, text, ...) { name, B(text), STSGUARD_OK, 0, { __VA_ARGS__ } }
#define BAD(name, text, line) { name, B(text), STSGUARD_INVALID, line, { 0 } }

static const struct cfg_case cases[] = {
	/* --- defaults, comments, blank lines, line ends --- */
	OK("empty file: defaults", "", .n_res = 0),
	OK("only a newline", "\n", .n_res = 0),
	OK("comments and blank lines", "# stsguard.conf\n\n   \n\t\n# fetch_timeout = 99\n\t# indented comment\n",
	   .n_res = 0),
	OK("comment then key", "# comment\n\nfetch_timeout = 20\n", .fetch_timeout = 20),
	OK("no final newline", "fetch_timeout = 20", .fetch_timeout = 20),
	OK("no spaces around '='", "fetch_timeout=20\n", .fetch_timeout = 20),
	OK("tabs and spaces around key and value", "  \tfetch_timeout \t=\t 20 \t\n", .fetch_timeout = 20),
	OK("CRLF lines", "# comment\r\n\r\nresolver = 127.0.0.1\r\nfetch_timeout = 5\r\n", .n_res = 1,
	   .res = { { "127.0.0.1", 53 } }, .fetch_timeout = 5),
	OK("CRLF, no final line end", "dns_tries = 3\r\nfetch_timeout = 5", .retries = 3, .fetch_timeout = 5),
	OK("documented example",
	   "# /etc/stsguard/stsguard.conf\nresolver = 127.0.0.1\nfetch_timeout = 10\ncache_dir = /var/lib/stsguard\n",
	   .n_res = 1, .res = { { "127.0.0.1", 53 } }, .fetch_timeout = 10, .cache_dir = "/var/lib/stsguard"),
	OK("every key",
	   "resolver = 192.0.2.53:5353, [2001:db8::53]:54\ndns_timeout = 500\ndns_tries = 4\n"
	   "ca_file = /etc/ssl/mta-sts-ca.pem\ncache_dir = /srv/stsguard\nfetch_timeout = 30\n"
	   "https_proxy = http://proxy.example:3128\n",
	   .n_res = 2, .res = { { "192.0.2.53", 5353 }, { "2001:db8::53", 54 } }, .timeout_ms = 500, .retries = 4,
	   .ca_file = "/etc/ssl/mta-sts-ca.pem", .cache_dir = "/srv/stsguard", .fetch_timeout = 30,
	   .proxy = "http://proxy.example:3128"),

	/* --- resolver --- */
	OK("resolver IPv4", "resolver = 127.0.0.1\n", .n_res = 1, .res = { { "127.0.0.1", 53 } }),
	OK("resolver IPv4:port", "resolver = 127.0.0.1:5353\n", .n_res = 1, .res = { { "127.0.0.1", 5353 } }),
	OK("resolver IPv4:1", "resolver = 10.0.0.1:1\n", .n_res = 1, .res = { { "10.0.0.1", 1 } }),
	OK("resolver IPv4:65535", "resolver = 10.0.0.1:65535\n", .n_res = 1, .res = { { "10.0.0.1", 65535 } }),
	OK("resolver [IPv6]:port", "resolver = [::1]:5353\n", .n_res = 1, .res = { { "::1", 5353 } }),
	OK("resolver [IPv6] without port", "resolver = [2001:db8::1]\n", .n_res = 1, .res = { { "2001:db8::1", 53 } }),
	OK("resolver bare IPv6", "resolver = 2001:db8::53\n", .n_res = 1, .res = { { "2001:db8::53", 53 } }),
	OK("resolver bare ::1", "resolver = ::1\n", .n_res = 1, .res = { { "::1", 53 } }),
	OK("resolver full IPv6", "resolver = 2001:db8:0:0:0:0:0:53\n", .n_res = 1,
	   .res = { { "2001:db8:0:0:0:0:0:53", 53 } }),
	OK("resolver two, comma", "resolver = 127.0.0.1,127.0.0.2\n", .n_res = 2,
	   .res = { { "127.0.0.1", 53 }, { "127.0.0.2", 53 } }),
	OK("resolver four, mixed forms and spacing", "resolver = 127.0.0.1 , [::1]:54,192.0.2.1:5353 ,  2001:db8::1\n",
	   .n_res = 4, .res = { { "127.0.0.1", 53 }, { "::1", 54 }, { "192.0.2.1", 5353 }, { "2001:db8::1", 53 } }),
	BAD("resolver: five is too many", "resolver = 127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5\n", 1),
	BAD("resolver: host name", "resolver = dns.google\n", 1),
	BAD("resolver: host name with port", "resolver = localhost:53\n", 1),
	BAD("resolver: one good one host name", "resolver = 127.0.0.1, resolver.example\n", 1),
	BAD("resolver: empty", "resolver =\n", 1),
	BAD("resolver: only commas", "resolver = , ,\n", 1),
	BAD("resolver: IPv4 octet > 255", "resolver = 256.1.1.1\n", 1),
	BAD("resolver: three octets", "resolver = 10.0.1\n", 1),
	BAD("resolver: port 0", "resolver = 127.0.0.1:0\n", 1),
	BAD("resolver: port 65536", "resolver = 127.0.0.1:65536\n", 1),
	BAD("resolver: huge port", "resolver = 127.0.0.1:99999999999999999999\n", 1),
	BAD("resolver: empty port", "resolver = 127.0.0.1:\n", 1),
	BAD("resolver: port not a number", "resolver = 127.0.0.1:dns\n", 1),
	BAD("resolver: negative port", "resolver = 127.0.0.1:-53\n", 1),
	BAD("resolver: two ports", "resolver = 127.0.0.1:53:53\n", 1),
	BAD("resolver: missing ']'", "resolver = [::1:53\n", 1),
	BAD("resolver: junk after ']'", "resolver = [::1]53\n", 1),
	BAD("resolver: [IPv6]: empty port", "resolver = [::1]:\n", 1),
	BAD("resolver: bad IPv6", "resolver = 2001:db8:::1\n", 1),
	BAD("resolver: IPv6 with zone", "resolver = fe80::1%eth0\n", 1),
	BAD("resolver: URL", "resolver = udp://127.0.0.1\n", 1),
	BAD("resolver: brackets around nothing", "resolver = []:53\n", 1),

	/* --- dns_timeout (100..30000) --- */
	OK("dns_timeout minimum", "dns_timeout = 100\n", .timeout_ms = 100),
	OK("dns_timeout maximum", "dns_timeout = 30000\n", .timeout_ms = 30000),
	BAD("dns_timeout below minimum", "dns_timeout = 99\n", 1),
	BAD("dns_timeout zero", "dns_timeout = 0\n", 1),
	BAD("dns_timeout above maximum", "dns_timeout = 30001\n", 1),
	BAD("dns_timeout huge", "dns_timeout = 184467440737095516160\n", 1),
	BAD("dns_timeout negative", "dns_timeout = -1\n", 1),
	BAD("dns_timeout with unit", "dns_timeout = 2000ms\n", 1),
	BAD("dns_timeout exponent", "dns_timeout = 2e3\n", 1),
	BAD("dns_timeout plus sign", "dns_timeout = +2000\n", 1),
	BAD("dns_timeout empty", "dns_timeout =\n", 1),
	BAD("dns_timeout two numbers", "dns_timeout = 200 300\n", 1),

	/* --- dns_tries (1..10) --- */
	OK("dns_tries minimum", "dns_tries = 1\n", .retries = 1),
	OK("dns_tries maximum", "dns_tries = 10\n", .retries = 10),
	BAD("dns_tries zero", "dns_tries = 0\n", 1),
	BAD("dns_tries above maximum", "dns_tries = 11\n", 1),
	BAD("dns_tries hex", "dns_tries = 0x2\n", 1),

	/* --- ca_file, cache_dir (absolute paths) --- */
	OK("ca_file absolute", "ca_file = /etc/ssl/certs/ca-certificates.crt\n",
	   .ca_file = "/etc/ssl/certs/ca-certificates.crt"),
	BAD("ca_file relative", "ca_file = certs/ca.pem\n", 1),
	BAD("ca_file empty", "ca_file =\n", 1),
	OK("cache_dir absolute", "cache_dir = /var/cache/stsguard\n", .cache_dir = "/var/cache/stsguard"),
	BAD("cache_dir relative", "cache_dir = var/lib/stsguard\n", 1),
	BAD("cache_dir empty", "cache_dir = \n", 1),

	/* --- fetch_timeout (1..300) --- */
	OK("fetch_timeout minimum", "fetch_timeout = 1\n", .fetch_timeout = 1),
	OK("fetch_timeout maximum", "fetch_timeout = 300\n", .fetch_timeout = 300),
	BAD("fetch_timeout zero", "fetch_timeout = 0\n", 1),
	BAD("fetch_timeout above maximum", "fetch_timeout = 301\n", 1),
	BAD("fetch_timeout fraction", "fetch_timeout = 1.5\n", 1),

	/* --- https_proxy --- */
	OK("https_proxy http", "https_proxy = http://proxy.example:3128\n", .proxy = "http://proxy.example:3128"),
	OK("https_proxy https", "https_proxy = https://proxy.example\n", .proxy = "https://proxy.example"),
	OK("https_proxy socks5h", "https_proxy = socks5h://127.0.0.1:1080\n", .proxy = "socks5h://127.0.0.1:1080"),
	OK("https_proxy value containing '='", "https_proxy = http://proxy.example/?a=b\n",
	   .proxy = "http://proxy.example/?a=b"),
	BAD("https_proxy socks5 (local DNS)", "https_proxy = socks5://127.0.0.1:1080\n", 1),
	BAD("https_proxy without scheme", "https_proxy = proxy.example:3128\n", 1),
	BAD("https_proxy ftp", "https_proxy = ftp://proxy.example\n", 1),
	BAD("https_proxy empty", "https_proxy =\n", 1),

	/* --- syntax errors name the line --- */
	BAD("unknown key on line 1", "resolvers = 127.0.0.1\n", 1),
	BAD("unknown key on line 3 after comment and blank", "# comment\n\nfoo = bar\n", 3),
	BAD("unknown key after good lines", "fetch_timeout = 5\ndns_tries = 2\n\n# x\nca-file = /etc/ca.pem\n", 5),
	BAD("unknown key, CRLF lines", "fetch_timeout = 5\r\nbogus = 1\r\n", 2),
	BAD("keys are case-sensitive", "Resolver = 127.0.0.1\n", 1),
	BAD("keys are case-sensitive (upper)", "FETCH_TIMEOUT = 10\n", 1),
	BAD("no '='", "fetch_timeout 10\n", 1),
	BAD("empty key", "= 10\n", 1),
	BAD("bad value names its line", "fetch_timeout = 5\n\nfetch_timeout = 0\n", 3),
	BAD("key with trailing junk", "fetch_timeout x = 5\n", 1),
	BAD("inline comment is part of the value", "fetch_timeout = 5 # seconds\n", 1),
	BAD("NUL byte in a value", "fetch_timeout = 1\0" "0\n", 1),
	BAD("NUL byte on line 2", "# ok\nfetch_timeout = 10\0\n", 2),
};

static void check_config(const stsguard_config *c, const struct cfg_want *w, const char *name)
{
	char label[200];

	snprintf(label, sizeof label, "%s: resolver.n", name);
	if (CHECK_INT(c->resolver.n, w->n_res, label)) {
		for (size_t i = 0; i < w->n_res; i++) {
			snprintf(label, sizeof label, "%s: resolver[%zu].ip", name, i);
			CHECK_STR(c->resolver.server[i].ip, w->res[i].ip, label);
			snprintf(label, sizeof label, "%s: resolver[%zu].port", name, i);
			CHECK_INT(c->resolver.server[i].port, w->res[i].port, label);
		}
	}
	snprintf(label, sizeof label, "%s: dns_timeout", name);
	CHECK_INT(c->resolver.timeout_ms, w->timeout_ms != 0 ? w->timeout_ms : 2000, label);
	snprintf(label, sizeof label, "%s: dns_tries", name);
	CHECK_INT(c->resolver.retries, w->retries != 0 ? w->retries : 2, label);
	snprintf(label, sizeof label, "%s: ca_file", name);
	CHECK_STR(c->ca_file, w->ca_file, label);
	snprintf(label, sizeof label, "%s: cache_dir", name);
	CHECK_STR(c->cache_dir, w->cache_dir != NULL ? w->cache_dir : STSGUARD_DEFAULT_CACHE_DIR, label);
	snprintf(label, sizeof label, "%s: fetch_timeout", name);
	CHECK_INT(c->fetch_timeout, w->fetch_timeout != 0 ? w->fetch_timeout : 10, label);
	snprintf(label, sizeof label, "%s: https_proxy", name);
	CHECK_STR(c->proxy, w->proxy, label);
}

/* err must begin with "PREFIX:LINE:" (file and line, as config.h promises). */
static void check_err_line(const stsguard_err *err, const char *prefix, unsigned line, const char *name)
{
	char want[300], got[300];

	snprintf(want, sizeof want, "%s:%u:", prefix, line);
	snprintf(got, sizeof got, "%.*s", (int)strlen(want), err->msg);
	if (!CHECK_STR(got, want, name))
		fprintf(stderr, "    whole error: %s\n", err->msg);
}

static void run_case(const struct cfg_case *c)
{
	char *buf = malloc(c->len > 0 ? c->len : 1);
	stsguard_config *cfg = &sentinel; /* must be overwritten */
	stsguard_err err = {""};

	if (!CHECK_TRUE(buf != NULL, c->name))
		return;
	memcpy(buf, c->text, c->len);
	stsguard_status st = stsguard_config_parse(buf, c->len, NAME, &cfg, &err);
	if (!CHECK_STATUS(st, c->want, c->name))
		fprintf(stderr, "    error: %s\n", err.msg);
	if (st == STSGUARD_OK && c->want == STSGUARD_OK && CHECK_TRUE(cfg != NULL, c->name))
		check_config(cfg, &c->cfg, c->name);
	if (c->want != STSGUARD_OK) {
		CHECK_TRUE(cfg == NULL, c->name);
		check_err_line(&err, NAME, c->err_line, c->name);
	}
	if (st == STSGUARD_OK)
		stsguard_config_free(cfg);
	/* err may be NULL. */
	cfg = NULL;
	st = stsguard_config_parse(buf, c->len, NAME, &cfg, NULL);
	CHECK_STATUS(st, c->want, c->name);
	stsguard_config_free(cfg);
	free(buf);
}

/* A buffer of exactly len bytes of comment lines (each shorter than the line cap). */
static char *comment_file(size_t len)
{
	char *b = malloc(len);
	if (b == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++)
		b[i] = (i % 1000 == 999 || i == len - 1) ? '\n' : (i % 1000 == 0 ? '#' : 'x');
	return b;
}

static void size_caps(void)
{
	stsguard_config *cfg = NULL;
	stsguard_err err = {""};
	const size_t lmax = STSGUARD_CONFIG_LINE_MAX;

	/* Line 2 of LINE_MAX - 1 bytes (before its newline) is within the cap. */
	{
		static const char tail[] = "\nfetch_timeout = 7";
		size_t len = 1 + (lmax - 1) + (sizeof tail - 1);
		char *b = malloc(len);
		if (CHECK_TRUE(b != NULL, "line just under the cap")) {
			b[0] = '\n';
			b[1] = '#';
			memset(b + 2, 'x', lmax - 2);
			memcpy(b + lmax, tail, sizeof tail - 1);
			stsguard_status st = stsguard_config_parse(b, len, NAME, &cfg, &err);
			if (!CHECK_STATUS(st, STSGUARD_OK, "line of LINE_MAX-1 bytes"))
				fprintf(stderr, "    error: %s\n", err.msg);
			if (cfg != NULL)
				CHECK_INT(cfg->fetch_timeout, 7, "line of LINE_MAX-1 bytes: next line read");
			stsguard_config_free(cfg);
			cfg = NULL;
			free(b);
		}
	}
	/* A line well over the cap, on line 2: an error naming line 2. */
	{
		size_t len = 1 + lmax + 100;
		char *b = malloc(len);
		if (CHECK_TRUE(b != NULL, "line over the cap")) {
			b[0] = '\n';
			b[1] = '#';
			memset(b + 2, 'y', len - 3);
			b[len - 1] = '\n';
			stsguard_status st = stsguard_config_parse(b, len, NAME, &cfg, &err);
			CHECK_TRUE(st != STSGUARD_OK, "line over the cap");
			CHECK_TRUE(cfg == NULL, "line over the cap: no config");
			check_err_line(&err, NAME, 2, "line over the cap: error names line 2");
			free(b);
		}
	}
	/* A last line over the cap without a final newline. */
	{
		size_t len = lmax + 50;
		char *b = malloc(len);
		if (CHECK_TRUE(b != NULL, "unterminated line over the cap")) {
			memset(b, ' ', len);
			memcpy(b, "ca_file = /", 11);
			memset(b + 11, 'a', len - 11);
			stsguard_status st = stsguard_config_parse(b, len, NAME, &cfg, &err);
			CHECK_TRUE(st != STSGUARD_OK, "unterminated line over the cap");
			CHECK_TRUE(cfg == NULL, "unterminated line over the cap: no config");
			free(b);
		}
	}
	/* The whole file: exactly FILE_MAX is fine, one byte more is TOOBIG. */
	{
		char *b = comment_file(STSGUARD_CONFIG_FILE_MAX + 1);
		if (CHECK_TRUE(b != NULL, "file cap")) {
			stsguard_status st = stsguard_config_parse(b, STSGUARD_CONFIG_FILE_MAX, NAME, &cfg, &err);
			if (!CHECK_STATUS(st, STSGUARD_OK, "file of exactly FILE_MAX bytes"))
				fprintf(stderr, "    error: %s\n", err.msg);
			stsguard_config_free(cfg);
			cfg = &sentinel;
			st = stsguard_config_parse(b, STSGUARD_CONFIG_FILE_MAX + 1, NAME, &cfg, &err);
			CHECK_STATUS(st, STSGUARD_TOOBIG, "file of FILE_MAX + 1 bytes");
			CHECK_TRUE(cfg == NULL, "file of FILE_MAX + 1 bytes: no config");
			free(b);
		}
	}
}

static bool write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return false;
	bool ok = fwrite(data, 1, len, f) == len;
	return fclose(f) == 0 && ok;
}

static void load_cases(void)
{
	const char *tmpdir = getenv("TMPDIR");
	char dir[512], path[600], missing[600];
	stsguard_config *cfg;
	stsguard_err err = {""};

	snprintf(dir, sizeof dir, "%s/stsguard-test-config-XXXXXX",
	         tmpdir != NULL && tmpdir[0] != '\0' ? tmpdir : "/tmp");
	if (!CHECK_TRUE(mkdtemp(dir) != NULL, "mkdtemp")) {
		fprintf(stderr, "    mkdtemp: %s\n", strerror(errno));
		return;
	}
	snprintf(missing, sizeof missing, "%s/no-such.conf", dir);
	snprintf(path, sizeof path, "%s/stsguard.conf", dir);

	/* Missing file: IO unless missing_ok, then the defaults. */
	cfg = &sentinel;
	CHECK_STATUS(stsguard_config_load(missing, 0, &cfg, &err), STSGUARD_IO, "load missing, missing_ok 0");
	CHECK_TRUE(cfg == NULL, "load missing, missing_ok 0: no config");
	CHECK_TRUE(err.msg[0] != '\0', "load missing, missing_ok 0: error text");
	cfg = NULL;
	CHECK_STATUS(stsguard_config_load(missing, 1, &cfg, &err), STSGUARD_OK, "load missing, missing_ok 1");
	if (CHECK_TRUE(cfg != NULL, "load missing, missing_ok 1: config")) {
		struct cfg_want def = { 0 };
		check_config(cfg, &def, "load missing, missing_ok 1");
	}
	stsguard_config_free(cfg);

	/* stsguard_config_new gives the same defaults. */
	cfg = NULL;
	CHECK_STATUS(stsguard_config_new(&cfg), STSGUARD_OK, "config_new");
	if (CHECK_TRUE(cfg != NULL, "config_new: config")) {
		struct cfg_want def = { 0 };
		check_config(cfg, &def, "config_new");
	}
	stsguard_config_free(cfg);
	stsguard_config_free(NULL); /* no-op */

	/* An existing file is parsed; missing_ok changes nothing. */
	static const char good[] = "# test\nresolver = [::1]:5300\r\nfetch_timeout = 42\n";
	if (CHECK_TRUE(write_file(path, good, sizeof good - 1), "write config file")) {
		for (int ok = 0; ok <= 1; ok++) {
			cfg = NULL;
			const char *label = ok ? "load file, missing_ok 1" : "load file, missing_ok 0";
			if (!CHECK_STATUS(stsguard_config_load(path, ok, &cfg, &err), STSGUARD_OK, label))
				fprintf(stderr, "    error: %s\n", err.msg);
			if (cfg != NULL) {
				struct cfg_want w = { .n_res = 1, .res = { { "::1", 5300 } }, .fetch_timeout = 42 };
				check_config(cfg, &w, label);
			}
			stsguard_config_free(cfg);
		}
	}
	/* An error in a file names the file's path and the line. */
	static const char bad[] = "fetch_timeout = 42\n\n# x\ndns_tries = eleven\n";
	if (CHECK_TRUE(write_file(path, bad, sizeof bad - 1), "write bad config file")) {
		cfg = &sentinel;
		CHECK_STATUS(stsguard_config_load(path, 1, &cfg, &err), STSGUARD_INVALID, "load bad file");
		CHECK_TRUE(cfg == NULL, "load bad file: no config");
		check_err_line(&err, path, 4, "load bad file: PATH:4:");
	}
	/* A file over the cap: TOOBIG. */
	char *big = comment_file(STSGUARD_CONFIG_FILE_MAX + 10);
	if (CHECK_TRUE(big != NULL, "big file") &&
	    CHECK_TRUE(write_file(path, big, STSGUARD_CONFIG_FILE_MAX + 10), "write big file")) {
		cfg = &sentinel;
		CHECK_STATUS(stsguard_config_load(path, 0, &cfg, &err), STSGUARD_TOOBIG, "load file over the cap");
		CHECK_TRUE(cfg == NULL, "load file over the cap: no config");
	}
	free(big);
	/* A directory is not a config file. */
	cfg = &sentinel;
	CHECK_TRUE(stsguard_config_load(dir, 1, &cfg, &err) != STSGUARD_OK, "load a directory");
	CHECK_TRUE(cfg == NULL, "load a directory: no config");

	unlink(path);
	CHECK_TRUE(rmdir(dir) == 0, "rmdir");
}

static void keys_list(void)
{
	static const char *const want[] = { "resolver",      "dns_timeout",   "dns_tries",       "ca_file",
		                            "cache_dir",     "fetch_timeout", "https_proxy",     "listen",
		                            "user",          "workers",       "query_timeout",   "tempfail_answer",
		                            "log_level",     "max_clients",   "max_domains",
		                            "tlsrpt_dir", "tlsrpt_retention", "report_organization", "report_contact",
		                            "report_submitter", "report_from", "dkim_key", "dkim_selector",
		                            "dkim_domain", "report_sendmail", "report_spool", "tlsrpt_socket",
		                            "report_smtp", "report_spread" };
	const char *const *keys = stsguard_config_keys();
	size_t n = 0;

	if (!CHECK_TRUE(keys != NULL, "config_keys"))
		return;
	while (keys[n] != NULL && n < 100)
		n++;
	CHECK_INT(n, sizeof want / sizeof want[0], "config_keys: count");
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		size_t seen = 0;
		for (size_t j = 0; j < n; j++)
			seen += strcmp(keys[j], want[i]) == 0;
		CHECK_INT(seen, 1, want[i]);
		/* and the parser knows it */
		char text[80];
		snprintf(text, sizeof text, "%s = x\n", want[i]);
		stsguard_err err = {""};
		stsguard_config *cfg = NULL;
		(void)stsguard_config_parse(text, strlen(text), NAME, &cfg, &err);
		stsguard_config_free(cfg);
		CHECK_TRUE(strstr(err.msg, "unknown key") == NULL, want[i]);
	}
}

/* The TLS-RPT keys: defaults, accepted values, refused values (docs/configuration.md). */
static void tlsrpt_keys(void)
{
	static const struct {
		const char *name, *text;
		stsguard_status want;
		const char *dir;
		unsigned retention;
	} tc[] = {
		{"defaults", "", STSGUARD_OK, "/var/lib/stsguard/tlsrpt", 14},
		{"dir", "tlsrpt_dir = /srv/tlsrpt\n", STSGUARD_OK, "/srv/tlsrpt", 14},
		{"dir follows cache_dir", "cache_dir = /srv/c\n", STSGUARD_OK, "/srv/c/tlsrpt", 14},
		{"dir given before cache_dir", "tlsrpt_dir = /t\ncache_dir = /srv/c\n", STSGUARD_OK, "/t", 14},
		{"retention", "tlsrpt_retention = 30\n", STSGUARD_OK, "/var/lib/stsguard/tlsrpt", 30},
		{"retention min", "tlsrpt_retention = 1\n", STSGUARD_OK, "/var/lib/stsguard/tlsrpt", 1},
		{"retention max", "tlsrpt_retention = 3660\n", STSGUARD_OK, "/var/lib/stsguard/tlsrpt", 3660},
		{"relative dir", "tlsrpt_dir = tlsrpt\n", STSGUARD_INVALID, NULL, 0},
		{"retention 0", "tlsrpt_retention = 0\n", STSGUARD_INVALID, NULL, 0},
		{"retention too long", "tlsrpt_retention = 3661\n", STSGUARD_INVALID, NULL, 0},
		{"retention not a number", "tlsrpt_retention = two weeks\n", STSGUARD_INVALID, NULL, 0},
	};
	for (size_t i = 0; i < sizeof tc / sizeof tc[0]; i++) {
		stsguard_config *c = NULL;
		stsguard_err err = {""};
		stsguard_status st = stsguard_config_parse(tc[i].text, strlen(tc[i].text), "t.conf", &c, &err);
		CHECK_STATUS(st, tc[i].want, tc[i].name);
		if (st == STSGUARD_OK && c != NULL) {
			CHECK_STR(c->tlsrpt_dir, tc[i].dir, tc[i].name);
			CHECK_INT(c->tlsrpt_retention, tc[i].retention, tc[i].name);
		}
		stsguard_config_free(c);
	}
}

/* The TLS-RPT keys: defaults, one good and the bad values of each. */
static void report_keys(void)
{
	stsguard_config *c = NULL;
	stsguard_err err = {""};

	if (CHECK_STATUS(stsguard_config_parse("", 0, NAME, &c, &err), STSGUARD_OK, "report defaults")) {
		CHECK_STR(c->tlsrpt_dir, "/var/lib/stsguard/tlsrpt", "default tlsrpt_dir: <cache_dir>/tlsrpt");
		CHECK_INT(c->tlsrpt_retention, 14, "default tlsrpt_retention");
		CHECK_STR(c->dkim_selector, "tlsrpt", "default dkim_selector");
		CHECK_STR(c->report_sendmail, "/usr/sbin/sendmail -oi", "default report_sendmail");
		CHECK_STR(c->report_spool, "/var/lib/stsguard/tlsrpt-sent", "default report_spool");
		CHECK_INT(c->report_spread, 14400, "default report_spread: four hours");
		CHECK_TRUE(c->report_organization == NULL && c->report_contact == NULL && c->report_submitter == NULL &&
		               c->report_from == NULL && c->dkim_key == NULL && c->dkim_domain == NULL,
		           "report keys without default are unset");
	}
	stsguard_config_free(c);

	static const char good[] = "tlsrpt_dir = /srv/tlsrpt\n"
	                           "tlsrpt_retention = 30\n"
	                           "report_organization = Example Org \xc3\xa9\n"
	                           "report_contact = TLS-RPT@Example.NET\n"
	                           "report_submitter = MTA.Example.net.\n"
	                           "report_from = noreply@example.net\n"
	                           "dkim_key = /etc/stsguard/dkim.pem\n"
	                           "dkim_selector = tlsrpt-2026.a\n"
	                           "dkim_domain = example.net\n"
	                           "report_sendmail = /usr/sbin/sendmail  -oi -odq\n"
	                           "report_spool = /srv/sent\n"
	                           "report_spread = 0\n";
	c = NULL;
	if (CHECK_STATUS(stsguard_config_parse(good, strlen(good), NAME, &c, &err), STSGUARD_OK, "report keys")) {
		CHECK_STR(c->tlsrpt_dir, "/srv/tlsrpt", "tlsrpt_dir");
		CHECK_INT(c->tlsrpt_retention, 30, "tlsrpt_retention");
		CHECK_STR(c->report_organization, "Example Org \xc3\xa9", "report_organization");
		CHECK_STR(c->report_contact, "TLS-RPT@example.net", "report_contact: domain lower-cased");
		CHECK_STR(c->report_submitter, "mta.example.net", "report_submitter normalised");
		CHECK_STR(c->report_from, "noreply@example.net", "report_from");
		CHECK_STR(c->dkim_key, "/etc/stsguard/dkim.pem", "dkim_key");
		CHECK_STR(c->dkim_selector, "tlsrpt-2026.a", "dkim_selector");
		CHECK_STR(c->dkim_domain, "example.net", "dkim_domain");
		CHECK_STR(c->report_sendmail, "/usr/sbin/sendmail  -oi -odq", "report_sendmail");
		CHECK_STR(c->report_spool, "/srv/sent", "report_spool");
		CHECK_INT(c->report_spread, 0, "report_spread 0: at 00:00Z");
	}
	stsguard_config_free(c);

	static const char *const bad[] = {
		"tlsrpt_dir = relative/dir\n",      "tlsrpt_retention = 0\n",
		"tlsrpt_retention = 3661\n",        "tlsrpt_retention = 1x\n",
		"report_organization = a\tb\n",    "report_contact = nobody\n",
		"report_contact = a@b@c.example\n", "report_contact = -x@example.net\n",
		"report_contact = a b@example.net\n", "report_from = a@example.net,b@example.net\n",
		"report_from = a@localhost\n",      "report_submitter = bad_name.example\n",
		"report_submitter = localhost\n",   "dkim_key = key.pem\n",
		"dkim_selector = -x\n",             "dkim_selector = a..b\n",
		"dkim_selector = a_b\n",            "dkim_domain = 1.2.3.4.5 6\n",
		"report_sendmail = sendmail -oi\n", "report_sendmail = /a 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
		"report_spool = spool\n",          "report_spread = 43201\n",
		"report_spread = -1\n",            "report_spread = 4h\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		c = &sentinel;
		CHECK_STATUS(stsguard_config_parse(bad[i], strlen(bad[i]), NAME, &c, &err), STSGUARD_INVALID, bad[i]);
		CHECK_TRUE(c == NULL, bad[i]);
		CHECK_TRUE(strncmp(err.msg, "t.conf:1:", 9) == 0, bad[i]);
	}
}

int main(void)
{
	size_t n = sizeof cases / sizeof cases[0];

	for (size_t i = 0; i < n; i++)
		run_case(&cases[i]);
	size_caps();
	load_cases();
	keys_list();
	tlsrpt_keys();
	report_keys();
	printf("test_config: %zu table cases\n", n);
	return check_summary();
}
