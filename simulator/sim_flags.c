#include "simulator/sim_flags.h"

#include "common/duration.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "simulator/sim_fakemetrics.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const sim_failure_names[SIM_FAIL_N] = {"rate_limit",      "invalid_api_key",
                                                   "context_length",  "server_error",
                                                   "invalid_request", "model_not_found"};

#define OFF(f)         offsetof(struct sim_config, f)
#define TOOL_INT_LIMIT (1L << 53) /* integers JSON readers keep exactly */

const struct flagdef sim_flags[] = {
    {"config", F_CONFIG, OFF(config_path), 0, 0, "", "YAML file whose keys are these flag names"},
    {"host", F_STR, OFF(host), 0, 0, "0.0.0.0", "listen address (pdsim extension, as vLLM)"},
    {"port", F_INT, OFF(port), 0, 65535, "8000", "listen port; 0 picks a free port (logged)"},
    {"model", F_STR, OFF(model), 0, 0, "", "base model name (required; env SIM_MODEL)"},
    {"served-model-name", F_LIST, OFF(served), 0, 0, "[model]",
     "served model names (a list); the first is shown in responses"},
    {"mode", F_MODE, OFF(mode), 0, 0, "random", "response text: random or echo"},
    {"seed", F_SEED, OFF(seed), 0, 0, "current time", "random seed (responses, jitter, ids)"},
    {"max-num-seqs", F_INT, OFF(max_num_seqs), 1, INT_MAX, "5", "requests running at once"},
    {"max-waiting-queue-length", F_INT, OFF(max_waiting_queue_length), 0, INT_MAX, "1000",
     "requests waiting for a slot; more get 429"},
    {"max-model-len", F_INT, OFF(max_model_len), 1, INT_MAX, "1024", "context window in tokens"},
    {"time-to-first-token", F_DUR, OFF(ttft), 0, 0, "0s", "time to first token"},
    {"time-to-first-token-std-dev", F_DUR, OFF(ttft_sd), 0, 0, "0s",
     "its standard deviation (<= 0.3x the mean)"},
    {"inter-token-latency", F_DUR, OFF(itl), 0, 0, "0s", "time between output tokens"},
    {"inter-token-latency-std-dev", F_DUR, OFF(itl_sd), 0, 0, "0s",
     "its standard deviation (<= 0.3x the mean)"},
    {"prefill-overhead", F_DUR, OFF(prefill_overhead), 0, 0, "0s", "fixed prefill time"},
    {"prefill-time-per-token", F_DUR, OFF(prefill_per_token), 0, 0, "0s",
     "prefill time per uncached prompt token"},
    {"prefill-time-std-dev", F_DUR, OFF(prefill_sd), 0, 0, "0s", "prefill standard deviation"},
    {"kv-cache-transfer-latency", F_DUR, OFF(kv_latency), 0, 0, "0s",
     "time to first token of a remote-prefill (P/D decode) request"},
    {"kv-cache-transfer-latency-std-dev", F_DUR, OFF(kv_latency_sd), 0, 0, "0s",
     "its standard deviation (<= 0.3x the mean)"},
    {"kv-cache-transfer-time-per-token", F_DUR, OFF(kv_per_token), 0, 0, "0s",
     "KV transfer time per prompt token"},
    {"kv-cache-transfer-time-std-dev", F_DUR, OFF(kv_time_sd), 0, 0, "0s",
     "its standard deviation"},
    {"latency-calculator", F_CALC, OFF(calc), 0, 0, "\"\"", "\"\" (legacy), constant or per-token"},
    {"time-factor-under-load", F_FLOAT, OFF(time_factor_under_load), 0, 0, "1",
     "latency multiplier when all max-num-seqs slots are busy (>= 1)"},
    {"max-request-body-size-mb", F_INT, OFF(max_request_body_size_mb), 1, 512, "4",
     "largest accepted request body; larger gets 413"},
    {"data-parallel-size", F_INT, OFF(data_parallel_size), 1, 8, "1",
     "data-parallel ranks served by this process, rank i on port+i, each with its own "
     "scheduler, metrics and adapters"},
    {"data-parallel-rank", F_INT, OFF(data_parallel_rank), -1, 7, "-1",
     "serve only this rank, on --port itself (--data-parallel-size is then ignored)"},
    {"lora-modules", F_LORAS, OFF(lora_modules), 0, 0, "[]",
     "LoRA adapters (a list), each a JSON string {\"name\",\"path\",\"base_model_name\"} "
     "or name=path"},
    {"max-loras", F_INT, OFF(max_loras), 1, INT_MAX, "1", "LoRA adapters that can run at once"},
    {"max-cpu-loras", F_INT, OFF(max_cpu_loras), 1, INT_MAX, "max-loras",
     "accepted as upstream (must be >= --max-loras); otherwise unused"},
    {"v", F_INT, OFF(v), 0, 10, "2", "log verbosity: 1 warn, 2 info, 4 debug"},
    {"failure-injection-rate", F_INT, OFF(failure_rate), 0, 100, "0",
     "percent of generation requests answered with an injected error"},
    {"failure-types", F_FAILURES, OFF(failure_types), 0, 0, "all",
     "injected errors (a list): rate_limit, invalid_api_key, context_length, server_error, "
     "invalid_request, model_not_found"},
    {"enable-request-id-headers", F_BOOL, OFF(request_id_headers), 0, 0, "false",
     "use the client's X-Request-Id as the request id, and echo the id in X-Request-Id"},
    {"startup-duration", F_DUR, OFF(startup_duration), 0, 0, "0s",
     "/health/ready answers 503 until the server has run this long"},
    {"enable-sleep-mode", F_BOOL, OFF(sleep_mode), 0, 0, "false",
     "let /sleep act (also needs env VLLM_SERVER_DEV_MODE=1, as upstream)"},
    {"ssl-certfile", F_STR, OFF(ssl_certfile), 0, 0, "",
     "serve HTTPS with this PEM certificate (with --ssl-keyfile)"},
    {"ssl-keyfile", F_STR, OFF(ssl_keyfile), 0, 0, "", "its PEM private key"},
    {"self-signed-certs", F_BOOL, OFF(self_signed_certs), 0, 0, "false",
     "serve HTTPS with a self-signed certificate for localhost/127.0.0.1 made at start"},
    {"max-tool-call-integer-param", F_INT, OFF(max_tool_int), -TOOL_INT_LIMIT, TOOL_INT_LIMIT,
     "100", "largest integer in generated tool-call arguments (unless the schema sets maximum)"},
    {"min-tool-call-integer-param", F_INT, OFF(min_tool_int), -TOOL_INT_LIMIT, TOOL_INT_LIMIT, "0",
     "smallest integer in generated tool-call arguments (unless the schema sets minimum)"},
    {"max-tool-call-number-param", F_FLOAT, OFF(max_tool_num), 0, 0, "100",
     "largest number in generated tool-call arguments (unless the schema sets maximum)"},
    {"min-tool-call-number-param", F_FLOAT, OFF(min_tool_num), 0, 0, "0",
     "smallest number in generated tool-call arguments (unless the schema sets minimum)"},
    {"max-tool-call-array-param-length", F_INT, OFF(max_tool_arr), 0, 1024, "5",
     "longest generated array argument (unless the schema sets maxItems)"},
    {"min-tool-call-array-param-length", F_INT, OFF(min_tool_arr), 0, 1024, "1",
     "shortest generated array argument (unless the schema sets minItems)"},
    {"tool-call-not-required-param-probability", F_INT, OFF(tool_not_required_pct), 0, 100, "50",
     "percent chance that an optional tool-call parameter is generated"},
    {"object-tool-call-not-required-field-probability", F_INT, OFF(object_not_required_pct), 0, 100,
     "50", "percent chance that an optional field of a nested object argument is generated"},
    {"tool-call-extra-call-probability", F_INT, OFF(tool_extra_call_pct), 0, 100, "45",
     "percent chance of one more tool call, rolled again until it fails or every tool is called"},
    {"skip-tool-validation", F_BOOL, OFF(skip_tool_validation), 0, 0, "false",
     "accept any JSON schema in tools (no keyword whitelist check)"},
    {"dataset-path", F_STR, OFF(dataset_path), 0, 0, "",
     "SQLite response dataset (table --dataset-table-name): a prompt whose token hash is in it "
     "gets a recorded response, any other a random record (random mode only)"},
    {"dataset-url", F_STR, OFF(dataset_url), 0, 0, "",
     "where upstream downloads --dataset-path from when the file is missing; pdsim does not "
     "download, so a missing file is an error naming this flag"},
    {"dataset-in-memory", F_BOOL, OFF(dataset_in_memory), 0, 0, "false",
     "copy the dataset into memory at start (and index it) for faster lookups"},
    {"dataset-table-name", F_STR, OFF(dataset_table), 0, 0, "llmd",
     "the dataset's table: id INTEGER, prompt_hash BLOB, gen_tokens JSON, n_gen_tokens INTEGER"},
    {"default-embedding-dimensions", F_INT, OFF(embed_dims), 1, 65536, "384",
     "length of /v1/embeddings vectors when the request gives no dimensions"},
    {"fake-metrics", F_FAKE, OFF(fake_metrics), 0, 0, "",
     "report these metrics instead of the real ones: a JSON object (a mapping in --config), e.g. "
     "{\"running-requests\":\"oscillate:0:10:5s\",\"kv-cache-usage\":0.4} (docs/simulator.md)"},
    {"fake-metrics-refresh-interval", F_DUR, OFF(fake_refresh), 0, 0, "100ms",
     "how often function-driven fake metrics change (> 0)"},
    {"enable-kvcache", F_BOOL, OFF(enable_kvcache), 0, 0, "false",
     "simulate the prefix (KV) cache and publish its events over ZMQ (needs env POD_IP)"},
    {"kv-cache-size", F_INT, OFF(kv_cache_size), 0, INT_MAX, "1024",
     "KV cache capacity in blocks; a request whose blocks do not fit gets 500"},
    {"block-size", F_INT, OFF(block_size), 1, 128, "16",
     "tokens per KV block: 8, 16, 32, 64 or 128"},
    {"hash-seed", F_STR, OFF(hash_seed), 0, 0, "\"\"",
     "seed of the block keys, as vLLM's PYTHONHASHSEED (env PYTHONHASHSEED when not given)"},
    {"zmq-endpoint", F_STR, OFF(zmq_endpoint), 0, 0, "tcp://127.0.0.1:5557",
     "where KV events are published (ZMQ PUB; connects, or binds a wildcard, ipc:// or "
     "inproc:// address; rank i uses port + i); \"\" publishes nothing"},
    {"event-batch-size", F_INT, OFF(event_batch_size), 1, INT_MAX, "16",
     "KV events per ZMQ message; a partial batch goes out at the next one-second tick"},
    {"use-vllm-map-event-format", F_BOOL, OFF(map_event_format), 0, 0, "false",
     "encode KV events as msgpack maps with named fields instead of arrays"},
    {"kv-events-replay-endpoint", F_STR, OFF(replay_endpoint), 0, 0, "\"\"",
     "ZMQ ROUTER address to bind for replaying past KV-event batches (rank i: port + i)"},
    {"kv-events-replay-queue-size", F_INT, OFF(replay_queue_size), 0, 1 << 20, "1024",
     "KV-event batches kept for replay (>= 1 with a replay endpoint)"},
    {"global-cache-hit-threshold", F_FLOAT, OFF(global_cache_hit_threshold), 0, 0, "0",
     "0..1: a request whose prefix-cache hit rate is below it ends at once with finish_reason "
     "cache_threshold (a request's cache_hit_threshold wins; 0: off)"},
    {"no-enable-sleep-mode", F_NOBOOL, OFF(sleep_mode), 0, 0, "",
     "the opposite of --enable-sleep-mode"},
    {"http-threads", F_INT, OFF(http_threads), 16, 65536, "2048",
     "HTTP worker threads = concurrent connections (pdsim extension)"},
    {"stream-threads", F_INT, OFF(stream_threads), 1, 256, "1",
     "threads that time and send the tokens of every plain-HTTP request, each about 50k "
     "tokens/s on one core; TLS connections send from their own worker (pdsim extension)"},
    {"http-request-timeout", F_DUR, OFF(http_request_timeout), 0, 0, "60s",
     "a client must send a request's headers within this time, and each read or write of the "
     "connection must progress within it; a stalled client is then dropped (pdsim extension)"},
    {"shutdown-timeout", F_DUR, OFF(shutdown_timeout), 0, 0, "30s",
     "on SIGTERM, how long in-flight requests may finish (pdsim extension)"},
    /* Accepted and ignored, as upstream ignores them or they need nothing here. */
    {"render-url", F_IGNORED, 0, 0, 0, "", "ignored: pdsim always uses its built-in tokenizer"},
    {"force-dummy-tokenizer", F_IGNORED, 0, 0, 0, "", "ignored: always on"},
    {"tensor-parallel-size", F_IGNORED, 0, 0, 0, "", "ignored, as upstream"},
    {"enforce-eager", F_IGNORED, 0, 0, 0, "", "ignored, as upstream"},
    {"enable-prefix-caching", F_IGNORED, 0, 0, 0, "", "ignored, as upstream"},
};

