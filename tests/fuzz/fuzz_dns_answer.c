/*
 * fuzz_dns_answer.c - libFuzzer target for the reading of DNS answers in
 * dns.c: the first byte picks the lookup (TXT, MX, A/AAAA, TLSA), the rest
 * is the wire-format reply every query of that lookup receives (so CNAME
 * chains loop back into the same packet and must stop at the hop limit).
 * Properties: no crash, no leak, results within their caps.
 */
#include <stdint.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dns_seam.h"
#include "stsguard/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const uint8_t *wire;
	size_t len;
};

static stsguard_status send_wire(void *ctx, const ldns_rdf *qname, ldns_rr_type type, ldns_pkt **answer,
                                 stsguard_err *err)
{
	const struct input *in = ctx;
	(void)qname;
	(void)type;
	(void)err;
	*answer = NULL;
	if (ldns_wire2pkt(answer, in->wire, in->len) != LDNS_STATUS_OK) {
		*answer = NULL;
		return STSGUARD_TEMPFAIL;
	}
	return STSGUARD_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct input in = {data + 1, size - 1};
	stsguard_dns *dns = NULL;
	if (sg_dns_new_with_sender(send_wire, &in, &dns, NULL) != STSGUARD_OK)
		return 0;
	const struct stsguard_resolver_ops *ops = &stsguard_ldns_resolver_ops;
	switch (data[0] & 3) {
	case 0: {
		stsguard_txt_set *set = NULL;
		stsguard_status st = ops->txt(dns, "_mta-sts.example.com", &set, NULL);
		if (st == STSGUARD_OK && (set == NULL || set->n == 0 || set->n > STSGUARD_TXT_RRSET_MAX + 1))
			__builtin_trap();
		for (size_t i = 0; set != NULL && i < set->n; i++)
			if (set->rec[i].len > STSGUARD_TXT_RECORD_MAX)
				__builtin_trap();
		stsguard_txt_set_free(set);
		break;
	}
	case 1: {
		stsguard_mx_set mx;
		memset(&mx, 0, sizeof mx);
		if (ops->mx(dns, "example.com", &mx, NULL) == STSGUARD_OK && (mx.n == 0 || mx.n > STSGUARD_MX_MAX))
			__builtin_trap();
		for (size_t i = 1; i < mx.n; i++)
			if (mx.mx[i].preference < mx.mx[i - 1].preference)
				__builtin_trap();
		break;
	}
	case 2: {
		stsguard_addr_set a;
		memset(&a, 0, sizeof a);
		if (ops->addrs(dns, "mta-sts.example.com", &a, NULL) == STSGUARD_OK && (a.n == 0 || a.n > STSGUARD_ADDRS_MAX))
			__builtin_trap();
		break;
	}
	default: {
		stsguard_tlsa_state t;
		memset(&t, 0, sizeof t);
		(void)ops->tlsa(dns, "mx.example.com", 25, &t, NULL);
		break;
	}
	}
	stsguard_dns_free(dns);
	return 0;
}
