/*
 * The generation request lifecycle: prepare (sim_gen_prepare.c), admit every
 * choice to the scheduler, then one loop that sleeps until the earliest
 * deadline of any running choice, emits what is due, and starts choices as
 * slots free up; the answers are built in sim_gen_respond.c. Deadlines chain
 * from the planned time, not from when the thread woke, so wake-up lateness
 * never builds up over a stream.
 */
#define _GNU_SOURCE
#include "simulator/sim_gen.h"

#include "common/buf.h"
#include "common/connfd.h"
#include "common/httpd.h"
#include "common/log.h"
#include "common/pump.h"
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
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* run()'s answer when a choice found no room in the KV cache. */
#define RUN_KV_FULL 100

/* The next token: of the text, or of the tool calls' arguments (call by call). */
static void emit_token(struct gen_req *g, struct gen_choice *c)
{
    if (g->req.stream) {
        struct sim_resp_choice v = gen_view(g, c);
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
        struct sim_resp_choice v = gen_view(g, c);
        int rc = g->ops->finish(&g->out, &g->st, &v);
        (void)rc; /* the out buffer has no cap */
    }
    struct sim_metrics_done d = {
        .e2e = gen_ts_sec(&g->t_recv, now),
        .inference = gen_ts_sec(&c->item.started_at, now),
        .prefill = gen_ts_sec(&c->item.started_at, &c->first_at),
        .decode = gen_ts_sec(&c->first_at, now),
        .prompt_tokens = c->prompt->ntokens,
        .gen_tokens = gen_choice_tokens(c),
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
        gen_ts_add(&c->next, ttft);
        if (c->below_hit) /* at once, as upstream */
            c->next = *now;
    }
    while (!c->done && gen_ts_le(&c->next, now)) {
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
        gen_ts_add(&c->next, itl);
    }
}

void gen_cancel_all(struct gen_req *g)
{
    for (size_t i = 0; i < g->nch; i++)
        if (!g->ch[i].done)
            sim_sched_finish(g->s->sched, &g->ch[i].item);
}

int gen_flush_out(struct gen_req *g)
{
    if (!g->req.stream || g->out.len == 0)
        return 0;
    int rc = httpd_write_chunk(g->c, g->out.data, g->out.len);
    buf_reset(&g->out);
    return rc;
}

#define STEP_MORE (-1)

/* One pass: start the choices that got their slot, buffer every token that is
 * due at now. Returns 0 when every choice finished, RUN_KV_FULL, or STEP_MORE
 * with the earliest next deadline in *earliest (*timed false: none is timed,
 * the choices left wait for a slot). */
static int step(struct gen_req *g, const struct timespec *now, struct timespec *earliest,
                bool *timed)
{
    bool pending = false;
    *timed = false;
    for (size_t i = 0; i < g->nch; i++) {
        struct gen_choice *c = &g->ch[i];
        if (c->done)
            continue;
        if (atomic_load(&c->item.state) != SIM_ITEM_RUNNING) {
            pending = true;
            continue;
        }
        advance(g, c, now);
        if (g->kv_full)
            return RUN_KV_FULL;
        if (c->done)
            continue;
        pending = true;
        if (!*timed || gen_ts_le(&c->next, earliest)) {
            *earliest = c->next;
            *timed = true;
        }
    }
    return pending ? STEP_MORE : 0;
}

/* A pass on this thread: step, then send what is due. Returns step's answer
 * or CONNFD_GONE. */
static int pass_here(struct gen_req *g, struct timespec *earliest, bool *timed)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int r = step(g, &now, earliest, timed);
    if (r == RUN_KV_FULL)
        return r;
    if (gen_flush_out(g) < 0)
        return CONNFD_GONE;
    return r;
}

/* The loop on this thread, for a connection the pump cannot serve (TLS).
 * Returns 0 when every choice finished, RUN_KV_FULL, or the connfd_wake that
 * ended it. */
static int run_here(struct gen_req *g)
{
    for (;;) {
        struct timespec earliest = {0, 0};
        bool timed;
        int r = pass_here(g, &earliest, &timed);
        if (r != STEP_MORE)
            return r;
        if (g->sockfd == -2) /* looked up only when there is a wait: a syscall */
            g->sockfd = connfd_current(g->c);
        enum connfd_wake w =
            connfd_wait(g->sockfd, g->evfd, g->s->abortfd, timed ? &earliest : NULL);
        if (w == CONNFD_GONE || w == CONNFD_ABORT)
            return (int)w;
    }
}

