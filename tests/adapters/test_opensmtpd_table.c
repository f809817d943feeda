/*
 * test_opensmtpd_table.c - table-stsguard (adapters/opensmtpd/table_stsguard.c)
 * fed the byte streams smtpd sends, answered by a fake stsguardd.
 *
 * smtpd kills itself on any malformed table reply, so every reply path is
 * compared byte for byte here: the imsg API version 2 of OpenSMTPD 6.8-7.5
 * (16-byte header in native byte order; OPEN/CHECK/LOOKUP/FETCH/UPDATE/CLOSE
 * with the payloads of shared/reference/opensmtpd.md §4.1, as verified with
 * smtpd 6.8.0p2 and 7.4.0p1) and the text protocol 0.1 of 7.6+ (§4.2 and
 * OpenSMTPD's table_proc.c: "table|0.1|<ts>|<name>|check|<service>|<id>|<key>"
 * → "check-result|<id>|found"). The fake daemon is a thread serving
 * netstrings on a unix socket with replies set per request, so every
 * stsguardd answer (enforce, testing, no policy, TEMP, garbage, down) is
 * exercised. Expectations come from docs/PROTOCOL.md §5.4/§5.7 and
 * docs/opensmtpd.md, never from the code.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "fake_daemon.h"

#define TABLE_STSGUARD_NO_MAIN
#include "table_stsguard.c"

/* ---- fake stsguardd: request -> reply table ---- */
#define ANSWERS_MAX 32
static struct {
	pthread_mutex_t mu;
	char path[108];
	struct {
		char req[300];
		char reply[600];
	} a[ANSWERS_MAX];
	size_t n;
	char last[1100];
	unsigned requests;
} srv = {PTHREAD_MUTEX_INITIALIZER, "", {{"", ""}}, 0, "", 0};

static void serve_conn(int fd)
{
	char req[1100];
	while (fake_read_netstring(fd, req, sizeof req) == 0) {
		const char *reply = "NOTFOUND ";
		pthread_mutex_lock(&srv.mu);
		srv.requests++;
		snprintf(srv.last, sizeof srv.last, "%s", req);
		for (size_t i = 0; i < srv.n; i++)
			if (strcmp(srv.a[i].req, req) == 0)
				reply = srv.a[i].reply;
		char copy[600];
		snprintf(copy, sizeof copy, "%s", reply);
		pthread_mutex_unlock(&srv.mu);
		if (strcmp(copy, "<garbage>") == 0) {
			if (write(fd, "12:xx", 5) != 5)
				break;
			break;
		}
		if (fake_reply(fd, copy) != 0)
			break;
	}
}

static void start_server(void)
{
	fake_daemon_start("/tmp/stsgtbl.XXXXXX", serve_conn, srv.path);
}

static void answer(const char *req, const char *reply)
{
	pthread_mutex_lock(&srv.mu);
	for (size_t i = 0; i < srv.n; i++)
		if (strcmp(srv.a[i].req, req) == 0) {
			snprintf(srv.a[i].reply, sizeof srv.a[i].reply, "%s", reply);
			pthread_mutex_unlock(&srv.mu);
			return;
		}
	if (srv.n < ANSWERS_MAX) {
		snprintf(srv.a[srv.n].req, sizeof srv.a[0].req, "%s", req);
		snprintf(srv.a[srv.n].reply, sizeof srv.a[0].reply, "%s", reply);
		srv.n++;
	}
	pthread_mutex_unlock(&srv.mu);
}

static unsigned requests(void)
{
	pthread_mutex_lock(&srv.mu);
	unsigned n = srv.requests;
	pthread_mutex_unlock(&srv.mu);
	return n;
}

/* ---- the table under test ---- */
static int64_t fake_now = 1700000000;
static int64_t test_now(void)
{
	return fake_now;
}

static struct tbl T;
static struct obuf O;

static void table_start(const char *arg)
{
	char err[200];
	tbl_free(&T);
	CHECK_INT(tbl_init(&T, arg, err, sizeof err), 0, arg);
	snprintf(T.conf.socket, sizeof T.conf.socket, "%s", srv.path);
	T.conf.timeout_ms = 2000;
	T.now = test_now;
	O.fd = -1;
}

/* Feed bytes (in chunks of `chunk`, 0: all at once); the replies are in O. */
static int feed(const void *p, size_t n, size_t chunk)
{
	O.len = 0;
	O.overflow = 0;
	const unsigned char *b = p;
	int r = 0;
	while (n > 0 && r == 0) {
		size_t k = chunk == 0 || chunk > n ? n : chunk;
		r = tbl_feed(&T, b, k, &O);
		b += k;
		n -= k;
	}
	return r;
}

