/*
 * sim_server: pdsim-simulator's HTTP server for one data-parallel rank:
 * routes, the request lifecycle (parse, admit, simulate prefill and decode,
 * stream), LoRA adapters, health and metrics.
 *
 * Each request runs on its own civetweb worker thread and sleeps against
 * absolute CLOCK_MONOTONIC deadlines, watching its socket so a client that
 * leaves frees its slot at once. Thread-safe; one server per rank, each with
 * its own scheduler, metrics and adapters, as upstream's ranks.
 */
#ifndef PDSIM_SIM_SERVER_H
#define PDSIM_SIM_SERVER_H

#include "simulator/sim_config.h"

#include <stdbool.h>
#include <stddef.h>

struct sim_server;

#define SIM_DP_MAX 8

struct sim_dataset;

/* The data-parallel ranks one process serves, and what they share. */
struct sim_dp {
    int first_rank; /* --data-parallel-rank, or 0 */
    int nranks;     /* --data-parallel-size, or 1 with --data-parallel-rank */
    char engine_ids[SIM_DP_MAX][37];
    struct sim_dataset *dataset; /* --dataset-path (owned by main), or NULL */
};

/* The ranks cfg asks for, each with a new engine id (GET /query). */
void sim_dp_init(struct sim_dp *dp, const struct sim_config *cfg);

/* Start listening as rank dp->first_rank + index, on --port + index (or a
 * free port when --port is 0; --data-parallel-rank does not offset it). cfg
 * and dp are borrowed and must outlive the server. Returns the server or
 * NULL with a reason in err. */
struct sim_server *sim_server_start(const struct sim_config *cfg, const struct sim_dp *dp,
                                    int index, char *err, size_t errlen);
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
