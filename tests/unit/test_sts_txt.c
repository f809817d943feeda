/*
 * test_sts_txt.c - table-driven tests of stsguard_sts_txt_parse().
 *
 * Expectations come from RFC 8461 §3.1 (ABNF, "records that do not begin with
 * v=STSv1; are discarded", "not one record: no policy"), erratum 6285 (WSP
 * before ";") and the contract in sts_txt.h / txt.h, never from the code.
 *
 *   sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
 *   sts-field       = sts-id / sts-extension
 *   sts-field-delim = *WSP ";" *WSP
 *   sts-version     = %s"v=STSv1"
 *   sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
 *   sts-extension   = sts-ext-name "=" sts-ext-value
 *   sts-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
 *   sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)
 *
 * Every record is copied into a heap buffer of exactly its length before the
 * call, so a parser that reads past `len` (or expects a NUL) trips ASan.
 */
#include <stdlib.h>
#include <string.h>

#include "stsguard/sts_txt.h"
#include "stsguard/txt.h"

#include "check.h"

#define MAX_RECORDS 4

/* A TXT record from a string literal; the length counts embedded NULs. */
#define R(s) { (s), sizeof(s) - 1 }

struct sts_case {
	const char *name;
	size_t n;
	stsguard_txt records[MAX_RECORDS];
	stsguard_status want;
	const char *want_id; /* "" whenever want is not STSGUARD_OK */
};