static enum pump_next pump_step(struct pump_task *t, const struct timespec *now,
                                struct timespec *next)
{
    struct gen_req *g = (struct gen_req *)((char *)t - offsetof(struct gen_req, task));
    bool timed;
    int r = step(g, now, next, &timed);
    if (r != STEP_MORE) {
        t->result = r;
        return PUMP_END;
    }
    return timed ? PUMP_AT : PUMP_WAIT;
}

/* The timed loop: on the server's stream pump when the connection is plain
 * HTTP (one thread wakes for every stream's tokens), else on this thread.
 * Returns 0 when every choice finished, RUN_KV_FULL, or the connfd_wake that
 * ended it. */
static int run(struct gen_req *g)
{
    /* The first pass here: a request with nothing to wait for (no latency
     * configured) never leaves this thread. */
    struct timespec earliest;
    bool timed;
    int r = pass_here(g, &earliest, &timed);
    if (r != STEP_MORE)
        return r;
    const struct mg_request_info *ri = mg_get_request_info(g->c);
    if (!g->s->pump || ri->is_ssl)
        return run_here(g);
    if (g->sockfd == -2)
        g->sockfd = connfd_current(g->c);
    if (g->sockfd < 0)
        return run_here(g);
    g->task.sockfd = g->sockfd;
    g->task.evfd = g->evfd;
    g->task.step = pump_step;
    g->task.out = &g->out;
    r = pump_run(g->s->pump, &g->task);
    if (r == PUMP_GONE)
        return CONNFD_GONE;
    if (r == PUMP_ABORT)
        return CONNFD_ABORT;
    if (r == PUMP_REFUSED)
        return run_here(g);
    return r;
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
            gen_cancel_all(g);
            gen_send_error(g, 500, SIM_KVREQ_CAPACITY_MSG, NULL);
            return 500;
        }
        below += c->below_hit;
    }
    if (!g->kv.kv || below < g->nch)
        return 0;
    gen_cancel_all(g);
    return gen_respond_cache_threshold(g);
}

static int serve(struct gen_req *g)
{
    struct sim_server *s = g->s;
    gen_start_response(g);
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
        gen_cancel_all(g);
        return 499;
    }
    if (g->req.stream) { /* the opening events go out with the first flush */
        struct sim_resp_usage u;
        gen_usage(g, &u);
        int rc = g->ops->begin(&g->out, &g->st, &u);
        (void)rc; /* the out buffer has no cap */
    }
    int w = run(g);
    if (w == CONNFD_GONE) {
        gen_cancel_all(g);
        log_info("client disconnected", LOG_STR("request_id", g->id));
        return 499;
    }
    if (w == RUN_KV_FULL) {
        gen_cancel_all(g);
        if (g->req.stream)
            gen_stream_tail(g, 500, SIM_KVREQ_CAPACITY_MSG);
        else
            gen_send_error(g, 500, SIM_KVREQ_CAPACITY_MSG, NULL);
        return 500;
    }
    if (w == CONNFD_ABORT) {
        gen_cancel_all(g);
        if (g->req.stream)
            gen_stream_tail(g, 503, "server is shutting down");
        else
            gen_send_error(g, 503, "server is shutting down", NULL);
        return 503;
    }
    if (g->req.stream) {
        gen_stream_tail(g, 0, NULL);
        return 200;
    }
    return gen_respond_full(g);
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
    int status = gen_prepare(&g, api, err, sizeof(err), &param);
    snprintf(reqid, reqidlen, "%s", g.id);
    if (status == 0) {
        gen_prepare_choices(&g);
        if (g.cache_threshold) {
            gen_start_response(&g);
            status = gen_respond_cache_threshold(&g);
            gen_release(&g);
            return status;
        }
        sim_kvreq_init(&g.kv, s->kv ? sim_kvrank_cache(s->kv) : NULL, s->metrics, &g.req, g.nch,
                       gen_shown_model(&g));
        param = NULL;
        status = gen_admit(&g, err, sizeof(err));
    }
    if (status != 0) {
        gen_send_error(&g, status, err, param && *param ? param : NULL);
        gen_release(&g);
        return status;
    }
    status = serve(&g);
    gen_release(&g);
    return status;
}
