/* prefetch.c - recipient domain extraction and the `prefetch` request.
 *
 * Why: Sendmail asks stsguardd's `sts` map at delivery time; a domain seen
 * for the first time then has no policy cached, and stsguardd answers within
 * query_timeout or not at all (RFC 8461 §5: no known policy = no
 * enforcement).  Telling stsguardd about the recipient domain while the
 * message is still being received gives the fetch a head start.
 *
 * Contract: nothing here may delay mail noticeably or ever fail it.  The
 * socket is non-blocking and every step is bounded by one overall deadline;
 * replies are capped at SMP_REPLY_MAX bytes and netstring lengths at 9
 * digits; all errors come back as a reason string for the caller to log.
 * No libcurl, ldns or OpenSSL: the milter is a thin client of stsguardd. */
#include "prefetch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int smp_rcpt_domain(const char *addr, size_t len, char *out)
{
	size_t n = 0, i, at = (size_t)-1, end;

	while (n < len && addr[n] != '\0')
		n++;
	/* strip <...> and surrounding blanks */
	while (n > 0 && (addr[n - 1] == ' ' || addr[n - 1] == '\t'))
		n--;
	if (n > 0 && addr[n - 1] == '>')
		n--;
	for (i = 0; i < n; i++)
		if (addr[i] == '@')
			at = i;
	if (at == (size_t)-1 || at + 1 >= n)
		return 0;
	end = n;
	if (addr[end - 1] == '.')
		end--;
	if (end <= at + 1 || end - (at + 1) > SMP_DOMAIN_MAX)
		return 0;
	for (i = at + 1; i < end; i++) {
		unsigned char c = (unsigned char)addr[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		/* host names only: an address literal "[...]" has no policy
		 * (RFC 8461 §3.4) and anything else stsguardd would refuse */
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
			return 0;
		out[i - (at + 1)] = (char)c;
	}
	out[end - (at + 1)] = '\0';
	return 1;
}

struct smp_endpoint {
	int family;
	socklen_t addrlen;
	struct sockaddr_storage addr;
};

static int parse_port(const char *s, size_t n, unsigned short *port)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > 5)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return 0;
	*port = (unsigned short)v;
	return 1;
}

