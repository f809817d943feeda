/*
 * fuzz_tlsrpt_dgram.c - libFuzzer target for what arrives on the TLSRPT
 * datagram socket: the JSON reader and the libtlsrpt datagram parser.
 *
 * Two passes over each input:
 *  1. stsguard_json_parse() under the datagram limits. On success the tree
 *     must be consistent: every container's count equals the children it
 *     links, no string or number holds a NUL before its length, member
 *     names are unique within an object, and nothing is deeper than the
 *     limit. On failure there is no document and err says why.
 *  2. stsguard_tlsrpt_dgram_parse(). On success there are 1 to
 *     STSGUARD_TLSRPT_DGRAM_RESULTS_MAX results, each passes
 *     stsguard_tlsrpt_result_check(), carries the receive time, and
 *     survives the store's encode/decode unchanged in its result type; the
 *     domain is lower case. On failure *out is NULL and err says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "stsguard/tlsrpt_dgram.h"
#include "stsguard/tlsrpt_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW INT64_C(1795869000) /* 2026-11-28T12:30:00Z */

static size_t walk(const stsguard_json_doc *doc, const stsguard_json_value *v, size_t depth)
{
	size_t n = 1;

	if (v->type == STSGUARD_JSON_STRING || v->type == STSGUARD_JSON_NUMBER)
		if (v->text == NULL || strlen(v->text) != v->len)
			__builtin_trap();
	if (v->type != STSGUARD_JSON_ARRAY && v->type != STSGUARD_JSON_OBJECT)
		return n;
	if (depth > 5)
		__builtin_trap();
	uint32_t children = 0;
	for (const stsguard_json_value *c = stsguard_json_first(doc, v); c != NULL; c = stsguard_json_next(doc, c)) {
		children++;
		if (v->type == STSGUARD_JSON_OBJECT) {
			if (c->key == NULL || strlen(c->key) != c->key_len)
				__builtin_trap();
			for (const stsguard_json_value *o = stsguard_json_first(doc, v); o != c; o = stsguard_json_next(doc, o))
				if (o->key_len == c->key_len && memcmp(o->key, c->key, c->key_len) == 0)
					__builtin_trap();
		} else if (c->key != NULL) {
			__builtin_trap();
		}
		n += walk(doc, c, depth + 1);
	}
	if (children != v->count)
		__builtin_trap();
	return n;
}

static void json_pass(const char *in, size_t size)
{
	static const stsguard_json_limits limits = {STSGUARD_TLSRPT_DGRAM_MAX, 5, 8192};
	stsguard_json_doc *doc = (stsguard_json_doc *)&doc;
	stsguard_err err = {""};

	if (stsguard_json_parse(in, size, &limits, &doc, &err) != STSGUARD_OK) {
		if (doc != NULL || err.msg[0] == '\0')
			__builtin_trap();
		return;
	}
	const stsguard_json_value *root = stsguard_json_root(doc);
	if (root == NULL || root->key != NULL)
		__builtin_trap();
	if (walk(doc, root, root->type == STSGUARD_JSON_ARRAY || root->type == STSGUARD_JSON_OBJECT ? 1 : 0) > 8192)
		__builtin_trap();
	stsguard_json_free(doc);
}

static void dgram_pass(const char *in, size_t size)
{
	stsguard_tlsrpt_dgram *d = (stsguard_tlsrpt_dgram *)&d;
	stsguard_err err = {""};

	if (stsguard_tlsrpt_dgram_parse(in, size, NOW, &d, &err) != STSGUARD_OK) {
		if (d != NULL || err.msg[0] == '\0')
			__builtin_trap();
		return;
	}
	if (d->n_results == 0 || d->n_results > STSGUARD_TLSRPT_DGRAM_RESULTS_MAX || d->tlsrpt_record == NULL ||
	    d->version > STSGUARD_TLSRPT_DGRAM_VERSION)
		__builtin_trap();
	for (const char *c = d->domain; *c != '\0'; c++)
		if (*c >= 'A' && *c <= 'Z')
			__builtin_trap();
	for (size_t i = 0; i < d->n_results; i++) {
		const stsguard_tlsrpt_result *r = &d->results[i];
		if (stsguard_tlsrpt_result_check(r, NULL) != STSGUARD_OK || r->time != NOW ||
		    strcmp(r->policy_domain, d->domain) != 0)
			__builtin_trap();
		char *line = NULL;
		size_t len = 0;
		stsguard_tlsrpt_result back;
		if (stsguard_tlsrpt_result_encode_alloc(r, &line, &len, NULL) != STSGUARD_OK ||
		    stsguard_tlsrpt_result_decode(line, len, &back, NULL) != STSGUARD_OK || back.result != r->result ||
		    back.policy_type != r->policy_type || back.n_policy_strings != r->n_policy_strings)
			__builtin_trap();
		stsguard_tlsrpt_result_clear(&back);
		free(line);
	}
	stsguard_tlsrpt_dgram_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_pass((const char *)data, size);
	dgram_pass((const char *)data, size);
	return 0;
}
