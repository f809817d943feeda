/*
 * recorder.h - stsguardd's TLS-RPT result writer.
 *
 * Results reported through the `tlsrpt` map are acknowledged only once they
 * are on stable storage (the store fdatasyncs), and an fdatasync must never
 * stall the event loop. So one thread owns the store: the main thread
 * queues results, the recorder appends everything queued with one group
 * commit, and wakes the main loop through an eventfd to send the replies.
 * Under load a commit carries many results, so throughput grows with
 * concurrency instead of being one fdatasync per result.
 */
#ifndef STSGUARDD_RECORDER_H
#define STSGUARDD_RECORDER_H

#include <stdint.h>

#include "stsguard/tlsrpt.h"
#include "stsguard/tlsrpt_store.h"

struct rec_job {
	struct rec_job *next;
	void *owner;               /* the request waiting for this; main thread only */
	stsguard_tlsrpt_result r;  /* owned: cleared by recorder_job_free() */
	stsguard_status status;    /* set by the recorder */
	stsguard_err err;
};

struct recorder_stats {
	uint64_t stored, dropped, failed, invalid, commits;
	unsigned queued;
};

struct recorder;

/* Open the store in dir and start the thread. *notify_fd becomes readable when jobs are done. */
stsguard_status recorder_start(const char *dir, unsigned retention_days, struct recorder **out, int *notify_fd,
                               stsguard_err *err);
void recorder_submit(struct recorder *rec, struct rec_job *job);
/* Every finished job, oldest first (drains the eventfd). */
struct rec_job *recorder_take_done(struct recorder *rec);
void recorder_get_stats(struct recorder *rec, struct recorder_stats *out);
/* Delete day files past the retention (from housekeeping; runs on the recorder thread). */
void recorder_expire(struct recorder *rec);
/* Commit what is queued, stop the thread, close the store. Unanswered jobs stay for take_done. */
void recorder_stop(struct recorder *rec);
void recorder_free(struct recorder *rec);
void recorder_job_free(struct rec_job *job);

#endif
