/*
 * test_tlsrpt_report.c - the TLS-RPT aggregate report (tlsrpt_report.h).
 *
 * Expectations come from RFC 8460 (§4.3 result types, §4.4 schema, §5.1 file
 * name), the profile in docs/tlsrpt-report.md and the contract in
 * tlsrpt_report.h, never from the code:
 *
 *  - golden reports: fixed inputs -> tests/golden/reports/<case>.json, byte
 *    for byte (STSGUARD_UPDATE_GOLDEN=1 rewrites them; review the diff);
 *  - every JSON produced anywhere in this file goes through an independent,
 *    strict RFC 8259 parser written here (no duplicate keys, UTF-8 checked,
 *    no raw control characters) and a checker of our profile (all top-level
 *    fields, field order, no null, no "", integer counts, sums of
 *    failed-session-count equal to total-failure-session-count), and its
 *    totals are compared with counts made from the test's own input;
 *  - every report is gzipped and inflated back with zlib;
 *  - tables for days, file names, refused results, refused metadata, text
 *    repair, caps and their overflow.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define ZLIB_CONST
#include <zlib.h>

#include "stsguard/tlsrpt_report.h"
#include "stsguard/tlsrpt_store.h"

#include "check.h"

#define DAY "2024-05-01"
#define DAY_START INT64_C(1714521600) /* date -u -d 2024-05-01 +%s */

/* ======================================================================== */
/* A strict JSON parser (RFC 8259), independent of the library.            */
/* ======================================================================== */

enum jtype { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jtype t;
	char *s;        /* J_STR: decoded UTF-8 (NUL-terminated); J_NUM: the literal */
	size_t slen;
	size_t n;       /* J_ARR / J_OBJ members */
	char **keys;    /* J_OBJ */
	struct jv *items;
};

struct jp {
	const unsigned char *p, *end;
	int depth;
	const char *why;
};

static void jv_free(struct jv *v)
{
	if (v == NULL)
		return;
	free(v->s);
	for (size_t i = 0; i < v->n; i++) {
		jv_free(&v->items[i]);
		if (v->keys != NULL)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	memset(v, 0, sizeof *v);
}

static bool jfail(struct jp *p, const char *why)
{
	if (p->why == NULL)
		p->why = why;
	return false;
}

static void jws(struct jp *p)
{
	while (p->p < p->end && (*p->p == ' ' || *p->p == '\t' || *p->p == '\n' || *p->p == '\r'))
		p->p++;
}

static void put_utf8(char *out, size_t *o, unsigned long cp)
{
	if (cp < 0x80) {
		out[(*o)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*o)++] = (char)(0xc0 | (cp >> 6));
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		out[(*o)++] = (char)(0xe0 | (cp >> 12));
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		out[(*o)++] = (char)(0xf0 | (cp >> 18));
		out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	}
}

/* Length of a well-formed UTF-8 sequence at s (RFC 3629 table), 0 if ill-formed. */
static size_t utf8_len(const unsigned char *s, const unsigned char *end)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	if (c == 0xed)
		hi = 0x9f;
	if (c == 0xf0)
		lo = 0x90;
	if (c == 0xf4)
		hi = 0x8f;
	if ((size_t)(end - s) < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool jhex4(struct jp *p, unsigned long *out)
{
	*out = 0;
	if (p->end - p->p < 4)
		return jfail(p, "short \\u escape");
	for (int i = 0; i < 4; i++) {
		int h = hexval(p->p[i]);
		if (h < 0)
			return jfail(p, "bad \\u escape");
		*out = *out * 16 + (unsigned long)h;
	}
	p->p += 4;
	return true;
}

static bool jstring(struct jp *p, char **out, size_t *outlen)
{
	const unsigned char *start = ++p->p; /* past the quote */
	size_t cap = 0, o = 0;
	char *buf;

	/* Decoded text is never longer than its source. */
	for (const unsigned char *q = start; q < p->end && *q != '"'; q++) {
		cap++;
		if (*q == '\\' && q + 1 < p->end)
			q++, cap++;
	}
	buf = malloc(cap + 8);
	if (buf == NULL)
		return jfail(p, "out of memory");
	for (;;) {
		if (p->p >= p->end) {
			free(buf);
			return jfail(p, "unterminated string");
		}
		unsigned char c = *p->p;
		if (c == '"') {
			p->p++;
			break;
		}
		if (c < 0x20) {
			free(buf);
			return jfail(p, "raw control character in a string");
		}
		if (c == '\\') {
			p->p++;
			if (p->p >= p->end) {
				free(buf);
				return jfail(p, "unterminated escape");
			}
			unsigned char e = *p->p++;
			unsigned long cp;
			switch (e) {
			case '"': buf[o++] = '"'; break;
			case '\\': buf[o++] = '\\'; break;
			case '/': buf[o++] = '/'; break;
			case 'b': buf[o++] = '\b'; break;
			case 'f': buf[o++] = '\f'; break;
			case 'n': buf[o++] = '\n'; break;
			case 'r': buf[o++] = '\r'; break;
			case 't': buf[o++] = '\t'; break;
			case 'u':
				if (!jhex4(p, &cp)) {
					free(buf);
					return false;
				}
				if (cp >= 0xdc00 && cp <= 0xdfff) {
					free(buf);
					return jfail(p, "lone low surrogate");
				}
				if (cp >= 0xd800 && cp <= 0xdbff) {
					unsigned long lo;
					if (p->end - p->p < 2 || p->p[0] != '\\' || p->p[1] != 'u') {
						free(buf);
						return jfail(p, "lone high surrogate");
					}
					p->p += 2;
					if (!jhex4(p, &lo) || lo < 0xdc00 || lo > 0xdfff) {
						free(buf);
						return jfail(p, "bad surrogate pair");
					}
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				}
				put_utf8(buf, &o, cp);
				break;
			default:
				free(buf);
				return jfail(p, "unknown escape");
			}
			continue;
		}
		size_t n = utf8_len(p->p, p->end);
		if (n == 0) {
			free(buf);
			return jfail(p, "ill-formed UTF-8 in a string");
		}
		memcpy(buf + o, p->p, n);
		o += n;
		p->p += n;
	}
	buf[o] = '\0';
	*out = buf;
	*outlen = o;
	return true;
}

static bool jvalue(struct jp *p, struct jv *v);

static bool jpush(struct jv *v, size_t *cap)
{
	if (v->n < *cap)
		return true;
	size_t ncap = *cap != 0 ? *cap * 2 : 8;
	struct jv *items = realloc(v->items, ncap * sizeof *items);
	if (items == NULL)
		return false;
	v->items = items;
	if (v->t == J_OBJ) {
		char **keys = realloc(v->keys, ncap * sizeof *keys);
		if (keys == NULL)
			return false;
		v->keys = keys;
	}
	*cap = ncap;
	return true;
}

static bool jcontainer(struct jp *p, struct jv *v, bool obj)
{
	size_t cap = 0;
	v->t = obj ? J_OBJ : J_ARR;
	if (++p->depth > 64)
		return jfail(p, "nested too deep");
	p->p++;
	jws(p);
	if (p->p < p->end && *p->p == (obj ? '}' : ']')) {
		p->p++;
		p->depth--;
		return true;
	}
	for (;;) {
		char *key = NULL;
		size_t klen;
		jws(p);
		if (obj) {
			if (p->p >= p->end || *p->p != '"')
				return jfail(p, "object key is not a string");
			if (!jstring(p, &key, &klen))
				return false;
			for (size_t i = 0; i < v->n; i++)
				if (strcmp(v->keys[i], key) == 0) {
					free(key);
					return jfail(p, "duplicate object key");
				}
			jws(p);
			if (p->p >= p->end || *p->p != ':') {
				free(key);
				return jfail(p, "missing ':'");
			}
			p->p++;
		}
		if (!jpush(v, &cap)) {
			free(key);
			return jfail(p, "out of memory");
		}
		memset(&v->items[v->n], 0, sizeof v->items[0]);
		if (obj)
			v->keys[v->n] = key;
		v->n++;
		if (!jvalue(p, &v->items[v->n - 1]))
			return false;
		jws(p);
		if (p->p < p->end && *p->p == ',') {
			p->p++;
			continue;
		}
		if (p->p < p->end && *p->p == (obj ? '}' : ']')) {
			p->p++;
			p->depth--;
			return true;
		}
		return jfail(p, "missing ',' or closing bracket");
	}
}

static bool jnumber(struct jp *p, struct jv *v)
{
	const unsigned char *s = p->p;
	if (p->p < p->end && *p->p == '-')
		p->p++;
	if (p->p < p->end && *p->p == '0') {
		p->p++;
	} else if (p->p < p->end && *p->p >= '1' && *p->p <= '9') {
		while (p->p < p->end && *p->p >= '0' && *p->p <= '9')
			p->p++;
	} else {
		return jfail(p, "bad number");
	}
	if (p->p < p->end && *p->p == '.') {
		p->p++;
		if (p->p >= p->end || *p->p < '0' || *p->p > '9')
			return jfail(p, "bad fraction");
		while (p->p < p->end && *p->p >= '0' && *p->p <= '9')
			p->p++;
	}
	if (p->p < p->end && (*p->p == 'e' || *p->p == 'E')) {
		p->p++;
		if (p->p < p->end && (*p->p == '+' || *p->p == '-'))
			p->p++;
		if (p->p >= p->end || *p->p < '0' || *p->p > '9')
			return jfail(p, "bad exponent");
		while (p->p < p->end && *p->p >= '0' && *p->p <= '9')
			p->p++;
	}
	v->t = J_NUM;
	v->slen = (size_t)(p->p - s);
	v->s = malloc(v->slen + 1);
	if (v->s == NULL)
		return jfail(p, "out of memory");
	memcpy(v->s, s, v->slen);
	v->s[v->slen] = '\0';
	return true;
}

static bool jlit(struct jp *p, const char *lit, enum jtype t, struct jv *v)
{
	size_t n = strlen(lit);
	if ((size_t)(p->end - p->p) < n || memcmp(p->p, lit, n) != 0)
		return jfail(p, "bad literal");
	p->p += n;
	v->t = t;
	return true;
}

static bool jvalue(struct jp *p, struct jv *v)
{
	jws(p);
	if (p->p >= p->end)
		return jfail(p, "value expected");
	switch (*p->p) {
	case '{': return jcontainer(p, v, true);
	case '[': return jcontainer(p, v, false);
	case '"': v->t = J_STR; return jstring(p, &v->s, &v->slen);
	case 't': return jlit(p, "true", J_TRUE, v);
	case 'f': return jlit(p, "false", J_FALSE, v);
	case 'n': return jlit(p, "null", J_NULL, v);
	default: return jnumber(p, v);
	}
}

/* Parse exactly one JSON text of len bytes; *why gets the reason on failure. */
static bool json_parse(const char *text, size_t len, struct jv *out, const char **why)
{
	struct jp p = {(const unsigned char *)text, (const unsigned char *)text + len, 0, NULL};
	memset(out, 0, sizeof *out);
	bool ok = jvalue(&p, out);
	if (ok) {
		jws(&p);
		if (p.p != p.end)
			ok = jfail(&p, "text after the value");
	}
	if (!ok)
		jv_free(out);
	*why = p.why;
	return ok;
}

static const struct jv *jget(const struct jv *o, const char *key)
{
	if (o == NULL || o->t != J_OBJ)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->keys[i], key) == 0)
			return &o->items[i];
	return NULL;
}

/* A non-negative JSON integer without sign, fraction or exponent. */
static bool jcount(const struct jv *v, uint64_t *out)
{
	*out = 0;
	if (v == NULL || v->t != J_NUM || v->slen == 0 || (v->slen > 1 && v->s[0] == '0') || v->slen > 19)
		return false;
	for (size_t i = 0; i < v->slen; i++) {
		if (v->s[i] < '0' || v->s[i] > '9')
			return false;
		*out = *out * 10 + (uint64_t)(v->s[i] - '0');
	}
	return true;
}

