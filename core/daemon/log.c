/*
 * log.c - stsguardd's logging (see log.h). Thread-safe: one write(2) or one
 * syslog(3) call per line.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int use_stderr;
static int max_level = LOG_INFO;

void dlog_init(int foreground, int level)
{
	use_stderr = foreground;
	max_level = level;
	if (!foreground)
		openlog("stsguardd", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void dlog_set_level(int level)
{
	max_level = level;
}

void dlog(int level, const char *fmt, ...)
{
	static const char *const names[] = {"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"};
	char msg[1024];
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!use_stderr) {
		syslog(level, "%s", msg);
		return;
	}
	char line[1200];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: %s\n", tm.tm_year + 1900,
	                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
	                 level >= 0 && level < 8 ? names[level] : "log", msg);
	if (n > 0)
		(void)!write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}
