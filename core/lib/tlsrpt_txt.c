/*
 * tlsrpt_txt.c - the _smtp._tls TXT record (RFC 8460 §3).
 *
 *   tlsrpt-record = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
 *   tlsrpt-rua    = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
 *   tlsrpt-uri    = URI   ; RFC 3986, "mailto" or "https" only
 *
 * Reports are sent only to domains with exactly one valid record, so any
 * doubt means "no record": we would rather not report than report to an
 * address the domain never asked for.
 */
#include "stsguard/tlsrpt_txt.h"

#include <stdlib.h>
#include <string.h>

#include "taglist.h"
#include "util.h"

struct rua_ctx {
	stsguard_tlsrpt_record *rec;
	bool seen;
};

static bool is_hex(unsigned char c)
{
	return sg_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 3986 characters, less ',' and ';' which delimit the list and the record. */
static bool uri_char(unsigned char c)
{
	if (sg_is_alnum(c))
		return true;
	return strchr("-._~:/?#[]@!$&'()*+=", c) != NULL && c != '\0';
}

static stsguard_status check_uri(const char *u, size_t len, stsguard_err *err)
{
	char shown[120];

	sg_escape(shown, sizeof shown, u, len);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)u[i];
		if (c == '%') {
			if (i + 2 >= len || !is_hex((unsigned char)u[i + 1]) || !is_hex((unsigned char)u[i + 2]))
				return sg_err(err, STSGUARD_INVALID, "rua URI '%s' has a bad %%-escape", shown);
			i += 2;
		} else if (!uri_char(c)) {
			return sg_err(err, STSGUARD_INVALID, "rua URI '%s' has a character not allowed in a URI", shown);
		}
	}
	if (len > 7 && sg_ieq(u, 7, "mailto:", 7)) {
		const char *addr = u + 7;
		size_t alen = len - 7;
		const char *q = memchr(addr, '?', alen);
		if (q != NULL)
			alen = (size_t)(q - addr);
		const char *at = memchr(addr, '@', alen);
		if (at == NULL || at == addr || at == addr + alen - 1)
			return sg_err(err, STSGUARD_INVALID, "rua URI '%s' is not a mailto: URI with an address", shown);
		return STSGUARD_OK;
	}
	if (len > 8 && sg_ieq(u, 8, "https://", 8)) {
		size_t h = 8;
		while (h < len && u[h] != '/' && u[h] != '?' && u[h] != '#')
			h++;
		if (h == 8)
			return sg_err(err, STSGUARD_INVALID, "rua URI '%s' has no host", shown);
		return STSGUARD_OK;
	}
	return sg_err(err, STSGUARD_INVALID, "rua URI '%s': only mailto: and https: URIs are allowed", shown);
}

static stsguard_status add_rua(stsguard_tlsrpt_record *rec, const char *u, size_t len, stsguard_err *err)
{
	if (rec->n_rua >= STSGUARD_RUA_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "more than %u rua URIs", STSGUARD_RUA_MAX);
	char *copy = sg_strndup(u, len);
	if (copy == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	rec->rua[rec->n_rua++] = copy;
	return STSGUARD_OK;
}

static stsguard_status on_field(void *vctx, const sg_tag *tag, stsguard_err *err)
{
	struct rua_ctx *ctx = vctx;

	if (!(tag->name_len == 3 && memcmp(tag->name, "rua", 3) == 0)) {
		if (!sg_taglist_ext_value_ok(tag->value, tag->value_len))
			return sg_err(err, STSGUARD_INVALID, "extension field value has a character not allowed");
		return STSGUARD_OK;
	}

	/* Split on *WSP "," *WSP; every URI is checked even in a duplicate field. */
	const char *v = tag->value;
	size_t len = tag->value_len;
	size_t i = 0;
	for (;;) {
		size_t start = i;
		while (i < len && v[i] != ',' && !sg_is_wsp((unsigned char)v[i]))
			i++;
		if (i == start)
			return sg_err(err, STSGUARD_INVALID, "rua has an empty URI");
		stsguard_status st = check_uri(v + start, i - start, err);
		if (st != STSGUARD_OK)
			return st;
		if (!ctx->seen) {
			st = add_rua(ctx->rec, v + start, i - start, err);
			if (st != STSGUARD_OK)
				return st;
		}
		while (i < len && sg_is_wsp((unsigned char)v[i]))
			i++;
		if (i == len)
			break;
		if (v[i] != ',')
			return sg_err(err, STSGUARD_INVALID, "rua URIs must be separated by ','");
		i++;
		while (i < len && sg_is_wsp((unsigned char)v[i]))
			i++;
	}
	ctx->seen = true;
	return STSGUARD_OK;
}

stsguard_status stsguard_tlsrpt_txt_parse(const stsguard_txt *records, size_t n,
                                          stsguard_tlsrpt_record **out, stsguard_err *err)
{
	const stsguard_txt *chosen;
	stsguard_status st;

	if (out == NULL)
		return sg_err(err, STSGUARD_BADARG, "no output pointer");
	*out = NULL;
	if (records == NULL && n != 0)
		return sg_err(err, STSGUARD_BADARG, "no records");
	st = sg_taglist_select(records, n, "v=TLSRPTv1", "_smtp._tls", &chosen, err);
	if (st != STSGUARD_OK)
		return st;

	stsguard_tlsrpt_record *rec = calloc(1, sizeof *rec);
	if (rec != NULL)
		rec->rua = calloc(STSGUARD_RUA_MAX, sizeof *rec->rua);
	if (rec == NULL || rec->rua == NULL) {
		stsguard_tlsrpt_record_free(rec);
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	}
	struct rua_ctx ctx = {.rec = rec, .seen = false};
	st = sg_taglist_scan(chosen->data, chosen->len, "v=TLSRPTv1", on_field, &ctx, err);
	if (st == STSGUARD_OK && !ctx.seen)
		st = sg_err(err, STSGUARD_INVALID, "record has no rua field");
	if (st != STSGUARD_OK) {
		stsguard_tlsrpt_record_free(rec);
		return st;
	}
	*out = rec;
	return STSGUARD_OK;
}

void stsguard_tlsrpt_record_free(stsguard_tlsrpt_record *record)
{
	if (record == NULL)
		return;
	if (record->rua != NULL)
		for (size_t i = 0; i < record->n_rua; i++)
			free(record->rua[i]);
	free(record->rua);
	free(record);
}
