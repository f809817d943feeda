/*
 * smq.c - a socketmap client for tests: sends requests the way Sendmail and
 * Postfix do (one persistent connection, one request at a time, or all at
 * once with -p to pipeline) and prints each reply payload on its own line.
 *
 *   smq [-p] [-t SECONDS] ENDPOINT MAP KEY [MAP KEY ...]
 *   smq -r [-t SECONDS] ENDPOINT        raw: stdin bytes in, reply bytes out
 *
 * ENDPOINT is unix:/path or inet:127.0.0.1:PORT. Exit 0 when every reply
 * arrived; 3 when the server closed the connection; 4 on a timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "stsguard/socketmap.h"

static int timeout_ms = 10000;

static int connect_to(const char *ep)
{
	int fd = -1;
	if (strncmp(ep, "unix:", 5) == 0) {
		struct sockaddr_un sun;
		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof sun.sun_path, "%s", ep + 5);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0)
			return fd;
	} else if (strncmp(ep, "inet:", 5) == 0) {
		char host[64];
		const char *colon = strrchr(ep + 5, ':');
		if (colon == NULL || (size_t)(colon - ep - 5) >= sizeof host)
			return -1;
		memcpy(host, ep + 5, (size_t)(colon - ep - 5));
		host[colon - ep - 5] = '\0';
		struct sockaddr_in sin;
		memset(&sin, 0, sizeof sin);
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10));
		if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
			return -1;
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0)
			return fd;
	}
	if (fd >= 0)
		close(fd);
	return -1;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read until one netstring is complete; print its payload. */
static char inbuf[1 << 24];
static size_t inlen;

static int read_reply(int fd)
{
	for (;;) {
		const char *p;
		size_t used, plen;
		stsguard_status st = stsguard_netstring_next(inbuf, inlen, sizeof inbuf - 32, &used, &p, &plen, NULL);
		if (st == STSGUARD_OK) {
			fwrite(p, 1, plen, stdout);
			fputc('\n', stdout);
			memmove(inbuf, inbuf + used, inlen - used);
			inlen -= used;
			return 0;
		}
		if (st != STSGUARD_NONE) {
			fprintf(stderr, "smq: bad netstring from server\n");
			return 5;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return 4;
		ssize_t r = read(fd, inbuf + inlen, sizeof inbuf - inlen);
		if (r <= 0)
			return 3;
		inlen += (size_t)r;
	}
}

int main(int argc, char **argv)
{
	int pipeline = 0, raw = 0, i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-p") == 0)
			pipeline = 1;
		else if (strcmp(argv[i], "-r") == 0)
			raw = 1;
		else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
			timeout_ms = (int)(strtod(argv[++i], NULL) * 1000);
		else
			break;
	}
	if (i >= argc || (!raw && (argc - i - 1) % 2 != 0) || (!raw && argc - i < 3)) {
		fprintf(stderr, "usage: smq [-p] [-t S] ENDPOINT MAP KEY [MAP KEY...] | smq -r [-t S] ENDPOINT\n");
		return 2;
	}
	/* A server that dies mid-request must not kill us before the replies we got are printed. */
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	int fd = connect_to(argv[i]);
	if (fd < 0) {
		fprintf(stderr, "smq: cannot connect to %s: %s\n", argv[i], strerror(errno));
		return 1;
	}
	if (raw) {
		char buf[65536];
		size_t n;
		while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
			if (write_all(fd, buf, n) != 0)
				break;
		shutdown(fd, SHUT_WR);
		for (;;) {
			struct pollfd pfd = {.fd = fd, .events = POLLIN};
			if (poll(&pfd, 1, timeout_ms) <= 0) {
				close(fd);
				return 4;
			}
			ssize_t r = read(fd, buf, sizeof buf);
			if (r <= 0)
				break;
			fwrite(buf, 1, (size_t)r, stdout);
		}
		close(fd);
		return 0;
	}
	int n = (argc - i - 1) / 2, rc = 0, sent = 0;
	for (int k = 0; k < n; k++) {
		char payload[2048], frame[2100];
		size_t flen;
		int pl = snprintf(payload, sizeof payload, "%s %s", argv[i + 1 + 2 * k], argv[i + 2 + 2 * k]);
		if (pl < 0 || stsguard_netstring_encode(payload, (size_t)pl, frame, sizeof frame, &flen) != STSGUARD_OK ||
		    write_all(fd, frame, flen) != 0) {
			rc = 3;
			break;
		}
		sent++;
		if (!pipeline && (rc = read_reply(fd)) != 0)
			break;
	}
	/* Pipelined: the replies to what was sent, also when the server went away mid-way. */
	int rrc = 0;
	for (int k = 0; pipeline && rrc == 0 && k < sent; k++)
		rrc = read_reply(fd);
	if (pipeline && rrc != 0)
		rc = rrc;
	close(fd);
	return rc;
}
