/*
 * tlsrpt_send.c - one pass of TLS-RPT report delivery for one UTC day.
 *
 * Why this layer exists: the report builder makes a report; RFC 8460 §3 and
 * §5 decide who gets it and how, and delivery must survive crashes, retries
 * and restarts without sending a report twice or never. This module ties
 * them together, with every effect behind a seam (store, resolver ops,
 * deliver ops, the clock) so the whole flow runs in unit tests.
 *
 * Contract, per policy domain of the day:
 *   1. loop guard (below);
 *   2. TXT at _smtp._tls.<domain>; no report unless it holds exactly one
 *      valid TLSRPT record (RFC 8460 §3: otherwise the domain "does not
 *      implement TLSRPT"); a DNS failure is retried like a failed delivery;
 *   3. every rua URI of the record gets the report (RFC 8460 §3: rua is a
 *      list of destinations), each with its own retry
 *      state: https: by POST, mailto: by DKIM-signed mail (RFC 8460 §5.3:
 *      mailed reports MUST be signed - without a key they are not sent).
 *
 * State: SPOOL/DAY.sent, one line per attempt, appended and fdatasync'ed
 * before the next attempt:
 *
 *   v1 TIME OUTCOME DOMAIN RUA DETAIL
 *
 * OUTCOME "ok" / "fail" / "giveup", or "none" (RUA "-": no usable TLSRPT
 * record, nothing to send that day); RUA "-" stands for the DNS lookup;
 * RUA is written with %HH for bytes outside 0x21-0x7e and '%'; DETAIL is
 * free text (printable ASCII). Reading skips lines it does not understand,
 * and each line is capped at SENT_LINE_MAX bytes.
 *
 * Loop guard: our report mail is itself delivered by the local MTA, and
 * the MTA records TLS-RPT results for those sessions too (under the
 * recipient's domain as policy domain). Reporting them would send mail to
 * that domain again the next day, whose sessions are reported the day
 * after, for ever. The rule: for day X, count the report mails we handed to
 * sendmail during X per recipient domain (from the .sent files of X-1 and
 * reports of X-1 are sent on X, retries of X-2 may reach into X); if
 * the domain's session count for X is not larger, every session may have
 * been ours and no report is sent. A domain that also got other mail from
 * us has more sessions and is reported as usual.
 */
#include "stsguard/tlsrpt_send.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stsguard/tlsrpt_txt.h"
#include "util.h"

#define SENT_LINE_MAX 4096u
#define SENT_FILE_MAX (64u << 20)

static void logf_(const stsguard_tlsrpt_send_env *env, int level, const char *fmt, ...) STSG_PRINTF(3, 4);
static void logf_(const stsguard_tlsrpt_send_env *env, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	if (env->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	env->log(env->log_ctx, level, msg);
}

/* ---- the attempt log ---- */

struct attempt {
	char *domain;
	char *rua;
	unsigned failures;
	int64_t first, last;
	bool done, given_up;
};

struct sent_state {
	struct attempt *v;
	size_t n, cap;
};

static void state_free(struct sent_state *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].domain);
		free(s->v[i].rua);
	}
	free(s->v);
	memset(s, 0, sizeof *s);
}

static struct attempt *state_find(struct sent_state *s, const char *domain, const char *rua, bool create)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].domain, domain) == 0 && strcmp(s->v[i].rua, rua) == 0)
			return &s->v[i];
	if (!create)
		return NULL;
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16;
		struct attempt *nv = realloc(s->v, nc * sizeof *nv);
		if (nv == NULL)
			return NULL;
		s->v = nv;
		s->cap = nc;
	}
	struct attempt *a = &s->v[s->n];
	memset(a, 0, sizeof *a);
	a->domain = sg_strndup(domain, strlen(domain));
	a->rua = sg_strndup(rua, strlen(rua));
	if (a->domain == NULL || a->rua == NULL) {
		free(a->domain);
		free(a->rua);
		return NULL;
	}
	s->n++;
	return a;
}

static void state_apply(struct attempt *a, int64_t t, const char *outcome)
{
	if (strcmp(outcome, "ok") == 0 || strcmp(outcome, "none") == 0) {
		a->done = true;
	} else if (strcmp(outcome, "giveup") == 0) {
		a->given_up = true;
	} else {
		if (a->failures == 0 || t < a->first)
			a->first = t;
		a->failures++;
	}
	if (t > a->last)
		a->last = t;
}

