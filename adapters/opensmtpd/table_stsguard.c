/*
 * table_stsguard.c - table-stsguard, the OpenSMTPD proc table of stsguard
 * (docs/opensmtpd.md).
 *
 * Why: OpenSMTPD has no MTA-STS and cannot leave an MX host out of its MX
 * resolution. What works is pinning the route: mail for an enforce-mode
 * domain goes to an action "relay domain <table> tls", whose relay host is
 * one MX host the policy allows, with mandatory STARTTLS and a certificate
 * verified for that name. This program is that table; everything it knows
 * it asks stsguardd (maps "policy" and "routes", docs/PROTOCOL.md §5.4, §5.7).
 *
 * Contract with smtpd (shared/reference/opensmtpd.md §4):
 *   - two wire protocols, detected from the first byte smtpd sends:
 *     "config|..." is the 7.6+ text protocol 0.1 on stdin/stdout, anything
 *     else the imsg protocol version 2 (6.8 - 7.5) on fd 0 alone;
 *   - smtpd dies on any malformed reply ("table-proc: exiting"), so every
 *     request gets exactly one well-formed reply, and an "error" result is
 *     never given: an erroring table poisons every later match rule. A key
 *     we know nothing about, a service we do not serve, stsguardd down:
 *     "not found";
 *   - lka blocks until we answer: each question costs at most one
 *     socketmap round trip with a deadline (timeout=, default 5 s,
 *     above stsguardd's query_timeout).
 *
 * Configuration: the text after "stsguard:" in smtpd.conf (argv[1]),
 *   table NAME "stsguard:/run/stsguard/stsguardd.sock,enforce"
 * the socket path first (smtpd requires a leading '/'), then the mode:
 *   enforce   (default) domain check: found for verdict enforce, dane or tempfail with
 *             policy mode enforce (OpenSMTPD cannot do DANE: STS is the best
 *             it can apply); relayhost lookup: smtp+tls://<first host of the
 *             routes map>:25.
 *   testing   domain check: found for policy mode testing (verdict testing
 *             or dane); relayhost lookups are not found.
 * Further options, comma-separated: timeout=MS (100-60000, default 5000),
 * hold=SECONDS (0-2592000, default 345600 = OpenSMTPD's 4-day queue lifetime).
 *
 * Memory: the last answer per domain (found or not, and the route) is kept
 * for hold seconds in a fixed-size table. It answers when stsguardd cannot
 * (down, timeout, TEMP) and keeps a route answerable for mail already queued
 * on the enforce action after the domain's policy went away (smtpd binds the
 * action at RCPT time but looks the route up on every attempt; a missing
 * route is a TempFail "Cannot retrieve smarthost" until the queue expires).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smclient.h"

#define TBL_MSG_MAX 16384u   /* smtpd's MAX_IMSGSIZE: one imsg, header included */
#define TBL_LINE_MAX 16384u  /* one text-protocol line, newline included */
#define TBL_HDR 16u          /* imsg header */
#define TBL_KEY_MAX 255u     /* longest key we ask stsguardd about (a domain) */
#define TBL_MEM_SLOTS 4096u
#define TBL_ROUTE_MAX 300u

/* imsg types of the proc table API version 2 */
enum { P_OK = 0, P_FAIL = 1, P_OPEN = 2, P_CLOSE = 3, P_UPDATE = 4, P_CHECK = 5, P_LOOKUP = 6, P_FETCH = 7 };
/* services (smtpd.h enum table_service) */
#define K_DOMAIN 0x002
#define K_RELAYHOST 0x200

enum tbl_mode { MODE_ENFORCE, MODE_TESTING };

struct tbl_conf {
	enum tbl_mode mode;
	char socket[108];
	int timeout_ms;
	int64_t hold_s;
};

struct mem_slot {
	int64_t at;              /* unix time of the answer; 0: empty */
	int found;               /* domain check answer */
	char domain[TBL_KEY_MAX + 1];
	char route[TBL_ROUTE_MAX]; /* "" when none was given */
};

/*
 * Replies are collected here and written when the input read so far is
 * answered; when full, it is written out first (fd >= 0) - smtpd asks one
 * question at a time, so this only matters for a misbehaving peer.
 */
