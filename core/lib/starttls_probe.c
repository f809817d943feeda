/*
 * starttls_probe.c - an SMTP STARTTLS probe of one MX host (starttls_probe.h).
 *
 * Why: OpenSMTPD refuses an untrusted, an expired and a wrongly named
 * certificate alike and its report events say none of it, while RFC 8460
 * §4.3 wants the three told apart. stsguardd asks the MX itself, with the
 * same rules an enforcing sender applies (RFC 8461 §4.2: TLS >= 1.2, a
 * chain to a trusted root, the MX host name in the certificate).
 *
 * Contract: blocking, for worker threads only; every step is bounded by
 * one deadline (poll on a non-blocking socket); every SMTP reply line is
 * capped (REPLY_LINE_MAX) and a reply has at most REPLY_LINES lines.
 * Nothing is sent after STARTTLS but QUIT.
 */
#include "starttls_probe_fd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "stsguard/discover.h"
#include "util.h"

#define REPLY_LINE_MAX 1024 /* RFC 5321 §4.5.3.1.5: 512; generous */
#define REPLY_LINES 64

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short ev, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -1;
		struct pollfd p = {fd, ev, 0};
		int n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

struct conn {
	int fd;
	int64_t deadline;
	char buf[REPLY_LINE_MAX * 2];
	size_t len;
};

static int send_str(struct conn *c, const char *s)
{
	size_t n = strlen(s), off = 0;
	while (off < n) {
		ssize_t w = send(c->fd, s + off, n - off, MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(c->fd, POLLOUT, c->deadline) != 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

/* One line (CRLF or LF stripped) into line; -1 on timeout, EOF or an over-long line. */
static int read_line(struct conn *c, char *line, size_t cap)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (nl != NULL) {
			size_t n = (size_t)(nl - c->buf);
			size_t keep = n > 0 && c->buf[n - 1] == '\r' ? n - 1 : n;
			if (keep >= cap)
				return -1;
			memcpy(line, c->buf, keep);
			line[keep] = '\0';
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			return 0;
		}
		if (c->len >= REPLY_LINE_MAX)
			return -1;
		ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
		if (r > 0) {
			c->len += (size_t)r;
		} else if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(c->fd, POLLIN, c->deadline) != 0)
				return -1;
		} else {
			return -1;
		}
	}
}

/* A whole (multi-line) reply: its code, and whether a line announced STARTTLS. */
static int read_reply(struct conn *c, int *code, int *starttls)
{
	char line[REPLY_LINE_MAX];
	for (int i = 0; i < REPLY_LINES; i++) {
		if (read_line(c, line, sizeof line) != 0 || strlen(line) < 3 || !sg_is_digit((unsigned char)line[0]) ||
		    !sg_is_digit((unsigned char)line[1]) || !sg_is_digit((unsigned char)line[2]))
			return -1;
		*code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
		if (starttls != NULL && strlen(line) >= 12 && sg_ieq(line + 4, 8, "STARTTLS", 8) &&
		    (line[12] == '\0' || line[12] == ' '))
			*starttls = 1;
		if (line[3] != '-')
			return 0;
	}
	return -1;
}

static stsguard_result_type classify(long verify)
{
	switch (verify) {
	case X509_V_OK:
		return STSGUARD_RESULT_SUCCESS;
	case X509_V_ERR_HOSTNAME_MISMATCH:
		return STSGUARD_RESULT_CERTIFICATE_HOST_MISMATCH;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return STSGUARD_RESULT_CERTIFICATE_EXPIRED;
	default:
		return STSGUARD_RESULT_CERTIFICATE_NOT_TRUSTED;
	}
}

/* The TLS handshake and the verification, once STARTTLS was accepted. */
static stsguard_status tls_part(struct conn *c, const char *address, const char *mx, const char *ca_file,
                                stsguard_result_type *result, char *detail, size_t detail_size, stsguard_err *err)
{
	stsguard_status st = STSGUARD_OK;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = NULL;
	char host[STSGUARD_DOMAIN_MAX + 1]; /* SSL_set_tlsext_host_name takes a non-const name */
	snprintf(host, sizeof host, "%s", mx);

	if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		st = sg_err(err, STSGUARD_NOMEM, "probe: SSL_CTX_new failed");
	/* Verified after the handshake: the result names the first problem OpenSSL found. */
	if (st == STSGUARD_OK) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		if (ca_file != NULL ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1
		                    : SSL_CTX_set_default_verify_paths(ctx) != 1)
			st = sg_err(err, STSGUARD_IO, "probe: cannot load the CA store");
	}
	if (st == STSGUARD_OK) {
		ssl = SSL_new(ctx);
		if (ssl == NULL || SSL_set_fd(ssl, c->fd) != 1 || SSL_set_tlsext_host_name(ssl, host) != 1 ||
		    SSL_set1_host(ssl, host) != 1)
			st = sg_err(err, STSGUARD_NOMEM, "probe: SSL setup failed");
	}
	if (st == STSGUARD_OK) {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		for (;;) {
			int r = SSL_connect(ssl);
			if (r == 1)
				break;
			int e = SSL_get_error(ssl, r);
			if ((e == SSL_ERROR_WANT_READ && wait_fd(c->fd, POLLIN, c->deadline) == 0) ||
			    (e == SSL_ERROR_WANT_WRITE && wait_fd(c->fd, POLLOUT, c->deadline) == 0))
				continue;
			unsigned long ossl = ERR_peek_last_error();
			char ebuf[160];
			ERR_error_string_n(ossl, ebuf, sizeof ebuf);
			st = sg_err(err, STSGUARD_TEMPFAIL, "probe: TLS handshake with %s failed: %s", address,
			            ossl != 0 ? ebuf : "timeout or connection closed");
			break;
		}
	}
	if (st == STSGUARD_OK) {
		long verify = SSL_get_verify_result(ssl);
		*result = classify(verify);
		if (detail != NULL && detail_size > 0)
			snprintf(detail, detail_size, "%s", X509_verify_cert_error_string(verify));
		(void)SSL_write(ssl, "QUIT\r\n", 6); /* a polite end; the answer does not matter */
	}
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return st;
}