const size_t sim_nflags = sizeof(sim_flags) / sizeof(sim_flags[0]);

/* Upstream flags that pdsim-simulator does not implement yet: named in the error. */
static const char *const unsupported[] = {"render-timeout",
                                          "mm-render-timeout",
                                          "log-http",
                                          "omni",
                                          "no-omni",
                                          "image-emission-rate",
                                          "time-to-generate-image",
                                          "time-to-generate-image-std-dev",
                                          "mm-encoder-only",
                                          "no-mm-encoder-only",
                                          "mm-processor-kwargs",
                                          "ec-transfer-config",
                                          NULL};

const struct flagdef *sim_flag_find(const char *name)
{
    for (size_t i = 0; i < sim_nflags; i++)
        if (strcmp(sim_flags[i].name, name) == 0)
            return &sim_flags[i];
    return NULL;
}

bool sim_flag_unsupported(const char *name)
{
    for (size_t i = 0; unsupported[i]; i++)
        if (strcmp(unsupported[i], name) == 0)
            return true;
    return false;
}

static int parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return -EINVAL;
    *out = v;
    return 0;
}

int sim_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
    static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
    for (size_t i = 0; i < 6; i++) {
        if (strcmp(s, yes[i]) == 0 || strcmp(s, no[i]) == 0) {
            *out = strcmp(s, yes[i]) == 0;
            return 0;
        }
    }
    return -1;
}

