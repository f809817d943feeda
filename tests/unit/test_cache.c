/*
 * test_cache.c - the policy cache: in-memory semantics, the on-disk journal,
 * its crash safety and its lock.
 *
 * Expectations come from cache.h: get returns a deep copy (NONE if absent),
 * put copies its input, purge removes one domain (NONE if absent) or all,
 * foreach visits every entry and stops on non-zero, the journal survives
 * close/open, a torn or corrupt line is skipped at load and counted by
 * stsguard_cache_skipped(), compaction keeps exactly the live entries, one
 * process at a time (a second open fails with STSGUARD_TEMPFAIL), and a
 * kill -9 at any moment leaves a loadable cache.
 *
 * Only two tests look inside the journal format documented at the top of
 * cache.c ("E <domain> ... <crc32>" lines): the hand-made lines with a good
 * checksum, one valid (a control) and one carrying a bad mx pattern, which
 * must not be loaded ("validated at load as strictly as fresh network input").
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "stsguard/cache.h"
#include "stsguard/policy.h"

#include "check.h"

#define JOURNAL "cache.journal"

static char g_dir[512];

/* ---- helpers ---- */

static stsguard_policy *policy_from(const char *body)
{
	stsguard_policy *p = NULL;
	stsguard_err err = {""};

	if (stsguard_policy_parse(body, strlen(body), &p, &err) != STSGUARD_OK) {
		fprintf(stderr, "test bug: policy does not parse: %s\n", err.msg);
		return NULL;
	}
	return p;
}

/* An entry with every field set to something distinct. */
static void make_entry(stsguard_cache_entry *e, const char *domain, const char *policy_body, unsigned seed)
{
	memset(e, 0, sizeof *e);
	snprintf(e->domain, sizeof e->domain, "%s", domain);
	e->policy = policy_body != NULL ? policy_from(policy_body) : NULL;
	if (policy_body != NULL)
		snprintf(e->policy_id, sizeof e->policy_id, "pid%u", seed);
	e->fetched_at = 1700000000 + (int64_t)seed;
	e->expires_at = e->fetched_at + 86400;
	snprintf(e->txt_id, sizeof e->txt_id, "txt%u", seed);
	e->txt_none_until = policy_body != NULL ? 0 : 1700000300 + (int64_t)seed;
	e->last_failure = (stsguard_reason)(seed % (unsigned)STSGUARD_REASON_MAX_);
	e->last_failure_at = 1600000000 + (int64_t)seed;
	snprintf(e->failed_id, sizeof e->failed_id, "fail%u", seed);
	e->next_retry = 1700000600 + (int64_t)seed;
	e->failures = seed % 9;
}

static bool same_policy(const stsguard_policy *a, const stsguard_policy *b, const char *name)
{
	char label[200];
	bool ok = true;

	if (a == NULL || b == NULL) {
		snprintf(label, sizeof label, "%s: policy presence", name);
		return CHECK_TRUE((a == NULL) == (b == NULL), label);
	}
	snprintf(label, sizeof label, "%s: policy mode", name);
	ok &= CHECK_INT(a->mode, b->mode, label);
	snprintf(label, sizeof label, "%s: policy max_age", name);
	ok &= CHECK_INT(a->max_age, b->max_age, label);
	snprintf(label, sizeof label, "%s: policy max_age_capped", name);
	ok &= CHECK_INT(a->max_age_capped, b->max_age_capped, label);
	snprintf(label, sizeof label, "%s: policy n_mx", name);
	if (!CHECK_INT(a->n_mx, b->n_mx, label))
		return false;
	for (size_t i = 0; i < a->n_mx; i++) {
		snprintf(label, sizeof label, "%s: policy mx[%zu]", name, i);
		ok &= CHECK_STR(a->mx[i], b->mx[i], label);
	}
	return ok;
}

