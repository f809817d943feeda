/*
 * taglist.c - scanner for the tag=value TXT record grammar of RFC 8461 §3.1
 * and RFC 8460 §3.
 *
 * Both records share one shape: a version tag, then fields separated by
 * *WSP ";" *WSP, an optional trailing delimiter, US-ASCII only. The scanner
 * enforces that shape and the field-name grammar; each caller checks its own
 * field values. Whitespace before ";" is legal (RFC 8461 erratum 6285), so
 * "v=STSv1 ; id=x" is a record, not a record to discard.
 */
#include "taglist.h"

#include <string.h>

#include "util.h"

#define NAME_MAX_LEN 32

bool sg_taglist_is_version(const char *rec, size_t len, const char *version)
{
	size_t vlen = strlen(version);

	if (len < vlen || memcmp(rec, version, vlen) != 0)
		return false;
	size_t i = vlen;
	while (i < len && sg_is_wsp((unsigned char)rec[i]))
		i++;
	return i < len && rec[i] == ';';
}

stsguard_status sg_taglist_select(const stsguard_txt *records, size_t n, const char *version,
                                  const char *what, const stsguard_txt **chosen, stsguard_err *err)
{
	size_t found = 0;

	*chosen = NULL;
	if (n > STSGUARD_TXT_RRSET_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "%zu TXT records at %s, more than the %u we accept", n, what,
		              STSGUARD_TXT_RRSET_MAX);
	for (size_t i = 0; i < n; i++) {
		if (records[i].data == NULL && records[i].len != 0)
			return sg_err(err, STSGUARD_BADARG, "TXT record %zu has no data", i + 1);
		if (records[i].len > STSGUARD_TXT_RECORD_MAX)
			return sg_err(err, STSGUARD_TOOBIG, "TXT record %zu at %s is %zu bytes, more than %u", i + 1,
			              what, records[i].len, STSGUARD_TXT_RECORD_MAX);
		if (!sg_taglist_is_version(records[i].data, records[i].len, version))
			continue;
		if (++found == 1)
			*chosen = &records[i];
	}
	if (found == 0)
		return sg_err(err, STSGUARD_NONE, "no TXT record at %s begins with \"%s;\"", what, version);
	if (found > 1) {
		*chosen = NULL;
		return sg_err(err, STSGUARD_INVALID, "%zu TXT records at %s begin with \"%s;\"; exactly one is allowed",
		              found, what, version);
	}
	return STSGUARD_OK;
}

bool sg_taglist_ext_value_ok(const char *v, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c < 0x21 || c > 0x7e || c == ';' || c == '=')
			return false;
	}
	return true;
}

static size_t skip_wsp(const char *s, size_t i, size_t len)
{
	while (i < len && sg_is_wsp((unsigned char)s[i]))
		i++;
	return i;
}

stsguard_status sg_taglist_scan(const char *rec, size_t len, const char *version, sg_tag_fn fn,
                                void *ctx, stsguard_err *err)
{
	size_t vlen = strlen(version);
	size_t i;
	size_t nfields = 0;

	if (len < vlen || memcmp(rec, version, vlen) != 0)
		return sg_err(err, STSGUARD_INVALID, "record does not begin with \"%s\"", version);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)rec[i];
		if (c >= 0x80 || (c < 0x20 && c != '\t') || c == 0x7f)
			return sg_err(err, STSGUARD_INVALID, "byte 0x%02x at offset %zu: only printable US-ASCII is allowed",
			              c, i);
	}

	i = vlen;
	for (;;) {
		/* delimiter: *WSP ";" *WSP; whitespace alone may not end the record */
		if (i == len)
			break;
		i = skip_wsp(rec, i, len);
		if (i == len)
			return sg_err(err, STSGUARD_INVALID, "whitespace at the end of the record without ';'");
		if (rec[i] != ';')
			return sg_err(err, STSGUARD_INVALID, "expected ';' at offset %zu", i);
		i = skip_wsp(rec, i + 1, len);
		if (i == len)
			break; /* trailing delimiter */

		sg_tag tag = {.name = rec + i, .index = nfields};
		size_t n0 = i;
		if (!sg_is_alnum((unsigned char)rec[i]))
			return sg_err(err, STSGUARD_INVALID, "field name at offset %zu must start with a letter or digit", i);
		while (i < len && (sg_is_alnum((unsigned char)rec[i]) || rec[i] == '_' || rec[i] == '-' || rec[i] == '.'))
			i++;
		tag.name_len = i - n0;
		if (tag.name_len > NAME_MAX_LEN)
			return sg_err(err, STSGUARD_INVALID, "field name at offset %zu is longer than %d characters", n0,
			              NAME_MAX_LEN);
		if (i == len || rec[i] != '=')
			return sg_err(err, STSGUARD_INVALID, "expected '=' after field name at offset %zu", i);
		i++;
		tag.value = rec + i;
		const char *semi = memchr(rec + i, ';', len - i);
		size_t vend = semi != NULL ? (size_t)(semi - rec) : len;
		size_t vtrim = vend;
		while (vtrim > i && sg_is_wsp((unsigned char)rec[vtrim - 1]))
			vtrim--;
		tag.value_len = vtrim - i;
		if (tag.value_len == 0) {
			char name[40];
			sg_escape(name, sizeof name, tag.name, tag.name_len);
			return sg_err(err, STSGUARD_INVALID, "field '%s' has an empty value", name);
		}
		stsguard_status st = fn(ctx, &tag, err);
		if (st != STSGUARD_OK)
			return st;
		nfields++;
		i = vtrim;
	}
	if (nfields == 0)
		return sg_err(err, STSGUARD_INVALID, "record has no fields after \"%s\"", version);
	return STSGUARD_OK;
}
