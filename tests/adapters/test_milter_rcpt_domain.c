/* test_milter_rcpt_domain.c - table-driven test of stsguard-milter's pure
 * part: which envelope recipients yield which prefetch domain.  The request
 * itself (adapters/common/smclient) has its own tests; the milter as a whole
 * runs in tests/world/test_sendmail.sh with a real Sendmail and stsguardd. */
#include "rcpt_domain.h"

#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK_STR(name, got, want)                                                              \
	do {                                                                                    \
		if (strcmp((got), (want)) != 0) {                                               \
			fprintf(stderr, "%s:%d: %s: got '%s', want '%s'\n", __FILE__, __LINE__, \
			        (name), (got), (want));                                         \
			failures++;                                                             \
		}                                                                               \
	} while (0)

static const struct {
	const char *addr;
	const char *domain; /* "" = nothing to prefetch */
} rcpt_cases[] = {
	{"<user@example.com>", "example.com"},
	{"user@example.com", "example.com"},
	{"<User@Example.COM.>", "example.com"},
	{"<a@b@mx-nostarttls.test>", "mx-nostarttls.test"},
	{"<\"quoted@local\"@x.test>  ", "x.test"},
	{"<postmaster>", ""},
	{"<>", ""},
	{"<user@>", ""},
	{"<user@.>", ""},
	{"<user@[192.0.2.1]>", ""},
	{"<user@[IPv6:2001:db8::1]>", ""},
	{"<user@exa mple.com>", ""},
	{"<user@ex\xc3\xa4mple.com>", ""},
	{"<user@a%b.com>", ""},
	{"<user@exa_mple.com>", ""},
	{"<user@mx-1.example-2.test>", "mx-1.example-2.test"},
	{"<user@.example.com>", ""},
	{"<user@example..com>", ""},
	{"<user@example.com..>", ""},
	{"<user@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test>", /* 63 */
	 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test"},
	{"<user@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test>", ""}, /* 64 */
};

int main(void)
{
	char out[SMP_DOMAIN_MAX + 1], longaddr[400];
	size_t i;

	for (i = 0; i < sizeof rcpt_cases / sizeof rcpt_cases[0]; i++) {
		if (!smp_rcpt_domain(rcpt_cases[i].addr, strlen(rcpt_cases[i].addr), out))
			out[0] = '\0';
		CHECK_STR(rcpt_cases[i].addr, out, rcpt_cases[i].domain);
	}
	/* the length cap: a 253-byte domain passes, 254 does not */
	memcpy(longaddr, "u@", 2);
	memset(longaddr + 2, 'a', 253);
	longaddr[2 + 63] = longaddr[2 + 127] = longaddr[2 + 191] = '.'; /* labels of 63, 63, 63, 61 */
	longaddr[2 + 253] = '\0';
	CHECK_STR("253-byte domain", smp_rcpt_domain(longaddr, sizeof longaddr, out) ? "yes" : "no", "yes");
	longaddr[2 + 253] = 'a';
	longaddr[2 + 254] = '\0';
	CHECK_STR("254-byte domain", smp_rcpt_domain(longaddr, sizeof longaddr, out) ? "yes" : "no", "no");
	/* len bounds the read: no NUL needed */
	CHECK_STR("len cap", smp_rcpt_domain("u@abc.test>XYZ", 10, out) ? out : "", "abc.test");

	if (failures == 0)
		printf("test_milter_rcpt_domain: all passed\n");
	return failures != 0;
}
