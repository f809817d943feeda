/*
 * socketmap.c - the framing and the request syntax of the socketmap
 * protocol that Sendmail (map class "socket") and Postfix ("socketmap:"
 * tables) speak to stsguardd (docs/PROTOCOL.md §2, §3).
 *
 *   netstring = length ":" payload ","     length = "0" / %x31-39 *9DIGIT
 *   request   = netstring(mapname SP key)
 *
 * Why this layer exists: every byte here comes straight off a socket that
 * an MTA (or anything else able to connect) writes to, and the daemon reads
 * it in whatever pieces the kernel hands over. So the parser is incremental
 * (a partial netstring is "read more", never an error), bounded (it never
 * looks past len, and refuses a length over the caller's cap as soon as the
 * digits announce it, before a single payload byte is buffered), and strict
 * (one spelling per length: no leading zeros, no sign, no spaces, at most
 * ten digits - Sendmail itself reads the length with "%9u").
 *
 * Contract: pure functions, no allocation, no I/O; see socketmap.h.
 */
#include "stsguard/socketmap.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* A length of more than ten digits is refused whatever the cap. */
#define NETSTRING_DIGITS_MAX 10

stsguard_status stsguard_netstring_next(const char *buf, size_t len, size_t max_payload, size_t *consumed,
                                        const char **payload, size_t *plen, stsguard_err *err)
{
	if (consumed == NULL || payload == NULL || plen == NULL || (buf == NULL && len != 0))
		return sg_err(err, STSGUARD_BADARG, "no buffer or no output arguments");
	*consumed = 0;
	*payload = NULL;
	*plen = 0;

	uint64_t n = 0;
	size_t i = 0;
	while (i < len && sg_is_digit((unsigned char)buf[i])) {
		if (i == NETSTRING_DIGITS_MAX)
			return sg_err(err, STSGUARD_INVALID, "netstring length has more than %d digits",
			              NETSTRING_DIGITS_MAX);
		/* One spelling per length: "01:" could smuggle a different split past a peer. */
		if (i == 1 && buf[0] == '0')
			return sg_err(err, STSGUARD_INVALID, "netstring length has a leading zero");
		n = n * 10 + (uint64_t)(buf[i] - '0');
		/*
		 * Without leading zeros every further digit multiplies the value
		 * by at least ten, so a prefix over the cap already decides.
		 */
		if (n > (uint64_t)max_payload)
			return sg_err(err, STSGUARD_TOOBIG, "netstring announces more than %zu bytes", max_payload);
		i++;
	}
	if (i == len)
		return STSGUARD_NONE; /* only digits so far (or nothing): read more */
	if (i == 0) {
		char shown[8];
		sg_escape(shown, sizeof shown, buf, 1);
		return sg_err(err, STSGUARD_INVALID, "netstring does not start with a digit but '%s'", shown);
	}
	if (buf[i] != ':')
		return sg_err(err, STSGUARD_INVALID, "netstring length is not followed by ':'");

	size_t start = i + 1;
	/* n <= max_payload <= SIZE_MAX here, and len - start cannot underflow (i < len). */
	if ((uint64_t)(len - start) < n + 1)
		return STSGUARD_NONE;
	size_t end = start + (size_t)n;
	if (buf[end] != ',')
		return sg_err(err, STSGUARD_INVALID, "netstring of %zu bytes is not followed by ','", (size_t)n);
	*payload = buf + start;
	*plen = (size_t)n;
	*consumed = end + 1;
	return STSGUARD_OK;
}

stsguard_status stsguard_netstring_encode(const char *payload, size_t len, char *out, size_t cap,
                                          size_t *outlen)
{
	char head[24];

	if (outlen == NULL || (payload == NULL && len != 0) || (out == NULL && cap != 0))
		return STSGUARD_BADARG;
	*outlen = 0;
	int h = snprintf(head, sizeof head, "%zu:", len);
	if (h <= 0 || (size_t)h >= sizeof head)
		return STSGUARD_BADARG;
	size_t hlen = (size_t)h;
	if (cap < hlen || cap - hlen < len || cap - hlen - len < 1)
		return STSGUARD_TOOBIG;
	memcpy(out, head, hlen);
	if (len > 0)
		memcpy(out + hlen, payload, len);
	out[hlen + len] = ',';
	*outlen = hlen + len + 1;
	if (*outlen < cap)
		out[*outlen] = '\0'; /* a convenience for logs and tests; *outlen is the length */
	return STSGUARD_OK;
}

static bool mapname_char(unsigned char c)
{
	return sg_is_alnum(c) || c == '_' || c == '-';
}

stsguard_status stsguard_socketmap_split(const char *payload, size_t len, char map[STSGUARD_MAPNAME_MAX + 1],
                                         char key[STSGUARD_MAPKEY_MAX + 1], stsguard_err *err)
{
	char shown[80];

	if (map == NULL || key == NULL || (payload == NULL && len != 0))
		return sg_err(err, STSGUARD_BADARG, "no request or no output buffers");
	map[0] = '\0';
	key[0] = '\0';
	sg_escape(shown, sizeof shown, payload, len);

	size_t sp = 0;
	while (sp < len && payload[sp] != ' ') {
		if (!mapname_char((unsigned char)payload[sp]))
			return sg_err(err, STSGUARD_INVALID,
			              "request '%s': map name may hold only letters, digits, '_' and '-'", shown);
		sp++;
	}
	if (sp == len)
		return sg_err(err, STSGUARD_INVALID, "request '%s' has no space between map name and key", shown);
	if (sp == 0)
		return sg_err(err, STSGUARD_INVALID, "request '%s' has an empty map name", shown);
	if (sp > STSGUARD_MAPNAME_MAX)
		return sg_err(err, STSGUARD_INVALID, "request '%s': map name is longer than %u characters", shown,
		              STSGUARD_MAPNAME_MAX);

	const char *k = payload + sp + 1;
	size_t klen = len - sp - 1;
	if (klen == 0)
		return sg_err(err, STSGUARD_INVALID, "request '%s' has an empty key", shown);
	if (klen > STSGUARD_MAPKEY_MAX)
		return sg_err(err, STSGUARD_INVALID, "request '%s...': key is longer than %u bytes", shown,
		              STSGUARD_MAPKEY_MAX);
	/*
	 * Printable US-ASCII only: a domain, a [next-hop] or an admin argument.
	 * A second space, a control byte or a UTF-8 byte means the peer is not
	 * speaking this protocol (or is an IDN U-label, which has no policy
	 * lookup without its A-label form, RFC 8461 §3.1).
	 */
	for (size_t i = 0; i < klen; i++) {
		unsigned char c = (unsigned char)k[i];
		if (c == ' ')
			return sg_err(err, STSGUARD_INVALID, "request '%s' has more than one space", shown);
		if (c < 0x21 || c > 0x7e)
			return sg_err(err, STSGUARD_INVALID, "request '%s': key has a control or non-ASCII byte", shown);
	}
	for (size_t i = 0; i < sp; i++)
		map[i] = sg_lower(payload[i]);
	map[sp] = '\0';
	memcpy(key, k, klen);
	key[klen] = '\0';
	return STSGUARD_OK;
}
