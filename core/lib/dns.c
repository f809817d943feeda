/*
 * dns.c - the DNS lookups of policy discovery (TXT, MX, A/AAAA, TLSA) over
 * ldns, sent to the configured resolver.
 *
 * Contract (dns.h): every lookup answers three ways and they never collapse.
 *   STSGUARD_OK        records found;
 *   STSGUARD_NONE      NXDOMAIN or NODATA: definitely nothing, with the
 *                      negative-caching TTL of RFC 2308 §5;
 *   STSGUARD_TEMPFAIL  could not find out: SERVFAIL, REFUSED, any other
 *                      rcode, timeout, truncated, malformed or mismatched
 *                      answer, CNAME chain too long.
 * A validating resolver answers SERVFAIL for bogus data, so SERVFAIL must stay
 * a TEMPFAIL: RFC 7672 §2.1 forbids taking a failed TLSA lookup for "no
 * TLSA", and RFC 8461 §5.1 keeps a cached policy when discovery fails.
 *
 * DNSSEC: queries carry the DO bit (RFC 3225) and not CD, and `secure` is the
 * AD bit of the answer. We do not validate locally: the resolver is the
 * configured, trusted one on a trusted path (RFC 4035 §4.9.3), normally on
 * loopback.
 *
 * Why one ldns_resolver per server and our own retry loop, instead of one
 * ldns_resolver with every nameserver: ldns has a single port per resolver
 * (dns.h allows one per server), it marks a server that timed out once as
 * unreachable for the life of the resolver, and its TCP fallback knows
 * nothing of our time budget. So each try is one ldns exchange with one
 * server, retries and TCP are ours, and the whole lookup - CNAME re-queries
 * and the A+AAAA pair included - must finish within
 * tries x servers x per-try timeout. Each reply must match the query (QR, ID,
 * question) or it is ignored like a lost packet.
 *
 * Names: we send exactly the name given, never appending a search list or a
 * default domain; the name is checked first and converted to wire form by
 * hand, so no escape can sneak in another label.
 *
 * Not thread-safe: one stsguard_dns per thread.
 */
#include "stsguard/dns.h"
#include "dns_seam.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include "util.h"

#define DEFAULT_TIMEOUT_MS 2000u
#define DEFAULT_TRIES 2u
#define MAX_TIMEOUT_MS 60000u
#define MAX_TRIES 10u
/* RFC 1034 §3.6.2: follow CNAME chains, report loops as errors; a bound does both. */
#define CNAME_HOPS_MAX 8
/* RFC 2308 §5 gives no default for an answer without SOA; five minutes. */
#define NEGATIVE_TTL_DEFAULT 300u
/* DNS Flag Day 2020: no fragmented UDP; bigger answers come over TCP. */
#define EDNS_UDP_SIZE 1232
#define NAME_MAX_LEN 253   /* text form, without the trailing dot (RFC 1035 §2.3.4) */
#define LABEL_MAX_LEN 63
#define WHAT_LEN (NAME_MAX_LEN + 16)

struct server {
	ldns_resolver *res; /* exactly one nameserver */
	char label[64];     /* "192.0.2.1" or "[2001:db8::1]:5353", for messages */
};

struct stsguard_dns {
	sg_dns_send_fn send;
	void *send_ctx;
	size_t n;
	struct server server[STSGUARD_RESOLVERS_MAX];
	size_t preferred;         /* the server that answered last is asked first */
	unsigned timeout_ms;      /* per try */
	unsigned tries;           /* per server */
	struct timespec deadline; /* of the lookup in progress */
};

/* What one lookup found once its CNAME chain is followed. */
struct answer {
	ldns_pkt *pkt;     /* the response holding rrs */
	ldns_rr_list *rrs; /* the RRs of the type asked, at the end of the chain: pointers into pkt */
	uint32_t ttl;      /* OK: least TTL of rrs and the CNAMEs; NONE: the negative TTL */
	bool secure;       /* every response of the chain had AD */
	bool nxdomain;     /* NONE because the name does not exist */
};

static void answer_init(struct answer *a)
{
	a->pkt = NULL;
	a->rrs = NULL;
	a->ttl = UINT32_MAX;
	a->secure = true;
	a->nxdomain = false;
}

static void answer_free(struct answer *a)
{
	if (a->rrs != NULL)
		ldns_rr_list_free(a->rrs); /* shallow: the RRs belong to pkt */
	if (a->pkt != NULL)
		ldns_pkt_free(a->pkt);
	answer_init(a);
}

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

static const char *type_name(ldns_rr_type type)
{
	switch (type) {
	case LDNS_RR_TYPE_A: return "A";
	case LDNS_RR_TYPE_AAAA: return "AAAA";
	case LDNS_RR_TYPE_MX: return "MX";
	case LDNS_RR_TYPE_TXT: return "TXT";
	case LDNS_RR_TYPE_TLSA: return "TLSA";
	case LDNS_RR_TYPE_CNAME: return "CNAME";
	default: return "?";
	}
}

static const char *rcode_name(ldns_pkt_rcode rcode, char buf[16])
{
	static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
	                                    "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
	                                    "NXRRSET", "NOTAUTH", "NOTZONE"};
	if ((size_t)rcode < sizeof names / sizeof names[0])
		return names[rcode];
	snprintf(buf, 16, "RCODE%u", (unsigned)rcode);
	return buf;
}

/* Appends s to the string in buf of size sz, cutting what does not fit. */
static void append(char *buf, size_t sz, const char *s)
{
	size_t used = strnlen(buf, sz - 1), n = strlen(s);

	if (n > sz - 1 - used)
		n = sz - 1 - used;
	memcpy(buf + used, s, n);
	buf[used + n] = '\0';
}

/* ---- names ---- */

/*
 * A name from our caller, checked before anything goes on the wire: ASCII
 * graphic characters only, at most 253 characters once one optional trailing
 * dot is dropped, labels of 1 to 63 characters (RFC 1035 §2.3.4). A backslash
 * is refused rather than read as an escape, so the labels we check are the
 * labels we send. Fills text (the name without its trailing dot) and *wire.
 */
