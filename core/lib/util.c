/*
 * util.c - internal helpers: error text, escaping, capped growable buffers.
 *
 * Every buffer fed by the network goes through sg_buf with a limit, so no
 * input can make the library allocate without bound.
 */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

stsguard_status sg_err(stsguard_err *err, stsguard_status status, const char *fmt, ...)
{
	if (err != NULL) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return status;
}

void sg_escape(char *out, size_t outsz, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (outsz == 0)
		return;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= outsz)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 4 >= outsz)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

char *sg_strndup(const char *s, size_t len)
{
	char *p = malloc(len + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

bool sg_ieq(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (sg_lower(a[i]) != sg_lower(b[i]))
			return false;
	return true;
}

void sg_buf_init(sg_buf *b, size_t limit)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->limit = limit;
}

void sg_buf_free(sg_buf *b)
{
	free(b->data);
	sg_buf_init(b, b->limit);
}

stsguard_status sg_buf_add(sg_buf *b, const void *data, size_t len)
{
	if (len > b->limit || b->len > b->limit - len)
		return STSGUARD_TOOBIG;
	if (b->len + len + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 64;
		while (ncap < b->len + len + 1)
			ncap *= 2;
		if (ncap > b->limit + 1)
			ncap = b->limit + 1;
		char *p = realloc(b->data, ncap);
		if (p == NULL)
			return STSGUARD_NOMEM;
		b->data = p;
		b->cap = ncap;
	}
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return STSGUARD_OK;
}

stsguard_status sg_buf_addstr(sg_buf *b, const char *s)
{
	return sg_buf_add(b, s, strlen(s));
}

stsguard_status sg_buf_printf(sg_buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return STSGUARD_BADARG;
	if ((size_t)n < sizeof small)
		return sg_buf_add(b, small, (size_t)n);

	char *big = malloc((size_t)n + 1);
	if (big == NULL)
		return STSGUARD_NOMEM;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	stsguard_status st = sg_buf_add(b, big, (size_t)n);
	free(big);
	return st;
}

stsguard_status sg_buf_json_str(sg_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	stsguard_status st = sg_buf_add(b, "\"", 1);

	for (const char *p = s; st == STSGUARD_OK && *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};
			st = sg_buf_add(b, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			st = sg_buf_add(b, esc, 6);
		} else {
			st = sg_buf_add(b, p, 1);
		}
	}
	if (st == STSGUARD_OK)
		st = sg_buf_add(b, "\"", 1);
	return st;
}

char *sg_buf_take(sg_buf *b)
{
	char *p = b->data;
	if (p == NULL)
		p = calloc(1, 1);
	sg_buf_init(b, b->limit);
	return p;
}

void sg_free_strings(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}
