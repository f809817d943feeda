/*
 * server.c - stsguardd's event loop (see server.h and docs/PROTOCOL.md).
 *
 * One thread runs an epoll loop over the listeners, every client
 * connection, the discovery pool's eventfd and a signalfd. Lookups for a
 * domain whose answer is fresh are answered from memory at once, without a
 * lock or an allocation. Otherwise one discovery per domain is started on
 * the pool (simultaneous lookups for the same domain wait for that one, like
 * OpenSMTPD's waitq), and each waiting lookup is answered when it finishes
 * or when its deadline (query_timeout) passes - then with the RFC 8461
 * fallback: the cached policy if there is one, else no policy - while the
 * discovery goes on for the next lookup.
 *
 * Replies on one connection leave in request order (Sendmail and Postfix
 * expect that), so a connection keeps a FIFO of its requests; a request
 * answered ahead of an older one waits in that FIFO.
 *
 * Bad clients cannot hurt others: requests are capped, a broken netstring
 * gets "PERM" and the connection is closed, a connection idle for 60 s or
 * holding a partial request for 10 s is closed, and at most max_clients are
 * served.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "log.h"
#include "pool.h"
#include "recorder.h"
#include "reporter.h"
#include "stsguard/maps.h"
#include "stsguard/socketmap.h"
#include "stsguard/tlsrpt_dgram.h"
#include "stsguard/tlsrpt_intake.h"
#include "util.h"

#define IDLE_TIMEOUT_MS 60000
#define PARTIAL_TIMEOUT_MS 10000
#define HOUSEKEEPING_MS 1000
#define REFRESH_SCAN_S 30
#define REPLY_MAX (128u * 1024u)
#define OUT_MAX (4u * 1024u * 1024u) /* a client that does not read its replies is dropped */
#define IN_MAX (STSGUARD_SOCKETMAP_REQUEST_MAX + 16u)
#define ADMIN_REPLY_MAX (64u * 1024u * 1024u)

/*
 * Maps beyond the rendered ones: the admin maps (unix sockets only) and
 * tlsrpt, the adapters' TLS-RPT intake (any socket).
 */
enum { MAP_STATS = STSGUARD_MAP_COUNT_, MAP_CACHE_LIST, MAP_CACHE_SHOW, MAP_CACHE_PURGE, MAP_QUERY, MAP_TLSRPT, MAP_ROUTED, MAP_ALL_ };

static const char *const admin_names[] = {"stats", "cache-list", "cache-show", "cache-purge", "query", "tlsrpt", "routed"};

#define EXPIRE_EVERY_S 3600 /* TLS-RPT day files past the retention */

enum ev_kind { EV_LISTENER, EV_CONN, EV_POOL, EV_SIGNAL, EV_RECORDER, EV_DGRAM };

#define DGRAM_BATCH 256       /* datagrams read per wakeup, so streams are served too */
#define DGRAM_LOGS_PER_MIN 10 /* refused datagrams logged (all are counted) */

struct ev {
	enum ev_kind kind;
	void *owner; /* the listener or connection this event belongs to */
};

struct listener {
	struct ev ev;
	int fd;
	int is_unix;
	char *path; /* unix: unlinked at exit */
	char *spec;
};

struct conn;
struct dom;

struct req {
	struct req *next;         /* the connection's FIFO */
	struct conn *conn;
	struct dom *dom;          /* waiting on this domain's discovery, or NULL */
	struct req *wnext;        /* the domain's waiters */
	struct req *tprev, *tnext; /* the deadline list */
	struct dlist *dl;          /* which deadline list, or NULL */
	int64_t deadline_ms;
	int map;
	int done;
	int recording;            /* a tlsrpt result is with the recorder: freed when it comes back */
	char *reply;              /* payload, once answered out of order */
	size_t len;
};

/* Requests waiting with a deadline, oldest first (one list per timeout, so each stays sorted). */
struct dlist {
	struct req *head, *tail;
};

struct conn {
	struct ev ev;
	int fd;
	int is_unix;
	int closing; /* close once the output is flushed */
	int dead;    /* closed; freed after the current batch of events */
	int want_out; /* EPOLLOUT registered (changed only when needed: one syscall less per reply) */
	int64_t last_ms, partial_since_ms;
	char in[IN_MAX];
	size_t in_len;
	sg_buf out;
	size_t out_off;
	struct req *head, *tail;
	struct conn *prev, *next;
};

/* Flags of a domain record. */
#define D_POLICY 0x01u    /* a policy is known (mode, id, mx in blob) */
#define D_VALIDATED 0x02u /* discovered since start (not only loaded from disk) */
#define D_INFLIGHT 0x04u
#define D_DANE_ALL 0x08u
#define D_DANE_ANY 0x10u
#define D_TLSRPT 0x20u
#define D_FORCE 0x40u /* an admin query wants a fresh discovery */

/*
 * The in-memory answer for one domain, kept small (a few hundred thousand
 * of them must fit in little memory): the verdict and the policy's fields;
 * the id and mx patterns in one blob "id\0mx1\0mx2\0".
 */
struct dom {
	struct dom *next;
	struct req *waiters;
	char *blob;
	struct routes *routes; /* MX hosts the policy allows (routes map), or NULL */
	int64_t expires_at;
	int64_t recheck_at;
	uint32_t hash;
	uint32_t max_age;
	uint32_t last_used; /* seconds since start */
	uint8_t flags, verdict, mode, error, n_mx;
	char name[];
};

/*
 * The discovered MX hosts a policy allows, for the routes map
 * (PROTOCOL.md §5.7), in discovery order, with the time until which a host
 * is tried last because an adapter reported a TLS failure on it.
 */
#define ROUTE_SKIP_S 900 /* how long a failed MX goes to the end of the routes list */

struct routes {
	uint8_t n;
	struct route {
		int64_t skip_until; /* unix time; 0: not failed */
		uint16_t preference;
		uint16_t name_off; /* into names */
	} r[STSGUARD_MX_MAX];
	char names[]; /* "mx1\0mx2\0" */
};

/*
 * The routes handed out lately (the first host of each routes reply), for
 * the routed map (PROTOCOL.md §5.8): a report filter that sees only the IP
 * address of a failed session finds its domain and MX host here.
 */
#define ROUTED_MAX 64
#define ROUTED_AGE_S 86400 /* older hand-outs are not listed */
struct routed {
	int64_t at;   /* unix time; 0: empty */
	uint64_t seq; /* order of hand-out */
	char domain[STSGUARD_DOMAIN_MAX + 1];
	char mx[STSGUARD_DOMAIN_MAX + 1];
};

struct stats {
	uint64_t queries[MAP_ALL_][4]; /* OK, NOTFOUND, TEMP, PERM */
	uint64_t discoveries, discoveries_failed;
	uint64_t fetched, from_cache;
	uint64_t by_reason[STSGUARD_REASON_MAX_];
	uint64_t deadline_fallbacks, coalesced;
	uint64_t clients_total, clients_refused, protocol_errors, timeouts_closed;
	uint64_t tlsrpt_invalid;
	uint64_t dgram_received, dgram_invalid, dgram_results;
};

