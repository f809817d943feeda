/*
 * tlsrpt_mail.c - the TLS-RPT report as a mail message (RFC 8460 §5.3) and
 * the "mailto:" rua URI it is addressed from.
 *
 * Why this layer exists: the report builder (tlsrpt_report.c) stops at the
 * gzipped JSON and its file name; mail delivery needs the exact MIME shape
 * receivers parse (multipart/report; report-type="tlsrpt", the two
 * TLS-Report-* headers), and the recipient comes from DNS, i.e. from
 * anybody. Contract: pure functions; every header value is checked for CR,
 * LF and 8-bit bytes before it is written, so no input can inject a header
 * or break the MIME structure; output is deterministic for equal input.
 */
#include "stsguard/tlsrpt_mail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* ---- mailto: (RFC 6068) ---- */

/* An LDH domain name of at least two labels: what an rua recipient may be. */
static bool ldh_domain(const char *d, size_t len)
{
	size_t label = 0, labels = 1;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c == '.') {
			if (label == 0 || d[i - 1] == '-')
				return false;
			label = 0;
			labels++;
			continue;
		}
		if (!sg_is_alnum(c) && c != '-')
			return false;
		if (label == 0 && c == '-')
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && d[len - 1] != '-' && labels >= 2;
}

/* RFC 5322 atext, minus what would be unsafe on a command line or in a header. */
static bool local_char(unsigned char c)
{
	if (sg_is_alnum(c))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL;
}

static bool addr_spec(const char *a, size_t len)
{
	const char *at = memchr(a, '@', len);
	if (at == NULL || at == a || len > STSGUARD_ADDR_MAX || a[0] == '-' || a[0] == '.')
		return false;
	size_t ll = (size_t)(at - a);
	if (a[ll - 1] == '.')
		return false;
	for (size_t i = 0; i < ll; i++) {
		if (!local_char((unsigned char)a[i]))
			return false;
		if (a[i] == '.' && a[i + 1] == '.')
			return false;
	}
	return ldh_domain(at + 1, len - ll - 1);
}

static stsguard_status mailto_parse(const char *uri, size_t len, char addrs[][STSGUARD_ADDR_MAX + 1], size_t max,
                                    size_t *n, stsguard_err *err)
{
	if (uri == NULL || addrs == NULL)
		return sg_err(err, STSGUARD_BADARG, "no URI");
	if (len > STSGUARD_RUA_URI_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "URI longer than %u bytes", STSGUARD_RUA_URI_MAX);
	if (len < 7 || !sg_ieq(uri, 7, "mailto:", 7))
		return sg_err(err, STSGUARD_INVALID, "not a mailto: URI");
	size_t pos = 7;
	const char *q = memchr(uri, '?', len);
	size_t end = q != NULL ? (size_t)(q - uri) : len;
	if (pos == end)
		return sg_err(err, STSGUARD_INVALID, "mailto: without an address");
	while (pos <= end) {
		char a[STSGUARD_ADDR_MAX + 1];
		size_t al = 0;
		while (pos < end && uri[pos] != ',') {
			unsigned char c = (unsigned char)uri[pos];
			if (c == '%') {
				int h, l;
				if (pos + 2 >= end || (h = sg_hexval((unsigned char)uri[pos + 1])) < 0 ||
				    (l = sg_hexval((unsigned char)uri[pos + 2])) < 0)
					return sg_err(err, STSGUARD_INVALID, "bad %%-escape in mailto: URI");
				c = (unsigned char)(h * 16 + l);
				pos += 3;
			} else {
				pos++;
			}
			if (al >= STSGUARD_ADDR_MAX)
				return sg_err(err, STSGUARD_INVALID, "address longer than %u bytes", STSGUARD_ADDR_MAX);
			a[al++] = (char)c;
		}
		a[al] = '\0';
		if (!addr_spec(a, al)) {
			char shown[80];
			sg_escape(shown, sizeof shown, a, al);
			return sg_err(err, STSGUARD_INVALID, "'%s' is not an address we send to", shown);
		}
		if (*n >= max || *n >= STSGUARD_MAILTO_ADDRS_MAX)
			return sg_err(err, STSGUARD_INVALID, "more than %zu addresses in one mailto: URI",
			              max < STSGUARD_MAILTO_ADDRS_MAX ? max : (size_t)STSGUARD_MAILTO_ADDRS_MAX);
		for (char *p = strchr(a, '@'); *p != '\0'; p++)
			*p = sg_lower(*p);
		memcpy(addrs[*n], a, al + 1);
		(*n)++;
		pos++; /* the ',' (or one past end) */
	}
	return STSGUARD_OK;
}

