/*
 * cache.h - the persistent per-domain policy cache.
 *
 * One entry per policy domain: the policy last fetched (with the TXT id it
 * was fetched under, fetched-at and expires-at), the last TXT id seen, how
 * long "no TXT record" may be believed, and the last failure with the time
 * before which no fetch is retried. RFC 8461 semantics (when to use, refetch
 * or keep an entry) live in discover.c; this module only stores.
 *
 * On disk it is an append-only journal of checksummed lines in cache_dir,
 * compacted by writing a new file and rename(2)ing it over the old one. A
 * kill -9 at any moment leaves a loadable cache: a torn last line fails its
 * checksum and is skipped. Single process at a time (flock).
 */
#ifndef STSGUARD_CACHE_H
#define STSGUARD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "reason.h"
#include "status.h"
#include "sts_txt.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STSGUARD_DOMAIN_MAX 253

typedef struct stsguard_cache_entry {
	char domain[STSGUARD_DOMAIN_MAX + 1];
	/* The cached policy; policy == NULL when none is cached. */
	stsguard_policy *policy;
	char policy_id[STSGUARD_POLICY_ID_MAX + 1]; /* TXT id the policy was fetched under */
	int64_t fetched_at;
	int64_t expires_at;                         /* fetched_at + max_age */
	/* Discovery state. */
	char txt_id[STSGUARD_POLICY_ID_MAX + 1];    /* last TXT id seen, "" if none */
	int64_t txt_none_until;                     /* "no TXT record" believed until, 0 if not */
	stsguard_reason last_failure;
	int64_t last_failure_at;
	char failed_id[STSGUARD_POLICY_ID_MAX + 1]; /* TXT id of the failed fetch */
	int64_t next_retry;                         /* no fetch before this (RFC 8461 §3.3) */
	uint32_t failures;                          /* consecutive failed fetches */
} stsguard_cache_entry;

typedef struct stsguard_cache stsguard_cache;

/* Open (creating dir and journal if needed) and load. dir NULL: memory only. */
STSGUARD_EXPORT stsguard_status stsguard_cache_open(const char *dir, stsguard_cache **out, stsguard_err *err);
STSGUARD_EXPORT void stsguard_cache_close(stsguard_cache *cache);

/* Copy of the entry for domain into *out (deep: out->policy is new). NONE if absent. */
STSGUARD_EXPORT stsguard_status stsguard_cache_get(stsguard_cache *cache, const char *domain,
                                                   stsguard_cache_entry *out);
/* Insert or replace (the entry is copied) and append it to the journal. */
STSGUARD_EXPORT stsguard_status stsguard_cache_put(stsguard_cache *cache, const stsguard_cache_entry *entry,
                                                   stsguard_err *err);
/* Remove one domain (NONE if absent), or every domain when domain is NULL. */
STSGUARD_EXPORT stsguard_status stsguard_cache_purge(stsguard_cache *cache, const char *domain,
                                                     stsguard_err *err);
STSGUARD_EXPORT size_t stsguard_cache_count(const stsguard_cache *cache);
/* Calls fn for every entry (order unspecified); stops when fn returns non-zero. */
STSGUARD_EXPORT void stsguard_cache_foreach(stsguard_cache *cache,
                                            int (*fn)(void *ctx, const stsguard_cache_entry *e), void *ctx);
/* Rewrite the journal with only live entries (atomic rename). */
STSGUARD_EXPORT stsguard_status stsguard_cache_compact(stsguard_cache *cache, stsguard_err *err);
/* Lines skipped at load (torn or corrupt); for logs and tests. */
STSGUARD_EXPORT size_t stsguard_cache_skipped(const stsguard_cache *cache);

/* Free what an entry owns (its policy) and zero it. */
STSGUARD_EXPORT void stsguard_cache_entry_clear(stsguard_cache_entry *entry);
/* Deep copy src into dst (dst is overwritten, not freed first). */
STSGUARD_EXPORT stsguard_status stsguard_cache_entry_copy(stsguard_cache_entry *dst,
                                                          const stsguard_cache_entry *src);

#ifdef __cplusplus
}
#endif
#endif
