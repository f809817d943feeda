/*
 * tlsrpt_dkim.c - DKIM signature of the report mail (RFC 8460 §5.3:
 * mailed reports MUST be DKIM-signed by the reporting domain).
 *
 * Why this layer exists: canonicalisation is where hand-written DKIM goes
 * wrong, so the signing is libopendkim's (Debian's libopendkim 2.11, which
 * has ed25519-sha256 - DKIM_FEATURE_ED25519 - besides rsa-sha256). This file
 * only picks the algorithm from the key, feeds the message header by header,
 * and splices the signature in. Contract: relaxed/relaxed, the headers of
 * STSGUARD_TLSRPT_DKIM_HEADERS, never l= (RFC 8460 §5.3 forbids limiting the
 * signed body length), t= from
 * the caller's clock so equal input gives an equal signature.
 */
/* dkim.h uses the BSD types u_char, u_int, u_long. */
#define _DEFAULT_SOURCE
#include <sys/types.h>

#include "stsguard/tlsrpt_mail.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <opendkim/dkim.h>

#include "util.h"

#define DKIM_KEY_MAX (64u << 10)

/* Which DKIM algorithm the PEM key is for: rsa-sha256 or ed25519-sha256 (RFC 8463). */
static stsguard_status key_alg(const char *pem, dkim_alg_t *alg, stsguard_err *err)
{
	size_t len = strlen(pem);
	if (len == 0 || len > DKIM_KEY_MAX)
		return sg_err(err, STSGUARD_INVALID, "DKIM key empty or larger than %u bytes", DKIM_KEY_MAX);
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	EVP_PKEY *pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pk == NULL)
		return sg_err(err, STSGUARD_INVALID, "DKIM key is not a PEM private key");
	int id = EVP_PKEY_get_base_id(pk);
	int bits = EVP_PKEY_get_bits(pk);
	EVP_PKEY_free(pk);
	if (id == EVP_PKEY_RSA) {
		/* RFC 8301 §3.2: signers MUST use at least 1024 bits. */
		if (bits < 1024)
			return sg_err(err, STSGUARD_INVALID, "RSA DKIM key of %d bits: at least 1024 needed", bits);
		*alg = DKIM_SIGN_RSASHA256;
		return STSGUARD_OK;
	}
	if (id == EVP_PKEY_ED25519) {
		*alg = DKIM_SIGN_ED25519SHA256;
		return STSGUARD_OK;
	}
	return sg_err(err, STSGUARD_INVALID, "DKIM key is neither RSA nor Ed25519");
}