static bool jnonempty_str(const struct jv *v)
{
	return v != NULL && v->t == J_STR && v->slen > 0 && strlen(v->s) == v->slen;
}

/* Object with exactly these keys, in this order (required[i] false: may be absent). */
static bool jkeys(const struct jv *o, const char *const *keys, const bool *required, size_t n)
{
	size_t k = 0;
	if (o == NULL || o->t != J_OBJ)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (k < o->n && strcmp(o->keys[k], keys[i]) == 0)
			k++;
		else if (required == NULL || required[i])
			return false;
	}
	return k == o->n;
}

/* ======================================================================== */
/* The profile checker (docs/tlsrpt-report.md).                            */
/* ======================================================================== */

static const char *const result_types[] = {
	"starttls-not-supported", "certificate-host-mismatch", "certificate-expired",
	"certificate-not-trusted", "validation-failure", "sts-policy-fetch-error",
	"sts-policy-invalid", "sts-webpki-invalid", "tlsa-invalid", "dnssec-invalid",
	"dane-required",
};

static bool known_result_type(const char *s)
{
	for (size_t i = 0; i < sizeof result_types / sizeof result_types[0]; i++)
		if (strcmp(s, result_types[i]) == 0)
			return true;
	return false;
}

static bool is_ip(const char *s)
{
	unsigned char bin[16];
	char back[INET6_ADDRSTRLEN];
	int af = strchr(s, ':') != NULL ? AF_INET6 : AF_INET;
	/* canonical: inet_ntop(inet_pton(s)) == s */
	return inet_pton(af, s, bin) == 1 && inet_ntop(af, bin, back, sizeof back) != NULL && strcmp(back, s) == 0;
}

static bool str_array(const struct jv *a)
{
	if (a == NULL || a->t != J_ARR)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!jnonempty_str(&a->items[i]))
			return false;
	return true;
}

struct expect {
	const char *day;
	const char *domain;
	uint64_t success, failure; /* counted from the test's own input */
};

/* Checks one rendered report: syntax, profile, totals. Returns the parse for more checks (caller frees). */
static bool check_report(const char *name, const char *json, size_t len, const struct expect *e, struct jv *keep)
{
	static const char *const top[] = {"organization-name", "date-range", "contact-info", "report-id", "policies"};
	static const char *const range[] = {"start-datetime", "end-datetime"};
	static const char *const entry[] = {"policy", "summary", "failure-details"};
	static const char *const pol[] = {"policy-type", "policy-string", "policy-domain", "mx-host"};
	static const char *const sum[] = {"total-successful-session-count", "total-failure-session-count"};
	static const char *const det[] = {"result-type", "sending-mta-ip", "receiving-mx-hostname",
	                                  "receiving-mx-helo", "receiving-ip", "failed-session-count",
	                                  "additional-information", "failure-reason-code"};
	static const bool det_req[] = {true, false, false, false, false, true, false, false};
	char start[32], end[32];
	struct jv root;
	const char *why = NULL;
	uint64_t s_total = 0, f_total = 0;
	bool ok = true;

	if (!CHECK_TRUE(strlen(json) == len, name))
		return false;
	if (!json_parse(json, len, &root, &why)) {
		CHECK_STR(why, "(valid JSON)", name);
		return false;
	}
	CHECK_TRUE(len > 0 && json[len - 1] == '}' && strchr(json, '\n') == NULL, name); /* compact, one line */
	ok &= CHECK_TRUE(jkeys(&root, top, NULL, 5), name);
	ok &= CHECK_TRUE(jnonempty_str(jget(&root, "organization-name")), name);
	ok &= CHECK_TRUE(jnonempty_str(jget(&root, "contact-info")), name);
	ok &= CHECK_TRUE(jnonempty_str(jget(&root, "report-id")), name);
	const struct jv *dr = jget(&root, "date-range");
	snprintf(start, sizeof start, "%sT00:00:00Z", e->day);
	snprintf(end, sizeof end, "%sT23:59:59Z", e->day);
	ok &= CHECK_TRUE(jkeys(dr, range, NULL, 2), name);
	if (jnonempty_str(jget(dr, "start-datetime")) && jnonempty_str(jget(dr, "end-datetime"))) {
		ok &= CHECK_STR(jget(dr, "start-datetime")->s, start, name);
		ok &= CHECK_STR(jget(dr, "end-datetime")->s, end, name);
	}
	const struct jv *ps = jget(&root, "policies");
	ok &= CHECK_TRUE(ps != NULL && ps->t == J_ARR && ps->n > 0, name);
	for (size_t i = 0; ps != NULL && ps->t == J_ARR && i < ps->n; i++) {
		const struct jv *en = &ps->items[i];
		const struct jv *p = jget(en, "policy"), *s = jget(en, "summary"), *fd = jget(en, "failure-details");
		uint64_t sc = 0, fc = 0, fsum = 0;
		ok &= CHECK_TRUE(jkeys(en, entry, NULL, 3), name);
		ok &= CHECK_TRUE(jkeys(p, pol, NULL, 4), name);
		const struct jv *pt = jget(p, "policy-type");
		bool sts = pt != NULL && pt->t == J_STR && strcmp(pt->s, "sts") == 0;
		bool npf = pt != NULL && pt->t == J_STR && strcmp(pt->s, "no-policy-found") == 0;
		ok &= CHECK_TRUE(sts || npf || (pt != NULL && pt->t == J_STR && strcmp(pt->s, "tlsa") == 0), name);
		ok &= CHECK_TRUE(str_array(jget(p, "policy-string")), name);
		ok &= CHECK_TRUE(str_array(jget(p, "mx-host")), name);
		if (!sts && jget(p, "mx-host") != NULL)
			ok &= CHECK_INT(jget(p, "mx-host")->n, 0, name);
		if (npf && jget(p, "policy-string") != NULL)
			ok &= CHECK_INT(jget(p, "policy-string")->n, 0, name);
		const struct jv *pd = jget(p, "policy-domain");
		ok &= CHECK_TRUE(jnonempty_str(pd), name);
		if (jnonempty_str(pd))
			ok &= CHECK_STR(pd->s, e->domain, name); /* one report, one domain */
		ok &= CHECK_TRUE(jkeys(s, sum, NULL, 2), name);
		ok &= CHECK_TRUE(jcount(jget(s, "total-successful-session-count"), &sc), name);
		ok &= CHECK_TRUE(jcount(jget(s, "total-failure-session-count"), &fc), name);
		ok &= CHECK_TRUE(sc + fc > 0, name); /* no empty entries */
		ok &= CHECK_TRUE(fd != NULL && fd->t == J_ARR, name);
		for (size_t k = 0; fd != NULL && fd->t == J_ARR && k < fd->n; k++) {
			const struct jv *d = &fd->items[k];
			uint64_t c = 0;
			ok &= CHECK_TRUE(jkeys(d, det, det_req, 8), name);
			const struct jv *rt = jget(d, "result-type");
			ok &= CHECK_TRUE(jnonempty_str(rt) && known_result_type(rt->s), name);
			ok &= CHECK_TRUE(jcount(jget(d, "failed-session-count"), &c) && c > 0, name);
			fsum += c;
			for (size_t f = 1; f < 8; f++) {
				const struct jv *x = jget(d, det[f]);
				if (x == NULL || f == 5)
					continue;
				ok &= CHECK_TRUE(jnonempty_str(x), name); /* never "" or null */
				if (jnonempty_str(x) && (f == 1 || f == 4))
					ok &= CHECK_TRUE(is_ip(x->s), x->s);
			}
		}
		ok &= CHECK_INT(fsum, fc, name);
		s_total += sc;
		f_total += fc;
	}
	ok &= CHECK_INT(s_total, e->success, name);
	ok &= CHECK_INT(f_total, e->failure, name);
	if (keep != NULL)
		*keep = root;
	else
		jv_free(&root);
	return ok;
}

/* gzip -> inflate -> the same bytes; header has no name, MTIME 0, OS 255. */
static void check_gzip(const char *name, const char *data, size_t len)
{
	unsigned char *gz = NULL, *gz2 = NULL;
	size_t gzlen = 0, gzlen2 = 0;
	stsguard_err err = {""};

	if (!CHECK_STATUS(stsguard_tlsrpt_report_gzip(data, len, &gz, &gzlen, &err), STSGUARD_OK, name))
		return;
	CHECK_TRUE(gzlen >= 18 && gz[0] == 0x1f && gz[1] == 0x8b && gz[2] == 8, name);
	CHECK_TRUE(gz[3] == 0 && gz[4] == 0 && gz[5] == 0 && gz[6] == 0 && gz[7] == 0, name); /* FLG, MTIME */
	CHECK_INT(gz[9], 255, name);                                                         /* OS */
	/* The same input gives the same bytes. */
	if (CHECK_STATUS(stsguard_tlsrpt_report_gzip(data, len, &gz2, &gzlen2, &err), STSGUARD_OK, name))
		CHECK_TRUE(gzlen == gzlen2 && memcmp(gz, gz2, gzlen) == 0, name);
	free(gz2);

	z_stream zs;
	memset(&zs, 0, sizeof zs);
	if (!CHECK_INT(inflateInit2(&zs, 16 + 15), Z_OK, name)) {
		free(gz);
		return;
	}
	unsigned char *back = malloc(len + 1);
	if (back == NULL) {
		inflateEnd(&zs);
		free(gz);
		return;
	}
	zs.next_in = gz;
	zs.avail_in = (uInt)gzlen;
	zs.next_out = back;
	zs.avail_out = (uInt)(len + 1); /* one spare byte: inflating more than len would show */
	CHECK_INT(inflate(&zs, Z_FINISH), Z_STREAM_END, name);
	CHECK_INT(zs.total_out, len, name);
	CHECK_INT(zs.avail_in, 0, name); /* one member, nothing after it */
	CHECK_TRUE(zs.total_out == len && memcmp(back, data, len) == 0, name);
	inflateEnd(&zs);
	free(back);
	free(gz);
}

/* ======================================================================== */
/* Building results.                                                        */
/* ======================================================================== */

#define MAXS 10

struct pol {
	stsguard_policy_type type;
	const char *strings[MAXS]; /* NULL-terminated */
	const char *mx[MAXS];
};

/* One line of input: repeat identical results, one session each. */
struct feed {
	int64_t at; /* seconds after DAY_START */
	const struct pol *pol;
	const char *domain;
	stsguard_result_type result;
	const char *sip, *mx, *helo, *rip, *reason, *info;
	unsigned repeat;
};

/* Owns copies of the strings, since the result holds char ** arrays. */
struct built {
	stsguard_tlsrpt_result r;
	char s[MAXS][256];
	char *sp[MAXS];
	char m[MAXS][256];
	char *mp[MAXS];
};

static void put(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src != NULL ? src : "");
}

static void build(struct built *b, const struct feed *f, int64_t day_start)
{
	memset(b, 0, sizeof *b);
	b->r.time = day_start + f->at;
	b->r.policy_type = f->pol->type;
	put(b->r.policy_domain, sizeof b->r.policy_domain, f->domain);
	for (size_t i = 0; i < MAXS && f->pol->strings[i] != NULL; i++) {
		put(b->s[i], sizeof b->s[i], f->pol->strings[i]);
		b->sp[i] = b->s[i];
		b->r.n_policy_strings++;
	}
	for (size_t i = 0; i < MAXS && f->pol->mx[i] != NULL; i++) {
		put(b->m[i], sizeof b->m[i], f->pol->mx[i]);
		b->mp[i] = b->m[i];
		b->r.n_mx_host_patterns++;
	}
	b->r.policy_strings = b->sp;
	b->r.mx_host_patterns = b->mp;
	b->r.result = f->result;
	put(b->r.sending_mta_ip, sizeof b->r.sending_mta_ip, f->sip);
	put(b->r.receiving_mx_hostname, sizeof b->r.receiving_mx_hostname, f->mx);
	put(b->r.receiving_mx_helo, sizeof b->r.receiving_mx_helo, f->helo);
	put(b->r.receiving_ip, sizeof b->r.receiving_ip, f->rip);
	put(b->r.failure_reason_code, sizeof b->r.failure_reason_code, f->reason);
	put(b->r.additional_information, sizeof b->r.additional_information, f->info);
}

