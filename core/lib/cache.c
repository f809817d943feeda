/*
 * cache.c - persistent per-domain policy cache (see cache.h for the contract).
 *
 * Journal file "cache.journal" in cache_dir, one entry per line:
 *
 *   stsguard-cache 1                                  (header)
 *   E <domain> <policy_id> <mode> <max_age> <capped> <fetched_at> <expires_at>
 *     <txt_id> <txt_none_until> <last_failure> <last_failure_at> <failed_id>
 *     <next_retry> <failures> <mx,mx,...> <crc32>     (one line; "-" = empty)
 *   D <domain> <crc32>                                (removal)
 *
 * The last entry for a domain wins. Every line carries the CRC-32 of the
 * text before it, and each line is written with one write(2) on an O_APPEND
 * descriptor, so a kill -9 can at worst leave a torn last line, which fails
 * its checksum and is skipped at load. Compaction writes a fresh file, fsyncs
 * it and renames it over the journal: the old file stays whole until the
 * rename. One process at a time: an flock on "cache.lock", a file that is
 * never replaced (a lock on the journal itself would be lost to a waiter
 * holding the old, renamed-over file). Fields are validated at load as
 * strictly as fresh network input,
 * so a hand-edited or damaged file cannot smuggle in a bad mx pattern.
 */
#include "stsguard/cache.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "stsguard/mx_pattern.h"
#include "util.h"

#define JOURNAL "cache.journal"
#define LOCKFILE "cache.lock"
#define HEADER "stsguard-cache 1"
#define LINE_MAX_ (96u * 1024u)
#define LOCK_WAIT_MS 2000

/*
 * In memory an entry is kept as its journal line (without the checksum):
 * a policy costs about a hundred bytes instead of a decoded structure of
 * several hundred, and get() decodes it on demand (discovery, not the
 * daemon's hot path, is the only caller).
 */
struct slot {
	struct slot *next;
	uint32_t hash;
	uint32_t dlen; /* the domain is line[2 .. 2+dlen) */
	char line[];   /* "E domain ...", NUL-terminated */
};

struct stsguard_cache {
	char *dir;       /* NULL: memory only */
	int fd;          /* journal, O_APPEND; -1 when memory only */
	int lockfd;      /* cache.lock, flocked while open; -1 when memory only */
	struct slot **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
	size_t journal_lines;
	size_t skipped;
	pthread_mutex_t lock; /* the daemon's discovery threads share one cache */
};

static stsguard_status compact_locked(stsguard_cache *c, stsguard_err *err);

