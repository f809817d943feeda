/*
 * tlsrpt_report.c - the RFC 8460 §4 aggregate report of one UTC day.
 *
 * The aggregator takes the results of one UTC day one at a time and keeps,
 * per policy domain, one entry per applied policy (policy-type,
 * policy-string, policy-domain, mx-host: §4.4 "policy") with its success and
 * failure counts, and under it the failed sessions grouped by (result-type,
 * sending-mta-ip, receiving-ip, receiving-mx-hostname, receiving-mx-helo,
 * failure-reason-code, additional-information) with a count each. Domains,
 * policies and groups are kept in sorted arrays, so rendering walks them in
 * order and a report is a pure function of the results fed, in any order:
 * golden files stay byte for byte.
 *
 * Contract: the caller owns the clock and the store; we only count. A result
 * is either refused whole (nothing recorded, a status saying why) or counted
 * exactly once in the success or failure total of its policy entry; caps
 * (tlsrpt_report.h) may move it into a catch-all policy or summary detail
 * entry but never out of the totals. Every byte we emit is valid UTF-8 and
 * correctly escaped JSON, whatever the adapters sent: free text that is not
 * UTF-8 is repaired at add time, so grouping sees what the report shows.
 *
 * The size of the rendered report is bounded while counting: each new entry
 * is charged an upper bound of its JSON size against max_report_bytes, and
 * room for the catch-all and summary entries is charged in advance, so the
 * renderer can never hit its buffer cap.
 *
 * Days and type names are local: tlsrpt_result.c (stsguard_tlsrpt_day_parse,
 * stsguard_result_type_name) was written in parallel and did not exist yet;
 * test_tlsrpt_report.c checks that both spell and count the same.
 */
#include "stsguard/tlsrpt_report.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define ZLIB_CONST
#include <zlib.h>

#include "stsguard/policy.h"
#include "util.h"

#define DAY_SECONDS INT64_C(86400)
#define YEAR_MIN 1970
#define YEAR_MAX 9999
#define DOMAIN_MAX 253
#define LABEL_MAX 63
#define N_RESULT_TYPES 11 /* RFC 8460 §4.3 failure types */
#define N_POLICY_TYPES 3
#define MX_PATTERNS_MAX STSGUARD_POLICY_MX_MAX
/* Bytes a cleaned text field of at most STSGUARD_TLSRPT_TEXT_MAX bytes may need. */
#define CLEAN_MAX (3 * STSGUARD_TLSRPT_TEXT_MAX + 1)

/*
 * Upper bounds of JSON bytes, for the report budget. DETAIL_FIXED covers the
 * eight key names of a failure-details entry, their punctuation, the longest
 * result-type name and a 20-digit count; POLICY_FIXED the keys and
 * punctuation of a policies entry with its summary, the longest policy-type
 * name and two 20-digit counts; HEADER_ROOM the top-level fields with
 * organization-name and contact-info at their caps (they may not contain
 * control characters, so escaping at most doubles them) and the report-id.
 */
#define DETAIL_FIXED 256u
#define POLICY_FIXED 384u
#define HEADER_ROOM 4096u
/* A summary detail group: fixed part plus its failure-reason-code. */
#define SUMMARY_DETAIL_COST (DETAIL_FIXED + sizeof(STSGUARD_TLSRPT_REPORT_SUMMARY_REASON) + 1u)
/* Room every policy entry reserves for up to one summary group per result type. */
#define SUMMARY_ROOM (N_RESULT_TYPES * SUMMARY_DETAIL_COST)

/* Failure-detail key fields, in sort order. */
enum detail_field {
	F_SENDING_IP,
	F_RECEIVING_IP,
	F_MX_HOSTNAME,
	F_MX_HELO,
	F_REASON,
	F_INFO,
	N_FIELDS
};

struct detail {
	stsguard_result_type type;
	char *field[N_FIELDS]; /* NULL: unknown, omitted from the report */
	uint64_t count;
};

struct policy {
	stsguard_policy_type type;
	size_t n_strings;
	char **strings;
	size_t n_mx;
	char **mx;
	uint64_t success, failure;
	size_t n_details, cap_details;
	struct detail *details;      /* sorted by detail_cmp() */
	size_t n_admitted;           /* detail groups admitted under max_details */
};

struct domain {
	char *name;
	size_t n_policies, cap_policies;
	struct policy *policies;     /* sorted by policy_cmp() */
	size_t n_admitted;           /* policies admitted under max_policies */
	size_t report_bytes;         /* upper bound of the rendered report */
	uint64_t success, failure, summarised_policy, summarised_detail;
	size_t n_details;
};

struct stsguard_tlsrpt_report {
	char day[11];
	int64_t day_start;
	stsguard_tlsrpt_report_limits lim;
	size_t n_domains, cap_domains;
	struct domain *domains;      /* sorted by name */
	size_t memory;
	uint64_t refused;
};

/* A policy key built from one result; points into memory owned by the caller. */
struct pkey {
	stsguard_policy_type type;
	size_t n_strings;
	char **strings;
	size_t n_mx;
	char **mx;
};

/* A detail key built from one result. */
struct dkey {
	stsguard_result_type type;
	const char *field[N_FIELDS]; /* NULL when unknown */
};

/* ---- names (RFC 8460 §4.3, §4.4) ---------------------------------------- */

static const char *result_name(stsguard_result_type t)
{
	switch (t) {
	case STSGUARD_RESULT_SUCCESS: return "success";
	case STSGUARD_RESULT_STARTTLS_NOT_SUPPORTED: return "starttls-not-supported";
	case STSGUARD_RESULT_CERTIFICATE_HOST_MISMATCH: return "certificate-host-mismatch";
	case STSGUARD_RESULT_CERTIFICATE_NOT_TRUSTED: return "certificate-not-trusted";
	case STSGUARD_RESULT_CERTIFICATE_EXPIRED: return "certificate-expired";
	case STSGUARD_RESULT_VALIDATION_FAILURE: return "validation-failure";
	case STSGUARD_RESULT_STS_POLICY_FETCH_ERROR: return "sts-policy-fetch-error";
	case STSGUARD_RESULT_STS_POLICY_INVALID: return "sts-policy-invalid";
	case STSGUARD_RESULT_STS_WEBPKI_INVALID: return "sts-webpki-invalid";
	case STSGUARD_RESULT_TLSA_INVALID: return "tlsa-invalid";
	case STSGUARD_RESULT_DNSSEC_INVALID: return "dnssec-invalid";
	case STSGUARD_RESULT_DANE_REQUIRED: return "dane-required";
	}
	return NULL;
}

