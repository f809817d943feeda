/*
 * test_tlsrpt_send.c - report delivery: the mailto: parser, the report mail
 * (MIME structure, header safety), its DKIM signature, the schedule and
 * backoff, the sendmail command split, and whole send passes with a fake
 * resolver, fake delivery, a real store and a fake clock (retries, give-up,
 * DNS failures, loop guard, dry run, no DKIM key).
 *
 * The report mail of one fixed case is compared byte for byte with
 * tests/golden/reports/report-mail.eml (STSGUARD_UPDATE_GOLDEN=1 rewrites
 * it). With STSGUARD_DKIM_OUT=DIR every signed message and its key are also
 * written to DIR, so tests/golden/dkim-verify.sh can check them with an
 * independent verifier (python3-dkim).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <zlib.h>

#include "stsguard/tlsrpt_mail.h"
#include "stsguard/tlsrpt_send.h"
#include "stsguard/tlsrpt_store.h"

#include "check.h"

static char tmpdir[256];

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return;
	fwrite(data, 1, len, f);
	fclose(f);
}

static void src_path(char *out, size_t cap, const char *rel)
{
	const char *file = __FILE__;
	const char *slash = strrchr(file, '/');
	int dirlen = slash != NULL ? (int)(slash - file) : 1;
	snprintf(out, cap, "%.*s/../%s", dirlen, slash != NULL ? file : ".", rel);
}

/* ---- mailto: ---- */

static void test_mailto(void)
{
	static const struct {
		const char *name, *uri;
		stsguard_status want;
		size_t n;
		const char *first, *second;
	} cases[] = {
		{"plain", "mailto:tlsrpt@example.net", STSGUARD_OK, 1, "tlsrpt@example.net", NULL},
		{"scheme case, domain lower-cased", "MAILTO:Rpt@Example.NET", STSGUARD_OK, 1, "Rpt@example.net", NULL},
		{"hfields ignored", "mailto:a@example.net?subject=x", STSGUARD_OK, 1, "a@example.net", NULL},
		{"two addresses", "mailto:a@example.net,b@example.org", STSGUARD_OK, 2, "a@example.net", "b@example.org"},
		{"percent-decoded", "mailto:a%2Bb@example.net", STSGUARD_OK, 1, "a+b@example.net", NULL},
		{"plus and dot", "mailto:tls.rpt+x@mx.example.net", STSGUARD_OK, 1, "tls.rpt+x@mx.example.net", NULL},
		{"not mailto", "https://example.net/", STSGUARD_INVALID, 0, NULL, NULL},
		{"empty", "mailto:", STSGUARD_INVALID, 0, NULL, NULL},
		{"no at", "mailto:example.net", STSGUARD_INVALID, 0, NULL, NULL},
		{"two ats", "mailto:a@b@example.net", STSGUARD_INVALID, 0, NULL, NULL},
		{"leading dash (would be an option)", "mailto:-oQ@example.net", STSGUARD_INVALID, 0, NULL, NULL},
		{"encoded newline", "mailto:a%0A@example.net", STSGUARD_INVALID, 0, NULL, NULL},
		{"encoded space", "mailto:a%20b@example.net", STSGUARD_INVALID, 0, NULL, NULL},
		{"bad escape", "mailto:a%zz@example.net", STSGUARD_INVALID, 0, NULL, NULL},
		{"truncated escape", "mailto:a@example.ne%7", STSGUARD_INVALID, 0, NULL, NULL},
		{"single-label domain", "mailto:a@localhost", STSGUARD_INVALID, 0, NULL, NULL},
		{"address literal", "mailto:a@[192.0.2.1]", STSGUARD_INVALID, 0, NULL, NULL},
		{"quoted local part", "mailto:\"a b\"@example.net", STSGUARD_INVALID, 0, NULL, NULL},
		{"empty second", "mailto:a@example.net,", STSGUARD_INVALID, 0, NULL, NULL},
		{"double dot", "mailto:a..b@example.net", STSGUARD_INVALID, 0, NULL, NULL},
		{"label dash", "mailto:a@-x.example.net", STSGUARD_INVALID, 0, NULL, NULL},
		{"nine addresses", "mailto:a@x.net,b@x.net,c@x.net,d@x.net,e@x.net,f@x.net,g@x.net,h@x.net,i@x.net",
		 STSGUARD_INVALID, 0, NULL, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char addrs[STSGUARD_MAILTO_ADDRS_MAX][STSGUARD_ADDR_MAX + 1];
		size_t n = 99;
		stsguard_err err = {""};
		stsguard_status st = stsguard_tlsrpt_mailto_parse(cases[i].uri, strlen(cases[i].uri), addrs,
		                                                  STSGUARD_MAILTO_ADDRS_MAX, &n, &err);
		CHECK_STATUS(st, cases[i].want, cases[i].name);
		if (st != STSGUARD_OK) {
			CHECK_TRUE(err.msg[0] != '\0', cases[i].name);
			continue;
		}
		CHECK_INT(n, cases[i].n, cases[i].name);
		CHECK_STR(addrs[0], cases[i].first, cases[i].name);
		if (cases[i].second != NULL && n > 1)
			CHECK_STR(addrs[1], cases[i].second, cases[i].name);
	}
	/* The length cap comes before anything is looked at. */
	char big[STSGUARD_RUA_URI_MAX + 20];
	memset(big, 'a', sizeof big);
	memcpy(big, "mailto:", 7);
	char addrs[1][STSGUARD_ADDR_MAX + 1];
	size_t n;
	CHECK_STATUS(stsguard_tlsrpt_mailto_parse(big, sizeof big, addrs, 1, &n, NULL), STSGUARD_TOOBIG, "uri cap");
}

/* ---- the mail ---- */

static const unsigned char sample_gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                          11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
                                          28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44,
                                          45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 255};

static const char *const sample_to[] = {"tlsrpt@reports.example", "ops@example.net"};

