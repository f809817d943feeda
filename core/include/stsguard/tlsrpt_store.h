/*
 * tlsrpt_store.h - the durable store of TLS-RPT results, and the one-line
 * text encoding of a result that the store and the daemon protocol share.
 *
 * stsguardd receives results (tlsrpt.h) from the MTA adapters, appends them
 * here, and the report builder reads one UTC day back to aggregate it into
 * the RFC 8460 §4 report of that day. The store is append-only: one file per
 * UTC day, DIR/YYYY-MM-DD.results, one line per result:
 *
 *   <encoded result> <crc32, 8 lower-case hex digits>\n
 *
 * A result is acknowledged (add returns STSGUARD_OK) only once its line is on
 * stable storage (write + fdatasync, and an fsync of DIR when the day file
 * was created), so it survives kill -9 and power loss. Concurrent adders
 * share fdatasync calls (group commit). A torn last line can only belong to a
 * result that was never acknowledged; readers skip it, and lines are
 * validated on read as strictly as fresh input from an adapter.
 *
 * Disk use is bounded: results must fall within the retention window (see
 * stsguard_tlsrpt_store_add), each day file has a byte cap after which
 * results are counted but not stored, and expire() deletes day files older
 * than retention_days.
 *
 * ---- The encoding, version 1 ----
 *
 * One line of printable ASCII (0x21-0x7e and single spaces), no newline;
 * tokens separated by exactly one space:
 *
 *   v1 TIME POLICY-TYPE POLICY-DOMAIN POLICY-ID RESULT-TYPE SENDING-MTA-IP
 *      RECEIVING-MX-HOSTNAME RECEIVING-MX-HELO RECEIVING-IP
 *      FAILURE-REASON-CODE ADDITIONAL-INFORMATION
 *      N-POLICY-STRINGS POLICY-STRING... N-MX-HOST-PATTERNS MX-HOST-PATTERN...
 *
 *   TIME         decimal Unix time, 0 .. STSGUARD_TLSRPT_TIME_MAX, no sign or
 *                leading zero
 *   POLICY-TYPE  "tlsa" / "sts" / "no-policy-found" (RFC 8460 §4.4)
 *   RESULT-TYPE  "success" or an RFC 8460 §4.3 result type name
 *   N-...        decimal count, no leading zero, within the caps below
 *   other fields text: "-" is the empty string; otherwise each byte 0x21-0x7e
 *                other than '%' stands for itself and any byte may be written
 *                as %HH (hex digits of either case). The encoder writes %HH,
 *                upper case, for exactly the bytes outside 0x21-0x7e, for
 *                '%', and for a value that is exactly "-" ("%2D").
 *
 * Field rules (stsguard_tlsrpt_result_check): policy-domain and
 * receiving-mx-hostname are host names in A-labels (RFC 5321 LDH labels, no
 * trailing dot; policy-domain required); policy-id is "" or 1*32
 * ALPHA/DIGIT, and "" unless the policy type is sts; IP fields are "" or an
 * address inet_pton(3) accepts (IPv4 or IPv6, no zone); receiving-mx-helo is
 * "", a host name, or an address literal "[192.0.2.1]" / "[IPv6:2001:db8::1]";
 * policy strings (1..255 bytes each, at most STSGUARD_TLSRPT_POLICY_STRINGS_MAX,
 * none for no-policy-found) and failure-reason-code are UTF-8 without control
 * characters other than TAB; additional-information is "" or a URI (scheme
 * ":" then printable ASCII); mx-host patterns pass
 * stsguard_mx_pattern_check() (at most STSGUARD_TLSRPT_MX_PATTERNS_MAX, sts
 * only). Every text field is at most STSGUARD_TLSRPT_TEXT_MAX bytes.
 *
 * Canonical form: the encoder writes, and the decoder returns,
 * policy-domain, receiving-mx-hostname and the mx patterns in lower case and
 * IP addresses as inet_ntop(3) prints them (receiving-mx-helo stays as the
 * server sent it), so one result has one encoding and the report builder can
 * group results by plain string comparison: decode(encode(r)) is r in
 * canonical form, and encode(decode(s)) is the canonical spelling of s.
 */