static stsguard_status name_to_wire(const char *name, char text[NAME_MAX_LEN + 1], ldns_rdf **wire,
                                    stsguard_err *err)
{
	uint8_t buf[NAME_MAX_LEN + 2];
	char shown[80];
	size_t len, lenpos = 0, o = 1, lablen = 0;

	*wire = NULL;
	text[0] = '\0';
	if (name == NULL)
		return sg_err(err, STSGUARD_BADARG, "no name");
	len = strnlen(name, NAME_MAX_LEN + 2);
	sg_escape(shown, sizeof shown, name, len);
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0)
		return sg_err(err, STSGUARD_BADARG, "empty name");
	if (len > NAME_MAX_LEN)
		return sg_err(err, STSGUARD_BADARG, "name '%s...' is longer than %d characters", shown,
		              NAME_MAX_LEN);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '.') {
			if (lablen == 0)
				return sg_err(err, STSGUARD_BADARG, "name '%s' has an empty label", shown);
			buf[lenpos] = (uint8_t)lablen;
			lenpos = o++;
			lablen = 0;
			continue;
		}
		if (c < 0x21 || c > 0x7e || c == '\\')
			return sg_err(err, STSGUARD_BADARG, "name '%s' has a character not allowed in a DNS name",
			              shown);
		if (++lablen > LABEL_MAX_LEN)
			return sg_err(err, STSGUARD_BADARG, "name '%s' has a label longer than %d characters",
			              shown, LABEL_MAX_LEN);
		buf[o++] = c;
	}
	if (lablen == 0)
		return sg_err(err, STSGUARD_BADARG, "name '%s' has an empty label", shown);
	buf[lenpos] = (uint8_t)lablen;
	buf[o++] = 0; /* the root label */

	*wire = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, o, buf);
	if (*wire == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	memcpy(text, name, len);
	text[len] = '\0';
	return STSGUARD_OK;
}

/*
 * The text form of a wire name, lower case, without the trailing dot ("" for
 * the root). False for a name that name_to_wire() would refuse (a byte that
 * is not ASCII graphic, or a '.' or '\' inside a label), so every name we
 * hand out can be asked about again, and no escaping is ever needed.
 */
static bool dname_text(const ldns_rdf *dname, char *out, size_t outsz)
{
	const uint8_t *d;
	size_t size, i = 0, o = 0;

	if (outsz == 0)
		return false;
	out[0] = '\0';
	if (dname == NULL || ldns_rdf_get_type(dname) != LDNS_RDF_TYPE_DNAME)
		return false;
	d = ldns_rdf_data(dname);
	size = ldns_rdf_size(dname);
	while (i < size) {
		size_t lab = d[i++];
		if (lab == 0) {
			out[o] = '\0';
			return i == size;
		}
		if (lab > LABEL_MAX_LEN || lab > size - i)
			break;
		if (o != 0) {
			if (o + 1 >= outsz)
				break;
			out[o++] = '.';
		}
		for (size_t k = 0; k < lab; k++) {
			unsigned char c = d[i + k];
			if (c < 0x21 || c > 0x7e || c == '.' || c == '\\' || o + 1 >= outsz) {
				out[0] = '\0';
				return false;
			}
			out[o++] = sg_lower((char)c);
		}
		i += lab;
	}
	out[0] = '\0';
	return false;
}

/* ---- time budget ---- */

static void clock_now(struct timespec *ts)
{
	if (clock_gettime(CLOCK_MONOTONIC, ts) != 0) {
		ts->tv_sec = 0;
		ts->tv_nsec = 0;
	}
}

static long long ms_left(const stsguard_dns *dns)
{
	struct timespec now;

	clock_now(&now);
	return (long long)(dns->deadline.tv_sec - now.tv_sec) * 1000LL +
	       (dns->deadline.tv_nsec - now.tv_nsec) / 1000000L;
}

/* Each public lookup gets tries x servers x timeout in all, whatever it asks. */
static void start_budget(stsguard_dns *dns)
{
	unsigned long long ms = (unsigned long long)dns->tries * dns->n * dns->timeout_ms;

	clock_now(&dns->deadline);
	dns->deadline.tv_sec += (time_t)(ms / 1000u);
	dns->deadline.tv_nsec += (long)(ms % 1000u) * 1000000L;
	if (dns->deadline.tv_nsec >= 1000000000L) {
		dns->deadline.tv_sec++;
		dns->deadline.tv_nsec -= 1000000000L;
	}
}

/* ---- the network ---- */

enum try_result {
	TRY_ANSWER, /* a NOERROR or NXDOMAIN answer to our question */
	TRY_AGAIN,  /* nothing usable (timeout, stray packet): the server may answer next time */
	TRY_TCP,    /* truncated over UDP */
	TRY_NEXT,   /* the server answered, but not usefully (SERVFAIL, REFUSED, garbage): ask another */
};

/* The reply is to our query: QR set, same ID, same question (RFC 5452 §3). */
static bool reply_matches(const ldns_pkt *query, const ldns_pkt *reply)
{
	const ldns_rr *q, *r;
	ldns_pkt_rcode rcode = ldns_pkt_get_rcode(reply);

	if (!ldns_pkt_qr(reply) || ldns_pkt_id(reply) != ldns_pkt_id(query) ||
	    ldns_pkt_get_opcode(reply) != LDNS_PACKET_QUERY)
		return false;
	/* Some servers drop the question from an error reply (RFC 1035 is silent). */
	if (ldns_rr_list_rr_count(ldns_pkt_question(reply)) == 0)
		return rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN;
	if (ldns_rr_list_rr_count(ldns_pkt_question(reply)) != 1)
		return false;
	q = ldns_rr_list_rr(ldns_pkt_question(query), 0);
	r = ldns_rr_list_rr(ldns_pkt_question(reply), 0);
	if (q == NULL || r == NULL)
		return false;
	return ldns_rr_get_type(q) == ldns_rr_get_type(r) && ldns_rr_get_class(q) == ldns_rr_get_class(r) &&
	       ldns_dname_compare(ldns_rr_owner(q), ldns_rr_owner(r)) == 0;
}

