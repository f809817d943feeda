/*
 * recorder.c - the TLS-RPT result writer thread (see recorder.h).
 *
 * One mutex guards two FIFOs (queued, done). The thread takes the whole
 * queue at once and appends it with stsguard_tlsrpt_store_add_batch(): one
 * write and one fdatasync for everything that arrived while the previous
 * commit ran. Every job was checked by the main thread before it was
 * queued, so a batch is refused (STSGUARD_INVALID: nothing stored) only
 * when a result fell out of the retention window in between; then the jobs
 * are stored one by one so each gets its own answer.
 */
#include "recorder.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define BATCH_MAX 4096u

struct recorder {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct rec_job *queue_head, *queue_tail;
	struct rec_job *done_head, *done_tail;
	unsigned queued;
	int efd;
	int stopping;
	int expire_requested;
	int started;
	pthread_t thread;
	stsguard_tlsrpt_store *store;
	struct recorder_stats st;
	stsguard_tlsrpt_result *batch; /* scratch for add_batch: shallow copies */
};

void recorder_job_free(struct rec_job *job)
{
	if (job == NULL)
		return;
	stsguard_tlsrpt_result_clear(&job->r);
	free(job);
}

static void finish(struct recorder *rec, struct rec_job *head, struct rec_job *tail, uint64_t stored,
                   uint64_t dropped, uint64_t failed, uint64_t invalid)
{
	pthread_mutex_lock(&rec->lock);
	if (rec->done_tail != NULL)
		rec->done_tail->next = head;
	else
		rec->done_head = head;
	rec->done_tail = tail;
	rec->st.stored += stored;
	rec->st.dropped += dropped;
	rec->st.failed += failed;
	rec->st.invalid += invalid;
	rec->st.commits++;
	pthread_mutex_unlock(&rec->lock);
	uint64_t one = 1;
	if (write(rec->efd, &one, sizeof one) < 0 && errno != EAGAIN)
		dlog(LOG_ERR, "recorder: eventfd: %s", strerror(errno));
}

/* Store the jobs of one batch (n of them, linked from head) and hand them back. */
static void commit(struct recorder *rec, struct rec_job *head, size_t n)
{
	struct rec_job *tail = head;
	size_t i = 0;
	for (struct rec_job *j = head; j != NULL; j = j->next, i++) {
		rec->batch[i] = j->r;
		tail = j;
	}
	stsguard_err err = {""};
	size_t n_stored = 0;
	uint64_t stored = 0, dropped = 0, failed = 0, invalid = 0;
	stsguard_status st = stsguard_tlsrpt_store_add_batch(rec->store, rec->batch, n, &n_stored, &err);
	if (st == STSGUARD_INVALID) {
		/* Nothing was stored: one at a time, so each job gets its own answer. */
		for (struct rec_job *j = head; j != NULL; j = j->next) {
			j->status = stsguard_tlsrpt_store_add(rec->store, &j->r, &j->err);
			stored += j->status == STSGUARD_OK;
			dropped += j->status == STSGUARD_TOOBIG;
			invalid += j->status == STSGUARD_INVALID;
			failed += j->status != STSGUARD_OK && j->status != STSGUARD_TOOBIG && j->status != STSGUARD_INVALID;
		}
	} else {
		for (struct rec_job *j = head; j != NULL; j = j->next) {
			j->status = st;
			j->err = err;
		}
		stored = n_stored;
		dropped = st == STSGUARD_TOOBIG ? n - n_stored : 0;
		failed = st != STSGUARD_OK && st != STSGUARD_TOOBIG ? n : 0;
		if (st != STSGUARD_OK)
			dlog(LOG_ERR, "tlsrpt store: %s (%zu of %zu results stored)", err.msg, n_stored, n);
	}
	finish(rec, head, tail, stored, dropped, failed, invalid);
}