static uint32_t hash_domain(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

void stsguard_cache_entry_clear(stsguard_cache_entry *entry)
{
	if (entry == NULL)
		return;
	stsguard_policy_free(entry->policy);
	memset(entry, 0, sizeof *entry);
}

static stsguard_policy *policy_copy(const stsguard_policy *p)
{
	stsguard_policy *c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	*c = *p;
	c->mx = NULL;
	c->n_mx = 0;
	if (p->n_mx > 0) {
		c->mx = calloc(p->n_mx, sizeof *c->mx);
		if (c->mx == NULL) {
			free(c);
			return NULL;
		}
		for (size_t i = 0; i < p->n_mx; i++) {
			c->mx[i] = sg_strndup(p->mx[i], strlen(p->mx[i]));
			if (c->mx[i] == NULL) {
				stsguard_policy_free(c);
				return NULL;
			}
			c->n_mx++;
		}
	}
	return c;
}

stsguard_status stsguard_cache_entry_copy(stsguard_cache_entry *dst, const stsguard_cache_entry *src)
{
	*dst = *src;
	dst->policy = NULL;
	if (src->policy != NULL) {
		dst->policy = policy_copy(src->policy);
		if (dst->policy == NULL)
			return STSGUARD_NOMEM;
	}
	return STSGUARD_OK;
}

static struct slot **find_slot(stsguard_cache *c, const char *domain, uint32_t h)
{
	size_t dlen = strlen(domain);
	struct slot **pp = &c->buckets[h & (c->nbuckets - 1)];
	while (*pp != NULL &&
	       !((*pp)->hash == h && (*pp)->dlen == dlen && memcmp((*pp)->line + 2, domain, dlen) == 0))
		pp = &(*pp)->next;
	return pp;
}

static stsguard_status grow(stsguard_cache *c)
{
	size_t n = c->nbuckets * 2;
	struct slot **b = calloc(n, sizeof *b);
	if (b == NULL)
		return STSGUARD_NOMEM;
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct slot *s = c->buckets[i];
		while (s != NULL) {
			struct slot *next = s->next;
			s->next = b[s->hash & (n - 1)];
			b[s->hash & (n - 1)] = s;
			s = next;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = n;
	return STSGUARD_OK;
}

/* Insert or replace the line of domain (len bytes, copied). */
static stsguard_status mem_put_line(stsguard_cache *c, const char *domain, const char *line, size_t len)
{
	uint32_t h = hash_domain(domain);
	struct slot **pp = find_slot(c, domain, h);

	if (*pp == NULL && c->count + 1 > c->nbuckets) {
		if (grow(c) != STSGUARD_OK)
			return STSGUARD_NOMEM;
		pp = find_slot(c, domain, h);
	}
	struct slot *s = malloc(sizeof *s + len + 1);
	if (s == NULL)
		return STSGUARD_NOMEM;
	s->hash = h;
	s->dlen = (uint32_t)strlen(domain);
	memcpy(s->line, line, len);
	s->line[len] = '\0';
	if (*pp != NULL) {
		struct slot *old = *pp;
		s->next = old->next;
		*pp = s;
		free(old);
		return STSGUARD_OK;
	}
	s->next = NULL;
	*pp = s;
	c->count++;
	return STSGUARD_OK;
}

static bool mem_remove(stsguard_cache *c, const char *domain)
{
	uint32_t h = hash_domain(domain);
	struct slot **pp = find_slot(c, domain, h);
	if (*pp == NULL)
		return false;
	struct slot *s = *pp;
	*pp = s->next;
	free(s);
	c->count--;
	return true;
}

static void mem_clear(stsguard_cache *c)
{
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct slot *s = c->buckets[i];
		while (s != NULL) {
			struct slot *next = s->next;
			free(s);
			s = next;
		}
		c->buckets[i] = NULL;
	}
	c->count = 0;
}

/* ---- serialisation ---- */

static const char *tok(const char *s)
{
	return s[0] != '\0' ? s : "-";
}

static stsguard_status format_entry(sg_buf *b, const stsguard_cache_entry *e)
{
	const stsguard_policy *p = e->policy;
	stsguard_status st = sg_buf_printf(
	    b, "E %s %s %s %" PRIu32 " %d %" PRId64 " %" PRId64 " %s %" PRId64 " %d %" PRId64 " %s %" PRId64 " %" PRIu32 " ",
	    e->domain, tok(e->policy_id), p != NULL ? stsguard_mode_name(p->mode) : "-", p != NULL ? p->max_age : 0,
	    p != NULL && p->max_age_capped ? 1 : 0, e->fetched_at, e->expires_at, tok(e->txt_id), e->txt_none_until,
	    (int)e->last_failure, e->last_failure_at, tok(e->failed_id), e->next_retry, e->failures);
	if (st == STSGUARD_OK && (p == NULL || p->n_mx == 0))
		st = sg_buf_add(b, "-", 1);
	for (size_t i = 0; st == STSGUARD_OK && p != NULL && i < p->n_mx; i++) {
		if (i > 0)
			st = sg_buf_add(b, ",", 1);
		if (st == STSGUARD_OK)
			st = sg_buf_addstr(b, p->mx[i]);
	}
	return st;
}

static stsguard_status finish_line(sg_buf *b, size_t start)
{
	uLong crc = crc32(0L, (const Bytef *)b->data + start, (uInt)(b->len - start));
	return sg_buf_printf(b, " %08lx\n", crc);
}

static bool parse_i64(const char *s, int64_t *out)
{
	char *end;
	if (*s == '\0')
		return false;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}

static bool parse_id(const char *s, char out[STSGUARD_POLICY_ID_MAX + 1])
{
	if (strcmp(s, "-") == 0) {
		out[0] = '\0';
		return true;
	}
	size_t n = strlen(s);
	if (n == 0 || n > STSGUARD_POLICY_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!sg_is_alnum((unsigned char)s[i]))
			return false;
	memcpy(out, s, n + 1);
	return true;
}

static bool domain_ok(const char *d)
{
	size_t n = strlen(d);
	if (n == 0 || n > STSGUARD_DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)d[i];
		if (!(sg_is_alnum(ch) || ch == '-' || ch == '.' || ch == '_') || (ch >= 'A' && ch <= 'Z'))
			return false;
	}
	return true;
}

