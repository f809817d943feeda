/*
 * pool.h - stsguardd's discovery threads.
 *
 * Discovery (DNS with ldns, HTTPS with libcurl) blocks; it runs on a small
 * pool of threads so one slow or hung domain never holds up another. The
 * main thread submits jobs and is woken through an eventfd when results are
 * ready; it never blocks on a worker.
 */
#ifndef STSGUARDD_POOL_H
#define STSGUARDD_POOL_H

#include <stdint.h>

#include "stsguard/cache.h"
#include "stsguard/config.h"
#include "stsguard/discover.h"
#include "stsguard/tlsrpt.h"

struct pool_job {
	struct pool_job *next;
	void *owner;                              /* the daemon's record; main thread only */
	char domain[STSGUARD_DOMAIN_MAX + 1];
	stsguard_discovery *result;               /* set by the worker (may be NULL on error) */
	stsguard_status status;
	stsguard_err err;
	int64_t started_ms, finished_ms;
	/* A STARTTLS probe instead of a discovery (stsguard_starttls_probe, port 25). */
	int probe;
	char probe_ip[64];
	char probe_mx[256];
	stsguard_result_type probe_result;        /* set by the worker when status is OK */
	char probe_detail[160];
	void *probe_ctx;                          /* the daemon's pending TLS-RPT result; main thread only */
};

struct pool;

/* Start conf->workers threads sharing cache. *notify_fd becomes readable when jobs are done. */
stsguard_status pool_start(const stsguard_config *conf, stsguard_cache *cache, struct pool **out, int *notify_fd,
                           stsguard_err *err);
/* New resolver/fetch settings for discoveries that start from now on (SIGHUP). */
stsguard_status pool_reconfigure(struct pool *p, const stsguard_config *conf, stsguard_err *err);
void pool_submit(struct pool *p, struct pool_job *job);
/* All finished jobs, oldest first (drains the eventfd). */
struct pool_job *pool_take_done(struct pool *p);
/* Jobs queued or running. */
unsigned pool_busy(struct pool *p);
/* Stop: queued jobs are dropped (returned by pool_take_done with STSGUARD_TEMPFAIL), running ones finish. */
void pool_stop(struct pool *p);

#endif
