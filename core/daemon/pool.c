/*
 * pool.c - discovery threads (see pool.h).
 *
 * A mutex-protected FIFO of jobs in, a FIFO of finished jobs out, and an
 * eventfd to wake the main loop. Each worker owns its resolver context
 * (ldns contexts are not thread-safe) and rebuilds it when the settings
 * generation changes (SIGHUP). The policy cache is shared; it locks itself.
 */
#include "pool.h"

#include "stsguard/starttls_probe.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "stsguard/dns.h"
#include "stsguard/fetch.h"

struct settings {
	stsguard_resolver_conf resolver;
	char *ca_file;
	char *proxy;
	unsigned fetch_timeout;
	unsigned generation;
};

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pool_job *queue_head, *queue_tail;
	struct pool_job *done_head, *done_tail;
	unsigned queued, running;
	int efd;
	int stopping;
	stsguard_cache *cache;
	struct settings set;
	unsigned nthreads;
	pthread_t *threads;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *dup_or_null(const char *s)
{
	if (s == NULL)
		return NULL;
	size_t n = strlen(s);
	char *p = malloc(n + 1);
	if (p != NULL)
		memcpy(p, s, n + 1);
	return p;
}

static void finish(struct pool *p, struct pool_job *job)
{
	uint64_t one = 1;

	job->next = NULL;
	job->finished_ms = now_ms();
	if (p->done_tail != NULL)
		p->done_tail->next = job;
	else
		p->done_head = job;
	p->done_tail = job;
	(void)!write(p->efd, &one, sizeof one);
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	stsguard_dns *dns = NULL;
	unsigned generation = 0;
	stsguard_fetch_conf fconf;
	stsguard_resolver_conf rconf;
	char *ca = NULL, *proxy = NULL;

	memset(&fconf, 0, sizeof fconf);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stopping && p->queue_head == NULL)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->stopping)
			break;
		struct pool_job *job = p->queue_head;
		p->queue_head = job->next;
		if (p->queue_head == NULL)
			p->queue_tail = NULL;
		p->queued--;
		p->running++;
		if (dns == NULL || generation != p->set.generation) {
			/* Copy the settings under the lock; build the context outside it. */
			rconf = p->set.resolver;
			free(ca);
			free(proxy);
			ca = dup_or_null(p->set.ca_file);
			proxy = dup_or_null(p->set.proxy);
			fconf.ca_file = ca;
			fconf.proxy = proxy;
			fconf.timeout_s = p->set.fetch_timeout;
			generation = p->set.generation;
			stsguard_dns_free(dns);
			dns = NULL;
		}
		pthread_mutex_unlock(&p->lock);

		job->started_ms = now_ms();
		job->result = NULL;
		if (job->probe) {
			/* An MX's STARTTLS and certificate, for a TLS-RPT result (starttls_probe.h). */
			job->status = stsguard_starttls_probe(job->probe_ip, 25, job->probe_mx, fconf.ca_file,
			                                      (int)fconf.timeout_s * 1000 + 2000, &job->probe_result,
			                                      job->probe_detail, sizeof job->probe_detail, &job->err);
		} else if (dns == NULL && stsguard_dns_new(&rconf, &dns, &job->err) != STSGUARD_OK) {
			job->status = STSGUARD_TEMPFAIL;
			dns = NULL;
		} else {
			stsguard_discover_env env = {
			    .dns = &stsguard_ldns_resolver_ops,
			    .dns_ctx = dns,
			    .fetch = &stsguard_curl_fetch_ops,
			    .fetch_ctx = &fconf,
			    .cache = p->cache,
			    .now = (int64_t)time(NULL),
			};
			job->status = stsguard_discover(&env, job->domain, &job->result, &job->err);
		}

		pthread_mutex_lock(&p->lock);
		p->running--;
		finish(p, job);
	}
	pthread_mutex_unlock(&p->lock);
	stsguard_dns_free(dns);
	free(ca);
	free(proxy);
	return NULL;
}

