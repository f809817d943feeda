/*
 * test_dns_parse.c - table-driven tests of how dns.c reads DNS answers.
 *
 * The real lookups (stsguard_ldns_resolver_ops) run against a fake sender
 * that returns packets built in memory from zone-file lines, through the test
 * seam sg_dns_new_with_sender() of dns.c. The network side (retries, TCP,
 * reply matching) is tested against real unbound/nsd in a namespace; this
 * file covers what the module makes of an answer. Expectations come from the
 * RFCs and dns.h, never from the code:
 *   RFC 8461 §3.1   TXT character-strings concatenated without separators;
 *   RFC 1034 §4.3.2 the CNAME chain is in the answer, data is at its end;
 *   RFC 6604 §2     after a CNAME, NXDOMAIN is about the last name;
 *   RFC 2308 §5     negative TTL = min(SOA TTL, SOA MINIMUM);
 *   RFC 7505        null MX; RFC 8020: NXDOMAIN means nothing of any type;
 *   RFC 7672 §2.1   SERVFAIL is never "no TLSA";
 *   dns.h           caps, sort order, three-way statuses.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "stsguard/dns.h"

#include "check.h"

#include "dns_seam.h"

#define FAIL (-1) /* canned rcode: the sender gets no answer at all (timeout) */
#define MAX_AN 12
#define MAX_RESP 4

struct canned {
	const char *qname; /* absolute */
	const char *qtype;
	int rcode;
	bool ad;
	const char *an[MAX_AN]; /* answer section, zone-file lines */
	const char *ns[3];      /* authority section */
};

enum op { OP_TXT, OP_MX, OP_ADDRS, OP_TLSA };
enum sec { SEC_ANY, SEC_YES, SEC_NO };

struct dns_case {
	const char *name;
	enum op op;
	const char *query;
	uint16_t port; /* TLSA */
	struct canned resp[MAX_RESP];
	stsguard_status want;
	const char *want_out; /* the records rendered, " | " between; NULL: not checked */
	long long want_ttl;   /* 0: not checked */
	enum sec want_secure;
	int want_queries;     /* questions the fake was asked; 0: not checked */
	const char *want_err; /* a substring of err.msg; NULL: not checked */
};

/* A canned response: question, rcode, AD bit, answer lines (NULL for none). */
#define Q(qn, qt, rc, adbit, ...) \
	{.qname = (qn), .qtype = (qt), .rcode = (rc), .ad = (adbit), .an = {__VA_ARGS__}}
/* The same with one authority line (an SOA). */
#define QA(qn, qt, rc, adbit, soa, ...) \
	{.qname = (qn), .qtype = (qt), .rcode = (rc), .ad = (adbit), .an = {__VA_ARGS__}, .ns = {(soa)}}
#define NOERROR LDNS_RCODE_NOERROR
#define NXDOMAIN LDNS_RCODE_NXDOMAIN
#define SERVFAIL LDNS_RCODE_SERVFAIL
#define REFUSED LDNS_RCODE_REFUSED
#define FORMERR LDNS_RCODE_FORMERR

#define SOA(zone, ttl, min) zone " " #ttl " IN SOA ns." zone " host." zone " 1 3600 900 604800 " #min

