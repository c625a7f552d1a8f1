/*
 * Preparing a generation request: the body read and parsed for its API, the
 * request id, the test headers and failure injection, the model and value
 * checks in upstream's order, every choice decided up front, and admission.
 */
#define _GNU_SOURCE
#include "simulator/sim_gen.h"

#include "common/buf.h"
#include "common/connfd.h"
#include "common/httpd.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "simulator/sim_dataset.h"
#include "simulator/sim_hooks.h"
#include "simulator/sim_kvrank.h"
#include "simulator/sim_kvreq.h"
#include "simulator/sim_pd.h"
#include "simulator/sim_req_ext.h"
#include "simulator/sim_req_generate.h"
#include "simulator/sim_resp_api.h"
#include "simulator/sim_textgen.h"
#include "simulator/sim_toolgen.h"
#include "simulator/sim_tools.h"

#include <civetweb.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void make_id(struct gen_req *g)
{
    struct sim_rng r;
    unsigned long long n = atomic_fetch_add(&g->s->req_counter, 1);
    /* each data-parallel rank its own stream (rank 0's is the single-rank one) */
    uint64_t seed = (uint64_t)g->s->cfg->seed ^ ((uint64_t)g->s->rank * 0x9e3779b97f4a7c15ULL);
    sim_rng_seed2(&r, seed ^ 0x5eedULL, n);
    uint64_t a = sim_rng_u64(&r), b = sim_rng_u64(&r);
    snprintf(g->reqid, sizeof(g->reqid), "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)((a >> 16) & 0xffff), (unsigned)(a & 0xfff),
             (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
             (unsigned long long)(b & 0xffffffffffffULL));
    snprintf(g->id, sizeof(g->id), "%s%s", g->ops->id_prefix, g->reqid);
    sim_rng_seed2(&g->rng, seed, n);
    sim_rng_seed2(&g->fail_rng, seed ^ 0xfa11ULL, n);
}

/* After parsing, in upstream's order: the request id from X-Request-Id (with
 * --enable-request-id-headers), X-Return-Error, X-Cache-Threshold-Finish-Reason,
 * then failure injection. Returns 0 or an HTTP status with err (and *param) set. */
static int injected(struct gen_req *g, char *err, size_t errlen, const char **param)
{
    const struct sim_config *cfg = g->s->cfg, *rcfg = &g->rt->cfg;
    *param = NULL;
    if (cfg->request_id_headers) {
        const char *h = mg_get_header(g->c, "X-Request-Id");
        if (h && *h) {
            if (sim_hooks_request_id(h, g->reqid, sizeof(g->reqid), err, errlen))
                return 400;
            snprintf(g->id, sizeof(g->id), "%s%s", g->ops->id_prefix, g->reqid);
        }
        size_t used = strlen(g->hdrs);
        snprintf(g->hdrs + used, sizeof(g->hdrs) - used, "X-Request-Id: %s\r\n", g->reqid);
    }
    const char *re = mg_get_header(g->c, "X-Return-Error");
    if (re)
        return sim_hooks_return_error(re, err, errlen);
    /* As upstream, the Responses and generate requests have no cache threshold. */
    const char *ct =
        g->ops->cache_threshold ? mg_get_header(g->c, "X-Cache-Threshold-Finish-Reason") : NULL;
    if (ct && sim_parse_bool(ct, &g->cache_threshold) < 0) { /* Go's ParseBool, as upstream */
        snprintf(err, errlen, "X-Cache-Threshold-Finish-Reason: \"%.60s\" is not true or false",
                 ct);
        return 400;
    }
    return sim_hooks_failure(&g->fail_rng, rcfg->failure_rate, rcfg->failure_types, g->req.model,
                             err, errlen, param);
}

static void text_choice(struct gen_req *g, struct gen_choice *c)
{
    const struct sim_config *cfg = g->s->cfg;
    if (cfg->mode == SIM_MODE_ECHO && g->req.api == SIM_API_GENERATE) {
        sim_req_generate_echo(&g->req, g->req.max_tokens, &c->gen); /* the ids themselves */
    } else if (cfg->mode == SIM_MODE_ECHO) {
        sim_textgen_echo(c->prompt->echo, c->prompt->echo_len, g->req.max_tokens, &c->gen);
    } else if (g->s->dp->dataset &&
               sim_dataset_generate(g->s->dp->dataset, &g->rng, c->prompt, g->req.max_tokens,
                                    g->req.ignore_eos, cfg->max_model_len, &c->gen) == 0) {
        /* --dataset-path: a recorded response (on failure, the sentences below) */
    } else {
        bool is_max = false;
        long len = sim_textgen_random_length(&g->rng, g->req.max_tokens, g->req.ignore_eos,
                                             cfg->max_model_len, c->prompt->ntokens, &is_max);
        sim_textgen_random(&g->rng, len, &c->gen);
        c->gen.finish = is_max ? SIM_FINISH_LENGTH : SIM_FINISH_STOP;
    }
    c->ntok = c->gen.toks.n;
}

/* Tool calls (when tool_choice allows and the draw makes some), or text, for
 * every choice, decided up front so the timed loop only sends. As upstream,
 * tools apply in echo mode too and max_tokens does not cut them. */
void gen_prepare_choices(struct gen_req *g)
{
    const struct sim_config *cfg = g->s->cfg;
    const struct sim_toolgen_cfg tcfg = {cfg->min_tool_int,          cfg->max_tool_int,
                                         cfg->min_tool_num,          cfg->max_tool_num,
                                         cfg->min_tool_arr,          cfg->max_tool_arr,
                                         cfg->tool_not_required_pct, cfg->object_not_required_pct,
                                         cfg->tool_extra_call_pct};
    g->nch = g->req.nprompts * (size_t)g->req.n;
    g->ch = xcalloc(g->nch, sizeof(*g->ch));
    for (size_t p = 0, k = 0; p < g->req.nprompts; p++) {
        for (long j = 0; j < g->req.n; j++, k++) {
            struct gen_choice *c = &g->ch[k];
            c->index = (long)k;
            c->prompt = &g->req.prompts[p];
            sim_gen_init(&c->gen);
            sim_toolgen_calls(&g->tools, &tcfg, &g->rng, &c->calls);
            sim_req_ext_calls(&g->req, &c->calls);
            for (size_t i = 0; i < c->calls.n; i++)
                c->ntok += c->calls.v[i].toks.n;
            if (c->calls.n)
                c->gen.finish = SIM_FINISH_TOOL_CALLS;
            else
                text_choice(g, c);
            if (g->req.do_remote_decode)
                c->gen.finish = SIM_FINISH_REMOTE_DECODE;
        }
    }
}

/* Checks that need the parsed request, in upstream's order: model, the API's
 * required fields, tools and the request's values (sim_req_ext_check), then
 * the context window. Returns 0 or an HTTP status with err set. */
static int check_request(struct gen_req *g, char *err, size_t errlen, const char **param)
{
    const struct sim_config *cfg = g->s->cfg;
    if (!sim_config_serves(cfg, g->req.model)) {
        if (!sim_lora_has(g->s->loras, g->req.model)) {
            snprintf(err, errlen, "The model `%s` does not exist.", g->req.model);
            *param = "model";
            return 404;
        }
        g->lora = g->req.model;
    }
    int rc = sim_req_ext_check(&g->req, cfg->skip_tool_validation, &g->tools, err, errlen, param);
    return rc ? rc : sim_request_check_context(&g->req, cfg->max_model_len, err, errlen);
}

/* Hand every choice to the scheduler. Returns 0 or an HTTP status. */
int gen_admit(struct gen_req *g, char *err, size_t errlen)
{
    struct sim_sched_item *small[8] = {NULL}; /* zeroed: gcc -O2 sees a possible read */
    struct sim_sched_item **items = g->nch <= 8 ? small : xcalloc(g->nch, sizeof(*items));
    for (size_t i = 0; i < g->nch; i++)
        items[i] = &g->ch[i].item;
    int rc = sim_sched_submit(g->s->sched, items, g->nch, g->lora, &g->evfd);
    if (items != small)
        free(items);
    if (rc == -EAGAIN) {
        snprintf(err, errlen, "Failed to enqueue request, waiting requests queue is full");
        return 429;
    }
    if (rc == -ESHUTDOWN) {
        snprintf(err, errlen, "server is shutting down");
        return 503;
    }
    return 0;
}

void gen_release(struct gen_req *g)
{
    for (size_t i = 0; i < g->nch; i++) {
        sim_gen_release(&g->ch[i].gen);
        sim_tool_calls_release(&g->ch[i].calls);
    }
    sim_kvreq_release(&g->kv);
    free(g->ch);
    free(g->kv_params);
    buf_release(&g->out);
    if (g->evfd >= 0)
        close(g->evfd);
    sim_request_release(&g->req);
}

/* Parse and check; on success the request is ready to admit. */
int gen_prepare(struct gen_req *g, enum sim_api api, char *err, size_t errlen, const char **param)
{
    struct buf body;
    long cap = g->s->cfg->max_request_body_size_mb;
    buf_init(&body, (size_t)cap << 20);
    long long clen = mg_get_request_info(g->c)->content_length;
    if (clen > 0 && (unsigned long long)clen <= body.cap)
        buf_reserve(&body, (size_t)clen);
    int rc = httpd_read_body(g->c, &body);
    if (rc == -E2BIG) {
        snprintf(err, errlen, "Request body is larger than the limit of %ld MB", cap);
        /* Let a client that is still sending read the 413; give up past 4x the cap. */
        if (httpd_discard_body(g->c, ((size_t)cap << 20) * 4) < 0)
            mg_disable_connection_keep_alive(g->c);
        buf_release(&body);
        return 413;
    }
    if (rc < 0) {
        snprintf(err, errlen, "Failed to read request body");
        buf_release(&body);
        return 400;
    }
    int status = sim_request_parse(api, buf_str(&body), body.len, &g->req, err, errlen, param);
    buf_release(&body);
    if (status == 0) {
        make_id(g);
        status = injected(g, err, errlen, param);
    }
    if (status == 0)
        status = check_request(g, err, errlen, param);
    return status;
}

/* The model named in responses: an adapter as it is, the base model (any
 * alias) as the first served name, as upstream. */
const char *gen_shown_model(const struct gen_req *g)
{
    return g->lora ? g->lora : sim_config_display_name(g->s->cfg);
}
