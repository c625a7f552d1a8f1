/*
 * sim_fakemetrics: upstream's --fake-metrics, the values /metrics reports
 * instead of the real ones: gauges fixed or driven by a generator function
 * ("oscillate:0:10:5s"), LoRA info series, per-bucket histogram counts,
 * finish-reason counters and token totals.
 *
 * This module parses, validates, patches (POST /admin/config) and prints the
 * spec, and evaluates the generators; sim_metrics formats the exposition.
 * Pure (the clock comes in as an argument); a spec is immutable once built,
 * so any number of threads may read it.
 */
#ifndef PDSIM_SIM_FAKEMETRICS_H
#define PDSIM_SIM_FAKEMETRICS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sim_fake_fn {
    SIM_FAKE_FIXED,
    SIM_FAKE_OSCILLATE,  /* sine wave between start and end, one cycle per period */
    SIM_FAKE_RAMP,       /* start to end over one period, then end */
    SIM_FAKE_RAMPRESET,  /* start to end over each period, then back to start */
    SIM_FAKE_SQUAREWAVE, /* start for the first half of each period, end for the second */
};

/* running-requests, waiting-requests, kv-cache-usage: a number or
 * "fn:start:end:period". */
struct sim_fake_gauge {
    enum sim_fake_fn fn;
    double value; /* SIM_FAKE_FIXED */
    double start, end;
    int64_t period_ns; /* > 0 for a function */
};

/* One vllm:lora_requests_info series. */
struct sim_fake_lora {
    char *running, *waiting; /* comma lists */
    double timestamp;        /* the series value: unix seconds */
};

/* The histograms a spec may fill, by their upstream keys. */
enum sim_fake_hist {
    SIM_FAKE_TTFT,       /* ttft-buckets-values */
    SIM_FAKE_TPOT,       /* tpot-buckets-values (also inter_token_latency) */
    SIM_FAKE_E2E,        /* e2erl-buckets-values */
    SIM_FAKE_QUEUE,      /* queue-time-buckets-values */
    SIM_FAKE_INF,        /* inf-time-buckets-values */
    SIM_FAKE_PREFILL,    /* prefill-time-buckets-values */
    SIM_FAKE_DECODE,     /* decode-time-buckets-values */
    SIM_FAKE_PROMPT,     /* request-prompt-tokens */
    SIM_FAKE_GEN,        /* request-generation-tokens */
    SIM_FAKE_MAX_GEN,    /* request-max-generation-tokens */
    SIM_FAKE_PARAMS_MAX, /* request-params-max-tokens */
    SIM_FAKE_NHIST
};

/* Observations per bucket, first bucket first; missing trailing buckets are
 * 0; values past the last bound count in +Inf. */
struct sim_fake_counts {
    bool set; /* given (possibly empty: no series) */
    uint64_t *v;
    size_t n;
};

#define SIM_FAKE_NREASONS 5 /* enum sim_finish: stop .. cache_threshold */

struct sim_fake {
    struct sim_fake_gauge running, waiting, kv;
    struct sim_fake_lora *loras; /* none: one series with empty lists */
    size_t nloras;
    double loras_at; /* unix seconds when loras were last given: the empty series' value */
    struct sim_fake_counts hist[SIM_FAKE_NHIST];
    bool success_set; /* request-success-total given: every reason shown (0 if not listed) */
    uint64_t success[SIM_FAKE_NREASONS];
    bool total_prompt_set, total_gen_set, hits_set, queries_set;
    uint64_t total_prompt, total_gen;     /* total-prompt-tokens, total-generation-tokens */
    uint64_t prefix_hits, prefix_queries; /* prefix-cache-hits, prefix-cache-queries (together) */
};

/* Parse a fake-metrics object (JSON, or YAML read as JSON: numbers may then
 * be numeric strings, and loras JSON strings) into *out. now is the unix time
 * (for the LoRA series when none is given). Returns 0, or -1 with err naming
 * the key ("fake-metrics: kv-cache-usage: must be between 0 and 1").
 * Free with sim_fake_free. */
int sim_fake_parse(const cJSON *obj, double now, struct sim_fake **out, char *err, size_t errlen);
/* A copy of f with the partial update patch applied (upstream's semantics:
 * absent or null keys stay, [] and {} clear), validated as a whole. Returns
 * the new spec, or NULL with err set; f is not changed. */
struct sim_fake *sim_fake_patch(const struct sim_fake *f, const cJSON *patch, double now, char *err,
                                size_t errlen);
void sim_fake_free(struct sim_fake *f);

/* The spec as upstream prints it (GET /admin/config). Caller deletes it. */
cJSON *sim_fake_json(const struct sim_fake *f);

/* The gauge's value t_ns after the generators started. Functions of the
 * request gauges (round true) are truncated to whole requests, as upstream. */
double sim_fake_gauge_at(const struct sim_fake_gauge *g, int64_t t_ns, bool round);
/* True when any gauge is a function (the generator clock matters). */
bool sim_fake_has_functions(const struct sim_fake *f);

/* The counts' total as upstream derives a token counter from a histogram:
 * each count times its bucket's bound (past the last bound: last bound + 1). */
double sim_fake_counts_sum(const struct sim_fake_counts *c, const double *bounds, size_t nbounds);

#endif
