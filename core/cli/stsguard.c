/*
 * stsguard.c - the admin command line.
 *
 * A thin shell over libstsguard. Its interface is a contract that scripts
 * rely on (documented in docs/cli.md): exit 0 for a positive answer, 1 for a
 * negative one (reason on stderr), 2 for a usage error or unreadable input.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stsguard/config.h"
#include "stsguard/discover.h"
#include "stsguard/mx_pattern.h"
#include "stsguard/policy.h"
#include "stsguard/sts_txt.h"
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

static int cmd_query(int argc, char **argv)
{
	const char *domain = NULL, *config_path = NULL;
	int json = 0, direct = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--direct") == 0)
			direct = 1;
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			config_path = argv[++i];
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
		return usage("query needs --direct (queries through stsguardd come with the daemon)");

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
	{"query", "query DOMAIN --direct [--json] [-c FILE]",
	 "Discover DOMAIN's MTA-STS policy and print the verdict an MTA would get.\n"
	 "\n"
	 "  --direct   run discovery in this process (DNS, HTTPS) with the configured\n"
	 "             cache_dir, instead of asking stsguardd\n"
	 "  --json     one line of JSON: domain, verdict, policy_id, mode, max_age,\n"
	 "             expires_at, mx, source (fetched|cache), rua, error, result_type,\n"
	 "             error_detail, mx_hosts\n"
	 "  -c FILE    configuration file (default " STSGUARD_DEFAULT_CONFIG ")\n"
	 "\n"
	 "Verdicts: enforce, testing, none, no-policy, dane, tempfail.\n"
	 "Exit status: 0 for a definite verdict, 75 when the answer is \"try again\"\n"
	 "(tempfail), 2 for usage or configuration errors.\n",
	 cmd_query},
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