struct obuf {
	unsigned char data[2 * TBL_MSG_MAX];
	size_t len;
	int fd;       /* where to flush a full buffer, -1: nowhere (tests) */
	int overflow; /* bytes were lost */
};

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

struct tbl {
	struct tbl_conf conf;
	struct smc smc;
	int proto;               /* 0: not known yet, 1: imsg v2, 2: text 0.1 */
	unsigned char in[TBL_MSG_MAX + 1];
	size_t in_len;
	int discarding;          /* text: skipping the rest of an over-long line */
	int64_t (*now)(void);    /* injected clock */
	struct mem_slot *mem;    /* TBL_MEM_SLOTS */
};

static int64_t wall_now(void)
{
	return (int64_t)time(NULL);
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	/* stderr ends up in smtpd's log ("table-stsguard: ..."); one line per event */
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "table-stsguard: %s\n", line);
}

/* ---------------------------------------------------------------- config */

static int parse_uint(const char *s, size_t n, long long lo, long long hi, long long *out)
{
	long long v = 0;
	if (n == 0 || n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/*
 * "/path/to/stsguardd.sock[,enforce|,testing][,timeout=MS][,hold=S]": smtpd
 * (parse.y, every version) refuses a table parameter that does not start
 * with '/', so the socket comes first. 0, or -1 with why in err.
 */
static int tbl_conf_parse(const char *arg, struct tbl_conf *c, char *err, size_t errsz)
{
	c->mode = MODE_ENFORCE;
	c->socket[0] = '\0';
	c->timeout_ms = 5000;
	c->hold_s = 345600;
	if (arg == NULL || arg[0] != '/') {
		snprintf(err, errsz, "use table NAME \"stsguard:/path/to/stsguardd.sock,enforce\" (or ,testing)");
		return -1;
	}
	size_t total = strnlen(arg, 1024);
	if (total >= 1024) {
		snprintf(err, errsz, "configuration string too long");
		return -1;
	}
	const char *p = arg, *end = arg + total;
	int first = 1;
	for (;;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t n = (size_t)((comma != NULL ? comma : end) - p);
		long long v = 0;
		if (first) {
			if (n >= sizeof c->socket) {
				snprintf(err, errsz, "socket path longer than %zu bytes", sizeof c->socket - 1);
				return -1;
			}
			memcpy(c->socket, p, n);
			c->socket[n] = '\0';
			first = 0;
		} else if (n == 7 && memcmp(p, "enforce", 7) == 0) {
			c->mode = MODE_ENFORCE;
		} else if (n == 7 && memcmp(p, "testing", 7) == 0) {
			c->mode = MODE_TESTING;
		} else if (n > 8 && memcmp(p, "timeout=", 8) == 0) {
			if (parse_uint(p + 8, n - 8, 100, 60000, &v) != 0) {
				snprintf(err, errsz, "timeout= takes milliseconds, 100-60000");
				return -1;
			}
			c->timeout_ms = (int)v;
		} else if (n > 5 && memcmp(p, "hold=", 5) == 0) {
			if (parse_uint(p + 5, n - 5, 0, 2592000, &v) != 0) {
				snprintf(err, errsz, "hold= takes seconds, 0-2592000");
				return -1;
			}
			c->hold_s = v;
		} else {
			snprintf(err, errsz, "unknown option '%.*s' (enforce, testing, timeout=, hold=)", (int)n, p);
			return -1;
		}
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return 0;
}

/* ---------------------------------------------------------------- memory */

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* The slot for domain: its own, else the one to (over)write. */
static struct mem_slot *mem_slot(struct tbl *t, const char *domain, int create)
{
	uint32_t h = hash_str(domain);
	struct mem_slot *victim = NULL;
	for (unsigned i = 0; i < 4; i++) { /* 4-way: a bounded cache, not a store */
		struct mem_slot *m = &t->mem[(h + i) % TBL_MEM_SLOTS];
		if (m->at != 0 && strcmp(m->domain, domain) == 0)
			return m;
		if (victim == NULL || m->at < victim->at)
			victim = m;
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof *victim);
	snprintf(victim->domain, sizeof victim->domain, "%s", domain);
	return victim;
}

static struct mem_slot *mem_fresh(struct tbl *t, const char *domain)
{
	struct mem_slot *m = mem_slot(t, domain, 0);
	if (m == NULL || t->now() - m->at > t->conf.hold_s)
		return NULL;
	return m;
}

/* ---------------------------------------------------------------- stsguardd */

/* Find " name=" in an "OK v=1 ..." policy reply and copy its value. */
static int reply_field(const char *reply, const char *name, char *out, size_t outsz)
{
	size_t nl = strlen(name);
	for (const char *p = strchr(reply, ' '); p != NULL; p = strchr(p + 1, ' ')) {
		if (strncmp(p + 1, name, nl) == 0 && p[1 + nl] == '=') {
			const char *v = p + 2 + nl;
			size_t vl = strcspn(v, " ");
			if (vl >= outsz)
				return -1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return 0;
		}
	}
	return -1;
}

/* A key stsguardd may see: a domain-like token without spaces or control bytes. */
static int key_ok(const char *key)
{
	size_t n = strnlen(key, TBL_KEY_MAX + 1);
	if (n == 0 || n > TBL_KEY_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)key[i] <= 0x20 || (unsigned char)key[i] >= 0x7f)
			return 0;
	return 1;
}

/* Domain check: 1 found, 0 not found (never an error). */
static int tbl_check(struct tbl *t, int service, const char *key)
{
	char reply[1024], err[160], verdict[32], mode[32];

	if (service != K_DOMAIN || !key_ok(key))
		return 0;
	if (smc_query(&t->smc, t->conf.socket, "policy", key, t->conf.timeout_ms, reply, sizeof reply, err,
	              sizeof err) != 0 ||
	    strncmp(reply, "OK v=1 ", 7) != 0 || reply_field(reply, "verdict", verdict, sizeof verdict) != 0 ||
	    reply_field(reply, "mode", mode, sizeof mode) != 0) {
		struct mem_slot *m = mem_fresh(t, key);
		logf_("%s: stsguardd gave no policy answer (%s): %s", key,
		      reply[0] != '\0' ? reply : err, m != NULL ? (m->found ? "held: found" : "held: not found")
		                                                : "not found");
		return m != NULL ? m->found : 0;
	}
	int found;
	if (t->conf.mode == MODE_ENFORCE)
		found = strcmp(mode, "enforce") == 0 && (strcmp(verdict, "enforce") == 0 || strcmp(verdict, "dane") == 0 ||
		                                         strcmp(verdict, "tempfail") == 0);
	else
		found = strcmp(mode, "testing") == 0 && (strcmp(verdict, "testing") == 0 || strcmp(verdict, "dane") == 0);
	struct mem_slot *m = mem_slot(t, key, 1);
	m->found = found;
	m->at = t->now();
	return found;
}

/* Relay-host lookup: 1 with value set, 0 not found (never an error). */
static int tbl_lookup(struct tbl *t, int service, const char *key, char *value, size_t valuesz)
{
	char reply[SMC_REPLY_MAX + 1], err[160];

	if (service != K_RELAYHOST || t->conf.mode != MODE_ENFORCE || !key_ok(key))
		return 0;
	int r = smc_query(&t->smc, t->conf.socket, "routes", key, t->conf.timeout_ms, reply, sizeof reply, err,
	                  sizeof err);
	if (r == 0 && strncmp(reply, "OK ", 3) == 0) {
		const char *host = reply + 3;
		size_t hl = strcspn(host, ",");
		int n = snprintf(value, valuesz, "smtp+tls://%.*s:25", (int)hl, host);
		if (hl > 0 && hl <= 253 && n > 0 && (size_t)n < valuesz && (size_t)n < TBL_ROUTE_MAX &&
		    strspn(host, "abcdefghijklmnopqrstuvwxyz0123456789.-") >= hl) {
			struct mem_slot *m = mem_slot(t, key, 1);
			memcpy(m->route, value, (size_t)n + 1);
			m->at = t->now();
			return 1;
		}
		logf_("%s: unusable routes reply '%.80s'", key, reply);
	}
	/* NOTFOUND, TEMP, PERM or no answer: the route given before, for mail still queued. */
	struct mem_slot *m = mem_fresh(t, key);
	if (m != NULL && m->route[0] != '\0') {
		logf_("%s: routes: %s; using the route held since %lld: %s", key, r == 0 ? reply : err,
		      (long long)m->at, m->route);
		snprintf(value, valuesz, "%s", m->route);
		return 1;
	}
	logf_("%s: routes: %s; no route", key, r == 0 ? reply : err);
	return 0;
}

/* ---------------------------------------------------------------- output */

static void out_add(struct obuf *o, const void *p, size_t n)
{
	if (n > sizeof o->data - o->len && o->fd >= 0 && !o->overflow) {
		if (write_all(o->fd, o->data, o->len) != 0)
			o->overflow = 1;
		o->len = 0;
	}
	if (o->overflow || n > sizeof o->data - o->len) {
		o->overflow = 1;
		return;
	}
	memcpy(o->data + o->len, p, n);
	o->len += n;
}

static void out_str(struct obuf *o, const char *s)
{
	out_add(o, s, strlen(s));
}

/* ---------------------------------------------------------------- imsg v2 */

static uint32_t rd32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4); /* native byte order, like smtpd's imsg */
	return v;
}

