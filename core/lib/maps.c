/*
 * maps.c - what stsguardd answers on each socketmap map (docs/PROTOCOL.md
 * §4-§6): which policy domain a request key stands for, and how one
 * discovery result is written as the reply each MTA understands.
 *
 * Why a dialect per map: the same verdict must be said three different ways
 * and each MTA punishes a wrong word differently (reference
 * sendmail-postfix.md §3, §9, §10):
 *
 *   sts             Sendmail 8.17 STS_Check. Only "OK secure match=<list>
 *                   servername=hostname" in exactly that order works;
 *                   any other attribute after servername defers every
 *                   delivery, and a bare "OK" crashes sendmail (SIGSEGV).
 *   postfix         Postfix 3.7 smtp_tls_policy_maps. Any attribute outside
 *                   ciphers/protocols/servername/match/exclude/tafile/
 *                   connection_reuse, or an empty match=, makes the policy
 *                   invalid and defers the mail.
 *   postfix-tlsrpt  Postfix 3.10+ adds policy_type, policy_domain,
 *                   policy_ttl, { policy_string = ... }, mx_host_pattern
 *                   (TLSRPT_README "MTA-STS Support"); with policy_type=sts
 *                   every one of them must be present, because Postfix's
 *                   TLSRPT code dereferences the policy strings and the
 *                   mx_host_pattern list unconditionally.
 *   policy          our own adapters; versioned, fields only ever appended.
 *   prefetch        fire and forget.
 *
 * Rendering is pure (the clock comes in as `now`) and never allocates: the
 * reply is written into the caller's buffer or refused as TOOBIG. Every
 * string taken from the discovery is re-checked before it is written, so a
 * corrupt cache entry can never inject a space, a brace or a line break
 * into an MTA's policy parser.
 */
#include "stsguard/maps.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "stsguard/mx_pattern.h"
#include "stsguard/socketmap.h"
#include "util.h"

/*
 * Largest reply payload per map. Postfix refuses a socketmap reply over
 * 100,000 bytes and Sendmail one over 1,000,000 (SOCKETMAP_MAXL)
 * (sendmail-postfix.md §8). Our own adapters share Postfix's limit so one
 * client implementation serves every map.
 */
#define REPLY_MAX_POSTFIX 100000u
#define REPLY_MAX_SENDMAIL 1000000u

#define LABEL_MAX 63

static const char *const map_names[STSGUARD_MAP_COUNT_] = {
	[STSGUARD_MAP_STS] = "sts",
	[STSGUARD_MAP_POSTFIX] = "postfix",
	[STSGUARD_MAP_POSTFIX_TLSRPT] = "postfix-tlsrpt",
	[STSGUARD_MAP_POLICY] = "policy",
	[STSGUARD_MAP_PREFETCH] = "prefetch",
	[STSGUARD_MAP_ROUTES] = "routes",
};

stsguard_map stsguard_map_by_name(const char *name)
{
	if (name == NULL)
		return STSGUARD_MAP_UNKNOWN;
	/* Exact: stsguard_socketmap_split() already folded the name to lower case. */
	for (int m = 0; m < STSGUARD_MAP_COUNT_; m++)
		if (strcmp(name, map_names[m]) == 0)
			return (stsguard_map)m;
	return STSGUARD_MAP_UNKNOWN;
}

const char *stsguard_map_name(stsguard_map map)
{
	if (map < 0 || map >= STSGUARD_MAP_COUNT_)
		return "unknown";
	return map_names[map];
}

/* "[" anything "]" [":" port]: a Postfix next-hop with MX lookups disabled. */
static stsguard_status bracketed_key(const char *k, size_t klen, const char *shown, stsguard_err *err)
{
	const char *close = memchr(k, ']', klen);
	if (close == NULL || close == k + 1)
		return sg_err(err, STSGUARD_INVALID, "key '%s' is not a [host] or [address] next-hop", shown);
	size_t rest = klen - (size_t)(close - k) - 1;
	const char *r = close + 1;
	if (rest > 0) {
		if (r[0] != ':' || rest < 2 || rest > 6)
			return sg_err(err, STSGUARD_INVALID, "key '%s' has something after ']' that is not a :port",
			              shown);
		for (size_t i = 1; i < rest; i++)
			if (!sg_is_digit((unsigned char)r[i]))
				return sg_err(err, STSGUARD_INVALID, "key '%s' has a port that is not a number", shown);
	}
	/*
	 * RFC 8461 §3.4: an address literal has no policy; a [host] next-hop
	 * is an explicit route chosen by the admin, outside MX resolution, which
	 * Postfix's own TLS policy applies to (and PMSR answers NOTFOUND too).
	 */
	return sg_err(err, STSGUARD_NONE, "key '%s' is a [next-hop]: no MTA-STS policy", shown);
}

