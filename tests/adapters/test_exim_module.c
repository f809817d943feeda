/*
 * test_exim_module.c - the Exim dlfunc module (adapters/exim/stsguard_exim.c)
 * and its socketmap client (adapters/common/smclient.c), outside Exim.
 *
 * The module's source is compiled in here with fake Exim symbols
 * (expand_string answers from a table of variables, string_copy_function
 * keeps its copies for the end of the test, log_write remembers the last
 * line) and talks to a fake stsguardd: a thread serving netstrings on a
 * unix socket that replies as told and records every request. So the
 * sanitizer builds cover the code Exim loads, and every branch the real
 * Exim test (tests/world/test_exim.sh) cannot provoke on purpose - a
 * garbage reply, a silent daemon, a fork inheriting the connection - is
 * exercised. Expectations come from docs/PROTOCOL.md, docs/exim.md and
 * RFC 8460 §4.3, never from the code.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "fake_daemon.h"

/* ---- fake Exim ---- */
typedef unsigned char uschar;
uschar *expand_string(uschar *string);
uschar *string_copy_function(const uschar *string);
void log_write(unsigned int selector, int flags, const char *format, ...) __attribute__((format(printf, 3, 4)));

#define VARS_MAX 32
static struct {
	char expr[128];
	char val[512];
} vars[VARS_MAX];
static size_t n_vars;
static char last_log[1024];
static char *copies[4096];
static size_t n_copies;

static void set_var(const char *expr, const char *val)
{
	for (size_t i = 0; i < n_vars; i++)
		if (strcmp(vars[i].expr, expr) == 0) {
			snprintf(vars[i].val, sizeof vars[i].val, "%s", val);
			return;
		}
	if (n_vars < VARS_MAX) {
		snprintf(vars[n_vars].expr, sizeof vars[n_vars].expr, "%s", expr);
		snprintf(vars[n_vars].val, sizeof vars[n_vars].val, "%s", val);
		n_vars++;
	}
}

uschar *expand_string(uschar *string)
{
	for (size_t i = 0; i < n_vars; i++)
		if (strcmp(vars[i].expr, (const char *)string) == 0)
			return (uschar *)vars[i].val;
	return NULL; /* an unset certextract fails like Exim's */
}

uschar *string_copy_function(const uschar *string)
{
	size_t n = strlen((const char *)string);
	char *p = malloc(n + 1);
	if (p == NULL)
		abort();
	memcpy(p, string, n + 1);
	if (n_copies < sizeof copies / sizeof copies[0])
		copies[n_copies++] = p;
	return (uschar *)p;
}

void log_write(unsigned int selector, int flags, const char *format, ...)
{
	va_list ap;
	(void)selector;
	(void)flags;
	va_start(ap, format);
	vsnprintf(last_log, sizeof last_log, format, ap);
	va_end(ap);
}

#include "stsguard_exim.c"

/* ---- fake stsguardd ---- */
enum behaviour { ANSWER, SILENT, CLOSE_AFTER_ONE, GARBAGE, HUGE };

static struct {
	pthread_mutex_t mu;
	char path[108];
	enum behaviour how;
	char policy_reply[1024];
	char requests[64][1100];
	size_t n_requests;
	unsigned connections;
} srv = {PTHREAD_MUTEX_INITIALIZER, "", ANSWER, "", {{0}}, 0, 0};