/* %HH-encode bytes outside 0x21-0x7e and '%' (RUA field). */
static void encode_field(char *out, size_t outsz, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0' && o + 4 < outsz; p++) {
		if (*p < 0x21 || *p > 0x7e || *p == '%') {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
}

static bool decode_field(char *s)
{
	char *w = s;
	for (const char *r = s; *r != '\0'; r++) {
		if (*r == '%') {
			int v = 0;
			for (int k = 1; k <= 2; k++) {
				char c = r[k];
				int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
				if (d < 0)
					return false;
				v = v * 16 + d;
			}
			if (v == 0)
				return false;
			*w++ = (char)v;
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return true;
}

/*
 * One line "v1 TIME OUTCOME DOMAIN RUA DETAIL" (len bytes, no newline)
 * into its fields; false for anything else. Hostile input is fine: the
 * line is copied into a bounded buffer first.
 */
struct sent_line {
	int64_t time;
	char outcome[8];
	char domain[256];
	char rua[STSGUARD_RUA_URI_MAX + 1];
};

static bool parse_sent_line(const char *line, size_t len, struct sent_line *out)
{
	char buf[SENT_LINE_MAX + 1];
	char *f[5];
	if (len == 0 || len > SENT_LINE_MAX || memchr(line, '\0', len) != NULL)
		return false;
	memcpy(buf, line, len);
	buf[len] = '\0';
	char *p = buf;
	for (int i = 0; i < 5; i++) {
		f[i] = p;
		p = strchr(p, ' ');
		if (p == NULL) {
			if (i < 4)
				return false;
		} else {
			*p++ = '\0';
		}
		if (i == 4)
			break;
	}
	if (strcmp(f[0], "v1") != 0 || f[1][0] == '\0' || strlen(f[1]) > 12)
		return false;
	int64_t t = 0;
	for (const char *q = f[1]; *q != '\0'; q++) {
		if (!sg_is_digit((unsigned char)*q))
			return false;
		t = t * 10 + (*q - '0');
	}
	if (strcmp(f[2], "ok") != 0 && strcmp(f[2], "fail") != 0 && strcmp(f[2], "giveup") != 0 &&
	    strcmp(f[2], "none") != 0)
		return false;
	size_t dl = strlen(f[3]), rl = strlen(f[4]);
	if (dl == 0 || dl >= sizeof out->domain || rl == 0 || rl >= sizeof out->rua)
		return false;
	out->time = t;
	memcpy(out->outcome, f[2], strlen(f[2]) + 1);
	memcpy(out->domain, f[3], dl + 1);
	memcpy(out->rua, f[4], rl + 1);
	return decode_field(out->rua) && out->rua[0] != '\0';
}

/* Call fn for every well-formed line of SPOOL/DAY.sent; STSGUARD_NONE if the file does not exist. */
static stsguard_status sent_foreach(const char *spool, const char *day,
                                    bool (*fn)(void *ctx, const struct sent_line *l), void *ctx, stsguard_err *err)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.sent", spool, day);
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		if (errno == ENOENT)
			return STSGUARD_NONE;
		return sg_err(err, STSGUARD_IO, "%s: %s", path, strerror(errno));
	}
	char *line = malloc(SENT_LINE_MAX + 2);
	struct sent_line *sl = malloc(sizeof *sl);
	stsguard_status st = STSGUARD_OK;
	size_t total = 0;
	if (line == NULL || sl == NULL) {
		st = sg_err(err, STSGUARD_NOMEM, "out of memory");
		goto out;
	}
	while (fgets(line, (int)SENT_LINE_MAX + 2, f) != NULL) {
		size_t l = strlen(line);
		total += l;
		if (total > SENT_FILE_MAX) {
			st = sg_err(err, STSGUARD_TOOBIG, "%s: larger than %u bytes", path, SENT_FILE_MAX);
			break;
		}
		if (l == 0 || line[l - 1] != '\n') {
			/* an over-long line: skip the rest of it */
			int c;
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			continue;
		}
		if (parse_sent_line(line, l - 1, sl) && !fn(ctx, sl))
			break;
	}
	if (st == STSGUARD_OK && ferror(f))
		st = sg_err(err, STSGUARD_IO, "%s: read error", path);
out:
	free(line);
	free(sl);
	fclose(f);
	return st;
}

struct load_ctx {
	struct sent_state *s;
	bool nomem;
};

static bool load_line(void *ctx, const struct sent_line *l)
{
	struct load_ctx *lc = ctx;
	struct attempt *a = state_find(lc->s, l->domain, l->rua, true);
	if (a == NULL) {
		lc->nomem = true;
		return false;
	}
	state_apply(a, l->time, l->outcome);
	return true;
}

/* Report mails handed to sendmail, per recipient domain, within [from, to). */
struct mail_count {
	char domain[256];
	size_t n;
};

struct guard_ctx {
	int64_t from, to;
	struct mail_count *v;
	size_t n, cap;
	bool nomem;
};

static bool guard_line(void *ctx, const struct sent_line *l)
{
	struct guard_ctx *g = ctx;
	char addrs[STSGUARD_MAILTO_ADDRS_MAX][STSGUARD_ADDR_MAX + 1];
	size_t na = 0;
	if (strcmp(l->outcome, "ok") != 0 || l->time < g->from || l->time >= g->to)
		return true;
	if (stsguard_tlsrpt_mailto_parse(l->rua, strlen(l->rua), addrs, STSGUARD_MAILTO_ADDRS_MAX, &na, NULL) !=
	    STSGUARD_OK)
		return true; /* an https: rua: no mail */
	for (size_t i = 0; i < na; i++) {
		const char *d = strchr(addrs[i], '@') + 1;
		/* one mail counts once per domain, however many of its recipients are there */
		bool seen = false;
		for (size_t k = 0; k < i; k++)
			if (strcmp(strchr(addrs[k], '@') + 1, d) == 0)
				seen = true;
		if (seen)
			continue;
		size_t j;
		for (j = 0; j < g->n; j++)
			if (strcmp(g->v[j].domain, d) == 0)
				break;
		if (j == g->n) {
			if (g->n == g->cap) {
				size_t nc = g->cap ? g->cap * 2 : 8;
				struct mail_count *nv = realloc(g->v, nc * sizeof *nv);
				if (nv == NULL) {
					g->nomem = true;
					return false;
				}
				g->v = nv;
				g->cap = nc;
			}
			memset(&g->v[j], 0, sizeof g->v[j]);
			memcpy(g->v[j].domain, d, strlen(d) + 1);
			g->n++;
		}
		g->v[j].n++;
	}
	return true;
}

static stsguard_status append_attempt(const stsguard_tlsrpt_send_env *env, const char *day, const char *domain,
                                      const char *rua, const char *outcome, const char *detail, stsguard_err *err)
{
	char path[4096], erua[STSGUARD_RUA_URI_MAX * 3 + 1], line[SENT_LINE_MAX + 1], det[512];
	size_t dl = 0;
	for (const char *p = detail != NULL ? detail : ""; *p != '\0' && dl + 1 < sizeof det; p++)
		det[dl++] = (*p >= 0x20 && *p <= 0x7e) ? *p : '?';
	det[dl] = '\0';
	encode_field(erua, sizeof erua, rua);
	int n = snprintf(line, sizeof line, "v1 %lld %s %s %s %s\n", (long long)env->now, outcome, domain, erua, det);
	if (n < 0 || (size_t)n >= sizeof line)
		n = snprintf(line, sizeof line, "v1 %lld %s %s %s %s\n", (long long)env->now, outcome, domain, erua,
		             "(detail too long)");
	if (n < 0 || (size_t)n >= sizeof line)
		return sg_err(err, STSGUARD_TOOBIG, "attempt line too long");
	snprintf(path, sizeof path, "%s/%s.sent", env->spool_dir, day);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return sg_err(err, STSGUARD_IO, "%s: %s", path, strerror(errno));
	size_t off = 0;
	while (off < (size_t)n) {
		ssize_t w = write(fd, line + off, (size_t)n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = errno;
			close(fd);
			return sg_err(err, STSGUARD_IO, "%s: %s", path, strerror(e));
		}
		off += (size_t)w;
	}
	/* Durable before the next attempt: a crash must not forget a delivery. */
	if (fdatasync(fd) != 0) {
		int e = errno;
		close(fd);
		return sg_err(err, STSGUARD_IO, "%s: fdatasync: %s", path, strerror(e));
	}
	close(fd);
	return STSGUARD_OK;
}

/* ---- output files ---- */

static stsguard_status write_file(const char *dir, const char *name, const void *data, size_t len,
                                  stsguard_err *err)
{
	char path[4096];
	int n = snprintf(path, sizeof path, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof path)
		return sg_err(err, STSGUARD_TOOBIG, "output path too long");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return sg_err(err, STSGUARD_IO, "%s: %s", path, strerror(errno));
	const char *p = data;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = errno;
			close(fd);
			return sg_err(err, STSGUARD_IO, "%s: %s", path, strerror(e));
		}
		off += (size_t)w;
	}
	if (close(fd) != 0)
		return sg_err(err, STSGUARD_IO, "%s: %s", path, strerror(errno));
	return STSGUARD_OK;
}

