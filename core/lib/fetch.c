/*
 * fetch.c - HTTPS retrieval of the MTA-STS policy (RFC 8461 §3.3) over libcurl.
 *
 * Why this layer exists: libcurl will happily resolve names itself, follow
 * redirects, reuse connections and TLS sessions, honour proxy variables from
 * the environment and buffer bodies of any size. RFC 8461 §3.3 wants none of
 * that, and stsguard wants every failure to carry a named reason that becomes
 * an RFC 8460 result type. This module pins libcurl down:
 *
 *   - URL https://<policy_host>[:port]/.well-known/mta-sts.txt (§3.3); the
 *     port is only written when it is not 443 (tests).
 *   - Only the caller's addresses are used (one resolver for all DNS):
 *     CURLOPT_RESOLVE pre-loads them, and an open-socket callback refuses any
 *     other destination, so curl can never reach an address of its own.
 *   - SNI and certificate name are the policy host; TLS >= 1.2; full chain and
 *     host name validation against ca_file (only that bundle) or the system
 *     store (§3.3: "the certificate MUST be valid for the Policy Host").
 *   - No redirects (§3.3), only status 200, Content-Type text/plain (§3.2),
 *     a 64 KiB body cap (§3.3 suggests 64 KB) enforced while reading (after
 *     decoding, should a server compress although we ask for identity), one
 *     total deadline, no proxy unless configured (then tunnelled to our
 *     address), no cookies, no HSTS/alt-svc, no connection or TLS session
 *     reuse: nothing outlives one fetch.
 *
 * Contract of fetch(): res is always initialised first. On success it returns
 * STSGUARD_OK, reason NONE, http_status 200 and a NUL-terminated body for
 * free(). Otherwise res->reason names the failure and res->detail says more
 * (curl's error text, "HTTP 404", ...). The returned status is only a coarse
 * summary of the reason - callers act on the reason:
 *
 *   STSGUARD_TEMPFAIL  connect-failed, tls-handshake-failed, internal-error
 *   STSGUARD_TIMEOUT   timeout
 *   STSGUARD_NONE      policy-host-not-found, http-status, http-redirect,
 *                      certificate-* (the host answered; it has no usable policy)
 *   STSGUARD_INVALID   content-type
 *   STSGUARD_TOOBIG    too-big
 *   STSGUARD_NOMEM     internal-error: out of memory
 *   STSGUARD_BADARG    internal-error: bad arguments (host name, addresses)
 *
 * One fetch is one easy handle: setup_handle() builds it and finish_fetch()
 * judges it after completion, so the daemon can drive the same handle from a
 * curl multi loop (CURLOPT_PRIVATE points at the per-transfer state).
 */
#include "stsguard/fetch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <pthread.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "stsguard/policy.h"
#include "util.h"

#define FETCH_TIMEOUT_DEFAULT_S 10u
#define FETCH_TIMEOUT_MAX_S 3600u
#define FETCH_PATH "/.well-known/mta-sts.txt"
#define FETCH_HOST_MAX 253
/* "https://" host ":65535" path NUL */
#define FETCH_URL_MAX (8 + FETCH_HOST_MAX + 6 + sizeof FETCH_PATH)
/* host:port: and up to STSGUARD_ADDRS_MAX bracketed addresses with commas */
#define FETCH_RESOLVE_MAX (FETCH_HOST_MAX + 8 + STSGUARD_ADDRS_MAX * 49)

#ifdef STSGUARD_VERSION
#define FETCH_USER_AGENT "stsguard/" STSGUARD_VERSION
#else
#define FETCH_USER_AGENT "stsguard"
#endif

struct fetch_addr {
	int family;              /* AF_INET or AF_INET6 */
	unsigned char bytes[16]; /* network order; 4 used for AF_INET */
};

/* Everything one transfer needs; must outlive its easy handle. */
struct fetch_xfer {
	CURL *easy;
	struct curl_slist *resolve;  /* CURLOPT_RESOLVE entry */
	struct curl_slist *connect_to; /* CURLOPT_CONNECT_TO entry (proxy only) */
	X509_STORE *trust;           /* our reference to the shared trust store */
	char host[FETCH_HOST_MAX + 1];
	uint16_t port;
	char url[FETCH_URL_MAX];
	char errbuf[CURL_ERROR_SIZE];
	sg_buf body;
	size_t n_addr;
	struct fetch_addr addr[STSGUARD_ADDRS_MAX];
	bool guard_sockets;          /* refuse sockets to anything but addr[] */
	bool refused_unlisted;       /* ... and curl tried one */
	bool headers_done;           /* the final response's header block ended */
	unsigned n_content_type;     /* Content-Type fields in the current block */
	char location[160];          /* Location of the current block, for the detail */
	/* Set by a callback that aborted the transfer, or by setup. */
	stsguard_reason reason;
	stsguard_status status;
	char detail[sizeof ((stsguard_fetch_result *)0)->detail];
};

