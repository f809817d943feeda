/*
 * test_discover.c - scenario tests of stsguard_discover() with a fake DNS, a
 * fake HTTPS fetcher and a fake clock (unbound .rpl style: set the world,
 * let time pass, discover, check).
 *
 * Expectations come from RFC 8461 and the contract in discover.h:
 *   §3.1  several STSv1 TXT records: no policy (txt-invalid);
 *   §3.3  a valid TXT whose policy cannot be fetched, with nothing cached:
 *         deliver as without MTA-STS (no-policy, the failure named); a valid
 *         cached policy MUST be applied when no live policy can be found;
 *         after a failed fetch no new attempt for at least 5 minutes per id
 *         (discover.h: doubling, at most STSGUARD_BACKOFF_MAX); a new id is
 *         a new policy version and is fetched at once;
 *   §3.3/§10.2  proactive refresh: at half of max_age, at most daily,
 *         whatever the TXT says;
 *   §5    mode none removes enforcement;
 *   §5.1  a cached policy is used while time-since-fetch is within max_age;
 *         a "policy miss" may be cached (discover.h: no longer than the
 *         negative TTL, at most STSGUARD_TXT_NONE_MAX);
 *   §2    DNSSEC-validated TLSA records: DANE governs; discover.h/verdict.h:
 *         a failed TLSA lookup in enforce mode is tempfail;
 *   §4.1  allowed MX hosts from the patterns ("*" = one whole label);
 *   RFC 5321 §5.1 no MX: the domain itself; RFC 7505 null MX: no host.
 * The fake world keeps a log of every lookup and fetch, so each step checks
 * how much work discovery did (the cache must save the fetch, the negative
 * answer must save the TXT lookup, the backoff must hold the fetcher back).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stsguard/cache.h"
#include "stsguard/discover.h"
#include "stsguard/dns.h"
#include "stsguard/fetch.h"
#include "stsguard/policy.h"
#include "stsguard/reason.h"
#include "stsguard/verdict.h"

#include "check.h"

/* ------------------------------------------------------------------ */
/* The fake world                                                       */
/* ------------------------------------------------------------------ */

#define W_MAX 64
#define NAME_LEN 300
#define LOG_MAX 256
#define RR_STR_MAX 8

/* One answer: kind 'T' TXT, 'M' MX, 'A' addresses, 'L' TLSA, 'F' fetch of a policy host. */
struct rr {
	char kind;
	char name[NAME_LEN];
	stsguard_status st;
	uint32_t ttl;
	bool secure;
	size_t n;                    /* TXT records, MX hosts, TLSA records */
	const char *str[RR_STR_MAX]; /* TXT records, MX hosts */
	uint16_t pref[RR_STR_MAX];
	const char *errmsg;          /* err text with the answer */
	bool null_mx;                /* MX: NONE because of a null MX */
	stsguard_reason reason;      /* fetch: NONE = body served */
	const char *body;
	size_t len;
	const char *detail;
};

struct lookup {
	char kind;
	char name[NAME_LEN];
	uint16_t port;
	size_t n_addrs;
};

struct world {
	struct rr rr[W_MAX];
	size_t n_rr;
	struct lookup log[LOG_MAX];
	size_t n_log;
	bool overflow;
};

static struct rr *w_find(struct world *w, char kind, const char *name)
{
	for (size_t i = 0; i < w->n_rr; i++)
		if (w->rr[i].kind == kind && strcmp(w->rr[i].name, name) == 0)
			return &w->rr[i];
	return NULL;
}

/* Find or add (zeroed) the answer for kind/name. */
static struct rr *w_rr(struct world *w, char kind, const char *name)
{
	struct rr *r = w_find(w, kind, name);

	if (r == NULL) {
		if (w->n_rr >= W_MAX) {
			CHECK_TRUE(false, "test bug: world full");
			r = &w->rr[W_MAX - 1];
		} else {
			r = &w->rr[w->n_rr++];
		}
	}
	memset(r, 0, sizeof *r);
	r->kind = kind;
	snprintf(r->name, sizeof r->name, "%s", name);
	return r;
}

static void w_log(struct world *w, char kind, const char *name, uint16_t port, size_t n_addrs)
{
	if (w->n_log >= LOG_MAX) {
		w->overflow = true;
		return;
	}
	struct lookup *l = &w->log[w->n_log++];
	l->kind = kind;
	snprintf(l->name, sizeof l->name, "%s", name);
	l->port = port;
	l->n_addrs = n_addrs;
}

/* How many lookups of kind (and name, unless NULL) since the last reset. */
static size_t w_count(const struct world *w, char kind, const char *name)
{
	size_t n = 0;
	for (size_t i = 0; i < w->n_log; i++)
		n += w->log[i].kind == kind && (name == NULL || strcmp(w->log[i].name, name) == 0);
	return n;
}

static void set_err(stsguard_err *err, const char *msg)
{
	if (err != NULL)
		snprintf(err->msg, sizeof err->msg, "%s", msg);
}

static stsguard_status fake_txt(void *ctx, const char *name, stsguard_txt_set **out, stsguard_err *err)
{
	struct world *w = ctx;
	const struct rr *r = w_find(w, 'T', name);
	stsguard_status st = r != NULL ? r->st : STSGUARD_NONE;

	w_log(w, 'T', name, 0, 0);
	*out = NULL;
	if (st != STSGUARD_OK && st != STSGUARD_NONE) {
		set_err(err, r != NULL && r->errmsg != NULL ? r->errmsg : "SERVFAIL");
		return st;
	}
	/* Allocated the way dns.h describes it: the set owns rec and every rec[i].data. */
	stsguard_txt_set *set = calloc(1, sizeof *set);
	if (set == NULL)
		return STSGUARD_NOMEM;
	set->ttl = r != NULL ? r->ttl : 300;
	set->secure = r != NULL && r->secure;
	if (st == STSGUARD_OK && r->n > 0) {
		set->rec = calloc(r->n, sizeof *set->rec);
		if (set->rec == NULL) {
			stsguard_txt_set_free(set);
			return STSGUARD_NOMEM;
		}
		for (size_t i = 0; i < r->n; i++) {
			size_t len = strlen(r->str[i]);
			char *data = malloc(len + 1);
			if (data == NULL) {
				stsguard_txt_set_free(set);
				return STSGUARD_NOMEM;
			}
			memcpy(data, r->str[i], len + 1);
			set->rec[i].data = data;
			set->rec[i].len = len;
			set->n++;
		}
	}
	if (st == STSGUARD_NONE)
		set_err(err, "NXDOMAIN");
	*out = set;
	return st;
}

static stsguard_status fake_mx(void *ctx, const char *domain, stsguard_mx_set *out, stsguard_err *err)
{
	struct world *w = ctx;
	const struct rr *r = w_find(w, 'M', domain);
	stsguard_status st = r != NULL ? r->st : STSGUARD_NONE;

	w_log(w, 'M', domain, 0, 0);
	memset(out, 0, sizeof *out);
	if (st != STSGUARD_OK) {
		set_err(err, r != NULL && r->errmsg != NULL ? r->errmsg : st == STSGUARD_NONE ? "NXDOMAIN" : "SERVFAIL");
		out->null_mx = st == STSGUARD_NONE && r != NULL && r->null_mx;
		return st;
	}
	for (size_t i = 0; i < r->n; i++) {
		out->mx[i].preference = r->pref[i];
		snprintf(out->mx[i].host, sizeof out->mx[i].host, "%s", r->str[i]);
	}
	out->n = r->n;
	out->ttl = 300;
	return STSGUARD_OK;
}

static stsguard_status fake_addrs(void *ctx, const char *host, stsguard_addr_set *out, stsguard_err *err)
{
	struct world *w = ctx;
	const struct rr *r = w_find(w, 'A', host);
	stsguard_status st = r != NULL ? r->st : STSGUARD_OK; /* every host has an address by default */

	w_log(w, 'A', host, 0, 0);
	memset(out, 0, sizeof *out);
	if (st != STSGUARD_OK) {
		set_err(err, st == STSGUARD_NONE ? "NXDOMAIN" : "SERVFAIL");
		return st;
	}
	out->n = 1;
	snprintf(out->addr[0], sizeof out->addr[0], "192.0.2.1");
	out->ttl = 300;
	return STSGUARD_OK;
}

static stsguard_status fake_tlsa(void *ctx, const char *host, uint16_t port, stsguard_tlsa_state *out,
                                 stsguard_err *err)
{
	struct world *w = ctx;
	const struct rr *r = w_find(w, 'L', host);
	stsguard_status st = r != NULL ? r->st : STSGUARD_NONE;

	w_log(w, 'L', host, port, 0);
	memset(out, 0, sizeof *out);
	if (st == STSGUARD_TEMPFAIL) {
		set_err(err, "SERVFAIL (bogus)");
		return st;
	}
	out->n_records = st == STSGUARD_OK ? r->n : 0;
	out->secure = r != NULL && r->secure;
	out->ttl = 300;
	return st;
}

static stsguard_status fake_fetch(void *ctx, const char *policy_host, const stsguard_addr_set *addrs,
                                  stsguard_fetch_result *res)
{
	struct world *w = ctx;
	const struct rr *r = w_find(w, 'F', policy_host);

	w_log(w, 'F', policy_host, 0, addrs != NULL ? addrs->n : 0);
	memset(res, 0, sizeof *res);
	if (r == NULL) {
		res->reason = STSGUARD_REASON_HTTP_STATUS;
		res->http_status = 404;
		snprintf(res->detail, sizeof res->detail, "HTTP 404");
		return STSGUARD_INVALID;
	}
	if (r->reason != STSGUARD_REASON_NONE) {
		res->reason = r->reason;
		res->http_status = r->reason == STSGUARD_REASON_HTTP_STATUS ? 500 : 0;
		snprintf(res->detail, sizeof res->detail, "%s",
		         r->detail != NULL ? r->detail : stsguard_reason_name(r->reason));
		return stsguard_reason_is_temporary(r->reason) ? STSGUARD_TEMPFAIL : STSGUARD_INVALID;
	}
	res->body = malloc(r->len + 1);
	if (res->body == NULL) {
		res->reason = STSGUARD_REASON_INTERNAL;
		return STSGUARD_NOMEM;
	}
	memcpy(res->body, r->body, r->len);
	res->body[r->len] = '\0';
	res->len = r->len;
	res->http_status = 200;
	return STSGUARD_OK;
}

static const struct stsguard_resolver_ops fake_dns_ops = { fake_txt, fake_mx, fake_addrs, fake_tlsa };
static const struct stsguard_fetch_ops fake_fetch_ops = { fake_fetch };

/* ---- setting the world ---- */

