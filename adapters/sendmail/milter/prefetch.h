/* prefetch.h - the pure and the socket parts of stsguard-milter's one job:
 * turn an envelope recipient into a policy domain and send stsguardd a
 * `prefetch <domain>` socketmap request (docs/PROTOCOL.md section 5.5). */
#ifndef STSGUARD_MILTER_PREFETCH_H
#define STSGUARD_MILTER_PREFETCH_H

#include <stddef.h>

/* Longest domain name we pass on (RFC 1035 §2.3.4 without the root dot). */
#define SMP_DOMAIN_MAX 253
/* Longest reply we read from stsguardd: prefetch answers "OK queued". */
#define SMP_REPLY_MAX 512

/* Extract the recipient domain from an envelope address as libmilter hands
 * it over (`<user@Example.COM.>`, `user@example.com`, with ESMTP
 * parameters stripped already).  Writes the lower-cased domain without a
 * trailing dot into out (size >= SMP_DOMAIN_MAX + 1).  Returns 1 on success;
 * 0 when there is nothing to prefetch: no domain, an address literal
 * (`[192.0.2.1]`, no policy by RFC 8461 §3.4), bytes that cannot be in a
 * host name, or a name over SMP_DOMAIN_MAX.  len caps what is read. */
int smp_rcpt_domain(const char *addr, size_t len, char *out);

/* Endpoint of stsguardd: "unix:/path", "inet:PORT@HOST" (Sendmail's
 * spelling) or "inet:HOST:PORT" / "inet:[V6]:PORT" (stsguard's). */
struct smp_endpoint;
/* Parse spec; returns NULL (and a reason in err) when it is not valid. */
struct smp_endpoint *smp_endpoint_parse(const char *spec, char *err, size_t errlen);
void smp_endpoint_free(struct smp_endpoint *ep);

/* Send `prefetch <domain>` and read one reply within timeout_ms in total
 * (connect + write + read).  Returns 0 and the reply payload in reply
 * (NUL-terminated, at most SMP_REPLY_MAX bytes) or -1 with a reason in
 * reply.  Never blocks longer than timeout_ms. */
int smp_prefetch(const struct smp_endpoint *ep, const char *domain, int timeout_ms,
                 char *reply, size_t replylen);

#endif