static void serve_conn(int fd)
{
	char req[1100];
	pthread_mutex_lock(&srv.mu);
	srv.connections++;
	pthread_mutex_unlock(&srv.mu);
	while (fake_read_netstring(fd, req, sizeof req) == 0) {
		pthread_mutex_lock(&srv.mu);
		if (srv.n_requests < 64)
			snprintf(srv.requests[srv.n_requests++], sizeof srv.requests[0], "%s", req);
		enum behaviour how = srv.how;
		char pr[1024];
		snprintf(pr, sizeof pr, "%s", srv.policy_reply);
		pthread_mutex_unlock(&srv.mu);
		if (how == SILENT)
			continue;
		if (how == GARBAGE) {
			if (write(fd, "xyz", 3) != 3)
				break;
			break;
		}
		if (how == HUGE) {
			if (write(fd, "9999999:", 8) != 8)
				break;
			break;
		}
		if (strncmp(req, "policy ", 7) == 0)
			(void)fake_reply(fd, pr);
		else if (strncmp(req, "tlsrpt ", 7) == 0)
			(void)fake_reply(fd, "OK stored");
		else if (strncmp(req, "prefetch ", 9) == 0)
			(void)fake_reply(fd, "OK queued");
		else
			(void)fake_reply(fd, "PERM unknown map");
		if (how == CLOSE_AFTER_ONE)
			break;
	}
}

static void start_server(void)
{
	fake_daemon_start("/tmp/stsgexim.XXXXXX", serve_conn, srv.path);
}

static void server_set(enum behaviour how, const char *policy_reply)
{
	pthread_mutex_lock(&srv.mu);
	srv.how = how;
	if (policy_reply != NULL)
		snprintf(srv.policy_reply, sizeof srv.policy_reply, "%s", policy_reply);
	srv.n_requests = 0;
	pthread_mutex_unlock(&srv.mu);
}

static unsigned connections(void)
{
	pthread_mutex_lock(&srv.mu);
	unsigned n = srv.connections;
	pthread_mutex_unlock(&srv.mu);
	return n;
}

static size_t n_requests(void)
{
	pthread_mutex_lock(&srv.mu);
	size_t n = srv.n_requests;
	pthread_mutex_unlock(&srv.mu);
	return n;
}

static const char *request(size_t i)
{
	static char copy[1100];
	pthread_mutex_lock(&srv.mu);
	snprintf(copy, sizeof copy, "%s", i < srv.n_requests ? srv.requests[i] : "");
	pthread_mutex_unlock(&srv.mu);
	return copy;
}

/* Call a dlfunc with string arguments; returns its yield (checks the return code is OK). */
static const char *call(int (*fn)(uschar **, int, uschar **), const char *name, int argc, ...)
{
	uschar *argv[7];
	va_list ap;
	va_start(ap, argc);
	for (int i = 0; i < argc && i < 7; i++)
		argv[i] = (uschar *)va_arg(ap, char *);
	va_end(ap);
	uschar *yield = NULL;
	CHECK_INT(fn(&yield, argc, argv), 0, name);
	CHECK_TRUE(yield != NULL, name);
	return yield != NULL ? (const char *)yield : "";
}

/* ---- tests ---- */

