/*
 * The completion request lifecycle: parse and validate, admit every choice
 * to the scheduler, then one loop that sleeps until the earliest deadline of
 * any running choice, emits what is due, and starts choices as slots free up.
 * Deadlines chain from the planned time, not from when the thread woke, so
 * wake-up lateness never builds up over a stream.
 */
#define _GNU_SOURCE
#include "simulator/sim_internal.h"

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

struct gen_choice {
    struct sim_sched_item item;
    long index;
    const struct sim_prompt *prompt;
    struct sim_gen gen;
    struct sim_tool_calls calls; /* chat tool calls; n == 0: the text in gen */
    size_t ntok;                 /* tokens to send: gen's, or every call's argument tokens */
    size_t call, call_tok;       /* the next argument token to send: call and token in it */
    size_t emitted;
    long cached;                               /* prompt tokens found in the KV cache */
    bool kv_started, below_hit, started, done; /* below_hit: ends with cache_threshold */
    struct timespec next, first_at;
};

struct gen_req {
    struct sim_server *s;
    struct mg_connection *c;
    struct sim_request req;
    struct sim_tools tools;         /* the checked tools and tool_choice */
    const struct sim_resp_ops *ops; /* the API's builders */
    struct sim_resp_stream st;
    char reqid[136]; /* the request id: a UUID from the seed, or the client's X-Request-Id */
    char id[160];    /* the response id: the API's prefix ("chatcmpl-", ...) + reqid */
    char hdrs[4608]; /* the server's extra headers (at most 4 KiB), plus X-Request-Id */
    struct gen_choice *ch;
    size_t nch;
    struct sim_rng rng, fail_rng; /* text and jitter; failure injection */
    bool cache_threshold;         /* X-Cache-Threshold-Finish-Reason: answer at once */
    const char *lora;             /* the adapter the request names (req.model), or NULL */
    const struct sim_runtime *rt; /* the runtime settings when the request started */
    struct timespec t_recv;
    int evfd, sockfd;
    struct buf out;
    char *kv_params;
    struct sim_kvreq kv; /* the prompts' KV blocks (--enable-kvcache) */
    bool kv_full;        /* a choice found no room in the KV cache: 500 */
};

/* run()'s answer when a choice found no room in the KV cache. */
#define RUN_KV_FULL 100

static void ts_add(struct timespec *t, int64_t ns)
{
    int64_t v = (int64_t)t->tv_nsec + ns;
    t->tv_sec += (time_t)(v / 1000000000LL);
    v %= 1000000000LL;
    if (v < 0) {
        v += 1000000000LL;
        t->tv_sec--;
    }
    t->tv_nsec = (long)v;
}

static bool ts_le(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec <= b->tv_nsec);
}

static double ts_sec(const struct timespec *from, const struct timespec *to)
{
    return (double)(to->tv_sec - from->tv_sec) + (double)(to->tv_nsec - from->tv_nsec) / 1e9;
}

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
static void prepare_choices(struct gen_req *g)
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

/* Completion tokens of a choice: its text tokens, or upstream's count for tool calls. */
static long choice_tokens(const struct gen_choice *c)
{
    return c->calls.n ? sim_tool_calls_tokens(&c->calls) : (long)c->gen.toks.n;
}

/* What the API's builders see of a choice. */
static struct sim_resp_choice view(const struct gen_req *g, const struct gen_choice *c)
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

/* The next token: of the text, or of the tool calls' arguments (call by call). */
static void emit_token(struct gen_req *g, struct gen_choice *c)
{
    if (g->req.stream) {
        struct sim_resp_choice v = view(g, c);
        int rc = c->calls.n ? g->ops->tool(&g->out, &g->st, &v, c->call, c->call_tok)
                            : g->ops->token(&g->out, &g->st, &v, c->emitted);
        (void)rc; /* the out buffer has no cap */
    }
    if (c->calls.n && ++c->call_tok >= c->calls.v[c->call].toks.n) {
        c->call++;
        c->call_tok = 0;
    }
    c->emitted++;
}