static const stsguard_tlsrpt_report_meta META = {"Example Sender Org", "tlsrpt@sender.example",
                                                 "mta.sender.example", NULL};

/* ---- policies used by the golden cases ---- */

static const struct pol STS_COM = {STSGUARD_POLICY_STS,
	{"version: STSv1", "mode: enforce", "mx: mx1.example.com", "mx: *.backup.example.com", "max_age: 604800"},
	{"mx1.example.com", "*.backup.example.com"}};
static const struct pol STS_NET = {STSGUARD_POLICY_STS,
	{"version: STSv1", "mode: testing", "mx: mail.example.net", "max_age: 86400"},
	{"mail.example.net"}};
static const struct pol STS_ORG = {STSGUARD_POLICY_STS,
	{"version: STSv1", "mode: enforce", "mx: *.mx.example.org", "max_age: 1209600"},
	{"*.mx.example.org"}};
static const struct pol STS_MIXED = {STSGUARD_POLICY_STS,
	{"version: STSv1", "mode: testing", "mx: mx1.mixed.example", "mx: mx2.mixed.example", "max_age: 86400"},
	{"MX2.mixed.example", "mx1.mixed.example", "mx2.mixed.example"}}; /* a duplicate, in upper case */
#define TLSA1 "_25._tcp.mx1.mixed.example. IN TLSA 3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6"
#define TLSA2 "_25._tcp.mx1.mixed.example. IN TLSA 3 1 1 8A2F1C05E3FB9E4C3D6A4F7E2B1D0C9E8F7A6B5C4D3E2F1A0B9C8D7E6F5A4B3C"
static const struct pol TLSA_AB = {STSGUARD_POLICY_TLSA, {TLSA1, TLSA2}, {"ignored.mixed.example"}};
static const struct pol TLSA_BA = {STSGUARD_POLICY_TLSA, {TLSA2, TLSA1}, {NULL}}; /* the same RRset */
static const struct pol NO_POLICY = {STSGUARD_POLICY_NO_POLICY_FOUND, {NULL}, {NULL}};
static const struct pol NO_POLICY_JUNK = {STSGUARD_POLICY_NO_POLICY_FOUND, {"ignored"}, {"ignored"}};
static const struct pol STS_IDN = {STSGUARD_POLICY_STS,
	{"version: STSv1", "mode: enforce", "mx: mx.xn--bcher-kva.example", "max_age: 604800"},
	{"mx.xn--bcher-kva.example"}};
static const struct pol STS_EMPTY = {STSGUARD_POLICY_STS, {NULL}, {NULL}};
static const struct pol STS_BUSY1 = {STSGUARD_POLICY_STS,
	{"version: STSv1", "mode: testing", "mx: mx.busy.example", "max_age: 86400"}, {"mx.busy.example"}};
static const struct pol STS_BUSY2 = {STSGUARD_POLICY_STS,
	{"version: STSv1", "mode: enforce", "mx: mx.busy.example", "max_age: 86400"}, {"mx.busy.example"}};
static const struct pol STS_BUSY3 = {STSGUARD_POLICY_STS,
	{"version: STSv1", "mode: enforce", "mx: mx.busy.example", "max_age: 604800"}, {"mx.busy.example"}};

#define OK_ STSGUARD_RESULT_SUCCESS
#define NOTLS STSGUARD_RESULT_STARTTLS_NOT_SUPPORTED
#define MISMATCH STSGUARD_RESULT_CERTIFICATE_HOST_MISMATCH
#define UNTRUSTED STSGUARD_RESULT_CERTIFICATE_NOT_TRUSTED
#define EXPIRED STSGUARD_RESULT_CERTIFICATE_EXPIRED
#define VALFAIL STSGUARD_RESULT_VALIDATION_FAILURE

static const struct feed feed_success_only[] = {
	{0, &STS_COM, "example.com", OK_, "192.0.2.1", "mx1.example.com", NULL, "198.51.100.10", NULL, NULL, 3},
	{43200, &STS_COM, "example.com", OK_, "192.0.2.2", "b.backup.example.com", NULL, "198.51.100.11", NULL, NULL, 1},
	{86399, &STS_COM, "Example.COM.", OK_, "", "", NULL, "", NULL, NULL, 2}, /* last second; name normalised */
};

static const struct feed feed_failure_types[] = {
	{10, &STS_NET, "example.net", OK_, "192.0.2.1", "mail.example.net", NULL, "203.0.113.5", NULL, NULL, 3},
	{20, &STS_NET, "example.net", NOTLS, "192.0.2.1", "mail.example.net", "mail.example.net", "203.0.113.5",
	 NULL, NULL, 2},
	{30, &STS_NET, "example.net", EXPIRED, "192.0.2.1", "mail.example.net", NULL, "203.0.113.5", NULL, NULL, 1},
	{40, &STS_NET, "example.net", MISMATCH, "192.0.2.1", "mail.example.net", "smtp.hoster.example",
	 "203.0.113.5", NULL, NULL, 1},
	{50, &STS_NET, "example.net", UNTRUSTED, "192.0.2.1", "MAIL.example.net.", NULL, "203.0.113.5",
	 "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY", NULL, 4},
	{60, &STS_NET, "example.net", VALFAIL, "192.0.2.1", "mail.example.net", NULL, "203.0.113.5",
	 "tls-remote-alert-70-protocol-version", "https://reports.sender.example/info?id=42&t=validation", 1},
	{70, &STS_NET, "example.net", STSGUARD_RESULT_STS_POLICY_INVALID, "192.0.2.1", NULL, NULL, NULL,
	 "mode: enforce without mx", NULL, 1},
};

static const struct feed feed_sending_ips[] = {
	{100, &STS_ORG, "example.org", OK_, "192.0.2.10", "a.mx.example.org", NULL, "198.51.100.1", NULL, NULL, 7},
	{110, &STS_ORG, "example.org", EXPIRED, "192.0.2.10", "a.mx.example.org", NULL, "198.51.100.1", NULL, NULL, 2},
	{120, &STS_ORG, "example.org", EXPIRED, "192.0.2.9", "a.mx.example.org", NULL, "198.51.100.1", NULL, NULL, 1},
	{130, &STS_ORG, "example.org", EXPIRED, "2001:DB8:ABCD:0012:0:0:0:1", "a.mx.example.org", NULL,
	 "2001:db8:ffff::25", NULL, NULL, 3},
	{140, &STS_ORG, "example.org", EXPIRED, "2001:db8:abcd:12::1", "a.mx.example.org", NULL,
	 "2001:db8:ffff:0::25", NULL, NULL, 2}, /* the same two addresses, spelled otherwise */
	{150, &STS_ORG, "example.org", EXPIRED, "::ffff:192.0.2.77", "b.mx.example.org", NULL, "198.51.100.2", NULL,
	 NULL, 1},
	{160, &STS_ORG, "example.org", NOTLS, "192.0.2.10", "b.mx.example.org", NULL, "198.51.100.2", NULL, NULL, 5},
};

static const struct feed feed_mixed[] = {
	{0, &STS_MIXED, "mixed.example", OK_, "192.0.2.1", "mx2.mixed.example", NULL, "198.51.100.20", NULL, NULL, 4},
	{5, &TLSA_AB, "mixed.example", OK_, "192.0.2.1", "mx1.mixed.example", NULL, "198.51.100.21", NULL, NULL, 6},
	{6, &TLSA_BA, "mixed.example", OK_, "192.0.2.1", "mx1.mixed.example", NULL, "198.51.100.21", NULL, NULL, 1},
	{7, &TLSA_BA, "mixed.example", STSGUARD_RESULT_TLSA_INVALID, "192.0.2.1", "mx1.mixed.example", NULL,
	 "198.51.100.21", "no TLSA record matches the certificate chain", NULL, 2},
	{8, &TLSA_AB, "mixed.example", STSGUARD_RESULT_DNSSEC_INVALID, "192.0.2.1", "mx1.mixed.example", NULL, NULL,
	 "SERVFAIL validating _25._tcp.mx1.mixed.example", NULL, 1},
	{9, &NO_POLICY, "mixed.example", OK_, "192.0.2.1", "mx3.mixed.example", NULL, "198.51.100.23", NULL, NULL, 2},
	{10, &NO_POLICY_JUNK, "mixed.example", OK_, "192.0.2.1", "mx3.mixed.example", NULL, "198.51.100.23", NULL,
	 NULL, 1},
	{11, &NO_POLICY, "mixed.example", STSGUARD_RESULT_DANE_REQUIRED, "192.0.2.1", "mx3.mixed.example", NULL,
	 "198.51.100.23", NULL, NULL, 1},
	{12, &STS_MIXED, "mixed.example", MISMATCH, "192.0.2.1", "mx2.mixed.example", NULL, "198.51.100.20", NULL,
	 NULL, 1},
	/* Another domain the same day: must not leak into mixed.example's report. */
	{13, &STS_COM, "example.com", EXPIRED, "192.0.2.1", "mx1.example.com", NULL, "198.51.100.10", NULL, NULL, 9},
};

static const struct feed feed_unicode[] = {
	{0, &STS_IDN, "xn--bcher-kva.example", OK_, "192.0.2.1", "mx.xn--bcher-kva.example", NULL, "198.51.100.30",
	 NULL, NULL, 2},
	{1, &STS_IDN, "xn--bcher-kva.example", VALFAIL, "192.0.2.1", "mx.xn--bcher-kva.example", NULL,
	 "198.51.100.30", "Zertifikatsprüfung fehlgeschlagen: 証明書の検証に失敗 😀", NULL, 2},
	{2, &STS_IDN, "xn--bcher-kva.example", VALFAIL, "192.0.2.1", "mx.xn--bcher-kva.example", NULL,
	 "198.51.100.30", "Ошибка рукопожатия TLS — ε", NULL, 1},
};

static const struct feed feed_hostile[] = {
	{0, &STS_NET, "hostile.example", VALFAIL, "192.0.2.1", "mx.hostile.example",
	 "evil\"helo\\ \x01\x1f\x7f end", "198.51.100.40", "quote \" backslash \\ slash / tab\tcr\rnl\n bell\x07",
	 "https://hostile.example/?q=\"x\"&y=\\z", 1},
	{1, &STS_NET, "hostile.example", VALFAIL, "192.0.2.1", "mx.hostile.example", "mx\xff.\xc3(bad\xe2\x82",
	 "198.51.100.40", "overlong \xc0\xaf surrogate \xed\xa0\x80 big \xf4\x90\x80\x80 cut \xe2\x82", NULL, 1},
	{2, &STS_NET, "hostile.example", VALFAIL, "192.0.2.1", "mx\xe2\x82\xac.hostile.example", "</script>",
	 "198.51.100.40", "{\"injected\": null}", NULL, 1},
};

static const struct feed feed_zero_success[] = {
	{0, &STS_EMPTY, "broken.example", STSGUARD_RESULT_STS_POLICY_FETCH_ERROR, "192.0.2.1", NULL, NULL, NULL,
	 "HTTP 404 from https://mta-sts.broken.example/.well-known/mta-sts.txt", NULL, 3},
	{1, &STS_EMPTY, "broken.example", STSGUARD_RESULT_STS_WEBPKI_INVALID, "", NULL, NULL, NULL,
	 "certificate has expired", NULL, 2},
	{2, &STS_EMPTY, "broken.example", STSGUARD_RESULT_STS_POLICY_FETCH_ERROR, NULL, NULL, NULL, NULL, NULL, NULL,
	 1},
};