/* One exchange with one server, over UDP or TCP; msg says why when it is not TRY_ANSWER. */
static enum try_result exchange(stsguard_dns *dns, size_t i, ldns_pkt *query, bool tcp, long long left,
                                ldns_pkt **answer, char *msg, size_t msgsz)
{
	struct server *s = &dns->server[i];
	unsigned ms = left < (long long)dns->timeout_ms ? (unsigned)left : dns->timeout_ms;
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000u), .tv_usec = (suseconds_t)((ms % 1000u) * 1000u)};
	ldns_pkt *reply = NULL;
	ldns_status ls;
	ldns_pkt_rcode rcode;
	char rbuf[16];

	*answer = NULL;
	ldns_resolver_set_timeout(s->res, tv);
	ldns_resolver_set_usevc(s->res, tcp);
	/* ldns writes a server off for good after one failure; retries are ours. */
	ldns_resolver_set_nameserver_rtt(s->res, 0, LDNS_RESOLV_RTT_MIN);
	ls = ldns_resolver_send_pkt(&reply, s->res, query);
	ldns_resolver_set_usevc(s->res, false);
	if (ls != LDNS_STATUS_OK || reply == NULL) {
		if (reply != NULL)
			ldns_pkt_free(reply);
		if (ls == LDNS_STATUS_OK || ls == LDNS_STATUS_NETWORK_ERR || ls == LDNS_STATUS_SOCKET_ERROR ||
		    ls == LDNS_STATUS_ERR || ls == LDNS_STATUS_RES_NO_NS) {
			snprintf(msg, msgsz, "no answer from %s over %s within %u ms", s->label, tcp ? "TCP" : "UDP",
			         ms);
			return TRY_AGAIN;
		}
		snprintf(msg, msgsz, "malformed answer from %s (%s)", s->label, ldns_get_errorstr_by_id(ls));
		return TRY_NEXT;
	}
	if (!reply_matches(query, reply)) {
		ldns_pkt_free(reply);
		snprintf(msg, msgsz, "the answer from %s does not match the query", s->label);
		return TRY_AGAIN;
	}
	if (ldns_pkt_tc(reply)) {
		ldns_pkt_free(reply);
		snprintf(msg, msgsz, "truncated answer from %s over %s", s->label, tcp ? "TCP" : "UDP");
		return tcp ? TRY_NEXT : TRY_TCP;
	}
	rcode = ldns_pkt_get_rcode(reply);
	if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) {
		ldns_pkt_free(reply);
		snprintf(msg, msgsz, "%s from %s", rcode_name(rcode, rbuf), s->label);
		return TRY_NEXT;
	}
	*answer = reply;
	return TRY_ANSWER;
}

/*
 * The real sender: rounds over the servers, starting with the one that
 * answered last, until one gives a NOERROR or NXDOMAIN answer or the budget
 * runs out. A server that answered SERVFAIL, REFUSED or garbage is not asked
 * again for this question (retrying is for lost packets); the others are,
 * like the glibc stub resolver does.
 */
static stsguard_status send_ldns(void *ctx, const ldns_rdf *qname, ldns_rr_type type, ldns_pkt **answer,
                                 stsguard_err *err)
{
	stsguard_dns *dns = ctx;
	ldns_pkt *query = NULL;
	bool given_up[STSGUARD_RESOLVERS_MAX] = {false};
	char what[WHAT_LEN + 8], name[NAME_MAX_LEN + 1];
	char msg[STSGUARD_ERR_LEN], lost[STSGUARD_ERR_LEN] = "", refused[STSGUARD_ERR_LEN] = "";

	*answer = NULL;
	if (!dname_text(qname, name, sizeof name))
		snprintf(name, sizeof name, "(unprintable name)");
	snprintf(what, sizeof what, "%s %s", name, type_name(type));
	if (dns->n == 0)
		return sg_err(err, STSGUARD_TEMPFAIL, "%s: no nameserver configured", what);
	if (ldns_resolver_prepare_query_pkt(&query, dns->server[0].res, qname, type, LDNS_RR_CLASS_IN,
	                                    LDNS_RD) != LDNS_STATUS_OK ||
	    query == NULL)
		return sg_err(err, STSGUARD_NOMEM, "%s: cannot build the query", what);

	for (unsigned round = 0; round < dns->tries; round++) {
		for (size_t k = 0; k < dns->n; k++) {
			size_t i = (dns->preferred + k) % dns->n;
			long long left = ms_left(dns);
			enum try_result r;

			if (given_up[i])
				continue;
			if (left <= 0)
				goto failed;
			ldns_pkt_set_random_id(query);
			r = exchange(dns, i, query, false, left, answer, msg, sizeof msg);
			if (r == TRY_TCP) {
				/* RFC 7766 §5: a truncated UDP answer is asked again over TCP. */
				left = ms_left(dns);
				if (left <= 0)
					goto failed;
				r = exchange(dns, i, query, true, left, answer, msg, sizeof msg);
				if (r == TRY_TCP)
					r = TRY_NEXT;
			}
			if (r == TRY_ANSWER) {
				dns->preferred = i;
				ldns_pkt_free(query);
				return STSGUARD_OK;
			}
			if (r == TRY_NEXT) {
				given_up[i] = true;
				/* Every server's verdict: "SERVFAIL from A; REFUSED from B". */
				if (refused[0] != '\0')
					append(refused, sizeof refused, "; ");
				append(refused, sizeof refused, msg);
			} else {
				memcpy(lost, msg, sizeof lost);
			}
		}
	}
failed:
	ldns_pkt_free(query);
	/* An rcode says more than a lost packet: report it first. */
	if (refused[0] != '\0' && lost[0] != '\0') {
		append(refused, sizeof refused, "; ");
		append(refused, sizeof refused, lost);
	}
	if (refused[0] != '\0')
		return sg_err(err, STSGUARD_TEMPFAIL, "%s: %s", what, refused);
	if (lost[0] != '\0')
		return sg_err(err, STSGUARD_TEMPFAIL, "%s: %s", what, lost);
	return sg_err(err, STSGUARD_TEMPFAIL, "%s: no time left of the %u ms budget", what,
	              dns->tries * (unsigned)dns->n * dns->timeout_ms);
}