static bool same_entry(const stsguard_cache_entry *got, const stsguard_cache_entry *want, const char *name)
{
	char label[200];
	bool ok = true;

#define FIELD_STR(f)                                              \
	do {                                                      \
		snprintf(label, sizeof label, "%s: " #f, name);   \
		ok &= CHECK_STR(got->f, want->f, label);          \
	} while (0)
#define FIELD_INT(f)                                              \
	do {                                                      \
		snprintf(label, sizeof label, "%s: " #f, name);   \
		ok &= CHECK_INT(got->f, want->f, label);          \
	} while (0)
	FIELD_STR(domain);
	FIELD_STR(policy_id);
	FIELD_INT(fetched_at);
	FIELD_INT(expires_at);
	FIELD_STR(txt_id);
	FIELD_INT(txt_none_until);
	FIELD_INT(last_failure);
	FIELD_INT(last_failure_at);
	FIELD_STR(failed_id);
	FIELD_INT(next_retry);
	FIELD_INT(failures);
#undef FIELD_STR
#undef FIELD_INT
	ok &= same_policy(got->policy, want->policy, name);
	return ok;
}

/* get(domain) must equal want. */
static void expect_get(stsguard_cache *c, const stsguard_cache_entry *want, const char *name)
{
	stsguard_cache_entry got;

	if (CHECK_STATUS(stsguard_cache_get(c, want->domain, &got), STSGUARD_OK, name))
		same_entry(&got, want, name);
	stsguard_cache_entry_clear(&got);
}

static void expect_absent(stsguard_cache *c, const char *domain, const char *name)
{
	stsguard_cache_entry got;

	CHECK_STATUS(stsguard_cache_get(c, domain, &got), STSGUARD_NONE, name);
	stsguard_cache_entry_clear(&got);
}

static char *path_in(const char *dir, const char *file)
{
	size_t n = strlen(dir) + strlen(file) + 2;
	char *p = malloc(n);
	if (p != NULL)
		snprintf(p, n, "%s/%s", dir, file);
	return p;
}

static long file_size(const char *dir)
{
	struct stat sb;
	char *p = path_in(dir, JOURNAL);
	long n = (p != NULL && stat(p, &sb) == 0) ? (long)sb.st_size : -1;
	free(p);
	return n;
}

/* Whole journal into a new NUL-terminated buffer. */
static char *read_journal(const char *dir, size_t *len)
{
	char *p = path_in(dir, JOURNAL);
	FILE *f = p != NULL ? fopen(p, "rb") : NULL;
	char *buf = NULL;
	size_t cap = 0, n = 0;

	free(p);
	if (f == NULL)
		return NULL;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = (n + 4096 + 1) * 2;
			char *nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t r = fread(buf + n, 1, 4096, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static bool write_journal(const char *dir, const char *data, size_t len, const char *mode)
{
	char *p = path_in(dir, JOURNAL);
	FILE *f = p != NULL ? fopen(p, mode) : NULL;
	free(p);
	if (f == NULL)
		return false;
	bool ok = fwrite(data, 1, len, f) == len;
	return fclose(f) == 0 && ok;
}

static size_t count_lines(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	return n;
}

/* Remove every file in dir, then dir. */
static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char *p = path_in(dir, de->d_name);
		if (p != NULL)
			unlink(p);
		free(p);
	}
	closedir(d);
	rmdir(dir);
}

/* A fresh empty subdirectory of g_dir for one test. */
static void subdir(char *out, size_t outsz, const char *name)
{
	snprintf(out, outsz, "%s/%s", g_dir, name);
	rm_dir(out);
}

static stsguard_cache *open_ok(const char *dir, const char *name)
{
	stsguard_cache *c = NULL;
	stsguard_err err = {""};

	if (!CHECK_STATUS(stsguard_cache_open(dir, &c, &err), STSGUARD_OK, name))
		fprintf(stderr, "    error: %s\n", err.msg);
	return c;
}

#define P_ENFORCE "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: *.example.net\nmax_age: 86400\n"
#define P_TESTING "version: STSv1\nmode: testing\nmx: mx.example.org\nmax_age: 604800\n"
#define P_NONE "version: STSv1\nmode: none\nmax_age: 3600\n"
#define P_CAPPED "version: STSv1\nmode: enforce\nmx: a.example\nmx: b.example\nmx: c.example\nmax_age: 99999999\n"

/* ---- in-memory semantics ---- */

struct visit {
	size_t calls;
	size_t seen_a, seen_b, seen_c;
	size_t stop_after;
};

static int visit_fn(void *ctx, const stsguard_cache_entry *e)
{
	struct visit *v = ctx;
	v->calls++;
	v->seen_a += strcmp(e->domain, "a.example") == 0;
	v->seen_b += strcmp(e->domain, "b.example") == 0;
	v->seen_c += strcmp(e->domain, "c.example") == 0;
	return v->stop_after != 0 && v->calls >= v->stop_after;
}

static void test_memory(void)
{
	stsguard_cache *c = open_ok(NULL, "memory: open");
	stsguard_cache_entry a, b, cc, got;
	stsguard_err err = {""};

	if (c == NULL)
		return;
	CHECK_INT(stsguard_cache_count(c), 0, "memory: empty count");
	expect_absent(c, "a.example", "memory: get absent");
	CHECK_INT(stsguard_cache_skipped(c), 0, "memory: skipped");

	make_entry(&a, "a.example", P_ENFORCE, 1);
	make_entry(&b, "b.example", P_NONE, 2);
	make_entry(&cc, "c.example", NULL, 3);
	CHECK_STATUS(stsguard_cache_put(c, &a, &err), STSGUARD_OK, "memory: put a");
	CHECK_STATUS(stsguard_cache_put(c, &b, &err), STSGUARD_OK, "memory: put b");
	CHECK_STATUS(stsguard_cache_put(c, &cc, &err), STSGUARD_OK, "memory: put c (no policy)");
	CHECK_INT(stsguard_cache_count(c), 3, "memory: count 3");
	expect_get(c, &a, "memory: get a");
	expect_get(c, &b, "memory: get b");
	expect_get(c, &cc, "memory: get c");
	expect_absent(c, "A.example", "memory: domains are exact keys");
	expect_absent(c, "d.example", "memory: get other");

	/* put copied its input: mutating (and freeing) the caller's entry changes nothing. */
	stsguard_cache_entry orig;
	CHECK_STATUS(stsguard_cache_entry_copy(&orig, &a), STSGUARD_OK, "memory: entry_copy");
	a.policy->mx[0][0] = 'z';
	a.policy->mode = STSGUARD_MODE_TESTING;
	a.policy->max_age = 1;
	a.policy_id[0] = 'X';
	a.fetched_at = 0;
	stsguard_cache_entry_clear(&a);
	CHECK_TRUE(a.policy == NULL && a.domain[0] == '\0', "memory: entry_clear zeroes");
	expect_get(c, &orig, "memory: put made a deep copy");

	/* get returns a deep copy: mutating it changes nothing either. */
	if (CHECK_STATUS(stsguard_cache_get(c, "a.example", &got), STSGUARD_OK, "memory: get for mutation") &&
	    CHECK_TRUE(got.policy != NULL && got.policy != orig.policy, "memory: get gives a new policy")) {
		got.policy->mx[1][0] = 'q';
		got.expires_at = 5;
	}
	stsguard_cache_entry_clear(&got);
	expect_get(c, &orig, "memory: get made a deep copy");

	/* entry_copy is deep too. */
	stsguard_cache_entry dup;
	if (CHECK_STATUS(stsguard_cache_entry_copy(&dup, &orig), STSGUARD_OK, "memory: entry_copy 2")) {
		CHECK_TRUE(dup.policy != orig.policy && dup.policy->mx != orig.policy->mx &&
		               dup.policy->mx[0] != orig.policy->mx[0],
		           "memory: entry_copy shares nothing");
		same_entry(&dup, &orig, "memory: entry_copy equal");
	}
	stsguard_cache_entry_clear(&dup);
	stsguard_cache_entry_clear(NULL); /* no-op */

	/* Replace: same domain, new content, count unchanged. */
	stsguard_cache_entry a2;
	make_entry(&a2, "a.example", P_TESTING, 11);
	CHECK_STATUS(stsguard_cache_put(c, &a2, &err), STSGUARD_OK, "memory: replace a");
	CHECK_INT(stsguard_cache_count(c), 3, "memory: replace keeps count");
	expect_get(c, &a2, "memory: replaced a");
	/* Replace a policy by none. */
	stsguard_cache_entry a3;
	make_entry(&a3, "a.example", NULL, 12);
	CHECK_STATUS(stsguard_cache_put(c, &a3, &err), STSGUARD_OK, "memory: replace a by no policy");
	expect_get(c, &a3, "memory: a without policy");

	/* foreach: every entry once; stops on non-zero. */
	struct visit v = { 0, 0, 0, 0, 0 };
	stsguard_cache_foreach(c, visit_fn, &v);
	CHECK_INT(v.calls, 3, "memory: foreach calls");
	CHECK_TRUE(v.seen_a == 1 && v.seen_b == 1 && v.seen_c == 1, "memory: foreach each once");
	struct visit stop = { 0, 0, 0, 0, 2 };
	stsguard_cache_foreach(c, visit_fn, &stop);
	CHECK_INT(stop.calls, 2, "memory: foreach stops on non-zero");

	/* Bad entries are refused and change nothing. */
	stsguard_cache_entry bad;
	make_entry(&bad, "", P_ENFORCE, 4);
	CHECK_TRUE(stsguard_cache_put(c, &bad, &err) != STSGUARD_OK, "memory: put empty domain refused");
	stsguard_cache_entry_clear(&bad);
	make_entry(&bad, "bad domain.example", P_ENFORCE, 4);
	CHECK_TRUE(stsguard_cache_put(c, &bad, &err) != STSGUARD_OK, "memory: put domain with a space refused");
	stsguard_cache_entry_clear(&bad);
	CHECK_INT(stsguard_cache_count(c), 3, "memory: refused puts add nothing");

	/* purge one, purge absent, purge all. */
	CHECK_STATUS(stsguard_cache_purge(c, "b.example", &err), STSGUARD_OK, "memory: purge b");
	CHECK_STATUS(stsguard_cache_purge(c, "b.example", &err), STSGUARD_NONE, "memory: purge b again");
	CHECK_STATUS(stsguard_cache_purge(c, "zz.example", &err), STSGUARD_NONE, "memory: purge absent");
	CHECK_INT(stsguard_cache_count(c), 2, "memory: count after purge");
	expect_absent(c, "b.example", "memory: b gone");
	expect_get(c, &cc, "memory: c still there");
	CHECK_STATUS(stsguard_cache_compact(c, &err), STSGUARD_OK, "memory: compact is harmless");
	CHECK_INT(stsguard_cache_count(c), 2, "memory: count after compact");
	CHECK_STATUS(stsguard_cache_purge(c, NULL, &err), STSGUARD_OK, "memory: purge all");
	CHECK_INT(stsguard_cache_count(c), 0, "memory: count after purge all");
	expect_absent(c, "c.example", "memory: c gone");
	struct visit none = { 0, 0, 0, 0, 0 };
	stsguard_cache_foreach(c, visit_fn, &none);
	CHECK_INT(none.calls, 0, "memory: foreach on empty");

	/* Growth: many domains. */
	for (unsigned i = 0; i < 500; i++) {
		stsguard_cache_entry e;
		char dom[64];
		snprintf(dom, sizeof dom, "d%u.example", i);
		make_entry(&e, dom, i % 3 == 0 ? NULL : P_ENFORCE, i);
		if (stsguard_cache_put(c, &e, &err) != STSGUARD_OK)
			CHECK_TRUE(false, "memory: put many");
		stsguard_cache_entry_clear(&e);
	}
	CHECK_INT(stsguard_cache_count(c), 500, "memory: 500 entries");
	{
		stsguard_cache_entry e;
		make_entry(&e, "d377.example", P_ENFORCE, 377);
		expect_get(c, &e, "memory: one of 500");
		stsguard_cache_entry_clear(&e);
	}

	stsguard_cache_entry_clear(&orig);
	stsguard_cache_entry_clear(&a2);
	stsguard_cache_entry_clear(&a3);
	stsguard_cache_entry_clear(&b);
	stsguard_cache_entry_clear(&cc);
	stsguard_cache_close(c);
	stsguard_cache_close(NULL); /* no-op */
}

/* ---- on disk ---- */

static void test_persistence(void)
{
	char dir[600];
	stsguard_cache_entry e[4];
	stsguard_err err = {""};

	subdir(dir, sizeof dir, "persist");
	make_entry(&e[0], "enforce.example", P_ENFORCE, 1);
	make_entry(&e[1], "none.example", P_NONE, 2);
	make_entry(&e[2], "capped.example", P_CAPPED, 3);
	make_entry(&e[3], "negative.example", NULL, 4);
	e[3].fetched_at = -5; /* odd values survive too */
	e[3].failures = UINT32_MAX;

	stsguard_cache *c = open_ok(dir, "persist: first open creates dir and journal");
	if (c == NULL)
		goto out;
	CHECK_INT(stsguard_cache_count(c), 0, "persist: new cache empty");
	CHECK_TRUE(file_size(dir) > 0, "persist: journal created");
	for (int i = 0; i < 4; i++)
		CHECK_STATUS(stsguard_cache_put(c, &e[i], &err), STSGUARD_OK, "persist: put");
	stsguard_cache_close(c);

	c = open_ok(dir, "persist: reopen");
	if (c == NULL)
		goto out;
	CHECK_INT(stsguard_cache_count(c), 4, "persist: count after reopen");
	CHECK_INT(stsguard_cache_skipped(c), 0, "persist: nothing skipped");
	expect_get(c, &e[0], "persist: enforce");
	expect_get(c, &e[1], "persist: mode none");
	expect_get(c, &e[2], "persist: capped max_age");
	expect_get(c, &e[3], "persist: no policy, failure state");
	if (e[2].policy != NULL)
		CHECK_TRUE(e[2].policy->max_age_capped, "persist: test precondition (capped)");

	/* Replace and purge survive a reopen too. */
	stsguard_cache_entry r;
	make_entry(&r, "enforce.example", P_TESTING, 9);
	CHECK_STATUS(stsguard_cache_put(c, &r, &err), STSGUARD_OK, "persist: replace");
	CHECK_STATUS(stsguard_cache_purge(c, "none.example", &err), STSGUARD_OK, "persist: purge one");
	stsguard_cache_close(c);
	c = open_ok(dir, "persist: reopen 2");
	if (c != NULL) {
		CHECK_INT(stsguard_cache_count(c), 3, "persist: count after purge one");
		expect_get(c, &r, "persist: replaced entry");
		expect_absent(c, "none.example", "persist: purged entry stays purged");
		expect_get(c, &e[3], "persist: untouched entry");
		CHECK_STATUS(stsguard_cache_purge(c, NULL, &err), STSGUARD_OK, "persist: purge all");
		stsguard_cache_close(c);
	}
	c = open_ok(dir, "persist: reopen 3");
	if (c != NULL) {
		CHECK_INT(stsguard_cache_count(c), 0, "persist: purge all persists");
		stsguard_cache_close(c);
	}
	stsguard_cache_entry_clear(&r);
out:
	for (int i = 0; i < 4; i++)
		stsguard_cache_entry_clear(&e[i]);
	rm_dir(dir);
}

/* Three entries, x.example written twice (v1 then v2), closed. */
static void three_entries(const char *dir, stsguard_cache_entry *a, stsguard_cache_entry *x1,
                          stsguard_cache_entry *x2)
{
	stsguard_err err = {""};
	stsguard_cache *c = open_ok(dir, "setup: open");

	make_entry(a, "a.example", P_ENFORCE, 1);
	make_entry(x1, "x.example", P_TESTING, 2);
	make_entry(x2, "x.example", P_ENFORCE, 3);
	if (c == NULL)
		return;
	CHECK_STATUS(stsguard_cache_put(c, a, &err), STSGUARD_OK, "setup: put a");
	CHECK_STATUS(stsguard_cache_put(c, x1, &err), STSGUARD_OK, "setup: put x v1");
	CHECK_STATUS(stsguard_cache_put(c, x2, &err), STSGUARD_OK, "setup: put x v2");
	stsguard_cache_close(c);
}

static void test_torn(void)
{
	char dir[600];
	stsguard_cache_entry a, x1, x2;

	/* 1. Garbage without a newline appended (a torn append). */
	subdir(dir, sizeof dir, "torn1");
	three_entries(dir, &a, &x1, &x2);
	static const char garbage[] = "E torn.example 2024 enfo";
	CHECK_TRUE(write_journal(dir, garbage, sizeof garbage - 1, "ab"), "torn append: write");
	stsguard_cache *c = open_ok(dir, "torn append: open");
	if (c != NULL) {
		CHECK_INT(stsguard_cache_count(c), 2, "torn append: count");
		CHECK_INT(stsguard_cache_skipped(c), 1, "torn append: skipped 1");
		expect_get(c, &a, "torn append: a intact");
		expect_get(c, &x2, "torn append: x is v2");
		expect_absent(c, "torn.example", "torn append: torn entry absent");
		/* The cache keeps working after a torn line. */
		stsguard_cache_entry n;
		make_entry(&n, "new.example", P_NONE, 7);
		CHECK_STATUS(stsguard_cache_put(c, &n, NULL), STSGUARD_OK, "torn append: put after");
		stsguard_cache_close(c);
		c = open_ok(dir, "torn append: reopen");
		if (c != NULL) {
			CHECK_INT(stsguard_cache_count(c), 3, "torn append: count after reopen");
			CHECK_INT(stsguard_cache_skipped(c), 0, "torn append: nothing skipped after reopen");
			expect_get(c, &n, "torn append: entry written after the torn line");
			expect_get(c, &a, "torn append: a still intact");
			stsguard_cache_close(c);
		}
		stsguard_cache_entry_clear(&n);
	}
	rm_dir(dir);
	stsguard_cache_entry_clear(&a);
	stsguard_cache_entry_clear(&x1);
	stsguard_cache_entry_clear(&x2);

	/* 2. The last line truncated mid-line (kill during the write of x v2). */
	subdir(dir, sizeof dir, "torn2");
	three_entries(dir, &a, &x1, &x2);
	size_t len = 0;
	char *j = read_journal(dir, &len);
	if (CHECK_TRUE(j != NULL && len > 20, "truncate: read journal")) {
		CHECK_INT(count_lines(j, len), 4, "truncate: header + 3 lines");
		CHECK_TRUE(write_journal(dir, j, len - 12, "wb"), "truncate: write");
		c = open_ok(dir, "truncate: open");
		if (c != NULL) {
			CHECK_INT(stsguard_cache_count(c), 2, "truncate: count");
			CHECK_INT(stsguard_cache_skipped(c), 1, "truncate: skipped 1");
			expect_get(c, &a, "truncate: a intact");
			expect_get(c, &x1, "truncate: x falls back to v1");
			stsguard_cache_close(c);
		}
	}
	free(j);
	rm_dir(dir);
	stsguard_cache_entry_clear(&a);
	stsguard_cache_entry_clear(&x1);
	stsguard_cache_entry_clear(&x2);

	/* 3. Truncated right after the header: empty but valid. */
	subdir(dir, sizeof dir, "torn3");
	three_entries(dir, &a, &x1, &x2);
	j = read_journal(dir, &len);
	if (CHECK_TRUE(j != NULL, "header only: read journal")) {
		char *nl = memchr(j, '\n', len);
		if (CHECK_TRUE(nl != NULL, "header only: has a header line")) {
			/* header plus half of the first entry line */
			CHECK_TRUE(write_journal(dir, j, (size_t)(nl - j) + 1 + 7, "wb"), "header only: write");
			c = open_ok(dir, "header only: open");
			if (c != NULL) {
				CHECK_INT(stsguard_cache_count(c), 0, "header only: count");
				CHECK_INT(stsguard_cache_skipped(c), 1, "header only: skipped 1");
				stsguard_cache_close(c);
			}
		}
	}
	free(j);
	rm_dir(dir);
	stsguard_cache_entry_clear(&a);
	stsguard_cache_entry_clear(&x1);
	stsguard_cache_entry_clear(&x2);
}

/* Change one digit of `value` (a decimal number the entry holds) on journal line `line` (1 = header). */
static bool corrupt_number(char *j, size_t len, size_t line, const char *value)
{
	char *start = j;
	for (size_t l = 1; l < line; l++) {
		char *nl = memchr(start, '\n', len - (size_t)(start - j));
		if (nl == NULL)
			return false;
		start = nl + 1;
	}
	char *end = memchr(start, '\n', len - (size_t)(start - j));
	if (end == NULL)
		return false;
	*end = '\0';
	char *hit = strstr(start, value);
	*end = '\n';
	if (hit == NULL)
		return false;
	char *digit = hit + strlen(value) - 1;
	*digit = *digit == '9' ? '8' : (char)(*digit + 1);
	return true;
}

/*
 * A complete line whose checksum does not match is skipped. The change is a
 * digit of a number, so a loader that ignored the checksum would load a
 * wrong value rather than fail to parse.
 */
static void test_bad_crc(void)
{
	char dir[600];
	stsguard_cache_entry a, x1, x2;

	for (int k = 0; k < 2; k++) {
		const char *name = k == 0 ? "bad crc on the last line" : "bad crc on a middle line";
		char label[120];
		subdir(dir, sizeof dir, "crc");
		three_entries(dir, &a, &x1, &x2);
		size_t len = 0;
		char *j = read_journal(dir, &len);
		snprintf(label, sizeof label, "%s: corrupt", name);
		/* line 2 is a (fetched_at 1700000001), line 4 is x v2 (fetched_at 1700000003) */
		if (CHECK_TRUE(j != NULL && corrupt_number(j, len, k == 0 ? 4 : 2, k == 0 ? "1700000003" : "1700000001"),
		               label) &&
		    CHECK_TRUE(write_journal(dir, j, len, "wb"), label)) {
			snprintf(label, sizeof label, "%s: open", name);
			stsguard_cache *c = open_ok(dir, label);
			if (c != NULL) {
				snprintf(label, sizeof label, "%s: skipped 1", name);
				CHECK_INT(stsguard_cache_skipped(c), 1, label);
				if (k == 0) {
					CHECK_INT(stsguard_cache_count(c), 2, "bad crc on the last line: count");
					expect_get(c, &a, "bad crc on the last line: a intact");
					expect_get(c, &x1, "bad crc on the last line: x falls back to v1");
				} else {
					CHECK_INT(stsguard_cache_count(c), 1, "bad crc on a middle line: count");
					expect_absent(c, "a.example", "bad crc on a middle line: a not loaded");
					expect_get(c, &x2, "bad crc on a middle line: x v2 (after the bad line) intact");
				}
				stsguard_cache_close(c);
			}
		}
		free(j);
		rm_dir(dir);
		stsguard_cache_entry_clear(&a);
		stsguard_cache_entry_clear(&x1);
		stsguard_cache_entry_clear(&x2);
	}
}

/* Hand-made journal lines with a correct CRC-32 (format documented in cache.c). */
static void crc_line(char *out, size_t outsz, const char *text)
{
	uLong crc = crc32(0L, (const Bytef *)text, (uInt)strlen(text));
	snprintf(out, outsz, "%s %08lx\n", text, crc);
}

static void test_validated_lines(void)
{
	char dir[600], line[512];
	stsguard_cache_entry a, x1, x2;

	subdir(dir, sizeof dir, "validate");
	three_entries(dir, &a, &x1, &x2);
	/* control: a valid hand-made line is loaded (so the format assumption holds) */
	crc_line(line, sizeof line,
	         "E good.example id1 enforce 86400 0 100 86500 id1 0 0 0 - 0 0 mx.good.example,*.good.example");
	CHECK_TRUE(write_journal(dir, line, strlen(line), "ab"), "validate: append good");
	/* a correctly checksummed line that smuggles a bad mx pattern */
	crc_line(line, sizeof line, "E evil.example id1 enforce 86400 0 100 86500 id1 0 0 0 - 0 0 mx.evil.example,*");
	CHECK_TRUE(write_journal(dir, line, strlen(line), "ab"), "validate: append bad mx");
	crc_line(line, sizeof line, "E evil2.example id1 enforce 86400 0 100 86500 id1 0 0 0 - 0 0 1.2.3.4");
	CHECK_TRUE(write_journal(dir, line, strlen(line), "ab"), "validate: append IP mx");
	crc_line(line, sizeof line, "E evil3.example id1 enforce 86400 0 100 86500 id1 0 0 0 - 0 0 -");
	CHECK_TRUE(write_journal(dir, line, strlen(line), "ab"), "validate: append enforce without mx");
	crc_line(line, sizeof line, "E EVIL4.example id1 enforce 86400 0 100 86500 id1 0 0 0 - 0 0 mx.example");
	CHECK_TRUE(write_journal(dir, line, strlen(line), "ab"), "validate: append upper-case domain");
	crc_line(line, sizeof line, "E evil5.example id1 enforce 99999999 0 100 86500 id1 0 0 0 - 0 0 mx.example");
	CHECK_TRUE(write_journal(dir, line, strlen(line), "ab"), "validate: append max_age over the limit");
	stsguard_cache *c = open_ok(dir, "validate: open");
	if (c != NULL) {
		stsguard_cache_entry g;
		if (CHECK_STATUS(stsguard_cache_get(c, "good.example", &g), STSGUARD_OK, "validate: good line loaded") &&
		    CHECK_TRUE(g.policy != NULL, "validate: good line has a policy")) {
			CHECK_INT(g.policy->n_mx, 2, "validate: good line mx count");
			CHECK_INT(g.expires_at, 86500, "validate: good line expires_at");
		}
		stsguard_cache_entry_clear(&g);
		expect_absent(c, "evil.example", "validate: bad mx pattern not loaded");
		expect_absent(c, "evil2.example", "validate: IP-address mx not loaded");
		expect_absent(c, "evil3.example", "validate: enforce without mx not loaded");
		expect_absent(c, "EVIL4.example", "validate: upper-case domain not loaded");
		expect_absent(c, "evil5.example", "validate: max_age over the limit not loaded");
		CHECK_INT(stsguard_cache_count(c), 3, "validate: count");
		CHECK_INT(stsguard_cache_skipped(c), 5, "validate: skipped 5");
		expect_get(c, &a, "validate: a intact");
		stsguard_cache_close(c);
	}
	rm_dir(dir);
	stsguard_cache_entry_clear(&a);
	stsguard_cache_entry_clear(&x1);
	stsguard_cache_entry_clear(&x2);
}

static void test_bad_header(void)
{
	static const char *const bodies[] = {
		"not a stsguard cache\nE a.example\n",
		"stsguard-cache 99\n",
		("\x7f" "ELF binary"),
		"stsguard-cache 1 extra\n",
	};
	char dir[600];

	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		char label[80];
		snprintf(label, sizeof label, "bad header %zu", i);
		subdir(dir, sizeof dir, "header");
		if (!CHECK_TRUE(mkdir(dir, 0700) == 0, label) ||
		    !CHECK_TRUE(write_journal(dir, bodies[i], strlen(bodies[i]), "wb"), label)) {
			rm_dir(dir);
			continue;
		}
		stsguard_cache *c = NULL;
		stsguard_err err = {""};
		stsguard_status st = stsguard_cache_open(dir, &c, &err);
		CHECK_TRUE(st != STSGUARD_OK, label);
		CHECK_TRUE(c == NULL, label);
		CHECK_TRUE(err.msg[0] != '\0', label);
		stsguard_cache_close(c);
		/* The foreign file is left alone. */
		size_t len = 0;
		char *j = read_journal(dir, &len);
		CHECK_TRUE(j != NULL && len == strlen(bodies[i]) && memcmp(j, bodies[i], len) == 0, label);
		free(j);
		rm_dir(dir);
	}

	/* An empty journal (0 bytes) is a new cache. */
	subdir(dir, sizeof dir, "empty");
	if (CHECK_TRUE(mkdir(dir, 0700) == 0, "empty journal: mkdir") &&
	    CHECK_TRUE(write_journal(dir, "", 0, "wb"), "empty journal: write")) {
		stsguard_cache *c = open_ok(dir, "empty journal: open");
		if (c != NULL) {
			CHECK_INT(stsguard_cache_count(c), 0, "empty journal: count");
			stsguard_cache_close(c);
		}
		c = open_ok(dir, "empty journal: reopen");
		stsguard_cache_close(c);
	}
	rm_dir(dir);

	/* A cache dir that cannot be created. */
	char bad[700];
	snprintf(bad, sizeof bad, "%s/no/such/parent", g_dir);
	stsguard_cache *c = NULL;
	CHECK_TRUE(stsguard_cache_open(bad, &c, NULL) != STSGUARD_OK, "uncreatable dir");
	CHECK_TRUE(c == NULL, "uncreatable dir: out NULL");
}

static void test_compaction(void)
{
	char dir[600];
	stsguard_err err = {""};
	stsguard_cache_entry last[20];

	subdir(dir, sizeof dir, "compact");
	stsguard_cache *c = open_ok(dir, "compact: open");
	if (c == NULL)
		return;
	for (unsigned round = 0; round < 5; round++)
		for (unsigned i = 0; i < 20; i++) {
			char dom[64];
			snprintf(dom, sizeof dom, "c%u.example", i);
			if (round > 0)
				stsguard_cache_entry_clear(&last[i]);
			make_entry(&last[i], dom, (i + round) % 4 == 0 ? NULL : P_ENFORCE, round * 100 + i);
			if (stsguard_cache_put(c, &last[i], &err) != STSGUARD_OK)
				CHECK_TRUE(false, "compact: put");
		}
	for (unsigned i = 0; i < 5; i++) {
		char dom[64];
		snprintf(dom, sizeof dom, "c%u.example", i);
		CHECK_STATUS(stsguard_cache_purge(c, dom, &err), STSGUARD_OK, "compact: purge");
	}
	long before = file_size(dir);
	CHECK_STATUS(stsguard_cache_compact(c, &err), STSGUARD_OK, "compact: compact");
	long after = file_size(dir);
	CHECK_TRUE(after > 0 && after < before, "compact: journal shrinks");
	if (after >= before)
		fprintf(stderr, "    before %ld after %ld\n", before, after);
	CHECK_INT(stsguard_cache_count(c), 15, "compact: count kept");
	size_t len = 0;
	char *j = read_journal(dir, &len);
	if (CHECK_TRUE(j != NULL, "compact: read"))
		CHECK_INT(count_lines(j, len), 1 + 15, "compact: header + one line per live entry");
	free(j);
	/* The cache is usable after compaction (journal reopened). */
	stsguard_cache_entry extra;
	make_entry(&extra, "extra.example", P_NONE, 99);
	CHECK_STATUS(stsguard_cache_put(c, &extra, &err), STSGUARD_OK, "compact: put after");
	/* No stray temporary file. */
	char *tmp = path_in(dir, JOURNAL ".tmp");
	struct stat sb;
	CHECK_TRUE(tmp != NULL && stat(tmp, &sb) != 0, "compact: no temporary file left");
	free(tmp);
	stsguard_cache_close(c);

	c = open_ok(dir, "compact: reopen");
	if (c != NULL) {
		CHECK_INT(stsguard_cache_count(c), 16, "compact: count after reopen");
		CHECK_INT(stsguard_cache_skipped(c), 0, "compact: nothing skipped");
		for (unsigned i = 0; i < 20; i++) {
			char label[64];
			snprintf(label, sizeof label, "compact: c%u", i);
			if (i < 5)
				expect_absent(c, last[i].domain, label);
			else
				expect_get(c, &last[i], label);
		}
		expect_get(c, &extra, "compact: entry put after compaction");
		stsguard_cache_close(c);
	}
	stsguard_cache_entry_clear(&extra);
	for (unsigned i = 0; i < 20; i++)
		stsguard_cache_entry_clear(&last[i]);

	/* Automatic compaction keeps the journal bounded (many rewrites of few domains). */
	c = open_ok(dir, "compact: reopen for rewrites");
	if (c != NULL) {
		stsguard_cache_entry e;
		for (unsigned i = 0; i < 3000; i++) {
			make_entry(&e, "hot.example", P_ENFORCE, i);
			if (stsguard_cache_put(c, &e, &err) != STSGUARD_OK)
				CHECK_TRUE(false, "compact: rewrite put");
			stsguard_cache_entry_clear(&e);
		}
		j = read_journal(dir, &len);
		CHECK_TRUE(j != NULL && count_lines(j, len) < 3000, "compact: journal bounded under rewrites");
		free(j);
		stsguard_cache_close(c);
		c = open_ok(dir, "compact: reopen after rewrites");
		if (c != NULL) {
			make_entry(&e, "hot.example", P_ENFORCE, 2999);
			expect_get(c, &e, "compact: last rewrite wins");
			stsguard_cache_entry_clear(&e);
			CHECK_INT(stsguard_cache_count(c), 17, "compact: count after rewrites");
			stsguard_cache_close(c);
		}
	}
	rm_dir(dir);
}

static void test_lock(void)
{
	char dir[600];
	stsguard_err err = {""};

	subdir(dir, sizeof dir, "lock");
	stsguard_cache *c1 = open_ok(dir, "lock: first open");
	if (c1 == NULL)
		return;
	stsguard_cache_entry e;
	make_entry(&e, "a.example", P_ENFORCE, 1);
	CHECK_STATUS(stsguard_cache_put(c1, &e, &err), STSGUARD_OK, "lock: put");
	stsguard_cache *c2 = NULL;
	stsguard_status st = stsguard_cache_open(dir, &c2, &err);
	CHECK_STATUS(st, STSGUARD_TEMPFAIL, "lock: second open while the first is open");
	CHECK_TRUE(c2 == NULL, "lock: second open gives no cache");
	CHECK_TRUE(err.msg[0] != '\0', "lock: second open says why");
	stsguard_cache_close(c2);
	/* The first handle is unaffected. */
	expect_get(c1, &e, "lock: first handle still works");
	/* Still locked after a compaction by the holder. */
	CHECK_STATUS(stsguard_cache_compact(c1, &err), STSGUARD_OK, "lock: compact");
	c2 = NULL;
	CHECK_STATUS(stsguard_cache_open(dir, &c2, &err), STSGUARD_TEMPFAIL, "lock: still held after compaction");
	stsguard_cache_close(c2);
	stsguard_cache_close(c1);
	/* Released by close. */
	c2 = open_ok(dir, "lock: open after close");
	if (c2 != NULL) {
		expect_get(c2, &e, "lock: data there");
		stsguard_cache_close(c2);
	}
	stsguard_cache_entry_clear(&e);
	rm_dir(dir);
}

/*
 * One process at a time, also across a compaction: a second opener that is
 * already waiting for the lock while the holder compacts (rename(2) of a new
 * journal over the old one) must not end up "holding" the replaced file.
 * The child is forked before the parent opens, so it inherits no descriptor.
 */
static void test_lock_during_compaction(void)
{
	char dir[600];
	int go[2];
	char ch = 'g';

	subdir(dir, sizeof dir, "lock2");
	if (!CHECK_TRUE(pipe(go) == 0, "lock/compaction: pipe"))
		return;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		stsguard_cache *c = NULL;
		close(go[1]);
		if (read(go[0], &ch, 1) != 1)
			_exit(100);
		stsguard_status st = stsguard_cache_open(dir, &c, NULL);
		stsguard_cache_close(c);
		_exit((int)st);
	}
	close(go[0]);
	if (!CHECK_TRUE(pid > 0, "lock/compaction: fork")) {
		close(go[1]);
		return;
	}
	stsguard_cache *c1 = open_ok(dir, "lock/compaction: first open");
	stsguard_cache_entry e;
	make_entry(&e, "a.example", P_ENFORCE, 1);
	if (c1 != NULL)
		(void)stsguard_cache_put(c1, &e, NULL);
	CHECK_INT(write(go[1], &ch, 1), 1, "lock/compaction: start the second opener");
	close(go[1]);
	/* The child is now polling for the lock (it waits up to ~2 s). */
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	if (c1 != NULL)
		CHECK_STATUS(stsguard_cache_compact(c1, NULL), STSGUARD_OK, "lock/compaction: compact");
	/* Keep holding the cache until the child has given up. */
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (CHECK_TRUE(WIFEXITED(status), "lock/compaction: child exited"))
		CHECK_STATUS(WEXITSTATUS(status), STSGUARD_TEMPFAIL,
		             "lock/compaction: second open while the holder compacts");
	if (c1 != NULL)
		expect_get(c1, &e, "lock/compaction: holder unaffected");
	stsguard_cache_close(c1);
	stsguard_cache_entry_clear(&e);
	rm_dir(dir);
}

