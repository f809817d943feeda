/*
 * json.c - the strict, bounded JSON reader of json.h.
 *
 * Why our own: the only JSON we read comes from a local peer over a socket
 * (libtlsrpt datagrams), it is small, and the project takes no library
 * dependency for it. What we need is narrower than a general library and
 * must be stricter: a hostile or broken sender must not be able to make us
 * recurse, allocate without bound, accept bytes that are not UTF-8, or
 * read two different meanings into one text (duplicate names, "\u0000"
 * inside a C string).
 *
 * Contract: one pass over the input, no recursion (nesting is an explicit
 * stack of at most max_depth frames), at most max_values tree nodes, and
 * one string buffer of len + 1 bytes that holds every decoded string and
 * number (a decoded string is never longer than its quoted form, and a
 * number is followed by a delimiter or the end). Nothing is read beyond
 * len. On failure nothing is returned and err names the byte offset.
 */
#include "json.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct stsguard_json_doc {
	stsguard_json_value *values;
	size_t n_values;
	size_t cap_values;
	char *strings; /* len + 1 bytes */
};

struct frame {
	uint32_t node; /* the container */
	uint32_t last; /* its last child so far, 0 when none */
};

struct parser {
	const unsigned char *p;
	size_t len;
	size_t pos;
	const stsguard_json_limits *lim;
	stsguard_json_doc *doc;
	size_t sp; /* next free byte of doc->strings */
	struct frame *stack;
	size_t depth;
	stsguard_err *err;
};

const char *stsguard_json_type_name(stsguard_json_type type)
{
	switch (type) {
	case STSGUARD_JSON_NULL: return "null";
	case STSGUARD_JSON_FALSE: return "false";
	case STSGUARD_JSON_TRUE: return "true";
	case STSGUARD_JSON_NUMBER: return "number";
	case STSGUARD_JSON_STRING: return "string";
	case STSGUARD_JSON_ARRAY: return "array";
	case STSGUARD_JSON_OBJECT: return "object";
	}
	return "?";
}

static stsguard_status fail(struct parser *ps, stsguard_status st, const char *what)
{
	return sg_err(ps->err, st, "JSON: %s at byte %zu", what, ps->pos);
}

