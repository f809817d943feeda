/*
 * test_json.c - table-driven tests of the strict JSON reader (core/lib/json.h).
 *
 * Expectations come from RFC 8259 (grammar: §2 whitespace, §4 objects, §5
 * arrays, §6 numbers, §7 strings, §8.1 UTF-8) and from json.h's stricter
 * contract (duplicate names, \u0000, unpaired surrogates and invalid UTF-8
 * refused; limits on size, depth and values), never from the code. Every
 * input is copied into a heap buffer of exactly its length, so ASan sees a
 * read past the end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#include "check.h"

struct json_case {
	const char *name;
	const char *in;
	size_t len; /* 0: strlen(in) */
	stsguard_status want;
};

#define OK(name, in) { name, in, 0, STSGUARD_OK }
#define BAD(name, in) { name, in, 0, STSGUARD_INVALID }
#define BIG(name, in) { name, in, 0, STSGUARD_TOOBIG }

static const stsguard_json_limits limits = {1024, 4, 64};

static const struct json_case cases[] = {
	/* --- values --- */
	OK("empty object", "{}"),
	OK("empty array", "[]"),
	OK("scalar root string", "\"x\""),
	OK("scalar root number", "0"),
	OK("literals", "[true,false,null]"),
	OK("whitespace everywhere", " \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" : { } }\n"),
	OK("libtlsrpt spacing", "{\"d\": \"example.com\",\"t\":0}"),
	OK("numbers", "[0,-0,1,-1,10,1.5,-0.25,1e3,1E+3,2e-3,123456789012345678901234567890]"),
	OK("escapes", "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]"),
	OK("unicode escape", "\"\\u00e9\\u20AC\""),
	OK("surrogate pair", "\"\\ud83d\\ude00\""),
	OK("raw utf-8 2,3,4 bytes", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""),
	OK("max depth 4", "[[[[]]]]"),
	OK("same name in two objects", "[{\"a\":1},{\"a\":2}]"),
	/* --- grammar errors --- */
	BAD("empty input", ""),
	BAD("whitespace only", "  "),
	BAD("two values", "{} {}"),
	BAD("trailing garbage", "{}x"),
	BAD("unterminated object", "{\"a\":1"),
	BAD("unterminated array", "[1,2"),
	BAD("unterminated string", "\"abc"),
	BAD("trailing comma array", "[1,]"),
	BAD("trailing comma object", "{\"a\":1,}"),
	BAD("leading comma", "[,1]"),
	BAD("missing comma", "[1 2]"),
	BAD("missing colon", "{\"a\" 1}"),
	BAD("unquoted name", "{a:1}"),
	BAD("single quotes", "['a']"),
	BAD("number name", "{1:1}"),
	BAD("mismatched close", "[}"),
	BAD("close without open", "]"),
	BAD("leading zero", "[01]"),
	BAD("plus sign", "[+1]"),
	BAD("bare minus", "[-]"),
	BAD("dot without digits", "[1.]"),
	BAD("leading dot", "[.5]"),
	BAD("exponent without digits", "[1e]"),
	BAD("NaN", "[NaN]"),
	BAD("Infinity", "[Infinity]"),
	BAD("hex number", "[0x10]"),
	BAD("literal prefix", "[tru]"),
	BAD("literal case", "[True]"),
	BAD("literal glued", "[truex]"),
	BAD("raw newline in string", "\"a\nb\""),
	BAD("raw tab in string", "\"a\tb\""),
	BAD("bad escape", "\"\\x41\""),
	BAD("short unicode escape", "\"\\u12\""),
	BAD("non-hex unicode escape", "\"\\u12g4\""),
	BAD("escaped NUL", "\"a\\u0000b\""),
	BAD("lone high surrogate", "\"\\ud83d\""),
	BAD("high surrogate then text", "\"\\ud83dxxxxxx\""),
	BAD("lone low surrogate", "\"\\ude00\""),
	BAD("two high surrogates", "\"\\ud83d\\ud83d\""),
	BAD("duplicate name", "{\"a\":1,\"a\":2}"),
	BAD("duplicate name via escape", "{\"a\":1,\"\\u0061\":2}"),
	/* --- UTF-8 (RFC 3629) --- */
	BAD("invalid byte ff", "\"\xff\""),
	BAD("continuation byte alone", "\"\x80\""),
	BAD("overlong slash", "\"\xc0\xaf\""),
	BAD("overlong 3-byte", "\"\xe0\x80\xaf\""),
	BAD("encoded surrogate", "\"\xed\xa0\x80\""),
	BAD("above U+10FFFF", "\"\xf4\x90\x80\x80\""),
	BAD("truncated sequence", "\"\xe2\x82\""),
	BAD("truncated at end", "\"\xe2"),
	BAD("invalid utf-8 in name", "{\"\xff\":1}"),
	/* --- limits --- */
	BIG("depth 5", "[[[[[]]]]]"),
	BIG("depth 5 via objects", "{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}"),
};

