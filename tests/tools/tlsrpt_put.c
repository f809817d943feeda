/*
 * tlsrpt_put.c - test tool: store TLS-RPT results the way stsguardd does.
 *
 *   tlsrpt_put DIR NOW < lines
 *
 * Each stdin line is one result in the store's text encoding (tlsrpt_store.h,
 * "v1 TIME ..."), without the CRC. The results are decoded, checked and
 * appended to the store in DIR through stsguard_tlsrpt_store_add_batch with
 * the clock set to NOW (Unix time), so tests can fill days in the past.
 * Exit 0 when all were stored, 1 otherwise (the reason on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stsguard/tlsrpt_store.h"

static int64_t fixed_now;

static int64_t clock_fn(void *ctx)
{
	(void)ctx;
	return fixed_now;
}

int main(int argc, char **argv)
{
	static char line[STSGUARD_TLSRPT_LINE_MAX + 2];
	stsguard_tlsrpt_result *rs = NULL;
	size_t n = 0, lineno = 0;
	stsguard_err err = {""};
	int rc = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: tlsrpt_put DIR NOW < results\n");
		return 2;
	}
	char *end;
	fixed_now = (int64_t)strtoll(argv[2], &end, 10);
	if (*end != '\0') {
		fprintf(stderr, "tlsrpt_put: NOW must be a Unix time\n");
		return 2;
	}
	while (fgets(line, sizeof line, stdin) != NULL) {
		size_t l = strcspn(line, "\n");
		lineno++;
		if (l == 0)
			continue;
		stsguard_tlsrpt_result *nr = realloc(rs, (n + 1) * sizeof *rs);
		if (nr == NULL)
			return 1;
		rs = nr;
		if (stsguard_tlsrpt_result_decode(line, l, &rs[n], &err) != STSGUARD_OK) {
			fprintf(stderr, "tlsrpt_put: line %zu: %s\n", lineno, err.msg);
			rc = 1;
			break;
		}
		n++;
	}
	stsguard_tlsrpt_store_settings set = {.clock = clock_fn};
	stsguard_tlsrpt_store *store = NULL;
	if (rc == 0 && stsguard_tlsrpt_store_open(argv[1], &set, &store, &err) != STSGUARD_OK) {
		fprintf(stderr, "tlsrpt_put: %s\n", err.msg);
		rc = 1;
	}
	size_t stored = 0;
	if (rc == 0 && stsguard_tlsrpt_store_add_batch(store, rs, n, &stored, &err) != STSGUARD_OK) {
		fprintf(stderr, "tlsrpt_put: %s\n", err.msg);
		rc = 1;
	}
	stsguard_tlsrpt_store_close(store);
	for (size_t i = 0; i < n; i++)
		stsguard_tlsrpt_result_clear(&rs[i]);
	free(rs);
	if (rc == 0)
		printf("%zu results stored\n", stored);
	return rc;
}
