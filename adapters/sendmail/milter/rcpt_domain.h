/* rcpt_domain.h - stsguard-milter's pure part: from an envelope recipient
 * to the policy domain to prefetch (docs/PROTOCOL.md section 5.5). */
#ifndef STSGUARD_MILTER_RCPT_DOMAIN_H
#define STSGUARD_MILTER_RCPT_DOMAIN_H

#include <stddef.h>

/* Longest domain name we pass on (RFC 1035 §2.3.4 without the root dot). */
#define SMP_DOMAIN_MAX 253

/* Extract the recipient domain from an envelope address as libmilter hands
 * it over (`<user@Example.COM.>`, `user@example.com`).  Writes the
 * lower-cased domain without a trailing dot into out (size >=
 * SMP_DOMAIN_MAX + 1).  Returns 1 on success; 0 when there is nothing to
 * prefetch: no domain, an address literal (`[192.0.2.1]`, no policy by
 * RFC 8461 §3.4), bytes that cannot be in a host name, an empty label
 * (".x", "x..y", "x.."), a label over 63 bytes, or a name over
 * SMP_DOMAIN_MAX.  At most len bytes of addr are read. */
int smp_rcpt_domain(const char *addr, size_t len, char *out);

#endif
