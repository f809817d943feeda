/*
 * fuzz_opensmtpd_filter.c - libFuzzer target for filter-stsguard's input:
 * the lines smtpd sends a report filter (adapters/opensmtpd/filter_stsguard.c).
 *
 * The input is fed twice, whole and in uneven pieces, to a filter whose
 * daemon and resolver are fakes. The filter must never crash, hang or leak
 * (smtpd shuts down when it dies), and every TLS-RPT key it sends must be
 * one stsguardd accepts (stsguard_tlsrpt_intake_parse), whatever the
 * input held.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsguard/tlsrpt_intake.h"

#define FILTER_STSGUARD_NO_MAIN
#include "filter_stsguard.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fz_query(void *ctx, const char *map, const char *key, char *reply, size_t replysz)
{
	(void)ctx;
	if (strcmp(map, "tlsrpt") == 0) {
		stsguard_tlsrpt_intake in;
		stsguard_err err = {""};
		if (stsguard_tlsrpt_intake_parse(key, strlen(key), &in, &err) != STSGUARD_OK) {
			fprintf(stderr, "refused key '%s': %s\n", key, err.msg);
			__builtin_trap(); /* the filter sent a key the daemon refuses */
		}
		snprintf(reply, replysz, "OK stored");
	} else if (strcmp(map, "routed") == 0) {
		snprintf(reply, replysz, "OK a.test=mx1.a.test b.test=mx.b.test broken =x y=");
	} else if (strcmp(map, "policy") == 0) {
		snprintf(reply, replysz, "OK v=1 verdict=enforce mode=enforce id=x ttl=1 mx=- dane=0 tlsrpt=1 error=- dane_all=0");
	} else {
		return -1;
	}
	return 0;
}

static int fz_resolve(void *ctx, const char *host, char (*addrs)[INET6_ADDRSTRLEN], int max)
{
	(void)ctx;
	if (max < 2)
		return 0;
	snprintf(addrs[0], INET6_ADDRSTRLEN, "127.0.3.%zu", strlen(host) % 4);
	snprintf(addrs[1], INET6_ADDRSTRLEN, "2001:db8::%zu", strlen(host) % 3);
	return 2;
}

static void fz_out(void *ctx, const char *text)
{
	(void)ctx;
	(void)text;
}

static const struct fsg_ops OPS = {fz_query, fz_resolve, fz_out, NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fsg f;
	fsg_init(&f, &OPS, NULL, size > 0 && (data[0] & 1));
	fsg_feed(&f, (const char *)data, size);
	fsg_feed(&f, "\n", 1);
	fsg_init(&f, &OPS, NULL, 1);
	for (size_t off = 0, step = 1; off < size; off += step, step = step * 3 % 97 + 1)
		fsg_feed(&f, (const char *)data + off, step < size - off ? step : size - off);
	return 0;
}
