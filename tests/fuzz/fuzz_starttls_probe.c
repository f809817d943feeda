/*
 * fuzz_starttls_probe.c - libFuzzer target for the STARTTLS probe's side of
 * an SMTP conversation (core/lib/starttls_probe.c): whatever an MX host
 * sends - greeting, EHLO reply, STARTTLS reply, then TLS records - comes
 * from anybody the policy names. The input is written into the server end
 * of a socketpair, which is then shut for writing, and the probe talks to
 * the other end. Properties checked: the probe returns (the timeout is a
 * bound, the EOF comes first), a success carries one of the result types
 * stsguard_starttls_probe() promises, and the detail is a terminated
 * string within its buffer.
 */
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "starttls_probe_fd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX 65536 /* well below a unix socket's buffer: one write, no reader needed */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	char detail[64];
	stsguard_result_type result = STSGUARD_RESULT_SUCCESS;
	stsguard_err err;

	if (size > INPUT_MAX)
		return 0;
	signal(SIGPIPE, SIG_IGN);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		__builtin_trap();
	size_t off = 0;
	while (off < size) {
		ssize_t w = write(sv[1], data + off, size - off);
		if (w <= 0)
			__builtin_trap();
		off += (size_t)w;
	}
	shutdown(sv[1], SHUT_WR);
	memset(detail, 'x', sizeof detail);
	stsguard_status st =
	    sg_starttls_probe_fd(sv[0], "192.0.2.25", "mx.example.net", NULL, 2000, &result, detail, sizeof detail, &err);
	if (memchr(detail, '\0', sizeof detail) == NULL)
		__builtin_trap();
	if (st == STSGUARD_OK) {
		switch (result) {
		case STSGUARD_RESULT_SUCCESS:
		case STSGUARD_RESULT_STARTTLS_NOT_SUPPORTED:
		case STSGUARD_RESULT_CERTIFICATE_HOST_MISMATCH:
		case STSGUARD_RESULT_CERTIFICATE_EXPIRED:
		case STSGUARD_RESULT_CERTIFICATE_NOT_TRUSTED:
			break;
		default:
			__builtin_trap();
		}
	} else if (st != STSGUARD_TEMPFAIL && st != STSGUARD_TIMEOUT && st != STSGUARD_IO && st != STSGUARD_NOMEM) {
		__builtin_trap();
	} else if (memchr(err.msg, '\0', sizeof err.msg) == NULL) {
		__builtin_trap();
	}
	close(sv[0]);
	close(sv[1]);
	return 0;
}
