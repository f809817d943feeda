/*
 * discover.h - from a recipient domain to a verdict (RFC 8461 §3-§5).
 *
 * One call runs the whole discovery for one policy domain with the given
 * resolver, fetcher and cache, at the injected time `now`:
 *
 *   1. TXT _mta-sts.<domain>, always while a policy is cached (an id change
 *      must be noticed), skipped while "no TXT record" is cached and nothing
 *      else is;
 *   2. fetch the policy when none is cached, the TXT id changed, or the
 *      cached one is due for proactive refresh (§10.2: half its max_age,
 *      at most daily, whatever the TXT says) - never while a failed fetch of
 *      the same id is backing off (§3.3, at least 5 minutes, doubling);
 *   3. a cached unexpired policy stays in force when the TXT record vanishes
 *      or turns invalid or a refetch fails (§3.3, §5.1); a policy in mode
 *      none replaces it and removes enforcement;
 *   4. with no usable policy: a valid TXT whose policy cannot be fetched
 *      means no-policy (§5: deliver as without MTA-STS), a TXT lookup that
 *      could not be completed means tempfail;
 *   5. for enforce/testing: MX hosts, their TLSA state (DANE, §2), and the
 *      verdict from stsguard_decide();
 *   6. TXT _smtp._tls.<domain> for the TLS-RPT rua (informational).
 *
 * The cache is updated as a side effect (when not NULL).
 */
#ifndef STSGUARD_DISCOVER_H
#define STSGUARD_DISCOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "dns.h"
#include "fetch.h"
#include "reason.h"
#include "tlsrpt_txt.h"
#include "verdict.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STSGUARD_BACKOFF_MIN 300   /* RFC 8461 §3.3: at least 5 minutes */
#define STSGUARD_BACKOFF_MAX 3600
#define STSGUARD_REFRESH_MAX 86400 /* §10.2 suggests a daily refresh */
#define STSGUARD_TXT_NONE_MAX 3600 /* longest we believe "no TXT record" */
#define STSGUARD_RECHECK_MIN 60    /* shortest time an answer is reused without a new look */
#define STSGUARD_RECHECK_MAX 3600  /* longest, e.g. the TXT id of a cached policy */

typedef struct stsguard_discover_env {
	const struct stsguard_resolver_ops *dns;
	void *dns_ctx;
	const struct stsguard_fetch_ops *fetch;
	void *fetch_ctx;
	stsguard_cache *cache; /* may be NULL */
	int64_t now;           /* seconds since the epoch */
	bool skip_tlsrpt;      /* do not look up _smtp._tls */
	bool skip_dane;        /* do not look up MX and TLSA */
} stsguard_discover_env;

typedef enum stsguard_source {
	STSGUARD_SOURCE_FETCHED = 0, /* found out by this call (DNS and HTTPS) */
	STSGUARD_SOURCE_CACHE = 1    /* answered from the cache (a policy, or "no TXT record") */
} stsguard_source;

typedef struct stsguard_discovery {
	char domain[STSGUARD_DOMAIN_MAX + 1];
	stsguard_verdict verdict;
	stsguard_source source;
	stsguard_policy *policy;                    /* applied policy, NULL if none */
	char policy_id[STSGUARD_POLICY_ID_MAX + 1];
	int64_t expires_at;
	int64_t recheck_at;                         /* run discovery again from this time on */
	stsguard_reason error;                      /* NONE, or why discovery failed */
	char error_detail[256];
	stsguard_tlsrpt_record *tlsrpt;             /* NULL if the domain publishes none */
	size_t n_hosts;
	struct stsguard_discovered_mx {
		char host[256];
		uint16_t preference;
		bool allowed;
		stsguard_dane_state dane;
	} hosts[STSGUARD_MX_MAX];
} stsguard_discovery;

/*
 * Discover domain (A-label, any case, optional trailing dot). STSGUARD_OK
 * with *out for stsguard_discovery_free() whatever the verdict (tempfail
 * included); STSGUARD_BADARG for a domain that is not a valid host name or
 * is an address literal (those have no policy, §3.4); NOMEM.
 */
STSGUARD_EXPORT stsguard_status stsguard_discover(const stsguard_discover_env *env, const char *domain,
                                                  stsguard_discovery **out, stsguard_err *err);
STSGUARD_EXPORT void stsguard_discovery_free(stsguard_discovery *d);

/* Normalise a domain into out (lower case, no trailing dot); BADARG if not a host name. */
STSGUARD_EXPORT stsguard_status stsguard_domain_normalize(const char *in, char out[STSGUARD_DOMAIN_MAX + 1]);

/* The discovery as one line of JSON (the `stsguard query --json` format). */
STSGUARD_EXPORT stsguard_status stsguard_discovery_to_json(const stsguard_discovery *d, char **out);

#ifdef __cplusplus
}
#endif
#endif