static bool id_ok(const char *id)
{
	char copy[STSGUARD_POLICY_ID_MAX + 1];
	size_t n = strnlen(id, STSGUARD_POLICY_ID_MAX + 1);
	return n <= STSGUARD_POLICY_ID_MAX && (n == 0 || parse_id(id, copy));
}

/* Only what load would accept back may be written. */
static bool entry_ok(const stsguard_cache_entry *e)
{
	if (!domain_ok(e->domain) || !id_ok(e->policy_id) || !id_ok(e->txt_id) || !id_ok(e->failed_id) ||
	    (unsigned)e->last_failure >= STSGUARD_REASON_MAX_)
		return false;
	const stsguard_policy *p = e->policy;
	if (p == NULL)
		return true;
	if (p->max_age > STSGUARD_MAX_AGE_LIMIT || p->n_mx > STSGUARD_POLICY_MX_MAX ||
	    (p->mode != STSGUARD_MODE_NONE && p->n_mx == 0))
		return false;
	for (size_t i = 0; i < p->n_mx; i++) {
		size_t n = strlen(p->mx[i]);
		if (stsguard_mx_pattern_check(p->mx[i], n, NULL) != STSGUARD_OK)
			return false;
		for (size_t k = 0; k < n; k++)
			if (p->mx[i][k] >= 'A' && p->mx[i][k] <= 'Z')
				return false;
	}
	return true;
}

static stsguard_status parse_mx_list(const char *s, stsguard_policy *p)
{
	if (strcmp(s, "-") == 0)
		return STSGUARD_OK;
	size_t n = 1;
	for (const char *q = s; *q != '\0'; q++)
		n += *q == ',';
	if (n > STSGUARD_POLICY_MX_MAX)
		return STSGUARD_INVALID;
	p->mx = calloc(n, sizeof *p->mx);
	if (p->mx == NULL)
		return STSGUARD_NOMEM;
	const char *q = s;
	for (;;) {
		size_t len = strcspn(q, ",");
		if (stsguard_mx_pattern_check(q, len, NULL) != STSGUARD_OK)
			return STSGUARD_INVALID;
		p->mx[p->n_mx] = sg_strndup(q, len);
		if (p->mx[p->n_mx] == NULL)
			return STSGUARD_NOMEM;
		p->n_mx++;
		if (q[len] == '\0')
			break;
		q += len + 1;
	}
	return STSGUARD_OK;
}

