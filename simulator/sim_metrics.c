#include "simulator/sim_metrics.h"

#include "common/prom.h"
#include "common/xalloc.h"
#include "simulator/sim_fakemetrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Upstream's buckets (pkg/llm-d-inference-sim/metrics.go). */
static const double ttft_bounds[] = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,
                                     0.25,  0.5,   0.75, 1,    2.5,  5,    7.5,  10,
                                     20,    40,    80,   160,  640,  2560};
static const double tpot_bounds[] = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5,
                                     0.75, 1,     2.5,  5,     7.5, 10,   20,  40,  80};
static const double req_bounds[] = {0.3, 0.5, 0.8, 1,  1.5, 2,   2.5, 5,   10,   15,  20,
                                    30,  40,  50,  60, 120, 240, 480, 960, 1920, 7680};

#define N(a)    (sizeof(a) / sizeof((a)[0]))
#define NFINISH 5

enum hist_id {
    H_TTFT,
    H_TPOT,
    H_ITL,
    H_REQ_TPOT,
    H_E2E,
    H_QUEUE,
    H_INFER,
    H_PREFILL,
    H_DECODE,
    H_PROMPT,
    H_GEN,
    H_MAX_GEN,
    H_PARAMS_MAX,
    H_COUNT
};

static const struct {
    const char *name, *help;
} hist_meta[H_COUNT] = {
    {"vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds."},
    {"vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds."},
    {"vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds."},
    {"vllm:request_time_per_output_token_seconds",
     "Histogram of time_per_output_token_seconds per request."},
    {"vllm:e2e_request_latency_seconds", "Histogram of end to end request latency in seconds."},
    {"vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request."},
    {"vllm:request_inference_time_seconds",
     "Histogram of time spent in RUNNING phase for request."},
    {"vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request."},
    {"vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request."},
    {"vllm:request_prompt_tokens", "Number of prefill tokens processed."},
    {"vllm:request_generation_tokens", "Number of generation tokens processed."},
    {"vllm:max_num_generation_tokens",
     "Histogram of maximum number of requested generation tokens."},
    {"vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter."},
};

struct sim_metrics {
    char *labels; /* model_name="..." (escaped) */
    long max_loras, block_size, kv_cache_size;
    double start_time;
    double *token_bounds; /* 1-2-5 series up to max_model_len */
    size_t ntoken_bounds;
    struct prom_hist h[H_COUNT];
    _Atomic long running, waiting;
    _Atomic unsigned long long prompt_total, gen_total;
    _Atomic unsigned long long success[NFINISH];
    _Atomic double kv_usage;
    _Atomic unsigned long long prefix_queries, prefix_hits;
    _Atomic bool prefix_seen;
    pthread_mutex_t lora_mu; /* guards the three below */
    char *lora_running, *lora_waiting;
    double lora_changed;
    pthread_mutex_t fake_mu; /* guards the three below */
    const struct sim_fake *fake;
    struct timespec fake_clock; /* CLOCK_MONOTONIC start of the generators */
    int64_t fake_refresh;
};

/* The fake spec's histogram shown as each of ours (-1: none). */
static const int fake_hist_of[H_COUNT] = {
    SIM_FAKE_TTFT,      SIM_FAKE_TPOT,   SIM_FAKE_TPOT, -1,
    SIM_FAKE_E2E,       SIM_FAKE_QUEUE,  SIM_FAKE_INF,  SIM_FAKE_PREFILL,
    SIM_FAKE_DECODE,    SIM_FAKE_PROMPT, SIM_FAKE_GEN,  SIM_FAKE_MAX_GEN,
    SIM_FAKE_PARAMS_MAX};

/* 1, 2, 5, 10, 20, 50, ... up to and including max (upstream's Build125Buckets). */
static size_t build_125(long max, double **out)
{
    double *v = xcalloc(64, sizeof(double));
    size_t n = 0;
    static const int steps[] = {1, 2, 5};
    for (double base = 1; n < 60; base *= 10) {
        for (int i = 0; i < 3 && n < 60; i++) {
            double x = base * steps[i];
            if (x > (double)max) {
                *out = v;
                return n;
            }
            v[n++] = x;
        }
    }
    *out = v;
    return n;
}

