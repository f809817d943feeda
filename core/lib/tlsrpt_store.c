/*
 * tlsrpt_store.c - the durable, append-only store of TLS-RPT results (see
 * tlsrpt_store.h for the contract and the line format).
 *
 * Why it looks like this:
 *
 * - One file per UTC day, because RFC 8460 §4.1 reports cover exactly one
 *   UTC day: the report builder reads one file, and retention is an unlink.
 *
 * - A result is acknowledged only after fdatasync(2) of its line (and an
 *   fsync of the directory when its day file was new), so an acknowledged
 *   result survives kill -9 and power loss. A sync costs ~0.1-10 ms, so
 *   syncs are shared: group commit with a leader-follower scheme. Adders
 *   append their encoded lines to a per-day pending buffer under the mutex
 *   and wait; whoever finds no commit in progress becomes the leader, takes
 *   every pending line and waiter, and writes + syncs them without the mutex
 *   while new lines pile up for the next leader. One write(2) per day file
 *   per commit, so the fewer the syncs the bigger the writes.
 *
 * - Encoding, validation and CRC happen before the mutex, in the caller's
 *   thread; under the mutex there is only a memcpy, so adders on both cores
 *   scale and the leader's I/O overlaps with everybody else's encoding.
 *
 * - Torn lines: a crash can leave a partial last line (never acknowledged).
 *   Before appending to a file whose last byte is not '\n' a newline is
 *   written first, so the fragment stays a line of its own that fails its
 *   CRC instead of swallowing the next, acknowledged, line. After a failed
 *   write the file is truncated back to its last good size.
 *
 * - Bounded disk: results outside [today - retention_days, today + 1] are
 *   refused, each day file has a byte cap (counted, not stored, beyond it),
 *   expire() unlinks old days. Lines are validated on read exactly like an
 *   adapter's input (CRC, then stsguard_tlsrpt_result_decode, then "is it
 *   this file's day"), so a damaged file cannot smuggle anything in.
 *
 * Locking: `mu` guards the day table, pending buffers, waiters and stats.
 * `io_busy` is a token held by the commit leader or by expire(): only its
 * holder touches file descriptors, the `writing` buffers, and removes days.
 * Day structs are heap objects that only the token holder frees, so a
 * leader can use them without the mutex. Each waiter sleeps on its own
 * condition variable: a finished commit wakes exactly its own waiters plus
 * the first queued adder (the next leader), not every sleeping thread - with
 * 64 adders a broadcast cost more CPU than the encoding.
 *
 * Why a new leader does not wait for more lines: with few blocking adders
 * (8 threads) commits alternate between two halves of them, because those
 * just answered are still making their next result when the next commit
 * starts. Waiting for them would trade every caller's latency for
 * throughput; callers with many results should use add_batch instead.
 */
#include "stsguard/tlsrpt_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "util.h"

#define LOCKFILE "tlsrpt.lock"
#define SUFFIX ".results"
#define NAME_LEN (STSGUARD_TLSRPT_DAY_LEN + sizeof SUFFIX - 1) /* "YYYY-MM-DD.results" */
#define CRC_LEN 9                                             /* " xxxxxxxx" */
#define LOCK_WAIT_MS 2000
#define MAX_OPEN_FDS 4
#define SPARE_KEEP (1u << 20) /* largest pending buffer kept for reuse */
#define READ_CHUNK (64u * 1024u)

/* A growable byte buffer without a cap: what goes in is bounded by the day cap. */
struct gbuf {
	char *p;
	size_t len, cap;
};

static bool gbuf_reserve(struct gbuf *b, size_t need)
{
	if (b->cap - b->len >= need)
		return true;
	size_t ncap = b->cap ? b->cap : 4096;
	while (ncap - b->len < need)
		ncap *= 2;
	char *p = realloc(b->p, ncap);
	if (p == NULL)
		return false;
	b->p = p;
	b->cap = ncap;
	return true;
}

static bool gbuf_add(struct gbuf *b, const char *s, size_t n)
{
	if (!gbuf_reserve(b, n))
		return false;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return true;
}

