/*
 * ingest.c - how many TLS-RPT results per second the store makes durable.
 *
 *   bench_ingest -d DIR [-m add|batch|encode] [-t THREADS] [-b BATCH] [-n TOTAL]
 *
 * add:    THREADS threads each call stsguard_tlsrpt_store_add() in a loop
 *         (every call returns only once its result is fdatasync'ed; group
 *         commit shares the syncs between the threads).
 * batch:  THREADS threads each call stsguard_tlsrpt_store_add_batch() with
 *         BATCH results at a time.
 * encode: no store: THREADS threads only encode results (the CPU cost that
 *         add pays before the mutex), for comparison.
 *
 * TOTAL results in all (split evenly), into a fresh store in DIR (which
 * must not exist yet; it is left behind for inspection and removed by
 * run.sh). The results look like real ones: an STS policy with four policy
 * strings and two mx patterns, IPs, host names, some with a failure reason.
 *
 * Prints one tab-separated line:
 *   mode threads batch results seconds results_per_s commits_per_s
 *   syncs_per_s results_per_commit bytes_per_result cpu_us_per_result
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "stsguard/tlsrpt_store.h"

enum mode { M_ADD, M_BATCH, M_ENCODE };

struct job {
	stsguard_tlsrpt_store *store;
	enum mode mode;
	unsigned id;
	size_t count, batch;
	int64_t now;
	size_t failed;
};

static const char *const policy_lines[] = {"version: STSv1", "mode: enforce", "max_age: 604800",
                                           "mx: mx1.example.com"};
static const char *const mx_patterns[] = {"mx1.example.com", "*.mx.example.net"};

static void make_result(stsguard_tlsrpt_result *r, int64_t now, unsigned id, size_t i)
{
	static const stsguard_result_type types[] = {
		STSGUARD_RESULT_SUCCESS, STSGUARD_RESULT_SUCCESS, STSGUARD_RESULT_SUCCESS,
		STSGUARD_RESULT_CERTIFICATE_EXPIRED, STSGUARD_RESULT_STARTTLS_NOT_SUPPORTED,
	};
	memset(r, 0, sizeof *r);
	r->time = now;
	r->policy_type = STSGUARD_POLICY_STS;
	snprintf(r->policy_domain, sizeof r->policy_domain, "d%zu.example.com", i % 1000);
	snprintf(r->policy_id, sizeof r->policy_id, "20261128T%06zu", i % 997);
	r->result = types[i % (sizeof types / sizeof types[0])];
	snprintf(r->sending_mta_ip, sizeof r->sending_mta_ip, "192.0.2.%u", 1 + id % 250);
	snprintf(r->receiving_mx_hostname, sizeof r->receiving_mx_hostname, "mx1.d%zu.example.com", i % 1000);
	snprintf(r->receiving_mx_helo, sizeof r->receiving_mx_helo, "mx1.d%zu.example.com", i % 1000);
	snprintf(r->receiving_ip, sizeof r->receiving_ip, "2001:db8::%zx", 1 + i % 4000);
	if (r->result != STSGUARD_RESULT_SUCCESS)
		snprintf(r->failure_reason_code, sizeof r->failure_reason_code, "thread %u result %zu failed", id, i);
	/* The arrays are only read by the store: point at static strings (cast away const). */
	r->n_policy_strings = 4;
	r->policy_strings = (char **)(uintptr_t)policy_lines;
	r->n_mx_host_patterns = 2;
	r->mx_host_patterns = (char **)(uintptr_t)mx_patterns;
}

static void *run(void *p)
{
	struct job *j = p;
	stsguard_tlsrpt_result *rs = calloc(j->batch, sizeof *rs);
	char *buf = malloc(STSGUARD_TLSRPT_LINE_MAX + 1);
	if (rs == NULL || buf == NULL) {
		j->failed = j->count;
		free(rs);
		free(buf);
		return NULL;
	}
	for (size_t done = 0; done < j->count;) {
		size_t n = j->count - done < j->batch ? j->count - done : j->batch;
		for (size_t k = 0; k < n; k++)
			make_result(&rs[k], j->now, j->id, done + k);
		stsguard_status st = STSGUARD_OK;
		if (j->mode == M_ADD) {
			st = stsguard_tlsrpt_store_add(j->store, &rs[0], NULL);
		} else if (j->mode == M_BATCH) {
			st = stsguard_tlsrpt_store_add_batch(j->store, rs, n, NULL, NULL);
		} else {
			for (size_t k = 0; k < n && st == STSGUARD_OK; k++) {
				size_t len;
				st = stsguard_tlsrpt_result_encode(&rs[k], buf, STSGUARD_TLSRPT_LINE_MAX + 1, &len, NULL);
			}
		}
		if (st != STSGUARD_OK)
			j->failed += n;
		done += n;
	}
	free(rs);
	free(buf);
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_ingest -d DIR [-m add|batch|encode] [-t THREADS] [-b BATCH] [-n TOTAL]\n");
	return 2;
}