struct server {
	stsguard_config *conf;
	stsguard_map_opts opts;
	int epfd;
	struct listener *listeners;
	size_t n_listeners;
	struct ev pool_ev, sig_ev;
	int sigfd;
	struct pool *pool;
	int pool_fd;
	struct recorder *rec;     /* NULL: TLS-RPT store unavailable */
	struct reporter *reporter; /* NULL: reports not configured */
	int dgram_fd;             /* libtlsrpt datagrams (tlsrpt_socket), or -1 */
	char *dgram_path;
	struct ev dgram_ev;
	unsigned dgram_logged;    /* refused datagrams logged this minute */
	int64_t dgram_log_minute;
	char dgram_buf[STSGUARD_TLSRPT_DGRAM_MAX + 1];
	struct ev rec_ev;
	int64_t next_expire_s;
	stsguard_cache *cache;
	struct conn *conns;
	unsigned n_conns;
	struct dom **buckets;
	size_t nbuckets, n_doms;
	struct dlist dl_lookup, dl_query;
	struct conn *graveyard;
	int64_t started_ms;
	time_t started_at;
	int terminating;
	int64_t terminate_deadline_ms;
	int64_t next_scan_s;
	struct stats st;
	/* Scratch for rendering: one thread, one reply at a time. */
	char reply[REPLY_MAX];
	char frame[REPLY_MAX + 16];
	stsguard_discovery view;
	stsguard_policy view_policy;
	char *view_mx[STSGUARD_POLICY_MX_MAX];
	stsguard_tlsrpt_record view_tlsrpt;
	struct routed routed[ROUTED_MAX];
	uint64_t routed_seq;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t hash_name(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static const char *map_label(int map)
{
	if (map >= 0 && map < STSGUARD_MAP_COUNT_)
		return stsguard_map_name((stsguard_map)map);
	if (map >= MAP_STATS && map < MAP_ALL_)
		return admin_names[map - MAP_STATS];
	return "unknown";
}

static int map_from_name(const char *name, int is_unix)
{
	stsguard_map m = stsguard_map_by_name(name);
	if (m != STSGUARD_MAP_UNKNOWN)
		return (int)m;
	for (int i = 0; i < MAP_ALL_ - MAP_STATS; i++)
		if (strcmp(name, admin_names[i]) == 0 && (is_unix || MAP_STATS + i == MAP_TLSRPT || MAP_STATS + i == MAP_ROUTED))
			return MAP_STATS + i;
	return -1;
}

/* ---------------------------------------------------------------- domains */

static struct dom *dom_find(struct server *s, const char *name, uint32_t h)
{
	for (struct dom *d = s->buckets[h & (s->nbuckets - 1)]; d != NULL; d = d->next)
		if (d->hash == h && strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

static void dom_grow(struct server *s)
{
	size_t n = s->nbuckets * 2;
	struct dom **b = calloc(n, sizeof *b);
	if (b == NULL)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < s->nbuckets; i++) {
		struct dom *d = s->buckets[i];
		while (d != NULL) {
			struct dom *next = d->next;
			d->next = b[d->hash & (n - 1)];
			b[d->hash & (n - 1)] = d;
			d = next;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = n;
}

static struct dom *dom_get(struct server *s, const char *name)
{
	uint32_t h = hash_name(name);
	struct dom *d = dom_find(s, name, h);
	if (d != NULL)
		return d;
	size_t len = strlen(name);
	d = calloc(1, sizeof *d + len + 1);
	if (d == NULL)
		return NULL;
	memcpy(d->name, name, len + 1);
	d->hash = h;
	d->verdict = STSGUARD_VERDICT_NO_POLICY;
	if (s->n_doms + 1 > s->nbuckets)
		dom_grow(s);
	d->next = s->buckets[h & (s->nbuckets - 1)];
	s->buckets[h & (s->nbuckets - 1)] = d;
	s->n_doms++;
	return d;
}

static void dom_free(struct dom *d)
{
	free(d->routes);
	free(d->blob);
	free(d);
}

/* Store a policy (or none) in the compact record. */
static void dom_set_policy(struct dom *d, const stsguard_policy *p, const char *id, int64_t expires_at)
{
	free(d->blob);
	d->blob = NULL;
	d->n_mx = 0;
	d->flags &= (uint8_t)~D_POLICY;
	if (p == NULL)
		return;
	size_t len = strlen(id) + 1;
	size_t n_mx = p->n_mx < 255 ? p->n_mx : 255;
	for (size_t i = 0; i < n_mx; i++)
		len += strlen(p->mx[i]) + 1;
	char *blob = malloc(len);
	if (blob == NULL)
		return;
	size_t off = 0, l = strlen(id) + 1;
	memcpy(blob, id, l);
	off += l;
	for (size_t i = 0; i < n_mx; i++) {
		l = strlen(p->mx[i]) + 1;
		memcpy(blob + off, p->mx[i], l);
		off += l;
	}
	d->blob = blob;
	d->n_mx = (uint8_t)n_mx;
	d->mode = (uint8_t)p->mode;
	d->max_age = p->max_age;
	d->expires_at = expires_at;
	d->flags |= D_POLICY;
}

/* Keep the allowed MX hosts (and the failures reported on those still there). */
static void dom_set_routes(struct dom *d, const stsguard_discovery *r)
{
	size_t n = 0, len = 0;
	for (size_t i = 0; i < r->n_hosts && i < STSGUARD_MX_MAX; i++)
		if (r->hosts[i].allowed) {
			n++;
			len += strnlen(r->hosts[i].host, sizeof r->hosts[i].host - 1) + 1;
		}
	struct routes *old = d->routes;
	struct routes *rt = NULL;
	if (n > 0 && len <= UINT16_MAX && (rt = malloc(sizeof *rt + len)) != NULL) {
		size_t off = 0;
		rt->n = 0;
		for (size_t i = 0; i < r->n_hosts && i < STSGUARD_MX_MAX; i++) {
			if (!r->hosts[i].allowed)
				continue;
			size_t l = strnlen(r->hosts[i].host, sizeof r->hosts[i].host - 1);
			struct route *e = &rt->r[rt->n++];
			memcpy(rt->names + off, r->hosts[i].host, l);
			rt->names[off + l] = '\0';
			e->name_off = (uint16_t)off;
			e->preference = r->hosts[i].preference;
			e->skip_until = 0;
			for (size_t k = 0; old != NULL && k < old->n; k++)
				if (strcmp(old->names + old->r[k].name_off, rt->names + off) == 0)
					e->skip_until = old->r[k].skip_until;
			off += l + 1;
		}
	}
	free(old);
	d->routes = rt;
}

static void dom_update(struct server *s, struct dom *d, const stsguard_discovery *r)
{
	dom_set_routes(d, r);
	dom_set_policy(d, r->policy, r->policy_id, r->expires_at);
	d->verdict = (uint8_t)r->verdict;
	d->error = (uint8_t)r->error;
	d->flags &= (uint8_t) ~(D_DANE_ALL | D_DANE_ANY | D_TLSRPT);
	size_t present = 0;
	for (size_t i = 0; i < r->n_hosts; i++)
		present += r->hosts[i].dane == STSGUARD_DANE_PRESENT;
	if (present > 0)
		d->flags |= D_DANE_ANY;
	if (present > 0 && present == r->n_hosts)
		d->flags |= D_DANE_ALL;
	if (r->tlsrpt != NULL)
		d->flags |= D_TLSRPT;
	d->flags |= D_VALIDATED;
	/* Spread proactive refreshes: up to 10% (at most 5 minutes) early. */
	int64_t now = (int64_t)time(NULL);
	int64_t span = r->recheck_at - now;
	int64_t jitter = span > 10 ? (int64_t)((uint64_t)rand() % (uint64_t)(span / 10 < 300 ? span / 10 : 300)) : 0;
	d->recheck_at = r->recheck_at - jitter;
	(void)s;
}

/* A scratch discovery built from the compact record, for the renderers. */
static const stsguard_discovery *dom_view(struct server *s, const struct dom *d)
{
	stsguard_discovery *v = &s->view;
	size_t len = strlen(d->name);

	memcpy(v->domain, d->name, len + 1);
	v->verdict = (stsguard_verdict)d->verdict;
	v->source = STSGUARD_SOURCE_CACHE;
	v->error = (stsguard_reason)d->error;
	v->error_detail[0] = '\0';
	v->expires_at = d->expires_at;
	v->recheck_at = d->recheck_at;
	v->tlsrpt = (d->flags & D_TLSRPT) ? &s->view_tlsrpt : NULL;
	v->policy = NULL;
	v->policy_id[0] = '\0';
	if ((d->flags & D_POLICY) && d->blob != NULL) {
		const char *p = d->blob;
		size_t l = strlen(p);
		memcpy(v->policy_id, p, l + 1);
		p += l + 1;
		for (size_t i = 0; i < d->n_mx; i++) {
			s->view_mx[i] = (char *)(uintptr_t)p;
			p += strlen(p) + 1;
		}
		s->view_policy.mode = (stsguard_mode)d->mode;
		s->view_policy.max_age = d->max_age;
		s->view_policy.max_age_capped = false;
		s->view_policy.n_mx = d->n_mx;
		s->view_policy.mx = s->view_mx;
		v->policy = &s->view_policy;
	}
	/* Only the DANE summary matters to the renderers. */
	v->n_hosts = 0;
	if (d->flags & D_DANE_ANY) {
		v->hosts[0].dane = STSGUARD_DANE_PRESENT;
		v->hosts[0].allowed = true;
		v->n_hosts = 1;
		if (!(d->flags & D_DANE_ALL)) {
			v->hosts[1].dane = STSGUARD_DANE_ABSENT;
			v->hosts[1].allowed = true;
			v->n_hosts = 2;
		}
	}
	return v;
}

/* Remember that domain was routed to mx (the first host the routes map names). */
static void routed_note(struct server *s, const char *domain, const char *mx, int64_t now)
{
	struct routed *slot = &s->routed[0];
	for (size_t i = 0; i < ROUTED_MAX; i++) {
		struct routed *r = &s->routed[i];
		if (r->at != 0 && strcmp(r->domain, domain) == 0) {
			slot = r;
			break;
		}
		if (r->seq < slot->seq)
			slot = r;
	}
	slot->at = now;
	slot->seq = ++s->routed_seq;
	snprintf(slot->domain, sizeof slot->domain, "%s", domain);
	snprintf(slot->mx, sizeof slot->mx, "%s", mx);
}

/*
 * The view for map: for routes, the hosts are the allowed MX hosts, a host
 * with a recent TLS failure given the worst preference so the others are
 * tried first (the renderer's sort is stable: among failed hosts, the
 * preference order stays).
 */
static const stsguard_discovery *map_view(struct server *s, int map, const struct dom *d)
{
	const stsguard_discovery *base = dom_view(s, d);
	if (map != STSGUARD_MAP_ROUTES)
		return base;
	stsguard_discovery *v = &s->view; /* what dom_view filled */
	int64_t now = (int64_t)time(NULL);
	size_t best = 0;
	v->n_hosts = 0;
	for (size_t i = 0; d->routes != NULL && i < d->routes->n; i++) {
		const struct route *e = &d->routes->r[i];
		struct stsguard_discovered_mx *h = &v->hosts[v->n_hosts++];
		const char *name = d->routes->names + e->name_off;
		size_t l = strlen(name);
		memcpy(h->host, name, l + 1);
		h->preference = e->skip_until > now ? UINT16_MAX : e->preference;
		h->allowed = true;
		h->dane = STSGUARD_DANE_ABSENT;
		if (h->preference < v->hosts[best].preference)
			best = v->n_hosts - 1;
	}
	if (v->n_hosts > 0 && (d->flags & D_POLICY))
		routed_note(s, d->name, v->hosts[best].host, now);
	return v;
}

/* A TLS result an adapter reported for (domain, mx): move a failed MX to the end of its routes for a while. */
static void routes_note(struct dom *d, const char *mx, stsguard_result_type result, int64_t now)
{
	for (size_t i = 0; d->routes != NULL && mx[0] != '\0' && i < d->routes->n; i++) {
		struct route *e = &d->routes->r[i];
		if (strcmp(d->routes->names + e->name_off, mx) != 0)
			continue;
		if (result == STSGUARD_RESULT_SUCCESS)
			e->skip_until = 0;
		else if (result >= STSGUARD_RESULT_STARTTLS_NOT_SUPPORTED && result <= STSGUARD_RESULT_CERTIFICATE_EXPIRED) {
			if (e->skip_until <= now) /* logged when it starts, not for every result while it lasts */
				dlog(LOG_INFO, "%s: MX %s failed (%s): routes list it last for %d s", d->name, mx,
				     stsguard_result_type_name(result), ROUTE_SKIP_S);
			e->skip_until = now + ROUTE_SKIP_S;
		}
	}
}

static int dom_policy_usable(const struct dom *d, int64_t now)
{
	return (d->flags & D_POLICY) && now <= d->expires_at;
}

/* ---------------------------------------------------------------- replies */

static int reply_kind(const char *payload, size_t len)
{
	if (len >= 2 && memcmp(payload, "OK", 2) == 0)
		return 0;
	if (len >= 8 && memcmp(payload, "NOTFOUND", 8) == 0)
		return 1;
	if (len >= 4 && (memcmp(payload, "TEMP", 4) == 0 || memcmp(payload, "TIME", 4) == 0))
		return 2;
	return 3;
}

static void conn_want_write(struct server *s, struct conn *c, int want)
{
	if (c->want_out == want)
		return;
	struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0u), .data.ptr = &c->ev};
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &e);
	c->want_out = want;
}

static void conn_close(struct server *s, struct conn *c);

/* Append one framed reply to the output buffer; 0 on success. */
static int conn_append(struct server *s, struct conn *c, int map, const char *payload, size_t len)
{
	size_t flen;
	if (map >= 0 && map < MAP_ALL_)
		s->st.queries[map][reply_kind(payload, len)]++;
	char *frame = s->frame;
	char *big = NULL;
	if (len + 16 > sizeof s->frame) {
		big = malloc(len + 16);
		if (big == NULL)
			return -1;
		frame = big;
	}
	if (stsguard_netstring_encode(payload, len, frame, len + 16, &flen) != STSGUARD_OK ||
	    sg_buf_add(&c->out, frame, flen) != STSGUARD_OK) {
		free(big);
		return -1;
	}
	free(big);
	return 0;
}

/* Try to write what is buffered; close if the client is gone or done. */
static void conn_flush(struct server *s, struct conn *c)
{
	if (c->dead)
		return;
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN)) { /* EWOULDBLOCK is EAGAIN on Linux */
			conn_want_write(s, c, 1);
			return;
		}
		if (n < 0 && errno == EINTR)
			continue;
		conn_close(s, c);
		return;
	}
	c->out.len = 0;
	c->out_off = 0;
	if (c->closing && c->head == NULL) {
		conn_close(s, c);
		return;
	}
	conn_want_write(s, c, 0);
}

