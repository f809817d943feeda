/*
 * tlsrpt_result.c - one TLS-RPT result (RFC 8460 §4): the names of its
 * enums, its validation, and its one-line text encoding (tlsrpt_store.h has
 * the grammar).
 *
 * Why a text line of our own and not the report's JSON: the line is what an
 * adapter sends to stsguardd and what the store appends to a day file, so it
 * must be trivial to produce from a small C adapter (no JSON library), carry
 * no space or newline inside a field (the store's framing and checksum are
 * per line), and be cheap to produce at 100,000 results a second.
 *
 * The decoder faces adapters' bytes and day files that may have been
 * damaged, so it is the strict gate: structure first (exact token count,
 * counts checked against their caps before any allocation, every field
 * length-capped while it is unescaped), then the same field rules that the
 * encoder applies (stsguard_tlsrpt_result_check), so only what could have
 * been encoded can be decoded, and the reverse.
 */
#include "stsguard/tlsrpt_store.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "stsguard/mx_pattern.h"
#include "util.h"

#define VERSION_TOKEN "v1"
#define POLICY_ID_MAX 32
#define HOST_MAX 253
#define IP_TEXT_MAX 45 /* INET6_ADDRSTRLEN - 1 */

/* ---- names ---- */

static const struct {
	stsguard_result_type type;
	const char *name;
} result_names[] = {
	{STSGUARD_RESULT_SUCCESS, "success"},
	{STSGUARD_RESULT_STARTTLS_NOT_SUPPORTED, "starttls-not-supported"},
	{STSGUARD_RESULT_CERTIFICATE_HOST_MISMATCH, "certificate-host-mismatch"},
	{STSGUARD_RESULT_CERTIFICATE_NOT_TRUSTED, "certificate-not-trusted"},
	{STSGUARD_RESULT_CERTIFICATE_EXPIRED, "certificate-expired"},
	{STSGUARD_RESULT_VALIDATION_FAILURE, "validation-failure"},
	{STSGUARD_RESULT_STS_POLICY_FETCH_ERROR, "sts-policy-fetch-error"},
	{STSGUARD_RESULT_STS_POLICY_INVALID, "sts-policy-invalid"},
	{STSGUARD_RESULT_STS_WEBPKI_INVALID, "sts-webpki-invalid"},
	{STSGUARD_RESULT_TLSA_INVALID, "tlsa-invalid"},
	{STSGUARD_RESULT_DNSSEC_INVALID, "dnssec-invalid"},
	{STSGUARD_RESULT_DANE_REQUIRED, "dane-required"},
};

static const struct {
	stsguard_policy_type type;
	const char *name;
} policy_names[] = {
	{STSGUARD_POLICY_TLSA, "tlsa"},
	{STSGUARD_POLICY_STS, "sts"},
	{STSGUARD_POLICY_NO_POLICY_FOUND, "no-policy-found"},
};

#define N_RESULT_NAMES (sizeof result_names / sizeof result_names[0])
#define N_POLICY_NAMES (sizeof policy_names / sizeof policy_names[0])

const char *stsguard_result_type_name(stsguard_result_type type)
{
	for (size_t i = 0; i < N_RESULT_NAMES; i++)
		if (result_names[i].type == type)
			return result_names[i].name;
	return NULL;
}

static bool result_type_parse_n(const char *s, size_t len, stsguard_result_type *out)
{
	for (size_t i = 0; i < N_RESULT_NAMES; i++)
		if (strlen(result_names[i].name) == len && memcmp(result_names[i].name, s, len) == 0) {
			*out = result_names[i].type;
			return true;
		}
	return false;
}

stsguard_status stsguard_result_type_parse(const char *name, stsguard_result_type *out)
{
	if (name == NULL || out == NULL)
		return STSGUARD_INVALID;
	return result_type_parse_n(name, strlen(name), out) ? STSGUARD_OK : STSGUARD_INVALID;
}

const char *stsguard_policy_type_name(stsguard_policy_type type)
{
	for (size_t i = 0; i < N_POLICY_NAMES; i++)
		if (policy_names[i].type == type)
			return policy_names[i].name;
	return NULL;
}