static char *copy_exact(const char *s, size_t len)
{
	char *p = malloc(len ? len : 1);
	if (p != NULL && len > 0)
		memcpy(p, s, len);
	return p;
}

static void run_table(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct json_case *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->in);
		char *buf = copy_exact(c->in, len);
		stsguard_json_doc *doc = (stsguard_json_doc *)&doc; /* must be reset to NULL on failure */
		stsguard_err err = {""};
		stsguard_status st = stsguard_json_parse(buf, len, &limits, &doc, &err);
		CHECK_STATUS(st, c->want, c->name);
		if (st != STSGUARD_OK) {
			CHECK_TRUE(doc == NULL, c->name);
			CHECK_TRUE(err.msg[0] != '\0', c->name);
		} else {
			CHECK_TRUE(stsguard_json_root(doc) != NULL, c->name);
		}
		stsguard_json_free(doc == (stsguard_json_doc *)&doc ? NULL : doc);
		free(buf);
	}
}

/* The tree: members, order, counts, decoded strings, keys. */
static void test_tree(void)
{
	const char *in = "{\"d\": \"ex\\u00e9\",\"n\":[1,\"two\",{\"x\":null}],\"e\":{},\"b\":true}";
	stsguard_json_doc *doc = NULL;
	stsguard_err err = {""};

	if (!CHECK_STATUS(stsguard_json_parse(in, strlen(in), &limits, &doc, &err), STSGUARD_OK, "tree parse"))
		return;
	const stsguard_json_value *root = stsguard_json_root(doc);
	CHECK_INT(root->type, STSGUARD_JSON_OBJECT, "tree root type");
	CHECK_INT(root->count, 4, "tree root count");
	const stsguard_json_value *d = stsguard_json_member(doc, root, "d");
	if (CHECK_TRUE(d != NULL, "tree d")) {
		CHECK_INT(d->type, STSGUARD_JSON_STRING, "tree d type");
		CHECK_STR(d->text, "ex\xc3\xa9", "tree d text");
		CHECK_INT(d->len, 4, "tree d len");
		CHECK_STR(d->key, "d", "tree d key");
	}
	const stsguard_json_value *n = stsguard_json_member(doc, root, "n");
	if (CHECK_TRUE(n != NULL && n->type == STSGUARD_JSON_ARRAY, "tree n")) {
		CHECK_INT(n->count, 3, "tree n count");
		const stsguard_json_value *e = stsguard_json_first(doc, n);
		CHECK_STR(e->text, "1", "tree n[0]");
		CHECK_TRUE(e->key == NULL, "tree n[0] has no key");
		e = stsguard_json_next(doc, e);
		CHECK_STR(e->text, "two", "tree n[1]");
		e = stsguard_json_next(doc, e);
		CHECK_INT(e->type, STSGUARD_JSON_OBJECT, "tree n[2] type");
		const stsguard_json_value *x = stsguard_json_member(doc, e, "x");
		CHECK_TRUE(x != NULL && x->type == STSGUARD_JSON_NULL, "tree n[2].x");
		CHECK_TRUE(stsguard_json_next(doc, e) == NULL, "tree n ends");
	}
	const stsguard_json_value *e = stsguard_json_member(doc, root, "e");
	CHECK_TRUE(e != NULL && e->count == 0 && stsguard_json_first(doc, e) == NULL, "tree empty object");
	const stsguard_json_value *b = stsguard_json_member(doc, root, "b");
	CHECK_TRUE(b != NULL && b->type == STSGUARD_JSON_TRUE, "tree b");
	CHECK_TRUE(stsguard_json_member(doc, root, "missing") == NULL, "tree missing member");
	CHECK_TRUE(stsguard_json_member(doc, n, "d") == NULL, "tree member of an array");
	stsguard_json_free(doc);
	stsguard_json_free(NULL);
}

