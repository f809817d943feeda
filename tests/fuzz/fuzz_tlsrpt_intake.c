/*
 * fuzz_tlsrpt_intake.c - libFuzzer target for the `tlsrpt` map's key, the
 * TLS-RPT results adapters send to stsguardd (tlsrpt_intake.h).
 *
 * Each input is parsed; on success it is classified and completed both with
 * and without a policy, and every finished result must pass the store's
 * check and encode. Nothing may crash, hang or leak whatever the key holds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsguard/tlsrpt_intake.h"
#include "stsguard/tlsrpt_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char mx0[] = "mx.a.test", mx1[] = "*.b.test";
static char *mxs[] = {mx0, mx1};
static const stsguard_policy POLICY = {STSGUARD_MODE_TESTING, 86400, false, 2, mxs};

static void complete(const stsguard_tlsrpt_intake *in, const stsguard_policy *p)
{
	stsguard_tlsrpt_result r;
	stsguard_err err = {""};
	stsguard_status st = stsguard_tlsrpt_intake_result(in, p, "abc123", INT64_C(1795901280), &r, &err);
	if (st != STSGUARD_OK) {
		if (r.policy_strings != NULL || r.mx_host_patterns != NULL || err.msg[0] == '\0')
			__builtin_trap();
		return;
	}
	if (stsguard_tlsrpt_result_check(&r, NULL) != STSGUARD_OK)
		__builtin_trap();
	char *enc = NULL;
	if (stsguard_tlsrpt_result_encode_alloc(&r, &enc, NULL, NULL) != STSGUARD_OK)
		__builtin_trap();
	free(enc);
	stsguard_tlsrpt_result_clear(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	stsguard_tlsrpt_intake in;
	stsguard_err err = {""};

	if (stsguard_tlsrpt_intake_parse((const char *)data, size, &in, &err) != STSGUARD_OK) {
		if (err.msg[0] == '\0')
			__builtin_trap();
		return 0;
	}
	if (in.domain[0] == '\0')
		__builtin_trap();
	(void)stsguard_tlsrpt_intake_classify(&in, &POLICY);
	complete(&in, &POLICY);
	complete(&in, NULL);
	return 0;
}
