/*
 * aux-server: small helper servers for the stsguard test world.
 *
 *   aux-server hang ADDR:PORT [ADDR:PORT ...]
 *       Accepts TCP connections and never sends a byte (reads and discards
 *       whatever arrives, keeps the connection open until the peer closes).
 *       Used for the "hang" policy host (TCP accepted, TLS never completes)
 *       and as the upstream of nginx for "hang-after-tls".
 *
 *   aux-server collect ADDR:PORT DIR
 *       A minimal HTTP/1.x server that accepts any request with a
 *       Content-Length body (nginx in front de-chunks request bodies),
 *       answers "200 OK" and stores the request as DIR/report-<n>.http
 *       (request line, headers, empty line, raw body).  Used as the TLS-RPT
 *       https report collector behind nginx.
 *
 *       Failure modes for retry tests: when DIR/mode exists and starts with
 *       "500", each request is answered "500 Internal Server Error" and
 *       stored as DIR/rejected-<n>.http instead; with "hang" it is stored
 *       as DIR/hung-<n>.http and never answered (the connection is held
 *       until the client gives up, at most 120 s).  Remove DIR/mode to
 *       accept reports again.
 *
 * Build: cc -O2 -Wall -o aux-server aux-server.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_LISTEN 16
#define MAX_CONN 1000

static int listen_on(const char *spec)
{
	char addr[64];
	char *colon;
	struct sockaddr_in sa;
	int s, one = 1;

	snprintf(addr, sizeof(addr), "%s", spec);
	colon = strrchr(addr, ':');
	if (!colon) {
		fprintf(stderr, "aux-server: need ADDR:PORT, got %s\n", spec);
		exit(2);
	}
	*colon = '\0';
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)strtoul(colon + 1, NULL, 10));
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "aux-server: bad address %s\n", spec);
		exit(2);
	}
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0) {
		perror("socket");
		exit(2);
	}
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "aux-server: bind %s: %s\n", spec, strerror(errno));
		exit(2);
	}
	if (listen(s, 128) < 0) {
		perror("listen");
		exit(2);
	}
	return s;
}

static int do_hang(int argc, char **argv)
{
	static struct pollfd pfd[MAX_LISTEN + MAX_CONN];
	int nl = 0, nc = 0, i;
	char junk[4096];

	for (i = 0; i < argc && nl < MAX_LISTEN; i++) {
		pfd[nl].fd = listen_on(argv[i]);
		pfd[nl].events = POLLIN;
		nl++;
	}
	for (;;) {
		if (poll(pfd, (nfds_t)(nl + nc), -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("poll");
			return 1;
		}
		for (i = nl; i < nl + nc; i++) {
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t r = read(pfd[i].fd, junk, sizeof(junk));
				if (r <= 0) {
					close(pfd[i].fd);
					pfd[i] = pfd[nl + nc - 1];
					nc--;
					i--;
				}
			}
		}
		for (i = 0; i < nl; i++) {
			if (pfd[i].revents & POLLIN) {
				int fd = accept(pfd[i].fd, NULL, NULL);
				if (fd < 0)
					continue;
				if (nc >= MAX_CONN) {
					/* drop the oldest held connection */
					close(pfd[nl].fd);
					pfd[nl] = pfd[nl + nc - 1];
					nc--;
				}
				pfd[nl + nc].fd = fd;
				pfd[nl + nc].events = POLLIN;
				pfd[nl + nc].revents = 0;
				nc++;
			}
		}
	}
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		p += r;
		n -= (size_t)r;
	}
}

static void collect_one(int fd, const char *dir, unsigned *seq)
{
	static char buf[4 * 1024 * 1024];
	size_t len = 0, hdrlen = 0, clen = 0;
	char *end, *cl;
	char path[4096], tmp[4096];
	const char *resp;
	int out;
	struct timeval tv = { 10, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			return;
		len += (size_t)r;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end) {
			hdrlen = (size_t)(end - buf) + 4;
			break;
		}
		if (len >= sizeof(buf) - 1)
			return;
	}
	/* find Content-Length (case-insensitive) within the header block */
	for (cl = buf; cl && cl < buf + hdrlen; cl = strstr(cl, "\r\n")) {
		if (*cl == '\r')
			cl += 2;
		if (strncasecmp(cl, "Content-Length:", 15) == 0) {
			clen = (size_t)strtoul(cl + 15, NULL, 10);
			break;
		}
	}
	if (hdrlen + clen > sizeof(buf) - 1) {
		resp = "HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
		write_all(fd, resp, strlen(resp));
		return;
	}
	while (len < hdrlen + clen) {
		ssize_t r = read(fd, buf + len, hdrlen + clen - len);
		if (r <= 0)
			return;
		len += (size_t)r;
	}
	(*seq)++;
	char mode[16] = "";
	snprintf(path, sizeof(path), "%s/mode", dir);
	FILE *mf = fopen(path, "r");
	if (mf) {
		if (!fgets(mode, sizeof(mode), mf))
			mode[0] = '\0';
		fclose(mf);
	}
	const char *kind = strncmp(mode, "500", 3) == 0 ? "rejected" : strncmp(mode, "hang", 4) == 0 ? "hung" : "report";
	snprintf(tmp, sizeof(tmp), "%s/.report-%ld-%u.tmp", dir, (long)getpid(), *seq);
	snprintf(path, sizeof(path), "%s/%s-%ld-%u.http", dir, kind, (long)getpid(), *seq);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out >= 0) {
		write_all(out, buf, hdrlen + clen);
		close(out);
		rename(tmp, path);
	}
	if (strcmp(kind, "hung") == 0) {
		/* Hold the connection until the client (through nginx) goes
		 * away, in a child so that later requests are still served. */
		if (fork() == 0) {
			struct pollfd pfd = { fd, POLLIN, 0 };
			char junk[256];
			while (poll(&pfd, 1, 120000) > 0 && read(fd, junk, sizeof(junk)) > 0)
				;
			_exit(0);
		}
		return;
	}
	if (strcmp(kind, "rejected") == 0)
		resp = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\nno!\n";
	else
		resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
	write_all(fd, resp, strlen(resp));
}

static int do_collect(const char *spec, const char *dir)
{
	int s = listen_on(spec);
	unsigned seq = 0;
	for (;;) {
		int fd = accept(s, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("accept");
			return 1;
		}
		collect_one(fd, dir, &seq);
		close(fd);
	}
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_IGN); /* hung-connection children reap themselves */
	if (argc >= 3 && strcmp(argv[1], "hang") == 0)
		return do_hang(argc - 2, argv + 2);
	if (argc == 4 && strcmp(argv[1], "collect") == 0)
		return do_collect(argv[2], argv[3]);
	fprintf(stderr, "usage: aux-server hang ADDR:PORT...\n"
	                "       aux-server collect ADDR:PORT DIR\n");
	return 2;
}