static void name2(char *out, size_t outsz, const char *prefix, const char *domain)
{
	snprintf(out, outsz, "%s%s", prefix, domain);
}

static void sts_txt(struct world *w, const char *domain, const char *rec1, const char *rec2)
{
	char n[NAME_LEN];
	name2(n, sizeof n, "_mta-sts.", domain);
	struct rr *r = w_rr(w, 'T', n);
	r->st = STSGUARD_OK;
	r->ttl = 300;
	r->str[0] = rec1;
	r->str[1] = rec2;
	r->n = rec2 != NULL ? 2 : 1;
}

static void sts_none(struct world *w, const char *domain, uint32_t neg_ttl)
{
	char n[NAME_LEN];
	name2(n, sizeof n, "_mta-sts.", domain);
	struct rr *r = w_rr(w, 'T', n);
	r->st = STSGUARD_NONE;
	r->ttl = neg_ttl;
}

static void sts_servfail(struct world *w, const char *domain)
{
	char n[NAME_LEN];
	name2(n, sizeof n, "_mta-sts.", domain);
	w_rr(w, 'T', n)->st = STSGUARD_TEMPFAIL;
}

static void tlsrpt_txt(struct world *w, const char *domain, const char *rec)
{
	char n[NAME_LEN];
	name2(n, sizeof n, "_smtp._tls.", domain);
	struct rr *r = w_rr(w, 'T', n);
	r->st = STSGUARD_OK;
	r->ttl = 300;
	r->str[0] = rec;
	r->n = 1;
}

static void policy_body(struct world *w, const char *domain, const char *body, size_t len)
{
	char n[NAME_LEN];
	name2(n, sizeof n, "mta-sts.", domain);
	struct rr *r = w_rr(w, 'F', n);
	r->reason = STSGUARD_REASON_NONE;
	r->body = body;
	r->len = len;
}

static void policy(struct world *w, const char *domain, const char *body)
{
	policy_body(w, domain, body, strlen(body));
}

static void policy_fail(struct world *w, const char *domain, stsguard_reason reason, const char *detail)
{
	char n[NAME_LEN];
	name2(n, sizeof n, "mta-sts.", domain);
	struct rr *r = w_rr(w, 'F', n);
	r->reason = reason;
	r->detail = detail;
}

static void policy_host_addrs(struct world *w, const char *domain, stsguard_status st)
{
	char n[NAME_LEN];
	name2(n, sizeof n, "mta-sts.", domain);
	w_rr(w, 'A', n)->st = st;
}

struct mxr {
	uint16_t pref;
	const char *host;
};

static void set_mx(struct world *w, const char *domain, const struct mxr *mx, size_t n)
{
	struct rr *r = w_rr(w, 'M', domain);
	r->st = STSGUARD_OK;
	for (size_t i = 0; i < n && i < RR_STR_MAX; i++) {
		r->pref[i] = mx[i].pref;
		r->str[i] = mx[i].host;
	}
	r->n = n;
}

static void mx_status(struct world *w, const char *domain, stsguard_status st, const char *errmsg)
{
	struct rr *r = w_rr(w, 'M', domain);
	r->st = st;
	r->errmsg = errmsg;
}

/* RFC 7505 null MX, the way dns.h reports it: NONE with null_mx set. */
static void mx_null(struct world *w, const char *domain)
{
	struct rr *r = w_rr(w, 'M', domain);
	r->st = STSGUARD_NONE;
	r->null_mx = true;
	r->errmsg = "null MX (RFC 7505)";
}

static void tlsa(struct world *w, const char *host, stsguard_status st, size_t n_records, bool secure)
{
	struct rr *r = w_rr(w, 'L', host);
	r->st = st;
	r->n = n_records;
	r->secure = secure;
}

/* ------------------------------------------------------------------ */
/* Fixture: world + cache + env with a fake clock                       */
/* ------------------------------------------------------------------ */

#define T0 INT64_C(1700000000)
#define D "example.com"
#define PH "mta-sts.example.com"
#define TXTN "_mta-sts.example.com"

#define ID1 "20240101"
#define ID2 "20240202"
#define ID3 "20240303"
#define TXT1 "v=STSv1; id=" ID1 ";"
#define TXT2 "v=STSv1; id=" ID2 ";"
#define TXT3 "v=STSv1; id=" ID3 ";"

#define POL(mode, age, mx) "version: STSv1\nmode: " mode "\n" mx "max_age: " age "\n"
#define MX_STD "mx: mx1.example.com\nmx: *.example.net\n"
#define P_ENF POL("enforce", "86400", MX_STD)
#define P_ENF_MX9 POL("enforce", "86400", "mx: mx9.example.com\n")
#define P_ENF_WEEK POL("enforce", "604800", MX_STD)
#define P_ENF_WEEK_MX9 POL("enforce", "604800", "mx: mx9.example.com\n")
#define P_ENF_HOUR POL("enforce", "3600", MX_STD)
#define P_ENF_HOUR_MX9 POL("enforce", "3600", "mx: mx9.example.com\n")
#define P_ENF_10MIN POL("enforce", "600", MX_STD)
#define P_TEST POL("testing", "86400", MX_STD)
#define P_NONE "version: STSv1\nmode: none\nmax_age: 86400\n"

struct fx {
	struct world w;
	stsguard_cache *cache;
	stsguard_discover_env env;
};

static struct fx *fx_new(const char *dir)
{
	struct fx *f = calloc(1, sizeof *f);
	stsguard_err err = {""};

	if (!CHECK_TRUE(f != NULL, "fixture: calloc"))
		return NULL;
	if (!CHECK_STATUS(stsguard_cache_open(dir, &f->cache, &err), STSGUARD_OK, "fixture: cache open")) {
		fprintf(stderr, "    %s\n", err.msg);
		free(f);
		return NULL;
	}
	f->env.dns = &fake_dns_ops;
	f->env.dns_ctx = &f->w;
	f->env.fetch = &fake_fetch_ops;
	f->env.fetch_ctx = &f->w;
	f->env.cache = f->cache;
	f->env.now = T0;
	return f;
}

static void fx_free(struct fx *f)
{
	if (f == NULL)
		return;
	stsguard_cache_close(f->cache);
	free(f);
}

/* The standard world of example.com: TXT id 1, an enforce policy, two MX hosts, no TLSA. */
static void std_world(struct fx *f)
{
	static const struct mxr mx[] = { { 10, "mx1.example.com" }, { 20, "mx2.example.net" } };
	sts_txt(&f->w, D, TXT1, NULL);
	policy(&f->w, D, P_ENF);
	set_mx(&f->w, D, mx, 2);
}

static stsguard_discovery discovery_sentinel;

/* One discovery at the current fake time; the log then holds exactly its work. */
static stsguard_discovery *disc(struct fx *f, const char *domain, const char *step)
{
	stsguard_discovery *d = &discovery_sentinel;
	stsguard_err err = {""};

	f->w.n_log = 0;
	f->w.overflow = false;
	stsguard_status st = stsguard_discover(&f->env, domain, &d, &err);
	if (!CHECK_STATUS(st, STSGUARD_OK, step)) {
		fprintf(stderr, "    error: %s\n", err.msg);
		return NULL;
	}
	if (!CHECK_TRUE(d != NULL && d != &discovery_sentinel, step))
		return NULL;
	CHECK_TRUE(!f->w.overflow, step);
	return d;
}

static const char *verdict_str(stsguard_verdict v)
{
	static const char *const n[] = { "no-policy", "none", "testing", "enforce", "dane", "tempfail" };
	return (unsigned)v < sizeof n / sizeof n[0] ? n[v] : "(bad verdict)";
}

static const char *reason_str(stsguard_reason r)
{
	static const char *const n[] = {
		"NONE",           "TXT_INVALID",    "TXT_TEMPFAIL", "HOST_NOT_FOUND", "HOST_TEMPFAIL",
		"CONNECT",        "TIMEOUT",        "TLS",          "CERT_UNTRUSTED", "CERT_EXPIRED",
		"CERT_HOSTNAME",  "HTTP_STATUS",    "HTTP_REDIRECT", "CONTENT_TYPE",  "TOO_BIG",
		"POLICY_INVALID", "INTERNAL",       "BACKOFF",
	};
	return (unsigned)r < sizeof n / sizeof n[0] ? n[r] : "(bad reason)";
}

/* verdict, source and error of one step. */
static void expect(const char *step, const stsguard_discovery *d, stsguard_verdict v, stsguard_source src,
                   stsguard_reason error)
{
	char label[300];

	if (d == NULL)
		return;
	snprintf(label, sizeof label, "%s: verdict", step);
	CHECK_STR(verdict_str(d->verdict), verdict_str(v), label);
	snprintf(label, sizeof label, "%s: source", step);
	CHECK_STR(d->source == STSGUARD_SOURCE_CACHE ? "cache" : "fetched",
	          src == STSGUARD_SOURCE_CACHE ? "cache" : "fetched", label);
	snprintf(label, sizeof label, "%s: error", step);
	CHECK_STR(reason_str(d->error), reason_str(error), label);
}

/* The applied policy: mode and id, or none at all (id NULL). */
static void expect_policy(const char *step, const stsguard_discovery *d, const char *id, stsguard_mode mode)
{
	char label[300];

	if (d == NULL)
		return;
	snprintf(label, sizeof label, "%s: policy present", step);
	if (id == NULL) {
		CHECK_TRUE(d->policy == NULL, label);
		return;
	}
	if (!CHECK_TRUE(d->policy != NULL, label))
		return;
	snprintf(label, sizeof label, "%s: policy_id", step);
	CHECK_STR(d->policy_id, id, label);
	snprintf(label, sizeof label, "%s: policy mode", step);
	CHECK_INT(d->policy->mode, mode, label);
}

/* Work done by the step: fetches of mta-sts.example.com and TXT lookups of _mta-sts.example.com. */
static void expect_work(const char *step, const struct fx *f, size_t fetches, size_t txt)
{
	char label[300];

	snprintf(label, sizeof label, "%s: policy fetches", step);
	CHECK_INT(w_count(&f->w, 'F', PH), fetches, label);
	snprintf(label, sizeof label, "%s: _mta-sts TXT lookups", step);
	CHECK_INT(w_count(&f->w, 'T', TXTN), txt, label);
}

static void at(struct fx *f, int64_t t)
{
	f->env.now = T0 + t;
}

/* ------------------------------------------------------------------ */
/* Scenarios                                                            */
/* ------------------------------------------------------------------ */