/* Move the answered requests at the head of the FIFO into the output. */
static void conn_drain_fifo(struct server *s, struct conn *c)
{
	while (c->head != NULL && c->head->done) {
		struct req *r = c->head;
		c->head = r->next;
		if (c->head == NULL)
			c->tail = NULL;
		if (conn_append(s, c, r->map, r->reply, r->len) != 0)
			c->closing = 1;
		free(r->reply);
		free(r);
	}
}

static void dl_unlink(struct server *s, struct req *r)
{
	struct dlist *l = r->dl;
	(void)s;
	if (l == NULL)
		return;
	if (r->tprev != NULL)
		r->tprev->tnext = r->tnext;
	else
		l->head = r->tnext;
	if (r->tnext != NULL)
		r->tnext->tprev = r->tprev;
	else
		l->tail = r->tprev;
	r->tprev = r->tnext = NULL;
	r->dl = NULL;
}

static void dl_append(struct dlist *l, struct req *r)
{
	r->dl = l;
	r->tnext = NULL;
	r->tprev = l->tail;
	if (l->tail != NULL)
		l->tail->tnext = r;
	else
		l->head = r;
	l->tail = r;
}

static void waiter_unlink(struct req *r)
{
	if (r->dom == NULL)
		return;
	for (struct req **pp = &r->dom->waiters; *pp != NULL; pp = &(*pp)->wnext)
		if (*pp == r) {
			*pp = r->wnext;
			break;
		}
	r->dom = NULL;
	r->wnext = NULL;
}

/* Answer a queued request with payload; out of order answers wait in the FIFO. */
static void req_answer(struct server *s, struct req *r, const char *payload, size_t len)
{
	dl_unlink(s, r);
	waiter_unlink(r);
	r->reply = malloc(len ? len : 1);
	if (r->reply != NULL)
		memcpy(r->reply, payload, len);
	else
		r->conn->closing = 1;
	r->len = r->reply != NULL ? len : 0;
	r->done = 1;
	struct conn *c = r->conn;
	if (c->head == r && !c->dead) {
		conn_drain_fifo(s, c);
		conn_flush(s, c);
	}
}

static size_t render(struct server *s, int map, const stsguard_discovery *d)
{
	size_t len = 0;
	if (stsguard_map_render((stsguard_map)map, d, &s->opts, (int64_t)time(NULL), s->reply, sizeof s->reply,
	                        &len) != STSGUARD_OK) {
		len = (size_t)snprintf(s->reply, sizeof s->reply, "TEMP cannot render the reply");
	}
	return len;
}

/* Answer now: straight into the output if nothing is queued before it. */
static void answer_now(struct server *s, struct conn *c, int map, const char *payload, size_t len)
{
	if (c->head == NULL) {
		if (conn_append(s, c, map, payload, len) != 0)
			c->closing = 1;
		return;
	}
	struct req *r = calloc(1, sizeof *r);
	if (r == NULL) {
		c->closing = 1;
		return;
	}
	r->conn = c;
	r->map = map;
	c->tail->next = r;
	c->tail = r;
	req_answer(s, r, payload, len);
}

static void answer_text(struct server *s, struct conn *c, int map, const char *text)
{
	answer_now(s, c, map, text, strlen(text));
}

/* ---------------------------------------------------------------- discovery */

static void start_discovery(struct server *s, struct dom *d)
{
	if (d->flags & D_INFLIGHT)
		return;
	struct pool_job *job = calloc(1, sizeof *job);
	if (job == NULL)
		return;
	job->owner = d;
	memcpy(job->domain, d->name, strlen(d->name) + 1);
	d->flags |= D_INFLIGHT;
	pool_submit(s->pool, job);
}

static void wait_for(struct server *s, struct conn *c, struct dom *d, int map, int64_t timeout_ms)
{
	struct req *r = calloc(1, sizeof *r);
	if (r == NULL) {
		answer_text(s, c, map, "TEMP out of memory");
		return;
	}
	r->conn = c;
	r->map = map;
	r->dom = d;
	r->deadline_ms = mono_ms() + timeout_ms;
	r->wnext = d->waiters;
	d->waiters = r;
	if (c->tail != NULL)
		c->tail->next = r;
	else
		c->head = r;
	c->tail = r;
	dl_append(map == MAP_QUERY ? &s->dl_query : &s->dl_lookup, r);
}

static void json_discovery_reply(struct server *s, struct req *r, const stsguard_discovery *d)
{
	char *json = NULL;
	if (d != NULL && stsguard_discovery_to_json(d, &json) == STSGUARD_OK) {
		sg_buf b;
		sg_buf_init(&b, ADMIN_REPLY_MAX);
		if (sg_buf_addstr(&b, "OK ") == STSGUARD_OK && sg_buf_addstr(&b, json) == STSGUARD_OK)
			req_answer(s, r, b.data, b.len);
		else
			req_answer(s, r, "TEMP out of memory", 18);
		sg_buf_free(&b);
	} else {
		req_answer(s, r, "TEMP discovery failed", 21);
	}
	free(json);
}

static void probe_done(struct server *s, struct pool_job *job);