/* Decode an "E ..." line (modified in place) into e (e->policy allocated). */
static bool parse_entry_line(char *line, stsguard_cache_entry *e)
{
	char *f[17];
	size_t nf = 0;
	for (char *p = line; nf < 17;) {
		f[nf++] = p;
		char *sp = strchr(p, ' ');
		if (sp == NULL)
			break;
		*sp = '\0';
		p = sp + 1;
	}
	memset(e, 0, sizeof *e);
	if (nf != 16 || strcmp(f[0], "E") != 0 || !domain_ok(f[1]))
		return false;
	memcpy(e->domain, f[1], strlen(f[1]) + 1);
	int64_t max_age, capped, reason, failures;
	if (!parse_id(f[2], e->policy_id) || !parse_i64(f[4], &max_age) || !parse_i64(f[5], &capped) ||
	    !parse_i64(f[6], &e->fetched_at) || !parse_i64(f[7], &e->expires_at) || !parse_id(f[8], e->txt_id) ||
	    !parse_i64(f[9], &e->txt_none_until) || !parse_i64(f[10], &reason) ||
	    !parse_i64(f[11], &e->last_failure_at) || !parse_id(f[12], e->failed_id) ||
	    !parse_i64(f[13], &e->next_retry) || !parse_i64(f[14], &failures))
		return false;
	if (reason < 0 || reason >= STSGUARD_REASON_MAX_ || failures < 0 || failures > UINT32_MAX || max_age < 0 ||
	    max_age > STSGUARD_MAX_AGE_LIMIT)
		return false;
	e->last_failure = (stsguard_reason)reason;
	e->failures = (uint32_t)failures;
	if (strcmp(f[3], "-") != 0) {
		stsguard_policy *p = calloc(1, sizeof *p);
		if (p == NULL)
			return false;
		if (strcmp(f[3], "enforce") == 0)
			p->mode = STSGUARD_MODE_ENFORCE;
		else if (strcmp(f[3], "testing") == 0)
			p->mode = STSGUARD_MODE_TESTING;
		else if (strcmp(f[3], "none") == 0)
			p->mode = STSGUARD_MODE_NONE;
		else {
			free(p);
			return false;
		}
		p->max_age = (uint32_t)max_age;
		p->max_age_capped = capped != 0;
		if (parse_mx_list(f[15], p) != STSGUARD_OK || (p->mode != STSGUARD_MODE_NONE && p->n_mx == 0)) {
			stsguard_policy_free(p);
			return false;
		}
		e->policy = p;
	}
	return true;
}

/* Decode a stored line (left untouched) into e. */
static stsguard_status decode_slot(const struct slot *sl, stsguard_cache_entry *e)
{
	size_t len = strlen(sl->line);
	char stackbuf[1024];
	char *tmp = len < sizeof stackbuf ? stackbuf : malloc(len + 1);
	if (tmp == NULL)
		return STSGUARD_NOMEM;
	memcpy(tmp, sl->line, len + 1);
	bool ok = parse_entry_line(tmp, e);
	if (tmp != stackbuf)
		free(tmp);
	if (!ok) {
		stsguard_cache_entry_clear(e);
		return STSGUARD_INVALID; /* cannot happen: lines are validated before they are stored */
	}
	return STSGUARD_OK;
}

/* Apply one journal line (without its '\n'); false if it is not a valid line. */
static bool apply_line(stsguard_cache *c, char *line, size_t len)
{
	if (len < 10 || line[len - 9] != ' ')
		return false;
	char *sp = line + len - 9;
	uLong crc = crc32(0L, (const Bytef *)line, (uInt)(sp - line));
	char want[9];
	snprintf(want, sizeof want, "%08lx", crc);
	if (memcmp(sp + 1, want, 8) != 0)
		return false;
	*sp = '\0';
	size_t tlen = (size_t)(sp - line);

	if (tlen > 2 && line[0] == 'D' && line[1] == ' ' && strchr(line + 2, ' ') == NULL && domain_ok(line + 2)) {
		mem_remove(c, line + 2);
		return true;
	}
	/* Validate by decoding a copy; store the text itself. */
	char *copy = sg_strndup(line, tlen);
	if (copy == NULL)
		return false;
	stsguard_cache_entry e;
	bool ok = parse_entry_line(copy, &e) && entry_ok(&e);
	if (ok)
		ok = mem_put_line(c, e.domain, line, tlen) == STSGUARD_OK;
	stsguard_cache_entry_clear(&e);
	free(copy);
	return ok;
}