static const struct dns_case cases[] = {
	/* ---- TXT: RFC 8461 §3.1 concatenation ---- */
	{.name = "txt: one record", .op = OP_TXT, .query = "_mta-sts.example.com",
	 .resp = {Q("_mta-sts.example.com.", "TXT", NOERROR, false,
		   "_mta-sts.example.com. 300 IN TXT \"v=STSv1; id=1;\"")},
	 .want = STSGUARD_OK, .want_out = "v=STSv1; id=1;", .want_ttl = 300, .want_secure = SEC_NO,
	 .want_queries = 1},
	{.name = "txt: strings joined without separator", .op = OP_TXT, .query = "a.example",
	 .resp = {Q("a.example.", "TXT", NOERROR, false,
		   "a.example. 300 IN TXT \"v=STSv1; \" \"id=abc\" \"123;\"")},
	 .want = STSGUARD_OK, .want_out = "v=STSv1; id=abc123;"},
	{.name = "txt: several records kept apart, in order", .op = OP_TXT, .query = "a.example",
	 .resp = {Q("a.example.", "TXT", NOERROR, false,
		   "a.example. 300 IN TXT \"one\"",
		   "a.example. 200 IN TXT \"two\"",
		   "a.example. 300 IN TXT \"three\"")},
	 .want = STSGUARD_OK, .want_out = "one | two | three", .want_ttl = 200},
	{.name = "txt: empty string record", .op = OP_TXT, .query = "a.example",
	 .resp = {Q("a.example.", "TXT", NOERROR, false,
		   "a.example. 300 IN TXT \"\"")},
	 .want = STSGUARD_OK, .want_out = ""},
	{.name = "txt: NUL byte kept", .op = OP_TXT, .query = "a.example",
	 .resp = {Q("a.example.", "TXT", NOERROR, false,
		   "a.example. 300 IN TXT \"a\\000b\"")},
	 .want = STSGUARD_OK, .want_out = "a\\x00b"},
	{.name = "txt: trailing dot accepted", .op = OP_TXT, .query = "a.example.",
	 .resp = {Q("a.example.", "TXT", NOERROR, false,
		   "a.example. 300 IN TXT \"x\"")},
	 .want = STSGUARD_OK, .want_out = "x"},
	{.name = "txt: owner matched case-insensitively", .op = OP_TXT, .query = "a.example",
	 .resp = {Q("a.example.", "TXT", NOERROR, false,
		   "A.EXAMPLE. 300 IN TXT \"x\"")},
	 .want = STSGUARD_OK, .want_out = "x"},
	{.name = "txt: records of another owner are not ours", .op = OP_TXT, .query = "a.example",
	 .resp = {Q("a.example.", "TXT", NOERROR, false,
		   "b.example. 300 IN TXT \"x\"")},
	 .want = STSGUARD_NONE, .want_out = "", .want_ttl = 300, .want_queries = 1},
	{.name = "txt: RRSIG and other types ignored", .op = OP_TXT, .query = "a.example",
	 .resp = {Q("a.example.", "TXT", NOERROR, true,
		   "a.example. 300 IN A 192.0.2.1",
		   "a.example. 300 IN TXT \"x\"",
		   "a.example. 300 IN RRSIG TXT 13 2 300 20300101000000 20200101000000 1 example. "
		   "AAAA")},
	 .want = STSGUARD_OK, .want_out = "x", .want_secure = SEC_YES},

	/* ---- TXT: CNAME chains (RFC 1034 §4.3.2) ---- */
	{.name = "txt: chain in one answer, TTL is the least of the chain", .op = OP_TXT,
	 .query = "a.example",
	 .resp = {Q("a.example.", "TXT", NOERROR, false,
		   "c.example. 300 IN TXT \"end\"",
		   "a.example. 100 IN CNAME b.example.",
		   "b.example. 200 IN CNAME c.example.")},
	 .want = STSGUARD_OK, .want_out = "end", .want_ttl = 100, .want_queries = 1},
	{.name = "txt: chain leaving the answer is asked on", .op = OP_TXT, .query = "a.example",
	 .resp = {Q("a.example.", "TXT", NOERROR, true,
		   "a.example. 300 IN CNAME b.other."),
	          Q("b.other.", "TXT", NOERROR, true,
		   "b.other. 50 IN TXT \"there\"")},
	 .want = STSGUARD_OK, .want_out = "there", .want_ttl = 50, .want_secure = SEC_YES,
	 .want_queries = 2},
	{.name = "txt: secure only if every response of the chain is", .op = OP_TXT, .query = "a.example",
	 .resp = {Q("a.example.", "TXT", NOERROR, true,
		   "a.example. 300 IN CNAME b.other."),
	          Q("b.other.", "TXT", NOERROR, false,
		   "b.other. 300 IN TXT \"x\"")},
	 .want = STSGUARD_OK, .want_secure = SEC_NO},
	{.name = "txt: chain of 8 CNAMEs is fine", .op = OP_TXT, .query = "h0.example",
	 .resp = {Q("h0.example.", "TXT", NOERROR, false,
		   "h0.example. 300 IN CNAME h1.example.",
		   "h1.example. 300 IN CNAME h2.example.",
		   "h2.example. 300 IN CNAME h3.example.",
		   "h3.example. 300 IN CNAME h4.example.",
		   "h4.example. 300 IN CNAME h5.example.",
		   "h5.example. 300 IN CNAME h6.example.",
		   "h6.example. 300 IN CNAME h7.example.",
		   "h7.example. 300 IN CNAME h8.example.",
		   "h8.example. 300 IN TXT \"end\"")},
	 .want = STSGUARD_OK, .want_out = "end"},
	{.name = "txt: chain of 9 CNAMEs is too long", .op = OP_TXT, .query = "h0.example",
	 .resp = {Q("h0.example.", "TXT", NOERROR, false,
		   "h0.example. 300 IN CNAME h1.example.",
		   "h1.example. 300 IN CNAME h2.example.",
		   "h2.example. 300 IN CNAME h3.example.",
		   "h3.example. 300 IN CNAME h4.example.",
		   "h4.example. 300 IN CNAME h5.example.",
		   "h5.example. 300 IN CNAME h6.example.",
		   "h6.example. 300 IN CNAME h7.example.",
		   "h7.example. 300 IN CNAME h8.example.",
		   "h8.example. 300 IN CNAME h9.example.",
		   "h9.example. 300 IN TXT \"end\"")},
	 .want = STSGUARD_TEMPFAIL, .want_err = "CNAME chain"},
	{.name = "txt: CNAME loop in the answer", .op = OP_TXT, .query = "a.example",
	 .resp = {Q("a.example.", "TXT", NOERROR, false,
		   "a.example. 300 IN CNAME b.example.",
		   "b.example. 300 IN CNAME a.example.")},
	 .want = STSGUARD_TEMPFAIL, .want_err = "CNAME chain"},
	{.name = "txt: CNAME loop across queries is bounded", .op = OP_TXT, .query = "a.example",
	 .resp = {Q("a.example.", "TXT", NOERROR, false,
		   "a.example. 300 IN CNAME b.other."),
	          Q("b.other.", "TXT", NOERROR, false,
		   "b.other. 300 IN CNAME a.example.")},
	 .want = STSGUARD_TEMPFAIL, .want_err = "CNAME chain", .want_queries = 9},
	{.name = "txt: CNAME then NXDOMAIN is NONE (RFC 6604)", .op = OP_TXT, .query = "a.example",
	 .resp = {QA("a.example.", "TXT", NXDOMAIN, false, SOA("example.", 3600, 700),
		   "a.example. 900 IN CNAME gone.example.")},
	 .want = STSGUARD_NONE, .want_out = "", .want_ttl = 700},
	{.name = "txt: CNAME then NODATA with SOA is NONE without asking on", .op = OP_TXT,
	 .query = "a.example",
	 .resp = {QA("a.example.", "TXT", NOERROR, false, SOA("other.", 3600, 400),
		   "a.example. 900 IN CNAME b.other.")},
	 .want = STSGUARD_NONE, .want_ttl = 400, .want_queries = 1},
	{.name = "txt: NXDOMAIN with records is contradictory", .op = OP_TXT, .query = "a.example",
	 .resp = {Q("a.example.", "TXT", NXDOMAIN, false,
		   "a.example. 300 IN TXT \"x\"")},
	 .want = STSGUARD_TEMPFAIL},

	/* ---- TXT: denials and their TTL (RFC 2308 §5) ---- */
	{.name = "txt: NXDOMAIN, TTL is SOA MINIMUM when lower", .op = OP_TXT, .query = "a.example",
	 .resp = {QA("a.example.", "TXT", NXDOMAIN, true, SOA("example.", 3600, 600), NULL)},
	 .want = STSGUARD_NONE, .want_out = "", .want_ttl = 600, .want_secure = SEC_YES,
	 .want_err = "NXDOMAIN"},
	{.name = "txt: NXDOMAIN, TTL is SOA TTL when lower", .op = OP_TXT, .query = "a.example",
	 .resp = {QA("a.example.", "TXT", NXDOMAIN, false, SOA("example.", 60, 600), NULL)},
	 .want = STSGUARD_NONE, .want_ttl = 60, .want_secure = SEC_NO},
	{.name = "txt: NODATA with SOA", .op = OP_TXT, .query = "a.example",
	 .resp = {QA("a.example.", "TXT", NOERROR, false, SOA("example.", 3600, 1200), NULL)},
	 .want = STSGUARD_NONE, .want_ttl = 1200, .want_err = "NODATA"},
	{.name = "txt: NODATA without SOA: 300", .op = OP_TXT, .query = "a.example",
	 .resp = {Q("a.example.", "TXT", NOERROR, false, NULL)},
	 .want = STSGUARD_NONE, .want_ttl = 300},
	{.name = "txt: SOA of an unrelated zone does not count", .op = OP_TXT, .query = "a.example",
	 .resp = {QA("a.example.", "TXT", NXDOMAIN, false, SOA("other.", 3600, 10), NULL)},
	 .want = STSGUARD_NONE, .want_ttl = 300},

	/* ---- TXT: failures are TEMPFAIL, never NONE ---- */
	{.name = "txt: SERVFAIL", .op = OP_TXT, .query = "a.example",
	 .resp = {Q("a.example.", "TXT", SERVFAIL, false, NULL)},
	 .want = STSGUARD_TEMPFAIL, .want_err = "SERVFAIL"},
	{.name = "txt: REFUSED", .op = OP_TXT, .query = "a.example",
	 .resp = {Q("a.example.", "TXT", REFUSED, false, NULL)},
	 .want = STSGUARD_TEMPFAIL, .want_err = "REFUSED"},
	{.name = "txt: FORMERR", .op = OP_TXT, .query = "a.example",
	 .resp = {Q("a.example.", "TXT", FORMERR, false, NULL)},
	 .want = STSGUARD_TEMPFAIL},
	{.name = "txt: no answer", .op = OP_TXT, .query = "a.example",
	 .resp = {Q("a.example.", "TXT", FAIL, false, NULL)},
	 .want = STSGUARD_TEMPFAIL, .want_err = "timed out"},
	{.name = "txt: no answer for the CNAME target", .op = OP_TXT, .query = "a.example",
	 .resp = {Q("a.example.", "TXT", NOERROR, false,
		   "a.example. 300 IN CNAME b.other."),
	          Q("b.other.", "TXT", FAIL, false, NULL)},
	 .want = STSGUARD_TEMPFAIL, .want_queries = 2},

	/* ---- names: checked before anything is sent ---- */
	{.name = "name: empty", .op = OP_TXT, .query = "", .want = STSGUARD_BADARG, .want_queries = -1},
	{.name = "name: root only", .op = OP_TXT, .query = ".", .want = STSGUARD_BADARG, .want_queries = -1},
	{.name = "name: empty label", .op = OP_TXT, .query = "a..example", .want = STSGUARD_BADARG,
	 .want_queries = -1},
	{.name = "name: leading dot", .op = OP_TXT, .query = ".a.example", .want = STSGUARD_BADARG,
	 .want_queries = -1},
	{.name = "name: two trailing dots", .op = OP_TXT, .query = "a.example..", .want = STSGUARD_BADARG,
	 .want_queries = -1},
	{.name = "name: space", .op = OP_TXT, .query = "a b.example", .want = STSGUARD_BADARG,
	 .want_queries = -1},
	{.name = "name: backslash escape refused", .op = OP_TXT, .query = "a\\.b.example",
	 .want = STSGUARD_BADARG, .want_queries = -1},
	{.name = "name: non-ASCII", .op = OP_TXT, .query = "\xc3\xa9.example", .want = STSGUARD_BADARG,
	 .want_queries = -1},
	{.name = "name: label of 64", .op = OP_TXT,
	 .query = "a123456789012345678901234567890123456789012345678901234567890123.example",
	 .want = STSGUARD_BADARG, .want_queries = -1},
	{.name = "name: label of 63", .op = OP_TXT,
	 .query = "a12345678901234567890123456789012345678901234567890123456789012.example",
	 .resp = {Q("a12345678901234567890123456789012345678901234567890123456789012.example.", "TXT",
	            NXDOMAIN, false, NULL)},
	 .want = STSGUARD_NONE, .want_queries = 1},

	/* ---- MX ---- */
	{.name = "mx: sorted by preference, ties in answer order, lower case", .op = OP_MX,
	 .query = "example.com",
	 .resp = {Q("example.com.", "MX", NOERROR, false,
		   "example.com. 300 IN MX 20 b.example.com.",
		   "example.com. 300 IN MX 10 MX2.Example.COM.",
		   "example.com. 300 IN MX 10 c.example.com.",
		   "example.com. 250 IN MX 5 z.example.net.")},
	 .want = STSGUARD_OK,
	 .want_out = "5 z.example.net | 10 mx2.example.com | 10 c.example.com | 20 b.example.com",
	 .want_ttl = 250},
	{.name = "mx: through a CNAME", .op = OP_MX, .query = "example.com",
	 .resp = {Q("example.com.", "MX", NOERROR, false,
		   "example.com. 60 IN CNAME mail.example.net.",
		   "mail.example.net. 300 IN MX 10 mx.example.net.")},
	 .want = STSGUARD_OK, .want_out = "10 mx.example.net", .want_ttl = 60},
	{.name = "mx: null MX is NONE with 'null MX'", .op = OP_MX, .query = "example.com",
	 .resp = {Q("example.com.", "MX", NOERROR, false,
		   "example.com. 3000 IN MX 0 .")},
	 .want = STSGUARD_NONE, .want_out = "", .want_ttl = 3000, .want_err = "null MX"},
	{.name = "mx: null MX beside a real host: the host is used", .op = OP_MX, .query = "example.com",
	 .resp = {Q("example.com.", "MX", NOERROR, false,
		   "example.com. 300 IN MX 0 .",
		   "example.com. 300 IN MX 10 mx.example.com.")},
	 .want = STSGUARD_OK, .want_out = "10 mx.example.com"},
	{.name = "mx: NXDOMAIN", .op = OP_MX, .query = "example.com",
	 .resp = {QA("example.com.", "MX", NXDOMAIN, false, SOA("com.", 900, 900), NULL)},
	 .want = STSGUARD_NONE, .want_out = "", .want_ttl = 900},
	{.name = "mx: NODATA", .op = OP_MX, .query = "example.com",
	 .resp = {QA("example.com.", "MX", NOERROR, false, SOA("example.com.", 900, 500),
		   "example.com. 300 IN A 192.0.2.1")},
	 .want = STSGUARD_NONE, .want_out = "", .want_ttl = 500},
	{.name = "mx: a host name we could not ask about is skipped", .op = OP_MX, .query = "example.com",
	 .resp = {Q("example.com.", "MX", NOERROR, false,
		   "example.com. 300 IN MX 10 a\\032b.example.com.",
		   "example.com. 300 IN MX 20 ok.example.com.")},
	 .want = STSGUARD_OK, .want_out = "20 ok.example.com"},
	{.name = "mx: nothing usable is TEMPFAIL, not NONE", .op = OP_MX, .query = "example.com",
	 .resp = {Q("example.com.", "MX", NOERROR, false,
		   "example.com. 300 IN MX 10 a\\.b.example.com.")},
	 .want = STSGUARD_TEMPFAIL, .want_out = ""},
	{.name = "mx: SERVFAIL", .op = OP_MX, .query = "example.com",
	 .resp = {Q("example.com.", "MX", SERVFAIL, false, NULL)},
	 .want = STSGUARD_TEMPFAIL, .want_out = "", .want_err = "SERVFAIL"},

	/* ---- A and AAAA ---- */
	{.name = "addrs: IPv4 first, then IPv6", .op = OP_ADDRS, .query = "mx.example",
	 .resp = {Q("mx.example.", "AAAA", NOERROR, false,
		   "mx.example. 100 IN AAAA 2001:db8::1"),
	          Q("mx.example.", "A", NOERROR, false,
		   "mx.example. 300 IN A 192.0.2.1",
		   "mx.example. 300 IN A 192.0.2.2")},
	 .want = STSGUARD_OK, .want_out = "192.0.2.1 | 192.0.2.2 | 2001:db8::1", .want_ttl = 100,
	 .want_queries = 2},
	{.name = "addrs: NXDOMAIN for A settles AAAA (RFC 8020)", .op = OP_ADDRS, .query = "mx.example",
	 .resp = {QA("mx.example.", "A", NXDOMAIN, false, SOA("example.", 900, 800), NULL)},
	 .want = STSGUARD_NONE, .want_out = "", .want_ttl = 800, .want_queries = 1},
	{.name = "addrs: only AAAA", .op = OP_ADDRS, .query = "mx.example",
	 .resp = {QA("mx.example.", "A", NOERROR, false, SOA("example.", 900, 800), NULL),
	          Q("mx.example.", "AAAA", NOERROR, false,
		   "mx.example. 200 IN AAAA 2001:db8::2")},
	 .want = STSGUARD_OK, .want_out = "2001:db8::2", .want_ttl = 200},
	{.name = "addrs: NODATA for both: NONE, least negative TTL", .op = OP_ADDRS, .query = "mx.example",
	 .resp = {QA("mx.example.", "A", NOERROR, false, SOA("example.", 900, 800), NULL),
	          QA("mx.example.", "AAAA", NOERROR, false, SOA("example.", 900, 700), NULL)},
	 .want = STSGUARD_NONE, .want_out = "", .want_ttl = 700},
	{.name = "addrs: A found, AAAA timed out: OK with A", .op = OP_ADDRS, .query = "mx.example",
	 .resp = {Q("mx.example.", "A", NOERROR, false,
		   "mx.example. 300 IN A 192.0.2.1"),
	          Q("mx.example.", "AAAA", FAIL, false, NULL)},
	 .want = STSGUARD_OK, .want_out = "192.0.2.1", .want_ttl = 300},
	{.name = "addrs: A SERVFAIL, AAAA found: OK with AAAA", .op = OP_ADDRS, .query = "mx.example",
	 .resp = {Q("mx.example.", "A", SERVFAIL, false, NULL),
	          Q("mx.example.", "AAAA", NOERROR, false,
		   "mx.example. 300 IN AAAA ::1")},
	 .want = STSGUARD_OK, .want_out = "::1"},
	{.name = "addrs: A timed out, AAAA NODATA: TEMPFAIL", .op = OP_ADDRS, .query = "mx.example",
	 .resp = {Q("mx.example.", "A", FAIL, false, NULL),
	          Q("mx.example.", "AAAA", NOERROR, false, NULL)},
	 .want = STSGUARD_TEMPFAIL, .want_out = "", .want_err = "timed out"},
	{.name = "addrs: A NODATA, AAAA SERVFAIL: TEMPFAIL", .op = OP_ADDRS, .query = "mx.example",
	 .resp = {Q("mx.example.", "A", NOERROR, false, NULL),
	          Q("mx.example.", "AAAA", SERVFAIL, false, NULL)},
	 .want = STSGUARD_TEMPFAIL, .want_out = "", .want_err = "SERVFAIL"},

	/* ---- TLSA (RFC 6698 §3, RFC 7672 §2.1) ---- */
	{.name = "tlsa: records, validated", .op = OP_TLSA, .query = "mx.example", .port = 25,
	 .resp = {Q("_25._tcp.mx.example.", "TLSA", NOERROR, true,
		   "_25._tcp.mx.example. 300 IN TLSA 3 1 1 00112233445566778899aabbccddeeff",
		   "_25._tcp.mx.example. 300 IN TLSA 2 0 1 00112233445566778899aabbccddeeff")},
	 .want = STSGUARD_OK, .want_out = "n=2", .want_ttl = 300, .want_secure = SEC_YES},
	{.name = "tlsa: other port", .op = OP_TLSA, .query = "mx.example", .port = 465,
	 .resp = {Q("_465._tcp.mx.example.", "TLSA", NOERROR, false,
		   "_465._tcp.mx.example. 300 IN TLSA 3 1 1 00112233445566778899aabbccddeeff")},
	 .want = STSGUARD_OK, .want_out = "n=1", .want_secure = SEC_NO},
	{.name = "tlsa: secure denial", .op = OP_TLSA, .query = "mx.example", .port = 25,
	 .resp = {QA("_25._tcp.mx.example.", "TLSA", NXDOMAIN, true, SOA("example.", 900, 60), NULL)},
	 .want = STSGUARD_NONE, .want_out = "n=0", .want_ttl = 60, .want_secure = SEC_YES},
	{.name = "tlsa: insecure denial", .op = OP_TLSA, .query = "mx.example", .port = 25,
	 .resp = {Q("_25._tcp.mx.example.", "TLSA", NOERROR, false, NULL)},
	 .want = STSGUARD_NONE, .want_out = "n=0", .want_secure = SEC_NO},
	{.name = "tlsa: SERVFAIL (bogus) is not 'no TLSA'", .op = OP_TLSA, .query = "mx.example", .port = 25,
	 .resp = {Q("_25._tcp.mx.example.", "TLSA", SERVFAIL, false, NULL)},
	 .want = STSGUARD_TEMPFAIL, .want_out = "n=0", .want_err = "SERVFAIL"},
	{.name = "tlsa: port 0", .op = OP_TLSA, .query = "mx.example", .port = 0, .want = STSGUARD_BADARG,
	 .want_queries = -1},
	{.name = "tlsa: name too long once prefixed", .op = OP_TLSA, .port = 25,
	 .query = "a23456789012345678901234567890123456789012345678901234567890123."
	          "b23456789012345678901234567890123456789012345678901234567890123."
	          "c23456789012345678901234567890123456789012345678901234567890123."
	          "d234567890123456789012345678901234567890123456789012345678",
	 .want = STSGUARD_BADARG, .want_queries = -1},
};

