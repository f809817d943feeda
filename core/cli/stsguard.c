/*
 * stsguard.c - the admin command line.
 *
 * A thin shell over libstsguard. Its interface is a contract that scripts
 * rely on (documented in docs/cli.md): exit 0 for a positive answer, 1 for a
 * negative one (reason on stderr), 2 for a usage error or unreadable input.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "stsguard/config.h"
#include "stsguard/discover.h"
#include "stsguard/mx_pattern.h"
#include "stsguard/policy.h"
#include "stsguard/socketmap.h"
#include "stsguard/sts_txt.h"
#include "stsguard/tlsrpt_report.h"
#include "stsguard/tlsrpt_send.h"
#include "stsguard/tlsrpt_store.h"
#include "stsguard/tlsrpt_txt.h"

#define EXIT_YES 0
#define EXIT_NO 1
#define EXIT_USAGE 2
#define EXIT_TEMPFAIL 75 /* sysexits EX_TEMPFAIL: try again later */

struct command {
	const char *name;
	const char *synopsis;
	const char *help;
	int (*run)(int argc, char **argv);
};

static const struct command *find_command(const char *name);
static int usage(const char *msg);
static const char *daemon_socket(const stsguard_config *cfg);
static int daemon_request(const char *path, const char *map, const char *key, char **reply, size_t *rlen);
static int daemon_ask(const char *config_path, const char *socket_path, const char *map, const char *key,
                      char **reply, size_t *rlen);

/* Read a whole file (or stdin for "-") up to cap bytes; cap + 1 read means "too big". */
static int read_input(const char *path, size_t cap, char **out, size_t *outlen)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "stsguard: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	char *buf = malloc(cap + 1);
	if (buf == NULL) {
		fprintf(stderr, "stsguard: out of memory\n");
		if (f != stdin)
			fclose(f);
		return -1;
	}
	size_t n = fread(buf, 1, cap + 1, f);
	int bad = ferror(f);
	if (f != stdin)
		fclose(f);
	if (bad) {
		fprintf(stderr, "stsguard: cannot read %s\n", path);
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = n;
	return 0;
}

static stsguard_txt *records_from_args(int argc, char **argv)
{
	stsguard_txt *r = calloc((size_t)argc, sizeof *r);
	if (r == NULL)
		return NULL;
	for (int i = 0; i < argc; i++) {
		r[i].data = argv[i];
		r[i].len = strlen(argv[i]);
	}
	return r;
}

static int parse_sts_txt(int argc, char **argv)
{
	char id[STSGUARD_POLICY_ID_MAX + 1];
	stsguard_err err = {""};
	stsguard_txt *recs = records_from_args(argc, argv);

	if (recs == NULL) {
		fprintf(stderr, "stsguard: out of memory\n");
		return EXIT_USAGE;
	}
	stsguard_status st = stsguard_sts_txt_parse(recs, (size_t)argc, id, &err);
	free(recs);
	if (st == STSGUARD_OK) {
		printf("id=%s\n", id);
		return EXIT_YES;
	}
	fprintf(stderr, "stsguard: %s: %s\n", st == STSGUARD_NONE ? "no policy" : "invalid record", err.msg);
	return EXIT_NO;
}

static int parse_tlsrpt_txt(int argc, char **argv)
{
	stsguard_tlsrpt_record *rec;
	stsguard_err err = {""};
	stsguard_txt *recs = records_from_args(argc, argv);

	if (recs == NULL) {
		fprintf(stderr, "stsguard: out of memory\n");
		return EXIT_USAGE;
	}
	stsguard_status st = stsguard_tlsrpt_txt_parse(recs, (size_t)argc, &rec, &err);
	free(recs);
	if (st != STSGUARD_OK) {
		fprintf(stderr, "stsguard: %s: %s\n", st == STSGUARD_NONE ? "no TLSRPT record" : "invalid record",
		        err.msg);
		return EXIT_NO;
	}
	for (size_t i = 0; i < rec->n_rua; i++)
		printf("%s\n", rec->rua[i]);
	stsguard_tlsrpt_record_free(rec);
	return EXIT_YES;
}

static int parse_policy(const char *path)
{
	char *body;
	size_t len;
	stsguard_policy *p;
	stsguard_err err = {""};
	char *json;

	if (read_input(path, STSGUARD_POLICY_BODY_MAX, &body, &len) != 0)
		return EXIT_USAGE;
	stsguard_status st = stsguard_policy_parse(body, len, &p, &err);
	free(body);
	if (st != STSGUARD_OK) {
		fprintf(stderr, "stsguard: invalid policy: %s\n", err.msg);
		return EXIT_NO;
	}
	if (p->max_age_capped)
		fprintf(stderr, "stsguard: warning: max_age above %u, capped to %u\n", STSGUARD_MAX_AGE_LIMIT,
		        STSGUARD_MAX_AGE_LIMIT);
	st = stsguard_policy_to_json(p, &json);
	stsguard_policy_free(p);
	if (st != STSGUARD_OK) {
		fprintf(stderr, "stsguard: %s\n", stsguard_strerror(st));
		return EXIT_USAGE;
	}
	printf("%s\n", json);
	free(json);
	return EXIT_YES;
}

