/*
 * fuzz_policy.c - libFuzzer target for the policy body parser. Besides not
 * crashing, every accepted policy must round-trip through the JSON writer,
 * and every mx it keeps must be a pattern the checker accepts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsguard/mx_pattern.h"
#include "stsguard/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	stsguard_policy *p = NULL;
	stsguard_err err;

	stsguard_status st = stsguard_policy_parse((const char *)data, size, &p, &err);
	if ((st == STSGUARD_OK) != (p != NULL))
		__builtin_trap();
	if (p == NULL)
		return 0;
	if (p->max_age > STSGUARD_MAX_AGE_LIMIT || (p->mode != STSGUARD_MODE_NONE && p->n_mx == 0))
		__builtin_trap();
	for (size_t i = 0; i < p->n_mx; i++)
		if (stsguard_mx_pattern_check(p->mx[i], strlen(p->mx[i]), NULL) != STSGUARD_OK)
			__builtin_trap();
	char *json = NULL;
	if (stsguard_policy_to_json(p, &json) != STSGUARD_OK)
		__builtin_trap();
	free(json);
	stsguard_policy_free(p);
	return 0;
}