static stsguard_tlsrpt_mail sample_mail(void)
{
	stsguard_tlsrpt_mail m = {
		.from = "noreply@mta.sender.example",
		.to = sample_to,
		.n_to = 2,
		.date = 1714608123,
		.message_id = "tlsrpt.2024-05-01.example.net.1.1714608123@mta.sender.example",
		.policy_domain = "example.net",
		.submitter = "mta.sender.example",
		.report_id = "2024-05-01_example.net@mta.sender.example",
		.day = "2024-05-01",
		.organization = "Example Sender Org",
		.filename = "mta.sender.example!example.net!1714521600!1714607999.json.gz",
		.gz = sample_gz,
		.gz_len = sizeof sample_gz,
	};
	return m;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decode base64 lines from p up to the next "\r\n--"; returns bytes decoded or -1. */
static long b64_decode(const char *p, unsigned char *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;
	for (; *p != '\0' && strncmp(p, "\r\n--", 4) != 0; p++) {
		if (*p == '\r' || *p == '\n' || *p == '=')
			continue;
		int v = b64val(*p);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= cap)
				return -1;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	return (long)n;
}

static const char *header_value(const char *msg, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *eoh = strstr(msg, "\r\n\r\n");
	for (const char *p = msg; p != NULL && p < eoh; p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL) {
		if (strncmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			size_t l = strcspn(v, "\r");
			snprintf(out, cap, "%.*s", (int)l, v);
			return out;
		}
	}
	return NULL;
}

static void test_mail_structure(void)
{
	stsguard_tlsrpt_mail m = sample_mail();
	char *msg = NULL, *msg2 = NULL, hv[1024];
	size_t len = 0, len2 = 0;
	stsguard_err err = {""};

	if (!CHECK_STATUS(stsguard_tlsrpt_mail_build(&m, &msg, &len, &err), STSGUARD_OK, "build"))
		return;
	CHECK_INT(strlen(msg), len, "length");
	/* CRLF line ends only, lines within RFC 5322's 78 (except the Subject), 7-bit. */
	bool bare_lf = false, eight = false;
	for (size_t i = 0; i < len; i++) {
		if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
			bare_lf = true;
		if ((unsigned char)msg[i] >= 0x80)
			eight = true;
	}
	CHECK_TRUE(!bare_lf, "no bare LF");
	CHECK_TRUE(!eight, "7-bit message for an ASCII organization");
	static const struct {
		const char *name, *value;
	} want[] = {
		{"From", "noreply@mta.sender.example"},
		{"Date", "Thu, 02 May 2024 00:02:03 +0000"},
		{"Subject", "Report Domain: example.net Submitter: mta.sender.example Report-ID: "
		            "<2024-05-01_example.net@mta.sender.example>"},
		{"To", "tlsrpt@reports.example,"},
		{"Message-ID", "<tlsrpt.2024-05-01.example.net.1.1714608123@mta.sender.example>"},
		{"MIME-Version", "1.0"},
		{"Content-Type", "multipart/report; report-type=\"tlsrpt\";"},
		{"TLS-Report-Domain", "example.net"},
		{"TLS-Report-Submitter", "mta.sender.example"},
		{"TLS-Required", "No"},
		{"Auto-Submitted", "auto-generated"},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		CHECK_STR(header_value(msg, want[i].name, hv, sizeof hv), want[i].value, want[i].name);
	CHECK_TRUE(strstr(msg, "\r\n\tops@example.net\r\n") != NULL, "second recipient folded");

	/* The boundary: declared once, two parts, a closing delimiter, never inside a part. */
	const char *b = strstr(msg, "boundary=\"");
	if (CHECK_TRUE(b != NULL, "boundary parameter")) {
		char delim[80];
		b += 10;
		snprintf(delim, sizeof delim, "\r\n--%.*s", (int)strcspn(b, "\""), b);
		size_t count = 0;
		for (const char *p = strstr(msg, delim); p != NULL; p = strstr(p + 1, delim))
			count++;
		CHECK_INT(count, 3, "delimiters: two parts and the close");
		char close[90];
		snprintf(close, sizeof close, "%s--\r\n", delim);
		CHECK_TRUE(len >= strlen(close) && strcmp(msg + len - strlen(close), close) == 0, "closing delimiter last");
	}
	const char *text = strstr(msg, "Content-Type: text/plain; charset=us-ascii\r\n");
	const char *att = strstr(msg, "Content-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n"
	                              "Content-Disposition: attachment;\r\n\tfilename=\"mta.sender.example!example.net!"
	                              "1714521600!1714607999.json.gz\"\r\n\r\n");
	CHECK_TRUE(text != NULL && att != NULL && text < att, "text part, then the report part");
	if (att != NULL) {
		unsigned char dec[256];
		const char *body = strstr(att, "\r\n\r\n") + 4;
		long n = b64_decode(body, dec, sizeof dec);
		CHECK_INT(n, sizeof sample_gz, "base64 length");
		CHECK_TRUE(n == (long)sizeof sample_gz && memcmp(dec, sample_gz, sizeof sample_gz) == 0, "base64 content");
		/* RFC 2045 §6.8: lines of at most 76 characters. */
		size_t l = strcspn(body, "\r");
		CHECK_INT(l, 76, "base64 line length");
	}

	/* Deterministic. */
	CHECK_STATUS(stsguard_tlsrpt_mail_build(&m, &msg2, &len2, &err), STSGUARD_OK, "build again");
	CHECK_TRUE(msg2 != NULL && len2 == len && memcmp(msg, msg2, len) == 0, "equal input, equal bytes");
	free(msg);
	free(msg2);

	/* UTF-8 organization: the text part says so. */
	m.organization = "Org \xc3\xa9";
	if (CHECK_STATUS(stsguard_tlsrpt_mail_build(&m, &msg, &len, &err), STSGUARD_OK, "utf-8 organization")) {
		CHECK_TRUE(strstr(msg, "charset=utf-8\r\nContent-Transfer-Encoding: 8bit") != NULL, "8bit text part");
		free(msg);
	}
}

static void test_mail_refusals(void)
{
	static const char *const bad_to[] = {"a@example.net\r\nBcc: x@evil.example"};
	static const struct {
		const char *name;
		int field;
		const char *value;
	} cases[] = {
		{"CRLF in policy domain", 0, "example.net\r\nBcc: x@evil.example"},
		{"LF in submitter", 1, "a\nb"},
		{"quote in filename", 2, "a\"b.json.gz"},
		{"8-bit report id", 3, "r\xc3\xa9@x"},
		{"message id without @", 4, "nope"},
		{"message id with >", 4, "a>@b"},
		{"bad From", 5, "not an address"},
		{"control char in organization", 6, "a\tb"},
		{"header injection in To", 7, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		stsguard_tlsrpt_mail m = sample_mail();
		char *msg = (char *)1;
		stsguard_err err = {""};
		switch (cases[i].field) {
		case 0: m.policy_domain = cases[i].value; break;
		case 1: m.submitter = cases[i].value; break;
		case 2: m.filename = cases[i].value; break;
		case 3: m.report_id = cases[i].value; break;
		case 4: m.message_id = cases[i].value; break;
		case 5: m.from = cases[i].value; break;
		case 6: m.organization = cases[i].value; break;
		default: m.to = bad_to; m.n_to = 1; break;
		}
		CHECK_STATUS(stsguard_tlsrpt_mail_build(&m, &msg, NULL, &err), STSGUARD_INVALID, cases[i].name);
		CHECK_TRUE(msg == NULL, cases[i].name);
	}
}

/* ---- DKIM ---- */

static char *gen_key(int type)
{
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(type, NULL);
	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0 ||
	    (type == EVP_PKEY_RSA && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048) <= 0) || EVP_PKEY_keygen(ctx, &pk) <= 0) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	BIO *bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL);
	EVP_PKEY_free(pk);
	char *data;
	long n = BIO_get_mem_data(bio, &data);
	char *pem = malloc((size_t)n + 1);
	if (pem != NULL) {
		memcpy(pem, data, (size_t)n);
		pem[n] = '\0';
	}
	BIO_free(bio);
	return pem;
}

/* Hand a signed message and its key to tests/golden/dkim-verify.sh. */
static void dkim_export(const char *name, const char *pem, const char *msg, size_t len)
{
	const char *dir = getenv("STSGUARD_DKIM_OUT");
	char path[4096];
	if (dir == NULL || *dir == '\0')
		return;
	snprintf(path, sizeof path, "%s/%s.pem", dir, name);
	write_file(path, pem, strlen(pem));
	snprintf(path, sizeof path, "%s/%s.eml", dir, name);
	write_file(path, msg, len);
}

