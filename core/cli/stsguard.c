/*
 * stsguard.c - the admin command line.
 *
 * A thin shell over libstsguard. Its interface is a contract that scripts
 * rely on (documented in docs/cli.md): exit 0 for a positive answer, 1 for a
 * negative one (reason on stderr), 2 for a usage error or unreadable input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stsguard/mx_pattern.h"
#include "stsguard/policy.h"
#include "stsguard/sts_txt.h"
#include "stsguard/tlsrpt_txt.h"

#define EXIT_YES 0
#define EXIT_NO 1
#define EXIT_USAGE 2

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
