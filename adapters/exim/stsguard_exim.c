/*
 * stsguard_exim.c - the Exim dlfunc module: MTA-STS (RFC 8461) for Exim's
 * outbound mail, and the TLS-RPT (RFC 8460) results of its deliveries.
 *
 * Exim has no MTA-STS client. This module lets its routers and transports
 * ask stsguardd (docs/PROTOCOL.md) over the daemon's unix socket; the
 * shipped configuration (adapters/exim/conf/, docs/exim.md) does the rest
 * with Exim's own machinery: a dnslookup router that ignores MX hosts
 * outside the policy, and an smtp transport that requires TLS with a
 * certificate verified for the MX name.
 *
 * Rules, from what Exim 4.96 really does with a dlfunc (see
 * shared/reference/exim.md §2-§5):
 *  - every function returns OK with a value: a failed expansion is skipped
 *    silently by several options (a fail-open), so errors are values
 *    ("error ...", "*") that the configuration treats as "defer";
 *  - results live in Exim's store (string_copy), never static memory;
 *  - at most 7 arguments;
 *  - one daemon connection per process, dropped when a fork inherits it
 *    (smclient.c), since each delivery and each transport runs in its own
 *    process;
 *  - the module is linked with -z now, so a missing Exim symbol fails the
 *    dlopen cleanly instead of killing a delivery process later.
 *
 * The module links nothing but libc: no libcurl, ldns or OpenSSL in Exim.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "smclient.h"

/* ---- the part of Exim's local_scan.h ABI (6.0, exim4-dev) this module uses ---- */
typedef unsigned char uschar;
#define EXIM_OK 0
#define EXIM_LOG_MAIN 1
extern uschar *expand_string(uschar *string);
extern uschar *string_copy_function(const uschar *string);
extern void log_write(unsigned int selector, int flags, const char *format, ...)
	__attribute__((format(printf, 3, 4)));

#define DEFAULT_SOCKET "/run/stsguard/stsguardd.sock"
#define MODE_TIMEOUT_MS 6000    /* above stsguardd's query_timeout (default 4 s): its fallback arrives first */
#define RECORD_TIMEOUT_MS 3000  /* a TLS-RPT result is acknowledged once durable */
#define PREFETCH_TIMEOUT_MS 300 /* RCPT time: never hold an SMTP transaction */
#define LIST_MAX 16384u

/* The dlfunc entry points, the only symbols the module exports (Exim finds them with dlsym). */
#define DLFUNC __attribute__((visibility("default")))
DLFUNC int stsguard_mode(uschar **yield, int argc, uschar *argv[]);
DLFUNC int stsguard_mx_ignore(uschar **yield, int argc, uschar *argv[]);
DLFUNC int stsguard_nomx(uschar **yield, int argc, uschar *argv[]);
DLFUNC int stsguard_event(uschar **yield, int argc, uschar *argv[]);
DLFUNC int stsguard_prefetch(uschar **yield, int argc, uschar *argv[]);

static struct smc conn = SMC_INIT;

static int give(uschar **yield, const char *s)
{
	*yield = string_copy_function((const uschar *)s);
	return EXIM_OK;
}

static const char *arg(int argc, uschar *argv[], int i)
{
	return i < argc && argv[i] != NULL ? (const char *)argv[i] : "";
}

static const char *socket_arg(int argc, uschar *argv[], int i)
{
	const char *s = arg(argc, argv, i);
	return s[0] != '\0' ? s : DEFAULT_SOCKET;
}

/* Expand an Exim variable expression; "" when it fails or is unset. */
static const char *var(const char *expr)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", expr);
	const uschar *v = expand_string((uschar *)buf);
	return v != NULL ? (const char *)v : "";
}

/* Value of NAME= in a policy-map reply, copied into out; 0 if absent. */
static int field(const char *reply, const char *name, char *out, size_t outsz)
{
	size_t nl = strlen(name);
	for (const char *p = reply; p != NULL && *p != '\0'; p = strchr(p, ' ')) {
		if (*p == ' ')
			p++;
		if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
			const char *v = p + nl + 1;
			size_t vl = strcspn(v, " ");
			if (vl >= outsz)
				return 0;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return 1;
		}
	}
	return 0;
}