/* ---- one pass ---- */

static int add_result(void *ctx, const stsguard_tlsrpt_result *r)
{
	stsguard_tlsrpt_report *agg = ctx;
	/* A refused result (a full aggregator) is counted in its stats; the rest of the day still goes in. */
	(void)stsguard_tlsrpt_report_add(agg, r, NULL);
	return 0;
}

/* The report of one domain, built once when first needed. */
struct built {
	char *json;
	size_t json_len;
	unsigned char *gz;
	size_t gz_len;
	char filename[STSGUARD_TLSRPT_REPORT_FILENAME_MAX];
	char report_id[600];
};

static void built_free(struct built *b)
{
	free(b->json);
	free(b->gz);
	memset(b, 0, sizeof *b);
}

static stsguard_status build_report(const stsguard_tlsrpt_send_env *env, const stsguard_tlsrpt_report *agg,
                                    const char *day, const char *domain, struct built *b, stsguard_err *err)
{
	stsguard_status st;
	if (b->gz != NULL)
		return STSGUARD_OK;
	if ((st = stsguard_tlsrpt_report_json(agg, domain, &env->meta, &b->json, &b->json_len, err)) != STSGUARD_OK)
		return st;
	if ((st = stsguard_tlsrpt_report_gzip(b->json, b->json_len, &b->gz, &b->gz_len, err)) != STSGUARD_OK)
		return st;
	if ((st = stsguard_tlsrpt_report_filename(env->meta.submitter, domain, day, env->meta.unique_id, b->filename,
	                                          sizeof b->filename, err)) != STSGUARD_OK)
		return st;
	/* The same report-id the JSON carries (tlsrpt_report.h). */
	bool uid = env->meta.unique_id != NULL && env->meta.unique_id[0] != '\0';
	int n = snprintf(b->report_id, sizeof b->report_id, "%s_%s%s%s@%s", day, domain, uid ? "_" : "",
	                 uid ? env->meta.unique_id : "", env->meta.submitter);
	if (n < 0 || (size_t)n >= sizeof b->report_id)
		return sg_err(err, STSGUARD_TOOBIG, "report-id too long");
	return STSGUARD_OK;
}