/* ---- the fake sender ---- */

struct fake {
	const struct canned *resp;
	size_t n_resp;
	int queries;
	bool bad_fixture;
};

static bool push_lines(ldns_pkt *pkt, ldns_pkt_section section, const char *const *lines, size_t max)
{
	for (size_t i = 0; i < max && lines[i] != NULL; i++) {
		ldns_rr *rr = NULL;
		if (ldns_rr_new_frm_str(&rr, lines[i], 3600, NULL, NULL) != LDNS_STATUS_OK) {
			fprintf(stderr, "fixture line does not parse: %s\n", lines[i]);
			return false;
		}
		if (!ldns_pkt_push_rr(pkt, section, rr)) {
			ldns_rr_free(rr);
			return false;
		}
	}
	return true;
}

static stsguard_status fake_send(void *ctx, const ldns_rdf *qname, ldns_rr_type type, ldns_pkt **answer,
                                 stsguard_err *err)
{
	struct fake *f = ctx;

	f->queries++;
	*answer = NULL;
	for (size_t i = 0; i < f->n_resp; i++) {
		const struct canned *c = &f->resp[i];
		ldns_rdf *name = ldns_dname_new_frm_str(c->qname);
		bool same = name != NULL && ldns_dname_compare(name, qname) == 0 &&
		            ldns_get_rr_type_by_name(c->qtype) == type;
		ldns_pkt *pkt;

		if (name != NULL)
			ldns_rdf_deep_free(name);
		if (!same)
			continue;
		if (c->rcode == FAIL) {
			snprintf(err->msg, sizeof err->msg, "fake: timed out");
			return STSGUARD_TEMPFAIL;
		}
		pkt = ldns_pkt_new();
		if (pkt == NULL)
			return STSGUARD_NOMEM;
		ldns_pkt_set_qr(pkt, true);
		ldns_pkt_set_rcode(pkt, (uint8_t)c->rcode);
		ldns_pkt_set_ad(pkt, c->ad);
		if (!push_lines(pkt, LDNS_SECTION_ANSWER, c->an, MAX_AN) ||
		    !push_lines(pkt, LDNS_SECTION_AUTHORITY, c->ns, 3)) {
			f->bad_fixture = true;
			ldns_pkt_free(pkt);
			return STSGUARD_TEMPFAIL;
		}
		*answer = pkt;
		return STSGUARD_OK;
	}
	snprintf(err->msg, sizeof err->msg, "fake: timed out (no canned answer)");
	return STSGUARD_TEMPFAIL;
}