#ifndef STSGUARD_TLSRPT_STORE_H
#define STSGUARD_TLSRPT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "status.h"
#include "tlsrpt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Latest accepted time: 9999-12-31T23:59:59Z, so a day is always YYYY-MM-DD. */
#define STSGUARD_TLSRPT_TIME_MAX INT64_C(253402300799)
#define STSGUARD_TLSRPT_MX_PATTERNS_MAX STSGUARD_POLICY_MX_MAX
/* Longest possible encoding (without a newline): every field at its cap, fully escaped. */
#define STSGUARD_TLSRPT_LINE_MAX                                                  \
	(4096u + STSGUARD_TLSRPT_POLICY_STRINGS_MAX * (3u * STSGUARD_TLSRPT_TEXT_MAX + 1u) + \
	 STSGUARD_TLSRPT_MX_PATTERNS_MAX * (STSGUARD_TLSRPT_TEXT_MAX + 1u))
/* "YYYY-MM-DD" */
#define STSGUARD_TLSRPT_DAY_LEN 10

/* ---- one result as text ---- */

/*
 * Is r a result the decoder would accept (field rules above)? STSGUARD_OK,
 * or STSGUARD_INVALID / STSGUARD_TOOBIG / STSGUARD_BADARG with the field and
 * the reason in err. Accepts non-canonical spellings (upper case, long IPv6
 * forms) that the encoder canonicalises. Pure function.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_result_check(const stsguard_tlsrpt_result *r, stsguard_err *err);

/*
 * Encode r (which must pass stsguard_tlsrpt_result_check) in canonical form
 * into buf: at most bufsz bytes including a terminating NUL, no newline.
 * *len gets the length of the encoding (without the NUL) on STSGUARD_OK, and
 * the size needed (without the NUL) on STSGUARD_TOOBIG, in which case buf
 * holds nothing usable; a buffer of STSGUARD_TLSRPT_LINE_MAX + 1 bytes is
 * always large enough. An invalid r: STSGUARD_INVALID and nothing written.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_result_encode(const stsguard_tlsrpt_result *r, char *buf,
                                                              size_t bufsz, size_t *len, stsguard_err *err);

/*
 * As stsguard_tlsrpt_result_encode(), into a new NUL-terminated string for
 * free(); *out is NULL on failure. len may be NULL.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_result_encode_alloc(const stsguard_tlsrpt_result *r, char **out,
                                                                    size_t *len, stsguard_err *err);

/*
 * Decode len bytes (no NUL needed; no trailing newline: the caller strips
 * its framing) that must be exactly one version-1 encoding whose fields obey
 * the rules above. Safe on hostile input: nothing is read beyond len, counts
 * are checked against their caps before anything is allocated, and nothing
 * longer than STSGUARD_TLSRPT_LINE_MAX is looked at (STSGUARD_TOOBIG).
 *
 * *out is overwritten, not freed first. On STSGUARD_OK it holds the result
 * in canonical form and owns its two string arrays: release it with
 * stsguard_tlsrpt_result_clear(). On failure (STSGUARD_INVALID,
 * STSGUARD_TOOBIG, STSGUARD_NOMEM) *out is zeroed and owns nothing, and err
 * names the field and what is wrong with it.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_result_decode(const char *line, size_t len,
                                                              stsguard_tlsrpt_result *out, stsguard_err *err);

/*
 * Note on ownership (tlsrpt.h): stsguard_tlsrpt_result_clear() frees every
 * string in policy_strings and mx_host_patterns and the two arrays, then
 * zeroes the result; results built by hand for the encoder or the store may
 * use any memory, since those functions only read them.
 */

