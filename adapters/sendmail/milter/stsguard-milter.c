/* stsguard-milter - warm stsguardd's policy cache at RCPT time.
 *
 * Why: milters only see the inbound transaction (shared/reference §7), so
 * this one cannot enforce anything; Sendmail's own FEATURE(sts) does that at
 * delivery.  What a milter can do is name the recipient domain early: for
 * each RCPT TO whose mailer is not local it sends stsguardd
 * `prefetch <domain>` (docs/PROTOCOL.md §5.5), so the policy of a domain
 * never written to before is usually cached when the queue runs, and the
 * very first message to it is already protected.
 *
 * Contract: always SMFIS_CONTINUE; never modifies a message; every request
 * is bounded by -t milliseconds (default 100) and fails open; duplicates
 * within one message are skipped (at most SMM_DOMAINS_MAX distinct domains
 * per message are prefetched).  One connection to stsguardd per SMTP
 * connection (adapters/common/smclient: deadlines, reconnect once).  Usage:
 *   stsguard-milter -p unix:/run/stsguard/milter.sock
 *                   -d /run/stsguard/stsguardd.sock [-t MS] [-v] [-e]
 * Runs in the foreground (a supervisor daemonises); logs to syslog (mail),
 * with -e to stderr as well. */
#include "rcpt_domain.h"
#include "smclient.h"

#include <libmilter/mfapi.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#define SMM_DOMAINS_MAX 32

static const char *daemon_path;
static int timeout_ms = 100;
static int verbose;
static int log_stderr;

/* Log "stsguardd unreachable" once per outage, not once per recipient. */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static int daemon_away;

/* libmilter's API takes char *, not const char * */
static char sym_rcpt_mailer[] = "{rcpt_mailer}";
static char milter_name[] = "stsguard-milter";

struct connctx {
	struct smc daemon;  /* this SMTP connection's link to stsguardd */
	size_t n;           /* domains prefetched for the current message */
	char seen[SMM_DOMAINS_MAX][SMP_DOMAIN_MAX + 1];
};

static void note_state(int away, const char *domain, const char *why)
{
	int changed;

	pthread_mutex_lock(&state_lock);
	changed = daemon_away != away;
	daemon_away = away;
	pthread_mutex_unlock(&state_lock);
	if (changed && away)
		syslog(LOG_WARNING, "stsguardd unreachable, not prefetching (first failure: %s: %s)", domain, why);
	else if (changed)
		syslog(LOG_NOTICE, "stsguardd reachable again");
}

static sfsistat on_envrcpt(SMFICTX *ctx, char **argv)
{
	struct connctx *c = smfi_getpriv(ctx);
	const char *mailer = smfi_getsymval(ctx, sym_rcpt_mailer);
	char domain[SMP_DOMAIN_MAX + 1], reply[256], err[256];
	size_t i;

	if (argv == NULL || argv[0] == NULL)
		return SMFIS_CONTINUE;
	/* local, prog, file and error deliveries never leave over SMTP */
	if (mailer != NULL && (strcmp(mailer, "local") == 0 || strcmp(mailer, "prog") == 0 ||
	                       strcmp(mailer, "*file*") == 0 || strcmp(mailer, "*include*") == 0 ||
	                       strcmp(mailer, "error") == 0))
		return SMFIS_CONTINUE;
	if (!smp_rcpt_domain(argv[0], 1024, domain))
		return SMFIS_CONTINUE;
	if (c == NULL) {
		c = calloc(1, sizeof *c);
		if (c == NULL)
			return SMFIS_CONTINUE;
		c->daemon = (struct smc)SMC_INIT;
		if (smfi_setpriv(ctx, c) != MI_SUCCESS) {
			free(c);
			return SMFIS_CONTINUE;
		}
	}
	for (i = 0; i < c->n; i++)
		if (strcmp(c->seen[i], domain) == 0)
			return SMFIS_CONTINUE;
	if (c->n == SMM_DOMAINS_MAX)
		return SMFIS_CONTINUE;
	memcpy(c->seen[c->n++], domain, strlen(domain) + 1);

	if (smc_query(&c->daemon, daemon_path, "prefetch", domain, timeout_ms, reply, sizeof reply, err,
	              sizeof err) != 0) {
		note_state(1, domain, err);
		return SMFIS_CONTINUE;
	}
	note_state(0, domain, "");
	if (strncmp(reply, "OK ", 3) != 0)
		syslog(LOG_NOTICE, "prefetch %s: stsguardd answered '%s'", domain, reply);
	else if (verbose)
		syslog(LOG_INFO, "prefetch %s: %s", domain, reply + 3);
	return SMFIS_CONTINUE;
}