/* ---- rendering what came back ---- */

static void add(char *out, size_t outsz, const char *s)
{
	size_t used = strlen(out);
	snprintf(out + used, outsz - used, "%s%s", used ? " | " : "", s);
}

static void render_txt(const stsguard_txt_set *set, char *out, size_t outsz)
{
	out[0] = '\0';
	for (size_t i = 0; set != NULL && i < set->n; i++) {
		char rec[256] = "";
		size_t o = 0;
		for (size_t k = 0; k < set->rec[i].len && o + 5 < sizeof rec; k++) {
			unsigned char c = (unsigned char)set->rec[i].data[k];
			if (c >= 0x20 && c < 0x7f)
				rec[o++] = (char)c;
			else
				o += (size_t)snprintf(rec + o, sizeof rec - o, "\\x%02x", c);
		}
		rec[o] = '\0';
		if (i == 0)
			snprintf(out, outsz, "%s", rec);
		else
			add(out, outsz, rec);
	}
}

static void run_case(const struct dns_case *c)
{
	struct fake f = {.resp = c->resp, .n_resp = 0, .queries = 0, .bad_fixture = false};
	stsguard_dns *dns = NULL;
	stsguard_err err = {""};
	stsguard_status st;
	char out[1024] = "";
	long long ttl = 0;
	int secure = -1;

	while (f.n_resp < MAX_RESP && c->resp[f.n_resp].qname != NULL)
		f.n_resp++;
	if (!CHECK_STATUS(sg_dns_new_with_sender(fake_send, &f, &dns, &err), STSGUARD_OK, c->name))
		return;

	switch (c->op) {
	case OP_TXT: {
		stsguard_txt_set *set = NULL;
		st = stsguard_ldns_resolver_ops.txt(dns, c->query, &set, &err);
		CHECK_TRUE((set != NULL) == (st == STSGUARD_OK || st == STSGUARD_NONE), c->name);
		if (set != NULL) {
			render_txt(set, out, sizeof out);
			ttl = set->ttl;
			secure = set->secure;
			if (st == STSGUARD_NONE)
				CHECK_INT(set->n, 0, c->name);
		}
		stsguard_txt_set_free(set);
		break;
	}
	case OP_MX: {
		stsguard_mx_set mx;
		memset(&mx, 0xa5, sizeof mx); /* must be cleared by the call */
		st = stsguard_ldns_resolver_ops.mx(dns, c->query, &mx, &err);
		for (size_t i = 0; i < mx.n && i < STSGUARD_MX_MAX; i++) {
			char line[300];
			snprintf(line, sizeof line, "%u %s", (unsigned)mx.mx[i].preference, mx.mx[i].host);
			add(out, sizeof out, line);
		}
		ttl = mx.ttl;
		break;
	}
	case OP_ADDRS: {
		stsguard_addr_set a;
		memset(&a, 0xa5, sizeof a);
		st = stsguard_ldns_resolver_ops.addrs(dns, c->query, &a, &err);
		for (size_t i = 0; i < a.n && i < STSGUARD_ADDRS_MAX; i++)
			add(out, sizeof out, a.addr[i]);
		ttl = a.ttl;
		break;
	}
	case OP_TLSA:
	default: {
		stsguard_tlsa_state t;
		memset(&t, 0xa5, sizeof t);
		st = stsguard_ldns_resolver_ops.tlsa(dns, c->query, c->port, &t, &err);
		snprintf(out, sizeof out, "n=%zu", t.n_records);
		ttl = t.ttl;
		secure = t.secure;
		break;
	}
	}

	CHECK_TRUE(!f.bad_fixture, c->name);
	CHECK_STATUS(st, c->want, c->name);
	if (c->want_out != NULL)
		CHECK_STR(out, c->want_out, c->name);
	if (c->want_ttl != 0)
		CHECK_INT(ttl, c->want_ttl, c->name);
	if (c->want_secure != SEC_ANY)
		CHECK_INT(secure, c->want_secure == SEC_YES, c->name);
	if (c->want_queries != 0)
		CHECK_INT(f.queries, c->want_queries < 0 ? 0 : c->want_queries, c->name);
	if (c->want_err != NULL && !CHECK_TRUE(strstr(err.msg, c->want_err) != NULL, c->name))
		fprintf(stderr, "  err was: %s\n", err.msg);
	stsguard_dns_free(dns);
}

