/*
 * fuzz_cache_journal.c - libFuzzer target for loading the cache journal: a
 * damaged or hand-edited cache file must load (skipping what is bad) or be
 * refused, never crash, and every entry that loads must be valid.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stsguard/cache.h"
#include "stsguard/mx_pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static int check_entry(void *ctx, const stsguard_cache_entry *e)
{
	(void)ctx;
	if (strlen(e->domain) == 0 || strlen(e->domain) > STSGUARD_DOMAIN_MAX)
		__builtin_trap();
	if (e->policy != NULL) {
		if (e->policy->max_age > STSGUARD_MAX_AGE_LIMIT)
			__builtin_trap();
		for (size_t i = 0; i < e->policy->n_mx; i++)
			if (stsguard_mx_pattern_check(e->policy->mx[i], strlen(e->policy->mx[i]), NULL) != STSGUARD_OK)
				__builtin_trap();
	}
	return 0;
}

static void remove_dir(void)
{
	static const char *const files[] = {"cache.journal", "cache.journal.tmp", "cache.lock"};
	char path[128];
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128];

	if (dir[0] == '\0') {
		snprintf(dir, sizeof dir, "/tmp/stsgfuzz.XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
		atexit(remove_dir);
	}
	snprintf(path, sizeof path, "%s/cache.journal", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);

	stsguard_cache *c = NULL;
	if (stsguard_cache_open(dir, &c, NULL) == STSGUARD_OK)
		stsguard_cache_foreach(c, check_entry, NULL);
	stsguard_cache_close(c);
	return 0;
}
