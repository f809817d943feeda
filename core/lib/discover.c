/*
 * discover.c - policy discovery for one domain (see discover.h).
 *
 * This is where RFC 8461's caching rules live; everything it touches (DNS,
 * HTTPS, the clock, the cache) comes in through stsguard_discover_env, so
 * the scenarios of §3.3, §5.1 and §10.2 are unit-testable with fakes and a
 * fake clock.
 */
#include "stsguard/discover.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stsguard/mx_pattern.h"
#include "stsguard/sts_txt.h"
#include "util.h"

enum txt_state { TXT_ID, TXT_NONE, TXT_INVALID, TXT_TEMP, TXT_CACHED_NONE };

stsguard_status stsguard_domain_normalize(const char *in, char out[STSGUARD_DOMAIN_MAX + 1])
{
	out[0] = '\0';
	if (in == NULL)
		return STSGUARD_BADARG;
	size_t len = strnlen(in, STSGUARD_DOMAIN_MAX + 2);
	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > STSGUARD_DOMAIN_MAX)
		return STSGUARD_BADARG;
	/* A policy domain is a host name in A-labels; address literals have no policy (§3.4). */
	if (in[0] == '*' || stsguard_mx_pattern_check(in, len, NULL) != STSGUARD_OK)
		return STSGUARD_BADARG;
	for (size_t i = 0; i < len; i++)
		out[i] = sg_lower(in[i]);
	out[len] = '\0';
	return STSGUARD_OK;
}

static int64_t refresh_at(const stsguard_cache_entry *e)
{
	int64_t half = e->policy != NULL ? (int64_t)e->policy->max_age / 2 : 0;
	return e->fetched_at + (half < STSGUARD_REFRESH_MAX ? half : STSGUARD_REFRESH_MAX);
}

static int64_t backoff(uint32_t failures)
{
	int64_t b = STSGUARD_BACKOFF_MIN;
	for (uint32_t i = 1; i < failures && b < STSGUARD_BACKOFF_MAX; i++)
		b *= 2;
	return b < STSGUARD_BACKOFF_MAX ? b : STSGUARD_BACKOFF_MAX;
}

/* detail holds 256 bytes; a longer message (a long host name) is cut on purpose. */
static void set_detail(char *detail, const char *msg)
{
	size_t n = strlen(msg);
	if (n > 255)
		n = 255;
	memcpy(detail, msg, n);
	detail[n] = '\0';
}

/* Resolve mta-sts.<domain>, fetch and parse. *out is the new policy or NULL with *reason set. */
static void fetch_policy(const stsguard_discover_env *env, const char *domain, stsguard_policy **out,
                         stsguard_reason *reason, char *detail)
{
	char host[STSGUARD_DOMAIN_MAX + 16];
	stsguard_addr_set addrs;
	stsguard_err err = {""};
	stsguard_fetch_result res;

	*out = NULL;
	snprintf(host, sizeof host, "mta-sts.%s", domain);
	memset(&addrs, 0, sizeof addrs);
	stsguard_status st = env->dns->addrs(env->dns_ctx, host, &addrs, &err);
	if (st != STSGUARD_OK) {
		*reason = st == STSGUARD_NONE ? STSGUARD_REASON_HOST_NOT_FOUND : STSGUARD_REASON_HOST_TEMPFAIL;
		set_detail(detail, err.msg[0] != '\0' ? err.msg : host);
		return;
	}
	memset(&res, 0, sizeof res);
	st = env->fetch->fetch(env->fetch_ctx, host, &addrs, &res);
	if (st != STSGUARD_OK || res.body == NULL) {
		*reason = res.reason != STSGUARD_REASON_NONE ? res.reason : STSGUARD_REASON_INTERNAL;
		set_detail(detail, res.detail);
		stsguard_fetch_result_clear(&res);
		return;
	}
	st = stsguard_policy_parse(res.body, res.len, out, &err);
	stsguard_fetch_result_clear(&res);
	if (st != STSGUARD_OK) {
		*reason = st == STSGUARD_TOOBIG ? STSGUARD_REASON_TOO_BIG : STSGUARD_REASON_POLICY_INVALID;
		set_detail(detail, err.msg);
	}
}