/* ---- caps, built rather than listed ---- */

struct big_fake {
	ldns_rr_type type;
	size_t n;
	int queries;
};

/* Answers n records of type for whatever is asked. */
static stsguard_status big_send(void *ctx, const ldns_rdf *qname, ldns_rr_type type, ldns_pkt **answer,
                                stsguard_err *err)
{
	struct big_fake *f = ctx;
	char *owner = ldns_rdf2str(qname);
	ldns_pkt *pkt = ldns_pkt_new();

	(void)err;
	f->queries++;
	*answer = NULL;
	if (owner == NULL || pkt == NULL) {
		free(owner);
		if (pkt != NULL)
			ldns_pkt_free(pkt);
		return STSGUARD_NOMEM;
	}
	ldns_pkt_set_qr(pkt, true);
	for (size_t i = 0; type == f->type && i < f->n; i++) {
		char line[400];
		ldns_rr *rr = NULL;
		if (type == LDNS_RR_TYPE_TXT)
			snprintf(line, sizeof line, "%s 300 IN TXT \"record %zu\"", owner, i);
		else if (type == LDNS_RR_TYPE_MX)
			snprintf(line, sizeof line, "%s 300 IN MX %zu h%zu.example.", owner, 100 - i, i);
		else
			snprintf(line, sizeof line, "%s 300 IN A 192.0.2.%zu", owner, i + 1);
		if (ldns_rr_new_frm_str(&rr, line, 300, NULL, NULL) != LDNS_STATUS_OK ||
		    !ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, rr)) {
			if (rr != NULL)
				ldns_rr_free(rr);
			free(owner);
			ldns_pkt_free(pkt);
			return STSGUARD_NOMEM;
		}
	}
	free(owner);
	*answer = pkt;
	return STSGUARD_OK;
}

