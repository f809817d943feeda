/*
 * smtp-sink: a minimal ESMTP receiver for the stsguard test world.
 *
 * Listens on ADDR[:PORT] (default port 25), forks one child per connection,
 * speaks EHLO/HELO, STARTTLS (unless --no-starttls), MAIL, RCPT, DATA, RSET,
 * NOOP, VRFY, HELP, QUIT, and appends every accepted message with its
 * envelope and TLS details to a spool file.  One line per session goes to an
 * optional session log, so tests can see e.g. a client that aborted the TLS
 * handshake because it did not like the certificate.
 *
 * Build: cc -O2 -Wall -o smtp-sink smtp-sink.c -lssl -lcrypto
 *
 * Spool record format (text, one record per message):
 *   X-Sink-Begin: <host> <pid>.<n>
 *   X-Sink-Host: <host name given with -n>
 *   X-Sink-Peer: <ip>:<port>
 *   X-Sink-Helo: <EHLO/HELO argument>
 *   X-Sink-TLS: none | TLSv1.2 | TLSv1.3
 *   X-Sink-Cipher: <cipher> | none
 *   X-Sink-SNI: <server name sent by the client> | -
 *   X-Sink-Mail-From: <MAIL FROM argument>
 *   X-Sink-Rcpt-To: <RCPT TO argument>        (one line per recipient)
 *   X-Sink-Date: <unix time>
 *   <empty line>
 *   <message as received, dot-unstuffed, LF line endings>
 *   X-Sink-End: <host> <pid>.<n>
 *   <empty line>
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define LINE_MAX_LEN 65536
#define MAX_RCPT 200
#define MAX_MSG (32u * 1024u * 1024u)

static const char *opt_listen;
static const char *opt_spool;
static const char *opt_log;
static const char *opt_cert;
static const char *opt_key;
static const char *opt_name = "sink.test";
static const char *opt_pidfile;
static int opt_starttls = 1;
static int opt_timeout = 60;

struct conn {
	int fd;
	SSL *ssl;
	char buf[16384];
	size_t off, len;
	char peer[64];
	char helo[256];
	char tls[32];
	char cipher[128];
	char sni[256];
	char tls_error[256];
	int msgs;
	int nolog;
	const char *end;
};

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "smtp-sink: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static void usage(void)
{
	fprintf(stderr,
	    "usage: smtp-sink -l ADDR[:PORT] -s SPOOL [-L SESSIONLOG] [-n HOSTNAME]\n"
	    "                 [-c CERT -k KEY] [--no-starttls] [-p PIDFILE] [-t TIMEOUT]\n");
	exit(2);
}

static int conn_write(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		int r;
		if (c->ssl) {
			r = SSL_write(c->ssl, p, (int)n);
			if (r <= 0)
				return -1;
		} else {
			r = (int)write(c->fd, p, n);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int reply(struct conn *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	return conn_write(c, line, (size_t)n);
}

static int fill(struct conn *c)
{
	int r;
	if (c->off > 0 && c->off < c->len)
		memmove(c->buf, c->buf + c->off, c->len - c->off);
	c->len -= c->off;
	c->off = 0;
	if (c->len >= sizeof(c->buf))
		return -1;
	for (;;) {
		if (c->ssl)
			r = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len));
		else
			r = (int)read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (r < 0 && !c->ssl && errno == EINTR)
			continue;
		break;
	}
	if (r <= 0)
		return -1;
	c->len += (size_t)r;
	return 0;
}

/* Read one line (without CR LF) into out; returns length or -1 on EOF/error.
 * Over-long lines are truncated but consumed. */
static long read_line(struct conn *c, char *out, size_t outsz)
{
	size_t n = 0;
	for (;;) {
		while (c->off < c->len) {
			char ch = c->buf[c->off++];
			if (ch == '\n') {
				if (n > 0 && out[n - 1] == '\r')
					n--;
				out[n] = '\0';
				return (long)n;
			}
			if (n + 1 < outsz)
				out[n++] = ch;
		}
		if (fill(c) < 0)
			return -1;
	}
}

static int starts_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static void sanitize(char *dst, size_t dstsz, const char *src)
{
	size_t i = 0;
	for (; *src && i + 1 < dstsz; src++)
		dst[i++] = (*src >= 0x20 && *src < 0x7f) ? *src : '?';
	dst[i] = '\0';
}

