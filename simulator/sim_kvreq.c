#include "simulator/sim_kvreq.h"

#include "common/xalloc.h"
#include "simulator/sim_render.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_kvreq_init(struct sim_kvreq *r, struct sim_kvcache *kv, struct sim_metrics *metrics,
                    const struct sim_request *req, size_t nch, const char *model)
{
    memset(r, 0, sizeof(*r));
    if (!kv)
        return;
    r->kv = kv;
    r->metrics = metrics;
    r->model = model;
    r->p = xcalloc(req->nprompts ? req->nprompts : 1, sizeof(*r->p));
    r->np = req->nprompts;
    r->alloc = xcalloc(nch ? nch : 1, sizeof(*r->alloc));
    r->nch = nch;
    size_t bs = (size_t)sim_kvcache_block_size(kv);
    for (size_t i = 0; i < r->np; i++) {
        struct sim_kvreq_prompt *p = &r->p[i];
        size_t n; /* the ids upstream hashes, as the render endpoints give them */
        p->tokens = sim_render_prompt_ids(&req->prompts[i], &n);
        p->ntokens = (long)n;
        p->keys = xcalloc(n / bs + 1, sizeof(*p->keys));
        p->nblocks = sim_kvcache_keys(kv, model, p->tokens, n, p->keys);
    }
}

int sim_kvreq_start(struct sim_kvreq *r, size_t k, size_t p, long *cached)
{
    *cached = 0;
    if (!r->kv || k >= r->nch || p >= r->np)
        return 0;
    const struct sim_kvreq_prompt *pr = &r->p[p];
    size_t blocks = 0;
    int rc = sim_kvcache_acquire(r->kv, r->model, pr->keys, pr->tokens, pr->nblocks, &r->alloc[k],
                                 &blocks);
    if (rc < 0)
        return rc;
    *cached = (long)blocks * sim_kvcache_block_size(r->kv);
    if (r->metrics) {
        sim_metrics_observe_prefix(r->metrics, pr->ntokens, *cached);
        sim_metrics_set_kv_usage(r->metrics, sim_kvcache_usage(r->kv));
    }
    return 0;
}

void sim_kvreq_end(struct sim_kvreq *r, size_t k)
{
    if (!r->kv || k >= r->nch || !r->alloc[k].blocks)
        return;
    sim_kvcache_release(r->kv, &r->alloc[k]);
    if (r->metrics)
        sim_metrics_set_kv_usage(r->metrics, sim_kvcache_usage(r->kv));
}

void sim_kvreq_release(struct sim_kvreq *r)
{
    for (size_t k = 0; k < r->nch; k++)
        sim_kvreq_end(r, k);
    for (size_t i = 0; i < r->np; i++) {
        free(r->p[i].keys);
        free(r->p[i].tokens);
    }
    free(r->p);
    free(r->alloc);
    memset(r, 0, sizeof(*r));
}

bool sim_kvreq_below_threshold(bool given, double threshold, double global, long cached,
                               long queried)
{
    double t;
    if (given && threshold >= 0 && threshold <= 1)
        t = threshold;
    else if (global > 0)
        t = global;
    else
        return false;
    double hit = queried > 0 ? (double)cached / (double)queried : 0.0;
    return hit < t;
}
