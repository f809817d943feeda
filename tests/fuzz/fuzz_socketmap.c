/*
 * fuzz_socketmap.c - libFuzzer target for the socketmap request path, fed
 * the way stsguardd feeds it: the input is one connection's byte stream,
 * taken apart with stsguard_netstring_next() in a loop (pipelined requests),
 * each payload split into map and key, the key turned into a policy domain,
 * and a fixed set of discovery results rendered for the map.
 *
 * Invariants (a violation traps):
 *   - a netstring never claims more than what is left, and its payload lies
 *     inside the input and under the request cap;
 *   - a split map name is 1..32 of [a-z0-9_-], a key 1..255 of %x21-7E;
 *   - a domain from a key is a lower-case host name without trailing dot;
 *   - a rendered reply is never empty, never "OK" without a value, never
 *     holds a NUL, CR or LF, stays under Postfix's 100,000 bytes (Sendmail's
 *     1,000,000 for sts), and survives a netstring round trip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stsguard/discover.h"
#include "stsguard/maps.h"
#include "stsguard/policy.h"
#include "stsguard/socketmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                  \
	do {                         \
		if (!(cond))         \
			__builtin_trap(); \
	} while (0)

static char reply[1000001];
static char framed[1000032];
static stsguard_discovery fixed[4];
static stsguard_policy *enforce_policy;
static stsguard_policy *testing_policy;

static void setup(void)
{
	static const char enforce_body[] = "version: STSv1\nmode: enforce\nmx: mx1.example.com\n"
	                                   "mx: *.mail.example.com\nmax_age: 604800\n";
	static const char testing_body[] = "version: STSv1\nmode: testing\nmx: mx.example.net\nmax_age: 86400\n";

	if (enforce_policy != NULL)
		return;
	if (stsguard_policy_parse(enforce_body, sizeof enforce_body - 1, &enforce_policy, NULL) != STSGUARD_OK ||
	    stsguard_policy_parse(testing_body, sizeof testing_body - 1, &testing_policy, NULL) != STSGUARD_OK)
		abort();
	for (size_t i = 0; i < 4; i++) {
		stsguard_discovery *d = &fixed[i];
		memcpy(d->policy_id, "20240101", 9);
		d->expires_at = 1700604800;
		d->recheck_at = 1700003600;
		d->n_hosts = 2;
		memcpy(d->hosts[0].host, "mx1.example.com", 16);
		memcpy(d->hosts[1].host, "a.mail.example.com", 19);
	}
	fixed[0].verdict = STSGUARD_VERDICT_ENFORCE;
	fixed[0].policy = enforce_policy;
	fixed[1].verdict = STSGUARD_VERDICT_TESTING;
	fixed[1].policy = testing_policy;
	fixed[2].verdict = STSGUARD_VERDICT_DANE;
	fixed[2].policy = enforce_policy;
	fixed[2].hosts[0].dane = STSGUARD_DANE_PRESENT;
	fixed[3].verdict = STSGUARD_VERDICT_TEMPFAIL;
	fixed[3].policy = enforce_policy;
	fixed[3].hosts[1].dane = STSGUARD_DANE_UNKNOWN;
}

static void check_reply(stsguard_map map, const stsguard_discovery *d, const stsguard_map_opts *opts)
{
	size_t len = 0;
	stsguard_status st = stsguard_map_render(map, d, opts, 1700000000, reply, sizeof reply, &len);

	CHECK(st == STSGUARD_OK);
	CHECK(len > 0 && len <= (map == STSGUARD_MAP_STS ? 1000000u : 100000u));
	CHECK(reply[len] == '\0');
	CHECK(memchr(reply, '\r', len) == NULL && memchr(reply, '\n', len) == NULL);
	CHECK(strlen(reply) == len);
	/* Sendmail segfaults on "OK" without a space (sendmail-postfix.md §3). */
	if (len >= 2 && memcmp(reply, "OK", 2) == 0)
		CHECK(len > 3 && reply[2] == ' ' && reply[3] != ' ');

	size_t flen = 0, consumed = 0, plen = 0;
	const char *payload = NULL;
	CHECK(stsguard_netstring_encode(reply, len, framed, sizeof framed, &flen) == STSGUARD_OK);
	CHECK(stsguard_netstring_next(framed, flen, sizeof reply, &consumed, &payload, &plen, NULL) == STSGUARD_OK);
	CHECK(consumed == flen && plen == len && payload == framed + (flen - len - 1));
	CHECK(memcmp(payload, reply, len) == 0);
}

