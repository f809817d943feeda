/*
 * fetch.h - HTTPS retrieval of https://mta-sts.<domain>/.well-known/mta-sts.txt
 * over libcurl, under every rule of RFC 8461 §3.3.
 *
 * Connects only to addresses the caller resolved (one resolver for all DNS),
 * SNI = the policy host, TLS >= 1.2, full chain and host name validation
 * against ca_file (system bundle when NULL), no redirects, 200 only,
 * Content-Type text/plain (parameters allowed), body cap enforced while
 * reading, bounded total time, no proxy unless configured, no HTTP caching.
 * Every failure is a named stsguard_reason.
 */
#ifndef STSGUARD_FETCH_H
#define STSGUARD_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "dns.h"
#include "reason.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct stsguard_fetch_conf {
	const char *ca_file;  /* PEM bundle; NULL: the system default */
	unsigned timeout_s;   /* total time for one fetch; 0 means 10 */
	const char *proxy;    /* NULL or "": no proxy, whatever the environment says */
	uint16_t port;        /* 0 means 443 */
} stsguard_fetch_conf;

typedef struct stsguard_fetch_result {
	stsguard_reason reason;      /* STSGUARD_REASON_NONE on success */
	long http_status;            /* 0 if no HTTP response */
	char *body;                  /* on success: the body (NUL-terminated copy), for free() */
	size_t len;
	char detail[256];            /* human-readable detail of a failure */
} stsguard_fetch_result;

/* The fetch seam used by discovery (real: stsguard_curl_fetch_ops, ctx = stsguard_fetch_conf *). */
struct stsguard_fetch_ops {
	/* Fetch the policy of policy_host ("mta-sts.<domain>") from one of addrs.
	 * Returns STSGUARD_OK with res->body set, or another status with
	 * res->reason set; res is always initialised. The status only
	 * summarises the reason (TEMPFAIL: connect/tls/internal, TIMEOUT,
	 * NONE: host-not-found/http-status/http-redirect/certificate-*,
	 * INVALID: content-type, TOOBIG, NOMEM, BADARG); act on res->reason. */
	stsguard_status (*fetch)(void *ctx, const char *policy_host, const stsguard_addr_set *addrs,
	                         stsguard_fetch_result *res);
};

STSGUARD_EXPORT extern const struct stsguard_fetch_ops stsguard_curl_fetch_ops;

/* Call once at program start (curl_global_init), before threads. */
STSGUARD_EXPORT stsguard_status stsguard_fetch_global_init(void);
STSGUARD_EXPORT void stsguard_fetch_global_cleanup(void);

STSGUARD_EXPORT void stsguard_fetch_result_clear(stsguard_fetch_result *res);

#ifdef __cplusplus
}
#endif
#endif
