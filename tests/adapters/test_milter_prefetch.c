/* test_prefetch.c - table-driven tests of stsguard-milter's pure parts:
 * which recipient addresses yield which prefetch domain, and which daemon
 * endpoint specs are accepted.  The socket path of smp_prefetch is covered
 * end to end by tests/world/test_sendmail.sh (a real Sendmail and stsguardd). */
#include "prefetch.h"

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
};

static const struct {
	const char *spec;
	int ok;
} ep_cases[] = {
	{"unix:/run/stsguard/stsguardd.sock", 1},
	{"local:/run/s.sock", 1},
	{"inet:8461@127.0.0.1", 1},
	{"inet:127.0.0.1:8461", 1},
	{"inet:[::1]:8461", 1},
	{"inet6:8461@::1", 1},
	{"unix:relative.sock", 0},
	{"unix:", 0},
	{"inet:127.0.0.1", 0},
	{"inet:0@127.0.0.1", 0},
	{"inet:65536@127.0.0.1", 0},
	{"inet:8461@localhost", 0},
	{"tcp:127.0.0.1:8461", 0},
};

int main(void)
{
	char out[SMP_DOMAIN_MAX + 1], err[256], longaddr[400];
	size_t i;

	for (i = 0; i < sizeof rcpt_cases / sizeof rcpt_cases[0]; i++) {
		if (!smp_rcpt_domain(rcpt_cases[i].addr, strlen(rcpt_cases[i].addr), out))
			out[0] = '\0';
		CHECK_STR(rcpt_cases[i].addr, out, rcpt_cases[i].domain);
	}
	/* the length cap: a 253-byte domain passes, 254 does not */
	memcpy(longaddr, "u@", 2);
	memset(longaddr + 2, 'a', 253);
	longaddr[2 + 253] = '\0';
	CHECK_STR("253-byte domain", smp_rcpt_domain(longaddr, sizeof longaddr, out) ? "yes" : "no", "yes");
	longaddr[2 + 253] = 'a';
	longaddr[2 + 254] = '\0';
	CHECK_STR("254-byte domain", smp_rcpt_domain(longaddr, sizeof longaddr, out) ? "yes" : "no", "no");
	/* len bounds the read: no NUL needed */
	CHECK_STR("len cap", smp_rcpt_domain("u@abc.test>XYZ", 10, out) ? out : "", "abc.test");

	for (i = 0; i < sizeof ep_cases / sizeof ep_cases[0]; i++) {
		struct smp_endpoint *ep = smp_endpoint_parse(ep_cases[i].spec, err, sizeof err);
		CHECK_STR(ep_cases[i].spec, ep != NULL ? "accepted" : "refused",
		          ep_cases[i].ok ? "accepted" : "refused");
		smp_endpoint_free(ep);
	}

	/* nobody listening: a bounded, reported failure */
	{
		struct smp_endpoint *ep = smp_endpoint_parse("unix:/nonexistent/stsguardd.sock", err, sizeof err);
		char reply[SMP_REPLY_MAX + 1];
		int r = ep != NULL ? smp_prefetch(ep, "example.com", 50, reply, sizeof reply) : 0;
		CHECK_STR("prefetch without a daemon", r != 0 && strstr(reply, "connect") != NULL ? "failed" : reply,
		          "failed");
		smp_endpoint_free(ep);
	}
	if (failures == 0)
		printf("test_milter_prefetch: all passed\n");
	return failures != 0;
}