/* ---- UTC days ---- */

/*
 * The UTC day of Unix time t as "YYYY-MM-DD" (proleptic Gregorian, no time
 * zone database). STSGUARD_BADARG when t is outside 0..STSGUARD_TLSRPT_TIME_MAX.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_day_name(int64_t t, char day[STSGUARD_TLSRPT_DAY_LEN + 1]);

/*
 * The Unix time of 00:00:00Z on day "YYYY-MM-DD" (exactly ten characters, a
 * real calendar date, year 1970..9999). STSGUARD_INVALID otherwise.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_day_parse(const char *day, int64_t *start);

/* ---- the store ---- */

#define STSGUARD_TLSRPT_RETENTION_DEFAULT 14u        /* days */
#define STSGUARD_TLSRPT_RETENTION_MAX 3660u          /* ten years */
#define STSGUARD_TLSRPT_DAY_BYTES_DEFAULT (256u << 20) /* 256 MiB per UTC day */

typedef struct stsguard_tlsrpt_store stsguard_tlsrpt_store;

typedef struct stsguard_tlsrpt_store_settings {
	/* Days kept before the current UTC day; 0: STSGUARD_TLSRPT_RETENTION_DEFAULT. */
	unsigned retention_days;
	/* Cap on one day file; 0: STSGUARD_TLSRPT_DAY_BYTES_DEFAULT. */
	uint64_t max_day_bytes;
	/* Open for reading only: no lock, no directory created, add/expire refused. */
	bool read_only;
	/* Injected clock (Unix seconds) for the retention window; NULL: time(2). */
	int64_t (*clock)(void *clock_ctx);
	void *clock_ctx;
} stsguard_tlsrpt_store_settings;

/* Counters since open, for logs, metrics and the benchmark. */
typedef struct stsguard_tlsrpt_store_stats {
	uint64_t stored;     /* results acknowledged as durable */
	uint64_t dropped;    /* results refused because their day was full */
	uint64_t commits;    /* group commits (one write + fdatasync per day file touched) */
	uint64_t syncs;      /* fdatasync/fsync calls, directory syncs included */
	uint64_t bytes;      /* bytes appended */
	uint64_t io_errors;  /* commits that failed */
} stsguard_tlsrpt_store_stats;

/* What one read of a day found. */
typedef struct stsguard_tlsrpt_day_stats {
	uint64_t results;    /* valid results handed to the callback */
	uint64_t skipped;    /* torn, corrupt (CRC), invalid or misfiled lines skipped */
} stsguard_tlsrpt_day_stats;

/* One day present in the store. */
typedef struct stsguard_tlsrpt_day {
	char day[STSGUARD_TLSRPT_DAY_LEN + 1]; /* "YYYY-MM-DD" */
	uint64_t bytes;                        /* size of its file */
} stsguard_tlsrpt_day;

/*
 * Open the store in dir. Writable (the default): creates dir (mode 0750) if
 * needed and takes an exclusive lock on DIR/tlsrpt.lock, so one process
 * writes at a time; another holder: STSGUARD_TEMPFAIL after about two
 * seconds. Read-only: dir must exist (STSGUARD_NONE otherwise), no lock.
 * settings may be NULL (defaults); retention_days above
 * STSGUARD_TLSRPT_RETENTION_MAX: STSGUARD_BADARG. Nothing is read at open:
 * day files are checked when they are read. On success *out is a new store
 * for stsguard_tlsrpt_store_close(); on failure *out is NULL.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_store_open(const char *dir,
                                                           const stsguard_tlsrpt_store_settings *settings,
                                                           stsguard_tlsrpt_store **out, stsguard_err *err);

/*
 * Close the store and release its lock. No other call on it may be running
 * or start. NULL is a no-op.
 */
STSGUARD_EXPORT void stsguard_tlsrpt_store_close(stsguard_tlsrpt_store *store);