static char *dir_path(const stsguard_cache *c, const char *name, const char *suffix)
{
	sg_buf b;
	sg_buf_init(&b, 8192);
	if (sg_buf_printf(&b, "%s/%s%s", c->dir, name, suffix) != STSGUARD_OK) {
		sg_buf_free(&b);
		return NULL;
	}
	return sg_buf_take(&b);
}

static stsguard_status load(stsguard_cache *c, FILE *f, stsguard_err *err)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	bool first = true;

	while ((n = getline(&line, &cap, f)) > 0) {
		size_t len = (size_t)n;
		bool complete = line[len - 1] == '\n';
		if (complete)
			len--;
		if (first) {
			first = false;
			if (len == strlen(HEADER) && memcmp(line, HEADER, len) == 0)
				continue;
			free(line);
			return sg_err(err, STSGUARD_INVALID, "%s/%s is not a stsguard cache (bad header)", c->dir, JOURNAL);
		}
		c->journal_lines++;
		if (!complete || len > LINE_MAX_ || !apply_line(c, line, len))
			c->skipped++;
	}
	free(line);
	return STSGUARD_OK;
}

static stsguard_status write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return STSGUARD_IO;
		p += w;
		len -= (size_t)w;
	}
	return STSGUARD_OK;
}

static stsguard_status lock_cache(int fd, const char *path, stsguard_err *err)
{
	for (int waited = 0;; waited += 50) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return STSGUARD_OK;
		if (errno != EWOULDBLOCK || waited >= LOCK_WAIT_MS)
			return sg_err(err, STSGUARD_TEMPFAIL, "%s is in use by another process (stsguardd?)", path);
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

stsguard_status stsguard_cache_open(const char *dir, stsguard_cache **out, stsguard_err *err)
{
	stsguard_cache *c = calloc(1, sizeof *c);
	stsguard_status st;

	*out = NULL;
	if (c == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	c->fd = -1;
	c->lockfd = -1;
	pthread_mutex_init(&c->lock, NULL);
	c->nbuckets = 64;
	c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
	if (c->buckets == NULL) {
		free(c);
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	}
	if (dir == NULL) {
		*out = c;
		return STSGUARD_OK;
	}
	c->dir = sg_strndup(dir, strlen(dir));
	char *path = c->dir != NULL ? dir_path(c, JOURNAL, "") : NULL;
	char *tmp = c->dir != NULL ? dir_path(c, JOURNAL, ".tmp") : NULL;
	char *lockpath = c->dir != NULL ? dir_path(c, LOCKFILE, "") : NULL;
	if (path == NULL || tmp == NULL || lockpath == NULL) {
		st = sg_err(err, STSGUARD_NOMEM, "out of memory");
		goto fail;
	}
	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		st = sg_err(err, STSGUARD_IO, "cannot create %s: %s", dir, strerror(errno));
		goto fail;
	}
	c->lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (c->lockfd < 0) {
		st = sg_err(err, STSGUARD_IO, "cannot open %s: %s", lockpath, strerror(errno));
		goto fail;
	}
	st = lock_cache(c->lockfd, dir, err);
	if (st != STSGUARD_OK)
		goto fail;
	c->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (c->fd < 0) {
		st = sg_err(err, STSGUARD_IO, "cannot open %s: %s", path, strerror(errno));
		goto fail;
	}
	unlink(tmp); /* left over from a compaction that was killed */

	struct stat sb;
	if (fstat(c->fd, &sb) != 0) {
		st = sg_err(err, STSGUARD_IO, "cannot stat %s: %s", path, strerror(errno));
		goto fail;
	}
	if (sb.st_size == 0) {
		st = write_all(c->fd, HEADER "\n", strlen(HEADER) + 1);
		if (st != STSGUARD_OK) {
			sg_err(err, st, "cannot write %s: %s", path, strerror(errno));
			goto fail;
		}
	} else {
		int rfd = open(path, O_RDONLY | O_CLOEXEC);
		FILE *f = rfd >= 0 ? fdopen(rfd, "r") : NULL;
		if (f == NULL) {
			if (rfd >= 0)
				close(rfd);
			st = sg_err(err, STSGUARD_IO, "cannot read %s: %s", path, strerror(errno));
			goto fail;
		}
		st = load(c, f, err);
		fclose(f);
		if (st != STSGUARD_OK)
			goto fail;
		/* A torn or corrupt line: rewrite the journal without it. */
		if (c->skipped > 0 && (st = compact_locked(c, err)) != STSGUARD_OK)
			goto fail;
	}
	free(path);
	free(tmp);
	free(lockpath);
	*out = c;
	return STSGUARD_OK;
fail:
	free(path);
	free(tmp);
	free(lockpath);
	stsguard_cache_close(c);
	return st;
}

void stsguard_cache_close(stsguard_cache *c)
{
	if (c == NULL)
		return;
	mem_clear(c);
	free(c->buckets);
	if (c->fd >= 0)
		close(c->fd);
	if (c->lockfd >= 0)
		close(c->lockfd); /* releases the flock */
	free(c->dir);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

stsguard_status stsguard_cache_get(stsguard_cache *c, const char *domain, stsguard_cache_entry *out)
{
	memset(out, 0, sizeof *out);
	if (c == NULL || domain == NULL)
		return STSGUARD_NONE;
	pthread_mutex_lock(&c->lock);
	struct slot **pp = find_slot(c, domain, hash_domain(domain));
	stsguard_status st = *pp == NULL ? STSGUARD_NONE : decode_slot(*pp, out);
	pthread_mutex_unlock(&c->lock);
	return st;
}

static stsguard_status append(stsguard_cache *c, sg_buf *b, stsguard_err *err)
{
	if (c->fd < 0)
		return STSGUARD_OK;
	if (write_all(c->fd, b->data, b->len) != STSGUARD_OK || fdatasync(c->fd) != 0)
		return sg_err(err, STSGUARD_IO, "cannot append to %s/%s: %s", c->dir, JOURNAL, strerror(errno));
	c->journal_lines++;
	/* Keep the journal within a small multiple of the live data. */
	if (c->journal_lines > 1024 && c->journal_lines > 4 * c->count)
		return compact_locked(c, err);
	return STSGUARD_OK;
}

static stsguard_status put_locked(stsguard_cache *c, const stsguard_cache_entry *entry, stsguard_err *err)
{
	sg_buf b;
	stsguard_status st;

	if (c == NULL || entry == NULL || !entry_ok(entry))
		return sg_err(err, STSGUARD_BADARG, "cache entry that could not be loaded again");
	sg_buf_init(&b, LINE_MAX_);
	st = format_entry(&b, entry);
	size_t tlen = b.len;
	if (st == STSGUARD_OK && mem_put_line(c, entry->domain, b.data, tlen) != STSGUARD_OK)
		st = STSGUARD_NOMEM;
	if (st == STSGUARD_OK)
		st = finish_line(&b, 0);
	if (st != STSGUARD_OK) {
		sg_buf_free(&b);
		return sg_err(err, st, "cannot store the cache entry for %s", entry->domain);
	}
	st = append(c, &b, err);
	sg_buf_free(&b);
	return st;
}

stsguard_status stsguard_cache_put(stsguard_cache *c, const stsguard_cache_entry *entry, stsguard_err *err)
{
	if (c == NULL)
		return sg_err(err, STSGUARD_BADARG, "no cache");
	pthread_mutex_lock(&c->lock);
	stsguard_status st = put_locked(c, entry, err);
	pthread_mutex_unlock(&c->lock);
	return st;
}

static stsguard_status purge_locked(stsguard_cache *c, const char *domain, stsguard_err *err)
{
	if (domain == NULL) {
		mem_clear(c);
		return compact_locked(c, err);
	}
	if (!mem_remove(c, domain))
		return STSGUARD_NONE;
	sg_buf b;
	sg_buf_init(&b, 1024);
	stsguard_status st = sg_buf_printf(&b, "D %s", domain);
	if (st == STSGUARD_OK)
		st = finish_line(&b, 0);
	if (st == STSGUARD_OK)
		st = append(c, &b, err);
	sg_buf_free(&b);
	return st;
}

stsguard_status stsguard_cache_purge(stsguard_cache *c, const char *domain, stsguard_err *err)
{
	if (c == NULL)
		return STSGUARD_BADARG;
	pthread_mutex_lock(&c->lock);
	stsguard_status st = purge_locked(c, domain, err);
	pthread_mutex_unlock(&c->lock);
	return st;
}

stsguard_status stsguard_cache_compact(stsguard_cache *c, stsguard_err *err)
{
	if (c == NULL)
		return STSGUARD_OK;
	pthread_mutex_lock(&c->lock);
	stsguard_status st = compact_locked(c, err);
	pthread_mutex_unlock(&c->lock);
	return st;
}

size_t stsguard_cache_count(const stsguard_cache *c)
{
	return c != NULL ? c->count : 0;
}

size_t stsguard_cache_skipped(const stsguard_cache *c)
{
	return c != NULL ? c->skipped : 0;
}

void stsguard_cache_foreach(stsguard_cache *c, int (*fn)(void *ctx, const stsguard_cache_entry *e), void *ctx)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->nbuckets; i++)
		for (struct slot *s = c->buckets[i]; s != NULL; s = s->next) {
			stsguard_cache_entry e;
			if (decode_slot(s, &e) != STSGUARD_OK)
				continue;
			int stop = fn(ctx, &e);
			stsguard_cache_entry_clear(&e);
			if (stop)
				goto out;
		}
out:
	pthread_mutex_unlock(&c->lock);
}

