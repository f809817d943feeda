/*
 * fuzz_exim_module.c - libFuzzer target for the Exim dlfunc module
 * (adapters/exim/stsguard_exim.c), compiled in with fake Exim symbols and
 * a fake smc_query in place of the socket client. What the module reads
 * comes from outside: stsguardd's reply (the policy's mx patterns are the
 * domain owner's), and the Exim variables of an outbound session (the MX
 * name, the peer certificate's fields, the SMTP error text).
 *
 * The input is split on '\n' into: the policy-map reply, an address_data,
 * a site ignore list, then the Exim variables below (a '\t' in the SAN
 * field stands for Exim's '\n' separator), then the domain argument.
 * Properties checked: every function returns OK with a yield; the mode is
 * one of the documented forms; the ignore list is "*" or a "<;" list that
 * ends in " *" and, without a site list, holds nothing but the anchored
 * regexes the module builds; every request is within the daemon's cap, a
 * policy or prefetch key is a plain domain, and a tlsrpt key is
 * NAME=VALUE tokens with VALUE %HH-escaped (no space, no control byte can
 * reach the daemon's parser unescaped).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned char uschar;
uschar *expand_string(uschar *string);
uschar *string_copy_function(const uschar *string);
void log_write(unsigned int selector, int flags, const char *format, ...) __attribute__((format(printf, 3, 4)));

#include "stsguard_exim.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { F_REPLY, F_AD, F_SITE, F_EVENT, F_DOMAIN, F_HOST, F_IP, F_SRC, F_CIPHER, F_DANE, F_VERIFIED, F_DATA, F_ERRNO,
       F_NOTAFTER, F_SANS, F_ARG, F_N };

static char *field_v[F_N];
static char *copies[64];
static size_t n_copies;

static const struct {
	const char *expr;
	int f;
} exim_vars[] = {
	{"$event_name", F_EVENT},
	{"$domain", F_DOMAIN},
	{"$host", F_HOST},
	{"$host_address", F_IP},
	{"$sending_ip_address", F_SRC},
	{"$tls_out_cipher", F_CIPHER},
	{"$tls_out_dane", F_DANE},
	{"$tls_out_certificate_verified", F_VERIFIED},
	{"$event_data", F_DATA},
	{"$event_defer_errno", F_ERRNO},
	{"$address_data", F_AD},
	{"${certextract{notafter,int}{$tls_out_peercert}}", F_NOTAFTER},
	{"${certextract{subj_altname,dns}{$tls_out_peercert}}", F_SANS},
};

uschar *expand_string(uschar *string)
{
	for (size_t i = 0; i < sizeof exim_vars / sizeof exim_vars[0]; i++)
		if (strcmp(exim_vars[i].expr, (const char *)string) == 0)
			return (uschar *)field_v[exim_vars[i].f];
	__builtin_trap(); /* the module asked for a variable this target does not know: extend the table */
}

uschar *string_copy_function(const uschar *string)
{
	size_t n = strlen((const char *)string);
	char *p = malloc(n + 1);
	if (p == NULL || n_copies == sizeof copies / sizeof copies[0])
		__builtin_trap();
	memcpy(p, string, n + 1);
	copies[n_copies++] = p;
	return (uschar *)p;
}

void log_write(unsigned int selector, int flags, const char *format, ...)
{
	char line[2048];
	va_list ap;
	(void)selector;
	(void)flags;
	va_start(ap, format);
	vsnprintf(line, sizeof line, format, ap);
	va_end(ap);
}