stsguard_status stsguard_tlsrpt_mailto_parse(const char *uri, size_t len, char addrs[][STSGUARD_ADDR_MAX + 1],
                                             size_t max, size_t *n, stsguard_err *err)
{
	*n = 0;
	stsguard_status st = mailto_parse(uri, len, addrs, max, n, err);
	if (st != STSGUARD_OK)
		*n = 0; /* nothing half-parsed is ever handed out */
	return st;
}

/* ---- the message ---- */

/* A header value: printable ASCII and spaces only (no CR/LF: no header injection). */
static bool header_safe(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			return false;
	return true;
}

static bool text_safe(const char *s, bool *eightbit)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return false;
		if (*p >= 0x80)
			*eightbit = true;
	}
	return true;
}

static stsguard_status add_base64(sg_buf *b, const unsigned char *d, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char line[80];
	size_t ll = 0;
	stsguard_status st = STSGUARD_OK;

	for (size_t i = 0; i < n && st == STSGUARD_OK; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)d[i + 1] << 8;
		if (i + 2 < n)
			v |= d[i + 2];
		line[ll++] = tab[(v >> 18) & 63];
		line[ll++] = tab[(v >> 12) & 63];
		line[ll++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		line[ll++] = i + 2 < n ? tab[v & 63] : '=';
		if (ll == 76) { /* RFC 2045 §6.8: at most 76 characters a line */
			line[ll++] = '\r';
			line[ll++] = '\n';
			st = sg_buf_add(b, line, ll);
			ll = 0;
		}
	}
	if (st == STSGUARD_OK && ll > 0) {
		line[ll++] = '\r';
		line[ll++] = '\n';
		st = sg_buf_add(b, line, ll);
	}
	return st;
}