/* ---- imsg helpers: messages as smtpd's table_proc.c composes them ---- */
struct msg {
	unsigned char b[TBL_MSG_MAX + 64];
	size_t n;
};

static void msg_hdr(struct msg *m, uint32_t type, size_t payload)
{
	uint16_t len = (uint16_t)(16 + payload), flags = 0;
	uint32_t peerid = 0, pid = 4242;
	memcpy(m->b + m->n, &type, 4);
	memcpy(m->b + m->n + 4, &len, 2);
	memcpy(m->b + m->n + 6, &flags, 2);
	memcpy(m->b + m->n + 8, &peerid, 4);
	memcpy(m->b + m->n + 12, &pid, 4);
	m->n += 16;
}

static void msg_open(struct msg *m, uint32_t version, const char *name)
{
	msg_hdr(m, P_OPEN, 4 + 2048);
	memcpy(m->b + m->n, &version, 4);
	memset(m->b + m->n + 4, 0, 2048);
	memcpy(m->b + m->n + 4, name, strlen(name));
	m->n += 4 + 2048;
}

/* CHECK/LOOKUP: i32 service | u64 nparams (0) | key with its NUL */
static void msg_query(struct msg *m, uint32_t type, int32_t service, const char *key)
{
	size_t kl = strlen(key) + 1;
	uint64_t nparams = 0;
	msg_hdr(m, type, 12 + kl);
	memcpy(m->b + m->n, &service, 4);
	memcpy(m->b + m->n + 4, &nparams, 8);
	memcpy(m->b + m->n + 12, key, kl);
	m->n += 12 + kl;
}

static void msg_fetch(struct msg *m, int32_t service)
{
	uint64_t nparams = 0;
	msg_hdr(m, P_FETCH, 12);
	memcpy(m->b + m->n, &service, 4);
	memcpy(m->b + m->n + 4, &nparams, 8);
	m->n += 12;
}

/* The expected reply: OK header (len, our pid), then r and value. */
static size_t want_ok(unsigned char *w, int has_r, int32_t r, const char *value)
{
	size_t vl = value != NULL ? strlen(value) + 1 : 0;
	uint32_t type = P_OK, peerid = 0, pid = (uint32_t)getpid();
	uint16_t len = (uint16_t)(16 + (has_r ? 4 : 0) + vl), flags = 0;
	memcpy(w, &type, 4);
	memcpy(w + 4, &len, 2);
	memcpy(w + 6, &flags, 2);
	memcpy(w + 8, &peerid, 4);
	memcpy(w + 12, &pid, 4);
	size_t n = 16;
	if (has_r) {
		memcpy(w + n, &r, 4);
		n += 4;
	}
	if (vl > 0) {
		memcpy(w + n, value, vl);
		n += vl;
	}
	return n;
}

#define CHECK_BYTES(got, gotn, want, wantn, name)                                                                  \
	do {                                                                                                       \
		CHECK_INT((gotn), (wantn), name);                                                                  \
		CHECK_TRUE((gotn) == (wantn) && memcmp((got), (want), (wantn)) == 0, name);                        \
	} while (0)

/* One imsg in, one expected OK reply out; fed whole and byte by byte. */
static void imsg_case(const char *name, struct msg *m, int has_r, int32_t r, const char *value)
{
	unsigned char w[600];
	size_t wn = want_ok(w, has_r, r, value);
	CHECK_INT(feed(m->b, m->n, 0), 0, name);
	CHECK_BYTES(O.data, O.len, w, wn, name);
	CHECK_INT(feed(m->b, m->n, 1), 0, name);
	CHECK_BYTES(O.data, O.len, w, wn, name);
}