static int cmd_parse(int argc, char **argv)
{
	if (argc < 2)
		return usage("parse needs a kind (sts-txt, tlsrpt-txt, policy) and input");
	if (strcmp(argv[1], "sts-txt") == 0)
		return argc >= 3 ? parse_sts_txt(argc - 2, argv + 2) : usage("parse sts-txt needs RECORD...");
	if (strcmp(argv[1], "tlsrpt-txt") == 0)
		return argc >= 3 ? parse_tlsrpt_txt(argc - 2, argv + 2) : usage("parse tlsrpt-txt needs RECORD...");
	if (strcmp(argv[1], "policy") == 0)
		return argc == 3 ? parse_policy(argv[2]) : usage("parse policy needs exactly one FILE ('-' for stdin)");
	return usage("parse: unknown kind (sts-txt, tlsrpt-txt, policy)");
}

static int cmd_match(int argc, char **argv)
{
	if (argc != 3)
		return usage("match needs PATTERN HOSTNAME");
	if (stsguard_mx_pattern_match(argv[1], argv[2]))
		return EXIT_YES;
	fprintf(stderr, "stsguard: %s does not match %s\n", argv[2], argv[1]);
	return EXIT_NO;
}

static void print_discovery(const stsguard_discovery *d)
{
	const stsguard_policy *p = d->policy;

	printf("domain:    %s\n", d->domain);
	printf("verdict:   %s\n", stsguard_verdict_name(d->verdict));
	if (p != NULL) {
		char when[32] = "?";
		time_t t = (time_t)d->expires_at;
		struct tm tm;
		if (gmtime_r(&t, &tm) != NULL)
			strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("policy id: %s\n", d->policy_id);
		printf("mode:      %s\n", stsguard_mode_name(p->mode));
		printf("max_age:   %u (expires %s)\n", (unsigned)p->max_age, when);
		for (size_t i = 0; i < p->n_mx; i++)
			printf("mx:        %s\n", p->mx[i]);
	}
	printf("source:    %s\n", d->source == STSGUARD_SOURCE_CACHE ? "cache" : "fetched");
	for (size_t i = 0; d->tlsrpt != NULL && i < d->tlsrpt->n_rua; i++)
		printf("rua:       %s\n", d->tlsrpt->rua[i]);
	if (d->error != STSGUARD_REASON_NONE)
		printf("error:     %s (%s): %s\n", stsguard_reason_name(d->error), stsguard_reason_result_type(d->error),
		       d->error_detail);
	for (size_t i = 0; i < d->n_hosts; i++)
		printf("mx host:   %u %s %s%s\n", (unsigned)d->hosts[i].preference, d->hosts[i].host,
		       d->hosts[i].allowed ? "allowed" : "denied",
		       d->hosts[i].dane == STSGUARD_DANE_PRESENT   ? " dane"
		       : d->hosts[i].dane == STSGUARD_DANE_UNKNOWN ? " dane-unknown"
		                                                   : "");
}

static int query_daemon(const char *domain, int json, const char *config_path, const char *socket_path)
{
	char *reply = NULL;
	size_t rlen = 0;
	int rc = daemon_ask(config_path, socket_path, "query", domain, &reply, &rlen);
	if (rc != 0)
		return rc;
	if (strncmp(reply, "OK ", 3) != 0) {
		fprintf(stderr, "stsguard: %s\n", reply);
		rc = strncmp(reply, "NOTFOUND", 8) == 0 ? EXIT_USAGE : EXIT_TEMPFAIL;
		free(reply);
		return rc;
	}
	const char *js = reply + 3;
	if (json) {
		printf("%s\n", js);
	} else {
		/* The daemon speaks JSON; a short human summary of its main fields. */
		static const char *const fields[] = {"domain", "verdict", "policy_id", "mode", "max_age", "source", "error"};
		for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
			char pat[32];
			snprintf(pat, sizeof pat, "\"%s\":", fields[i]);
			const char *f = strstr(js, pat);
			if (f == NULL)
				continue;
			f += strlen(pat);
			size_t l = f[0] == '"' ? strcspn(f + 1, "\"") : strcspn(f, ",}");
			printf("%-10s %.*s\n", fields[i], (int)l, f[0] == '"' ? f + 1 : f);
		}
	}
	rc = strstr(js, "\"verdict\":\"tempfail\"") != NULL ? EXIT_TEMPFAIL : EXIT_YES;
	free(reply);
	return rc;
}

