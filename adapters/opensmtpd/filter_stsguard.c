/*
 * filter_stsguard.c - filter-stsguard, OpenSMTPD's report-only filter for
 * TLS-RPT (RFC 8460) results (docs/opensmtpd.md).
 *
 * Why: OpenSMTPD has no TLS-RPT. Its filter protocol (0.6 in 6.8, 0.7 from
 * 7.4) reports each outbound session event by event on "smtp-out"; this
 * program rebuilds every session from those events and, when it ends, tells
 * stsguardd's tlsrpt map (docs/PROTOCOL.md §5.6) what came of its TLS.
 *
 * What the events show (shared/reference/opensmtpd.md §2), and so what is
 * reported:
 *   - EHLO answered without STARTTLS        -> starttls-not-supported;
 *   - STARTTLS accepted, then the session ends before the client says
 *     anything over TLS, on an action that verifies ("relay ... tls", the
 *     `verified` instance)                  -> certificate-not-trusted with
 *     probe=1: smtpd refused the certificate, but the events never say why
 *     (untrusted, expired and wrong name look the same), so stsguardd
 *     checks the MX itself and records the type it finds (PROTOCOL.md
 *     §5.6); without an MX name the reason says the type is unknown;
 *   - the client continues over TLS on a verifying action -> success.
 *   On an opportunistic action smtpd continues over TLS whatever the
 *   certificate: there a TLS session is reported as success with probe=1,
 *   and stsguardd's own STARTTLS probe of that MX turns it into the
 *   certificate failure it finds (testing domains learn what enforce would
 *   have refused).
 * Which domain and MX a session served: the recipient domains of its
 * tx-rcpt events; a failed session has none, so its IP address is matched
 * against the routes stsguardd handed out lately (routed map, §5.8) by
 * resolving their hosts. Only domains with a policy (policy map mode enforce
 * or testing) are reported.
 *
 * Contract with smtpd: if this process dies, smtpd shuts down. So it never
 * exits on input (only when smtpd closes stdin), every line is capped
 * (FSG_LINE_MAX; a longer one is skipped whole), a garbage line is counted
 * and ignored, and at most FSG_SESSIONS sessions are tracked (the oldest is
 * forgotten first). It answers nothing but the registration: report events
 * need no reply.
 *
 * Usage (smtpd.conf): filter NAME proc-exec "filter-stsguard SOCKET [verified]"
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "smclient.h"

#define FSG_LINE_MAX 16384u /* one report line, newline included */
#define FSG_SESSIONS 256u   /* sessions tracked at once */
#define FSG_DOMAINS 8u      /* recipient domains remembered per session */
#define FSG_NAME_MAX 253u
#define FSG_ADDRS 8         /* addresses looked at per MX host */

/* What the daemon and the resolver are to the filter: swapped in tests and the fuzz target. */
struct fsg_ops {
	/* one socketmap request: 0 with the reply payload, -1 when there is none */
	int (*query)(void *ctx, const char *map, const char *key, char *reply, size_t replysz);
	/* the addresses of host, as text, at most max; returns how many */
	int (*resolve)(void *ctx, const char *host, char (*addrs)[INET6_ADDRSTRLEN], int max);
	/* a line for smtpd (the registration) */
	void (*out)(void *ctx, const char *text);
	/* a log line (smtpd logs the filter's stderr) */
	void (*log)(void *ctx, const char *text);
};

struct sess {
	uint64_t id;
	uint64_t used; /* LRU clock; 0: free */
	unsigned connected : 1, ehlo_sent : 1, ehlo_done : 1, starttls_offered : 1, starttls_sent : 1,
	    starttls_accepted : 1, tls : 1, after_tls : 1;
	char ip[INET6_ADDRSTRLEN];
	char helo[64];
	char tls_desc[64];
	uint8_t n_domains;
	char domains[FSG_DOMAINS][FSG_NAME_MAX + 1];
};

