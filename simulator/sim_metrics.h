/*
 * sim_metrics: the simulator's vllm:* Prometheus metrics, with upstream's
 * names, labels and buckets (reference/upstream-simulator.md section 6).
 *
 * Every series carries model_name = the first served model name. Gauges
 * exist from the start; histograms and counters appear after their first
 * observation, as upstream. All functions are thread-safe; observations are
 * lock-free.
 */
#ifndef PDSIM_SIM_METRICS_H
#define PDSIM_SIM_METRICS_H

#include "common/buf.h"
#include "simulator/sim_textgen.h"

#include <stdint.h>

struct sim_metrics_opts {
    const char *model_name; /* copied */
    long max_model_len;     /* token histograms use 1-2-5 buckets up to this */
    long max_loras;         /* lora_requests_info's max_lora label */
    long block_size;        /* cache_config_info labels */
    long kv_cache_size;
};

/* What one finished choice (sub-request) contributes. Times in seconds. */
struct sim_metrics_done {
    double e2e;       /* HTTP receipt -> done */
    double inference; /* slot granted -> done */
    double prefill;   /* measured time to first token (after the slot) */
    double decode;    /* first token -> last token */
    long prompt_tokens;
    long gen_tokens;
    long max_tokens_param; /* < 0 when the request set none */
    enum sim_finish finish;
};

struct sim_metrics;

/* Caller frees with sim_metrics_free. */
struct sim_metrics *sim_metrics_new(const struct sim_metrics_opts *o);
void sim_metrics_free(struct sim_metrics *m);

void sim_metrics_set_running(struct sim_metrics *m, long n);
void sim_metrics_set_waiting(struct sim_metrics *m, long n);
/* The adapters with running and with waiting requests (comma lists, copied)
 * changed: vllm:lora_requests_info shows these labels, valued with the time
 * of the change. Unlike upstream, the previous label set is not kept. */
void sim_metrics_set_lora_info(struct sim_metrics *m, const char *running, const char *waiting);
/* Sampled TTFT of a choice (queue excluded). */
void sim_metrics_observe_ttft(struct sim_metrics *m, double s);
/* One sampled inter-token latency (time_per_output_token and inter_token_latency). */
void sim_metrics_observe_itl(struct sim_metrics *m, double s);
/* Queue time of every sub-request when it gets its slot (0 when it never waited). */
void sim_metrics_observe_queue(struct sim_metrics *m, double s);
/* A choice finished successfully: histograms, token counters, request_success_total. */
void sim_metrics_observe_done(struct sim_metrics *m, const struct sim_metrics_done *d);

struct sim_fake;
/* From now on the exposition shows the fake spec f (--fake-metrics) instead
 * of the real metrics, which are still counted but no longer shown, as
 * upstream. f is borrowed and must stay valid until replaced or m is freed.
 * Function gauges change once per refresh_ns, as upstream's ticker; their
 * clock starts at the first spec with functions. Thread-safe. */
void sim_metrics_set_fake(struct sim_metrics *m, const struct sim_fake *f, int64_t refresh_ns);
/* vllm:kv_cache_usage_perc: the fraction of KV blocks in use (0..1). */
void sim_metrics_set_kv_usage(struct sim_metrics *m, double usage);
/* One prefix-cache lookup: vllm:prefix_cache_queries_total += queried tokens,
 * vllm:prefix_cache_hits_total += cached tokens (both appear with the first). */
void sim_metrics_observe_prefix(struct sim_metrics *m, long queried, long cached);

/* The whole exposition text. Returns 0 or -E2BIG. */
int sim_metrics_format(struct sim_metrics *m, struct buf *out);

#endif
