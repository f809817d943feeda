/*
 * tlsrpt_schedule.c - when TLS-RPT reports are sent and retried.
 *
 * Why: RFC 8460 §4.1 asks for reports covering full UTC days, which makes
 * every sender want to send at 00:00Z; a seeded, per-day random offset
 * spreads them. Retries back off exponentially and stop one day after the
 * first attempt (RFC 8460 §5.5). Pure: the clock and the seed are arguments.
 */
#include "stsguard/tlsrpt_send.h"

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

stsguard_status stsguard_tlsrpt_schedule_first(const char *day, uint64_t seed, unsigned spread_s, int64_t *at)
{
	int64_t start;
	if (day == NULL || at == NULL || stsguard_tlsrpt_day_parse(day, &start) != STSGUARD_OK)
		return STSGUARD_INVALID;
	int64_t next_midnight = start + 86400;
	uint64_t delay = spread_s == 0 ? 0 : splitmix64(seed ^ (uint64_t)start) % spread_s;
	*at = next_midnight + (int64_t)delay;
	return STSGUARD_OK;
}

int64_t stsguard_tlsrpt_schedule_retry(int64_t first_attempt, int64_t last_attempt, unsigned failures)
{
	int64_t wait = STSGUARD_TLSRPT_RETRY_FIRST;
	if (failures == 0)
		return last_attempt;
	for (unsigned i = 1; i < failures && wait < STSGUARD_TLSRPT_RETRY_MAX; i++)
		wait *= 2;
	if (wait > STSGUARD_TLSRPT_RETRY_MAX)
		wait = STSGUARD_TLSRPT_RETRY_MAX;
	int64_t next = last_attempt + wait;
	if (next > first_attempt + STSGUARD_TLSRPT_RETRY_WINDOW)
		return -1;
	return next;
}