static void test_dkim(void)
{
	static const struct {
		const char *name;
		int type;
		const char *alg;
	} keys[] = {{"rsa", EVP_PKEY_RSA, "a=rsa-sha256;"}, {"ed25519", EVP_PKEY_ED25519, "a=ed25519-sha256;"}};
	stsguard_tlsrpt_mail m = sample_mail();
	char *msg = NULL;
	size_t len = 0;
	stsguard_err err = {""};

	if (!CHECK_STATUS(stsguard_tlsrpt_mail_build(&m, &msg, &len, &err), STSGUARD_OK, "build for DKIM"))
		return;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		char *pem = gen_key(keys[i].type);
		char *s1 = NULL, *s2 = NULL;
		size_t l1 = 0, l2 = 0;
		stsguard_tlsrpt_dkim dk = {.key_pem = pem, .selector = "tlsrpt", .domain = "sender.example"};
		if (!CHECK_TRUE(pem != NULL, keys[i].name))
			continue;
		if (CHECK_STATUS(stsguard_tlsrpt_dkim_sign(msg, len, &dk, 1714608123, &s1, &l1, &err), STSGUARD_OK,
		                 keys[i].name)) {
			size_t hl = strstr(s1, "\r\n\r\n") - s1;
			char *hdr = malloc(hl + 1);
			memcpy(hdr, s1, hl);
			hdr[hl] = '\0';
			CHECK_TRUE(strncmp(s1, "DKIM-Signature: v=1; ", 21) == 0, keys[i].name);
			CHECK_TRUE(strstr(hdr, keys[i].alg) != NULL, keys[i].alg);
			CHECK_TRUE(strstr(hdr, "c=relaxed/relaxed;") != NULL, "relaxed/relaxed");
			CHECK_TRUE(strstr(hdr, "s=tlsrpt;") != NULL && strstr(hdr, "d=sender.example;") != NULL, "s= d=");
			CHECK_TRUE(strstr(hdr, "t=1714608123;") != NULL, "t= from the caller's clock");
			CHECK_TRUE(strstr(hdr, " l=") == NULL && strstr(hdr, ";l=") == NULL && strstr(hdr, "\tl=") == NULL,
			           "no l= (RFC 8460 §3)");
			/* h= names every required header (unfold it first). */
			char h[1024] = "";
			const char *hp = strstr(hdr, "\th=");
			size_t hn = 0;
			for (; hp != NULL && *hp != ';' && hn + 1 < sizeof h; hp++)
				if (*hp != '\r' && *hp != '\n' && *hp != '\t' && *hp != ' ')
					h[hn++] = *hp;
			h[hn] = '\0';
			static const char *const need[] = {STSGUARD_TLSRPT_DKIM_HEADERS};
			for (size_t k = 0; k < sizeof need / sizeof need[0]; k++) {
				char tok[64];
				snprintf(tok, sizeof tok, "%s", need[k]);
				CHECK_TRUE(strstr(h, tok) != NULL, need[k]);
			}
			CHECK_TRUE(l1 > len && memcmp(s1 + l1 - len, msg, len) == 0, "message unchanged after the signature");
			bool bare_lf = false;
			for (size_t k = 0; k < l1; k++)
				if (s1[k] == '\n' && (k == 0 || s1[k - 1] != '\r'))
					bare_lf = true;
			CHECK_TRUE(!bare_lf, "signature folded with CRLF");
			free(hdr);
			dkim_export(keys[i].name, pem, s1, l1);
		}
		CHECK_STATUS(stsguard_tlsrpt_dkim_sign(msg, len, &dk, 1714608123, &s2, &l2, &err), STSGUARD_OK, "again");
		CHECK_TRUE(s1 != NULL && s2 != NULL && l1 == l2 && memcmp(s1, s2, l1) == 0, "deterministic signature");
		free(s1);
		free(s2);
		free(pem);
	}
	/* Keys we do not sign with. */
	char *ec = gen_key(EVP_PKEY_EC);
	char *out = (char *)1;
	stsguard_tlsrpt_dkim dk = {.key_pem = "not a key", .selector = "tlsrpt", .domain = "sender.example"};
	CHECK_STATUS(stsguard_tlsrpt_dkim_sign(msg, len, &dk, 1, &out, NULL, &err), STSGUARD_INVALID, "garbage key");
	CHECK_TRUE(out == NULL, "garbage key: no output");
	free(ec);
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
	EVP_PKEY *pk = NULL;
	if (pc != NULL && EVP_PKEY_keygen_init(pc) > 0 && EVP_PKEY_CTX_set_ec_paramgen_curve_nid(pc, NID_X9_62_prime256v1) > 0 &&
	    EVP_PKEY_keygen(pc, &pk) > 0) {
		BIO *bio = BIO_new(BIO_s_mem());
		PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL);
		char *data;
		long n = BIO_get_mem_data(bio, &data);
		char *pem = malloc((size_t)n + 1);
		memcpy(pem, data, (size_t)n);
		pem[n] = '\0';
		dk.key_pem = pem;
		CHECK_STATUS(stsguard_tlsrpt_dkim_sign(msg, len, &dk, 1, &out, NULL, &err), STSGUARD_INVALID, "EC key");
		free(pem);
		BIO_free(bio);
	}
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(pc);
	dk.key_pem = NULL;
	CHECK_STATUS(stsguard_tlsrpt_dkim_sign(msg, len, &dk, 1, &out, NULL, &err), STSGUARD_BADARG, "no key");
	CHECK_STATUS(stsguard_tlsrpt_dkim_sign("From: a@b.c\r\n", 13, &dk, 1, &out, NULL, &err), STSGUARD_BADARG,
	             "no key, no body");
	free(msg);
}

/* ---- schedule and backoff ---- */

static void test_schedule(void)
{
	int64_t at = 0, at2 = 0, start = 1714521600; /* 2024-05-01 */
	CHECK_STATUS(stsguard_tlsrpt_schedule_first("2024-05-01", 42, 0, &at), STSGUARD_OK, "no spread");
	CHECK_INT(at, start + 86400, "no spread: next midnight");
	CHECK_STATUS(stsguard_tlsrpt_schedule_first("2024-05-01", 42, 14400, &at), STSGUARD_OK, "spread");
	CHECK_TRUE(at >= start + 86400 && at < start + 86400 + 14400, "within the spread");
	CHECK_STATUS(stsguard_tlsrpt_schedule_first("2024-05-01", 42, 14400, &at2), STSGUARD_OK, "same seed");
	CHECK_INT(at2, at, "same seed and day: same time");
	/* Over many seeds the offsets spread out (not all equal, both halves used). */
	size_t low = 0, high = 0;
	for (uint64_t seed = 0; seed < 200; seed++) {
		CHECK_STATUS(stsguard_tlsrpt_schedule_first("2024-05-01", seed, 14400, &at), STSGUARD_OK, "seeds");
		if (at - start - 86400 < 7200)
			low++;
		else
			high++;
	}
	CHECK_TRUE(low > 20 && high > 20, "offsets spread over the window");
	CHECK_STATUS(stsguard_tlsrpt_schedule_first("2024-02-30", 1, 10, &at), STSGUARD_INVALID, "bad day");

	static const struct {
		const char *name;
		int64_t first, last;
		unsigned failures;
		int64_t want;
	} retry[] = {
		{"first retry after 5 min", 1000, 1000, 1, 1300},
		{"second after 10 min", 1000, 1300, 2, 1900},
		{"third after 20 min", 1000, 1900, 3, 3100},
		{"capped at 4 h", 1000, 5000, 10, 5000 + 4 * 3600},
		{"exactly at the window end", 0, 86400 - 14400, 9, 86400},
		{"past the window: give up", 0, 86400 - 14399, 9, -1},
		{"huge failure count stays capped", 0, 100, 4000000000u, 100 + 4 * 3600},
	};
	for (size_t i = 0; i < sizeof retry / sizeof retry[0]; i++)
		CHECK_INT(stsguard_tlsrpt_schedule_retry(retry[i].first, retry[i].last, retry[i].failures), retry[i].want,
		          retry[i].name);
	/* The whole sequence: strictly increasing, every wait doubling up to the cap, ending within 24 h. */
	int64_t first = 5000, last = first, prev_wait = 0;
	unsigned f;
	for (f = 1; f < 100; f++) {
		int64_t n = stsguard_tlsrpt_schedule_retry(first, last, f);
		if (n < 0)
			break;
		CHECK_TRUE(n - last >= prev_wait, "waits never shrink");
		CHECK_TRUE(n <= first + 86400, "within 24 h");
		prev_wait = n - last;
		last = n;
	}
	CHECK_TRUE(f > 5 && f < 20, "a handful of attempts over the day");
}

