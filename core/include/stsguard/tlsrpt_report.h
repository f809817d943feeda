/*
 * tlsrpt_report.h - the RFC 8460 §4 aggregate report: one UTC day of
 * TLS-RPT results (tlsrpt.h) grouped per policy domain and applied policy,
 * rendered as the JSON report of one policy domain, gzipped (§5.2) and named
 * for the attachment (§5.1). Pure: no clock, no I/O, no global state.
 * docs/tlsrpt-report.md is the profile we emit, field by field.
 *
 * Typical use (the daemon, once a day, for the day before):
 *
 *   stsguard_tlsrpt_report_new("2024-05-01", NULL, &agg, &err);
 *   for each stored result r of that day: stsguard_tlsrpt_report_add(agg, &r, &err);
 *   for i < stsguard_tlsrpt_report_domain_count(agg):
 *       d = stsguard_tlsrpt_report_domain(agg, i);
 *       stsguard_tlsrpt_report_json(agg, d, &meta, &json, &len, &err);
 *       stsguard_tlsrpt_report_gzip(json, len, &gz, &gzlen, &err);
 *       stsguard_tlsrpt_report_filename(meta.submitter, d, "2024-05-01", meta.unique_id, name, sizeof name, &err);
 *   stsguard_tlsrpt_report_free(agg);
 */
#ifndef STSGUARD_TLSRPT_REPORT_H
#define STSGUARD_TLSRPT_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "tlsrpt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Defaults of stsguard_tlsrpt_report_limits (a field left 0 takes its default). */
#define STSGUARD_TLSRPT_REPORT_MAX_DOMAINS 10000u          /* policy domains per day */
#define STSGUARD_TLSRPT_REPORT_MAX_POLICIES 32u            /* applied policies per policy domain */
#define STSGUARD_TLSRPT_REPORT_MAX_DETAILS 256u            /* failure-detail groups per applied policy */
#define STSGUARD_TLSRPT_REPORT_MAX_REPORT_BYTES (10u << 20) /* one rendered JSON report */
#define STSGUARD_TLSRPT_REPORT_MAX_MEMORY (256u << 20)      /* the whole aggregator */
/* Smallest max_report_bytes / max_memory accepted (STSGUARD_BADARG below). */
#define STSGUARD_TLSRPT_REPORT_MIN_REPORT_BYTES (64u << 10)
#define STSGUARD_TLSRPT_REPORT_MIN_MEMORY (1u << 20)

/* Caps of the caller-supplied report metadata. */
#define STSGUARD_TLSRPT_REPORT_META_MAX 255u      /* organization-name, contact-info: bytes */
#define STSGUARD_TLSRPT_REPORT_UNIQUE_ID_MAX 64u  /* unique_id: ALPHA / DIGIT characters */
/* A buffer this large always holds stsguard_tlsrpt_report_filename()'s answer. */
#define STSGUARD_TLSRPT_REPORT_FILENAME_MAX 640u
/* Largest input stsguard_tlsrpt_report_gzip() takes. */
#define STSGUARD_TLSRPT_REPORT_GZIP_MAX (64u << 20)

/*
 * The failure-reason-code of a summary failure-detail group: the failed
 * sessions of one result-type whose own detail group did not fit in the
 * report (limits below). Its other optional fields are omitted.
 */
#define STSGUARD_TLSRPT_REPORT_SUMMARY_REASON "summary of failure details beyond this report's limit"

/* The aggregator of one UTC day. */
typedef struct stsguard_tlsrpt_report stsguard_tlsrpt_report;

/*
 * Bounds, each 0 for its default. Overflow never changes a count:
 *
 *  - a result for a new policy domain beyond max_domains (or max_memory) is
 *    refused with STSGUARD_TOOBIG and nothing is recorded: folding it into
 *    another domain would send one domain's data to another. The caller can
 *    render what it has and feed the rest of the day to a new aggregator.
 *  - a new applied policy beyond max_policies for its domain (or one that
 *    would push the domain's report past max_report_bytes, or the aggregator
 *    past max_memory) is counted under a catch-all entry of the same
 *    policy-type and domain with empty policy-string and mx-host.
 *  - a new failure-detail group beyond max_details for its policy (or past
 *    the byte bounds) is counted in a summary group of its result-type (see
 *    STSGUARD_TLSRPT_REPORT_SUMMARY_REASON).
 *
 * Room for the catch-all and summary entries is reserved in advance, so a
 * rendered report never exceeds max_report_bytes. Which groups keep their
 * own entry once a limit is reached depends on the order results arrive in
 * (the first ones do); below the limits the order does not matter.
 */
