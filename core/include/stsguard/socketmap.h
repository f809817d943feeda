/*
 * socketmap.h - the Sendmail/Postfix socketmap protocol: netstring framing
 * and "map key" requests (see docs/PROTOCOL.md).
 *
 *   netstring = <decimal length> ":" <bytes> ","      ("11:hello there,")
 *   request   = netstring(<mapname> SP <key>)
 *   reply     = netstring("OK" SP <value> | "NOTFOUND" SP | "TEMP" SP <reason>
 *                         | "TIMEOUT" SP <reason> | "PERM" SP <reason>)
 *
 * Everything here is pure and bounded: the daemon feeds it bytes exactly as
 * they came off a socket.
 */
#ifndef STSGUARD_SOCKETMAP_H
#define STSGUARD_SOCKETMAP_H

#include <stddef.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest request payload accepted ("mapname key"); larger is refused. */
#define STSGUARD_SOCKETMAP_REQUEST_MAX 1024u
#define STSGUARD_MAPNAME_MAX 32u
#define STSGUARD_MAPKEY_MAX 255u

/*
 * Take the next complete netstring from buf[0..len). STSGUARD_OK: *payload
 * and *plen point into buf and *consumed is the netstring's full length.
 * STSGUARD_NONE: incomplete, read more (nothing consumed). STSGUARD_TOOBIG:
 * the announced length exceeds max_payload (decided as soon as the digits
 * show it). STSGUARD_INVALID: not a netstring (no digits, a leading zero in a
 * multi-digit length, more than 10 digits, missing ':' or ','). After TOOBIG
 * or INVALID the stream cannot be resynchronised: reply and close.
 */
STSGUARD_EXPORT stsguard_status stsguard_netstring_next(const char *buf, size_t len, size_t max_payload,
                                                        size_t *consumed, const char **payload, size_t *plen,
                                                        stsguard_err *err);

/* Write payload as a netstring into out (cap bytes); TOOBIG if it does not fit. */
STSGUARD_EXPORT stsguard_status stsguard_netstring_encode(const char *payload, size_t len, char *out, size_t cap,
                                                          size_t *outlen);

/*
 * Split a request payload into its map name ([a-z0-9_-], 1..32, ASCII
 * case-insensitive, returned lower-cased) and key (1..255 printable ASCII
 * bytes without space, returned as sent). One SP separates them. INVALID
 * with the reason otherwise (non-ASCII, control bytes, a second space...).
 */
STSGUARD_EXPORT stsguard_status stsguard_socketmap_split(const char *payload, size_t len,
                                                         char map[STSGUARD_MAPNAME_MAX + 1],
                                                         char key[STSGUARD_MAPKEY_MAX + 1], stsguard_err *err);

#ifdef __cplusplus
}
#endif
#endif
