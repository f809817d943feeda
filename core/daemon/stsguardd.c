/*
 * stsguardd.c - the stsguard policy daemon: main().
 *
 *   stsguardd [-f] [-c FILE]
 *
 * Reads the configuration, binds the sockets, opens the policy cache, drops
 * to the configured user, and serves the socketmap maps until SIGTERM
 * (SIGHUP reloads the settings that can change without a restart). With -f
 * it stays in the foreground and logs to stderr (systemd, tests); without,
 * it detaches and logs to syslog.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "stsguard/cache.h"
#include "stsguard/config.h"
#include "stsguard/fetch.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: stsguardd [-f] [-c FILE]\n"
	           "  -f       stay in the foreground, log to stderr\n"
	           "  -c FILE  configuration (default " STSGUARD_DEFAULT_CONFIG ")\n"
	           "  -V       print the version\n");
}

/* cache_dir and its files belong to the user the daemon runs as. */
static int give_cache_dir(const char *dir, const struct passwd *pw)
{
	static const char *const files[] = {"", "/cache.journal", "/cache.lock"};
	char path[4096];
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s%s", dir, files[i]);
		if (chown(path, pw->pw_uid, pw->pw_gid) != 0 && errno != ENOENT) {
			dlog(LOG_ERR, "chown %s: %s", path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int drop_privileges(const char *user, const char *cache_dir)
{
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		dlog(LOG_ERR, "user %s does not exist", user);
		return -1;
	}
	if (geteuid() != 0) {
		if (geteuid() == pw->pw_uid)
			return 0;
		dlog(LOG_ERR, "cannot become %s: not started as root", user);
		return -1;
	}
	if (give_cache_dir(cache_dir, pw) != 0)
		return -1;
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		dlog(LOG_ERR, "cannot become %s: %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		dlog(LOG_ERR, "privileges could be regained after dropping them");
		return -1;
	}
	return 0;
}

static int detach(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") != 0)
		return -1;
	int fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		return -1;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	const char *config_path = STSGUARD_DEFAULT_CONFIG;
	int foreground = 0, explicit_config = 0;
	int opt;

	while ((opt = getopt(argc, argv, "fc:Vh")) != -1) {
		switch (opt) {
		case 'f':
			foreground = 1;
			break;
		case 'c':
			config_path = optarg;
			explicit_config = 1;
			break;
		case 'V':
			printf("stsguardd " STSGUARD_VERSION "\n");
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	/*
	 * Discovery threads would each get a glibc malloc arena that keeps its
	 * freed memory; two arenas bound that, and the answers stay compact.
	 */
	mallopt(M_ARENA_MAX, 2);

	stsguard_config *conf;
	stsguard_err err = {""};
	if (stsguard_config_load(config_path, !explicit_config, &conf, &err) != STSGUARD_OK) {
		fprintf(stderr, "stsguardd: %s\n", err.msg);
		return 2;
	}
	dlog_init(foreground, conf->log_level);
	if (stsguard_fetch_global_init() != STSGUARD_OK) {
		dlog(LOG_ERR, "libcurl cannot be initialised (needs 7.85+ with TLS)");
		stsguard_config_free(conf);
		return 1;
	}

	struct server *srv = NULL;
	stsguard_cache *cache = NULL;
	int rc = 1;
	if (server_new(conf, &srv, &err) != STSGUARD_OK) {
		dlog(LOG_ERR, "%s", err.msg);
		goto out;
	}
	if (stsguard_cache_open(conf->cache_dir, &cache, &err) != STSGUARD_OK) {
		dlog(LOG_ERR, "cache: %s", err.msg);
		goto out;
	}
	if (stsguard_cache_skipped(cache) > 0)
		dlog(LOG_WARNING, "cache: %zu damaged lines skipped (torn write?)", stsguard_cache_skipped(cache));
	if (conf->user != NULL && drop_privileges(conf->user, conf->cache_dir) != 0)
		goto out;
	if (!foreground && detach() != 0) {
		dlog(LOG_ERR, "cannot detach: %s", strerror(errno));
		goto out;
	}
	if (server_start(srv, cache, &err) != STSGUARD_OK) {
		dlog(LOG_ERR, "%s", err.msg);
		goto out;
	}
	rc = server_run(srv, config_path);
out:
	server_free(srv);
	stsguard_cache_close(cache);
	stsguard_config_free(conf);
	stsguard_fetch_global_cleanup();
	return rc;
}
