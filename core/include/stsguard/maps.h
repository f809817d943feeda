/*
 * maps.h - the socketmap maps stsguardd answers, and how each renders a
 * discovery result (see docs/PROTOCOL.md for every field).
 *
 *   sts             Sendmail 8.17+ FEATURE(sts): "OK secure match=<p1>:<p2>
 *                   servername=hostname" for enforce ("*.x" sent as ".x"),
 *                   "NOTFOUND " otherwise. Sendmail crashes on a bare "OK"
 *                   and defers on any other attribute order: the grammar is
 *                   exact.
 *   postfix         Postfix 3.7 smtp_tls_policy_maps: "OK secure match=...
 *                   servername=hostname" for enforce, DANE levels for DANE
 *                   domains, "NOTFOUND " otherwise; ".parent" keys NOTFOUND.
 *                   No attribute 3.7 rejects.
 *   postfix-tlsrpt  Postfix 3.10+: for enforce the postfix reply plus
 *                   policy_type, policy_domain, policy_ttl,
 *                   { policy_string = ... }, mx_host_pattern; for testing
 *                   "OK may" with the same attributes; else as postfix
 *                   (never policy_failure: it forces a failure).
 *   policy          native, versioned: the full verdict for our adapters.
 *   prefetch        start discovery, answer at once.
 *   routes          the MX hosts a policy allows, in preference order
 *                   ("OK mx1.a.test,mx2.a.test"), for adapters that must
 *                   pin the route themselves (OpenSMTPD cannot filter MX
 *                   hosts); "NOTFOUND " without such hosts, "TEMP <reason>"
 *                   when discovery could not find out.
 *
 * Rendering is pure: a discovery result (or none) in, one reply payload out.
 */
#ifndef STSGUARD_MAPS_H
#define STSGUARD_MAPS_H

#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "discover.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum stsguard_map {
	STSGUARD_MAP_UNKNOWN = -1,
	STSGUARD_MAP_STS = 0,
	STSGUARD_MAP_POSTFIX,
	STSGUARD_MAP_POSTFIX_TLSRPT,
	STSGUARD_MAP_POLICY,
	STSGUARD_MAP_PREFETCH,
	STSGUARD_MAP_ROUTES,
	STSGUARD_MAP_COUNT_
} stsguard_map;

/* What to answer when the verdict is tempfail (config key tempfail_answer). */
typedef enum stsguard_tempfail_answer {
	STSGUARD_TEMPFAIL_AUTO = 0, /* TEMP if an enforce policy is known for the domain, else NOTFOUND */
	STSGUARD_TEMPFAIL_TEMP,     /* always TEMP: defer (fail closed) */
	STSGUARD_TEMPFAIL_NOTFOUND  /* always NOTFOUND: the MTA's default (fail open) */
} stsguard_tempfail_answer;

typedef struct stsguard_map_opts {
	stsguard_tempfail_answer tempfail_answer;
} stsguard_map_opts;

/* "sts" -> STSGUARD_MAP_STS ...; STSGUARD_MAP_UNKNOWN for other names. */
STSGUARD_EXPORT stsguard_map stsguard_map_by_name(const char *name);
STSGUARD_EXPORT const char *stsguard_map_name(stsguard_map map);

/*
 * The policy domain a request key stands for. Keys are folded to lower case;
 * one trailing dot and a ":port" suffix are removed. STSGUARD_OK with domain
 * set; STSGUARD_NONE when the key has no policy and must be answered
 * NOTFOUND without any lookup (Postfix ".parent" probes - RFC 8461 §3.4
 * forbids a parent's policy -, "[address]" and address literals, "[host]:port"
 * next-hops); STSGUARD_INVALID for a key that is not a domain (reply PERM).
 */
STSGUARD_EXPORT stsguard_status stsguard_map_key_domain(stsguard_map map, const char *key,
                                                        char domain[STSGUARD_DOMAIN_MAX + 1], stsguard_err *err);

/*
 * Render the reply payload (without netstring framing) for map from the
 * discovery result d (NULL: no policy known, e.g. a NONE key or a deadline
 * fallback), at time now (for policy_ttl). out has cap bytes; TOOBIG if the
 * reply would not fit. Never renders "OK" without a value.
 */
STSGUARD_EXPORT stsguard_status stsguard_map_render(stsguard_map map, const stsguard_discovery *d,
                                                    const stsguard_map_opts *opts, int64_t now, char *out,
                                                    size_t cap, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