stsguard_status stsguard_map_key_domain(stsguard_map map, const char *key, char domain[STSGUARD_DOMAIN_MAX + 1],
                                        stsguard_err *err)
{
	char k[STSGUARD_MAPKEY_MAX + 1];
	char shown[80];
	unsigned char addr[16];

	if (domain == NULL || key == NULL || map < 0 || map >= STSGUARD_MAP_COUNT_)
		return sg_err(err, STSGUARD_BADARG, "no key, no output buffer or no such map");
	domain[0] = '\0';
	size_t klen = strnlen(key, STSGUARD_MAPKEY_MAX + 1);
	sg_escape(shown, sizeof shown, key, klen);
	if (klen == 0)
		return sg_err(err, STSGUARD_INVALID, "empty key");
	if (klen > STSGUARD_MAPKEY_MAX)
		return sg_err(err, STSGUARD_INVALID, "key '%s...' is longer than %u bytes", shown, STSGUARD_MAPKEY_MAX);
	for (size_t i = 0; i < klen; i++) {
		unsigned char c = (unsigned char)key[i];
		/* RFC 8461 §3.1: policy domains are A-labels; a U-label is not looked up. */
		if (c < 0x21 || c > 0x7e)
			return sg_err(err, STSGUARD_INVALID,
			              "key '%s' has a space, control or non-ASCII byte (U-labels need their A-label form)",
			              shown);
		/* Sendmail folds keys, Postfix does not (sendmail-postfix.md §8, §9). */
		k[i] = sg_lower(key[i]);
	}
	k[klen] = '\0';

	/*
	 * Postfix retries a NOTFOUND domain with ".parent" keys
	 * (sendmail-postfix.md §9); RFC 8461 §3.4 forbids using a parent's
	 * policy, so these are answered without a lookup.
	 */
	if (k[0] == '.')
		return sg_err(err, STSGUARD_NONE, "key '%s' is a parent-domain probe: no MTA-STS policy", shown);
	if (k[0] == '[')
		return bracketed_key(k, klen, shown, err);

	size_t n = klen;
	char *colon = memchr(k, ':', klen);
	if (colon != NULL) {
		if (memchr(colon + 1, ':', klen - (size_t)(colon - k) - 1) != NULL) {
			/* Two or more colons: only an IPv6 address makes sense. */
			if (inet_pton(AF_INET6, k, addr) == 1)
				return sg_err(err, STSGUARD_NONE, "key '%s' is an IPv6 address: no MTA-STS policy", shown);
			return sg_err(err, STSGUARD_INVALID, "key '%s' is neither a domain nor an address", shown);
		}
		size_t plen = klen - (size_t)(colon - k) - 1;
		if (plen == 0 || plen > 5)
			return sg_err(err, STSGUARD_INVALID, "key '%s' has a ':port' that is not a port", shown);
		for (size_t i = 1; i <= plen; i++)
			if (!sg_is_digit((unsigned char)colon[i]))
				return sg_err(err, STSGUARD_INVALID, "key '%s' has a ':port' that is not a number", shown);
		/* "domain:port" names the same policy domain: the port is a transport detail. */
		n = (size_t)(colon - k);
	}
	if (n > 0 && k[n - 1] == '.')
		n--;
	k[n] = '\0';
	if (n == 0)
		return sg_err(err, STSGUARD_INVALID, "key '%s' has no domain", shown);
	if (inet_pton(AF_INET, k, addr) == 1)
		return sg_err(err, STSGUARD_NONE, "key '%s' is an IPv4 address: no MTA-STS policy", shown);
	/* stsguard_domain_normalize() would quietly take a second trailing dot. */
	if (k[n - 1] == '.')
		return sg_err(err, STSGUARD_INVALID, "key '%s' has an empty label", shown);
	if (n > STSGUARD_DOMAIN_MAX)
		return sg_err(err, STSGUARD_INVALID, "key '%s...' is longer than %d characters", shown,
		              STSGUARD_DOMAIN_MAX);
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		label = k[i] == '.' ? 0 : label + 1;
		if (label > LABEL_MAX)
			return sg_err(err, STSGUARD_INVALID, "key '%s' has a label longer than %d characters", shown,
			              LABEL_MAX);
	}
	if (stsguard_domain_normalize(k, domain) != STSGUARD_OK)
		return sg_err(err, STSGUARD_INVALID, "key '%s' is not a host name in A-label form", shown);
	return STSGUARD_OK;
}