static void set_policies(void)
{
	answer("policy enforce-ok.test",
	       "OK v=1 verdict=enforce mode=enforce id=e1 ttl=60 mx=mx1.enforce-ok.test dane=0 tlsrpt=1 error=- dane_all=0");
	answer("routes enforce-ok.test", "OK mx1.enforce-ok.test,mx2.enforce-ok.test");
	answer("policy t-ok.test",
	       "OK v=1 verdict=testing mode=testing id=t1 ttl=60 mx=mx.t-ok.test dane=0 tlsrpt=1 error=- dane_all=0");
	answer("routes t-ok.test", "OK mx.t-ok.test");
	answer("policy plain.test",
	       "OK v=1 verdict=no-policy mode=- id=- ttl=60 mx=- dane=0 tlsrpt=0 error=- dane_all=0");
	answer("policy dane.test",
	       "OK v=1 verdict=dane mode=enforce id=d1 ttl=60 mx=mx.dane.test dane=1 tlsrpt=0 error=- dane_all=1");
	answer("policy slow.test",
	       "OK v=1 verdict=tempfail mode=enforce id=s1 ttl=60 mx=mx.slow.test dane=0 tlsrpt=0 error=timeout "
	       "dane_all=0");
	answer("policy tf-nopolicy.test",
	       "OK v=1 verdict=tempfail mode=- id=- ttl=60 mx=- dane=0 tlsrpt=0 error=txt-tempfail dane_all=0");
	answer("policy weird.test", "OK something else");
	answer("policy perm.test", "PERM key 'perm.test' is odd");
	answer("routes bad-route.test", "OK mx1.bad|route.test");
	answer("routes empty-route.test", "OK ");
	answer("routes garbage.test", "<garbage>");
}