static int set_ip(struct smp_endpoint *ep, const char *host, size_t hlen, unsigned short port)
{
	char buf[64];
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ep->addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ep->addr;

	if (hlen == 0 || hlen >= sizeof buf)
		return 0;
	memcpy(buf, host, hlen);
	buf[hlen] = '\0';
	if (inet_pton(AF_INET, buf, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		ep->family = AF_INET;
		ep->addrlen = sizeof *a4;
		return 1;
	}
	if (inet_pton(AF_INET6, buf, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		ep->family = AF_INET6;
		ep->addrlen = sizeof *a6;
		return 1;
	}
	return 0;
}

struct smp_endpoint *smp_endpoint_parse(const char *spec, char *err, size_t errlen)
{
	struct smp_endpoint *ep = calloc(1, sizeof *ep);
	const char *p, *c;
	unsigned short port;
	size_t n;

	if (ep == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&ep->addr;
		p = strchr(spec, ':') + 1;
		n = strlen(p);
		if (n == 0 || p[0] != '/' || n >= sizeof un->sun_path) {
			snprintf(err, errlen, "'%s': want unix:/absolute/path (under %zu bytes)", spec,
			         sizeof un->sun_path);
			free(ep);
			return NULL;
		}
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, p, n + 1);
		ep->family = AF_UNIX;
		ep->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
		return ep;
	}
	if (strncmp(spec, "inet:", 5) == 0 || strncmp(spec, "inet6:", 6) == 0) {
		p = strchr(spec, ':') + 1;
		if ((c = strchr(p, '@')) != NULL) { /* Sendmail: inet:PORT@HOST */
			if (parse_port(p, (size_t)(c - p), &port) && set_ip(ep, c + 1, strlen(c + 1), port))
				return ep;
		} else if (p[0] == '[') { /* inet:[::1]:PORT */
			c = strchr(p, ']');
			if (c != NULL && c[1] == ':' && parse_port(c + 2, strlen(c + 2), &port) &&
			    set_ip(ep, p + 1, (size_t)(c - p - 1), port))
				return ep;
		} else if ((c = strrchr(p, ':')) != NULL) { /* inet:127.0.0.1:PORT */
			if (parse_port(c + 1, strlen(c + 1), &port) && set_ip(ep, p, (size_t)(c - p), port))
				return ep;
		}
	}
	snprintf(err, errlen, "'%s': want unix:/path, inet:PORT@ADDRESS or inet:ADDRESS:PORT (a numeric address)",
	         spec);
	free(ep);
	return NULL;
}

void smp_endpoint_free(struct smp_endpoint *ep)
{
	free(ep);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* wait for EVENTS on fd until deadline; 1 ready, 0 timeout, -1 error */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - now_ms();
		struct pollfd pfd = {.fd = fd, .events = events};
		int r;

		if (left <= 0)
			return 0;
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* EAGAIN and EWOULDBLOCK may differ (POSIX); -Wlogical-op objects where not */
static int retry_errno(int e)
{
#if EAGAIN != EWOULDBLOCK
	if (e == EWOULDBLOCK)
		return 1;
#endif
	return e == EAGAIN || e == EINTR;
}

static int fail(char *reply, size_t replylen, const char *what, int e)
{
	if (e != 0)
		snprintf(reply, replylen, "%s: %s", what, strerror(e));
	else
		snprintf(reply, replylen, "%s", what);
	return -1;
}

/* Parse one netstring reply out of buf[0..n): 1 complete (payload copied to
 * reply), 0 need more, -1 malformed. */
static int parse_reply(const char *buf, size_t n, char *reply, size_t replylen)
{
	size_t i = 0, len = 0;

	while (i < n && buf[i] >= '0' && buf[i] <= '9') {
		if (i == 9)
			return -1; /* over SMP_REPLY_MAX anyway */
		len = len * 10 + (size_t)(buf[i] - '0');
		i++;
	}
	if (i == n)
		return 0;
	if (i == 0 || buf[i] != ':' || len > SMP_REPLY_MAX || len + 1 > replylen)
		return -1;
	if (n < i + 1 + len + 1)
		return 0;
	if (buf[i + 1 + len] != ',')
		return -1;
	memcpy(reply, buf + i + 1, len);
	reply[len] = '\0';
	return 1;
}

int smp_prefetch(const struct smp_endpoint *ep, const char *domain, int timeout_ms,
                 char *reply, size_t replylen)
{
	char req[16 + SMP_DOMAIN_MAX + 16], buf[SMP_REPLY_MAX + 16];
	long long deadline = now_ms() + timeout_ms;
	size_t dlen = strlen(domain), off = 0, got = 0;
	int fd, r, n;

	if (dlen == 0 || dlen > SMP_DOMAIN_MAX)
		return fail(reply, replylen, "bad domain", 0);
	n = snprintf(req, sizeof req, "%zu:prefetch %s,", dlen + 9, domain);
	if (n < 0 || (size_t)n >= sizeof req)
		return fail(reply, replylen, "request too long", 0);

	fd = socket(ep->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(reply, replylen, "socket", errno);
	if (connect(fd, (const struct sockaddr *)&ep->addr, ep->addrlen) != 0) {
		int e = errno, so = 0;
		socklen_t sl = sizeof so;
		if (e != EINPROGRESS && e != EAGAIN) {
			close(fd);
			return fail(reply, replylen, "connect", e);
		}
		r = wait_fd(fd, POLLOUT, deadline);
		if (r <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) != 0 || so != 0) {
			close(fd);
			return fail(reply, replylen, "connect", r == 0 ? ETIMEDOUT : so != 0 ? so : errno);
		}
	}
	while (off < (size_t)n) {
		ssize_t w = send(fd, req + off, (size_t)n - off, MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && !retry_errno(errno)) {
			int e = errno;
			close(fd);
			return fail(reply, replylen, "send", e);
		}
		r = wait_fd(fd, POLLOUT, deadline);
		if (r <= 0) {
			close(fd);
			return fail(reply, replylen, "send", r == 0 ? ETIMEDOUT : errno);
		}
	}
	for (;;) {
		ssize_t rd = recv(fd, buf + got, sizeof buf - got, 0);
		if (rd > 0) {
			got += (size_t)rd;
			r = parse_reply(buf, got, reply, replylen);
			if (r != 0) {
				close(fd);
				return r == 1 ? 0 : fail(reply, replylen, "malformed reply", 0);
			}
			if (got == sizeof buf) {
				close(fd);
				return fail(reply, replylen, "reply too long", 0);
			}
			continue;
		}
		if (rd == 0) {
			close(fd);
			return fail(reply, replylen, "connection closed before the reply", 0);
		}
		if (!retry_errno(errno)) {
			int e = errno;
			close(fd);
			return fail(reply, replylen, "recv", e);
		}
		r = wait_fd(fd, POLLIN, deadline);
		if (r <= 0) {
			close(fd);
			return fail(reply, replylen, "recv", r == 0 ? ETIMEDOUT : errno);
		}
	}
}
