/*
 * smclient.h - the smallest useful socketmap client, for code that MTAs
 * load or fork (the Exim dlfunc module, milters, table processes).
 *
 * It speaks netstrings to stsguardd over a unix socket with a deadline on
 * every step, never raises SIGPIPE, and keeps one connection per process:
 * a connection inherited across fork() is dropped (never used by two
 * processes at once, which would interleave their replies) and a stale one
 * is reopened once. No allocation, no dependency beyond libc, so it can live
 * inside an MTA process.
 */
#ifndef STSGUARD_SMCLIENT_H
#define STSGUARD_SMCLIENT_H

#include <stddef.h>
#include <sys/types.h>

#define SMC_REPLY_MAX 65536u  /* longest reply payload accepted */
#define SMC_REQUEST_MAX 1024u /* stsguardd's request cap */

struct smc {
	int fd;       /* -1: not connected */
	pid_t pid;    /* process that opened fd */
	char path[108];
};

#define SMC_INIT {-1, 0, ""}

/*
 * Send "MAP KEY" to the daemon at unix socket path and wait at most
 * timeout_ms for the reply payload, copied NUL-terminated into reply
 * (replysz bytes). 0 on success; -1 with a one-line reason in err
 * (unreachable, timeout, protocol error, too long) otherwise, after which
 * the connection is closed.
 */
int smc_query(struct smc *c, const char *path, const char *map, const char *key, int timeout_ms, char *reply,
              size_t replysz, char *err, size_t errsz);

/* Close the connection (if this process opened it). */
void smc_close(struct smc *c);

#endif
