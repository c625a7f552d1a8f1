/*
 * sc_proxy: pdsim-sidecar's HTTP server: the P/D flow for the generation
 * paths, a transparent streaming reverse proxy for everything else, /health,
 * /ready and the sidecar's metrics (appended to the decoder's /metrics).
 * One civetweb worker thread per connection; thread-safe.
 */
#ifndef PDSIM_SC_PROXY_H
#define PDSIM_SC_PROXY_H

#include "sidecar/sc_config.h"

#include <stddef.h>

struct sc_server;

/* Start listening; cfg is borrowed. NULL with a reason in err on failure. */
struct sc_server *sc_server_start(const struct sc_config *cfg, char *err, size_t errlen);
/* The real port of rank 0 (--port) or of data-parallel rank r. */
int sc_server_port(const struct sc_server *s, int rank);
/* Requests in flight; after begin_shutdown new ones get 503. */
long sc_server_inflight(struct sc_server *s);
void sc_server_begin_shutdown(struct sc_server *s);
/* Stop listening, wait for in-flight requests, free. Accepts NULL. */
void sc_server_stop(struct sc_server *s);

#endif