static void gbuf_free(struct gbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

struct day {
	int64_t dayno;       /* days since 1970-01-01 */
	/* under mu */
	uint64_t bytes;      /* file size plus accepted pending lines: what the cap is checked on */
	uint64_t durable;    /* prefix of the file that readers may look at */
	struct gbuf pending; /* lines waiting for the next commit */
	struct gbuf spare;   /* an emptied buffer kept for reuse */
	/* io_busy holder only */
	struct gbuf writing; /* the lines of the commit in progress */
	struct day *batch_next;
	int fd;              /* O_APPEND, -1 when closed */
	uint64_t file_size;  /* our idea of the file's size */
	bool need_newline;   /* the file ends in a torn line */
	bool need_dir_sync;  /* created, and the directory entry is not yet known durable */
	uint64_t last_used;  /* commit number, for closing the least recently used fd */
	bool commit_ok;      /* the last commit of this day succeeded */
};

struct waiter {
	struct waiter *next;
	bool done;
	stsguard_status st;
	stsguard_err *err;
	pthread_cond_t cv; /* its own: a commit wakes its waiters and the next leader, nobody else */
};

struct stsguard_tlsrpt_store {
	char *dir;
	int dirfd;
	int lockfd;
	unsigned retention_days;
	uint64_t max_day_bytes;
	bool read_only;
	int64_t (*clock)(void *);
	void *clock_ctx;

	pthread_mutex_t mu;
	pthread_cond_t cv;     /* for token_waiters (expire) */
	size_t token_waiters;
	bool io_busy;
	struct day **days;
	size_t ndays, capdays;
	struct day *last_day; /* lookup cache */
	struct waiter *wait_head;
	struct waiter **wait_tail;
	size_t open_fds;
	uint64_t commit_no;
	stsguard_tlsrpt_store_stats stats;
};

static int64_t wall_clock(void *ctx)
{
	(void)ctx;
	return (int64_t)time(NULL);
}

static int64_t day_of(int64_t t)
{
	return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
}

/* "YYYY-MM-DD.results" of a day number. */
static void file_name(int64_t dayno, char name[NAME_LEN + 1])
{
	char day[STSGUARD_TLSRPT_DAY_LEN + 1];
	if (stsguard_tlsrpt_day_name(dayno * 86400, day) != STSGUARD_OK)
		snprintf(day, sizeof day, "0000-00-00");
	snprintf(name, NAME_LEN + 1, "%s" SUFFIX, day);
}

/* Day number of a store file name, or false for anything else. */
static bool parse_file_name(const char *name, int64_t *dayno)
{
	char day[STSGUARD_TLSRPT_DAY_LEN + 1];
	int64_t start;

	if (strlen(name) != NAME_LEN || strcmp(name + STSGUARD_TLSRPT_DAY_LEN, SUFFIX) != 0)
		return false;
	memcpy(day, name, STSGUARD_TLSRPT_DAY_LEN);
	day[STSGUARD_TLSRPT_DAY_LEN] = '\0';
	if (stsguard_tlsrpt_day_parse(day, &start) != STSGUARD_OK)
		return false;
	*dayno = start / 86400;
	return true;
}

static stsguard_status write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return STSGUARD_IO;
		}
		p += w;
		len -= (size_t)w;
	}
	return STSGUARD_OK;
}

/* ---- the day table (under mu) ---- */

static struct day *day_find(stsguard_tlsrpt_store *s, int64_t dayno)
{
	if (s->last_day != NULL && s->last_day->dayno == dayno)
		return s->last_day;
	for (size_t i = 0; i < s->ndays; i++)
		if (s->days[i]->dayno == dayno)
			return s->last_day = s->days[i];
	return NULL;
}

/* The day's entry, created (with the file's current size) if needed; NULL: out of memory. */
static struct day *day_get(stsguard_tlsrpt_store *s, int64_t dayno)
{
	struct day *d = day_find(s, dayno);
	if (d != NULL)
		return d;
	if (s->ndays == s->capdays) {
		size_t ncap = s->capdays ? 2 * s->capdays : 8;
		struct day **nd = realloc(s->days, ncap * sizeof *nd);
		if (nd == NULL)
			return NULL;
		s->days = nd;
		s->capdays = ncap;
	}
	d = calloc(1, sizeof *d);
	if (d == NULL)
		return NULL;
	d->dayno = dayno;
	d->fd = -1;
	/* Nothing of ours is in flight for a day without an entry, so the size is settled. */
	char name[NAME_LEN + 1];
	struct stat sb;
	file_name(dayno, name);
	if (fstatat(s->dirfd, name, &sb, 0) == 0)
		d->bytes = d->durable = (uint64_t)sb.st_size;
	s->days[s->ndays++] = d;
	return s->last_day = d;
}

/* Remove and free entry i; the caller holds mu and the io token. */
static void day_remove(stsguard_tlsrpt_store *s, size_t i)
{
	struct day *d = s->days[i];
	if (d->fd >= 0) {
		close(d->fd);
		s->open_fds--;
	}
	gbuf_free(&d->pending);
	gbuf_free(&d->spare);
	gbuf_free(&d->writing);
	free(d);
	s->days[i] = s->days[--s->ndays];
	s->last_day = NULL;
}

/* ---- commit (the leader) ---- */