static const char *policy_name(stsguard_policy_type t)
{
	switch (t) {
	case STSGUARD_POLICY_TLSA: return "tlsa";
	case STSGUARD_POLICY_STS: return "sts";
	case STSGUARD_POLICY_NO_POLICY_FOUND: return "no-policy-found";
	}
	return NULL;
}

/* ---- days ---------------------------------------------------------------- */

/* Offset and width of year, month and day in "YYYY-MM-DD". */
static const int day_fields[3][2] = {{0, 4}, {5, 2}, {8, 2}};

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DD" of Unix time t (t >= 0). */
static void day_name(int64_t t, char out[11])
{
	int64_t z = t / DAY_SECONDS + 719468;
	int64_t era = z / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	int64_t y = yoe + era * 400 + (m <= 2);
	int64_t v[3] = {y, m, d};
	for (int f = 0; f < 3; f++)
		for (int i = day_fields[f][1] - 1; i >= 0; i--) {
			out[day_fields[f][0] + i] = (char)('0' + v[f] % 10);
			v[f] /= 10;
		}
	out[4] = out[7] = '-';
	out[10] = '\0';
}

static bool leap_year(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Exactly "YYYY-MM-DD", a real date of year 1970..9999; *start is its 00:00:00Z. */
static bool day_parse(const char *day, int64_t *start)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int64_t v[3] = {0, 0, 0};

	if (day == NULL || strnlen(day, 11) != 10 || day[4] != '-' || day[7] != '-')
		return false;
	for (int f = 0; f < 3; f++)
		for (int i = 0; i < day_fields[f][1]; i++) {
			unsigned char c = (unsigned char)day[day_fields[f][0] + i];
			if (!sg_is_digit(c))
				return false;
			v[f] = v[f] * 10 + (c - '0');
		}
	if (v[0] < YEAR_MIN || v[0] > YEAR_MAX || v[1] < 1 || v[1] > 12 || v[2] < 1)
		return false;
	if (v[2] > mdays[v[1] - 1] + (v[1] == 2 && leap_year(v[0])))
		return false;
	*start = days_from_civil(v[0], v[1], v[2]) * DAY_SECONDS;
	return true;
}

/* ---- text ---------------------------------------------------------------- */

/*
 * Copy len bytes into out as well-formed UTF-8 (RFC 3629): each maximal
 * subpart of an ill-formed sequence becomes one U+FFFD (Unicode §3.9's
 * recommended practice, also what WHATWG decoders do). out needs 3 * len + 1
 * bytes. Returns the length written.
 */
static size_t utf8_clean(const char *in, size_t len, char *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, o = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t need = 0;
		unsigned char lo = 0x80, hi = 0xbf;
		if (c < 0x80) {
			out[o++] = (char)c;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0; /* no overlongs */
			else if (c == 0xed)
				hi = 0x9f; /* no surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f; /* nothing above U+10FFFF */
		}
		size_t k = 1;
		if (need > 0 && i + 1 < len && s[i + 1] >= lo && s[i + 1] <= hi) {
			k = 2;
			while (k <= need && i + k < len && (s[i + k] & 0xc0) == 0x80)
				k++;
		}
		if (need > 0 && k == need + 1) {
			memcpy(out + o, s + i, k);
			o += k;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
		}
		i += k;
	}
	out[o] = '\0';
	return o;
}

/* Lower-case ASCII letters in place and drop one trailing dot (host names). */
static void host_fold(char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++)
		s[i] = sg_lower(s[i]);
	if (n > 1 && s[n - 1] == '.')
		s[n - 1] = '\0';
}

/*
 * An LDH domain name (RFC 5321 §4.1.2; IDNs as A-labels, RFC 8460 §4.4),
 * lower-cased into out without a trailing dot. '_' is tolerated in labels.
 */
static bool domain_normalise(const char *in, char out[DOMAIN_MAX + 1])
{
	size_t len = strnlen(in, DOMAIN_MAX + 2);
	size_t label = 0;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = sg_lower(in[i]);
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (sg_is_alnum((unsigned char)c) || c == '-' || c == '_') {
			if (++label > LABEL_MAX)
				return false;
		} else {
			return false;
		}
		out[i] = c;
	}
	out[len] = '\0';
	return true;
}

/* "" stays ""; an address inet_pton(3) takes is respelled by inet_ntop(3) (RFC 5952 for IPv6). */
static bool ip_normalise(const char *in, char out[INET6_ADDRSTRLEN])
{
	unsigned char bin[sizeof(struct in6_addr)];

	out[0] = '\0';
	if (in[0] == '\0')
		return true;
	if (inet_pton(AF_INET, in, bin) == 1)
		return inet_ntop(AF_INET, bin, out, INET6_ADDRSTRLEN) != NULL;
	if (inet_pton(AF_INET6, in, bin) == 1)
		return inet_ntop(AF_INET6, bin, out, INET6_ADDRSTRLEN) != NULL;
	return false;
}

/* Printable UTF-8 of 1..max bytes: no control characters, nothing ill-formed. */
static bool meta_text_ok(const char *s, size_t max)
{
	size_t len;
	char clean[3 * STSGUARD_TLSRPT_REPORT_META_MAX + 1];

	if (s == NULL)
		return false;
	len = strnlen(s, max + 1);
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return utf8_clean(s, len, clean) == len && memcmp(clean, s, len) == 0;
}

/* RFC 8460 §5.1 unique-id = 1*(ALPHA / DIGIT); NULL and "" mean none. */
static bool unique_id_ok(const char *u)
{
	size_t len;

	if (u == NULL)
		return true;
	len = strnlen(u, STSGUARD_TLSRPT_REPORT_UNIQUE_ID_MAX + 1);
	if (len > STSGUARD_TLSRPT_REPORT_UNIQUE_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!sg_is_alnum((unsigned char)u[i]))
			return false;
	return true;
}

/* ---- JSON size bounds ------------------------------------------------------ */

