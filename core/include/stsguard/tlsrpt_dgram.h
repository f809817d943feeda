/*
 * tlsrpt_dgram.h - the datagrams that sys4's libtlsrpt (used by Postfix
 * 3.10+ with smtp_tlsrpt_socket_name) sends to its collector, turned into
 * TLS-RPT results (tlsrpt.h) so that stsguardd can take the collector's
 * place on that unix datagram socket (the daemon side, config key
 * tlsrpt_socket, is not part of this module).
 *
 * One datagram describes one delivery attempt (one TLS session, or the
 * attempt that failed before one existed) to the recipient domain "d", as
 * JSON: one or more policies, each with a final result and the failure
 * details seen under it. docs/tlsrpt-intake.md has the format field by field
 * and its mapping to RFC 8460; in short, each policy yields one success
 * result when it succeeded, and one result per failure detail when it
 * failed. The datagram carries no time: results get the receive time.
 *
 * Pure function of its input and the clock value passed in; never prints,
 * never blocks. Safe on hostile input: the length is checked before a byte
 * is read, nesting, element counts and every string are capped, strings
 * must be strict UTF-8, and every result must pass
 * stsguard_tlsrpt_result_check().
 */
#ifndef STSGUARD_TLSRPT_DGRAM_H
#define STSGUARD_TLSRPT_DGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "tlsrpt.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Longest datagram parsed. libtlsrpt sends its whole datagram in one
 * sendto() and has no size limit of its own; what Postfix sends (one policy,
 * at most one failure) is a few KiB. A receiver should read with a buffer
 * of STSGUARD_TLSRPT_DGRAM_MAX + 1 bytes and MSG_TRUNC, and pass the length
 * recv() returned: a longer datagram is refused (STSGUARD_TOOBIG) without
 * its bytes being looked at.
 */
#define STSGUARD_TLSRPT_DGRAM_MAX 65536u
#define STSGUARD_TLSRPT_DGRAM_POLICIES_MAX 16u   /* policies in one datagram */
#define STSGUARD_TLSRPT_DGRAM_FAILURES_MAX 64u   /* failure details in one policy */
#define STSGUARD_TLSRPT_DGRAM_RESULTS_MAX 256u   /* results from one datagram */
#define STSGUARD_TLSRPT_DGRAM_RECORD_MAX 2048u   /* bytes of the TLSRPT record ("pr") */
/* Datagram protocol versions understood ("dpv"; absent before libtlsrpt 0.5.0). */
#define STSGUARD_TLSRPT_DGRAM_VERSION 1

/* One parsed datagram. */
typedef struct stsguard_tlsrpt_dgram {
	unsigned version;            /* "dpv": 1, or 0 when the sender did not say (libtlsrpt < 0.5.0) */
	char domain[256];            /* "d": the recipient domain, A-label, lower case */
	char *tlsrpt_record;         /* "pr": its TLSRPT TXT record as the MTA saw it; "" when absent */
	size_t n_results;            /* >= 1 */
	stsguard_tlsrpt_result *results;
} stsguard_tlsrpt_dgram;

/*
 * Parse one datagram of len bytes (no NUL needed) received at Unix time now
 * (0 .. STSGUARD_TLSRPT_TIME_MAX, else STSGUARD_BADARG). On STSGUARD_OK
 * *out is a new datagram, every result of which passes
 * stsguard_tlsrpt_result_check() and has time == now; release it with
 * stsguard_tlsrpt_dgram_free(). Otherwise *out is NULL and err names the
 * field and the reason: STSGUARD_TOOBIG (longer than
 * STSGUARD_TLSRPT_DGRAM_MAX, or a count or string over its cap),
 * STSGUARD_INVALID (not JSON, not UTF-8, an unknown "dpv", a missing or
 * mistyped field, a value the result rules refuse, a final result that
 * contradicts the failure details), STSGUARD_NOMEM. A datagram is taken
 * whole or not at all.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_dgram_parse(const char *buf, size_t len, int64_t now,
                                                            stsguard_tlsrpt_dgram **out, stsguard_err *err);

/* Free a datagram and its results. NULL is a no-op. */
STSGUARD_EXPORT void stsguard_tlsrpt_dgram_free(stsguard_tlsrpt_dgram *dgram);

#ifdef __cplusplus
}
#endif
#endif