static void handle_done(struct server *s)
{
	struct pool_job *job = pool_take_done(s->pool);
	int64_t now = (int64_t)time(NULL);

	while (job != NULL) {
		struct pool_job *next = job->next;
		if (job->probe) {
			probe_done(s, job);
			free(job);
			job = next;
			continue;
		}
		struct dom *d = job->owner;
		d->flags &= (uint8_t) ~(D_INFLIGHT | D_FORCE);
		s->st.discoveries++;
		if (job->status == STSGUARD_OK && job->result != NULL) {
			const stsguard_discovery *r = job->result;
			if (r->source == STSGUARD_SOURCE_FETCHED)
				s->st.fetched++;
			else
				s->st.from_cache++;
			if (r->error != STSGUARD_REASON_NONE && (unsigned)r->error < STSGUARD_REASON_MAX_)
				s->st.by_reason[r->error]++;
			dom_update(s, d, r);
			dlog(LOG_DEBUG, "%s: %s%s%s (%" PRId64 " ms)", d->name, stsguard_verdict_name(r->verdict),
			     r->error != STSGUARD_REASON_NONE ? ", " : "",
			     r->error != STSGUARD_REASON_NONE ? stsguard_reason_name(r->error) : "",
			     job->finished_ms - job->started_ms);
		} else {
			s->st.discoveries_failed++;
			d->recheck_at = now + STSGUARD_RECHECK_MIN;
			dlog(LOG_WARNING, "%s: discovery failed: %s", d->name, job->err.msg);
		}
		/* Answer everyone who waited for this domain. */
		while (d->waiters != NULL) {
			struct req *r = d->waiters;
			if (r->map == MAP_QUERY) {
				json_discovery_reply(s, r, job->result);
			} else if (job->status == STSGUARD_OK && job->result != NULL) {
				size_t len = render(s, r->map, map_view(s, r->map, d));
				req_answer(s, r, s->reply, len);
			} else if (dom_policy_usable(d, now)) {
				size_t len = render(s, r->map, map_view(s, r->map, d));
				req_answer(s, r, s->reply, len);
			} else {
				size_t len = render(s, r->map, NULL);
				req_answer(s, r, s->reply, len);
			}
		}
		stsguard_discovery_free(job->result);
		free(job);
		job = next;
	}
}

/* Deadlines: the RFC fallback for lookups whose discovery is still running. */
static void expire_deadlines(struct server *s, int64_t now_ms)
{
	int64_t now = (int64_t)time(NULL);
	while (s->dl_query.head != NULL && s->dl_query.head->deadline_ms <= now_ms)
		req_answer(s, s->dl_query.head, "TEMP discovery still running", 28);
	while (s->dl_lookup.head != NULL && s->dl_lookup.head->deadline_ms <= now_ms) {
		struct req *r = s->dl_lookup.head;
		struct dom *d = r->dom;
		s->st.deadline_fallbacks++;
		/* RFC 8461 §5.1 / Appendix B: the cached policy if any, else as without MTA-STS. */
		const stsguard_discovery *v = d != NULL && dom_policy_usable(d, now) ? map_view(s, r->map, d) : NULL;
		size_t len = render(s, r->map, v);
		dlog(LOG_INFO, "%s: %s lookup answered after %u ms without waiting for discovery (%s)",
		     d != NULL ? d->name : "?", map_label(r->map), s->conf->query_timeout_ms,
		     v != NULL ? "cached policy" : "no policy yet");
		req_answer(s, r, s->reply, len);
	}
}

/* ---------------------------------------------------------------- admin maps */

static void json_str(sg_buf *b, const char *str)
{
	(void)sg_buf_json_str(b, str);
}

struct list_ctx {
	sg_buf *b;
	int first;
	const char *only;
	int found;
};

static void entry_json(sg_buf *b, const stsguard_cache_entry *e)
{
	sg_buf_addstr(b, "{\"domain\":");
	json_str(b, e->domain);
	if (e->policy != NULL) {
		sg_buf_addstr(b, ",\"policy_id\":");
		json_str(b, e->policy_id);
		sg_buf_printf(b,
		              ",\"mode\":\"%s\",\"max_age\":%u,\"fetched_at\":%" PRId64 ",\"expires_at\":%" PRId64
		              ",\"mx\":[",
		              stsguard_mode_name(e->policy->mode), (unsigned)e->policy->max_age, e->fetched_at,
		              e->expires_at);
		for (size_t i = 0; i < e->policy->n_mx; i++) {
			if (i > 0)
				sg_buf_add(b, ",", 1);
			json_str(b, e->policy->mx[i]);
		}
		sg_buf_add(b, "]", 1);
	} else {
		sg_buf_addstr(b, ",\"policy_id\":null,\"mode\":null");
	}
	sg_buf_addstr(b, ",\"txt_id\":");
	if (e->txt_id[0] != '\0')
		json_str(b, e->txt_id);
	else
		sg_buf_addstr(b, "null");
	sg_buf_printf(b, ",\"txt_none_until\":%" PRId64 ",\"last_failure\":", e->txt_none_until);
	if (e->last_failure != STSGUARD_REASON_NONE)
		sg_buf_printf(b, "\"%s\",\"last_failure_at\":%" PRId64 ",\"next_retry\":%" PRId64 ",\"failures\":%u",
		              stsguard_reason_name(e->last_failure), e->last_failure_at, e->next_retry,
		              (unsigned)e->failures);
	else
		sg_buf_addstr(b, "null");
	sg_buf_add(b, "}", 1);
}

static int list_one(void *vctx, const stsguard_cache_entry *e)
{
	struct list_ctx *ctx = vctx;
	if (ctx->only != NULL && strcmp(ctx->only, e->domain) != 0)
		return 0;
	if (!ctx->first)
		sg_buf_add(ctx->b, ",", 1);
	ctx->first = 0;
	ctx->found++;
	entry_json(ctx->b, e);
	return ctx->only != NULL;
}

static void admin(struct server *s, struct conn *c, int map, const char *key)
{
	sg_buf b;
	sg_buf_init(&b, ADMIN_REPLY_MAX);
	char dom[STSGUARD_DOMAIN_MAX + 1];

	switch (map) {
	case MAP_ROUTED: {
		/* "OK domain=mx ..." newest first; at most ROUTED_MAX pairs of 253-byte names fit the 100,000 bytes. */
		int64_t now = (int64_t)time(NULL);
		int used[ROUTED_MAX] = {0};
		size_t n = 0;
		sg_buf_addstr(&b, "OK");
		for (;;) {
			size_t pick = ROUTED_MAX;
			for (size_t i = 0; i < ROUTED_MAX; i++)
				if (!used[i] && s->routed[i].at != 0 && now - s->routed[i].at <= ROUTED_AGE_S &&
				    (pick == ROUTED_MAX || s->routed[i].seq > s->routed[pick].seq))
					pick = i;
			if (pick == ROUTED_MAX)
				break;
			used[pick] = 1;
			sg_buf_printf(&b, " %s=%s", s->routed[pick].domain, s->routed[pick].mx);
			n++;
		}
		(void)key;
		if (n == 0) {
			sg_buf_free(&b);
			sg_buf_init(&b, ADMIN_REPLY_MAX);
			sg_buf_addstr(&b, "NOTFOUND ");
		}
		break;
	}
	case MAP_STATS: {
		size_t policies = 0;
		for (size_t i = 0; i < s->nbuckets; i++)
			for (struct dom *d = s->buckets[i]; d != NULL; d = d->next)
				policies += (d->flags & D_POLICY) != 0;
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		sg_buf_printf(&b,
		              "OK {\"uptime\":%" PRId64 ",\"clients\":%u,\"clients_total\":%" PRIu64
		              ",\"clients_refused\":%" PRIu64 ",\"protocol_errors\":%" PRIu64
		              ",\"domains\":%zu,\"policies\":%zu,\"cache_entries\":%zu,\"discoveries\":%" PRIu64
		              ",\"discoveries_failed\":%" PRIu64 ",\"fetched\":%" PRIu64 ",\"answered_from_cache\":%" PRIu64
		              ",\"in_flight\":%u,\"deadline_fallbacks\":%" PRIu64 ",\"max_rss_kib\":%ld,\"queries\":{",
		              (mono_ms() - s->started_ms) / 1000, s->n_conns, s->st.clients_total, s->st.clients_refused,
		              s->st.protocol_errors, s->n_doms, policies, stsguard_cache_count(s->cache),
		              s->st.discoveries, s->st.discoveries_failed, s->st.fetched, s->st.from_cache,
		              pool_busy(s->pool), s->st.deadline_fallbacks, ru.ru_maxrss);
		for (int m = 0; m < MAP_ALL_; m++)
			sg_buf_printf(&b, "%s\"%s\":{\"ok\":%" PRIu64 ",\"notfound\":%" PRIu64 ",\"temp\":%" PRIu64
			                  ",\"perm\":%" PRIu64 "}",
			              m ? "," : "", map_label(m), s->st.queries[m][0], s->st.queries[m][1], s->st.queries[m][2],
			              s->st.queries[m][3]);
		sg_buf_addstr(&b, "},\"failures\":{");
		int first = 1;
		for (int r = 1; r < STSGUARD_REASON_MAX_; r++)
			if (s->st.by_reason[r] > 0) {
				sg_buf_printf(&b, "%s\"%s\":%" PRIu64, first ? "" : ",", stsguard_reason_name((stsguard_reason)r),
				              s->st.by_reason[r]);
				first = 0;
			}
		sg_buf_addstr(&b, "}");
		struct recorder_stats rs = {0};
		if (s->rec != NULL)
			recorder_get_stats(s->rec, &rs);
		sg_buf_printf(&b,
		              ",\"tlsrpt\":{\"recording\":%s,\"stored\":%" PRIu64 ",\"dropped\":%" PRIu64
		              ",\"failed\":%" PRIu64 ",\"invalid\":%" PRIu64 ",\"queued\":%u,\"commits\":%" PRIu64
		              ",\"datagrams\":%" PRIu64 ",\"datagrams_invalid\":%" PRIu64 ",\"datagram_results\":%" PRIu64 "}}",
		              s->rec != NULL ? "true" : "false", rs.stored, rs.dropped, rs.failed, s->st.tlsrpt_invalid + rs.invalid,
		              rs.queued, rs.commits, s->st.dgram_received, s->st.dgram_invalid, s->st.dgram_results);
		break;
	}
	case MAP_CACHE_LIST: {
		struct list_ctx ctx = {&b, 1, NULL, 0};
		sg_buf_addstr(&b, "OK [");
		stsguard_cache_foreach(s->cache, list_one, &ctx);
		sg_buf_add(&b, "]", 1);
		break;
	}
	case MAP_CACHE_SHOW: {
		if (stsguard_domain_normalize(key, dom) != STSGUARD_OK) {
			sg_buf_addstr(&b, "PERM not a domain");
			break;
		}
		struct list_ctx ctx = {&b, 1, dom, 0};
		sg_buf_addstr(&b, "OK ");
		stsguard_cache_foreach(s->cache, list_one, &ctx);
		if (ctx.found == 0) {
			b.len = 0;
			sg_buf_addstr(&b, "NOTFOUND ");
		}
		break;
	}
	case MAP_CACHE_PURGE: {
		size_t n = 0;
		int all = strcmp(key, "*") == 0;
		if (!all && stsguard_domain_normalize(key, dom) != STSGUARD_OK) {
			sg_buf_addstr(&b, "PERM not a domain");
			break;
		}
		if (all) {
			n = stsguard_cache_count(s->cache);
			stsguard_cache_purge(s->cache, NULL, NULL);
		} else if (stsguard_cache_purge(s->cache, dom, NULL) == STSGUARD_OK) {
			n = 1;
		}
		/* Forget the in-memory answers too (a running discovery finishes and re-adds its own). */
		for (size_t i = 0; i < s->nbuckets; i++)
			for (struct dom **pp = &s->buckets[i]; *pp != NULL;) {
				struct dom *d = *pp;
				if ((all || strcmp(d->name, dom) == 0) && !(d->flags & D_INFLIGHT) && d->waiters == NULL) {
					*pp = d->next;
					dom_free(d);
					s->n_doms--;
				} else {
					pp = &d->next;
				}
			}
		sg_buf_printf(&b, "OK purged %zu", n);
		dlog(LOG_NOTICE, "cache purge %s: %zu entries", all ? "(all)" : dom, n);
		break;
	}
	default:
		sg_buf_addstr(&b, "PERM unknown map");
	}
	if (b.data != NULL)
		answer_now(s, c, map, b.data, b.len);
	else
		answer_text(s, c, map, "TEMP out of memory");
	sg_buf_free(&b);
}