typedef struct stsguard_tlsrpt_report_limits {
	size_t max_domains;
	size_t max_policies;
	size_t max_details;
	size_t max_report_bytes;
	size_t max_memory; /* an estimate: stored bytes plus bookkeeping */
} stsguard_tlsrpt_report_limits;

/* Who submits the report; the same for every domain of a run. */
typedef struct stsguard_tlsrpt_report_meta {
	const char *organization_name; /* required: UTF-8, no control characters, 1..255 bytes */
	const char *contact_info;      /* required: an addr-spec (RFC 5322 §3.4.1) "local@domain", 1..255 bytes */
	const char *submitter;         /* required: our domain name (A-labels), as in the filename */
	const char *unique_id;         /* NULL or "": none; else 1..64 ALPHA / DIGIT, e.g. the host's id */
} stsguard_tlsrpt_report_meta;

/* Counts of one policy domain, or of all of them. */
typedef struct stsguard_tlsrpt_report_stats {
	uint64_t successful_sessions;        /* sum of total-successful-session-count */
	uint64_t failed_sessions;            /* sum of total-failure-session-count */
	uint64_t summarised_policy_sessions; /* sessions counted under a catch-all policy entry */
	uint64_t summarised_detail_sessions; /* failed sessions counted in a summary detail group */
	uint64_t refused;                    /* add() calls that failed (aggregator-wide only; 0 per domain) */
	size_t domains;
	size_t policies;                     /* policy entries, catch-alls included */
	size_t detail_groups;                /* failure-detail entries, summaries included */
	size_t report_bytes;                 /* upper bound of the rendered JSON (all: the largest domain's) */
} stsguard_tlsrpt_report_stats;

/*
 * A new, empty aggregator for UTC day "YYYY-MM-DD" (a real date, year
 * 1970..9999; else STSGUARD_INVALID). limits may be NULL (all defaults);
 * max_report_bytes or max_memory below their minimum: STSGUARD_BADARG.
 * On STSGUARD_OK *out is new, for stsguard_tlsrpt_report_free(); else NULL.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_report_new(const char *day, const stsguard_tlsrpt_report_limits *limits,
                                                           stsguard_tlsrpt_report **out, stsguard_err *err);

/* NULL is a no-op. */
STSGUARD_EXPORT void stsguard_tlsrpt_report_free(stsguard_tlsrpt_report *agg);

/* The aggregator's day, "YYYY-MM-DD". */
STSGUARD_EXPORT const char *stsguard_tlsrpt_report_day(const stsguard_tlsrpt_report *agg);

/*
 * Count one result (one session). r is read, never kept. The aggregator is
 * not thread-safe: one caller at a time.
 *
 * Refused, nothing recorded, stats.refused counts it:
 *   STSGUARD_BADARG   agg or r NULL, or r->time is not within the
 *                     aggregator's day [00:00:00Z, 24:00:00Z) - err names
 *                     both days;
 *   STSGUARD_INVALID  unknown policy or result type; a text field without
 *                     its NUL; a policy domain that is not an LDH domain name
 *                     (A-labels; upper case and one trailing dot are
 *                     normalised); an IP field that is neither "" nor an
 *                     address inet_pton(3) accepts; a policy string or mx
 *                     pattern that is NULL or "" (when used, below);
 *   STSGUARD_TOOBIG   more than STSGUARD_TLSRPT_POLICY_STRINGS_MAX policy
 *                     strings or STSGUARD_POLICY_MX_MAX mx patterns, one
 *                     longer than STSGUARD_TLSRPT_TEXT_MAX, or a new policy
 *                     domain beyond max_domains / max_memory;
 *   STSGUARD_NOMEM.
 *
 * Accepted results are normalised, so equal things group together: IP
 * addresses as inet_ntop(3) prints them (RFC 5952 for IPv6); policy domain,
 * receiving-mx-hostname and mx patterns in lower case without a trailing
 * dot; mx patterns (sts only) and TLSA records (tlsa) sorted and
 * de-duplicated, as both are sets; STS policy lines kept in the policy's own
 * order. Text is never refused for its content: bytes that are not UTF-8
 * (RFC 3629) become U+FFFD, one per maximal ill-formed subsequence, and
 * quotes, backslashes and control characters are escaped in the JSON. For
 * no-policy-found, policy strings and mx patterns are ignored (there is no
 * policy); for tlsa, mx patterns are ignored (RFC 8460 §4.4: mx-host is for
 * sts). Everything stsguard_tlsrpt_result_check() accepts is accepted here.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_report_add(stsguard_tlsrpt_report *agg,
                                                           const stsguard_tlsrpt_result *r, stsguard_err *err);

/* Number of policy domains seen; 0 for NULL. */
STSGUARD_EXPORT size_t stsguard_tlsrpt_report_domain_count(const stsguard_tlsrpt_report *agg);