static int cmd_query(int argc, char **argv)
{
	const char *domain = NULL, *config_path = NULL, *socket_path = NULL;
	int json = 0, direct = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--direct") == 0)
			direct = 1;
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			config_path = argv[++i];
		else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			socket_path = argv[++i];
		else if (argv[i][0] == '-')
			return usage("query: unknown option");
		else if (domain == NULL)
			domain = argv[i];
		else
			return usage("query takes one DOMAIN");
	}
	if (domain == NULL)
		return usage("query needs a DOMAIN");
	if (!direct)
		return query_daemon(domain, json, config_path, socket_path);

	stsguard_config *cfg;
	stsguard_err err = {""};
	if (stsguard_config_load(config_path != NULL ? config_path : STSGUARD_DEFAULT_CONFIG, config_path == NULL, &cfg,
	                         &err) != STSGUARD_OK) {
		fprintf(stderr, "stsguard: %s\n", err.msg);
		return EXIT_USAGE;
	}
	char norm[STSGUARD_DOMAIN_MAX + 1];
	if (stsguard_domain_normalize(domain, norm) != STSGUARD_OK) {
		stsguard_config_free(cfg);
		return usage("query: DOMAIN must be a domain name in A-label (xn--) form");
	}

	stsguard_cache *cache = NULL;
	if (stsguard_cache_open(cfg->cache_dir, &cache, &err) != STSGUARD_OK) {
		fprintf(stderr, "stsguard: warning: %s; continuing without the persistent cache\n", err.msg);
		(void)stsguard_cache_open(NULL, &cache, NULL);
	}
	stsguard_dns *dns = NULL;
	if (stsguard_dns_new(&cfg->resolver, &dns, &err) != STSGUARD_OK || stsguard_fetch_global_init() != STSGUARD_OK) {
		fprintf(stderr, "stsguard: %s\n", err.msg[0] != '\0' ? err.msg : "cannot initialise libcurl");
		stsguard_dns_free(dns);
		stsguard_cache_close(cache);
		stsguard_config_free(cfg);
		return EXIT_TEMPFAIL;
	}
	stsguard_fetch_conf fconf = {
	    .ca_file = cfg->ca_file, .timeout_s = cfg->fetch_timeout, .proxy = cfg->proxy, .port = 0};
	stsguard_discover_env env = {
	    .dns = &stsguard_ldns_resolver_ops,
	    .dns_ctx = dns,
	    .fetch = &stsguard_curl_fetch_ops,
	    .fetch_ctx = &fconf,
	    .cache = cache,
	    .now = (int64_t)time(NULL),
	};
	stsguard_discovery *d = NULL;
	int rc;
	if (stsguard_discover(&env, norm, &d, &err) != STSGUARD_OK) {
		fprintf(stderr, "stsguard: %s\n", err.msg);
		rc = EXIT_TEMPFAIL;
	} else {
		char *out = NULL;
		if (json && stsguard_discovery_to_json(d, &out) == STSGUARD_OK)
			printf("%s\n", out);
		else if (!json)
			print_discovery(d);
		free(out);
		rc = d->verdict == STSGUARD_VERDICT_TEMPFAIL ? EXIT_TEMPFAIL : EXIT_YES;
	}
	stsguard_discovery_free(d);
	stsguard_dns_free(dns);
	stsguard_fetch_global_cleanup();
	stsguard_cache_close(cache);
	stsguard_config_free(cfg);
	return rc;
}

/* ---- talking to stsguardd over its unix socket (the admin maps live only there) */

#define DAEMON_REPLY_MAX (64u * 1024u * 1024u)

static const char *daemon_socket(const stsguard_config *cfg)
{
	for (size_t i = 0; i < cfg->n_listen; i++)
		if (strncmp(cfg->listen[i], "unix:", 5) == 0)
			return cfg->listen[i] + 5;
	return STSGUARD_DEFAULT_SOCKET;
}