/* ---- reading answers ---- */

/*
 * The negative-caching TTL of RFC 2308 §5: the least of the SOA TTL and the
 * SOA MINIMUM field, of an SOA in the authority section whose zone holds
 * name. False (and the default) when there is none.
 */
static bool negative_ttl(const ldns_pkt *pkt, const ldns_rdf *name, uint32_t *ttl)
{
	const ldns_rr_list *auth = ldns_pkt_authority(pkt);
	bool found = false;

	*ttl = NEGATIVE_TTL_DEFAULT;
	for (size_t i = 0; i < ldns_rr_list_rr_count(auth); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(auth, i);
		const ldns_rdf *minimum;
		const ldns_rdf *zone;

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA || ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
		    ldns_rr_rd_count(rr) != 7)
			continue;
		zone = ldns_rr_owner(rr);
		if (ldns_dname_compare(name, zone) != 0 && !ldns_dname_is_subdomain(name, zone))
			continue;
		minimum = ldns_rr_rdf(rr, 6);
		if (minimum == NULL || ldns_rdf_size(minimum) != 4)
			continue;
		uint32_t t = min_u32(ldns_rr_ttl(rr), ldns_rdf2native_int32(minimum));
		*ttl = found ? min_u32(*ttl, t) : t;
		found = true;
	}
	return found;
}

/*
 * What one response says about (qname, type). The resolver gives the CNAME
 * chain in the answer section (RFC 1034 §4.3.2): walk it from qname, then
 * take the RRs of the type asked owned by the end of the chain. *hops counts
 * the CNAMEs of the whole lookup. Returns
 *   OK with a->rrs set           records found (pointers into pkt);
 *   OK with *next set            the chain leaves this answer without data
 *                                or denial: ask again for *next;
 *   NONE                         NXDOMAIN or NODATA, a->ttl the negative TTL;
 *   TEMPFAIL                     any other rcode, malformed, chain too long.
 */
static stsguard_status read_response(const ldns_pkt *pkt, const ldns_rdf *qname, ldns_rr_type type,
                                     const char *what, size_t *hops, struct answer *a, ldns_rdf **next,
                                     stsguard_err *err)
{
	const ldns_rr_list *an = ldns_pkt_answer(pkt);
	const ldns_rdf *owner = qname;
	ldns_pkt_rcode rcode = ldns_pkt_get_rcode(pkt);
	ldns_rr_list *found = NULL;
	uint32_t neg;
	bool have_soa;
	char rbuf[16];

	*next = NULL;
	if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN)
		return sg_err(err, STSGUARD_TEMPFAIL, "%s: %s", what, rcode_name(rcode, rbuf));
	if (!ldns_pkt_ad(pkt))
		a->secure = false;

	for (;;) {
		const ldns_rr *cname = NULL;
		uint32_t ttl = UINT32_MAX;

		for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
			const ldns_rr *rr = ldns_rr_list_rr(an, i);
			if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
			    ldns_dname_compare(ldns_rr_owner(rr), owner) != 0)
				continue;
			if (ldns_rr_get_type(rr) == type) {
				if (found == NULL && (found = ldns_rr_list_new()) == NULL)
					return sg_err(err, STSGUARD_NOMEM, "out of memory");
				if (!ldns_rr_list_push_rr(found, rr)) {
					ldns_rr_list_free(found);
					return sg_err(err, STSGUARD_NOMEM, "out of memory");
				}
				ttl = min_u32(ttl, ldns_rr_ttl(rr));
			} else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && cname == NULL) {
				cname = rr;
			}
		}
		if (found != NULL) {
			a->ttl = min_u32(a->ttl, ttl);
			break;
		}
		if (cname == NULL)
			break;
		/* Data and a CNAME at one name cannot both exist (RFC 1034 §3.6.2); data won above. */
		if (ldns_rr_rd_count(cname) != 1 || ldns_rdf_get_type(ldns_rr_rdf(cname, 0)) != LDNS_RDF_TYPE_DNAME)
			return sg_err(err, STSGUARD_TEMPFAIL, "%s: malformed CNAME in the answer", what);
		if (++*hops > CNAME_HOPS_MAX)
			return sg_err(err, STSGUARD_TEMPFAIL, "%s: CNAME chain longer than %d", what,
			              CNAME_HOPS_MAX);
		a->ttl = min_u32(a->ttl, ldns_rr_ttl(cname));
		owner = ldns_rr_rdf(cname, 0);
	}

	if (found != NULL) {
		if (rcode == LDNS_RCODE_NXDOMAIN) {
			ldns_rr_list_free(found);
			return sg_err(err, STSGUARD_TEMPFAIL, "%s: NXDOMAIN with records in the answer", what);
		}
		a->rrs = found;
		return STSGUARD_OK;
	}
	have_soa = negative_ttl(pkt, owner, &neg);
	if (rcode == LDNS_RCODE_NXDOMAIN) {
		/* RFC 6604 §2: after a CNAME, the rcode is about the last name. */
		a->ttl = min_u32(a->ttl, neg);
		a->nxdomain = true;
		return sg_err(err, STSGUARD_NONE, "%s: no such name (NXDOMAIN)", what);
	}
	if (have_soa || owner == qname) {
		a->ttl = min_u32(a->ttl, neg);
		return sg_err(err, STSGUARD_NONE, "%s: no %s record (NODATA)", what, type_name(type));
	}
	/* A chain out of an authoritative server's zones, or a resolver that stopped: ask on. */
	*next = ldns_rdf_clone(owner);
	if (*next == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	return STSGUARD_OK;
}

