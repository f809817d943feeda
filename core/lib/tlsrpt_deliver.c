/*
 * tlsrpt_deliver.c - the two ways a TLS-RPT report leaves the host
 * (RFC 8460 §3): an HTTPS POST to an "https:" rua, or a mail handed to the
 * local MTA for a "mailto:" rua.
 *
 * Why this layer exists: it is the only part of report sending with side
 * effects, so it sits behind stsguard_tlsrpt_deliver_ops and the engine
 * (tlsrpt_send.c) is tested with fakes. Contract:
 *
 *   https_post: libcurl, as fetch.c pins it down - the collector's name is
 *     resolved by our resolver and handed to curl (CURLOPT_RESOLVE), TLS >=
 *     1.2 with certificate and name checks (RFC 8460 §5.4 allows ignoring
 *     certificate errors; we do not, since the report describes the
 *     receiver's security), no redirects, no proxy unless configured, one
 *     total deadline, answer body capped and ignored. Only a 2xx status is
 *     success; anything else is retried (RFC 8460 §5.5).
 *   sendmail: fork + execv of the configured command (no shell: nothing in
 *     an address taken from DNS can become a command), "-f FROM" and the
 *     recipients appended, the message on stdin through a socketpair (so a
 *     child that dies early gives EPIPE, never SIGPIPE to our process), a
 *     deadline after which the child's process group is killed, success
 *     only on exit 0.
 */
#include "stsguard/tlsrpt_send.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "util.h"

#define POST_TIMEOUT_DEFAULT_S 30u
#define POST_TIMEOUT_MAX_S 600u
#define POST_ANSWER_MAX 4096u
#define SENDMAIL_TIMEOUT_DEFAULT_S 120u

/* ---- HTTPS ---- */

struct post_state {
	size_t answer_bytes;
};

static size_t on_answer(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct post_state *ps = ud;
	(void)ptr;
	ps->answer_bytes += size * nmemb;
	/* The answer is not used; a collector sending megabytes is cut off. */
	return ps->answer_bytes > POST_ANSWER_MAX ? 0 : size * nmemb;
}

