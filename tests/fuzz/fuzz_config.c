/*
 * fuzz_config.c - libFuzzer target for the configuration file parser.
 */
#include <stdint.h>

#include "stsguard/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	stsguard_config *c = NULL;
	stsguard_err err;
	stsguard_status st = stsguard_config_parse((const char *)data, size, "fuzz", &c, &err);
	if ((st == STSGUARD_OK) != (c != NULL))
		__builtin_trap();
	if (c != NULL && (c->resolver.n > STSGUARD_RESOLVERS_MAX || c->fetch_timeout == 0))
		__builtin_trap();
	stsguard_config_free(c);
	return 0;
}