static enum txt_state lookup_txt(const stsguard_discover_env *env, const char *domain,
                                 char id[STSGUARD_POLICY_ID_MAX + 1], uint32_t *ttl, char *detail)
{
	char name[STSGUARD_DOMAIN_MAX + 16];
	stsguard_txt_set *set = NULL;
	stsguard_err err = {""};
	enum txt_state ts;

	snprintf(name, sizeof name, "_mta-sts.%s", domain);
	*ttl = 300;
	id[0] = '\0';
	stsguard_status st = env->dns->txt(env->dns_ctx, name, &set, &err);
	if (set != NULL)
		*ttl = set->ttl;
	if (st == STSGUARD_OK) {
		st = stsguard_sts_txt_parse(set->rec, set->n, id, &err);
		ts = st == STSGUARD_OK ? TXT_ID : st == STSGUARD_NONE ? TXT_NONE : TXT_INVALID;
	} else {
		ts = st == STSGUARD_NONE ? TXT_NONE : TXT_TEMP;
	}
	if (ts == TXT_INVALID || ts == TXT_TEMP)
		set_detail(detail, err.msg);
	stsguard_txt_set_free(set);
	return ts;
}

static void lookup_tlsrpt(const stsguard_discover_env *env, stsguard_discovery *d)
{
	char name[STSGUARD_DOMAIN_MAX + 16];
	stsguard_txt_set *set = NULL;

	snprintf(name, sizeof name, "_smtp._tls.%s", d->domain);
	if (env->dns->txt(env->dns_ctx, name, &set, NULL) == STSGUARD_OK)
		(void)stsguard_tlsrpt_txt_parse(set->rec, set->n, &d->tlsrpt, NULL);
	stsguard_txt_set_free(set);
}

/* MX hosts and their DANE state; false if the MX lookup could not be completed. */
static bool lookup_hosts(const stsguard_discover_env *env, stsguard_discovery *d)
{
	stsguard_mx_set mx;
	stsguard_err err = {""};

	memset(&mx, 0, sizeof mx);
	stsguard_status st = env->dns->mx(env->dns_ctx, d->domain, &mx, &err);
	if (st != STSGUARD_OK && st != STSGUARD_NONE) {
		set_detail(d->error_detail, err.msg);
		return false;
	}
	if (st == STSGUARD_NONE) {
		/* RFC 5321 §5.1: no MX means the domain itself is the MX - unless it is a null MX. */
		if (!mx.null_mx) {
			snprintf(d->hosts[0].host, sizeof d->hosts[0].host, "%s", d->domain);
			d->n_hosts = 1;
		}
	} else {
		for (size_t i = 0; i < mx.n && i < STSGUARD_MX_MAX; i++) {
			snprintf(d->hosts[i].host, sizeof d->hosts[i].host, "%s", mx.mx[i].host);
			d->hosts[i].preference = mx.mx[i].preference;
		}
		d->n_hosts = mx.n < STSGUARD_MX_MAX ? mx.n : STSGUARD_MX_MAX;
	}
	for (size_t i = 0; i < d->n_hosts; i++) {
		stsguard_tlsa_state t;
		memset(&t, 0, sizeof t);
		st = env->dns->tlsa(env->dns_ctx, d->hosts[i].host, 25, &t, NULL);
		if (st == STSGUARD_OK)
			d->hosts[i].dane = t.n_records > 0 && t.secure ? STSGUARD_DANE_PRESENT : STSGUARD_DANE_ABSENT;
		else if (st == STSGUARD_NONE)
			d->hosts[i].dane = STSGUARD_DANE_ABSENT;
		else
			d->hosts[i].dane = STSGUARD_DANE_UNKNOWN;
	}
	return true;
}