int sim_flag_apply_fake(struct sim_config *c, const cJSON *obj, const char *where, char *err,
                        size_t errlen)
{
    char why[400];
    struct sim_fake *f;
    if (sim_fake_parse(obj, (double)time(NULL), &f, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s: %s", where, why);
        return -EINVAL;
    }
    sim_fake_free(c->fake_metrics);
    c->fake_metrics = f;
    return 0;
}

/* --fake-metrics as JSON text. */
static int apply_fake(struct sim_config *c, const char *val, const char *where, char *err,
                      size_t errlen)
{
    char jerr[160];
    cJSON *obj = json_parse(val, strlen(val), jerr, sizeof(jerr));
    if (!obj) {
        snprintf(err, errlen, "%s: not JSON: %s", where, jerr);
        return -EINVAL;
    }
    int rc = sim_flag_apply_fake(c, obj, where, err, errlen);
    cJSON_Delete(obj);
    return rc;
}

/* Apply one value; where says where it came from ("flag --port"). */
int sim_flag_apply_scalar(struct sim_config *c, const struct flagdef *f, const char *val,
                          const char *where, char *err, size_t errlen)
{
    char *field = (char *)c + f->off;
    char derr[160];
    switch (f->type) {
    case F_INT: {
        long v;
        if (parse_long(val, &v) < 0) {
            snprintf(err, errlen, "%s: \"%s\" is not an integer", where, val);
            return -EINVAL;
        }
        if (v < f->min || v > f->max) {
            snprintf(err, errlen, "%s: %ld is out of range [%ld, %ld]", where, v, f->min, f->max);
            return -EINVAL;
        }
        *(long *)field = v;
        return 0;
    }
    case F_SEED: {
        char *end;
        errno = 0;
        long long v = strtoll(val, &end, 10);
        if (errno || end == val || *end) {
            snprintf(err, errlen, "%s: \"%s\" is not an integer", where, val);
            return -EINVAL;
        }
        *(int64_t *)field = v;
        return 0;
    }
    case F_STR:
    case F_CONFIG:
        free(*(char **)field);
        *(char **)field = xstrdup(val);
        return 0;
    case F_DUR: {
        int64_t ns;
        if (duration_parse(val, &ns, derr, sizeof(derr)) < 0) {
            snprintf(err, errlen, "%s: %s", where, derr);
            return -EINVAL;
        }
        if (ns < 0) {
            snprintf(err, errlen, "%s: must not be negative", where);
            return -EINVAL;
        }
        *(int64_t *)field = ns;
        return 0;
    }
    case F_FLOAT: {
        char *end;
        errno = 0;
        double v = strtod(val, &end);
        if (errno || end == val || *end || !isfinite(v)) {
            snprintf(err, errlen, "%s: \"%s\" is not a number", where, val);
            return -EINVAL;
        }
        *(double *)field = v;
        return 0;
    }
    case F_MODE:
        if (strcmp(val, "random") == 0)
            c->mode = SIM_MODE_RANDOM;
        else if (strcmp(val, "echo") == 0)
            c->mode = SIM_MODE_ECHO;
        else {
            snprintf(err, errlen, "%s: \"%s\" is not a mode (random or echo)", where, val);
            return -EINVAL;
        }
        return 0;
    case F_CALC:
        if (strcmp(val, "") == 0)
            c->calc = SIM_CALC_LEGACY;
        else if (strcmp(val, "constant") == 0)
            c->calc = SIM_CALC_CONSTANT;
        else if (strcmp(val, "per-token") == 0)
            c->calc = SIM_CALC_PER_TOKEN;
        else {
            snprintf(err, errlen,
                     "%s: \"%s\" is not a latency calculator (\"\", constant or "
                     "per-token)",
                     where, val);
            return -EINVAL;
        }
        return 0;
    case F_BOOL: {
        bool b;
        if (sim_parse_bool(val, &b) < 0) {
            snprintf(err, errlen, "%s: \"%s\" is not true or false", where, val);
            return -EINVAL;
        }
        *(long *)field = b;
        return 0;
    }
    case F_NOBOOL: { /* --no-X=V sets X to !V */
        struct flagdef as_bool = *f;
        as_bool.type = F_BOOL;
        if (sim_flag_apply_scalar(c, &as_bool, val, where, err, errlen) < 0)
            return -EINVAL;
        *(long *)field = !*(long *)field;
        return 0;
    }
    case F_FAKE:
        return apply_fake(c, val, where, err, errlen);
    case F_LIST:
    case F_LORAS:
    case F_FAILURES:
    case F_IGNORED:
        return 0;
    }
    return 0;
}

/* Failure type names (each value may also be comma-separated) as a mask. */
int sim_flag_parse_failures(char **vals, size_t n, unsigned *mask, const char *where, char *err,
                            size_t errlen)
{
    unsigned m = 0;
    for (size_t i = 0; i < n; i++) {
        char *copy = xstrdup(vals[i]), *save = NULL;
        for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
            int k = 0;
            while (k < SIM_FAIL_N && strcmp(sim_failure_names[k], t) != 0)
                k++;
            if (k == SIM_FAIL_N) {
                snprintf(err, errlen,
                         "%s: \"%s\" is not a failure type (rate_limit, invalid_api_key, "
                         "context_length, server_error, invalid_request, model_not_found)",
                         where, t);
                free(copy);
                return -EINVAL;
            }
            m |= 1u << k;
        }
        free(copy);
    }
    if (!m) {
        snprintf(err, errlen, "%s: no failure type given", where);
        return -EINVAL;
    }
    *mask = m;
    return 0;
}