/* Exactly what sg_buf_json_str() writes for s, quotes included. */
static size_t json_str_cost(const char *s)
{
	size_t n = 2;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			n += 2;
		else if (*p < 0x20 || *p == 0x7f)
			n += 6;
		else
			n += 1;
	}
	return n;
}

static size_t strv_cost(size_t n, char *const *v)
{
	size_t t = 0;
	for (size_t i = 0; i < n; i++)
		t += json_str_cost(v[i]) + 1; /* and a comma */
	return t;
}

static size_t catchall_cost(const char *domain)
{
	return POLICY_FIXED + json_str_cost(domain) + SUMMARY_ROOM + sizeof(struct policy);
}

static size_t domain_cost(const char *domain)
{
	return HEADER_ROOM + N_POLICY_TYPES * catchall_cost(domain) + sizeof(struct domain);
}

static size_t policy_cost(const char *domain, const struct pkey *k)
{
	return POLICY_FIXED + json_str_cost(domain) + strv_cost(k->n_strings, k->strings) +
	       strv_cost(k->n_mx, k->mx) + SUMMARY_ROOM + sizeof(struct policy);
}

static size_t detail_cost(const struct dkey *k)
{
	size_t t = DETAIL_FIXED + sizeof(struct detail);
	for (int f = 0; f < N_FIELDS; f++)
		if (k->field[f] != NULL)
			t += json_str_cost(k->field[f]);
	return t;
}

/* ---- ordering ------------------------------------------------------------- */

static int strv_cmp(size_t na, char *const *a, size_t nb, char *const *b)
{
	for (size_t i = 0; i < na && i < nb; i++) {
		int c = strcmp(a[i], b[i]);
		if (c != 0)
			return c;
	}
	return na < nb ? -1 : na > nb ? 1 : 0;
}

/* By policy-type name, then policy-string, then mx-host, element by element in byte order. */
static int policy_cmp(const struct policy *p, const struct pkey *k)
{
	int c = strcmp(policy_name(p->type), policy_name(k->type));
	if (c == 0)
		c = strv_cmp(p->n_strings, p->strings, k->n_strings, k->strings);
	if (c == 0)
		c = strv_cmp(p->n_mx, p->mx, k->n_mx, k->mx);
	return c;
}

/* By result-type name, then the key fields in enum order; an unknown field sorts first. */
static int detail_cmp(const struct detail *d, const struct dkey *k)
{
	int c = strcmp(result_name(d->type), result_name(k->type));
	for (int f = 0; c == 0 && f < N_FIELDS; f++)
		c = strcmp(d->field[f] != NULL ? d->field[f] : "", k->field[f] != NULL ? k->field[f] : "");
	return c;
}

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort and drop duplicates; returns the new count. */
static size_t sort_unique(char **v, size_t n)
{
	size_t o = 0;
	if (n == 0)
		return 0;
	qsort(v, n, sizeof *v, str_ptr_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(v[i], v[o]) != 0)
			v[++o] = v[i];
	return o + 1;
}

/* Binary searches: true when found; *at is the index found or the insertion point. */
/*
 * Binary search in a sorted array: true with *at = the match, or false with
 * *at = where the key would be inserted. cmp(element, key) like strcmp.
 */
static bool bsearch_at(const void *base, size_t n, size_t size, const void *key,
                       int (*cmp)(const void *elem, const void *key), size_t *at)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp((const char *)base + mid * size, key);
		if (c == 0) {
			*at = mid;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return false;
}

static int domain_elem_cmp(const void *elem, const void *key)
{
	return strcmp(((const struct domain *)elem)->name, key);
}

static int policy_elem_cmp(const void *elem, const void *key)
{
	return policy_cmp(elem, key);
}

static int detail_elem_cmp(const void *elem, const void *key)
{
	return detail_cmp(elem, key);
}

static bool find_domain(const stsguard_tlsrpt_report *agg, const char *name, size_t *at)
{
	return bsearch_at(agg->domains, agg->n_domains, sizeof agg->domains[0], name, domain_elem_cmp, at);
}

static bool find_policy(const struct domain *d, const struct pkey *k, size_t *at)
{
	return bsearch_at(d->policies, d->n_policies, sizeof d->policies[0], k, policy_elem_cmp, at);
}

static bool find_detail(const struct policy *p, const struct dkey *k, size_t *at)
{
	return bsearch_at(p->details, p->n_details, sizeof p->details[0], k, detail_elem_cmp, at);
}

/*
 * Room for one more element of size elem in arr (capacity *cap, count n):
 * returns arr or its reallocation (with *cap updated), NULL when out of memory
 * (arr and *cap unchanged).
 */
static void *grow(void *arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return arr;
	size_t ncap = *cap != 0 ? *cap * 2 : 4;
	void *p = realloc(arr, ncap * elem);
	if (p != NULL)
		*cap = ncap;
	return p;
}

static void insert_at(void *arr, size_t n, size_t at, size_t elem, const void *item)
{
	char *base = arr;
	memmove(base + (at + 1) * elem, base + at * elem, (n - at) * elem);
	memcpy(base + at * elem, item, elem);
}

/* ---- owned copies ----------------------------------------------------------- */

