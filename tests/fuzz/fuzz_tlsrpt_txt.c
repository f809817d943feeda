/*
 * fuzz_tlsrpt_txt.c - libFuzzer target for the _smtp._tls TXT RRset parser.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_split.h"
#include "stsguard/tlsrpt_txt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int iprefix(const char *s, const char *prefix)
{
	for (; *prefix != '\0'; s++, prefix++) {
		char c = *s;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != *prefix)
			return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	stsguard_txt recs[STSGUARD_TXT_RRSET_MAX + 1];
	size_t n = fuzz_split(data, size, recs, sizeof recs / sizeof recs[0]);
	stsguard_tlsrpt_record *rec = NULL;
	stsguard_err err;

	stsguard_status st = stsguard_tlsrpt_txt_parse(recs, n, &rec, &err);
	if ((st == STSGUARD_OK) != (rec != NULL))
		__builtin_trap();
	if (rec != NULL) {
		if (rec->n_rua == 0 || rec->n_rua > STSGUARD_RUA_MAX)
			__builtin_trap();
		for (size_t i = 0; i < rec->n_rua; i++)
			if (!iprefix(rec->rua[i], "mailto:") && !iprefix(rec->rua[i], "https://"))
				__builtin_trap();
	}
	stsguard_tlsrpt_record_free(rec);
	return 0;
}
