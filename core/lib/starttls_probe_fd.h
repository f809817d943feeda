/*
 * starttls_probe_fd.h - the STARTTLS probe's conversation on a socket that
 * is already connected (library-internal: stsguard_starttls_probe() and the
 * fuzz target, which feeds it a socketpair holding a hostile server's bytes).
 */
#ifndef STSGUARD_STARTTLS_PROBE_FD_H
#define STSGUARD_STARTTLS_PROBE_FD_H

#include "stsguard/starttls_probe.h"

/*
 * Greeting, EHLO, STARTTLS, TLS handshake and verification on fd (made
 * non-blocking here; not closed), all within timeout_ms. address only names
 * the peer in messages; mx must be a normalized host name. Results as
 * stsguard_starttls_probe().
 */
stsguard_status sg_starttls_probe_fd(int fd, const char *address, const char *mx, const char *ca_file,
                                     int timeout_ms, stsguard_result_type *result, char *detail,
                                     size_t detail_size, stsguard_err *err);

#endif