int sim_flag_check_sd(const char *name, int64_t mean, int64_t sd, char *err, size_t errlen)
{
    if ((double)sd > 0.3 * (double)mean) {
        snprintf(err, errlen, "--%s-std-dev must be at most 0.3x --%s", name, name);
        return -EINVAL;
    }
    return 0;
}

void sim_config_help(FILE *out)
{
    fprintf(out, "Usage: pdsim-simulator --model NAME [flags]\n\n"
                 "A vLLM-compatible OpenAI server that simulates prefill/decode timing.\n"
                 "Flags take --flag value or --flag=value. Durations take units (200ms, 1.5s,\n"
                 "750us); a bare number means milliseconds. Precedence: flags > env "
                 "(SIM_MODEL) > --config YAML > defaults.\n\nFlags:\n");
    for (size_t i = 0; i < sim_nflags; i++) {
        const struct flagdef *f = &sim_flags[i];
        fprintf(out, "  --%-34s %s", f->name, f->help);
        if (f->def[0])
            fprintf(out, " (default %s)", f->def);
        fputc('\n', out);
    }
    fprintf(out, "\nNot supported yet (rejected by name):");
    for (size_t i = 0; unsupported[i]; i++)
        fprintf(out, "%s--%s", i % 4 ? " " : "\n  ", unsupported[i]);
    fputc('\n', out);
}
