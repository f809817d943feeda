/*
 * tlsrpt_send.h - delivering the day's TLS-RPT reports (RFC 8460 §3, §5):
 * when to send (schedule, backoff), how (HTTPS POST, mail through the local
 * sendmail), to whom (the rua of _smtp._tls.<policy domain>), and the
 * durable record of every attempt that makes retries and the loop guard
 * work.
 *
 * The daemon's scheduler (see docs/tlsrpt-send.md) calls
 * stsguard_tlsrpt_send_due() with its clock and sleeps until the
 * *next_wakeup it returns; underneath, per day:
 *
 *   at = stsguard_tlsrpt_schedule_first(day, seed, spread)
 *   when now >= at:   stsguard_tlsrpt_send_day(&env, day, &sum, &err)
 *   then again at sum.next_attempt (0: nothing left for that day)
 *
 * `stsguard report send` makes one pass of stsguard_tlsrpt_send_day.
 */
#ifndef STSGUARD_TLSRPT_SEND_H
#define STSGUARD_TLSRPT_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns.h"
#include "status.h"
#include "tlsrpt_mail.h"
#include "tlsrpt_report.h"
#include "tlsrpt_store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- schedule (pure) ---- */

#define STSGUARD_TLSRPT_SPREAD_DEFAULT (4u * 3600u) /* first sends spread over 00:00Z..04:00Z */
#define STSGUARD_TLSRPT_SPREAD_MAX (12u * 3600u)    /* a report still leaves on the day after */
#define STSGUARD_TLSRPT_RETRY_FIRST 300             /* seconds before the first retry */
#define STSGUARD_TLSRPT_RETRY_MAX (4 * 3600)        /* longest wait between two attempts */
#define STSGUARD_TLSRPT_RETRY_WINDOW (24 * 3600)    /* no attempt later than this after the first */

/*
 * When the reports of UTC day `day` are first sent: the next midnight UTC
 * plus a delay in [0, spread_s) drawn from seed and the day (splitmix64),
 * so that many senders do not all hit a receiver at 00:00:00Z and one host
 * keeps the same offset for a day however often it restarts. spread_s 0:
 * no delay. STSGUARD_INVALID for a bad day.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_schedule_first(const char *day, uint64_t seed, unsigned spread_s,
                                                               int64_t *at);

/*
 * The next attempt after `failures` (>= 1) failed attempts, the first at
 * first_attempt and the last at last_attempt: last + min(RETRY_FIRST *
 * 2^(failures-1), RETRY_MAX). -1 when that is more than RETRY_WINDOW after
 * the first attempt: give up (RFC 8460 §5.5: retry with backoff for up to
 * 24 hours after the initial attempt).
 */
STSGUARD_EXPORT int64_t stsguard_tlsrpt_schedule_retry(int64_t first_attempt, int64_t last_attempt,
                                                       unsigned failures);

/* ---- delivery (effects behind a seam) ---- */

typedef struct stsguard_tlsrpt_deliver_ops {
	/*
	 * POST body (the gzipped report) to url with Content-Type
	 * application/tlsrpt+gzip (RFC 8460 §5.4). STSGUARD_OK only for a 2xx
	 * answer; TEMPFAIL / TIMEOUT for anything worth retrying; INVALID for a
	 * URI that cannot be used (given up at once); err says what happened
	 * (status code, curl error).
	 */
	stsguard_status (*https_post)(void *ctx, const char *url, const unsigned char *body, size_t len,
	                              stsguard_err *err);
	/* Hand msg to the local MTA for rcpts with envelope sender from. OK only on acceptance. */
	stsguard_status (*sendmail)(void *ctx, const char *from, const char *const *rcpts, size_t n_rcpts,
	                            const char *msg, size_t len, stsguard_err *err);
} stsguard_tlsrpt_deliver_ops;

#define STSGUARD_SENDMAIL_ARGS_MAX 16u

typedef struct stsguard_tlsrpt_deliver_conf {
	const char *ca_file;            /* PEM bundle for the collector's certificate; NULL: system */
	unsigned timeout_s;             /* one POST, all included; 0 means 30 */
	const char *proxy;              /* NULL: never a proxy */
	const struct stsguard_resolver_ops *dns; /* resolves the collector (one resolver for all DNS) */
	void *dns_ctx;
	const char *sendmail;           /* "/usr/sbin/sendmail -oi": split on spaces, run with execv */
	const char *smtp;               /* NULL, or "smtp://IP:PORT": submit by SMTP there instead of sendmail */
	unsigned sendmail_timeout_s;    /* 0 means 120 */
} stsguard_tlsrpt_deliver_conf;

/* The real thing: libcurl and fork/execv. ctx is a stsguard_tlsrpt_deliver_conf *. */
STSGUARD_EXPORT extern const stsguard_tlsrpt_deliver_ops stsguard_tlsrpt_real_deliver_ops;

