/*
 * sim_kvrank: one data-parallel rank's KV cache wired to its event publisher,
 * from the configuration: the cache (--kv-cache-size, --block-size,
 * --hash-seed), the PUB socket on --zmq-endpoint's port + rank, the replay
 * ROUTER on --kv-events-replay-endpoint's port + rank, the topic
 * kv@<POD_IP>:<the rank's HTTP port>@<--model>, and the hooks the server
 * calls on /sleep, /wake_up and LoRA loads. Only for --enable-kvcache.
 * Thread-safe after sim_kvrank_start.
 */
#ifndef PDSIM_SIM_KVRANK_H
#define PDSIM_SIM_KVRANK_H

#include "simulator/sim_config.h"
#include "simulator/sim_kvcache.h"
#include "simulator/sim_metrics.h"

#include <stdbool.h>
#include <stddef.h>

struct sim_kvrank;

/* Start rank's cache and publisher (metrics borrowed: the usage gauge).
 * port is the rank's HTTP port when known, else 0 (then call
 * sim_kvrank_set_port before serving). Returns NULL with err naming the flag.
 * Caller stops it with sim_kvrank_stop. */
struct sim_kvrank *sim_kvrank_start(const struct sim_config *cfg, int rank, long port,
                                    struct sim_metrics *metrics, char *err, size_t errlen);
/* The HTTP port, for the topic. */
void sim_kvrank_set_port(struct sim_kvrank *k, long port);
/* The cache (borrowed). */
struct sim_kvcache *sim_kvrank_cache(struct sim_kvrank *k);
/* /sleep: drop every block (AllBlocksCleared) and stop caching; /wake_up: cache again. */
void sim_kvrank_sleep(struct sim_kvrank *k);
void sim_kvrank_wake(struct sim_kvrank *k);
/* An adapter was loaded or unloaded: its blocks' eviction priority. */
void sim_kvrank_lora(struct sim_kvrank *k, const char *name, bool loaded);
/* Publish what is queued and free everything. Accepts NULL. */
void sim_kvrank_stop(struct sim_kvrank *k);

/* The KV-event topic: "kv@<ip>:<port>@<model>" into out. Pure. */
void sim_kvrank_topic(const char *ip, long port, const char *model, char *out, size_t outlen);

#endif
