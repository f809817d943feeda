/*
 * fuzz_split.h - split a fuzz input on '\n' into TXT records (at most max).
 */
#ifndef STSGUARD_FUZZ_SPLIT_H
#define STSGUARD_FUZZ_SPLIT_H

#include <stdint.h>
#include <string.h>

#include "stsguard/txt.h"

static inline size_t fuzz_split(const uint8_t *data, size_t size, stsguard_txt *recs, size_t max)
{
	size_t n = 0;
	size_t pos = 0;

	if (size == 0)
		return 0;
	while (n < max) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t end = nl != NULL ? (size_t)(nl - data) : size;
		recs[n].data = (const char *)data + pos;
		recs[n].len = end - pos;
		n++;
		if (nl == NULL)
			break;
		pos = end + 1;
	}
	return n;
}

#endif