static void xfer_fail(struct fetch_xfer *x, stsguard_reason reason, stsguard_status status, const char *fmt,
                      ...) STSG_PRINTF(4, 5);

static void xfer_fail(struct fetch_xfer *x, stsguard_reason reason, stsguard_status status, const char *fmt,
                      ...)
{
	va_list ap;

	/* The first failure is the cause; later ones are its consequences. */
	if (x->reason != STSGUARD_REASON_NONE)
		return;
	x->reason = reason;
	x->status = status;
	va_start(ap, fmt);
	vsnprintf(x->detail, sizeof x->detail, fmt, ap);
	va_end(ap);
}

/*
 * The policy host goes into a URL and a CURLOPT_RESOLVE entry, so it must be
 * a plain LDH host name: anything else (':', '/', '@', '%') could change what
 * curl connects to. Lower-cased so the URL host and the resolve entry match.
 * One trailing dot is dropped (it is the same name; curl would strip it for
 * SNI anyway).
 */
static bool copy_host(char out[FETCH_HOST_MAX + 1], const char *host)
{
	size_t len = strlen(host);
	size_t label = 0;

	if (len > 0 && host[len - 1] == '.')
		len--;
	if (len == 0 || len > FETCH_HOST_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)host[i];
		if (c == '.') {
			if (label == 0 || host[i - 1] == '-')
				return false;
			label = 0;
		} else if (sg_is_alnum(c) || (c == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
		out[i] = sg_lower((char)c);
	}
	if (label == 0 || host[len - 1] == '-')
		return false;
	out[len] = '\0';
	return true;
}

/* Parse the caller's address literals; they are also the open-socket allow list. */
static bool parse_addrs(struct fetch_xfer *x, const stsguard_addr_set *addrs)
{
	if (addrs->n > STSGUARD_ADDRS_MAX)
		return false;
	for (size_t i = 0; i < addrs->n; i++) {
		const char *a = addrs->addr[i];
		struct fetch_addr *fa = &x->addr[i];

		if (memchr(a, '\0', sizeof addrs->addr[i]) == NULL)
			return false;
		if (inet_pton(AF_INET, a, fa->bytes) == 1)
			fa->family = AF_INET;
		else if (inet_pton(AF_INET6, a, fa->bytes) == 1)
			fa->family = AF_INET6;
		else
			return false;
	}
	x->n_addr = addrs->n;
	return true;
}

/* "host:port:a,b,..." for CURLOPT_RESOLVE, IPv6 in brackets; NULL on ENOMEM. */
static struct curl_slist *resolve_entry(const struct fetch_xfer *x, const stsguard_addr_set *addrs)
{
	sg_buf b;
	struct curl_slist *list = NULL;
	stsguard_status st;

	sg_buf_init(&b, FETCH_RESOLVE_MAX);
	st = sg_buf_printf(&b, "%s:%u:", x->host, (unsigned)x->port);
	for (size_t i = 0; st == STSGUARD_OK && i < x->n_addr; i++) {
		bool v6 = x->addr[i].family == AF_INET6;
		st = sg_buf_printf(&b, "%s%s%s%s", i > 0 ? "," : "", v6 ? "[" : "", addrs->addr[i], v6 ? "]" : "");
	}
	if (st == STSGUARD_OK)
		list = curl_slist_append(NULL, b.data);
	sg_buf_free(&b);
	return list;
}

/* "host:port:addr:port" for CURLOPT_CONNECT_TO: where a proxy tunnel must lead. */
static struct curl_slist *connect_to_entry(const struct fetch_xfer *x, const stsguard_addr_set *addrs)
{
	char entry[FETCH_HOST_MAX + 80];
	bool v6 = x->addr[0].family == AF_INET6;
	int n = snprintf(entry, sizeof entry, "%s:%u:%s%s%s:%u", x->host, (unsigned)x->port, v6 ? "[" : "",
	                 addrs->addr[0], v6 ? "]" : "", (unsigned)x->port);

	if (n < 0 || (size_t)n >= sizeof entry)
		return NULL;
	return curl_slist_append(NULL, entry);
}

/* Is the peer curl is about to connect to one of the caller's addresses, on our port? */
static bool addr_allowed(const struct fetch_xfer *x, const struct curl_sockaddr *sa)
{
	struct sockaddr_storage ss;
	const unsigned char *bytes;
	size_t blen;
	uint16_t port;

	memset(&ss, 0, sizeof ss);
	memcpy(&ss, &sa->addr, sa->addrlen < sizeof ss ? sa->addrlen : sizeof ss);
	if (sa->family == AF_INET && sa->addrlen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
		bytes = (const unsigned char *)&in->sin_addr;
		blen = 4;
		port = ntohs(in->sin_port);
	} else if (sa->family == AF_INET6 && sa->addrlen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
		bytes = (const unsigned char *)&in6->sin6_addr;
		blen = 16;
		port = ntohs(in6->sin6_port);
	} else {
		return false;
	}
	if (port != x->port)
		return false;
	for (size_t i = 0; i < x->n_addr; i++)
		if (x->addr[i].family == sa->family && memcmp(x->addr[i].bytes, bytes, blen) == 0)
			return true;
	return false;
}

/*
 * CURLOPT_OPENSOCKETFUNCTION: the last line of defence for "connect only to
 * the addresses the caller resolved". CURLOPT_RESOLVE should already make
 * curl use exactly those; this makes it impossible to do otherwise (a shared
 * DNS cache under a multi handle, a future curl that resolves anyway).
 */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *sa)
{
	struct fetch_xfer *x = clientp;
	int type = sa->socktype;

	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	if (x->guard_sockets && !addr_allowed(x, sa)) {
		x->refused_unlisted = true;
		return CURL_SOCKET_BAD;
	}
#ifdef SOCK_CLOEXEC
	/* The daemon may run helpers; a policy fetch socket is not theirs. */
	type |= SOCK_CLOEXEC;
#endif
	return socket(sa->family, type, sa->protocol);
}

