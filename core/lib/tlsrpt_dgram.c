/*
 * tlsrpt_dgram.c - libtlsrpt datagrams (tlsrpt_dgram.h) to TLS-RPT results.
 *
 * Why this module exists: Postfix 3.10+ reports every TLS session through
 * sys4's libtlsrpt, which writes one JSON datagram per delivery attempt to
 * a unix datagram socket. Reading that socket ourselves lets an operator
 * run stsguardd instead of tlsrpt-collectd with no change to Postfix; this
 * is the pure half of that: bytes in, validated results out. The socket,
 * its permissions and the store live in the daemon.
 *
 * Contract: the datagram is read by json.c under hard limits (size,
 * depth, number of values), then every field is checked for type, range
 * and size before it is copied, and each result must pass
 * stsguard_tlsrpt_result_check(), so nothing the store would refuse gets
 * out of here. The datagram is accepted whole or not at all: a sender that
 * writes one bad field has a bug we want to see in the log, not a report
 * silently built from the rest. Members we do not know are ignored (the
 * reference collector ignores them too, and libtlsrpt has added fields
 * before: "pr", then "dpv"); they still count against the limits.
 */
#include "stsguard/tlsrpt_dgram.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "stsguard/mx_pattern.h"
#include "stsguard/tlsrpt_store.h"
#include "util.h"

/* Root object, policies array, policy object, failure-details array, failure object. */
#define DGRAM_DEPTH_MAX 5u
/* Enough for every field of every policy at its cap; more is not a libtlsrpt datagram. */
#define DGRAM_VALUES_MAX 8192u
#define HOST_MAX 253u

/* Where we are, for error text: "policies[1].failure-details[0]". */
struct where {
	char text[64];
};