/* ---------------------------------------------------------------- requests */

static void lookup(struct server *s, struct conn *c, int map, const char *key)
{
	char name[STSGUARD_DOMAIN_MAX + 1];
	stsguard_err err = {""};
	int64_t now = (int64_t)time(NULL);

	stsguard_status st = stsguard_map_key_domain(map == MAP_QUERY ? STSGUARD_MAP_POLICY : (stsguard_map)map, key, name,
	                                             &err);
	if (st == STSGUARD_NONE) {
		if (map == MAP_QUERY) {
			answer_text(s, c, map, "NOTFOUND ");
			return;
		}
		size_t len = render(s, map, NULL);
		answer_now(s, c, map, s->reply, len);
		return;
	}
	if (st != STSGUARD_OK) {
		char msg[300];
		snprintf(msg, sizeof msg, "PERM %s", err.msg[0] ? err.msg : "not a domain");
		answer_text(s, c, map, msg);
		return;
	}
	struct dom *d = dom_get(s, name);
	if (d == NULL) {
		answer_text(s, c, map, "TEMP out of memory");
		return;
	}
	d->last_used = (uint32_t)((mono_ms() - s->started_ms) / 1000);
	int fresh = (d->flags & D_VALIDATED) && now < d->recheck_at;

	if (map == STSGUARD_MAP_PREFETCH) {
		if (!fresh)
			start_discovery(s, d);
		answer_text(s, c, map, fresh ? "OK cached" : "OK queued");
		return;
	}
	if (map == MAP_QUERY) {
		/* An admin asks: always a discovery now (the cache rules still apply inside it). */
		if (d->flags & D_INFLIGHT)
			s->st.coalesced++;
		start_discovery(s, d);
		wait_for(s, c, d, map, (int64_t)s->conf->fetch_timeout * 1000 * 3 + 10000);
		return;
	}
	if (fresh) {
		size_t len = render(s, map, map_view(s, map, d));
		answer_now(s, c, map, s->reply, len);
		return;
	}
	if (d->flags & D_INFLIGHT)
		s->st.coalesced++;
	start_discovery(s, d);
	if ((d->flags & D_VALIDATED) && dom_policy_usable(d, now)) {
		/* A valid policy is in force while its refresh runs (RFC 8461 §5.1). */
		size_t len = render(s, map, map_view(s, map, d));
		answer_now(s, c, map, s->reply, len);
		return;
	}
	wait_for(s, c, d, map, s->conf->query_timeout_ms);
}

/* Answer a tlsrpt request that is out of the connection's hands (probe or recorder), or drop it if its client left. */
static void record_reply(struct server *s, struct req *r, const char *msg)
{
	r->recording = 0;
	if (r->conn == NULL) {
		free(r);
		return;
	}
	req_answer(s, r, msg, strlen(msg));
}

/* Complete a parsed result with the policy held for its domain and hand it to the recorder. */
static void record_finish(struct server *s, struct req *r, const stsguard_tlsrpt_intake *in)
{
	stsguard_err err = {""};
	char msg[320];
	const stsguard_policy *policy = NULL;
	const char *policy_id = "";
	struct dom *d = dom_find(s, in->domain, hash_name(in->domain));
	if (d != NULL && (d->flags & D_POLICY)) {
		const stsguard_discovery *v = dom_view(s, d);
		policy = v->policy;
		policy_id = v->policy_id;
	}
	if (d != NULL)
		routes_note(d, in->mx, stsguard_tlsrpt_intake_classify(in, policy), (int64_t)time(NULL));
	struct rec_job *job = calloc(1, sizeof *job);
	if (job == NULL) {
		record_reply(s, r, "TEMP out of memory");
		return;
	}
	if (stsguard_tlsrpt_intake_result(in, policy, policy_id, (int64_t)time(NULL), &job->r, &err) != STSGUARD_OK) {
		free(job);
		s->st.tlsrpt_invalid++;
		dlog(LOG_INFO, "tlsrpt: refused a result for %s: %s", in->domain, err.msg);
		snprintf(msg, sizeof msg, "PERM %s", err.msg);
		record_reply(s, r, msg);
		return;
	}
	job->owner = r;
	recorder_submit(s->rec, job);
}

/*
 * probe=1 on a certificate failure the adapter could not classify
 * (OpenSMTPD), or on a TLS session whose certificate nobody checked (an
 * opportunistic delivery to a testing domain, result=success): the MX is
 * asked on a worker thread first (starttls_probe.h).
 */
static int wants_probe(const stsguard_tlsrpt_intake *in)
{
	return in->probe && in->has_result && in->ip[0] != '\0' && in->mx[0] != '\0' &&
	       (in->result == STSGUARD_RESULT_SUCCESS || in->result == STSGUARD_RESULT_CERTIFICATE_NOT_TRUSTED ||
	        in->result == STSGUARD_RESULT_CERTIFICATE_HOST_MISMATCH ||
	        in->result == STSGUARD_RESULT_CERTIFICATE_EXPIRED);
}

/* A probe came back: its finding replaces the adapter's vaguer certificate result. */
static void probe_done(struct server *s, struct pool_job *job)
{
	stsguard_tlsrpt_intake *in = job->probe_ctx;
	struct req *r = job->owner;
	char reason[2 * STSGUARD_TLSRPT_TEXT_MAX + 600];

	if (job->status == STSGUARD_OK && job->probe_result >= STSGUARD_RESULT_CERTIFICATE_HOST_MISMATCH &&
	    job->probe_result <= STSGUARD_RESULT_CERTIFICATE_EXPIRED) {
		in->result = job->probe_result;
		snprintf(reason, sizeof reason, "stsguardd STARTTLS probe of %s: %s", in->ip, job->probe_detail);
	} else if (in->result == STSGUARD_RESULT_SUCCESS) {
		/* An unchecked session whose MX passes (or cannot be asked): recorded as the adapter saw it. */
		reason[0] = '\0';
	} else {
		/* The MX looks fine now, or could not be asked: the adapter's result stands. */
		snprintf(reason, sizeof reason, "%s (stsguardd probe: %s)", in->reason,
		         job->status == STSGUARD_OK ? stsguard_result_type_name(job->probe_result) : job->err.msg);
	}
	size_t rl = strnlen(reason, sizeof in->reason - 1); /* the reason is capped, as the intake caps it */
	memcpy(in->reason, reason, rl);
	in->reason[rl] = '\0';
	dlog(LOG_INFO, "tlsrpt: %s via %s (%s): %s after a probe", in->domain, in->mx, in->ip,
	     stsguard_result_type_name(in->result));
	record_finish(s, r, in);
	free(in);
}

/*
 * A TLS-RPT result from an adapter: validated here, completed with the
 * policy this daemon holds for the domain, and answered once the recorder
 * has it on stable storage.
 */