static bool parse_size(const char *s, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v == 0)
		return false;
	*out = (size_t)v;
	return true;
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	enum mode mode = M_ADD;
	size_t threads = 1, batch = 1, total = 10000;
	int opt;

	while ((opt = getopt(argc, argv, "d:m:t:b:n:")) != -1) {
		switch (opt) {
		case 'd': dir = optarg; break;
		case 'm':
			if (strcmp(optarg, "add") == 0)
				mode = M_ADD;
			else if (strcmp(optarg, "batch") == 0)
				mode = M_BATCH;
			else if (strcmp(optarg, "encode") == 0)
				mode = M_ENCODE;
			else
				return usage();
			break;
		case 't':
			if (!parse_size(optarg, &threads) || threads > 1024)
				return usage();
			break;
		case 'b':
			if (!parse_size(optarg, &batch))
				return usage();
			break;
		case 'n':
			if (!parse_size(optarg, &total))
				return usage();
			break;
		default: return usage();
		}
	}
	if (dir == NULL && mode != M_ENCODE)
		return usage();
	if (mode == M_ADD)
		batch = 1;

	int64_t now = (int64_t)time(NULL);
	stsguard_tlsrpt_store *store = NULL;
	if (mode != M_ENCODE) {
		stsguard_err err = {""};
		/* No cap in the way: 4 GiB a day. */
		stsguard_tlsrpt_store_settings set = {0, UINT64_C(4) << 30, false, NULL, NULL};
		if (stsguard_tlsrpt_store_open(dir, &set, &store, &err) != STSGUARD_OK) {
			fprintf(stderr, "bench_ingest: %s\n", err.msg);
			return 1;
		}
	}

	pthread_t *th = calloc(threads, sizeof *th);
	struct job *jobs = calloc(threads, sizeof *jobs);
	if (th == NULL || jobs == NULL)
		return 1;
	double c0 = cpu_s(), t0 = now_s();
	for (size_t i = 0; i < threads; i++) {
		jobs[i] = (struct job){store, mode, (unsigned)i, total / threads + (i < total % threads), batch, now, 0};
		if (pthread_create(&th[i], NULL, run, &jobs[i]) != 0) {
			fprintf(stderr, "bench_ingest: pthread_create failed\n");
			return 1;
		}
	}
	size_t failed = 0;
	for (size_t i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		failed += jobs[i].failed;
	}
	double secs = now_s() - t0, cpu = cpu_s() - c0;

	stsguard_tlsrpt_store_stats st;
	stsguard_tlsrpt_store_stats_get(store, &st);
	stsguard_tlsrpt_store_close(store);
	if (failed > 0) {
		fprintf(stderr, "bench_ingest: %zu results failed\n", failed);
		return 1;
	}
	if (mode != M_ENCODE && st.stored != total) {
		fprintf(stderr, "bench_ingest: %" PRIu64 " stored, %zu expected\n", st.stored, total);
		return 1;
	}
	static const char *const names[] = {"add", "batch", "encode"};
	printf("%s\t%zu\t%zu\t%zu\t%.3f\t%.0f\t%.0f\t%.0f\t%.1f\t%.0f\t%.2f\n", names[mode], threads, batch, total, secs,
	       (double)total / secs, (double)st.commits / secs, (double)st.syncs / secs,
	       st.commits ? (double)st.stored / (double)st.commits : 0.0,
	       st.stored ? (double)st.bytes / (double)st.stored : 0.0, cpu * 1e6 / (double)total);
	free(th);
	free(jobs);
	return 0;
}