static const struct sts_case cases[] = {
	/* --- one valid record --- */
	{ "rfc example, trailing delimiter", 1, { R("v=STSv1; id=20160831085700Z;") },
	  STSGUARD_OK, "20160831085700Z" },
	{ "no trailing delimiter", 1, { R("v=STSv1; id=20160831085700Z") },
	  STSGUARD_OK, "20160831085700Z" },
	{ "no whitespace at all", 1, { R("v=STSv1;id=abc") }, STSGUARD_OK, "abc" },
	{ "erratum 6285: space before ;", 1, { R("v=STSv1 ; id=abc") }, STSGUARD_OK, "abc" },
	{ "tabs around ;", 1, { R("v=STSv1\t;\tid=abc") }, STSGUARD_OK, "abc" },
	{ "mixed WSP, WSP before trailing ;", 1, { R("v=STSv1; \t id=abc  \t;") },
	  STSGUARD_OK, "abc" },
	{ "trailing delimiter with WSP after", 1, { R("v=STSv1; id=abc; ") }, STSGUARD_OK,
	  "abc" },
	{ "trailing delimiter with WSP before", 1, { R("v=STSv1; id=abc ;") }, STSGUARD_OK,
	  "abc" },
	{ "id of 1 char", 1, { R("v=STSv1; id=a") }, STSGUARD_OK, "a" },
	{ "id of 32 chars", 1, { R("v=STSv1; id=0123456789abcdefghijABCDEFGHIJkl") },
	  STSGUARD_OK, "0123456789abcdefghijABCDEFGHIJkl" },
	{ "id of 32 chars, trailing ;", 1,
	  { R("v=STSv1; id=ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ9;") }, STSGUARD_OK,
	  "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ9" },
	{ "id all digits", 1, { R("v=STSv1; id=12345") }, STSGUARD_OK, "12345" },
	{ "id case is kept", 1, { R("v=STSv1; id=AbCdEf") }, STSGUARD_OK, "AbCdEf" },
	{ "extension after id", 1, { R("v=STSv1; id=abc; ext=val") }, STSGUARD_OK, "abc" },
	{ "extension before id", 1, { R("v=STSv1; ext=val; id=abc") }, STSGUARD_OK, "abc" },
	{ "two extensions and trailing ;", 1, { R("v=STSv1; a=1; id=abc; b=2;") },
	  STSGUARD_OK, "abc" },
	{ "extension name of 32 chars", 1,
	  { R("v=STSv1; id=abc; a234567890123456789012345678901b=v") }, STSGUARD_OK, "abc" },
	{ "extension name starting with a digit", 1, { R("v=STSv1; id=abc; 9ext=v") },
	  STSGUARD_OK, "abc" },
	{ "extension name with . - _", 1, { R("v=STSv1; id=abc; a.b-c_d=v") }, STSGUARD_OK,
	  "abc" },
	{ "extension value: every allowed punctuation", 1,
	  { R("v=STSv1; id=abc; x=!\"#$%&'()*+,-./:<>?@[\\]^_`{|}~") }, STSGUARD_OK, "abc" },
	{ "duplicated id: first wins", 1, { R("v=STSv1; id=first; id=second") }, STSGUARD_OK,
	  "first" },
	{ "a later v=STSv1 is just an extension", 1, { R("v=STSv1; id=abc; v=STSv1") },
	  STSGUARD_OK, "abc" },
	{ "len stops before trailing bytes", 1, { { "v=STSv1; id=abc-junk; x", 15 } },
	  STSGUARD_OK, "abc" },

	/* --- RRsets with unrelated records --- */
	{ "spf then sts", 2, { R("v=spf1 -all"), R("v=STSv1; id=abc") }, STSGUARD_OK, "abc" },
	{ "sts then spf", 2, { R("v=STSv1; id=abc"), R("v=spf1 -all") }, STSGUARD_OK, "abc" },
	{ "sts among three unrelated", 4,
	  { R("google-site-verification=xyz"), R("v=DMARC1; p=none"), R("v=STSv1; id=abc;"),
	    R("hello world") },
	  STSGUARD_OK, "abc" },
	{ "STSv10 record discarded, STSv1 kept", 2, { R("v=STSv10; id=zzz"), R("v=STSv1; id=abc") },
	  STSGUARD_OK, "abc" },
	{ "bare v=STSv1 discarded, full one kept", 2, { R("v=STSv1"), R("v=STSv1; id=abc") },
	  STSGUARD_OK, "abc" },
	{ "empty record discarded", 2, { R(""), R("v=STSv1; id=abc") }, STSGUARD_OK, "abc" },
	{ "lower-case v=stsv1 discarded", 2, { R("v=stsv1; id=zzz"), R("v=STSv1; id=abc") },
	  STSGUARD_OK, "abc" },

	/* --- nothing left after discarding: NONE --- */
	{ "empty RRset", 0, { R("") }, STSGUARD_NONE, "" },
	{ "only an unrelated record", 1, { R("v=spf1 -all") }, STSGUARD_NONE, "" },
	{ "two unrelated records", 2, { R("v=spf1 -all"), R("v=DMARC1; p=none") }, STSGUARD_NONE,
	  "" },
	{ "v=STSv10 is another version", 1, { R("v=STSv10; id=abc") }, STSGUARD_NONE, "" },
	{ "v=STSv2", 1, { R("v=STSv2; id=abc") }, STSGUARD_NONE, "" },
	{ "lower-case version", 1, { R("v=stsv1; id=abc") }, STSGUARD_NONE, "" },
	{ "upper-case V", 1, { R("V=STSv1; id=abc") }, STSGUARD_NONE, "" },
	{ "leading space", 1, { R(" v=STSv1; id=abc") }, STSGUARD_NONE, "" },
	{ "no ; after version", 1, { R("v=STSv1 id=abc") }, STSGUARD_NONE, "" },
	{ "comma after version", 1, { R("v=STSv1, id=abc") }, STSGUARD_NONE, "" },
	{ "version only", 1, { R("v=STSv1") }, STSGUARD_NONE, "" },
	{ "version and WSP only", 1, { R("v=STSv1  ") }, STSGUARD_NONE, "" },
	{ "empty record only", 1, { R("") }, STSGUARD_NONE, "" },
	{ "NUL right after version", 1, { R("v=STSv1\0; id=abc") }, STSGUARD_NONE, "" },

	/* --- exactly one must remain --- */
	{ "two STSv1 records", 2, { R("v=STSv1; id=abc"), R("v=STSv1; id=def") },
	  STSGUARD_INVALID, "" },
	{ "two identical STSv1 records", 2, { R("v=STSv1; id=abc"), R("v=STSv1; id=abc") },
	  STSGUARD_INVALID, "" },
	{ "two STSv1 records, one broken", 2, { R("v=STSv1; id=abc"), R("v=STSv1; junk") },
	  STSGUARD_INVALID, "" },
	{ "three STSv1 records among others", 4,
	  { R("v=STSv1; id=a"), R("v=spf1 -all"), R("v=STSv1; id=b"), R("v=STSv1; id=c") },
	  STSGUARD_INVALID, "" },
	{ "unrelated plus broken sts", 2, { R("v=spf1 -all"), R("v=STSv1; id=a-b") },
	  STSGUARD_INVALID, "" },

	/* --- the remaining record breaks the ABNF: INVALID --- */
	{ "v=STSv1; and nothing else", 1, { R("v=STSv1;") }, STSGUARD_INVALID, "" },
	{ "v=STSv1 ; and nothing else", 1, { R("v=STSv1 ; ") }, STSGUARD_INVALID, "" },
	{ "missing id, only extension", 1, { R("v=STSv1; ext=val") }, STSGUARD_INVALID, "" },
	{ "ID is not id (case-sensitive)", 1, { R("v=STSv1; ID=abc") }, STSGUARD_INVALID, "" },
	{ "idx is not id", 1, { R("v=STSv1; idx=abc") }, STSGUARD_INVALID, "" },
	{ "i is not id", 1, { R("v=STSv1; i=abc") }, STSGUARD_INVALID, "" },
	{ "xid is not id", 1, { R("v=STSv1; xid=abc") }, STSGUARD_INVALID, "" },
	{ "idx before id is an extension", 1, { R("v=STSv1; idx=zzz; id=abc") }, STSGUARD_OK,
	  "abc" },
	{ "empty id", 1, { R("v=STSv1; id=") }, STSGUARD_INVALID, "" },
	{ "empty id with ;", 1, { R("v=STSv1; id=;") }, STSGUARD_INVALID, "" },
	{ "id of 33 chars", 1, { R("v=STSv1; id=0123456789abcdefghijABCDEFGHIJklm") },
	  STSGUARD_INVALID, "" },
	{ "id of 33 chars, trailing ;", 1, { R("v=STSv1; id=ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ9;") },
	  STSGUARD_INVALID, "" },
	{ "id with -", 1, { R("v=STSv1; id=abc-def") }, STSGUARD_INVALID, "" },
	{ "id with _", 1, { R("v=STSv1; id=abc_def") }, STSGUARD_INVALID, "" },
	{ "id with .", 1, { R("v=STSv1; id=2024.01") }, STSGUARD_INVALID, "" },
	{ "id with non-ASCII", 1, { R("v=STSv1; id=abc\xc3\xa9") }, STSGUARD_INVALID, "" },
	{ "id with inner space", 1, { R("v=STSv1; id=abc def") }, STSGUARD_INVALID, "" },
	{ "space before =", 1, { R("v=STSv1; id =abc") }, STSGUARD_INVALID, "" },
	{ "space after =", 1, { R("v=STSv1; id= abc") }, STSGUARD_INVALID, "" },
	{ "trailing WSP without ;", 1, { R("v=STSv1; id=abc ") }, STSGUARD_INVALID, "" },
	{ "double trailing ;", 1, { R("v=STSv1; id=abc;;") }, STSGUARD_INVALID, "" },
	{ "empty field before id", 1, { R("v=STSv1;; id=abc") }, STSGUARD_INVALID, "" },
	{ "field without =", 1, { R("v=STSv1; id=abc; junk") }, STSGUARD_INVALID, "" },
	{ "extension with empty value", 1, { R("v=STSv1; id=abc; ext=") }, STSGUARD_INVALID,
	  "" },
	{ "extension value with =", 1, { R("v=STSv1; id=abc; ext=a=b") }, STSGUARD_INVALID,
	  "" },
	{ "extension value with space", 1, { R("v=STSv1; id=abc; ext=a b") }, STSGUARD_INVALID,
	  "" },
	{ "extension value with control char", 1, { R("v=STSv1; id=abc; ext=a\x01z") },
	  STSGUARD_INVALID, "" },
	{ "extension value with DEL", 1, { R("v=STSv1; id=abc; ext=a\x7f") }, STSGUARD_INVALID,
	  "" },
	{ "extension value non-ASCII", 1, { R("v=STSv1; id=abc; ext=caf\xc3\xa9") },
	  STSGUARD_INVALID, "" },
	{ "extension name of 33 chars", 1,
	  { R("v=STSv1; id=abc; a234567890123456789012345678901bc=v") }, STSGUARD_INVALID, "" },
	{ "extension name starting with _", 1, { R("v=STSv1; id=abc; _ext=v") },
	  STSGUARD_INVALID, "" },
	{ "extension name starting with -", 1, { R("v=STSv1; id=abc; -ext=v") },
	  STSGUARD_INVALID, "" },
	{ "extension name starting with .", 1, { R("v=STSv1; id=abc; .ext=v") },
	  STSGUARD_INVALID, "" },
	{ "extension name with +", 1, { R("v=STSv1; id=abc; e+xt=v") }, STSGUARD_INVALID, "" },
	{ "extension with empty name", 1, { R("v=STSv1; id=abc; =v") }, STSGUARD_INVALID, "" },
	{ "embedded NUL inside id", 1, { R("v=STSv1; id=ab\0cd") }, STSGUARD_INVALID, "" },
	{ "NUL after the id", 1, { R("v=STSv1; id=abc\0") }, STSGUARD_INVALID, "" },
	{ "NUL after trailing ;", 1, { R("v=STSv1; id=abc;\0") }, STSGUARD_INVALID, "" },
	{ "NUL then more fields", 1, { R("v=STSv1; id=abc\0; x=y") }, STSGUARD_INVALID, "" },
	{ "CRLF at the end", 1, { R("v=STSv1; id=abc\r\n") }, STSGUARD_INVALID, "" },
};