struct sim_metrics *sim_metrics_new(const struct sim_metrics_opts *o)
{
    struct sim_metrics *m = xcalloc(1, sizeof(*m));
    struct buf lb;
    buf_init(&lb, BUF_NOCAP);
    int rc = buf_puts(&lb, "model_name=\"");
    rc = rc ? rc : prom_escape_label(&lb, o->model_name);
    rc = rc ? rc : buf_putc(&lb, '"');
    (void)rc; /* no cap */
    m->labels = buf_take(&lb, NULL);
    m->max_loras = o->max_loras;
    m->block_size = o->block_size;
    m->kv_cache_size = o->kv_cache_size;
    m->start_time = (double)time(NULL);
    pthread_mutex_init(&m->lora_mu, NULL);
    pthread_mutex_init(&m->fake_mu, NULL);
    m->lora_running = xstrdup("");
    m->lora_waiting = xstrdup("");
    m->lora_changed = m->start_time;
    m->ntoken_bounds = build_125(o->max_model_len, &m->token_bounds);
    for (int i = 0; i < H_COUNT; i++) {
        const double *b = req_bounds;
        size_t nb = N(req_bounds);
        if (i == H_TTFT) {
            b = ttft_bounds;
            nb = N(ttft_bounds);
        } else if (i == H_TPOT || i == H_ITL || i == H_REQ_TPOT) {
            b = tpot_bounds;
            nb = N(tpot_bounds);
        } else if (i >= H_PROMPT) {
            b = m->token_bounds;
            nb = m->ntoken_bounds;
        }
        prom_hist_init(&m->h[i], b, nb);
    }
    return m;
}

void sim_metrics_free(struct sim_metrics *m)
{
    if (!m)
        return;
    for (int i = 0; i < H_COUNT; i++)
        prom_hist_release(&m->h[i]);
    free(m->token_bounds);
    free(m->labels);
    free(m->lora_running);
    free(m->lora_waiting);
    pthread_mutex_destroy(&m->lora_mu);
    pthread_mutex_destroy(&m->fake_mu);
    free(m);
}

void sim_metrics_set_running(struct sim_metrics *m, long n)
{
    atomic_store_explicit(&m->running, n, memory_order_relaxed);
}

void sim_metrics_set_waiting(struct sim_metrics *m, long n)
{
    atomic_store_explicit(&m->waiting, n, memory_order_relaxed);
}

void sim_metrics_observe_ttft(struct sim_metrics *m, double s)
{
    prom_hist_observe(&m->h[H_TTFT], s);
}

void sim_metrics_observe_itl(struct sim_metrics *m, double s)
{
    prom_hist_observe(&m->h[H_TPOT], s);
    prom_hist_observe(&m->h[H_ITL], s);
}

void sim_metrics_observe_queue(struct sim_metrics *m, double s)
{
    prom_hist_observe(&m->h[H_QUEUE], s);
}

void sim_metrics_observe_done(struct sim_metrics *m, const struct sim_metrics_done *d)
{
    prom_hist_observe(&m->h[H_E2E], d->e2e);
    prom_hist_observe(&m->h[H_INFER], d->inference);
    prom_hist_observe(&m->h[H_PREFILL], d->prefill);
    prom_hist_observe(&m->h[H_DECODE], d->decode);
    prom_hist_observe(&m->h[H_REQ_TPOT],
                      d->gen_tokens > 1 ? d->decode / (double)(d->gen_tokens - 1) : 0.0);
    prom_hist_observe(&m->h[H_PROMPT], (double)d->prompt_tokens);
    prom_hist_observe(&m->h[H_GEN], (double)d->gen_tokens);
    prom_hist_observe(&m->h[H_MAX_GEN], (double)d->gen_tokens);
    if (d->max_tokens_param >= 0)
        prom_hist_observe(&m->h[H_PARAMS_MAX], (double)d->max_tokens_param);
    atomic_fetch_add_explicit(&m->prompt_total, (unsigned long long)d->prompt_tokens,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&m->gen_total, (unsigned long long)d->gen_tokens,
                              memory_order_relaxed);
    if ((unsigned)d->finish < NFINISH)
        atomic_fetch_add_explicit(&m->success[d->finish], 1, memory_order_relaxed);
}

