/*
 * tlsrpt.h - one TLS-RPT result: what an MTA saw when it delivered (or
 * tried to deliver) to one MX host, with the policy that applied
 * (RFC 8460 §4). Adapters send these to stsguardd; the store keeps them;
 * the report builder aggregates them into one report per policy domain and
 * UTC day.
 */
#ifndef STSGUARD_TLSRPT_H
#define STSGUARD_TLSRPT_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* RFC 8460 §4.4 policy-type; numbers as sys4/libtlsrpt (Postfix 3.10) uses them. */
typedef enum stsguard_policy_type {
	STSGUARD_POLICY_TLSA = 1,
	STSGUARD_POLICY_STS = 2,
	STSGUARD_POLICY_NO_POLICY_FOUND = 9
} stsguard_policy_type;

/* RFC 8460 §4.3 result types; success is 0; failures numbered as libtlsrpt. */
typedef enum stsguard_result_type {
	STSGUARD_RESULT_SUCCESS = 0,
	STSGUARD_RESULT_STARTTLS_NOT_SUPPORTED = 201,
	STSGUARD_RESULT_CERTIFICATE_HOST_MISMATCH = 202,
	STSGUARD_RESULT_CERTIFICATE_NOT_TRUSTED = 203,
	STSGUARD_RESULT_CERTIFICATE_EXPIRED = 204,
	STSGUARD_RESULT_VALIDATION_FAILURE = 205,
	STSGUARD_RESULT_STS_POLICY_FETCH_ERROR = 301,
	STSGUARD_RESULT_STS_POLICY_INVALID = 302,
	STSGUARD_RESULT_STS_WEBPKI_INVALID = 303,
	STSGUARD_RESULT_TLSA_INVALID = 304,
	STSGUARD_RESULT_DNSSEC_INVALID = 305,
	STSGUARD_RESULT_DANE_REQUIRED = 306
} stsguard_result_type;

#define STSGUARD_TLSRPT_POLICY_STRINGS_MAX 260 /* version, mode, max_age and up to 256 mx lines */
#define STSGUARD_TLSRPT_TEXT_MAX 255           /* each text field, in bytes */

/*
 * One result. Strings are NUL-terminated, at most STSGUARD_TLSRPT_TEXT_MAX
 * bytes, valid UTF-8 (host names in A-labels); "" when unknown.
 */
typedef struct stsguard_tlsrpt_result {
	int64_t time;                      /* Unix time of the attempt (UTC day comes from it) */
	stsguard_policy_type policy_type;
	char policy_domain[256];           /* A-label, lower case */
	char policy_id[33];                /* STS policy id, "" for TLSA / no-policy-found */
	size_t n_policy_strings;           /* RFC 8460 policy-string: the policy's lines, or TLSA records */
	char **policy_strings;
	size_t n_mx_host_patterns;         /* RFC 8460 mx-host: the policy's mx patterns */
	char **mx_host_patterns;
	stsguard_result_type result;
	char sending_mta_ip[46];
	char receiving_mx_hostname[256];
	char receiving_mx_helo[256];
	char receiving_ip[46];
	char failure_reason_code[STSGUARD_TLSRPT_TEXT_MAX + 1]; /* free text, optional */
	char additional_information[STSGUARD_TLSRPT_TEXT_MAX + 1]; /* URI, optional */
} stsguard_tlsrpt_result;

/* "starttls-not-supported", ... ; "success" for 0; NULL for an unknown value. */
STSGUARD_EXPORT const char *stsguard_result_type_name(stsguard_result_type type);
/* The inverse; STSGUARD_INVALID for an unknown name. */
STSGUARD_EXPORT stsguard_status stsguard_result_type_parse(const char *name, stsguard_result_type *out);
/* "tlsa", "sts", "no-policy-found". */
STSGUARD_EXPORT const char *stsguard_policy_type_name(stsguard_policy_type type);

STSGUARD_EXPORT void stsguard_tlsrpt_result_clear(stsguard_tlsrpt_result *r);

#ifdef __cplusplus
}
#endif
#endif
