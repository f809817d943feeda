/*
 * fuzz_sts_txt.c - libFuzzer target for the _mta-sts TXT RRset parser.
 * The input is split on '\n' into records, so one input is a whole RRset.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_split.h"
#include "stsguard/sts_txt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	stsguard_txt recs[STSGUARD_TXT_RRSET_MAX + 1];
	size_t n = fuzz_split(data, size, recs, sizeof recs / sizeof recs[0]);
	char id[STSGUARD_POLICY_ID_MAX + 1];
	stsguard_err err;

	stsguard_status st = stsguard_sts_txt_parse(recs, n, id, &err);
	if (st == STSGUARD_OK) {
		size_t l = strlen(id);
		if (l == 0 || l > STSGUARD_POLICY_ID_MAX)
			__builtin_trap();
	} else if (id[0] != '\0') {
		__builtin_trap();
	}
	return 0;
}
