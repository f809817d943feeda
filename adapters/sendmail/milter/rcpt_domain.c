/* rcpt_domain.c - the recipient domain stsguard-milter prefetches.
 *
 * Pure: no I/O, no allocation.  The input comes from the SMTP client (the
 * RCPT TO argument), so it is read only up to a caller-given length and the
 * domain is capped at SMP_DOMAIN_MAX bytes; anything that is not a host name
 * in A-label form is skipped rather than sent to stsguardd, which would
 * refuse it anyway (docs/PROTOCOL.md section 4). */
#include "rcpt_domain.h"

int smp_rcpt_domain(const char *addr, size_t len, char *out)
{
	size_t n = 0, i, at = (size_t)-1, end;

	while (n < len && addr[n] != '\0')
		n++;
	/* strip <...> and surrounding blanks */
	while (n > 0 && (addr[n - 1] == ' ' || addr[n - 1] == '\t'))
		n--;
	if (n > 0 && addr[n - 1] == '>')
		n--;
	for (i = 0; i < n; i++)
		if (addr[i] == '@')
			at = i;
	if (at == (size_t)-1 || at + 1 >= n)
		return 0;
	end = n;
	if (addr[end - 1] == '.')
		end--;
	if (end <= at + 1 || end - (at + 1) > SMP_DOMAIN_MAX)
		return 0;
	size_t label = 0;
	for (i = at + 1; i < end; i++) {
		unsigned char c = (unsigned char)addr[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		/* host names only: an address literal "[...]" has no policy
		 * (RFC 8461 §3.4) and anything else stsguardd would refuse */
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return 0;
		if (c == '.') {
			if (label == 0) /* an empty label: ".x", "x..y", "x.." */
				return 0;
			label = 0;
		} else if (++label > 63) {
			return 0;
		}
		out[i - (at + 1)] = (char)c;
	}
	if (label == 0)
		return 0;
	out[end - (at + 1)] = '\0';
	return 1;
}
