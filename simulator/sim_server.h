/*
 * sim_server: pdsim-simulator's HTTP server: routes, the request lifecycle
 * (parse, admit, simulate prefill and decode, stream), health and metrics.
 *
 * Each request runs on its own civetweb worker thread and sleeps against
 * absolute CLOCK_MONOTONIC deadlines, watching its socket so a client that
 * leaves frees its slot at once. Thread-safe; one server per process.
 */
#ifndef PDSIM_SIM_SERVER_H
#define PDSIM_SIM_SERVER_H

#include "simulator/sim_config.h"

#include <stdbool.h>
#include <stddef.h>

struct sim_server;

/* Start listening. cfg is borrowed and must outlive the server. Returns the
 * server or NULL with a reason in err. */
struct sim_server *sim_server_start(const struct sim_config *cfg, char *err, size_t errlen);
/* The port actually listened on. */
int sim_server_port(const struct sim_server *s);
/* Refuse new generation requests with 503 from now on. */
void sim_server_begin_shutdown(struct sim_server *s);
/* Requests still in flight. */
long sim_server_inflight(const struct sim_server *s);
/* Make every in-flight request end now (streams get an error event). */
void sim_server_abort(struct sim_server *s);
/* Stop listening, wait for the workers and free everything. Accepts NULL. */
void sim_server_stop(struct sim_server *s);

#endif