static int is_plain_domain(const char *d)
{
	size_t n = strlen(d);
	if (n == 0 || n > 255)
		return 0;
	return strspn(d, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") == n;
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static void check_tlsrpt_key(const char *key)
{
	static const char *const names[] = {"domain", "result", "mx", "ip", "src", "policy", "reason"};
	for (const char *p = key; *p != '\0';) {
		size_t tl = strcspn(p, " ");
		const char *eq = memchr(p, '=', tl);
		if (eq == NULL)
			__builtin_trap();
		size_t nl = (size_t)(eq - p), known = 0;
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
			known += strlen(names[i]) == nl && strncmp(names[i], p, nl) == 0;
		if (known != 1)
			__builtin_trap();
		for (const char *v = eq + 1; v < p + tl; v++) {
			unsigned char c = (unsigned char)*v;
			if (c <= 0x20 || c >= 0x7f)
				__builtin_trap();
			if (c == '%' && (v + 2 >= p + tl || !is_hex(v[1]) || !is_hex(v[2])))
				__builtin_trap();
		}
		p += tl;
		if (*p == ' ') {
			p++;
			if (*p == ' ' || *p == '\0')
				__builtin_trap();
		}
	}
	if (strncmp(key, "domain=", 7) != 0)
		__builtin_trap();
}

int smc_query(struct smc *c, const char *path, const char *map, const char *key, int timeout_ms, char *reply,
              size_t replysz, char *err, size_t errsz)
{
	(void)c;
	(void)path;
	(void)timeout_ms;
	(void)err;
	(void)errsz;
	if (strlen(map) + 1 + strlen(key) > SMC_REQUEST_MAX)
		__builtin_trap();
	if (strcmp(map, "policy") == 0 || strcmp(map, "prefetch") == 0) {
		if (!is_plain_domain(key))
			__builtin_trap();
		snprintf(reply, replysz, "%s", strcmp(map, "policy") == 0 ? field_v[F_REPLY] : "OK queued");
	} else if (strcmp(map, "tlsrpt") == 0) {
		check_tlsrpt_key(key);
		snprintf(reply, replysz, "OK stored");
	} else {
		__builtin_trap();
	}
	return 0;
}

void smc_close(struct smc *c)
{
	(void)c;
}

static char sock[] = "/fuzz.sock", empty[] = "";

static char *call(int (*fn)(uschar **, int, uschar **), int argc, char *a0, char *a1, char *a2)
{
	uschar *argv[3] = {(uschar *)a0, (uschar *)a1, (uschar *)a2};
	uschar *yield = NULL;
	if (fn(&yield, argc, argv) != 0 || yield == NULL)
		__builtin_trap();
	return (char *)yield;
}

static void check_ignore_list(const char *l, int site)
{
	size_t n = strlen(l);
	if (strcmp(l, "*") == 0)
		return;
	if (strncmp(l, "<;", 2) != 0 || n < 4 || strcmp(l + n - 2, " *") != 0)
		__builtin_trap();
	if (!site && strspn(l, "<; !^(?i)[].+\\$*-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != n)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	size_t f = 0;
	for (char *p = text; f < F_N; f++) {
		field_v[f] = p;
		char *nl = strchr(p, '\n');
		if (nl == NULL) {
			p += strlen(p);
		} else {
			*nl = '\0';
			p = nl + 1;
		}
	}
	for (char *p = field_v[F_SANS]; *p != '\0'; p++)
		if (*p == '\t')
			*p = '\n';

	char *mode = call(stsguard_mode, 2, field_v[F_ARG], sock, NULL);
	static const char *const forms[] = {"enforce ", "testing ", "dane", "none", "defer ", "error "};
	size_t ok = 0;
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
		ok += strncmp(mode, forms[i], strlen(forms[i])) == 0;
	if (ok != 1 || strchr(mode, '\n') != NULL)
		__builtin_trap();

	check_ignore_list(call(stsguard_mx_ignore, 2, mode, field_v[F_SITE], NULL), field_v[F_SITE][0] != '\0');
	check_ignore_list(call(stsguard_mx_ignore, 2, field_v[F_AD], empty, NULL), 0);
	check_ignore_list(call(stsguard_mx_ignore, 1, field_v[F_AD], NULL, NULL), 0);

	if (call(stsguard_event, 1, sock, NULL, NULL)[0] != '\0')
		__builtin_trap();
	if (call(stsguard_nomx, 3, field_v[F_DOMAIN], field_v[F_AD], sock)[0] != '\0')
		__builtin_trap();
	(void)call(stsguard_prefetch, 2, field_v[F_ARG], sock, NULL);

	for (size_t i = 0; i < n_copies; i++)
		free(copies[i]);
	n_copies = 0;
	free(text);
	return 0;
}