/*
 * The i-th policy domain in byte order (normalised), valid until the next
 * add() or free(); NULL when i is out of range.
 */
STSGUARD_EXPORT const char *stsguard_tlsrpt_report_domain(const stsguard_tlsrpt_report *agg, size_t i);

/*
 * Counts of policy_domain, or of the whole aggregator when policy_domain is
 * NULL. STSGUARD_NONE (and *out zeroed) for a domain never seen.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_report_stats_get(const stsguard_tlsrpt_report *agg,
                                                                 const char *policy_domain,
                                                                 stsguard_tlsrpt_report_stats *out);

/*
 * The RFC 8460 §4.4 report of one policy domain as compact JSON (one line,
 * no trailing newline, UTF-8), in the profile of docs/tlsrpt-report.md:
 * every top-level field present and non-null; each policy with policy-type,
 * policy-string, policy-domain and mx-host (arrays, [] when empty), summary
 * and failure-details ([] when none); optional failure-detail fields omitted
 * when unknown, never "" or null; entries sorted, so equal input gives equal
 * bytes.
 *
 * report-id is  day "_" policy-domain ["_" unique_id] "@" submitter,
 * e.g. "2024-05-01_example.com_mx1@mta.example.net": the same for a re-sent
 * report (receivers can de-duplicate), distinct between submitters, and a
 * valid msg-id for the Report-ID of RFC 8460 §5.3.
 *
 * *out is a new NUL-terminated string for free() and *len its length (len
 * may be NULL); on failure *out is NULL. STSGUARD_NONE: the domain has no
 * results. STSGUARD_INVALID: meta breaks its rules (err says which field).
 * STSGUARD_BADARG: NULL arguments. STSGUARD_NOMEM.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_report_json(const stsguard_tlsrpt_report *agg,
                                                            const char *policy_domain,
                                                            const stsguard_tlsrpt_report_meta *meta, char **out,
                                                            size_t *len, stsguard_err *err);

/*
 * gzip (RFC 1952) of len bytes: one member, no file name, MTIME 0, OS 255
 * (unknown), so equal input gives equal output with one zlib build. *out is
 * new for free(), *outlen its size; on failure *out is NULL.
 * STSGUARD_TOOBIG above STSGUARD_TLSRPT_REPORT_GZIP_MAX; STSGUARD_NOMEM.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_report_gzip(const void *data, size_t len, unsigned char **out,
                                                            size_t *outlen, stsguard_err *err);

/*
 * The attachment name of RFC 8460 §5.1 for the gzipped report:
 *
 *   submitter "!" policy-domain "!" begin-timestamp "!" end-timestamp
 *   ["!" unique-id] ".json.gz"
 *
 * with the Unix times of day's 00:00:00Z and 23:59:59Z (the start-datetime
 * and end-datetime of the report), e.g.
 * "mta.example.net!example.com!1714521600!1714607999.json.gz". submitter and
 * policy_domain must be LDH domain names (normalised as in add()), day a
 * valid "YYYY-MM-DD", unique_id NULL, "" or 1..64 ALPHA / DIGIT (the RFC's
 * unique-id): else STSGUARD_INVALID. outsz too small: STSGUARD_TOOBIG
 * (STSGUARD_TLSRPT_REPORT_FILENAME_MAX always suffices).
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_report_filename(const char *submitter, const char *policy_domain,
                                                                const char *day, const char *unique_id, char *out,
                                                                size_t outsz, stsguard_err *err);

#ifdef __cplusplus
}
#endif
#endif
