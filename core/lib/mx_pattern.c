/*
 * mx_pattern.c - syntax and matching of MTA-STS "mx" patterns.
 *
 * RFC 8461 §3.2 defines sts-policy-mx-value = ["*."] Domain, with Domain
 * from RFC 5321 §4.1.2 (LDH labels). §4.1 defines matching: a "*" stands
 * for exactly one whole leftmost label, so "*.example.com" matches
 * "mx.example.com" but neither "example.com" nor "a.b.example.com".
 * Enforcement decisions rest on this file, so both directions are strict:
 * anything that is not exactly a valid pattern or host name does not match.
 */
#include "stsguard/mx_pattern.h"

#include <string.h>

#include "util.h"

#define LABEL_MAX 63
#define NAME_MAX_ 253

/*
 * RFC 5321 Domain: sub-domain *("." sub-domain), sub-domain = Let-dig
 * [Ldh-str]; plus the DNS limits of 63 octets a label, 253 a name.
 * `what` names the thing in error messages.
 */
static stsguard_status check_domain(const char *s, size_t len, const char *what, const char *shown,
                                    stsguard_err *err)
{
	if (len == 0)
		return sg_err(err, STSGUARD_INVALID, "%s is empty", what);
	if (len > NAME_MAX_)
		return sg_err(err, STSGUARD_INVALID, "%s '%s...' is longer than %d characters", what, shown,
		              NAME_MAX_);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80)
			return sg_err(err, STSGUARD_INVALID,
			              "%s '%s' has non-ASCII bytes: U-labels are not allowed, use the A-label (xn--) form",
			              what, shown);
		if (c == '[' || c == ']' || c == ':')
			return sg_err(err, STSGUARD_INVALID, "%s '%s' is an address literal, not a host name", what,
			              shown);
	}

	size_t start = 0;
	bool last_all_digits = false;
	while (start <= len) {
		const char *dot = memchr(s + start, '.', len - start);
		size_t end = dot != NULL ? (size_t)(dot - s) : len;
		size_t llen = end - start;
		const char *label = s + start;

		if (llen == 0)
			return sg_err(err, STSGUARD_INVALID, "%s '%s' has an empty label%s", what, shown,
			              end == len ? " (trailing dot)" : "");
		if (llen > LABEL_MAX)
			return sg_err(err, STSGUARD_INVALID, "%s '%s' has a label longer than %d characters", what,
			              shown, LABEL_MAX);
		last_all_digits = true;
		for (size_t i = 0; i < llen; i++) {
			unsigned char c = (unsigned char)label[i];
			if (!sg_is_alnum(c) && c != '-')
				return sg_err(err, STSGUARD_INVALID, "%s '%s' has a character '%c' not allowed in a host name",
				              what, shown, c);
			if (!sg_is_digit(c))
				last_all_digits = false;
		}
		if (label[0] == '-' || label[llen - 1] == '-')
			return sg_err(err, STSGUARD_INVALID, "%s '%s' has a label that starts or ends with '-'", what,
			              shown);
		if (dot == NULL)
			break;
		start = end + 1;
	}
	/* RFC 3696 §2: no top-level domain is all-numeric; such a name is an IP address. */
	if (last_all_digits)
		return sg_err(err, STSGUARD_INVALID, "%s '%s' is an IP address, not a host name", what, shown);
	return STSGUARD_OK;
}

stsguard_status stsguard_mx_pattern_check(const char *pattern, size_t len, stsguard_err *err)
{
	char shown[80];
	size_t skip = 0;

	if (pattern == NULL)
		return sg_err(err, STSGUARD_BADARG, "no mx pattern");
	/* Only an error message needs the escaped copy: keep the lookup path cheap. */
	if (err != NULL)
		sg_escape(shown, sizeof shown, pattern, len);
	else
		shown[0] = '\0';
	if (len >= 2 && pattern[0] == '*' && pattern[1] == '.')
		skip = 2;
	if (memchr(pattern + skip, '*', len - skip) != NULL)
		return sg_err(err, STSGUARD_INVALID,
		              "mx pattern '%s': '*' is only allowed as the whole leftmost label ('*.example.com')",
		              shown);
	return check_domain(pattern + skip, len - skip, "mx pattern", shown, err);
}

bool stsguard_mx_pattern_match(const char *pattern, const char *host)
{
	if (pattern == NULL || host == NULL)
		return false;
	size_t hlen = strnlen(host, STSGUARD_HOSTNAME_MAX + 1);
	size_t plen = strnlen(pattern, STSGUARD_HOSTNAME_MAX + 3);

	if (hlen > STSGUARD_HOSTNAME_MAX || plen > STSGUARD_HOSTNAME_MAX + 2)
		return false;
	if (hlen > 0 && host[hlen - 1] == '.')
		hlen--;
	/* A host that is not a valid name (or is an address) matches nothing. */
	if (check_domain(host, hlen, "host", "", NULL) != STSGUARD_OK)
		return false;

	if (plen >= 2 && pattern[0] == '*' && pattern[1] == '.') {
		/* Exactly one whole leftmost label: skip it, the rest must be equal. */
		const char *dot = memchr(host, '.', hlen);
		if (dot == NULL)
			return false;
		size_t off = (size_t)(dot - host) + 1;
		return sg_ieq(host + off, hlen - off, pattern + 2, plen - 2);
	}
	return sg_ieq(host, hlen, pattern, plen);
}
