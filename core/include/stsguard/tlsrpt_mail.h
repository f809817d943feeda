/*
 * tlsrpt_mail.h - the report as mail (RFC 8460 §5.3): the rua "mailto:"
 * URI, the multipart/report message, and its DKIM signature.
 *
 * Pure functions of their input (the DKIM signer takes the signing time as
 * an argument): no clock, no I/O except reading nothing at all - the key is
 * passed as PEM text.
 */
#ifndef STSGUARD_TLSRPT_MAIL_H
#define STSGUARD_TLSRPT_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STSGUARD_ADDR_MAX 254u        /* one addr-spec (RFC 5321 §4.5.3.1.3 path limit minus <>) */
#define STSGUARD_MAILTO_ADDRS_MAX 8u  /* addresses taken from one mailto: URI */
#define STSGUARD_RUA_URI_MAX 2048u    /* longest rua URI looked at */
#define STSGUARD_TLSRPT_MAIL_MAX (16u << 20) /* one rendered message */

/*
 * The addresses of an rua "mailto:" URI (RFC 6068): "mailto:" (any case),
 * then one or more addr-specs separated by ",", each %-decoded; anything
 * from "?" on (hfields) is ignored. Each address must be a dot-atom or
 * plain local part "@" an LDH domain, printable ASCII without space, '<',
 * '>', '"', '(' , ')', ',', ';', '\\' and not beginning with '-' (it becomes a
 * sendmail argument), at most STSGUARD_ADDR_MAX bytes; the domain is
 * lower-cased. Up to STSGUARD_MAILTO_ADDRS_MAX addresses.
 * STSGUARD_INVALID / STSGUARD_TOOBIG (uri longer than STSGUARD_RUA_URI_MAX)
 * with err saying why, and *n = 0. addrs[i] are NUL-terminated on STSGUARD_OK.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_mailto_parse(const char *uri, size_t len,
                                                             char addrs[][STSGUARD_ADDR_MAX + 1], size_t max,
                                                             size_t *n, stsguard_err *err);

/* Everything the report mail says. Strings are read, never kept. */
typedef struct stsguard_tlsrpt_mail {
	const char *from;            /* addr-spec, the From: header (and envelope sender) */
	const char *const *to;       /* addr-specs for To: */
	size_t n_to;                 /* 1..STSGUARD_MAILTO_ADDRS_MAX */
	int64_t date;                /* Unix time for Date: */
	const char *message_id;      /* "left@right", written as <left@right> */
	const char *policy_domain;   /* TLS-Report-Domain */
	const char *submitter;       /* TLS-Report-Submitter */
	const char *report_id;       /* the JSON report-id, a msg-id without <> */
	const char *day;             /* "YYYY-MM-DD", for the text part */
	const char *organization;    /* organization-name, for the text part (UTF-8) */
	const char *filename;        /* the RFC 8460 §5.1 name of the attachment */
	const unsigned char *gz;     /* the gzipped JSON report */
	size_t gz_len;
} stsguard_tlsrpt_mail;

/*
 * Render the RFC 8460 §5.3 message: CRLF line ends, 7-bit headers,
 *
 *   From, Date (RFC 5322 §3.3, +0000), Subject "Report Domain: D
 *   Submitter: S Report-ID: <ID>" (the form §5.3 recommends), To,
 *   Message-ID, MIME-Version, Content-Type multipart/report;
 *   report-type="tlsrpt", TLS-Report-Domain, TLS-Report-Submitter,
 *   TLS-Required: No (RFC 8689: the report must get through even when the
 *   receiver's TLS is broken, RFC 8460 §5.3), Auto-Submitted:
 *   auto-generated (RFC 3834: no auto-replies to it)
 *
 * and two parts: a short text/plain explanation and the application/
 * tlsrpt+gzip attachment in base64 (76-column lines) named filename. The
 * boundary is derived from message_id and cannot occur in either part.
 * Equal input gives equal bytes. *out is new for free(), NUL-terminated;
 * *len its length. STSGUARD_INVALID when a header value would carry CR, LF
 * or (other than organization) non-ASCII bytes, or an address is not an
 * addr-spec; STSGUARD_TOOBIG past STSGUARD_TLSRPT_MAIL_MAX.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_mail_build(const stsguard_tlsrpt_mail *m, char **out, size_t *len,
                                                           stsguard_err *err);

/* The headers a report signature covers (RFC 8460 §5.3 requires DKIM; these are what a receiver relies on). */
#define STSGUARD_TLSRPT_DKIM_HEADERS \
	"From", "To", "Subject", "Date", "Message-ID", "TLS-Report-Domain", "TLS-Report-Submitter", "MIME-Version", \
	    "Content-Type"

typedef struct stsguard_tlsrpt_dkim {
	const char *key_pem;   /* PEM private key text: RSA (rsa-sha256) or Ed25519 (ed25519-sha256, RFC 8463) */
	const char *selector;  /* s= ; RFC 8460 §5.3 suggests "tlsrpt" */
	const char *domain;    /* d= */
} stsguard_tlsrpt_dkim;

/*
 * Sign msg (a complete CRLF message as stsguard_tlsrpt_mail_build makes
 * it) with libopendkim: relaxed/relaxed, the STSGUARD_TLSRPT_DKIM_HEADERS
 * that are present, no l= (RFC 8460 §5.3: a length limit would let anything
 * be appended), t= the given time. *out is the message with the
 * DKIM-Signature header prepended (CRLF), new for free(). STSGUARD_INVALID:
 * the key is neither RSA nor Ed25519, or libopendkim refused it (err has
 * its text); STSGUARD_NONE: this libopendkim cannot do Ed25519.
 */
STSGUARD_EXPORT stsguard_status stsguard_tlsrpt_dkim_sign(const char *msg, size_t len,
                                                          const stsguard_tlsrpt_dkim *dkim, int64_t now,
                                                          char **out, size_t *outlen, stsguard_err *err);

#ifdef __cplusplus
}
#endif
#endif