/* A domain as it goes into a request: letters, digits, '-', '.', '_' only (no spaces, no injection). */
static int plain_domain(const char *d)
{
	size_t n = strlen(d);
	if (n == 0 || n > 255)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = d[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_'))
			return 0;
	}
	return 1;
}

/*
 * ${dlfunc{SO}{stsguard_mode}{$domain}{SOCKET}} for address_data. One of:
 *   enforce PATTERNS   deliver only to MX hosts matching PATTERNS (comma list), verified TLS
 *   testing PATTERNS   deliver as usual, record what enforce would have refused
 *   dane               every MX host has DNSSEC-validated TLSA: Exim's DANE decides (RFC 8461 §2)
 *   none               no policy (or mode none): the site's own behaviour
 *   defer REASON       an enforce policy is known but could not be confirmed: try later
 *   error REASON       stsguardd unreachable or a reply we do not understand
 */
int stsguard_mode(uschar **yield, int argc, uschar *argv[])
{
	const char *domain = arg(argc, argv, 0);
	char reply[8192], err[256], out[8400];
	char verdict[32], mode[32], mx[8000], dane_all[8], error[64];

	if (!plain_domain(domain))
		return give(yield, domain[0] == '[' ? "none" : "error not a domain name");
	if (smc_query(&conn, socket_arg(argc, argv, 1), "policy", domain, MODE_TIMEOUT_MS, reply, sizeof reply, err,
	              sizeof err) != 0) {
		snprintf(out, sizeof out, "error stsguardd unreachable (%s)", err);
		return give(yield, out);
	}
	if (strncmp(reply, "OK v=1 ", 7) != 0 || !field(reply, "verdict", verdict, sizeof verdict) ||
	    !field(reply, "mode", mode, sizeof mode) || !field(reply, "mx", mx, sizeof mx)) {
		char shown[80];
		snprintf(shown, sizeof shown, "%.60s", reply);
		for (char *p = shown; *p != '\0'; p++)
			if (*p == ' ')
				*p = '_';
		snprintf(out, sizeof out, "error unexpected reply from stsguardd: %s", shown);
		return give(yield, out);
	}
	if (!field(reply, "dane_all", dane_all, sizeof dane_all))
		snprintf(dane_all, sizeof dane_all, "0");
	if (!field(reply, "error", error, sizeof error))
		snprintf(error, sizeof error, "-");

	if (strcmp(verdict, "dane") == 0 && strcmp(dane_all, "1") == 0)
		return give(yield, "dane");
	if (strcmp(verdict, "dane") == 0) /* some MX hosts have TLSA: Exim's hosts_try_dane covers those */
		snprintf(verdict, sizeof verdict, "%s", mode);
	if ((strcmp(verdict, "enforce") == 0 || strcmp(verdict, "testing") == 0) && strcmp(mx, "-") != 0) {
		snprintf(out, sizeof out, "%s %s", verdict, mx);
		return give(yield, out);
	}
	if (strcmp(verdict, "none") == 0 || strcmp(verdict, "no-policy") == 0)
		return give(yield, "none");
	if (strcmp(verdict, "tempfail") == 0) {
		/* PROTOCOL.md §5.4: defer only where an enforce policy is known; else as without MTA-STS. */
		if (strcmp(mode, "enforce") == 0) {
			snprintf(out, sizeof out, "defer %s", error);
			return give(yield, out);
		}
		return give(yield, "none");
	}
	snprintf(out, sizeof out, "error unexpected verdict %s", verdict);
	return give(yield, out);
}