static void strv_free(size_t n, char **v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static bool strv_dup(size_t n, char *const *src, char ***out)
{
	*out = NULL;
	if (n == 0)
		return true;
	char **v = calloc(n, sizeof *v);
	if (v == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		v[i] = sg_strndup(src[i], strlen(src[i]));
		if (v[i] == NULL) {
			strv_free(i, v);
			return false;
		}
	}
	*out = v;
	return true;
}

static void detail_free(struct detail *d)
{
	for (int f = 0; f < N_FIELDS; f++)
		free(d->field[f]);
}

static bool detail_init(struct detail *d, const struct dkey *k)
{
	memset(d, 0, sizeof *d);
	d->type = k->type;
	for (int f = 0; f < N_FIELDS; f++) {
		if (k->field[f] == NULL)
			continue;
		d->field[f] = sg_strndup(k->field[f], strlen(k->field[f]));
		if (d->field[f] == NULL) {
			detail_free(d);
			return false;
		}
	}
	return true;
}

static void policy_free(struct policy *p)
{
	strv_free(p->n_strings, p->strings);
	strv_free(p->n_mx, p->mx);
	for (size_t i = 0; i < p->n_details; i++)
		detail_free(&p->details[i]);
	free(p->details);
}

static bool policy_init(struct policy *p, const struct pkey *k)
{
	memset(p, 0, sizeof *p);
	p->type = k->type;
	if (!strv_dup(k->n_strings, k->strings, &p->strings))
		return false;
	p->n_strings = k->n_strings;
	if (!strv_dup(k->n_mx, k->mx, &p->mx)) {
		policy_free(p);
		return false;
	}
	p->n_mx = k->n_mx;
	return true;
}

static void domain_free(struct domain *d)
{
	for (size_t i = 0; i < d->n_policies; i++)
		policy_free(&d->policies[i]);
	free(d->policies);
	free(d->name);
}

/* ---- the aggregator -------------------------------------------------------- */


stsguard_status stsguard_tlsrpt_report_new(const char *day, const stsguard_tlsrpt_report_limits *limits,
                                           stsguard_tlsrpt_report **out, stsguard_err *err)
{
	stsguard_tlsrpt_report_limits lim = {
		STSGUARD_TLSRPT_REPORT_MAX_DOMAINS, STSGUARD_TLSRPT_REPORT_MAX_POLICIES,
		STSGUARD_TLSRPT_REPORT_MAX_DETAILS, STSGUARD_TLSRPT_REPORT_MAX_REPORT_BYTES,
		STSGUARD_TLSRPT_REPORT_MAX_MEMORY,
	};
	int64_t start;

	if (out == NULL)
		return sg_err(err, STSGUARD_BADARG, "no place for the aggregator");
	*out = NULL;
	if (day == NULL)
		return sg_err(err, STSGUARD_BADARG, "no day");
	if (!day_parse(day, &start)) {
		char shown[64];
		sg_escape(shown, sizeof shown, day, strnlen(day, 32));
		return sg_err(err, STSGUARD_INVALID, "day '%s' is not a YYYY-MM-DD date of %d..%d", shown, YEAR_MIN,
		              YEAR_MAX);
	}
	if (limits != NULL) {
		if (limits->max_domains != 0)
			lim.max_domains = limits->max_domains;
		if (limits->max_policies != 0)
			lim.max_policies = limits->max_policies;
		if (limits->max_details != 0)
			lim.max_details = limits->max_details;
		if (limits->max_report_bytes != 0)
			lim.max_report_bytes = limits->max_report_bytes;
		if (limits->max_memory != 0)
			lim.max_memory = limits->max_memory;
	}
	if (lim.max_report_bytes < STSGUARD_TLSRPT_REPORT_MIN_REPORT_BYTES)
		return sg_err(err, STSGUARD_BADARG, "max_report_bytes %zu is below the minimum %u", lim.max_report_bytes,
		              STSGUARD_TLSRPT_REPORT_MIN_REPORT_BYTES);
	if (lim.max_memory < STSGUARD_TLSRPT_REPORT_MIN_MEMORY)
		return sg_err(err, STSGUARD_BADARG, "max_memory %zu is below the minimum %u", lim.max_memory,
		              STSGUARD_TLSRPT_REPORT_MIN_MEMORY);

	stsguard_tlsrpt_report *agg = calloc(1, sizeof *agg);
	if (agg == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	memcpy(agg->day, day, 10);
	agg->day[10] = '\0';
	agg->day_start = start;
	agg->lim = lim;
	agg->memory = sizeof *agg;
	*out = agg;
	return STSGUARD_OK;
}

void stsguard_tlsrpt_report_free(stsguard_tlsrpt_report *agg)
{
	if (agg == NULL)
		return;
	for (size_t i = 0; i < agg->n_domains; i++)
		domain_free(&agg->domains[i]);
	free(agg->domains);
	free(agg);
}

const char *stsguard_tlsrpt_report_day(const stsguard_tlsrpt_report *agg)
{
	return agg != NULL ? agg->day : NULL;
}

/*
 * The cleaned policy strings and mx patterns of r, in one new block (*block,
 * for free(); NULL when there are none) that k points into.
 */
static stsguard_status build_pkey(const stsguard_tlsrpt_result *r, struct pkey *k, void **block, stsguard_err *err)
{
	size_t ns = 0, nm = 0, bytes = 0;

	*block = NULL;
	memset(k, 0, sizeof *k);
	k->type = r->policy_type;
	if (r->policy_type != STSGUARD_POLICY_NO_POLICY_FOUND)
		ns = r->n_policy_strings;
	if (r->policy_type == STSGUARD_POLICY_STS)
		nm = r->n_mx_host_patterns;
	if (ns > STSGUARD_TLSRPT_POLICY_STRINGS_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "%zu policy strings, at most %u", ns,
		              (unsigned)STSGUARD_TLSRPT_POLICY_STRINGS_MAX);
	if (nm > MX_PATTERNS_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "%zu mx patterns, at most %u", nm, (unsigned)MX_PATTERNS_MAX);
	if ((ns > 0 && r->policy_strings == NULL) || (nm > 0 && r->mx_host_patterns == NULL))
		return sg_err(err, STSGUARD_INVALID, "policy string or mx pattern array is NULL");
	for (size_t i = 0; i < ns + nm; i++) {
		const char *s = i < ns ? r->policy_strings[i] : r->mx_host_patterns[i - ns];
		const char *what = i < ns ? "policy string" : "mx pattern";
		size_t idx = i < ns ? i : i - ns;
		if (s == NULL || s[0] == '\0')
			return sg_err(err, STSGUARD_INVALID, "%s %zu is empty", what, idx);
		size_t len = strnlen(s, STSGUARD_TLSRPT_TEXT_MAX + 1);
		if (len > STSGUARD_TLSRPT_TEXT_MAX)
			return sg_err(err, STSGUARD_TOOBIG, "%s %zu is longer than %u bytes", what, idx,
			              (unsigned)STSGUARD_TLSRPT_TEXT_MAX);
		bytes += 3 * len + 1;
	}
	if (ns + nm == 0)
		return STSGUARD_OK;

	*block = malloc((ns + nm) * sizeof(char *) + bytes);
	if (*block == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	char **v = *block;
	char *p = (char *)(v + ns + nm);
	for (size_t i = 0; i < ns + nm; i++) {
		const char *s = i < ns ? r->policy_strings[i] : r->mx_host_patterns[i - ns];
		v[i] = p;
		p += utf8_clean(s, strlen(s), p) + 1;
		if (i >= ns)
			host_fold(v[i]);
	}
	k->strings = v;
	k->n_strings = ns;
	/* A TLSA RRset is a set: its order in a DNS answer means nothing (RFC 2181 §5). */
	if (r->policy_type == STSGUARD_POLICY_TLSA)
		k->n_strings = sort_unique(v, ns);
	/* mx lines are a set too (RFC 8461 §3.2: every mx line counts, in any order). */
	k->mx = v + ns;
	k->n_mx = sort_unique(v + ns, nm);
	return STSGUARD_OK;
}

/*
 * Count one validated result: find or create its domain, policy and detail
 * group (all allocations first, so running out of memory changes nothing),
 * then bump the counters and insert what is new.
 */
static stsguard_status count_result(stsguard_tlsrpt_report *agg, const char *dname, const struct pkey *pk,
                                    const struct dkey *dk, stsguard_err *err)
{
	struct domain nd, *dom;
	struct policy np, *pol;
	struct detail ndet, *det = NULL;
	struct pkey catchall = {pk->type, 0, NULL, 0, NULL};
	struct dkey summary;
	bool new_dom = false, new_pol = false, new_det = false, pol_admitted = false, det_admitted = false;
	bool pol_summarised = false, det_summarised = false;
	size_t di = 0, pi = 0, ki = 0, mem = 0, bytes = 0;
	void *p;

	memset(&nd, 0, sizeof nd);
	memset(&np, 0, sizeof np);
	memset(&ndet, 0, sizeof ndet);
	memset(&summary, 0, sizeof summary);

	if (find_domain(agg, dname, &di)) {
		dom = &agg->domains[di];
	} else {
		size_t cost = domain_cost(dname);
		if (agg->n_domains >= agg->lim.max_domains)
			return sg_err(err, STSGUARD_TOOBIG, "more than %zu policy domains: %s not counted",
			              agg->lim.max_domains, dname);
		if (agg->memory + cost > agg->lim.max_memory)
			return sg_err(err, STSGUARD_TOOBIG, "memory limit of %zu bytes reached: %s not counted",
			              agg->lim.max_memory, dname);
		p = grow(agg->domains, &agg->cap_domains, agg->n_domains, sizeof *agg->domains);
		if (p == NULL)
			return sg_err(err, STSGUARD_NOMEM, "out of memory");
		agg->domains = p;
		nd.name = sg_strndup(dname, strlen(dname));
		if (nd.name == NULL)
			return sg_err(err, STSGUARD_NOMEM, "out of memory");
		nd.report_bytes = cost;
		mem += cost;
		dom = &nd;
		new_dom = true;
	}

	if (find_policy(dom, pk, &pi)) {
		pol = &dom->policies[pi];
	} else {
		const struct pkey *use = pk;
		size_t cost = policy_cost(dname, pk);
		pol_admitted = dom->n_admitted < agg->lim.max_policies &&
		               dom->report_bytes + cost <= agg->lim.max_report_bytes &&
		               agg->memory + mem + cost <= agg->lim.max_memory;
		if (!pol_admitted) {
			/* The catch-all's room was charged with the domain. */
			use = &catchall;
			cost = 0;
			pol_summarised = true;
		}
		if (!pol_admitted && find_policy(dom, &catchall, &pi)) {
			pol = &dom->policies[pi];
		} else {
			p = grow(dom->policies, &dom->cap_policies, dom->n_policies, sizeof *dom->policies);
			if (p == NULL)
				goto nomem;
			dom->policies = p;
			if (!policy_init(&np, use))
				goto nomem;
			pol = &np;
			new_pol = true;
			bytes += cost;
			mem += cost;
		}
	}

	if (dk != NULL) {
		if (find_detail(pol, dk, &ki)) {
			det = &pol->details[ki];
		} else {
			const struct dkey *use = dk;
			size_t cost = detail_cost(dk);
			det_admitted = pol->n_admitted < agg->lim.max_details &&
			               dom->report_bytes + bytes + cost <= agg->lim.max_report_bytes &&
			               agg->memory + mem + cost <= agg->lim.max_memory;
			if (!det_admitted) {
				/* Every policy entry was charged room for its summary groups. */
				summary.type = dk->type;
				summary.field[F_REASON] = STSGUARD_TLSRPT_REPORT_SUMMARY_REASON;
				use = &summary;
				cost = 0;
				det_summarised = true;
			}
			if (!det_admitted && find_detail(pol, &summary, &ki)) {
				det = &pol->details[ki];
			} else {
				p = grow(pol->details, &pol->cap_details, pol->n_details, sizeof *pol->details);
				if (p == NULL)
					goto nomem;
				pol->details = p;
				if (!detail_init(&ndet, use))
					goto nomem;
				det = &ndet;
				new_det = true;
				bytes += cost;
				mem += cost;
			}
		}
	}

	/* Nothing can fail from here on. */
	if (det == NULL) {
		pol->success++;
		dom->success++;
	} else {
		det->count++;
		pol->failure++;
		dom->failure++;
	}
	/* A policy with no strings is its own catch-all: not summarised. */
	if (pol_summarised && pk->n_strings + pk->n_mx > 0)
		dom->summarised_policy++;
	if (det_summarised)
		dom->summarised_detail++;
	if (new_det) {
		insert_at(pol->details, pol->n_details, ki, sizeof ndet, &ndet);
		pol->n_details++;
		pol->n_admitted += det_admitted;
		dom->n_details++;
	}
	if (new_pol) {
		insert_at(dom->policies, dom->n_policies, pi, sizeof np, &np);
		dom->n_policies++;
		dom->n_admitted += pol_admitted;
	}
	dom->report_bytes += bytes;
	if (new_dom) {
		insert_at(agg->domains, agg->n_domains, di, sizeof nd, &nd);
		agg->n_domains++;
	}
	agg->memory += mem;
	return STSGUARD_OK;

nomem:
	detail_free(&ndet);
	policy_free(&np);
	domain_free(&nd);
	return sg_err(err, STSGUARD_NOMEM, "out of memory");
}

/* Is the fixed-size text field NUL-terminated? */
#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

static stsguard_status add_result(stsguard_tlsrpt_report *agg, const stsguard_tlsrpt_result *r,
                                  stsguard_err *err)
{
	char dname[DOMAIN_MAX + 1], sending[INET6_ADDRSTRLEN], receiving[INET6_ADDRSTRLEN];
	char host[CLEAN_MAX], helo[CLEAN_MAX], reason[CLEAN_MAX], info[CLEAN_MAX];
	char shown[80];
	struct dkey dk;
	struct pkey pk;
	void *block = NULL;
	stsguard_status st;

	if (r->time < agg->day_start || r->time - agg->day_start >= DAY_SECONDS) {
		char other[11];
		if (r->time >= 0 && r->time <= INT64_C(253402300799))
			day_name(r->time, other);
		else
			snprintf(other, sizeof other, "%s", "no day");
		return sg_err(err, STSGUARD_BADARG, "result time %" PRId64 " is on %s, not on %s", r->time, other,
		              agg->day);
	}
	if (policy_name(r->policy_type) == NULL)
		return sg_err(err, STSGUARD_INVALID, "unknown policy type %d", (int)r->policy_type);
	if (result_name(r->result) == NULL)
		return sg_err(err, STSGUARD_INVALID, "unknown result type %d", (int)r->result);
	if (!TERMINATED(r->policy_domain) || !TERMINATED(r->sending_mta_ip) || !TERMINATED(r->receiving_ip) ||
	    !TERMINATED(r->receiving_mx_hostname) || !TERMINATED(r->receiving_mx_helo) ||
	    !TERMINATED(r->failure_reason_code) || !TERMINATED(r->additional_information))
		return sg_err(err, STSGUARD_INVALID, "a text field is not NUL-terminated");
	if (!domain_normalise(r->policy_domain, dname)) {
		sg_escape(shown, sizeof shown, r->policy_domain, strlen(r->policy_domain));
		return sg_err(err, STSGUARD_INVALID, "policy domain '%s' is not an LDH domain name", shown);
	}
	if (!ip_normalise(r->sending_mta_ip, sending)) {
		sg_escape(shown, sizeof shown, r->sending_mta_ip, strlen(r->sending_mta_ip));
		return sg_err(err, STSGUARD_INVALID, "sending-mta-ip '%s' is not an IP address", shown);
	}
	if (!ip_normalise(r->receiving_ip, receiving)) {
		sg_escape(shown, sizeof shown, r->receiving_ip, strlen(r->receiving_ip));
		return sg_err(err, STSGUARD_INVALID, "receiving-ip '%s' is not an IP address", shown);
	}

	/* Details only for failures; a success counts in the summary alone (§4.4). */
	memset(&dk, 0, sizeof dk);
	dk.type = r->result;
	if (r->result != STSGUARD_RESULT_SUCCESS) {
		utf8_clean(r->receiving_mx_hostname, strlen(r->receiving_mx_hostname), host);
		host_fold(host);
		utf8_clean(r->receiving_mx_helo, strlen(r->receiving_mx_helo), helo);
		utf8_clean(r->failure_reason_code, strlen(r->failure_reason_code), reason);
		utf8_clean(r->additional_information, strlen(r->additional_information), info);
		dk.field[F_SENDING_IP] = sending[0] != '\0' ? sending : NULL;
		dk.field[F_RECEIVING_IP] = receiving[0] != '\0' ? receiving : NULL;
		dk.field[F_MX_HOSTNAME] = host[0] != '\0' ? host : NULL;
		dk.field[F_MX_HELO] = helo[0] != '\0' ? helo : NULL;
		dk.field[F_REASON] = reason[0] != '\0' ? reason : NULL;
		dk.field[F_INFO] = info[0] != '\0' ? info : NULL;
	}

	st = build_pkey(r, &pk, &block, err);
	if (st == STSGUARD_OK)
		st = count_result(agg, dname, &pk, r->result != STSGUARD_RESULT_SUCCESS ? &dk : NULL, err);
	free(block);
	return st;
}

stsguard_status stsguard_tlsrpt_report_add(stsguard_tlsrpt_report *agg, const stsguard_tlsrpt_result *r,
                                           stsguard_err *err)
{
	if (agg == NULL)
		return sg_err(err, STSGUARD_BADARG, "no aggregator");
	if (r == NULL) {
		agg->refused++;
		return sg_err(err, STSGUARD_BADARG, "no result");
	}
	stsguard_status st = add_result(agg, r, err);
	if (st != STSGUARD_OK)
		agg->refused++;
	return st;
}

size_t stsguard_tlsrpt_report_domain_count(const stsguard_tlsrpt_report *agg)
{
	return agg != NULL ? agg->n_domains : 0;
}

const char *stsguard_tlsrpt_report_domain(const stsguard_tlsrpt_report *agg, size_t i)
{
	return agg != NULL && i < agg->n_domains ? agg->domains[i].name : NULL;
}

static void stats_add(stsguard_tlsrpt_report_stats *s, const struct domain *d)
{
	s->successful_sessions += d->success;
	s->failed_sessions += d->failure;
	s->summarised_policy_sessions += d->summarised_policy;
	s->summarised_detail_sessions += d->summarised_detail;
	s->domains++;
	s->policies += d->n_policies;
	s->detail_groups += d->n_details;
	if (d->report_bytes > s->report_bytes)
		s->report_bytes = d->report_bytes;
}

stsguard_status stsguard_tlsrpt_report_stats_get(const stsguard_tlsrpt_report *agg, const char *policy_domain,
                                                 stsguard_tlsrpt_report_stats *out)
{
	char dname[DOMAIN_MAX + 1];
	size_t at;

	if (out == NULL)
		return STSGUARD_BADARG;
	memset(out, 0, sizeof *out);
	if (agg == NULL)
		return STSGUARD_BADARG;
	if (policy_domain == NULL) {
		for (size_t i = 0; i < agg->n_domains; i++)
			stats_add(out, &agg->domains[i]);
		out->refused = agg->refused;
		return STSGUARD_OK;
	}
	if (!domain_normalise(policy_domain, dname) || !find_domain(agg, dname, &at))
		return STSGUARD_NONE;
	stats_add(out, &agg->domains[at]);
	return STSGUARD_OK;
}

/* ---- rendering (RFC 8460 §4.4) --------------------------------------------- */

/* An addr-spec, loosely: local "@" domain, both non-empty, no space. */
static bool addr_spec_ok(const char *s)
{
	const char *at = strrchr(s, '@');
	return at != NULL && at != s && at[1] != '\0' && strchr(s, ' ') == NULL;
}

static stsguard_status check_meta(const stsguard_tlsrpt_report_meta *m, char submitter[DOMAIN_MAX + 1],
                                  stsguard_err *err)
{
	if (!meta_text_ok(m->organization_name, STSGUARD_TLSRPT_REPORT_META_MAX))
		return sg_err(err, STSGUARD_INVALID,
		              "organization-name must be 1..%u bytes of UTF-8 without control characters",
		              STSGUARD_TLSRPT_REPORT_META_MAX);
	if (!meta_text_ok(m->contact_info, STSGUARD_TLSRPT_REPORT_META_MAX) || !addr_spec_ok(m->contact_info))
		return sg_err(err, STSGUARD_INVALID, "contact-info must be an e-mail address (local@domain) of 1..%u bytes",
		              STSGUARD_TLSRPT_REPORT_META_MAX);
	if (m->submitter == NULL || !domain_normalise(m->submitter, submitter))
		return sg_err(err, STSGUARD_INVALID, "submitter must be a domain name in A-labels");
	if (!unique_id_ok(m->unique_id))
		return sg_err(err, STSGUARD_INVALID, "unique_id must be at most %u letters and digits",
		              STSGUARD_TLSRPT_REPORT_UNIQUE_ID_MAX);
	return STSGUARD_OK;
}

/* ,"key":"value" - or "key":"value" with first set - skipped when value is NULL. */
static stsguard_status put_str(sg_buf *b, bool first, const char *key, const char *value)
{
	stsguard_status st;
	if (value == NULL)
		return STSGUARD_OK;
	st = sg_buf_printf(b, "%s\"%s\":", first ? "" : ",", key);
	if (st == STSGUARD_OK)
		st = sg_buf_json_str(b, value);
	return st;
}

static stsguard_status put_strv(sg_buf *b, const char *key, size_t n, char *const *v)
{
	stsguard_status st = sg_buf_printf(b, ",\"%s\":[", key);
	for (size_t i = 0; st == STSGUARD_OK && i < n; i++) {
		if (i > 0)
			st = sg_buf_add(b, ",", 1);
		if (st == STSGUARD_OK)
			st = sg_buf_json_str(b, v[i]);
	}
	if (st == STSGUARD_OK)
		st = sg_buf_add(b, "]", 1);
	return st;
}

/* One failure-details entry, its fields in the order of the §4.4 schema. */
static stsguard_status put_detail(sg_buf *b, const struct detail *d)
{
	stsguard_status st = sg_buf_add(b, "{", 1);
	if (st == STSGUARD_OK)
		st = put_str(b, true, "result-type", result_name(d->type));
	if (st == STSGUARD_OK)
		st = put_str(b, false, "sending-mta-ip", d->field[F_SENDING_IP]);
	if (st == STSGUARD_OK)
		st = put_str(b, false, "receiving-mx-hostname", d->field[F_MX_HOSTNAME]);
	if (st == STSGUARD_OK)
		st = put_str(b, false, "receiving-mx-helo", d->field[F_MX_HELO]);
	if (st == STSGUARD_OK)
		st = put_str(b, false, "receiving-ip", d->field[F_RECEIVING_IP]);
	if (st == STSGUARD_OK)
		st = sg_buf_printf(b, ",\"failed-session-count\":%" PRIu64, d->count);
	if (st == STSGUARD_OK)
		st = put_str(b, false, "additional-information", d->field[F_INFO]);
	if (st == STSGUARD_OK)
		st = put_str(b, false, "failure-reason-code", d->field[F_REASON]);
	if (st == STSGUARD_OK)
		st = sg_buf_add(b, "}", 1);
	return st;
}

static stsguard_status put_policy(sg_buf *b, const char *domain, const struct policy *p)
{
	stsguard_status st = sg_buf_add(b, "{\"policy\":{", 11);
	if (st == STSGUARD_OK)
		st = put_str(b, true, "policy-type", policy_name(p->type));
	if (st == STSGUARD_OK)
		st = put_strv(b, "policy-string", p->n_strings, p->strings);
	/* Present for every type, no-policy-found included: parsers index it unconditionally. */
	if (st == STSGUARD_OK)
		st = put_str(b, false, "policy-domain", domain);
	if (st == STSGUARD_OK)
		st = put_strv(b, "mx-host", p->n_mx, p->mx);
	if (st == STSGUARD_OK)
		st = sg_buf_printf(b,
		                   "},\"summary\":{\"total-successful-session-count\":%" PRIu64
		                   ",\"total-failure-session-count\":%" PRIu64 "},\"failure-details\":[",
		                   p->success, p->failure);
	for (size_t i = 0; st == STSGUARD_OK && i < p->n_details; i++) {
		if (i > 0)
			st = sg_buf_add(b, ",", 1);
		if (st == STSGUARD_OK)
			st = put_detail(b, &p->details[i]);
	}
	if (st == STSGUARD_OK)
		st = sg_buf_add(b, "]}", 2);
	return st;
}

stsguard_status stsguard_tlsrpt_report_json(const stsguard_tlsrpt_report *agg, const char *policy_domain,
                                            const stsguard_tlsrpt_report_meta *meta, char **out, size_t *len,
                                            stsguard_err *err)
{
	char dname[DOMAIN_MAX + 1], submitter[DOMAIN_MAX + 1];
	char report_id[DOMAIN_MAX * 2 + STSGUARD_TLSRPT_REPORT_UNIQUE_ID_MAX + 16];
	const struct domain *dom;
	stsguard_status st;
	size_t at;
	sg_buf b;

	if (out == NULL)
		return sg_err(err, STSGUARD_BADARG, "no place for the report");
	*out = NULL;
	if (len != NULL)
		*len = 0;
	if (agg == NULL || policy_domain == NULL || meta == NULL)
		return sg_err(err, STSGUARD_BADARG, "no aggregator, policy domain or meta");
	if (!domain_normalise(policy_domain, dname) || !find_domain(agg, dname, &at))
		return sg_err(err, STSGUARD_NONE, "no results for this policy domain on %s", agg->day);
	dom = &agg->domains[at];
	st = check_meta(meta, submitter, err);
	if (st != STSGUARD_OK)
		return st;
	snprintf(report_id, sizeof report_id, "%s_%s%s%s@%s", agg->day, dname,
	         meta->unique_id != NULL && meta->unique_id[0] != '\0' ? "_" : "",
	         meta->unique_id != NULL ? meta->unique_id : "", submitter);

	/* The budget charged while counting bounds this; TOOBIG here would be a bug. */
	sg_buf_init(&b, agg->lim.max_report_bytes);
	st = sg_buf_add(&b, "{", 1);
	if (st == STSGUARD_OK)
		st = put_str(&b, true, "organization-name", meta->organization_name);
	/* RFC 8460 §4.1: one full UTC day; the end is its last second, as Google and Microsoft send. */
	if (st == STSGUARD_OK)
		st = sg_buf_printf(&b,
		                   ",\"date-range\":{\"start-datetime\":\"%sT00:00:00Z\","
		                   "\"end-datetime\":\"%sT23:59:59Z\"}",
		                   agg->day, agg->day);
	if (st == STSGUARD_OK)
		st = put_str(&b, false, "contact-info", meta->contact_info);
	if (st == STSGUARD_OK)
		st = put_str(&b, false, "report-id", report_id);
	if (st == STSGUARD_OK)
		st = sg_buf_addstr(&b, ",\"policies\":[");
	for (size_t i = 0; st == STSGUARD_OK && i < dom->n_policies; i++) {
		if (i > 0)
			st = sg_buf_add(&b, ",", 1);
		if (st == STSGUARD_OK)
			st = put_policy(&b, dom->name, &dom->policies[i]);
	}
	if (st == STSGUARD_OK)
		st = sg_buf_add(&b, "]}", 2);
	if (st != STSGUARD_OK) {
		sg_buf_free(&b);
		return sg_err(err, st, "rendering the report of %s failed: %s", dname, stsguard_strerror(st));
	}
	if (len != NULL)
		*len = b.len;
	*out = sg_buf_take(&b);
	return *out != NULL ? STSGUARD_OK : sg_err(err, STSGUARD_NOMEM, "out of memory");
}

/* ---- delivery helpers (RFC 8460 §5) ------------------------------------------ */

stsguard_status stsguard_tlsrpt_report_gzip(const void *data, size_t len, unsigned char **out, size_t *outlen,
                                            stsguard_err *err)
{
	z_stream zs;
	gz_header head;
	unsigned char *buf;
	uLong bound;
	int zr;

	if (out == NULL || outlen == NULL)
		return sg_err(err, STSGUARD_BADARG, "no place for the gzip data");
	*out = NULL;
	*outlen = 0;
	if (data == NULL && len > 0)
		return sg_err(err, STSGUARD_BADARG, "no data");
	if (len > STSGUARD_TLSRPT_REPORT_GZIP_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "%zu bytes to compress, at most %u", len,
		              STSGUARD_TLSRPT_REPORT_GZIP_MAX);

	memset(&zs, 0, sizeof zs);
	/* windowBits 15 + 16: a gzip wrapper (RFC 1952) instead of zlib's. */
	if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return sg_err(err, STSGUARD_NOMEM, "zlib: cannot start deflate");
	/* No name, MTIME 0, OS 255 (unknown): the bytes depend on the input only. */
	memset(&head, 0, sizeof head);
	head.os = 255;
	if (deflateSetHeader(&zs, &head) != Z_OK) {
		deflateEnd(&zs);
		return sg_err(err, STSGUARD_NOMEM, "zlib: cannot set the gzip header");
	}
	bound = deflateBound(&zs, (uLong)len) + 64;
	buf = malloc(bound);
	if (buf == NULL) {
		deflateEnd(&zs);
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	}
	zs.next_in = data != NULL ? data : (const void *)"";
	zs.avail_in = (uInt)len;
	zs.next_out = buf;
	zs.avail_out = (uInt)bound;
	zr = deflate(&zs, Z_FINISH);
	*outlen = zs.total_out;
	deflateEnd(&zs);
	if (zr != Z_STREAM_END) {
		free(buf);
		*outlen = 0;
		return sg_err(err, STSGUARD_NOMEM, "zlib: deflate did not finish (%d)", zr);
	}
	*out = buf;
	return STSGUARD_OK;
}

stsguard_status stsguard_tlsrpt_report_filename(const char *submitter, const char *policy_domain, const char *day,
                                                const char *unique_id, char *out, size_t outsz, stsguard_err *err)
{
	char sub[DOMAIN_MAX + 1], dom[DOMAIN_MAX + 1];
	int64_t start;
	int n;

	if (out == NULL || outsz == 0)
		return sg_err(err, STSGUARD_BADARG, "no place for the file name");
	out[0] = '\0';
	if (submitter == NULL || !domain_normalise(submitter, sub))
		return sg_err(err, STSGUARD_INVALID, "submitter must be a domain name in A-labels");
	if (policy_domain == NULL || !domain_normalise(policy_domain, dom))
		return sg_err(err, STSGUARD_INVALID, "policy domain must be a domain name in A-labels");
	if (!day_parse(day, &start))
		return sg_err(err, STSGUARD_INVALID, "day must be a YYYY-MM-DD date of %d..%d", YEAR_MIN, YEAR_MAX);
	if (!unique_id_ok(unique_id))
		return sg_err(err, STSGUARD_INVALID, "unique-id must be at most %u letters and digits (RFC 8460 §5.1)",
		              STSGUARD_TLSRPT_REPORT_UNIQUE_ID_MAX);
	/* RFC 8460 §5.1: begin and end of the range the report covers, in Unix seconds. */
	n = snprintf(out, outsz, "%s!%s!%" PRId64 "!%" PRId64 "%s%s.json.gz", sub, dom, start,
	             start + DAY_SECONDS - 1, unique_id != NULL && unique_id[0] != '\0' ? "!" : "",
	             unique_id != NULL ? unique_id : "");
	if (n < 0 || (size_t)n >= outsz) {
		out[0] = '\0';
		return sg_err(err, STSGUARD_TOOBIG, "file name needs %d bytes, the buffer has %zu", n + 1, outsz);
	}
	return STSGUARD_OK;
}