/* One request, one reply payload (*reply for free()). -1 with a message on stderr. */
static int daemon_request(const char *path, const char *map, const char *key, char **reply, size_t *rlen)
{
	char payload[STSGUARD_SOCKETMAP_REQUEST_MAX + 1];
	char frame[STSGUARD_SOCKETMAP_REQUEST_MAX + 32];
	size_t plen, flen;
	struct sockaddr_un sun;

	int n = snprintf(payload, sizeof payload, "%s %s", map, key);
	if (n < 0 || (size_t)n >= sizeof payload) {
		fprintf(stderr, "stsguard: request too long\n");
		return -1;
	}
	plen = (size_t)n;
	if (stsguard_netstring_encode(payload, plen, frame, sizeof frame, &flen) != STSGUARD_OK)
		return -1;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		fprintf(stderr, "stsguard: socket path too long\n");
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		fprintf(stderr, "stsguard: cannot reach stsguardd at %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	size_t off = 0;
	while (off < flen) {
		ssize_t w = write(fd, frame + off, flen - off);
		if (w <= 0) {
			fprintf(stderr, "stsguard: write to stsguardd: %s\n", strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (buf == NULL) {
			close(fd);
			return -1;
		}
		const char *p;
		size_t used, pl;
		stsguard_err err = {""};
		stsguard_status st = stsguard_netstring_next(buf, len, DAEMON_REPLY_MAX, &used, &p, &pl, &err);
		if (st == STSGUARD_OK) {
			memmove(buf, p, pl);
			buf[pl] = '\0';
			*reply = buf;
			*rlen = pl;
			close(fd);
			return 0;
		}
		if (st != STSGUARD_NONE) {
			fprintf(stderr, "stsguard: bad reply from stsguardd: %s\n", err.msg);
			break;
		}
		if (len + 1 >= cap) {
			char *nb = cap < DAEMON_REPLY_MAX + 32 ? realloc(buf, cap * 2) : NULL;
			if (nb == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r <= 0) {
			fprintf(stderr, "stsguard: stsguardd closed the connection\n");
			break;
		}
		len += (size_t)r;
	}
	free(buf);
	close(fd);
	return -1;
}

/*
 * One request to stsguardd at socket_path, or at the first unix listen line
 * of the configuration. 0 with *reply; else the exit status to return
 * (EXIT_USAGE for a bad configuration, EXIT_TEMPFAIL when unreachable).
 */
static int daemon_ask(const char *config_path, const char *socket_path, const char *map, const char *key,
                      char **reply, size_t *rlen)
{
	stsguard_config *cfg;
	stsguard_err err = {""};
	if (stsguard_config_load(config_path != NULL ? config_path : STSGUARD_DEFAULT_CONFIG, config_path == NULL, &cfg,
	                         &err) != STSGUARD_OK) {
		fprintf(stderr, "stsguard: %s\n", err.msg);
		return EXIT_USAGE;
	}
	int rc = daemon_request(socket_path != NULL ? socket_path : daemon_socket(cfg), map, key, reply, rlen);
	stsguard_config_free(cfg);
	return rc == 0 ? 0 : EXIT_TEMPFAIL;
}

/* Run one admin request and print its value; exit status from the reply kind. */
static int daemon_print(const char *config_path, const char *socket_path, const char *map, const char *key)
{
	char *reply = NULL;
	size_t rlen = 0;
	int rc = daemon_ask(config_path, socket_path, map, key, &reply, &rlen);
	if (rc != 0)
		return rc;
	if (rlen >= 3 && strncmp(reply, "OK ", 3) == 0) {
		printf("%s\n", reply + 3);
		rc = EXIT_YES;
	} else if (strncmp(reply, "NOTFOUND", 8) == 0) {
		fprintf(stderr, "stsguard: not found\n");
		rc = EXIT_NO;
	} else if (strncmp(reply, "TEMP", 4) == 0 || strncmp(reply, "TIMEOUT", 7) == 0) {
		fprintf(stderr, "stsguard: %s\n", reply);
		rc = EXIT_TEMPFAIL;
	} else {
		fprintf(stderr, "stsguard: %s\n", reply);
		rc = EXIT_USAGE;
	}
	free(reply);
	return rc;
}

/*
 * Common options of the daemon commands, anywhere on the line: -c FILE,
 * -s SOCKET. The operands are moved to the front of argv; returns their count.
 */
static int daemon_opts(int argc, char **argv, const char **config_path, const char **socket_path)
{
	int n = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			*config_path = argv[++i];
		else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			*socket_path = argv[++i];
		else
			argv[n++] = argv[i];
	}
	return n;
}

static int cmd_cache(int argc, char **argv)
{
	const char *cp = NULL, *sp = NULL;
	int n = daemon_opts(argc, argv, &cp, &sp);
	if (n == 1 && strcmp(argv[0], "list") == 0)
		return daemon_print(cp, sp, "cache-list", "*");
	if (n == 2 && strcmp(argv[0], "show") == 0)
		return daemon_print(cp, sp, "cache-show", argv[1]);
	if (n == 1 && strcmp(argv[0], "purge") == 0)
		return daemon_print(cp, sp, "cache-purge", "*");
	if (n == 2 && strcmp(argv[0], "purge") == 0)
		return daemon_print(cp, sp, "cache-purge", argv[1]);
	return usage("cache needs list, show DOMAIN or purge [DOMAIN]");
}

static int cmd_stats(int argc, char **argv)
{
	const char *cp = NULL, *sp = NULL;
	if (daemon_opts(argc, argv, &cp, &sp) != 0)
		return usage("stats takes no operand");
	return daemon_print(cp, sp, "stats", "*");
}

static int cmd_checkconf(int argc, char **argv)
{
	const char *path = STSGUARD_DEFAULT_CONFIG;
	if (argc == 3 && strcmp(argv[1], "-c") == 0)
		path = argv[2];
	else if (argc != 1)
		return usage("checkconf [-c FILE]");
	stsguard_config *cfg;
	stsguard_err err = {""};
	if (stsguard_config_load(path, 0, &cfg, &err) != STSGUARD_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return EXIT_NO;
	}
	stsguard_config_free(cfg);
	printf("%s: OK\n", path);
	return EXIT_YES;
}

/* ---- TLS-RPT reports: stsguard report list | show | send ---- */

#define DKIM_KEY_FILE_MAX (64u * 1024u)

struct report_opts {
	const char *config_path;
	const char *dir;     /* --dir: overrides tlsrpt_dir */
	const char *day;     /* --day */
	const char *out;     /* --out */
	int dry_run;
	const char *domain;  /* show */
	char day_buf[STSGUARD_TLSRPT_DAY_LEN + 1];
	int64_t now;
	stsguard_config *cfg;
	stsguard_tlsrpt_store *store;
};

/*
 * The clock: time(2), or STSGUARD_TEST_NOW (decimal Unix time) so that the
 * golden and world tests get fixed Date, Message-ID and t= values. For
 * tests only; documented in docs/cli.md.
 */
static int64_t report_now(void)
{
	const char *t = getenv("STSGUARD_TEST_NOW");
	if (t != NULL && *t != '\0' && strlen(t) <= 12) {
		int64_t v = 0;
		const char *p;
		for (p = t; *p >= '0' && *p <= '9'; p++)
			v = v * 10 + (*p - '0');
		if (*p == '\0')
			return v;
	}
	return (int64_t)time(NULL);
}

static void report_close(struct report_opts *o)
{
	stsguard_tlsrpt_store_close(o->store);
	stsguard_config_free(o->cfg);
}

/* Options shared by the report subcommands; opens config and store. EXIT_YES or an exit code. */
static int report_open(int argc, char **argv, struct report_opts *o, int want_domain)
{
	stsguard_err err = {""};
	memset(o, 0, sizeof *o);
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			o->config_path = argv[++i];
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			o->dir = argv[++i];
		else if (strcmp(argv[i], "--day") == 0 && i + 1 < argc)
			o->day = argv[++i];
		else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			o->out = argv[++i];
		else if (strcmp(argv[i], "--dry-run") == 0)
			o->dry_run = 1;
		else if (argv[i][0] == '-')
			return usage("report: unknown option");
		else if (want_domain && o->domain == NULL)
			o->domain = argv[i];
		else
			return usage("report: unexpected operand");
	}
	if (want_domain && o->domain == NULL)
		return usage("report show needs a DOMAIN");
	o->now = report_now();
	if (o->day == NULL) {
		/* Default: yesterday, the last complete UTC day (RFC 8460 §4.1). */
		if (stsguard_tlsrpt_day_name(o->now - 86400, o->day_buf) != STSGUARD_OK)
			return usage("report: the clock is out of range");
		o->day = o->day_buf;
	} else {
		int64_t start;
		if (stsguard_tlsrpt_day_parse(o->day, &start) != STSGUARD_OK)
			return usage("report: --day must be a date YYYY-MM-DD");
	}
	if (stsguard_config_load(o->config_path != NULL ? o->config_path : STSGUARD_DEFAULT_CONFIG,
	                         o->config_path == NULL, &o->cfg, &err) != STSGUARD_OK) {
		fprintf(stderr, "stsguard: %s\n", err.msg);
		return EXIT_USAGE;
	}
	stsguard_tlsrpt_store_settings set = {.read_only = true};
	const char *dir = o->dir != NULL ? o->dir : o->cfg->tlsrpt_dir;
	stsguard_status st = stsguard_tlsrpt_store_open(dir, &set, &o->store, &err);
	if (st != STSGUARD_OK) {
		if (err.msg[0] != '\0')
			fprintf(stderr, "stsguard: %s\n", err.msg);
		else
			fprintf(stderr, "stsguard: %s: %s\n", dir, stsguard_strerror(st));
		report_close(o);
		return EXIT_USAGE;
	}
	return EXIT_YES;
}

static int add_to_agg(void *ctx, const stsguard_tlsrpt_result *r)
{
	(void)stsguard_tlsrpt_report_add(ctx, r, NULL);
	return 0;
}

/* Aggregate o->day; EXIT_YES with *agg set, or an exit code with the reason on stderr. */
static int report_aggregate(struct report_opts *o, stsguard_tlsrpt_report **agg, stsguard_tlsrpt_day_stats *ds)
{
	stsguard_err err = {""};
	if (stsguard_tlsrpt_report_new(o->day, NULL, agg, &err) != STSGUARD_OK) {
		fprintf(stderr, "stsguard: %s\n", err.msg);
		return EXIT_USAGE;
	}
	stsguard_status st = stsguard_tlsrpt_store_foreach_day(o->store, o->day, add_to_agg, *agg, ds, &err);
	if (st == STSGUARD_NONE || (st == STSGUARD_OK && stsguard_tlsrpt_report_domain_count(*agg) == 0)) {
		fprintf(stderr, "stsguard: no results for %s\n", o->day);
		stsguard_tlsrpt_report_free(*agg);
		*agg = NULL;
		return EXIT_NO;
	}
	if (st != STSGUARD_OK) {
		fprintf(stderr, "stsguard: %s\n", err.msg);
		stsguard_tlsrpt_report_free(*agg);
		*agg = NULL;
		return EXIT_TEMPFAIL;
	}
	return EXIT_YES;
}

static int report_list(int argc, char **argv)
{
	struct report_opts o;
	stsguard_tlsrpt_report *agg = NULL;
	stsguard_tlsrpt_day_stats ds = {0};
	int rc = report_open(argc, argv, &o, 0);
	if (rc != EXIT_YES)
		return rc;
	if (o.out != NULL || o.dry_run) {
		report_close(&o);
		return usage("report list takes only --day, --dir and -c");
	}
	rc = report_aggregate(&o, &agg, &ds);
	if (rc == EXIT_YES) {
		size_t n = stsguard_tlsrpt_report_domain_count(agg);
		printf("# %s: %zu policy domains, %" PRIu64 " results, %" PRIu64 " lines skipped\n", o.day, n,
		       ds.results, ds.skipped);
		printf("# domain successful failed\n");
		for (size_t i = 0; i < n; i++) {
			const char *d = stsguard_tlsrpt_report_domain(agg, i);
			stsguard_tlsrpt_report_stats st;
			if (stsguard_tlsrpt_report_stats_get(agg, d, &st) == STSGUARD_OK)
				printf("%s %" PRIu64 " %" PRIu64 "\n", d, st.successful_sessions, st.failed_sessions);
		}
	}
	stsguard_tlsrpt_report_free(agg);
	report_close(&o);
	return rc;
}

/* Indent the compact JSON of the report builder, two spaces a level. */
static void print_pretty_json(const char *js)
{
	int depth = 0, in_str = 0;
	for (const char *p = js; *p != '\0'; p++) {
		char c = *p;
		if (in_str) {
			putchar(c);
			if (c == '\\' && p[1] != '\0')
				putchar(*++p);
			else if (c == '"')
				in_str = 0;
			continue;
		}
		switch (c) {
		case '"':
			in_str = 1;
			putchar(c);
			break;
		case '{':
		case '[':
			if (p[1] == (c == '{' ? '}' : ']')) { /* empty: stays on one line */
				putchar(c);
				putchar(*++p);
				break;
			}
			putchar(c);
			printf("\n%*s", 2 * ++depth, "");
			break;
		case '}':
		case ']':
			printf("\n%*s%c", 2 * --depth, "", c);
			break;
		case ',':
			printf(",\n%*s", 2 * depth, "");
			break;
		case ':':
			printf(": ");
			break;
		default:
			putchar(c);
		}
	}
	putchar('\n');
}

static int report_meta(const stsguard_config *cfg, stsguard_tlsrpt_report_meta *meta)
{
	if (cfg->report_organization == NULL || cfg->report_contact == NULL || cfg->report_submitter == NULL) {
		fprintf(stderr, "stsguard: reports need report_organization, report_contact and report_submitter "
		                "in the configuration\n");
		return EXIT_USAGE;
	}
	meta->organization_name = cfg->report_organization;
	meta->contact_info = cfg->report_contact;
	meta->submitter = cfg->report_submitter;
	meta->unique_id = NULL;
	return EXIT_YES;
}

static void sg_err_cli(stsguard_err *err, const char *msg)
{
	snprintf(err->msg, sizeof err->msg, "%s", msg);
}

static int report_show(int argc, char **argv)
{
	struct report_opts o;
	stsguard_tlsrpt_report *agg = NULL;
	stsguard_tlsrpt_day_stats ds = {0};
	stsguard_tlsrpt_report_meta meta;
	stsguard_err err = {""};
	int rc = report_open(argc, argv, &o, 1);
	if (rc != EXIT_YES)
		return rc;
	if (o.out != NULL || o.dry_run)
		rc = usage("report show takes only --day, --dir and -c");
	if (rc == EXIT_YES)
		rc = report_meta(o.cfg, &meta);
	if (rc == EXIT_YES)
		rc = report_aggregate(&o, &agg, &ds);
	if (rc == EXIT_YES) {
		char norm[STSGUARD_DOMAIN_MAX + 1];
		char *json = NULL;
		stsguard_status st = stsguard_domain_normalize(o.domain, norm);
		if (st != STSGUARD_OK)
			sg_err_cli(&err, "DOMAIN must be a domain name in A-label (xn--) form");
		else
			st = stsguard_tlsrpt_report_json(agg, norm, &meta, &json, NULL, &err);
		if (st == STSGUARD_OK) {
			print_pretty_json(json);
		} else {
			fprintf(stderr, "stsguard: %s\n",
			        st == STSGUARD_NONE ? "no results for that domain on that day" : err.msg);
			rc = st == STSGUARD_NONE || st == STSGUARD_INVALID ? EXIT_NO : EXIT_USAGE;
		}
		free(json);
	}
	stsguard_tlsrpt_report_free(agg);
	report_close(&o);
	return rc;
}

static void report_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "stsguard: %s%s\n", level <= STSGUARD_LOG_ERROR ? "error: " : "", msg);
}

