/*
 * test_starttls_probe.c - the SMTP side of stsguard_starttls_probe()
 * (starttls_probe.h) against a scripted fake MX on 127.0.0.1.
 *
 * What is checked here: arguments, a refused connection, a greeting that
 * is not 220, an EHLO reply without STARTTLS (RFC 3207: starttls-not-
 * supported, RFC 8460 §4.3.1), a refused STARTTLS, bytes pipelined before
 * the handshake (RFC 3207 §4.2), over-long and endless replies, and a
 * silent server (bounded by the deadline, whatever the machine's speed).
 * The certificate verdicts (untrusted, expired, another name, valid) need
 * real certificates: tests/world/test_opensmtpd.sh checks them against the
 * world's MX sinks.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stsguard/starttls_probe.h"

#include "check.h"

struct script {
	const char *name;
	const char *greeting;  /* sent on connect; NULL: say nothing */
	const char *ehlo;      /* reply to EHLO */
	const char *starttls;  /* reply to STARTTLS */
	stsguard_status want;
	stsguard_result_type want_result;
};

static int lfd;
static uint16_t lport;
static const struct script *cur;

static void *serve_one(void *arg)
{
	(void)arg;
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	char buf[512];
	if (cur->greeting != NULL && write(fd, cur->greeting, strlen(cur->greeting)) < 0)
		goto done;
	if (cur->greeting == NULL) {
		/* silent: wait for the client to give up */
		while (read(fd, buf, sizeof buf) > 0)
			;
		goto done;
	}
	for (int step = 0; step < 3; step++) {
		ssize_t n = read(fd, buf, sizeof buf - 1);
		if (n <= 0)
			break;
		buf[n] = '\0';
		const char *reply = strncmp(buf, "EHLO", 4) == 0 ? cur->ehlo : strncmp(buf, "STARTTLS", 8) == 0 ? cur->starttls
		                                                                                               : "221 bye\r\n";
		if (reply == NULL || write(fd, reply, strlen(reply)) < 0)
			break;
	}
done:
	close(fd);
	return NULL;
}

static char longline[3000];

int main(void)
{
	stsguard_result_type rt = STSGUARD_RESULT_SUCCESS;
	char detail[200];
	stsguard_err err = {""};

	/* arguments */
	CHECK_STATUS(stsguard_starttls_probe("mx.example", 25, "mx.example", NULL, 1000, &rt, detail, sizeof detail, &err),
	             STSGUARD_BADARG, "address is a name");
	CHECK_STATUS(stsguard_starttls_probe("127.0.0.1", 25, "bad_name", NULL, 1000, &rt, detail, sizeof detail, &err),
	             STSGUARD_BADARG, "MX not a host name");
	CHECK_STATUS(stsguard_starttls_probe(NULL, 25, "mx.example", NULL, 1000, &rt, detail, sizeof detail, &err),
	             STSGUARD_BADARG, "NULL address");

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sin;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &sl) != 0)
		return 1;
	lport = ntohs(sin.sin_port);

	/* nothing listens yet: refused */
	CHECK_STATUS(stsguard_starttls_probe("127.0.0.1", lport, "mx.example", NULL, 2000, &rt, detail, sizeof detail, &err),
	             STSGUARD_TEMPFAIL, "connection refused");
	CHECK_TRUE(strstr(err.msg, "cannot connect") != NULL, err.msg);
	if (listen(lfd, 4) != 0)
		return 1;

	memset(longline, 'x', sizeof longline - 3);
	memcpy(longline, "220 ", 4);
	memcpy(longline + sizeof longline - 3, "\r\n", 3);
	static char endless[64 * 70 + 1];
	for (int i = 0; i < 70; i++)
		memcpy(endless + i * 64, "250-a-long-list-of-extensions-that-never-ends-xxxxxxxxxxxxxxxx\r\n", 64);

	static const struct script scripts[] = {
		{"no STARTTLS offered", "220 mx ESMTP\r\n", "250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n", NULL, STSGUARD_OK,
		 STSGUARD_RESULT_STARTTLS_NOT_SUPPORTED},
		{"STARTTLS-ish keyword is not STARTTLS", "220 mx\r\n", "250-mx\r\n250 STARTTLSX\r\n", NULL, STSGUARD_OK,
		 STSGUARD_RESULT_STARTTLS_NOT_SUPPORTED},
		{"greeting 554", "554 go away\r\n", NULL, NULL, STSGUARD_TEMPFAIL, 0},
		{"greeting not SMTP", "HTTP/1.1 400 Bad Request\r\n", NULL, NULL, STSGUARD_TEMPFAIL, 0},
		{"EHLO refused", "220 mx\r\n", "502 no\r\n", NULL, STSGUARD_TEMPFAIL, 0},
		{"STARTTLS refused", "220 mx\r\n", "250-mx\r\n250 STARTTLS\r\n", "454 TLS not available\r\n",
		 STSGUARD_TEMPFAIL, 0},
		{"data pipelined before the handshake", "220 mx\r\n", "250-mx\r\n250 STARTTLS\r\n", "220 go\r\nEVIL\r\n",
		 STSGUARD_TEMPFAIL, 0},
		{"over-long greeting line", longline, NULL, NULL, STSGUARD_TEMPFAIL, 0},
		{"endless multi-line reply", "220 mx\r\n", endless, NULL, STSGUARD_TEMPFAIL, 0},
		{"silent server: the deadline ends it", NULL, NULL, NULL, STSGUARD_TEMPFAIL, 0},
	};
	for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
		cur = &scripts[i];
		pthread_t t;
		pthread_create(&t, NULL, serve_one, NULL);
		rt = STSGUARD_RESULT_SUCCESS;
		err.msg[0] = '\0';
		stsguard_status st =
		    stsguard_starttls_probe("127.0.0.1", lport, "mx.example", NULL, 1500, &rt, detail, sizeof detail, &err);
		pthread_join(t, NULL);
		CHECK_STATUS(st, cur->want, cur->name);
		if (st == STSGUARD_OK)
			CHECK_INT(rt, cur->want_result, cur->name);
		else
			CHECK_TRUE(err.msg[0] != '\0', cur->name);
	}
	close(lfd);
	return check_summary();
}
