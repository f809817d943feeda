/*
 * json.h - a small, strict, bounded JSON (RFC 8259) reader for the few
 * places where a peer speaks JSON to us (the libtlsrpt datagrams that
 * tlsrpt_dgram.c parses). Not part of the public API.
 *
 * The whole text becomes a read-only tree owned by one stsguard_json_doc.
 * Strict: exactly one value, surrounded only by JSON whitespace; strings
 * must be valid UTF-8 (no overlong forms, surrogates or code points above
 * U+10FFFF) with no raw control characters, \u escapes must pair
 * surrogates and may not produce U+0000 (values are handed out as C
 * strings); duplicate member names are refused; numbers follow the RFC
 * grammar exactly (no leading zero, no "+", no NaN). Bounded: the caller
 * sets the input size, the nesting depth and the number of values, and the
 * reader never recurses (the depth cap bounds an explicit stack) and never
 * allocates more than a small multiple of the input size.
 */
#ifndef STSGUARD_JSON_H
#define STSGUARD_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "stsguard/status.h"

typedef enum stsguard_json_type {
	STSGUARD_JSON_NULL,
	STSGUARD_JSON_FALSE,
	STSGUARD_JSON_TRUE,
	STSGUARD_JSON_NUMBER,
	STSGUARD_JSON_STRING,
	STSGUARD_JSON_ARRAY,
	STSGUARD_JSON_OBJECT
} stsguard_json_type;

typedef struct stsguard_json_limits {
	size_t max_bytes;  /* longest input; longer: STSGUARD_TOOBIG before anything is read */
	size_t max_depth;  /* deepest nesting of arrays/objects (the root container is depth 1) */
	size_t max_values; /* most values in the tree (every scalar, array and object counts) */
} stsguard_json_limits;

/* One value. Navigate with the functions below; the fields are read-only. */
typedef struct stsguard_json_value {
	stsguard_json_type type;
	uint32_t next;      /* index of the next sibling, 0 when last (index 0 is the root) */
	uint32_t child;     /* index of the first element / member, 0 when empty */
	uint32_t count;     /* number of elements / members */
	const char *key;    /* member name (decoded, NUL-terminated) when the parent is an object, else NULL */
	size_t key_len;
	const char *text;   /* STRING: decoded, NUL-terminated; NUMBER: the literal as written */
	size_t len;
} stsguard_json_value;

typedef struct stsguard_json_doc stsguard_json_doc;

/*
 * Parse len bytes (no NUL needed) under limits. STSGUARD_OK: *out is a new
 * document for stsguard_json_free(). STSGUARD_INVALID (grammar, UTF-8,
 * duplicate name), STSGUARD_TOOBIG (a limit) or STSGUARD_NOMEM: *out is
 * NULL and err says what and at which byte offset.
 */
stsguard_status stsguard_json_parse(const char *buf, size_t len, const stsguard_json_limits *limits,
                                    stsguard_json_doc **out, stsguard_err *err);
void stsguard_json_free(stsguard_json_doc *doc);

const stsguard_json_value *stsguard_json_root(const stsguard_json_doc *doc);
/* First element / member of an array / object; NULL when empty or not a container. */
const stsguard_json_value *stsguard_json_first(const stsguard_json_doc *doc, const stsguard_json_value *v);
/* The next sibling; NULL after the last. */
const stsguard_json_value *stsguard_json_next(const stsguard_json_doc *doc, const stsguard_json_value *v);
/* The member named key of an object; NULL when absent or v is not an object. */
const stsguard_json_value *stsguard_json_member(const stsguard_json_doc *doc, const stsguard_json_value *v,
                                                const char *key);

/*
 * The value of a NUMBER that is an integer written without fraction or
 * exponent, within min..max. STSGUARD_INVALID for another type, a fraction
 * or exponent; STSGUARD_TOOBIG when out of range (however many digits).
 */
stsguard_status stsguard_json_int(const stsguard_json_value *v, int64_t min, int64_t max, int64_t *out);

/* "null", "false", "true", "number", "string", "array", "object". */
const char *stsguard_json_type_name(stsguard_json_type type);

#endif