/* Is (domain, rua) due now? *next is when it will be, for DUE_LATER. */
enum due { DUE_NOW, DUE_DONE, DUE_GIVEN_UP, DUE_LATER, DUE_EXPIRED };

static enum due due_state(const struct attempt *a, int64_t now, int64_t *next)
{
	*next = 0;
	if (a == NULL || a->failures == 0)
		return a != NULL && a->done ? DUE_DONE : a != NULL && a->given_up ? DUE_GIVEN_UP : DUE_NOW;
	if (a->done)
		return DUE_DONE;
	if (a->given_up)
		return DUE_GIVEN_UP;
	int64_t n = stsguard_tlsrpt_schedule_retry(a->first, a->last, a->failures);
	if (n < 0 || now > a->first + STSGUARD_TLSRPT_RETRY_WINDOW)
		return DUE_EXPIRED;
	if (n > now) {
		*next = n;
		return DUE_LATER;
	}
	return DUE_NOW;
}

struct pass {
	const stsguard_tlsrpt_send_env *env;
	const char *day;
	struct sent_state state;
	stsguard_tlsrpt_send_summary *sum;
};

static void note_next(struct pass *p, int64_t t)
{
	if (t > 0 && (p->sum->next_attempt == 0 || t < p->sum->next_attempt))
		p->sum->next_attempt = t;
}