static void record(struct server *s, struct conn *c, const char *key, size_t klen)
{
	stsguard_tlsrpt_intake in;
	stsguard_err err = {""};
	char msg[320];

	if (stsguard_tlsrpt_intake_parse(key, klen, &in, &err) != STSGUARD_OK) {
		s->st.tlsrpt_invalid++;
		dlog(LOG_INFO, "tlsrpt: refused a result: %s", err.msg);
		snprintf(msg, sizeof msg, "PERM %s", err.msg);
		answer_text(s, c, MAP_TLSRPT, msg);
		return;
	}
	if (s->rec == NULL) {
		answer_text(s, c, MAP_TLSRPT, "TEMP the TLS-RPT store is not available (see the daemon's log)");
		return;
	}
	struct req *r = calloc(1, sizeof *r);
	if (r == NULL) {
		answer_text(s, c, MAP_TLSRPT, "TEMP out of memory");
		return;
	}
	r->conn = c;
	r->map = MAP_TLSRPT;
	r->recording = 1;
	if (c->tail != NULL)
		c->tail->next = r;
	else
		c->head = r;
	c->tail = r;
	if (wants_probe(&in)) {
		struct pool_job *job = calloc(1, sizeof *job);
		stsguard_tlsrpt_intake *copy = malloc(sizeof *copy);
		if (job != NULL && copy != NULL) {
			*copy = in;
			job->probe = 1;
			job->probe_ctx = copy;
			job->owner = r;
			snprintf(job->probe_ip, sizeof job->probe_ip, "%s", in.ip);
			snprintf(job->probe_mx, sizeof job->probe_mx, "%s", in.mx);
			pool_submit(s->pool, job);
			return;
		}
		free(job);
		free(copy); /* no memory for a probe: recorded as the adapter said */
	}
	record_finish(s, r, &in);
}

static void handle_recorded(struct server *s)
{
	struct rec_job *job = recorder_take_done(s->rec);
	char msg[320];

	while (job != NULL) {
		struct rec_job *next = job->next;
		struct req *r = job->owner;
		if (r == NULL) {
			/* a datagram's result: nobody waits for an answer */
		} else if (r->conn == NULL) {
			free(r); /* its client went away; the result is stored all the same */
		} else {
			r->recording = 0;
			if (job->status == STSGUARD_OK)
				snprintf(msg, sizeof msg, "OK stored");
			else if (job->status == STSGUARD_TOOBIG)
				snprintf(msg, sizeof msg, "OK dropped: %s", job->err.msg);
			else if (job->status == STSGUARD_INVALID)
				snprintf(msg, sizeof msg, "PERM %s", job->err.msg);
			else
				snprintf(msg, sizeof msg, "TEMP %s", job->err.msg[0] ? job->err.msg : "not stored");
			req_answer(s, r, msg, strlen(msg));
		}
		recorder_job_free(job);
		job = next;
	}
}

/*
 * libtlsrpt datagrams (Postfix >= 3.10, smtp_tlsrpt_socket_name): one
 * datagram per delivery attempt, fire and forget. Each valid one becomes
 * results for the recorder; a bad one is counted and (at a bounded rate)
 * logged, never answered.
 */
static void read_datagrams(struct server *s)
{
	int64_t now = (int64_t)time(NULL);
	for (int i = 0; i < DGRAM_BATCH; i++) {
		ssize_t n = recv(s->dgram_fd, s->dgram_buf, sizeof s->dgram_buf, MSG_TRUNC | MSG_DONTWAIT);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) /* EWOULDBLOCK is EAGAIN on Linux */
				dlog(LOG_ERR, "tlsrpt_socket: %s", strerror(errno));
			return;
		}
		s->st.dgram_received++;
		stsguard_tlsrpt_dgram *dg = NULL;
		stsguard_err err = {""};
		stsguard_status st = stsguard_tlsrpt_dgram_parse(s->dgram_buf, (size_t)n, now, &dg, &err);
		if (st != STSGUARD_OK) {
			s->st.dgram_invalid++;
			if (now / 60 != s->dgram_log_minute) {
				s->dgram_log_minute = now / 60;
				s->dgram_logged = 0;
			}
			if (s->dgram_logged++ < DGRAM_LOGS_PER_MIN)
				dlog(LOG_INFO, "tlsrpt_socket: refused a datagram of %zd bytes: %s", n, err.msg);
			continue;
		}
		for (size_t k = 0; k < dg->n_results; k++) {
			struct rec_job *job = s->rec != NULL ? calloc(1, sizeof *job) : NULL;
			if (job == NULL)
				break;
			job->r = dg->results[k]; /* moved: the datagram no longer owns its strings */
			memset(&dg->results[k], 0, sizeof dg->results[k]);
			recorder_submit(s->rec, job);
			s->st.dgram_results++;
		}
		stsguard_tlsrpt_dgram_free(dg);
	}
}

static void handle_request(struct server *s, struct conn *c, const char *payload, size_t plen)
{
	char mapname[STSGUARD_MAPNAME_MAX + 1];
	char key[STSGUARD_MAPKEY_MAX + 1];
	stsguard_err err = {""};

	/* tlsrpt keys hold several NAME=VALUE tokens: longer than a lookup key, with spaces. */
	if (plen > 7 && sg_ieq(payload, 6, "tlsrpt", 6) && payload[6] == ' ') {
		record(s, c, payload + 7, plen - 7);
		return;
	}
	if (stsguard_socketmap_split(payload, plen, mapname, key, &err) != STSGUARD_OK) {
		char msg[300];
		s->st.protocol_errors++;
		snprintf(msg, sizeof msg, "PERM %s", err.msg);
		answer_text(s, c, -1, msg);
		return;
	}
	int map = map_from_name(mapname, c->is_unix);
	if (map < 0) {
		s->st.protocol_errors++;
		answer_text(s, c, -1, "PERM unknown map");
		return;
	}
	if (map >= MAP_STATS && map != MAP_QUERY) {
		admin(s, c, map, key);
		return;
	}
	lookup(s, c, map, key);
}

/* ---------------------------------------------------------------- connections */

static void conn_close(struct server *s, struct conn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	while (c->head != NULL) {
		struct req *r = c->head;
		c->head = r->next;
		dl_unlink(s, r);
		waiter_unlink(r);
		free(r->reply);
		r->reply = NULL;
		if (r->recording)
			r->conn = NULL; /* the recorder still holds it: freed when it comes back */
		else
			free(r);
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	sg_buf_free(&c->out);
	s->n_conns--;
	/* Events of the current batch may still point at c: free it after the batch. */
	c->next = s->graveyard;
	s->graveyard = c;
}

static void bury(struct server *s)
{
	while (s->graveyard != NULL) {
		struct conn *c = s->graveyard;
		s->graveyard = c->next;
		free(c);
	}
}

static void conn_read(struct server *s, struct conn *c)
{
	for (;;) {
		if (c->closing)
			return;
		ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
		if (n == 0) {
			/* Peer closed: flush what is answerable and go. */
			c->closing = 1;
			if (c->head == NULL && c->out.len == c->out_off)
				conn_close(s, c);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				conn_close(s, c);
			return;
		}
		c->in_len += (size_t)n;
		c->last_ms = mono_ms();

		size_t off = 0;
		while (off < c->in_len && !c->closing && !c->dead) {
			size_t used, plen;
			const char *payload;
			stsguard_err err = {""};
			stsguard_status st = stsguard_netstring_next(c->in + off, c->in_len - off,
			                                             STSGUARD_SOCKETMAP_REQUEST_MAX, &used, &payload, &plen, &err);
			if (st == STSGUARD_NONE)
				break;
			if (st != STSGUARD_OK) {
				char msg[300];
				s->st.protocol_errors++;
				snprintf(msg, sizeof msg, "PERM %s", st == STSGUARD_TOOBIG ? "request too large" : err.msg);
				answer_text(s, c, -1, msg);
				c->closing = 1; /* the stream cannot be resynchronised */
				off = c->in_len;
				break;
			}
			handle_request(s, c, payload, plen);
			off += used;
		}
		if (c->dead)
			return;
		if (off > 0) {
			memmove(c->in, c->in + off, c->in_len - off);
			c->in_len -= off;
		}
		c->partial_since_ms = c->in_len > 0 ? (c->partial_since_ms ? c->partial_since_ms : c->last_ms) : 0;
		if (c->out.len > OUT_MAX) {
			conn_close(s, c);
			return;
		}
		conn_flush(s, c);
		return; /* conn_flush may have closed c: never touch it after this */
	}
}

static void accept_clients(struct server *s, struct listener *l)
{
	for (;;) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				dlog(LOG_WARNING, "accept on %s: %s", l->spec, strerror(errno));
			return;
		}
		s->st.clients_total++;
		if (s->n_conns >= s->conf->max_clients || s->terminating) {
			s->st.clients_refused++;
			close(fd);
			continue;
		}
		struct conn *c = calloc(1, sizeof *c);
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->ev.kind = EV_CONN;
		c->ev.owner = c;
		c->fd = fd;
		c->is_unix = l->is_unix;
		c->last_ms = mono_ms();
		sg_buf_init(&c->out, OUT_MAX + REPLY_MAX + 64);
		struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = &c->ev};
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e) != 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = s->conns;
		if (s->conns != NULL)
			s->conns->prev = c;
		s->conns = c;
		s->n_conns++;
	}
}

/* ---------------------------------------------------------------- housekeeping */