void sim_metrics_set_kv_usage(struct sim_metrics *m, double usage)
{
    atomic_store_explicit(&m->kv_usage, usage, memory_order_relaxed);
}

void sim_metrics_observe_prefix(struct sim_metrics *m, long queried, long cached)
{
    atomic_fetch_add_explicit(&m->prefix_queries, (unsigned long long)queried,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&m->prefix_hits, (unsigned long long)cached, memory_order_relaxed);
    atomic_store_explicit(&m->prefix_seen, true, memory_order_release);
}

static int gauge(struct buf *b, const char *name, const char *help, const char *labels, double v)
{
    int rc = prom_write_header(b, name, help, "gauge");
    return rc ? rc : prom_write_sample(b, name, labels, v);
}

void sim_metrics_set_lora_info(struct sim_metrics *m, const char *running, const char *waiting)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char *r = xstrdup(running), *w = xstrdup(waiting);
    pthread_mutex_lock(&m->lora_mu);
    free(m->lora_running);
    free(m->lora_waiting);
    m->lora_running = r;
    m->lora_waiting = w;
    m->lora_changed = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
    pthread_mutex_unlock(&m->lora_mu);
}

static int write_lora_info(struct sim_metrics *m, struct buf *b)
{
    struct buf l;
    buf_init(&l, BUF_NOCAP);
    pthread_mutex_lock(&m->lora_mu);
    int rc =
        buf_appendf(&l, "%s,max_lora=\"%ld\",running_lora_adapters=\"", m->labels, m->max_loras);
    rc = rc ? rc : prom_escape_label(&l, m->lora_running);
    rc = rc ? rc : buf_puts(&l, "\",waiting_lora_adapters=\"");
    rc = rc ? rc : prom_escape_label(&l, m->lora_waiting);
    rc = rc ? rc : buf_putc(&l, '"');
    double changed = m->lora_changed;
    pthread_mutex_unlock(&m->lora_mu);
    rc = rc ? rc
            : gauge(b, "vllm:lora_requests_info", "Running stats on lora requests.", buf_str(&l),
                    changed);
    buf_release(&l);
    return rc;
}

static int write_cache_config(struct sim_metrics *m, struct buf *b)
{
    char extra[1024];
    snprintf(extra, sizeof(extra), "%s,block_size=\"%ld\",num_gpu_blocks=\"%ld\"", m->labels,
             m->block_size, m->kv_cache_size);
    return gauge(b, "vllm:cache_config_info", "Information of the LLMEngine CacheConfig", extra,
                 1.0);
}

static int write_gauges(struct sim_metrics *m, struct buf *b)
{
    int rc = gauge(b, "vllm:num_requests_running", "Number of requests in model execution batches.",
                   m->labels, (double)atomic_load(&m->running));
    rc = rc ? rc
            : gauge(b, "vllm:num_requests_waiting", "Number of requests waiting to be processed.",
                    m->labels, (double)atomic_load(&m->waiting));
    rc = rc ? rc
            : gauge(b, "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.",
                    m->labels, atomic_load(&m->kv_usage));
    rc = rc ? rc : write_lora_info(m, b);
    return rc ? rc : write_cache_config(m, b);
}

static int write_counters(struct sim_metrics *m, struct buf *b)
{
    int rc = 0;
    unsigned long long any = 0, s[NFINISH];
    for (int i = 0; i < NFINISH; i++)
        any += s[i] = atomic_load(&m->success[i]);
    if (!any)
        return 0; /* counters appear with the first success, as upstream */
    rc = prom_write_header(b, "vllm:prompt_tokens_total", "Number of prefill tokens processed.",
                           "counter");
    rc = rc ? rc
            : prom_write_sample(b, "vllm:prompt_tokens_total", m->labels,
                                (double)atomic_load(&m->prompt_total));
    rc = rc ? rc
            : prom_write_header(b, "vllm:generation_tokens_total",
                                "Number of generation tokens processed.", "counter");
    rc = rc ? rc
            : prom_write_sample(b, "vllm:generation_tokens_total", m->labels,
                                (double)atomic_load(&m->gen_total));
    rc = rc ? rc
            : prom_write_header(b, "vllm:request_success_total",
                                "Count of successfully processed requests.", "counter");
    for (int i = 0; i < NFINISH && rc == 0; i++) {
        char lbl[1024];
        if (!s[i])
            continue;
        snprintf(lbl, sizeof(lbl), "%s,finish_reason=\"%s\"", m->labels,
                 sim_finish_name((enum sim_finish)i));
        rc = prom_write_sample(b, "vllm:request_success_total", lbl, (double)s[i]);
    }
    return rc;
}

