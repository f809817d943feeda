/*
 * tlsrpt_txt.h - the _smtp._tls TXT record (RFC 8460 §3).
 */
#ifndef STSGUARD_TLSRPT_TXT_H
#define STSGUARD_TLSRPT_TXT_H

#include "status.h"
#include "txt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most rua URIs kept from one record; more is refused as too big. */
#define STSGUARD_RUA_MAX 32u

typedef struct stsguard_tlsrpt_record {
	size_t n_rua;
	char **rua; /* "mailto:..." or "https://..." URIs in record order */
} stsguard_tlsrpt_record;

/*
 * Parse the whole TXT RRset found at _smtp._tls.<domain>.
 *
 * Records that do not begin with "v=TLSRPTv1" *WSP ";" are discarded. None
 * left: STSGUARD_NONE. More than one left, or the one left breaks the ABNF
 * of RFC 8460 §3 (rua required; rua = URI *(*WSP "," *WSP URI) with mailto:
 * or https: URIs; extension fields name "=" value, ignored): STSGUARD_INVALID
 * - RFC 8460 treats both as "does not implement TLSRPT". A duplicated rua
 * field keeps the first. Caps as for the STS record: STSGUARD_TOOBIG.
 * On STSGUARD_OK *out is new, for stsguard_tlsrpt_record_free(); else NULL.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_txt_parse(const stsguard_txt *records, size_t n,
                                                          stsguard_tlsrpt_record **out,
                                                          stsguard_err *err);

STSGUARD_EXPORT void stsguard_tlsrpt_record_free(stsguard_tlsrpt_record *record);

#ifdef __cplusplus
}
#endif
#endif
