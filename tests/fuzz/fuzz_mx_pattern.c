/*
 * fuzz_mx_pattern.c - libFuzzer target for mx pattern syntax and matching.
 * Input: PATTERN '\n' HOST. Properties checked: matching never crashes; a
 * valid non-wildcard pattern matches itself; a valid wildcard pattern
 * matches "x." + its base and never the base itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsguard/mx_pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1024)
		return 0;
	const uint8_t *nl = memchr(data, '\n', size);
	size_t plen = nl != NULL ? (size_t)(nl - data) : size;
	char *pattern = malloc(plen + 1);
	char *host = malloc(size - plen + 1);
	char *probe = malloc(plen + 3);
	size_t hlen = nl != NULL ? size - plen - 1 : 0;
	if (pattern == NULL || host == NULL || probe == NULL)
		goto out;
	memcpy(pattern, data, plen);
	pattern[plen] = '\0';
	memcpy(host, nl != NULL ? nl + 1 : data, hlen);
	host[hlen] = '\0';

	(void)stsguard_mx_pattern_match(pattern, host);
	if (strlen(pattern) == plen && stsguard_mx_pattern_check(pattern, plen, NULL) == STSGUARD_OK) {
		if (pattern[0] == '*') {
			if (stsguard_mx_pattern_match(pattern, pattern + 2))
				__builtin_trap();
			probe[0] = 'x';
			memcpy(probe + 1, pattern + 1, plen); /* ".base" + NUL */
			if (plen + 1 <= STSGUARD_HOSTNAME_MAX - 1 && !stsguard_mx_pattern_match(pattern, probe))
				__builtin_trap();
		} else if (!stsguard_mx_pattern_match(pattern, pattern)) {
			__builtin_trap();
		}
	}
out:
	free(pattern);
	free(host);
	free(probe);
	return 0;
}