/*
 * RFC 8461 §3.2: the policy is served as "text/plain". The media type is
 * case-insensitive and may carry parameters (RFC 9110 §8.3.1):
 *   media-type = type "/" subtype *( OWS ";" OWS parameter )
 * so "text/plain; charset=utf-8" and "TEXT/PLAIN" pass; "text/html",
 * "text/plainx" and "text / plain" do not.
 */
static bool is_text_plain(const char *v)
{
	size_t i = 0, start;

	while (sg_is_wsp((unsigned char)v[i]))
		i++;
	start = i;
	while (v[i] != '\0' && v[i] != '/' && v[i] != ';' && !sg_is_wsp((unsigned char)v[i]))
		i++;
	if (!sg_ieq(v + start, i - start, "text", 4) || v[i] != '/')
		return false;
	start = ++i;
	while (v[i] != '\0' && v[i] != ';' && !sg_is_wsp((unsigned char)v[i]))
		i++;
	if (!sg_ieq(v + start, i - start, "plain", 5))
		return false;
	while (sg_is_wsp((unsigned char)v[i]))
		i++;
	return v[i] == '\0' || v[i] == ';';
}

/*
 * Judge the final response's status line and header fields, as soon as they
 * are complete and again after the transfer: false (with x->reason set) when
 * the response must be refused, so no body we would refuse is downloaded.
 */
static bool check_headers(struct fetch_xfer *x, long code)
{
	char *ctype = NULL;
	curl_off_t clen = -1;

	/* RFC 8461 §3.3: "HTTP 3xx redirects MUST NOT be followed". */
	if (code >= 300 && code <= 399) {
		/* The Location field as sent (curl resolves it only later). */
		xfer_fail(x, STSGUARD_REASON_HTTP_REDIRECT, STSGUARD_NONE, "HTTP %ld redirect to %s (not followed)",
		          code, x->location[0] != '\0' ? x->location : "(no Location)");
		return false;
	}
	/* RFC 8461 §3.3: only a 200 carries a policy. */
	if (code != 200) {
		xfer_fail(x, STSGUARD_REASON_HTTP_STATUS, STSGUARD_NONE, "HTTP %ld", code);
		return false;
	}
	/* A repeated Content-Type is not a list (RFC 9110 §5.3): which one would count? */
	if (x->n_content_type > 1) {
		xfer_fail(x, STSGUARD_REASON_CONTENT_TYPE, STSGUARD_INVALID, "%u Content-Type header fields",
		          x->n_content_type);
		return false;
	}
	if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ctype) != CURLE_OK || ctype == NULL) {
		xfer_fail(x, STSGUARD_REASON_CONTENT_TYPE, STSGUARD_INVALID, "no Content-Type (text/plain required)");
		return false;
	}
	if (!is_text_plain(ctype)) {
		xfer_fail(x, STSGUARD_REASON_CONTENT_TYPE, STSGUARD_INVALID, "Content-Type '%.120s' is not text/plain",
		          ctype);
		return false;
	}
	/* Refuse an announced oversized body before reading any of it. */
	if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen) == CURLE_OK &&
	    clen > (curl_off_t)STSGUARD_POLICY_BODY_MAX) {
		xfer_fail(x, STSGUARD_REASON_TOO_BIG, STSGUARD_TOOBIG, "Content-Length %lld exceeds %u bytes",
		          (long long)clen, STSGUARD_POLICY_BODY_MAX);
		return false;
	}
	return true;
}

