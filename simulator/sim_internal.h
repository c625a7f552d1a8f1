/*
 * sim_internal: state shared by sim_server.c (routes, lifecycle) and
 * sim_generate.c (the completion request lifecycle). Not a public API.
 */
#ifndef PDSIM_SIM_INTERNAL_H
#define PDSIM_SIM_INTERNAL_H

#include "simulator/sim_config.h"
#include "simulator/sim_latency.h"
#include "simulator/sim_lora.h"
#include "simulator/sim_metrics.h"
#include "simulator/sim_request.h"
#include "simulator/sim_sched.h"
#include "simulator/sim_server.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

struct buf;
struct mg_connection;
struct sim_fake;
struct sim_kvrank;
struct tls_reload;
struct mg_context;

/* The settings POST /admin/config may change, as one immutable snapshot: a
 * request reads the snapshot current when it starts; an update publishes a
 * new one atomically. Old snapshots stay until the server stops (updates are
 * rare and small), so a request never sees one freed. */
struct sim_runtime {
    struct sim_config cfg; /* a copy; its pointer members are the running config's */
    struct sim_lat lat;
    struct sim_fake *own_fake; /* cfg.fake_metrics when an update made it (freed at stop) */
    struct sim_runtime *prev;
};

struct pump;

struct sim_server {
    const struct sim_config *cfg;
    struct mg_context *ctx;
    int port;
    _Atomic(struct sim_runtime *) rt;
    pthread_mutex_t admin_mu; /* one /admin/config update at a time */
    struct sim_sched *sched;
    struct sim_metrics *metrics;
    struct sim_lora *loras;  /* this rank's known adapters */
    const struct sim_dp *dp; /* borrowed: every rank's engine id, for /query */
    int rank;                /* data-parallel rank */
    struct tls_reload *tls;  /* with --ssl-certfile: serves renewed files */
    struct sim_kvrank *kv;   /* with --enable-kvcache: the KV cache and its events */
    char engine_id[37];
    char *pd_host;       /* remote_host in kv_transfer_params */
    char *extra_headers; /* x-inference-* lines, or "" */
    _Atomic bool shutting_down;
    _Atomic bool sleeping;   /* /sleep and /wake_up (does not block inference, as upstream) */
    struct timespec started; /* CLOCK_MONOTONIC, for --startup-duration */
    _Atomic long inflight;
    _Atomic unsigned long long req_counter;
    int abortfd;       /* eventfd; readable once sim_server_abort ran */
    struct pump *pump; /* runs the timed loop of every plain-HTTP request */
};

/* The body of a control request (LoRA, /admin/config), at most 1 MB, into
 * body. Returns 0, or the status of the error already sent (body released). */
int sim_server_small_body(struct sim_server *s, struct mg_connection *c, struct buf *body);

/* Serve a generation request of api (chat, completions, responses, messages,
 * generate). Returns the HTTP status for the access log. */
int sim_generate(struct sim_server *s, struct mg_connection *c, enum sim_api api, char *reqid,
                 size_t reqidlen);

#endif