/* Read the DKIM key file (PEM text, capped). */
static char *read_key(const char *path)
{
	char *buf;
	size_t len;
	if (read_input(path, DKIM_KEY_FILE_MAX, &buf, &len) != 0)
		return NULL;
	if (len > DKIM_KEY_FILE_MAX || memchr(buf, '\0', len) != NULL) {
		fprintf(stderr, "stsguard: %s: not a PEM key file\n", path);
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static int report_send(int argc, char **argv)
{
	struct report_opts o;
	stsguard_tlsrpt_report_meta meta;
	stsguard_err err = {""};
	stsguard_dns *dns = NULL;
	char *key = NULL;
	int rc = report_open(argc, argv, &o, 0);
	if (rc != EXIT_YES)
		return rc;
	rc = report_meta(o.cfg, &meta);
	if (rc == EXIT_YES && o.cfg->report_from == NULL) {
		fprintf(stderr, "stsguard: reports need report_from in the configuration\n");
		rc = EXIT_USAGE;
	}
	if (rc == EXIT_YES && o.out != NULL && mkdir(o.out, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "stsguard: %s: %s\n", o.out, strerror(errno));
		rc = EXIT_USAGE;
	}
	stsguard_tlsrpt_dkim dkim = {0};
	if (rc == EXIT_YES && o.cfg->dkim_key != NULL) {
		key = read_key(o.cfg->dkim_key);
		if (key == NULL)
			rc = EXIT_USAGE;
		dkim.key_pem = key;
		dkim.selector = o.cfg->dkim_selector;
		dkim.domain = o.cfg->dkim_domain != NULL ? o.cfg->dkim_domain : strchr(o.cfg->report_from, '@') + 1;
	}
	if (rc == EXIT_YES &&
	    (stsguard_dns_new(&o.cfg->resolver, &dns, &err) != STSGUARD_OK || stsguard_fetch_global_init() != STSGUARD_OK)) {
		fprintf(stderr, "stsguard: %s\n", err.msg[0] != '\0' ? err.msg : "cannot initialise libcurl");
		rc = EXIT_TEMPFAIL;
	}
	if (rc != EXIT_YES) {
		stsguard_dns_free(dns);
		free(key);
		report_close(&o);
		return rc;
	}
	stsguard_tlsrpt_deliver_conf dconf = {
		.ca_file = o.cfg->ca_file,
		.timeout_s = o.cfg->fetch_timeout * 3,
		.proxy = o.cfg->proxy,
		.dns = &stsguard_ldns_resolver_ops,
		.dns_ctx = dns,
		.sendmail = o.cfg->report_sendmail,
		.smtp = o.cfg->report_smtp,
	};
	stsguard_tlsrpt_send_env env = {
		.store = o.store,
		.spool_dir = o.cfg->report_spool,
		.dns = &stsguard_ldns_resolver_ops,
		.dns_ctx = dns,
		.deliver = &stsguard_tlsrpt_real_deliver_ops,
		.deliver_ctx = &dconf,
		.meta = meta,
		.report_from = o.cfg->report_from,
		.dkim = key != NULL ? &dkim : NULL,
		.now = o.now,
		.dry_run = o.dry_run != 0,
		.out_dir = o.out,
		.log = report_log,
	};
	stsguard_tlsrpt_send_summary sum;
	stsguard_status st = stsguard_tlsrpt_send_day(&env, o.day, &sum, &err);
	if (st == STSGUARD_OK) {
		printf("%s: %zu domains, %zu reports built, %zu delivered, %zu failed, %zu waiting, %zu already "
		       "delivered, %zu given up, %zu without TLSRPT record, %zu held by the loop guard%s\n",
		       o.day, sum.domains, sum.built, sum.delivered, sum.failed, sum.waiting, sum.already, sum.given_up,
		       sum.no_rua, sum.loop_guarded, o.dry_run ? " (dry run: nothing sent)" : "");
		if (sum.next_attempt > 0)
			printf("next attempt at %" PRId64 "\n", sum.next_attempt);
		rc = sum.failed > 0 ? EXIT_TEMPFAIL : EXIT_YES;
	} else if (st == STSGUARD_NONE) {
		fprintf(stderr, "stsguard: no results for %s\n", o.day);
		rc = EXIT_NO;
	} else {
		fprintf(stderr, "stsguard: %s\n", err.msg);
		rc = st == STSGUARD_TEMPFAIL || st == STSGUARD_IO ? EXIT_TEMPFAIL : EXIT_USAGE;
	}
	stsguard_dns_free(dns);
	stsguard_fetch_global_cleanup();
	free(key);
	report_close(&o);
	return rc;
}

static int cmd_report(int argc, char **argv)
{
	if (argc < 2)
		return usage("report needs list, show DOMAIN or send");
	if (strcmp(argv[1], "list") == 0)
		return report_list(argc - 2, argv + 2);
	if (strcmp(argv[1], "show") == 0)
		return report_show(argc - 2, argv + 2);
	if (strcmp(argv[1], "send") == 0)
		return report_send(argc - 2, argv + 2);
	return usage("report needs list, show DOMAIN or send");
}

static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
	{"parse", "parse sts-txt RECORD... | parse tlsrpt-txt RECORD... | parse policy FILE",
	 "Check MTA-STS and TLS-RPT records the way stsguard reads them.\n"
	 "\n"
	 "  parse sts-txt RECORD...     the whole TXT RRset at _mta-sts.<domain>, one argument\n"
	 "                              per record (strings of a record already joined).\n"
	 "                              Valid: prints id=<id>, exit 0. No policy or invalid:\n"
	 "                              the reason on stderr, exit 1.\n"
	 "  parse tlsrpt-txt RECORD...  the whole TXT RRset at _smtp._tls.<domain>.\n"
	 "                              Valid: prints each rua URI on its own line, in record\n"
	 "                              order, exit 0. None or invalid: exit 1.\n"
	 "  parse policy FILE           the raw body of a fetched mta-sts.txt ('-' reads stdin).\n"
	 "                              Valid: one line of JSON, exit 0. Invalid: the line and\n"
	 "                              what is wrong on stderr, exit 1.\n",
	 cmd_parse},
	{"match", "match PATTERN HOSTNAME",
	 "Does MX host HOSTNAME match the policy mx PATTERN (RFC 8461 section 4.1)?\n"
	 "'*.example.com' matches exactly one leftmost label ('mx1.example.com', not\n"
	 "'example.com' nor 'a.b.example.com'); comparison ignores case and one\n"
	 "trailing dot on HOSTNAME. Match: exit 0. No match: exit 1.\n",
	 cmd_match},
	{"query", "query DOMAIN [--direct] [--json] [-c FILE] [-s SOCKET]",
	 "Discover DOMAIN's MTA-STS policy and print the verdict an MTA would get.\n"
	 "Without --direct, stsguardd does the discovery (with its cache) and answers.\n"
	 "\n"
	 "  --direct   run discovery in this process (DNS, HTTPS) with the configured\n"
	 "             cache_dir, instead of asking stsguardd\n"
	 "  -s SOCKET  stsguardd's unix socket (default: the first unix listen line)\n"
	 "  --json     one line of JSON: domain, verdict, policy_id, mode, max_age,\n"
	 "             expires_at, mx, source (fetched|cache), rua, error, result_type,\n"
	 "             error_detail, mx_hosts\n"
	 "  -c FILE    configuration file (default " STSGUARD_DEFAULT_CONFIG ")\n"
	 "\n"
	 "Verdicts: enforce, testing, none, no-policy, dane, tempfail.\n"
	 "Exit status: 0 for a definite verdict, 75 when the answer is \"try again\"\n"
	 "(tempfail), 2 for usage or configuration errors.\n",
	 cmd_query},
	{"cache", "cache [-c FILE] [-s SOCKET] list | show DOMAIN | purge [DOMAIN]",
	 "Look at stsguardd's policy cache, through its unix socket.\n"
	 "\n"
	 "  list           every cached domain, one JSON array\n"
	 "  show DOMAIN    one domain's entry as JSON (exit 1 if not cached)\n"
	 "  purge [DOMAIN] forget one domain (or all): the next lookup discovers anew\n",
	 cmd_cache},
	{"stats", "stats [-c FILE] [-s SOCKET]",
	 "stsguardd's counters as JSON: lookups per map and answer, discoveries and\n"
	 "their failures by reason, domains and policies in memory, cache entries,\n"
	 "clients, uptime.\n",
	 cmd_stats},
	{"report", "report list|show DOMAIN|send [--day YYYY-MM-DD] [--dry-run] [--out DIR] [--dir DIR] [-c FILE]",
	 "TLS-RPT reports (RFC 8460) from the result store (tlsrpt_dir, or --dir),\n"
	 "read-only. --day is a UTC day; the default is yesterday.\n"
	 "\n"
	 "  list            the policy domains of the day, one a line:\n"
	 "                  DOMAIN SUCCESSFUL-SESSIONS FAILED-SESSIONS\n"
	 "  show DOMAIN     the day's report for DOMAIN, the JSON we send, indented\n"
	 "  send            deliver the day's reports to the rua of each domain's\n"
	 "                  _smtp._tls record (HTTPS POST, or DKIM-signed mail through\n"
	 "                  report_sendmail); attempts are logged in report_spool and\n"
	 "                  a later run retries what failed once its backoff is over\n"
	 "  --dry-run       look up and build every report, send nothing, record nothing\n"
	 "  --out DIR       also write each report's .json.gz and each mail (.eml) to DIR\n"
	 "\n"
	 "Exit status: 0 done; 1 no results for that day (or domain); 75 some delivery\n"
	 "failed and will be retried, or another send is running; 2 usage or\n"
	 "configuration error.\n",
	 cmd_report},
	{"checkconf", "checkconf [-c FILE]",
	 "Check a configuration file: prints FILE: OK (exit 0), or the first error as\n"
	 "FILE:LINE: what is wrong (exit 1).\n",
	 cmd_checkconf},
	{"help", "help [COMMAND]", "Show the list of commands, or the help of one command.\n", cmd_help},
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void print_overview(FILE *f)
{
	fprintf(f, "usage: stsguard COMMAND [ARGS]\n\n"
	           "MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) for outbound mail.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  stsguard %s\n", commands[i].synopsis);
	fprintf(f, "\n'stsguard help COMMAND' explains one command.\n"
	           "Exit status: 0 yes/valid, 1 no/invalid, 2 usage error.\n");
}

static int cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		print_overview(stdout);
		return EXIT_YES;
	}
	const struct command *c = find_command(argv[1]);
	if (c == NULL)
		return usage("help: no such command");
	printf("usage: stsguard %s\n\n%s", c->synopsis, c->help);
	return EXIT_YES;
}

static int usage(const char *msg)
{
	fprintf(stderr, "stsguard: %s\n", msg);
	fprintf(stderr, "Try 'stsguard --help'.\n");
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage("no command given");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		print_overview(stdout);
		return EXIT_YES;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("stsguard " STSGUARD_VERSION "\n");
		return EXIT_YES;
	}
	const struct command *c = find_command(argv[1]);
	if (c == NULL)
		return usage("unknown command");
	if (argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
		char *hargv[] = {argv[0], argv[1]};
		return cmd_help(2, hargv);
	}
	return c->run(argc - 1, argv + 1);
}