/* A header field value without surrounding whitespace and CRLF, truncated to fit. */
static void copy_field_value(char *out, size_t outsz, const char *v, size_t len)
{
	while (len > 0 && sg_is_wsp((unsigned char)*v)) {
		v++;
		len--;
	}
	while (len > 0 && (sg_is_wsp((unsigned char)v[len - 1]) || v[len - 1] == '\r' || v[len - 1] == '\n'))
		len--;
	if (len >= outsz)
		len = outsz - 1;
	memcpy(out, v, len);
	out[len] = '\0';
}

/* Does the header line start with field name `name` followed by ':'? */
static bool header_is(const char *line, size_t len, const char *name)
{
	size_t nlen = strlen(name);
	return len > nlen && line[nlen] == ':' && sg_ieq(line, nlen, name, nlen);
}

/*
 * CURLOPT_HEADERFUNCTION: called once per header line, status line first and
 * the empty line last, for every response (1xx interim ones included) and for
 * trailers after a chunked body. Returning a short count aborts the transfer.
 */
static size_t on_header(char *line, size_t size, size_t nitems, void *userdata)
{
	struct fetch_xfer *x = userdata;
	size_t len = size * nitems;
	long code = 0;

	if (x->reason != STSGUARD_REASON_NONE)
		return 0;
	if (x->headers_done)
		return len; /* trailers: no meaning for us */
	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		x->n_content_type = 0; /* a new response's header block */
		x->location[0] = '\0';
		return len;
	}
	if (header_is(line, len, "content-type"))
		x->n_content_type++;
	if (header_is(line, len, "location"))
		copy_field_value(x->location, sizeof x->location, line + 9, len - 9);
	if (!(len == 2 && line[0] == '\r' && line[1] == '\n') && !(len == 1 && line[0] == '\n'))
		return len;

	/* End of a header block. */
	if (curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK) {
		xfer_fail(x, STSGUARD_REASON_INTERNAL, STSGUARD_TEMPFAIL, "no HTTP status from curl");
		return 0;
	}
	if (code >= 100 && code <= 199)
		return len; /* interim response; the final one follows */
	x->headers_done = true;
	return check_headers(x, code) ? len : 0;
}

/* CURLOPT_WRITEFUNCTION: the body, capped while it arrives (RFC 8461 §3.3). */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct fetch_xfer *x = userdata;
	size_t len = size * nmemb;
	stsguard_status st;

	if (x->reason != STSGUARD_REASON_NONE)
		return 0;
	if (!x->headers_done) {
		xfer_fail(x, STSGUARD_REASON_INTERNAL, STSGUARD_TEMPFAIL, "body before the end of the headers");
		return 0;
	}
	st = sg_buf_add(&x->body, data, len);
	if (st == STSGUARD_TOOBIG) {
		/* Chunked or lying Content-Length: stop reading at once. */
		xfer_fail(x, STSGUARD_REASON_TOO_BIG, STSGUARD_TOOBIG, "body exceeds %u bytes",
		          STSGUARD_POLICY_BODY_MAX);
		return 0;
	}
	if (st != STSGUARD_OK) {
		xfer_fail(x, STSGUARD_REASON_INTERNAL, STSGUARD_NOMEM, "out of memory reading the body");
		return 0;
	}
	return len;
}

/* Set one option; the first failure is recorded with the option's name. */
/*
 * One trust store for all fetches. Left to itself, curl parses the CA
 * bundle anew for every transfer: measured at ~18 ms of CPU per fetch with
 * Debian's bundle, more than the whole TLS handshake. The store is built
 * once (ca_file, or OpenSSL's default paths: /etc/ssl/certs, looked up by
 * hash on demand), shared by reference with every SSL_CTX (X509_STORE is
 * thread-safe for verification), and rebuilt hourly or when ca_file changes,
 * so updated CA certificates are picked up.
 */
#define TRUST_STORE_TTL 3600

static struct {
	pthread_mutex_t lock;
	char *path; /* NULL: the system default */
	X509_STORE *store;
	time_t built;
} trust = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 0};

/* A reference to the store for ca_file (NULL: system); the caller frees it. */
static X509_STORE *trust_store_get(const char *ca_file)
{
	time_t now = time(NULL);
	X509_STORE *ret = NULL;

	pthread_mutex_lock(&trust.lock);
	int same = (ca_file == NULL && trust.path == NULL) ||
	           (ca_file != NULL && trust.path != NULL && strcmp(ca_file, trust.path) == 0);
	if (trust.store == NULL || !same || now - trust.built >= TRUST_STORE_TTL || now < trust.built) {
		X509_STORE *st = X509_STORE_new();
		char *path = ca_file != NULL ? sg_strndup(ca_file, strlen(ca_file)) : NULL;
		int ok = st != NULL && (ca_file == NULL || path != NULL) &&
		         (ca_file != NULL ? X509_STORE_load_file(st, ca_file) : X509_STORE_set_default_paths(st)) == 1;
		if (ok) {
			X509_STORE_free(trust.store);
			free(trust.path);
			trust.store = st;
			trust.path = path;
			trust.built = now;
		} else {
			X509_STORE_free(st);
			free(path);
			if (!same)
				goto out; /* never verify against the wrong store */
		}
	}
	if (trust.store != NULL && X509_STORE_up_ref(trust.store) == 1)
		ret = trust.store;
out:
	pthread_mutex_unlock(&trust.lock);
	return ret;
}