/* Record one attempt (log line + state); a failure to record stops the pass. */
static stsguard_status record(struct pass *p, const char *domain, const char *rua, const char *outcome,
                              const char *detail, stsguard_err *err)
{
	const stsguard_tlsrpt_send_env *env = p->env;
	logf_(env, strcmp(outcome, "ok") == 0 || strcmp(outcome, "none") == 0 ? STSGUARD_LOG_INFO : STSGUARD_LOG_WARNING, "tlsrpt %s %s %s: %s%s%s",
	      p->day, domain, rua, outcome, detail != NULL && *detail ? ": " : "", detail != NULL ? detail : "");
	if (env->dry_run)
		return STSGUARD_OK;
	stsguard_status st = append_attempt(env, p->day, domain, rua, outcome, detail, err);
	if (st != STSGUARD_OK)
		return st;
	struct attempt *a = state_find(&p->state, domain, rua, true);
	if (a == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	state_apply(a, env->now, outcome);
	if (strcmp(outcome, "fail") == 0) {
		int64_t n = stsguard_tlsrpt_schedule_retry(a->first, a->last, a->failures);
		if (n > 0)
			note_next(p, n);
	}
	return STSGUARD_OK;
}

/* Deliver (or, in a dry run, only build) the report of domain to one rua. */
static stsguard_status serve_rua(struct pass *p, const stsguard_tlsrpt_report *agg, const char *domain,
                                 const char *rua, size_t rua_index, struct built *b, stsguard_err *err)
{
	const stsguard_tlsrpt_send_env *env = p->env;
	stsguard_err derr = {""};
	stsguard_status st;
	int64_t next;

	enum due due = due_state(state_find(&p->state, domain, rua, false), env->now, &next);
	if (due == DUE_DONE && env->out_dir == NULL) {
		p->sum->already++;
		return STSGUARD_OK;
	}
	if (due == DUE_GIVEN_UP && env->out_dir == NULL) {
		p->sum->given_up++;
		return STSGUARD_OK;
	}
	if (due == DUE_EXPIRED && env->out_dir == NULL) {
		p->sum->given_up++;
		return record(p, domain, rua, "giveup", "no success within 24 hours of the first attempt", err);
	}
	if (due == DUE_LATER && env->out_dir == NULL) {
		p->sum->waiting++;
		note_next(p, next);
		return STSGUARD_OK;
	}
	bool send = due == DUE_NOW && !env->dry_run;

	bool fresh = b->gz == NULL;
	if ((st = build_report(env, agg, p->day, domain, b, err)) != STSGUARD_OK)
		return st;
	if (fresh) {
		p->sum->built++;
		if (env->out_dir != NULL &&
		    (st = write_file(env->out_dir, b->filename, b->gz, b->gz_len, err)) != STSGUARD_OK)
			return st;
	}

	if (strncasecmp(rua, "https:", 6) == 0) {
		if (!send)
			return STSGUARD_OK;
		st = env->deliver->https_post(env->deliver_ctx, rua, b->gz, b->gz_len, &derr);
		if (st == STSGUARD_OK) {
			p->sum->delivered++;
			return record(p, domain, rua, "ok", derr.msg, err);
		}
		if (st == STSGUARD_INVALID) {
			/* A URI we cannot use will not get better by retrying. */
			p->sum->given_up++;
			return record(p, domain, rua, "giveup", derr.msg, err);
		}
		p->sum->failed++;
		return record(p, domain, rua, "fail", derr.msg, err);
	}

	char addrs[STSGUARD_MAILTO_ADDRS_MAX][STSGUARD_ADDR_MAX + 1];
	const char *to[STSGUARD_MAILTO_ADDRS_MAX];
	size_t na = 0;
	if (stsguard_tlsrpt_mailto_parse(rua, strlen(rua), addrs, STSGUARD_MAILTO_ADDRS_MAX, &na, &derr) !=
	    STSGUARD_OK) {
		/* tlsrpt_txt accepted the URI scheme, but we will not mail this: permanent. */
		logf_(env, STSGUARD_LOG_WARNING, "tlsrpt %s %s: rua %s not used: %s", p->day, domain, rua, derr.msg);
		if (!send)
			return STSGUARD_OK;
		p->sum->given_up++;
		return record(p, domain, rua, "giveup", derr.msg, err);
	}
	for (size_t i = 0; i < na; i++)
		to[i] = addrs[i];
	char msgid[800];
	int n = snprintf(msgid, sizeof msgid, "tlsrpt.%s.%s.%zu.%lld@%s", p->day, domain, rua_index + 1,
	                 (long long)env->now, env->meta.submitter);
	if (n < 0 || (size_t)n >= sizeof msgid)
		return sg_err(err, STSGUARD_TOOBIG, "Message-ID too long");
	stsguard_tlsrpt_mail m = {
		.from = env->report_from,
		.to = to,
		.n_to = na,
		.date = env->now,
		.message_id = msgid,
		.policy_domain = domain,
		.submitter = env->meta.submitter,
		.report_id = b->report_id,
		.day = p->day,
		.organization = env->meta.organization_name,
		.filename = b->filename,
		.gz = b->gz,
		.gz_len = b->gz_len,
	};
	char *msg = NULL, *signed_msg = NULL;
	size_t mlen = 0, slen = 0;
	if ((st = stsguard_tlsrpt_mail_build(&m, &msg, &mlen, err)) != STSGUARD_OK)
		return st;
	if (env->dkim != NULL) {
		st = stsguard_tlsrpt_dkim_sign(msg, mlen, env->dkim, env->now, &signed_msg, &slen, err);
		free(msg);
		if (st != STSGUARD_OK)
			return st;
		msg = signed_msg;
		mlen = slen;
	}
	if (env->out_dir != NULL) {
		char name[STSGUARD_TLSRPT_REPORT_FILENAME_MAX + 32];
		size_t base = strlen(b->filename) - strlen(".json.gz");
		snprintf(name, sizeof name, "%.*s.rua%zu.eml", (int)base, b->filename, rua_index + 1);
		if ((st = write_file(env->out_dir, name, msg, mlen, err)) != STSGUARD_OK) {
			free(msg);
			return st;
		}
	}
	if (!send) {
		free(msg);
		return STSGUARD_OK;
	}
	if (env->dkim == NULL) {
		/* RFC 8460 §5.3: mailed reports MUST be DKIM-signed. Not a delivery attempt: nothing recorded. */
		free(msg);
		logf_(env, STSGUARD_LOG_ERROR, "tlsrpt %s %s %s: not sent: dkim_key is not configured", p->day, domain,
		      rua);
		p->sum->failed++;
		return STSGUARD_OK;
	}
	st = env->deliver->sendmail(env->deliver_ctx, env->report_from, to, na, msg, mlen, &derr);
	free(msg);
	if (st == STSGUARD_OK) {
		p->sum->delivered++;
		return record(p, domain, rua, "ok", "accepted by sendmail", err);
	}
	p->sum->failed++;
	return record(p, domain, rua, "fail", derr.msg, err);
}

static stsguard_status serve_domain(struct pass *p, const stsguard_tlsrpt_report *agg, const char *domain,
                                    const struct guard_ctx *guard, stsguard_err *err)
{
	const stsguard_tlsrpt_send_env *env = p->env;
	stsguard_tlsrpt_report_stats ds;
	stsguard_status st;
	int64_t next;

	if (stsguard_tlsrpt_report_stats_get(agg, domain, &ds) != STSGUARD_OK)
		return STSGUARD_OK;
	uint64_t sessions = ds.successful_sessions + ds.failed_sessions;
	for (size_t i = 0; i < guard->n; i++)
		if (strcmp(guard->v[i].domain, domain) == 0 && sessions <= guard->v[i].n) {
			logf_(env, STSGUARD_LOG_INFO,
			      "tlsrpt %s %s: loop guard: %llu sessions, %zu report mails sent to the domain that day; no report",
			      p->day, domain, (unsigned long long)sessions, guard->v[i].n);
			p->sum->loop_guarded++;
			return STSGUARD_OK;
		}

	/* Every rua of the domain finished in an earlier pass: no lookup needed. */
	if (env->out_dir == NULL) {
		size_t known = 0, finished = 0;
		for (size_t i = 0; i < p->state.n; i++) {
			const struct attempt *a = &p->state.v[i];
			if (strcmp(a->domain, domain) != 0 || strcmp(a->rua, "-") == 0)
				continue;
			known++;
			if (a->done || a->given_up)
				finished++;
		}
		if (known > 0 && known == finished) {
			p->sum->already += finished;
			return STSGUARD_OK;
		}
	}

	/* A DNS failure backs off like a failed delivery, under rua "-"; "none" there: no record. */
	const struct attempt *dnsa = state_find(&p->state, domain, "-", false);
	if (dnsa != NULL && dnsa->done && env->out_dir == NULL) {
		p->sum->no_rua++;
		return STSGUARD_OK;
	}
	if (dnsa != NULL && dnsa->given_up && env->out_dir == NULL) {
		p->sum->given_up++;
		return STSGUARD_OK;
	}
	enum due due = due_state(dnsa, env->now, &next);
	if (due == DUE_LATER && env->out_dir == NULL) {
		p->sum->waiting++;
		note_next(p, next);
		return STSGUARD_OK;
	}
	if (due == DUE_EXPIRED && env->out_dir == NULL) {
		p->sum->given_up++;
		return record(p, domain, "-", "giveup", "no TLSRPT lookup succeeded within 24 hours", err);
	}

	char qname[300];
	snprintf(qname, sizeof qname, "_smtp._tls.%s", domain);
	stsguard_txt_set *txt = NULL;
	stsguard_err derr = {""};
	st = env->dns->txt(env->dns_ctx, qname, &txt, &derr);
	if (st == STSGUARD_NONE) {
		stsguard_txt_set_free(txt);
		p->sum->no_rua++;
		return record(p, domain, "-", "none", "no TLSRPT record: no report", err);
	}
	if (st != STSGUARD_OK) {
		stsguard_txt_set_free(txt);
		p->sum->failed++;
		return record(p, domain, "-", "fail", derr.msg[0] ? derr.msg : "TXT lookup failed", err);
	}
	stsguard_tlsrpt_record *rec = NULL;
	st = stsguard_tlsrpt_txt_parse(txt->rec, txt->n, &rec, &derr);
	stsguard_txt_set_free(txt);
	if (st != STSGUARD_OK) {
		/* RFC 8460 §3: none, several or an invalid one - the domain does not implement TLSRPT. */
		char why[STSGUARD_ERR_LEN + 64];
		snprintf(why, sizeof why, "%s TLSRPT record (%s): no report", st == STSGUARD_NONE ? "no" : "no single valid",
		         derr.msg);
		p->sum->no_rua++;
		return record(p, domain, "-", "none", why, err);
	}

	struct built b = {0};
	st = STSGUARD_OK;
	size_t served = 0;
	for (size_t i = 0; i < rec->n_rua && st == STSGUARD_OK; i++) {
		bool dup = false;
		for (size_t k = 0; k < i; k++)
			if (strcmp(rec->rua[k], rec->rua[i]) == 0)
				dup = true; /* one report per distinct URI */
		if (!dup)
			st = serve_rua(p, agg, domain, rec->rua[i], served++, &b, err);
	}
	built_free(&b);
	stsguard_tlsrpt_record_free(rec);
	return st;
}

stsguard_status stsguard_tlsrpt_send_day(const stsguard_tlsrpt_send_env *env, const char *day,
                                         stsguard_tlsrpt_send_summary *sum, stsguard_err *err)
{
	int64_t start;
	stsguard_status st;
	int lockfd = -1;

	memset(sum, 0, sizeof *sum);
	if (env == NULL || env->store == NULL || env->dns == NULL || env->deliver == NULL || env->report_from == NULL)
		return sg_err(err, STSGUARD_BADARG, "incomplete send environment");
	if (!env->dry_run && env->spool_dir == NULL)
		return sg_err(err, STSGUARD_BADARG, "no spool directory");
	if (day == NULL || stsguard_tlsrpt_day_parse(day, &start) != STSGUARD_OK)
		return sg_err(err, STSGUARD_INVALID, "bad day");
	if (env->now < start + 86400 && !env->dry_run && env->out_dir == NULL)
		/* RFC 8460 §4.1: a report covers a full UTC day - never send one for a day not over yet. */
		return sg_err(err, STSGUARD_BADARG, "day %s is not over yet", day);

	if (env->spool_dir != NULL && !env->dry_run) {
		char lp[4096];
		if (mkdir(env->spool_dir, 0750) != 0 && errno != EEXIST)
			return sg_err(err, STSGUARD_IO, "%s: %s", env->spool_dir, strerror(errno));
		snprintf(lp, sizeof lp, "%s/send.lock", env->spool_dir);
		lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
		if (lockfd < 0)
			return sg_err(err, STSGUARD_IO, "%s: %s", lp, strerror(errno));
		if (flock(lockfd, LOCK_EX | LOCK_NB) != 0) {
			close(lockfd);
			return sg_err(err, STSGUARD_TEMPFAIL, "another report pass holds %s", lp);
		}
	}

	struct pass p = {.env = env, .day = day, .sum = sum};
	struct guard_ctx guard = {.from = start, .to = start + 86400};
	stsguard_tlsrpt_report *agg = NULL;
	stsguard_tlsrpt_day_stats dstats;

	st = stsguard_tlsrpt_report_new(day, NULL, &agg, err);
	if (st == STSGUARD_OK)
		st = stsguard_tlsrpt_store_foreach_day(env->store, day, add_result, agg, &dstats, err);
	if (st == STSGUARD_NONE)
		sg_err(err, STSGUARD_NONE, "no results stored for %s", day);
	if (st == STSGUARD_OK && env->spool_dir != NULL) {
		struct load_ctx lc = {.s = &p.state};
		stsguard_status ls = sent_foreach(env->spool_dir, day, load_line, &lc, err);
		if (lc.nomem)
			ls = sg_err(err, STSGUARD_NOMEM, "out of memory");
		if (ls != STSGUARD_OK && ls != STSGUARD_NONE)
			st = ls;
		/* Loop guard: mails sent during `day` went out in the passes of the two days before. */
		for (int back = 1; back <= 2 && st == STSGUARD_OK; back++) {
			char prev[STSGUARD_TLSRPT_DAY_LEN + 1];
			if (start - 86400 * back < 0 || stsguard_tlsrpt_day_name(start - 86400 * back, prev) != STSGUARD_OK)
				break;
			ls = sent_foreach(env->spool_dir, prev, guard_line, &guard, err);
			if (guard.nomem)
				ls = sg_err(err, STSGUARD_NOMEM, "out of memory");
			if (ls != STSGUARD_OK && ls != STSGUARD_NONE)
				st = ls;
		}
	}
	if (st == STSGUARD_OK) {
		if (dstats.skipped > 0)
			logf_(env, STSGUARD_LOG_WARNING, "tlsrpt %s: %llu damaged lines in the day file skipped", day,
			      (unsigned long long)dstats.skipped);
		sum->domains = stsguard_tlsrpt_report_domain_count(agg);
		for (size_t i = 0; i < sum->domains && st == STSGUARD_OK; i++)
			st = serve_domain(&p, agg, stsguard_tlsrpt_report_domain(agg, i), &guard, err);
	}
	stsguard_tlsrpt_report_free(agg);
	state_free(&p.state);
	free(guard.v);
	if (lockfd >= 0)
		close(lockfd);
	return st;
}

static void sum_add(stsguard_tlsrpt_send_summary *to, const stsguard_tlsrpt_send_summary *s)
{
	to->domains += s->domains;
	to->no_rua += s->no_rua;
	to->loop_guarded += s->loop_guarded;
	to->delivered += s->delivered;
	to->already += s->already;
	to->failed += s->failed;
	to->given_up += s->given_up;
	to->waiting += s->waiting;
	to->built += s->built;
	if (s->next_attempt > 0 && (to->next_attempt == 0 || s->next_attempt < to->next_attempt))
		to->next_attempt = s->next_attempt;
}

stsguard_status stsguard_tlsrpt_send_due(const stsguard_tlsrpt_send_env *env, uint64_t seed, unsigned spread_s,
                                         unsigned retention_days, int64_t *next_wakeup,
                                         stsguard_tlsrpt_send_summary *sum, stsguard_err *err)
{
	char today[STSGUARD_TLSRPT_DAY_LEN + 1];
	int64_t tstart, next = 0;
	stsguard_tlsrpt_send_summary total;

	memset(&total, 0, sizeof total);
	if (next_wakeup != NULL)
		*next_wakeup = 0;
	if (sum != NULL)
		memset(sum, 0, sizeof *sum);
	if (env == NULL || next_wakeup == NULL || env->dry_run || env->spool_dir == NULL)
		return sg_err(err, STSGUARD_BADARG, "send_due needs a spool and no dry run");
	if (stsguard_tlsrpt_day_name(env->now, today) != STSGUARD_OK ||
	    stsguard_tlsrpt_day_parse(today, &tstart) != STSGUARD_OK)
		return sg_err(err, STSGUARD_BADARG, "clock out of range");
#define NOTE(t)                                         \
	do {                                            \
		int64_t t_ = (t);                       \
		if (t_ > 0 && (next == 0 || t_ < next)) \
			next = t_;                      \
	} while (0)
	/* Today's reports go out after the next midnight. */
	int64_t at;
	if (stsguard_tlsrpt_schedule_first(today, seed, spread_s, &at) == STSGUARD_OK)
		NOTE(at);
	for (int back = 2; back >= 1; back--) {
		char day[STSGUARD_TLSRPT_DAY_LEN + 1];
		stsguard_tlsrpt_send_summary s;
		if (tstart - 86400 * back < 0 || stsguard_tlsrpt_day_name(tstart - 86400 * back, day) != STSGUARD_OK)
			continue;
		if (stsguard_tlsrpt_schedule_first(day, seed, spread_s, &at) != STSGUARD_OK)
			continue;
		if (env->now < at) {
			NOTE(at);
			continue;
		}
		stsguard_status st = stsguard_tlsrpt_send_day(env, day, &s, err);
		if (st == STSGUARD_NONE)
			continue;
		if (st == STSGUARD_TEMPFAIL) {
			logf_(env, STSGUARD_LOG_INFO, "tlsrpt %s: %s; trying again in a minute", day,
			      err != NULL ? err->msg : "spool busy");
			NOTE(env->now + 60);
			continue;
		}
		if (st != STSGUARD_OK)
			return st;
		sum_add(&total, &s);
		NOTE(s.next_attempt);
	}
#undef NOTE
	stsguard_status st = stsguard_tlsrpt_send_expire(env->spool_dir, env->now, retention_days, NULL, err);
	if (st != STSGUARD_OK)
		logf_(env, STSGUARD_LOG_WARNING, "tlsrpt: expiring delivery logs: %s", err != NULL ? err->msg : "");
	*next_wakeup = next;
	if (sum != NULL)
		*sum = total;
	return STSGUARD_OK;
}

stsguard_status stsguard_tlsrpt_send_expire(const char *spool_dir, int64_t now, unsigned retention_days,
                                            size_t *n_deleted, stsguard_err *err)
{
	char today[STSGUARD_TLSRPT_DAY_LEN + 1];
	int64_t tstart;
	stsguard_status st = STSGUARD_OK;

	if (n_deleted != NULL)
		*n_deleted = 0;
	if (stsguard_tlsrpt_day_name(now, today) != STSGUARD_OK || stsguard_tlsrpt_day_parse(today, &tstart) != STSGUARD_OK)
		return sg_err(err, STSGUARD_BADARG, "bad time");
	DIR *d = opendir(spool_dir);
	if (d == NULL)
		return errno == ENOENT ? STSGUARD_OK : sg_err(err, STSGUARD_IO, "%s: %s", spool_dir, strerror(errno));
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		char day[STSGUARD_TLSRPT_DAY_LEN + 1];
		int64_t ds;
		size_t l = strlen(de->d_name);
		if (l != STSGUARD_TLSRPT_DAY_LEN + 5 || strcmp(de->d_name + STSGUARD_TLSRPT_DAY_LEN, ".sent") != 0)
			continue;
		memcpy(day, de->d_name, STSGUARD_TLSRPT_DAY_LEN);
		day[STSGUARD_TLSRPT_DAY_LEN] = '\0';
		if (stsguard_tlsrpt_day_parse(day, &ds) != STSGUARD_OK)
			continue;
		if (ds >= tstart - (int64_t)retention_days * 86400)
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", spool_dir, de->d_name);
		if (unlink(path) != 0)
			st = sg_err(err, STSGUARD_IO, "%s: %s", path, strerror(errno));
		else if (n_deleted != NULL)
			(*n_deleted)++;
	}
	closedir(d);
	return st;
}