static void test_sendmail_argv(void)
{
	static const struct {
		const char *name, *cmd;
		stsguard_status want;
		size_t n;
		const char *a0, *a2;
	} cases[] = {
		{"default", "/usr/sbin/sendmail -oi", STSGUARD_OK, 2, "/usr/sbin/sendmail", NULL},
		{"extra spaces", "  /bin/x   -a  -b ", STSGUARD_OK, 3, "/bin/x", "-b"},
		{"relative", "sendmail -oi", STSGUARD_INVALID, 0, NULL, NULL},
		{"empty", "", STSGUARD_INVALID, 0, NULL, NULL},
		{"tab", "/bin/x\t-a", STSGUARD_INVALID, 0, NULL, NULL},
		{"too many words", "/x 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", STSGUARD_INVALID, 0, NULL, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[256], *argv[STSGUARD_SENDMAIL_ARGS_MAX + 1];
		size_t n = 0;
		stsguard_status st = stsguard_tlsrpt_sendmail_argv(cases[i].cmd, buf, sizeof buf, argv, &n, NULL);
		CHECK_STATUS(st, cases[i].want, cases[i].name);
		if (st != STSGUARD_OK)
			continue;
		CHECK_INT(n, cases[i].n, cases[i].name);
		CHECK_STR(argv[0], cases[i].a0, cases[i].name);
		if (cases[i].a2 != NULL)
			CHECK_STR(argv[2], cases[i].a2, cases[i].name);
		CHECK_TRUE(argv[n] == NULL, cases[i].name);
	}
}

/* ---- the real sendmail seam, with a script standing in for sendmail ---- */

static void test_real_sendmail(void)
{
	char script[600], got[600], args[600];
	snprintf(script, sizeof script, "%s/fake-sendmail", tmpdir);
	snprintf(got, sizeof got, "%s/fake-sendmail.msg", tmpdir);
	snprintf(args, sizeof args, "%s/fake-sendmail.args", tmpdir);
	char body[2048];
	snprintf(body, sizeof body,
	         "#!/bin/sh\n"
	         "echo \"$@\" > '%s'\n"
	         "cat > '%s'\n"
	         "case \"$2\" in slow) sleep 30 ;; esac\n"
	         "exit ${FAKE_EXIT:-0}\n",
	         args, got);
	write_file(script, body, strlen(body));
	chmod(script, 0755);

	static const char *const rcpts[] = {"a@example.net", "b@example.org"};
	static const char msg[] = "Subject: x\r\n\r\nbody\r\n";
	char cmd[700];
	snprintf(cmd, sizeof cmd, "%s -oi fast", script);
	stsguard_tlsrpt_deliver_conf conf = {.sendmail = cmd, .sendmail_timeout_s = 20};
	stsguard_err err = {""};

	CHECK_STATUS(stsguard_tlsrpt_real_deliver_ops.sendmail(&conf, "noreply@sender.example", rcpts, 2, msg,
	                                                       sizeof msg - 1, &err),
	             STSGUARD_OK, "sendmail exit 0");
	size_t l = 0;
	char *t = check_read_file(got, &l);
	CHECK_TRUE(t != NULL && l == sizeof msg - 1 && memcmp(t, msg, l) == 0, "message on stdin");
	free(t);
	t = check_read_file(args, &l);
	CHECK_STR(t, "-oi fast -f noreply@sender.example a@example.net b@example.org\n", "argv: command, -f, recipients");
	free(t);

	setenv("FAKE_EXIT", "75", 1);
	CHECK_STATUS(stsguard_tlsrpt_real_deliver_ops.sendmail(&conf, "noreply@sender.example", rcpts, 1, msg,
	                                                       sizeof msg - 1, &err),
	             STSGUARD_TEMPFAIL, "sendmail exit 75");
	CHECK_TRUE(strstr(err.msg, "exited with status 75") != NULL, err.msg);
	unsetenv("FAKE_EXIT");

	snprintf(cmd, sizeof cmd, "%s -oi slow", script);
	conf.sendmail_timeout_s = 1;
	CHECK_STATUS(stsguard_tlsrpt_real_deliver_ops.sendmail(&conf, "noreply@sender.example", rcpts, 1, msg,
	                                                       sizeof msg - 1, &err),
	             STSGUARD_TIMEOUT, "sendmail killed after its timeout");

	snprintf(cmd, sizeof cmd, "%s/does-not-exist -oi", tmpdir);
	CHECK_STATUS(stsguard_tlsrpt_real_deliver_ops.sendmail(&conf, "noreply@sender.example", rcpts, 1, msg,
	                                                       sizeof msg - 1, &err),
	             STSGUARD_TEMPFAIL, "sendmail cannot be executed");
	static const char *const evil[] = {"-oQ/tmp@example.net"};
	snprintf(cmd, sizeof cmd, "%s -oi", script);
	CHECK_STATUS(stsguard_tlsrpt_real_deliver_ops.sendmail(&conf, "noreply@sender.example", evil, 1, msg,
	                                                       sizeof msg - 1, &err),
	             STSGUARD_INVALID, "a recipient that looks like an option");
	conf.sendmail = "relative -oi";
	CHECK_STATUS(stsguard_tlsrpt_real_deliver_ops.sendmail(&conf, "noreply@sender.example", rcpts, 1, msg,
	                                                       sizeof msg - 1, &err),
	             STSGUARD_INVALID, "relative command");
}

/* ---- send passes: fake DNS, fake delivery, real store, fake clock ---- */

struct fake {
	struct {
		const char *domain;
		const char *txt[3];
		stsguard_status st;
	} dns[8];
	size_t n_dns;
	size_t txt_lookups;
	stsguard_status post_answer; /* what https_post returns */
	stsguard_status mail_answer;
	size_t posts, mails;
	char post_url[8][256];
	unsigned char post_body[8][4096];
	size_t post_len[8];
	char mail_rcpt[8][256];
	char mail_from[8][256];
	char *mail[8];
	size_t mail_len[8];
};

static stsguard_status fake_txt(void *ctx, const char *name, stsguard_txt_set **out, stsguard_err *err)
{
	struct fake *f = ctx;
	*out = NULL;
	f->txt_lookups++;
	stsguard_txt_set *set = calloc(1, sizeof *set);
	if (set == NULL)
		return STSGUARD_NOMEM;
	for (size_t i = 0; i < f->n_dns; i++) {
		char q[300];
		snprintf(q, sizeof q, "_smtp._tls.%s", f->dns[i].domain);
		if (strcmp(q, name) != 0)
			continue;
		if (f->dns[i].st != STSGUARD_OK) {
			stsguard_txt_set_free(set);
			snprintf(err->msg, sizeof err->msg, "SERVFAIL");
			return f->dns[i].st;
		}
		size_t n = 0;
		while (n < 3 && f->dns[i].txt[n] != NULL)
			n++;
		set->rec = calloc(n, sizeof *set->rec);
		for (size_t k = 0; k < n; k++) {
			size_t l = strlen(f->dns[i].txt[k]);
			char *d = malloc(l + 1);
			memcpy(d, f->dns[i].txt[k], l + 1);
			set->rec[k].data = d;
			set->rec[k].len = l;
			set->n++;
		}
		*out = set;
		return STSGUARD_OK;
	}
	*out = set;
	return STSGUARD_NONE;
}

static stsguard_status fake_unused(void)
{
	return STSGUARD_TEMPFAIL;
}

static stsguard_status fake_mx(void *c, const char *d, stsguard_mx_set *o, stsguard_err *e)
{
	(void)c, (void)d, (void)o, (void)e;
	return fake_unused();
}
static stsguard_status fake_addrs(void *c, const char *h, stsguard_addr_set *o, stsguard_err *e)
{
	(void)c, (void)h, (void)o, (void)e;
	return fake_unused();
}
static stsguard_status fake_tlsa(void *c, const char *h, uint16_t p, stsguard_tlsa_state *o, stsguard_err *e)
{
	(void)c, (void)h, (void)p, (void)o, (void)e;
	return fake_unused();
}

static const struct stsguard_resolver_ops fake_dns_ops = {fake_txt, fake_mx, fake_addrs, fake_tlsa};

static stsguard_status fake_post(void *ctx, const char *url, const unsigned char *body, size_t len,
                                 stsguard_err *err)
{
	struct fake *f = ctx;
	if (f->posts < 8) {
		snprintf(f->post_url[f->posts], sizeof f->post_url[0], "%s", url);
		size_t n = len < sizeof f->post_body[0] ? len : sizeof f->post_body[0];
		memcpy(f->post_body[f->posts], body, n);
		f->post_len[f->posts] = len;
	}
	f->posts++;
	if (strstr(url, "invalid-uri") != NULL) {
		snprintf(err->msg, sizeof err->msg, "cannot parse the URI");
		return STSGUARD_INVALID;
	}
	if (f->post_answer != STSGUARD_OK)
		snprintf(err->msg, sizeof err->msg, "HTTP 500");
	return f->post_answer;
}

static stsguard_status fake_sendmail(void *ctx, const char *from, const char *const *rcpts, size_t n, const char *msg,
                                     size_t len, stsguard_err *err)
{
	struct fake *f = ctx;
	if (f->mails < 8) {
		snprintf(f->mail_from[f->mails], sizeof f->mail_from[0], "%s", from);
		snprintf(f->mail_rcpt[f->mails], sizeof f->mail_rcpt[0], "%s%s%s", rcpts[0], n > 1 ? "," : "",
		         n > 1 ? rcpts[1] : "");
		f->mail[f->mails] = malloc(len + 1);
		memcpy(f->mail[f->mails], msg, len);
		f->mail[f->mails][len] = '\0';
		f->mail_len[f->mails] = len;
	}
	f->mails++;
	if (f->mail_answer != STSGUARD_OK)
		snprintf(err->msg, sizeof err->msg, "exit 75");
	return f->mail_answer;
}

static const stsguard_tlsrpt_deliver_ops fake_deliver_ops = {fake_post, fake_sendmail};

static void fake_reset(struct fake *f)
{
	for (size_t i = 0; i < 8; i++)
		free(f->mail[i]);
	f->posts = f->mails = f->txt_lookups = 0;
	memset(f->mail, 0, sizeof f->mail);
}

static int64_t g_clock;
static int64_t clock_fn(void *ctx)
{
	(void)ctx;
	return g_clock;
}

#define DAY "2024-05-01"
#define DAY_START 1714521600
#define NEXT_DAY_START (DAY_START + 86400)

static void add_result(stsguard_tlsrpt_store *s, const char *domain, int64_t t, stsguard_result_type rt)
{
	static char ps0[] = "version: STSv1", ps1[] = "mode: enforce", ps2[] = "mx: mx1.example.net",
		    ps3[] = "max_age: 86400", mx0[] = "mx1.example.net";
	static char *ps[] = {ps0, ps1, ps2, ps3};
	static char *mx[] = {mx0};
	stsguard_tlsrpt_result r;
	memset(&r, 0, sizeof r);
	r.time = t;
	r.policy_type = STSGUARD_POLICY_STS;
	snprintf(r.policy_domain, sizeof r.policy_domain, "%s", domain);
	snprintf(r.policy_id, sizeof r.policy_id, "20240101");
	r.n_policy_strings = 4;
	r.policy_strings = ps;
	r.n_mx_host_patterns = 1;
	r.mx_host_patterns = mx;
	r.result = rt;
	snprintf(r.sending_mta_ip, sizeof r.sending_mta_ip, "192.0.2.1");
	snprintf(r.receiving_mx_hostname, sizeof r.receiving_mx_hostname, "mx1.%s", domain);
	snprintf(r.receiving_ip, sizeof r.receiving_ip, "203.0.113.5");
	stsguard_err err = {""};
	CHECK_STATUS(stsguard_tlsrpt_store_add(s, &r, &err), STSGUARD_OK, err.msg);
}

static size_t count_lines(const char *path, const char *needle)
{
	size_t len = 0, n = 0;
	char *t = check_read_file(path, &len);
	for (const char *p = t; p != NULL && (p = strstr(p, needle)) != NULL; p++)
		n++;
	free(t);
	return n;
}

static char logbuf[16384];
static void test_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	(void)level;
	size_t l = strlen(logbuf);
	snprintf(logbuf + l, sizeof logbuf - l, "%s\n", msg);
}

