/*
 * config.c - the stsguard configuration file.
 *
 * One table lists every key with its parser; unknown keys and bad values
 * are errors with "file:line", because a silently ignored typo in a
 * security setting (say, a CA bundle) is worse than a refusal to start.
 */
#include "stsguard/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "stsguard/discover.h"
#include "stsguard/tlsrpt_mail.h"
#include "stsguard/tlsrpt_send.h"
#include "stsguard/tlsrpt_store.h"
#include "util.h"
#include "stsguard/tlsrpt_store.h"

typedef stsguard_status (*key_fn)(stsguard_config *c, const char *v, stsguard_err *err);

static stsguard_status parse_uint(const char *v, unsigned min, unsigned max, unsigned *out, stsguard_err *err)
{
	unsigned long n = 0;

	if (*v == '\0')
		return sg_err(err, STSGUARD_INVALID, "empty number");
	for (const char *p = v; *p != '\0'; p++) {
		if (!sg_is_digit((unsigned char)*p))
			return sg_err(err, STSGUARD_INVALID, "'%s' is not a number", v);
		n = n * 10 + (unsigned long)(*p - '0');
		if (n > max)
			break;
	}
	if (n < min || n > max)
		return sg_err(err, STSGUARD_INVALID, "%s is out of range %u..%u", v, min, max);
	*out = (unsigned)n;
	return STSGUARD_OK;
}

/* "IP" or "IP:PORT" or "[IPv6]:PORT" or a bare IPv6 literal. */
static stsguard_status parse_server(const char *s, size_t len, char ip[46], uint16_t *port, stsguard_err *err)
{
	char buf[64];
	const char *host = buf;
	const char *portstr = NULL;
	unsigned char tmp[16];

	if (len == 0 || len >= sizeof buf)
		return sg_err(err, STSGUARD_INVALID, "bad resolver address");
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');
		if (close == NULL)
			return sg_err(err, STSGUARD_INVALID, "resolver '%s': missing ']'", buf);
		*close = '\0';
		host = buf + 1;
		if (close[1] == ':')
			portstr = close + 2;
		else if (close[1] != '\0')
			return sg_err(err, STSGUARD_INVALID, "resolver '%s': junk after ']'", buf);
	} else {
		char *colon = strchr(buf, ':');
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			*colon = '\0';
			portstr = colon + 1;
		}
	}
	if (inet_pton(AF_INET, host, tmp) != 1 && inet_pton(AF_INET6, host, tmp) != 1)
		return sg_err(err, STSGUARD_INVALID, "resolver '%s' is not an IP address", host);
	unsigned p = 53;
	if (portstr != NULL && parse_uint(portstr, 1, 65535, &p, err) != STSGUARD_OK)
		return STSGUARD_INVALID;
	size_t hl = strlen(host);
	memcpy(ip, host, hl + 1);
	*port = (uint16_t)p;
	return STSGUARD_OK;
}

static stsguard_status key_resolver(stsguard_config *c, const char *v, stsguard_err *err)
{
	stsguard_resolver_conf *r = &c->resolver;
	const char *p = v;

	r->n = 0;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		size_t len = strcspn(p, ", \t");
		if (r->n >= STSGUARD_RESOLVERS_MAX)
			return sg_err(err, STSGUARD_INVALID, "more than %d resolvers", STSGUARD_RESOLVERS_MAX);
		if (parse_server(p, len, r->server[r->n].ip, &r->server[r->n].port, err) != STSGUARD_OK)
			return STSGUARD_INVALID;
		r->n++;
		p += len;
	}
	if (r->n == 0)
		return sg_err(err, STSGUARD_INVALID, "no resolver address");
	return STSGUARD_OK;
}

