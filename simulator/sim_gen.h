/*
 * sim_gen: the state of one generation request (every API: chat, completions,
 * responses, messages, generate) shared by its three parts: sim_gen_prepare.c
 * (parse, hooks, checks, choices, admission), sim_generate.c (the timed loop)
 * and sim_gen_respond.c (the answers). Private to those files: not an API.
 * A gen_req lives on its civetweb worker's stack; nothing here is shared
 * between threads except through the scheduler, and with the stream pump,
 * which runs the timed loop while the worker waits in pump_run.
 */
#ifndef PDSIM_SIM_GEN_H
#define PDSIM_SIM_GEN_H

#include "simulator/sim_internal.h"

#include "common/buf.h"
#include "common/pump.h"
#include "simulator/sim_kvreq.h"
#include "simulator/sim_resp_api.h"
#include "simulator/sim_rng.h"
#include "simulator/sim_textgen.h"
#include "simulator/sim_toolgen.h"
#include "simulator/sim_tools.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

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
    struct sim_kvreq kv;   /* the prompts' KV blocks (--enable-kvcache) */
    bool kv_full;          /* a choice found no room in the KV cache: 500 */
    struct pump_task task; /* the timed loop, when the stream pump runs it */
};

/* run()'s answer when a choice found no room in the KV cache. */
#define RUN_KV_FULL 100

static inline void gen_ts_add(struct timespec *t, int64_t ns)
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

static inline bool gen_ts_le(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec <= b->tv_nsec);
}

static inline double gen_ts_sec(const struct timespec *from, const struct timespec *to)
{
    return (double)(to->tv_sec - from->tv_sec) + (double)(to->tv_nsec - from->tv_nsec) / 1e9;
}

/* sim_gen_prepare.c */

/* Read the body, parse it as api, set the ids, run the test-header and
 * failure hooks, then the model, tool and value checks, in upstream's order.
 * Returns 0, or an HTTP status with err (and *param) set. */
int gen_prepare(struct gen_req *g, enum sim_api api, char *err, size_t errlen, const char **param);
/* Decide every choice up front (tool calls or text), so the loop only sends. */
void gen_prepare_choices(struct gen_req *g);
/* Hand every choice to the scheduler. Returns 0, 429 or 503 with err set. */
int gen_admit(struct gen_req *g, char *err, size_t errlen);
/* The model named in answers: an adapter as it is, the base model as the first served name. */
const char *gen_shown_model(const struct gen_req *g);
/* Free what g owns (not g). */
void gen_release(struct gen_req *g);

/* sim_gen_respond.c */

/* Completion tokens of a choice: its text tokens, or upstream's count for tool calls. */
long gen_choice_tokens(const struct gen_choice *c);
/* A choice as the builders see it. */
struct sim_resp_choice gen_view(const struct gen_req *g, const struct gen_choice *c);
/* The request's usage so far. */
void gen_usage(const struct gen_req *g, struct sim_resp_usage *u);
/* The response's identity, the same in every event of a stream. */
void gen_start_response(struct gen_req *g);
/* The whole non-streaming answer. Returns 200. */
int gen_respond_full(struct gen_req *g);
/* A stream's end: usage (when asked) or an error event, then the API's last event. */
void gen_stream_tail(struct gen_req *g, int status, const char *error);
/* The cache_threshold answer: at once, no latency, no completion tokens. Returns 200. */
int gen_respond_cache_threshold(struct gen_req *g);
/* An error answer in the API's shape (OpenAI's, or Anthropic's on /v1/messages). */
void gen_send_error(struct gen_req *g, int status, const char *msg, const char *param);

/* sim_generate.c */

/* Send what the stream has buffered. Returns 0 or < 0 when the client is gone. */
int gen_flush_out(struct gen_req *g);
/* Give back the scheduler slots of every choice not done. */
void gen_cancel_all(struct gen_req *g);

#endif