void sim_metrics_set_fake(struct sim_metrics *m, const struct sim_fake *f, int64_t refresh_ns)
{
    pthread_mutex_lock(&m->fake_mu);
    if (f && sim_fake_has_functions(f) && !(m->fake && sim_fake_has_functions(m->fake)))
        clock_gettime(CLOCK_MONOTONIC, &m->fake_clock);
    m->fake = f;
    m->fake_refresh = refresh_ns > 0 ? refresh_ns : 1;
    pthread_mutex_unlock(&m->fake_mu);
}

static int fake_gauges(struct sim_metrics *m, const struct sim_fake *f, int64_t t, struct buf *b)
{
    int rc = gauge(b, "vllm:num_requests_running", "Number of requests in model execution batches.",
                   m->labels, sim_fake_gauge_at(&f->running, t, true));
    rc = rc ? rc
            : gauge(b, "vllm:num_requests_waiting", "Number of requests waiting to be processed.",
                    m->labels, sim_fake_gauge_at(&f->waiting, t, true));
    rc = rc ? rc
            : gauge(b, "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.",
                    m->labels, sim_fake_gauge_at(&f->kv, t, false));
    rc = rc ? rc
            : prom_write_header(b, "vllm:lora_requests_info", "Running stats on lora requests.",
                                "gauge");
    struct buf l;
    buf_init(&l, BUF_NOCAP);
    /* No LoRA series given: one with empty lists, valued when the spec came. */
    for (size_t i = 0; i < (f->nloras ? f->nloras : 1) && rc == 0; i++) {
        const struct sim_fake_lora *e = f->nloras ? &f->loras[i] : NULL;
        buf_reset(&l);
        rc = buf_appendf(&l, "%s,max_lora=\"%ld\",running_lora_adapters=\"", m->labels,
                         m->max_loras);
        rc = rc ? rc : prom_escape_label(&l, e ? e->running : "");
        rc = rc ? rc : buf_puts(&l, "\",waiting_lora_adapters=\"");
        rc = rc ? rc : prom_escape_label(&l, e ? e->waiting : "");
        rc = rc ? rc : buf_putc(&l, '"');
        rc = rc ? rc
                : prom_write_sample(b, "vllm:lora_requests_info", buf_str(&l),
                                    e ? e->timestamp : f->loras_at);
    }
    buf_release(&l);
    return rc ? rc : write_cache_config(m, b);
}

static int fake_counter(struct buf *b, const char *name, const char *help, const char *labels,
                        double v)
{
    int rc = prom_write_header(b, name, help, "counter");
    return rc ? rc : prom_write_sample(b, name, labels, v);
}

/* A token counter: the explicit total, else the histogram's sum, else none. */
static int fake_tokens(struct sim_metrics *m, const struct sim_fake *f, int h, bool set,
                       uint64_t total, const char *name, const char *help, struct buf *b)
{
    const struct sim_fake_counts *c = &f->hist[h];
    if (!set && !(c->set && c->n))
        return 0;
    double v = set ? (double)total : sim_fake_counts_sum(c, m->token_bounds, m->ntoken_bounds);
    return fake_counter(b, name, help, m->labels, v);
}

