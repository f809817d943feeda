/*
 * check.h - the assertion helper of the table-driven unit tests.
 *
 * Every CHECK_* macro evaluates its arguments once, counts one passed or one
 * failed check and, on failure, prints file:line, the case name and both
 * values to stderr. check_summary() prints "N passed, N failed" on a line of
 * its own and returns the exit code of the test program: 0 only when nothing
 * failed and at least one check ran, so a suite that silently asserts nothing
 * is itself a failure.
 *
 * check_read_file() reads a test input or output file whole.
 *
 * Status values are printed by their enum names from a table kept here, not
 * through stsguard_strerror(), so that a broken library cannot hide a failure.
 */
#ifndef STSGUARD_TEST_CHECK_H
#define STSGUARD_TEST_CHECK_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stsguard/status.h"

static unsigned long check_passed_;
static unsigned long check_failed_;

static inline const char *check_status_name_(int status)
{
	static const char *const names[] = {
		"STSGUARD_OK",       "STSGUARD_NONE",     "STSGUARD_INVALID",
		"STSGUARD_TOOBIG",   "STSGUARD_NOMEM",    "STSGUARD_TEMPFAIL",
		"STSGUARD_BADARG",   "STSGUARD_IO",       "STSGUARD_TIMEOUT",
	};

	if (status < 0 || (size_t)status >= sizeof(names) / sizeof(names[0]))
		return "(unknown status)";
	return names[status];
}

static inline bool check_record_(bool ok)
{
	if (ok)
		check_passed_++;
	else
		check_failed_++;
	return ok;
}

static inline bool check_status_(const char *file, int line, const char *name, int got, int want)
{
	if (check_record_(got == want))
		return true;
	fprintf(stderr, "%s:%d: [%s] status: got %s (%d), want %s (%d)\n", file, line, name,
	        check_status_name_(got), got, check_status_name_(want), want);
	return false;
}

/* Prints a string with non-printable bytes escaped, so failures stay readable. */
static inline void check_print_str_(const char *s)
{
	if (s == NULL) {
		fputs("(null)", stderr);
		return;
	}
	fputc('"', stderr);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
			fprintf(stderr, "\\x%02x", *p);
		else
			fputc(*p, stderr);
	}
	fputc('"', stderr);
}

static inline bool check_str_(const char *file, int line, const char *name, const char *got,
                              const char *want)
{
	bool ok;

	if (got == NULL || want == NULL)
		ok = got == want;
	else
		ok = strcmp(got, want) == 0;
	if (check_record_(ok))
		return true;
	fprintf(stderr, "%s:%d: [%s] string: got ", file, line, name);
	check_print_str_(got);
	fputs(", want ", stderr);
	check_print_str_(want);
	fputc('\n', stderr);
	return false;
}

static inline bool check_int_(const char *file, int line, const char *name, long long got,
                              long long want)
{
	if (check_record_(got == want))
		return true;
	fprintf(stderr, "%s:%d: [%s] integer: got %lld, want %lld\n", file, line, name, got, want);
	return false;
}

static inline bool check_true_(const char *file, int line, const char *name, bool cond,
                               const char *expr)
{
	if (check_record_(cond))
		return true;
	fprintf(stderr, "%s:%d: [%s] expected true: %s\n", file, line, name, expr);
	return false;
}

/* Each macro yields true when the check passed, so callers can skip dependent checks. */
#define CHECK_STATUS(got, want, casename) \
	check_status_(__FILE__, __LINE__, (casename), (int)(got), (int)(want))
#define CHECK_STR(got, want, casename) \
	check_str_(__FILE__, __LINE__, (casename), (got), (want))
#define CHECK_INT(got, want, casename) \
	check_int_(__FILE__, __LINE__, (casename), (long long)(got), (long long)(want))
#define CHECK_TRUE(cond, casename) \
	check_true_(__FILE__, __LINE__, (casename), (cond) ? true : false, #cond)

/* The whole file at path, NUL-terminated, in a new buffer (*len its size); NULL if unreadable. */
static inline char *check_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 1u << 16, n = 0, got;
	char *buf = malloc(cap + 1);
	while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			char *bigger = realloc(buf, cap * 2 + 1);
			if (bigger == NULL)
				free(buf);
			buf = bigger;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf == NULL)
		return NULL;
	buf[n] = '\0';
	*len = n;
	return buf;
}

static inline int check_summary(void)
{
	printf("%lu passed, %lu failed\n", check_passed_, check_failed_);
	fflush(stdout);
	return (check_failed_ == 0 && check_passed_ > 0) ? 0 : 1;
}

#endif