static void finish_choice(struct gen_req *g, struct gen_choice *c, const struct timespec *now)
{
    struct sim_server *s = g->s;
    c->done = true;
    if (g->req.stream) {
        struct sim_resp_choice v = view(g, c);
        int rc = g->ops->finish(&g->out, &g->st, &v);
        (void)rc; /* the out buffer has no cap */
    }
    struct sim_metrics_done d = {
        .e2e = ts_sec(&g->t_recv, now),
        .inference = ts_sec(&c->item.started_at, now),
        .prefill = ts_sec(&c->item.started_at, &c->first_at),
        .decode = ts_sec(&c->first_at, now),
        .prompt_tokens = c->prompt->ntokens,
        .gen_tokens = choice_tokens(c),
        .max_tokens_param = g->req.max_tokens,
        .finish = c->gen.finish,
    };
    sim_sched_finish(s->sched, &c->item);
    sim_kvreq_end(&g->kv, (size_t)(c - g->ch));
    sim_metrics_observe_done(s->metrics, &d);
}

/* Choice c got its slot: acquire its prompt's KV blocks, and apply upstream's
 * cache-hit threshold (the request's cache_hit_threshold, else the global
 * one): below it, the choice ends at once with finish_reason cache_threshold
 * and no tokens. The n copies of a prompt share the first one's verdict (it
 * starts first), or the first would make the others look cached. Returns 0 or
 * -ENOSPC. */
static int kv_start(struct gen_req *g, struct gen_choice *c)
{
    size_t k = (size_t)(c - g->ch), first = k - k % (size_t)g->req.n;
    c->kv_started = true;
    int rc = sim_kvreq_start(&g->kv, k, (size_t)(c->prompt - g->req.prompts), &c->cached);
    if (rc < 0 || !g->kv.kv)
        return rc;
    if (k == first ? !sim_kvreq_below_threshold(g->req.cache_hit_given, g->req.cache_hit_threshold,
                                                g->s->cfg->global_cache_hit_threshold, c->cached,
                                                c->prompt->ntokens)
                   : !g->ch[first].below_hit)
        return 0;
    c->below_hit = true;
    sim_tool_calls_release(&c->calls);
    sim_gen_release(&c->gen);
    sim_gen_init(&c->gen);
    c->gen.finish = SIM_FINISH_CACHE_THRESHOLD;
    c->ntok = 0;
    return 0;
}

/* Start a choice whose slot was granted, or emit what is due. */
static void advance(struct gen_req *g, struct gen_choice *c, const struct timespec *now)
{
    struct sim_server *s = g->s;
    if (!c->started) {
        if (!c->kv_started && kv_start(g, c) < 0) {
            g->kv_full = true;
            return;
        }
        long running = sim_sched_running(s->sched);
        int64_t ttft = c->below_hit ? 0
                                    : sim_lat_ttft(&g->rt->lat, &g->rng, c->prompt->ntokens,
                                                   c->cached, g->req.do_remote_prefill, running);
        if (!c->below_hit)
            sim_metrics_observe_ttft(s->metrics, (double)ttft / 1e9);
        c->started = true;
        /* The clock starts when the request arrived, or when a queued choice got
         * its slot: parsing and tokenizing are part of the simulated prefill. */
        bool queued = c->item.started_at.tv_sec != c->item.queued_at.tv_sec ||
                      c->item.started_at.tv_nsec != c->item.queued_at.tv_nsec;
        c->next = queued ? c->item.started_at : g->t_recv;
        ts_add(&c->next, ttft);
        if (c->below_hit) /* at once, as upstream */
            c->next = *now;
    }
    while (!c->done && ts_le(&c->next, now)) {
        if (c->emitted == 0)
            c->first_at = c->next;
        if (c->emitted < c->ntok)
            emit_token(g, c);
        if (c->emitted >= c->ntok) {
            finish_choice(g, c, now);
            break;
        }
        int64_t itl = sim_lat_itl(&g->rt->lat, &g->rng, sim_sched_running(s->sched));
        sim_metrics_observe_itl(s->metrics, (double)itl / 1e9);
        ts_add(&c->next, itl);
    }
}

static void cancel_all(struct gen_req *g)
{
    for (size_t i = 0; i < g->nch; i++)
        if (!g->ch[i].done)
            sim_sched_finish(g->s->sched, &g->ch[i].item);
}

static int flush_out(struct gen_req *g)
{
    if (!g->req.stream || g->out.len == 0)
        return 0;
    int rc = httpd_write_chunk(g->c, g->out.data, g->out.len);
    buf_reset(&g->out);
    return rc;
}

