/*
 * server.h - stsguardd's event loop: listeners, clients, the socketmap
 * maps, the in-memory answer table, deadlines and housekeeping.
 */
#ifndef STSGUARDD_SERVER_H
#define STSGUARDD_SERVER_H

#include "stsguard/cache.h"
#include "stsguard/config.h"
#include "stsguard/status.h"

struct server;

/* Bind every listen socket of conf (before privileges are dropped). */
stsguard_status server_new(const stsguard_config *conf, struct server **out, stsguard_err *err);
/* Give the server its cache and start the discovery threads (after the drop). */
stsguard_status server_start(struct server *s, stsguard_cache *cache, stsguard_err *err);
/* Run until SIGTERM/SIGINT; SIGHUP reloads config_path. Returns the exit status. */
int server_run(struct server *s, const char *config_path);
void server_free(struct server *s);

#endif