static stsguard_status day_open(stsguard_tlsrpt_store *s, struct day *d, stsguard_err *err)
{
	char name[NAME_LEN + 1];
	struct stat sb;

	file_name(d->dayno, name);
	d->fd = openat(s->dirfd, name, O_RDWR | O_APPEND | O_CLOEXEC);
	if (d->fd < 0 && errno == ENOENT) {
		d->fd = openat(s->dirfd, name, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (d->fd >= 0)
			d->need_dir_sync = true;
	}
	if (d->fd < 0)
		return sg_err(err, STSGUARD_IO, "cannot open %s/%s: %s", s->dir, name, strerror(errno));
	if (fstat(d->fd, &sb) != 0) {
		sg_err(err, STSGUARD_IO, "cannot stat %s/%s: %s", s->dir, name, strerror(errno));
		close(d->fd);
		d->fd = -1;
		return STSGUARD_IO;
	}
	d->file_size = (uint64_t)sb.st_size;
	d->need_newline = false;
	if (sb.st_size > 0) {
		/* A torn last line from a crash: end it before appending (never acknowledged). */
		char last = '\0';
		if (pread(d->fd, &last, 1, sb.st_size - 1) != 1)
			last = '\0';
		d->need_newline = last != '\n';
	}
	s->open_fds++;
	return STSGUARD_OK;
}

/* Append the day's `writing` buffer and sync it. */
static stsguard_status day_commit(stsguard_tlsrpt_store *s, struct day *d, uint64_t *syncs, stsguard_err *err)
{
	char name[NAME_LEN + 1];
	stsguard_status st;

	file_name(d->dayno, name);
	if (d->fd < 0 && (st = day_open(s, d, err)) != STSGUARD_OK)
		return st;
	d->last_used = s->commit_no;
	st = STSGUARD_OK;
	if (d->need_newline)
		st = write_all(d->fd, "\n", 1);
	if (st == STSGUARD_OK)
		st = write_all(d->fd, d->writing.p, d->writing.len);
	if (st != STSGUARD_OK) {
		int e = errno;
		/* Take back what part of the batch made it, so the next line starts a line. */
		if (ftruncate(d->fd, (off_t)d->file_size) != 0) {
			/*
			 * The fragment stays. file_size must say so: durable is set
			 * from it after the next commit, and a bound short of the
			 * file's real end would cut the last acknowledged line.
			 */
			struct stat sb;
			if (fstat(d->fd, &sb) == 0) {
				d->file_size = (uint64_t)sb.st_size;
				d->need_newline = true;
			} else {
				close(d->fd); /* day_open measures the file again */
				d->fd = -1;
				s->open_fds--;
			}
		}
		return sg_err(err, STSGUARD_IO, "cannot append to %s/%s: %s", s->dir, name, strerror(e));
	}
	d->file_size += d->writing.len + (d->need_newline ? 1 : 0);
	d->need_newline = false;
	(*syncs)++;
	if (fdatasync(d->fd) != 0)
		return sg_err(err, STSGUARD_IO, "cannot sync %s/%s: %s", s->dir, name, strerror(errno));
	if (d->need_dir_sync) {
		(*syncs)++;
		if (fsync(s->dirfd) != 0)
			return sg_err(err, STSGUARD_IO, "cannot sync the directory %s: %s", s->dir, strerror(errno));
		d->need_dir_sync = false;
	}
	return STSGUARD_OK;
}

/* Close least recently used descriptors of days outside the batch (mu and token held). */
static void trim_fds(stsguard_tlsrpt_store *s, size_t want_free)
{
	while (s->open_fds + want_free > MAX_OPEN_FDS) {
		struct day *victim = NULL;
		for (size_t i = 0; i < s->ndays; i++) {
			struct day *d = s->days[i];
			if (d->fd >= 0 && d->writing.len == 0 && (victim == NULL || d->last_used < victim->last_used))
				victim = d;
		}
		if (victim == NULL)
			return;
		close(victim->fd);
		victim->fd = -1;
		s->open_fds--;
	}
}

/* Take the io token (mu held): wait until no commit or expire runs. */
static void take_token(stsguard_tlsrpt_store *s)
{
	s->token_waiters++;
	while (s->io_busy)
		pthread_cond_wait(&s->cv, &s->mu);
	s->token_waiters--;
	s->io_busy = true;
}

/* Release the token (mu held): the first queued adder leads the next commit. */
static void give_token(stsguard_tlsrpt_store *s)
{
	s->io_busy = false;
	if (s->wait_head != NULL)
		pthread_cond_signal(&s->wait_head->cv);
	if (s->token_waiters > 0)
		pthread_cond_broadcast(&s->cv);
}

/*
 * Become the leader: called with mu held and io_busy false; returns with mu
 * held and io_busy false again, every waiter of this commit answered.
 */
static void lead(stsguard_tlsrpt_store *s)
{
	struct waiter *waiters = s->wait_head;
	struct day *batch = NULL;
	size_t need_fds = 0;
	stsguard_err lerr = {""};
	stsguard_status st = STSGUARD_OK;
	uint64_t syncs = 0, bytes = 0;

	s->io_busy = true;
	s->wait_head = NULL;
	s->wait_tail = &s->wait_head;
	s->commit_no++;
	for (size_t i = 0; i < s->ndays; i++) {
		struct day *d = s->days[i];
		if (d->pending.len == 0)
			continue;
		d->writing = d->pending;
		d->pending = d->spare;
		memset(&d->spare, 0, sizeof d->spare);
		d->batch_next = batch;
		batch = d;
		bytes += d->writing.len;
		need_fds += d->fd < 0;
	}
	if (need_fds > 0)
		trim_fds(s, need_fds);
	pthread_mutex_unlock(&s->mu);

	for (struct day *d = batch; d != NULL; d = d->batch_next) {
		stsguard_status dst = day_commit(s, d, &syncs, st == STSGUARD_OK ? &lerr : NULL);
		d->commit_ok = dst == STSGUARD_OK;
		if (dst != STSGUARD_OK && st == STSGUARD_OK)
			st = dst;
	}

	pthread_mutex_lock(&s->mu);
	for (struct day *d = batch; d != NULL; d = d->batch_next) {
		if (d->commit_ok)
			d->durable = d->file_size;
		/* Exact again: what the file holds (a failed write was truncated away) plus what waits. */
		d->bytes = d->file_size + d->pending.len;
		d->writing.len = 0;
		if (d->spare.p == NULL && d->writing.cap <= SPARE_KEEP)
			d->spare = d->writing;
		else
			gbuf_free(&d->writing);
		memset(&d->writing, 0, sizeof d->writing);
	}
	if (s->open_fds > MAX_OPEN_FDS)
		trim_fds(s, 0);
	s->stats.commits++;
	s->stats.syncs += syncs;
	if (st == STSGUARD_OK)
		s->stats.bytes += bytes;
	else
		s->stats.io_errors++;
	for (struct waiter *w = waiters, *next; w != NULL; w = next) {
		next = w->next; /* w is gone once its thread runs again */
		w->st = st;
		if (st != STSGUARD_OK && w->err != NULL)
			*w->err = lerr;
		w->done = true;
		pthread_cond_signal(&w->cv);
	}
	give_token(s);
}


/* ---- adding ---- */

/* Encoded lines of one add call. */
struct lines {
	struct gbuf buf;
	size_t *end;     /* end offset of line i in buf */
	int64_t *dayno;
	size_t n;
};

static stsguard_status encode_line(struct lines *ls, size_t i, const stsguard_tlsrpt_result *r, stsguard_err *err)
{
	size_t len = 0;
	stsguard_status st;

	if (!gbuf_reserve(&ls->buf, 2048 + CRC_LEN + 2))
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	st = stsguard_tlsrpt_result_encode(r, ls->buf.p + ls->buf.len, ls->buf.cap - ls->buf.len, &len, err);
	if (st == STSGUARD_TOOBIG) {
		if (!gbuf_reserve(&ls->buf, len + CRC_LEN + 2))
			return sg_err(err, STSGUARD_NOMEM, "out of memory");
		st = stsguard_tlsrpt_result_encode(r, ls->buf.p + ls->buf.len, ls->buf.cap - ls->buf.len, &len, err);
	}
	if (st != STSGUARD_OK)
		return st;
	if (!gbuf_reserve(&ls->buf, len + CRC_LEN + 2))
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	char *line = ls->buf.p + ls->buf.len;
	uLong crc = crc32(0L, (const Bytef *)line, (uInt)len);
	snprintf(line + len, CRC_LEN + 2, " %08lx", crc & 0xffffffffUL);
	line[len + CRC_LEN] = '\n';
	ls->buf.len += len + CRC_LEN + 1;
	ls->end[i] = ls->buf.len;
	ls->dayno[i] = day_of(r->time);
	return STSGUARD_OK;
}

/* Validate, encode and checksum every result, outside the mutex. */
static stsguard_status encode_all(stsguard_tlsrpt_store *s, struct lines *ls, const stsguard_tlsrpt_result *rs,
                                  size_t n, stsguard_err *err)
{
	int64_t today = day_of(s->clock(s->clock_ctx));

	for (size_t i = 0; i < n; i++) {
		stsguard_err e1 = {""};
		stsguard_status st = encode_line(ls, i, &rs[i], &e1);
		if (st == STSGUARD_OK && (ls->dayno[i] < today - (int64_t)s->retention_days || ls->dayno[i] > today + 1)) {
			char day[STSGUARD_TLSRPT_DAY_LEN + 1];
			stsguard_tlsrpt_day_name(rs[i].time, day);
			st = sg_err(&e1, STSGUARD_INVALID, "its day %s is outside the store's window (%u days before today)",
			            day, s->retention_days);
		}
		if (st != STSGUARD_OK) {
			/* TOOBIG from the check means an over-long field; add keeps TOOBIG for "day full". */
			if (st == STSGUARD_TOOBIG)
				st = STSGUARD_INVALID;
			if (n == 1)
				return sg_err(err, st, "result: %s", e1.msg);
			return sg_err(err, st, "result %zu of %zu: %s", i, n, e1.msg);
		}
	}
	return STSGUARD_OK;
}

/*
 * Under the mutex: queue the lines (or drop those whose day is full) and
 * wait until a commit has made them durable, leading it if nobody else is.
 */
static stsguard_status queue_and_wait(stsguard_tlsrpt_store *s, const struct lines *ls, size_t *stored,
                                      size_t *dropped, int64_t *full_day, stsguard_err *err)
{
	stsguard_status st = STSGUARD_OK;
	struct waiter w = {.next = NULL, .done = false, .st = STSGUARD_OK, .err = err};
	size_t start = 0;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < ls->n; i++) {
		const char *line = ls->buf.p + start;
		size_t len = ls->end[i] - start;
		start = ls->end[i];
		struct day *d = day_get(s, ls->dayno[i]);
		if (d == NULL) {
			st = STSGUARD_NOMEM;
			break;
		}
		if (d->bytes + len > s->max_day_bytes) {
			(*dropped)++;
			*full_day = d->dayno;
			continue;
		}
		if (!gbuf_add(&d->pending, line, len)) {
			st = STSGUARD_NOMEM;
			break;
		}
		d->bytes += len;
		(*stored)++;
	}
	s->stats.dropped += *dropped;
	if (*stored > 0) {
		w.err = st == STSGUARD_OK ? err : NULL;
		pthread_cond_init(&w.cv, NULL);
		*s->wait_tail = &w;
		s->wait_tail = &w.next;
		while (!w.done) {
			if (!s->io_busy)
				lead(s);
			else
				pthread_cond_wait(&w.cv, &s->mu);
		}
		pthread_cond_destroy(&w.cv);
		if (w.st == STSGUARD_OK)
			s->stats.stored += *stored;
		if (st == STSGUARD_OK)
			st = w.st;
	}
	pthread_mutex_unlock(&s->mu);
	if (st == STSGUARD_NOMEM)
		sg_err(err, st, "out of memory");
	return st;
}

