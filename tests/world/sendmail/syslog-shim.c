/* syslog-shim.c - LD_PRELOAD library for test_sendmail.sh: the test world
 * has no syslog daemon, so syslog(3) calls of the unpacked Sendmail (and of
 * stsguard-milter) are appended to $SYSLOG_SHIM_FILE instead, one line each:
 * "<unix time> <ident>[<pid>]: <message>".  The file is opened per message
 * (O_APPEND) because Sendmail closes every descriptor it does not know, and
 * the path is read once at load time because Sendmail empties its
 * environment early in main(). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static char shim_ident[64] = "?";
static char shim_path[1024];

__attribute__((constructor)) static void shim_init(void)
{
	const char *p = getenv("SYSLOG_SHIM_FILE");
	if (p != NULL)
		snprintf(shim_path, sizeof shim_path, "%s", p);
}

void openlog(const char *ident, int option, int facility)
{
	(void)option;
	(void)facility;
	if (ident != NULL)
		snprintf(shim_ident, sizeof shim_ident, "%s", ident);
}

void closelog(void) {}

void vsyslog(int prio, const char *fmt, va_list ap)
{
	const char *path = shim_path;
	char line[4096];
	int n, m, fd;

	(void)prio;
	if (path[0] == '\0')
		return;
	n = snprintf(line, sizeof line, "%lld %s[%ld]: ", (long long)time(NULL), shim_ident, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof line)
		return;
	m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	n = (size_t)(n + m) >= sizeof line - 1 ? (int)sizeof line - 2 : n + m;
	line[n++] = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) < 0) {
		/* nowhere to report it */
	}
	close(fd);
}

void syslog(int prio, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsyslog(prio, fmt, ap);
	va_end(ap);
}

void __syslog_chk(int prio, int flag, const char *fmt, ...);
void __syslog_chk(int prio, int flag, const char *fmt, ...)
{
	va_list ap;
	(void)flag;
	va_start(ap, fmt);
	vsyslog(prio, fmt, ap);
	va_end(ap);
}
