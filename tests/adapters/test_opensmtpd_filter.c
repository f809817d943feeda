/*
 * test_opensmtpd_filter.c - filter-stsguard (adapters/opensmtpd/filter_stsguard.c)
 * fed the report streams smtpd sends on smtp-out.
 *
 * The streams follow the ones observed with smtpd 6.8.0p2 and 7.4.0p1 in
 * shared/reference/opensmtpd.md §2 (event order, fields, the 6.8 link-tls
 * sent before verification, 7.4 sending none on failure), protocol 0.6 and
 * 0.7. The daemon and the resolver are fakes that record what the filter
 * asks, so every result it sends (domain, mx, ip, result) is compared with
 * what docs/opensmtpd.md and docs/PROTOCOL.md §5.6/§5.8 say it must be.
 * The filter must never stop: garbage, over-long lines and sessions beyond
 * its table only count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define FILTER_STSGUARD_NO_MAIN
#include "filter_stsguard.c"

/* ---- fakes ---- */
static char sent[32][SMC_REQUEST_MAX + 16]; /* tlsrpt keys the filter sent */
static size_t n_sent;
static char out_text[256];
static int daemon_down;
static const char *routed_reply = "OK mx-selfsigned.test=mx1.mx-selfsigned.test enforce-ok.test=mx1.enforce-ok.test";

static int fake_query(void *ctx, const char *map, const char *key, char *reply, size_t replysz)
{
	(void)ctx;
	if (daemon_down)
		return -1;
	if (strcmp(map, "tlsrpt") == 0) {
		if (n_sent < 32)
			snprintf(sent[n_sent++], sizeof sent[0], "%s", key);
		snprintf(reply, replysz, "OK stored");
	} else if (strcmp(map, "routed") == 0) {
		snprintf(reply, replysz, "%s", routed_reply);
	} else if (strcmp(map, "routes") == 0) {
		if (strcmp(key, "t-selfsigned.test") != 0)
			return snprintf(reply, replysz, "NOTFOUND "), 0;
		snprintf(reply, replysz, "OK mx0.t-selfsigned.test,mx1.t-selfsigned.test");
	} else if (strcmp(map, "policy") == 0) {
		const char *mode = strcmp(key, "plain.test") == 0 ? "-" : strncmp(key, "t-", 2) == 0 ? "testing" : "enforce";
		snprintf(reply, replysz, "OK v=1 verdict=%s mode=%s id=x ttl=1 mx=- dane=0 tlsrpt=1 error=- dane_all=0",
		         strcmp(mode, "-") == 0 ? "no-policy" : mode, mode);
	} else {
		return -1;
	}
	return 0;
}

static int fake_resolve(void *ctx, const char *host, char (*addrs)[INET6_ADDRSTRLEN], int max)
{
	static const struct {
		const char *host, *ip;
	} dns[] = {
		{"mx1.mx-selfsigned.test", "127.0.3.40"},
		{"mx0.t-selfsigned.test", "127.0.3.99"},
		{"mx1.t-selfsigned.test", "127.0.3.54"},
		{"mx1.enforce-ok.test", "127.0.3.1"},
		{"mx1.enforce-ok.test", "2001:db8::1"},
	};
	int n = 0;
	(void)ctx;
	for (size_t i = 0; i < sizeof dns / sizeof dns[0] && n < max; i++)
		if (strcmp(dns[i].host, host) == 0)
			snprintf(addrs[n++], INET6_ADDRSTRLEN, "%s", dns[i].ip);
	return n;
}

static void fake_out(void *ctx, const char *text)
{
	(void)ctx;
	size_t l = strlen(out_text);
	snprintf(out_text + l, sizeof out_text - l, "%s", text);
}

static void fake_log(void *ctx, const char *text)
{
	(void)ctx;
	(void)text;
}

static const struct fsg_ops ops = {fake_query, fake_resolve, fake_out, fake_log};
static struct fsg F;

