/*
 * tlsrpt_intake.c - the `tlsrpt` map's key (tlsrpt_intake.h): parse what an
 * adapter reports about one outbound session, classify raw facts against
 * the policy the daemon served, and build the RFC 8460 result.
 *
 * The key arrives from an MTA that may be misconfigured or compromised, so
 * the parser is strict about form (one token per name, known names checked,
 * every value length-capped before it is copied) and the finished result
 * goes through stsguard_tlsrpt_result_check() before anything stores it.
 * Pure: no clock (now is a parameter), no I/O.
 */
#include "stsguard/tlsrpt_intake.h"

#include <stdlib.h>
#include <string.h>

#include "stsguard/discover.h"
#include "stsguard/mx_pattern.h"
#include "stsguard/tlsrpt_store.h"
#include "util.h"

/* Decode value v (vlen bytes) into out (size outsz, NUL-terminated). */
static stsguard_status unescape(const char *name, const char *v, size_t vlen, char *out, size_t outsz,
                                stsguard_err *err)
{
	size_t o = 0;
	for (size_t i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '%') {
			int h, l;
			if (i + 2 >= vlen)
				return sg_err(err, STSGUARD_INVALID, "%s: truncated %%HH escape", name);
			h = sg_hexval((unsigned char)v[i + 1]);
			l = sg_hexval((unsigned char)v[i + 2]);
			if (h < 0 || l < 0)
				return sg_err(err, STSGUARD_INVALID, "%s: bad %%HH escape", name);
			c = (unsigned char)(h * 16 + l);
			i += 2;
			if (c == 0)
				return sg_err(err, STSGUARD_INVALID, "%s: NUL byte", name);
		} else if (c < 0x21 || c > 0x7e) {
			return sg_err(err, STSGUARD_INVALID, "%s: byte 0x%02x must be written %%HH", name, c);
		}
		if (o + 1 >= outsz)
			return sg_err(err, STSGUARD_TOOBIG, "%s: longer than %zu bytes", name, outsz - 1);
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return STSGUARD_OK;
}

static stsguard_status parse_time(const char *s, int64_t *out, stsguard_err *err)
{
	int64_t t = 0;
	if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
		return sg_err(err, STSGUARD_INVALID, "time: not a decimal Unix time");
	for (const char *p = s; *p != '\0'; p++) {
		if (!sg_is_digit((unsigned char)*p))
			return sg_err(err, STSGUARD_INVALID, "time: not a decimal Unix time");
		t = t * 10 + (*p - '0');
		if (t > STSGUARD_TLSRPT_TIME_MAX)
			return sg_err(err, STSGUARD_INVALID, "time: out of range");
	}
	*out = t;
	return STSGUARD_OK;
}

enum field {
	F_DOMAIN,
	F_RESULT,
	F_POLICY,
	F_VERIFY,
	F_TLSV,
	F_CIPHER,
	F_SNI,
	F_SAN,
	F_MX,
	F_IP,
	F_SRC,
	F_HELO,
	F_REASON,
	F_TIME,
	F_PROBE,
	F_COUNT_
};

static const char *const field_names[F_COUNT_] = {"domain", "result", "policy", "verify", "tlsv",
                                                  "cipher", "sni",    "san",    "mx",     "ip",
                                                  "src",    "helo",   "reason", "time",   "probe"};

