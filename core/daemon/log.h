/*
 * log.h - stsguardd's logging: syslog (facility mail) or, in the
 * foreground, stderr with a timestamp. Levels are syslog priorities.
 */
#ifndef STSGUARDD_LOG_H
#define STSGUARDD_LOG_H

#include <syslog.h>

#if defined(__GNUC__)
#define DLOG_PRINTF __attribute__((format(printf, 2, 3)))
#else
#define DLOG_PRINTF
#endif

void dlog_init(int foreground, int level);
void dlog_set_level(int level);
void dlog(int level, const char *fmt, ...) DLOG_PRINTF;

#endif
