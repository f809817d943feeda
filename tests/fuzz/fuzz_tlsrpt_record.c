/*
 * fuzz_tlsrpt_record.c - libFuzzer target for the TLS-RPT result line: what
 * an adapter sends in a tlsrpt-record request and what a day file of the
 * store holds.
 *
 * Two passes over each input:
 *  1. stsguard_tlsrpt_result_decode() on the bytes. On success the result
 *     must pass stsguard_tlsrpt_result_check(), encode, and the encoding
 *     must be canonical: printable ASCII with single spaces, decoding to the
 *     same result and encoding to the same bytes again. On failure the
 *     output must own nothing.
 *  2. The bytes as the day file 2026-11-28.results of a read-only store:
 *     every result the walk hands out must pass the check and lie on that
 *     day; nothing may crash whatever the file holds.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stsguard/tlsrpt_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DAY_START INT64_C(1795824000) /* 2026-11-28T00:00:00Z */

static char dir[64];
static stsguard_tlsrpt_store *store;

static void same_or_trap(const stsguard_tlsrpt_result *a, const stsguard_tlsrpt_result *b)
{
	if (a->time != b->time || a->policy_type != b->policy_type || a->result != b->result ||
	    strcmp(a->policy_domain, b->policy_domain) != 0 || strcmp(a->policy_id, b->policy_id) != 0 ||
	    strcmp(a->sending_mta_ip, b->sending_mta_ip) != 0 ||
	    strcmp(a->receiving_mx_hostname, b->receiving_mx_hostname) != 0 ||
	    strcmp(a->receiving_mx_helo, b->receiving_mx_helo) != 0 || strcmp(a->receiving_ip, b->receiving_ip) != 0 ||
	    strcmp(a->failure_reason_code, b->failure_reason_code) != 0 ||
	    strcmp(a->additional_information, b->additional_information) != 0 ||
	    a->n_policy_strings != b->n_policy_strings || a->n_mx_host_patterns != b->n_mx_host_patterns)
		__builtin_trap();
	for (size_t i = 0; i < a->n_policy_strings; i++)
		if (strcmp(a->policy_strings[i], b->policy_strings[i]) != 0)
			__builtin_trap();
	for (size_t i = 0; i < a->n_mx_host_patterns; i++)
		if (strcmp(a->mx_host_patterns[i], b->mx_host_patterns[i]) != 0)
			__builtin_trap();
}

static void decode_pass(const char *in, size_t size)
{
	stsguard_tlsrpt_result r, r2;
	stsguard_err err = {""};

	if (stsguard_tlsrpt_result_decode(in, size, &r, &err) != STSGUARD_OK) {
		if (r.policy_strings != NULL || r.mx_host_patterns != NULL || r.n_policy_strings != 0 ||
		    r.n_mx_host_patterns != 0 || err.msg[0] == '\0')
			__builtin_trap();
		return;
	}
	if (stsguard_tlsrpt_result_check(&r, NULL) != STSGUARD_OK)
		__builtin_trap();
	char *enc = NULL;
	size_t len = 0;
	if (stsguard_tlsrpt_result_encode_alloc(&r, &enc, &len, NULL) != STSGUARD_OK || len > STSGUARD_TLSRPT_LINE_MAX)
		__builtin_trap();
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)enc[i];
		if (c < 0x20 || c > 0x7e || (c == ' ' && (i == 0 || enc[i - 1] == ' ' || i + 1 == len)))
			__builtin_trap();
	}
	if (stsguard_tlsrpt_result_decode(enc, len, &r2, NULL) != STSGUARD_OK)
		__builtin_trap();
	same_or_trap(&r, &r2);
	char *enc2 = NULL;
	size_t len2 = 0;
	if (stsguard_tlsrpt_result_encode_alloc(&r2, &enc2, &len2, NULL) != STSGUARD_OK || len2 != len ||
	    memcmp(enc, enc2, len) != 0)
		__builtin_trap();
	char day[STSGUARD_TLSRPT_DAY_LEN + 1];
	int64_t start;
	if (stsguard_tlsrpt_day_name(r.time, day) != STSGUARD_OK || stsguard_tlsrpt_day_parse(day, &start) != STSGUARD_OK ||
	    start > r.time || r.time - start >= 86400)
		__builtin_trap();
	free(enc);
	free(enc2);
	stsguard_tlsrpt_result_clear(&r);
	stsguard_tlsrpt_result_clear(&r2);
}

static int check_stored(void *ctx, const stsguard_tlsrpt_result *r)
{
	(void)ctx;
	if (stsguard_tlsrpt_result_check(r, NULL) != STSGUARD_OK || r->time < DAY_START || r->time >= DAY_START + 86400)
		__builtin_trap();
	return 0;
}

static void remove_dir(void)
{
	char path[128];
	stsguard_tlsrpt_store_close(store);
	snprintf(path, sizeof path, "%s/2026-11-28.results", dir);
	unlink(path);
	rmdir(dir);
}

static void file_pass(const uint8_t *data, size_t size)
{
	char path[128];

	if (dir[0] == '\0') {
		snprintf(dir, sizeof dir, "/tmp/stsgfuzz-tlsrpt.XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
		stsguard_tlsrpt_store_settings set = {0, 0, true, NULL, NULL};
		if (stsguard_tlsrpt_store_open(dir, &set, &store, NULL) != STSGUARD_OK)
			abort();
		atexit(remove_dir);
	}
	snprintf(path, sizeof path, "%s/2026-11-28.results", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	stsguard_tlsrpt_day_stats st;
	if (stsguard_tlsrpt_store_foreach_day(store, "2026-11-28", check_stored, NULL, &st, NULL) != STSGUARD_OK)
		__builtin_trap();
	if (size == 0 && (st.results != 0 || st.skipped != 0))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_pass((const char *)data, size);
	file_pass(data, size);
	return 0;
}