static stsguard_status load_settings(struct settings *s, const stsguard_config *conf)
{
	char *ca = dup_or_null(conf->ca_file);
	char *proxy = dup_or_null(conf->proxy);
	if ((conf->ca_file != NULL && ca == NULL) || (conf->proxy != NULL && proxy == NULL)) {
		free(ca);
		free(proxy);
		return STSGUARD_NOMEM;
	}
	free(s->ca_file);
	free(s->proxy);
	s->resolver = conf->resolver;
	s->ca_file = ca;
	s->proxy = proxy;
	s->fetch_timeout = conf->fetch_timeout;
	s->generation++;
	return STSGUARD_OK;
}

stsguard_status pool_start(const stsguard_config *conf, stsguard_cache *cache, struct pool **out, int *notify_fd,
                           stsguard_err *err)
{
	struct pool *p = calloc(1, sizeof *p);

	*out = NULL;
	if (p == NULL)
		return STSGUARD_NOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->cache = cache;
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p->threads = calloc(conf->workers, sizeof *p->threads);
	if (p->efd < 0 || p->threads == NULL || load_settings(&p->set, conf) != STSGUARD_OK) {
		pool_stop(p);
		snprintf(err->msg, sizeof err->msg, "cannot start the discovery threads: %s", strerror(errno));
		return STSGUARD_NOMEM;
	}
	for (unsigned i = 0; i < conf->workers; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
			pool_stop(p);
			snprintf(err->msg, sizeof err->msg, "cannot start discovery thread %u", i);
			return STSGUARD_NOMEM;
		}
		p->nthreads++;
	}
	*notify_fd = p->efd;
	*out = p;
	return STSGUARD_OK;
}

stsguard_status pool_reconfigure(struct pool *p, const stsguard_config *conf, stsguard_err *err)
{
	pthread_mutex_lock(&p->lock);
	stsguard_status st = load_settings(&p->set, conf);
	pthread_mutex_unlock(&p->lock);
	if (st != STSGUARD_OK)
		snprintf(err->msg, sizeof err->msg, "out of memory");
	return st;
}

void pool_submit(struct pool *p, struct pool_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		job->status = STSGUARD_TEMPFAIL;
		snprintf(job->err.msg, sizeof job->err.msg, "shutting down");
		finish(p, job);
	} else {
		if (p->queue_tail != NULL)
			p->queue_tail->next = job;
		else
			p->queue_head = job;
		p->queue_tail = job;
		p->queued++;
		pthread_cond_signal(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
}

struct pool_job *pool_take_done(struct pool *p)
{
	uint64_t n;
	while (read(p->efd, &n, sizeof n) > 0)
		;
	pthread_mutex_lock(&p->lock);
	struct pool_job *list = p->done_head;
	p->done_head = p->done_tail = NULL;
	pthread_mutex_unlock(&p->lock);
	return list;
}

unsigned pool_busy(struct pool *p)
{
	pthread_mutex_lock(&p->lock);
	unsigned n = p->queued + p->running;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void pool_stop(struct pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	/* Queued jobs will not run: hand them back as failed. */
	while (p->queue_head != NULL) {
		struct pool_job *job = p->queue_head;
		p->queue_head = job->next;
		job->status = STSGUARD_TEMPFAIL;
		snprintf(job->err.msg, sizeof job->err.msg, "shutting down");
		finish(p, job);
	}
	p->queue_tail = NULL;
	p->queued = 0;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	/* What finished is freed by the owner through pool_take_done() before this. */
	struct pool_job *j = p->done_head;
	while (j != NULL) {
		struct pool_job *next = j->next;
		stsguard_discovery_free(j->result);
		free(j);
		j = next;
	}
	if (p->efd >= 0)
		close(p->efd);
	free(p->threads);
	free(p->set.ca_file);
	free(p->set.proxy);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}