struct fsg {
	const struct fsg_ops *ops;
	void *ctx;
	int verified;          /* attached to an action that verifies certificates */
	uint64_t clock;
	struct sess s[FSG_SESSIONS];
	char line[FSG_LINE_MAX + 1];
	size_t len;
	int discarding;        /* skipping the rest of an over-long line */
	unsigned long garbage, reported, dropped;
	int version_logged;
};

static void fsg_log(struct fsg *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fsg_log(struct fsg *f, const char *fmt, ...)
{
	char buf[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (f->ops->log != NULL)
		f->ops->log(f->ctx, buf);
}

/* ---------------------------------------------------------------- sessions */

static int parse_sid(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = strlen(s);
	if (n == 0 || n > 16)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return 0;
}

static struct sess *sess_get(struct fsg *f, uint64_t id, int create)
{
	struct sess *victim = &f->s[0];
	for (size_t i = 0; i < FSG_SESSIONS; i++) {
		struct sess *s = &f->s[i];
		if (s->used != 0 && s->id == id) {
			s->used = ++f->clock;
			return s;
		}
		if (s->used < victim->used)
			victim = s;
	}
	if (!create)
		return NULL;
	if (victim->used != 0)
		f->dropped++; /* more sessions at once than tracked: the oldest is forgotten */
	memset(victim, 0, sizeof *victim);
	victim->id = id;
	victim->used = ++f->clock;
	return victim;
}

/* ---------------------------------------------------------------- reporting */

/* A tlsrpt token value: bytes 0x21-0x7e except '%' as they are, others %HH (PROTOCOL.md §5.6). */
static void put_token(char *out, size_t cap, size_t *len, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = *len;
	size_t nl = strlen(name);
	if (n + 1 + nl + 1 >= cap)
		return;
	if (n > 0)
		out[n++] = ' ';
	memcpy(out + n, name, nl);
	n += nl;
	out[n++] = '=';
	for (const unsigned char *p = (const unsigned char *)value; *p != '\0' && n + 4 < cap; p++) {
		if (*p > 0x20 && *p < 0x7f && *p != '%') {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	out[n] = '\0';
	*len = n;
}

/*
 * A host name as stsguardd takes it (PROTOCOL.md §4): LDH labels of 1-63,
 * dots between, at most 253, and a last label that is not all digits (that
 * would be an address).
 */
static int hostname_ok(const char *h)
{
	size_t n = strnlen(h, FSG_NAME_MAX + 1), label = 0;
	int digits = 1; /* the current label is all digits so far */
	if (n == 0 || n > FSG_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];
		if (c == '.') {
			if (label == 0 || h[i - 1] == '-')
				return 0;
			label = 0;
			digits = 1;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && label > 0)) {
			if (++label > 63)
				return 0;
			if (c < '0' || c > '9')
				digits = 0;
		} else {
			return 0;
		}
	}
	return label > 0 && h[n - 1] != '-' && !digits;
}

/* Does the domain hold a policy stsguardd applies (mode enforce or testing)? */
static int has_policy(struct fsg *f, const char *domain)
{
	char reply[1024];
	if (f->ops->query(f->ctx, "policy", domain, reply, sizeof reply) != 0 || strncmp(reply, "OK v=1 ", 7) != 0)
		return 0;
	return strstr(reply, " mode=enforce ") != NULL || strstr(reply, " mode=testing ") != NULL;
}

static int host_has_ip(struct fsg *f, const char *host, const char *ip)
{
	char addrs[FSG_ADDRS][INET6_ADDRSTRLEN];
	int n = f->ops->resolve(f->ctx, host, addrs, FSG_ADDRS);
	for (int i = 0; i < n && i < FSG_ADDRS; i++)
		if (strcmp(addrs[i], ip) == 0)
			return 1;
	return 0;
}

static void send_result(struct fsg *f, const struct sess *s, const char *domain, const char *mx, const char *result,
                        const char *reason)
{
	char key[SMC_REQUEST_MAX], reply[512];
	size_t len = 0;
	key[0] = '\0';
	put_token(key, sizeof key, &len, "domain", domain);
	put_token(key, sizeof key, &len, "result", result);
	if (mx != NULL && mx[0] != '\0')
		put_token(key, sizeof key, &len, "mx", mx);
	put_token(key, sizeof key, &len, "ip", s->ip);
	if (s->helo[0] != '\0')
		put_token(key, sizeof key, &len, "helo", s->helo);
	if (reason != NULL)
		put_token(key, sizeof key, &len, "reason", reason);
	/*
	 * The events cannot tell untrusted from expired from another name, and an
	 * opportunistic session's certificate was never checked: stsguardd asks the MX itself.
	 */
	if ((strcmp(result, "certificate-not-trusted") == 0 || (strcmp(result, "success") == 0 && !f->verified)) &&
	    mx != NULL && mx[0] != '\0')
		put_token(key, sizeof key, &len, "probe", "1");
	int r = f->ops->query(f->ctx, "tlsrpt", key, reply, sizeof reply);
	if (r == 0 && strncmp(reply, "OK", 2) == 0) {
		f->reported++;
		fsg_log(f, "%016llx %s %s via %s (%s): %s", (unsigned long long)s->id, domain, result,
		        mx != NULL && mx[0] != '\0' ? mx : "?", s->ip, reply);
	} else {
		fsg_log(f, "%016llx %s %s: not recorded: %s", (unsigned long long)s->id, domain, result,
		        r == 0 ? reply : "stsguardd unreachable");
	}
}

/*
 * A domain smtpd routed itself (testing: no pinned route, so not in
 * `routed`): its policy MX hosts (routes map), the one with the session's
 * address. 1 when a result was sent.
 */
static int report_by_routes(struct fsg *f, const struct sess *s, const char *domain, const char *result,
                            const char *reason)
{
	static char reply[SMC_REPLY_MAX + 1];
	if (f->ops->query(f->ctx, "routes", domain, reply, sizeof reply) != 0 || strncmp(reply, "OK ", 3) != 0)
		return 0;
	for (char *p = reply + 3; *p != '\0';) {
		char *end = strchr(p, ',');
		if (end != NULL)
			*end = '\0';
		if (hostname_ok(p) && host_has_ip(f, p, s->ip)) {
			send_result(f, s, domain, p, result, reason);
			return 1;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	return 0;
}

/* The routes stsguardd handed out that this session's IP belongs to; mx of domain (or any domain when NULL). */
static void report_routed(struct fsg *f, const struct sess *s, const char *only_domain, const char *result,
                          const char *reason)
{
	static char reply[SMC_REPLY_MAX + 1];
	if (f->ops->query(f->ctx, "routed", "-", reply, sizeof reply) != 0 || strncmp(reply, "OK ", 3) != 0) {
		if (only_domain != NULL)
			send_result(f, s, only_domain, NULL, result, reason);
		return;
	}
	int found = 0;
	for (char *p = reply + 3; *p != '\0';) {
		char *end = strchr(p, ' ');
		if (end != NULL)
			*end = '\0';
		char *eq = strchr(p, '=');
		if (eq != NULL) {
			*eq = '\0';
			const char *d = p, *mx = eq + 1;
			if ((only_domain == NULL || strcmp(d, only_domain) == 0) && hostname_ok(d) && hostname_ok(mx) &&
			    host_has_ip(f, mx, s->ip)) {
				send_result(f, s, d, mx, result, reason);
				found = 1;
			}
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	if (!found && only_domain != NULL && !report_by_routes(f, s, only_domain, result, reason))
		send_result(f, s, only_domain, NULL, result, reason);
	else if (!found)
		fsg_log(f, "%016llx %s from %s: no routed domain has this address; not reported",
		        (unsigned long long)s->id, result, s->ip);
}

/* The session ended: what did its TLS come to, and for which domains? */
static void finish(struct fsg *f, struct sess *s)
{
	const char *result = NULL, *reason = NULL;

	if (!s->connected)
		return; /* never reached the MX: nothing about TLS to say */
	if (s->tls && s->after_tls) {
		/* verified: smtpd checked the certificate; opportunistic: stsguardd's probe checks it (send_result) */
		result = "success";
	} else if (s->starttls_sent && (s->starttls_accepted || s->tls)) {
		if (f->verified) {
			result = "certificate-not-trusted";
			reason = "OpenSMTPD refused the certificate after STARTTLS; its report events do not say why "
			         "(untrusted, expired or another name)";
		}
	} else if (s->ehlo_done && !s->starttls_offered) {
		result = "starttls-not-supported";
		reason = "no STARTTLS in the EHLO reply";
	}
	if (result == NULL)
		return;
	if (s->n_domains == 0) {
		report_routed(f, s, NULL, result, reason);
		return;
	}
	for (size_t i = 0; i < s->n_domains; i++)
		if (has_policy(f, s->domains[i]))
			report_routed(f, s, s->domains[i], result, reason);
}

/* ---------------------------------------------------------------- events */

/* "IP:port", "[IPv6]:port" or "IPv6:..:port" -> the address, if it is one. */
static void parse_dest(struct sess *s, const char *dest)
{
	char tmp[INET6_ADDRSTRLEN + 16];
	size_t n = strnlen(dest, sizeof tmp);
	if (n >= sizeof tmp)
		return;
	memcpy(tmp, dest, n + 1);
	char *a = tmp;
	if (strncasecmp(a, "IPv6:", 5) == 0)
		a += 5;
	char *colon = strrchr(a, ':');
	if (a[0] == '[') {
		char *close = strchr(a, ']');
		if (close == NULL)
			return;
		*close = '\0';
		a++;
	} else if (colon != NULL && strchr(a, ':') == colon) {
		*colon = '\0'; /* IPv4:port */
	} else if (colon != NULL) {
		*colon = '\0'; /* IPv6 with a port last */
	}
	unsigned char bin[16];
	if (inet_pton(AF_INET, a, bin) == 1 || inet_pton(AF_INET6, a, bin) == 1) {
		size_t l = strlen(a);
		memcpy(s->ip, a, l + 1);
		s->connected = 1;
	}
}

static void on_server_line(struct sess *s, const char *l)
{
	if (!s->tls && (strncasecmp(l, "250-STARTTLS", 12) == 0 || strncasecmp(l, "250 STARTTLS", 12) == 0) &&
	    (l[12] == '\0' || l[12] == ' '))
		s->starttls_offered = 1;
	if (!s->tls && s->ehlo_sent && !s->starttls_sent && strncmp(l, "250 ", 4) == 0)
		s->ehlo_done = 1;
	if (s->starttls_sent && !s->tls && strncmp(l, "220", 3) == 0)
		s->starttls_accepted = 1;
}

static void on_client_line(struct sess *s, const char *l)
{
	int tls = s->tls || s->starttls_accepted;
	if (strncasecmp(l, "EHLO", 4) == 0 || strncasecmp(l, "HELO", 4) == 0) {
		if (tls)
			s->after_tls = 1;
		else
			s->ehlo_sent = 1;
	} else if (strncasecmp(l, "STARTTLS", 8) == 0) {
		s->starttls_sent = 1;
	} else if (strncasecmp(l, "MAIL FROM", 9) == 0 || strncasecmp(l, "QUIT", 4) == 0) {
		if (tls)
			s->after_tls = 1;
	}
}

static void on_rcpt(struct sess *s, const char *addr)
{
	const char *at = strrchr(addr, '@');
	if (at == NULL || s->n_domains >= FSG_DOMAINS)
		return;
	char d[FSG_NAME_MAX + 1];
	size_t n = 0;
	for (const char *p = at + 1; *p != '\0' && *p != '>' && n < FSG_NAME_MAX; p++) {
		unsigned char c = (unsigned char)*p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return; /* not a host name: an address literal or garbage */
		d[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	if (n == 0 || n >= FSG_NAME_MAX)
		return;
	d[n] = '\0';
	if (!hostname_ok(d))
		return;
	for (size_t i = 0; i < s->n_domains; i++)
		if (strcmp(s->domains[i], d) == 0)
			return;
	memcpy(s->domains[s->n_domains++], d, n + 1);
}

/* Split at '|' into at most max fields; the last keeps its '|'s. */
static size_t split(char *line, char **fields, size_t max)
{
	size_t n = 0;
	fields[n++] = line;
	while (n < max) {
		char *bar = strchr(fields[n - 1], '|');
		if (bar == NULL)
			break;
		*bar = '\0';
		fields[n++] = bar + 1;
	}
	return n;
}

/*
 * report|<version>|<time>|smtp-out|<event>|<session>[|fields] - the fields
 * that may contain '|' come last, so each event is split only as far as it
 * has fields.
 */
static void on_report(struct fsg *f, char *line)
{
	char *h[7];
	size_t n = split(line, h, 7);
	uint64_t id;

	if (n < 6 || parse_sid(h[5], &id) != 0) {
		f->garbage++;
		return;
	}
	if (strcmp(h[1], "0.6") != 0 && strcmp(h[1], "0.7") != 0 && !f->version_logged) {
		f->version_logged = 1;
		fsg_log(f, "report protocol %.16s (known: 0.6, 0.7): reading it as 0.7", h[1]);
	}
	if (strcmp(h[3], "smtp-out") != 0)
		return;
	const char *ev = h[4];
	char *rest = n == 7 ? h[6] : NULL;

	if (strcmp(ev, "link-connect") == 0) {
		char *a[4];
		if (rest == NULL || split(rest, a, 4) != 4) {
			f->garbage++;
			return;
		}
		struct sess *s = sess_get(f, id, 1);
		parse_dest(s, a[3]);
		return;
	}
	struct sess *s = sess_get(f, id, strcmp(ev, "link-disconnect") != 0);
	if (s == NULL)
		return;
	if (strcmp(ev, "link-disconnect") == 0) {
		finish(f, s);
		memset(s, 0, sizeof *s);
	} else if (strcmp(ev, "link-greeting") == 0 && rest != NULL) {
		size_t l = strcspn(rest, " |");
		if (l < sizeof s->helo) {
			memcpy(s->helo, rest, l);
			s->helo[l] = '\0';
		}
	} else if (strcmp(ev, "link-tls") == 0) {
		s->tls = 1;
		if (rest != NULL)
			snprintf(s->tls_desc, sizeof s->tls_desc, "%s", rest);
	} else if (strcmp(ev, "protocol-server") == 0 && rest != NULL) {
		on_server_line(s, rest);
	} else if (strcmp(ev, "protocol-client") == 0 && rest != NULL) {
		on_client_line(s, rest);
	} else if (strcmp(ev, "tx-rcpt") == 0 && rest != NULL) {
		char *a[3];
		if (split(rest, a, 3) == 3)
			on_rcpt(s, a[2]);
	}
}

/* One line from smtpd, NUL-terminated, newline removed. */
static void fsg_line(struct fsg *f, char *line)
{
	if (strncmp(line, "report|", 7) == 0) {
		on_report(f, line);
	} else if (strcmp(line, "config|ready") == 0) {
		/* report events only: filter requests on smtp-out make smtpd exit (6.8 to 7.8) */
		f->ops->out(f->ctx, "register|report|smtp-out|*\nregister|ready\n");
	} else if (strncmp(line, "config|", 7) == 0) {
		/* smtpd-version, protocol, subsystem, admd, smtp-session-timeout: nothing to do */
	} else if (line[0] != '\0') {
		f->garbage++;
	}
}

/* Bytes from smtpd: whole lines are handled, a partial one kept, an over-long one skipped. */
static void fsg_feed(struct fsg *f, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '\n') {
			if (!f->discarding) {
				if (f->len > 0 && f->line[f->len - 1] == '\r')
					f->len--;
				f->line[f->len] = '\0';
				if (memchr(f->line, '\0', f->len) == NULL)
					fsg_line(f, f->line);
				else
					f->garbage++; /* a NUL byte inside a line */
			}
			f->len = 0;
			f->discarding = 0;
		} else if (f->discarding) {
			continue;
		} else if (f->len >= FSG_LINE_MAX) {
			f->garbage++;
			f->discarding = 1;
			f->len = 0;
		} else {
			f->line[f->len++] = c;
		}
	}
}

static void fsg_init(struct fsg *f, const struct fsg_ops *ops, void *ctx, int verified)
{
	memset(f, 0, sizeof *f);
	f->ops = ops;
	f->ctx = ctx;
	f->verified = verified;
}

#ifndef FILTER_STSGUARD_NO_MAIN
/* ---------------------------------------------------------------- the real ops */

struct real {
	struct smc smc;
	const char *socket;
};

static int real_query(void *ctx, const char *map, const char *key, char *reply, size_t replysz)
{
	struct real *r = ctx;
	char err[160];
	if (smc_query(&r->smc, r->socket, map, key, 3000, reply, replysz, err, sizeof err) != 0) {
		fprintf(stderr, "filter-stsguard: %s %s: %s\n", map, strncmp(map, "tlsrpt", 6) == 0 ? "" : key, err);
		return -1;
	}
	return 0;
}

static int real_resolve(void *ctx, const char *host, char (*addrs)[INET6_ADDRSTRLEN], int max)
{
	struct addrinfo hints, *res = NULL;
	int n = 0;
	(void)ctx;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return 0;
	for (struct addrinfo *a = res; a != NULL && n < max; a = a->ai_next) {
		const void *bin = a->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)(void *)a->ai_addr)->sin_addr
		                  : a->ai_family == AF_INET6
		                      ? (const void *)&((struct sockaddr_in6 *)(void *)a->ai_addr)->sin6_addr
		                      : NULL;
		if (bin != NULL && inet_ntop(a->ai_family, bin, addrs[n], INET6_ADDRSTRLEN) != NULL)
			n++;
	}
	freeaddrinfo(res);
	return n;
}

static void real_out(void *ctx, const char *text)
{
	size_t n = strlen(text), off = 0;
	(void)ctx;
	while (off < n) {
		ssize_t w = write(1, text + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* smtpd is gone; stdin's EOF ends us */
		off += (size_t)w;
	}
}

static void real_log(void *ctx, const char *text)
{
	(void)ctx;
	fprintf(stderr, "%s\n", text);
}

int main(int argc, char **argv)
{
	static struct fsg f;
	static struct real r = {SMC_INIT, "/run/stsguard/stsguardd.sock"};
	static const struct fsg_ops ops = {real_query, real_resolve, real_out, real_log};
	int verified = 0;
	char buf[8192];

	signal(SIGPIPE, SIG_IGN);
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '/')
			r.socket = argv[i];
		else if (strcmp(argv[i], "verified") == 0)
			verified = 1;
		else
			fprintf(stderr, "filter-stsguard: unknown argument '%.64s' ignored (SOCKET, verified)\n", argv[i]);
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	fsg_init(&f, &ops, &r, verified);
	for (;;) {
		ssize_t n = read(0, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* smtpd closed our stdin: it is shutting down */
		fsg_feed(&f, buf, (size_t)n);
	}
	smc_close(&r.smc);
	return 0;
}
#endif
