/*
 * sts_txt.c - the _mta-sts TXT record (RFC 8461 §3.1).
 *
 *   sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
 *   sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
 *
 * The id is the only thing we need from the record: a changed id tells us a
 * new policy is published (§3.3). A record that is not exactly right means
 * "no available policy" - but only for discovery: the caller must keep using
 * a cached policy (§3.3, §5.1), which is why this returns INVALID and NONE
 * distinctly instead of one "no policy".
 */
#include "stsguard/sts_txt.h"

#include <string.h>

#include "taglist.h"
#include "util.h"

struct id_ctx {
	char *id;
	bool seen;
};

static stsguard_status on_field(void *vctx, const sg_tag *tag, stsguard_err *err)
{
	struct id_ctx *ctx = vctx;
	char shown[80];

	sg_escape(shown, sizeof shown, tag->value, tag->value_len);
	if (tag->name_len == 2 && memcmp(tag->name, "id", 2) == 0) {
		if (tag->value_len > STSGUARD_POLICY_ID_MAX)
			return sg_err(err, STSGUARD_INVALID, "id '%s' is longer than %d characters", shown,
			              STSGUARD_POLICY_ID_MAX);
		for (size_t i = 0; i < tag->value_len; i++)
			if (!sg_is_alnum((unsigned char)tag->value[i]))
				return sg_err(err, STSGUARD_INVALID, "id '%s' may hold only letters and digits", shown);
		/* RFC 8461 §3.2: of a duplicated field only the first counts. */
		if (!ctx->seen) {
			memcpy(ctx->id, tag->value, tag->value_len);
			ctx->id[tag->value_len] = '\0';
			ctx->seen = true;
		}
		return STSGUARD_OK;
	}
	if (!sg_taglist_ext_value_ok(tag->value, tag->value_len))
		return sg_err(err, STSGUARD_INVALID, "extension field value '%s' has a character not allowed", shown);
	return STSGUARD_OK;
}

stsguard_status stsguard_sts_txt_parse(const stsguard_txt *records, size_t n,
                                       char id[STSGUARD_POLICY_ID_MAX + 1], stsguard_err *err)
{
	const stsguard_txt *rec;
	stsguard_status st;

	if (id == NULL || (records == NULL && n != 0))
		return sg_err(err, STSGUARD_BADARG, "no output buffer or records");
	id[0] = '\0';
	st = sg_taglist_select(records, n, "v=STSv1", "_mta-sts", &rec, err);
	if (st != STSGUARD_OK)
		return st;

	char tmp[STSGUARD_POLICY_ID_MAX + 1] = "";
	struct id_ctx ctx = {.id = tmp, .seen = false};
	st = sg_taglist_scan(rec->data, rec->len, "v=STSv1", on_field, &ctx, err);
	if (st != STSGUARD_OK)
		return st;
	if (!ctx.seen)
		return sg_err(err, STSGUARD_INVALID, "record has no id field");
	memcpy(id, tmp, sizeof tmp);
	return STSGUARD_OK;
}