static SSL_CTX *make_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		die("SSL_CTX_new failed");
	if (SSL_CTX_use_certificate_chain_file(ctx, opt_cert) != 1)
		die("cannot load certificate %s", opt_cert);
	if (SSL_CTX_use_PrivateKey_file(ctx, opt_key, SSL_FILETYPE_PEM) != 1)
		die("cannot load key %s", opt_key);
	if (SSL_CTX_check_private_key(ctx) != 1)
		die("key does not match certificate");
	return ctx;
}

static void spool_message(struct conn *c, const char *from, char **rcpt, int nrcpt,
    const char *data, size_t datalen)
{
	int fd = open(opt_spool, O_WRONLY | O_APPEND | O_CREAT, 0644);
	FILE *f;
	int i;
	if (fd < 0)
		return;
	flock(fd, LOCK_EX);
	f = fdopen(fd, "a");
	if (!f) {
		close(fd);
		return;
	}
	c->msgs++;
	fprintf(f, "X-Sink-Begin: %s %ld.%d\n", opt_name, (long)getpid(), c->msgs);
	fprintf(f, "X-Sink-Host: %s\n", opt_name);
	fprintf(f, "X-Sink-Peer: %s\n", c->peer);
	fprintf(f, "X-Sink-Helo: %s\n", c->helo[0] ? c->helo : "-");
	fprintf(f, "X-Sink-TLS: %s\n", c->ssl ? c->tls : "none");
	fprintf(f, "X-Sink-Cipher: %s\n", c->ssl ? c->cipher : "none");
	fprintf(f, "X-Sink-SNI: %s\n", c->ssl && c->sni[0] ? c->sni : "-");
	fprintf(f, "X-Sink-Mail-From: %s\n", from);
	for (i = 0; i < nrcpt; i++)
		fprintf(f, "X-Sink-Rcpt-To: %s\n", rcpt[i]);
	fprintf(f, "X-Sink-Date: %ld\n\n", (long)time(NULL));
	fwrite(data, 1, datalen, f);
	if (datalen > 0 && data[datalen - 1] != '\n')
		fputc('\n', f);
	fprintf(f, "X-Sink-End: %s %ld.%d\n\n", opt_name, (long)getpid(), c->msgs);
	fflush(f);
	fclose(f);
}

static void session_log(struct conn *c)
{
	int fd;
	char line[2048];
	int n;
	if (!opt_log || c->nolog)
		return;
	n = snprintf(line, sizeof(line),
	    "%ld host=%s peer=%s helo=%s tls=%s cipher=%s sni=%s tls_error=%s msgs=%d end=%s\n",
	    (long)time(NULL), opt_name, c->peer, c->helo[0] ? c->helo : "-",
	    c->tls[0] ? c->tls : "none", c->cipher[0] ? c->cipher : "-",
	    c->sni[0] ? c->sni : "-", c->tls_error[0] ? c->tls_error : "-", c->msgs,
	    c->end ? c->end : "eof");
	fd = open(opt_log, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd < 0)
		return;
	flock(fd, LOCK_EX);
	if (write(fd, line, (size_t)n) < 0) {
		/* nothing sensible to do */
	}
	close(fd);
}