/* scheme ":" then printable ASCII without spaces (RFC 3986 §3.1), the form the store accepts. */
static bool uri_like(const char *s)
{
	size_t i = 0;
	if (!sg_is_alpha((unsigned char)s[0]))
		return false;
	while (sg_is_alnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')
		i++;
	if (s[i] != ':' || s[i + 1] == '\0')
		return false;
	for (i++; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static void where_set(struct where *w, size_t pol, size_t fd)
{
	if (fd == SIZE_MAX)
		snprintf(w->text, sizeof w->text, "policies[%zu]", pol);
	else
		snprintf(w->text, sizeof w->text, "policies[%zu].failure-details[%zu]", pol, fd);
}

static stsguard_status wrong_type(stsguard_err *err, const char *where, const char *name,
                                  const stsguard_json_value *v, const char *want)
{
	return sg_err(err, STSGUARD_INVALID, "datagram: %s\"%s\" is %s, not %s", where, name,
	              stsguard_json_type_name(v->type), want);
}

/*
 * An optional string member, at most cap bytes: its value in *v, NULL when
 * absent. No control characters but TAB: libtlsrpt escapes them, and none
 * of our fields may hold one.
 */
static stsguard_status str_member(const stsguard_json_doc *doc, const stsguard_json_value *obj, const char *name,
                                  const char *where, size_t cap, bool required, const stsguard_json_value **v,
                                  stsguard_err *err)
{
	*v = stsguard_json_member(doc, obj, name);
	if (*v == NULL) {
		if (required)
			return sg_err(err, STSGUARD_INVALID, "datagram: %s\"%s\" missing", where, name);
		return STSGUARD_OK;
	}
	if ((*v)->type != STSGUARD_JSON_STRING)
		return wrong_type(err, where, name, *v, "a string");
	if ((*v)->len > cap)
		return sg_err(err, STSGUARD_TOOBIG, "datagram: %s\"%s\" is %zu bytes, more than %zu", where, name,
		              (*v)->len, cap);
	for (size_t i = 0; i < (*v)->len; i++) {
		unsigned char c = (unsigned char)(*v)->text[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return sg_err(err, STSGUARD_INVALID, "datagram: %s\"%s\" holds control character 0x%02x", where,
			              name, c);
	}
	return STSGUARD_OK;
}

/* As str_member(), copied NUL-terminated into out (size cap + 1); "" when absent. */
static stsguard_status get_str(const stsguard_json_doc *doc, const stsguard_json_value *obj, const char *name,
                               const char *where, char *out, size_t cap, bool required, stsguard_err *err)
{
	const stsguard_json_value *v;
	stsguard_status st = str_member(doc, obj, name, where, cap, required, &v, err);

	out[0] = '\0';
	if (st == STSGUARD_OK && v != NULL)
		memcpy(out, v->text, v->len + 1);
	return st;
}

static stsguard_status get_int(const stsguard_json_doc *doc, const stsguard_json_value *obj, const char *name,
                               const char *where, int64_t min, int64_t max, int64_t *out, stsguard_err *err)
{
	const stsguard_json_value *v = stsguard_json_member(doc, obj, name);

	if (v == NULL)
		return sg_err(err, STSGUARD_INVALID, "datagram: %s\"%s\" missing", where, name);
	if (v->type != STSGUARD_JSON_NUMBER)
		return wrong_type(err, where, name, v, "a number");
	stsguard_status st = stsguard_json_int(v, min, max, out);
	if (st == STSGUARD_INVALID)
		return sg_err(err, st, "datagram: %s\"%s\" is %s, not an integer", where, name, v->text);
	if (st != STSGUARD_OK)
		return sg_err(err, STSGUARD_INVALID, "datagram: %s\"%s\" is %.40s, outside %lld..%lld", where, name,
		              v->text, (long long)min, (long long)max);
	return STSGUARD_OK;
}

/* An optional array member; *arr NULL when absent; at most max elements. */
static stsguard_status get_array(const stsguard_json_doc *doc, const stsguard_json_value *obj, const char *name,
                                 const char *where, size_t max, const stsguard_json_value **arr,
                                 stsguard_err *err)
{
	const stsguard_json_value *v = stsguard_json_member(doc, obj, name);

	*arr = NULL;
	if (v == NULL)
		return STSGUARD_OK;
	if (v->type != STSGUARD_JSON_ARRAY)
		return wrong_type(err, where, name, v, "an array");
	if (v->count > max)
		return sg_err(err, STSGUARD_TOOBIG, "datagram: %s\"%s\" has %u elements, more than %zu", where, name,
		              (unsigned)v->count, max);
	*arr = v;
	return STSGUARD_OK;
}

/* Copies of the strings of a "policy-string" / "mx-host" array (NULL: none). */
static stsguard_status copy_strings(const stsguard_json_doc *doc, const stsguard_json_value *arr, const char *where,
                                    const char *name, bool lower, char ***out, size_t *n, stsguard_err *err)
{
	*out = NULL;
	*n = 0;
	if (arr == NULL || arr->count == 0)
		return STSGUARD_OK;
	char **v = calloc(arr->count, sizeof *v);
	if (v == NULL)
		return sg_err(err, STSGUARD_NOMEM, "datagram: out of memory");
	size_t i = 0;
	for (const stsguard_json_value *e = stsguard_json_first(doc, arr); e != NULL; e = stsguard_json_next(doc, e), i++) {
		if (e->type != STSGUARD_JSON_STRING) {
			sg_free_strings(v, i);
			return sg_err(err, STSGUARD_INVALID, "datagram: %s\"%s\"[%zu] is %s, not a string", where, name, i,
			              stsguard_json_type_name(e->type));
		}
		if (e->len > STSGUARD_TLSRPT_TEXT_MAX) {
			sg_free_strings(v, i);
			return sg_err(err, STSGUARD_TOOBIG, "datagram: %s\"%s\"[%zu] is %zu bytes, more than %u", where,
			              name, i, e->len, STSGUARD_TLSRPT_TEXT_MAX);
		}
		v[i] = sg_strndup(e->text, e->len);
		if (v[i] == NULL) {
			sg_free_strings(v, i);
			return sg_err(err, STSGUARD_NOMEM, "datagram: out of memory");
		}
		if (lower)
			for (char *c = v[i]; *c != '\0'; c++)
				*c = sg_lower(*c);
	}
	*out = v;
	*n = i;
	return STSGUARD_OK;
}

static void lower_in_place(char *s)
{
	for (; *s != '\0'; s++)
		*s = sg_lower(*s);
}

/* What one policy of the datagram says, before it becomes results. */
struct policy {
	int64_t type;
	int64_t final_failed;
	const stsguard_json_value *strings;  /* "policy-string" or NULL */
	const stsguard_json_value *patterns; /* "mx-host" or NULL */
	const stsguard_json_value *failures; /* "failure-details" or NULL */
	size_t n_failures;
};

static stsguard_status read_policy(const stsguard_json_doc *doc, const stsguard_json_value *pv, size_t index,
                                   struct policy *p, stsguard_err *err)
{
	struct where w;
	char prefix[80];
	char pdomain[HOST_MAX + 1];
	int64_t t;
	stsguard_status st;

	where_set(&w, index, SIZE_MAX);
	snprintf(prefix, sizeof prefix, "%s.", w.text);
	if (pv->type != STSGUARD_JSON_OBJECT)
		return sg_err(err, STSGUARD_INVALID, "datagram: %s is %s, not an object", w.text,
		              stsguard_json_type_name(pv->type));
	st = get_int(doc, pv, "policy-type", prefix, 0, 1000, &p->type, err);
	if (st != STSGUARD_OK)
		return st;
	if (stsguard_policy_type_name((stsguard_policy_type)p->type) == NULL || p->type == 0)
		return sg_err(err, STSGUARD_INVALID, "datagram: %s\"policy-type\" %lld is not 1 (tlsa), 2 (sts) or 9 "
		              "(no-policy-found)", prefix, (long long)p->type);
	/*
	 * libtlsrpt's policy-domain (optional) names the domain the policy was
	 * found for; reports go to the TLSRPT record of "d" (the reference
	 * collector files them under "d" too), so it is checked, not stored.
	 */
	st = get_str(doc, pv, "policy-domain", prefix, pdomain, HOST_MAX, false, err);
	if (st != STSGUARD_OK)
		return st;
	if (pdomain[0] != '\0' &&
	    (pdomain[0] == '*' || stsguard_mx_pattern_check(pdomain, strlen(pdomain), NULL) != STSGUARD_OK))
		return sg_err(err, STSGUARD_INVALID, "datagram: %s\"policy-domain\" is not a host name", prefix);
	st = get_array(doc, pv, "policy-string", prefix, STSGUARD_TLSRPT_POLICY_STRINGS_MAX, &p->strings, err);
	if (st == STSGUARD_OK)
		st = get_array(doc, pv, "mx-host", prefix, STSGUARD_TLSRPT_MX_PATTERNS_MAX, &p->patterns, err);
	if (st == STSGUARD_OK)
		st = get_array(doc, pv, "failure-details", prefix, STSGUARD_TLSRPT_DGRAM_FAILURES_MAX, &p->failures, err);
	if (st == STSGUARD_OK)
		st = get_int(doc, pv, "t", prefix, 0, STSGUARD_TLSRPT_DGRAM_FAILURES_MAX, &t, err);
	if (st == STSGUARD_OK)
		st = get_int(doc, pv, "f", prefix, 0, 1, &p->final_failed, err);
	if (st != STSGUARD_OK)
		return st;
	p->n_failures = p->failures != NULL ? p->failures->count : 0;
	/* libtlsrpt counts the failures it wrote into "t"; a mismatch means a damaged or forged datagram. */
	if ((size_t)t != p->n_failures)
		return sg_err(err, STSGUARD_INVALID, "datagram: %s\"t\" is %lld but %zu failure details follow", prefix,
		              (long long)t, p->n_failures);
	/*
	 * RFC 8460 §4.4 counts a session as successful or failed; our result is
	 * one or the other. libtlsrpt lets a caller finish a policy as a success
	 * with failures added, or as a failure with none (Postfix does neither):
	 * neither can be reported truthfully, so neither is accepted.
	 */
	if (p->final_failed == 0 && p->n_failures > 0)
		return sg_err(err, STSGUARD_INVALID, "datagram: %sfinal result success (\"f\":0) with failure details",
		              prefix);
	if (p->final_failed == 1 && p->n_failures == 0)
		return sg_err(err, STSGUARD_INVALID, "datagram: %sfinal result failure (\"f\":1) without failure details",
		              prefix);
	return STSGUARD_OK;
}

/* The failure detail fd (NULL for a success) of policy p into r, which owns nothing yet. */
static stsguard_status fill_result(const stsguard_json_doc *doc, const stsguard_tlsrpt_dgram *d, const struct policy *p,
                                   const stsguard_json_value *fd, size_t pol_index, size_t fd_index, int64_t now,
                                   stsguard_tlsrpt_result *r, stsguard_err *err)
{
	struct where w;
	char prefix[80];
	stsguard_status st;
	stsguard_err cerr = {""};

	where_set(&w, pol_index, fd == NULL ? SIZE_MAX : fd_index);
	snprintf(prefix, sizeof prefix, "%s.", w.text);
	memset(r, 0, sizeof *r);
	r->time = now;
	r->policy_type = (stsguard_policy_type)p->type;
	memcpy(r->policy_domain, d->domain, sizeof r->policy_domain);
	r->result = STSGUARD_RESULT_SUCCESS;
	if (fd != NULL) {
		int64_t code;
		if (fd->type != STSGUARD_JSON_OBJECT)
			return sg_err(err, STSGUARD_INVALID, "datagram: %s is %s, not an object", w.text,
			              stsguard_json_type_name(fd->type));
		st = get_int(doc, fd, "c", prefix, 0, 1000, &code, err);
		if (st != STSGUARD_OK)
			return st;
		if (code == 0 || stsguard_result_type_name((stsguard_result_type)code) == NULL)
			return sg_err(err, STSGUARD_INVALID, "datagram: %s\"c\" %lld is not an RFC 8460 failure result type",
			              prefix, (long long)code);
		r->result = (stsguard_result_type)code;
		struct {
			const char *name;
			char *field;
			size_t size;
		} fields[] = {
			{"s", r->sending_mta_ip, sizeof r->sending_mta_ip},
			{"n", r->receiving_mx_hostname, sizeof r->receiving_mx_hostname},
			{"h", r->receiving_mx_helo, sizeof r->receiving_mx_helo},
			{"r", r->receiving_ip, sizeof r->receiving_ip},
			{"a", r->additional_information, sizeof r->additional_information},
			{"f", r->failure_reason_code, sizeof r->failure_reason_code},
		};
		for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
			st = get_str(doc, fd, fields[i].name, prefix, fields[i].field, fields[i].size - 1, false, err);
			if (st != STSGUARD_OK)
				return st;
		}
		lower_in_place(r->receiving_mx_hostname);
		/*
		 * RFC 8460 §4.4 wants a URI in additional-information, but libtlsrpt's
		 * own examples put free text there. Refusing the datagram would lose
		 * the session; the text moves to failure-reason-code when that is
		 * empty, and is dropped otherwise.
		 */
		if (r->additional_information[0] != '\0' && !uri_like(r->additional_information)) {
			if (r->failure_reason_code[0] == '\0')
				memcpy(r->failure_reason_code, r->additional_information, sizeof r->failure_reason_code);
			r->additional_information[0] = '\0';
		}
	}
	st = copy_strings(doc, p->strings, prefix, "policy-string", false, &r->policy_strings, &r->n_policy_strings, err);
	if (st == STSGUARD_OK)
		st = copy_strings(doc, p->patterns, prefix, "mx-host", true, &r->mx_host_patterns, &r->n_mx_host_patterns,
		                  err);
	if (st != STSGUARD_OK) {
		stsguard_tlsrpt_result_clear(r);
		return st;
	}
	st = stsguard_tlsrpt_result_check(r, &cerr);
	if (st != STSGUARD_OK) {
		stsguard_tlsrpt_result_clear(r);
		return sg_err(err, st, "datagram: %s%s", prefix, cerr.msg);
	}
	return STSGUARD_OK;
}

void stsguard_tlsrpt_dgram_free(stsguard_tlsrpt_dgram *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n_results; i++)
		stsguard_tlsrpt_result_clear(&d->results[i]);
	free(d->results);
	free(d->tlsrpt_record);
	free(d);
}

static stsguard_status parse_doc(const stsguard_json_doc *doc, int64_t now, stsguard_tlsrpt_dgram *d,
                                 stsguard_err *err)
{
	const stsguard_json_value *root = stsguard_json_root(doc);
	const stsguard_json_value *v;
	stsguard_status st;
	struct policy pols[STSGUARD_TLSRPT_DGRAM_POLICIES_MAX];

	if (root->type != STSGUARD_JSON_OBJECT)
		return sg_err(err, STSGUARD_INVALID, "datagram: is %s, not an object", stsguard_json_type_name(root->type));

	/* libtlsrpt 0.5.0 added "dpv":"1"; earlier versions send none, and their datagrams are the same otherwise. */
	v = stsguard_json_member(doc, root, "dpv");
	if (v == NULL) {
		d->version = 0;
	} else if (v->type == STSGUARD_JSON_STRING && v->len == 1 && v->text[0] == '1') {
		d->version = STSGUARD_TLSRPT_DGRAM_VERSION;
	} else {
		char shown[48];
		sg_escape(shown, sizeof shown, v->text != NULL ? v->text : stsguard_json_type_name(v->type),
		          v->text != NULL ? v->len : strlen(stsguard_json_type_name(v->type)));
		return sg_err(err, STSGUARD_INVALID, "datagram: protocol version \"dpv\" %s is not \"1\"", shown);
	}

	st = get_str(doc, root, "d", "", d->domain, HOST_MAX, true, err);
	if (st != STSGUARD_OK)
		return st;
	lower_in_place(d->domain);
	if (d->domain[0] == '*' || stsguard_mx_pattern_check(d->domain, strlen(d->domain), NULL) != STSGUARD_OK)
		return sg_err(err, STSGUARD_INVALID, "datagram: \"d\" is not a host name");

	st = str_member(doc, root, "pr", "", STSGUARD_TLSRPT_DGRAM_RECORD_MAX, false, &v, err);
	if (st != STSGUARD_OK)
		return st;
	d->tlsrpt_record = v != NULL ? sg_strndup(v->text, v->len) : sg_strndup("", 0);
	if (d->tlsrpt_record == NULL)
		return sg_err(err, STSGUARD_NOMEM, "datagram: out of memory");

	v = stsguard_json_member(doc, root, "policies");
	if (v == NULL)
		return sg_err(err, STSGUARD_INVALID, "datagram: \"policies\" missing");
	if (v->type != STSGUARD_JSON_ARRAY)
		return wrong_type(err, "", "policies", v, "an array");
	if (v->count == 0)
		return sg_err(err, STSGUARD_INVALID, "datagram: \"policies\" is empty");
	if (v->count > STSGUARD_TLSRPT_DGRAM_POLICIES_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "datagram: %u policies, more than %u", (unsigned)v->count,
		              STSGUARD_TLSRPT_DGRAM_POLICIES_MAX);

	/* First every policy's shape, so the number of results is known before anything is allocated. */
	size_t n_pol = 0, n_results = 0;
	for (const stsguard_json_value *pv = stsguard_json_first(doc, v); pv != NULL; pv = stsguard_json_next(doc, pv)) {
		st = read_policy(doc, pv, n_pol, &pols[n_pol], err);
		if (st != STSGUARD_OK)
			return st;
		n_results += pols[n_pol].n_failures > 0 ? pols[n_pol].n_failures : 1;
		n_pol++;
	}
	if (n_results > STSGUARD_TLSRPT_DGRAM_RESULTS_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "datagram: %zu results, more than %u", n_results,
		              STSGUARD_TLSRPT_DGRAM_RESULTS_MAX);
	d->results = calloc(n_results, sizeof *d->results);
	if (d->results == NULL)
		return sg_err(err, STSGUARD_NOMEM, "datagram: out of memory");

	for (size_t i = 0; i < n_pol; i++) {
		const struct policy *p = &pols[i];
		if (p->n_failures == 0) {
			st = fill_result(doc, d, p, NULL, i, 0, now, &d->results[d->n_results], err);
			if (st != STSGUARD_OK)
				return st;
			d->n_results++;
			continue;
		}
		size_t k = 0;
		for (const stsguard_json_value *fd = stsguard_json_first(doc, p->failures); fd != NULL;
		     fd = stsguard_json_next(doc, fd), k++) {
			st = fill_result(doc, d, p, fd, i, k, now, &d->results[d->n_results], err);
			if (st != STSGUARD_OK)
				return st;
			d->n_results++;
		}
	}
	return STSGUARD_OK;
}

stsguard_status stsguard_tlsrpt_dgram_parse(const char *buf, size_t len, int64_t now, stsguard_tlsrpt_dgram **out,
                                            stsguard_err *err)
{
	static const stsguard_json_limits limits = {STSGUARD_TLSRPT_DGRAM_MAX, DGRAM_DEPTH_MAX, DGRAM_VALUES_MAX};
	stsguard_json_doc *doc = NULL;
	stsguard_status st;

	if (out == NULL)
		return sg_err(err, STSGUARD_BADARG, "datagram: no output");
	*out = NULL;
	if (buf == NULL && len > 0)
		return sg_err(err, STSGUARD_BADARG, "datagram: no buffer");
	if (now < 0 || now > STSGUARD_TLSRPT_TIME_MAX)
		return sg_err(err, STSGUARD_BADARG, "datagram: receive time %lld out of range", (long long)now);
	if (len > STSGUARD_TLSRPT_DGRAM_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "datagram: %zu bytes, more than %u (truncated or not from libtlsrpt)",
		              len, STSGUARD_TLSRPT_DGRAM_MAX);
	st = stsguard_json_parse(buf, len, &limits, &doc, err);
	if (st != STSGUARD_OK)
		return st;
	stsguard_tlsrpt_dgram *d = calloc(1, sizeof *d);
	if (d == NULL) {
		stsguard_json_free(doc);
		return sg_err(err, STSGUARD_NOMEM, "datagram: out of memory");
	}
	st = parse_doc(doc, now, d, err);
	stsguard_json_free(doc);
	if (st != STSGUARD_OK) {
		stsguard_tlsrpt_dgram_free(d);
		return st;
	}
	*out = d;
	return STSGUARD_OK;
}