static stsguard_status real_https_post(void *ctx, const char *url, const unsigned char *body, size_t len,
                                       stsguard_err *err)
{
	const stsguard_tlsrpt_deliver_conf *conf = ctx;
	unsigned timeout_s = conf->timeout_s ? conf->timeout_s : POST_TIMEOUT_DEFAULT_S;
	char *host = NULL, *port = NULL;
	struct curl_slist *headers = NULL, *resolve = NULL;
	struct post_state ps = {0};
	char errbuf[CURL_ERROR_SIZE] = "";
	stsguard_status st = STSGUARD_OK;
	CURL *easy = NULL;
	unsigned char tmp[16];
	bool literal, proxied;
	CURLcode cc = CURLE_OK;
	long code = 0;
	sg_buf b;
	CURLU *u;

	if (timeout_s > POST_TIMEOUT_MAX_S)
		timeout_s = POST_TIMEOUT_MAX_S;
	if (strlen(url) > STSGUARD_RUA_URI_MAX || strncasecmp(url, "https://", 8) != 0)
		return sg_err(err, STSGUARD_INVALID, "not an https: URI");
	u = curl_url();
	if (u == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		st = sg_err(err, STSGUARD_INVALID, "cannot parse the URI");
		goto out;
	}
	literal = inet_pton(AF_INET, host, tmp) == 1 || host[0] == '[';
	if (!literal) {
		/* One resolver for all DNS: the collector's addresses come from ours. */
		stsguard_addr_set addrs;
		stsguard_err derr = {""};
		stsguard_status ds, bs;
		if (conf->dns == NULL) {
			st = sg_err(err, STSGUARD_BADARG, "no resolver");
			goto out;
		}
		ds = conf->dns->addrs(conf->dns_ctx, host, &addrs, &derr);
		if (ds != STSGUARD_OK) {
			st = sg_err(err, ds == STSGUARD_NONE ? STSGUARD_TEMPFAIL : ds, "resolving %s: %s", host,
			            ds == STSGUARD_NONE ? "no address" : derr.msg);
			goto out;
		}
		sg_buf_init(&b, 2048);
		bs = sg_buf_printf(&b, "%s:%s:", host, port);
		for (size_t i = 0; bs == STSGUARD_OK && i < addrs.n; i++) {
			bool v6 = strchr(addrs.addr[i], ':') != NULL;
			bs = sg_buf_printf(&b, "%s%s%s%s", i > 0 ? "," : "", v6 ? "[" : "", addrs.addr[i], v6 ? "]" : "");
		}
		if (bs == STSGUARD_OK)
			resolve = curl_slist_append(NULL, b.data);
		sg_buf_free(&b);
		if (resolve == NULL) {
			st = sg_err(err, STSGUARD_NOMEM, "out of memory");
			goto out;
		}
	}
	headers = curl_slist_append(NULL, "Content-Type: application/tlsrpt+gzip");
	if (headers == NULL || (easy = curl_easy_init()) == NULL) {
		st = sg_err(err, STSGUARD_NOMEM, "out of memory");
		goto out;
	}
	proxied = conf->proxy != NULL && conf->proxy[0] != '\0';
#define OPT(o, v)                                            \
	do {                                                 \
		if (cc == CURLE_OK)                          \
			cc = curl_easy_setopt(easy, o, v);   \
	} while (0)
	OPT(CURLOPT_ERRORBUFFER, errbuf);
	OPT(CURLOPT_URL, url);
	OPT(CURLOPT_PROTOCOLS_STR, "https");
	OPT(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	OPT(CURLOPT_FOLLOWLOCATION, 0L);
	if (resolve != NULL)
		OPT(CURLOPT_RESOLVE, resolve);
	OPT(CURLOPT_PROXY, proxied ? conf->proxy : "");
	OPT(CURLOPT_NOPROXY, proxied ? "" : "*");
	OPT(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	OPT(CURLOPT_SSL_VERIFYPEER, 1L);
	OPT(CURLOPT_SSL_VERIFYHOST, 2L);
	if (conf->ca_file != NULL) {
		OPT(CURLOPT_CAINFO, conf->ca_file);
		OPT(CURLOPT_CAPATH, NULL);
	}
	OPT(CURLOPT_POST, 1L);
	OPT(CURLOPT_POSTFIELDS, (const char *)body);
	OPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	OPT(CURLOPT_HTTPHEADER, headers);
	OPT(CURLOPT_USERAGENT, "stsguard-tlsrpt/1");
	OPT(CURLOPT_TIMEOUT_MS, (long)timeout_s * 1000L);
	OPT(CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_s * 800L);
	OPT(CURLOPT_NOSIGNAL, 1L);
	OPT(CURLOPT_FORBID_REUSE, 1L);
	OPT(CURLOPT_WRITEFUNCTION, on_answer);
	OPT(CURLOPT_WRITEDATA, (void *)&ps);
#undef OPT
	if (cc != CURLE_OK) {
		st = sg_err(err, STSGUARD_TEMPFAIL, "curl setup: %s", curl_easy_strerror(cc));
		goto out;
	}
	cc = curl_easy_perform(easy);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	if (cc == CURLE_WRITE_ERROR && code >= 200 && code <= 299) {
		st = STSGUARD_OK; /* accepted; the over-long answer body does not matter */
	} else if (cc != CURLE_OK) {
		st = sg_err(err, cc == CURLE_OPERATION_TIMEDOUT ? STSGUARD_TIMEOUT : STSGUARD_TEMPFAIL, "%s",
		            errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
	} else if (code < 200 || code > 299) {
		/* Only 2xx is an acceptance; the rest is retried (RFC 8460 §5.5). */
		st = sg_err(err, STSGUARD_TEMPFAIL, "HTTP %ld", code);
	} else {
		sg_err(err, STSGUARD_OK, "HTTP %ld", code);
	}
out:
	curl_easy_cleanup(easy);
	curl_slist_free_all(headers);
	curl_slist_free_all(resolve);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return st;
}

/* ---- sendmail ---- */

stsguard_status stsguard_tlsrpt_sendmail_argv(const char *cmd, char *buf, size_t bufsz,
                                              char *argv[STSGUARD_SENDMAIL_ARGS_MAX + 1], size_t *n,
                                              stsguard_err *err)
{
	size_t len = cmd != NULL ? strlen(cmd) : 0;
	*n = 0;
	argv[0] = NULL;
	if (len == 0 || len >= bufsz)
		return sg_err(err, STSGUARD_INVALID, "sendmail command empty or too long");
	memcpy(buf, cmd, len + 1);
	char *p = buf;
	while (*p != '\0') {
		while (*p == ' ')
			*p++ = '\0';
		if (*p == '\0')
			break;
		if (*n >= STSGUARD_SENDMAIL_ARGS_MAX)
			return sg_err(err, STSGUARD_INVALID, "more than %u words in the sendmail command",
			              STSGUARD_SENDMAIL_ARGS_MAX);
		argv[(*n)++] = p;
		while (*p != '\0' && *p != ' ')
			p++;
	}
	argv[*n] = NULL;
	if (*n == 0 || argv[0][0] != '/')
		return sg_err(err, STSGUARD_INVALID, "the sendmail command must start with an absolute path");
	for (const char *q = cmd; *q != '\0'; q++)
		if ((unsigned char)*q < 0x20)
			return sg_err(err, STSGUARD_INVALID, "control character in the sendmail command");
	return STSGUARD_OK;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- SMTP submission (report_smtp) ---- */

stsguard_status stsguard_tlsrpt_smtp_url_check(const char *url, stsguard_err *err)
{
	char host[64];
	const char *p;
	size_t hl;
	unsigned char tmp[16];
	if (url == NULL || strncmp(url, "smtp://", 7) != 0)
		return sg_err(err, STSGUARD_INVALID, "report_smtp must be smtp://IP:PORT");
	p = url + 7;
	if (*p == '[') {
		const char *close = strchr(p, ']');
		if (close == NULL || close[1] != ':')
			return sg_err(err, STSGUARD_INVALID, "report_smtp: expected smtp://[IPv6]:PORT");
		hl = (size_t)(close - p - 1);
		if (hl == 0 || hl >= sizeof host)
			return sg_err(err, STSGUARD_INVALID, "report_smtp: bad IPv6 address");
		memcpy(host, p + 1, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET6, host, tmp) != 1)
			return sg_err(err, STSGUARD_INVALID, "report_smtp: '%s' is not an IPv6 address", host);
		p = close + 2;
	} else {
		const char *colon = strchr(p, ':');
		hl = colon != NULL ? (size_t)(colon - p) : 0;
		if (hl == 0 || hl >= sizeof host)
			return sg_err(err, STSGUARD_INVALID, "report_smtp must be smtp://IP:PORT");
		memcpy(host, p, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET, host, tmp) != 1)
			return sg_err(err, STSGUARD_INVALID, "report_smtp: '%s' is not an IP address (no names: nothing to resolve)",
			              host);
		p = colon + 1;
	}
	unsigned long port = 0;
	size_t digits = 0;
	for (; *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
		port = port * 10 + (unsigned long)(*p - '0');
	if (digits == 0 || *p != '\0' || port == 0 || port > 65535)
		return sg_err(err, STSGUARD_INVALID, "report_smtp: expected a port 1-65535 and nothing after it");
	return STSGUARD_OK;
}

struct upload {
	const char *p;
	size_t left;
};

static size_t on_upload(char *buf, size_t size, size_t nmemb, void *userdata)
{
	struct upload *u = userdata;
	size_t n = size * nmemb < u->left ? size * nmemb : u->left;
	memcpy(buf, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

/*
 * Submit msg over SMTP (libcurl) to the MTA at conf->smtp, typically the
 * local one on 127.0.0.1:25. No sendmail binary, so this also works from a
 * sandbox that forbids set-uid/set-gid programs (NoNewPrivileges). libcurl
 * does the SMTP dot-stuffing; any non-2xx/3xx reply fails the attempt.
 */
static stsguard_status smtp_submit(const stsguard_tlsrpt_deliver_conf *conf, const char *from,
                                   const char *const *rcpts, size_t n_rcpts, const char *msg, size_t len,
                                   stsguard_err *err)
{
	char errbuf[CURL_ERROR_SIZE] = "", addr[STSGUARD_ADDR_MAX + 3];
	struct curl_slist *rl = NULL;
	CURLcode cc = CURLE_OK;
	stsguard_status st;
	struct upload up = {msg, len};
	unsigned timeout_s = conf->sendmail_timeout_s ? conf->sendmail_timeout_s : 120;

	if (stsguard_tlsrpt_smtp_url_check(conf->smtp, err) != STSGUARD_OK)
		return STSGUARD_INVALID;
	for (size_t i = 0; i < n_rcpts; i++) {
		snprintf(addr, sizeof addr, "<%s>", rcpts[i]);
		struct curl_slist *nl = curl_slist_append(rl, addr);
		if (nl == NULL) {
			curl_slist_free_all(rl);
			return sg_err(err, STSGUARD_NOMEM, "out of memory");
		}
		rl = nl;
	}
	CURL *easy = curl_easy_init();
	if (easy == NULL) {
		curl_slist_free_all(rl);
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	}
	snprintf(addr, sizeof addr, "<%s>", from);
#define OPT(o, v)                                            \
	do {                                                 \
		if (cc == CURLE_OK)                          \
			cc = curl_easy_setopt(easy, o, v);   \
	} while (0)
	OPT(CURLOPT_ERRORBUFFER, errbuf);
	OPT(CURLOPT_URL, conf->smtp);
	OPT(CURLOPT_PROTOCOLS_STR, "smtp");
	OPT(CURLOPT_PROXY, "");
	OPT(CURLOPT_NOPROXY, "*");
	OPT(CURLOPT_MAIL_FROM, addr);
	OPT(CURLOPT_MAIL_RCPT, rl);
	OPT(CURLOPT_UPLOAD, 1L);
	OPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	OPT(CURLOPT_READFUNCTION, on_upload);
	OPT(CURLOPT_READDATA, (void *)&up);
	OPT(CURLOPT_TIMEOUT_MS, (long)timeout_s * 1000L);
	OPT(CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	OPT(CURLOPT_NOSIGNAL, 1L);
	OPT(CURLOPT_FORBID_REUSE, 1L);
#undef OPT
	if (cc == CURLE_OK)
		cc = curl_easy_perform(easy);
	if (cc == CURLE_OK)
		st = sg_err(err, STSGUARD_OK, "accepted by %s", conf->smtp);
	else
		st = sg_err(err, cc == CURLE_OPERATION_TIMEDOUT ? STSGUARD_TIMEOUT : STSGUARD_TEMPFAIL, "%s: %s", conf->smtp,
		            errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
	curl_easy_cleanup(easy);
	curl_slist_free_all(rl);
	return st;
}

static stsguard_status real_sendmail(void *ctx, const char *from, const char *const *rcpts, size_t n_rcpts,
                                     const char *msg, size_t len, stsguard_err *err)
{
	const stsguard_tlsrpt_deliver_conf *conf = ctx;
	if (conf->smtp != NULL && conf->smtp[0] != '\0')
		return smtp_submit(conf, from, rcpts, n_rcpts, msg, len, err);
	char buf[1024];
	char *argv[STSGUARD_SENDMAIL_ARGS_MAX + 4 + STSGUARD_MAILTO_ADDRS_MAX];
	size_t n;
	int sv[2];
	stsguard_status st;

	if ((st = stsguard_tlsrpt_sendmail_argv(conf->sendmail, buf, sizeof buf, argv, &n, err)) != STSGUARD_OK)
		return st;
	if (n_rcpts == 0 || n_rcpts > STSGUARD_MAILTO_ADDRS_MAX)
		return sg_err(err, STSGUARD_BADARG, "1..%u recipients", STSGUARD_MAILTO_ADDRS_MAX);
	/* Addresses were checked by stsguard_tlsrpt_mailto_parse: none starts with '-'. */
	argv[n++] = (char *)(uintptr_t) "-f";
	argv[n++] = (char *)(uintptr_t)from;
	for (size_t i = 0; i < n_rcpts; i++) {
		if (rcpts[i][0] == '-')
			return sg_err(err, STSGUARD_INVALID, "recipient starts with '-'");
		argv[n++] = (char *)(uintptr_t)rcpts[i];
	}
	argv[n] = NULL;
	if (from[0] == '-')
		return sg_err(err, STSGUARD_INVALID, "sender starts with '-'");

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return sg_err(err, STSGUARD_TEMPFAIL, "socketpair: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return sg_err(err, STSGUARD_TEMPFAIL, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		/* Child: stdin is the socket, stdout to /dev/null; nothing else inherited (CLOEXEC). */
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (dup2(sv[1], 0) < 0 || (null >= 0 && dup2(null, 1) < 0))
			_exit(127);
		/* The daemon blocks signals for signalfd and may ignore SIGPIPE: sendmail gets defaults. */
		sigset_t none;
		/* Its own process group, so a timeout kills whatever it started too. */
		setpgid(0, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], argv);
		_exit(127);
	}
	close(sv[1]);
	setpgid(pid, pid); /* also here: whichever of parent and child runs first */
	shutdown(sv[0], SHUT_RD);
	unsigned timeout_s = conf->sendmail_timeout_s ? conf->sendmail_timeout_s : SENDMAIL_TIMEOUT_DEFAULT_S;
	int64_t deadline = mono_ms() + (int64_t)timeout_s * 1000;
	size_t off = 0;
	bool timed_out = false, write_failed = false;
	int werrno = 0;
	while (off < len) {
		struct pollfd pfd = {.fd = sv[0], .events = POLLOUT};
		int64_t left = deadline - mono_ms();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		int pr = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			continue;
		ssize_t w = send(sv[0], msg + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w <= 0) {
			write_failed = true;
			werrno = errno;
			break;
		}
		off += (size_t)w;
	}
	close(sv[0]); /* EOF: the message is complete */
	int status = 0;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			status = -1;
			break;
		}
		if (timed_out || mono_ms() >= deadline) {
			timed_out = true;
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (timed_out)
		return sg_err(err, STSGUARD_TIMEOUT, "%s did not finish within %u s", argv[0], timeout_s);
	if (status == -1)
		return sg_err(err, STSGUARD_TEMPFAIL, "waitpid: %s", strerror(errno));
	if (WIFSIGNALED(status))
		return sg_err(err, STSGUARD_TEMPFAIL, "%s killed by signal %d", argv[0], WTERMSIG(status));
	if (WEXITSTATUS(status) != 0)
		return sg_err(err, STSGUARD_TEMPFAIL, "%s exited with status %d%s", argv[0], WEXITSTATUS(status),
		              WEXITSTATUS(status) == 127 ? " (cannot execute?)" : "");
	if (write_failed)
		return sg_err(err, STSGUARD_TEMPFAIL, "writing to %s: %s", argv[0], strerror(werrno));
	return STSGUARD_OK;
}

const stsguard_tlsrpt_deliver_ops stsguard_tlsrpt_real_deliver_ops = {
	.https_post = real_https_post,
	.sendmail = real_sendmail,
};