/*
 * Runs one RRset: the records are copied to exact-size heap buffers, id is
 * pre-filled with garbage to prove it is always written, and the call is
 * repeated with err == NULL, which must give the same answer.
 */
static void run_rrset(const char *name, const stsguard_txt *records, size_t n,
                      stsguard_status want, const char *want_id)
{
	stsguard_txt *copies = calloc(n ? n : 1, sizeof(*copies));
	char **bufs = calloc(n ? n : 1, sizeof(*bufs));
	char id[STSGUARD_POLICY_ID_MAX + 1];
	stsguard_err err;
	stsguard_status got;

	if (!CHECK_TRUE(copies != NULL && bufs != NULL, name)) {
		free(copies);
		free(bufs);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		bufs[i] = malloc(records[i].len ? records[i].len : 1);
		if (!CHECK_TRUE(bufs[i] != NULL, name))
			goto out;
		if (records[i].len > 0)
			memcpy(bufs[i], records[i].data, records[i].len);
		copies[i].data = bufs[i];
		copies[i].len = records[i].len;
	}

	memset(id, 'X', sizeof(id));
	memset(&err, 0, sizeof(err));
	got = stsguard_sts_txt_parse(copies, n, id, &err);
	CHECK_STATUS(got, want, name);
	/* id must be a NUL-terminated string inside its buffer, whatever happened */
	if (CHECK_TRUE(memchr(id, '\0', sizeof(id)) != NULL, name))
		CHECK_STR(id, want_id, name);
	if (want == STSGUARD_INVALID || want == STSGUARD_TOOBIG)
		CHECK_TRUE(err.msg[0] != '\0' && memchr(err.msg, '\0', sizeof(err.msg)) != NULL,
		           name);

	memset(id, 'X', sizeof(id));
	got = stsguard_sts_txt_parse(copies, n, id, NULL);
	CHECK_STATUS(got, want, name);
	if (CHECK_TRUE(memchr(id, '\0', sizeof(id)) != NULL, name))
		CHECK_STR(id, want_id, name);

out:
	for (size_t i = 0; i < n; i++)
		free(bufs[i]);
	free(bufs);
	free(copies);
}