static void test_send_passes(void)
{
	char store_dir[512], spool[512], sent[600], out_dir[512], keypath[700];
	snprintf(store_dir, sizeof store_dir, "%s/store", tmpdir);
	snprintf(spool, sizeof spool, "%s/spool", tmpdir);
	snprintf(sent, sizeof sent, "%s/%s.sent", spool, DAY);
	snprintf(out_dir, sizeof out_dir, "%s/out", tmpdir);
	mkdir(out_dir, 0755);

	/* Results of the day: five policy domains. */
	g_clock = DAY_START + 43200;
	stsguard_tlsrpt_store_settings set = {.clock = clock_fn};
	stsguard_tlsrpt_store *store = NULL;
	stsguard_err err = {""};
	if (!CHECK_STATUS(stsguard_tlsrpt_store_open(store_dir, &set, &store, &err), STSGUARD_OK, "store open"))
		return;
	add_result(store, "example.net", DAY_START + 100, STSGUARD_RESULT_SUCCESS);
	add_result(store, "example.net", DAY_START + 200, STSGUARD_RESULT_CERTIFICATE_EXPIRED);
	add_result(store, "https-only.example", DAY_START + 300, STSGUARD_RESULT_SUCCESS);
	add_result(store, "no-rua.example", DAY_START + 400, STSGUARD_RESULT_SUCCESS);
	add_result(store, "two-records.example", DAY_START + 500, STSGUARD_RESULT_SUCCESS);
	add_result(store, "dnsfail.example", DAY_START + 600, STSGUARD_RESULT_SUCCESS);
	add_result(store, "reports.example", DAY_START + 700, STSGUARD_RESULT_STARTTLS_NOT_SUPPORTED);
	add_result(store, "reports.example", DAY_START + 800, STSGUARD_RESULT_SUCCESS);
	stsguard_tlsrpt_store_close(store);
	store = NULL;
	stsguard_tlsrpt_store_settings ro = {.read_only = true};
	if (!CHECK_STATUS(stsguard_tlsrpt_store_open(store_dir, &ro, &store, &err), STSGUARD_OK, "store open ro"))
		return;

	struct fake f;
	memset(&f, 0, sizeof f);
	f.dns[f.n_dns].domain = "example.net";
	f.dns[f.n_dns++].txt[0] = "v=TLSRPTv1; rua=mailto:tlsrpt@reports.example,mailto:ops@example.net,"
	                          "https://collector.example/v1,mailto:tlsrpt@reports.example";
	f.dns[f.n_dns].domain = "https-only.example";
	f.dns[f.n_dns++].txt[0] = "v=TLSRPTv1;rua=https://collector.example/https-only";
	f.dns[f.n_dns].domain = "two-records.example";
	f.dns[f.n_dns].txt[0] = "v=TLSRPTv1;rua=https://a.example/";
	f.dns[f.n_dns++].txt[1] = "v=TLSRPTv1;rua=https://b.example/";
	f.dns[f.n_dns].domain = "dnsfail.example";
	f.dns[f.n_dns++].st = STSGUARD_TEMPFAIL;
	f.dns[f.n_dns].domain = "reports.example";
	f.dns[f.n_dns++].txt[0] = "v=TLSRPTv1;rua=mailto:tlsrpt@reports.example";
	f.dns[f.n_dns].domain = "badurl.example";
	f.dns[f.n_dns++].txt[0] = "v=TLSRPTv1;rua=https://invalid-uri.example/";

	char path[600];
	src_path(path, sizeof path, "golden/data/dkim-ed25519.pem");
	snprintf(keypath, sizeof keypath, "%s", path);
	size_t klen = 0;
	char *key = check_read_file(keypath, &klen);
	CHECK_TRUE(key != NULL, "test DKIM key");
	stsguard_tlsrpt_dkim dkim = {.key_pem = key, .selector = "tlsrpt", .domain = "mta.sender.example"};
	stsguard_tlsrpt_send_env env = {
		.store = store,
		.spool_dir = spool,
		.dns = &fake_dns_ops,
		.dns_ctx = &f,
		.deliver = &fake_deliver_ops,
		.deliver_ctx = &f,
		.meta = {.organization_name = "Example Sender Org", .contact_info = "tlsrpt@sender.example",
		         .submitter = "mta.sender.example", .unique_id = NULL},
		.report_from = "noreply@mta.sender.example",
		.dkim = &dkim,
		.now = NEXT_DAY_START + 123,
		.log = test_log,
	};
	stsguard_tlsrpt_send_summary sum;

	/* A day that is not over yet is refused. */
	env.now = NEXT_DAY_START - 1;
	CHECK_STATUS(stsguard_tlsrpt_send_day(&env, DAY, &sum, &err), STSGUARD_BADARG, "day not over");
	env.now = NEXT_DAY_START + 123;

	/* Dry run: lookups and building, nothing sent, nothing recorded. */
	env.dry_run = true;
	CHECK_STATUS(stsguard_tlsrpt_send_day(&env, DAY, &sum, &err), STSGUARD_OK, "dry run");
	CHECK_INT(f.posts + f.mails, 0, "dry run sends nothing");
	CHECK_TRUE(access(sent, F_OK) != 0, "dry run records nothing");
	CHECK_INT(sum.built, 3, "dry run builds the three reportable domains");
	CHECK_INT(sum.no_rua, 2, "dry run: no-rua and two-records");
	env.dry_run = false;
	fake_reset(&f);

	/* First pass: posts fail, mails succeed. */
	f.post_answer = STSGUARD_TEMPFAIL;
	f.mail_answer = STSGUARD_OK;
	logbuf[0] = '\0';
	if (CHECK_STATUS(stsguard_tlsrpt_send_day(&env, DAY, &sum, &err), STSGUARD_OK, "pass 1")) {
		CHECK_INT(sum.domains, 6, "pass 1 domains");
		CHECK_INT(sum.no_rua, 2, "pass 1 no_rua (none, two records)");
		CHECK_INT(f.posts, 2, "pass 1: two https rua posted");
		CHECK_INT(f.mails, 3, "pass 1: example.net x2 (duplicate rua once), reports.example");
		CHECK_INT(sum.delivered, 3, "pass 1 delivered");
		CHECK_INT(sum.failed, 3, "pass 1 failed: 2 posts + 1 DNS");
		CHECK_INT(sum.next_attempt, env.now + 300, "first retry in 5 minutes");
		CHECK_INT(count_lines(sent, " ok "), 3, "three ok lines");
		CHECK_INT(count_lines(sent, " fail "), 3, "three fail lines");
		CHECK_STR(f.mail_rcpt[0], "tlsrpt@reports.example", "first mail to the first rua");
		CHECK_STR(f.mail_from[0], "noreply@mta.sender.example", "envelope sender");
		CHECK_TRUE(f.post_len[0] > 18 && f.post_body[0][0] == 0x1f && f.post_body[0][1] == 0x8b, "gzip posted");
		/* The posted body is the gzipped report of that domain. */
		unsigned char json[4096];
		uLongf jl = sizeof json;
		z_stream zs;
		memset(&zs, 0, sizeof zs);
		inflateInit2(&zs, 16 + MAX_WBITS);
		zs.next_in = f.post_body[0];
		zs.avail_in = (uInt)f.post_len[0];
		zs.next_out = json;
		zs.avail_out = (uInt)sizeof json - 1;
		CHECK_INT(inflate(&zs, Z_FINISH), Z_STREAM_END, "post body inflates");
		jl = sizeof json - 1 - zs.avail_out;
		json[jl] = '\0';
		inflateEnd(&zs);
		CHECK_TRUE(strstr((char *)json, "\"policy-domain\":\"example.net\"") != NULL, "the domain's report");
		CHECK_TRUE(strstr((char *)json, "\"report-id\":\"2024-05-01_example.net@mta.sender.example\"") != NULL,
		           "report-id");
		/* Golden: the signed mail of example.net to its first rua. */
		char gpath[600];
		src_path(gpath, sizeof gpath, "golden/reports/report-mail.eml");
		if (getenv("STSGUARD_UPDATE_GOLDEN") != NULL)
			write_file(gpath, f.mail[0], f.mail_len[0]);
		size_t glen = 0;
		char *golden = check_read_file(gpath, &glen);
		CHECK_TRUE(golden != NULL && glen == f.mail_len[0] && memcmp(golden, f.mail[0], glen) == 0,
		           "report mail equals tests/golden/reports/report-mail.eml");
		free(golden);
		dkim_export("report-mail", key, f.mail[0], f.mail_len[0]);
		CHECK_TRUE(strstr(logbuf, "tlsrpt 2024-05-01 example.net https://collector.example/v1: fail: HTTP 500") !=
		               NULL,
		           "attempt logged");
	}
	fake_reset(&f);

	/* Pass 2, too early: nothing is due; delivered ones are not repeated. */
	env.now += 100;
	f.post_answer = STSGUARD_OK;
	if (CHECK_STATUS(stsguard_tlsrpt_send_day(&env, DAY, &sum, &err), STSGUARD_OK, "pass 2")) {
		CHECK_INT(f.posts + f.mails, 0, "pass 2 sends nothing");
		CHECK_INT(sum.waiting, 3, "pass 2: three waiting");
		CHECK_INT(sum.already, 3, "pass 2: three already delivered");
		CHECK_INT(sum.next_attempt, env.now - 100 + 300, "pass 2 next attempt unchanged");
	}
	fake_reset(&f);

	/* Pass 3, backoff over: the posts go through; DNS still fails (second failure). */
	env.now += 200;
	if (CHECK_STATUS(stsguard_tlsrpt_send_day(&env, DAY, &sum, &err), STSGUARD_OK, "pass 3")) {
		CHECK_INT(f.posts, 2, "pass 3 retries both posts");
		CHECK_INT(f.mails, 0, "pass 3 mails nothing again");
		CHECK_INT(sum.delivered, 2, "pass 3 delivered");
		CHECK_INT(sum.failed, 1, "pass 3: DNS failed again");
		CHECK_INT(sum.next_attempt, env.now + 600, "second retry after 10 minutes");
	}
	fake_reset(&f);

	/* Pass 4, a day later: the DNS lookup has been failing too long: given up. */
	env.now = NEXT_DAY_START + 123 + 86400 + 1;
	size_t lookups_before = f.txt_lookups;
	if (CHECK_STATUS(stsguard_tlsrpt_send_day(&env, DAY, &sum, &err), STSGUARD_OK, "pass 4")) {
		CHECK_INT(sum.given_up, 1, "pass 4: DNS given up");
		CHECK_INT(f.posts + f.mails, 0, "pass 4 sends nothing");
		CHECK_INT(f.txt_lookups - lookups_before, 0, "finished domains are not looked up again");
		CHECK_INT(sum.no_rua, 2, "domains without a record are remembered");
		CHECK_INT(count_lines(sent, " giveup dnsfail.example - "), 1, "giveup recorded");
	}
	fake_reset(&f);
	if (CHECK_STATUS(stsguard_tlsrpt_send_day(&env, DAY, &sum, &err), STSGUARD_OK, "pass 5")) {
		CHECK_INT(count_lines(sent, " giveup "), 1, "giveup recorded once");
		CHECK_INT(sum.next_attempt, 0, "nothing left to do");
	}

	/* --out writes the report and the mails even when all was delivered, and sends nothing. */
	env.out_dir = out_dir;
	fake_reset(&f);
	if (CHECK_STATUS(stsguard_tlsrpt_send_day(&env, DAY, &sum, &err), STSGUARD_OK, "out")) {
		CHECK_INT(f.posts + f.mails, 0, "out: nothing re-sent");
		char p2[1200];
		snprintf(p2, sizeof p2, "%s/mta.sender.example!example.net!1714521600!1714607999.json.gz", out_dir);
		CHECK_TRUE(access(p2, F_OK) == 0, "out: json.gz");
		snprintf(p2, sizeof p2, "%s/mta.sender.example!example.net!1714521600!1714607999.rua2.eml", out_dir);
		CHECK_TRUE(access(p2, F_OK) == 0, "out: eml of the second rua");
	}
	env.out_dir = NULL;
	fake_reset(&f);
	stsguard_tlsrpt_store_close(store);

	/*
	 * Loop guard: day 2024-05-02 holds one session for reports.example, and on
	 * that day we mailed a report to tlsrpt@reports.example (pass 1 above, at
	 * NEXT_DAY_START + 123). One session <= one mail: no report. A second
	 * session (other traffic) lifts the guard.
	 */
	const char *day2 = "2024-05-02";
	g_clock = NEXT_DAY_START + 43200;
	store = NULL;
	if (!CHECK_STATUS(stsguard_tlsrpt_store_open(store_dir, &set, &store, &err), STSGUARD_OK, "store open 2"))
		return;
	add_result(store, "reports.example", NEXT_DAY_START + 130, STSGUARD_RESULT_STARTTLS_NOT_SUPPORTED);
	env.store = store;
	env.now = NEXT_DAY_START + 86400 + 60;
	if (CHECK_STATUS(stsguard_tlsrpt_send_day(&env, day2, &sum, &err), STSGUARD_OK, "loop guard")) {
		CHECK_INT(sum.loop_guarded, 1, "guarded");
		CHECK_INT(f.mails + f.posts, 0, "guarded: nothing sent");
	}
	/* Two mails went to reports.example that day (example.net's and its own report): three sessions lift it. */
	add_result(store, "reports.example", NEXT_DAY_START + 5000, STSGUARD_RESULT_SUCCESS);
	fake_reset(&f);
	if (CHECK_STATUS(stsguard_tlsrpt_send_day(&env, day2, &sum, &err), STSGUARD_OK, "loop guard, 2 sessions")) {
		CHECK_INT(sum.loop_guarded, 1, "two sessions, two mails: guarded");
		CHECK_INT(f.mails + f.posts, 0, "guarded: nothing sent");
	}
	add_result(store, "reports.example", NEXT_DAY_START + 6000, STSGUARD_RESULT_SUCCESS);
	fake_reset(&f);
	if (CHECK_STATUS(stsguard_tlsrpt_send_day(&env, day2, &sum, &err), STSGUARD_OK, "loop guard lifted")) {
		CHECK_INT(sum.loop_guarded, 0, "not guarded with other traffic");
		CHECK_INT(f.mails, 1, "reported");
	}
	fake_reset(&f);

	/* No DKIM key: mailto rua are not served (RFC 8460 §3 MUST sign), nothing recorded. */
	const char *day3 = "2024-05-03";
	g_clock = NEXT_DAY_START + 86400 + 43200;
	add_result(store, "example.net", NEXT_DAY_START + 86400 + 10, STSGUARD_RESULT_SUCCESS);
	add_result(store, "badurl.example", NEXT_DAY_START + 86400 + 20, STSGUARD_RESULT_SUCCESS);
	env.dkim = NULL;
	env.now = NEXT_DAY_START + 2 * 86400 + 60;
	logbuf[0] = '\0';
	if (CHECK_STATUS(stsguard_tlsrpt_send_day(&env, day3, &sum, &err), STSGUARD_OK, "no dkim")) {
		CHECK_INT(f.mails, 0, "no dkim: no mail");
		CHECK_INT(f.posts, 2, "no dkim: https still served");
		CHECK_TRUE(strstr(logbuf, "dkim_key is not configured") != NULL, "no dkim: said why");
		CHECK_INT(sum.given_up, 1, "unusable https URI given up at once");
		char sent3[700];
		snprintf(sent3, sizeof sent3, "%s/%s.sent", spool, day3);
		CHECK_INT(count_lines(sent3, " giveup badurl.example https://invalid-uri.example/ "), 1, "giveup logged");
	}
	env.dkim = &dkim;
	fake_reset(&f);

	/* A day without results. */
	CHECK_STATUS(stsguard_tlsrpt_send_day(&env, "2024-04-01", &sum, &err), STSGUARD_NONE, "no results");

	/* Another pass holding the lock: try again later. */
	char lock[600];
	snprintf(lock, sizeof lock, "%s/send.lock", spool);
	int ready[2], go[2];
	if (CHECK_TRUE(pipe(ready) == 0 && pipe(go) == 0, "pipes")) {
		pid_t pid = fork();
		if (pid == 0) {
			/* The child takes the lock (its own open file description), says so, then
			 * becomes cat(1) reading the go pipe: the lock lives until the parent closes it. */
			int fd = open(lock, O_RDWR);
			close(ready[0]);
			close(go[1]);
			if (fd < 0 || flock(fd, LOCK_EX) != 0 || dup2(go[0], 0) < 0)
				_exit(1);
			if (write(ready[1], "x", 1) != 1)
				_exit(1);
			close(ready[1]);
			execlp("cat", "cat", (char *)NULL);
			_exit(127);
		}
		close(ready[1]);
		close(go[0]);
		char c = 0;
		CHECK_INT(read(ready[0], &c, 1), 1, "child holds the lock");
		CHECK_STATUS(stsguard_tlsrpt_send_day(&env, day3, &sum, &err), STSGUARD_TEMPFAIL, "locked spool");
		close(go[1]);
		close(ready[0]);
		int ws = 0;
		waitpid(pid, &ws, 0);
		CHECK_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "lock holder exited cleanly");
		CHECK_STATUS(stsguard_tlsrpt_send_day(&env, day3, &sum, &err), STSGUARD_OK, "lock released");
	}

	/* Expiry of the attempt log. */
	size_t deleted = 0;
	CHECK_STATUS(stsguard_tlsrpt_send_expire(spool, NEXT_DAY_START + 30 * 86400, 14, &deleted, &err), STSGUARD_OK,
	             "expire");
	CHECK_INT(deleted, 3, "expire: the three .sent files");
	CHECK_TRUE(access(lock, F_OK) == 0, "expire leaves other files");

	stsguard_tlsrpt_store_close(store);
	free(key);
	fake_reset(&f);
}