/*
 * Append one result and return once it is durable. Thread-safe: concurrent
 * callers are group-committed (one of them writes and fdatasyncs the lines
 * of all that are waiting, the others sleep until their line is durable).
 *
 * r must pass stsguard_tlsrpt_result_check (else STSGUARD_INVALID, nothing
 * stored), and its UTC day must lie in the window from retention_days days
 * before the clock's current day to the day after it (else STSGUARD_INVALID:
 * a result the next expire() would delete, or a clock far off, must not
 * create day files). If the day file has reached max_day_bytes the result is
 * counted (stats.dropped) but not stored: STSGUARD_TOOBIG, err says which
 * day is full. STSGUARD_IO (with errno text): a write or sync failed, and the
 * result may or may not be stored (a retry may store it twice); the store
 * stays usable. STSGUARD_NOMEM: not stored. STSGUARD_OK: the line is on
 * stable storage. Read-only store: STSGUARD_BADARG.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_store_add(stsguard_tlsrpt_store *store,
                                                          const stsguard_tlsrpt_result *r, stsguard_err *err);

/*
 * Append n results (n == 0 is a no-op) with one group commit and return once
 * all stored ones are durable. Thread-safe, and shares commits with
 * concurrent add() callers. Every result is checked first: if any fails
 * check or the window, nothing is stored and STSGUARD_INVALID names its
 * index. Then each result is stored or, when its day is full, dropped and
 * counted: STSGUARD_TOOBIG if any was dropped, STSGUARD_OK if none was.
 * *n_stored (may be NULL) gets the number stored, on every return; with
 * STSGUARD_IO they may or may not be durable.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_store_add_batch(stsguard_tlsrpt_store *store,
                                                                const stsguard_tlsrpt_result *results, size_t n,
                                                                size_t *n_stored, stsguard_err *err);

/*
 * Delete the day files whose day is more than retention_days days before
 * the UTC day of now (with retention_days 14, on 2026-11-30 the files of
 * 2026-11-15 and before go). Only names of the exact form YYYY-MM-DD.results
 * are touched. *n_deleted (may be NULL) gets how many were deleted.
 * STSGUARD_IO if one could not be deleted (the others still are).
 * Thread-safe with add. Read-only store: STSGUARD_BADARG.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_store_expire(stsguard_tlsrpt_store *store, int64_t now,
                                                             size_t *n_deleted, stsguard_err *err);

/*
 * Call fn for every valid result of UTC day "YYYY-MM-DD", in the order they
 * were appended; fn returning non-zero stops the walk (still STSGUARD_OK).
 * The result passed to fn is valid only during the call; fn runs without
 * any lock of the store held, so it may call add. Each line must
 * carry a good CRC, decode under the rules above and belong to that day;
 * any other line (torn by a crash, damaged, hand-edited) is skipped and
 * counted in stats->skipped. On a writable store, lines whose commit is
 * still in progress are not visited. Thread-safe with add.
 *
 * STSGUARD_OK; STSGUARD_NONE when the day has no file; STSGUARD_INVALID for
 * a malformed day; STSGUARD_IO / STSGUARD_NOMEM. stats (may be NULL) is
 * filled on every return.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_store_foreach_day(
    stsguard_tlsrpt_store *store, const char *day, int (*fn)(void *ctx, const stsguard_tlsrpt_result *r),
    void *ctx, stsguard_tlsrpt_day_stats *stats, stsguard_err *err);

/*
 * The days that have a file, oldest first, as a new array for free() in
 * *days (NULL when there are none) and their number in *n.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_store_list_days(stsguard_tlsrpt_store *store,
                                                                stsguard_tlsrpt_day **days, size_t *n,
                                                                stsguard_err *err);

/* Counters since open (a consistent snapshot). NULL store: all zero. */
STSGUARD_EXPORT void stsguard_tlsrpt_store_stats_get(stsguard_tlsrpt_store *store,
                                                     stsguard_tlsrpt_store_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
