/*
 * sts_txt.h - the _mta-sts TXT record (RFC 8461 §3.1).
 */
#ifndef STSGUARD_STS_TXT_H
#define STSGUARD_STS_TXT_H

#include "status.h"
#include "txt.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STSGUARD_POLICY_ID_MAX 32

/*
 * Parse the whole TXT RRset found at _mta-sts.<domain>.
 *
 * Records that do not begin with "v=STSv1" *WSP ";" are discarded (RFC 8461
 * §3.1; whitespace before ";" is legal by the ABNF, erratum 6285). If none
 * remains: STSGUARD_NONE. If more than one remains, or the one that remains
 * does not match the ABNF (id = 1*32 ALPHA/DIGIT, required; extension fields
 * name "=" value; "*WSP ; *WSP" delimiters; optional trailing delimiter):
 * STSGUARD_INVALID. A record longer than STSGUARD_TXT_RECORD_MAX or more than
 * STSGUARD_TXT_RRSET_MAX records: STSGUARD_TOOBIG. On STSGUARD_OK, id holds
 * the NUL-terminated policy id; a duplicated id field keeps the first (§3.2).
 * id is always written (empty on failure); err, if not NULL, gets the reason.
 */
STSGUARD_EXPORT stsguard_status stsguard_sts_txt_parse(const stsguard_txt *records, size_t n,
                                                       char id[STSGUARD_POLICY_ID_MAX + 1],
                                                       stsguard_err *err);

#ifdef __cplusplus
}
#endif
#endif