static const struct feed feed_overflow[] = {
	{0, &STS_BUSY1, "busy.example", OK_, "192.0.2.1", "mx.busy.example", NULL, "198.51.100.50", NULL, NULL, 2},
	{1, &STS_BUSY2, "busy.example", OK_, "192.0.2.1", "mx.busy.example", NULL, "198.51.100.50", NULL, NULL, 3},
	/* max_policies 2: the third policy goes to the sts catch-all */
	{2, &STS_BUSY3, "busy.example", OK_, "192.0.2.1", "mx.busy.example", NULL, "198.51.100.50", NULL, NULL, 4},
	{3, &STS_BUSY3, "busy.example", EXPIRED, "192.0.2.7", "mx.busy.example", NULL, "198.51.100.50", NULL, NULL, 1},
	/* max_details 2: the first two groups keep their detail, the rest is summarised per result type */
	{4, &STS_BUSY1, "busy.example", EXPIRED, "192.0.2.1", "mx.busy.example", NULL, "198.51.100.50", NULL, NULL, 2},
	{5, &STS_BUSY1, "busy.example", EXPIRED, "192.0.2.2", "mx.busy.example", NULL, "198.51.100.50", NULL, NULL, 1},
	{6, &STS_BUSY1, "busy.example", EXPIRED, "192.0.2.3", "mx.busy.example", NULL, "198.51.100.50", NULL, NULL, 5},
	{7, &STS_BUSY1, "busy.example", EXPIRED, "192.0.2.4", "mx.busy.example", NULL, "198.51.100.50", NULL, NULL, 1},
	{8, &STS_BUSY1, "busy.example", NOTLS, "192.0.2.1", "mx.busy.example", NULL, "198.51.100.50", NULL, NULL, 3},
	{9, &STS_BUSY1, "busy.example", EXPIRED, "192.0.2.1", "mx.busy.example", NULL, "198.51.100.50", NULL, NULL, 1},
};

static const stsguard_tlsrpt_report_limits overflow_limits = {0, 2, 2, 0, 0};

struct golden_case {
	const char *name;
	const struct feed *feed;
	size_t n;
	const char *domain;
	const stsguard_tlsrpt_report_limits *limits;
	const char *unique_id;
	const char *report_id; /* expected */
	uint64_t summarised_policy, summarised_detail;
};

#define FEED(f) (f), sizeof(f) / sizeof((f)[0])

static const struct golden_case golden_cases[] = {
	{"success-only", FEED(feed_success_only), "example.com", NULL, NULL,
	 "2024-05-01_example.com@mta.sender.example", 0, 0},
	{"failure-types", FEED(feed_failure_types), "example.net", NULL, "mx1",
	 "2024-05-01_example.net_mx1@mta.sender.example", 0, 0},
	{"sending-ips", FEED(feed_sending_ips), "example.org", NULL, NULL,
	 "2024-05-01_example.org@mta.sender.example", 0, 0},
	{"mixed-policies", FEED(feed_mixed), "mixed.example", NULL, NULL,
	 "2024-05-01_mixed.example@mta.sender.example", 0, 0},
	{"unicode-reason", FEED(feed_unicode), "xn--bcher-kva.example", NULL, NULL,
	 "2024-05-01_xn--bcher-kva.example@mta.sender.example", 0, 0},
	{"hostile-strings", FEED(feed_hostile), "hostile.example", NULL, NULL,
	 "2024-05-01_hostile.example@mta.sender.example", 0, 0},
	{"zero-success", FEED(feed_zero_success), "broken.example", NULL, NULL,
	 "2024-05-01_broken.example@mta.sender.example", 0, 0},
	/* STS_BUSY3's 4 + 1 sessions; 5 + 1 (certificate-expired) + 3 (starttls-not-supported) failed
	 * sessions of STS_BUSY1 beyond its two detail groups; the last line joins its existing group */
	{"overflow", FEED(feed_overflow), "busy.example", &overflow_limits, NULL,
	 "2024-05-01_busy.example@mta.sender.example", 5, 9},
};

/* Totals of one domain, counted from the feed (never from the library). */
static void expected_totals(const struct feed *f, size_t n, const char *domain, uint64_t *s, uint64_t *fl)
{
	*s = *fl = 0;
	for (size_t i = 0; i < n; i++) {
		char norm[256];
		size_t len = strlen(f[i].domain);
		for (size_t k = 0; k <= len; k++)
			norm[k] = (f[i].domain[k] >= 'A' && f[i].domain[k] <= 'Z') ? (char)(f[i].domain[k] + 32)
			                                                           : f[i].domain[k];
		if (len > 0 && norm[len - 1] == '.')
			norm[len - 1] = '\0';
		if (strcmp(norm, domain) != 0)
			continue;
		if (f[i].result == OK_)
			*s += f[i].repeat;
		else
			*fl += f[i].repeat;
	}
}

/* Feed in order (or reversed) into a new aggregator; NULL on a failure. */
static stsguard_tlsrpt_report *feed_all(const char *name, const struct feed *f, size_t n,
                                        const stsguard_tlsrpt_report_limits *lim, bool reverse)
{
	stsguard_tlsrpt_report *agg = NULL;
	stsguard_err err = {""};
	static struct built b;

	if (!CHECK_STATUS(stsguard_tlsrpt_report_new(DAY, lim, &agg, &err), STSGUARD_OK, name))
		return NULL;
	for (size_t k = 0; k < n; k++) {
		size_t i = reverse ? n - 1 - k : k;
		build(&b, &f[i], DAY_START);
		for (unsigned r = 0; r < f[i].repeat; r++)
			if (!CHECK_STATUS(stsguard_tlsrpt_report_add(agg, &b.r, &err), STSGUARD_OK, err.msg)) {
				stsguard_tlsrpt_report_free(agg);
				return NULL;
			}
	}
	return agg;
}

/* ---- golden files ---- */

static void golden_path(char *out, size_t cap, const char *casename)
{
	const char *file = __FILE__;
	const char *slash = strrchr(file, '/');
	int dirlen = slash != NULL ? (int)(slash - file) : 1;
	const char *dir = slash != NULL ? file : ".";
	snprintf(out, cap, "%.*s/../golden/reports/%s.json", dirlen, dir, casename);
}

static void test_golden(void)
{
	const char *update = getenv("STSGUARD_UPDATE_GOLDEN");

	for (size_t i = 0; i < sizeof golden_cases / sizeof golden_cases[0]; i++) {
		const struct golden_case *c = &golden_cases[i];
		stsguard_tlsrpt_report_meta meta = META;
		stsguard_tlsrpt_report_stats st;
		stsguard_err err = {""};
		struct expect e = {DAY, c->domain, 0, 0};
		char path[4096], *json = NULL, *json2 = NULL;
		size_t len = 0, len2 = 0, wlen = 0;
		struct jv root;

		meta.unique_id = c->unique_id;
		expected_totals(c->feed, c->n, c->domain, &e.success, &e.failure);
		stsguard_tlsrpt_report *agg = feed_all(c->name, c->feed, c->n, c->limits, false);
		if (agg == NULL)
			continue;
		if (!CHECK_STATUS(stsguard_tlsrpt_report_json(agg, c->domain, &meta, &json, &len, &err), STSGUARD_OK,
		                  err.msg)) {
			stsguard_tlsrpt_report_free(agg);
			continue;
		}
		golden_path(path, sizeof path, c->name);
		if (update != NULL && update[0] == '1') {
			FILE *f = fopen(path, "wb");
			if (CHECK_TRUE(f != NULL, path)) {
				fwrite(json, 1, len, f);
				fclose(f);
			}
		}
		char *want = check_read_file(path, &wlen);
		if (CHECK_TRUE(want != NULL, path)) {
			CHECK_INT(strlen(want), wlen, "golden file has no NUL byte");
			CHECK_STR(json, want, c->name);
			CHECK_INT(len, wlen, c->name);
		}
		free(want);

		if (check_report(c->name, json, len, &e, &root)) {
			const struct jv *rid = jget(&root, "report-id");
			CHECK_STR(rid != NULL ? rid->s : NULL, c->report_id, c->name);
			jv_free(&root);
		}
		check_gzip(c->name, json, len);

		/* Stats agree with the input and bound the size. */
		if (CHECK_STATUS(stsguard_tlsrpt_report_stats_get(agg, c->domain, &st), STSGUARD_OK, c->name)) {
			CHECK_INT(st.successful_sessions, e.success, c->name);
			CHECK_INT(st.failed_sessions, e.failure, c->name);
			CHECK_INT(st.summarised_policy_sessions, c->summarised_policy, c->name);
			CHECK_INT(st.summarised_detail_sessions, c->summarised_detail, c->name);
			CHECK_TRUE(len <= st.report_bytes, c->name);
		}
		stsguard_tlsrpt_report_free(agg);

		/* Below the limits the input order does not matter. */
		if (c->limits == NULL) {
			agg = feed_all(c->name, c->feed, c->n, NULL, true);
			if (agg != NULL &&
			    CHECK_STATUS(stsguard_tlsrpt_report_json(agg, c->domain, &meta, &json2, &len2, &err),
			                 STSGUARD_OK, err.msg))
				CHECK_STR(json2, json, "reversed input, same report");
			free(json2);
			stsguard_tlsrpt_report_free(agg);
		}
		free(json);
	}
}

/* ======================================================================== */
/* Tables.                                                                  */
/* ======================================================================== */

struct json_case {
	const char *text;
	bool valid;
};