static stsguard_status add_many(stsguard_tlsrpt_store *s, const stsguard_tlsrpt_result *rs, size_t n,
                                size_t *n_stored, stsguard_err *err)
{
	struct lines ls = {{NULL, 0, 0}, NULL, NULL, n};
	size_t end1;
	int64_t day1;
	size_t stored = 0, dropped = 0;
	int64_t full_day = 0;
	stsguard_status st;

	if (n_stored != NULL)
		*n_stored = 0;
	if (s == NULL || (rs == NULL && n > 0))
		return sg_err(err, STSGUARD_BADARG, "no store or no results");
	if (s->read_only)
		return sg_err(err, STSGUARD_BADARG, "the store %s is open read-only", s->dir);
	if (n == 0)
		return STSGUARD_OK;
	if (n == 1) {
		ls.end = &end1;
		ls.dayno = &day1;
	} else {
		ls.end = malloc(n * sizeof *ls.end);
		ls.dayno = malloc(n * sizeof *ls.dayno);
	}
	if (ls.end == NULL || ls.dayno == NULL)
		st = sg_err(err, STSGUARD_NOMEM, "out of memory");
	else
		st = encode_all(s, &ls, rs, n, err);
	if (st == STSGUARD_OK)
		st = queue_and_wait(s, &ls, &stored, &dropped, &full_day, err);
	if (st == STSGUARD_OK && dropped > 0) {
		char day[STSGUARD_TLSRPT_DAY_LEN + 1];
		stsguard_tlsrpt_day_name(full_day * 86400, day);
		st = sg_err(err, STSGUARD_TOOBIG, "%zu of %zu results dropped: day %s is full (%" PRIu64 " bytes)",
		            dropped, n, day, s->max_day_bytes);
	}
	if (n_stored != NULL)
		*n_stored = stored;
	gbuf_free(&ls.buf);
	if (n > 1) {
		free(ls.end);
		free(ls.dayno);
	}
	return st;
}