/* Ask (qname, type) and follow the CNAME chain to its end, asking again where it leaves an answer. */
static stsguard_status lookup(stsguard_dns *dns, const ldns_rdf *qname, ldns_rr_type type, const char *what,
                              struct answer *a, stsguard_err *err)
{
	ldns_rdf *name = ldns_rdf_clone(qname);
	size_t hops = 0;
	stsguard_status st;

	answer_init(a);
	if (name == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	for (;;) {
		ldns_pkt *pkt = NULL;
		ldns_rdf *next = NULL;

		st = dns->send(dns->send_ctx, name, type, &pkt, err);
		if (st != STSGUARD_OK) {
			if (pkt != NULL)
				ldns_pkt_free(pkt);
			break;
		}
		if (pkt == NULL) {
			st = sg_err(err, STSGUARD_TEMPFAIL, "%s: no answer", what);
			break;
		}
		st = read_response(pkt, name, type, what, &hops, a, &next, err);
		if (st == STSGUARD_OK && a->rrs != NULL) {
			a->pkt = pkt;
			break;
		}
		ldns_pkt_free(pkt);
		if (st != STSGUARD_OK || next == NULL)
			break;
		ldns_rdf_deep_free(name);
		name = next;
	}
	ldns_rdf_deep_free(name);
	if (st != STSGUARD_OK && st != STSGUARD_NONE) {
		answer_free(a);
	} else if (st == STSGUARD_NONE && a->rrs != NULL) {
		ldns_rr_list_free(a->rrs);
		a->rrs = NULL;
	}
	return st;
}

/* Checks name, starts the time budget, gives the name as text and "NAME TYPE" for messages. */
static stsguard_status prepare(void *ctx, const char *name, ldns_rr_type type, ldns_rdf **wire,
                               char text[NAME_MAX_LEN + 1], char what[WHAT_LEN], stsguard_err *err)
{
	stsguard_dns *dns = ctx;
	stsguard_status st;

	*wire = NULL;
	what[0] = '\0';
	if (dns == NULL)
		return sg_err(err, STSGUARD_BADARG, "no resolver context");
	st = name_to_wire(name, text, wire, err);
	if (st != STSGUARD_OK)
		return st;
	snprintf(what, WHAT_LEN, "%s %s", text, type_name(type));
	start_budget(dns);
	return STSGUARD_OK;
}

/* ---- TXT ---- */

void stsguard_txt_set_free(stsguard_txt_set *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++)
		free((void *)(uintptr_t)set->rec[i].data); /* owned: allocated below, const only for readers */
	free(set->rec);
	free(set);
}

/*
 * One TXT record as the parsers see it: its character-strings concatenated
 * without separators (RFC 8461 §3.1, RFC 8460 §3). The RDATA is at most
 * 65535 bytes, so the result never exceeds STSGUARD_TXT_RECORD_MAX.
 */
