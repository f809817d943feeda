/*
 * config.h - /etc/stsguard/stsguard.conf.
 *
 * Plain "key = value" lines; '#' starts a comment line; blank lines are
 * ignored; keys are case-sensitive; an unknown key or a bad value is an
 * error that names the file and line, so a typo never goes unnoticed.
 * Every key is documented in docs/configuration.md (a test checks it).
 */
#ifndef STSGUARD_CONFIG_H
#define STSGUARD_CONFIG_H

#include <stddef.h>

#include "dns.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STSGUARD_DEFAULT_CONFIG "/etc/stsguard/stsguard.conf"
#define STSGUARD_DEFAULT_CACHE_DIR "/var/lib/stsguard"
#define STSGUARD_CONFIG_FILE_MAX (256u * 1024u)
#define STSGUARD_CONFIG_LINE_MAX 4096u
#define STSGUARD_LISTEN_MAX 8u
#define STSGUARD_DEFAULT_SOCKET "/run/stsguard/stsguardd.sock"
#define STSGUARD_DEFAULT_TLSRPT_DIR "/var/lib/stsguard/tlsrpt"
#define STSGUARD_DEFAULT_REPORT_SPOOL "/var/lib/stsguard/tlsrpt-sent"
#define STSGUARD_DEFAULT_SENDMAIL "/usr/sbin/sendmail -oi"
#define STSGUARD_DEFAULT_DKIM_SELECTOR "tlsrpt"

typedef struct stsguard_config {
	stsguard_resolver_conf resolver; /* "resolver", "dns_timeout", "dns_tries" */
	char *ca_file;                   /* "ca_file"; NULL: system trust store */
	char *cache_dir;                 /* "cache_dir" */
	unsigned fetch_timeout;          /* "fetch_timeout", seconds */
	char *proxy;                     /* "https_proxy"; NULL: never a proxy */
	/* stsguardd */
	size_t n_listen;                 /* "listen", repeatable; 0: the default socket */
	char *listen[STSGUARD_LISTEN_MAX]; /* "unix:/path" or "inet:127.0.0.1:PORT" */
	char *user;                      /* "user": drop to this user after binding; NULL: stay */
	unsigned workers;                /* "workers": discovery threads */
	unsigned query_timeout_ms;       /* "query_timeout": longest a lookup waits, ms */
	int tempfail_answer;             /* "tempfail_answer": a stsguard_tempfail_answer */
	int log_level;                   /* "log_level": a syslog priority (LOG_ERR..LOG_DEBUG) */
	unsigned max_clients;            /* "max_clients" */
	unsigned max_domains;            /* "max_domains": domains kept in memory */
	/* TLS-RPT */
	char *tlsrpt_dir;                /* "tlsrpt_dir"; not given: <cache_dir>/tlsrpt (set by load/parse) */
	unsigned tlsrpt_retention;       /* "tlsrpt_retention": days of results kept */
	char *tlsrpt_socket;             /* "tlsrpt_socket": libtlsrpt datagram socket; NULL: none */
	char *report_organization;       /* "report_organization": organization-name; NULL: not set */
	char *report_contact;            /* "report_contact": contact-info addr-spec; NULL: not set */
	char *report_submitter;          /* "report_submitter": our domain; NULL: not set */
	char *report_from;               /* "report_from": From: and envelope sender; NULL: not set */
	char *dkim_key;                  /* "dkim_key": PEM private key file; NULL: mail reports are not sent */
	char *dkim_selector;             /* "dkim_selector" */
	char *dkim_domain;               /* "dkim_domain"; NULL: the domain of report_from */
	char *report_smtp;               /* "report_smtp": smtp://IP:PORT instead of report_sendmail; NULL: not set */
	char *report_sendmail;           /* "report_sendmail": command and arguments, no shell */
	char *report_spool;              /* "report_spool": the attempt log of report delivery */
	unsigned report_spread;          /* "report_spread": first sends spread over [0, this) s after 00:00Z */
} stsguard_config;

/* Defaults for every key. *out for stsguard_config_free(). */
STSGUARD_EXPORT stsguard_status stsguard_config_new(stsguard_config **out);

/*
 * Read path into a new config (defaults for keys not given). A missing file
 * is STSGUARD_IO unless missing_ok, in which case the defaults are used.
 * On failure *out is NULL and err says "FILE:LINE: what is wrong".
 */
STSGUARD_EXPORT stsguard_status stsguard_config_load(const char *path, int missing_ok,
                                                     stsguard_config **out, stsguard_err *err);

/* Parse a config held in memory; name is used in error messages. */
STSGUARD_EXPORT stsguard_status stsguard_config_parse(const char *text, size_t len, const char *name,
                                                      stsguard_config **out, stsguard_err *err);

STSGUARD_EXPORT void stsguard_config_free(stsguard_config *config);

/* NULL-terminated list of every key the parser knows (for documentation checks). */
STSGUARD_EXPORT const char *const *stsguard_config_keys(void);

#ifdef __cplusplus
}
#endif
#endif