static void *run(void *arg)
{
	struct recorder *rec = arg;

	pthread_mutex_lock(&rec->lock);
	for (;;) {
		while (rec->queue_head == NULL && !rec->stopping && !rec->expire_requested)
			pthread_cond_wait(&rec->cond, &rec->lock);
		if (rec->expire_requested) {
			rec->expire_requested = 0;
			pthread_mutex_unlock(&rec->lock);
			size_t n = 0;
			stsguard_err err = {""};
			if (stsguard_tlsrpt_store_expire(rec->store, (int64_t)time(NULL), &n, &err) != STSGUARD_OK)
				dlog(LOG_ERR, "tlsrpt store: %s", err.msg);
			else if (n > 0)
				dlog(LOG_INFO, "tlsrpt store: deleted %zu day file%s past the retention", n, n == 1 ? "" : "s");
			pthread_mutex_lock(&rec->lock);
			continue;
		}
		if (rec->queue_head == NULL)
			break; /* stopping, and nothing left to commit */
		/* Take up to BATCH_MAX jobs. */
		struct rec_job *head = rec->queue_head, *last = head;
		size_t n = 1;
		while (last->next != NULL && n < BATCH_MAX) {
			last = last->next;
			n++;
		}
		rec->queue_head = last->next;
		if (rec->queue_head == NULL)
			rec->queue_tail = NULL;
		last->next = NULL;
		rec->queued -= (unsigned)n;
		pthread_mutex_unlock(&rec->lock);
		commit(rec, head, n);
		pthread_mutex_lock(&rec->lock);
	}
	pthread_mutex_unlock(&rec->lock);
	return NULL;
}

stsguard_status recorder_start(const char *dir, unsigned retention_days, struct recorder **out, int *notify_fd,
                               stsguard_err *err)
{
	*out = NULL;
	struct recorder *rec = calloc(1, sizeof *rec);
	if (rec == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	rec->efd = -1;
	rec->batch = calloc(BATCH_MAX, sizeof *rec->batch);
	if (rec->batch == NULL) {
		free(rec);
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	}
	pthread_mutex_init(&rec->lock, NULL);
	pthread_cond_init(&rec->cond, NULL);
	stsguard_tlsrpt_store_settings set = {.retention_days = retention_days};
	stsguard_status st = stsguard_tlsrpt_store_open(dir, &set, &rec->store, err);
	if (st != STSGUARD_OK) {
		recorder_free(rec);
		return st;
	}
	rec->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (rec->efd < 0) {
		recorder_free(rec);
		return sg_err(err, STSGUARD_IO, "eventfd: %s", strerror(errno));
	}
	if (pthread_create(&rec->thread, NULL, run, rec) != 0) {
		recorder_free(rec);
		return sg_err(err, STSGUARD_IO, "cannot start the recorder thread");
	}
	rec->started = 1;
	*notify_fd = rec->efd;
	*out = rec;
	return STSGUARD_OK;
}

void recorder_submit(struct recorder *rec, struct rec_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&rec->lock);
	if (rec->queue_tail != NULL)
		rec->queue_tail->next = job;
	else
		rec->queue_head = job;
	rec->queue_tail = job;
	rec->queued++;
	pthread_cond_signal(&rec->cond);
	pthread_mutex_unlock(&rec->lock);
}

struct rec_job *recorder_take_done(struct recorder *rec)
{
	uint64_t v;
	if (read(rec->efd, &v, sizeof v) < 0 && errno != EAGAIN)
		dlog(LOG_ERR, "recorder: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&rec->lock);
	struct rec_job *head = rec->done_head;
	rec->done_head = rec->done_tail = NULL;
	pthread_mutex_unlock(&rec->lock);
	return head;
}

void recorder_get_stats(struct recorder *rec, struct recorder_stats *out)
{
	pthread_mutex_lock(&rec->lock);
	*out = rec->st;
	out->queued = rec->queued;
	pthread_mutex_unlock(&rec->lock);
}

void recorder_expire(struct recorder *rec)
{
	pthread_mutex_lock(&rec->lock);
	rec->expire_requested = 1;
	pthread_cond_signal(&rec->cond);
	pthread_mutex_unlock(&rec->lock);
}

void recorder_stop(struct recorder *rec)
{
	if (rec == NULL || !rec->started)
		return;
	pthread_mutex_lock(&rec->lock);
	rec->stopping = 1;
	pthread_cond_signal(&rec->cond);
	pthread_mutex_unlock(&rec->lock);
	pthread_join(rec->thread, NULL);
	rec->started = 0;
	stsguard_tlsrpt_store_close(rec->store);
	rec->store = NULL;
}

void recorder_free(struct recorder *rec)
{
	if (rec == NULL)
		return;
	recorder_stop(rec);
	stsguard_tlsrpt_store_close(rec->store);
	for (struct rec_job *j = rec->done_head, *next; j != NULL; j = next) {
		next = j->next;
		recorder_job_free(j);
	}
	if (rec->efd >= 0)
		close(rec->efd);
	pthread_cond_destroy(&rec->cond);
	pthread_mutex_destroy(&rec->lock);
	free(rec->batch);
	free(rec);
}