/* ---- rendering ---------------------------------------------------------- */

/* A bounded writer over the caller's buffer; `full` sticks once set. */
struct out {
	char *p;
	size_t cap;
	size_t len;
	bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->full)
		return;
	if (n > o->cap - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_u64(struct out *o, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
	if (n > 0 && (size_t)n < sizeof tmp)
		put(o, tmp, (size_t)n);
	else
		o->full = true;
}

static uint64_t seconds_until(int64_t when, int64_t now)
{
	return when > now ? (uint64_t)(when - now) : 0;
}

static bool is_wildcard(const char *pattern)
{
	return pattern[0] == '*' && pattern[1] == '.';
}

/*
 * Everything taken from the discovery that reaches the wire is checked
 * here: mx patterns and the domain must be valid host names or patterns
 * (so they hold only [a-z0-9.-*]), the policy id only letters and digits.
 */
static stsguard_status check_discovery(const stsguard_discovery *d)
{
	char tmp[STSGUARD_DOMAIN_MAX + 1];

	if (memchr(d->domain, '\0', sizeof d->domain) == NULL || stsguard_domain_normalize(d->domain, tmp) != STSGUARD_OK ||
	    strcmp(tmp, d->domain) != 0)
		return STSGUARD_BADARG;
	size_t idlen = strnlen(d->policy_id, sizeof d->policy_id);
	if (idlen == sizeof d->policy_id)
		return STSGUARD_BADARG;
	for (size_t i = 0; i < idlen; i++)
		if (!sg_is_alnum((unsigned char)d->policy_id[i]))
			return STSGUARD_BADARG;
	if (d->n_hosts > STSGUARD_MX_MAX)
		return STSGUARD_BADARG;
	const stsguard_policy *p = d->policy;
	if (p == NULL)
		return STSGUARD_OK;
	if (p->n_mx > STSGUARD_POLICY_MX_MAX || (p->n_mx > 0 && p->mx == NULL))
		return STSGUARD_BADARG;
	for (size_t i = 0; i < p->n_mx; i++) {
		const char *m = p->mx[i];
		if (m == NULL)
			return STSGUARD_BADARG;
		size_t mlen = strnlen(m, STSGUARD_HOSTNAME_MAX + 3);
		if (stsguard_mx_pattern_check(m, mlen, NULL) != STSGUARD_OK)
			return STSGUARD_BADARG;
		for (size_t j = 0; j < mlen; j++)
			if (m[j] >= 'A' && m[j] <= 'Z') /* policy.c lower-cases; a mixed-case pattern is not ours */
				return STSGUARD_BADARG;
	}
	return STSGUARD_OK;
}

static bool has_mode(const stsguard_discovery *d, stsguard_mode mode)
{
	return d->policy != NULL && d->policy->mode == mode;
}

static bool any_dane(const stsguard_discovery *d, stsguard_dane_state state)
{
	for (size_t i = 0; i < d->n_hosts; i++)
		if (d->hosts[i].dane == state)
			return true;
	return false;
}

static void put_notfound(struct out *o)
{
	/* With the space: what PMSR sends and both MTAs accept (sendmail-postfix.md §8). */
	put_str(o, "NOTFOUND ");
}

/*
 * "secure match=<p1>:<p2> servername=hostname". `*.x` is written ".x":
 * Sendmail's STS_Check reads ".x" as exactly one extra label, which is RFC
 * 8461 §4.1; Postfix reads it as any depth (a superset, see PROTOCOL.md
 * §5.2). The level, match and servername come first and servername last,
 * the only order Sendmail accepts.
 */
static void put_secure(struct out *o, const stsguard_policy *p)
{
	put_str(o, "secure match=");
	for (size_t i = 0; i < p->n_mx; i++) {
		if (i > 0)
			put(o, ":", 1);
		put_str(o, is_wildcard(p->mx[i]) ? p->mx[i] + 1 : p->mx[i]);
	}
	put_str(o, " servername=hostname");
}

/*
 * The Postfix 3.10 TLSRPT attributes for an STS policy (TLSRPT_README,
 * "MTA-STS Support via smtp_tls_policy_maps"). policy_string holds the
 * policy's lines in RFC 8460 §4.4's order (version, mode, mx..., max_age),
 * rebuilt from the parsed policy: the fetched body itself is not kept, so
 * unknown extension lines are not reported. mx_host_pattern keeps "*.x":
 * Postfix >= 3.10.5 matches MX names against it with RFC 8461 semantics.
 */
static void put_tlsrpt_sts(struct out *o, const stsguard_discovery *d, int64_t now)
{
	const stsguard_policy *p = d->policy;

	put_str(o, " policy_type=sts policy_domain=");
	put_str(o, d->domain);
	put_str(o, " policy_ttl=");
	put_u64(o, seconds_until(d->expires_at, now));
	put_str(o, " { policy_string = version: STSv1 } { policy_string = mode: ");
	put_str(o, stsguard_mode_name(p->mode));
	put_str(o, " }");
	for (size_t i = 0; i < p->n_mx; i++) {
		put_str(o, " { policy_string = mx: ");
		put_str(o, p->mx[i]);
		put_str(o, " }");
	}
	put_str(o, " { policy_string = max_age: ");
	put_u64(o, p->max_age);
	put_str(o, " }");
	for (size_t i = 0; i < p->n_mx; i++) {
		put_str(o, " mx_host_pattern=");
		put_str(o, p->mx[i]);
	}
}

/*
 * Postfix DANE levels (postconf(5) smtp_tls_security_level): "dane-only"
 * refuses a host without usable TLSA records, so it is only safe when every
 * MX host has DNSSEC-validated TLSA records; otherwise "dane", under which
 * Postfix authenticates the hosts with TLSA and uses opportunistic TLS for
 * the others. Either way Postfix does its own TLSA lookups and its own DANE
 * TLS-RPT, so no STS attribute is added (TLSRPT_README: "It is an error to
 * specify these attributes for a non-STS policy").
 */
/* Every MX host has DNSSEC-validated TLSA records. */
static bool all_dane(const stsguard_discovery *d)
{
	bool all = d->n_hosts > 0;
	for (size_t i = 0; i < d->n_hosts; i++)
		if (d->hosts[i].dane != STSGUARD_DANE_PRESENT)
			all = false;
	return all;
}

static void put_dane(struct out *o, const stsguard_discovery *d)
{
	put_str(o, all_dane(d) ? "OK dane-only" : "OK dane");
}

/*
 * tempfail_answer (maps.h): TEMP defers the mail (Sendmail: "STS lookup temp
 * fail"; Postfix: "policy table lookup error"), NOTFOUND lets the MTA go
 * on without STS. AUTO defers only where an enforce policy is known, i.e.
 * where answering NOTFOUND would drop protection the domain asked for.
 */
static void put_tempfail(struct out *o, const stsguard_discovery *d, const stsguard_map_opts *opts)
{
	stsguard_tempfail_answer a = opts != NULL ? opts->tempfail_answer : STSGUARD_TEMPFAIL_AUTO;
	bool temp = a == STSGUARD_TEMPFAIL_TEMP || (a == STSGUARD_TEMPFAIL_AUTO && has_mode(d, STSGUARD_MODE_ENFORCE));

	if (!temp) {
		put_notfound(o);
		return;
	}
	put_str(o, "TEMP ");
	if (d->error != STSGUARD_REASON_NONE)
		put_str(o, stsguard_reason_name(d->error));
	else if (any_dane(d, STSGUARD_DANE_UNKNOWN))
		put_str(o, "tlsa-tempfail"); /* verdict.h: enforce with a failed TLSA lookup */
	else
		put_str(o, "tempfail");
}

static stsguard_status render_sts(struct out *o, const stsguard_discovery *d, const stsguard_map_opts *opts)
{
	switch (d->verdict) {
	case STSGUARD_VERDICT_ENFORCE:
		if (!has_mode(d, STSGUARD_MODE_ENFORCE) || d->policy->n_mx == 0)
			return STSGUARD_BADARG;
		put_str(o, "OK ");
		put_secure(o, d->policy);
		return STSGUARD_OK;
	case STSGUARD_VERDICT_DANE:
		/*
		 * Debian's Sendmail 8.17 has no DANE (sendmail-postfix.md §1): STS
		 * is the only check it can make, and it does not override a DANE
		 * validation that never happens. A Sendmail with DANE enabled
		 * prefers DANE itself (op.me: "If both DANE and MTA-STS are
		 * enabled ... DANE is used").
		 */
		if (has_mode(d, STSGUARD_MODE_ENFORCE) && d->policy->n_mx > 0) {
			put_str(o, "OK ");
			put_secure(o, d->policy);
		} else {
			put_notfound(o);
		}
		return STSGUARD_OK;
	case STSGUARD_VERDICT_TEMPFAIL:
		put_tempfail(o, d, opts);
		return STSGUARD_OK;
	case STSGUARD_VERDICT_NO_POLICY:
	case STSGUARD_VERDICT_NONE:
	case STSGUARD_VERDICT_TESTING:
		put_notfound(o);
		return STSGUARD_OK;
	}
	return STSGUARD_BADARG;
}

static stsguard_status render_postfix(struct out *o, const stsguard_discovery *d, const stsguard_map_opts *opts,
                                      bool tlsrpt, int64_t now)
{
	switch (d->verdict) {
	case STSGUARD_VERDICT_ENFORCE:
		if (!has_mode(d, STSGUARD_MODE_ENFORCE) || d->policy->n_mx == 0)
			return STSGUARD_BADARG; /* never an empty match= (Zuplu/postfix-tlspol#95) */
		put_str(o, "OK ");
		put_secure(o, d->policy);
		if (tlsrpt)
			put_tlsrpt_sts(o, d, now);
		return STSGUARD_OK;
	case STSGUARD_VERDICT_TESTING:
		/*
		 * 3.10+: opportunistic TLS ("may", the RFC 8461 §5 testing
		 * behaviour) with the STS attributes, so Postfix's TLSRPT reports
		 * what enforce would have refused. 3.7 has no TLSRPT: NOTFOUND
		 * leaves the admin's default level alone.
		 */
		if (!tlsrpt) {
			put_notfound(o);
			return STSGUARD_OK;
		}
		if (!has_mode(d, STSGUARD_MODE_TESTING) || d->policy->n_mx == 0)
			return STSGUARD_BADARG;
		put_str(o, "OK may");
		put_tlsrpt_sts(o, d, now);
		return STSGUARD_OK;
	case STSGUARD_VERDICT_DANE:
		put_dane(o, d);
		return STSGUARD_OK;
	case STSGUARD_VERDICT_TEMPFAIL:
		put_tempfail(o, d, opts);
		return STSGUARD_OK;
	case STSGUARD_VERDICT_NO_POLICY:
	case STSGUARD_VERDICT_NONE:
		/*
		 * Also for a failed fetch: any level we named would override the
		 * admin's smtp_tls_security_level (which may be dane or encrypt),
		 * and policy_failure= forces the delivery to fail, the opposite of
		 * RFC 8461 §5 ("deliver as without MTA-STS"). stsguardd records
		 * the fetch failure for TLS-RPT itself (PROTOCOL.md §5.3).
		 */
		put_notfound(o);
		return STSGUARD_OK;
	}
	return STSGUARD_BADARG;
}

/*
 * "OK mx1.a.test,mx2.a.test": the discovered MX hosts the policy allows
 * (RFC 8461 §4.1), by preference, ties in the order given. An adapter that
 * cannot restrict MX selection (OpenSMTPD, docs/opensmtpd.md) relays to one
 * of these names itself. Any verdict holding such hosts answers them (also
 * testing, DANE and a TLSA tempfail: mail already queued on a pinned route
 * must stay deliverable); none -> NOTFOUND; discovery could not find out and
 * no host is known -> TEMP.
 */
static void render_routes(struct out *o, const stsguard_discovery *d)
{
	size_t order[STSGUARD_MX_MAX];
	size_t n = 0;
	char norm[STSGUARD_DOMAIN_MAX + 1];

	if (d == NULL) {
		put_notfound(o);
		return;
	}
	bool policy = d->policy != NULL &&
	              (d->policy->mode == STSGUARD_MODE_ENFORCE || d->policy->mode == STSGUARD_MODE_TESTING);
	for (size_t i = 0; policy && i < d->n_hosts; i++) {
		const char *h = d->hosts[i].host;
		/* Only a plain host name reaches the MTA's configuration (no ',', no space, no ':'). */
		if (!d->hosts[i].allowed || memchr(h, '\0', sizeof d->hosts[i].host) == NULL ||
		    stsguard_domain_normalize(h, norm) != STSGUARD_OK || strcmp(norm, h) != 0)
			continue;
		/* insertion sort: stable, at most STSGUARD_MX_MAX hosts */
		size_t pos = n;
		while (pos > 0 && d->hosts[order[pos - 1]].preference > d->hosts[i].preference) {
			order[pos] = order[pos - 1];
			pos--;
		}
		order[pos] = i;
		n++;
	}
	if (n == 0) {
		if (d->verdict == STSGUARD_VERDICT_TEMPFAIL) {
			put_str(o, "TEMP ");
			put_str(o, d->error != STSGUARD_REASON_NONE ? stsguard_reason_name(d->error) : "tempfail");
		} else {
			put_notfound(o);
		}
		return;
	}
	put_str(o, "OK ");
	for (size_t k = 0; k < n; k++) {
		if (k > 0)
			put(o, ",", 1);
		put_str(o, d->hosts[order[k]].host);
	}
}

/* "OK v=1 verdict=... mode=... id=... ttl=... mx=... dane=... tlsrpt=... error=... dane_all=..." */
static void render_policy(struct out *o, const stsguard_discovery *d, int64_t now)
{
	static const stsguard_discovery none = {.verdict = STSGUARD_VERDICT_NO_POLICY};
	const stsguard_discovery *q = d != NULL ? d : &none;
	const stsguard_policy *p = q->policy;

	put_str(o, "OK v=1 verdict=");
	put_str(o, stsguard_verdict_name(q->verdict));
	put_str(o, " mode=");
	put_str(o, p != NULL ? stsguard_mode_name(p->mode) : "-");
	put_str(o, " id=");
	put_str(o, q->policy_id[0] != '\0' ? q->policy_id : "-");
	put_str(o, " ttl=");
	put_u64(o, d != NULL ? seconds_until(q->recheck_at, now) : 0);
	put_str(o, " mx=");
	if (p == NULL || p->n_mx == 0)
		put_str(o, "-");
	for (size_t i = 0; p != NULL && i < p->n_mx; i++) {
		if (i > 0)
			put(o, ",", 1);
		put_str(o, p->mx[i]);
	}
	put_str(o, any_dane(q, STSGUARD_DANE_PRESENT) ? " dane=1" : " dane=0");
	put_str(o, q->tlsrpt != NULL ? " tlsrpt=1" : " tlsrpt=0");
	put_str(o, " error=");
	put_str(o, q->error != STSGUARD_REASON_NONE ? stsguard_reason_name(q->error) : "-");
	put_str(o, all_dane(q) ? " dane_all=1" : " dane_all=0");
}

stsguard_status stsguard_map_render(stsguard_map map, const stsguard_discovery *d, const stsguard_map_opts *opts,
                                    int64_t now, char *out, size_t cap, size_t *len)
{
	if (len != NULL)
		*len = 0;
	if (len == NULL || (out == NULL && cap != 0) || map < 0 || map >= STSGUARD_MAP_COUNT_)
		return STSGUARD_BADARG;
	if (cap > 0)
		out[0] = '\0';
	if (d != NULL && check_discovery(d) != STSGUARD_OK)
		return STSGUARD_BADARG;

	size_t limit = map == STSGUARD_MAP_STS ? REPLY_MAX_SENDMAIL : REPLY_MAX_POSTFIX;
	struct out o = {.p = out, .cap = cap < limit ? cap : limit, .len = 0, .full = false};
	stsguard_status st = STSGUARD_OK;

	switch (map) {
	case STSGUARD_MAP_STS:
		if (d == NULL)
			put_notfound(&o);
		else
			st = render_sts(&o, d, opts);
		break;
	case STSGUARD_MAP_POSTFIX:
	case STSGUARD_MAP_POSTFIX_TLSRPT:
		if (d == NULL)
			put_notfound(&o);
		else
			st = render_postfix(&o, d, opts, map == STSGUARD_MAP_POSTFIX_TLSRPT, now);
		break;
	case STSGUARD_MAP_POLICY:
		render_policy(&o, d, now);
		break;
	case STSGUARD_MAP_PREFETCH:
		/* The daemon passes the cached result if it had one, NULL if it queued a discovery. */
		put_str(&o, d != NULL ? "OK cached" : "OK queued");
		break;
	case STSGUARD_MAP_ROUTES:
		render_routes(&o, d);
		break;
	case STSGUARD_MAP_UNKNOWN:
	case STSGUARD_MAP_COUNT_:
		return STSGUARD_BADARG;
	}
	if (st != STSGUARD_OK) {
		if (cap > 0)
			out[0] = '\0';
		return st;
	}
	if (o.full) {
		if (cap > 0)
			out[0] = '\0';
		return STSGUARD_TOOBIG;
	}
	/* NUL-terminated when there is room; *len is authoritative. */
	if (o.len < cap)
		out[o.len] = '\0';
	*len = o.len;
	return STSGUARD_OK;
}