/* dns.h/txt.h caps: RRSET_MAX + 1 TXT records (so the parser says TOOBIG), the best MX_MAX MX, ADDRS_MAX addresses. */
static void test_caps(void)
{
	stsguard_dns *dns = NULL;
	stsguard_err err = {""};
	struct big_fake f = {LDNS_RR_TYPE_TXT, 70, 0};

	if (!CHECK_STATUS(sg_dns_new_with_sender(big_send, &f, &dns, &err), STSGUARD_OK, "caps"))
		return;

	stsguard_txt_set *set = NULL;
	CHECK_STATUS(stsguard_ldns_resolver_ops.txt(dns, "big.example", &set, &err), STSGUARD_OK, "txt: 70 records");
	if (CHECK_TRUE(set != NULL, "txt: 70 records")) {
		CHECK_INT(set->n, STSGUARD_TXT_RRSET_MAX + 1, "txt: 70 records kept as RRSET_MAX + 1");
		CHECK_INT(set->rec[0].len, strlen("record 0"), "txt: 70 records, first");
		CHECK_TRUE(memcmp(set->rec[0].data, "record 0", 8) == 0, "txt: 70 records, first");
	}
	stsguard_txt_set_free(set);

	/* 40 MX with preferences 100 down to 61: the 32 best (61..92) are kept, sorted. */
	f.type = LDNS_RR_TYPE_MX;
	f.n = 40;
	stsguard_mx_set mx;
	CHECK_STATUS(stsguard_ldns_resolver_ops.mx(dns, "example.com", &mx, &err), STSGUARD_OK, "mx: 40 records");
	CHECK_INT(mx.n, STSGUARD_MX_MAX, "mx: 40 records, 32 kept");
	CHECK_INT(mx.mx[0].preference, 61, "mx: 40 records, best first");
	CHECK_STR(mx.mx[0].host, "h39.example", "mx: 40 records, best first");
	CHECK_INT(mx.mx[STSGUARD_MX_MAX - 1].preference, 92, "mx: 40 records, worst kept last");

	/* 20 A records: 16 kept, and no room is left for AAAA. */
	f.type = LDNS_RR_TYPE_A;
	f.n = 20;
	stsguard_addr_set a;
	CHECK_STATUS(stsguard_ldns_resolver_ops.addrs(dns, "mx.example", &a, &err), STSGUARD_OK, "addrs: 20 A");
	CHECK_INT(a.n, STSGUARD_ADDRS_MAX, "addrs: 20 A, 16 kept");
	CHECK_STR(a.addr[15], "192.0.2.16", "addrs: 20 A, answer order");
	stsguard_dns_free(dns);
}