/* An mx pattern from the daemon, checked before any regex is built from it. */
static int pattern_ok(const char *p, size_t n)
{
	size_t i = 0, label = 0;
	if (n >= 2 && p[0] == '*' && p[1] == '.')
		i = 2;
	if (i == n || n > 253)
		return 0;
	for (; i < n; i++) {
		char c = p[i];
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

static int put(char *out, size_t *len, const char *s, size_t n)
{
	if (*len + n + 1 > LIST_MAX)
		return -1;
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
	return 0;
}

/*
 * ${dlfunc{SO}{stsguard_mx_ignore}{$address_data}{SITE-LIST}} for
 * ignore_target_hosts of the enforce router. Host list items are compared
 * with the MX host's IP, except regexes, which see its name (Exim spec
 * §10.12), so each pattern becomes an anchored regex with RFC 8461 §4.1
 * semantics ("*." = exactly one label), negated, before a final "*":
 *   <; SITE-ITEMS ; !^(?i)mx\.example\.com\.?$ ; !^(?i)[^.]+\.example\.net\.?$ ; *
 * SITE-LIST (optional) is the site's usual exclusions, a "<;" list such as
 * Debian's ROUTER_DNSLOOKUP_IGNORE_TARGET_HOSTS; they stay first. Anything
 * unusable gives "*": every MX is ignored and the next router defers.
 */
int stsguard_mx_ignore(uschar **yield, int argc, uschar *argv[])
{
	const char *ad = arg(argc, argv, 0);
	const char *site = arg(argc, argv, 1);
	char out[LIST_MAX];
	size_t len = 0;

	out[0] = '\0';
	if (strncmp(ad, "enforce ", 8) != 0)
		return give(yield, "*");
	const char *pats = ad + 8;
	put(out, &len, "<;", 2);
	while (*site == ' ' || *site == '\t')
		site++;
	if (site[0] != '\0') {
		if (strncmp(site, "<;", 2) != 0 || strchr(site, '\n') != NULL)
			return give(yield, "*");
		if (put(out, &len, site + 2, strlen(site + 2)) != 0 || put(out, &len, " ;", 2) != 0)
			return give(yield, "*");
	}
	size_t count = 0;
	for (const char *p = pats; *p != '\0';) {
		size_t n = strcspn(p, ", ");
		if (!pattern_ok(p, n))
			return give(yield, "*");
		int wild = p[0] == '*';
		if (put(out, &len, " !^(?i)", 7) != 0 || (wild && put(out, &len, "[^.]+", 5) != 0))
			return give(yield, "*");
		for (size_t i = wild ? 1 : 0; i < n; i++) {
			if (p[i] == '.' ? put(out, &len, "\\.", 2) : put(out, &len, p + i, 1))
				return give(yield, "*");
		}
		if (put(out, &len, "\\.?$ ;", 6) != 0)
			return give(yield, "*");
		count++;
		p += n;
		if (*p == ',' && p[1] != '\0')
			p++;
		else if (*p != '\0')
			return give(yield, "*"); /* a space, or a comma ending the list */
	}
	if (count == 0 || put(out, &len, " *", 2) != 0)
		return give(yield, "*");
	return give(yield, out);
}

/* ---- TLS-RPT results ---- */

/* Append NAME=VALUE to a tlsrpt request, VALUE %HH-escaped (docs/PROTOCOL.md §5.6), at most max bytes of it. */
static void token(char *req, size_t reqsz, const char *name, const char *value, size_t max)
{
	size_t len = strlen(req);
	size_t nl = strlen(name);
	if (value == NULL || len + nl + 3 > reqsz)
		return;
	if (len > 0)
		req[len++] = ' ';
	memcpy(req + len, name, nl);
	len += nl;
	req[len++] = '=';
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; value[i] != '\0' && i < max; i++) {
		unsigned char c = (unsigned char)value[i];
		if (c > 0x20 && c < 0x7f && c != '%') {
			if (len + 2 > reqsz)
				break;
			req[len++] = (char)c;
		} else {
			if (len + 4 > reqsz)
				break;
			req[len++] = '%';
			req[len++] = hex[c >> 4];
			req[len++] = hex[c & 15];
		}
	}
	req[len] = '\0';
}

struct session {
	const char *domain, *mx, *ip, *src;
};

/* Send one result; failures go to Exim's main log (never the panic log, never an expansion failure). */
static void record(const char *sock, const struct session *s, const char *result, const char *policy,
                   const char *reason)
{
	char req[SMC_REQUEST_MAX - 8], reply[512], err[256];

	req[0] = '\0';
	token(req, sizeof req, "domain", s->domain, 255);
	token(req, sizeof req, "result", result, 64);
	if (s->mx != NULL && s->mx[0] != '\0')
		token(req, sizeof req, "mx", s->mx, 255);
	if (s->ip != NULL && s->ip[0] != '\0')
		token(req, sizeof req, "ip", s->ip, 45);
	if (s->src != NULL && s->src[0] != '\0')
		token(req, sizeof req, "src", s->src, 45);
	if (policy != NULL)
		token(req, sizeof req, "policy", policy, 8);
	if (reason != NULL && reason[0] != '\0')
		token(req, sizeof req, "reason", reason, 160);
	if (smc_query(&conn, sock, "tlsrpt", req, RECORD_TIMEOUT_MS, reply, sizeof reply, err, sizeof err) != 0)
		log_write(0, EXIM_LOG_MAIN, "stsguard: TLS-RPT result for %s not recorded: %s", s->domain, err);
	else if (strncmp(reply, "OK", 2) != 0)
		log_write(0, EXIM_LOG_MAIN, "stsguard: TLS-RPT result for %s not recorded: %.200s", s->domain, reply);
}

/*
 * ${dlfunc{SO}{stsguard_nomx}{$domain}{$address_data}{SOCKET}} in the data
 * of the router that defers when no MX host matches an enforce policy:
 * records the RFC 8460 validation-failure and yields "".
 */
int stsguard_nomx(uschar **yield, int argc, uschar *argv[])
{
	const char *domain = arg(argc, argv, 0);
	if (plain_domain(domain) && strncmp(arg(argc, argv, 1), "enforce ", 8) == 0) {
		struct session s = {domain, NULL, NULL, NULL};
		record(socket_arg(argc, argv, 2), &s, "validation-failure", NULL, "no MX host matches the MTA-STS policy");
	}
	return give(yield, "");
}

/* RFC 8461 §4.1 / RFC 6125: does pattern (maybe "*.x") match host, case-insensitively? */
static int name_match(const char *pattern, size_t plen, const char *host)
{
	size_t hl = strlen(host);
	while (hl > 0 && host[hl - 1] == '.')
		hl--;
	if (plen >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = memchr(host, '.', hl);
		if (dot == NULL || dot == host)
			return 0;
		size_t rest = hl - (size_t)(dot - host);
		return rest == plen - 1 && strncasecmp(dot, pattern + 1, rest) == 0;
	}
	return plen == hl && strncasecmp(pattern, host, hl) == 0;
}

/* Is mx among the patterns "enforce|testing P1,P2" carry? */
static int mx_in_policy(const char *ad, const char *mx)
{
	const char *p = strchr(ad, ' ');
	if (p == NULL)
		return 0;
	for (p++; *p != '\0';) {
		size_t n = strcspn(p, ",");
		if (name_match(p, n, mx))
			return 1;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* The certificate failure Exim's GnuTLS error text cannot tell (reference §8): expired, wrong name, or untrusted. */
static const char *classify_cert(const char *mx)
{
	const char *notafter = var("${certextract{notafter,int}{$tls_out_peercert}}");
	if (notafter[0] != '\0') {
		char *end;
		long long t = strtoll(notafter, &end, 10);
		if (*end == '\0' && t > 0 && t < (long long)time(NULL))
			return "certificate-expired";
	}
	const char *sans = var("${certextract{subj_altname,dns}{$tls_out_peercert}}");
	int matched = 0;
	for (const char *p = sans; *p != '\0' && !matched;) {
		size_t n = strcspn(p, "\n");
		matched = n > 0 && name_match(p, n, mx);
		p += n;
		if (*p == '\n')
			p++;
	}
	if (sans[0] != '\0' && !matched)
		return "certificate-host-mismatch";
	return "certificate-not-trusted";
}

/* dane:fail is followed by msg:host:defer for the same host: record only the first. */
static char dane_failed_host[256 + 64 + 1];

/*
 * ${dlfunc{SO}{stsguard_event}{SOCKET}} as event_action of the stsguard
 * transports. Records one TLS-RPT result per session (reference §7):
 *  - tcp:close: successes (verified or DANE), and in testing mode the
 *    failure enforce would have had, since the mail goes ahead;
 *  - msg:host:defer: enforce failures, -38 no STARTTLS, -37 TLS failure
 *    (classified from the certificate);
 *  - dane:fail: Exim's own RFC 8460 result type, policy tlsa.
 * Always yields "" (a non-empty result would veto a tcp:connect).
 */
int stsguard_event(uschar **yield, int argc, uschar *argv[])
{
	const char *sock = socket_arg(argc, argv, 0);
	char ev[32], ad[4096], mode[16];

	snprintf(ev, sizeof ev, "%s", var("$event_name"));
	snprintf(ad, sizeof ad, "%s", var("$address_data"));
	size_t ml = strcspn(ad, " ");
	snprintf(mode, sizeof mode, "%.*s", (int)(ml < sizeof mode - 1 ? ml : sizeof mode - 1), ad);
	int enforce = strcmp(mode, "enforce") == 0, testing = strcmp(mode, "testing") == 0,
	    dane = strcmp(mode, "dane") == 0;
	if (!enforce && !testing && !dane)
		return give(yield, "");
	if (strcmp(ev, "tcp:close") != 0 && strcmp(ev, "msg:host:defer") != 0 && strcmp(ev, "dane:fail") != 0)
		return give(yield, "");

	char domain[256], mx[256], ip[64], src[64], cipher[128], dane_used[8], verified[8], data[200];
	snprintf(domain, sizeof domain, "%s", var("$domain"));
	snprintf(mx, sizeof mx, "%s", var("$host"));
	snprintf(ip, sizeof ip, "%s", var("$host_address"));
	snprintf(src, sizeof src, "%s", var("$sending_ip_address"));
	snprintf(cipher, sizeof cipher, "%s", var("$tls_out_cipher"));
	snprintf(dane_used, sizeof dane_used, "%s", var("$tls_out_dane"));
	snprintf(verified, sizeof verified, "%s", var("$tls_out_certificate_verified"));
	snprintf(data, sizeof data, "%s", var("$event_data"));
	if (!plain_domain(domain))
		return give(yield, "");
	struct session s = {domain, mx, ip, src};
	char hostkey[sizeof mx + sizeof ip + 1];
	snprintf(hostkey, sizeof hostkey, "%s/%s", mx, ip);

	if (strcmp(ev, "dane:fail") == 0) {
		record(sock, &s, data, "tlsa", "DANE validation failed");
		snprintf(dane_failed_host, sizeof dane_failed_host, "%s", hostkey);
		return give(yield, "");
	}
	if (strcmp(ev, "tcp:close") == 0) {
		if (strcmp(dane_used, "yes") == 0) {
			if (cipher[0] != '\0')
				record(sock, &s, "success", "tlsa", NULL);
		} else if (testing) {
			/* The mail goes ahead: record what enforce would have said (RFC 8460 §4.3). */
			if (!mx_in_policy(ad, mx))
				record(sock, &s, "validation-failure", NULL, "MX host not in the MTA-STS policy");
			else if (cipher[0] == '\0')
				record(sock, &s, "starttls-not-supported", NULL, NULL);
			else if (strcmp(verified, "1") == 0)
				record(sock, &s, "success", NULL, NULL);
			else
				record(sock, &s, classify_cert(mx), NULL, NULL);
		} else if (cipher[0] != '\0' && strcmp(verified, "1") == 0) {
			record(sock, &s, "success", NULL, NULL);
		}
		return give(yield, "");
	}
	/* msg:host:defer: only enforce and dane deliveries defer for TLS. */
	if (testing)
		return give(yield, "");
	if (strcmp(dane_failed_host, hostkey) == 0) {
		dane_failed_host[0] = '\0';
		return give(yield, "");
	}
	const char *errno_s = var("$event_defer_errno");
	if (strcmp(errno_s, "-38") == 0)
		record(sock, &s, "starttls-not-supported", dane ? "tlsa" : NULL, data);
	else if (strcmp(errno_s, "-37") == 0)
		record(sock, &s, dane ? "validation-failure" : classify_cert(mx), dane ? "tlsa" : NULL, data);
	return give(yield, "");
}

/*
 * ${dlfunc{SO}{stsguard_prefetch}{$domain}{SOCKET}} from the RCPT ACL:
 * starts the policy discovery while the message is still being received,
 * so the first delivery to a new domain is already protected. Yields
 * "queued", "cached" or "error ..." at once; never holds the SMTP session.
 */
int stsguard_prefetch(uschar **yield, int argc, uschar *argv[])
{
	const char *domain = arg(argc, argv, 0);
	char reply[256], err[256], out[300];

	if (!plain_domain(domain))
		return give(yield, "error not a domain name");
	if (smc_query(&conn, socket_arg(argc, argv, 1), "prefetch", domain, PREFETCH_TIMEOUT_MS, reply, sizeof reply, err,
	              sizeof err) != 0) {
		snprintf(out, sizeof out, "error %s", err);
		return give(yield, out);
	}
	if (strcmp(reply, "OK queued") == 0 || strcmp(reply, "OK cached") == 0)
		return give(yield, reply + 3);
	snprintf(out, sizeof out, "error %.200s", reply);
	return give(yield, out);
}
