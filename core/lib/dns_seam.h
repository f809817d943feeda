/*
 * dns_seam.h - test seam of dns.c (internal, not exported): a context whose
 * queries go to `send` instead of the network, so the reading of answers -
 * CNAME chains, negative TTLs, caps, null MX - is tested on packets built in
 * memory. The sender returns OK with a new packet the caller frees, or a
 * failure.
 */
#ifndef STSGUARD_DNS_SEAM_H
#define STSGUARD_DNS_SEAM_H

#include <ldns/ldns.h>

#include "stsguard/dns.h"

typedef stsguard_status (*sg_dns_send_fn)(void *ctx, const ldns_rdf *qname, ldns_rr_type type,
                                          ldns_pkt **answer, stsguard_err *err);
stsguard_status sg_dns_new_with_sender(sg_dns_send_fn send, void *send_ctx, stsguard_dns **out,
                                       stsguard_err *err);

#endif