/* Returns 0 when every choice finished, or the connfd_wake that ended it. */
static int run(struct gen_req *g)
{
    for (;;) {
        struct timespec now, earliest = {0, 0};
        bool any = false, pending = false;
        clock_gettime(CLOCK_MONOTONIC, &now);
        for (size_t i = 0; i < g->nch; i++) {
            struct gen_choice *c = &g->ch[i];
            if (c->done)
                continue;
            pending = true;
            if (atomic_load(&c->item.state) != SIM_ITEM_RUNNING)
                continue;
            advance(g, c, &now);
            if (g->kv_full)
                return RUN_KV_FULL;
            if (!c->done && (!any || ts_le(&c->next, &earliest))) {
                earliest = c->next;
                any = true;
            }
        }
        if (flush_out(g) < 0)
            return CONNFD_GONE;
        if (!pending)
            return 0;
        pending = false;
        for (size_t i = 0; i < g->nch; i++)
            pending = pending || !g->ch[i].done;
        if (!pending)
            return 0;
        if (g->sockfd == -2) /* looked up only when there is a wait: a syscall */
            g->sockfd = connfd_current(g->c);
        enum connfd_wake w = connfd_wait(g->sockfd, g->evfd, g->s->abortfd, any ? &earliest : NULL);
        if (w == CONNFD_GONE || w == CONNFD_ABORT)
            return (int)w;
    }
}

/* Prompts count once however many choices they have, their cached tokens
 * too (those of their first choice); details are null when every choice
 * ended with cache_threshold, as upstream's cache_threshold answer. */
static void usage_of(const struct gen_req *g, struct sim_resp_usage *u)
{
    memset(u, 0, sizeof(*u));
    for (size_t p = 0; p < g->req.nprompts; p++) {
        u->prompt += g->req.prompts[p].ntokens;
        u->cached += g->ch[p * (size_t)g->req.n].cached;
    }
    u->no_details = g->nch > 0;
    for (size_t i = 0; i < g->nch; i++) {
        u->completion += choice_tokens(&g->ch[i]);
        u->no_details = u->no_details && g->ch[i].below_hit;
    }
}

/* Every choice as the builders see it (the caller frees the array). */
static struct sim_resp_choice *views(const struct gen_req *g)
{
    struct sim_resp_choice *v = xcalloc(g->nch, sizeof(*v));
    for (size_t i = 0; i < g->nch; i++)
        v[i] = view(g, &g->ch[i]);
    return v;
}

static int respond_full(struct gen_req *g)
{
    struct sim_resp_choice *v = views(g);
    struct sim_resp_usage u;
    struct buf body;
    buf_init(&body, BUF_NOCAP);
    buf_reserve(&body, 512);
    usage_of(g, &u);
    int err = g->ops->full(&body, &g->st, v, g->nch, &u, g->kv_params);
    if (err == 0)
        httpd_send(g->c, 200, "application/json", g->hdrs, body.data, body.len);
    buf_release(&body);
    free(v);
    return 200;
}

static void stream_tail(struct gen_req *g, int status, const char *error)
{
    struct sim_resp_usage u;
    int rc;
    if (error) {
        rc = g->ops->stream_error(&g->out, &g->st, status, error);
    } else {
        struct sim_resp_choice *v = views(g);
        usage_of(g, &u);
        rc = g->ops->tail(&g->out, &g->st, v, g->nch, &u);
        free(v);
    }
    if (rc == 0 && flush_out(g) == 0)
        httpd_end_chunked(g->c);
}

/* X-Cache-Threshold-Finish-Reason: every choice ends at once with
 * finish_reason cache_threshold, no latency and no completion tokens, and
 * usage has "prompt_tokens_details": null, as upstream. */