static uint16_t rd16(const unsigned char *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

/* OK reply: header, then r (when has_r), then value with its NUL (when given). */
static void imsg_ok(struct obuf *o, int has_r, int32_t r, const char *value)
{
	unsigned char h[TBL_HDR];
	size_t vl = value != NULL ? strlen(value) + 1 : 0;
	uint32_t type = P_OK, peerid = 0, pid = (uint32_t)getpid();
	uint16_t len = (uint16_t)(TBL_HDR + (has_r ? 4 : 0) + vl), flags = 0;
	memcpy(h, &type, 4);
	memcpy(h + 4, &len, 2);
	memcpy(h + 6, &flags, 2);
	memcpy(h + 8, &peerid, 4);
	memcpy(h + 12, &pid, 4);
	out_add(o, h, sizeof h);
	if (has_r)
		out_add(o, &r, 4);
	if (vl > 0)
		out_add(o, value, vl);
}

/*
 * One complete imsg (header + payload, len bytes). Returns 0, or -1 when
 * the stream cannot be trusted any more (the caller stops).
 */
static int imsg_one(struct tbl *t, const unsigned char *m, size_t len, struct obuf *o)
{
	uint32_t type = rd32(m);
	const unsigned char *pl = m + TBL_HDR;
	size_t pn = len - TBL_HDR;
	char value[TBL_ROUTE_MAX];

	switch (type) {
	case P_OPEN:
		if (pn < 4 || rd32(pl) != 2)
			logf_("OPEN with protocol version %u, expected 2; answering as version 2",
			      pn >= 4 ? (unsigned)rd32(pl) : 0u);
		imsg_ok(o, 0, 0, NULL);
		return 0;
	case P_UPDATE:
		imsg_ok(o, 1, 1, NULL); /* nothing to reload: every answer comes live from stsguardd */
		return 0;
	case P_CLOSE:
		return 0;             /* no reply; smtpd closes the socket next */
	case P_FETCH:
		imsg_ok(o, 1, 0, NULL); /* no fetchable service (source, netaddr lists): not found */
		return 0;
	case P_CHECK:
	case P_LOOKUP: {
		char key[TBL_KEY_MAX + 2];
		int32_t service = 0;
		const unsigned char *k = pl + 12;
		size_t kn = pn >= 12 ? pn - 12 : 0;
		const unsigned char *nul = kn > 0 ? memchr(k, '\0', kn) : NULL;
		if (pn >= 4)
			memcpy(&service, pl, 4);
		key[0] = '\0';
		if (nul != NULL && (size_t)(nul - k) <= TBL_KEY_MAX)
			memcpy(key, k, (size_t)(nul - k) + 1);
		else
			logf_("%s with a key that is missing, unterminated or over %u bytes: not found",
			      type == P_CHECK ? "CHECK" : "LOOKUP", TBL_KEY_MAX);
		if (type == P_CHECK) {
			imsg_ok(o, 1, key[0] != '\0' ? tbl_check(t, service, key) : 0, NULL);
		} else if (key[0] != '\0' && tbl_lookup(t, service, key, value, sizeof value) == 1) {
			imsg_ok(o, 1, 1, value);
		} else {
			imsg_ok(o, 1, 0, NULL);
		}
		return 0;
	}
	default:
		/* Not in API version 2: a reply of the wrong shape would kill smtpd; so would silence. */
		logf_("unknown imsg type %u (%zu bytes): answering OK, not found", (unsigned)type, pn);
		imsg_ok(o, 1, 0, NULL);
		return 0;
	}
}

static int imsg_feed(struct tbl *t, struct obuf *o)
{
	size_t off = 0;
	while (t->in_len - off >= TBL_HDR) {
		uint16_t len = rd16(t->in + off + 4);
		if (len < TBL_HDR || len > TBL_MSG_MAX) {
			logf_("imsg with length %u: the stream is lost", (unsigned)len);
			return -1;
		}
		if (t->in_len - off < len)
			break;
		if (imsg_one(t, t->in + off, len, o) != 0)
			return -1;
		off += len;
	}
	memmove(t->in, t->in + off, t->in_len - off);
	t->in_len -= off;
	return 0;
}

/* ---------------------------------------------------------------- text 0.1 */

static int service_from_name(const char *s, size_t n)
{
	static const struct {
		const char *name;
		int bit;
	} names[] = {{"alias", 0x001},    {"domain", 0x002},  {"credentials", 0x004}, {"netaddr", 0x008},
	             {"userinfo", 0x010}, {"source", 0x020},  {"mailaddr", 0x040},    {"addrname", 0x080},
	             {"mailaddrmap", 0x100}, {"relayhost", 0x200}, {"string", 0x400},  {"regex", 0x800}};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i].name) == n && memcmp(names[i].name, s, n) == 0)
			return names[i].bit;
	return 0;
}