/* ---- crash simulation ---- */

#define CRASH_ENTRIES 2000u
#define CRASH_DOMAINS 8u

static stsguard_policy *crash_policy(unsigned n)
{
	char body[256];
	snprintf(body, sizeof body, "version: STSv1\nmode: %s\nmx: mx%u.crash.example\nmx: *.w%u.crash.example\nmax_age: %u\n",
	         n % 2 ? "enforce" : "testing", n, n, 1000 + n);
	return policy_from(body);
}

static void crash_entry(stsguard_cache_entry *e, unsigned n)
{
	memset(e, 0, sizeof *e);
	snprintf(e->domain, sizeof e->domain, "d%u.crash.example", n % CRASH_DOMAINS);
	e->policy = n % 5 == 4 ? NULL : crash_policy(n);
	snprintf(e->policy_id, sizeof e->policy_id, "id%u", n);
	e->fetched_at = n;
	e->expires_at = (int64_t)n + 1000 + n;
	snprintf(e->txt_id, sizeof e->txt_id, "t%u", n);
	e->txt_none_until = (int64_t)n * 3;
	e->last_failure = (stsguard_reason)(n % (unsigned)STSGUARD_REASON_MAX_);
	e->last_failure_at = (int64_t)n * 5;
	snprintf(e->failed_id, sizeof e->failed_id, "f%u", n);
	e->next_retry = (int64_t)n * 7;
	e->failures = n % 11;
}