static int respond_cache_threshold(struct gen_req *g)
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
        struct sim_metrics_done d = {.e2e = ts_sec(&g->t_recv, &now),
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
static int admit(struct gen_req *g, char *err, size_t errlen)
{
    struct sim_sched_item *small[8];
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

static void gen_release(struct gen_req *g)
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
static int prepare(struct gen_req *g, enum sim_api api, char *err, size_t errlen,
                   const char **param)
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
static const char *shown_model(const struct gen_req *g)
{
    return g->lora ? g->lora : sim_config_display_name(g->s->cfg);
}

/* The response's identity, the same in every event of a stream. */
static void start_response(struct gen_req *g)
{
    g->st = (struct sim_resp_stream){
        .ctx = {g->req.api, g->id, shown_model(g), (long)time(NULL)},
        .reqid = g->reqid,
        .instructions = g->req.instructions,
        .include_usage = g->req.include_usage,
    };
}

/* An error answer in the API's shape (OpenAI's, or Anthropic's on /v1/messages). */
static void send_error(struct gen_req *g, int status, const char *msg, const char *param)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    if (g->ops->error_body(&b, status, msg, param) == 0)
        httpd_send(g->c, status, "application/json", g->hdrs, buf_str(&b), b.len);
    buf_release(&b);
}

/* The choices that got a slot at admission take their KV blocks before any
 * byte is sent, so a full cache is a plain 500 and a request whose every
 * choice is below its cache-hit threshold gets the cache_threshold answer.
 * Returns 0 to go on, else the status already sent. */
static int kv_start_admitted(struct gen_req *g)
{
    size_t below = 0;
    for (size_t i = 0; i < g->nch && g->kv.kv; i++) {
        struct gen_choice *c = &g->ch[i];
        if (atomic_load(&c->item.state) != SIM_ITEM_RUNNING)
            continue;
        if (kv_start(g, c) < 0) {
            cancel_all(g);
            send_error(g, 500, SIM_KVREQ_CAPACITY_MSG, NULL);
            return 500;
        }
        below += c->below_hit;
    }
    if (!g->kv.kv || below < g->nch)
        return 0;
    cancel_all(g);
    return respond_cache_threshold(g);
}

static int serve(struct gen_req *g)
{
    struct sim_server *s = g->s;
    start_response(g);
    if (g->req.do_remote_decode) {
        struct buf kv;
        buf_init(&kv, BUF_NOCAP);
        if (sim_pd_params_json(&kv, s->engine_id, s->pd_host, s->port, g->req.prompts[0].text,
                               g->req.prompts[0].text_len) == 0)
            g->kv_params = buf_take(&kv, NULL);
        buf_release(&kv);
    }
    int st = kv_start_admitted(g);
    if (st)
        return st;
    if (g->req.stream &&
        httpd_begin_chunked(g->c, 200, "text/event-stream; charset=utf-8", g->hdrs) < 0) {
        cancel_all(g);
        return 499;
    }
    if (g->req.stream) { /* the opening events go out with the first flush */
        struct sim_resp_usage u;
        usage_of(g, &u);
        int rc = g->ops->begin(&g->out, &g->st, &u);
        (void)rc; /* the out buffer has no cap */
    }
    int w = run(g);
    if (w == CONNFD_GONE) {
        cancel_all(g);
        log_info("client disconnected", LOG_STR("request_id", g->id));
        return 499;
    }
    if (w == RUN_KV_FULL) {
        cancel_all(g);
        if (g->req.stream)
            stream_tail(g, 500, SIM_KVREQ_CAPACITY_MSG);
        else
            send_error(g, 500, SIM_KVREQ_CAPACITY_MSG, NULL);
        return 500;
    }
    if (w == CONNFD_ABORT) {
        cancel_all(g);
        if (g->req.stream)
            stream_tail(g, 503, "server is shutting down");
        else
            send_error(g, 503, "server is shutting down", NULL);
        return 503;
    }
    if (g->req.stream) {
        stream_tail(g, 0, NULL);
        return 200;
    }
    return respond_full(g);
}

int sim_generate(struct sim_server *s, struct mg_connection *c, enum sim_api api, char *reqid,
                 size_t reqidlen)
{
    struct gen_req g;
    char err[512];
    const char *param = NULL;
    memset(&g, 0, sizeof(g));
    g.s = s;
    g.c = c;
    g.evfd = -1;
    g.sockfd = -2;
    g.rt = atomic_load(&s->rt);
    g.ops = sim_resp_ops_for(api);
    buf_init(&g.out, BUF_NOCAP);
    clock_gettime(CLOCK_MONOTONIC, &g.t_recv);
    snprintf(g.hdrs, sizeof(g.hdrs), "%s", s->extra_headers);
    int status = prepare(&g, api, err, sizeof(err), &param);
    snprintf(reqid, reqidlen, "%s", g.id);
    if (status == 0) {
        prepare_choices(&g);
        if (g.cache_threshold) {
            start_response(&g);
            status = respond_cache_threshold(&g);
            gen_release(&g);
            return status;
        }
        sim_kvreq_init(&g.kv, s->kv ? sim_kvrank_cache(s->kv) : NULL, s->metrics, &g.req, g.nch,
                       shown_model(&g));
        param = NULL;
        status = admit(&g, err, sizeof(err));
    }
    if (status != 0) {
        send_error(&g, status, err, param && *param ? param : NULL);
        gen_release(&g);
        return status;
    }
    status = serve(&g);
    gen_release(&g);
    return status;
}