/* Limits: size before reading, values counted, arguments. */
static void test_limits(void)
{
	stsguard_json_doc *doc = NULL;
	stsguard_err err = {""};
	stsguard_json_limits small = {8, 4, 3};

	CHECK_STATUS(stsguard_json_parse("[1,2]    ", 9, &small, &doc, &err), STSGUARD_TOOBIG, "limit bytes");
	CHECK_STATUS(stsguard_json_parse("[1,2]", 5, &small, &doc, &err), STSGUARD_OK, "limit 3 values");
	stsguard_json_free(doc);
	CHECK_STATUS(stsguard_json_parse("[1,2,3]", 7, &small, &doc, &err), STSGUARD_TOOBIG, "limit 4 values");
	CHECK_TRUE(doc == NULL, "limit values: no doc");
	CHECK_STATUS(stsguard_json_parse("[]", 2, NULL, &doc, &err), STSGUARD_BADARG, "no limits");
	CHECK_STATUS(stsguard_json_parse("[]", 2, &limits, NULL, &err), STSGUARD_BADARG, "no out");
	CHECK_STATUS(stsguard_json_parse(NULL, 2, &limits, &doc, &err), STSGUARD_BADARG, "no buffer");

	/* Many values: the node array grows past its first allocation. */
	stsguard_json_limits big = {65536, 4, 10000};
	char buf[8192];
	size_t n = 0;
	buf[n++] = '[';
	for (int i = 0; i < 2000; i++) {
		buf[n++] = (char)('0' + i % 10);
		buf[n++] = ',';
	}
	buf[n - 1] = ']';
	if (CHECK_STATUS(stsguard_json_parse(buf, n, &big, &doc, &err), STSGUARD_OK, "2000 values")) {
		CHECK_INT(stsguard_json_root(doc)->count, 2000, "2000 values count");
		stsguard_json_free(doc);
	}
	/* A name repeated far apart is still found. */
	n = 0;
	n += (size_t)snprintf(buf + n, sizeof buf - n, "{");
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "\"k%d\":0,", i);
	n += (size_t)snprintf(buf + n, sizeof buf - n, "\"k0\":1}");
	CHECK_STATUS(stsguard_json_parse(buf, n, &big, &doc, &err), STSGUARD_INVALID, "duplicate after 300 names");
}

struct int_case {
	const char *name;
	const char *in;
	int64_t min, max;
	stsguard_status want;
	int64_t value;
};

static const struct int_case int_cases[] = {
	{"zero", "0", 0, 10, STSGUARD_OK, 0},
	{"minus zero", "-0", 0, 10, STSGUARD_OK, 0},
	{"in range", "306", 0, 1000, STSGUARD_OK, 306},
	{"negative", "-5", -10, 10, STSGUARD_OK, -5},
	{"int64 max", "9223372036854775807", INT64_MIN, INT64_MAX, STSGUARD_OK, INT64_MAX},
	{"int64 min", "-9223372036854775808", INT64_MIN, INT64_MAX, STSGUARD_OK, INT64_MIN},
	{"above int64", "9223372036854775808", INT64_MIN, INT64_MAX, STSGUARD_TOOBIG, 0},
	{"below int64", "-9223372036854775809", INT64_MIN, INT64_MAX, STSGUARD_TOOBIG, 0},
	{"huge", "123456789012345678901234567890", INT64_MIN, INT64_MAX, STSGUARD_TOOBIG, 0},
	{"above max", "11", 0, 10, STSGUARD_TOOBIG, 0},
	{"below min", "-1", 0, 10, STSGUARD_TOOBIG, 0},
	{"fraction", "1.0", 0, 10, STSGUARD_INVALID, 0},
	{"exponent", "1e1", 0, 100, STSGUARD_INVALID, 0},
	{"string", "\"1\"", 0, 10, STSGUARD_INVALID, 0},
	{"true", "true", 0, 10, STSGUARD_INVALID, 0},
};

static void test_int(void)
{
	for (size_t i = 0; i < sizeof int_cases / sizeof int_cases[0]; i++) {
		const struct int_case *c = &int_cases[i];
		stsguard_json_doc *doc = NULL;
		int64_t v = -42;
		if (!CHECK_STATUS(stsguard_json_parse(c->in, strlen(c->in), &limits, &doc, NULL), STSGUARD_OK, c->name))
			continue;
		CHECK_STATUS(stsguard_json_int(stsguard_json_root(doc), c->min, c->max, &v), c->want, c->name);
		if (c->want == STSGUARD_OK)
			CHECK_INT(v, c->value, c->name);
		else
			CHECK_INT(v, -42, c->name); /* untouched */
		stsguard_json_free(doc);
	}
}

int main(void)
{
	run_table();
	test_tree();
	test_limits();
	test_int();
	return check_summary();
}
