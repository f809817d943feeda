/*
 * dns.h - the DNS lookups of policy discovery, over ldns.
 *
 * All lookups go to the configured, trusted, validating resolver (RFC 8461
 * §2 relies on its AD bit for DANE). Every answer is three-way: STSGUARD_OK,
 * STSGUARD_NONE (NXDOMAIN or NODATA: definitely nothing) or
 * STSGUARD_TEMPFAIL (SERVFAIL, REFUSED, timeout, malformed answer: could not
 * find out). Timeouts and retries are bounded by the configuration.
 *
 * Discovery uses these through struct stsguard_resolver_ops so tests can
 * swap in a fake.
 */
#ifndef STSGUARD_DNS_H
#define STSGUARD_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "txt.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STSGUARD_RESOLVERS_MAX 4
#define STSGUARD_ADDRS_MAX 16
#define STSGUARD_MX_MAX 32

typedef struct stsguard_resolver_conf {
	size_t n;                     /* 0: use the nameservers of /etc/resolv.conf */
	struct {
		char ip[46];          /* IPv4 or IPv6 literal */
		uint16_t port;        /* 53 unless configured */
	} server[STSGUARD_RESOLVERS_MAX];
	unsigned timeout_ms;          /* per try; 0 means 2000 */
	unsigned retries;             /* tries per server; 0 means 2 */
} stsguard_resolver_conf;

/* A TXT RRset, strings of each record already concatenated (RFC 8461 §3.1). */
typedef struct stsguard_txt_set {
	size_t n;
	stsguard_txt *rec;    /* rec[i].data owned by the set */
	uint32_t ttl;         /* RRset TTL; for NONE, the negative-caching TTL (RFC 2308) */
	bool secure;          /* AD bit set */
} stsguard_txt_set;

typedef struct stsguard_mx_set {
	size_t n;
	struct stsguard_mx {
		uint16_t preference;
		char host[256]; /* lower case, no trailing dot */
	} mx[STSGUARD_MX_MAX];  /* sorted by preference, ties in answer order */
	uint32_t ttl;
	bool null_mx;           /* NONE because of a null MX (RFC 7505): no mail, no implicit MX */
} stsguard_mx_set;

typedef struct stsguard_addr_set {
	size_t n;
	char addr[STSGUARD_ADDRS_MAX][46]; /* IPv4 first, then IPv6, as text */
	uint32_t ttl;
} stsguard_addr_set;

typedef struct stsguard_tlsa_state {
	size_t n_records;     /* TLSA records at _PORT._tcp.HOST */
	bool secure;          /* the answer (or the denial) was DNSSEC-validated: AD bit */
	uint32_t ttl;
} stsguard_tlsa_state;

/* The resolver seam used by discovery (real: stsguard_ldns_resolver_ops). */
struct stsguard_resolver_ops {
	/* TXT at name. On NONE, *out is still set (n = 0) with the negative TTL. */
	stsguard_status (*txt)(void *ctx, const char *name, stsguard_txt_set **out, stsguard_err *err);
	/* MX of domain (NONE for NXDOMAIN/NODATA: the caller applies the implicit MX). */
	stsguard_status (*mx)(void *ctx, const char *domain, stsguard_mx_set *out, stsguard_err *err);
	/* A and AAAA of host; NONE when neither exists. */
	stsguard_status (*addrs)(void *ctx, const char *host, stsguard_addr_set *out, stsguard_err *err);
	/* TLSA at _port._tcp.host; OK with n_records > 0, or NONE; TEMPFAIL also for bogus (SERVFAIL). */
	stsguard_status (*tlsa)(void *ctx, const char *host, uint16_t port, stsguard_tlsa_state *out,
	                        stsguard_err *err);
};

/* Blocking lookups; one stsguard_dns per thread. */
typedef struct stsguard_dns stsguard_dns;

/* A resolver context for the ldns implementation; ctx for stsguard_ldns_resolver_ops. */
STSGUARD_EXPORT stsguard_status stsguard_dns_new(const stsguard_resolver_conf *conf, stsguard_dns **out,
                                                 stsguard_err *err);
STSGUARD_EXPORT void stsguard_dns_free(stsguard_dns *dns);
/* Frees rec[i].data, rec and the set: separate malloc blocks (fakes must match). */
STSGUARD_EXPORT void stsguard_txt_set_free(stsguard_txt_set *set);

STSGUARD_EXPORT extern const struct stsguard_resolver_ops stsguard_ldns_resolver_ops;

#ifdef __cplusplus
}
#endif
#endif