static void session(int fd, SSL_CTX *ctx, const char *peer)
{
	struct conn c;
	static char line[LINE_MAX_LEN];
	char *from = NULL;
	char *rcpt[MAX_RCPT];
	int nrcpt = 0, i;
	long n;

	memset(&c, 0, sizeof(c));
	c.fd = fd;
	snprintf(c.peer, sizeof(c.peer), "%s", peer);

	if (reply(&c, "220 %s ESMTP stsguard-test-sink", opt_name) < 0)
		goto out;
	for (;;) {
		n = read_line(&c, line, sizeof(line));
		if (n < 0)
			break;
		if (starts_ci(line, "EHLO ") || strcasecmp(line, "EHLO") == 0) {
			sanitize(c.helo, sizeof(c.helo), line[4] ? line + 5 : "");
			free(from);
			from = NULL;
			for (i = 0; i < nrcpt; i++)
				free(rcpt[i]);
			nrcpt = 0;
			reply(&c, "250-%s greets %s", opt_name, c.helo);
			reply(&c, "250-PIPELINING");
			reply(&c, "250-SIZE %u", MAX_MSG);
			reply(&c, "250-8BITMIME");
			if (opt_starttls && !c.ssl)
				reply(&c, "250-STARTTLS");
			reply(&c, "250 HELP");
		} else if (starts_ci(line, "HELO ")) {
			sanitize(c.helo, sizeof(c.helo), line + 5);
			reply(&c, "250 %s", opt_name);
		} else if (strcasecmp(line, "STARTTLS") == 0) {
			if (!opt_starttls) {
				reply(&c, "502 5.5.1 STARTTLS not supported");
				continue;
			}
			if (c.ssl) {
				reply(&c, "503 5.5.1 TLS already active");
				continue;
			}
			if (reply(&c, "220 2.0.0 Ready to start TLS") < 0)
				break;
			/* discard anything pipelined after STARTTLS */
			c.off = c.len = 0;
			c.ssl = SSL_new(ctx);
			SSL_set_fd(c.ssl, fd);
			if (SSL_accept(c.ssl) != 1) {
				unsigned long e = ERR_get_error();
				char eb[256];
				ERR_error_string_n(e, eb, sizeof(eb));
				sanitize(c.tls_error, sizeof(c.tls_error), e ? eb : "handshake-failed");
				for (char *p = c.tls_error; *p; p++)
					if (*p == ' ')
						*p = '_';
				snprintf(c.tls, sizeof(c.tls), "failed");
				SSL_free(c.ssl);
				c.ssl = NULL;
				c.end = "tls-failed";
				break;
			}
			snprintf(c.tls, sizeof(c.tls), "%s", SSL_get_version(c.ssl));
			snprintf(c.cipher, sizeof(c.cipher), "%s", SSL_get_cipher_name(c.ssl));
			{
				const char *sn = SSL_get_servername(c.ssl, TLSEXT_NAMETYPE_host_name);
				if (sn)
					sanitize(c.sni, sizeof(c.sni), sn);
			}
			c.helo[0] = '\0';
			free(from);
			from = NULL;
			for (i = 0; i < nrcpt; i++)
				free(rcpt[i]);
			nrcpt = 0;
		} else if (starts_ci(line, "MAIL FROM:")) {
			if (from) {
				reply(&c, "503 5.5.1 nested MAIL command");
				continue;
			}
			from = strdup(line + 10);
			reply(&c, "250 2.1.0 OK");
		} else if (starts_ci(line, "RCPT TO:")) {
			if (!from) {
				reply(&c, "503 5.5.1 need MAIL first");
				continue;
			}
			if (nrcpt >= MAX_RCPT) {
				reply(&c, "452 4.5.3 too many recipients");
				continue;
			}
			rcpt[nrcpt++] = strdup(line + 8);
			reply(&c, "250 2.1.5 OK");
		} else if (strcasecmp(line, "DATA") == 0) {
			char *data;
			size_t dlen = 0, dcap = 65536;
			int too_big = 0, eof = 0;
			if (!from || nrcpt == 0) {
				reply(&c, "503 5.5.1 need RCPT first");
				continue;
			}
			reply(&c, "354 End data with <CR><LF>.<CR><LF>");
			data = malloc(dcap);
			if (!data)
				break;
			for (;;) {
				const char *p = line;
				n = read_line(&c, line, sizeof(line));
				if (n < 0) {
					eof = 1;
					break;
				}
				if (strcmp(line, ".") == 0)
					break;
				if (line[0] == '.') {
					p++;
					n--;
				}
				if (dlen + (size_t)n + 1 > MAX_MSG) {
					too_big = 1;
					continue;
				}
				while (dlen + (size_t)n + 1 > dcap) {
					dcap *= 2;
					data = realloc(data, dcap);
					if (!data)
						_exit(1);
				}
				memcpy(data + dlen, p, (size_t)n);
				dlen += (size_t)n;
				data[dlen++] = '\n';
			}
			if (eof) {
				free(data);
				break;
			}
			if (too_big) {
				reply(&c, "552 5.3.4 message too big");
			} else {
				spool_message(&c, from, rcpt, nrcpt, data, dlen);
				reply(&c, "250 2.0.0 OK queued as %ld.%d", (long)getpid(), c.msgs);
			}
			free(data);
			free(from);
			from = NULL;
			for (i = 0; i < nrcpt; i++)
				free(rcpt[i]);
			nrcpt = 0;
		} else if (strcasecmp(line, "RSET") == 0) {
			free(from);
			from = NULL;
			for (i = 0; i < nrcpt; i++)
				free(rcpt[i]);
			nrcpt = 0;
			reply(&c, "250 2.0.0 OK");
		} else if (starts_ci(line, "NOOP")) {
			reply(&c, "250 2.0.0 OK");
		} else if (starts_ci(line, "VRFY")) {
			reply(&c, "252 2.5.2 cannot VRFY");
		} else if (starts_ci(line, "HELP")) {
			reply(&c, "214 2.0.0 stsguard test sink");
		} else if (strcasecmp(line, "XWORLD-PROBE") == 0) {
			/* readiness probe of world.sh: answer, end, do not log */
			reply(&c, "250 2.0.0 probe ok");
			c.nolog = 1;
			break;
		} else if (strcasecmp(line, "QUIT") == 0) {
			reply(&c, "221 2.0.0 Bye");
			c.end = "quit";
			break;
		} else {
			reply(&c, "500 5.5.2 command not recognized");
		}
	}
out:
	session_log(&c);
	if (c.ssl) {
		SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
	close(fd);
}

static void reap(int sig)
{
	int e = errno;
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = e;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	char addr[64];
	char *colon;
	int port = 25, s, one = 1, i;
	SSL_CTX *ctx = NULL;
	struct sigaction act;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
#define NEXT() (i + 1 < argc ? argv[++i] : (usage(), (char *)NULL))
		if (strcmp(a, "-l") == 0)
			opt_listen = NEXT();
		else if (strcmp(a, "-s") == 0)
			opt_spool = NEXT();
		else if (strcmp(a, "-L") == 0)
			opt_log = NEXT();
		else if (strcmp(a, "-c") == 0)
			opt_cert = NEXT();
		else if (strcmp(a, "-k") == 0)
			opt_key = NEXT();
		else if (strcmp(a, "-n") == 0)
			opt_name = NEXT();
		else if (strcmp(a, "-p") == 0)
			opt_pidfile = NEXT();
		else if (strcmp(a, "-t") == 0)
			opt_timeout = (int)strtol(NEXT(), NULL, 10);
		else if (strcmp(a, "--no-starttls") == 0)
			opt_starttls = 0;
		else
			usage();
	}
	if (!opt_listen || !opt_spool)
		usage();
	if (opt_starttls && (!opt_cert || !opt_key))
		die("STARTTLS needs -c CERT and -k KEY (or use --no-starttls)");

	snprintf(addr, sizeof(addr), "%s", opt_listen);
	colon = strrchr(addr, ':');
	if (colon) {
		*colon = '\0';
		port = (int)strtol(colon + 1, NULL, 10);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		die("bad listen address %s", opt_listen);

	if (opt_starttls)
		ctx = make_ctx();

	memset(&act, 0, sizeof(act));
	act.sa_handler = reap;
	act.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &act, NULL);
	signal(SIGPIPE, SIG_IGN);

	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		die("socket: %s", strerror(errno));
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind %s: %s", opt_listen, strerror(errno));
	if (listen(s, 64) < 0)
		die("listen: %s", strerror(errno));
	if (opt_pidfile) {
		FILE *f = fopen(opt_pidfile, "w");
		if (f) {
			fprintf(f, "%ld\n", (long)getpid());
			fclose(f);
		}
	}

	for (;;) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		char pbuf[64], ip[INET_ADDRSTRLEN];
		pid_t pid;
		int fd = accept(s, (struct sockaddr *)&peer, &plen);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept: %s", strerror(errno));
		}
		inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof(ip));
		snprintf(pbuf, sizeof(pbuf), "%s:%u", ip, ntohs(peer.sin_port));
		pid = fork();
		if (pid == 0) {
			struct timeval tv = { opt_timeout, 0 };
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			if (getppid() == 1)
				_exit(0);
			close(s);
			signal(SIGCHLD, SIG_DFL);
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
			session(fd, ctx, pbuf);
			_exit(0);
		}
		close(fd);
	}
}
