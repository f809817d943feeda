/*
 * starttls_probe.h - check one MX host's STARTTLS and certificate ourselves,
 * for adapters whose MTA does not say why it refused a certificate
 * (OpenSMTPD: docs/opensmtpd.md). stsguardd runs it on its worker threads
 * when a tlsrpt result asks for it (probe=1, PROTOCOL.md §5.6).
 *
 * The probe connects to ADDRESS:PORT, reads the greeting, says EHLO, sends
 * STARTTLS if offered, does the TLS handshake (TLS >= 1.2, SNI = the MX
 * name, RFC 8461 §4.2) and verifies the chain against ca_file (NULL: the
 * system store) and the name against the MX host name (RFC 6125 DNS-ID,
 * wildcard in the leftmost label only). It then says QUIT. It never sends
 * a message.
 */
#ifndef STSGUARD_STARTTLS_PROBE_H
#define STSGUARD_STARTTLS_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "tlsrpt.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * STSGUARD_OK with *result one of: success, starttls-not-supported,
 * certificate-host-mismatch, certificate-expired (also "not yet valid"),
 * certificate-not-trusted (any other verification error); detail gets
 * the OpenSSL reason. STSGUARD_TEMPFAIL / STSGUARD_TIMEOUT / STSGUARD_IO when
 * the probe could not get that far (refused, no greeting, handshake broken
 * before any certificate), with the reason in err. BADARG for an address
 * that is not an IPv4/IPv6 literal or an MX name that is not a host name.
 */
STSGUARD_EXPORT stsguard_status stsguard_starttls_probe(const char *address, uint16_t port, const char *mx,
                                                        const char *ca_file, int timeout_ms,
                                                        stsguard_result_type *result, char *detail,
                                                        size_t detail_size, stsguard_err *err);

#ifdef __cplusplus
}
#endif
#endif