/* ---- the constructor, which needs no network ---- */

static void test_new(void)
{
	stsguard_resolver_conf conf;
	stsguard_dns *dns = (stsguard_dns *)&conf; /* must be reset to NULL on failure */
	stsguard_err err = {""};

	memset(&conf, 0, sizeof conf);
	conf.n = 2;
	snprintf(conf.server[0].ip, sizeof conf.server[0].ip, "127.0.0.1");
	conf.server[0].port = 53;
	snprintf(conf.server[1].ip, sizeof conf.server[1].ip, "2001:db8::53");
	conf.server[1].port = 5353;
	CHECK_STATUS(stsguard_dns_new(&conf, &dns, &err), STSGUARD_OK, "new: two servers");
	stsguard_dns_free(dns);

	snprintf(conf.server[1].ip, sizeof conf.server[1].ip, "ns.example");
	dns = (stsguard_dns *)&conf;
	CHECK_STATUS(stsguard_dns_new(&conf, &dns, &err), STSGUARD_BADARG, "new: a host name is not an address");
	CHECK_TRUE(dns == NULL, "new: *out is NULL on failure");

	snprintf(conf.server[1].ip, sizeof conf.server[1].ip, "::1");
	conf.n = STSGUARD_RESOLVERS_MAX + 1;
	CHECK_STATUS(stsguard_dns_new(&conf, &dns, &err), STSGUARD_BADARG, "new: too many servers");
	conf.n = 1;
	conf.timeout_ms = 3600000;
	CHECK_STATUS(stsguard_dns_new(&conf, &dns, &err), STSGUARD_BADARG, "new: absurd timeout");
	conf.timeout_ms = 0;
	CHECK_STATUS(stsguard_dns_new(&conf, NULL, &err), STSGUARD_BADARG, "new: no output");

	stsguard_dns_free(NULL);
	stsguard_txt_set_free(NULL);
	CHECK_STATUS(stsguard_ldns_resolver_ops.txt(NULL, "a.example", NULL, &err), STSGUARD_BADARG,
	             "txt: no output");
}

int main(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_case(&cases[i]);
	test_caps();
	test_new();
	return check_summary();
}