static void housekeeping(struct server *s, int64_t now_ms)
{
	/* Idle and slowloris connections. */
	for (struct conn *c = s->conns, *next; c != NULL; c = next) {
		next = c->next;
		if (c->head != NULL)
			continue; /* waiting for us, not for the client */
		if (now_ms - c->last_ms > IDLE_TIMEOUT_MS ||
		    (c->partial_since_ms && now_ms - c->partial_since_ms > PARTIAL_TIMEOUT_MS)) {
			s->st.timeouts_closed++;
			conn_close(s, c);
		}
	}

	int64_t now = (int64_t)time(NULL);
	if (s->rec != NULL && now >= s->next_expire_s) {
		recorder_expire(s->rec);
		s->next_expire_s = now + EXPIRE_EVERY_S;
	}
	if (now < s->next_scan_s)
		return;
	s->next_scan_s = now + REFRESH_SCAN_S;

	/* Proactive refresh (RFC 8461 §10.2) of policies whose recheck time passed, a bounded batch per scan. */
	unsigned budget = s->conf->workers * 8, submitted = 0;
	for (size_t i = 0; i < s->nbuckets && submitted < budget; i++)
		for (struct dom *d = s->buckets[i]; d != NULL && submitted < budget; d = d->next)
			if ((d->flags & D_POLICY) && !(d->flags & D_INFLIGHT) && now >= d->recheck_at) {
				start_discovery(s, d);
				submitted++;
			}

	/* Give memory freed by finished discoveries back to the system. */
	malloc_trim(0);

	/* Bounded memory: forget domains without a policy first. */
	if (s->n_doms > s->conf->max_domains) {
		size_t target = s->conf->max_domains - s->conf->max_domains / 10;
		for (size_t i = 0; i < s->nbuckets && s->n_doms > target; i++)
			for (struct dom **pp = &s->buckets[i]; *pp != NULL && s->n_doms > target;) {
				struct dom *d = *pp;
				if (!(d->flags & (D_POLICY | D_INFLIGHT)) && d->waiters == NULL) {
					*pp = d->next;
					dom_free(d);
					s->n_doms--;
				} else {
					pp = &d->next;
				}
			}
	}
}

/* ---------------------------------------------------------------- setup */

static int bind_listener(const char *spec, struct listener *l, const char *user, stsguard_err *err)
{
	memset(l, 0, sizeof *l);
	l->ev.kind = EV_LISTENER;
	l->ev.owner = l;
	l->fd = -1;
	l->spec = sg_strndup(spec, strlen(spec));
	if (strncmp(spec, "unix:", 5) == 0) {
		const char *path = spec + 5;
		struct sockaddr_un sun;
		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		if (strlen(path) >= sizeof sun.sun_path)
			return sg_err(err, STSGUARD_INVALID, "%s: path too long", spec), -1;
		memcpy(sun.sun_path, path, strlen(path) + 1);
		l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (l->fd < 0)
			return sg_err(err, STSGUARD_IO, "%s: %s", spec, strerror(errno)), -1;
		/* A stale socket from a previous run: replace it, but never a live one or a non-socket. */
		struct stat sb;
		if (lstat(path, &sb) == 0) {
			if (!S_ISSOCK(sb.st_mode))
				return sg_err(err, STSGUARD_IO, "%s exists and is not a socket", path), -1;
			int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			int live = probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof sun) == 0;
			if (probe >= 0)
				close(probe);
			if (live)
				return sg_err(err, STSGUARD_IO, "%s: another stsguardd is running", path), -1;
			unlink(path);
		}
		mode_t old = umask(0117); /* srw-rw---- */
		int rc = bind(l->fd, (struct sockaddr *)&sun, sizeof sun);
		umask(old);
		if (rc != 0)
			return sg_err(err, STSGUARD_IO, "%s: bind: %s", spec, strerror(errno)), -1;
		l->path = sg_strndup(path, strlen(path));
		l->is_unix = 1;
		if (user != NULL) {
			struct passwd *pw = getpwnam(user);
			if (pw != NULL && chown(path, pw->pw_uid, pw->pw_gid) != 0)
				dlog(LOG_WARNING, "chown %s: %s", path, strerror(errno));
		}
	} else {
		const char *hp = spec + 5;
		char host[64];
		const char *colon = strrchr(hp, ':');
		if (colon == NULL || (size_t)(colon - hp) >= sizeof host)
			return sg_err(err, STSGUARD_INVALID, "%s: expected inet:IP:PORT", spec), -1;
		memcpy(host, hp, (size_t)(colon - hp));
		host[colon - hp] = '\0';
		char *h = host;
		if (h[0] == '[') {
			h++;
			char *e = strchr(h, ']');
			if (e != NULL)
				*e = '\0';
		}
		long port = strtol(colon + 1, NULL, 10);
		struct sockaddr_storage ss;
		socklen_t sl;
		memset(&ss, 0, sizeof ss);
		struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		if (inet_pton(AF_INET, h, &in4->sin_addr) == 1) {
			in4->sin_family = AF_INET;
			in4->sin_port = htons((uint16_t)port);
			sl = sizeof *in4;
		} else if (inet_pton(AF_INET6, h, &in6->sin6_addr) == 1) {
			in6->sin6_family = AF_INET6;
			in6->sin6_port = htons((uint16_t)port);
			sl = sizeof *in6;
		} else {
			return sg_err(err, STSGUARD_INVALID, "%s: bad address", spec), -1;
		}
		l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		int one = 1;
		if (l->fd < 0 || setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
		    bind(l->fd, (struct sockaddr *)&ss, sl) != 0)
			return sg_err(err, STSGUARD_IO, "%s: bind: %s", spec, strerror(errno)), -1;
	}
	if (listen(l->fd, 512) != 0)
		return sg_err(err, STSGUARD_IO, "%s: listen: %s", spec, strerror(errno)), -1;
	return 0;
}

/* The libtlsrpt datagram socket (tlsrpt_socket), srw-rw----, owned by user. */
static int bind_dgram(struct server *s, const char *path, const char *user, stsguard_err *err)
{
	struct sockaddr_un sun;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path)
		return sg_err(err, STSGUARD_INVALID, "tlsrpt_socket %s: path too long", path), -1;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	struct stat sb;
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode))
			return sg_err(err, STSGUARD_IO, "tlsrpt_socket %s exists and is not a socket", path), -1;
		unlink(path); /* a stale socket of an earlier run (the stream listeners guard against two daemons) */
	}
	s->dgram_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->dgram_fd < 0)
		return sg_err(err, STSGUARD_IO, "tlsrpt_socket: %s", strerror(errno)), -1;
	mode_t old = umask(0117);
	int rc = bind(s->dgram_fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (rc != 0)
		return sg_err(err, STSGUARD_IO, "tlsrpt_socket %s: bind: %s", path, strerror(errno)), -1;
	s->dgram_path = sg_strndup(path, strlen(path));
	if (user != NULL) {
		struct passwd *pw = getpwnam(user);
		if (pw != NULL && chown(path, pw->pw_uid, pw->pw_gid) != 0)
			dlog(LOG_WARNING, "chown %s: %s", path, strerror(errno));
	}
	/* Bursts of datagrams must not be dropped while a commit runs: a large receive buffer. */
	int rcvbuf = 4 << 20;
	setsockopt(s->dgram_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	s->dgram_ev.kind = EV_DGRAM;
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = &s->dgram_ev};
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->dgram_fd, &e);
	return 0;
}

static void opts_from_conf(struct server *s)
{
	s->opts.tempfail_answer = (stsguard_tempfail_answer)s->conf->tempfail_answer;
}

stsguard_status server_new(const stsguard_config *conf, struct server **out, stsguard_err *err)
{
	struct server *s = calloc(1, sizeof *s);
	*out = NULL;
	if (s == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	s->epfd = -1;
	s->sigfd = -1;
	s->pool_fd = -1;
	s->dgram_fd = -1;
	/* The server keeps its own copy of the settings it uses (SIGHUP replaces it). */
	stsguard_config *copy;
	if (stsguard_config_new(&copy) != STSGUARD_OK) {
		free(s);
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	}
	s->conf = copy;
	/* Shallow-copy scalar settings; strings are not used by the server after start. */
	copy->workers = conf->workers;
	copy->query_timeout_ms = conf->query_timeout_ms;
	copy->tempfail_answer = conf->tempfail_answer;
	copy->log_level = conf->log_level;
	copy->max_clients = conf->max_clients;
	copy->max_domains = conf->max_domains;
	copy->fetch_timeout = conf->fetch_timeout;
	opts_from_conf(s);

	s->nbuckets = 1024;
	s->buckets = calloc(s->nbuckets, sizeof *s->buckets);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	size_t n = conf->n_listen > 0 ? conf->n_listen : 1;
	s->listeners = calloc(n, sizeof *s->listeners);
	if (s->buckets == NULL || s->epfd < 0 || s->listeners == NULL) {
		server_free(s);
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	}
	if (conf->tlsrpt_socket != NULL && bind_dgram(s, conf->tlsrpt_socket, conf->user, err) != 0) {
		server_free(s);
		return STSGUARD_IO;
	}
	for (size_t i = 0; i < n; i++) {
		const char *spec = conf->n_listen > 0 ? conf->listen[i] : "unix:" STSGUARD_DEFAULT_SOCKET;
		s->n_listeners++;
		if (bind_listener(spec, &s->listeners[i], conf->user, err) != 0) {
			server_free(s);
			return STSGUARD_IO;
		}
		struct epoll_event e = {.events = EPOLLIN, .data.ptr = &s->listeners[i].ev};
		epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listeners[i].fd, &e);
	}
	*out = s;
	return STSGUARD_OK;
}