/* curl hands us the SSL_CTX of each transfer: give it the shared store. */
static CURLcode on_ssl_ctx(CURL *easy, void *ssl_ctx, void *userptr)
{
	X509_STORE *store = userptr;
	(void)easy;
	SSL_CTX_set_cert_store(ssl_ctx, store); /* takes the reference we hold */
	if (X509_STORE_up_ref(store) != 1)      /* ... so keep one for the transfer's cleanup */
		return CURLE_SSL_CERTPROBLEM;
	return CURLE_OK;
}

#define SETOPT(x, opt, val)                                                                      \
	do {                                                                                     \
		if ((x)->reason == STSGUARD_REASON_NONE) {                                       \
			CURLcode rc_ = curl_easy_setopt((x)->easy, opt, val);                    \
			if (rc_ != CURLE_OK)                                                     \
				xfer_fail((x), STSGUARD_REASON_INTERNAL,                         \
				          rc_ == CURLE_OUT_OF_MEMORY ? STSGUARD_NOMEM : STSGUARD_TEMPFAIL, \
				          "curl_easy_setopt(%s): %s", #opt, curl_easy_strerror(rc_)); \
		}                                                                                \
	} while (0)

/*
 * Build the easy handle of one fetch into x (x->host, x->port and x->addr[]
 * already set). Returns it, or NULL with x->reason set. The handle does not
 * depend on being run by curl_easy_perform(): a multi loop may add it.
 */
static CURL *setup_handle(struct fetch_xfer *x, const stsguard_fetch_conf *conf,
                          const stsguard_addr_set *addrs)
{
	unsigned timeout_s = conf->timeout_s ? conf->timeout_s : FETCH_TIMEOUT_DEFAULT_S;
	bool proxied = conf->proxy != NULL && conf->proxy[0] != '\0';
	long total_ms, connect_ms;
	int n;

	if (timeout_s > FETCH_TIMEOUT_MAX_S)
		timeout_s = FETCH_TIMEOUT_MAX_S;
	total_ms = (long)timeout_s * 1000L;
	/* The connection phase (TCP and TLS handshakes, every address tried)
	 * gets most of the budget and the request keeps the rest: a stalled
	 * handshake ends at the connect timeout ("SSL connection timeout"), a
	 * stalled response at the total one. Both are reason TIMEOUT. */
	connect_ms = total_ms - total_ms / 5;

	/* RFC 8461 §3.3: https://mta-sts.<domain>/.well-known/mta-sts.txt */
	if (x->port == 443)
		n = snprintf(x->url, sizeof x->url, "https://%s%s", x->host, FETCH_PATH);
	else
		n = snprintf(x->url, sizeof x->url, "https://%s:%u%s", x->host, (unsigned)x->port, FETCH_PATH);
	if (n < 0 || (size_t)n >= sizeof x->url) {
		xfer_fail(x, STSGUARD_REASON_INTERNAL, STSGUARD_BADARG, "URL too long");
		return NULL;
	}

	x->resolve = resolve_entry(x, addrs);
	if (x->resolve == NULL) {
		xfer_fail(x, STSGUARD_REASON_INTERNAL, STSGUARD_NOMEM, "out of memory building the resolve list");
		return NULL;
	}
	if (proxied) {
		/* The proxy opens the TCP connection; CONNECT_TO makes the tunnel
		 * lead to the address we resolved rather than to a name the proxy
		 * would resolve itself. TLS still runs end to end, SNI and
		 * certificate name still the policy host. */
		x->connect_to = connect_to_entry(x, addrs);
		if (x->connect_to == NULL) {
			xfer_fail(x, STSGUARD_REASON_INTERNAL, STSGUARD_NOMEM, "out of memory building connect-to");
			return NULL;
		}
	}
	x->guard_sockets = !proxied;

	x->easy = curl_easy_init();
	if (x->easy == NULL) {
		xfer_fail(x, STSGUARD_REASON_INTERNAL, STSGUARD_NOMEM, "curl_easy_init failed");
		return NULL;
	}

	SETOPT(x, CURLOPT_ERRORBUFFER, x->errbuf);
	SETOPT(x, CURLOPT_PRIVATE, (void *)x);
	SETOPT(x, CURLOPT_URL, x->url);
	SETOPT(x, CURLOPT_PROTOCOLS_STR, "https");
	SETOPT(x, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	/* One resolver for all DNS: curl gets the caller's addresses only. */
	SETOPT(x, CURLOPT_RESOLVE, x->resolve);
	SETOPT(x, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	SETOPT(x, CURLOPT_OPENSOCKETDATA, (void *)x);
	/* No proxy unless configured, whatever http(s)_proxy/no_proxy say. */
	if (proxied) {
		SETOPT(x, CURLOPT_PROXY, conf->proxy);
		SETOPT(x, CURLOPT_NOPROXY, "");
		SETOPT(x, CURLOPT_HTTPPROXYTUNNEL, 1L);
		SETOPT(x, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
		SETOPT(x, CURLOPT_CONNECT_TO, x->connect_to);
	} else {
		SETOPT(x, CURLOPT_PROXY, "");
		SETOPT(x, CURLOPT_NOPROXY, "*");
	}

	/* RFC 8461 §3.3: HTTPS with a certificate valid for the policy host
	 * (RFC 6125 name checks by curl; SNI is the URL host). */
	SETOPT(x, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SETOPT(x, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(x, CURLOPT_SSL_VERIFYHOST, 2L);
	/* Only our store is trusted (ca_file alone when set): curl loads none of its own. */
	x->trust = trust_store_get(conf->ca_file);
	if (x->trust == NULL) {
		xfer_fail(x, STSGUARD_REASON_INTERNAL, STSGUARD_TEMPFAIL, "cannot load the CA certificates%s%s",
		          conf->ca_file != NULL ? " from " : "", conf->ca_file != NULL ? conf->ca_file : "");
		return NULL;
	}
	SETOPT(x, CURLOPT_CAINFO, NULL);
	SETOPT(x, CURLOPT_CAPATH, NULL);
	SETOPT(x, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
	SETOPT(x, CURLOPT_SSL_CTX_DATA, (void *)x->trust);

	/* RFC 8461 §3.3: "HTTP 3xx redirects MUST NOT be followed". */
	SETOPT(x, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(x, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SETOPT(x, CURLOPT_USERAGENT, FETCH_USER_AGENT);
	/* No compression is asked for: "Accept-Encoding: identity" makes every
	 * other coding unacceptable (RFC 9110 §12.5.3; without the field any
	 * coding would be). A server that compresses anyway is decoded, and
	 * the cap in on_body() applies to the decoded bytes, so a small
	 * compressed body cannot expand past it. */
	SETOPT(x, CURLOPT_ACCEPT_ENCODING, "identity");
	SETOPT(x, CURLOPT_HTTP_CONTENT_DECODING, 1L);
	SETOPT(x, CURLOPT_HTTP_TRANSFER_DECODING, 1L);

	/* Nothing survives one fetch: no connection or TLS session reuse (a
	 * multi handle would otherwise share them across fetches, possibly to
	 * another address), no HSTS cache. Alt-svc (which could move us to
	 * another host) stays off because CURLOPT_ALTSVC(_CTRL) is never set -
	 * curl 7.88 refuses CURLOPT_ALTSVC_CTRL 0 and setting it at all would
	 * switch the engine on. Cookies are off unless enabled; we never do. */
	SETOPT(x, CURLOPT_FRESH_CONNECT, 1L);
	SETOPT(x, CURLOPT_FORBID_REUSE, 1L);
	SETOPT(x, CURLOPT_SSL_SESSIONID_CACHE, 0L);
	SETOPT(x, CURLOPT_HSTS_CTRL, 0L);

	/* Bounded total time (RFC 8461 §3.3 leaves the value to us). */
	SETOPT(x, CURLOPT_TIMEOUT_MS, total_ms);
	SETOPT(x, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	/* The daemon fetches from threads: no SIGALRM-based timeouts. */
	SETOPT(x, CURLOPT_NOSIGNAL, 1L);

	SETOPT(x, CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(x, CURLOPT_HEADERDATA, (void *)x);
	SETOPT(x, CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(x, CURLOPT_WRITEDATA, (void *)x);

	if (x->reason != STSGUARD_REASON_NONE)
		return NULL;
	return x->easy;
}

#undef SETOPT

/*
 * Is the handle's TLS backend one whose verify result is an OpenSSL
 * X509_V_ERR_* code (OpenSSL, LibreSSL, BoringSSL share the value)? Asked of
 * the handle, not curl_version_info(), which rewrites static data on every
 * call and so is not safe from fetch threads.
 */
static bool tls_backend_is_openssl(CURL *easy)
{
	struct curl_tlssessioninfo *tls = NULL;

	return curl_easy_getinfo(easy, CURLINFO_TLS_SSL_PTR, &tls) == CURLE_OK && tls != NULL &&
	       tls->backend == CURLSSLBACKEND_OPENSSL;
}

/*
 * CURLE_PEER_FAILED_VERIFICATION: which RFC 8460 §4.3.2 webpki failure?
 * A chain problem fails the OpenSSL handshake and leaves its X509_V_ERR_*
 * code in CURLINFO_SSL_VERIFYRESULT. curl 7.88 checks the host name itself,
 * after a successful handshake, and before that it presets the verify result
 * to "!X509_V_OK" (1, which OpenSSL 3 also calls X509_V_ERR_UNSPECIFIED); the
 * real result is stored only once the name matched. So a name mismatch reads
 * 1 (or 0 in other curl versions), with "no alternative certificate subject
 * name matches target host name" (or "certificate subject name ... does not
 * match target host name" when there is no subjectAltName) in the error
 * buffer - the text decides.
 */
static stsguard_reason classify_cert(const struct fetch_xfer *x)
{
	long verify = X509_V_OK;
	const char *msg = x->errbuf;

	if (tls_backend_is_openssl(x->easy) &&
	    curl_easy_getinfo(x->easy, CURLINFO_SSL_VERIFYRESULT, &verify) == CURLE_OK) {
		switch (verify) {
		case X509_V_OK:
		case !X509_V_OK:
			break; /* curl's own check after the handshake failed; see below */
		case X509_V_ERR_CERT_HAS_EXPIRED:
		case X509_V_ERR_CERT_NOT_YET_VALID:
			return STSGUARD_REASON_CERT_EXPIRED;
		case X509_V_ERR_HOSTNAME_MISMATCH:
		case X509_V_ERR_IP_ADDRESS_MISMATCH:
			return STSGUARD_REASON_CERT_HOSTNAME;
		default:
			return STSGUARD_REASON_CERT_UNTRUSTED;
		}
	} else if (strstr(msg, "expired") != NULL || strstr(msg, "not yet valid") != NULL) {
		return STSGUARD_REASON_CERT_EXPIRED; /* another TLS backend: its words only */
	}
	if (strstr(msg, "host name") != NULL || strstr(msg, "hostname") != NULL ||
	    strstr(msg, "common name") != NULL)
		return STSGUARD_REASON_CERT_HOSTNAME;
	return STSGUARD_REASON_CERT_UNTRUSTED;
}

/* A curl error (no callback aborted) to a reason and status. */
static void map_curl_error(struct fetch_xfer *x, CURLcode rc)
{
	stsguard_reason reason;
	stsguard_status status;

	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_PROXY:
		/* If curl wanted an address the caller did not give, that is our
		 * bug, not the policy host's fault. */
		reason = x->refused_unlisted ? STSGUARD_REASON_INTERNAL : STSGUARD_REASON_CONNECT;
		status = STSGUARD_TEMPFAIL;
		break;
	case CURLE_OPERATION_TIMEDOUT:
		reason = STSGUARD_REASON_TIMEOUT;
		status = STSGUARD_TIMEOUT;
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		reason = classify_cert(x);
		status = STSGUARD_NONE;
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CLIENTCERT:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_USE_SSL_FAILED:
		reason = STSGUARD_REASON_TLS;
		status = STSGUARD_TEMPFAIL;
		break;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_PROXY:
	case CURLE_UNSUPPORTED_PROTOCOL:
		/* The connection was made but broke or spoke nonsense (curl 7.88
		 * reports a reply that is not HTTP as "Received HTTP/0.9 when not
		 * allowed", CURLE_UNSUPPORTED_PROTOCOL - our own URL is always
		 * https, checked at start-up): the policy could not be fetched;
		 * retrying may help. */
		reason = STSGUARD_REASON_CONNECT;
		status = STSGUARD_TEMPFAIL;
		break;
	case CURLE_OUT_OF_MEMORY:
		reason = STSGUARD_REASON_INTERNAL;
		status = STSGUARD_NOMEM;
		break;
	default:
		/* Local trouble: unreadable CA file, curl tried to resolve a
		 * name itself, a setup error, ... */
		reason = STSGUARD_REASON_INTERNAL;
		status = STSGUARD_TEMPFAIL;
		break;
	}
	xfer_fail(x, reason, status, "%s%s",
	          x->refused_unlisted ? "refused an address not given by the resolver; " : "",
	          x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(rc));
}

/* Copy x's failure into res; detail made printable (it may quote the server). */
static stsguard_status report_failure(const struct fetch_xfer *x, stsguard_fetch_result *res)
{
	res->reason = x->reason;
	sg_escape(res->detail, sizeof res->detail, x->detail, strlen(x->detail));
	return x->status;
}

/* Report a failure that has no fetch_xfer (yet) to carry it. */
static stsguard_status fail_early(stsguard_fetch_result *res, stsguard_reason reason, stsguard_status status,
                                  const char *msg)
{
	res->reason = reason;
	sg_escape(res->detail, sizeof res->detail, msg, strlen(msg));
	return status;
}

/* After the transfer (easy or multi): judge it and fill res. */
static stsguard_status finish_fetch(struct fetch_xfer *x, CURLcode rc, stsguard_fetch_result *res)
{
	long code = 0;

	if (curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK)
		code = 0;
	res->http_status = code;

	/* A callback that aborted knows why; curl only says "write error". */
	if (x->reason == STSGUARD_REASON_NONE && rc != CURLE_OK)
		map_curl_error(x, rc);
	/* A complete response whose header block we never judged (no final
	 * empty line seen): judge it now rather than trust it. */
	if (x->reason == STSGUARD_REASON_NONE && !x->headers_done)
		(void)check_headers(x, code);
	if (x->reason == STSGUARD_REASON_NONE && code != 200)
		xfer_fail(x, STSGUARD_REASON_HTTP_STATUS, STSGUARD_NONE, "HTTP %ld", code);

	if (x->reason != STSGUARD_REASON_NONE)
		return report_failure(x, res);
	res->len = x->body.len;
	res->body = sg_buf_take(&x->body);
	if (res->body == NULL) {
		res->len = 0;
		return fail_early(res, STSGUARD_REASON_INTERNAL, STSGUARD_NOMEM, "out of memory");
	}
	res->reason = STSGUARD_REASON_NONE;
	return STSGUARD_OK;
}

static void xfer_cleanup(struct fetch_xfer *x)
{
	if (x->easy != NULL)
		curl_easy_cleanup(x->easy);
	x->easy = NULL;
	curl_slist_free_all(x->resolve);
	x->resolve = NULL;
	curl_slist_free_all(x->connect_to);
	x->connect_to = NULL;
	X509_STORE_free(x->trust);
	x->trust = NULL;
	sg_buf_free(&x->body);
}

static stsguard_status curl_fetch(void *ctx, const char *policy_host, const stsguard_addr_set *addrs,
                                  stsguard_fetch_result *res)
{
	static const stsguard_fetch_conf defaults = {NULL, 0, NULL, 0};
	const stsguard_fetch_conf *conf = ctx != NULL ? ctx : &defaults;
	struct fetch_xfer *x;
	stsguard_status st;
	CURLcode rc;

	if (res == NULL)
		return STSGUARD_BADARG;
	memset(res, 0, sizeof *res);
	if (policy_host == NULL || addrs == NULL)
		return fail_early(res, STSGUARD_REASON_INTERNAL, STSGUARD_BADARG, "no policy host or addresses");

	/* The state is large (resolve list, body buffer header, addresses) and
	 * must live as long as the handle: heap, as a multi loop will need. */
	x = calloc(1, sizeof *x);
	if (x == NULL)
		return fail_early(res, STSGUARD_REASON_INTERNAL, STSGUARD_NOMEM, "out of memory");
	sg_buf_init(&x->body, STSGUARD_POLICY_BODY_MAX);
	x->port = conf->port ? conf->port : 443;

	if (!copy_host(x->host, policy_host)) {
		xfer_fail(x, STSGUARD_REASON_INTERNAL, STSGUARD_BADARG, "'%.100s' is not a host name", policy_host);
	} else if (addrs->n == 0) {
		/* Nothing to connect to, and curl must not look for something. */
		xfer_fail(x, STSGUARD_REASON_HOST_NOT_FOUND, STSGUARD_NONE, "%s has no address", x->host);
	} else if (!parse_addrs(x, addrs)) {
		xfer_fail(x, STSGUARD_REASON_INTERNAL, STSGUARD_BADARG, "invalid address list for %s", x->host);
	}
	if (x->reason != STSGUARD_REASON_NONE || setup_handle(x, conf, addrs) == NULL) {
		st = report_failure(x, res);
	} else {
		rc = curl_easy_perform(x->easy);
		st = finish_fetch(x, rc, res);
	}
	xfer_cleanup(x);
	free(x);
	return st;
}

const struct stsguard_fetch_ops stsguard_curl_fetch_ops = {
	.fetch = curl_fetch,
};

stsguard_status stsguard_fetch_global_init(void)
{
	const curl_version_info_data *v;
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (rc != CURLE_OK)
		return rc == CURLE_OUT_OF_MEMORY ? STSGUARD_NOMEM : STSGUARD_IO;
	/* We need HTTPS and CURLOPT_PROTOCOLS_STR (7.85.0); refuse at start-up
	 * rather than fail every fetch later. */
	v = curl_version_info(CURLVERSION_NOW);
	if (v == NULL || v->version_num < 0x075500 || !(v->features & CURL_VERSION_SSL)) {
		curl_global_cleanup();
		return STSGUARD_IO;
	}
	return STSGUARD_OK;
}

void stsguard_fetch_global_cleanup(void)
{
	pthread_mutex_lock(&trust.lock);
	X509_STORE_free(trust.store);
	free(trust.path);
	trust.store = NULL;
	trust.path = NULL;
	pthread_mutex_unlock(&trust.lock);
	curl_global_cleanup();
}

void stsguard_fetch_result_clear(stsguard_fetch_result *res)
{
	if (res == NULL)
		return;
	free(res->body);
	memset(res, 0, sizeof *res);
}