/* A heap record: `prefix` followed by 'a' up to exactly len bytes. */
static char *make_record(const char *prefix, size_t len)
{
	size_t plen = strlen(prefix);
	char *buf = malloc(len);

	if (buf == NULL || len < plen) {
		free(buf);
		return NULL;
	}
	memcpy(buf, prefix, plen);
	memset(buf + plen, 'a', len - plen);
	return buf;
}

static unsigned run_caps(void)
{
	unsigned ncases = 0;
	stsguard_txt rrset[STSGUARD_TXT_RRSET_MAX + 1];
	char *big;

	/* A record of exactly STSGUARD_TXT_RECORD_MAX bytes is looked at. */
	big = make_record("v=STSv1; id=abc; x=", STSGUARD_TXT_RECORD_MAX);
	if (CHECK_TRUE(big != NULL, "record of 65535 bytes")) {
		stsguard_txt one = { big, STSGUARD_TXT_RECORD_MAX };
		run_rrset("record of exactly 65535 bytes", &one, 1, STSGUARD_OK, "abc");
	}
	free(big);
	ncases++;

	/* One byte more is too big. */
	big = make_record("v=STSv1; id=abc; x=", STSGUARD_TXT_RECORD_MAX + 1);
	if (CHECK_TRUE(big != NULL, "record of 65536 bytes")) {
		stsguard_txt one = { big, STSGUARD_TXT_RECORD_MAX + 1 };
		run_rrset("sts record of 65536 bytes", &one, 1, STSGUARD_TOOBIG, "");
	}
	free(big);
	ncases++;

	/* The cap applies to every record of the RRset, not only STS ones. */
	big = make_record("v=spf1 ", STSGUARD_TXT_RECORD_MAX + 1);
	if (CHECK_TRUE(big != NULL, "unrelated record of 65536 bytes")) {
		stsguard_txt two[2] = { { "v=STSv1; id=abc", 15 },
			                { big, STSGUARD_TXT_RECORD_MAX + 1 } };
		run_rrset("unrelated record of 65536 bytes next to sts", two, 2, STSGUARD_TOOBIG,
		          "");
	}
	free(big);
	ncases++;

	/* STSGUARD_TXT_RRSET_MAX records are looked at; one more is too big. */
	for (size_t i = 0; i < STSGUARD_TXT_RRSET_MAX + 1; i++) {
		rrset[i].data = "v=spf1 -all";
		rrset[i].len = 11;
	}
	rrset[STSGUARD_TXT_RRSET_MAX - 1].data = "v=STSv1; id=abc";
	rrset[STSGUARD_TXT_RRSET_MAX - 1].len = 15;
	run_rrset("64 records, last is sts", rrset, STSGUARD_TXT_RRSET_MAX, STSGUARD_OK, "abc");
	ncases++;
	run_rrset("65 records, one is sts", rrset, STSGUARD_TXT_RRSET_MAX + 1, STSGUARD_TOOBIG,
	          "");
	ncases++;
	rrset[STSGUARD_TXT_RRSET_MAX - 1].data = "v=spf1 -all";
	rrset[STSGUARD_TXT_RRSET_MAX - 1].len = 11;
	run_rrset("64 unrelated records", rrset, STSGUARD_TXT_RRSET_MAX, STSGUARD_NONE, "");
	ncases++;
	run_rrset("65 unrelated records", rrset, STSGUARD_TXT_RRSET_MAX + 1, STSGUARD_TOOBIG, "");
	ncases++;
	return ncases;
}

int main(void)
{
	size_t ncases = sizeof(cases) / sizeof(cases[0]);

	for (size_t i = 0; i < ncases; i++)
		run_rrset(cases[i].name, cases[i].records, cases[i].n, cases[i].want,
		          cases[i].want_id);
	ncases += run_caps();
	printf("test_sts_txt: %zu cases\n", ncases);
	return check_summary();
}