/* FNV-1a, only to make a boundary that differs between messages. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

stsguard_status stsguard_tlsrpt_mail_build(const stsguard_tlsrpt_mail *m, char **out, size_t *len,
                                           stsguard_err *err)
{
	static const char *const wday[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	bool eightbit = false;
	struct tm tm;
	time_t t;
	sg_buf b;

	*out = NULL;
	if (len != NULL)
		*len = 0;
	if (m == NULL || m->to == NULL || m->gz == NULL || m->organization == NULL)
		return sg_err(err, STSGUARD_BADARG, "incomplete mail description");
	if (m->n_to == 0 || m->n_to > STSGUARD_MAILTO_ADDRS_MAX)
		return sg_err(err, STSGUARD_BADARG, "1..%u recipients", STSGUARD_MAILTO_ADDRS_MAX);
	if (m->from == NULL || !addr_spec(m->from, strlen(m->from)))
		return sg_err(err, STSGUARD_INVALID, "From is not an address");
	for (size_t i = 0; i < m->n_to; i++)
		if (m->to[i] == NULL || !addr_spec(m->to[i], strlen(m->to[i])))
			return sg_err(err, STSGUARD_INVALID, "To address %zu is not an address", i + 1);
	const char *fields[] = {m->message_id, m->policy_domain, m->submitter, m->report_id, m->day, m->filename};
	static const char *const names[] = {"message_id", "policy_domain", "submitter", "report_id", "day", "filename"};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (!header_safe(fields[i]) || strlen(fields[i]) > 700 || strchr(fields[i], '"') != NULL)
			return sg_err(err, STSGUARD_INVALID, "%s is empty, too long or not printable ASCII", names[i]);
	if (strchr(m->message_id, '@') == NULL || strchr(m->message_id, ' ') != NULL ||
	    strchr(m->report_id, ' ') != NULL || strchr(m->message_id, '>') != NULL ||
	    strchr(m->report_id, '>') != NULL)
		return sg_err(err, STSGUARD_INVALID, "message_id and report_id must be msg-ids without <>");
	if (!text_safe(m->organization, &eightbit) || strlen(m->organization) > 255)
		return sg_err(err, STSGUARD_INVALID, "organization has control characters or is too long");
	t = (time_t)m->date;
	if (m->date < 0 || gmtime_r(&t, &tm) == NULL)
		return sg_err(err, STSGUARD_INVALID, "bad date");

	char boundary[48];
	snprintf(boundary, sizeof boundary, "=_tlsrpt_%016llx", (unsigned long long)fnv1a(m->message_id));

	sg_buf_init(&b, STSGUARD_TLSRPT_MAIL_MAX);
	stsguard_status st = STSGUARD_OK;
#define ADD(...)                                          \
	do {                                              \
		if (st == STSGUARD_OK)                    \
			st = sg_buf_printf(&b, __VA_ARGS__); \
	} while (0)
	ADD("From: %s\r\n", m->from);
	ADD("Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", wday[tm.tm_wday], tm.tm_mday, mon[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	/* RFC 8460 §5.3: the recommended Subject. */
	ADD("Subject: Report Domain: %s Submitter: %s Report-ID: <%s>\r\n", m->policy_domain, m->submitter,
	    m->report_id);
	ADD("To: ");
	for (size_t i = 0; i < m->n_to; i++)
		ADD("%s%s", i > 0 ? ",\r\n\t" : "", m->to[i]);
	ADD("\r\n");
	ADD("Message-ID: <%s>\r\n", m->message_id);
	ADD("MIME-Version: 1.0\r\n");
	/* RFC 8460 §5.3: multipart/report (RFC 6522) with report-type "tlsrpt". */
	ADD("Content-Type: multipart/report; report-type=\"tlsrpt\";\r\n\tboundary=\"%s\"\r\n", boundary);
	ADD("TLS-Report-Domain: %s\r\n", m->policy_domain);
	ADD("TLS-Report-Submitter: %s\r\n", m->submitter);
	/* RFC 8460 §5.3 + RFC 8689 §4: deliver even if the receiver's TLS fails. */
	ADD("TLS-Required: No\r\n");
	ADD("Auto-Submitted: auto-generated\r\n");
	ADD("\r\n");
	ADD("This is a multi-part message in MIME format.\r\n");
	ADD("\r\n--%s\r\n", boundary);
	ADD("Content-Type: text/plain; charset=%s\r\n", eightbit ? "utf-8" : "us-ascii");
	ADD("Content-Transfer-Encoding: %s\r\n\r\n", eightbit ? "8bit" : "7bit");
	ADD("This is an aggregate TLS report (RFC 8460) from %s\r\n", m->organization);
	ADD("for the policy domain %s, UTC day %s.\r\n", m->policy_domain, m->day);
	ADD("Submitter: %s\r\n", m->submitter);
	ADD("Report-ID: <%s>\r\n", m->report_id);
	ADD("\r\n--%s\r\n", boundary);
	ADD("Content-Type: application/tlsrpt+gzip\r\n");
	ADD("Content-Transfer-Encoding: base64\r\n");
	ADD("Content-Disposition: attachment;\r\n\tfilename=\"%s\"\r\n\r\n", m->filename);
	if (st == STSGUARD_OK)
		st = add_base64(&b, m->gz, m->gz_len);
	ADD("\r\n--%s--\r\n", boundary);
#undef ADD
	if (st != STSGUARD_OK) {
		sg_buf_free(&b);
		return sg_err(err, st, st == STSGUARD_TOOBIG ? "message larger than %u bytes" : "out of memory",
		              STSGUARD_TLSRPT_MAIL_MAX);
	}
	if (len != NULL)
		*len = b.len;
	*out = sg_buf_take(&b);
	return STSGUARD_OK;
}
