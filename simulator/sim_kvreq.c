#include "simulator/sim_kvreq.h"

#include "common/xalloc.h"
#include "simulator/sim_tokenizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The token ids of a prompt: a token-id prompt's own (its text is "1,2,3"),
 * else the dummy tokenizer's, as upstream hashes them. Returns the count, or
 * -1 when an id does not fit in 32 bits. *out is malloc'd. */
static long prompt_tokens(const struct sim_prompt *pr, uint32_t **out)
{
    if (pr->token_ids) {
        uint32_t *v = xcalloc((size_t)pr->ntokens + 1, sizeof(*v));
        const char *s = pr->text;
        long n = 0;
        while (*s && n < pr->ntokens) {
            char *end;
            unsigned long long id = strtoull(s, &end, 10);
            if (id > UINT32_MAX) {
                free(v);
                return -1;
            }
            v[n++] = (uint32_t)id;
            s = *end == ',' ? end + 1 : end;
        }
        *out = v;
        return n;
    }
    struct sim_toklist t;
    sim_toklist_init(&t);
    sim_tokenize(pr->text, pr->text_len, &t);
    uint32_t *v = xcalloc(t.n + 1, sizeof(*v));
    for (size_t i = 0; i < t.n; i++)
        v[i] = t.v[i].id;
    long n = (long)t.n;
    sim_toklist_release(&t);
    *out = v;
    return n;
}

int sim_kvreq_init(struct sim_kvreq *r, struct sim_kvcache *kv, struct sim_metrics *metrics,
                   const struct sim_request *req, size_t nch, const char *model, char *err,
                   size_t errlen)
{
    memset(r, 0, sizeof(*r));
    if (!kv)
        return 0;
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
        long n = prompt_tokens(&req->prompts[i], &p->tokens);
        if (n < 0) {
            snprintf(err, errlen,
                     "field 'prompt' token ids must be below 4294967296 with the KV cache on");
            return 400;
        }
        p->ntokens = n;
        p->keys = xcalloc((size_t)n / bs + 1, sizeof(*p->keys));
        p->nblocks = sim_kvcache_keys(kv, model, p->tokens, (size_t)n, p->keys);
    }
    return 0;
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