stsguard_status stsguard_discover(const stsguard_discover_env *env, const char *domain, stsguard_discovery **out,
                                  stsguard_err *err)
{
	char dom[STSGUARD_DOMAIN_MAX + 1];
	stsguard_cache_entry e;
	bool dirty = false;
	const int64_t now = env->now;

	*out = NULL;
	if (stsguard_domain_normalize(domain, dom) != STSGUARD_OK)
		return sg_err(err, STSGUARD_BADARG, "'%s' is not a domain name in A-label form",
		              domain != NULL ? domain : "(null)");
	stsguard_discovery *d = calloc(1, sizeof *d);
	if (d == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	memcpy(d->domain, dom, sizeof dom);

	if (stsguard_cache_get(env->cache, dom, &e) != STSGUARD_OK) {
		stsguard_cache_entry_clear(&e);
		memcpy(e.domain, dom, sizeof dom);
	}
	/* §5.1: usable while it "has not exceeded its max_age". */
	bool policy_valid = e.policy != NULL && now <= e.expires_at;
	if (e.policy != NULL && !policy_valid) {
		/* Expired: gone, whatever the TXT says (§3.3 caches up to max_age). */
		stsguard_policy_free(e.policy);
		e.policy = NULL;
		e.policy_id[0] = '\0';
		dirty = true;
	}

	/* 1. The TXT record, unless "no TXT" is cached and nothing else is. */
	char id[STSGUARD_POLICY_ID_MAX + 1] = "";
	char txt_detail[256] = "";
	uint32_t ttl = 0;
	enum txt_state txt = TXT_CACHED_NONE;
	if (policy_valid || e.txt_none_until <= now)
		txt = lookup_txt(env, dom, id, &ttl, txt_detail);
	if (txt == TXT_ID && (strcmp(e.txt_id, id) != 0 || e.txt_none_until != 0)) {
		memcpy(e.txt_id, id, sizeof id);
		e.txt_none_until = 0;
		dirty = true;
	} else if (txt == TXT_NONE) {
		e.txt_id[0] = '\0';
		e.txt_none_until = now + (ttl < STSGUARD_TXT_NONE_MAX ? ttl : STSGUARD_TXT_NONE_MAX);
		dirty = true;
	}

	/* 2. Fetch when needed and not backing off. */
	bool want = false;
	if (txt == TXT_ID)
		want = !policy_valid || strcmp(id, e.policy_id) != 0 || now >= refresh_at(&e);
	else if (policy_valid)
		want = now >= refresh_at(&e); /* §10.2: refresh regardless of the TXT record */
	const char *fid = txt == TXT_ID ? id : e.policy_id;
	stsguard_reason fail = STSGUARD_REASON_NONE;
	if (want && e.next_retry > now && strcmp(e.failed_id, fid) == 0) {
		/* Report the failure that started the backoff, not the backoff itself. */
		want = false;
		fail = e.last_failure != STSGUARD_REASON_NONE ? e.last_failure : STSGUARD_REASON_BACKOFF;
		snprintf(d->error_detail, sizeof d->error_detail,
		         "not refetched: the fetch %" PRId64 " s ago failed, next try in %" PRId64 " s (RFC 8461 3.3)",
		         now - e.last_failure_at, e.next_retry - now);
	}
	d->source = STSGUARD_SOURCE_CACHE;
	if (want) {
		stsguard_policy *fresh = NULL;
		char fid_copy[STSGUARD_POLICY_ID_MAX + 1];
		snprintf(fid_copy, sizeof fid_copy, "%s", fid);
		fetch_policy(env, dom, &fresh, &fail, d->error_detail);
		if (fresh != NULL) {
			stsguard_policy_free(e.policy);
			e.policy = fresh;
			memcpy(e.policy_id, fid_copy, sizeof fid_copy);
			e.fetched_at = now;
			e.expires_at = now + fresh->max_age;
			e.last_failure = STSGUARD_REASON_NONE;
			e.failures = 0;
			e.next_retry = 0;
			e.failed_id[0] = '\0';
			d->source = STSGUARD_SOURCE_FETCHED;
			policy_valid = true;
		} else {
			e.last_failure = fail;
			e.last_failure_at = now;
			e.failures++;
			e.next_retry = now + backoff(e.failures);
			memcpy(e.failed_id, fid_copy, sizeof fid_copy);
		}
		dirty = true;
	}

	/* 3./4. What applies. */
	bool tempfail = false;
	if (policy_valid) {
		d->policy = e.policy;
		e.policy = NULL; /* moved into d; put back below */
		memcpy(d->policy_id, e.policy_id, sizeof d->policy_id);
		d->expires_at = e.expires_at;
		/* The cached policy applies, but the admin should hear that discovery
		 * is failing (§3.3: alert when a refresh keeps failing). */
		if (fail == STSGUARD_REASON_NONE && (txt == TXT_INVALID || txt == TXT_TEMP)) {
			fail = txt == TXT_INVALID ? STSGUARD_REASON_TXT_INVALID : STSGUARD_REASON_TXT_TEMPFAIL;
			set_detail(d->error_detail, txt_detail);
		}
	} else if (fail == STSGUARD_REASON_NONE && txt == TXT_TEMP) {
		tempfail = true;
		fail = STSGUARD_REASON_TXT_TEMPFAIL;
		set_detail(d->error_detail, txt_detail);
	} else if (fail == STSGUARD_REASON_NONE && txt == TXT_INVALID) {
		fail = STSGUARD_REASON_TXT_INVALID;
		set_detail(d->error_detail, txt_detail);
	}
	if (txt != TXT_CACHED_NONE && !(policy_valid && d->source == STSGUARD_SOURCE_CACHE))
		d->source = STSGUARD_SOURCE_FETCHED;
	d->error = fail;

	/* 5. MX hosts, DANE and the verdict. */
	bool hosts_ok = true;
	if (d->policy != NULL && d->policy->mode != STSGUARD_MODE_NONE && !env->skip_dane)
		hosts_ok = lookup_hosts(env, d);
	const char *hostv[STSGUARD_MX_MAX];
	stsguard_dane_state danev[STSGUARD_MX_MAX];
	bool allowed[STSGUARD_MX_MAX];
	for (size_t i = 0; i < d->n_hosts; i++) {
		hostv[i] = d->hosts[i].host;
		danev[i] = d->hosts[i].dane;
	}
	stsguard_decision_input in = {
	    .policy = d->policy, .policy_tempfail = tempfail, .n_hosts = d->n_hosts, .hosts = hostv, .dane = danev};
	d->verdict = stsguard_decide(&in, allowed);
	for (size_t i = 0; i < d->n_hosts; i++)
		d->hosts[i].allowed = allowed[i];
	if (!hosts_ok && d->verdict == STSGUARD_VERDICT_ENFORCE) {
		/* We cannot tell whether DANE governs: never guess towards STS. */
		d->verdict = STSGUARD_VERDICT_TEMPFAIL;
	}

	/*
	 * When to look again: a cached policy needs its TXT id checked within the
	 * record's TTL (bounded), and its proactive refresh or expiry; "no TXT"
	 * as long as the negative answer lives; a failed fetch at its retry time.
	 */
	int64_t recheck = now + (ttl > STSGUARD_RECHECK_MIN ? (ttl < STSGUARD_RECHECK_MAX ? ttl : STSGUARD_RECHECK_MAX)
	                                                    : STSGUARD_RECHECK_MIN);
	if (txt == TXT_NONE || txt == TXT_CACHED_NONE)
		recheck = e.txt_none_until > now + STSGUARD_RECHECK_MIN ? e.txt_none_until : now + STSGUARD_RECHECK_MIN;
	if (txt == TXT_TEMP || d->verdict == STSGUARD_VERDICT_TEMPFAIL)
		recheck = now + STSGUARD_RECHECK_MIN;
	if (e.next_retry > now && e.next_retry < recheck)
		recheck = e.next_retry;
	if (d->policy != NULL) {
		int64_t half = (int64_t)d->policy->max_age / 2;
		int64_t r = e.fetched_at + (half < STSGUARD_REFRESH_MAX ? half : STSGUARD_REFRESH_MAX);
		if (e.expires_at < recheck)
			recheck = e.expires_at;
		if (r > now && r < recheck)
			recheck = r;
	}
	d->recheck_at = recheck;

	/* 6. TLS-RPT. */
	if (!env->skip_tlsrpt)
		lookup_tlsrpt(env, d);

	stsguard_status st = STSGUARD_OK;
	e.policy = d->policy; /* lent to the cache write, which copies it */
	if (dirty && env->cache != NULL)
		st = stsguard_cache_put(env->cache, &e, err);
	e.policy = NULL;
	stsguard_cache_entry_clear(&e);
	if (st != STSGUARD_OK && st != STSGUARD_NOMEM) {
		/* A cache that cannot be written does not change this answer. */
		st = STSGUARD_OK;
	}
	if (st != STSGUARD_OK) {
		stsguard_discovery_free(d);
		return st;
	}
	*out = d;
	return STSGUARD_OK;
}

void stsguard_discovery_free(stsguard_discovery *d)
{
	if (d == NULL)
		return;
	stsguard_policy_free(d->policy);
	stsguard_tlsrpt_record_free(d->tlsrpt);
	free(d);
}

static const char *dane_name(stsguard_dane_state s)
{
	switch (s) {
	case STSGUARD_DANE_ABSENT: return "absent";
	case STSGUARD_DANE_PRESENT: return "present";
	case STSGUARD_DANE_UNKNOWN: return "unknown";
	}
	return "unknown";
}

stsguard_status stsguard_discovery_to_json(const stsguard_discovery *d, char **out)
{
	sg_buf b;
	stsguard_status st;
	const stsguard_policy *p = d->policy;

	*out = NULL;
	sg_buf_init(&b, 1u << 20);
	st = sg_buf_addstr(&b, "{\"domain\":");
	if (st == STSGUARD_OK)
		st = sg_buf_json_str(&b, d->domain);
	if (st == STSGUARD_OK)
		st = sg_buf_printf(&b, ",\"verdict\":\"%s\",\"policy_id\":", stsguard_verdict_name(d->verdict));
	if (st == STSGUARD_OK)
		st = p != NULL ? sg_buf_json_str(&b, d->policy_id) : sg_buf_addstr(&b, "null");
	if (st == STSGUARD_OK)
		st = p != NULL ? sg_buf_printf(&b, ",\"mode\":\"%s\",\"max_age\":%u,\"expires_at\":%" PRId64 ",\"mx\":[",
		                               stsguard_mode_name(p->mode), (unsigned)p->max_age, d->expires_at)
		               : sg_buf_addstr(&b, ",\"mode\":null,\"max_age\":null,\"expires_at\":null,\"mx\":[");
	for (size_t i = 0; st == STSGUARD_OK && p != NULL && i < p->n_mx; i++) {
		if (i > 0)
			st = sg_buf_add(&b, ",", 1);
		if (st == STSGUARD_OK)
			st = sg_buf_json_str(&b, p->mx[i]);
	}
	if (st == STSGUARD_OK)
		st = sg_buf_printf(&b, "],\"source\":\"%s\",\"rua\":[",
		                   d->source == STSGUARD_SOURCE_CACHE ? "cache" : "fetched");
	for (size_t i = 0; st == STSGUARD_OK && d->tlsrpt != NULL && i < d->tlsrpt->n_rua; i++) {
		if (i > 0)
			st = sg_buf_add(&b, ",", 1);
		if (st == STSGUARD_OK)
			st = sg_buf_json_str(&b, d->tlsrpt->rua[i]);
	}
	if (st == STSGUARD_OK)
		st = sg_buf_addstr(&b, "],\"error\":");
	if (st == STSGUARD_OK && d->error == STSGUARD_REASON_NONE)
		st = sg_buf_addstr(&b, "null,\"result_type\":null,\"error_detail\":null");
	else if (st == STSGUARD_OK) {
		st = sg_buf_printf(&b, "\"%s\",\"result_type\":\"%s\",\"error_detail\":", stsguard_reason_name(d->error),
		                   stsguard_reason_result_type(d->error));
		if (st == STSGUARD_OK)
			st = sg_buf_json_str(&b, d->error_detail);
	}
	if (st == STSGUARD_OK)
		st = sg_buf_addstr(&b, ",\"mx_hosts\":[");
	for (size_t i = 0; st == STSGUARD_OK && i < d->n_hosts; i++) {
		st = sg_buf_printf(&b, "%s{\"host\":", i > 0 ? "," : "");
		if (st == STSGUARD_OK)
			st = sg_buf_json_str(&b, d->hosts[i].host);
		if (st == STSGUARD_OK)
			st = sg_buf_printf(&b, ",\"preference\":%u,\"allowed\":%s,\"dane\":\"%s\"}",
			                   (unsigned)d->hosts[i].preference, d->hosts[i].allowed ? "true" : "false",
			                   dane_name(d->hosts[i].dane));
	}
	if (st == STSGUARD_OK)
		st = sg_buf_addstr(&b, "]}");
	if (st != STSGUARD_OK) {
		sg_buf_free(&b);
		return st;
	}
	*out = sg_buf_take(&b);
	return *out != NULL ? STSGUARD_OK : STSGUARD_NOMEM;
}