/* Split line at '|' into at most max fields; the last one keeps its '|'s. */
static size_t split_fields(char *line, char **f, size_t max)
{
	size_t n = 0;
	f[n++] = line;
	while (n < max) {
		char *bar = strchr(f[n - 1], '|');
		if (bar == NULL)
			break;
		*bar = '\0';
		f[n++] = bar + 1;
	}
	return n;
}

/* An id smtpd can match: what it sent, short and without '|' (it sends 8 hex digits). */
static int id_ok(const char *id)
{
	size_t n = strnlen(id, 65);
	return n > 0 && n <= 64 && strcspn(id, "|\r") == n;
}

/* Answer one request; 0, or -1 for a request we cannot answer (logged, no reply). */
static int text_request(struct tbl *t, char **f, size_t n, struct obuf *o)
{
	char value[TBL_ROUTE_MAX];
	const char *op = f[4];

	if (strcmp(op, "update") == 0) {
		if (!id_ok(f[5]))
			return -1;
		out_str(o, "update-result|");
		out_str(o, f[5]);
		out_str(o, "|ok\n");
		return 0;
	}
	if (n < 7 || !id_ok(f[6]))
		return -1;
	int service = service_from_name(f[5], strlen(f[5]));
	const char *id = f[6];
	const char *key = n >= 8 ? f[7] : "";
	if (strcmp(op, "check") == 0) {
		out_str(o, "check-result|");
		out_str(o, id);
		out_str(o, key[0] != '\0' && tbl_check(t, service, key) ? "|found\n" : "|not-found\n");
	} else if (strcmp(op, "lookup") == 0) {
		out_str(o, "lookup-result|");
		out_str(o, id);
		if (key[0] != '\0' && tbl_lookup(t, service, key, value, sizeof value) == 1) {
			out_str(o, "|found|");
			out_str(o, value);
			out_str(o, "\n");
		} else {
			out_str(o, "|not-found\n");
		}
	} else if (strcmp(op, "fetch") == 0) {
		out_str(o, "fetch-result|");
		out_str(o, id);
		out_str(o, "|not-found\n");
	} else {
		return -1;
	}
	return 0;
}