static int fake_counters(struct sim_metrics *m, const struct sim_fake *f, struct buf *b)
{
    int rc = fake_tokens(m, f, SIM_FAKE_PROMPT, f->total_prompt_set, f->total_prompt,
                         "vllm:prompt_tokens_total", "Number of prefill tokens processed.", b);
    rc = rc ? rc
            : fake_tokens(m, f, SIM_FAKE_GEN, f->total_gen_set, f->total_gen,
                          "vllm:generation_tokens_total", "Number of generation tokens processed.",
                          b);
    if (rc == 0 && f->success_set) {
        rc = prom_write_header(b, "vllm:request_success_total",
                               "Count of successfully processed requests.", "counter");
        for (int i = 0; i < SIM_FAKE_NREASONS && rc == 0; i++) {
            char lbl[1024];
            snprintf(lbl, sizeof(lbl), "%s,finish_reason=\"%s\"", m->labels,
                     sim_finish_name((enum sim_finish)i));
            rc = prom_write_sample(b, "vllm:request_success_total", lbl, (double)f->success[i]);
        }
    }
    if (rc == 0 && f->hits_set) {
        rc = fake_counter(b, "vllm:prefix_cache_queries_total",
                          "Prefix cache queries, in terms of number of queried tokens.", m->labels,
                          (double)f->prefix_queries);
        rc = rc ? rc
                : fake_counter(b, "vllm:prefix_cache_hits_total",
                               "Prefix cache hits, in terms of number of cached tokens.", m->labels,
                               (double)f->prefix_hits);
    }
    return rc;
}

/* The fake spec's exposition, t_ns into the generators' clock. */
static int format_fake(struct sim_metrics *m, const struct sim_fake *f, int64_t t_ns,
                       struct buf *out)
{
    int rc = fake_gauges(m, f, t_ns, out);
    for (int i = 0; i < H_COUNT && rc == 0; i++) {
        const struct sim_fake_counts *c = fake_hist_of[i] < 0 ? NULL : &f->hist[fake_hist_of[i]];
        uint64_t n = 0;
        for (size_t k = 0; c && k < c->n; k++)
            n += c->v[k];
        if (n == 0) /* no observations: no series, as upstream */
            continue;
        rc = prom_write_header(out, hist_meta[i].name, hist_meta[i].help, "histogram");
        rc = rc ? rc
                : prom_write_hist_counts(out, hist_meta[i].name, m->labels, m->h[i].bounds,
                                         m->h[i].nbounds, c->v, c->n,
                                         sim_fake_counts_sum(c, m->h[i].bounds, m->h[i].nbounds));
    }
    return rc ? rc : fake_counters(m, f, out);
}

/* vLLM's prefix-cache counters, in tokens (upstream counts them only with the
 * KV cache on, from the first lookup). */
static int write_prefix(struct sim_metrics *m, struct buf *b)
{
    if (!atomic_load_explicit(&m->prefix_seen, memory_order_acquire))
        return 0;
    int rc =
        prom_write_header(b, "vllm:prefix_cache_queries_total",
                          "Prefix cache queries, in terms of number of queried tokens.", "counter");
    rc = rc ? rc
            : prom_write_sample(b, "vllm:prefix_cache_queries_total", m->labels,
                                (double)atomic_load(&m->prefix_queries));
    rc = rc ? rc
            : prom_write_header(b, "vllm:prefix_cache_hits_total",
                                "Prefix cache hits, in terms of number of cached tokens.",
                                "counter");
    return rc ? rc
              : prom_write_sample(b, "vllm:prefix_cache_hits_total", m->labels,
                                  (double)atomic_load(&m->prefix_hits));
}

int sim_metrics_format(struct sim_metrics *m, struct buf *out)
{
    pthread_mutex_lock(&m->fake_mu);
    const struct sim_fake *f = m->fake;
    struct timespec t0 = m->fake_clock, now;
    int64_t refresh = m->fake_refresh;
    pthread_mutex_unlock(&m->fake_mu);
    if (f) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t t = (int64_t)(now.tv_sec - t0.tv_sec) * 1000000000LL + (now.tv_nsec - t0.tv_nsec);
        return format_fake(m, f, t / refresh * refresh, out); /* the last tick's value */
    }
    int rc = write_gauges(m, out);
    for (int i = 0; i < H_COUNT && rc == 0; i++) {
        if (prom_hist_count(&m->h[i]) == 0)
            continue;
        rc = prom_write_header(out, hist_meta[i].name, hist_meta[i].help, "histogram");
        rc = rc ? rc : prom_write_hist(out, hist_meta[i].name, m->labels, &m->h[i]);
    }
    rc = rc ? rc : write_counters(m, out);
    return rc ? rc : write_prefix(m, out);
}