static void sc_enforce_then_cache(void)
{
	struct fx *f = fx_new(NULL);
	stsguard_discovery *d;

	if (f == NULL)
		return;
	std_world(f);

	d = disc(f, D, "enforce: first");
	expect("enforce: first", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
	expect_policy("enforce: first", d, ID1, STSGUARD_MODE_ENFORCE);
	expect_work("enforce: first", f, 1, 1);
	if (d != NULL) {
		CHECK_STR(d->domain, D, "enforce: first: domain");
		CHECK_INT(d->expires_at, T0 + 86400, "enforce: first: expires_at = now + max_age");
		if (d->policy != NULL && CHECK_INT(d->policy->n_mx, 2, "enforce: first: n_mx")) {
			CHECK_STR(d->policy->mx[0], "mx1.example.com", "enforce: first: mx[0]");
			CHECK_STR(d->policy->mx[1], "*.example.net", "enforce: first: mx[1]");
		}
		if (CHECK_INT(d->n_hosts, 2, "enforce: first: n_hosts")) {
			CHECK_STR(d->hosts[0].host, "mx1.example.com", "enforce: first: host 0");
			CHECK_INT(d->hosts[0].preference, 10, "enforce: first: pref 0");
			CHECK_INT(d->hosts[0].allowed, 1, "enforce: first: host 0 allowed");
			CHECK_INT(d->hosts[0].dane, STSGUARD_DANE_ABSENT, "enforce: first: host 0 dane");
			CHECK_STR(d->hosts[1].host, "mx2.example.net", "enforce: first: host 1");
			CHECK_INT(d->hosts[1].preference, 20, "enforce: first: pref 1");
			CHECK_INT(d->hosts[1].allowed, 1, "enforce: first: host 1 allowed (wildcard)");
		}
		CHECK_TRUE(d->tlsrpt == NULL, "enforce: first: no TLS-RPT record");
	}
	/* The fetch went to the policy host with the addresses resolved through our DNS. */
	CHECK_INT(w_count(&f->w, 'A', PH), 1, "enforce: first: policy host resolved");
	for (size_t i = 0; i < f->w.n_log; i++) {
		if (f->w.log[i].kind == 'F')
			CHECK_INT(f->w.log[i].n_addrs, 1, "enforce: first: fetch got the addresses");
		if (f->w.log[i].kind == 'L')
			CHECK_INT(f->w.log[i].port, 25, "enforce: first: TLSA at port 25");
	}
	CHECK_INT(w_count(&f->w, 'L', "mx1.example.com"), 1, "enforce: first: TLSA of mx1");
	CHECK_INT(w_count(&f->w, 'L', "mx2.example.net"), 1, "enforce: first: TLSA of mx2");
	CHECK_INT(w_count(&f->w, 'T', "_smtp._tls.example.com"), 1, "enforce: first: TLS-RPT looked up");
	stsguard_discovery_free(d);

	/* The cache entry says what was fetched, when, under which id. */
	stsguard_cache_entry e;
	if (CHECK_STATUS(stsguard_cache_get(f->cache, D, &e), STSGUARD_OK, "enforce: cache entry")) {
		CHECK_STR(e.policy_id, ID1, "enforce: cache entry: policy_id");
		CHECK_STR(e.txt_id, ID1, "enforce: cache entry: txt_id");
		CHECK_INT(e.fetched_at, T0, "enforce: cache entry: fetched_at");
		CHECK_INT(e.expires_at, T0 + 86400, "enforce: cache entry: expires_at");
		CHECK_TRUE(e.policy != NULL, "enforce: cache entry: policy");
	}
	stsguard_cache_entry_clear(&e);

	at(f, 60);
	d = disc(f, D, "enforce: cache hit");
	expect("enforce: cache hit", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_CACHE, STSGUARD_REASON_NONE);
	expect_policy("enforce: cache hit", d, ID1, STSGUARD_MODE_ENFORCE);
	expect_work("enforce: cache hit", f, 0, 1);
	if (d != NULL) {
		CHECK_INT(d->expires_at, T0 + 86400, "enforce: cache hit: expires_at unchanged");
		CHECK_INT(d->n_hosts, 2, "enforce: cache hit: hosts");
	}
	stsguard_discovery_free(d);

	/* Any case, trailing dot: the same policy domain. */
	at(f, 120);
	d = disc(f, "EXAMPLE.Com.", "enforce: upper case, trailing dot");
	expect("enforce: upper case, trailing dot", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_CACHE,
	       STSGUARD_REASON_NONE);
	expect_work("enforce: upper case, trailing dot", f, 0, 1);
	if (d != NULL)
		CHECK_STR(d->domain, D, "enforce: upper case, trailing dot: normalised domain");
	stsguard_discovery_free(d);
	CHECK_INT(stsguard_cache_count(f->cache), 1, "enforce: one cache entry");
	fx_free(f);
}

static void sc_testing(void)
{
	static const struct mxr mx[] = { { 10, "mx1.example.com" }, { 20, "other.example.org" } };
	struct fx *f = fx_new(NULL);

	if (f == NULL)
		return;
	sts_txt(&f->w, D, TXT1, NULL);
	policy(&f->w, D, P_TEST);
	set_mx(&f->w, D, mx, 2);
	stsguard_discovery *d = disc(f, D, "testing");
	expect("testing", d, STSGUARD_VERDICT_TESTING, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
	expect_policy("testing", d, ID1, STSGUARD_MODE_TESTING);
	expect_work("testing", f, 1, 1);
	if (d != NULL && CHECK_INT(d->n_hosts, 2, "testing: n_hosts")) {
		CHECK_INT(d->hosts[0].allowed, 1, "testing: matching host allowed");
		CHECK_INT(d->hosts[1].allowed, 0, "testing: other host flagged (what enforce would do)");
	}
	stsguard_discovery_free(d);
	at(f, 10);
	d = disc(f, D, "testing: cache hit");
	expect("testing: cache hit", d, STSGUARD_VERDICT_TESTING, STSGUARD_SOURCE_CACHE, STSGUARD_REASON_NONE);
	expect_work("testing: cache hit", f, 0, 1);
	stsguard_discovery_free(d);
	fx_free(f);
}

static void sc_mode_none(void)
{
	struct fx *f = fx_new(NULL);
	stsguard_discovery *d;

	if (f == NULL)
		return;
	std_world(f);
	d = disc(f, D, "none: enforce first");
	expect("none: enforce first", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
	stsguard_discovery_free(d);

	/* §5 / §8.3: the domain publishes mode none under a new id to remove enforcement. */
	at(f, 3600);
	sts_txt(&f->w, D, TXT2, NULL);
	policy(&f->w, D, P_NONE);
	d = disc(f, D, "none: new id, mode none");
	expect("none: new id, mode none", d, STSGUARD_VERDICT_NONE, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
	expect_policy("none: new id, mode none", d, ID2, STSGUARD_MODE_NONE);
	expect_work("none: new id, mode none", f, 1, 1);
	CHECK_INT(w_count(&f->w, 'L', NULL), 0, "none: no TLSA lookups for mode none");
	if (d != NULL)
		CHECK_INT(d->expires_at, T0 + 3600 + 86400, "none: expires_at of the none policy");
	stsguard_discovery_free(d);

	at(f, 3660);
	d = disc(f, D, "none: cached none");
	expect("none: cached none", d, STSGUARD_VERDICT_NONE, STSGUARD_SOURCE_CACHE, STSGUARD_REASON_NONE);
	expect_policy("none: cached none", d, ID2, STSGUARD_MODE_NONE);
	expect_work("none: cached none", f, 0, 1);
	stsguard_discovery_free(d);

	/* Even with the TXT gone and the policy host down, the none policy (not the old enforce) applies. */
	at(f, 7200);
	sts_none(&f->w, D, 300);
	policy_fail(&f->w, D, STSGUARD_REASON_CONNECT, NULL);
	d = disc(f, D, "none: TXT gone");
	expect_policy("none: TXT gone", d, ID2, STSGUARD_MODE_NONE);
	if (d != NULL)
		CHECK_STR(verdict_str(d->verdict), "none", "none: TXT gone: verdict");
	stsguard_discovery_free(d);

	stsguard_cache_entry e;
	if (CHECK_STATUS(stsguard_cache_get(f->cache, D, &e), STSGUARD_OK, "none: cache entry") &&
	    CHECK_TRUE(e.policy != NULL, "none: cache entry has a policy"))
		CHECK_INT(e.policy->mode, STSGUARD_MODE_NONE, "none: cached enforce replaced by none");
	stsguard_cache_entry_clear(&e);
	fx_free(f);
}

/* No TXT: no policy, and the negative answer is believed for its negative TTL (capped). */
static void no_txt_case(uint32_t neg_ttl, int64_t believed, const char *name)
{
	struct fx *f = fx_new(NULL);
	char step[200];
	stsguard_discovery *d;

	if (f == NULL)
		return;
	std_world(f);
	sts_none(&f->w, D, neg_ttl);

	snprintf(step, sizeof step, "%s: first", name);
	d = disc(f, D, step);
	expect(step, d, STSGUARD_VERDICT_NO_POLICY, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
	expect_policy(step, d, NULL, STSGUARD_MODE_NONE);
	expect_work(step, f, 0, 1);
	if (d != NULL) {
		CHECK_INT(d->n_hosts, 0, step);
		CHECK_STR(d->policy_id, "", step);
	}
	CHECK_INT(w_count(&f->w, 'M', NULL) + w_count(&f->w, 'L', NULL), 0, step);
	stsguard_discovery_free(d);

	if (believed > 0) {
		at(f, believed - 1);
		snprintf(step, sizeof step, "%s: within the negative TTL", name);
		d = disc(f, D, step);
		expect(step, d, STSGUARD_VERDICT_NO_POLICY, STSGUARD_SOURCE_CACHE, STSGUARD_REASON_NONE);
		expect_work(step, f, 0, 0);
		stsguard_discovery_free(d);
	}

	at(f, believed);
	snprintf(step, sizeof step, "%s: negative TTL over", name);
	d = disc(f, D, step);
	expect(step, d, STSGUARD_VERDICT_NO_POLICY, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
	expect_work(step, f, 0, 1);
	stsguard_discovery_free(d);

	/* The record appears; found once the (new) negative answer has run out. */
	sts_txt(&f->w, D, TXT1, NULL);
	at(f, 2 * believed + 1);
	snprintf(step, sizeof step, "%s: TXT published", name);
	d = disc(f, D, step);
	expect(step, d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
	expect_work(step, f, 1, 1);
	stsguard_discovery_free(d);
	fx_free(f);
}

static void sc_no_txt(void)
{
	no_txt_case(600, 600, "no TXT (negative TTL 600)");
	no_txt_case(86400, STSGUARD_TXT_NONE_MAX, "no TXT (negative TTL 86400, capped)");
	no_txt_case(0, 0, "no TXT (negative TTL 0)");

	/* Only non-STS records: the same as no record. */
	struct fx *f = fx_new(NULL);
	if (f == NULL)
		return;
	std_world(f);
	sts_txt(&f->w, D, "v=spf1 -all", "google-site-verification=abc");
	stsguard_discovery *d = disc(f, D, "no STSv1 record");
	expect("no STSv1 record", d, STSGUARD_VERDICT_NO_POLICY, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
	expect_work("no STSv1 record", f, 0, 1);
	stsguard_discovery_free(d);
	fx_free(f);
}

static void sc_txt_invalid(void)
{
	static const struct {
		const char *name, *rec1, *rec2;
	} cases[] = {
		{ "two STSv1 records", TXT1, TXT2 },
		{ "two STSv1 records, same id", TXT1, TXT1 },
		{ "STSv1 record without id", "v=STSv1;", NULL },
		{ "STSv1 record with a bad id", "v=STSv1; id=bad-id_1;", NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct fx *f = fx_new(NULL);
		if (f == NULL)
			return;
		std_world(f);
		sts_txt(&f->w, D, cases[i].rec1, cases[i].rec2);
		stsguard_discovery *d = disc(f, D, cases[i].name);
		expect(cases[i].name, d, STSGUARD_VERDICT_NO_POLICY, STSGUARD_SOURCE_FETCHED,
		       STSGUARD_REASON_TXT_INVALID);
		expect_policy(cases[i].name, d, NULL, STSGUARD_MODE_NONE);
		expect_work(cases[i].name, f, 0, 1);
		if (d != NULL)
			CHECK_TRUE(d->error_detail[0] != '\0', cases[i].name);
		stsguard_discovery_free(d);
		fx_free(f);
	}
}

static void sc_txt_servfail(void)
{
	struct fx *f = fx_new(NULL);
	stsguard_discovery *d;

	if (f == NULL)
		return;
	/* Nothing cached: "could not find out" is tempfail, not no-policy. */
	std_world(f);
	sts_servfail(&f->w, D);
	d = disc(f, D, "servfail, nothing cached");
	expect("servfail, nothing cached", d, STSGUARD_VERDICT_TEMPFAIL, STSGUARD_SOURCE_FETCHED,
	       STSGUARD_REASON_TXT_TEMPFAIL);
	expect_policy("servfail, nothing cached", d, NULL, STSGUARD_MODE_NONE);
	expect_work("servfail, nothing cached", f, 0, 1);
	stsguard_discovery_free(d);
	/* A failure is not cached: the next query asks again. */
	at(f, 1);
	d = disc(f, D, "servfail, nothing cached, again");
	expect("servfail, nothing cached, again", d, STSGUARD_VERDICT_TEMPFAIL, STSGUARD_SOURCE_FETCHED,
	       STSGUARD_REASON_TXT_TEMPFAIL);
	expect_work("servfail, nothing cached, again", f, 0, 1);
	stsguard_discovery_free(d);
	/* DNS recovers. */
	at(f, 2);
	sts_txt(&f->w, D, TXT1, NULL);
	d = disc(f, D, "servfail: recovered");
	expect("servfail: recovered", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
	stsguard_discovery_free(d);

	/* With a cached policy: §3.3, the cached policy MUST be applied. */
	at(f, 600);
	sts_servfail(&f->w, D);
	d = disc(f, D, "servfail, policy cached");
	expect("servfail, policy cached", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_CACHE, STSGUARD_REASON_TXT_TEMPFAIL); /* applied, and the failure reported */
	expect_policy("servfail, policy cached", d, ID1, STSGUARD_MODE_ENFORCE);
	expect_work("servfail, policy cached", f, 0, 1);
	stsguard_discovery_free(d);

	/* And when the TXT turns invalid (two records): still the cached policy. */
	at(f, 700);
	sts_txt(&f->w, D, TXT1, TXT2);
	d = disc(f, D, "TXT invalid, policy cached");
	expect_policy("TXT invalid, policy cached", d, ID1, STSGUARD_MODE_ENFORCE);
	expect_work("TXT invalid, policy cached", f, 0, 1);
	if (d != NULL)
		CHECK_STR(verdict_str(d->verdict), "enforce", "TXT invalid, policy cached: verdict");
	stsguard_discovery_free(d);
	fx_free(f);
}

static void sc_id_change(void)
{
	static const struct mxr mx[] = { { 10, "mx1.example.com" }, { 20, "mx9.example.com" } };
	struct fx *f = fx_new(NULL);
	stsguard_discovery *d;

	if (f == NULL)
		return;
	std_world(f);
	set_mx(&f->w, D, mx, 2);
	d = disc(f, D, "id change: first");
	expect("id change: first", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
	if (d != NULL && CHECK_INT(d->n_hosts, 2, "id change: first: hosts"))
		CHECK_INT(d->hosts[1].allowed, 0, "id change: first: mx9 not allowed by policy 1");
	stsguard_discovery_free(d);

	at(f, 600);
	sts_txt(&f->w, D, TXT2, NULL);
	policy(&f->w, D, P_ENF_MX9);
	d = disc(f, D, "id change: new id");
	expect("id change: new id", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
	expect_policy("id change: new id", d, ID2, STSGUARD_MODE_ENFORCE);
	expect_work("id change: new id", f, 1, 1);
	if (d != NULL) {
		CHECK_INT(d->expires_at, T0 + 600 + 86400, "id change: new expires_at");
		if (d->policy != NULL && CHECK_INT(d->policy->n_mx, 1, "id change: new n_mx"))
			CHECK_STR(d->policy->mx[0], "mx9.example.com", "id change: new mx");
		if (CHECK_INT(d->n_hosts, 2, "id change: hosts")) {
			CHECK_INT(d->hosts[0].allowed, 0, "id change: mx1 no longer allowed");
			CHECK_INT(d->hosts[1].allowed, 1, "id change: mx9 allowed");
		}
	}
	stsguard_discovery_free(d);

	at(f, 660);
	d = disc(f, D, "id change: cached new");
	expect("id change: cached new", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_CACHE, STSGUARD_REASON_NONE);
	expect_policy("id change: cached new", d, ID2, STSGUARD_MODE_ENFORCE);
	expect_work("id change: cached new", f, 0, 1);
	stsguard_discovery_free(d);
	fx_free(f);
}

static void sc_txt_removed(void)
{
	struct fx *f = fx_new(NULL);
	stsguard_discovery *d;

	if (f == NULL)
		return;
	std_world(f);
	d = disc(f, D, "TXT removed: first");
	expect("TXT removed: first", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
	stsguard_discovery_free(d);

	/* An attacker (or an admin) removes the TXT; the policy host is unreachable too. */
	sts_none(&f->w, D, 300);
	policy_host_addrs(&f->w, D, STSGUARD_NONE);

	static const int64_t times[] = { 1, 3600, 43199, 43200, 43201, 86000, 86399 };
	for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
		char step[120];
		snprintf(step, sizeof step, "TXT removed: +%" PRId64 " s, cached policy applies", times[i]);
		at(f, times[i]);
		d = disc(f, D, step);
		expect_policy(step, d, ID1, STSGUARD_MODE_ENFORCE);
		if (d != NULL) {
			CHECK_STR(verdict_str(d->verdict), "enforce", step);
			CHECK_INT(d->expires_at, T0 + 86400, step);
			CHECK_STR(d->source == STSGUARD_SOURCE_CACHE ? "cache" : "fetched", "cache", step);
		}
		stsguard_discovery_free(d);
	}

	at(f, 86401);
	d = disc(f, D, "TXT removed: after max_age");
	expect_policy("TXT removed: after max_age", d, NULL, STSGUARD_MODE_NONE);
	if (d != NULL) {
		CHECK_STR(verdict_str(d->verdict), "no-policy", "TXT removed: after max_age: verdict");
		CHECK_INT(d->n_hosts, 0, "TXT removed: after max_age: no hosts");
	}
	stsguard_discovery_free(d);
	fx_free(f);
}

/* §3.3: a refetch fails with a policy cached: use it, report, back off 5 minutes, retry. */
static void sc_fetch_fail_cached(void)
{
	struct fx *f = fx_new(NULL);
	stsguard_discovery *d;

	if (f == NULL)
		return;
	std_world(f);
	d = disc(f, D, "refetch fails: first");
	expect("refetch fails: first", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
	stsguard_discovery_free(d);

	at(f, 100);
	sts_txt(&f->w, D, TXT2, NULL);
	policy_fail(&f->w, D, STSGUARD_REASON_HTTP_STATUS, "HTTP 500");
	d = disc(f, D, "refetch fails: new id, HTTP 500");
	expect("refetch fails: new id, HTTP 500", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_CACHE,
	       STSGUARD_REASON_HTTP_STATUS);
	expect_policy("refetch fails: new id, HTTP 500", d, ID1, STSGUARD_MODE_ENFORCE);
	expect_work("refetch fails: new id, HTTP 500", f, 1, 1);
	if (d != NULL)
		CHECK_TRUE(d->error_detail[0] != '\0', "refetch fails: error detail");
	stsguard_discovery_free(d);

	static const struct {
		int64_t t;
		size_t fetches;
	} steps[] = {
		{ 101, 0 }, { 250, 0 }, { 399, 0 }, /* within 5 minutes of the failure */
		{ 400, 1 },                         /* retry; fails again: 10 minutes now */
		{ 401, 0 }, { 999, 0 }, { 1000, 1 }, { 1001, 0 },
	};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		char step[120];
		snprintf(step, sizeof step, "refetch fails: +%" PRId64 " s", steps[i].t);
		at(f, steps[i].t);
		d = disc(f, D, step);
		/* reason.h: during the backoff the failure that started it is reported */
		expect(step, d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_CACHE, STSGUARD_REASON_HTTP_STATUS);
		expect_policy(step, d, ID1, STSGUARD_MODE_ENFORCE);
		expect_work(step, f, steps[i].fetches, 1);
		stsguard_discovery_free(d);
	}

	/* The policy host recovers; the next retry (20 minutes after the last failure) succeeds. */
	policy(&f->w, D, P_ENF_MX9);
	at(f, 2199);
	d = disc(f, D, "refetch fails: still backing off");
	expect_work("refetch fails: still backing off", f, 0, 1);
	stsguard_discovery_free(d);
	at(f, 2200);
	d = disc(f, D, "refetch fails: recovered");
	expect("refetch fails: recovered", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
	expect_policy("refetch fails: recovered", d, ID2, STSGUARD_MODE_ENFORCE);
	expect_work("refetch fails: recovered", f, 1, 1);
	stsguard_discovery_free(d);
	stsguard_cache_entry e;
	if (CHECK_STATUS(stsguard_cache_get(f->cache, D, &e), STSGUARD_OK, "refetch fails: cache entry")) {
		CHECK_INT(e.failures, 0, "refetch fails: failures reset by a success");
		CHECK_STR(e.policy_id, ID2, "refetch fails: cached id");
	}
	stsguard_cache_entry_clear(&e);
	at(f, 2260);
	d = disc(f, D, "refetch fails: cached after recovery");
	expect("refetch fails: cached after recovery", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_CACHE,
	       STSGUARD_REASON_NONE);
	expect_work("refetch fails: cached after recovery", f, 0, 1);
	stsguard_discovery_free(d);
	fx_free(f);
}

/* §3.3 / §5: a valid TXT, no policy can be fetched, nothing cached: no-policy, failure named. */
static void sc_fetch_fail_nothing_cached(void)
{
	static char big[STSGUARD_POLICY_BODY_MAX + 100];
	static const struct {
		const char *name;
		stsguard_reason fail;       /* fetch failure; NONE: the body below is served */
		const char *body;           /* NULL: the big body */
		stsguard_status addrs;      /* policy host address lookup */
		stsguard_reason want;
		const char *result_type;    /* RFC 8460 §4.3 */
		size_t fetches;
	} cases[] = {
		{ "http-status", STSGUARD_REASON_HTTP_STATUS, "", STSGUARD_OK, STSGUARD_REASON_HTTP_STATUS,
		  "sts-policy-fetch-error", 1 },
		{ "http-redirect", STSGUARD_REASON_HTTP_REDIRECT, "", STSGUARD_OK, STSGUARD_REASON_HTTP_REDIRECT,
		  "sts-policy-fetch-error", 1 },
		{ "connect", STSGUARD_REASON_CONNECT, "", STSGUARD_OK, STSGUARD_REASON_CONNECT, "sts-policy-fetch-error",
		  1 },
		{ "timeout", STSGUARD_REASON_TIMEOUT, "", STSGUARD_OK, STSGUARD_REASON_TIMEOUT, "sts-policy-fetch-error",
		  1 },
		{ "tls handshake", STSGUARD_REASON_TLS, "", STSGUARD_OK, STSGUARD_REASON_TLS, "sts-policy-fetch-error", 1 },
		{ "certificate-expired", STSGUARD_REASON_CERT_EXPIRED, "", STSGUARD_OK, STSGUARD_REASON_CERT_EXPIRED,
		  "sts-webpki-invalid", 1 },
		{ "certificate untrusted", STSGUARD_REASON_CERT_UNTRUSTED, "", STSGUARD_OK,
		  STSGUARD_REASON_CERT_UNTRUSTED, "sts-webpki-invalid", 1 },
		{ "certificate host mismatch", STSGUARD_REASON_CERT_HOSTNAME, "", STSGUARD_OK,
		  STSGUARD_REASON_CERT_HOSTNAME, "sts-webpki-invalid", 1 },
		{ "content-type", STSGUARD_REASON_CONTENT_TYPE, "", STSGUARD_OK, STSGUARD_REASON_CONTENT_TYPE,
		  "sts-policy-invalid", 1 },
		{ "too big (fetcher)", STSGUARD_REASON_TOO_BIG, "", STSGUARD_OK, STSGUARD_REASON_TOO_BIG,
		  "sts-policy-invalid", 1 },
		{ "too big (body over the cap)", STSGUARD_REASON_NONE, NULL, STSGUARD_OK, STSGUARD_REASON_TOO_BIG,
		  "sts-policy-invalid", 1 },
		{ "policy syntax", STSGUARD_REASON_NONE, "<html>not a policy</html>\n", STSGUARD_OK,
		  STSGUARD_REASON_POLICY_INVALID, "sts-policy-invalid", 1 },
		{ "policy version", STSGUARD_REASON_NONE, "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
		  STSGUARD_OK, STSGUARD_REASON_POLICY_INVALID, "sts-policy-invalid", 1 },
		{ "policy enforce without mx", STSGUARD_REASON_NONE, "version: STSv1\nmode: enforce\nmax_age: 86400\n",
		  STSGUARD_OK, STSGUARD_REASON_POLICY_INVALID, "sts-policy-invalid", 1 },
		{ "policy host NXDOMAIN", STSGUARD_REASON_NONE, P_ENF, STSGUARD_NONE, STSGUARD_REASON_HOST_NOT_FOUND,
		  "sts-policy-fetch-error", 0 },
		{ "policy host SERVFAIL", STSGUARD_REASON_NONE, P_ENF, STSGUARD_TEMPFAIL, STSGUARD_REASON_HOST_TEMPFAIL,
		  "sts-policy-fetch-error", 0 },
	};

	memset(big, '#', sizeof big);
	memcpy(big, P_ENF, strlen(P_ENF));
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char step[160];
		struct fx *f = fx_new(NULL);
		if (f == NULL)
			return;
		snprintf(step, sizeof step, "fetch fails, nothing cached: %s", cases[i].name);
		std_world(f);
		if (cases[i].fail != STSGUARD_REASON_NONE)
			policy_fail(&f->w, D, cases[i].fail, NULL);
		else if (cases[i].body != NULL)
			policy(&f->w, D, cases[i].body);
		else
			policy_body(&f->w, D, big, sizeof big);
		if (cases[i].addrs != STSGUARD_OK)
			policy_host_addrs(&f->w, D, cases[i].addrs);
		stsguard_discovery *d = disc(f, D, step);
		expect(step, d, STSGUARD_VERDICT_NO_POLICY, STSGUARD_SOURCE_FETCHED, cases[i].want);
		expect_policy(step, d, NULL, STSGUARD_MODE_NONE);
		expect_work(step, f, cases[i].fetches, 1);
		if (d != NULL) {
			CHECK_STR(stsguard_reason_result_type(d->error), cases[i].result_type, step);
			CHECK_INT(d->n_hosts, 0, step);
			char *json = NULL;
			if (CHECK_STATUS(stsguard_discovery_to_json(d, &json), STSGUARD_OK, step)) {
				char want[120];
				snprintf(want, sizeof want, "\"result_type\":\"%s\"", cases[i].result_type);
				if (!CHECK_TRUE(strstr(json, want) != NULL, step))
					fprintf(stderr, "    json: %s\n", json);
			}
			free(json);
		}
		stsguard_discovery_free(d);
		fx_free(f);
	}
	/* The names the CLI and logs show for the documented reasons. */
	CHECK_STR(stsguard_reason_name(STSGUARD_REASON_TXT_INVALID), "txt-invalid", "reason name txt-invalid");
	CHECK_STR(stsguard_reason_name(STSGUARD_REASON_HTTP_REDIRECT), "http-redirect", "reason name http-redirect");
	CHECK_STR(stsguard_reason_name(STSGUARD_REASON_CERT_EXPIRED), "certificate-expired",
	          "reason name certificate-expired");
	CHECK_TRUE(stsguard_reason_result_type(STSGUARD_REASON_NONE) == NULL, "result type of NONE");
}

/* Backoff: 300 s, doubling, capped at STSGUARD_BACKOFF_MAX; per id. */
static void sc_backoff_growth(void)
{
	static const int64_t delays[] = { 300, 600, 1200, 2400, 3600, 3600, 3600 };
	struct fx *f = fx_new(NULL);
	stsguard_discovery *d;
	int64_t last = 0;

	if (f == NULL)
		return;
	std_world(f);
	policy_fail(&f->w, D, STSGUARD_REASON_CONNECT, NULL);
	d = disc(f, D, "backoff: first failure");
	expect("backoff: first failure", d, STSGUARD_VERDICT_NO_POLICY, STSGUARD_SOURCE_FETCHED,
	       STSGUARD_REASON_CONNECT);
	expect_work("backoff: first failure", f, 1, 1);
	stsguard_discovery_free(d);

	for (size_t i = 0; i < sizeof delays / sizeof delays[0]; i++) {
		char step[120];
		stsguard_cache_entry e;

		snprintf(step, sizeof step, "backoff: after failure %zu, cache entry", i + 1);
		if (CHECK_STATUS(stsguard_cache_get(f->cache, D, &e), STSGUARD_OK, step)) {
			CHECK_INT(e.failures, i + 1, step);
			CHECK_INT(e.next_retry - e.last_failure_at, delays[i], step);
			CHECK_STR(e.failed_id, ID1, step);
		}
		stsguard_cache_entry_clear(&e);

		snprintf(step, sizeof step, "backoff: failure %zu, 1 s before the retry", i + 1);
		at(f, last + delays[i] - 1);
		d = disc(f, D, step);
		expect(step, d, STSGUARD_VERDICT_NO_POLICY, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_CONNECT);
		expect_work(step, f, 0, 1);
		stsguard_discovery_free(d);

		snprintf(step, sizeof step, "backoff: failure %zu, retry after %" PRId64 " s", i + 1, delays[i]);
		last += delays[i];
		at(f, last);
		d = disc(f, D, step);
		expect(step, d, STSGUARD_VERDICT_NO_POLICY, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_CONNECT);
		expect_work(step, f, 1, 1);
		stsguard_discovery_free(d);
	}

	/* A new id during the backoff of the old one is a new policy: fetched at once. */
	at(f, last + 10);
	sts_txt(&f->w, D, TXT2, NULL);
	policy(&f->w, D, P_ENF);
	d = disc(f, D, "backoff: new id fetched at once");
	expect("backoff: new id fetched at once", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_FETCHED,
	       STSGUARD_REASON_NONE);
	expect_policy("backoff: new id fetched at once", d, ID2, STSGUARD_MODE_ENFORCE);
	expect_work("backoff: new id fetched at once", f, 1, 1);
	stsguard_discovery_free(d);
	fx_free(f);

	/* The same with a policy cached: old id 1 cached, id 2 failing, id 3 appears. */
	f = fx_new(NULL);
	if (f == NULL)
		return;
	std_world(f);
	d = disc(f, D, "backoff+cache: first");
	stsguard_discovery_free(d);
	at(f, 100);
	sts_txt(&f->w, D, TXT2, NULL);
	policy_fail(&f->w, D, STSGUARD_REASON_TIMEOUT, NULL);
	d = disc(f, D, "backoff+cache: id 2 fails");
	expect_policy("backoff+cache: id 2 fails", d, ID1, STSGUARD_MODE_ENFORCE);
	expect_work("backoff+cache: id 2 fails", f, 1, 1);
	stsguard_discovery_free(d);
	at(f, 110);
	d = disc(f, D, "backoff+cache: id 2 backing off");
	expect("backoff+cache: id 2 backing off", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_CACHE,
	       STSGUARD_REASON_TIMEOUT);
	expect_policy("backoff+cache: id 2 backing off", d, ID1, STSGUARD_MODE_ENFORCE);
	expect_work("backoff+cache: id 2 backing off", f, 0, 1);
	stsguard_discovery_free(d);
	at(f, 120);
	sts_txt(&f->w, D, TXT3, NULL);
	policy(&f->w, D, P_ENF_MX9);
	d = disc(f, D, "backoff+cache: id 3 fetched at once");
	expect("backoff+cache: id 3 fetched at once", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_FETCHED,
	       STSGUARD_REASON_NONE);
	expect_policy("backoff+cache: id 3 fetched at once", d, ID3, STSGUARD_MODE_ENFORCE);
	expect_work("backoff+cache: id 3 fetched at once", f, 1, 1);
	stsguard_discovery_free(d);
	fx_free(f);
}

/* §3.3 / §10.2: proactive refresh at half of max_age, at most daily, with the TXT unchanged. */
static void refresh_case(const char *name, const char *body, const char *body_new, int64_t max_age,
                         int64_t refresh)
{
	struct fx *f = fx_new(NULL);
	char step[160];
	stsguard_discovery *d;

	if (f == NULL)
		return;
	std_world(f);
	policy(&f->w, D, body);
	snprintf(step, sizeof step, "%s: first", name);
	d = disc(f, D, step);
	expect(step, d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
	stsguard_discovery_free(d);

	/* The domain changes its policy body but forgets to change the id. */
	policy(&f->w, D, body_new);
	at(f, refresh - 1);
	snprintf(step, sizeof step, "%s: before the refresh time", name);
	d = disc(f, D, step);
	expect(step, d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_CACHE, STSGUARD_REASON_NONE);
	expect_work(step, f, 0, 1);
	if (d != NULL && d->policy != NULL)
		CHECK_STR(d->policy->mx[0], "mx1.example.com", step);
	stsguard_discovery_free(d);

	at(f, refresh);
	snprintf(step, sizeof step, "%s: refresh time", name);
	d = disc(f, D, step);
	expect(step, d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
	expect_policy(step, d, ID1, STSGUARD_MODE_ENFORCE);
	expect_work(step, f, 1, 1);
	if (d != NULL) {
		CHECK_INT(d->expires_at, T0 + refresh + max_age, step);
		if (d->policy != NULL && CHECK_INT(d->policy->n_mx, 1, step))
			CHECK_STR(d->policy->mx[0], "mx9.example.com", step);
	}
	stsguard_discovery_free(d);

	at(f, refresh + 60);
	snprintf(step, sizeof step, "%s: after the refresh", name);
	d = disc(f, D, step);
	expect(step, d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_CACHE, STSGUARD_REASON_NONE);
	expect_work(step, f, 0, 1);
	stsguard_discovery_free(d);

	/* The next refresh counts from the new fetch. */
	at(f, 2 * refresh - 1);
	snprintf(step, sizeof step, "%s: before the second refresh", name);
	d = disc(f, D, step);
	expect_work(step, f, 0, 1);
	stsguard_discovery_free(d);
	at(f, 2 * refresh);
	snprintf(step, sizeof step, "%s: second refresh", name);
	d = disc(f, D, step);
	expect_work(step, f, 1, 1);
	stsguard_discovery_free(d);
	fx_free(f);
}

static void sc_refresh(void)
{
	/* max_age one week: refresh daily (STSGUARD_REFRESH_MAX). */
	refresh_case("refresh (max_age 1 week)", P_ENF_WEEK, P_ENF_WEEK_MX9, 604800, STSGUARD_REFRESH_MAX);
	/* max_age one hour: refresh at half of it. */
	refresh_case("refresh (max_age 1 hour)", P_ENF_HOUR, P_ENF_HOUR_MX9, 3600, 1800);

	/* Whatever the TXT says: refresh also when the TXT lookup fails or the record is gone. */
	static const char *const how[] = { "TXT SERVFAIL", "TXT gone" };
	for (int k = 0; k < 2; k++) {
		char step[120];
		struct fx *f = fx_new(NULL);
		if (f == NULL)
			return;
		std_world(f);
		policy(&f->w, D, P_ENF_HOUR);
		stsguard_discovery *d = disc(f, D, "refresh: first");
		stsguard_discovery_free(d);
		if (k == 0)
			sts_servfail(&f->w, D);
		else
			sts_none(&f->w, D, 60);
		policy(&f->w, D, P_ENF_HOUR_MX9);
		at(f, 1799);
		snprintf(step, sizeof step, "refresh with %s: before", how[k]);
		d = disc(f, D, step);
		expect_work(step, f, 0, 1);
		expect_policy(step, d, ID1, STSGUARD_MODE_ENFORCE);
		stsguard_discovery_free(d);
		at(f, 1800);
		snprintf(step, sizeof step, "refresh with %s: refresh time", how[k]);
		d = disc(f, D, step);
		expect_work(step, f, 1, 1);
		expect_policy(step, d, ID1, STSGUARD_MODE_ENFORCE);
		if (d != NULL && d->policy != NULL)
			CHECK_STR(d->policy->mx[0], "mx9.example.com", step);
		if (d != NULL)
			CHECK_INT(d->expires_at, T0 + 1800 + 3600, step);
		stsguard_discovery_free(d);
		fx_free(f);
	}

	/* A failed refresh keeps the cached policy and its expiry. */
	struct fx *f = fx_new(NULL);
	if (f == NULL)
		return;
	std_world(f);
	policy(&f->w, D, P_ENF_HOUR);
	stsguard_discovery *d = disc(f, D, "failed refresh: first");
	stsguard_discovery_free(d);
	policy_fail(&f->w, D, STSGUARD_REASON_CERT_EXPIRED, NULL);
	at(f, 1800);
	d = disc(f, D, "failed refresh");
	expect("failed refresh", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_CACHE, STSGUARD_REASON_CERT_EXPIRED);
	expect_policy("failed refresh", d, ID1, STSGUARD_MODE_ENFORCE);
	expect_work("failed refresh", f, 1, 1);
	if (d != NULL)
		CHECK_INT(d->expires_at, T0 + 3600, "failed refresh: expiry unchanged");
	stsguard_discovery_free(d);
	fx_free(f);
}

/* §5.1: a cached policy is usable only within max_age of its fetch. */
static void sc_expiry(void)
{
	for (int k = 0; k < 2; k++) {
		const char *name = k == 0 ? "expiry, TXT still there, host down" : "expiry, TXT gone";
		char step[160];
		struct fx *f = fx_new(NULL);
		if (f == NULL)
			return;
		std_world(f);
		policy(&f->w, D, P_ENF_10MIN);
		stsguard_discovery *d = disc(f, D, "expiry: first");
		expect("expiry: first", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
		if (d != NULL)
			CHECK_INT(d->expires_at, T0 + 600, "expiry: expires_at");
		stsguard_discovery_free(d);

		policy_fail(&f->w, D, STSGUARD_REASON_CONNECT, NULL);
		if (k == 1)
			sts_none(&f->w, D, 30);
		at(f, 100);
		snprintf(step, sizeof step, "%s: within max_age", name);
		d = disc(f, D, step);
		expect_policy(step, d, ID1, STSGUARD_MODE_ENFORCE);
		stsguard_discovery_free(d);

		at(f, 601);
		snprintf(step, sizeof step, "%s: after max_age", name);
		d = disc(f, D, step);
		expect_policy(step, d, NULL, STSGUARD_MODE_NONE);
		if (d != NULL) {
			CHECK_STR(verdict_str(d->verdict), "no-policy", step);
			CHECK_STR(d->policy_id, "", step);
		}
		if (k == 0)
			expect_work(step, f, 1, 1); /* the TXT still names a policy: try to fetch it */
		else
			expect_work(step, f, 0, 1); /* no TXT, no live policy: nothing to refresh */
		stsguard_discovery_free(d);
		fx_free(f);
	}
}

/* max_age 0: the policy applies to this delivery but is never reused from the cache. */
static void sc_max_age_zero(void)
{
	struct fx *f = fx_new(NULL);
	stsguard_discovery *d;

	if (f == NULL)
		return;
	std_world(f);
	policy(&f->w, D, POL("enforce", "0", MX_STD));
	d = disc(f, D, "max_age 0: first");
	expect("max_age 0: first", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
	expect_work("max_age 0: first", f, 1, 1);
	stsguard_discovery_free(d);
	at(f, 1);
	d = disc(f, D, "max_age 0: one second later");
	expect("max_age 0: one second later", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_FETCHED,
	       STSGUARD_REASON_NONE);
	expect_work("max_age 0: one second later", f, 1, 1);
	stsguard_discovery_free(d);
	fx_free(f);
}

static void sc_dane(void)
{
	struct fx *f = fx_new(NULL);
	stsguard_discovery *d;

	if (f == NULL)
		return;
	std_world(f);

	tlsa(&f->w, "mx1.example.com", STSGUARD_OK, 1, true);
	d = disc(f, D, "dane: secure TLSA on mx1");
	expect("dane: secure TLSA on mx1", d, STSGUARD_VERDICT_DANE, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
	if (d != NULL && CHECK_INT(d->n_hosts, 2, "dane: hosts")) {
		CHECK_INT(d->hosts[0].dane, STSGUARD_DANE_PRESENT, "dane: mx1 present");
		CHECK_INT(d->hosts[1].dane, STSGUARD_DANE_ABSENT, "dane: mx2 absent");
		CHECK_INT(d->hosts[0].allowed, 1, "dane: mx1 allowed");
	}
	stsguard_discovery_free(d);

	/* The same from the cache: DANE is looked up on every discovery. */
	at(f, 60);
	d = disc(f, D, "dane: cached policy, secure TLSA");
	expect("dane: cached policy, secure TLSA", d, STSGUARD_VERDICT_DANE, STSGUARD_SOURCE_CACHE,
	       STSGUARD_REASON_NONE);
	expect_work("dane: cached policy, secure TLSA", f, 0, 1);
	stsguard_discovery_free(d);

	/* TLSA lookup fails (SERVFAIL, e.g. bogus) in enforce mode: tempfail. */
	at(f, 120);
	tlsa(&f->w, "mx1.example.com", STSGUARD_NONE, 0, true);
	tlsa(&f->w, "mx2.example.net", STSGUARD_TEMPFAIL, 0, false);
	d = disc(f, D, "dane: TLSA SERVFAIL in enforce");
	expect("dane: TLSA SERVFAIL in enforce", d, STSGUARD_VERDICT_TEMPFAIL, STSGUARD_SOURCE_CACHE,
	       STSGUARD_REASON_NONE);
	if (d != NULL && CHECK_INT(d->n_hosts, 2, "dane: SERVFAIL: hosts")) {
		CHECK_INT(d->hosts[0].dane, STSGUARD_DANE_ABSENT, "dane: SERVFAIL: mx1 absent (secure denial)");
		CHECK_INT(d->hosts[1].dane, STSGUARD_DANE_UNKNOWN, "dane: SERVFAIL: mx2 unknown");
	}
	stsguard_discovery_free(d);

	/* TLSA records without the AD bit are not DANE. */
	at(f, 180);
	tlsa(&f->w, "mx1.example.com", STSGUARD_OK, 2, false);
	tlsa(&f->w, "mx2.example.net", STSGUARD_OK, 1, false);
	d = disc(f, D, "dane: insecure TLSA");
	expect("dane: insecure TLSA", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_CACHE, STSGUARD_REASON_NONE);
	if (d != NULL && CHECK_INT(d->n_hosts, 2, "dane: insecure: hosts")) {
		CHECK_INT(d->hosts[0].dane, STSGUARD_DANE_ABSENT, "dane: insecure: mx1 absent");
		CHECK_INT(d->hosts[1].dane, STSGUARD_DANE_ABSENT, "dane: insecure: mx2 absent");
	}
	stsguard_discovery_free(d);

	/* MX lookup fails in enforce mode: we cannot tell whether DANE governs. */
	at(f, 240);
	mx_status(&f->w, D, STSGUARD_TEMPFAIL, NULL);
	d = disc(f, D, "dane: MX SERVFAIL in enforce");
	expect("dane: MX SERVFAIL in enforce", d, STSGUARD_VERDICT_TEMPFAIL, STSGUARD_SOURCE_CACHE,
	       STSGUARD_REASON_NONE);
	stsguard_discovery_free(d);

	/* skip_dane: no MX or TLSA lookups, the policy's mode. */
	at(f, 300);
	f->env.skip_dane = true;
	d = disc(f, D, "dane: skip_dane");
	expect("dane: skip_dane", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_CACHE, STSGUARD_REASON_NONE);
	CHECK_INT(w_count(&f->w, 'M', NULL) + w_count(&f->w, 'L', NULL), 0, "dane: skip_dane: no lookups");
	stsguard_discovery_free(d);
	fx_free(f);

	/* Testing mode: a failed TLSA lookup does not hold mail back; secure TLSA is still DANE. */
	static const struct mxr mx1[] = { { 10, "mx1.example.com" } };
	f = fx_new(NULL);
	if (f == NULL)
		return;
	std_world(f);
	policy(&f->w, D, P_TEST);
	set_mx(&f->w, D, mx1, 1);
	tlsa(&f->w, "mx1.example.com", STSGUARD_TEMPFAIL, 0, false);
	d = disc(f, D, "dane: TLSA SERVFAIL in testing");
	expect("dane: TLSA SERVFAIL in testing", d, STSGUARD_VERDICT_TESTING, STSGUARD_SOURCE_FETCHED,
	       STSGUARD_REASON_NONE);
	stsguard_discovery_free(d);
	at(f, 60);
	tlsa(&f->w, "mx1.example.com", STSGUARD_OK, 1, true);
	d = disc(f, D, "dane: secure TLSA in testing");
	expect("dane: secure TLSA in testing", d, STSGUARD_VERDICT_DANE, STSGUARD_SOURCE_CACHE, STSGUARD_REASON_NONE);
	stsguard_discovery_free(d);
	at(f, 120);
	mx_status(&f->w, D, STSGUARD_TEMPFAIL, NULL);
	d = disc(f, D, "dane: MX SERVFAIL in testing");
	expect("dane: MX SERVFAIL in testing", d, STSGUARD_VERDICT_TESTING, STSGUARD_SOURCE_CACHE,
	       STSGUARD_REASON_NONE);
	stsguard_discovery_free(d);
	fx_free(f);
}

/* §4.1: per-MX allowed flags from the policy patterns ("*" = exactly one label). */
static void sc_allowed(void)
{
	static const struct mxr mx[] = {
		{ 10, "mx1.example.com" }, { 20, "mx2.example.com" }, { 30, "a.example.net" },
		{ 40, "a.b.example.net" }, { 50, "example.net" },     { 60, "mx1.example.com.evil.test" },
	};
	static const bool want[] = { true, false, true, false, false, false };
	struct fx *f = fx_new(NULL);

	if (f == NULL)
		return;
	std_world(f);
	set_mx(&f->w, D, mx, 6);
	stsguard_discovery *d = disc(f, D, "allowed");
	expect("allowed", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
	if (d != NULL && CHECK_INT(d->n_hosts, 6, "allowed: n_hosts")) {
		for (size_t i = 0; i < 6; i++) {
			char step[120];
			snprintf(step, sizeof step, "allowed: %s", mx[i].host);
			CHECK_STR(d->hosts[i].host, mx[i].host, step);
			CHECK_INT(d->hosts[i].preference, mx[i].pref, step);
			CHECK_INT(d->hosts[i].allowed, want[i], step);
		}
	}
	CHECK_INT(w_count(&f->w, 'L', NULL), 6, "allowed: one TLSA lookup per MX host");
	stsguard_discovery_free(d);
	fx_free(f);
}

/* RFC 5321 §5.1: no MX means the domain itself; RFC 7505: a null MX means no host at all. */
static void sc_mx_absent(void)
{
	struct fx *f = fx_new(NULL);
	stsguard_discovery *d;

	if (f == NULL)
		return;
	std_world(f);
	policy(&f->w, D, POL("enforce", "86400", "mx: example.com\n"));
	mx_status(&f->w, D, STSGUARD_NONE, NULL);
	d = disc(f, D, "no MX: implicit MX");
	expect("no MX: implicit MX", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
	if (d != NULL && CHECK_INT(d->n_hosts, 1, "no MX: one host")) {
		CHECK_STR(d->hosts[0].host, D, "no MX: the domain is the host");
		CHECK_INT(d->hosts[0].allowed, 1, "no MX: allowed by 'mx: example.com'");
	}
	CHECK_INT(w_count(&f->w, 'L', D), 1, "no MX: TLSA of the domain");
	stsguard_discovery_free(d);

	/* Null MX ("MX 0 ."): NONE with null_mx set (dns.h). */
	at(f, 60);
	mx_null(&f->w, D);
	tlsa(&f->w, D, STSGUARD_OK, 1, true);
	d = disc(f, D, "null MX");
	if (d != NULL) {
		CHECK_INT(d->n_hosts, 0, "null MX: no host at all");
		CHECK_TRUE(d->verdict != STSGUARD_VERDICT_DANE, "null MX: the domain's own TLSA is not consulted");
	}
	CHECK_INT(w_count(&f->w, 'L', NULL), 0, "null MX: no TLSA lookups");
	stsguard_discovery_free(d);
	fx_free(f);
}

static void sc_bad_domain(void)
{
	static char long_label[80], long_name[300];
	static const char *const bad[] = {
		"",
		".",
		"..",
		"example..com",
		".example.com",
		"example.com..",
		"192.0.2.1",
		"[192.0.2.1]",
		"[IPv6:2001:db8::1]",
		"2001:db8::1",
		"exa mple.com",
		"example.com\n",
		"-example.com",
		"example-.com",
		"exa_mple.com",
		"*.example.com",
		"mx*.example.com",
		"b\xc3\xbc" "cher.example",
		"user@example.com",
		"example.com/x",
		long_label,
		long_name,
		NULL,
	};
	struct fx *f = fx_new(NULL);

	if (f == NULL)
		return;
	std_world(f);
	memset(long_label, 'a', 64);
	memcpy(long_label + 64, ".example", 9);
	for (size_t i = 0; i < 254; i += 2) {
		long_name[i] = 'a';
		long_name[i + 1] = '.';
	}
	memcpy(long_name + 254, "com", 4); /* 257 characters */
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char label[160];
		stsguard_discovery *d = &discovery_sentinel;
		stsguard_err err = {""};

		snprintf(label, sizeof label, "bad domain %zu ('%.40s')", i, bad[i] != NULL ? bad[i] : "(null)");
		f->w.n_log = 0;
		CHECK_STATUS(stsguard_discover(&f->env, bad[i], &d, &err), STSGUARD_BADARG, label);
		CHECK_TRUE(d == NULL, label);
		CHECK_INT(f->w.n_log, 0, label); /* not a single lookup */
		if (d != &discovery_sentinel)
			stsguard_discovery_free(d);
	}
	CHECK_INT(stsguard_cache_count(f->cache), 0, "bad domains: nothing cached");

	/* stsguard_domain_normalize on its own. */
	static const struct {
		const char *in, *out;
	} norm[] = {
		{ "example.com", "example.com" },
		{ "EXAMPLE.COM", "example.com" },
		{ "Example.Com.", "example.com" },
		{ "xn--bcher-kva.example", "xn--bcher-kva.example" },
		{ "a-b.c0.example", "a-b.c0.example" },
	};
	for (size_t i = 0; i < sizeof norm / sizeof norm[0]; i++) {
		char out[STSGUARD_DOMAIN_MAX + 1];
		CHECK_STATUS(stsguard_domain_normalize(norm[i].in, out), STSGUARD_OK, norm[i].in);
		CHECK_STR(out, norm[i].out, norm[i].in);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char out[STSGUARD_DOMAIN_MAX + 1];
		char label[160];
		snprintf(label, sizeof label, "normalize bad %zu ('%.40s')", i, bad[i] != NULL ? bad[i] : "(null)");
		CHECK_STATUS(stsguard_domain_normalize(bad[i], out), STSGUARD_BADARG, label);
	}
	fx_free(f);
}

static void sc_tlsrpt(void)
{
	struct fx *f = fx_new(NULL);
	stsguard_discovery *d;

	if (f == NULL)
		return;
	std_world(f);
	tlsrpt_txt(&f->w, D, "v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://reports.example.com/tlsrpt");
	d = disc(f, D, "tlsrpt");
	if (d != NULL && CHECK_TRUE(d->tlsrpt != NULL, "tlsrpt: record") &&
	    CHECK_INT(d->tlsrpt->n_rua, 2, "tlsrpt: n_rua")) {
		CHECK_STR(d->tlsrpt->rua[0], "mailto:tlsrpt@example.com", "tlsrpt: rua 0");
		CHECK_STR(d->tlsrpt->rua[1], "https://reports.example.com/tlsrpt", "tlsrpt: rua 1");
	}
	stsguard_discovery_free(d);

	f->env.skip_tlsrpt = true;
	at(f, 10);
	d = disc(f, D, "tlsrpt: skipped");
	if (d != NULL)
		CHECK_TRUE(d->tlsrpt == NULL, "tlsrpt: skipped: none");
	CHECK_INT(w_count(&f->w, 'T', "_smtp._tls.example.com"), 0, "tlsrpt: skipped: no lookup");
	stsguard_discovery_free(d);
	f->env.skip_tlsrpt = false;

	/* A domain without MTA-STS may still publish TLS-RPT; an invalid record is "none". */
	sts_none(&f->w, "other.example", 60);
	tlsrpt_txt(&f->w, "other.example", "v=TLSRPTv1; rua=mailto:r@other.example");
	d = disc(f, "other.example", "tlsrpt without MTA-STS");
	if (d != NULL && CHECK_TRUE(d->tlsrpt != NULL, "tlsrpt without MTA-STS: record"))
		CHECK_INT(d->tlsrpt->n_rua, 1, "tlsrpt without MTA-STS: n_rua");
	stsguard_discovery_free(d);
	tlsrpt_txt(&f->w, "other.example", "v=TLSRPTv1; rua=ftp://r.other.example");
	at(f, 100);
	d = disc(f, "other.example", "tlsrpt invalid");
	if (d != NULL)
		CHECK_TRUE(d->tlsrpt == NULL, "tlsrpt invalid: none");
	stsguard_discovery_free(d);
	fx_free(f);
}

/* ---- persistence ---- */

static void rm_dir(const char *dir)
{
	DIR *dd = opendir(dir);
	struct dirent *de;

	if (dd == NULL)
		return;
	while ((de = readdir(dd)) != NULL) {
		char p[1200];
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(dd);
	rmdir(dir);
}

static bool reopen(struct fx *f, const char *dir, const char *step)
{
	stsguard_err err = {""};

	stsguard_cache_close(f->cache);
	f->cache = NULL;
	f->env.cache = NULL;
	if (!CHECK_STATUS(stsguard_cache_open(dir, &f->cache, &err), STSGUARD_OK, step)) {
		fprintf(stderr, "    %s\n", err.msg);
		return false;
	}
	f->env.cache = f->cache;
	return true;
}

static void sc_persistence(void)
{
	const char *tmpdir = getenv("TMPDIR");
	char dir[512], cdir[600];

	snprintf(dir, sizeof dir, "%s/stsguard-test-discover-XXXXXX",
	         tmpdir != NULL && tmpdir[0] != '\0' ? tmpdir : "/tmp");
	if (!CHECK_TRUE(mkdtemp(dir) != NULL, "persistence: mkdtemp"))
		return;
	snprintf(cdir, sizeof cdir, "%s/cache", dir);
	struct fx *f = fx_new(cdir);
	if (f == NULL) {
		rm_dir(dir);
		return;
	}
	std_world(f);
	sts_none(&f->w, "nx.example", 600);
	sts_txt(&f->w, "fail.example", TXT1, NULL);
	policy_fail(&f->w, "fail.example", STSGUARD_REASON_CERT_UNTRUSTED, NULL);

	stsguard_discovery *d = disc(f, D, "persistence: first");
	expect("persistence: first", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
	stsguard_discovery_free(d);
	d = disc(f, "nx.example", "persistence: no TXT");
	stsguard_discovery_free(d);
	d = disc(f, "fail.example", "persistence: failing fetch");
	expect("persistence: failing fetch", d, STSGUARD_VERDICT_NO_POLICY, STSGUARD_SOURCE_FETCHED,
	       STSGUARD_REASON_CERT_UNTRUSTED);
	CHECK_INT(w_count(&f->w, 'F', "mta-sts.fail.example"), 1, "persistence: failing fetch: fetched");
	stsguard_discovery_free(d);

	/* Restart: the cache is all that survives. */
	if (reopen(f, cdir, "persistence: reopen")) {
		CHECK_INT(stsguard_cache_count(f->cache), 3, "persistence: three entries");
		at(f, 60);
		d = disc(f, D, "persistence: after reopen");
		expect("persistence: after reopen", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_CACHE,
		       STSGUARD_REASON_NONE);
		expect_policy("persistence: after reopen", d, ID1, STSGUARD_MODE_ENFORCE);
		expect_work("persistence: after reopen", f, 0, 1);
		if (d != NULL) {
			CHECK_INT(d->expires_at, T0 + 86400, "persistence: expires_at kept");
			if (d->policy != NULL && CHECK_INT(d->policy->n_mx, 2, "persistence: n_mx"))
				CHECK_STR(d->policy->mx[1], "*.example.net", "persistence: mx kept");
		}
		stsguard_discovery_free(d);

		d = disc(f, "nx.example", "persistence: negative answer kept");
		expect("persistence: negative answer kept", d, STSGUARD_VERDICT_NO_POLICY, STSGUARD_SOURCE_CACHE,
		       STSGUARD_REASON_NONE);
		CHECK_INT(w_count(&f->w, 'T', "_mta-sts.nx.example"), 0, "persistence: negative answer: no lookup");
		stsguard_discovery_free(d);

		d = disc(f, "fail.example", "persistence: backoff kept");
		CHECK_INT(w_count(&f->w, 'F', "mta-sts.fail.example"), 0, "persistence: backoff kept: no fetch");
		expect("persistence: backoff kept", d, STSGUARD_VERDICT_NO_POLICY, STSGUARD_SOURCE_FETCHED,
		       STSGUARD_REASON_CERT_UNTRUSTED);
		if (d != NULL)
			CHECK_STR(stsguard_reason_result_type(d->error), "sts-webpki-invalid",
			          "persistence: backoff kept: result type of the first failure");
		stsguard_discovery_free(d);
	}
	/* Again, after a refresh has rewritten the entry. */
	policy(&f->w, D, P_ENF_MX9);
	at(f, STSGUARD_REFRESH_MAX / 2);
	d = disc(f, D, "persistence: refreshed");
	expect_work("persistence: refreshed", f, 1, 1);
	stsguard_discovery_free(d);
	if (reopen(f, cdir, "persistence: reopen 2")) {
		at(f, STSGUARD_REFRESH_MAX / 2 + 60);
		d = disc(f, D, "persistence: after reopen 2");
		expect("persistence: after reopen 2", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_CACHE,
		       STSGUARD_REASON_NONE);
		expect_work("persistence: after reopen 2", f, 0, 1);
		if (d != NULL && d->policy != NULL)
			CHECK_STR(d->policy->mx[0], "mx9.example.com", "persistence: refreshed policy kept");
		if (d != NULL)
			CHECK_INT(d->expires_at, T0 + STSGUARD_REFRESH_MAX / 2 + 86400, "persistence: new expiry kept");
		stsguard_discovery_free(d);
	}
	fx_free(f);

	/* No cache at all (env.cache NULL): every query does the whole work. */
	f = fx_new(NULL);
	if (f != NULL) {
		stsguard_cache_close(f->cache);
		f->cache = NULL;
		f->env.cache = NULL;
		std_world(f);
		for (int i = 0; i < 2; i++) {
			d = disc(f, D, "no cache");
			expect("no cache", d, STSGUARD_VERDICT_ENFORCE, STSGUARD_SOURCE_FETCHED, STSGUARD_REASON_NONE);
			expect_work("no cache", f, 1, 1);
			stsguard_discovery_free(d);
			at(f, 60);
		}
		fx_free(f);
	}
	rm_dir(cdir);
	rm_dir(dir);
}

/* ---- JSON, byte for byte ---- */

static void sc_json(void)
{
	static const struct mxr mx[] = { { 10, "mx1.example.com" }, { 20, "mx.example.org" } };
	struct fx *f = fx_new(NULL);
	char *json = NULL;

	if (f == NULL)
		return;
	sts_txt(&f->w, D, "v=STSv1; id=abc123;", NULL);
	policy(&f->w, D, P_ENF);
	set_mx(&f->w, D, mx, 2);
	tlsa(&f->w, "mx1.example.com", STSGUARD_OK, 1, false);
	tlsrpt_txt(&f->w, D, "v=TLSRPTv1; rua=mailto:tlsrpt@example.com");
	stsguard_discovery *d = disc(f, D, "json: enforce");
	if (d != NULL && CHECK_STATUS(stsguard_discovery_to_json(d, &json), STSGUARD_OK, "json: enforce")) {
		CHECK_STR(json,
		          "{\"domain\":\"example.com\",\"verdict\":\"enforce\",\"policy_id\":\"abc123\","
		          "\"mode\":\"enforce\",\"max_age\":86400,\"expires_at\":1700086400,"
		          "\"mx\":[\"mx1.example.com\",\"*.example.net\"],\"source\":\"fetched\","
		          "\"rua\":[\"mailto:tlsrpt@example.com\"],\"error\":null,\"result_type\":null,"
		          "\"error_detail\":null,\"mx_hosts\":["
		          "{\"host\":\"mx1.example.com\",\"preference\":10,\"allowed\":true,\"dane\":\"absent\"},"
		          "{\"host\":\"mx.example.org\",\"preference\":20,\"allowed\":false,\"dane\":\"absent\"}]}",
		          "json: enforce");
	}
	free(json);
	json = NULL;
	stsguard_discovery_free(d);

	/* A failure, with a detail that needs escaping. */
	sts_txt(&f->w, "bad.example", "v=STSv1; id=xyz;", NULL);
	policy_fail(&f->w, "bad.example", STSGUARD_REASON_CERT_EXPIRED, "certificate \"mta-sts\" expired\n");
	d = disc(f, "bad.example", "json: failure");
	if (d != NULL && CHECK_STATUS(stsguard_discovery_to_json(d, &json), STSGUARD_OK, "json: failure")) {
		CHECK_STR(json,
		          "{\"domain\":\"bad.example\",\"verdict\":\"no-policy\",\"policy_id\":null,\"mode\":null,"
		          "\"max_age\":null,\"expires_at\":null,\"mx\":[],\"source\":\"fetched\",\"rua\":[],"
		          "\"error\":\"certificate-expired\",\"result_type\":\"sts-webpki-invalid\","
		          "\"error_detail\":\"certificate \\\"mta-sts\\\" expired\\u000a\",\"mx_hosts\":[]}",
		          "json: failure");
	}
	free(json);
	stsguard_discovery_free(d);
	stsguard_discovery_free(NULL); /* no-op */
	fx_free(f);
}

int main(void)
{
	sc_enforce_then_cache();
	sc_testing();
	sc_mode_none();
	sc_no_txt();
	sc_txt_invalid();
	sc_txt_servfail();
	sc_id_change();
	sc_txt_removed();
	sc_fetch_fail_cached();
	sc_fetch_fail_nothing_cached();
	sc_backoff_growth();
	sc_refresh();
	sc_expiry();
	sc_max_age_zero();
	sc_dane();
	sc_allowed();
	sc_mx_absent();
	sc_bad_domain();
	sc_tlsrpt();
	sc_persistence();
	sc_json();
	return check_summary();
}