/* a new message starts with an empty list (the connection to stsguardd stays) */
static sfsistat end_message(SMFICTX *ctx)
{
	struct connctx *c = smfi_getpriv(ctx);

	if (c != NULL)
		c->n = 0;
	return SMFIS_CONTINUE;
}

static sfsistat on_eom(SMFICTX *ctx) { return end_message(ctx); }
static sfsistat on_abort(SMFICTX *ctx) { return end_message(ctx); }

static sfsistat on_close(SMFICTX *ctx)
{
	struct connctx *c = smfi_getpriv(ctx);

	if (c != NULL) {
		smfi_setpriv(ctx, NULL);
		smc_close(&c->daemon);
		free(c);
	}
	return SMFIS_CONTINUE;
}

static struct smfiDesc desc = {
	.xxfi_name = milter_name,
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = 0,
	.xxfi_envrcpt = on_envrcpt,
	.xxfi_eom = on_eom,
	.xxfi_abort = on_abort,
	.xxfi_close = on_close,
};

static void usage(void)
{
	fprintf(stderr, "usage: stsguard-milter -p MILTER_SOCKET -d STSGUARDD_SOCKET [-t MS] [-v] [-e]\n"
	                "  -p  where Sendmail connects: unix:/path or inet:PORT@ADDRESS\n"
	                "  -d  stsguardd's unix socket: /path or unix:/path\n"
	                "  -t  time limit per prefetch request in ms (1-5000, default 100)\n"
	                "  -v  log every prefetch\n"
	                "  -e  log to stderr too\n");
	exit(64);
}

int main(int argc, char **argv)
{
	char *listen = NULL;
	const char *dspec = NULL;
	int c;

	while ((c = getopt(argc, argv, "p:d:t:ve")) != -1) {
		switch (c) {
		case 'p':
			listen = optarg;
			break;
		case 'd':
			dspec = optarg;
			break;
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 1 || v > 5000)
				usage();
			timeout_ms = (int)v;
			break;
		}
		case 'v':
			verbose = 1;
			break;
		case 'e':
			log_stderr = 1;
			break;
		default:
			usage();
		}
	}
	if (listen == NULL || dspec == NULL || optind != argc)
		usage();
	if (strncmp(dspec, "unix:", 5) == 0)
		dspec += 5;
	if (dspec[0] != '/' || strlen(dspec) >= sizeof ((struct smc)SMC_INIT).path) {
		fprintf(stderr, "stsguard-milter: -d wants the absolute path of stsguardd's unix socket\n");
		return 64;
	}
	daemon_path = dspec;
	openlog("stsguard-milter", LOG_PID | (log_stderr ? LOG_PERROR : 0), LOG_MAIL);
	signal(SIGPIPE, SIG_IGN);
	if (strncmp(listen, "unix:", 5) == 0 || strncmp(listen, "local:", 6) == 0)
		umask(007); /* the socket: owner and group (Sendmail's) only */
	if (smfi_setconn(listen) != MI_SUCCESS || smfi_register(desc) != MI_SUCCESS) {
		fprintf(stderr, "stsguard-milter: cannot use %s\n", listen);
		return 70;
	}
	/* remove a stale socket of a previous run */
	if (smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "stsguard-milter: cannot listen on %s\n", listen);
		return 70;
	}
	syslog(LOG_INFO, "listening on %s, prefetching through %s (%d ms)", listen, dspec, timeout_ms);
	c = smfi_main();
	return c == MI_SUCCESS ? 0 : 70;
}