static void test_mx_ignore(void)
{
	static const struct {
		const char *name, *ad, *site, *want;
	} c[] = {
		{"one exact name", "enforce mx.a.test", "", "<; !^(?i)mx\\.a\\.test\\.?$ ; *"},
		{"wildcard is one label", "enforce *.b.test", "", "<; !^(?i)[^.]+\\.b\\.test\\.?$ ; *"},
		{"two patterns, site list first", "enforce mx1.a.test,*.b.test", "<; 10.0.0.0/8 ; ::1/128",
		 "<; 10.0.0.0/8 ; ::1/128 ; !^(?i)mx1\\.a\\.test\\.?$ ; !^(?i)[^.]+\\.b\\.test\\.?$ ; *"},
		{"hyphen and digits", "enforce mx-1.x9.test", "", "<; !^(?i)mx-1\\.x9\\.test\\.?$ ; *"},
		{"testing mode: ignore all", "testing mx.a.test", "", "*"},
		{"empty address_data", "", "", "*"},
		{"error answer", "error stsguardd unreachable", "", "*"},
		{"no patterns", "enforce ", "", "*"},
		{"regex metacharacters", "enforce mx.a.test,(.*)", "", "*"},
		{"dollar", "enforce mx$.a.test", "", "*"},
		{"backslash", "enforce mx\\.a.test", "", "*"},
		{"wildcard inside", "enforce mx.*.test", "", "*"},
		{"bare wildcard", "enforce *", "", "*"},
		{"empty label", "enforce mx..a.test", "", "*"},
		{"trailing comma", "enforce mx.a.test,", "", "*"},
		{"space inside list", "enforce mx.a.test, mx.b.test", "", "*"},
		{"site list not <;", "enforce mx.a.test", "10.0.0.0/8", "*"},
		{"site list with newline", "enforce mx.a.test", "<; 10.0.0.0/8\n; *", "*"},
		{"label of 64", "enforce aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test", "", "*"},
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
		CHECK_STR(call(stsguard_mx_ignore, c[i].name, 2, c[i].ad, c[i].site), c[i].want, c[i].name);
}

static void test_mode(void)
{
	static const struct {
		const char *name, *reply, *want;
	} c[] = {
		{"enforce", "OK v=1 verdict=enforce mode=enforce id=1 ttl=60 mx=mx.a.test,*.b.test dane=0 tlsrpt=1 error=- dane_all=0",
		 "enforce mx.a.test,*.b.test"},
		{"testing", "OK v=1 verdict=testing mode=testing id=1 ttl=60 mx=mx.a.test dane=0 tlsrpt=0 error=- dane_all=0",
		 "testing mx.a.test"},
		{"dane, every host", "OK v=1 verdict=dane mode=enforce id=1 ttl=60 mx=mx.a.test dane=1 tlsrpt=0 error=- dane_all=1",
		 "dane"},
		{"dane, some hosts: the policy's mode", "OK v=1 verdict=dane mode=enforce id=1 ttl=60 mx=mx.a.test dane=1 tlsrpt=0 error=- dane_all=0",
		 "enforce mx.a.test"},
		{"dane from a daemon without dane_all", "OK v=1 verdict=dane mode=testing id=1 ttl=60 mx=mx.a.test dane=1 tlsrpt=0 error=-",
		 "testing mx.a.test"},
		{"mode none", "OK v=1 verdict=none mode=none id=1 ttl=60 mx=- dane=0 tlsrpt=0 error=- dane_all=0", "none"},
		{"no policy", "OK v=1 verdict=no-policy mode=- id=- ttl=0 mx=- dane=0 tlsrpt=0 error=- dane_all=0", "none"},
		{"tempfail, enforce known", "OK v=1 verdict=tempfail mode=enforce id=1 ttl=0 mx=mx.a.test dane=0 tlsrpt=0 error=txt-tempfail dane_all=0",
		 "defer txt-tempfail"},
		{"tempfail, nothing known", "OK v=1 verdict=tempfail mode=- id=- ttl=0 mx=- dane=0 tlsrpt=0 error=txt-tempfail dane_all=0",
		 "none"},
		{"enforce without mx", "OK v=1 verdict=enforce mode=enforce id=1 ttl=60 mx=- dane=0 tlsrpt=0 error=- dane_all=0",
		 "error unexpected verdict enforce"},
		{"future verdict", "OK v=1 verdict=quantum mode=enforce id=1 ttl=60 mx=a.test dane=0 tlsrpt=0 error=- dane_all=0",
		 "error unexpected verdict quantum"},
		{"v=2", "OK v=2 verdict=enforce mode=enforce mx=a.test", "error unexpected reply from stsguardd: OK_v=2_verdict=enforce_mode=enforce_mx=a.test"},
		{"TEMP", "TEMP overloaded", "error unexpected reply from stsguardd: TEMP_overloaded"},
		{"extra fields appended later", "OK v=1 verdict=testing mode=testing id=1 ttl=60 mx=m.a.test dane=0 tlsrpt=0 error=- dane_all=0 new=1",
		 "testing m.a.test"},
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		server_set(ANSWER, c[i].reply);
		CHECK_STR(call(stsguard_mode, c[i].name, 2, "a.test", srv.path), c[i].want, c[i].name);
		CHECK_STR(request(0), "policy a.test", c[i].name);
	}
	server_set(ANSWER, "OK v=1 verdict=none mode=none id=1 ttl=60 mx=- dane=0 tlsrpt=0 error=- dane_all=0");
	CHECK_STR(call(stsguard_mode, "address literal", 2, "[192.0.2.1]", srv.path), "none", "address literal");
	CHECK_INT(n_requests(), 0, "address literal: nothing asked");
	CHECK_STR(call(stsguard_mode, "injection", 2, "a.test mx=evil", srv.path), "error not a domain name", "injection");
	CHECK_STR(call(stsguard_mode, "empty", 2, "", srv.path), "error not a domain name", "empty domain");
	const char *r = call(stsguard_mode, "unreachable", 2, "a.test", "/nonexistent/s.sock");
	CHECK_TRUE(strncmp(r, "error stsguardd unreachable (", 29) == 0, "unreachable");
	server_set(GARBAGE, NULL);
	r = call(stsguard_mode, "garbage", 2, "a.test", srv.path);
	CHECK_TRUE(strncmp(r, "error stsguardd unreachable (reading the reply", 46) == 0, "garbage reply");
	server_set(HUGE, NULL);
	r = call(stsguard_mode, "huge", 2, "a.test", srv.path);
	CHECK_TRUE(strncmp(r, "error stsguardd unreachable (", 29) == 0, "oversized reply");
}

static void session(const char *event, const char *ad, const char *cipher, const char *verified, const char *dane)
{
	set_var("$event_name", event);
	set_var("$address_data", ad);
	set_var("$domain", "a.test");
	set_var("$host", "mx.a.test");
	set_var("$host_address", "192.0.2.1");
	set_var("$sending_ip_address", "192.0.2.9");
	set_var("$tls_out_cipher", cipher);
	set_var("$tls_out_certificate_verified", verified);
	set_var("$tls_out_dane", dane);
	set_var("$event_data", "");
	set_var("$event_defer_errno", "0");
	set_var("${certextract{notafter,int}{$tls_out_peercert}}", "4102444800"); /* 2100 */
	set_var("${certextract{subj_altname,dns}{$tls_out_peercert}}", "mx.a.test");
}

#define BASE "tlsrpt domain=a.test "
#define AT " mx=mx.a.test ip=192.0.2.1 src=192.0.2.9"
#define C "TLS1.3:AES_256_GCM"

static void event_case(const char *name, const char *want)
{
	server_set(ANSWER, NULL);
	CHECK_STR(call(stsguard_event, name, 1, srv.path), "", name);
	if (want == NULL) {
		CHECK_INT(n_requests(), 0, name);
	} else {
		CHECK_INT(n_requests(), 1, name);
		CHECK_STR(request(0), want, name);
	}
}

static void test_event(void)
{
	session("tcp:close", "enforce mx.a.test", C, "1", "no");
	event_case("enforce, verified: success", BASE "result=success" AT);
	session("tcp:close", "enforce mx.a.test", C, "0", "no");
	event_case("enforce, not verified: left to msg:host:defer", NULL);
	session("tcp:close", "dane", C, "0", "yes");
	event_case("DANE used: success, tlsa", BASE "result=success" AT " policy=tlsa");
	session("tcp:close", "testing *.a.test", C, "1", "no");
	event_case("testing, verified, wildcard", BASE "result=success" AT);
	session("tcp:close", "testing mx.other.test", C, "1", "no");
	event_case("testing, MX outside the policy",
	           BASE "result=validation-failure" AT " reason=MX%20host%20not%20in%20the%20MTA-STS%20policy");
	session("tcp:close", "testing mx.a.test", "", "0", "no");
	event_case("testing, no TLS", BASE "result=starttls-not-supported" AT);
	session("tcp:close", "testing mx.a.test", C, "0", "no");
	event_case("testing, untrusted (name matches, not expired)", BASE "result=certificate-not-trusted" AT);
	set_var("${certextract{notafter,int}{$tls_out_peercert}}", "946684800"); /* 2000 */
	event_case("testing, expired", BASE "result=certificate-expired" AT);
	set_var("${certextract{notafter,int}{$tls_out_peercert}}", "4102444800");
	set_var("${certextract{subj_altname,dns}{$tls_out_peercert}}", "other.test\nx.mx.a.test");
	event_case("testing, no SAN names the MX", BASE "result=certificate-host-mismatch" AT);
	set_var("${certextract{subj_altname,dns}{$tls_out_peercert}}", "other.test\n*.A.test");
	event_case("testing, wildcard SAN (any case)", BASE "result=certificate-not-trusted" AT);
	set_var("${certextract{subj_altname,dns}{$tls_out_peercert}}", "*.test");
	event_case("testing, wildcard SAN is one label", BASE "result=certificate-host-mismatch" AT);

	session("msg:host:defer", "enforce mx.a.test", "", "0", "no");
	set_var("$event_defer_errno", "-38");
	set_var("$event_data", "TLS required, not offered");
	event_case("enforce, no STARTTLS", BASE "result=starttls-not-supported" AT " reason=TLS%20required,%20not%20offered");
	set_var("$event_defer_errno", "-37");
	set_var("$event_data", "100% bad");
	set_var("${certextract{notafter,int}{$tls_out_peercert}}", "946684800");
	event_case("enforce, expired", BASE "result=certificate-expired" AT " reason=100%25%20bad");
	set_var("$event_defer_errno", "-53");
	event_case("enforce, other defer (not TLS)", NULL);
	session("msg:host:defer", "testing mx.a.test", "", "0", "no");
	set_var("$event_defer_errno", "-38");
	event_case("testing never records at defer", NULL);

	session("dane:fail", "dane", C, "0", "no");
	set_var("$event_data", "validation-failure");
	event_case("dane:fail", BASE "result=validation-failure" AT " policy=tlsa reason=DANE%20validation%20failed");
	set_var("$event_name", "msg:host:defer");
	set_var("$event_defer_errno", "-37");
	event_case("the defer after dane:fail is not counted twice", NULL);
	event_case("a later defer of that host is",
	           BASE "result=validation-failure" AT " policy=tlsa reason=validation-failure");

	session("tcp:close", "none", C, "1", "no");
	event_case("no policy: nothing", NULL);
	session("tcp:close", "error stsguardd unreachable", C, "1", "no");
	event_case("error: nothing", NULL);
	session("tcp:connect", "enforce mx.a.test", "", "0", "no");
	event_case("tcp:connect: never a veto", NULL);
	session("tcp:close", "enforce mx.a.test", C, "1", "no");
	set_var("$domain", "");
	event_case("no $domain (multi_domain batch): nothing", NULL);

	/* The daemon refuses or is away: the event still yields "", the main log says why. */
	session("tcp:close", "enforce mx.a.test", C, "1", "no");
	last_log[0] = '\0';
	char away[] = "/nonexistent/s.sock";
	uschar *argv[1] = {(uschar *)away};
	uschar *yield = NULL;
	CHECK_INT(stsguard_event(&yield, 1, argv), 0, "daemon away: OK");
	CHECK_STR((const char *)yield, "", "daemon away: empty yield");
	CHECK_TRUE(strstr(last_log, "TLS-RPT result for a.test not recorded") != NULL, "daemon away: logged");
}

static void test_nomx_prefetch(void)
{
	server_set(ANSWER, NULL);
	CHECK_STR(call(stsguard_nomx, "nomx", 3, "a.test", "enforce mx.a.test", srv.path), "", "nomx yield");
	CHECK_STR(request(0), BASE "result=validation-failure reason=no%20MX%20host%20matches%20the%20MTA-STS%20policy",
	          "nomx request");
	server_set(ANSWER, NULL);
	CHECK_STR(call(stsguard_nomx, "nomx testing", 3, "a.test", "testing mx.a.test", srv.path), "", "nomx testing");
	CHECK_INT(n_requests(), 0, "nomx records only under enforce");

	server_set(ANSWER, NULL);
	CHECK_STR(call(stsguard_prefetch, "prefetch", 2, "a.test", srv.path), "queued", "prefetch");
	CHECK_STR(request(0), "prefetch a.test", "prefetch request");
	CHECK_STR(call(stsguard_prefetch, "prefetch bad", 2, "a b", srv.path), "error not a domain name", "prefetch bad");
	server_set(SILENT, NULL);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	const char *r = call(stsguard_prefetch, "prefetch silent", 2, "a.test", srv.path);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK_TRUE(strncmp(r, "error reading the reply", 23) == 0, "a silent daemon: error");
	CHECK_TRUE(t1.tv_sec - t0.tv_sec < 5, "a silent daemon does not hold the caller indefinitely");
}

static void test_client(void)
{
	char reply[256], err[256];
	struct smc c = SMC_INIT;

	server_set(ANSWER, "OK v=1");
	unsigned before = connections();
	CHECK_INT(smc_query(&c, srv.path, "policy", "a.test", 2000, reply, sizeof reply, err, sizeof err), 0, "first");
	CHECK_INT(smc_query(&c, srv.path, "policy", "b.test", 2000, reply, sizeof reply, err, sizeof err), 0, "reused");
	CHECK_INT(connections() - before, 1, "one connection for two queries");

	/* A child inheriting the connection opens its own. */
	pid_t pid = fork();
	if (pid == 0) {
		int rc = smc_query(&c, srv.path, "policy", "c.test", 2000, reply, sizeof reply, err, sizeof err);
		_exit(rc == 0 && strcmp(reply, "OK v=1") == 0 ? 0 : 1);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child query");
	CHECK_INT(connections() - before, 2, "the child used a connection of its own");
	CHECK_INT(smc_query(&c, srv.path, "policy", "d.test", 2000, reply, sizeof reply, err, sizeof err), 0,
	          "parent still fine");
	CHECK_INT(connections() - before, 2, "the parent kept its connection");

	/* The daemon closed an idle connection: reopened once, transparently. */
	server_set(CLOSE_AFTER_ONE, NULL);
	smc_close(&c);
	CHECK_INT(smc_query(&c, srv.path, "policy", "e.test", 2000, reply, sizeof reply, err, sizeof err), 0, "before close");
	struct timespec pause = {0, 100000000};
	nanosleep(&pause, NULL);
	CHECK_INT(smc_query(&c, srv.path, "policy", "f.test", 2000, reply, sizeof reply, err, sizeof err), 0,
	          "after the daemon closed it");

	/* Requests beyond the daemon's cap, and replies beyond the buffer, are errors. */
	char big[SMC_REQUEST_MAX + 10];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	CHECK_INT(smc_query(&c, srv.path, "policy", big, 2000, reply, sizeof reply, err, sizeof err), -1, "too long");
	server_set(ANSWER, "OK this reply is longer than the small buffer");
	char small[8];
	CHECK_INT(smc_query(&c, srv.path, "policy", "g.test", 2000, small, sizeof small, err, sizeof err), -1, "small buf");
	CHECK_TRUE(err[0] != '\0', "error text");
	smc_close(&c);
	smc_close(&conn);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	start_server();
	test_mx_ignore();
	test_mode();
	test_event();
	test_nomx_prefetch();
	test_client();
	for (size_t i = 0; i < n_copies; i++)
		free(copies[i]);
	unlink(srv.path);
	char *slash = strrchr(srv.path, '/');
	if (slash != NULL) {
		*slash = '\0';
		rmdir(srv.path);
	}
	return check_summary();
}
