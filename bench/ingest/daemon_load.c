/*
 * daemon_load.c - TLS-RPT ingestion through stsguardd's `tlsrpt` map, end to
 * end: C connections to the daemon's unix socket, each keeping W requests in
 * flight (pipelined netstrings), until N results are acknowledged "OK stored"
 * (durable: the daemon answers after fdatasync). Prints one table row.
 *
 *   daemon_load SOCKET CONNECTIONS WINDOW TOTAL
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct cl {
	int fd;
	long sent, acked;
	char in[65536];
	size_t in_len;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long parse_long(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*end != '\0' || v <= 0) {
		fprintf(stderr, "daemon_load: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: daemon_load SOCKET CONNECTIONS WINDOW TOTAL\n");
		return 2;
	}
	long nconn = parse_long(argv[2]), window = parse_long(argv[3]), total = parse_long(argv[4]);
	struct cl *c = calloc((size_t)nconn, sizeof *c);
	struct pollfd *pf = calloc((size_t)nconn, sizeof *pf);
	if (c == NULL || pf == NULL)
		return 1;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", argv[1]);
	for (long i = 0; i < nconn; i++) {
		c[i].fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (c[i].fd < 0 || connect(c[i].fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
			perror("connect");
			return 1;
		}
	}
	long per = total / nconn, acked = 0, refused = 0, seq = 0;
	double t0 = now_s();
	struct rusage r0, r1;
	getrusage(RUSAGE_SELF, &r0);
	while (acked + refused < per * nconn) {
		for (long i = 0; i < nconn; i++) {
			/* keep WINDOW requests in flight */
			char buf[65536];
			size_t len = 0;
			while (c[i].sent - c[i].acked < window && c[i].sent < per && len < sizeof buf - 400) {
				char req[300];
				int rl = snprintf(req, sizeof req,
				                  "tlsrpt domain=d%ld.bench.test result=certificate-expired mx=mx1.d%ld.bench.test "
				                  "ip=192.0.2.%ld src=198.51.100.7 reason=bench%ld",
				                  seq % 1000, seq % 1000, seq % 250 + 1, seq);
				seq++;
				len += (size_t)snprintf(buf + len, sizeof buf - len, "%d:%s,", rl, req);
				c[i].sent++;
			}
			if (len > 0 && write(c[i].fd, buf, len) != (ssize_t)len) {
				perror("write");
				return 1;
			}
			pf[i].fd = c[i].fd;
			pf[i].events = c[i].acked < c[i].sent ? POLLIN : 0;
		}
		if (poll(pf, (nfds_t)nconn, 10000) <= 0) {
			fprintf(stderr, "daemon_load: no reply for 10 s\n");
			return 1;
		}
		for (long i = 0; i < nconn; i++) {
			if (!(pf[i].revents & POLLIN))
				continue;
			ssize_t n = read(c[i].fd, c[i].in + c[i].in_len, sizeof c[i].in - c[i].in_len);
			if (n <= 0) {
				fprintf(stderr, "daemon_load: connection closed\n");
				return 1;
			}
			c[i].in_len += (size_t)n;
			size_t off = 0;
			for (;;) {
				char *colon = memchr(c[i].in + off, ':', c[i].in_len - off);
				if (colon == NULL)
					break;
				size_t pl = (size_t)strtoul(c[i].in + off, NULL, 10);
				size_t start = (size_t)(colon - c[i].in) + 1;
				if (start + pl + 1 > c[i].in_len)
					break;
				if (pl >= 9 && memcmp(c[i].in + start, "OK stored", 9) == 0)
					acked++;
				else
					refused++;
				c[i].acked++;
				off = start + pl + 1;
			}
			memmove(c[i].in, c[i].in + off, c[i].in_len - off);
			c[i].in_len -= off;
		}
	}
	double el = now_s() - t0;
	getrusage(RUSAGE_SELF, &r1);
	printf("| %4ld conn x %4ld in flight | %9ld | %11.0f | %8ld |\n", nconn, window, acked, (double)acked / el, refused);
	return refused == 0 ? 0 : 1;
}
