/*
 * fake_daemon.h - the fake stsguardd of the adapter unit tests: a unix
 * socket in a new directory under /tmp, accepted by a thread that starts one
 * thread per connection running the test's handler (which reads requests
 * with fake_read_netstring and answers with fake_reply; the connection is
 * closed when the handler returns). What it answers is the test's business.
 */
#ifndef STSGUARD_TESTS_FAKE_DAEMON_H
#define STSGUARD_TESTS_FAKE_DAEMON_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* One netstring request into out (NUL-terminated); -1 on EOF or a bad frame. */
static int fake_read_netstring(int fd, char *out, size_t outsz)
{
	size_t len = 0;
	char c;
	for (;;) {
		if (read(fd, &c, 1) != 1)
			return -1;
		if (c == ':')
			break;
		if (c < '0' || c > '9' || len > outsz)
			return -1;
		len = len * 10 + (size_t)(c - '0');
	}
	if (len + 1 > outsz)
		return -1;
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, out + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	out[len] = '\0';
	return read(fd, &c, 1) == 1 && c == ',' ? 0 : -1;
}

/* payload as one netstring; -1 if it could not be written whole. */
static int fake_reply(int fd, const char *payload)
{
	char buf[2048];
	int n = snprintf(buf, sizeof buf, "%zu:%s,", strlen(payload), payload);
	if (n < 0 || (size_t)n >= sizeof buf)
		return -1;
	return write(fd, buf, (size_t)n) == n ? 0 : -1;
}

static struct {
	int lfd;
	void (*handler)(int fd);
} fake_daemon = {-1, NULL};

static void *fake_daemon_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	fake_daemon.handler(fd);
	close(fd);
	return NULL;
}

static void *fake_daemon_accept(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(fake_daemon.lfd, NULL, NULL);
		if (fd < 0)
			return NULL;
		pthread_t t;
		if (pthread_create(&t, NULL, fake_daemon_conn, (void *)(intptr_t)fd) != 0) {
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
}

/* Listen on DIR/s.sock, DIR made from tmpl ("/tmp/NAME.XXXXXX"); the socket's path into path. Aborts on failure. */
static void fake_daemon_start(const char *tmpl, void (*handler)(int fd), char path[108])
{
	char dir[64];
	snprintf(dir, sizeof dir, "%s", tmpl);
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, 108, "%s/s.sock", dir);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	fake_daemon.handler = handler;
	fake_daemon.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fake_daemon.lfd < 0 || bind(fake_daemon.lfd, (struct sockaddr *)&sun, sizeof sun) != 0 ||
	    listen(fake_daemon.lfd, 16) != 0)
		abort();
	pthread_t t;
	if (pthread_create(&t, NULL, fake_daemon_accept, NULL) != 0)
		abort();
	pthread_detach(t);
}

#endif
