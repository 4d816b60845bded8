/* The HTTP listeners (libmicrohttpd): a unix socket for local root callers and a
 * TLS port that requires client certificates. Both serve the same api. */
#pragma once
#include "agent/api.h"
#include "agent/config.h"

#include <stdint.h>

struct http_listener;

/* Listens on cfg->listen_unix: its directory is created 0700 when missing, the
 * socket is 0600, and peers whose SO_PEERCRED uid is not 0 get 403 peer_not_root.
 * A stale socket file is replaced; one that still answers means another agent: -EADDRINUSE. */
int http_listen_unix(const char *path, struct api *api, struct http_listener **out);

/* Listens on cfg->tls_host:tls_port with TLS; *port is the port actually bound. */
int http_listen_tls(const struct agent_config *cfg, struct api *api, struct http_listener **out, uint16_t *port);

/* Stops accepting, waits for requests in progress, closes; removes the unix socket file. */
void http_stop(struct http_listener *l);
