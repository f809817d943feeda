/*
 * policy.c - the MTA-STS policy body (RFC 8461 §3.2).
 *
 * The body is a list of "key: value" lines. This parser follows the ABNF of
 * §3.2 with its errata (LF or CRLF terminators, erratum 6253; max_age of at
 * most ten digits) and reports the first problem with its line number, so an
 * admin can fix a published policy from our log line alone.
 *
 * Two deliberate leniencies, both because refusing would turn a domain's
 * request for enforcement into "no policy" (a silent security downgrade):
 * empty lines after the last field are ignored, and max_age above 31557600
 * is capped rather than refused.
 */
#include "stsguard/policy.h"

#include <stdlib.h>
#include <string.h>

#include "stsguard/mx_pattern.h"
#include "util.h"

#define KEY_MAX_LEN 32
#define MAX_AGE_DIGITS 10

struct parse_state {
	stsguard_policy *p;
	bool have_version, have_mode, have_max_age;
	size_t line;
	stsguard_err *err;
};

static stsguard_status line_err(struct parse_state *s, const char *what, const char *v, size_t vlen)
{
	char shown[100];
	sg_escape(shown, sizeof shown, v, vlen);
	return sg_err(s->err, STSGUARD_INVALID, "line %zu: %s '%s'", s->line, what, shown);
}

/* RFC 3629 UTF-8, no overlongs or surrogates; no control characters (tab included). */
static bool value_chars_ok(const unsigned char *v, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = v[i];
		if (c < 0x80) {
			if ((c < 0x21 && c != ' ') || c == 0x7f) /* only SP inside a value (§3.2 ABNF) */
				return false;
			i++;
			continue;
		}
		size_t n;
		unsigned int cp;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1fu;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0fu;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07u;
		} else {
			return false;
		}
		if (len - i <= n) /* truncated sequence */
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((v[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (v[i + k] & 0x3fu);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += n + 1;
	}
	return true;
}

static stsguard_status add_mx(struct parse_state *s, const char *v, size_t vlen)
{
	stsguard_err perr;
	stsguard_policy *p = s->p;

	if (stsguard_mx_pattern_check(v, vlen, &perr) != STSGUARD_OK)
		return sg_err(s->err, STSGUARD_INVALID, "line %zu: %s", s->line, perr.msg);
	if (p->n_mx >= STSGUARD_POLICY_MX_MAX)
		return sg_err(s->err, STSGUARD_TOOBIG, "line %zu: more than %u mx lines", s->line,
		              STSGUARD_POLICY_MX_MAX);
	char *copy = sg_strndup(v, vlen);
	if (copy == NULL)
		return sg_err(s->err, STSGUARD_NOMEM, "out of memory");
	for (size_t i = 0; i < vlen; i++)
		copy[i] = sg_lower(copy[i]);
	if (p->mx == NULL) {
		p->mx = calloc(STSGUARD_POLICY_MX_MAX, sizeof *p->mx);
		if (p->mx == NULL) {
			free(copy);
			return sg_err(s->err, STSGUARD_NOMEM, "out of memory");
		}
	}
	p->mx[p->n_mx++] = copy;
	return STSGUARD_OK;
}

static stsguard_status field(struct parse_state *s, const char *k, size_t klen, const char *v, size_t vlen)
{
	stsguard_policy *p = s->p;

#define KEY_IS(lit) (klen == sizeof(lit) - 1 && memcmp(k, lit, klen) == 0)
	if (KEY_IS("mx"))
		return add_mx(s, v, vlen);

	if (!value_chars_ok((const unsigned char *)v, vlen))
		return line_err(s, "value has control characters or invalid UTF-8:", v, vlen);

	if (KEY_IS("version")) {
		if (s->have_version)
			return STSGUARD_OK; /* §3.2: only the first occurrence counts */
		if (!(vlen == 5 && memcmp(v, "STSv1", 5) == 0))
			return line_err(s, "version must be STSv1, not", v, vlen);
		s->have_version = true;
	} else if (KEY_IS("mode")) {
		if (s->have_mode)
			return STSGUARD_OK;
		if (vlen == 7 && memcmp(v, "enforce", 7) == 0)
			p->mode = STSGUARD_MODE_ENFORCE;
		else if (vlen == 7 && memcmp(v, "testing", 7) == 0)
			p->mode = STSGUARD_MODE_TESTING;
		else if (vlen == 4 && memcmp(v, "none", 4) == 0)
			p->mode = STSGUARD_MODE_NONE;
		else
			return line_err(s, "mode must be enforce, testing or none, not", v, vlen);
		s->have_mode = true;
	} else if (KEY_IS("max_age")) {
		if (s->have_max_age)
			return STSGUARD_OK;
		if (vlen > MAX_AGE_DIGITS)
			return line_err(s, "max_age has more than 10 digits:", v, vlen);
		uint64_t n = 0;
		for (size_t i = 0; i < vlen; i++) {
			if (!sg_is_digit((unsigned char)v[i]))
				return line_err(s, "max_age must be a number of seconds, not", v, vlen);
			n = n * 10 + (uint64_t)(v[i] - '0');
		}
		if (n > STSGUARD_MAX_AGE_LIMIT) {
			n = STSGUARD_MAX_AGE_LIMIT;
			p->max_age_capped = true;
		}
		p->max_age = (uint32_t)n;
		s->have_max_age = true;
	}
	/* Any other key is an extension: valid by the checks above, and ignored. */
#undef KEY_IS
	return STSGUARD_OK;
}

static stsguard_status parse_line(struct parse_state *s, const char *l, size_t len)
{
	size_t i = 0;

	if (!sg_is_alnum((unsigned char)l[0]))
		return line_err(s, "expected 'key: value', got", l, len);
	while (i < len && (sg_is_alnum((unsigned char)l[i]) || l[i] == '_' || l[i] == '-' || l[i] == '.'))
		i++;
	if (i > KEY_MAX_LEN)
		return line_err(s, "key longer than 32 characters:", l, i);
	if (i == len || l[i] != ':')
		return line_err(s, "expected 'key: value' (key, then ':' right after it), got", l, len);
	size_t klen = i++;
	while (i < len && sg_is_wsp((unsigned char)l[i]))
		i++;
	size_t vend = len;
	while (vend > i && sg_is_wsp((unsigned char)l[vend - 1]))
		vend--;
	if (vend == i)
		return line_err(s, "empty value for key", l, klen);
	return field(s, l, klen, l + i, vend - i);
}

static bool blank(const char *l, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!sg_is_wsp((unsigned char)l[i]))
			return false;
	return true;
}