static void handle(const char *payload, size_t plen)
{
	char map[STSGUARD_MAPNAME_MAX + 1];
	char key[STSGUARD_MAPKEY_MAX + 1];
	char domain[STSGUARD_DOMAIN_MAX + 1];
	static const stsguard_map_opts opts[3] = {
		{STSGUARD_TEMPFAIL_AUTO}, {STSGUARD_TEMPFAIL_TEMP}, {STSGUARD_TEMPFAIL_NOTFOUND}};

	if (stsguard_socketmap_split(payload, plen, map, key, NULL) != STSGUARD_OK) {
		CHECK(map[0] == '\0' && key[0] == '\0');
		return;
	}
	size_t mlen = strlen(map), klen = strlen(key);
	CHECK(mlen >= 1 && mlen <= STSGUARD_MAPNAME_MAX && klen >= 1 && klen <= STSGUARD_MAPKEY_MAX);
	CHECK(mlen + 1 + klen == plen);
	for (size_t i = 0; i < mlen; i++)
		CHECK((map[i] >= 'a' && map[i] <= 'z') || (map[i] >= '0' && map[i] <= '9') || map[i] == '_' ||
		      map[i] == '-');
	for (size_t i = 0; i < klen; i++)
		CHECK(key[i] > 0x20 && key[i] < 0x7f);

	stsguard_map m = stsguard_map_by_name(map);
	stsguard_map first = m, last = m;
	if (m == STSGUARD_MAP_UNKNOWN) {
		/* Still exercise every renderer with whatever key came in. */
		first = STSGUARD_MAP_STS;
		last = STSGUARD_MAP_PREFETCH;
	} else {
		CHECK(strcmp(stsguard_map_name(m), map) == 0);
	}

	stsguard_status st = stsguard_map_key_domain(first, key, domain, NULL);
	CHECK(st == STSGUARD_OK || st == STSGUARD_NONE || st == STSGUARD_INVALID);
	if (st != STSGUARD_OK) {
		CHECK(domain[0] == '\0');
		for (int k = first; k <= last; k++)
			check_reply((stsguard_map)k, NULL, &opts[0]);
		return;
	}
	size_t dlen = strlen(domain);
	CHECK(dlen >= 1 && dlen <= STSGUARD_DOMAIN_MAX && domain[dlen - 1] != '.');
	for (size_t i = 0; i < dlen; i++)
		CHECK(!(domain[i] >= 'A' && domain[i] <= 'Z'));

	for (int k = first; k <= last; k++) {
		for (size_t i = 0; i < 4; i++) {
			memcpy(fixed[i].domain, domain, dlen + 1);
			for (size_t o = 0; o < 3; o++)
				check_reply((stsguard_map)k, &fixed[i], &opts[o]);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	size_t pos = 0;

	setup();
	while (pos < size) {
		size_t consumed = 0, plen = 0;
		const char *payload = NULL;
		stsguard_status st =
		    stsguard_netstring_next(buf + pos, size - pos, STSGUARD_SOCKETMAP_REQUEST_MAX, &consumed, &payload, &plen,
		                            NULL);
		if (st != STSGUARD_OK) {
			/* Incomplete: the daemon waits; INVALID/TOOBIG: it answers PERM and closes. */
			CHECK(st == STSGUARD_NONE || st == STSGUARD_INVALID || st == STSGUARD_TOOBIG);
			CHECK(consumed == 0 && payload == NULL && plen == 0);
			break;
		}
		CHECK(consumed >= 3 && consumed <= size - pos);
		CHECK(plen <= STSGUARD_SOCKETMAP_REQUEST_MAX);
		CHECK(payload >= buf + pos && payload + plen < buf + pos + consumed);
		CHECK(payload[plen] == ',');
		handle(payload, plen);
		pos += consumed;
	}
	return 0;
}