static stsguard_status set_path(char **slot, const char *v, stsguard_err *err)
{
	if (v[0] != '/')
		return sg_err(err, STSGUARD_INVALID, "'%s' is not an absolute path", v);
	char *copy = sg_strndup(v, strlen(v));
	if (copy == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	free(*slot);
	*slot = copy;
	return STSGUARD_OK;
}

static stsguard_status key_ca_file(stsguard_config *c, const char *v, stsguard_err *err)
{
	return set_path(&c->ca_file, v, err);
}

static stsguard_status key_cache_dir(stsguard_config *c, const char *v, stsguard_err *err)
{
	return set_path(&c->cache_dir, v, err);
}

static stsguard_status key_fetch_timeout(stsguard_config *c, const char *v, stsguard_err *err)
{
	return parse_uint(v, 1, 300, &c->fetch_timeout, err);
}

static stsguard_status key_dns_timeout(stsguard_config *c, const char *v, stsguard_err *err)
{
	return parse_uint(v, 100, 30000, &c->resolver.timeout_ms, err);
}

static stsguard_status key_dns_tries(stsguard_config *c, const char *v, stsguard_err *err)
{
	return parse_uint(v, 1, 10, &c->resolver.retries, err);
}

static stsguard_status key_https_proxy(stsguard_config *c, const char *v, stsguard_err *err)
{
	if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0 && strncmp(v, "socks5h://", 10) != 0)
		return sg_err(err, STSGUARD_INVALID, "proxy '%s' must be an http://, https:// or socks5h:// URL", v);
	char *copy = sg_strndup(v, strlen(v));
	if (copy == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	free(c->proxy);
	c->proxy = copy;
	return STSGUARD_OK;
}

static stsguard_status key_listen(stsguard_config *c, const char *v, stsguard_err *err)
{
	if (c->n_listen >= STSGUARD_LISTEN_MAX)
		return sg_err(err, STSGUARD_INVALID, "more than %u listen lines", STSGUARD_LISTEN_MAX);
	if (strncmp(v, "unix:", 5) == 0) {
		if (v[5] != '/' || strlen(v + 5) >= 108)
			return sg_err(err, STSGUARD_INVALID, "'%s': a unix socket needs an absolute path under 108 bytes", v);
	} else if (strncmp(v, "inet:", 5) == 0) {
		char ip[46];
		uint16_t port;
		const char *hp = v + 5;
		if (parse_server(hp, strlen(hp), ip, &port, err) != STSGUARD_OK || strchr(hp, ':') == NULL)
			return sg_err(err, STSGUARD_INVALID, "'%s': expected inet:IP:PORT", v);
		/* The maps answer anyone who can connect: loopback only. */
		if (strncmp(ip, "127.", 4) != 0 && strcmp(ip, "::1") != 0)
			return sg_err(err, STSGUARD_INVALID, "'%s': only loopback addresses may be used", v);
	} else {
		return sg_err(err, STSGUARD_INVALID, "'%s': expected unix:/path or inet:127.0.0.1:PORT", v);
	}
	char *copy = sg_strndup(v, strlen(v));
	if (copy == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	c->listen[c->n_listen++] = copy;
	return STSGUARD_OK;
}

static stsguard_status key_user(stsguard_config *c, const char *v, stsguard_err *err)
{
	for (const char *p = v; *p != '\0'; p++)
		if (!sg_is_alnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
			return sg_err(err, STSGUARD_INVALID, "'%s' is not a user name", v);
	if (*v == '\0' || strlen(v) > 32)
		return sg_err(err, STSGUARD_INVALID, "bad user name");
	char *copy = sg_strndup(v, strlen(v));
	if (copy == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	free(c->user);
	c->user = copy;
	return STSGUARD_OK;
}

static stsguard_status key_workers(stsguard_config *c, const char *v, stsguard_err *err)
{
	return parse_uint(v, 1, 256, &c->workers, err);
}

static stsguard_status key_query_timeout(stsguard_config *c, const char *v, stsguard_err *err)
{
	unsigned s;
	if (parse_uint(v, 1, 60, &s, err) != STSGUARD_OK)
		return STSGUARD_INVALID;
	c->query_timeout_ms = s * 1000;
	return STSGUARD_OK;
}

static stsguard_status key_tempfail_answer(stsguard_config *c, const char *v, stsguard_err *err)
{
	if (strcmp(v, "auto") == 0)
		c->tempfail_answer = 0;
	else if (strcmp(v, "temp") == 0)
		c->tempfail_answer = 1;
	else if (strcmp(v, "notfound") == 0)
		c->tempfail_answer = 2;
	else
		return sg_err(err, STSGUARD_INVALID, "'%s': expected auto, temp or notfound", v);
	return STSGUARD_OK;
}

static stsguard_status key_log_level(stsguard_config *c, const char *v, stsguard_err *err)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {{"error", LOG_ERR}, {"warning", LOG_WARNING}, {"notice", LOG_NOTICE}, {"info", LOG_INFO},
	              {"debug", LOG_DEBUG}};
	for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
		if (strcmp(v, levels[i].name) == 0) {
			c->log_level = levels[i].level;
			return STSGUARD_OK;
		}
	return sg_err(err, STSGUARD_INVALID, "'%s': expected error, warning, notice, info or debug", v);
}

static stsguard_status key_max_clients(stsguard_config *c, const char *v, stsguard_err *err)
{
	return parse_uint(v, 1, 100000, &c->max_clients, err);
}

static stsguard_status key_max_domains(stsguard_config *c, const char *v, stsguard_err *err)
{
	return parse_uint(v, 100, 10000000, &c->max_domains, err);
}

static stsguard_status set_str(char **slot, const char *v, stsguard_err *err)
{
	char *copy = sg_strndup(v, strlen(v));
	if (copy == NULL)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	free(*slot);
	*slot = copy;
	return STSGUARD_OK;
}

static stsguard_status key_tlsrpt_dir(stsguard_config *c, const char *v, stsguard_err *err)
{
	return set_path(&c->tlsrpt_dir, v, err);
}

static stsguard_status key_tlsrpt_retention(stsguard_config *c, const char *v, stsguard_err *err)
{
	return parse_uint(v, 1, STSGUARD_TLSRPT_RETENTION_MAX, &c->tlsrpt_retention, err);
}

static stsguard_status key_report_spread(stsguard_config *c, const char *v, stsguard_err *err)
{
	return parse_uint(v, 0, STSGUARD_TLSRPT_SPREAD_MAX, &c->report_spread, err);
}

static stsguard_status key_tlsrpt_socket(stsguard_config *c, const char *v, stsguard_err *err)
{
	if (strlen(v) >= 108)
		return sg_err(err, STSGUARD_INVALID, "'%s': longer than a unix socket path may be", v);
	return set_path(&c->tlsrpt_socket, v, err);
}

static stsguard_status key_report_organization(stsguard_config *c, const char *v, stsguard_err *err)
{
	/* RFC 8460 §4.4 organization-name; the report builder's rules (tlsrpt_report.h). */
	if (*v == '\0' || strlen(v) > STSGUARD_TLSRPT_REPORT_META_MAX)
		return sg_err(err, STSGUARD_INVALID, "1..%u bytes", STSGUARD_TLSRPT_REPORT_META_MAX);
	for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return sg_err(err, STSGUARD_INVALID, "control character");
	return set_str(&c->report_organization, v, err);
}

/* An addr-spec, by the same rules as an rua recipient. */
static stsguard_status set_addr(char **slot, const char *v, stsguard_err *err)
{
	char uri[STSGUARD_ADDR_MAX + 16];
	char addr[1][STSGUARD_ADDR_MAX + 1];
	size_t n = 0;
	stsguard_err aerr = {""};
	int len = snprintf(uri, sizeof uri, "mailto:%s", v);
	if (len < 0 || (size_t)len >= sizeof uri || strchr(v, ',') != NULL || strchr(v, '?') != NULL ||
	    strchr(v, '%') != NULL ||
	    stsguard_tlsrpt_mailto_parse(uri, (size_t)len, addr, 1, &n, &aerr) != STSGUARD_OK || n != 1)
		return sg_err(err, STSGUARD_INVALID, "'%s' is not an address local@domain", v);
	return set_str(slot, addr[0], err);
}

static stsguard_status key_report_contact(stsguard_config *c, const char *v, stsguard_err *err)
{
	return set_addr(&c->report_contact, v, err);
}

static stsguard_status key_report_from(stsguard_config *c, const char *v, stsguard_err *err)
{
	return set_addr(&c->report_from, v, err);
}

static stsguard_status set_domain(char **slot, const char *v, stsguard_err *err)
{
	char norm[STSGUARD_DOMAIN_MAX + 1];
	if (stsguard_domain_normalize(v, norm) != STSGUARD_OK || strchr(norm, '.') == NULL)
		return sg_err(err, STSGUARD_INVALID, "'%s' is not a domain name (A-labels)", v);
	return set_str(slot, norm, err);
}

static stsguard_status key_report_submitter(stsguard_config *c, const char *v, stsguard_err *err)
{
	return set_domain(&c->report_submitter, v, err);
}

static stsguard_status key_dkim_domain(stsguard_config *c, const char *v, stsguard_err *err)
{
	return set_domain(&c->dkim_domain, v, err);
}

static stsguard_status key_dkim_key(stsguard_config *c, const char *v, stsguard_err *err)
{
	return set_path(&c->dkim_key, v, err);
}

static stsguard_status key_dkim_selector(stsguard_config *c, const char *v, stsguard_err *err)
{
	/* RFC 6376 §3.1: selector = sub-domain *( "." sub-domain ) */
	size_t label = 0;
	if (*v == '\0' || strlen(v) > 63)
		return sg_err(err, STSGUARD_INVALID, "empty or longer than 63 bytes");
	for (const char *p = v; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				return sg_err(err, STSGUARD_INVALID, "empty label");
			label = 0;
		} else if (sg_is_alnum((unsigned char)*p) || (*p == '-' && label > 0)) {
			label++;
		} else {
			return sg_err(err, STSGUARD_INVALID, "'%s' is not a selector", v);
		}
	}
	if (label == 0)
		return sg_err(err, STSGUARD_INVALID, "empty label");
	return set_str(&c->dkim_selector, v, err);
}

static stsguard_status key_report_sendmail(stsguard_config *c, const char *v, stsguard_err *err)
{
	char buf[1024];
	char *argv[STSGUARD_SENDMAIL_ARGS_MAX + 1];
	size_t n;
	stsguard_status st = stsguard_tlsrpt_sendmail_argv(v, buf, sizeof buf, argv, &n, err);
	if (st != STSGUARD_OK)
		return st;
	return set_str(&c->report_sendmail, v, err);
}

static stsguard_status key_report_smtp(stsguard_config *c, const char *v, stsguard_err *err)
{
	stsguard_status st = stsguard_tlsrpt_smtp_url_check(v, err);
	if (st != STSGUARD_OK)
		return st;
	return set_str(&c->report_smtp, v, err);
}

static stsguard_status key_report_spool(stsguard_config *c, const char *v, stsguard_err *err)
{
	return set_path(&c->report_spool, v, err);
}

static const struct {
	const char *name;
	key_fn fn;
} keys[] = {
	{"resolver", key_resolver},
	{"dns_timeout", key_dns_timeout},
	{"dns_tries", key_dns_tries},
	{"ca_file", key_ca_file},
	{"cache_dir", key_cache_dir},
	{"fetch_timeout", key_fetch_timeout},
	{"https_proxy", key_https_proxy},
	{"listen", key_listen},
	{"user", key_user},
	{"workers", key_workers},
	{"query_timeout", key_query_timeout},
	{"tempfail_answer", key_tempfail_answer},
	{"log_level", key_log_level},
	{"max_clients", key_max_clients},
	{"max_domains", key_max_domains},
	{"tlsrpt_dir", key_tlsrpt_dir},
	{"tlsrpt_retention", key_tlsrpt_retention},
	{"tlsrpt_socket", key_tlsrpt_socket},
	{"report_organization", key_report_organization},
	{"report_contact", key_report_contact},
	{"report_submitter", key_report_submitter},
	{"report_from", key_report_from},
	{"dkim_key", key_dkim_key},
	{"dkim_selector", key_dkim_selector},
	{"dkim_domain", key_dkim_domain},
	{"report_sendmail", key_report_sendmail},
	{"report_spool", key_report_spool},
	{"report_smtp", key_report_smtp},
	{"report_spread", key_report_spread},
};

const char *const *stsguard_config_keys(void)
{
	static const char *names[sizeof keys / sizeof keys[0] + 1];
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		names[i] = keys[i].name;
	names[sizeof keys / sizeof keys[0]] = NULL;
	return names;
}

stsguard_status stsguard_config_new(stsguard_config **out)
{
	stsguard_config *c = calloc(1, sizeof *c);
	*out = NULL;
	if (c == NULL)
		return STSGUARD_NOMEM;
	c->resolver.n = 0; /* /etc/resolv.conf */
	c->resolver.timeout_ms = 2000;
	c->resolver.retries = 2;
	c->fetch_timeout = 10;
	c->workers = 16;
	c->query_timeout_ms = 4000; /* below Sendmail's 5 s map timeout (FEATURE(sts) uses -d5) */
	c->tempfail_answer = 0;
	c->log_level = LOG_INFO;
	c->max_clients = 1024;
	c->max_domains = 1000000;
	c->tlsrpt_retention = STSGUARD_TLSRPT_RETENTION_DEFAULT;
	c->report_spread = STSGUARD_TLSRPT_SPREAD_DEFAULT;
	c->cache_dir = sg_strndup(STSGUARD_DEFAULT_CACHE_DIR, strlen(STSGUARD_DEFAULT_CACHE_DIR));
	c->report_spool = sg_strndup(STSGUARD_DEFAULT_REPORT_SPOOL, strlen(STSGUARD_DEFAULT_REPORT_SPOOL));
	c->report_sendmail = sg_strndup(STSGUARD_DEFAULT_SENDMAIL, strlen(STSGUARD_DEFAULT_SENDMAIL));
	c->dkim_selector = sg_strndup(STSGUARD_DEFAULT_DKIM_SELECTOR, strlen(STSGUARD_DEFAULT_DKIM_SELECTOR));
	if (c->cache_dir == NULL || c->report_spool == NULL || c->report_sendmail == NULL ||
	    c->dkim_selector == NULL) {
		stsguard_config_free(c);
		return STSGUARD_NOMEM;
	}
	*out = c;
	return STSGUARD_OK;
}

void stsguard_config_free(stsguard_config *c)
{
	if (c == NULL)
		return;
	free(c->ca_file);
	free(c->cache_dir);
	free(c->tlsrpt_dir);
	free(c->tlsrpt_socket);
	free(c->proxy);
	for (size_t i = 0; i < c->n_listen; i++)
		free(c->listen[i]);
	free(c->user);
	free(c->report_organization);
	free(c->report_smtp);
	free(c->report_contact);
	free(c->report_submitter);
	free(c->report_from);
	free(c->dkim_key);
	free(c->dkim_selector);
	free(c->dkim_domain);
	free(c->report_sendmail);
	free(c->report_spool);
	free(c);
}

static stsguard_status parse_line(stsguard_config *c, char *line, stsguard_err *err)
{
	char *p = line;
	while (sg_is_wsp((unsigned char)*p))
		p++;
	if (*p == '\0' || *p == '#')
		return STSGUARD_OK;
	char *eq = strchr(p, '=');
	if (eq == NULL)
		return sg_err(err, STSGUARD_INVALID, "expected 'key = value'");
	char *kend = eq;
	while (kend > p && sg_is_wsp((unsigned char)kend[-1]))
		kend--;
	*kend = '\0';
	char *v = eq + 1;
	while (sg_is_wsp((unsigned char)*v))
		v++;
	char *vend = v + strlen(v);
	while (vend > v && sg_is_wsp((unsigned char)vend[-1]))
		vend--;
	*vend = '\0';
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (strcmp(keys[i].name, p) != 0)
			continue;
		stsguard_err kerr = {""};
		if (keys[i].fn(c, v, &kerr) != STSGUARD_OK)
			return sg_err(err, STSGUARD_INVALID, "%s: %s", p, kerr.msg);
		return STSGUARD_OK;
	}
	char shown[64];
	sg_escape(shown, sizeof shown, p, strlen(p));
	return sg_err(err, STSGUARD_INVALID, "unknown key '%s'", shown);
}

stsguard_status stsguard_config_parse(const char *text, size_t len, const char *name, stsguard_config **out,
                                      stsguard_err *err)
{
	stsguard_config *c;
	size_t pos = 0, lineno = 0;

	*out = NULL;
	if (len > STSGUARD_CONFIG_FILE_MAX)
		return sg_err(err, STSGUARD_TOOBIG, "%s: larger than %u bytes", name, STSGUARD_CONFIG_FILE_MAX);
	if (stsguard_config_new(&c) != STSGUARD_OK)
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;
		char line[STSGUARD_CONFIG_LINE_MAX];
		size_t llen = end - pos;

		lineno++;
		if (llen > 0 && text[pos + llen - 1] == '\r')
			llen--;
		if (llen >= sizeof line) {
			stsguard_config_free(c);
			return sg_err(err, STSGUARD_INVALID, "%s:%zu: line longer than %u bytes", name, lineno,
			              STSGUARD_CONFIG_LINE_MAX - 1);
		}
		memcpy(line, text + pos, llen);
		line[llen] = '\0';
		if (memchr(line, '\0', llen) != NULL) {
			stsguard_config_free(c);
			return sg_err(err, STSGUARD_INVALID, "%s:%zu: NUL byte", name, lineno);
		}
		stsguard_err lerr = {""};
		if (parse_line(c, line, &lerr) != STSGUARD_OK) {
			stsguard_config_free(c);
			return sg_err(err, STSGUARD_INVALID, "%s:%zu: %s", name, lineno, lerr.msg);
		}
		pos = nl != NULL ? end + 1 : len;
	}
	/* tlsrpt_dir not given: <cache_dir>/tlsrpt (the default cache_dir makes it STSGUARD_DEFAULT_TLSRPT_DIR). */
	if (c->tlsrpt_dir == NULL) {
		size_t cl = strlen(c->cache_dir);
		c->tlsrpt_dir = malloc(cl + sizeof "/tlsrpt");
		if (c->tlsrpt_dir == NULL) {
			stsguard_config_free(c);
			return sg_err(err, STSGUARD_NOMEM, "out of memory");
		}
		memcpy(c->tlsrpt_dir, c->cache_dir, cl);
		memcpy(c->tlsrpt_dir + cl, "/tlsrpt", sizeof "/tlsrpt");
	}
	*out = c;
	return STSGUARD_OK;
}

stsguard_status stsguard_config_load(const char *path, int missing_ok, stsguard_config **out, stsguard_err *err)
{
	*out = NULL;
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		if (errno == ENOENT && missing_ok)
			return stsguard_config_new(out) == STSGUARD_OK ? STSGUARD_OK
			                                                : sg_err(err, STSGUARD_NOMEM, "out of memory");
		return sg_err(err, STSGUARD_IO, "%s: %s", path, strerror(errno));
	}
	char *buf = malloc(STSGUARD_CONFIG_FILE_MAX + 1);
	if (buf == NULL) {
		fclose(f);
		return sg_err(err, STSGUARD_NOMEM, "out of memory");
	}
	size_t n = fread(buf, 1, STSGUARD_CONFIG_FILE_MAX + 1, f);
	int bad = ferror(f);
	fclose(f);
	stsguard_status st = bad ? sg_err(err, STSGUARD_IO, "%s: read error", path)
	                         : stsguard_config_parse(buf, n, path, out, err);
	free(buf);
	return st;
}
