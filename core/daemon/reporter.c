/*
 * reporter.c - the daily TLS-RPT report sender thread (see reporter.h).
 *
 * The thread owns its own copy of the configuration, a read-only view of
 * the result store (the recorder holds the writable one; a walk of a past
 * day is not disturbed by appends to today's file), its resolver and the
 * DKIM key. It sleeps on a condition variable until the wake-up time
 * send_due() returns (at most an hour, so a changed clock is noticed), or
 * until it is kicked or stopped.
 */
#include "reporter.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "stsguard/config.h"
#include "stsguard/dns.h"
#include "stsguard/tlsrpt_mail.h"
#include "stsguard/tlsrpt_send.h"
#include "stsguard/tlsrpt_store.h"
#include "util.h"

#define KEY_MAX (64u * 1024u)
#define MAX_SLEEP_S 3600
#define MIN_SLEEP_S 60

struct reporter {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int stop, kick;
	stsguard_config *conf;
	stsguard_tlsrpt_store *store;
	stsguard_dns *dns;
	char *key;
	uint64_t seed;
};

static void send_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	dlog(level <= STSGUARD_LOG_ERROR ? LOG_ERR : level <= STSGUARD_LOG_WARNING ? LOG_WARNING : LOG_INFO,
	     "tlsrpt report: %s", msg);
}

/* A stable per-host seed (FNV-1a of /etc/machine-id, else the host name): the send time stays put across restarts. */
static uint64_t host_seed(void)
{
	char buf[256] = "";
	int fd = open("/etc/machine-id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0 && gethostname(buf, sizeof buf - 1) != 0)
		buf[0] = '\0';
	buf[sizeof buf - 1] = '\0';
	uint64_t h = UINT64_C(1469598103934665603);
	for (const char *p = buf; *p != '\0'; p++) {
		h ^= (unsigned char)*p;
		h *= UINT64_C(1099511628211);
	}
	return h;
}

static char *read_key(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		dlog(LOG_ERR, "dkim_key %s: %s; mailto: reports cannot be sent", path, strerror(errno));
		return NULL;
	}
	char *buf = malloc(KEY_MAX + 1);
	size_t len = 0;
	ssize_t n;
	while (buf != NULL && len < KEY_MAX && (n = read(fd, buf + len, KEY_MAX - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (buf == NULL || len == 0 || len >= KEY_MAX || memchr(buf, '\0', len) != NULL) {
		dlog(LOG_ERR, "dkim_key %s: not a PEM key file; mailto: reports cannot be sent", path);
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static void *run(void *arg)
{
	struct reporter *r = arg;
	const stsguard_config *c = r->conf;
	stsguard_tlsrpt_dkim dkim = {r->key, c->dkim_selector,
	                             c->dkim_domain != NULL ? c->dkim_domain : strchr(c->report_from, '@') + 1};
	stsguard_tlsrpt_deliver_conf dconf = {
		.ca_file = c->ca_file,
		.timeout_s = c->fetch_timeout * 3,
		.proxy = c->proxy,
		.dns = &stsguard_ldns_resolver_ops,
		.dns_ctx = r->dns,
		.sendmail = c->report_sendmail,
		.smtp = c->report_smtp,
	};
	stsguard_tlsrpt_send_env env = {
		.store = r->store,
		.spool_dir = c->report_spool,
		.dns = &stsguard_ldns_resolver_ops,
		.dns_ctx = r->dns,
		.deliver = &stsguard_tlsrpt_real_deliver_ops,
		.deliver_ctx = &dconf,
		.meta = {c->report_organization, c->report_contact, c->report_submitter, NULL},
		.report_from = c->report_from,
		.dkim = r->key != NULL ? &dkim : NULL,
		.log = send_log,
	};

	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		r->kick = 0;
		pthread_mutex_unlock(&r->mu);
		int64_t now = (int64_t)time(NULL), wake = 0;
		stsguard_tlsrpt_send_summary sum;
		stsguard_err err = {""};
		memset(&sum, 0, sizeof sum);
		env.now = now;
		stsguard_status st = stsguard_tlsrpt_send_due(&env, r->seed, c->report_spread,
		                                              c->tlsrpt_retention, &wake, &sum, &err);
		if (st != STSGUARD_OK)
			dlog(LOG_ERR, "tlsrpt report: %s", err.msg);
		else if (sum.delivered + sum.failed + sum.given_up > 0)
			dlog(LOG_NOTICE, "tlsrpt report: %zu delivered, %zu failed (retried), %zu given up", sum.delivered,
			     sum.failed, sum.given_up);
		int64_t sleep_s = wake - now;
		if (st != STSGUARD_OK || sleep_s > MAX_SLEEP_S)
			sleep_s = MAX_SLEEP_S;
		if (sleep_s < MIN_SLEEP_S)
			sleep_s = MIN_SLEEP_S;
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)sleep_s;
		pthread_mutex_lock(&r->mu);
		while (!r->stop && !r->kick)
			if (pthread_cond_timedwait(&r->cond, &r->mu, &until) == ETIMEDOUT)
				break;
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static void destroy(struct reporter *r)
{
	stsguard_tlsrpt_store_close(r->store);
	stsguard_dns_free(r->dns);
	stsguard_config_free(r->conf);
	free(r->key);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

stsguard_status reporter_start(const char *config_path, struct reporter **out, stsguard_err *err)
{
	*out = NULL;
	struct reporter *r = calloc(1, sizeof *r);
	if (r == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cond, NULL);
	stsguard_status st = stsguard_config_load(config_path, 1, &r->conf, err);
	if (st != STSGUARD_OK) {
		destroy(r);
		return st;
	}
	const stsguard_config *c = r->conf;
	if (c->report_organization == NULL || c->report_contact == NULL || c->report_submitter == NULL ||
	    c->report_from == NULL) {
		dlog(LOG_NOTICE, "TLS-RPT reports are not sent: set report_organization, report_contact, "
		                 "report_submitter and report_from (docs/tlsrpt-send.md)");
		destroy(r);
		return STSGUARD_OK;
	}
	stsguard_tlsrpt_store_settings set = {.read_only = true};
	st = stsguard_tlsrpt_store_open(c->tlsrpt_dir, &set, &r->store, err);
	if (st == STSGUARD_OK)
		st = stsguard_dns_new(&c->resolver, &r->dns, err);
	if (st != STSGUARD_OK) {
		destroy(r);
		return st;
	}
	if (c->dkim_key != NULL)
		r->key = read_key(c->dkim_key);
	else
		dlog(LOG_NOTICE, "no dkim_key: TLS-RPT reports go to https: rua only (RFC 8460 §5.3 wants mail signed)");
	r->seed = host_seed();
	if (pthread_create(&r->thread, NULL, run, r) != 0) {
		destroy(r);
		return sg_err(err, STSGUARD_IO, "cannot start the report thread");
	}
	dlog(LOG_INFO, "TLS-RPT reports of each day are sent after 00:00Z from %s", c->tlsrpt_dir);
	*out = r;
	return STSGUARD_OK;
}

void reporter_kick(struct reporter *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->kick = 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->mu);
}

void reporter_stop(struct reporter *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	destroy(r);
}
