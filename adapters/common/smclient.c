/*
 * smclient.c - a socketmap client for code living inside MTA processes
 * (see smclient.h). Netstrings per docs/PROTOCOL.md §2.
 */
#include "smclient.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* EAGAIN and EWOULDBLOCK are the same on Linux, not everywhere. */
static int would_block(int e)
{
#if EAGAIN != EWOULDBLOCK
	if (e == EWOULDBLOCK)
		return 1;
#endif
	return e == EAGAIN;
}

static void fail(char *err, size_t errsz, const char *what, int e)
{
	if (err == NULL || errsz == 0)
		return;
	if (e != 0)
		snprintf(err, errsz, "%s: %s", what, strerror(e));
	else
		snprintf(err, errsz, "%s", what);
}

void smc_close(struct smc *c)
{
	if (c->fd >= 0 && c->pid == getpid())
		close(c->fd);
	c->fd = -1;
}

/* Wait until fd is ready for events, or the deadline passes: 0 ready, -1 timeout/error (errno). */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd p = {fd, events, 0};
		int n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int open_conn(struct smc *c, const char *path, long long deadline, char *err, size_t errsz)
{
	struct sockaddr_un sun;
	size_t pl = strlen(path);

	if (pl >= sizeof sun.sun_path) { /* c->path has the same size */
		fail(err, errsz, "socket path too long", 0);
		return -1;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, pl + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fail(err, errsz, "socket", errno);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		int e = errno;
		if (e != EINPROGRESS && e != EAGAIN) {
			close(fd);
			fail(err, errsz, path, e);
			return -1;
		}
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		if (wait_fd(fd, POLLOUT, deadline) != 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 ||
		    soerr != 0) {
			e = soerr != 0 ? soerr : errno;
			close(fd);
			fail(err, errsz, path, e);
			return -1;
		}
	}
	c->fd = fd;
	c->pid = getpid();
	memcpy(c->path, path, pl + 1);
	return 0;
}

static int send_all(int fd, const char *buf, size_t len, long long deadline)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && would_block(errno)) {
			if (wait_fd(fd, POLLOUT, deadline) != 0)
				return -1;
			continue;
		}
		return -1;
	}
	return 0;
}

/*
 * Read one netstring reply into reply. Returns 0, -1 on error (errno set,
 * EPROTO for a framing error), or -2 when the peer closed before sending a
 * byte (a stale connection the caller may reopen).
 */
static int read_reply(int fd, char *reply, size_t replysz, long long deadline)
{
	char hdr[16];
	size_t hl = 0, want = 0, got = 0;
	int in_payload = 0;
	char c;

	for (;;) {
		if (in_payload && got == want) {
			/* the trailing ',' */
			ssize_t n = recv(fd, &c, 1, 0);
			if (n == 1) {
				if (c != ',') {
					errno = EPROTO;
					return -1;
				}
				reply[want] = '\0';
				return 0;
			}
			if (n == 0) {
				errno = ECONNRESET;
				return -1;
			}
		} else if (in_payload) {
			ssize_t n = recv(fd, reply + got, want - got, 0);
			if (n > 0) {
				got += (size_t)n;
				continue;
			}
			if (n == 0) {
				errno = ECONNRESET;
				return -1;
			}
		} else {
			ssize_t n = recv(fd, &c, 1, 0);
			if (n == 1) {
				if (c == ':') {
					if (hl == 0 || (hl > 1 && hdr[0] == '0')) {
						errno = EPROTO;
						return -1;
					}
					for (size_t i = 0; i < hl; i++)
						want = want * 10 + (size_t)(hdr[i] - '0');
					if (want >= replysz || want > SMC_REPLY_MAX) {
						errno = EMSGSIZE;
						return -1;
					}
					in_payload = 1;
					continue;
				}
				if (c < '0' || c > '9' || hl >= 7) {
					errno = EPROTO;
					return -1;
				}
				hdr[hl++] = c;
				continue;
			}
			if (n == 0) {
				if (hl == 0)
					return -2;
				errno = ECONNRESET;
				return -1;
			}
		}
		/* recv returned -1 */
		if (errno == EINTR)
			continue;
		if (!would_block(errno))
			return -1;
		if (wait_fd(fd, POLLIN, deadline) != 0)
			return -1;
	}
}

int smc_query(struct smc *c, const char *path, const char *map, const char *key, int timeout_ms, char *reply,
              size_t replysz, char *err, size_t errsz)
{
	char req[SMC_REQUEST_MAX + 32];
	long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 1);
	size_t ml = strlen(map), kl = strlen(key);

	if (reply == NULL || replysz == 0) {
		fail(err, errsz, "no reply buffer", 0);
		return -1;
	}
	reply[0] = '\0';
	if (ml + 1 + kl > SMC_REQUEST_MAX) {
		fail(err, errsz, "request longer than the daemon accepts", 0);
		return -1;
	}
	int hl = snprintf(req, sizeof req, "%zu:", ml + 1 + kl);
	memcpy(req + hl, map, ml);
	req[hl + (int)ml] = ' ';
	memcpy(req + hl + ml + 1, key, kl);
	req[hl + ml + 1 + kl] = ',';
	size_t rl = (size_t)hl + ml + 1 + kl + 1;

	/* A connection opened by another process (inherited across fork) is not ours to use. */
	if (c->fd >= 0 && (c->pid != getpid() || strcmp(c->path, path) != 0))
		smc_close(c);
	for (int attempt = 0; attempt < 2; attempt++) {
		int reused = c->fd >= 0;
		if (!reused && open_conn(c, path, deadline, err, errsz) != 0)
			return -1;
		if (send_all(c->fd, req, rl, deadline) == 0) {
			int r = read_reply(c->fd, reply, replysz, deadline);
			if (r == 0)
				return 0;
			int e = errno;
			smc_close(c);
			if (r == -2 && reused)
				continue; /* the daemon closed an idle connection: once more on a new one */
			fail(err, errsz, r == -2 ? "connection closed by stsguardd" : "reading the reply",
			     r == -2 ? 0 : e);
			reply[0] = '\0';
			return -1;
		}
		int e = errno;
		smc_close(c);
		if (reused && (e == EPIPE || e == ECONNRESET))
			continue;
		fail(err, errsz, "sending the request", e);
		return -1;
	}
	fail(err, errsz, "connection closed by stsguardd", 0);
	return -1;
}