/* The daemon's entry point: nothing before the scheduled time, then a pass, then retries. */
static void test_send_due(void)
{
	char store_dir[600], spool[600];
	snprintf(store_dir, sizeof store_dir, "%s/due-store", tmpdir);
	snprintf(spool, sizeof spool, "%s/due-spool", tmpdir);
	const char *dayx = "2024-06-10";
	int64_t xstart = 0, at_x = 0, at_next = 0;
	stsguard_tlsrpt_day_parse(dayx, &xstart);
	const uint64_t seed = 7;
	const unsigned spread = 3600;
	CHECK_STATUS(stsguard_tlsrpt_schedule_first(dayx, seed, spread, &at_x), STSGUARD_OK, "at_x");
	CHECK_STATUS(stsguard_tlsrpt_schedule_first("2024-06-11", seed, spread, &at_next), STSGUARD_OK, "at_next");

	g_clock = xstart + 3600;
	stsguard_tlsrpt_store_settings set = {.clock = clock_fn};
	stsguard_tlsrpt_store *store = NULL;
	stsguard_err err = {""};
	if (!CHECK_STATUS(stsguard_tlsrpt_store_open(store_dir, &set, &store, &err), STSGUARD_OK, "due store"))
		return;
	add_result(store, "https-only.example", xstart + 100, STSGUARD_RESULT_SUCCESS);

	struct fake f;
	memset(&f, 0, sizeof f);
	f.dns[f.n_dns].domain = "https-only.example";
	f.dns[f.n_dns++].txt[0] = "v=TLSRPTv1;rua=https://collector.example/due";
	stsguard_tlsrpt_send_env env = {
		.store = store,
		.spool_dir = spool,
		.dns = &fake_dns_ops,
		.dns_ctx = &f,
		.deliver = &fake_deliver_ops,
		.deliver_ctx = &f,
		.meta = {.organization_name = "Org", .contact_info = "tlsrpt@sender.example",
		         .submitter = "mta.sender.example", .unique_id = NULL},
		.report_from = "noreply@mta.sender.example",
	};
	stsguard_tlsrpt_send_summary sum;
	int64_t next = -1;

	/* Still day X: its report waits for after midnight. */
	env.now = xstart + 86399;
	CHECK_STATUS(stsguard_tlsrpt_send_due(&env, seed, spread, 14, &next, &sum, &err), STSGUARD_OK, "due: day X");
	CHECK_INT(next, at_x, "due: wake up at X's scheduled time");
	CHECK_INT(f.posts, 0, "due: nothing sent during X");
	/* After midnight, before the randomized offset. */
	if (at_x > xstart + 86400) {
		env.now = at_x - 1;
		CHECK_STATUS(stsguard_tlsrpt_send_due(&env, seed, spread, 14, &next, &sum, &err), STSGUARD_OK, "due: early");
		CHECK_INT(next, at_x, "due: still waiting for the offset");
		CHECK_INT(f.posts, 0, "due: nothing sent before the offset");
	}
	/* Scheduled time: the pass runs; the collector fails; retry in 5 minutes. */
	env.now = at_x;
	f.post_answer = STSGUARD_TEMPFAIL;
	CHECK_STATUS(stsguard_tlsrpt_send_due(&env, seed, spread, 14, &next, &sum, &err), STSGUARD_OK, "due: first");
	CHECK_INT(f.posts, 1, "due: one attempt");
	CHECK_INT(sum.failed, 1, "due: failure counted");
	CHECK_INT(next, at_x + 300, "due: wake up for the retry");
	/* The retry succeeds; next wake-up is the following day's send. */
	env.now = at_x + 300;
	f.post_answer = STSGUARD_OK;
	CHECK_STATUS(stsguard_tlsrpt_send_due(&env, seed, spread, 14, &next, &sum, &err), STSGUARD_OK, "due: retry");
	CHECK_INT(f.posts, 2, "due: retried");
	CHECK_INT(sum.delivered, 1, "due: delivered");
	CHECK_INT(next, at_next, "due: then tomorrow's reports");
	/* Called again: nothing more. */
	CHECK_STATUS(stsguard_tlsrpt_send_due(&env, seed, spread, 14, &next, &sum, &err), STSGUARD_OK, "due: again");
	CHECK_INT(f.posts, 2, "due: no repeat");
	CHECK_INT(sum.already, 1, "due: already delivered");
	/* Dry runs make no sense here. */
	env.dry_run = true;
	CHECK_STATUS(stsguard_tlsrpt_send_due(&env, seed, spread, 14, &next, &sum, &err), STSGUARD_BADARG, "due: dry");
	stsguard_tlsrpt_store_close(store);
	fake_reset(&f);
}

static void rm_rf(const char *path)
{
	DIR *d = opendir(path);
	if (d != NULL) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			char p[1024];
			snprintf(p, sizeof p, "%s/%s", path, de->d_name);
			rm_rf(p);
		}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

int main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/stsg-send-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_mailto();
	test_mail_structure();
	test_mail_refusals();
	test_dkim();
	test_schedule();
	test_sendmail_argv();
	test_real_sendmail();
	test_send_passes();
	test_send_due();
	rm_rf(tmpdir);
	return check_summary();
}
