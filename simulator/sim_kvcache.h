/*
 * sim_kvcache: the simulated prefix (KV) cache of one rank, with upstream's
 * block accounting: a request acquires the blocks of its prompt, reusing the
 * ones present ("cached") and storing new ones; the blocks a running request
 * holds are used and never evicted; released blocks stay as unused, evicted
 * least recently released first, blocks of unloaded LoRA adapters before any
 * other. When the used blocks would exceed the capacity, the request is
 * refused (upstream's 500).
 *
 * Every change is reported to an event sink (BlockStored, BlockRemoved,
 * AllBlocksCleared), in order, from inside the cache's lock; the sink must
 * not call back into the cache. Not for hashing (sim_blockhash) nor for
 * publishing (sim_kvevents). Thread-safe: one mutex.
 */
#ifndef PDSIM_SIM_KVCACHE_H
#define PDSIM_SIM_KVCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sim_kvevent_type { SIM_KVEV_STORED, SIM_KVEV_REMOVED, SIM_KVEV_CLEARED };

/* One cache event. Pointers are valid only during the sink call. */
struct sim_kvevent {
    enum sim_kvevent_type type;
    const uint64_t *hashes; /* stored or removed block keys, in prompt order */
    size_t nhashes;
    bool has_parent;        /* stored: the block before the first new one was cached */
    uint64_t parent;        /* stored: that block's key */
    const uint32_t *tokens; /* stored: the tokens of the new blocks, concatenated */
    size_t ntokens;
    const char *lora_name; /* stored: the adapter, or NULL for the base model */
    long lora_id;          /* stored: the adapter's id (> 0), or 0 */
};

typedef void (*sim_kvevent_fn)(void *arg, const struct sim_kvevent *ev);

struct sim_kvcache_opts {
    long capacity;           /* blocks (--kv-cache-size), >= 0 */
    long block_size;         /* tokens per block (--block-size), > 0 */
    const char *hash_seed;   /* --hash-seed (copied), NULL as "" */
    sim_kvevent_fn on_event; /* may be NULL */
    void *event_arg;
};

struct sim_kvblock;

/* The blocks one request holds. Caller-embedded; zero it or let
 * sim_kvcache_acquire fill it. Released by sim_kvcache_release. */
struct sim_kvalloc {
    struct sim_kvblock **blocks; /* owned array, n entries */
    size_t n;
    unsigned long epoch; /* the cache generation it belongs to (see sim_kvcache_clear) */
};

struct sim_kvcache_stats {
    long capacity, used, total, unused; /* blocks */
};

struct sim_kvcache;

/* Caller frees with sim_kvcache_free. */
struct sim_kvcache *sim_kvcache_new(const struct sim_kvcache_opts *o);
void sim_kvcache_free(struct sim_kvcache *c);

long sim_kvcache_block_size(const struct sim_kvcache *c);

/* Block keys of the full blocks of tokens for model (the name requests show:
 * the first served name or the adapter): ntokens / block size of them into
 * out. Returns their number. Lock-free. */
size_t sim_kvcache_keys(const struct sim_kvcache *c, const char *model, const uint32_t *tokens,
                        size_t ntokens, uint64_t *out);

/* Mark model loaded or not (eviction prefers blocks of models not loaded).
 * lora gives an adapter its id (1, 2, ... in the order first loaded; kept
 * across unload and load). Served names are marked loaded at start. */
void sim_kvcache_set_loaded(struct sim_kvcache *c, const char *model, bool loaded, bool lora);

/* Acquire nblocks blocks of model with keys hashes[] and tokens
 * tokens[0 .. nblocks * block size). Present blocks are reused, the others
 * stored (evicting unused blocks as needed; one BlockStored event for them,
 * BlockRemoved per eviction). *cached gets the number of blocks that were
 * present. Returns 0, or -ENOSPC when the used blocks would exceed the
 * capacity (nothing changed). While disabled (sim_kvcache_clear), acquires
 * nothing and returns 0 with *cached 0. out is filled on success. */
int sim_kvcache_acquire(struct sim_kvcache *c, const char *model, const uint64_t *hashes,
                        const uint32_t *tokens, size_t nblocks, struct sim_kvalloc *out,
                        size_t *cached);

/* The request ended: its blocks become unused once no request holds them,
 * the prompt's tail first in eviction order. Frees a's array; no-op for an
 * empty a or one from before the last sim_kvcache_clear. */
void sim_kvcache_release(struct sim_kvcache *c, struct sim_kvalloc *a);

/* Drop every block (an AllBlocksCleared event) and disable the cache, as
 * upstream's /sleep: allocations made before are forgotten. */
void sim_kvcache_clear(struct sim_kvcache *c);
/* Enable it again (/wake_up). */
void sim_kvcache_enable(struct sim_kvcache *c);

void sim_kvcache_stats(struct sim_kvcache *c, struct sim_kvcache_stats *out);
/* used / capacity (0 when the capacity is 0): vllm:kv_cache_usage_perc. */
double sim_kvcache_usage(struct sim_kvcache *c);

#endif