/* The validator must refuse what it should, or the golden checks prove nothing. */
static void test_validator(void)
{
	static const struct json_case cases[] = {
		{"{}", true},
		{"[]", true},
		{" {\"a\" : [1, -2.5e+3, true, false, null, \"\\ud83d\\ude00\\u00e9\\n\"]} ", true},
		{"\"h\xc3\xa9 \xf0\x9f\x98\x80\"", true},
		{"0", true},
		{"{\"a\":1,\"a\":2}", false},
		{"[1,]", false},
		{"{'a':1}", false},
		{"\"\x01\"", false},
		{"\"\xff\"", false},
		{"\"\xed\xa0\x80\"", false},
		{"\"\xc0\xaf\"", false},
		{"01", false},
		{"1.", false},
		{"-", false},
		{"\"\\ud83d\"", false},
		{"\"\\ude00\"", false},
		{"\"\\x41\"", false},
		{"[1] x", false},
		{"\"abc", false},
		{"{\"a\" 1}", false},
		{"nul", false},
		{"", false},
		{"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
		 false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct jv v;
		const char *why;
		bool ok = json_parse(cases[i].text, strlen(cases[i].text), &v, &why);
		CHECK_TRUE(ok == cases[i].valid, cases[i].text);
		if (ok)
			jv_free(&v);
	}
}

struct day_case {
	const char *day;
	stsguard_status want;
	const char *filename; /* with submitter s.example, domain d.example, no unique id */
};

static void test_days(void)
{
	static const struct day_case cases[] = {
		{"2024-05-01", STSGUARD_OK, "s.example!d.example!1714521600!1714607999.json.gz"},
		{"2024-02-29", STSGUARD_OK, "s.example!d.example!1709164800!1709251199.json.gz"},
		{"2024-03-01", STSGUARD_OK, "s.example!d.example!1709251200!1709337599.json.gz"},
		{"1970-01-01", STSGUARD_OK, "s.example!d.example!0!86399.json.gz"},
		{"9999-12-31", STSGUARD_OK, "s.example!d.example!253402214400!253402300799.json.gz"},
		{"2000-02-29", STSGUARD_OK, NULL},
		{"2023-02-29", STSGUARD_INVALID, NULL},
		{"2100-02-29", STSGUARD_INVALID, NULL},
		{"2024-04-31", STSGUARD_INVALID, NULL},
		{"2024-13-01", STSGUARD_INVALID, NULL},
		{"2024-00-10", STSGUARD_INVALID, NULL},
		{"2024-01-00", STSGUARD_INVALID, NULL},
		{"2024-1-01", STSGUARD_INVALID, NULL},
		{"24-01-01", STSGUARD_INVALID, NULL},
		{"2024-01-01 ", STSGUARD_INVALID, NULL},
		{"2024/01/01", STSGUARD_INVALID, NULL},
		{"2024-01-0a", STSGUARD_INVALID, NULL},
		{"1969-12-31", STSGUARD_INVALID, NULL},
		{"10000-01-01", STSGUARD_INVALID, NULL},
		{"", STSGUARD_INVALID, NULL},
		{"\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x94", STSGUARD_INVALID, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct day_case *c = &cases[i];
		stsguard_tlsrpt_report *agg = (stsguard_tlsrpt_report *)&agg; /* must be reset to NULL on failure */
		stsguard_err err = {""};
		char name[STSGUARD_TLSRPT_REPORT_FILENAME_MAX];

		if (CHECK_STATUS(stsguard_tlsrpt_report_new(c->day, NULL, &agg, &err), c->want, c->day)) {
			if (c->want == STSGUARD_OK)
				CHECK_STR(stsguard_tlsrpt_report_day(agg), c->day, c->day);
			else
				CHECK_TRUE(agg == NULL && err.msg[0] != '\0', c->day);
		}
		if (c->want == STSGUARD_OK)
			stsguard_tlsrpt_report_free(agg);
		CHECK_STATUS(stsguard_tlsrpt_report_filename("s.example", "d.example", c->day, NULL, name, sizeof name,
		                                             &err),
		             c->want, c->day);
		if (c->filename != NULL)
			CHECK_STR(name, c->filename, c->day);
	}
}

struct name_case {
	const char *what;
	const char *submitter, *domain, *unique;
	size_t outsz;
	stsguard_status want;
	const char *name;
};

static void test_filenames(void)
{
	static const struct name_case cases[] = {
		{"plain", "mta.sender.example", "example.com", NULL, 640, STSGUARD_OK,
		 "mta.sender.example!example.com!1714521600!1714607999.json.gz"},
		{"empty unique id", "mta.sender.example", "example.com", "", 640, STSGUARD_OK,
		 "mta.sender.example!example.com!1714521600!1714607999.json.gz"},
		{"unique id", "mta.sender.example", "example.com", "host1", 640, STSGUARD_OK,
		 "mta.sender.example!example.com!1714521600!1714607999!host1.json.gz"},
		{"normalised names", "MTA.Sender.Example.", "Example.COM", "X9", 640, STSGUARD_OK,
		 "mta.sender.example!example.com!1714521600!1714607999!X9.json.gz"},
		{"idn a-label", "mta.sender.example", "xn--bcher-kva.example", NULL, 640, STSGUARD_OK,
		 "mta.sender.example!xn--bcher-kva.example!1714521600!1714607999.json.gz"},
		{"exact fit", "s.example", "d.example", NULL, 50, STSGUARD_OK,
		 "s.example!d.example!1714521600!1714607999.json.gz"},
		{"one byte short", "s.example", "d.example", NULL, 49, STSGUARD_TOOBIG, ""},
		{"unique id with '-'", "s.example", "d.example", "a-b", 640, STSGUARD_INVALID, ""},
		{"unique id with '!'", "s.example", "d.example", "a!b", 640, STSGUARD_INVALID, ""},
		{"unique id of 65", "s.example", "d.example",
		 "12345678901234567890123456789012345678901234567890123456789012345", 640, STSGUARD_INVALID, ""},
		{"domain with '!'", "s.example", "d!example", NULL, 640, STSGUARD_INVALID, ""},
		{"domain with '/'", "s.example", "../etc", NULL, 640, STSGUARD_INVALID, ""},
		{"u-label", "s.example", "b\xc3\xbc" "cher.example", NULL, 640, STSGUARD_INVALID, ""},
		{"empty submitter", "", "d.example", NULL, 640, STSGUARD_INVALID, ""},
		{"NULL submitter", NULL, "d.example", NULL, 640, STSGUARD_INVALID, ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct name_case *c = &cases[i];
		char out[640];
		stsguard_err err = {""};
		if (CHECK_STATUS(stsguard_tlsrpt_report_filename(c->submitter, c->domain, DAY, c->unique, out, c->outsz,
		                                                 &err),
		                 c->want, c->what))
			CHECK_STR(out, c->name, c->what);
	}
	/* The longest possible name fits in STSGUARD_TLSRPT_REPORT_FILENAME_MAX. */
	char longest[254], out[STSGUARD_TLSRPT_REPORT_FILENAME_MAX];
	for (int i = 0; i < 253; i++)
		longest[i] = (i % 64 == 63) ? '.' : 'a';
	longest[253] = '\0';
	CHECK_STATUS(stsguard_tlsrpt_report_filename(longest, longest, "9999-12-31",
	                                             "1234567890123456789012345678901234567890123456789012345678901234",
	                                             out, sizeof out, NULL),
	             STSGUARD_OK, "longest file name");
	CHECK_STATUS(stsguard_tlsrpt_report_filename("s.example", "d.example", DAY, NULL, NULL, 10, NULL),
	             STSGUARD_BADARG, "NULL buffer");
}

/* ---- refused results ---- */

static const struct pol STS_ONE = {STSGUARD_POLICY_STS, {"version: STSv1", "mode: enforce"}, {"mx.example.com"}};
static const struct feed BASE = {10, &STS_ONE, "example.com", OK_, "192.0.2.1", "mx.example.com", NULL,
                                 "198.51.100.1", NULL, NULL, 1};

static char many_strings[300][8];
static char *many_ptrs[300];
static char long_string[300];

enum mutation {
	M_NONE, M_TIME, M_PTYPE, M_RTYPE, M_DOMAIN, M_SIP, M_RIP, M_UNTERM_DOMAIN, M_UNTERM_REASON, M_UNTERM_HELO,
	M_NULL_STRINGS, M_EMPTY_STRING, M_NULL_STRING, M_LONG_STRING, M_MANY_STRINGS, M_MANY_MX, M_NPF_JUNK,
	M_TLSA_MX_JUNK, M_NULL_MX, M_LONG_MX
};

struct refuse_case {
	const char *what;
	enum mutation m;
	int64_t num;
	const char *text;
	stsguard_status want;
	const char *domain_after; /* for OK: the normalised domain */
};

static void mutate(struct built *b, const struct refuse_case *c)
{
	build(b, &BASE, DAY_START);
	switch (c->m) {
	case M_NONE: break;
	case M_TIME: b->r.time = c->num; break;
	case M_PTYPE: b->r.policy_type = (stsguard_policy_type)c->num; break;
	case M_RTYPE: b->r.result = (stsguard_result_type)c->num; break;
	case M_DOMAIN: put(b->r.policy_domain, sizeof b->r.policy_domain, c->text); break;
	case M_SIP:
		b->r.result = EXPIRED;
		put(b->r.sending_mta_ip, sizeof b->r.sending_mta_ip, c->text);
		break;
	case M_RIP: put(b->r.receiving_ip, sizeof b->r.receiving_ip, c->text); break;
	case M_UNTERM_DOMAIN: memset(b->r.policy_domain, 'a', sizeof b->r.policy_domain); break;
	case M_UNTERM_REASON: memset(b->r.failure_reason_code, 'a', sizeof b->r.failure_reason_code); break;
	case M_UNTERM_HELO: memset(b->r.receiving_mx_helo, 'a', sizeof b->r.receiving_mx_helo); break;
	case M_NULL_STRINGS: b->r.policy_strings = NULL; break;
	case M_EMPTY_STRING: b->s[1][0] = '\0'; break;
	case M_NULL_STRING: b->sp[1] = NULL; break;
	case M_LONG_STRING: b->sp[1] = long_string; break;
	case M_MANY_STRINGS:
		b->r.policy_strings = many_ptrs;
		b->r.n_policy_strings = (size_t)c->num;
		break;
	case M_MANY_MX:
		b->r.mx_host_patterns = many_ptrs;
		b->r.n_mx_host_patterns = (size_t)c->num;
		break;
	case M_NPF_JUNK: /* no-policy-found: strings are ignored, even broken ones */
		b->r.policy_type = STSGUARD_POLICY_NO_POLICY_FOUND;
		b->r.policy_strings = NULL;
		b->r.n_policy_strings = 5;
		b->r.mx_host_patterns = NULL;
		b->r.n_mx_host_patterns = 5;
		break;
	case M_TLSA_MX_JUNK: /* tlsa: mx patterns are ignored */
		b->r.policy_type = STSGUARD_POLICY_TLSA;
		b->r.mx_host_patterns = NULL;
		b->r.n_mx_host_patterns = 3;
		break;
	case M_NULL_MX: b->r.mx_host_patterns = NULL; break;
	case M_LONG_MX: b->mp[0] = long_string; break;
	}
}

static void test_refused(void)
{
	static const struct refuse_case cases[] = {
		{"first second of the day", M_TIME, DAY_START, NULL, STSGUARD_OK, "example.com"},
		{"last second of the day", M_TIME, DAY_START + 86399, NULL, STSGUARD_OK, "example.com"},
		{"a second before the day", M_TIME, DAY_START - 1, NULL, STSGUARD_BADARG, NULL},
		{"next day", M_TIME, DAY_START + 86400, NULL, STSGUARD_BADARG, NULL},
		{"time 0", M_TIME, 0, NULL, STSGUARD_BADARG, NULL},
		{"INT64_MIN", M_TIME, INT64_MIN, NULL, STSGUARD_BADARG, NULL},
		{"INT64_MAX", M_TIME, INT64_MAX, NULL, STSGUARD_BADARG, NULL},
		{"policy type 0", M_PTYPE, 0, NULL, STSGUARD_INVALID, NULL},
		{"policy type 3", M_PTYPE, 3, NULL, STSGUARD_INVALID, NULL},
		{"policy type -1", M_PTYPE, -1, NULL, STSGUARD_INVALID, NULL},
		{"result type 1", M_RTYPE, 1, NULL, STSGUARD_INVALID, NULL},
		{"result type 200", M_RTYPE, 200, NULL, STSGUARD_INVALID, NULL},
		{"result type 307", M_RTYPE, 307, NULL, STSGUARD_INVALID, NULL},
		{"empty domain", M_DOMAIN, 0, "", STSGUARD_INVALID, NULL},
		{"domain with space", M_DOMAIN, 0, "exa mple.com", STSGUARD_INVALID, NULL},
		{"empty label", M_DOMAIN, 0, "a..example", STSGUARD_INVALID, NULL},
		{"leading dot", M_DOMAIN, 0, ".example.com", STSGUARD_INVALID, NULL},
		{"only a dot", M_DOMAIN, 0, ".", STSGUARD_INVALID, NULL},
		{"u-label", M_DOMAIN, 0, "b\xc3\xbc" "cher.example", STSGUARD_INVALID, NULL},
		{"quote in domain", M_DOMAIN, 0, "a\"b.example", STSGUARD_INVALID, NULL},
		{"64-byte label", M_DOMAIN, 0, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
		 STSGUARD_INVALID, NULL},
		{"63-byte label", M_DOMAIN, 0, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
		 STSGUARD_OK, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example"},
		{"upper case, trailing dot", M_DOMAIN, 0, "Upper.EXAMPLE.", STSGUARD_OK, "upper.example"},
		{"sending ip too short", M_SIP, 0, "192.0.2", STSGUARD_INVALID, NULL},
		{"sending ip with zone", M_SIP, 0, "fe80::1%eth0", STSGUARD_INVALID, NULL},
		{"sending ip with space", M_SIP, 0, " 192.0.2.1", STSGUARD_INVALID, NULL},
		{"sending ip a name", M_SIP, 0, "mx.example.com", STSGUARD_INVALID, NULL},
		{"sending ip v4-mapped", M_SIP, 0, "::FFFF:192.0.2.1", STSGUARD_OK, "example.com"},
		{"receiving ip 999", M_RIP, 0, "999.1.1.1", STSGUARD_INVALID, NULL},
		{"receiving ip in brackets", M_RIP, 0, "[192.0.2.1]", STSGUARD_INVALID, NULL},
		{"domain not terminated", M_UNTERM_DOMAIN, 0, NULL, STSGUARD_INVALID, NULL},
		{"reason not terminated", M_UNTERM_REASON, 0, NULL, STSGUARD_INVALID, NULL},
		{"helo not terminated", M_UNTERM_HELO, 0, NULL, STSGUARD_INVALID, NULL},
		{"policy strings NULL", M_NULL_STRINGS, 0, NULL, STSGUARD_INVALID, NULL},
		{"policy string empty", M_EMPTY_STRING, 0, NULL, STSGUARD_INVALID, NULL},
		{"policy string NULL", M_NULL_STRING, 0, NULL, STSGUARD_INVALID, NULL},
		{"policy string of 256 bytes", M_LONG_STRING, 0, NULL, STSGUARD_TOOBIG, NULL},
		{"260 policy strings", M_MANY_STRINGS, 260, NULL, STSGUARD_OK, "example.com"},
		{"261 policy strings", M_MANY_STRINGS, 261, NULL, STSGUARD_TOOBIG, NULL},
		{"256 mx patterns", M_MANY_MX, 256, NULL, STSGUARD_OK, "example.com"},
		{"257 mx patterns", M_MANY_MX, 257, NULL, STSGUARD_TOOBIG, NULL},
		{"mx patterns NULL", M_NULL_MX, 0, NULL, STSGUARD_INVALID, NULL},
		{"mx pattern of 256 bytes", M_LONG_MX, 0, NULL, STSGUARD_TOOBIG, NULL},
		{"no-policy-found ignores strings", M_NPF_JUNK, 0, NULL, STSGUARD_OK, "example.com"},
		{"tlsa ignores mx patterns", M_TLSA_MX_JUNK, 0, NULL, STSGUARD_OK, "example.com"},
	};
	static struct built b;
	stsguard_tlsrpt_report *agg = NULL;
	stsguard_tlsrpt_report_stats st;
	stsguard_err err = {""};
	uint64_t refused = 0, accepted = 0;

	for (size_t i = 0; i < 300; i++) {
		snprintf(many_strings[i], sizeof many_strings[i], "s%03zu", i);
		many_ptrs[i] = many_strings[i];
	}
	memset(long_string, 'x', 256);
	long_string[256] = '\0';

	if (!CHECK_STATUS(stsguard_tlsrpt_report_new(DAY, NULL, &agg, &err), STSGUARD_OK, "new"))
		return;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct refuse_case *c = &cases[i];
		size_t before = stsguard_tlsrpt_report_domain_count(agg);
		mutate(&b, c);
		err.msg[0] = '\0';
		stsguard_status s = stsguard_tlsrpt_report_add(agg, &b.r, &err);
		CHECK_STATUS(s, c->want, c->what);
		if (c->want != STSGUARD_OK) {
			refused++;
			CHECK_TRUE(err.msg[0] != '\0', c->what);
			CHECK_INT(stsguard_tlsrpt_report_domain_count(agg), before, c->what); /* nothing recorded */
		} else {
			accepted++;
			CHECK_STATUS(stsguard_tlsrpt_report_stats_get(agg, c->domain_after, &st), STSGUARD_OK, c->what);
		}
	}
	/* The wrong-day message names both days. */
	mutate(&b, &cases[3]);
	stsguard_tlsrpt_report_add(agg, &b.r, &err);
	refused++;
	CHECK_TRUE(strstr(err.msg, "2024-05-02") != NULL && strstr(err.msg, "2024-05-01") != NULL, err.msg);

	CHECK_STATUS(stsguard_tlsrpt_report_add(agg, NULL, &err), STSGUARD_BADARG, "NULL result");
	refused++;
	CHECK_STATUS(stsguard_tlsrpt_report_add(NULL, &b.r, &err), STSGUARD_BADARG, "NULL aggregator");
	if (CHECK_STATUS(stsguard_tlsrpt_report_stats_get(agg, NULL, &st), STSGUARD_OK, "stats")) {
		CHECK_INT(st.refused, refused, "refused counted");
		CHECK_INT(st.successful_sessions + st.failed_sessions, accepted, "accepted counted");
	}
	/* Domains are listed in byte order. */
	size_t n = stsguard_tlsrpt_report_domain_count(agg);
	CHECK_INT(n, 3, "domains");
	for (size_t i = 1; i < n; i++)
		CHECK_TRUE(strcmp(stsguard_tlsrpt_report_domain(agg, i - 1), stsguard_tlsrpt_report_domain(agg, i)) < 0,
		           "domains sorted");
	CHECK_TRUE(stsguard_tlsrpt_report_domain(agg, n) == NULL, "domain out of range");
	CHECK_STATUS(stsguard_tlsrpt_report_stats_get(agg, "never.example", &st), STSGUARD_NONE, "unknown domain");
	stsguard_tlsrpt_report_free(agg);
}

/* ---- refused metadata ---- */

struct meta_case {
	const char *what;
	stsguard_tlsrpt_report_meta meta;
	stsguard_status want;
};

static char org_256[257];

static void test_meta(void)
{
	static const struct meta_case cases[] = {
		{"good", {"Org", "a@b.example", "s.example", NULL}, STSGUARD_OK},
		{"unicode org, quotes", {"\xc3\x96rg \"Q\" \\ \xe2\x9c\x93", "a@b.example", "s.example", "abc123"},
		 STSGUARD_OK},
		{"64-char unique id",
		 {"Org", "a@b.example", "s.example", "1234567890123456789012345678901234567890123456789012345678901234"},
		 STSGUARD_OK},
		{"no org", {NULL, "a@b.example", "s.example", NULL}, STSGUARD_INVALID},
		{"empty org", {"", "a@b.example", "s.example", NULL}, STSGUARD_INVALID},
		{"org with newline", {"Org\nBcc: x", "a@b.example", "s.example", NULL}, STSGUARD_INVALID},
		{"org not UTF-8", {"Org \xff", "a@b.example", "s.example", NULL}, STSGUARD_INVALID},
		{"org of 256 bytes", {org_256, "a@b.example", "s.example", NULL}, STSGUARD_INVALID},
		{"no contact", {"Org", NULL, "s.example", NULL}, STSGUARD_INVALID},
		{"contact without @", {"Org", "nobody", "s.example", NULL}, STSGUARD_INVALID},
		{"contact @ first", {"Org", "@b.example", "s.example", NULL}, STSGUARD_INVALID},
		{"contact @ last", {"Org", "a@", "s.example", NULL}, STSGUARD_INVALID},
		{"contact with space", {"Org", "a b@c.example", "s.example", NULL}, STSGUARD_INVALID},
		{"no submitter", {"Org", "a@b.example", NULL, NULL}, STSGUARD_INVALID},
		{"bad submitter", {"Org", "a@b.example", "not a domain", NULL}, STSGUARD_INVALID},
		{"unique id with '-'", {"Org", "a@b.example", "s.example", "a-b"}, STSGUARD_INVALID},
		{"unique id of 65",
		 {"Org", "a@b.example", "s.example", "12345678901234567890123456789012345678901234567890123456789012345"},
		 STSGUARD_INVALID},
	};
	static struct built b;
	stsguard_tlsrpt_report *agg = NULL;
	stsguard_err err = {""};
	char *json = (char *)&err; /* must be reset to NULL on failure */
	size_t len = 1;

	memset(org_256, 'o', 256);
	org_256[256] = '\0';
	if (!CHECK_STATUS(stsguard_tlsrpt_report_new(DAY, NULL, &agg, &err), STSGUARD_OK, "new"))
		return;
	build(&b, &BASE, DAY_START);
	CHECK_STATUS(stsguard_tlsrpt_report_add(agg, &b.r, &err), STSGUARD_OK, "add");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct meta_case *c = &cases[i];
		struct expect e = {DAY, "example.com", 1, 0};
		if (CHECK_STATUS(stsguard_tlsrpt_report_json(agg, "example.com", &c->meta, &json, &len, &err), c->want,
		                 c->what)) {
			if (c->want == STSGUARD_OK)
				check_report(c->what, json, len, &e, NULL);
			else
				CHECK_TRUE(json == NULL && len == 0, c->what);
		}
		free(json);
		json = NULL;
	}
	CHECK_STATUS(stsguard_tlsrpt_report_json(agg, "other.example", &META, &json, &len, &err), STSGUARD_NONE,
	             "domain without results");
	CHECK_STATUS(stsguard_tlsrpt_report_json(agg, "not a domain", &META, &json, &len, &err), STSGUARD_NONE,
	             "not a domain");
	CHECK_STATUS(stsguard_tlsrpt_report_json(agg, "EXAMPLE.com.", &META, &json, NULL, &err), STSGUARD_OK,
	             "domain looked up normalised, len NULL");
	free(json);
	CHECK_STATUS(stsguard_tlsrpt_report_json(agg, "example.com", NULL, &json, &len, &err), STSGUARD_BADARG,
	             "NULL meta");
	CHECK_STATUS(stsguard_tlsrpt_report_json(agg, "example.com", &META, NULL, &len, &err), STSGUARD_BADARG,
	             "NULL out");
	CHECK_STATUS(stsguard_tlsrpt_report_json(NULL, "example.com", &META, &json, &len, &err), STSGUARD_BADARG,
	             "NULL aggregator");
	stsguard_tlsrpt_report_free(agg);
}

/* ---- text repair: what each input becomes, as read back by the validator ---- */

struct text_case {
	const char *what;
	const char *in;
	const char *out; /* decoded failure-reason-code */
	const char *raw; /* must appear in the JSON text, or NULL */
};

#define FFFD "\xef\xbf\xbd"

static void test_text(void)
{
	static const struct text_case cases[] = {
		{"ascii", "plain text", "plain text", "\"plain text\""},
		{"quote and backslash", "a\"b\\c", "a\"b\\c", "\"a\\\"b\\\\c\""},
		{"slash not escaped", "a/b", "a/b", "\"a/b\""},
		{"control characters", "t\tn\nr\r\x01\x1f\x7f", "t\tn\nr\r\x01\x1f\x7f",
		 "\"t\\u0009n\\u000ar\\u000d\\u0001\\u001f\\u007f\""},
		{"2-byte", "\xc3\xa9", "\xc3\xa9", "\"\xc3\xa9\""},
		{"3-byte", "\xe2\x82\xac", "\xe2\x82\xac", NULL},
		{"4-byte", "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80", NULL},
		{"U+FFFF, U+10FFFF", "\xef\xbf\xbf\xf4\x8f\xbf\xbf", "\xef\xbf\xbf\xf4\x8f\xbf\xbf", NULL},
		{"lone 0xff", "a\xff" "b", "a" FFFD "b", NULL},
		{"lone continuation", "\x80", FFFD, NULL},
		{"overlong 2-byte", "\xc0\xaf", FFFD FFFD, NULL},
		{"overlong 3-byte", "\xe0\x80\xaf", FFFD FFFD FFFD, NULL},
		{"surrogate", "\xed\xa0\x80", FFFD FFFD FFFD, NULL},
		{"above U+10FFFF", "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD, NULL},
		{"truncated 3-byte at end", "x\xe2\x82", "x" FFFD, NULL},
		{"truncated 4-byte before ascii", "\xf0\x9f\x98" "a", FFFD "a", NULL},
		{"truncated then valid", "\xe2\x82\xc3\xa9", FFFD "\xc3\xa9", NULL},
		{"0xf5", "\xf5\x80", FFFD FFFD, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct text_case *c = &cases[i];
		struct feed f = {0, &STS_ONE, "example.com", VALFAIL, "192.0.2.1", "mx.example.com", NULL, NULL, c->in,
		                 NULL, 1};
		struct expect e = {DAY, "example.com", 0, 1};
		static struct built b;
		stsguard_tlsrpt_report *agg = NULL;
		stsguard_err err = {""};
		char *json = NULL;
		size_t len = 0;
		struct jv root;

		if (!CHECK_STATUS(stsguard_tlsrpt_report_new(DAY, NULL, &agg, &err), STSGUARD_OK, c->what))
			continue;
		build(&b, &f, DAY_START);
		if (CHECK_STATUS(stsguard_tlsrpt_report_add(agg, &b.r, &err), STSGUARD_OK, c->what) &&
		    CHECK_STATUS(stsguard_tlsrpt_report_json(agg, "example.com", &META, &json, &len, &err), STSGUARD_OK,
		                 c->what) &&
		    check_report(c->what, json, len, &e, &root)) {
			const struct jv *pols = jget(&root, "policies");
			const struct jv *fd = pols != NULL ? jget(&pols->items[0], "failure-details") : NULL;
			const struct jv *r = fd != NULL ? jget(&fd->items[0], "failure-reason-code") : NULL;
			CHECK_STR(r != NULL ? r->s : NULL, c->out, c->what);
			if (c->raw != NULL)
				CHECK_TRUE(strstr(json, c->raw) != NULL, c->what);
			jv_free(&root);
		}
		free(json);
		stsguard_tlsrpt_report_free(agg);
	}
}

/* ---- caps and their overflow ---- */

/* Distinct failed sessions of domain "d<k>.example": k-th sending address, hostile 255-byte reason. */
static void hostile_result(struct built *b, const char *domain, unsigned k, const struct pol *pol, bool controls)
{
	struct feed f = {k % 86400, pol, domain, VALFAIL, NULL, "mx.example.com", NULL, "198.51.100.1", NULL, NULL, 1};
	char ip[46];
	snprintf(ip, sizeof ip, "2001:db8::%x", k + 1);
	f.sip = ip;
	build(b, &f, DAY_START);
	memset(b->r.failure_reason_code, controls ? '\x01' : 'r', STSGUARD_TLSRPT_TEXT_MAX);
	b->r.failure_reason_code[STSGUARD_TLSRPT_TEXT_MAX] = '\0';
	memset(b->r.receiving_mx_helo, controls ? '"' : 'h', STSGUARD_TLSRPT_TEXT_MAX);
	b->r.receiving_mx_helo[STSGUARD_TLSRPT_TEXT_MAX] = '\0';
}

static void test_domain_cap(void)
{
	stsguard_tlsrpt_report_limits lim = {2, 0, 0, 0, 0};
	stsguard_tlsrpt_report *agg = NULL;
	stsguard_tlsrpt_report_stats st;
	stsguard_err err = {""};
	static struct built b;
	static const char *const domains[] = {"a.example", "b.example", "c.example", "a.example", "b.example"};
	static const stsguard_status want[] = {STSGUARD_OK, STSGUARD_OK, STSGUARD_TOOBIG, STSGUARD_OK, STSGUARD_OK};

	if (!CHECK_STATUS(stsguard_tlsrpt_report_new(DAY, &lim, &agg, &err), STSGUARD_OK, "domain cap"))
		return;
	for (size_t i = 0; i < 5; i++) {
		struct feed f = BASE;
		f.domain = domains[i];
		build(&b, &f, DAY_START);
		CHECK_STATUS(stsguard_tlsrpt_report_add(agg, &b.r, &err), want[i], domains[i]);
	}
	CHECK_TRUE(strstr(err.msg, "c.example") != NULL, err.msg); /* the refused domain is named */
	CHECK_INT(stsguard_tlsrpt_report_domain_count(agg), 2, "domain cap: count");
	if (CHECK_STATUS(stsguard_tlsrpt_report_stats_get(agg, NULL, &st), STSGUARD_OK, "domain cap")) {
		CHECK_INT(st.successful_sessions, 4, "domain cap: counted");
		CHECK_INT(st.refused, 1, "domain cap: refused");
		CHECK_INT(st.domains, 2, "domain cap: domains");
	}
	stsguard_tlsrpt_report_free(agg);
}

/* Many distinct hostile detail groups: the report stays within max_report_bytes, totals exact. */
static void test_report_budget(void)
{
	stsguard_tlsrpt_report_limits lim = {0, 0, 100000, STSGUARD_TLSRPT_REPORT_MIN_REPORT_BYTES, 0};
	stsguard_tlsrpt_report *agg = NULL;
	stsguard_tlsrpt_report_stats st;
	stsguard_err err = {""};
	static struct built b;
	const unsigned n = 500;
	char *json = NULL;
	size_t len = 0;

	if (!CHECK_STATUS(stsguard_tlsrpt_report_new(DAY, &lim, &agg, &err), STSGUARD_OK, "budget"))
		return;
	for (unsigned k = 0; k < n; k++) {
		hostile_result(&b, "budget.example", k, &STS_ONE, true);
		if (k % 3 == 0)
			b.r.result = (stsguard_result_type)(k % 2 ? EXPIRED : NOTLS);
		CHECK_STATUS(stsguard_tlsrpt_report_add(agg, &b.r, &err), STSGUARD_OK, err.msg);
	}
	if (CHECK_STATUS(stsguard_tlsrpt_report_stats_get(agg, "budget.example", &st), STSGUARD_OK, "budget")) {
		CHECK_INT(st.failed_sessions, n, "budget: every session counted");
		CHECK_TRUE(st.summarised_detail_sessions > 0 && st.summarised_detail_sessions < n, "budget: summarised");
		CHECK_TRUE(st.report_bytes <= lim.max_report_bytes, "budget: bound within the limit");
	}
	if (CHECK_STATUS(stsguard_tlsrpt_report_json(agg, "budget.example", &META, &json, &len, &err), STSGUARD_OK,
	                 err.msg)) {
		struct expect e = {DAY, "budget.example", 0, n};
		CHECK_TRUE(len <= lim.max_report_bytes && len <= st.report_bytes, "budget: rendered size");
		CHECK_TRUE(len > lim.max_report_bytes / 2, "budget: the room is used");
		check_report("budget", json, len, &e, NULL);
		CHECK_TRUE(strstr(json, STSGUARD_TLSRPT_REPORT_SUMMARY_REASON) != NULL, "budget: summary group present");
	}
	free(json);
	stsguard_tlsrpt_report_free(agg);
}

/*
 * Room for summary groups is reserved with each policy: many policies, each
 * with one admitted detail group and a summary group for every one of the 11
 * result types, in a report filled to its limit, still render within it.
 */
static void test_summary_room(void)
{
	static const stsguard_result_type types[] = {
		STSGUARD_RESULT_STARTTLS_NOT_SUPPORTED, STSGUARD_RESULT_CERTIFICATE_HOST_MISMATCH,
		STSGUARD_RESULT_CERTIFICATE_NOT_TRUSTED, STSGUARD_RESULT_CERTIFICATE_EXPIRED,
		STSGUARD_RESULT_VALIDATION_FAILURE, STSGUARD_RESULT_STS_POLICY_FETCH_ERROR,
		STSGUARD_RESULT_STS_POLICY_INVALID, STSGUARD_RESULT_STS_WEBPKI_INVALID,
		STSGUARD_RESULT_TLSA_INVALID, STSGUARD_RESULT_DNSSEC_INVALID, STSGUARD_RESULT_DANE_REQUIRED,
	};
	stsguard_tlsrpt_report_limits lim = {0, 1000, 1, STSGUARD_TLSRPT_REPORT_MIN_REPORT_BYTES, 0};
	stsguard_tlsrpt_report *agg = NULL;
	stsguard_tlsrpt_report_stats st;
	stsguard_err err = {""};
	static struct built b;
	uint64_t n = 0;
	char *json = NULL;
	size_t len = 0;

	if (!CHECK_STATUS(stsguard_tlsrpt_report_new(DAY, &lim, &agg, &err), STSGUARD_OK, "summary room"))
		return;
	for (unsigned p = 0; p < 200; p++)
		for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
			for (unsigned k = 0; k < 2; k++) {
				build(&b, &BASE, DAY_START);
				snprintf(b.s[1], sizeof b.s[1], "mode: policy-%u", p);
				snprintf(b.r.sending_mta_ip, sizeof b.r.sending_mta_ip, "192.0.2.%u", k + 1);
				b.r.result = types[t];
				CHECK_STATUS(stsguard_tlsrpt_report_add(agg, &b.r, &err), STSGUARD_OK, err.msg);
				n++;
			}
	if (CHECK_STATUS(stsguard_tlsrpt_report_stats_get(agg, "example.com", &st), STSGUARD_OK, "summary room")) {
		CHECK_INT(st.failed_sessions, n, "summary room: every session counted");
		CHECK_TRUE(st.policies > 10 && st.summarised_policy_sessions > 0, "summary room: many policies, then the catch-all");
	}
	if (CHECK_STATUS(stsguard_tlsrpt_report_json(agg, "example.com", &META, &json, &len, &err), STSGUARD_OK,
	                 err.msg)) {
		struct expect e = {DAY, "example.com", 0, n};
		CHECK_TRUE(len <= lim.max_report_bytes && len <= st.report_bytes, "summary room: rendered size");
		check_report("summary room", json, len, &e, NULL);
	}
	free(json);
	stsguard_tlsrpt_report_free(agg);
}

/* One policy too big for the report: it is counted under the catch-all entry of its type. */
static void test_policy_budget(void)
{
	stsguard_tlsrpt_report_limits lim = {0, 0, 0, STSGUARD_TLSRPT_REPORT_MIN_REPORT_BYTES, 0};
	stsguard_tlsrpt_report *agg = NULL;
	stsguard_tlsrpt_report_stats st;
	stsguard_err err = {""};
	static struct built b;
	static char big[STSGUARD_TLSRPT_POLICY_STRINGS_MAX][STSGUARD_TLSRPT_TEXT_MAX + 1];
	static char *bigp[STSGUARD_TLSRPT_POLICY_STRINGS_MAX];
	char *json = NULL;
	size_t len = 0;
	struct jv root;

	for (size_t i = 0; i < STSGUARD_TLSRPT_POLICY_STRINGS_MAX; i++) {
		memset(big[i], '\x02', STSGUARD_TLSRPT_TEXT_MAX);
		big[i][0] = (char)('A' + i % 26);
		big[i][1] = (char)('A' + i / 26);
		bigp[i] = big[i];
	}
	if (!CHECK_STATUS(stsguard_tlsrpt_report_new(DAY, &lim, &agg, &err), STSGUARD_OK, "policy budget"))
		return;
	for (int k = 0; k < 3; k++) {
		build(&b, &BASE, DAY_START);
		b.r.policy_strings = bigp;
		b.r.n_policy_strings = STSGUARD_TLSRPT_POLICY_STRINGS_MAX;
		if (k == 2)
			b.r.result = EXPIRED;
		CHECK_STATUS(stsguard_tlsrpt_report_add(agg, &b.r, &err), STSGUARD_OK, err.msg);
	}
	build(&b, &BASE, DAY_START); /* a small policy still gets its own entry */
	CHECK_STATUS(stsguard_tlsrpt_report_add(agg, &b.r, &err), STSGUARD_OK, err.msg);
	if (CHECK_STATUS(stsguard_tlsrpt_report_stats_get(agg, "example.com", &st), STSGUARD_OK, "policy budget")) {
		CHECK_INT(st.summarised_policy_sessions, 3, "policy budget: summarised");
		CHECK_INT(st.policies, 2, "policy budget: catch-all and the small one");
	}
	if (CHECK_STATUS(stsguard_tlsrpt_report_json(agg, "example.com", &META, &json, &len, &err), STSGUARD_OK,
	                 err.msg)) {
		struct expect e = {DAY, "example.com", 3, 1};
		CHECK_TRUE(len <= lim.max_report_bytes, "policy budget: size");
		if (check_report("policy budget", json, len, &e, &root)) {
			const struct jv *pols = jget(&root, "policies");
			const struct jv *p0 = pols != NULL ? jget(&pols->items[0], "policy") : NULL;
			const struct jv *ps = p0 != NULL ? jget(p0, "policy-string") : NULL;
			CHECK_TRUE(ps != NULL, "policy budget: policy-string present");
			if (ps != NULL)
				CHECK_INT(ps->n, 0, "policy budget: catch-all sorts first, no strings");
			jv_free(&root);
		}
	}
	free(json);
	stsguard_tlsrpt_report_free(agg);
}

/* The memory bound refuses new domains and summarises, never miscounts. */
static void test_memory_cap(void)
{
	stsguard_tlsrpt_report_limits lim = {0, 0, 0, 0, STSGUARD_TLSRPT_REPORT_MIN_MEMORY};
	stsguard_tlsrpt_report *agg = NULL;
	stsguard_tlsrpt_report_stats st;
	stsguard_err err = {""};
	static struct built b;
	uint64_t accepted = 0, refused = 0;

	if (!CHECK_STATUS(stsguard_tlsrpt_report_new(DAY, &lim, &agg, &err), STSGUARD_OK, "memory"))
		return;
	for (unsigned k = 0; k < 2000; k++) {
		char dom[32];
		snprintf(dom, sizeof dom, "d%u.example", k % 200);
		hostile_result(&b, dom, k, &STS_ONE, false);
		stsguard_status s = stsguard_tlsrpt_report_add(agg, &b.r, &err);
		if (s == STSGUARD_OK)
			accepted++;
		else if (CHECK_STATUS(s, STSGUARD_TOOBIG, err.msg))
			refused++;
	}
	CHECK_TRUE(refused > 0 && accepted > 0, "memory: both outcomes");
	CHECK_TRUE(strstr(err.msg, "memory") != NULL, err.msg);
	if (CHECK_STATUS(stsguard_tlsrpt_report_stats_get(agg, NULL, &st), STSGUARD_OK, "memory")) {
		CHECK_INT(st.failed_sessions, accepted, "memory: accepted are counted");
		CHECK_INT(st.refused, refused, "memory: refused are counted");
		CHECK_TRUE(st.summarised_detail_sessions > 0, "memory: details summarised once full");
	}
	for (size_t i = 0; i < stsguard_tlsrpt_report_domain_count(agg); i++) {
		const char *d = stsguard_tlsrpt_report_domain(agg, i);
		char *json = NULL;
		size_t len = 0;
		struct expect e = {DAY, d, 0, 0};
		stsguard_tlsrpt_report_stats_get(agg, d, &st);
		e.failure = st.failed_sessions;
		if (CHECK_STATUS(stsguard_tlsrpt_report_json(agg, d, &META, &json, &len, &err), STSGUARD_OK, d))
			check_report(d, json, len, &e, NULL);
		free(json);
	}
	stsguard_tlsrpt_report_free(agg);
}

static void test_limits_and_nulls(void)
{
	stsguard_tlsrpt_report_limits small = {0, 0, 0, STSGUARD_TLSRPT_REPORT_MIN_REPORT_BYTES - 1, 0};
	stsguard_tlsrpt_report_limits smallmem = {0, 0, 0, 0, STSGUARD_TLSRPT_REPORT_MIN_MEMORY - 1};
	stsguard_tlsrpt_report *agg = NULL;
	stsguard_tlsrpt_report_stats st;
	unsigned char *gz = NULL;
	size_t gzlen = 0;

	CHECK_STATUS(stsguard_tlsrpt_report_new(DAY, &small, &agg, NULL), STSGUARD_BADARG, "report bytes too small");
	CHECK_TRUE(agg == NULL, "no aggregator");
	CHECK_STATUS(stsguard_tlsrpt_report_new(DAY, &smallmem, &agg, NULL), STSGUARD_BADARG, "memory too small");
	CHECK_STATUS(stsguard_tlsrpt_report_new(NULL, NULL, &agg, NULL), STSGUARD_BADARG, "NULL day");
	CHECK_STATUS(stsguard_tlsrpt_report_new(DAY, NULL, NULL, NULL), STSGUARD_BADARG, "NULL out");
	stsguard_tlsrpt_report_free(NULL); /* a no-op */
	CHECK_INT(stsguard_tlsrpt_report_domain_count(NULL), 0, "NULL count");
	CHECK_TRUE(stsguard_tlsrpt_report_domain(NULL, 0) == NULL, "NULL domain");
	CHECK_TRUE(stsguard_tlsrpt_report_day(NULL) == NULL, "NULL day name");
	CHECK_STATUS(stsguard_tlsrpt_report_stats_get(NULL, NULL, &st), STSGUARD_BADARG, "NULL stats agg");
	CHECK_STATUS(stsguard_tlsrpt_report_stats_get(NULL, NULL, NULL), STSGUARD_BADARG, "NULL stats out");
	CHECK_STATUS(stsguard_tlsrpt_report_gzip(NULL, 1, &gz, &gzlen, NULL), STSGUARD_BADARG, "gzip NULL data");
	CHECK_STATUS(stsguard_tlsrpt_report_gzip("x", 1, NULL, &gzlen, NULL), STSGUARD_BADARG, "gzip NULL out");
	CHECK_STATUS(stsguard_tlsrpt_report_gzip("x", (size_t)STSGUARD_TLSRPT_REPORT_GZIP_MAX + 1, &gz, &gzlen, NULL),
	             STSGUARD_TOOBIG, "gzip too big");
	CHECK_TRUE(gz == NULL, "gzip: nothing on failure");
	/* An empty aggregator has no reports. */
	if (CHECK_STATUS(stsguard_tlsrpt_report_new(DAY, NULL, &agg, NULL), STSGUARD_OK, "empty")) {
		char *json = NULL;
		CHECK_INT(stsguard_tlsrpt_report_domain_count(agg), 0, "empty: no domains");
		CHECK_STATUS(stsguard_tlsrpt_report_json(agg, "example.com", &META, &json, NULL, NULL), STSGUARD_NONE,
		             "empty: no report");
		stsguard_tlsrpt_report_free(agg);
	}
}

static void test_gzip_sizes(void)
{
	static char big[1u << 20];
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < sizeof big; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		big[i] = (char)(' ' + x % 64); /* text-like but hard to compress */
	}
	check_gzip("gzip empty", "", 0);
	check_gzip("gzip 1 byte", "{", 1);
	check_gzip("gzip 1 MiB", big, sizeof big);
}

/*
 * Agreement with tlsrpt_result.c, the store's side of the same contract:
 * type names, UTC days, and every result stsguard_tlsrpt_result_check()
 * accepts is accepted by add() (tlsrpt_report.h promises a superset).
 */
static void test_store_agreement(void)
{
	static const stsguard_result_type types[] = {
		STSGUARD_RESULT_STARTTLS_NOT_SUPPORTED, STSGUARD_RESULT_CERTIFICATE_HOST_MISMATCH,
		STSGUARD_RESULT_CERTIFICATE_NOT_TRUSTED, STSGUARD_RESULT_CERTIFICATE_EXPIRED,
		STSGUARD_RESULT_VALIDATION_FAILURE, STSGUARD_RESULT_STS_POLICY_FETCH_ERROR,
		STSGUARD_RESULT_STS_POLICY_INVALID, STSGUARD_RESULT_STS_WEBPKI_INVALID,
		STSGUARD_RESULT_TLSA_INVALID, STSGUARD_RESULT_DNSSEC_INVALID, STSGUARD_RESULT_DANE_REQUIRED,
	};
	static const char *const days[] = {"2024-05-01", "2024-02-29", "1970-01-01", "9999-12-31", "2023-02-29",
	                                   "1969-12-31", "2024-13-01", "2024-1-01", "10000-01-01"};
	static struct built b;
	stsguard_tlsrpt_report *agg = NULL;
	stsguard_err err = {""};

	/* The report spells each result type as the store does. */
	if (CHECK_STATUS(stsguard_tlsrpt_report_new(DAY, NULL, &agg, &err), STSGUARD_OK, "agreement")) {
		for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
			const char *name = stsguard_result_type_name(types[t]);
			char *json = NULL, needle[64];
			build(&b, &BASE, DAY_START);
			b.r.result = types[t];
			snprintf(b.r.policy_domain, sizeof b.r.policy_domain, "t%zu.example", t);
			snprintf(needle, sizeof needle, "\"result-type\":\"%s\"", name != NULL ? name : "?");
			if (CHECK_STATUS(stsguard_tlsrpt_report_add(agg, &b.r, &err), STSGUARD_OK, err.msg) &&
			    CHECK_STATUS(stsguard_tlsrpt_report_json(agg, b.r.policy_domain, &META, &json, NULL, &err),
			                 STSGUARD_OK, err.msg))
				CHECK_TRUE(strstr(json, needle) != NULL, needle);
			free(json);
		}
		stsguard_tlsrpt_report_free(agg);
	}
	/* The same days are valid, with the same start. */
	for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
		int64_t start = -1;
		char name[STSGUARD_TLSRPT_REPORT_FILENAME_MAX], want[STSGUARD_TLSRPT_REPORT_FILENAME_MAX];
		stsguard_status theirs = stsguard_tlsrpt_day_parse(days[i], &start);
		stsguard_status ours = stsguard_tlsrpt_report_filename("s.example", "d.example", days[i], NULL, name,
		                                                     sizeof name, NULL);
		CHECK_STATUS(ours, theirs, days[i]);
		if (theirs == STSGUARD_OK && ours == STSGUARD_OK) {
			snprintf(want, sizeof want, "s.example!d.example!%" PRId64 "!%" PRId64 ".json.gz", start,
			         start + 86399);
			CHECK_STR(name, want, days[i]);
		}
	}
	/* Superset: what the store's check accepts, add() accepts. */
	static const struct refuse_case probes[] = {
		{"base", M_NONE, 0, NULL, STSGUARD_OK, NULL},
		{"v4-mapped", M_SIP, 0, "::FFFF:192.0.2.1", STSGUARD_OK, NULL},
		{"upper-case domain", M_DOMAIN, 0, "Upper.EXAMPLE", STSGUARD_OK, NULL},
		{"63-byte label", M_DOMAIN, 0, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
		 STSGUARD_OK, NULL},
		{"260 strings", M_MANY_STRINGS, 260, NULL, STSGUARD_OK, NULL},
		{"256 mx", M_MANY_MX, 256, NULL, STSGUARD_OK, NULL},
	};
	if (!CHECK_STATUS(stsguard_tlsrpt_report_new(DAY, NULL, &agg, &err), STSGUARD_OK, "superset"))
		return;
	size_t accepted_by_store = 0;
	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
		mutate(&b, &probes[i]);
		if (stsguard_tlsrpt_result_check(&b.r, NULL) != STSGUARD_OK)
			continue;
		accepted_by_store++;
		CHECK_STATUS(stsguard_tlsrpt_report_add(agg, &b.r, &err), STSGUARD_OK, probes[i].what);
	}
	for (size_t c = 0; c < sizeof golden_cases / sizeof golden_cases[0]; c++)
		for (size_t i = 0; i < golden_cases[c].n; i++) {
			build(&b, &golden_cases[c].feed[i], DAY_START);
			if (stsguard_tlsrpt_result_check(&b.r, NULL) != STSGUARD_OK)
				continue;
			accepted_by_store++;
			CHECK_STATUS(stsguard_tlsrpt_report_add(agg, &b.r, &err), STSGUARD_OK, err.msg);
		}
	CHECK_TRUE(accepted_by_store > 20, "superset: the store accepted most probes");
	stsguard_tlsrpt_report_free(agg);
}

int main(void)
{
	test_validator();
	test_golden();
	test_days();
	test_filenames();
	test_refused();
	test_meta();
	test_text();
	test_domain_cap();
	test_report_budget();
	test_summary_room();
	test_policy_budget();
	test_memory_cap();
	test_limits_and_nulls();
	test_gzip_sizes();
	test_store_agreement();
	return check_summary();
}