/* Store one decoded value. */
static stsguard_status set_field(stsguard_tlsrpt_intake *out, enum field f, const char *val, stsguard_err *err)
{
	size_t l = strlen(val);
	switch (f) {
	case F_DOMAIN:
		if (stsguard_domain_normalize(val, out->domain) != STSGUARD_OK)
			return sg_err(err, STSGUARD_INVALID, "domain: not a host name");
		return STSGUARD_OK;
	case F_RESULT:
		if (stsguard_result_type_parse(val, &out->result) != STSGUARD_OK)
			return sg_err(err, STSGUARD_INVALID, "result: not an RFC 8460 result type");
		out->has_result = 1;
		return STSGUARD_OK;
	case F_POLICY:
		if (strcmp(val, "sts") == 0)
			out->policy = STSGUARD_INTAKE_POLICY_STS;
		else if (strcmp(val, "tlsa") == 0)
			out->policy = STSGUARD_INTAKE_POLICY_TLSA;
		else if (strcmp(val, "none") == 0 || strcmp(val, "no-policy-found") == 0)
			out->policy = STSGUARD_INTAKE_POLICY_NONE;
		else
			return sg_err(err, STSGUARD_INVALID, "policy: expected sts, tlsa or none");
		return STSGUARD_OK;
	case F_VERIFY:
		if (l >= sizeof out->verify)
			return sg_err(err, STSGUARD_TOOBIG, "verify: too long");
		for (size_t i = 0; i <= l; i++) {
			char c = val[i];
			out->verify[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
		}
		return STSGUARD_OK;
	case F_SAN:
		if (strcmp(val, "ok") == 0)
			out->san = STSGUARD_SAN_OK;
		else if (strcmp(val, "fail") == 0)
			out->san = STSGUARD_SAN_FAIL;
		else if (val[0] == '\0')
			out->san = STSGUARD_SAN_UNKNOWN;
		else
			return sg_err(err, STSGUARD_INVALID, "san: expected ok or fail");
		return STSGUARD_OK;
	case F_MX:
		if (l > 0 && stsguard_domain_normalize(val, out->mx) != STSGUARD_OK)
			return sg_err(err, STSGUARD_INVALID, "mx: not a host name");
		return STSGUARD_OK;
	case F_TIME:
		return parse_time(val, &out->time, err);
	case F_PROBE:
		if (strcmp(val, "1") != 0 && strcmp(val, "0") != 0)
			return sg_err(err, STSGUARD_INVALID, "probe: expected 1 or 0");
		out->probe = val[0] == '1';
		return STSGUARD_OK;
	default:
		break;
	}
	/* Plain text fields: the copy was already bounded by the caller. */
	char *dst;
	size_t cap;
	switch (f) {
	case F_TLSV: dst = out->tls_version, cap = sizeof out->tls_version; break;
	case F_CIPHER: dst = out->cipher, cap = sizeof out->cipher; break;
	case F_SNI: dst = out->sni, cap = sizeof out->sni; break;
	case F_IP: dst = out->ip, cap = sizeof out->ip; break;
	case F_SRC: dst = out->src, cap = sizeof out->src; break;
	case F_HELO: dst = out->helo, cap = sizeof out->helo; break;
	default: dst = out->reason, cap = sizeof out->reason; break;
	}
	if (l >= cap)
		return sg_err(err, STSGUARD_TOOBIG, "%s: longer than %zu bytes", field_names[f], cap - 1);
	memcpy(dst, val, l + 1);
	return STSGUARD_OK;
}

stsguard_status stsguard_tlsrpt_intake_parse(const char *key, size_t len, stsguard_tlsrpt_intake *out,
                                             stsguard_err *err)
{
	unsigned seen = 0;
	char val[STSGUARD_TLSRPT_TEXT_MAX + 1];

	memset(out, 0, sizeof *out);
	if (len > STSGUARD_TLSRPT_INTAKE_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "record longer than %u bytes", STSGUARD_TLSRPT_INTAKE_MAX);
	size_t i = 0;
	while (i < len) {
		size_t start = i;
		while (i < len && key[i] != ' ')
			i++;
		size_t tlen = i - start;
		const char *tok = key + start;
		if (tlen == 0)
			return sg_err(err, STSGUARD_INVALID, "empty token (two spaces, or a space at an end)");
		const char *eq = memchr(tok, '=', tlen);
		if (eq == NULL || eq == tok)
			return sg_err(err, STSGUARD_INVALID, "token without NAME=: expected NAME=VALUE");
		size_t nlen = (size_t)(eq - tok);
		for (size_t k = 0; k < nlen; k++)
			if (!sg_is_alnum((unsigned char)tok[k]) && tok[k] != '_' && tok[k] != '-')
				return sg_err(err, STSGUARD_INVALID, "a field name may hold only letters, digits, '_' and '-'");
		const char *v = eq + 1;
		size_t vlen = tlen - nlen - 1;
		int f = -1;
		for (int k = 0; k < F_COUNT_; k++)
			if (strlen(field_names[k]) == nlen && memcmp(field_names[k], tok, nlen) == 0)
				f = k;
		if (i < len)
			i++; /* the separating space */
		if (i == len && key[len - 1] == ' ')
			return sg_err(err, STSGUARD_INVALID, "empty token (two spaces, or a space at an end)");
		if (f < 0) {
			/* An unknown name (a newer adapter's extra field): its value must still be well-formed. */
			stsguard_status st = unescape("unknown field", v, vlen, val, sizeof val, err);
			if (st != STSGUARD_OK)
				return st;
			continue;
		}
		if (seen & (1u << f))
			return sg_err(err, STSGUARD_INVALID, "%s given twice", field_names[f]);
		seen |= 1u << f;
		stsguard_status st = unescape(field_names[f], v, vlen, val, sizeof val, err);
		if (st != STSGUARD_OK)
			return st;
		st = set_field(out, (enum field)f, val, err);
		if (st != STSGUARD_OK)
			return st;
	}
	if (!(seen & (1u << F_DOMAIN)))
		return sg_err(err, STSGUARD_INVALID, "domain= is required");
	if (!out->has_result && out->verify[0] == '\0' && out->cipher[0] == '\0')
		return sg_err(err, STSGUARD_INVALID, "result= (or the session facts verify=/cipher=) is required");
	return STSGUARD_OK;
}

static int mx_in_policy(const char *mx, const stsguard_policy *p)
{
	for (size_t i = 0; i < p->n_mx; i++)
		if (stsguard_mx_pattern_match(p->mx[i], mx))
			return 1;
	return 0;
}

stsguard_result_type stsguard_tlsrpt_intake_classify(const stsguard_tlsrpt_intake *in, const stsguard_policy *policy)
{
	if (in->has_result)
		return in->result;
	/* RFC 8460 §4.3.2: an MX the policy does not name is a validation failure, whatever TLS did. */
	if (policy != NULL && in->policy == STSGUARD_INTAKE_POLICY_STS && in->mx[0] != '\0' &&
	    !mx_in_policy(in->mx, policy))
		return STSGUARD_RESULT_VALIDATION_FAILURE;
	if (in->cipher[0] == '\0' || strcmp(in->verify, "NONE") == 0)
		return STSGUARD_RESULT_STARTTLS_NOT_SUPPORTED;
	if (in->san == STSGUARD_SAN_FAIL)
		return STSGUARD_RESULT_CERTIFICATE_HOST_MISMATCH;
	if (strcmp(in->verify, "OK") == 0 || strcmp(in->verify, "TRUSTED") == 0)
		return STSGUARD_RESULT_SUCCESS;
	return STSGUARD_RESULT_CERTIFICATE_NOT_TRUSTED;
}

static int add_string(char **arr, size_t *n, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);
	if (s == NULL)
		return -1;
	memcpy(s, a, la);
	memcpy(s + la, b, lb + 1);
	arr[(*n)++] = s;
	return 0;
}