static void test_imsg(void)
{
	struct msg m;
	table_start("/x.sock,enforce");

	m.n = 0;
	msg_open(&m, 2, "stsguard-enforce");
	imsg_case("OPEN v2: OK, no payload", &m, 0, 0, NULL);
	m.n = 0;
	msg_open(&m, 3, "future");
	imsg_case("OPEN v3: still OK (a FAIL would kill smtpd)", &m, 0, 0, NULL);

	static const struct {
		const char *name;
		uint32_t type;
		int32_t service;
		const char *key;
		int32_t r;
		const char *value;
	} cases[] = {
		{"check enforce domain", P_CHECK, K_DOMAIN, "enforce-ok.test", 1, NULL},
		{"check testing domain", P_CHECK, K_DOMAIN, "t-ok.test", 0, NULL},
		{"check no policy", P_CHECK, K_DOMAIN, "plain.test", 0, NULL},
		{"check unknown to the daemon", P_CHECK, K_DOMAIN, "nothing.test", 0, NULL},
		{"check dane + enforce policy", P_CHECK, K_DOMAIN, "dane.test", 1, NULL},
		{"check tempfail + enforce policy", P_CHECK, K_DOMAIN, "slow.test", 1, NULL},
		{"check tempfail, no policy", P_CHECK, K_DOMAIN, "tf-nopolicy.test", 0, NULL},
		{"check unparsable policy reply", P_CHECK, K_DOMAIN, "weird.test", 0, NULL},
		{"check PERM", P_CHECK, K_DOMAIN, "perm.test", 0, NULL},
		{"check another service", P_CHECK, 0x001, "enforce-ok.test", 0, NULL},
		{"check key with a space", P_CHECK, K_DOMAIN, "enforce-ok.test x", 0, NULL},
		{"lookup route", P_LOOKUP, K_RELAYHOST, "enforce-ok.test", 1, "smtp+tls://mx1.enforce-ok.test:25"},
		{"lookup route testing", P_LOOKUP, K_RELAYHOST, "t-ok.test", 1, "smtp+tls://mx.t-ok.test:25"},
		{"lookup no route", P_LOOKUP, K_RELAYHOST, "plain.test", 0, NULL},
		{"lookup route with a bad host", P_LOOKUP, K_RELAYHOST, "bad-route.test", 0, NULL},
		{"lookup empty route", P_LOOKUP, K_RELAYHOST, "empty-route.test", 0, NULL},
		{"lookup garbage from the daemon", P_LOOKUP, K_RELAYHOST, "garbage.test", 0, NULL},
		{"lookup another service", P_LOOKUP, 0x001, "enforce-ok.test", 0, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		m.n = 0;
		msg_query(&m, cases[i].type, cases[i].service, cases[i].key);
		imsg_case(cases[i].name, &m, 1, cases[i].r, cases[i].value);
	}

	m.n = 0;
	msg_fetch(&m, 0x020);
	imsg_case("fetch: not found", &m, 1, 0, NULL);
	m.n = 0;
	msg_hdr(&m, P_UPDATE, 0);
	imsg_case("update: r=1", &m, 1, 1, NULL);
	m.n = 0;
	msg_hdr(&m, P_CLOSE, 0);
	CHECK_INT(feed(m.b, m.n, 0), 0, "close");
	CHECK_INT(O.len, 0, "close: no reply");
	m.n = 0;
	msg_hdr(&m, 99, 3);
	memcpy(m.b + m.n, "abc", 3);
	m.n += 3;
	imsg_case("unknown type: OK r=0", &m, 1, 0, NULL);

	/* Malformed payloads: still exactly one OK reply. */
	m.n = 0;
	msg_hdr(&m, P_CHECK, 12 + 3);
	memset(m.b + m.n, 0, 12);
	memcpy(m.b + m.n + 12, "abc", 3); /* no NUL */
	m.n += 15;
	imsg_case("check key without NUL", &m, 1, 0, NULL);
	m.n = 0;
	msg_hdr(&m, P_LOOKUP, 2);
	m.b[m.n++] = 2;
	m.b[m.n++] = 0;
	imsg_case("lookup payload too short", &m, 1, 0, NULL);
	char longkey[400];
	memset(longkey, 'a', sizeof longkey - 1);
	longkey[sizeof longkey - 1] = '\0';
	m.n = 0;
	msg_query(&m, P_CHECK, K_DOMAIN, longkey);
	unsigned before = requests();
	imsg_case("check key over 255 bytes", &m, 1, 0, NULL);
	CHECK_INT(requests(), before, "a long key is not sent to stsguardd");

	/* Several messages in one read: every reply, in order. */
	m.n = 0;
	msg_query(&m, P_CHECK, K_DOMAIN, "enforce-ok.test");
	msg_query(&m, P_LOOKUP, K_RELAYHOST, "enforce-ok.test");
	msg_hdr(&m, P_UPDATE, 0);
	unsigned char w[1000];
	size_t wn = want_ok(w, 1, 1, NULL);
	wn += want_ok(w + wn, 1, 1, "smtp+tls://mx1.enforce-ok.test:25");
	wn += want_ok(w + wn, 1, 1, NULL);
	CHECK_INT(feed(m.b, m.n, 0), 0, "pipelined");
	CHECK_BYTES(O.data, O.len, w, wn, "pipelined: three replies in order");
	CHECK_INT(feed(m.b, m.n, 7), 0, "pipelined, 7-byte reads");
	CHECK_BYTES(O.data, O.len, w, wn, "pipelined, 7-byte reads");

	/* A length the protocol cannot have: the stream is lost, we stop. */
	m.n = 0;
	msg_hdr(&m, P_CHECK, 0);
	uint16_t bad = 5;
	memcpy(m.b + 4, &bad, 2);
	CHECK_INT(feed(m.b, m.n, 0), -1, "length under the header size");
	table_start("/x.sock,enforce");
	m.n = 0;
	msg_hdr(&m, P_CHECK, 0);
	bad = 20000;
	memcpy(m.b + 4, &bad, 2);
	CHECK_INT(feed(m.b, m.n, 0), -1, "length over MAX_IMSGSIZE");
}

/* The testing table: found only for testing domains; never a route. */
static void test_testing_mode(void)
{
	struct msg m;
	table_start("/x.sock,testing");
	const struct {
		const char *key;
		int32_t r;
	} cases[] = {{"t-ok.test", 1}, {"enforce-ok.test", 0}, {"plain.test", 0}, {"dane.test", 0}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		m.n = 0;
		msg_query(&m, P_CHECK, K_DOMAIN, cases[i].key);
		imsg_case(cases[i].key, &m, 1, cases[i].r, NULL);
	}
	m.n = 0;
	msg_query(&m, P_LOOKUP, K_RELAYHOST, "t-ok.test");
	imsg_case("testing table: no route", &m, 1, 0, NULL);
}

/* stsguardd down, or its answers gone: held answers for `hold` seconds, then not found. */
static void test_memory(void)
{
	struct msg m;
	table_start("/x.sock,enforce,hold=600");
	m.n = 0;
	msg_query(&m, P_CHECK, K_DOMAIN, "enforce-ok.test");
	imsg_case("learn: found", &m, 1, 1, NULL);
	m.n = 0;
	msg_query(&m, P_LOOKUP, K_RELAYHOST, "enforce-ok.test");
	imsg_case("learn: route", &m, 1, 1, "smtp+tls://mx1.enforce-ok.test:25");

	/* The policy went away: queued mail keeps its route; new checks follow the daemon. */
	answer("routes enforce-ok.test", "NOTFOUND ");
	answer("policy enforce-ok.test",
	       "OK v=1 verdict=no-policy mode=- id=- ttl=60 mx=- dane=0 tlsrpt=0 error=- dane_all=0");
	imsg_case("route held after NOTFOUND", &m, 1, 1, "smtp+tls://mx1.enforce-ok.test:25");
	answer("routes enforce-ok.test", "TEMP timeout");
	imsg_case("route held after TEMP", &m, 1, 1, "smtp+tls://mx1.enforce-ok.test:25");
	m.n = 0;
	msg_query(&m, P_CHECK, K_DOMAIN, "enforce-ok.test");
	imsg_case("check follows the daemon's no-policy", &m, 1, 0, NULL);
	answer("policy enforce-ok.test",
	       "OK v=1 verdict=enforce mode=enforce id=e1 ttl=60 mx=mx1.enforce-ok.test dane=0 tlsrpt=1 error=- dane_all=0");
	imsg_case("check found again", &m, 1, 1, NULL);

	/* Daemon down. */
	snprintf(T.conf.socket, sizeof T.conf.socket, "%s", "/nonexistent/stsguard-test/gone.sock");
	smc_close(&T.smc);
	imsg_case("down: held check", &m, 1, 1, NULL);
	m.n = 0;
	msg_query(&m, P_LOOKUP, K_RELAYHOST, "enforce-ok.test");
	imsg_case("down: held route", &m, 1, 1, "smtp+tls://mx1.enforce-ok.test:25");
	m.n = 0;
	msg_query(&m, P_CHECK, K_DOMAIN, "never-seen.test");
	imsg_case("down: unknown domain not found", &m, 1, 0, NULL);
	fake_now += 601;
	m.n = 0;
	msg_query(&m, P_CHECK, K_DOMAIN, "enforce-ok.test");
	imsg_case("down, past hold: not found", &m, 1, 0, NULL);
	m.n = 0;
	msg_query(&m, P_LOOKUP, K_RELAYHOST, "enforce-ok.test");
	imsg_case("down, past hold: no route", &m, 1, 0, NULL);
	answer("routes enforce-ok.test", "OK mx1.enforce-ok.test,mx2.enforce-ok.test");
}

/* ---- text protocol 0.1 (7.6+) ---- */
static void text_case(const char *name, const char *in, const char *want)
{
	CHECK_INT(feed(in, strlen(in), 0), 0, name);
	O.data[O.len < sizeof O.data ? O.len : sizeof O.data - 1] = '\0';
	CHECK_STR((const char *)O.data, want, name);
	CHECK_INT(feed(in, strlen(in), 1), 0, name);
	O.data[O.len < sizeof O.data ? O.len : sizeof O.data - 1] = '\0';
	CHECK_STR((const char *)O.data, want, name);
}

static void test_text(void)
{
	table_start("/x.sock,enforce");
	text_case("handshake",
	          "config|smtpd-version|7.6.0\nconfig|protocol|0.1\nconfig|tablename|stsguard-enforce\nconfig|ready\n",
	          "register|domain\nregister|relayhost\nregister|ready\n");
	CHECK_INT(T.proto, 2, "text protocol detected");
	static const struct {
		const char *name, *in, *want;
	} cases[] = {
		{"check found", "table|0.1|1700000000.000001|stsguard-enforce|check|domain|0a1b2c3d|enforce-ok.test\n",
		 "check-result|0a1b2c3d|found\n"},
		{"check not found", "table|0.1|1700000000.000001|stsguard-enforce|check|domain|00000001|plain.test\n",
		 "check-result|00000001|not-found\n"},
		{"check testing domain", "table|0.1|1.2|t|check|domain|ffffffff|t-ok.test\n",
		 "check-result|ffffffff|not-found\n"},
		{"check other service", "table|0.1|1.2|t|check|alias|12345678|enforce-ok.test\n",
		 "check-result|12345678|not-found\n"},
		{"check unknown service", "table|0.1|1.2|t|check|frobnicate|12345678|enforce-ok.test\n",
		 "check-result|12345678|not-found\n"},
		{"check key with '|'", "table|0.1|1.2|t|check|domain|12345678|a|b.test\n",
		 "check-result|12345678|not-found\n"},
		{"check empty key", "table|0.1|1.2|t|check|domain|12345678|\n", "check-result|12345678|not-found\n"},
		{"check no key", "table|0.1|1.2|t|check|domain|12345678\n", "check-result|12345678|not-found\n"},
		{"lookup found", "table|0.1|1.2|t|lookup|relayhost|deadbeef|enforce-ok.test\n",
		 "lookup-result|deadbeef|found|smtp+tls://mx1.enforce-ok.test:25\n"},
		{"lookup not found", "table|0.1|1.2|t|lookup|relayhost|deadbeef|plain.test\n",
		 "lookup-result|deadbeef|not-found\n"},
		{"lookup garbage daemon", "table|0.1|1.2|t|lookup|relayhost|deadbeef|garbage.test\n",
		 "lookup-result|deadbeef|not-found\n"},
		{"fetch", "table|0.1|1.2|t|fetch|source|0000beef\n", "fetch-result|0000beef|not-found\n"},
		{"update", "table|0.1|1.2|t|update|0000cafe\n", "update-result|0000cafe|ok\n"},
		{"CRLF", "table|0.1|1.2|t|check|domain|0a1b2c3d|enforce-ok.test\r\n", "check-result|0a1b2c3d|found\n"},
		{"garbage line: no reply", "hello world\n", ""},
		{"unknown op: no reply", "table|0.1|1.2|t|frob|domain|0a1b2c3d|x\n", ""},
		{"id with a CR: no reply", "table|0.1|1.2|t|check|domain|\r|x\n", ""},
		{"two requests in one read",
		 "table|0.1|1.2|t|check|domain|00000001|enforce-ok.test\ntable|0.1|1.2|t|lookup|relayhost|00000002|"
		 "enforce-ok.test\n",
		 "check-result|00000001|found\nlookup-result|00000002|found|smtp+tls://mx1.enforce-ok.test:25\n"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		text_case(cases[i].name, cases[i].in, cases[i].want);

	/* An over-long line is dropped whole; the next one is answered. */
	static char big[TBL_LINE_MAX * 2 + 200];
	memset(big, 'x', TBL_LINE_MAX * 2);
	snprintf(big + TBL_LINE_MAX * 2, 200, "\ntable|0.1|1.2|t|check|domain|00000009|enforce-ok.test\n");
	CHECK_INT(feed(big, strlen(big), 0), 0, "over-long line");
	O.data[O.len] = '\0';
	CHECK_STR((const char *)O.data, "check-result|00000009|found\n", "over-long line skipped, next answered");
}

static void test_conf(void)
{
	static const struct {
		const char *arg;
		int ok;
		int mode;
		const char *socket;
		int timeout;
		long long hold;
	} cases[] = {
		{"/run/stsguard/stsguardd.sock", 0, MODE_ENFORCE, "/run/stsguard/stsguardd.sock", 5000, 345600},
		{"/run/s.sock,enforce", 0, MODE_ENFORCE, "/run/s.sock", 5000, 345600},
		{"/tmp/x.sock,testing,timeout=300,hold=0", 0, MODE_TESTING, "/tmp/x.sock", 300, 0},
		{"", -1, 0, "", 0, 0},
		{"enforce", -1, 0, "", 0, 0}, /* smtpd itself refuses a parameter without '/' */
		{"/s,routes", -1, 0, "", 0, 0},
		{"/s,timeout=50", -1, 0, "", 0, 0},
		{"/s,timeout=1x", -1, 0, "", 0, 0},
		{"/s,hold=99999999999", -1, 0, "", 0, 0},
		{"/s,colour=blue", -1, 0, "", 0, 0},
		{"/s,", -1, 0, "", 0, 0},
		{"/" "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
		 "0123456789",
		 -1, 0, "", 0, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tbl_conf c;
		char err[200] = "";
		int r = tbl_conf_parse(cases[i].arg, &c, err, sizeof err);
		CHECK_INT(r, cases[i].ok, cases[i].arg);
		if (r == 0 && cases[i].ok == 0) {
			CHECK_INT(c.mode, cases[i].mode, cases[i].arg);
			CHECK_STR(c.socket, cases[i].socket, cases[i].arg);
			CHECK_INT(c.timeout_ms, cases[i].timeout, cases[i].arg);
			CHECK_INT(c.hold_s, cases[i].hold, cases[i].arg);
		} else if (r != 0) {
			CHECK_TRUE(err[0] != '\0', "an error says why");
		}
	}
	char err[200];
	CHECK_INT(tbl_conf_parse(NULL, &(struct tbl_conf){0}, err, sizeof err), -1, "no argument");
}

int main(void)
{
	start_server();
	set_policies();
	test_conf();
	test_imsg();
	test_testing_mode();
	test_memory();
	test_text();
	tbl_free(&T);
	return check_summary();
}
