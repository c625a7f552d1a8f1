/*
 * The answers of a generation request through its API's builders: the whole
 * body, a stream's tail, the cache_threshold answer and errors.
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

/* Completion tokens of a choice: its text tokens, or upstream's count for tool calls. */
long gen_choice_tokens(const struct gen_choice *c)
{
    return c->calls.n ? sim_tool_calls_tokens(&c->calls) : (long)c->gen.toks.n;
}

/* What the API's builders see of a choice. */
struct sim_resp_choice gen_view(const struct gen_req *g, const struct gen_choice *c)
{
    return (struct sim_resp_choice){
        .index = c->index,
        .text = c->gen.text ? c->gen.text : "",
        .len = c->gen.text_len,
        .finish = c->gen.finish,
        .toks = c->gen.toks.v,
        .ntoks = c->gen.toks.n,
        .top = g->req.logprobs && !c->calls.n ? g->req.top_logprobs : -1, /* none for tools */
        .calls = &c->calls,
    };
}

/* Prompts count once however many choices they have, their cached tokens
 * too (those of their first choice); details are null when every choice
 * ended with cache_threshold, as upstream's cache_threshold answer. */
void gen_usage(const struct gen_req *g, struct sim_resp_usage *u)
{
    memset(u, 0, sizeof(*u));
    for (size_t p = 0; p < g->req.nprompts; p++) {
        u->prompt += g->req.prompts[p].ntokens;
        u->cached += g->ch[p * (size_t)g->req.n].cached;
    }
    u->no_details = g->nch > 0;
    for (size_t i = 0; i < g->nch; i++) {
        u->completion += gen_choice_tokens(&g->ch[i]);
        u->no_details = u->no_details && g->ch[i].below_hit;
    }
}

/* Every choice as the builders see it (the caller frees the array). */
static struct sim_resp_choice *views(const struct gen_req *g)
{
    struct sim_resp_choice *v = xcalloc(g->nch, sizeof(*v));
    for (size_t i = 0; i < g->nch; i++)
        v[i] = gen_view(g, &g->ch[i]);
    return v;
}

int gen_respond_full(struct gen_req *g)
{
    struct sim_resp_choice *v = views(g);
    struct sim_resp_usage u;
    struct buf body;
    buf_init(&body, BUF_NOCAP);
    buf_reserve(&body, 512);
    gen_usage(g, &u);
    int err = g->ops->full(&body, &g->st, v, g->nch, &u, g->kv_params);
    if (err == 0)
        httpd_send(g->c, 200, "application/json", g->hdrs, body.data, body.len);
    buf_release(&body);
    free(v);
    return 200;
}

void gen_stream_tail(struct gen_req *g, int status, const char *error)
{
    struct sim_resp_usage u;
    int rc;
    if (error) {
        rc = g->ops->stream_error(&g->out, &g->st, status, error);
    } else {
        struct sim_resp_choice *v = views(g);
        gen_usage(g, &u);
        rc = g->ops->tail(&g->out, &g->st, v, g->nch, &u);
        free(v);
    }
    if (rc == 0 && gen_flush_out(g) == 0)
        httpd_end_chunked(g->c);
}

/* X-Cache-Threshold-Finish-Reason: every choice ends at once with
 * finish_reason cache_threshold, no latency and no completion tokens, and
 * usage has "prompt_tokens_details": null, as upstream. */
int gen_respond_cache_threshold(struct gen_req *g)
{
    struct sim_server *s = g->s;
    struct sim_resp_usage u;
    memset(&u, 0, sizeof(u));
    u.no_details = true;
    for (size_t p = 0; p < g->req.nprompts; p++)
        u.prompt += g->req.prompts[p].ntokens;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct sim_resp_choice *ch = xcalloc(g->nch, sizeof(*ch));
    for (size_t i = 0; i < g->nch; i++) {
        struct sim_metrics_done d = {.e2e = gen_ts_sec(&g->t_recv, &now),
                                     .prompt_tokens = g->ch[i].prompt->ntokens,
                                     .max_tokens_param = g->req.max_tokens,
                                     .finish = SIM_FINISH_CACHE_THRESHOLD};
        sim_metrics_observe_done(s->metrics, &d);
        ch[i] = (struct sim_resp_choice){
            .index = g->ch[i].index, .text = "", .finish = SIM_FINISH_CACHE_THRESHOLD, .top = -1};
    }
    struct buf b;
    buf_init(&b, BUF_NOCAP);
    int rc = 0;
    if (g->req.stream) { /* no tokens: one finish per choice, as upstream */
        rc = g->ops->begin(&b, &g->st, &u);
        for (size_t i = 0; i < g->nch && rc == 0; i++)
            rc = g->ops->finish(&b, &g->st, &ch[i]);
        rc = rc ? rc : g->ops->tail(&b, &g->st, ch, g->nch, &u);
        if (rc == 0 &&
            httpd_begin_chunked(g->c, 200, "text/event-stream; charset=utf-8", g->hdrs) == 0 &&
            httpd_write_chunk(g->c, b.data, b.len) == 0)
            httpd_end_chunked(g->c);
    } else {
        rc = g->ops->full(&b, &g->st, ch, g->nch, &u, NULL);
        if (rc == 0)
            httpd_send(g->c, 200, "application/json", g->hdrs, b.data, b.len);
    }
    free(ch);
    buf_release(&b);
    return 200;
}

/* The response's identity, the same in every event of a stream. */
void gen_start_response(struct gen_req *g)
{
    g->st = (struct sim_resp_stream){
        .ctx = {g->req.api, g->id, gen_shown_model(g), (long)time(NULL)},
        .reqid = g->reqid,
        .instructions = g->req.instructions,
        .include_usage = g->req.include_usage,
    };
}

/* An error answer in the API's shape (OpenAI's, or Anthropic's on /v1/messages). */
void gen_send_error(struct gen_req *g, int status, const char *msg, const char *param)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    if (g->ops->error_body(&b, status, msg, param) == 0)
        httpd_send(g->c, status, "application/json", g->hdrs, buf_str(&b), b.len);
    buf_release(&b);
}
