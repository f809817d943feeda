/*
 * fuzz_mailto.c - libFuzzer target for the rua "mailto:" URI parser (the URI
 * comes from a TXT record, i.e. from anybody). Properties checked: success
 * and the address count agree; every address is within its cap, has exactly
 * one '@', no byte outside 0x21-0x7e, does not start with '-' (it becomes a
 * sendmail argument); and the report mail builder accepts every address
 * the parser accepted, so no URI can get a header injected.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsguard/tlsrpt_mail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char addrs[STSGUARD_MAILTO_ADDRS_MAX][STSGUARD_ADDR_MAX + 1];
	size_t n = 0;
	stsguard_err err;
	static const unsigned char gz[] = {0x1f, 0x8b};

	stsguard_status st = stsguard_tlsrpt_mailto_parse((const char *)data, size, addrs, STSGUARD_MAILTO_ADDRS_MAX,
	                                                  &n, &err);
	if ((st == STSGUARD_OK) != (n > 0) || n > STSGUARD_MAILTO_ADDRS_MAX)
		__builtin_trap();
	if (st != STSGUARD_OK)
		return 0;
	const char *to[STSGUARD_MAILTO_ADDRS_MAX];
	for (size_t i = 0; i < n; i++) {
		size_t l = strnlen(addrs[i], STSGUARD_ADDR_MAX + 1);
		if (l == 0 || l > STSGUARD_ADDR_MAX || addrs[i][0] == '-')
			__builtin_trap();
		size_t ats = 0;
		for (size_t k = 0; k < l; k++) {
			unsigned char c = (unsigned char)addrs[i][k];
			if (c < 0x21 || c > 0x7e)
				__builtin_trap();
			ats += c == '@';
		}
		if (ats != 1)
			__builtin_trap();
		to[i] = addrs[i];
	}
	stsguard_tlsrpt_mail m = {
		.from = "noreply@sender.example", .to = to, .n_to = n, .date = 0, .message_id = "a@b",
		.policy_domain = "example.net", .submitter = "sender.example", .report_id = "r@sender.example",
		.day = "2024-05-01", .organization = "Org", .filename = "x.json.gz", .gz = gz, .gz_len = sizeof gz,
	};
	char *msg = NULL;
	if (stsguard_tlsrpt_mail_build(&m, &msg, NULL, &err) != STSGUARD_OK || msg == NULL)
		__builtin_trap();
	free(msg);
	return 0;
}