static void text_line(struct tbl *t, char *line, struct obuf *o)
{
	char *f[8];

	if (strncmp(line, "config|", 7) == 0) {
		if (strcmp(line, "config|ready") == 0) {
			/* Every service this table may be asked for; the mode decides what is found. */
			out_str(o, "register|domain\nregister|relayhost\nregister|ready\n");
		} else if (strncmp(line, "config|protocol|", 16) == 0 && strcmp(line + 16, "0.1") != 0) {
			logf_("table protocol %.40s, expected 0.1: answering as 0.1", line + 16);
		}
		return;
	}
	/* table|0.1|<ts>|<name>|<op>|[<service>|]<id>[|<key>] ; the key keeps any '|' */
	size_t n = split_fields(line, f, 8);
	if (n < 6 || strcmp(f[0], "table") != 0) {
		logf_("not a table request, ignored: '%.80s'", line);
		return;
	}
	if (text_request(t, f, n, o) != 0)
		logf_("malformed table request, ignored: op '%.20s'", f[4]);
}

static void text_feed(struct tbl *t, struct obuf *o)
{
	size_t off = 0;
	for (;;) {
		unsigned char *nl = memchr(t->in + off, '\n', t->in_len - off);
		if (nl == NULL)
			break;
		size_t n = (size_t)(nl - (t->in + off));
		if (t->discarding) {
			t->discarding = 0; /* the tail of an over-long line */
		} else {
			t->in[off + n] = '\0';
			if (n > 0 && t->in[off + n - 1] == '\r')
				t->in[off + n - 1] = '\0';
			text_line(t, (char *)t->in + off, o);
		}
		off += n + 1;
	}
	memmove(t->in, t->in + off, t->in_len - off);
	t->in_len -= off;
	if (t->in_len >= TBL_LINE_MAX) {
		logf_("a line over %u bytes: ignored", TBL_LINE_MAX);
		t->in_len = 0;
		t->discarding = 1;
	}
}