struct crash_check {
	size_t entries, bad;
	unsigned max_n;
};

/* Every loaded entry must be exactly what the child wrote for some n. */
static int crash_verify(void *ctx, const stsguard_cache_entry *e)
{
	struct crash_check *cc = ctx;
	unsigned n = 0;
	char *end = NULL;

	cc->entries++;
	if (strncmp(e->policy_id, "id", 2) == 0) {
		unsigned long v = strtoul(e->policy_id + 2, &end, 10);
		n = (unsigned)v;
	}
	if (end == NULL || *end != '\0' || n >= CRASH_ENTRIES) {
		cc->bad++;
		return 0;
	}
	stsguard_cache_entry want;
	crash_entry(&want, n);
	size_t failed_before = check_failed_;
	same_entry(e, &want, "crash: loaded entry is one the child wrote");
	if (check_failed_ != failed_before)
		cc->bad++;
	stsguard_cache_entry_clear(&want);
	if (n > cc->max_n)
		cc->max_n = n;
	return 0;
}

/* The child: open, say so, write CRASH_ENTRIES entries, close. Never returns. */
static void crash_child(const char *dir, int ready_fd)
{
	stsguard_cache *c = NULL;
	int rc = 0;

	if (stsguard_cache_open(dir, &c, NULL) != STSGUARD_OK)
		_exit(3);
	if (write(ready_fd, "r", 1) != 1)
		_exit(4);
	for (unsigned n = 0; n < CRASH_ENTRIES; n++) {
		stsguard_cache_entry e;
		crash_entry(&e, n);
		if (stsguard_cache_put(c, &e, NULL) != STSGUARD_OK)
			rc = 5;
		stsguard_cache_entry_clear(&e);
	}
	stsguard_cache_close(c);
	_exit(rc);
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

/* Fork a child writing entries; kill it after delay_us (< 0: let it finish). 1 if killed. */
static int crash_round(const char *dir, int64_t delay_us, const char *name)
{
	int fds[2];
	char ch;

	if (!CHECK_TRUE(pipe(fds) == 0, name))
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		crash_child(dir, fds[1]);
	}
	close(fds[1]);
	if (!CHECK_TRUE(pid > 0, name)) {
		close(fds[0]);
		return -1;
	}
	ssize_t r = read(fds[0], &ch, 1);
	close(fds[0]);
	CHECK_INT(r, 1, name); /* the child opened the cache */
	int killed = 0;
	if (delay_us >= 0) {
		struct timespec ts = { (time_t)(delay_us / 1000000), (long)(delay_us % 1000000) * 1000 };
		nanosleep(&ts, NULL);
		killed = kill(pid, SIGKILL) == 0;
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status))
		CHECK_INT(WEXITSTATUS(status), 0, name);
	else
		CHECK_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, name);
	return killed && WIFSIGNALED(status) ? 1 : 0;
}