/* Greeting, EHLO, STARTTLS, then tls_part. */
static stsguard_status smtp_part(struct conn *c, const char *address, const char *mx, const char *ca_file,
                                 stsguard_result_type *result, char *detail, size_t detail_size, stsguard_err *err)
{
	int code = 0, starttls = 0;

	if (read_reply(c, &code, NULL) != 0 || code != 220)
		return sg_err(err, STSGUARD_TEMPFAIL, "probe: no SMTP greeting from %s", address);
	if (send_str(c, "EHLO stsguard-probe.invalid\r\n") != 0 || read_reply(c, &code, &starttls) != 0 || code != 250)
		return sg_err(err, STSGUARD_TEMPFAIL, "probe: EHLO refused by %s", address);
	if (!starttls) {
		*result = STSGUARD_RESULT_STARTTLS_NOT_SUPPORTED;
		if (detail != NULL && detail_size > 0)
			snprintf(detail, detail_size, "no STARTTLS in the EHLO reply");
		(void)send_str(c, "QUIT\r\n");
		return STSGUARD_OK;
	}
	if (send_str(c, "STARTTLS\r\n") != 0 || read_reply(c, &code, NULL) != 0 || code != 220)
		return sg_err(err, STSGUARD_TEMPFAIL, "probe: STARTTLS refused by %s", address);
	if (c->len != 0) /* RFC 3207 §4.2: nothing may be pipelined into the handshake */
		return sg_err(err, STSGUARD_TEMPFAIL, "probe: %s sent data before the TLS handshake", address);
	return tls_part(c, address, mx, ca_file, result, detail, detail_size, err);
}

stsguard_status stsguard_starttls_probe(const char *address, uint16_t port, const char *mx, const char *ca_file,
                                        int timeout_ms, stsguard_result_type *result, char *detail,
                                        size_t detail_size, stsguard_err *err)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr *sa;
	socklen_t sl;
	char norm[STSGUARD_DOMAIN_MAX + 1];

	if (detail != NULL && detail_size > 0)
		detail[0] = '\0';
	memset(&sin, 0, sizeof sin);
	memset(&sin6, 0, sizeof sin6);
	if (address != NULL && inet_pton(AF_INET, address, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		sa = (struct sockaddr *)&sin;
		sl = sizeof sin;
	} else if (address != NULL && inet_pton(AF_INET6, address, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(port);
		sa = (struct sockaddr *)&sin6;
		sl = sizeof sin6;
	} else {
		return sg_err(err, STSGUARD_BADARG, "probe: '%.60s' is not an IP address", address ? address : "");
	}
	if (mx == NULL || stsguard_domain_normalize(mx, norm) != STSGUARD_OK || result == NULL)
		return sg_err(err, STSGUARD_BADARG, "probe: the MX is not a host name");

	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 1);
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sg_err(err, STSGUARD_IO, "probe: socket: %s", strerror(errno));
	stsguard_status st = STSGUARD_OK;
	if (connect(fd, sa, sl) != 0) {
		int soerr = 0;
		socklen_t el = sizeof soerr;
		if (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) != 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el) != 0 || soerr != 0)
			st = sg_err(err, STSGUARD_TEMPFAIL, "probe: cannot connect to %s:%u: %s", address, (unsigned)port,
			            soerr != 0 ? strerror(soerr) : "timeout");
	}
	if (st == STSGUARD_OK) {
		int64_t left = deadline - now_ms();
		st = sg_starttls_probe_fd(fd, address, norm, ca_file, left > 0 ? (int)left : 1, result, detail,
		                          detail_size, err);
	}
	close(fd);
	return st;
}

stsguard_status sg_starttls_probe_fd(int fd, const char *address, const char *mx, const char *ca_file,
                                     int timeout_ms, stsguard_result_type *result, char *detail,
                                     size_t detail_size, stsguard_err *err)
{
	struct conn c;
	int fl = fcntl(fd, F_GETFL);

	if (detail != NULL && detail_size > 0)
		detail[0] = '\0';
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
		return sg_err(err, STSGUARD_IO, "probe: fcntl: %s", strerror(errno));
	c.fd = fd;
	c.len = 0;
	c.deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 1);
	return smtp_part(&c, address, mx, ca_file, result, detail, detail_size, err);
}