/*
 * Feed n bytes from smtpd; replies are appended to o. Returns 0, or -1 when
 * the imsg stream is broken beyond repair.
 */
static int tbl_feed(struct tbl *t, const unsigned char *p, size_t n, struct obuf *o)
{
	while (n > 0) {
		size_t room = TBL_MSG_MAX - t->in_len;
		size_t k = n < room ? n : room;
		memcpy(t->in + t->in_len, p, k);
		t->in_len += k;
		p += k;
		n -= k;
		if (t->proto == 0 && t->in_len > 0)
			t->proto = t->in[0] == 'c' ? 2 : 1;
		if (t->proto == 1 ? imsg_feed(t, o) != 0 : (text_feed(t, o), 0))
			return -1;
	}
	return 0;
}

static int tbl_init(struct tbl *t, const char *arg, char *err, size_t errsz)
{
	memset(t, 0, sizeof *t);
	t->smc = (struct smc)SMC_INIT;
	t->now = wall_now;
	if (tbl_conf_parse(arg, &t->conf, err, errsz) != 0)
		return -1;
	t->mem = calloc(TBL_MEM_SLOTS, sizeof *t->mem);
	if (t->mem == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	return 0;
}

static void tbl_free(struct tbl *t)
{
	smc_close(&t->smc);
	free(t->mem);
	t->mem = NULL;
}

#ifndef TABLE_STSGUARD_NO_MAIN

int main(int argc, char **argv)
{
	static struct tbl t;
	static struct obuf o;
	unsigned char buf[4096];
	char err[200];

	signal(SIGPIPE, SIG_IGN);
	if (tbl_init(&t, argc > 1 ? argv[1] : NULL, err, sizeof err) != 0) {
		/* smtpd treats our exit as fatal anyway; say why first */
		logf_("%s (table %s)", err, argc > 0 ? argv[0] : "?");
		return 1;
	}
	for (;;) {
		ssize_t n = read(0, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* smtpd closed the table */
		o.len = 0;
		o.overflow = 0;
		/* the protocol is known after the first byte; replies go where it says */
		o.fd = t.proto == 2 || (t.proto == 0 && buf[0] == 'c') ? 1 : 0;
		if (tbl_feed(&t, buf, (size_t)n, &o) != 0)
			break;
		if (o.overflow || (o.len > 0 && write_all(o.fd, o.data, o.len) != 0))
			break; /* smtpd is gone */
	}
	tbl_free(&t);
	return 0;
}
#endif