static int preload(void *ctx, const stsguard_cache_entry *e)
{
	struct server *s = ctx;
	int64_t now = (int64_t)time(NULL);
	if (e->policy == NULL || now > e->expires_at)
		return 0;
	struct dom *d = dom_get(s, e->domain);
	if (d == NULL)
		return 1;
	dom_set_policy(d, e->policy, e->policy_id, e->expires_at);
	d->verdict = e->policy->mode == STSGUARD_MODE_ENFORCE   ? STSGUARD_VERDICT_ENFORCE
	             : e->policy->mode == STSGUARD_MODE_TESTING ? STSGUARD_VERDICT_TESTING
	                                                        : STSGUARD_VERDICT_NONE;
	d->recheck_at = 0; /* revalidate (TXT id, DANE) on first use; meanwhile the deadline fallback has it */
	return 0;
}

stsguard_status server_start(struct server *s, stsguard_cache *cache, stsguard_err *err)
{
	sigset_t mask;

	s->cache = cache;
	s->started_ms = mono_ms();
	s->started_at = time(NULL);
	srand((unsigned)s->started_at ^ (unsigned)getpid());
	stsguard_cache_foreach(cache, preload, s);

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	/* Block before the threads start so they inherit the mask. */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->sigfd < 0)
		return sg_err(err, STSGUARD_IO, "signalfd: %s", strerror(errno));
	s->sig_ev.kind = EV_SIGNAL;
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = &s->sig_ev};
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->sigfd, &e);

	return STSGUARD_OK;
}

static stsguard_status start_pool(struct server *s, const stsguard_config *conf, stsguard_err *err)
{
	stsguard_status st = pool_start(conf, s->cache, &s->pool, &s->pool_fd, err);
	if (st != STSGUARD_OK)
		return st;
	s->pool_ev.kind = EV_POOL;
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = &s->pool_ev};
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->pool_fd, &e);
	return STSGUARD_OK;
}

/*
 * The TLS-RPT store. Policies matter more than reports: if the store cannot
 * be opened, stsguardd still answers lookups, logs why, and answers the
 * tlsrpt map with TEMP.
 */
static void start_recorder(struct server *s, const stsguard_config *conf)
{
	stsguard_err err = {""};
	char dir[4096];
	int fd = -1;

	snprintf(dir, sizeof dir, "%s", conf->tlsrpt_dir != NULL ? conf->tlsrpt_dir : STSGUARD_DEFAULT_TLSRPT_DIR);
	if (recorder_start(dir, conf->tlsrpt_retention, &s->rec, &fd, &err) != STSGUARD_OK) {
		dlog(LOG_ERR, "TLS-RPT results will not be recorded: %s", err.msg);
		return;
	}
	s->rec_ev.kind = EV_RECORDER;
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = &s->rec_ev};
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e);
	dlog(LOG_INFO, "TLS-RPT results go to %s", dir);
}

static void reload(struct server *s, const char *path)
{
	stsguard_config *nc;
	stsguard_err err = {""};

	if (stsguard_config_load(path, 0, &nc, &err) != STSGUARD_OK) {
		dlog(LOG_ERR, "reload: %s; keeping the running configuration", err.msg);
		return;
	}
	if (pool_reconfigure(s->pool, nc, &err) != STSGUARD_OK) {
		dlog(LOG_ERR, "reload: %s", err.msg);
		stsguard_config_free(nc);
		return;
	}
	s->conf->query_timeout_ms = nc->query_timeout_ms;
	s->conf->tempfail_answer = nc->tempfail_answer;
	s->conf->log_level = nc->log_level;
	s->conf->max_clients = nc->max_clients;
	s->conf->max_domains = nc->max_domains;
	s->conf->fetch_timeout = nc->fetch_timeout;
	opts_from_conf(s);
	dlog_set_level(nc->log_level);
	dlog(LOG_NOTICE, "reloaded %s (listen, user, workers and cache_dir need a restart)", path);
	stsguard_config_free(nc);
}

int server_run(struct server *s, const char *config_path)
{
	struct epoll_event evs[256];
	stsguard_err err = {""};

	/* The pool needs the full configuration (resolver, CA, proxy): read it once more. */
	stsguard_config *full;
	if (stsguard_config_load(config_path, 1, &full, &err) != STSGUARD_OK) {
		dlog(LOG_ERR, "%s", err.msg);
		return 1;
	}
	stsguard_status st = start_pool(s, full, &err);
	if (st != STSGUARD_OK) {
		stsguard_config_free(full);
		dlog(LOG_ERR, "%s", err.msg);
		return 1;
	}
	start_recorder(s, full);
	stsguard_config_free(full);
	if (s->rec != NULL && reporter_start(config_path, &s->reporter, &err) != STSGUARD_OK)
		dlog(LOG_ERR, "TLS-RPT reports will not be sent: %s", err.msg);
	dlog(LOG_NOTICE, "ready: %zu listener%s, %u workers, %zu cached policies", s->n_listeners,
	     s->n_listeners == 1 ? "" : "s", s->conf->workers, stsguard_cache_count(s->cache));

	int64_t last_hk = mono_ms();
	for (;;) {
		int64_t now_ms = mono_ms();
		int timeout = HOUSEKEEPING_MS;
		const struct req *heads[2] = {s->dl_lookup.head, s->dl_query.head};
		for (int k = 0; k < 2; k++)
			if (heads[k] != NULL) {
				int64_t t = heads[k]->deadline_ms - now_ms;
				if (t < timeout)
					timeout = t < 0 ? 0 : (int)t;
			}
		int n = epoll_wait(s->epfd, evs, (int)(sizeof evs / sizeof evs[0]), timeout);
		if (n < 0 && errno != EINTR) {
			dlog(LOG_ERR, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct ev *ev = evs[i].data.ptr;
			switch (ev->kind) {
			case EV_LISTENER:
				accept_clients(s, ev->owner);
				break;
			case EV_POOL:
				handle_done(s);
				break;
			case EV_RECORDER:
				handle_recorded(s);
				break;
			case EV_DGRAM:
				read_datagrams(s);
				break;
			case EV_SIGNAL: {
				struct signalfd_siginfo si;
				while (read(s->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
					if (si.ssi_signo == SIGHUP) {
						reload(s, config_path);
						reporter_kick(s->reporter);
					} else if (!s->terminating) {
						dlog(LOG_NOTICE, "signal %u: finishing the lookups in progress, then exiting",
						     si.ssi_signo);
						s->terminating = 1;
						s->terminate_deadline_ms = mono_ms() + s->conf->query_timeout_ms + 1000;
						for (size_t k = 0; k < s->n_listeners; k++)
							epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->listeners[k].fd, NULL);
					}
				}
				break;
			}
			case EV_CONN: {
				struct conn *c = ev->owner;
				if (c->dead)
					break;
				if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
					conn_close(s, c);
					break;
				}
				if (evs[i].events & EPOLLOUT) {
					conn_flush(s, c);
					break; /* c may be gone; a pending read is seen on the next round */
				}
				if (evs[i].events & (EPOLLIN | EPOLLRDHUP))
					conn_read(s, c);
				break;
			}
			}
		}
		now_ms = mono_ms();
		expire_deadlines(s, now_ms);
		if (now_ms - last_hk >= HOUSEKEEPING_MS) {
			housekeeping(s, now_ms);
			last_hk = now_ms;
		}
		bury(s);
		if (s->terminating) {
			int pending = s->dl_lookup.head != NULL || s->dl_query.head != NULL;
			for (struct conn *c = s->conns; c != NULL && !pending; c = c->next)
				pending = c->head != NULL || c->out.len > c->out_off;
			if (!pending || now_ms >= s->terminate_deadline_ms)
				break;
		}
	}
	dlog(LOG_NOTICE, "exiting");
	return 0;
}

void server_free(struct server *s)
{
	if (s == NULL)
		return;
	while (s->conns != NULL)
		conn_close(s, s->conns);
	bury(s);
	reporter_stop(s->reporter);
	s->reporter = NULL;
	if (s->rec != NULL) {
		/* Commit what is queued, then release the requests whose clients are gone. */
		recorder_stop(s->rec);
		for (struct rec_job *j = recorder_take_done(s->rec), *next; j != NULL; j = next) {
			next = j->next;
			free(j->owner);
			recorder_job_free(j);
		}
		recorder_free(s->rec);
		s->rec = NULL;
	}
	if (s->pool != NULL) {
		pool_stop(s->pool);
		s->pool = NULL;
	}
	for (size_t i = 0; s->buckets != NULL && i < s->nbuckets; i++) {
		struct dom *d = s->buckets[i];
		while (d != NULL) {
			struct dom *next = d->next;
			dom_free(d);
			d = next;
		}
	}
	free(s->buckets);
	for (size_t i = 0; i < s->n_listeners; i++) {
		struct listener *l = &s->listeners[i];
		if (l->fd >= 0)
			close(l->fd);
		if (l->path != NULL)
			unlink(l->path);
		free(l->path);
		free(l->spec);
	}
	free(s->listeners);
	if (s->dgram_fd >= 0)
		close(s->dgram_fd);
	if (s->dgram_path != NULL)
		unlink(s->dgram_path);
	free(s->dgram_path);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->epfd >= 0)
		close(s->epfd);
	stsguard_config_free(s->conf);
	free(s);
}