/* RFC 8460 §4.4: policy-string is the policy's lines; mx-host its patterns. */
static stsguard_status attach_policy(stsguard_tlsrpt_result *r, const stsguard_policy *p)
{
	size_t n_mx = p->n_mx < STSGUARD_TLSRPT_MX_PATTERNS_MAX ? p->n_mx : STSGUARD_TLSRPT_MX_PATTERNS_MAX;
	r->policy_strings = calloc(n_mx + 3, sizeof *r->policy_strings);
	r->mx_host_patterns = calloc(n_mx ? n_mx : 1, sizeof *r->mx_host_patterns);
	if (r->policy_strings == NULL || r->mx_host_patterns == NULL)
		return STSGUARD_NOMEM;
	char age[24];
	size_t al = 0;
	uint32_t v = p->max_age;
	char rev[16];
	do {
		rev[al++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (size_t i = 0; i < al; i++)
		age[i] = rev[al - 1 - i];
	age[al] = '\0';
	if (add_string(r->policy_strings, &r->n_policy_strings, "version: ", "STSv1") != 0 ||
	    add_string(r->policy_strings, &r->n_policy_strings, "mode: ", stsguard_mode_name(p->mode)) != 0)
		return STSGUARD_NOMEM;
	for (size_t i = 0; i < n_mx; i++)
		if (add_string(r->policy_strings, &r->n_policy_strings, "mx: ", p->mx[i]) != 0 ||
		    add_string(r->mx_host_patterns, &r->n_mx_host_patterns, "", p->mx[i]) != 0)
			return STSGUARD_NOMEM;
	if (add_string(r->policy_strings, &r->n_policy_strings, "max_age: ", age) != 0)
		return STSGUARD_NOMEM;
	return STSGUARD_OK;
}

stsguard_status stsguard_tlsrpt_intake_result(const stsguard_tlsrpt_intake *in, const stsguard_policy *policy,
                                              const char *policy_id, int64_t now, stsguard_tlsrpt_result *out,
                                              stsguard_err *err)
{
	memset(out, 0, sizeof *out);
	if (in->policy != STSGUARD_INTAKE_POLICY_STS)
		policy = NULL;
	out->time = in->time != 0 ? in->time : now;
	memcpy(out->policy_domain, in->domain, sizeof out->policy_domain);
	out->result = stsguard_tlsrpt_intake_classify(in, policy);
	memcpy(out->sending_mta_ip, in->src, sizeof out->sending_mta_ip);
	memcpy(out->receiving_ip, in->ip, sizeof out->receiving_ip);
	memcpy(out->receiving_mx_hostname, in->mx, sizeof out->receiving_mx_hostname);
	memcpy(out->receiving_mx_helo, in->helo, sizeof out->receiving_mx_helo);
	memcpy(out->failure_reason_code, in->reason, sizeof out->failure_reason_code);
	if (out->result == STSGUARD_RESULT_SUCCESS)
		out->failure_reason_code[0] = '\0'; /* a success has no failure details */
	if (in->policy == STSGUARD_INTAKE_POLICY_TLSA) {
		out->policy_type = STSGUARD_POLICY_TLSA;
	} else if (policy != NULL) {
		out->policy_type = STSGUARD_POLICY_STS;
		size_t il = policy_id != NULL ? strlen(policy_id) : 0;
		if (il >= sizeof out->policy_id)
			il = sizeof out->policy_id - 1;
		if (il > 0)
			memcpy(out->policy_id, policy_id, il);
		out->policy_id[il] = '\0';
		if (attach_policy(out, policy) != STSGUARD_OK) {
			stsguard_tlsrpt_result_clear(out);
			return sg_err(err, STSGUARD_NOMEM, "out of memory");
		}
	} else {
		out->policy_type = STSGUARD_POLICY_NO_POLICY_FOUND;
	}
	stsguard_status st = stsguard_tlsrpt_result_check(out, err);
	if (st != STSGUARD_OK)
		stsguard_tlsrpt_result_clear(out);
	return st;
}
