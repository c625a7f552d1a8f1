/*
 * sim_kvpub: one rank's KV-event publisher, as upstream's: a ZMQ PUB socket
 * (connected to --zmq-endpoint, or bound when the address is a wildcard or
 * ipc/inproc) sends [topic, 8-byte big-endian sequence number from 1, msgpack
 * batch] once --event-batch-size events are queued, or a second after the
 * last batch; an optional ZMQ ROUTER (--kv-events-replay-endpoint) keeps the
 * last batches and replays them to a client that asks from a sequence number
 * ([identity, "", start seq]) as [identity, "", topic, seq, batch] frames,
 * then the end sentinel [identity, "", "", 0xFF x 8, ""].
 *
 * A thread owns both sockets. sim_kvpub_push only encodes and queues, so the
 * cache may call it under its lock. The wire format is sim_kvevents'.
 */
#ifndef PDSIM_SIM_KVPUB_H
#define PDSIM_SIM_KVPUB_H

#include "simulator/sim_kvcache.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim_kvpub_opts {
    const char *endpoint;        /* PUB address (already offset for the rank) */
    const char *replay_endpoint; /* ROUTER address to bind (offset for the rank), or NULL/"" */
    long replay_queue;           /* batches kept for replay, >= 1 with a replay endpoint */
    long batch_size;             /* events per batch, >= 1 */
    bool map_format;             /* --use-vllm-map-event-format */
    long block_size;
    long dp_rank;
    const char *topic; /* copied; NULL until sim_kvpub_set_topic */
    long max_pending;  /* events queued at most; more are dropped with a warning */
    int64_t flush_ns;  /* a partial batch waits at most this long */
};

struct sim_kvpub;

/* Open the sockets (the PUB connect or bind, the ROUTER bind) and start the
 * thread. Returns NULL with err naming the failing endpoint. Stop with
 * sim_kvpub_stop. */
struct sim_kvpub *sim_kvpub_start(const struct sim_kvpub_opts *o, char *err, size_t errlen);
/* The topic (copied) of the next batches. Thread-safe. */
void sim_kvpub_set_topic(struct sim_kvpub *p, const char *topic);
/* Queue one event. Thread-safe, never blocks on the network; fits
 * sim_kvevent_fn with the publisher as arg. */
void sim_kvpub_push(void *p, const struct sim_kvevent *ev);
/* Publish what is queued, stop the thread, close the sockets, free p.
 * Accepts NULL. */
void sim_kvpub_stop(struct sim_kvpub *p);

#endif