stsguard_status stsguard_tlsrpt_dkim_sign(const char *msg, size_t len, const stsguard_tlsrpt_dkim *dk,
                                          int64_t now, char **out, size_t *outlen, stsguard_err *err)
{
	static const char *const signhdrs[] = {STSGUARD_TLSRPT_DKIM_HEADERS, NULL};
	dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
	DKIM_STAT ds = DKIM_STAT_OK;
	stsguard_status st;

	*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if (msg == NULL || dk == NULL || dk->key_pem == NULL || dk->selector == NULL || dk->domain == NULL || now < 0)
		return sg_err(err, STSGUARD_BADARG, "DKIM: missing message, key, selector or domain");
	if (len > STSGUARD_TLSRPT_MAIL_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "message too big to sign");
	if ((st = key_alg(dk->key_pem, &alg, err)) != STSGUARD_OK)
		return st;

	/* The header block ends at the first empty line. */
	const char *eoh = NULL;
	for (size_t i = 0; i + 3 < len; i++)
		if (memcmp(msg + i, "\r\n\r\n", 4) == 0) {
			eoh = msg + i;
			break;
		}
	if (eoh == NULL)
		return sg_err(err, STSGUARD_INVALID, "DKIM: message without a header/body separator");

	DKIM_LIB *lib = dkim_init(NULL, NULL);
	if (lib == NULL)
		return sg_err(err, STSGUARD_NOMEM, "dkim_init failed");
	if (alg == DKIM_SIGN_ED25519SHA256 && !dkim_libfeature(lib, DKIM_FEATURE_ED25519)) {
		dkim_close(lib);
		return sg_err(err, STSGUARD_NONE, "this libopendkim has no Ed25519 support");
	}
	uint64_t fixed = (uint64_t)now;
	if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, (void *)(uintptr_t)signhdrs, sizeof(char **)) != DKIM_STAT_OK ||
	    dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FIXEDTIME, &fixed, sizeof fixed) != DKIM_STAT_OK) {
		dkim_close(lib);
		return sg_err(err, STSGUARD_INVALID, "dkim_options refused");
	}
	/* length -1: no l= tag (RFC 8460 §5.3). */
	DKIM *d = dkim_sign(lib, (const unsigned char *)"tlsrpt", NULL, (dkim_sigkey_t)(uintptr_t)dk->key_pem,
	                    (const unsigned char *)dk->selector, (const unsigned char *)dk->domain, DKIM_CANON_RELAXED,
	                    DKIM_CANON_RELAXED, alg, -1, &ds);
	if (d == NULL) {
		dkim_close(lib);
		return sg_err(err, STSGUARD_INVALID, "dkim_sign: %s", dkim_getresultstr(ds));
	}

	/* One dkim_header() call per header field, continuation lines included, without the final CRLF. */
	const char *p = msg, *hend = eoh + 2;
	while (ds == DKIM_STAT_OK && p < hend) {
		const char *e = p;
		for (;;) {
			const char *crlf = memchr(e, '\r', (size_t)(hend - e));
			if (crlf == NULL || crlf + 1 >= hend || crlf[1] != '\n') {
				e = hend;
				break;
			}
			e = crlf + 2;
			if (e >= hend || (*e != ' ' && *e != '\t'))
				break;
		}
		size_t fl = (size_t)(e - p);
		if (fl >= 2 && p[fl - 2] == '\r')
			fl -= 2;
		ds = dkim_header(d, (unsigned char *)(uintptr_t)p, fl);
		p = e;
	}
	if (ds == DKIM_STAT_OK)
		ds = dkim_eoh(d);
	if (ds == DKIM_STAT_OK)
		ds = dkim_body(d, (unsigned char *)(uintptr_t)(eoh + 4), len - (size_t)(eoh + 4 - msg));
	if (ds == DKIM_STAT_OK)
		ds = dkim_eom(d, NULL);
	unsigned char *sig = NULL;
	size_t siglen = 0;
	static const char name[] = "DKIM-Signature: ";
	if (ds == DKIM_STAT_OK)
		ds = dkim_getsighdr_d(d, sizeof name - 1, &sig, &siglen);
	if (ds != DKIM_STAT_OK) {
		const char *why = dkim_geterror(d);
		sg_err(err, STSGUARD_INVALID, "DKIM signing failed: %s", why != NULL && *why ? why : dkim_getresultstr(ds));
		dkim_free(d);
		dkim_close(lib);
		return STSGUARD_INVALID;
	}

	/* libopendkim folds with bare LF: the message is CRLF throughout. */
	sg_buf b;
	sg_buf_init(&b, STSGUARD_TLSRPT_MAIL_MAX + 8192);
	st = sg_buf_add(&b, name, sizeof name - 1);
	for (size_t i = 0; i < siglen && st == STSGUARD_OK; i++) {
		if (sig[i] == '\n' && (i == 0 || sig[i - 1] != '\r'))
			st = sg_buf_add(&b, "\r\n", 2);
		else
			st = sg_buf_add(&b, &sig[i], 1);
	}
	if (st == STSGUARD_OK)
		st = sg_buf_add(&b, "\r\n", 2);
	if (st == STSGUARD_OK)
		st = sg_buf_add(&b, msg, len);
	dkim_free(d);
	dkim_close(lib);
	if (st != STSGUARD_OK) {
		sg_buf_free(&b);
		return sg_err(err, st, "out of memory");
	}
	if (outlen != NULL)
		*outlen = b.len;
	*out = sg_buf_take(&b);
	return STSGUARD_OK;
}