stsguard_status stsguard_tlsrpt_store_add(stsguard_tlsrpt_store *store, const stsguard_tlsrpt_result *r,
                                          stsguard_err *err)
{
	if (r == NULL)
		return sg_err(err, STSGUARD_BADARG, "no result");
	return add_many(store, r, 1, NULL, err);
}

stsguard_status stsguard_tlsrpt_store_add_batch(stsguard_tlsrpt_store *store, const stsguard_tlsrpt_result *results,
                                                size_t n, size_t *n_stored, stsguard_err *err)
{
	return add_many(store, results, n, n_stored, err);
}

/* ---- open, close ---- */

/* fsync the directory that holds path (best effort: only a crash right after the mkdir loses it). */
static void sync_parent(const char *path)
{
	char *copy = sg_strndup(path, strlen(path));
	if (copy == NULL)
		return;
	size_t n = strlen(copy);
	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = '\0';
	char *slash = strrchr(copy, '/');
	const char *parent = ".";
	if (slash == copy)
		parent = "/";
	else if (slash != NULL) {
		*slash = '\0';
		parent = copy;
	}
	int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

static stsguard_status lock_dir(int fd, const char *dir, stsguard_err *err)
{
	for (int waited = 0;; waited += 50) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return STSGUARD_OK;
		if (errno != EWOULDBLOCK || waited >= LOCK_WAIT_MS)
			return sg_err(err, STSGUARD_TEMPFAIL, "the TLS-RPT store %s is in use by another process", dir);
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

stsguard_status stsguard_tlsrpt_store_open(const char *dir, const stsguard_tlsrpt_store_settings *settings,
                                           stsguard_tlsrpt_store **out, stsguard_err *err)
{
	stsguard_tlsrpt_store_settings def = {0, 0, false, NULL, NULL};
	stsguard_tlsrpt_store *s;
	stsguard_status st;

	*out = NULL;
	if (settings == NULL)
		settings = &def;
	if (dir == NULL || dir[0] == '\0')
		return sg_err(err, STSGUARD_BADARG, "no directory for the TLS-RPT store");
	if (settings->retention_days > STSGUARD_TLSRPT_RETENTION_MAX)
		return sg_err(err, STSGUARD_BADARG, "retention of %u days, at most %u", settings->retention_days,
		              STSGUARD_TLSRPT_RETENTION_MAX);
	s = calloc(1, sizeof *s);
	if (s == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	s->dirfd = -1;
	s->lockfd = -1;
	s->retention_days = settings->retention_days ? settings->retention_days : STSGUARD_TLSRPT_RETENTION_DEFAULT;
	s->max_day_bytes = settings->max_day_bytes ? settings->max_day_bytes : STSGUARD_TLSRPT_DAY_BYTES_DEFAULT;
	s->read_only = settings->read_only;
	s->clock = settings->clock != NULL ? settings->clock : wall_clock;
	s->clock_ctx = settings->clock_ctx;
	s->wait_tail = &s->wait_head;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->dir = sg_strndup(dir, strlen(dir));
	if (s->dir == NULL) {
		st = sg_err(err, STSGUARD_NOMEM, "out of memory");
		goto fail;
	}
	if (!s->read_only) {
		if (mkdir(dir, 0750) == 0) {
			sync_parent(dir); /* the new directory's own entry must survive a power loss too */
		} else if (errno != EEXIST) {
			st = sg_err(err, STSGUARD_IO, "cannot create %s: %s", dir, strerror(errno));
			goto fail;
		}
	}
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		st = sg_err(err, errno == ENOENT ? STSGUARD_NONE : STSGUARD_IO, "cannot open %s: %s", dir,
		            strerror(errno));
		goto fail;
	}
	if (!s->read_only) {
		s->lockfd = openat(s->dirfd, LOCKFILE, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
		if (s->lockfd < 0) {
			st = sg_err(err, STSGUARD_IO, "cannot open %s/%s: %s", dir, LOCKFILE, strerror(errno));
			goto fail;
		}
		if ((st = lock_dir(s->lockfd, dir, err)) != STSGUARD_OK)
			goto fail;
	}
	*out = s;
	return STSGUARD_OK;
fail:
	stsguard_tlsrpt_store_close(s);
	return st;
}

void stsguard_tlsrpt_store_close(stsguard_tlsrpt_store *s)
{
	if (s == NULL)
		return;
	while (s->ndays > 0)
		day_remove(s, s->ndays - 1);
	free(s->days);
	if (s->dirfd >= 0)
		close(s->dirfd);
	if (s->lockfd >= 0)
		close(s->lockfd); /* releases the flock */
	free(s->dir);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* ---- expiry ---- */

stsguard_status stsguard_tlsrpt_store_expire(stsguard_tlsrpt_store *s, int64_t now, size_t *n_deleted,
                                             stsguard_err *err)
{
	stsguard_status st = STSGUARD_OK;
	size_t deleted = 0;

	if (n_deleted != NULL)
		*n_deleted = 0;
	if (s == NULL || s->read_only)
		return sg_err(err, STSGUARD_BADARG, "no store, or a read-only one");
	int64_t cutoff = day_of(now) - (int64_t)s->retention_days; /* days before this go */

	int fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = fd >= 0 ? fdopendir(fd) : NULL;
	if (dp == NULL) {
		if (fd >= 0)
			close(fd);
		return sg_err(err, STSGUARD_IO, "cannot list %s: %s", s->dir, strerror(errno));
	}
	pthread_mutex_lock(&s->mu);
	take_token(s);
	struct dirent *e;
	while ((e = readdir(dp)) != NULL) {
		int64_t dayno;
		if (!parse_file_name(e->d_name, &dayno) || dayno >= cutoff)
			continue;
		struct day *d = day_find(s, dayno);
		if (d != NULL && d->pending.len > 0)
			continue; /* accepted under an earlier clock; the next expire takes it */
		for (size_t i = 0; d != NULL && i < s->ndays; i++)
			if (s->days[i] == d) {
				day_remove(s, i);
				break;
			}
		if (unlinkat(s->dirfd, e->d_name, 0) == 0)
			deleted++;
		else if (errno != ENOENT && st == STSGUARD_OK)
			st = sg_err(err, STSGUARD_IO, "cannot delete %s/%s: %s", s->dir, e->d_name, strerror(errno));
	}
	/* Entries of old days whose file was already gone go too. */
	for (size_t i = 0; i < s->ndays;) {
		if (s->days[i]->dayno < cutoff && s->days[i]->pending.len == 0)
			day_remove(s, i);
		else
			i++;
	}
	give_token(s);
	pthread_mutex_unlock(&s->mu);
	closedir(dp);
	if (deleted > 0 && fsync(s->dirfd) != 0 && st == STSGUARD_OK)
		st = sg_err(err, STSGUARD_IO, "cannot sync the directory %s: %s", s->dir, strerror(errno));
	if (n_deleted != NULL)
		*n_deleted = deleted;
	return st;
}

/* ---- reading ---- */

struct reader {
	int64_t dayno;
	int (*fn)(void *ctx, const stsguard_tlsrpt_result *r);
	void *ctx;
	stsguard_tlsrpt_day_stats *stats;
	bool stop;
	stsguard_status st; /* NOMEM from the decoder ends the walk */
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* One line without its '\n'. */
static void read_line(struct reader *rd, const char *line, size_t len)
{
	uint32_t want = 0;

	if (len < CRC_LEN + 1 || len > STSGUARD_TLSRPT_LINE_MAX + CRC_LEN || line[len - CRC_LEN] != ' ') {
		rd->stats->skipped++;
		return;
	}
	for (size_t i = len - CRC_LEN + 1; i < len; i++) {
		int v = hexval(line[i]);
		if (v < 0) {
			rd->stats->skipped++;
			return;
		}
		want = (want << 4) | (uint32_t)v;
	}
	size_t tlen = len - CRC_LEN;
	if ((uint32_t)crc32(0L, (const Bytef *)line, (uInt)tlen) != want) {
		rd->stats->skipped++;
		return;
	}
	stsguard_tlsrpt_result r;
	stsguard_status st = stsguard_tlsrpt_result_decode(line, tlen, &r, NULL);
	if (st == STSGUARD_NOMEM) {
		rd->st = st;
		rd->stop = true;
		return;
	}
	if (st != STSGUARD_OK || day_of(r.time) != rd->dayno) {
		stsguard_tlsrpt_result_clear(&r);
		rd->stats->skipped++;
		return;
	}
	rd->stats->results++;
	if (rd->fn(rd->ctx, &r) != 0)
		rd->stop = true;
	stsguard_tlsrpt_result_clear(&r);
}

stsguard_status stsguard_tlsrpt_store_foreach_day(stsguard_tlsrpt_store *s, const char *day,
                                                  int (*fn)(void *ctx, const stsguard_tlsrpt_result *r), void *ctx,
                                                  stsguard_tlsrpt_day_stats *stats, stsguard_err *err)
{
	stsguard_tlsrpt_day_stats local;
	int64_t start;
	char name[NAME_LEN + 1];

	if (stats == NULL)
		stats = &local;
	memset(stats, 0, sizeof *stats);
	if (s == NULL || fn == NULL)
		return sg_err(err, STSGUARD_BADARG, "no store or no callback");
	if (stsguard_tlsrpt_day_parse(day, &start) != STSGUARD_OK) {
		char shown[40];
		sg_escape(shown, sizeof shown, day != NULL ? day : "", day != NULL ? strnlen(day, 20) : 0);
		return sg_err(err, STSGUARD_INVALID, "'%s' is not a day (YYYY-MM-DD)", shown);
	}
	struct reader rd = {start / 86400, fn, ctx, stats, false, STSGUARD_OK};
	file_name(rd.dayno, name);

	int fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return STSGUARD_NONE;
		return sg_err(err, STSGUARD_IO, "cannot open %s/%s: %s", s->dir, name, strerror(errno));
	}

	/*
	 * How much of the open file is settled: on a writable store, only what
	 * was committed. Decided after the open, under mu, about the file the fd
	 * holds. The other way round, a walk that found no entry and no file
	 * (so no bound) could open the file after an adder had created the
	 * entry and the file and its leader had written lines it had not yet
	 * synced: the walk would visit unacknowledged results (which a failed
	 * commit truncates away), and the next walk, bounded by durable, fewer.
	 * With an entry, durable bounds the read (the file only grows beyond
	 * it); without one nothing of ours is in flight for the day (an entry
	 * exists from the first queued line to expiry), so the size is settled.
	 */
	uint64_t limit = UINT64_MAX;
	if (!s->read_only) {
		struct stat sb;
		int serr = 0;
		pthread_mutex_lock(&s->mu);
		struct day *d = day_find(s, rd.dayno);
		if (d != NULL)
			limit = d->durable;
		else if (fstat(fd, &sb) == 0)
			limit = (uint64_t)sb.st_size;
		else
			serr = errno;
		pthread_mutex_unlock(&s->mu);
		if (serr != 0) {
			close(fd);
			return sg_err(err, STSGUARD_IO, "cannot stat %s/%s: %s", s->dir, name, strerror(serr));
		}
	}
	size_t cap = STSGUARD_TLSRPT_LINE_MAX + CRC_LEN + 1 + READ_CHUNK;
	char *buf = malloc(cap);
	if (buf == NULL) {
		close(fd);
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	}
	size_t blen = 0;
	bool skipping = false; /* inside a line too long to be valid */
	stsguard_status st = STSGUARD_OK;
	while (!rd.stop && limit > 0) {
		size_t want = cap - blen;
		if (want > limit)
			want = (size_t)limit;
		ssize_t got = read(fd, buf + blen, want);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			st = sg_err(err, STSGUARD_IO, "cannot read %s/%s: %s", s->dir, name, strerror(errno));
			break;
		}
		if (got == 0)
			break;
		limit -= (uint64_t)got;
		size_t scan = blen; /* bytes before scan have no '\n' */
		blen += (size_t)got;
		size_t pos = 0;
		const char *nl;
		while (!rd.stop && (nl = memchr(buf + scan, '\n', blen - scan)) != NULL) {
			size_t end = (size_t)(nl - buf);
			if (skipping) {
				skipping = false;
				stats->skipped++;
			} else {
				read_line(&rd, buf + pos, end - pos);
			}
			pos = scan = end + 1;
		}
		if (rd.stop)
			break;
		memmove(buf, buf + pos, blen - pos);
		blen -= pos;
		if (blen == cap) {
			skipping = true; /* longer than any valid line: drop it up to its newline */
			blen = 0;
		}
	}
	if (!rd.stop && st == STSGUARD_OK && (blen > 0 || skipping))
		stats->skipped++; /* a last line without its newline: torn */
	free(buf);
	close(fd);
	if (st == STSGUARD_OK && rd.st != STSGUARD_OK)
		st = sg_err(err, rd.st, "out of memory");
	return st;
}

/* ---- listing, stats ---- */

static int cmp_day(const void *a, const void *b)
{
	return strcmp(((const stsguard_tlsrpt_day *)a)->day, ((const stsguard_tlsrpt_day *)b)->day);
}

stsguard_status stsguard_tlsrpt_store_list_days(stsguard_tlsrpt_store *s, stsguard_tlsrpt_day **days, size_t *n,
                                                stsguard_err *err)
{
	stsguard_tlsrpt_day *v = NULL;
	size_t count = 0, cap = 0;

	*days = NULL;
	*n = 0;
	if (s == NULL)
		return sg_err(err, STSGUARD_BADARG, "no store");
	int fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = fd >= 0 ? fdopendir(fd) : NULL;
	if (dp == NULL) {
		if (fd >= 0)
			close(fd);
		return sg_err(err, STSGUARD_IO, "cannot list %s: %s", s->dir, strerror(errno));
	}
	struct dirent *e;
	while ((e = readdir(dp)) != NULL) {
		int64_t dayno;
		struct stat sb;
		if (!parse_file_name(e->d_name, &dayno) || fstatat(s->dirfd, e->d_name, &sb, 0) != 0 ||
		    !S_ISREG(sb.st_mode))
			continue;
		if (count == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			stsguard_tlsrpt_day *nv = realloc(v, ncap * sizeof *nv);
			if (nv == NULL) {
				free(v);
				closedir(dp);
				return sg_err(err, STSGUARD_NOMEM, "out of memory");
			}
			v = nv;
			cap = ncap;
		}
		memcpy(v[count].day, e->d_name, STSGUARD_TLSRPT_DAY_LEN);
		v[count].day[STSGUARD_TLSRPT_DAY_LEN] = '\0';
		v[count].bytes = (uint64_t)sb.st_size;
		count++;
	}
	closedir(dp);
	if (count > 1)
		qsort(v, count, sizeof *v, cmp_day);
	*days = v;
	*n = count;
	return STSGUARD_OK;
}

void stsguard_tlsrpt_store_stats_get(stsguard_tlsrpt_store *s, stsguard_tlsrpt_store_stats *stats)
{
	memset(stats, 0, sizeof *stats);
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	*stats = s->stats;
	pthread_mutex_unlock(&s->mu);
}