static void crash_load(const char *dir, const char *name, bool complete)
{
	stsguard_cache *c = open_ok(dir, name);
	if (c == NULL)
		return;
	struct crash_check cc = { 0, 0, 0 };
	stsguard_cache_foreach(c, crash_verify, &cc);
	CHECK_INT(cc.bad, 0, name);
	CHECK_TRUE(cc.entries <= CRASH_DOMAINS, name);
	CHECK_INT(cc.entries, stsguard_cache_count(c), name);
	if (complete) {
		/* Every domain holds the last value written for it. */
		CHECK_INT(cc.entries, CRASH_DOMAINS, name);
		for (unsigned n = CRASH_ENTRIES - CRASH_DOMAINS; n < CRASH_ENTRIES; n++) {
			stsguard_cache_entry want;
			crash_entry(&want, n);
			expect_get(c, &want, name);
			stsguard_cache_entry_clear(&want);
		}
	}
	stsguard_cache_close(c);
}

static void test_crash(void)
{
	char dir[600], label[120];
	const int rounds = 8;

	subdir(dir, sizeof dir, "crash");
	rng_state = (uint64_t)now_us() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
	if (rng_state == 0)
		rng_state = 1;
	printf("crash simulation seed %" PRIu64 "\n", rng_state);

	/* Round 0 runs to the end: how long a full run takes, and a complete result. */
	int64_t t0 = now_us();
	crash_round(dir, -1, "crash: full run");
	int64_t full = now_us() - t0;
	crash_load(dir, "crash: after full run", true);
	printf("crash simulation: full run of %u puts took %" PRId64 " us\n", CRASH_ENTRIES, full);

	int killed = 0;
	for (int r = 0; r < rounds; r++) {
		/* Start over every other round so kills land early and late in a journal's life. */
		if (r % 2 == 0)
			rm_dir(dir);
		int64_t delay = full > 1 ? (int64_t)(rng() % (uint64_t)full) : 0;
		snprintf(label, sizeof label, "crash: round %d (kill after %" PRId64 " us)", r + 1, delay);
		killed += crash_round(dir, delay, label) == 1;
		snprintf(label, sizeof label, "crash: load after round %d", r + 1);
		crash_load(dir, label, false);
	}
	printf("crash simulation: %d of %d rounds killed mid-run\n", killed, rounds);
	rm_dir(dir);
}

int main(void)
{
	const char *tmpdir = getenv("TMPDIR");

	snprintf(g_dir, sizeof g_dir, "%s/stsguard-test-cache-XXXXXX",
	         tmpdir != NULL && tmpdir[0] != '\0' ? tmpdir : "/tmp");
	if (mkdtemp(g_dir) == NULL) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_memory();
	test_persistence();
	test_torn();
	test_bad_crc();
	test_validated_lines();
	test_bad_header();
	test_compaction();
	test_lock();
	test_lock_during_compaction();
	test_crash();
	rm_dir(g_dir);
	return check_summary();
}
