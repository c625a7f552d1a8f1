/*
 * sim_kvreq: what one chat or completion request does with the KV cache, as
 * upstream: each prompt's tokens (the dummy tokenizer's ids, or the token-id
 * prompt itself) and block keys are computed when the request is accepted;
 * each choice acquires its prompt's blocks when it gets its running slot
 * (the cached tokens feed its time to first token and the usage), and
 * releases them when it ends, is cancelled or fails. It also moves
 * vllm:prefix_cache_* and vllm:kv_cache_usage_perc.
 *
 * Per-request state on the handler's stack: not thread-safe itself; the
 * cache is.
 */
#ifndef PDSIM_SIM_KVREQ_H
#define PDSIM_SIM_KVREQ_H

#include "simulator/sim_kvcache.h"
#include "simulator/sim_metrics.h"
#include "simulator/sim_request.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim_kvreq_prompt {
    uint64_t *keys;   /* owned: one per full block */
    uint32_t *tokens; /* owned: the full blocks' tokens */
    size_t nblocks;
    long ntokens; /* every prompt token (the prefix-cache query) */
};

struct sim_kvreq {
    struct sim_kvcache *kv;      /* borrowed; NULL: the KV cache is off, all calls no-ops */
    struct sim_metrics *metrics; /* borrowed, may be NULL */
    const char *model;           /* borrowed: the block keys' model (the name shown) */
    struct sim_kvreq_prompt *p;  /* owned, one per prompt */
    size_t np;
    struct sim_kvalloc *alloc; /* owned, one per choice */
    size_t nch;
};

/* Prepare req (its nch choices) for kv (NULL: off) with model the name
 * requests show (the first served name or the adapter): each prompt's block
 * keys from its token ids (sim_render_prompt_ids; the parsers keep ids within
 * uint32). Release r with sim_kvreq_release. */
void sim_kvreq_init(struct sim_kvreq *r, struct sim_kvcache *kv, struct sim_metrics *metrics,
                    const struct sim_request *req, size_t nch, const char *model);

/* Choice k (of prompt p) starts: acquire its blocks. Returns 0 with *cached
 * the prompt's cached tokens, or -ENOSPC (upstream's 500, "the kv cache does
 * not have sufficient capacity to store this request"). */
int sim_kvreq_start(struct sim_kvreq *r, size_t k, size_t p, long *cached);

/* Choice k ended (done, cancelled or failed): release its blocks. Idempotent. */
void sim_kvreq_end(struct sim_kvreq *r, size_t k);

/* End every choice still holding blocks and free r's arrays. */
void sim_kvreq_release(struct sim_kvreq *r);

/* Upstream's rule: the request's threshold when given (0..1), else the
 * global one when > 0; the choice ends with cache_threshold when the hit
 * rate cached/queried (0 when nothing was queried) is below it. Pure. */
bool sim_kvreq_below_threshold(bool given, double threshold, double global, long cached,
                               long queried);

#define SIM_KVREQ_CAPACITY_MSG                                                                     \
    "the kv cache does not have sufficient capacity to store this request"

#endif