/*
 * Is url a usable report_smtp value: "smtp://" an IPv4 literal or a
 * bracketed IPv6 literal, ":" a port, nothing else (no name to resolve, no
 * credentials, no path)? STSGUARD_OK or STSGUARD_INVALID with the reason.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_smtp_url_check(const char *url, stsguard_err *err);

/*
 * Split a report_sendmail value into argv (at most STSGUARD_SENDMAIL_ARGS_MAX
 * words, the first an absolute path) in buf; argv[n] = NULL.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_sendmail_argv(const char *cmd, char *buf, size_t bufsz,
                                                              char *argv[STSGUARD_SENDMAIL_ARGS_MAX + 1],
                                                              size_t *n, stsguard_err *err);

/* ---- one pass over a day ---- */

enum { STSGUARD_LOG_ERROR = 3, STSGUARD_LOG_WARNING = 4, STSGUARD_LOG_INFO = 6, STSGUARD_LOG_DEBUG = 7 };

typedef struct stsguard_tlsrpt_send_env {
	stsguard_tlsrpt_store *store;                    /* read (read-only is enough) */
	const char *spool_dir;                           /* attempt log; required unless dry_run */
	const struct stsguard_resolver_ops *dns;         /* _smtp._tls TXT lookups */
	void *dns_ctx;
	const stsguard_tlsrpt_deliver_ops *deliver;
	void *deliver_ctx;
	stsguard_tlsrpt_report_meta meta;                /* organization, contact, submitter, unique id */
	const char *report_from;                         /* From: and envelope sender of report mail */
	const stsguard_tlsrpt_dkim *dkim;                /* NULL: mailto rua cannot be served */
	int64_t now;                                     /* the injected clock */
	bool dry_run;                                    /* look up and build, send and record nothing */
	const char *out_dir;                             /* NULL, or write each .json.gz and .eml here */
	void (*log)(void *ctx, int level, const char *msg);
	void *log_ctx;
} stsguard_tlsrpt_send_env;

typedef struct stsguard_tlsrpt_send_summary {
	size_t domains;        /* policy domains with results */
	size_t no_rua;         /* no (valid, single) TLSRPT record: nothing to send (RFC 8460 §3) */
	size_t loop_guarded;   /* reports withheld by the loop guard */
	size_t delivered;      /* (domain, rua) delivered in this pass */
	size_t already;        /* delivered in an earlier pass */
	size_t failed;         /* attempts that failed in this pass (retry scheduled) */
	size_t given_up;       /* (domain, rua) past the retry window */
	size_t waiting;        /* (domain, rua) not due yet */
	size_t built;          /* reports built (dry run and --out included) */
	int64_t next_attempt;  /* earliest time a retry is due; 0: none */
} stsguard_tlsrpt_send_summary;

/*
 * Aggregate `day` from the store and deliver each policy domain's report
 * to every rua of its _smtp._tls record that is due (never delivered,
 * not given up, backoff elapsed). Every attempt is appended to
 * SPOOL/DAY.sent before the next one starts (fdatasync), so a crash never
 * loses the fact that a report was delivered. One pass at a time per spool
 * (flock on SPOOL/send.lock; another pass running: STSGUARD_TEMPFAIL).
 *
 * Loop guard (docs/tlsrpt-send.md): a policy domain whose sessions that day
 * can all be explained by our own report mail to it (sessions <= report
 * mails we handed to sendmail for that domain during the day) gets no
 * report, because reporting it would feed the loop report -> failed
 * session -> report.
 *
 * STSGUARD_OK when the pass completed (individual failures are in sum and
 * the log); STSGUARD_NONE: no results for the day; other statuses for
 * store, spool or memory errors.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_send_day(const stsguard_tlsrpt_send_env *env, const char *day,
                                                         stsguard_tlsrpt_send_summary *sum, stsguard_err *err);

/*
 * Everything due at env->now, for a daemon woken by a timer: for the two
 * UTC days before today (yesterday's reports, and retries of the day
 * before, which can run up to 24 h after its first attempt), a pass of
 * stsguard_tlsrpt_send_day() once stsguard_tlsrpt_schedule_first(day,
 * seed, spread_s) has come; then the delivery logs older than
 * retention_days are deleted. *next_wakeup is when to call again: the
 * earliest pending retry, a day's first send not reached yet, or today's
 * (after the next midnight). A pass refused because another holds the
 * spool is retried a minute later. Days without results are not errors.
 * sum (may be NULL) adds up the passes made. The first store, spool or
 * memory error stops the call and is returned.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_send_due(const stsguard_tlsrpt_send_env *env, uint64_t seed,
                                                         unsigned spread_s, unsigned retention_days,
                                                         int64_t *next_wakeup, stsguard_tlsrpt_send_summary *sum,
                                                         stsguard_err *err);

/*
 * Delete SPOOL/YYYY-MM-DD.sent files of days more than retention_days
 * before now's day. *n_deleted may be NULL.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_send_expire(const char *spool_dir, int64_t now,
                                                            unsigned retention_days, size_t *n_deleted,
                                                            stsguard_err *err);

#ifdef __cplusplus
}
#endif
#endif