static stsguard_status compact_locked(stsguard_cache *c, stsguard_err *err)
{
	if (c == NULL || c->fd < 0)
		return STSGUARD_OK;
	char *path = dir_path(c, JOURNAL, "");
	char *tmp = dir_path(c, JOURNAL, ".tmp");
	sg_buf b;
	stsguard_status st = STSGUARD_OK;
	int fd = -1, dfd, nfd;

	sg_buf_init(&b, (size_t)1 << 30);
	if (path == NULL || tmp == NULL) {
		st = sg_err(err, STSGUARD_NOMEM, "out of memory");
		goto out;
	}
	st = sg_buf_addstr(&b, HEADER "\n");
	for (size_t i = 0; st == STSGUARD_OK && i < c->nbuckets; i++)
		for (struct slot *s = c->buckets[i]; st == STSGUARD_OK && s != NULL; s = s->next) {
			size_t start = b.len;
			st = sg_buf_addstr(&b, s->line);
			if (st == STSGUARD_OK)
				st = finish_line(&b, start);
		}
	if (st != STSGUARD_OK) {
		sg_err(err, st, "cannot serialise the cache");
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0 || write_all(fd, b.data, b.len) != STSGUARD_OK || fsync(fd) != 0) {
		st = sg_err(err, STSGUARD_IO, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, path) != 0) {
		st = sg_err(err, STSGUARD_IO, "cannot replace %s: %s", path, strerror(errno));
		goto out;
	}
	dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	close(fd);
	fd = -1;
	nfd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
	if (nfd < 0) {
		st = sg_err(err, STSGUARD_IO, "cannot reopen %s: %s", path, strerror(errno));
		goto out;
	}
	close(c->fd);
	c->fd = nfd;
	c->journal_lines = c->count;
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	sg_buf_free(&b);
	free(path);
	free(tmp);
	return st;
}