static bool policy_type_parse_n(const char *s, size_t len, stsguard_policy_type *out)
{
	for (size_t i = 0; i < N_POLICY_NAMES; i++)
		if (strlen(policy_names[i].name) == len && memcmp(policy_names[i].name, s, len) == 0) {
			*out = policy_names[i].type;
			return true;
		}
	return false;
}

void stsguard_tlsrpt_result_clear(stsguard_tlsrpt_result *r)
{
	if (r == NULL)
		return;
	sg_free_strings(r->policy_strings, r->n_policy_strings);
	sg_free_strings(r->mx_host_patterns, r->n_mx_host_patterns);
	memset(r, 0, sizeof *r);
}

/* ---- field rules ---- */

/* Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF); no controls but TAB. */
static bool text_ok(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		if (c < 0x80) {
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return false;
			i++;
			continue;
		}
		size_t n;
		uint32_t cp, min;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1, cp = c & 0x1fu, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2, cp = c & 0x0fu, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3, cp = c & 0x07u, min = 0x10000;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3fu);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* A host name: RFC 5321 LDH labels in A-labels, no wildcard, no trailing dot. */
static bool host_ok(const char *s, size_t len)
{
	return len > 0 && len <= HOST_MAX && s[0] != '*' && stsguard_mx_pattern_check(s, len, NULL) == STSGUARD_OK;
}

/* An IP address inet_pton accepts; canon (may be NULL) gets inet_ntop's spelling. */
static bool ip_parse(const char *s, size_t len, char canon[IP_TEXT_MAX + 1])
{
	char tmp[IP_TEXT_MAX + 1];
	unsigned char addr[sizeof(struct in6_addr)];
	int af;

	if (len == 0 || len > IP_TEXT_MAX)
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (inet_pton(AF_INET, tmp, addr) == 1)
		af = AF_INET;
	else if (inet_pton(AF_INET6, tmp, addr) == 1)
		af = AF_INET6;
	else
		return false;
	if (canon != NULL && inet_ntop(af, addr, canon, IP_TEXT_MAX + 1) == NULL)
		return false;
	return true;
}

/* RFC 5321 §4.1.3 address literal: "[" IPv4 "]" or "[IPv6:" IPv6 "]". */
static bool address_literal_ok(const char *s, size_t len)
{
	char tmp[IP_TEXT_MAX + 1];
	unsigned char addr[sizeof(struct in6_addr)];

	if (len < 3 || s[0] != '[' || s[len - 1] != ']')
		return false;
	s++;
	len -= 2;
	int af = AF_INET;
	if (len > 5 && sg_ieq(s, 5, "IPv6:", 5)) {
		af = AF_INET6;
		s += 5;
		len -= 5;
	}
	if (len == 0 || len > IP_TEXT_MAX)
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return inet_pton(af, tmp, addr) == 1;
}

static bool policy_id_ok(const char *s, size_t len)
{
	if (len > POLICY_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!sg_is_alnum((unsigned char)s[i]))
			return false;
	return true;
}

/* RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":", then printable ASCII. */
static bool uri_ok(const char *s, size_t len)
{
	size_t i = 0;

	if (len == 0 || !sg_is_alpha((unsigned char)s[0]))
		return false;
	while (i < len && (sg_is_alnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
		i++;
	if (i == len || s[i] != ':')
		return false;
	for (; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* Length of a NUL-terminated field of a char array of size cap; cap if unterminated. */
static size_t field_len(const char *s, size_t cap)
{
	return strnlen(s, cap);
}

#define FIELD(r, f) field_len((r)->f, sizeof (r)->f)

stsguard_status stsguard_tlsrpt_result_check(const stsguard_tlsrpt_result *r, stsguard_err *err)
{
	char shown[80];
	size_t n;

	if (r == NULL)
		return sg_err(err, STSGUARD_BADARG, "no result");
	if (r->time < 0 || r->time > STSGUARD_TLSRPT_TIME_MAX)
		return sg_err(err, STSGUARD_INVALID, "time %" PRId64 " is outside 1970..9999", r->time);
	if (stsguard_policy_type_name(r->policy_type) == NULL)
		return sg_err(err, STSGUARD_INVALID, "unknown policy-type %d", (int)r->policy_type);
	if (stsguard_result_type_name(r->result) == NULL)
		return sg_err(err, STSGUARD_INVALID, "unknown result-type %d", (int)r->result);

	n = FIELD(r, policy_domain);
	sg_escape(shown, sizeof shown, r->policy_domain, n);
	if (n == 0)
		return sg_err(err, STSGUARD_INVALID, "policy-domain is empty");
	if (n > HOST_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "policy-domain '%s...' is longer than %d bytes", shown, HOST_MAX);
	if (!host_ok(r->policy_domain, n))
		return sg_err(err, STSGUARD_INVALID, "policy-domain '%s' is not a host name in A-labels", shown);

	n = FIELD(r, policy_id);
	sg_escape(shown, sizeof shown, r->policy_id, n);
	if (n > POLICY_ID_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "policy-id '%s...' is longer than %d bytes", shown, POLICY_ID_MAX);
	if (!policy_id_ok(r->policy_id, n))
		return sg_err(err, STSGUARD_INVALID, "policy-id '%s' is not 1*32 ALPHA/DIGIT", shown);
	if (n > 0 && r->policy_type != STSGUARD_POLICY_STS)
		return sg_err(err, STSGUARD_INVALID, "policy-id '%s' given for a %s policy", shown,
		              stsguard_policy_type_name(r->policy_type));

	n = FIELD(r, sending_mta_ip);
	sg_escape(shown, sizeof shown, r->sending_mta_ip, n);
	if (n > 0 && !ip_parse(r->sending_mta_ip, n, NULL))
		return sg_err(err, STSGUARD_INVALID, "sending-mta-ip '%s' is not an IP address", shown);
	n = FIELD(r, receiving_ip);
	sg_escape(shown, sizeof shown, r->receiving_ip, n);
	if (n > 0 && !ip_parse(r->receiving_ip, n, NULL))
		return sg_err(err, STSGUARD_INVALID, "receiving-ip '%s' is not an IP address", shown);

	n = FIELD(r, receiving_mx_hostname);
	sg_escape(shown, sizeof shown, r->receiving_mx_hostname, n);
	if (n > HOST_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "receiving-mx-hostname '%s...' is longer than %d bytes", shown,
		              HOST_MAX);
	if (n > 0 && !host_ok(r->receiving_mx_hostname, n))
		return sg_err(err, STSGUARD_INVALID, "receiving-mx-hostname '%s' is not a host name in A-labels", shown);

	n = FIELD(r, receiving_mx_helo);
	sg_escape(shown, sizeof shown, r->receiving_mx_helo, n);
	if (n > STSGUARD_TLSRPT_TEXT_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "receiving-mx-helo '%s...' is longer than %d bytes", shown,
		              STSGUARD_TLSRPT_TEXT_MAX);
	if (n > 0 && !host_ok(r->receiving_mx_helo, n) && !address_literal_ok(r->receiving_mx_helo, n))
		return sg_err(err, STSGUARD_INVALID,
		              "receiving-mx-helo '%s' is neither a host name in A-labels nor an address literal", shown);

	n = FIELD(r, failure_reason_code);
	sg_escape(shown, sizeof shown, r->failure_reason_code, n);
	if (n > STSGUARD_TLSRPT_TEXT_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "failure-reason-code '%s...' is longer than %d bytes", shown,
		              STSGUARD_TLSRPT_TEXT_MAX);
	if (!text_ok(r->failure_reason_code, n))
		return sg_err(err, STSGUARD_INVALID, "failure-reason-code '%s' is not UTF-8 text without controls",
		              shown);

	n = FIELD(r, additional_information);
	sg_escape(shown, sizeof shown, r->additional_information, n);
	if (n > STSGUARD_TLSRPT_TEXT_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "additional-information '%s...' is longer than %d bytes", shown,
		              STSGUARD_TLSRPT_TEXT_MAX);
	if (n > 0 && !uri_ok(r->additional_information, n))
		return sg_err(err, STSGUARD_INVALID, "additional-information '%s' is not a URI", shown);

	if (r->n_policy_strings > STSGUARD_TLSRPT_POLICY_STRINGS_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "%zu policy strings, at most %u", r->n_policy_strings,
		              (unsigned)STSGUARD_TLSRPT_POLICY_STRINGS_MAX);
	if (r->n_policy_strings > 0 && r->policy_type == STSGUARD_POLICY_NO_POLICY_FOUND)
		return sg_err(err, STSGUARD_INVALID, "policy strings given with no-policy-found");
	if (r->n_policy_strings > 0 && r->policy_strings == NULL)
		return sg_err(err, STSGUARD_BADARG, "n_policy_strings is %zu but policy_strings is NULL",
		              r->n_policy_strings);
	for (size_t i = 0; i < r->n_policy_strings; i++) {
		const char *s = r->policy_strings[i];
		if (s == NULL)
			return sg_err(err, STSGUARD_BADARG, "policy string %zu is NULL", i);
		n = strnlen(s, STSGUARD_TLSRPT_TEXT_MAX + 1);
		sg_escape(shown, sizeof shown, s, n);
		if (n == 0)
			return sg_err(err, STSGUARD_INVALID, "policy string %zu is empty", i);
		if (n > STSGUARD_TLSRPT_TEXT_MAX)
			return sg_err(err, STSGUARD_TOOBIG, "policy string %zu '%s...' is longer than %d bytes", i, shown,
			              STSGUARD_TLSRPT_TEXT_MAX);
		if (!text_ok(s, n))
			return sg_err(err, STSGUARD_INVALID, "policy string %zu '%s' is not UTF-8 text without controls", i,
			              shown);
	}

	if (r->n_mx_host_patterns > STSGUARD_TLSRPT_MX_PATTERNS_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "%zu mx-host patterns, at most %u", r->n_mx_host_patterns,
		              (unsigned)STSGUARD_TLSRPT_MX_PATTERNS_MAX);
	if (r->n_mx_host_patterns > 0 && r->policy_type != STSGUARD_POLICY_STS)
		return sg_err(err, STSGUARD_INVALID, "mx-host patterns given for a %s policy",
		              stsguard_policy_type_name(r->policy_type));
	if (r->n_mx_host_patterns > 0 && r->mx_host_patterns == NULL)
		return sg_err(err, STSGUARD_BADARG, "n_mx_host_patterns is %zu but mx_host_patterns is NULL",
		              r->n_mx_host_patterns);
	for (size_t i = 0; i < r->n_mx_host_patterns; i++) {
		const char *s = r->mx_host_patterns[i];
		if (s == NULL)
			return sg_err(err, STSGUARD_BADARG, "mx-host pattern %zu is NULL", i);
		n = strnlen(s, STSGUARD_TLSRPT_TEXT_MAX + 1);
		sg_escape(shown, sizeof shown, s, n);
		if (n > STSGUARD_TLSRPT_TEXT_MAX)
			return sg_err(err, STSGUARD_TOOBIG, "mx-host pattern %zu '%s...' is longer than %d bytes", i, shown,
			              STSGUARD_TLSRPT_TEXT_MAX);
		if (stsguard_mx_pattern_check(s, n, NULL) != STSGUARD_OK)
			return sg_err(err, STSGUARD_INVALID, "mx-host pattern %zu '%s' is not a valid mx pattern", i, shown);
	}
	return STSGUARD_OK;
}

/* ---- encoding ---- */

/* Output that counts what it could not write, so TOOBIG can say how much is needed. */
struct out {
	char *buf;
	size_t cap; /* bytes usable for text (bufsz - 1) */
	size_t len;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len < o->cap) {
		size_t room = o->cap - o->len;
		memcpy(o->buf + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

static void put_c(struct out *o, char c)
{
	if (o->len < o->cap)
		o->buf[o->len] = c;
	o->len++;
}

static void put_u64(struct out *o, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof tmp, " %" PRIu64, v);
	put(o, tmp, (size_t)n);
}

/* One text field, preceded by its space; lower: ASCII lower case (host names). */
static void put_text(struct out *o, const char *s, size_t len, bool lower)
{
	static const char hex[] = "0123456789ABCDEF";
	char tmp[3 * STSGUARD_TLSRPT_TEXT_MAX + 1];
	size_t t = 0;

	tmp[t++] = ' ';
	if (len == 0) {
		tmp[t++] = '-';
	} else if (len == 1 && s[0] == '-') {
		memcpy(tmp + t, "%2D", 3);
		t += 3;
	} else {
		if (len > STSGUARD_TLSRPT_TEXT_MAX)
			len = STSGUARD_TLSRPT_TEXT_MAX; /* cannot happen: checked */
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c <= 0x20 || c >= 0x7f || c == '%') {
				tmp[t++] = '%';
				tmp[t++] = hex[c >> 4];
				tmp[t++] = hex[c & 15];
			} else {
				tmp[t++] = lower ? sg_lower((char)c) : (char)c;
			}
		}
	}
	put(o, tmp, t);
}

static void put_ip(struct out *o, const char *s, size_t len)
{
	char canon[IP_TEXT_MAX + 1];

	if (len == 0 || !ip_parse(s, len, canon)) {
		put_text(o, "", 0, false);
		return;
	}
	put_text(o, canon, strlen(canon), false);
}

stsguard_status stsguard_tlsrpt_result_encode(const stsguard_tlsrpt_result *r, char *buf, size_t bufsz,
                                              size_t *len, stsguard_err *err)
{
	stsguard_status st = stsguard_tlsrpt_result_check(r, err);

	if (len != NULL)
		*len = 0;
	if (st != STSGUARD_OK)
		return st;
	if (buf == NULL && bufsz > 0)
		return sg_err(err, STSGUARD_BADARG, "no buffer");

	struct out o = {buf, bufsz > 0 ? bufsz - 1 : 0, 0};
	char head[64];
	int hn = snprintf(head, sizeof head, VERSION_TOKEN " %" PRId64 " %s", r->time,
	                  stsguard_policy_type_name(r->policy_type));
	put(&o, head, (size_t)hn);
	put_text(&o, r->policy_domain, FIELD(r, policy_domain), true);
	put_text(&o, r->policy_id, FIELD(r, policy_id), false);
	put_c(&o, ' ');
	put(&o, stsguard_result_type_name(r->result), strlen(stsguard_result_type_name(r->result)));
	put_ip(&o, r->sending_mta_ip, FIELD(r, sending_mta_ip));
	put_text(&o, r->receiving_mx_hostname, FIELD(r, receiving_mx_hostname), true);
	put_text(&o, r->receiving_mx_helo, FIELD(r, receiving_mx_helo), false);
	put_ip(&o, r->receiving_ip, FIELD(r, receiving_ip));
	put_text(&o, r->failure_reason_code, FIELD(r, failure_reason_code), false);
	put_text(&o, r->additional_information, FIELD(r, additional_information), false);
	put_u64(&o, r->n_policy_strings);
	for (size_t i = 0; i < r->n_policy_strings; i++)
		put_text(&o, r->policy_strings[i], strlen(r->policy_strings[i]), false);
	put_u64(&o, r->n_mx_host_patterns);
	for (size_t i = 0; i < r->n_mx_host_patterns; i++)
		put_text(&o, r->mx_host_patterns[i], strlen(r->mx_host_patterns[i]), true);

	if (len != NULL)
		*len = o.len;
	if (o.len > o.cap || bufsz == 0) {
		if (bufsz > 0)
			buf[0] = '\0';
		return sg_err(err, STSGUARD_TOOBIG, "encoding needs %zu bytes, buffer has %zu", o.len + 1, bufsz);
	}
	buf[o.len] = '\0';
	return STSGUARD_OK;
}

stsguard_status stsguard_tlsrpt_result_encode_alloc(const stsguard_tlsrpt_result *r, char **out, size_t *len,
                                                    stsguard_err *err)
{
	char small[2048];
	size_t n = 0;

	*out = NULL;
	if (len != NULL)
		*len = 0;
	stsguard_status st = stsguard_tlsrpt_result_encode(r, small, sizeof small, &n, err);
	if (st == STSGUARD_OK) {
		*out = sg_strndup(small, n);
	} else if (st == STSGUARD_TOOBIG) {
		char *big = malloc(n + 1);
		if (big == NULL)
			return sg_err(err, STSGUARD_NOMEM, "out of memory");
		st = stsguard_tlsrpt_result_encode(r, big, n + 1, &n, err);
		if (st != STSGUARD_OK) {
			free(big);
			return st;
		}
		*out = big;
	} else {
		return st;
	}
	if (*out == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	if (len != NULL)
		*len = n;
	return STSGUARD_OK;
}

/* ---- decoding ---- */

struct lexer {
	const char *p, *end;
	bool after_space; /* the last token ended at a space: another token must follow */
};

/* Next token: one or more non-space bytes. false if there is none or it is empty. */
static bool next_token(struct lexer *lx, const char **tok, size_t *tlen)
{
	const char *start = lx->p;
	if (start >= lx->end)
		return false;
	const char *sp = memchr(start, ' ', (size_t)(lx->end - start));
	const char *stop = sp != NULL ? sp : lx->end;
	if (stop == start)
		return false;
	*tok = start;
	*tlen = (size_t)(stop - start);
	lx->after_space = sp != NULL;
	lx->p = sp != NULL ? sp + 1 : lx->end;
	return true;
}

static bool at_end(const struct lexer *lx)
{
	return lx->p == lx->end && !lx->after_space;
}

/* Unescape a text token into out (cap bytes of text plus a NUL). */
static stsguard_status unescape(const char *t, size_t tlen, char *out, size_t cap, size_t *olen)
{
	size_t o = 0;

	*olen = 0;
	out[0] = '\0';
	if (tlen == 1 && t[0] == '-')
		return STSGUARD_OK;
	for (size_t i = 0; i < tlen; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c == '%') {
			if (tlen - i < 3)
				return STSGUARD_INVALID;
			int hi = sg_hexval((unsigned char)t[i + 1]), lo = sg_hexval((unsigned char)t[i + 2]);
			if (hi < 0 || lo < 0)
				return STSGUARD_INVALID;
			c = (unsigned char)(hi * 16 + lo);
			if (c == 0)
				return STSGUARD_INVALID;
			i += 2;
		} else if (c <= 0x20 || c >= 0x7f) {
			return STSGUARD_INVALID;
		}
		if (o >= cap)
			return STSGUARD_TOOBIG;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	*olen = o;
	return STSGUARD_OK;
}

/* Decimal without sign or leading zero, at most max. */
static bool parse_dec(const char *t, size_t tlen, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (tlen == 0 || tlen > 20 || (tlen > 1 && t[0] == '0'))
		return false;
	for (size_t i = 0; i < tlen; i++) {
		if (!sg_is_digit((unsigned char)t[i]))
			return false;
		unsigned d = (unsigned)(t[i] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static void lower_in_place(char *s)
{
	for (; *s != '\0'; s++)
		*s = sg_lower(*s);
}

static void canon_ip_in_place(char *s, size_t cap)
{
	char canon[IP_TEXT_MAX + 1];
	size_t n = strnlen(s, cap);
	if (n > 0 && ip_parse(s, n, canon))
		snprintf(s, cap, "%s", canon);
}

static const char *const text_names[] = {
	"policy-domain", "policy-id", "sending-mta-ip", "receiving-mx-hostname", "receiving-mx-helo",
	"receiving-ip", "failure-reason-code", "additional-information",
};

/* Read a list "N item..." of text tokens into a new array. */
static stsguard_status decode_list(struct lexer *lx, const char *what, uint64_t max, char ***list, size_t *count,
                                   stsguard_err *err)
{
	const char *t;
	size_t tl;
	uint64_t n;
	char val[STSGUARD_TLSRPT_TEXT_MAX + 1];

	if (!next_token(lx, &t, &tl))
		return sg_err(err, STSGUARD_INVALID, "the count of %s is missing", what);
	if (!parse_dec(t, tl, UINT64_MAX, &n))
		return sg_err(err, STSGUARD_INVALID, "the count of %s is not a decimal number", what);
	if (n > max)
		return sg_err(err, STSGUARD_TOOBIG, "%" PRIu64 " %s, at most %" PRIu64, n, what, max);
	if (n == 0)
		return STSGUARD_OK;
	*list = calloc((size_t)n, sizeof **list);
	if (*list == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		size_t vl;
		if (!next_token(lx, &t, &tl))
			return sg_err(err, STSGUARD_INVALID, "%s: %zu of %" PRIu64 " present", what, i, n);
		stsguard_status st = unescape(t, tl, val, sizeof val - 1, &vl);
		if (st != STSGUARD_OK)
			return sg_err(err, st, "%s %zu: %s", what, i,
			              st == STSGUARD_TOOBIG ? "longer than 255 bytes" : "bad escape or byte");
		(*list)[i] = sg_strndup(val, vl);
		if ((*list)[i] == NULL)
			return sg_err(err, STSGUARD_NOMEM, "out of memory");
		(*count)++;
	}
	return STSGUARD_OK;
}

static stsguard_status decode_fields(const char *line, size_t len, stsguard_tlsrpt_result *r, stsguard_err *err)
{
	struct lexer lx = {line, line + len, false};
	const char *t;
	size_t tl;
	uint64_t v;

	if (!next_token(&lx, &t, &tl) || tl != strlen(VERSION_TOKEN) || memcmp(t, VERSION_TOKEN, tl) != 0)
		return sg_err(err, STSGUARD_INVALID, "not a version-1 result (must begin with \"" VERSION_TOKEN " \")");
	if (!next_token(&lx, &t, &tl) || !parse_dec(t, tl, (uint64_t)STSGUARD_TLSRPT_TIME_MAX, &v))
		return sg_err(err, STSGUARD_INVALID, "time is missing, not a decimal number, or after 9999");
	r->time = (int64_t)v;
	if (!next_token(&lx, &t, &tl) || !policy_type_parse_n(t, tl, &r->policy_type))
		return sg_err(err, STSGUARD_INVALID, "policy-type is missing or unknown");

	/* Fixed text fields, in wire order; result-type sits between policy-id and sending-mta-ip. */
	struct {
		char *dst;
		size_t size;
	} fields[] = {
		{r->policy_domain, sizeof r->policy_domain},
		{r->policy_id, sizeof r->policy_id},
		{r->sending_mta_ip, sizeof r->sending_mta_ip},
		{r->receiving_mx_hostname, sizeof r->receiving_mx_hostname},
		{r->receiving_mx_helo, sizeof r->receiving_mx_helo},
		{r->receiving_ip, sizeof r->receiving_ip},
		{r->failure_reason_code, sizeof r->failure_reason_code},
		{r->additional_information, sizeof r->additional_information},
	};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		if (i == 2 && (!next_token(&lx, &t, &tl) || !result_type_parse_n(t, tl, &r->result)))
			return sg_err(err, STSGUARD_INVALID, "result-type is missing or unknown");
		size_t vl;
		if (!next_token(&lx, &t, &tl))
			return sg_err(err, STSGUARD_INVALID, "%s is missing", text_names[i]);
		stsguard_status st = unescape(t, tl, fields[i].dst, fields[i].size - 1, &vl);
		if (st == STSGUARD_TOOBIG)
			return sg_err(err, st, "%s is longer than %zu bytes", text_names[i], fields[i].size - 1);
		if (st != STSGUARD_OK)
			return sg_err(err, st, "%s has a bad escape or a byte that must be escaped", text_names[i]);
	}

	stsguard_status st = decode_list(&lx, "policy strings", STSGUARD_TLSRPT_POLICY_STRINGS_MAX, &r->policy_strings,
	                                 &r->n_policy_strings, err);
	if (st == STSGUARD_OK)
		st = decode_list(&lx, "mx-host patterns", STSGUARD_TLSRPT_MX_PATTERNS_MAX, &r->mx_host_patterns,
		                 &r->n_mx_host_patterns, err);
	if (st != STSGUARD_OK)
		return st;
	if (!at_end(&lx))
		return sg_err(err, STSGUARD_INVALID, "text after the last mx-host pattern");
	return STSGUARD_OK;
}

stsguard_status stsguard_tlsrpt_result_decode(const char *line, size_t len, stsguard_tlsrpt_result *out,
                                              stsguard_err *err)
{
	stsguard_status st;

	if (out == NULL)
		return sg_err(err, STSGUARD_BADARG, "no result to decode into");
	memset(out, 0, sizeof *out);
	if (line == NULL)
		return sg_err(err, STSGUARD_BADARG, "no input");
	if (len > STSGUARD_TLSRPT_LINE_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "result line of %zu bytes, at most %u", len,
		              (unsigned)STSGUARD_TLSRPT_LINE_MAX);
	st = decode_fields(line, len, out, err);
	if (st == STSGUARD_OK)
		st = stsguard_tlsrpt_result_check(out, err);
	if (st != STSGUARD_OK) {
		stsguard_tlsrpt_result_clear(out);
		return st;
	}
	lower_in_place(out->policy_domain);
	lower_in_place(out->receiving_mx_hostname);
	for (size_t i = 0; i < out->n_mx_host_patterns; i++)
		lower_in_place(out->mx_host_patterns[i]);
	canon_ip_in_place(out->sending_mta_ip, sizeof out->sending_mta_ip);
	canon_ip_in_place(out->receiving_ip, sizeof out->receiving_ip);
	return STSGUARD_OK;
}

/* ---- UTC days (H. Hinnant's days_from_civil / civil_from_days) ---- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

stsguard_status stsguard_tlsrpt_day_name(int64_t t, char day[STSGUARD_TLSRPT_DAY_LEN + 1])
{
	if (t < 0 || t > STSGUARD_TLSRPT_TIME_MAX) {
		day[0] = '\0';
		return STSGUARD_BADARG;
	}
	int64_t z = t / 86400 + 719468;
	int64_t era = z / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	unsigned yy = (unsigned)y; /* 1970..9999: t is capped */
	const unsigned v[3] = {yy, m, d};
	const unsigned width[3] = {4, 2, 2};
	size_t o = 0;
	for (size_t k = 0; k < 3; k++) {
		if (k > 0)
			day[o++] = '-';
		for (unsigned w = width[k], x = v[k]; w > 0; w--, x /= 10)
			day[o + w - 1] = (char)('0' + x % 10);
		o += width[k];
	}
	day[o] = '\0';
	return STSGUARD_OK;
}

stsguard_status stsguard_tlsrpt_day_parse(const char *day, int64_t *start)
{
	*start = 0;
	if (day == NULL || strnlen(day, STSGUARD_TLSRPT_DAY_LEN + 1) != STSGUARD_TLSRPT_DAY_LEN || day[4] != '-' ||
	    day[7] != '-')
		return STSGUARD_INVALID;
	for (size_t i = 0; i < STSGUARD_TLSRPT_DAY_LEN; i++)
		if (i != 4 && i != 7 && !sg_is_digit((unsigned char)day[i]))
			return STSGUARD_INVALID;
	unsigned y = (unsigned)((day[0] - '0') * 1000 + (day[1] - '0') * 100 + (day[2] - '0') * 10 + (day[3] - '0'));
	unsigned m = (unsigned)((day[5] - '0') * 10 + (day[6] - '0'));
	unsigned d = (unsigned)((day[8] - '0') * 10 + (day[9] - '0'));
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > 31)
		return STSGUARD_INVALID;
	int64_t t = days_from_civil((int64_t)y, m, d) * 86400;
	/* 2026-02-30 would silently become 2026-03-02: only a date that names itself is real. */
	char back[STSGUARD_TLSRPT_DAY_LEN + 1];
	if (stsguard_tlsrpt_day_name(t, back) != STSGUARD_OK || memcmp(back, day, STSGUARD_TLSRPT_DAY_LEN) != 0)
		return STSGUARD_INVALID;
	*start = t;
	return STSGUARD_OK;
}
