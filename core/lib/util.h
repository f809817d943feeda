/*
 * util.h - small internal helpers shared by the library modules: ASCII
 * character classes (never locale-dependent <ctype.h>), error text, and a
 * growable byte buffer with a hard cap (after curl's dynbuf).
 * Not part of the public API.
 */
#ifndef STSGUARD_UTIL_H
#define STSGUARD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stsguard/status.h"

#if defined(__GNUC__)
#define STSG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define STSG_PRINTF(a, b)
#endif

static inline bool sg_is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static inline bool sg_is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline bool sg_is_alnum(unsigned char c) { return sg_is_alpha(c) || sg_is_digit(c); }
static inline bool sg_is_wsp(unsigned char c) { return c == ' ' || c == '\t'; }
static inline char sg_lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

/* Value of a hex digit of either case; -1 for anything else. */
static inline int sg_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Free n strings and the array holding them; NULL is a no-op. */
void sg_free_strings(char **v, size_t n);

/* Format into err->msg if err is not NULL; returns status for tail calls. */
stsguard_status sg_err(stsguard_err *err, stsguard_status status, const char *fmt, ...) STSG_PRINTF(3, 4);

/* Copy at most max bytes of s into out as printable ASCII ("\xNN" escapes), NUL-terminated. */
void sg_escape(char *out, size_t outsz, const char *s, size_t len);

/* Duplicate len bytes into a new NUL-terminated string; NULL on ENOMEM. */
char *sg_strndup(const char *s, size_t len);

/* Case-insensitive ASCII comparison of two byte ranges. */
bool sg_ieq(const char *a, size_t alen, const char *b, size_t blen);

/* Growable buffer with a hard cap; always NUL-terminated when non-empty. */
typedef struct sg_buf {
	char *data;
	size_t len;
	size_t cap;   /* allocated */
	size_t limit; /* most bytes it may ever hold */
} sg_buf;

void sg_buf_init(sg_buf *b, size_t limit);
void sg_buf_free(sg_buf *b);
stsguard_status sg_buf_add(sg_buf *b, const void *data, size_t len);
stsguard_status sg_buf_addstr(sg_buf *b, const char *s);
stsguard_status sg_buf_printf(sg_buf *b, const char *fmt, ...) STSG_PRINTF(2, 3);
/* Append s as a JSON string literal with quotes; bytes >= 0x80 pass through (caller ensures UTF-8). */
stsguard_status sg_buf_json_str(sg_buf *b, const char *s);
/* Hand the contents to the caller (NUL-terminated, "" when empty) and reset b. */
char *sg_buf_take(sg_buf *b);

#endif
