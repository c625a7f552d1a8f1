#include "simulator/sim_kvrank.h"

#include "common/log.h"
#include "common/xalloc.h"
#include "simulator/sim_kvevents.h"
#include "simulator/sim_kvpub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sim_kvrank {
    const struct sim_config *cfg;
    struct sim_kvcache *cache;
    struct sim_kvpub *pub; /* NULL with --zmq-endpoint "" */
    struct sim_metrics *metrics;
};

void sim_kvrank_topic(const char *ip, long port, const char *model, char *out, size_t outlen)
{
    snprintf(out, outlen, "kv@%s:%ld@%s", ip, port, model);
}

/* --zmq-endpoint and --kv-events-replay-endpoint, each offset by the rank. */
static struct sim_kvpub *start_pub(const struct sim_config *cfg, int rank, char *err, size_t errlen)
{
    char ep[1024], rep[1024];
    if (sim_kvevents_rank_endpoint(cfg->zmq_endpoint, rank, ep, sizeof(ep)) < 0) {
        snprintf(err, errlen, "--zmq-endpoint %.200s: rank %d's port is out of range",
                 cfg->zmq_endpoint, rank);
        return NULL;
    }
    if (sim_kvevents_rank_endpoint(cfg->replay_endpoint, rank, rep, sizeof(rep)) < 0) {
        snprintf(err, errlen, "--kv-events-replay-endpoint %.200s: rank %d's port is out of range",
                 cfg->replay_endpoint, rank);
        return NULL;
    }
    long cap = cfg->kv_cache_size;
    struct sim_kvpub_opts o = {
        .endpoint = ep,
        .replay_endpoint = rep,
        .replay_queue = cfg->replay_queue_size,
        .batch_size = cfg->event_batch_size,
        .map_format = cfg->map_event_format != 0,
        .block_size = cfg->block_size,
        .dp_rank = rank,
        /* upstream's event channel holds 10 x the capacity; at least a few batches */
        .max_pending = cap < 100000 ? 10 * cap + 4 * cfg->event_batch_size : 1000000,
        .flush_ns = 1000000000LL,
    };
    struct sim_kvpub *p = sim_kvpub_start(&o, err, errlen);
    if (p)
        log_info("kv events publisher", LOG_STR("endpoint", ep),
                 LOG_STR("mode", sim_kvevents_passive(ep) ? "bind" : "connect"),
                 LOG_STR("replay_endpoint", rep[0] ? rep : NULL), LOG_INT("rank", rank));
    return p;
}

struct sim_kvrank *sim_kvrank_start(const struct sim_config *cfg, int rank, long port,
                                    struct sim_metrics *metrics, char *err, size_t errlen)
{
    struct sim_kvrank *k = xcalloc(1, sizeof(*k));
    k->cfg = cfg;
    k->metrics = metrics;
    if (cfg->zmq_endpoint[0]) {
        k->pub = start_pub(cfg, rank, err, errlen);
        if (!k->pub) {
            free(k);
            return NULL;
        }
    }
    struct sim_kvcache_opts o = {.capacity = cfg->kv_cache_size,
                                 .block_size = cfg->block_size,
                                 .hash_seed = cfg->hash_seed,
                                 .on_event = k->pub ? sim_kvpub_push : NULL,
                                 .event_arg = k->pub};
    k->cache = sim_kvcache_new(&o);
    /* The base model's names are always loaded: their blocks go after those of
     * adapters no longer loaded. */
    sim_kvcache_set_loaded(k->cache, cfg->model, true, false);
    for (size_t i = 0; i < cfg->nserved; i++)
        sim_kvcache_set_loaded(k->cache, cfg->served[i], true, false);
    if (port > 0)
        sim_kvrank_set_port(k, port);
    return k;
}

void sim_kvrank_set_port(struct sim_kvrank *k, long port)
{
    char topic[1024];
    const char *ip = getenv("POD_IP");
    sim_kvrank_topic(ip ? ip : "", port, k->cfg->model, topic, sizeof(topic));
    if (k->pub)
        sim_kvpub_set_topic(k->pub, topic);
}

struct sim_kvcache *sim_kvrank_cache(struct sim_kvrank *k)
{
    return k->cache;
}

void sim_kvrank_sleep(struct sim_kvrank *k)
{
    sim_kvcache_clear(k->cache);
    if (k->metrics)
        sim_metrics_set_kv_usage(k->metrics, 0.0);
}

void sim_kvrank_wake(struct sim_kvrank *k)
{
    sim_kvcache_enable(k->cache);
}

void sim_kvrank_lora(struct sim_kvrank *k, const char *name, bool loaded)
{
    sim_kvcache_set_loaded(k->cache, name, loaded, true);
}

void sim_kvrank_stop(struct sim_kvrank *k)
{
    if (!k)
        return;
    sim_kvpub_stop(k->pub);
    sim_kvcache_free(k->cache);
    free(k);
}