static void start(int verified)
{
	fsg_init(&F, &ops, NULL, verified);
	n_sent = 0;
	out_text[0] = '\0';
	daemon_down = 0;
}

static void feed(const char *s)
{
	fsg_feed(&F, s, strlen(s));
}

/* ---- the streams (6.8, protocol 0.6) ---- */
#define R "report|0.6|1700000000.000001|smtp-out|"
#define CONNECT(sid, ip) R "link-connect|" sid "|localhost|pass|127.0.0.1:39012|" ip ":25\n"
#define PRE_TLS(sid)                                                                                              \
	R "protocol-server|" sid "|220 mx ESMTP\n" R "link-greeting|" sid "|mx1.test\n" R "protocol-client|" sid    \
	  "|EHLO sender.test\n" R "protocol-server|" sid "|250-mx1.test Hello\n" R "protocol-server|" sid            \
	  "|250-STARTTLS\n" R "protocol-server|" sid "|250 HELP\n" R "link-identify|" sid "|EHLO|sender.test\n" R   \
	  "protocol-client|" sid "|STARTTLS\n" R "protocol-server|" sid "|220 2.0.0 Ready to start TLS\n"
#define TLS(sid) R "link-tls|" sid "|TLSv1.3:TLS_AES_256_GCM_SHA384:256\n"
#define TX(sid, rcpt)                                                                                             \
	R "protocol-client|" sid "|EHLO sender.test\n" R "tx-begin|" sid "|1a2b3c4d\n" R "tx-mail|" sid              \
	  "|1a2b3c4d|ok|<sender@sender.test>\n" R "tx-rcpt|" sid "|1a2b3c4d|ok|<" rcpt ">\n" R "tx-data|" sid       \
	  "|1a2b3c4d|ok\n" R "tx-commit|" sid "|1a2b3c4d|300\n" R "tx-reset|" sid "|1a2b3c4d\n" R                     \
	  "protocol-client|" sid "|QUIT\n"
#define BYE(sid) R "link-disconnect|" sid "\n"

static int sent_has(const char *want)
{
	for (size_t i = 0; i < n_sent; i++)
		if (strcmp(sent[i], want) == 0)
			return 1;
	return 0;
}

static void test_handshake(void)
{
	start(1);
	feed("config|smtpd-version|6.8.0p2\nconfig|smtp-session-timeout|300\nconfig|subsystem|smtp-out\n"
	     "config|admd|sender.test\n");
	CHECK_STR(out_text, "", "nothing before config|ready");
	feed("config|ready\n");
	CHECK_STR(out_text, "register|report|smtp-out|*\nregister|ready\n", "registers smtp-out reports only");
}