static stsguard_status txt_join(const ldns_rr *rr, stsguard_txt *rec, const char *what, stsguard_err *err)
{
	size_t len = 0, o = 0;
	char *data;

	for (size_t j = 0; j < ldns_rr_rd_count(rr); j++) {
		const ldns_rdf *s = ldns_rr_rdf(rr, j);
		if (s == NULL || ldns_rdf_get_type(s) != LDNS_RDF_TYPE_STR || ldns_rdf_size(s) < 1 ||
		    ldns_rdf_data(s)[0] != ldns_rdf_size(s) - 1)
			return sg_err(err, STSGUARD_TEMPFAIL, "%s: malformed TXT record", what);
		len += ldns_rdf_size(s) - 1;
	}
	if (len > STSGUARD_TXT_RECORD_MAX)
		return sg_err(err, STSGUARD_TEMPFAIL, "%s: TXT record longer than %u bytes", what,
		              STSGUARD_TXT_RECORD_MAX);
	data = malloc(len + 1);
	if (data == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	for (size_t j = 0; j < ldns_rr_rd_count(rr); j++) {
		const ldns_rdf *s = ldns_rr_rdf(rr, j);
		memcpy(data + o, ldns_rdf_data(s) + 1, ldns_rdf_size(s) - 1);
		o += ldns_rdf_size(s) - 1;
	}
	data[len] = '\0'; /* for convenience; len is what counts, data may hold NULs */
	rec->data = data;
	rec->len = len;
	return STSGUARD_OK;
}

static stsguard_status op_txt(void *ctx, const char *name, stsguard_txt_set **out, stsguard_err *err)
{
	stsguard_dns *dns = ctx;
	stsguard_txt_set *set;
	struct answer a;
	ldns_rdf *qname;
	char text[NAME_MAX_LEN + 1], what[WHAT_LEN];
	stsguard_status st;
	size_t n;

	if (out == NULL)
		return sg_err(err, STSGUARD_BADARG, "no output");
	*out = NULL;
	st = prepare(ctx, name, LDNS_RR_TYPE_TXT, &qname, text, what, err);
	if (st != STSGUARD_OK)
		return st;
	st = lookup(dns, qname, LDNS_RR_TYPE_TXT, what, &a, err);
	ldns_rdf_deep_free(qname);
	if (st != STSGUARD_OK && st != STSGUARD_NONE)
		return st;

	set = calloc(1, sizeof *set);
	if (set == NULL) {
		answer_free(&a);
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	}
	set->ttl = a.ttl;
	set->secure = a.secure;
	/* One more than the parsers look at, so they can say "too many records". */
	n = a.rrs == NULL ? 0 : ldns_rr_list_rr_count(a.rrs);
	if (n > STSGUARD_TXT_RRSET_MAX + 1)
		n = STSGUARD_TXT_RRSET_MAX + 1;
	if (n > 0) {
		set->rec = calloc(n, sizeof *set->rec);
		if (set->rec == NULL) {
			free(set);
			answer_free(&a);
			return sg_err(err, STSGUARD_NOMEM, "out of memory");
		}
	}
	for (size_t i = 0; i < n; i++) {
		stsguard_status js = txt_join(ldns_rr_list_rr(a.rrs, i), &set->rec[set->n], what, err);
		if (js != STSGUARD_OK) {
			stsguard_txt_set_free(set);
			answer_free(&a);
			return js;
		}
		set->n++;
	}
	answer_free(&a);
	*out = set;
	return st;
}

/* ---- MX ---- */

/* Insert keeping the set sorted by preference, ties in answer order; keep the STSGUARD_MX_MAX best. */
static void mx_insert(stsguard_mx_set *set, uint16_t preference, const char *host)
{
	size_t pos = set->n, last;

	while (pos > 0 && set->mx[pos - 1].preference > preference)
		pos--;
	if (pos >= STSGUARD_MX_MAX)
		return;
	last = set->n < STSGUARD_MX_MAX ? set->n : STSGUARD_MX_MAX - 1;
	memmove(&set->mx[pos + 1], &set->mx[pos], (last - pos) * sizeof set->mx[0]);
	set->mx[pos].preference = preference;
	snprintf(set->mx[pos].host, sizeof set->mx[pos].host, "%s", host);
	if (set->n < STSGUARD_MX_MAX)
		set->n++;
}

/*
 * MX of domain. NONE for NXDOMAIN or NODATA: the caller applies the implicit
 * MX (RFC 5321 §5.1). A null MX (RFC 7505: the RRset is only "." records)
 * says the domain takes no mail at all - the opposite of the implicit MX -
 * but dns.h has no field for it, so it comes back as NONE with n = 0, the
 * record's TTL, and err->msg beginning "null MX". A "." next to real hosts
 * breaks RFC 7505 §3 and is skipped: the real hosts are used. A host whose
 * name we could not ask about again (see dname_text) is skipped too; if
 * nothing usable is left the answer is TEMPFAIL, never NONE.
 */
static stsguard_status op_mx(void *ctx, const char *domain, stsguard_mx_set *out, stsguard_err *err)
{
	stsguard_dns *dns = ctx;
	struct answer a;
	ldns_rdf *qname;
	char text[NAME_MAX_LEN + 1], what[WHAT_LEN];
	stsguard_status st;
	size_t null_mx = 0, unusable = 0;

	if (out == NULL)
		return sg_err(err, STSGUARD_BADARG, "no output");
	memset(out, 0, sizeof *out);
	st = prepare(ctx, domain, LDNS_RR_TYPE_MX, &qname, text, what, err);
	if (st != STSGUARD_OK)
		return st;
	st = lookup(dns, qname, LDNS_RR_TYPE_MX, what, &a, err);
	ldns_rdf_deep_free(qname);
	if (st != STSGUARD_OK) {
		out->ttl = st == STSGUARD_NONE ? a.ttl : 0;
		return st;
	}
	out->ttl = a.ttl;

	for (size_t i = 0; i < ldns_rr_list_rr_count(a.rrs); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(a.rrs, i);
		const ldns_rdf *pref = ldns_rr_rdf(rr, 0), *exchange_name = ldns_rr_rdf(rr, 1);
		char host[sizeof out->mx[0].host];

		if (ldns_rr_rd_count(rr) != 2 || pref == NULL || ldns_rdf_size(pref) != 2 ||
		    !dname_text(exchange_name, host, sizeof host)) {
			unusable++;
			continue;
		}
		if (host[0] == '\0') {
			null_mx++;
			continue;
		}
		mx_insert(out, ldns_rdf2native_int16(pref), host);
	}
	answer_free(&a);
	if (out->n > 0)
		return STSGUARD_OK;
	if (null_mx > 0 && unusable == 0) {
		out->null_mx = true;
		return sg_err(err, STSGUARD_NONE, "null MX (RFC 7505): %s says the domain accepts no mail", what);
	}
	out->ttl = 0;
	return sg_err(err, STSGUARD_TEMPFAIL, "%s: no usable host name in the MX records", what);
}

/* ---- A and AAAA ---- */

static stsguard_status addrs_add(stsguard_addr_set *out, const struct answer *a, int family, const char *what,
                                 stsguard_err *err)
{
	size_t want = family == AF_INET ? 4 : 16, before = out->n;

	for (size_t i = 0; i < ldns_rr_list_rr_count(a->rrs) && out->n < STSGUARD_ADDRS_MAX; i++) {
		const ldns_rdf *addr = ldns_rr_rdf(ldns_rr_list_rr(a->rrs, i), 0);
		if (addr == NULL || ldns_rdf_size(addr) != want ||
		    inet_ntop(family, ldns_rdf_data(addr), out->addr[out->n], sizeof out->addr[0]) == NULL) {
			memset(out->addr[before], 0, (out->n - before + 1) * sizeof out->addr[0]);
			out->n = before;
			return sg_err(err, STSGUARD_TEMPFAIL, "%s: malformed address record", what);
		}
		out->n++;
	}
	return STSGUARD_OK;
}

/* One family: OK (addresses added, *ttl lowered), NONE (*ttl the negative TTL) or a failure. */
static stsguard_status addrs_family(stsguard_dns *dns, const ldns_rdf *qname, const char *host, ldns_rr_type type,
                                    stsguard_addr_set *out, uint32_t *ttl, bool *nxdomain, stsguard_err *err)
{
	char what[WHAT_LEN];
	struct answer a;
	stsguard_status st;

	snprintf(what, sizeof what, "%s %s", host, type_name(type));
	st = lookup(dns, qname, type, what, &a, err);
	*nxdomain = a.nxdomain;
	if (st == STSGUARD_OK || st == STSGUARD_NONE)
		*ttl = min_u32(*ttl, a.ttl);
	if (st == STSGUARD_OK)
		st = addrs_add(out, &a, type == LDNS_RR_TYPE_A ? AF_INET : AF_INET6, what, err);
	answer_free(&a);
	return st;
}

/*
 * A then AAAA. OK when either found addresses, even if the other failed: the
 * client can deliver to what it has. NONE only when both are definitely
 * empty. An NXDOMAIN for A settles AAAA too (RFC 8020 §2), so it is not asked.
 * Addresses are kept in that order up to STSGUARD_ADDRS_MAX.
 */
static stsguard_status op_addrs(void *ctx, const char *host, stsguard_addr_set *out, stsguard_err *err)
{
	stsguard_dns *dns = ctx;
	ldns_rdf *qname;
	char what[WHAT_LEN], text[NAME_MAX_LEN + 1];
	stsguard_err err4 = {""}, err6 = {""};
	stsguard_status st4, st6;
	uint32_t ttl4 = UINT32_MAX, ttl6 = UINT32_MAX;
	bool nx4 = false, nx6 = false;

	if (out == NULL)
		return sg_err(err, STSGUARD_BADARG, "no output");
	memset(out, 0, sizeof *out);
	st4 = prepare(ctx, host, LDNS_RR_TYPE_A, &qname, text, what, err);
	if (st4 != STSGUARD_OK)
		return st4;
	st4 = addrs_family(dns, qname, text, LDNS_RR_TYPE_A, out, &ttl4, &nx4, &err4);
	if (st4 == STSGUARD_NONE && nx4) {
		st6 = STSGUARD_NONE;
		ttl6 = ttl4;
	} else if (st4 == STSGUARD_NOMEM) {
		st6 = STSGUARD_NOMEM;
	} else {
		st6 = addrs_family(dns, qname, text, LDNS_RR_TYPE_AAAA, out, &ttl6, &nx6, &err6);
	}
	ldns_rdf_deep_free(qname);

	if (out->n > 0) {
		/* Only a found RRset adds addresses, so one of the two is OK. */
		out->ttl = min_u32(st4 == STSGUARD_OK ? ttl4 : UINT32_MAX, st6 == STSGUARD_OK ? ttl6 : UINT32_MAX);
		return STSGUARD_OK;
	}
	if (st4 == STSGUARD_NONE && st6 == STSGUARD_NONE) {
		out->ttl = min_u32(ttl4, ttl6);
		return sg_err(err, STSGUARD_NONE, "%s: no A or AAAA record%s", text,
		              nx4 || nx6 ? " (NXDOMAIN)" : " (NODATA)");
	}
	out->ttl = 0;
	if (st4 == STSGUARD_NOMEM || st6 == STSGUARD_NOMEM)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	if (st4 != STSGUARD_OK && st4 != STSGUARD_NONE)
		return sg_err(err, st4, "%s", err4.msg);
	return sg_err(err, st6, "%s", err6.msg);
}

/* ---- TLSA ---- */

/*
 * TLSA at _PORT._tcp.HOST (RFC 6698 §3). OK with the number of
 * records; NONE for a denial, whose AD bit says whether it is a proven one
 * (DANE then does not apply) or merely insecure; TEMPFAIL for SERVFAIL - a
 * validating resolver's answer to bogus data - and timeouts, which RFC 7672
 * §2.1 forbids treating as "no TLSA".
 */
static stsguard_status op_tlsa(void *ctx, const char *host, uint16_t port, stsguard_tlsa_state *out,
                               stsguard_err *err)
{
	stsguard_dns *dns = ctx;
	struct answer a;
	ldns_rdf *qname;
	char text[NAME_MAX_LEN + 1], name[NAME_MAX_LEN + 32], what[WHAT_LEN];
	stsguard_status st;

	if (out == NULL)
		return sg_err(err, STSGUARD_BADARG, "no output");
	memset(out, 0, sizeof *out);
	if (port == 0)
		return sg_err(err, STSGUARD_BADARG, "TLSA lookup for port 0");
	st = name_to_wire(host, text, &qname, err); /* the host alone first: clearer messages */
	if (st != STSGUARD_OK)
		return st;
	ldns_rdf_deep_free(qname);
	snprintf(name, sizeof name, "_%u._tcp.%s", (unsigned)port, text);
	st = prepare(ctx, name, LDNS_RR_TYPE_TLSA, &qname, text, what, err);
	if (st != STSGUARD_OK)
		return st;
	st = lookup(dns, qname, LDNS_RR_TYPE_TLSA, what, &a, err);
	ldns_rdf_deep_free(qname);
	if (st == STSGUARD_OK || st == STSGUARD_NONE) {
		out->n_records = a.rrs == NULL ? 0 : ldns_rr_list_rr_count(a.rrs);
		out->secure = a.secure;
		out->ttl = a.ttl;
	}
	answer_free(&a);
	return st;
}

const struct stsguard_resolver_ops stsguard_ldns_resolver_ops = {
	.txt = op_txt,
	.mx = op_mx,
	.addrs = op_addrs,
	.tlsa = op_tlsa,
};

/* ---- the context ---- */

/* One ldns resolver for one server: no search list, recursion desired, DO on, CD off, no ldns retrying. */
static stsguard_status add_server(stsguard_dns *dns, const ldns_rdf *addr, uint16_t port, const char *label,
                                  stsguard_err *err)
{
	struct server *s = &dns->server[dns->n];
	ldns_resolver *res = ldns_resolver_new();

	if (res == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	if (ldns_resolver_push_nameserver(res, addr) != LDNS_STATUS_OK) {
		ldns_resolver_deep_free(res);
		return sg_err(err, STSGUARD_NOMEM, "cannot add nameserver %s", label);
	}
	ldns_resolver_set_port(res, port);
	ldns_resolver_set_recursive(res, true);
	ldns_resolver_set_dnssec(res, true);
	ldns_resolver_set_dnssec_cd(res, false);
	ldns_resolver_set_edns_udp_size(res, EDNS_UDP_SIZE);
	ldns_resolver_set_defnames(res, false);
	ldns_resolver_set_dnsrch(res, false);
	ldns_resolver_set_retry(res, 1);
	ldns_resolver_set_retrans(res, 0);
	ldns_resolver_set_fallback(res, false); /* our TCP retry is budgeted */
	ldns_resolver_set_igntc(res, false);
	ldns_resolver_set_random(res, false);
	ldns_resolver_set_fail(res, false);
	ldns_resolver_set_ip6(res, LDNS_RESOLV_INETANY);
	ldns_resolver_set_usevc(res, false);
	s->res = res;
	snprintf(s->label, sizeof s->label, "%s", label);
	dns->n++;
	return STSGUARD_OK;
}

static void server_label(char *out, size_t outsz, const char *ip, uint16_t port, bool v6)
{
	if (port == 53)
		snprintf(out, outsz, "%s", ip);
	else if (v6)
		snprintf(out, outsz, "[%s]:%u", ip, (unsigned)port);
	else
		snprintf(out, outsz, "%s:%u", ip, (unsigned)port);
}

/* The nameservers of /etc/resolv.conf, or the local machine's when it names none (resolv.conf(5)). */
static stsguard_status servers_from_resolv_conf(stsguard_dns *dns, stsguard_err *err)
{
	ldns_resolver *sys = NULL;
	ldns_status ls = ldns_resolver_new_frm_file(&sys, NULL);
	stsguard_status st = STSGUARD_OK;
	size_t count;

	if (ls != LDNS_STATUS_OK || sys == NULL)
		return sg_err(err, STSGUARD_IO, "cannot read /etc/resolv.conf: %s", ldns_get_errorstr_by_id(ls));
	count = ldns_resolver_nameserver_count(sys);
	for (size_t i = 0; i < count && dns->n < STSGUARD_RESOLVERS_MAX && st == STSGUARD_OK; i++) {
		const ldns_rdf *addr = ldns_resolver_nameservers(sys)[i];
		char ip[INET6_ADDRSTRLEN], label[64];
		bool v6 = ldns_rdf_get_type(addr) == LDNS_RDF_TYPE_AAAA;

		if (inet_ntop(v6 ? AF_INET6 : AF_INET, ldns_rdf_data(addr), ip, sizeof ip) == NULL)
			continue;
		server_label(label, sizeof label, ip, 53, v6);
		st = add_server(dns, addr, 53, label, err);
	}
	ldns_resolver_deep_free(sys);
	if (st == STSGUARD_OK && dns->n == 0) {
		ldns_rdf *local = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, "127.0.0.1");
		if (local == NULL)
			return sg_err(err, STSGUARD_NOMEM, "out of memory");
		st = add_server(dns, local, 53, "127.0.0.1", err);
		ldns_rdf_deep_free(local);
	}
	return st;
}

static stsguard_status server_from_conf(stsguard_dns *dns, const char ip[46], uint16_t port, stsguard_err *err)
{
	unsigned char bin[16];
	char shown[64], label[64];
	ldns_rdf *addr;
	bool v6;
	stsguard_status st;

	if (memchr(ip, '\0', 46) == NULL)
		return sg_err(err, STSGUARD_BADARG, "resolver address is not terminated");
	sg_escape(shown, sizeof shown, ip, strlen(ip));
	if (inet_pton(AF_INET, ip, bin) == 1)
		v6 = false;
	else if (inet_pton(AF_INET6, ip, bin) == 1)
		v6 = true;
	else
		return sg_err(err, STSGUARD_BADARG, "resolver address '%s' is not an IPv4 or IPv6 address", shown);
	addr = ldns_rdf_new_frm_data(v6 ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A, v6 ? 16 : 4, bin);
	if (addr == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	if (port == 0)
		port = 53; /* dns.h: "53 unless configured" */
	server_label(label, sizeof label, ip, port, v6);
	st = add_server(dns, addr, port, label, err);
	ldns_rdf_deep_free(addr);
	return st;
}

stsguard_status stsguard_dns_new(const stsguard_resolver_conf *conf, stsguard_dns **out, stsguard_err *err)
{
	stsguard_dns *dns;
	stsguard_status st = STSGUARD_OK;
	unsigned timeout_ms = conf != NULL && conf->timeout_ms != 0 ? conf->timeout_ms : DEFAULT_TIMEOUT_MS;
	unsigned tries = conf != NULL && conf->retries != 0 ? conf->retries : DEFAULT_TRIES;

	if (out == NULL)
		return sg_err(err, STSGUARD_BADARG, "no output");
	*out = NULL;
	if (conf != NULL && conf->n > STSGUARD_RESOLVERS_MAX)
		return sg_err(err, STSGUARD_BADARG, "%zu resolvers configured, at most %d", conf->n,
		              STSGUARD_RESOLVERS_MAX);
	if (timeout_ms > MAX_TIMEOUT_MS)
		return sg_err(err, STSGUARD_BADARG, "resolver timeout %u ms is over %u ms", timeout_ms, MAX_TIMEOUT_MS);
	if (tries > MAX_TRIES)
		return sg_err(err, STSGUARD_BADARG, "%u tries per resolver, at most %u", tries, MAX_TRIES);
	dns = calloc(1, sizeof *dns);
	if (dns == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	dns->send = send_ldns;
	dns->send_ctx = dns;
	dns->timeout_ms = timeout_ms;
	dns->tries = tries;
	if (conf == NULL || conf->n == 0)
		st = servers_from_resolv_conf(dns, err);
	else
		for (size_t i = 0; i < conf->n && st == STSGUARD_OK; i++)
			st = server_from_conf(dns, conf->server[i].ip, conf->server[i].port, err);
	if (st != STSGUARD_OK) {
		stsguard_dns_free(dns);
		return st;
	}
	*out = dns;
	return STSGUARD_OK;
}

stsguard_status sg_dns_new_with_sender(sg_dns_send_fn send, void *send_ctx, stsguard_dns **out,
                                       stsguard_err *err)
{
	stsguard_dns *dns;

	if (out == NULL)
		return sg_err(err, STSGUARD_BADARG, "no output");
	*out = NULL;
	if (send == NULL)
		return sg_err(err, STSGUARD_BADARG, "no sender");
	dns = calloc(1, sizeof *dns);
	if (dns == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	dns->send = send;
	dns->send_ctx = send_ctx;
	dns->timeout_ms = DEFAULT_TIMEOUT_MS;
	dns->tries = DEFAULT_TRIES;
	*out = dns;
	return STSGUARD_OK;
}

void stsguard_dns_free(stsguard_dns *dns)
{
	if (dns == NULL)
		return;
	for (size_t i = 0; i < dns->n; i++)
		ldns_resolver_deep_free(dns->server[i].res);
	free(dns);
}
