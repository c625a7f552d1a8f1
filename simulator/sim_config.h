/*
 * sim_config: pdsim-simulator's configuration: upstream's flag names, YAML
 * keys and env vars, merged with precedence CLI > env > YAML > default, and
 * validated as a whole.
 *
 * Pure apart from reading the --config file and the environment: it never
 * logs or exits; errors come back as one line naming the flag or key.
 */
#ifndef PDSIM_SIM_CONFIG_H
#define PDSIM_SIM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum sim_mode { SIM_MODE_RANDOM, SIM_MODE_ECHO };
enum sim_calc { SIM_CALC_LEGACY, SIM_CALC_CONSTANT, SIM_CALC_PER_TOKEN };

struct cJSON;
struct sim_fake;

/* Injected failures (--failure-types), upstream's canned errors. */
enum sim_failure {
    SIM_FAIL_RATE_LIMIT,
    SIM_FAIL_INVALID_API_KEY,
    SIM_FAIL_CONTEXT_LENGTH,
    SIM_FAIL_SERVER_ERROR,
    SIM_FAIL_INVALID_REQUEST,
    SIM_FAIL_MODEL_NOT_FOUND,
    SIM_FAIL_N
};
extern const char *const sim_failure_names[SIM_FAIL_N];

struct sim_config {
    char *host; /* listen address (pdsim extension; vLLM's --host) */
    long port;
    char *model;   /* base model (required) */
    char **served; /* served model names; [model] when none given */
    size_t nserved;
    enum sim_mode mode;
    int64_t seed;
    long max_num_seqs;
    long max_waiting_queue_length;
    long max_model_len;
    /* latencies in nanoseconds */
    int64_t ttft, ttft_sd, itl, itl_sd;
    int64_t prefill_overhead, prefill_per_token, prefill_sd;
    int64_t kv_latency, kv_latency_sd, kv_per_token, kv_time_sd;
    enum sim_calc calc;
    double time_factor_under_load;
    long max_request_body_size_mb;
    long data_parallel_size;
    long data_parallel_rank; /* -1, or this process is that one rank */
    char **lora_modules;     /* --lora-modules values as given (checked by sim_config_load) */
    size_t nlora_modules;
    long max_loras;          /* LoRA adapters that can run at the same time */
    long max_cpu_loras;      /* accepted and checked (>= max-loras) as upstream; otherwise unused */
    long v;                  /* klog verbosity */
    long failure_rate;       /* percent of generation requests failed on purpose */
    unsigned failure_types;  /* bit (1 << enum sim_failure) per allowed type */
    long request_id_headers; /* honour and echo X-Request-Id (a bool) */
    int64_t startup_duration;         /* /health/ready is 503 until the server is this old */
    long sleep_mode;                  /* /sleep acts (with VLLM_SERVER_DEV_MODE=1, as upstream) */
    char *ssl_certfile, *ssl_keyfile; /* HTTPS with these PEM files (both or neither) */
    long self_signed_certs;           /* HTTPS with a certificate made at start */
    char *config_path;
    /* tool calls (upstream's names) */
    long max_tool_int, min_tool_int;
    double max_tool_num, min_tool_num;
    long max_tool_arr, min_tool_arr;
    long tool_not_required_pct;   /* --tool-call-not-required-param-probability */
    long object_not_required_pct; /* --object-tool-call-not-required-field-probability */
    long tool_extra_call_pct;     /* --tool-call-extra-call-probability */
    long skip_tool_validation;    /* a bool */
    /* the response dataset: an SQLite file (sim_dataset) */
    char *dataset_path, *dataset_url, *dataset_table;
    long dataset_in_memory;        /* a bool */
    long embed_dims;               /* --default-embedding-dimensions */
    struct sim_fake *fake_metrics; /* --fake-metrics (owned by the loaded config), or NULL */
    int64_t fake_refresh;          /* --fake-metrics-refresh-interval, ns */
    /* the KV cache and its events */
    long enable_kvcache;               /* a bool */
    long kv_cache_size;                /* blocks */
    long block_size;                   /* tokens per block: 8, 16, 32, 64 or 128 */
    char *hash_seed;                   /* block-key seed (--hash-seed, else env PYTHONHASHSEED) */
    char *zmq_endpoint;                /* KV-event PUB address; "" publishes nothing */
    long event_batch_size;             /* events per ZMQ message */
    long map_event_format;             /* --use-vllm-map-event-format (a bool) */
    char *replay_endpoint;             /* --kv-events-replay-endpoint (ROUTER), or "" */
    long replay_queue_size;            /* batches kept for replay */
    double global_cache_hit_threshold; /* 0..1; 0: off */
    /* pdsim extensions */
    long http_threads;
    long stream_threads;          /* the stream pump's threads */
    int64_t http_request_timeout; /* ns: civetweb request_timeout_ms */
    int64_t shutdown_timeout;
};

/* Result of sim_config_load besides success. */
enum sim_config_result {
    SIM_CONFIG_OK = 0,
    SIM_CONFIG_HELP = 1,  /* --help: print sim_config_help and exit 0 */
    SIM_CONFIG_ERROR = -1 /* err holds one line naming the flag or key */
};

/* Fill cfg from defaults, the --config YAML, the environment (getenv) and
 * argv, then validate. Caller releases cfg with sim_config_release, also on
 * error. warn (may be NULL) receives notes about accepted-but-ignored flags. */
enum sim_config_result sim_config_load(struct sim_config *cfg, int argc, char **argv, char *err,
                                       size_t errlen, char *warn, size_t warnlen);
void sim_config_release(struct sim_config *cfg);

/* Write --help text: every flag with its default. */
void sim_config_help(FILE *out);

/* Go's strconv.ParseBool (1 t T TRUE true True, 0 f F FALSE false False), as
 * upstream reads boolean flags and headers. Returns 0, or -1 for anything else. */
int sim_parse_bool(const char *s, bool *out);

/* The keys POST /admin/config may change: every latency key, failure-injection-rate,
 * failure-types and (when the config has them) fake-metrics. Applies the partial
 * update patch (a JSON object; keys are flag names; durations are strings or
 * integer nanoseconds; fake-metrics a partial object) to *c, a copy of the
 * running config whose pointer members stay shared. Validated as a whole (std-dev
 * bounds, time factor): returns 0, or -1 with err naming the key, and then *c may
 * be partly changed (the caller discards it). A fake-metrics update replaces
 * c->fake_metrics with a new spec, which the caller then owns. */
int sim_config_update_runtime(struct sim_config *c, const struct cJSON *patch, char *err,
                              size_t errlen);

/* The config as a JSON object (flag names as keys, durations as strings), for
 * GET /admin/config. The caller deletes it. */
struct cJSON *sim_config_json(const struct sim_config *c);

/* The name shown in responses and metrics: the first served name. Borrowed. */
const char *sim_config_display_name(const struct sim_config *cfg);
/* True when name is one of the served model names. */
bool sim_config_serves(const struct sim_config *cfg, const char *name);

#endif