stsguard_status stsguard_policy_parse(const char *body, size_t len, stsguard_policy **out, stsguard_err *err)
{
	stsguard_status st = STSGUARD_OK;

	if (out == NULL)
		return sg_err(err, STSGUARD_BADARG, "no output pointer");
	*out = NULL;
	if (body == NULL && len != 0)
		return sg_err(err, STSGUARD_BADARG, "no body");
	if (len > STSGUARD_POLICY_BODY_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "policy is larger than %u bytes", STSGUARD_POLICY_BODY_MAX);
	if (len == 0)
		return sg_err(err, STSGUARD_INVALID, "policy is empty");

	stsguard_policy *p = calloc(1, sizeof *p);
	if (p == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	struct parse_state s = {.p = p, .err = err};
	size_t pos = 0;
	size_t first_blank = 0; /* line number of the first blank line, 0 if none yet */

	while (pos < len && st == STSGUARD_OK) {
		const char *nl = memchr(body + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - body) : len;
		size_t llen = end - pos;
		const char *l = body + pos;

		s.line++;
		if (nl != NULL && llen > 0 && l[llen - 1] == '\r')
			llen--; /* CRLF, erratum 6253 */
		if (memchr(l, '\r', llen) != NULL) {
			st = sg_err(err, STSGUARD_INVALID, "line %zu: carriage return not followed by a line feed", s.line);
			break;
		}
		if (blank(l, llen)) {
			if (first_blank == 0)
				first_blank = s.line;
		} else if (first_blank != 0) {
			st = sg_err(err, STSGUARD_INVALID, "line %zu: empty line between fields", first_blank);
		} else {
			st = parse_line(&s, l, llen);
		}
		pos = nl != NULL ? end + 1 : len;
	}
	if (st == STSGUARD_OK) {
		if (!s.have_version)
			st = sg_err(err, STSGUARD_INVALID, "no version field");
		else if (!s.have_mode)
			st = sg_err(err, STSGUARD_INVALID, "no mode field");
		else if (!s.have_max_age)
			st = sg_err(err, STSGUARD_INVALID, "no max_age field");
		else if (p->n_mx == 0 && p->mode != STSGUARD_MODE_NONE)
			st = sg_err(err, STSGUARD_INVALID, "no mx field, required in mode %s", stsguard_mode_name(p->mode));
	}
	if (st != STSGUARD_OK) {
		stsguard_policy_free(p);
		return st;
	}
	*out = p;
	return STSGUARD_OK;
}

void stsguard_policy_free(stsguard_policy *policy)
{
	if (policy == NULL)
		return;
	if (policy->mx != NULL)
		for (size_t i = 0; i < policy->n_mx; i++)
			free(policy->mx[i]);
	free(policy->mx);
	free(policy);
}

const char *stsguard_mode_name(stsguard_mode mode)
{
	switch (mode) {
	case STSGUARD_MODE_ENFORCE: return "enforce";
	case STSGUARD_MODE_TESTING: return "testing";
	case STSGUARD_MODE_NONE: return "none";
	}
	return "unknown";
}

stsguard_status stsguard_policy_to_json(const stsguard_policy *policy, char **out)
{
	sg_buf b;
	stsguard_status st;

	if (out == NULL)
		return STSGUARD_BADARG;
	*out = NULL;
	if (policy == NULL)
		return STSGUARD_BADARG;
	sg_buf_init(&b, 1u << 20);
	st = sg_buf_printf(&b, "{\"version\":\"STSv1\",\"mode\":\"%s\",\"max_age\":%u,\"mx\":[",
	                   stsguard_mode_name(policy->mode), (unsigned)policy->max_age);
	for (size_t i = 0; st == STSGUARD_OK && i < policy->n_mx; i++) {
		if (i > 0)
			st = sg_buf_add(&b, ",", 1);
		if (st == STSGUARD_OK)
			st = sg_buf_json_str(&b, policy->mx[i]);
	}
	if (st == STSGUARD_OK)
		st = sg_buf_add(&b, "]}", 2);
	if (st != STSGUARD_OK) {
		sg_buf_free(&b);
		return st;
	}
	*out = sg_buf_take(&b);
	return *out != NULL ? STSGUARD_OK : STSGUARD_NOMEM;
}