static void test_streams(void)
{
	static const struct {
		const char *name;
		int verified;
		const char *stream;
		size_t n; /* results sent */
		const char *want;
	} cases[] = {
		{"6.8 verified success", 1,
		 CONNECT("0123456789abcdef", "127.0.3.1") PRE_TLS("0123456789abcdef") TLS("0123456789abcdef")
		     TX("0123456789abcdef", "user@enforce-ok.test") BYE("0123456789abcdef"),
		 1, "domain=enforce-ok.test result=success mx=mx1.enforce-ok.test ip=127.0.3.1 helo=mx1.test"},
		{"6.8 certificate refused (link-tls, then nothing)", 1,
		 CONNECT("00000000000000aa", "127.0.3.40") PRE_TLS("00000000000000aa") TLS("00000000000000aa")
		     BYE("00000000000000aa"),
		 1,
		 "domain=mx-selfsigned.test result=certificate-not-trusted mx=mx1.mx-selfsigned.test ip=127.0.3.40 "
		 "helo=mx1.test reason=OpenSMTPD%20refused%20the%20certificate%20after%20STARTTLS;%20its%20report%20events"
		 "%20do%20not%20say%20why%20(untrusted,%20expired%20or%20another%20name) probe=1"},
		{"7.4 certificate refused (no link-tls)", 1,
		 CONNECT("00000000000000ab", "127.0.3.40") PRE_TLS("00000000000000ab") BYE("00000000000000ab"), 1,
		 NULL},
		{"no STARTTLS, verified action", 1,
		 CONNECT("00000000000000ac", "127.0.3.40") R "protocol-server|00000000000000ac|220 mx ESMTP\n" R
		     "protocol-client|00000000000000ac|EHLO sender.test\n" R "protocol-server|00000000000000ac|250-mx Hello\n" R
		     "protocol-server|00000000000000ac|250 HELP\n" BYE("00000000000000ac"),
		 1,
		 "domain=mx-selfsigned.test result=starttls-not-supported mx=mx1.mx-selfsigned.test ip=127.0.3.40 "
		 "reason=no%20STARTTLS%20in%20the%20EHLO%20reply"},
		{"no STARTTLS, opportunistic, testing domain delivered in clear", 0,
		 CONNECT("00000000000000ad", "127.0.3.57") R "protocol-client|00000000000000ad|EHLO sender.test\n" R
		     "protocol-server|00000000000000ad|250 mx\n" TX("00000000000000ad", "u@T-NoStartTLS.test")
		         BYE("00000000000000ad"),
		 1,
		 "domain=t-nostarttls.test result=starttls-not-supported ip=127.0.3.57 "
		 "reason=no%20STARTTLS%20in%20the%20EHLO%20reply"},
		{"opportunistic TLS: success, checked by stsguardd's probe of the MX the address belongs to", 0,
		 CONNECT("00000000000000ae", "127.0.3.54") PRE_TLS("00000000000000ae") TLS("00000000000000ae")
		     TX("00000000000000ae", "u@t-selfsigned.test") BYE("00000000000000ae"),
		 1, "domain=t-selfsigned.test result=success mx=mx1.t-selfsigned.test ip=127.0.3.54 helo=mx1.test probe=1"},
		{"no policy: nothing", 1,
		 CONNECT("00000000000000af", "127.0.3.60") PRE_TLS("00000000000000af") TLS("00000000000000af")
		     TX("00000000000000af", "u@plain.test") BYE("00000000000000af"),
		 0, NULL},
		{"refused connection: bare link-disconnect", 1, BYE("00000000000000b0"), 0, NULL},
		{"address routed to nobody", 1,
		 CONNECT("00000000000000b1", "127.0.9.9") PRE_TLS("00000000000000b1") BYE("00000000000000b1"), 0, NULL},
		{"IPv6 destination, protocol 0.7", 1,
		 "report|0.7|1.2|smtp-out|link-connect|00000000000000b2|x|pass|[2001:db8::2]:4000|[2001:db8::1]:25\n"
		 "report|0.7|1.2|smtp-out|protocol-client|00000000000000b2|EHLO a\n"
		 "report|0.7|1.2|smtp-out|protocol-server|00000000000000b2|250 x\n"
		 "report|0.7|1.2|smtp-out|link-disconnect|00000000000000b2\n",
		 1,
		 "domain=enforce-ok.test result=starttls-not-supported mx=mx1.enforce-ok.test ip=2001:db8::1 "
		 "reason=no%20STARTTLS%20in%20the%20EHLO%20reply"},
		{"smtp-in events are ignored", 1,
		 "report|0.6|1.2|smtp-in|link-connect|00000000000000b3|x|pass|127.0.0.1:5|127.0.3.1:25\n"
		 "report|0.6|1.2|smtp-in|link-disconnect|00000000000000b3\n",
		 0, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		start(cases[i].verified);
		feed(cases[i].stream);
		CHECK_INT(n_sent, cases[i].n, cases[i].name);
		if (cases[i].want != NULL && n_sent > 0)
			CHECK_STR(sent[0], cases[i].want, cases[i].name);
		/* the same stream cut into 1-byte reads gives the same results */
		size_t before = n_sent;
		start(cases[i].verified);
		for (const char *p = cases[i].stream; *p != '\0'; p++)
			fsg_feed(&F, p, 1);
		CHECK_INT(n_sent, before, cases[i].name);
	}
	/* 7.4's refused certificate is classified like 6.8's */
	start(1);
	feed(CONNECT("00000000000000ab", "127.0.3.40") PRE_TLS("00000000000000ab") BYE("00000000000000ab"));
	CHECK_TRUE(n_sent == 1 && strstr(sent[0], "result=certificate-not-trusted mx=mx1.mx-selfsigned.test") != NULL,
	           "7.4 refused certificate");
}

/* Two sessions interleaved, one carrying two recipient domains (one pinned MX for both). */
static void test_interleaved(void)
{
	start(1);
	feed(CONNECT("000000000000000a", "127.0.3.1") CONNECT("000000000000000b", "127.0.3.40")
	         PRE_TLS("000000000000000a") PRE_TLS("000000000000000b") TLS("000000000000000a") TLS("000000000000000b")
	             R "protocol-client|000000000000000a|EHLO sender.test\n" R
	     "tx-rcpt|000000000000000a|1|ok|<a@enforce-ok.test>\n" R "tx-rcpt|000000000000000a|1|ok|<b@mx-selfsigned.test>\n" R
	     "tx-rcpt|000000000000000a|1|ok|<c@enforce-ok.test>\n" BYE("000000000000000b") BYE("000000000000000a"));
	CHECK_INT(n_sent, 3, "one failure, then two domains of one success");
	CHECK_TRUE(sent_has("domain=mx-selfsigned.test result=certificate-not-trusted mx=mx1.mx-selfsigned.test "
	                    "ip=127.0.3.40 helo=mx1.test reason=OpenSMTPD%20refused%20the%20certificate%20after%20STARTTLS;"
	                    "%20its%20report%20events%20do%20not%20say%20why%20(untrusted,%20expired%20or%20another%20name) probe=1"),
	           "failure of session b");
	CHECK_TRUE(sent_has("domain=enforce-ok.test result=success mx=mx1.enforce-ok.test ip=127.0.3.1 helo=mx1.test"),
	           "success for enforce-ok.test");
	/* mx-selfsigned.test's routed MX is not at 127.0.3.1: reported without an MX name */
	CHECK_TRUE(sent_has("domain=mx-selfsigned.test result=success ip=127.0.3.1 helo=mx1.test"),
	           "success for the second domain, no mx");
}

/* Garbage never stops the filter; the next good session is still reported. */
static void test_garbage(void)
{
	static const char *const junk[] = {
		"\n",
		"garbage\n",
		"report|\n",
		"report|0.6\n",
		"report|0.6|1|smtp-out|link-connect\n",
		"report|0.6|1|smtp-out|link-connect|zzzz|a|b|c|d\n",
		"report|0.6|1|smtp-out|link-connect|00000000000000c1|a|b\n",
		"report|0.6|1|smtp-out|link-connect|00000000000000c1|a|b|c|not-an-address\n",
		"report|0.6|1|smtp-out|link-connect|00000000000000c1|a|b|c|[::1\n",
		"report|0.6|1|smtp-out|link-connect|00000000000000c1|a|b|c|IPv6:::1:25\n",
		"report|0.6|1|smtp-out|tx-rcpt|00000000000000c1|x\n",
		"report|0.6|1|smtp-out|tx-rcpt|00000000000000c1|x|ok|<@>\n",
		"report|0.6|1|smtp-out|tx-rcpt|00000000000000c1|x|ok|<a@[127.0.0.1]>\n",
		"report|0.6|1|smtp-out|link-disconnect|00000000000000c1\n",
		"report|9.9|1|smtp-out|link-disconnect|00000000000000c2\n",
		"report|0.6|1|smtp-out|link-disconnect|0123456789abcdef0\n",
		"filter|0.6|1|smtp-in|rcpt-to|aa|bb|x@y\n",
		"config|\n",
		"\r\n",
		"a\0b\n",
	};
	start(1);
	for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
		fsg_feed(&F, junk[i], strlen(junk[i]) + (strcmp(junk[i], "a") == 0 ? 3 : 0));
	/* an over-long line is skipped whole, whatever it holds */
	static char big[FSG_LINE_MAX * 3];
	memset(big, 'r', sizeof big);
	fsg_feed(&F, big, sizeof big);
	feed("|" BYE("0123456789abcdef"));
	CHECK_INT(n_sent, 0, "nothing from garbage");
	CHECK_TRUE(F.garbage >= 10, "garbage counted");
	feed(CONNECT("0123456789abcdef", "127.0.3.1") PRE_TLS("0123456789abcdef") TLS("0123456789abcdef")
	         TX("0123456789abcdef", "user@enforce-ok.test") BYE("0123456789abcdef"));
	CHECK_INT(n_sent, 1, "a good session after the garbage");

	/* more sessions at once than tracked: the oldest are forgotten, nothing breaks */
	start(1);
	char line[600];
	for (unsigned i = 0; i < FSG_SESSIONS + 10; i++) {
		snprintf(line, sizeof line, R "link-connect|%016x|x|pass|127.0.0.1:1|127.0.3.40:25\n", i + 1);
		feed(line);
	}
	CHECK_INT(F.dropped, 10, "ten sessions forgotten");
	snprintf(line, sizeof line,
	         R "protocol-client|%016x|EHLO a\n" R "protocol-server|%016x|250 x\n" R "link-disconnect|%016x\n",
	         FSG_SESSIONS + 10, FSG_SESSIONS + 10, FSG_SESSIONS + 10);
	feed(line);
	CHECK_INT(n_sent, 1, "the newest session is still tracked");

	/* stsguardd down: nothing sent, nothing stops */
	start(1);
	daemon_down = 1;
	feed(CONNECT("0123456789abcdef", "127.0.3.1") PRE_TLS("0123456789abcdef") TLS("0123456789abcdef")
	         TX("0123456789abcdef", "user@enforce-ok.test") BYE("0123456789abcdef"));
	CHECK_INT(n_sent, 0, "daemon down");
}

/* Routed pairs that are not host names are never reported (stsguardd would refuse them). */
static void test_bad_routed(void)
{
	start(1);
	routed_reply = "OK =mx1.mx-selfsigned.test a..test=mx1.mx-selfsigned.test ok.test= -x.test=mx1.mx-selfsigned.test "
	               "good.test=mx1.mx-selfsigned.test";
	feed(CONNECT("00000000000000d1", "127.0.3.40") PRE_TLS("00000000000000d1") BYE("00000000000000d1"));
	CHECK_INT(n_sent, 1, "only the well-formed pair");
	static const char want[] = "domain=good.test result=certificate-not-trusted mx=mx1.mx-selfsigned.test ";
	CHECK_TRUE(n_sent == 1 && strncmp(sent[0], want, sizeof want - 1) == 0, "good.test");
	routed_reply = "OK mx-selfsigned.test=mx1.mx-selfsigned.test enforce-ok.test=mx1.enforce-ok.test";
	start(1);
	feed(CONNECT("00000000000000d2", "127.0.9.9") PRE_TLS("00000000000000d2") TLS("00000000000000d2")
	         TX("00000000000000d2", "u@bad..domain") TX("00000000000000d2", "u@-bad.test") BYE("00000000000000d2"));
	CHECK_INT(n_sent, 0, "recipient domains that are not host names");
}

static void test_token(void)
{
	char out[64];
	size_t len = 0;
	out[0] = '\0';
	put_token(out, sizeof out, &len, "reason", "a b%c\x01\xff");
	CHECK_STR(out, "reason=a%20b%25c%01%FF", "%-encoding");
	put_token(out, sizeof out, &len, "x", "0123456789012345678901234567890123456789012345");
	CHECK_TRUE(strlen(out) < sizeof out, "never past the buffer");
}

int main(void)
{
	test_handshake();
	test_streams();
	test_interleaved();
	test_garbage();
	test_bad_routed();
	test_token();
	return check_summary();
}
