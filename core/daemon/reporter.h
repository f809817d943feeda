/*
 * reporter.h - stsguardd's daily TLS-RPT report sender.
 *
 * One thread runs stsguard_tlsrpt_send_due() (tlsrpt_send.h): yesterday's
 * reports go out at a per-host random time after midnight UTC (spread over
 * STSGUARD_TLSRPT_SPREAD_DEFAULT), failed deliveries are retried with
 * exponential backoff for up to 24 hours, and old delivery logs are
 * expired. The pass blocks on DNS, HTTPS and sendmail, so it never runs on
 * the event loop. Without the report_* settings nothing is sent and the log
 * says so once.
 */
#ifndef STSGUARDD_REPORTER_H
#define STSGUARDD_REPORTER_H

#include "stsguard/status.h"

struct reporter;

/* Start the thread; it reads config_path itself. NULL *out (and OK) when reports are not configured. */
stsguard_status reporter_start(const char *config_path, struct reporter **out, stsguard_err *err);
/* Ask for a pass now (SIGHUP), e.g. after the admin fixed a collector. */
void reporter_kick(struct reporter *r);
/* Stop: waits for a pass in progress to end. NULL is a no-op. */
void reporter_stop(struct reporter *r);

#endif
