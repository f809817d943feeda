/*
 * fuzz_milter_rcpt.c - libFuzzer target for stsguard-milter's recipient
 * parser (adapters/sendmail/milter/rcpt_domain.c): the RCPT TO argument
 * comes from any SMTP client. The input is handed over in a buffer of its
 * exact size without a terminator (ASan catches a read past len).
 * Properties checked: the answer is 0 or 1; a domain is 1..SMP_DOMAIN_MAX
 * bytes of [a-z0-9.-] in labels of 1..63 bytes, and it is what follows the
 * input's last '@', lower-cased.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rcpt_domain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[SMP_DOMAIN_MAX + 1];
	char *buf = malloc(size > 0 ? size : 1);

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	memset(out, 'x', sizeof out);
	int r = smp_rcpt_domain(buf, size, out);
	if (r != 0 && r != 1)
		__builtin_trap();
	if (r == 1) {
		size_t n = strnlen(out, sizeof out);
		if (n == 0 || n > SMP_DOMAIN_MAX || out[n - 1] == '.')
			__builtin_trap();
		size_t label = 0;
		for (size_t i = 0; i < n; i++) {
			char c = out[i];
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
				__builtin_trap();
			if (c == '.' ? label == 0 : ++label > 63)
				__builtin_trap();
			if (c == '.')
				label = 0;
		}
		/* what follows the last '@' (before any NUL) starts with the domain, case aside */
		size_t len = strnlen(buf, size), at = len;
		for (size_t i = 0; i < len; i++)
			if (buf[i] == '@')
				at = i;
		if (at == len || len - at - 1 < n)
			__builtin_trap();
		for (size_t i = 0; i < n; i++) {
			char c = buf[at + 1 + i];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (c != out[i])
				__builtin_trap();
		}
	}
	free(buf);
	return 0;
}