/* RFC 8259 §2: ws = *( %x20 / %x09 / %x0A / %x0D ) */
static void skip_ws(struct parser *ps)
{
	while (ps->pos < ps->len) {
		unsigned char c = ps->p[ps->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		ps->pos++;
	}
}

/* Four hex digits at pos (after "\u"); -1 if not. */
static long hex4(const struct parser *ps, size_t pos)
{
	long v = 0;

	if (ps->len - pos < 4)
		return -1;
	for (size_t i = 0; i < 4; i++) {
		int h = sg_hexval(ps->p[pos + i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static void put_utf8(char *out, size_t *o, uint32_t cp)
{
	if (cp < 0x80) {
		out[(*o)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*o)++] = (char)(0xc0 | (cp >> 6));
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		out[(*o)++] = (char)(0xe0 | (cp >> 12));
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		out[(*o)++] = (char)(0xf0 | (cp >> 18));
		out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	}
}

/* Length of the valid UTF-8 sequence starting at i (lead byte >= 0x80), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t len, size_t i)
{
	unsigned char c = p[i];
	size_t n;
	uint32_t cp, min;

	if (c >= 0xc2 && c <= 0xdf)
		n = 1, cp = c & 0x1fu, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		n = 2, cp = c & 0x0fu, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 3, cp = c & 0x07u, min = 0x10000;
	else
		return 0;
	if (len - i - 1 < n)
		return 0;
	for (size_t k = 1; k <= n; k++) {
		if ((p[i + k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i + k] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n + 1;
}

/* A string at pos (on the opening quote): decoded into doc->strings. */
static stsguard_status parse_string(struct parser *ps, const char **text, size_t *tlen)
{
	char *out = ps->doc->strings + ps->sp;
	size_t o = 0;

	ps->pos++; /* the quote */
	for (;;) {
		if (ps->pos >= ps->len)
			return fail(ps, STSGUARD_INVALID, "unterminated string");
		unsigned char c = ps->p[ps->pos];
		if (c == '"') {
			ps->pos++;
			break;
		}
		if (c < 0x20)
			return fail(ps, STSGUARD_INVALID, "control character in string");
		if (c >= 0x80) {
			size_t n = utf8_seq(ps->p, ps->len, ps->pos);
			if (n == 0)
				return fail(ps, STSGUARD_INVALID, "invalid UTF-8 in string");
			memcpy(out + o, ps->p + ps->pos, n);
			o += n;
			ps->pos += n;
			continue;
		}
		if (c != '\\') {
			out[o++] = (char)c;
			ps->pos++;
			continue;
		}
		if (ps->pos + 1 >= ps->len)
			return fail(ps, STSGUARD_INVALID, "unterminated string");
		unsigned char e = ps->p[ps->pos + 1];
		const char *simple = "\"\"\\\\//b\bf\fn\nr\rt\t";
		const char *hit = NULL;
		for (const char *s = simple; *s != '\0'; s += 2)
			if ((unsigned char)s[0] == e) {
				hit = s;
				break;
			}
		if (hit != NULL) {
			out[o++] = hit[1];
			ps->pos += 2;
			continue;
		}
		if (e != 'u')
			return fail(ps, STSGUARD_INVALID, "invalid escape");
		long u = hex4(ps, ps->pos + 2);
		if (u < 0)
			return fail(ps, STSGUARD_INVALID, "invalid \\u escape");
		uint32_t cp = (uint32_t)u;
		size_t used = 6;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return fail(ps, STSGUARD_INVALID, "unpaired low surrogate");
		if (cp >= 0xd800 && cp <= 0xdbff) {
			long lo = -1;
			if (ps->len - ps->pos >= 12 && ps->p[ps->pos + 6] == '\\' && ps->p[ps->pos + 7] == 'u')
				lo = hex4(ps, ps->pos + 8);
			if (lo < 0xdc00 || lo > 0xdfff)
				return fail(ps, STSGUARD_INVALID, "unpaired high surrogate");
			cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
			used = 12;
		}
		if (cp == 0)
			return fail(ps, STSGUARD_INVALID, "\\u0000 in string");
		/* The UTF-8 form (<= 4 bytes) is never longer than the escape (6 or 12 bytes). */
		put_utf8(out, &o, cp);
		ps->pos += used;
	}
	out[o] = '\0';
	ps->sp += o + 1;
	*text = out;
	*tlen = o;
	return STSGUARD_OK;
}

static bool digit_at(const struct parser *ps, size_t pos)
{
	return pos < ps->len && sg_is_digit(ps->p[pos]);
}

/* RFC 8259 §6: number = [ minus ] int [ frac ] [ exp ] */
static stsguard_status parse_number(struct parser *ps, const char **text, size_t *tlen)
{
	size_t start = ps->pos, i = ps->pos;

	if (i < ps->len && ps->p[i] == '-')
		i++;
	if (!digit_at(ps, i))
		return fail(ps, STSGUARD_INVALID, "invalid number");
	if (ps->p[i] == '0') {
		i++;
		if (digit_at(ps, i))
			return fail(ps, STSGUARD_INVALID, "leading zero in number");
	} else {
		while (digit_at(ps, i))
			i++;
	}
	if (i < ps->len && ps->p[i] == '.') {
		i++;
		if (!digit_at(ps, i))
			return fail(ps, STSGUARD_INVALID, "invalid fraction");
		while (digit_at(ps, i))
			i++;
	}
	if (i < ps->len && (ps->p[i] == 'e' || ps->p[i] == 'E')) {
		i++;
		if (i < ps->len && (ps->p[i] == '+' || ps->p[i] == '-'))
			i++;
		if (!digit_at(ps, i))
			return fail(ps, STSGUARD_INVALID, "invalid exponent");
		while (digit_at(ps, i))
			i++;
	}
	char *out = ps->doc->strings + ps->sp;
	memcpy(out, ps->p + start, i - start);
	out[i - start] = '\0';
	ps->sp += i - start + 1;
	ps->pos = i;
	*text = out;
	*tlen = i - start;
	return STSGUARD_OK;
}

/* A new node linked under the top frame (or the root); its index in *idx. */
static stsguard_status new_value(struct parser *ps, stsguard_json_type type, const char *key, size_t key_len,
                                 uint32_t *idx)
{
	stsguard_json_doc *doc = ps->doc;

	if (doc->n_values >= ps->lim->max_values)
		return fail(ps, STSGUARD_TOOBIG, "too many values");
	if (doc->n_values == doc->cap_values) {
		size_t cap = doc->cap_values ? doc->cap_values * 2 : 16;
		if (cap > ps->lim->max_values)
			cap = ps->lim->max_values;
		stsguard_json_value *v = realloc(doc->values, cap * sizeof *v);
		if (v == NULL)
			return fail(ps, STSGUARD_NOMEM, "out of memory");
		doc->values = v;
		doc->cap_values = cap;
	}
	uint32_t i = (uint32_t)doc->n_values++;
	stsguard_json_value *v = &doc->values[i];
	memset(v, 0, sizeof *v);
	v->type = type;
	v->key = key;
	v->key_len = key_len;
	if (ps->depth > 0) {
		struct frame *f = &ps->stack[ps->depth - 1];
		if (f->last == 0)
			doc->values[f->node].child = i;
		else
			doc->values[f->last].next = i;
		f->last = i;
		doc->values[f->node].count++;
	}
	*idx = i;
	return STSGUARD_OK;
}

static bool duplicate_key(const struct parser *ps, const char *key, size_t key_len)
{
	const struct frame *f = &ps->stack[ps->depth - 1];
	const stsguard_json_doc *doc = ps->doc;

	for (uint32_t i = doc->values[f->node].child; i != 0; i = doc->values[i].next)
		if (doc->values[i].key_len == key_len && memcmp(doc->values[i].key, key, key_len) == 0)
			return true;
	return false;
}

static bool match_literal(const struct parser *ps, const char *lit)
{
	size_t n = strlen(lit);
	return ps->len - ps->pos >= n && memcmp(ps->p + ps->pos, lit, n) == 0;
}

/* One value at pos (whitespace already skipped); containers are pushed, not descended into. */
static stsguard_status parse_value(struct parser *ps, const char *key, size_t key_len)
{
	stsguard_status st;
	uint32_t idx;

	if (ps->pos >= ps->len)
		return fail(ps, STSGUARD_INVALID, "value expected");
	unsigned char c = ps->p[ps->pos];
	if (c == '{' || c == '[') {
		if (ps->depth >= ps->lim->max_depth)
			return fail(ps, STSGUARD_TOOBIG, "nesting too deep");
		st = new_value(ps, c == '{' ? STSGUARD_JSON_OBJECT : STSGUARD_JSON_ARRAY, key, key_len, &idx);
		if (st != STSGUARD_OK)
			return st;
		ps->stack[ps->depth].node = idx;
		ps->stack[ps->depth].last = 0;
		ps->depth++;
		ps->pos++;
		return STSGUARD_OK;
	}
	if (c == '"') {
		const char *t = NULL;
		size_t tl = 0;
		st = parse_string(ps, &t, &tl);
		if (st == STSGUARD_OK)
			st = new_value(ps, STSGUARD_JSON_STRING, key, key_len, &idx);
		if (st == STSGUARD_OK) {
			ps->doc->values[idx].text = t;
			ps->doc->values[idx].len = tl;
		}
		return st;
	}
	if (c == '-' || sg_is_digit(c)) {
		const char *t = NULL;
		size_t tl = 0;
		st = parse_number(ps, &t, &tl);
		if (st == STSGUARD_OK)
			st = new_value(ps, STSGUARD_JSON_NUMBER, key, key_len, &idx);
		if (st == STSGUARD_OK) {
			ps->doc->values[idx].text = t;
			ps->doc->values[idx].len = tl;
		}
		return st;
	}
	static const struct {
		const char *lit;
		stsguard_json_type type;
	} lits[] = {{"true", STSGUARD_JSON_TRUE}, {"false", STSGUARD_JSON_FALSE}, {"null", STSGUARD_JSON_NULL}};
	for (size_t i = 0; i < sizeof lits / sizeof lits[0]; i++) {
		if (match_literal(ps, lits[i].lit)) {
			ps->pos += strlen(lits[i].lit);
			return new_value(ps, lits[i].type, key, key_len, &idx);
		}
	}
	return fail(ps, STSGUARD_INVALID, "value expected");
}

/* In an object, before a member: "name" ws ":" ws; then the value. */
static stsguard_status parse_member(struct parser *ps)
{
	const char *key;
	size_t key_len;
	stsguard_status st;

	if (ps->pos >= ps->len || ps->p[ps->pos] != '"')
		return fail(ps, STSGUARD_INVALID, "member name expected");
	st = parse_string(ps, &key, &key_len);
	if (st != STSGUARD_OK)
		return st;
	if (duplicate_key(ps, key, key_len))
		return fail(ps, STSGUARD_INVALID, "duplicate member name");
	skip_ws(ps);
	if (ps->pos >= ps->len || ps->p[ps->pos] != ':')
		return fail(ps, STSGUARD_INVALID, "':' expected");
	ps->pos++;
	skip_ws(ps);
	return parse_value(ps, key, key_len);
}

static bool top_is_object(const struct parser *ps)
{
	return ps->depth > 0 && ps->doc->values[ps->stack[ps->depth - 1].node].type == STSGUARD_JSON_OBJECT;
}

static stsguard_status run(struct parser *ps)
{
	stsguard_status st;

	skip_ws(ps);
	st = parse_value(ps, NULL, 0);
	while (st == STSGUARD_OK && ps->depth > 0) {
		skip_ws(ps);
		struct frame *f = &ps->stack[ps->depth - 1];
		char closer = top_is_object(ps) ? '}' : ']';
		if (ps->pos >= ps->len)
			return fail(ps, STSGUARD_INVALID, "unterminated container");
		unsigned char c = ps->p[ps->pos];
		if (c == (unsigned char)closer) {
			ps->pos++;
			ps->depth--;
			continue;
		}
		if (f->last != 0) {
			if (c != ',')
				return fail(ps, STSGUARD_INVALID, "',' expected");
			ps->pos++;
			skip_ws(ps);
		}
		st = top_is_object(ps) ? parse_member(ps) : parse_value(ps, NULL, 0);
	}
	if (st != STSGUARD_OK)
		return st;
	skip_ws(ps);
	if (ps->pos != ps->len)
		return fail(ps, STSGUARD_INVALID, "trailing bytes after the value");
	return STSGUARD_OK;
}

void stsguard_json_free(stsguard_json_doc *doc)
{
	if (doc == NULL)
		return;
	free(doc->values);
	free(doc->strings);
	free(doc);
}

stsguard_status stsguard_json_parse(const char *buf, size_t len, const stsguard_json_limits *limits,
                                    stsguard_json_doc **out, stsguard_err *err)
{
	stsguard_status st;

	if (out == NULL)
		return sg_err(err, STSGUARD_BADARG, "JSON: no output");
	*out = NULL;
	if ((buf == NULL && len > 0) || limits == NULL || limits->max_depth == 0 || limits->max_values == 0 ||
	    limits->max_values > UINT32_MAX)
		return sg_err(err, STSGUARD_BADARG, "JSON: bad arguments");
	if (len > limits->max_bytes)
		return sg_err(err, STSGUARD_TOOBIG, "JSON: %zu bytes, more than %zu", len, limits->max_bytes);
	if (len == 0)
		return sg_err(err, STSGUARD_INVALID, "JSON: empty input");

	stsguard_json_doc *doc = calloc(1, sizeof *doc);
	struct frame *stack = calloc(limits->max_depth, sizeof *stack);
	if (doc != NULL)
		doc->strings = malloc(len + 1);
	if (doc == NULL || stack == NULL || doc->strings == NULL) {
		free(stack);
		stsguard_json_free(doc);
		return sg_err(err, STSGUARD_NOMEM, "JSON: out of memory");
	}
	struct parser ps = {(const unsigned char *)buf, len, 0, limits, doc, 0, stack, 0, err};
	st = run(&ps);
	free(stack);
	if (st != STSGUARD_OK) {
		stsguard_json_free(doc);
		return st;
	}
	*out = doc;
	return STSGUARD_OK;
}

const stsguard_json_value *stsguard_json_root(const stsguard_json_doc *doc)
{
	return doc != NULL && doc->n_values > 0 ? &doc->values[0] : NULL;
}

const stsguard_json_value *stsguard_json_first(const stsguard_json_doc *doc, const stsguard_json_value *v)
{
	if (doc == NULL || v == NULL || (v->type != STSGUARD_JSON_ARRAY && v->type != STSGUARD_JSON_OBJECT) ||
	    v->child == 0)
		return NULL;
	return &doc->values[v->child];
}

const stsguard_json_value *stsguard_json_next(const stsguard_json_doc *doc, const stsguard_json_value *v)
{
	if (doc == NULL || v == NULL || v->next == 0)
		return NULL;
	return &doc->values[v->next];
}

const stsguard_json_value *stsguard_json_member(const stsguard_json_doc *doc, const stsguard_json_value *v,
                                                const char *key)
{
	if (v == NULL || v->type != STSGUARD_JSON_OBJECT || key == NULL)
		return NULL;
	size_t klen = strlen(key);
	for (const stsguard_json_value *m = stsguard_json_first(doc, v); m != NULL; m = stsguard_json_next(doc, m))
		if (m->key_len == klen && memcmp(m->key, key, klen) == 0)
			return m;
	return NULL;
}

stsguard_status stsguard_json_int(const stsguard_json_value *v, int64_t min, int64_t max, int64_t *out)
{
	if (v == NULL || v->type != STSGUARD_JSON_NUMBER || v->len == 0)
		return STSGUARD_INVALID;
	const char *s = v->text;
	size_t i = 0;
	bool neg = false;
	if (s[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == v->len)
		return STSGUARD_INVALID;
	for (size_t k = i; k < v->len; k++)
		if (!sg_is_digit((unsigned char)s[k]))
			return STSGUARD_INVALID; /* fraction or exponent */
	/* Magnitude up to 2^63 (the magnitude of INT64_MIN); more digits: out of range. */
	uint64_t mag = 0;
	const uint64_t limit = (uint64_t)INT64_MAX + 1u;
	for (; i < v->len; i++) {
		uint64_t d = (uint64_t)(s[i] - '0');
		if (mag > (limit - d) / 10)
			return STSGUARD_TOOBIG;
		mag = mag * 10 + d;
	}
	int64_t val;
	if (neg)
		val = mag == limit ? INT64_MIN : -(int64_t)mag;
	else if (mag == limit)
		return STSGUARD_TOOBIG;
	else
		val = (int64_t)mag;
	if (val < min || val > max)
		return STSGUARD_TOOBIG;
	*out = val;
	return STSGUARD_OK;
}
