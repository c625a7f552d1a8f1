#include "simulator/sim_config.h"

#include <cjson/cJSON.h>

#include "common/duration.h"
#include "common/xalloc.h"
#include "common/ycfg.h"
#include "simulator/sim_lora.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum ftype {
    F_INT,
    F_STR,
    F_LIST,
    F_DUR,
    F_FLOAT,
    F_MODE,
    F_CALC,
    F_SEED,
    F_IGNORED,
    F_CONFIG,
    F_BOOL,     /* --flag alone is true; --flag=false works (unlike upstream) */
    F_FAILURES, /* a list of failure type names */
    F_NOBOOL,   /* --no-X: sets the bool X to false */
    F_LORAS,    /* a list of LoRA module specs */
};

const char *const sim_failure_names[SIM_FAIL_N] = {"rate_limit",      "invalid_api_key",
                                                   "context_length",  "server_error",
                                                   "invalid_request", "model_not_found"};

struct flagdef {
    const char *name;
    enum ftype type;
    size_t off;
    long min, max;   /* F_INT range */
    const char *def; /* default as shown in --help */
    const char *help;
};

#define OFF(f)         offsetof(struct sim_config, f)
#define TOOL_INT_LIMIT (1L << 53) /* integers JSON readers keep exactly */

static const struct flagdef flags[] = {
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
    {"no-enable-sleep-mode", F_NOBOOL, OFF(sleep_mode), 0, 0, "",
     "the opposite of --enable-sleep-mode"},
    {"http-threads", F_INT, OFF(http_threads), 16, 65536, "2048",
     "HTTP worker threads = concurrent connections (pdsim extension)"},
    {"shutdown-timeout", F_DUR, OFF(shutdown_timeout), 0, 0, "30s",
     "on SIGTERM, how long in-flight requests may finish (pdsim extension)"},
    /* Accepted and ignored, as upstream ignores them or they need nothing here. */
    {"render-url", F_IGNORED, 0, 0, 0, "", "ignored: pdsim always uses its built-in tokenizer"},
    {"force-dummy-tokenizer", F_IGNORED, 0, 0, 0, "", "ignored: always on"},
    {"tensor-parallel-size", F_IGNORED, 0, 0, 0, "", "ignored, as upstream"},
    {"enforce-eager", F_IGNORED, 0, 0, 0, "", "ignored, as upstream"},
    {"enable-prefix-caching", F_IGNORED, 0, 0, 0, "", "ignored, as upstream"},
};

#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

/* Upstream flags that pdsim-simulator does not implement yet: named in the error. */
static const char *const unsupported[] = {"enable-kvcache",
                                          "kv-cache-size",
                                          "block-size",
                                          "hash-seed",
                                          "zmq-endpoint",
                                          "event-batch-size",
                                          "use-vllm-map-event-format",
                                          "kv-events-replay-endpoint",
                                          "kv-events-replay-queue-size",
                                          "global-cache-hit-threshold",
                                          "dataset-path",
                                          "dataset-url",
                                          "dataset-in-memory",
                                          "dataset-table-name",
                                          "render-timeout",
                                          "mm-render-timeout",
                                          "default-embedding-dimensions",
                                          "fake-metrics",
                                          "fake-metrics-refresh-interval",
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

static const struct flagdef *find_flag(const char *name)
{
    for (size_t i = 0; i < NFLAGS; i++)
        if (strcmp(flags[i].name, name) == 0)
            return &flags[i];
    return NULL;
}

static bool is_unsupported(const char *name)
{
    for (size_t i = 0; unsupported[i]; i++)
        if (strcmp(unsupported[i], name) == 0)
            return true;
    return false;
}

static void set_defaults(struct sim_config *c)
{
    memset(c, 0, sizeof(*c));
    c->host = xstrdup("0.0.0.0");
    c->port = 8000;
    c->mode = SIM_MODE_RANDOM;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    c->seed = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    c->max_num_seqs = 5;
    c->max_waiting_queue_length = 1000;
    c->max_model_len = 1024;
    c->calc = SIM_CALC_LEGACY;
    c->time_factor_under_load = 1.0;
    c->max_request_body_size_mb = 4;
    c->data_parallel_size = 1;
    c->data_parallel_rank = -1;
    c->max_loras = 1;
    c->max_cpu_loras = -1; /* = max-loras */
    c->v = 2;
    c->failure_types = (1u << SIM_FAIL_N) - 1;
    c->http_threads = 2048;
    c->max_tool_int = 100;
    c->max_tool_num = 100;
    c->max_tool_arr = 5;
    c->min_tool_arr = 1;
    c->tool_not_required_pct = 50;
    c->object_not_required_pct = 50;
    c->tool_extra_call_pct = 45;
    c->shutdown_timeout = 30000000000LL;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void sim_config_release(struct sim_config *c)
{
    if (!c)
        return;
    free(c->host);
    free(c->model);
    free_list(c->served, c->nserved);
    free_list(c->lora_modules, c->nlora_modules);
    free(c->config_path);
    free(c->ssl_certfile);
    free(c->ssl_keyfile);
    memset(c, 0, sizeof(*c));
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

/* Apply one value; where says where it came from ("flag --port"). */
static int apply_scalar(struct sim_config *c, const struct flagdef *f, const char *val,
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
        if (apply_scalar(c, &as_bool, val, where, err, errlen) < 0)
            return -EINVAL;
        *(long *)field = !*(long *)field;
        return 0;
    }
    case F_LIST:
    case F_LORAS:
    case F_FAILURES:
    case F_IGNORED:
        return 0;
    }
    return 0;
}

/* Failure type names (each value may also be comma-separated) as a mask. */
static int parse_failures(char **vals, size_t n, unsigned *mask, const char *where, char *err,
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

static int apply(struct sim_config *c, const struct flagdef *f, char **vals, size_t n, bool is_list,
                 const char *where, char *err, size_t errlen, char *warn, size_t warnlen)
{
    if (f->type == F_LIST) {
        free_list(c->served, c->nserved);
        c->served = xcalloc(n ? n : 1, sizeof(char *));
        c->nserved = 0;
        for (size_t i = 0; i < n; i++) {
            if (!vals[i][0]) {
                snprintf(err, errlen, "%s: empty model name", where);
                return -EINVAL;
            }
            c->served[c->nserved++] = xstrdup(vals[i]);
        }
        return 0;
    }
    if (f->type == F_LORAS) { /* checked in validate, once --model is known */
        free_list(c->lora_modules, c->nlora_modules);
        c->lora_modules = xcalloc(n ? n : 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
            c->lora_modules[i] = xstrdup(vals[i]);
        c->nlora_modules = n;
        return 0;
    }
    if (f->type == F_FAILURES)
        return parse_failures(vals, n, (unsigned *)((char *)c + f->off), where, err, errlen);
    if (f->type == F_IGNORED) {
        if (warn && warnlen && !warn[0])
            snprintf(warn, warnlen, "%s is accepted and ignored: %s", where, f->help + 9);
        return 0;
    }
    if (is_list || n != 1) {
        snprintf(err, errlen, "%s: expected one value, got %zu", where, n);
        return -EINVAL;
    }
    return apply_scalar(c, f, vals[0], where, err, errlen);
}

/* One CLI flag occurrence: its name and values (borrowed from argv). */
struct cli_flag {
    const struct flagdef *def;
    char *name;
    char **vals;
    size_t n;
    bool is_list;
};

static int cli_error_name(const char *name, char *err, size_t errlen)
{
    if (is_unsupported(name))
        snprintf(err, errlen, "flag --%s: not supported by this version of pdsim-simulator", name);
    else
        snprintf(err, errlen, "unknown flag --%s (see --help)", name);
    return -EINVAL;
}

static bool is_bool_word(const char *s)
{
    static const char *const w[] = {"true", "false", "True", "False", "TRUE", "FALSE", NULL};
    for (size_t i = 0; w[i]; i++)
        if (strcmp(s, w[i]) == 0)
            return true;
    return false;
}

/* Split argv into flag occurrences. Lists take every following argument up
 * to the next one that starts with "--", as upstream scans them. */
static int scan_argv(int argc, char **argv, struct cli_flag **out, size_t *nout, bool *help,
                     char *err, size_t errlen)
{
    struct cli_flag *v = xcalloc((size_t)argc + 1, sizeof(*v));
    size_t n = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            snprintf(err, errlen, "unexpected argument \"%s\": flags start with --", a);
            rc = -EINVAL;
            break;
        }
        const char *eq = strchr(a, '=');
        struct cli_flag *cf = &v[n];
        cf->name = eq ? xstrndup(a + 2, (size_t)(eq - a - 2)) : xstrdup(a + 2);
        n++;
        cf->def = find_flag(cf->name);
        if (!cf->def) {
            rc = cli_error_name(cf->name, err, errlen);
            break;
        }
        char **first = &argv[i + 1];
        if (eq) {
            cf->vals = xmalloc(sizeof(char *));
            cf->vals[0] = (char *)eq + 1;
            cf->n = 1;
            cf->is_list = false;
            continue;
        }
        if (cf->def->type == F_BOOL || cf->def->type == F_NOBOOL) {
            /* alone it means true; a following true/false (pflag style
             * "--flag true" in manifests) is taken as its value */
            static char *truth = "true";
            cf->vals = xmalloc(sizeof(char *));
            cf->vals[0] = truth;
            cf->n = 1;
            if (i + 1 < argc && is_bool_word(argv[i + 1]))
                cf->vals[0] = argv[++i];
            continue;
        }
        if (cf->def->type == F_LIST || cf->def->type == F_FAILURES || cf->def->type == F_LORAS) {
            cf->is_list = true;
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                i++;
                cf->n++;
            }
        } else if (i + 1 < argc) {
            cf->n = 1;
            i++;
        } else {
            snprintf(err, errlen, "flag --%s needs a value", cf->name);
            rc = -EINVAL;
            break;
        }
        /* vals points into argv; copy the pointers so freeing is uniform. */
        char **copy = xcalloc(cf->n ? cf->n : 1, sizeof(char *));
        for (size_t k = 0; k < cf->n; k++)
            copy[k] = first[k];
        cf->vals = copy;
    }
    *out = v;
    *nout = n;
    return rc;
}

static void free_cli(struct cli_flag *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].vals);
    }
    free(v);
}

static int apply_yaml(struct sim_config *c, const char *path, char *err, size_t errlen, char *warn,
                      size_t warnlen)
{
    struct ycfg y;
    char yerr[256];
    int rc = ycfg_load_file(path, &y, yerr, sizeof(yerr));
    if (rc < 0) {
        snprintf(err, errlen, "--config %s: %s", path, yerr);
        return rc;
    }
    for (size_t i = 0; i < y.n && rc == 0; i++) {
        const struct ycfg_entry *e = &y.v[i];
        char where[256];
        snprintf(where, sizeof(where), "--config %s line %d: key \"%s\"", path, e->line, e->key);
        const struct flagdef *f = find_flag(e->key);
        if (!f || f->type == F_CONFIG) {
            snprintf(err, errlen, "%s: %s", where,
                     is_unsupported(e->key) ? "not supported by this version of pdsim-simulator"
                                            : "unknown key");
            rc = -EINVAL;
            break;
        }
        rc = apply(c, f, e->items, e->nitems, e->is_list, where, err, errlen, warn, warnlen);
    }
    ycfg_release(&y);
    return rc;
}

static int check_sd(const char *name, int64_t mean, int64_t sd, char *err, size_t errlen)
{
    if ((double)sd > 0.3 * (double)mean) {
        snprintf(err, errlen, "--%s-std-dev must be at most 0.3x --%s", name, name);
        return -EINVAL;
    }
    return 0;
}

/* Every --lora-modules value parses, and no adapter takes a served name. */
static int validate_loras(const struct sim_config *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->nlora_modules; i++) {
        struct sim_lora_module m;
        char why[256];
        if (sim_lora_parse_module(c->lora_modules[i], c->model, &m, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "--lora-modules value %zu (\"%.80s\"): %s", i + 1,
                     c->lora_modules[i], why);
            return -EINVAL;
        }
        bool clash = sim_config_serves(c, m.name);
        if (clash)
            snprintf(err, errlen,
                     "--lora-modules value %zu: adapter \"%.80s\" has a served model name", i + 1,
                     m.name);
        sim_lora_module_release(&m);
        if (clash)
            return -EINVAL;
    }
    return 0;
}

static int check_tool_ranges(const struct sim_config *c, char *err, size_t errlen)
{
    const char *what = c->min_tool_int > c->max_tool_int       ? "integer-param"
                       : !(c->min_tool_num <= c->max_tool_num) ? "number-param"
                       : c->min_tool_arr > c->max_tool_arr     ? "array-param-length"
                                                               : NULL;
    if (!what)
        return 0;
    snprintf(err, errlen, "--min-tool-call-%s must be at most --max-tool-call-%s", what, what);
    return -EINVAL;
}

static int validate(struct sim_config *c, char *err, size_t errlen)
{
    if (!c->model || !c->model[0]) {
        snprintf(err, errlen, "flag --model is required (or env SIM_MODEL)");
        return -EINVAL;
    }
    if (c->time_factor_under_load < 1.0) {
        snprintf(err, errlen, "--time-factor-under-load must be >= 1.0");
        return -EINVAL;
    }
    if (check_sd("time-to-first-token", c->ttft, c->ttft_sd, err, errlen) < 0 ||
        check_sd("inter-token-latency", c->itl, c->itl_sd, err, errlen) < 0 ||
        check_sd("kv-cache-transfer-latency", c->kv_latency, c->kv_latency_sd, err, errlen) < 0)
        return -EINVAL;
    if (check_tool_ranges(c, err, errlen) < 0)
        return -EINVAL;
    bool crt = c->ssl_certfile && *c->ssl_certfile, key = c->ssl_keyfile && *c->ssl_keyfile;
    if (crt != key) {
        snprintf(err, errlen, "--ssl-certfile and --ssl-keyfile go together");
        return -EINVAL;
    }
    if (crt && c->self_signed_certs) {
        snprintf(err, errlen,
                 "--self-signed-certs or --ssl-certfile/--ssl-keyfile: choose one way to HTTPS");
        return -EINVAL;
    }
    if (c->nserved == 0) {
        free(c->served);
        c->served = xmalloc(sizeof(char *));
        c->served[0] = xstrdup(c->model);
        c->nserved = 1;
    }
    if (c->max_cpu_loras < 0)
        c->max_cpu_loras = c->max_loras;
    if (c->max_cpu_loras < c->max_loras) {
        snprintf(err, errlen, "--max-cpu-loras (%ld) must be >= --max-loras (%ld)",
                 c->max_cpu_loras, c->max_loras);
        return -EINVAL;
    }
    return validate_loras(c, err, errlen);
}

enum sim_config_result sim_config_load(struct sim_config *c, int argc, char **argv, char *err,
                                       size_t errlen, char *warn, size_t warnlen)
{
    struct cli_flag *cli = NULL;
    size_t ncli = 0;
    bool help = false;
    int rc;
    if (warn && warnlen)
        warn[0] = '\0';
    set_defaults(c);
    rc = scan_argv(argc, argv, &cli, &ncli, &help, err, errlen);
    if (rc < 0)
        goto out;
    if (help) {
        free_cli(cli, ncli);
        return SIM_CONFIG_HELP;
    }
    for (size_t i = 0; i < ncli && rc == 0; i++)
        if (cli[i].def->type == F_CONFIG)
            rc = apply(c, cli[i].def, cli[i].vals, cli[i].n, false, "flag --config", err, errlen,
                       warn, warnlen);
    if (rc == 0 && c->config_path)
        rc = apply_yaml(c, c->config_path, err, errlen, warn, warnlen);
    const char *env = getenv("SIM_MODEL");
    if (rc == 0 && env && *env) {
        free(c->model);
        c->model = xstrdup(env);
    }
    for (size_t i = 0; i < ncli && rc == 0; i++) {
        char where[160];
        snprintf(where, sizeof(where), "flag --%s", cli[i].name);
        if (cli[i].def->type != F_CONFIG)
            rc = apply(c, cli[i].def, cli[i].vals, cli[i].n, cli[i].is_list, where, err, errlen,
                       warn, warnlen);
    }
    if (rc == 0)
        rc = validate(c, err, errlen);
out:
    free_cli(cli, ncli);
    return rc < 0 ? SIM_CONFIG_ERROR : SIM_CONFIG_OK;
}

void sim_config_help(FILE *out)
{
    fprintf(out, "Usage: pdsim-simulator --model NAME [flags]\n\n"
                 "A vLLM-compatible OpenAI server that simulates prefill/decode timing.\n"
                 "Flags take --flag value or --flag=value. Durations take units (200ms, 1.5s,\n"
                 "750us); a bare number means milliseconds. Precedence: flags > env "
                 "(SIM_MODEL) > --config YAML > defaults.\n\nFlags:\n");
    for (size_t i = 0; i < NFLAGS; i++) {
        const struct flagdef *f = &flags[i];
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

static const char *const runtime_keys[] = {"time-to-first-token",
                                           "time-to-first-token-std-dev",
                                           "inter-token-latency",
                                           "inter-token-latency-std-dev",
                                           "prefill-overhead",
                                           "prefill-time-per-token",
                                           "prefill-time-std-dev",
                                           "kv-cache-transfer-latency",
                                           "kv-cache-transfer-latency-std-dev",
                                           "kv-cache-transfer-time-per-token",
                                           "kv-cache-transfer-time-std-dev",
                                           "latency-calculator",
                                           "time-factor-under-load",
                                           "failure-injection-rate",
                                           "failure-types",
                                           NULL};

static bool runtime_key(const char *k)
{
    for (size_t i = 0; runtime_keys[i]; i++)
        if (strcmp(runtime_keys[i], k) == 0)
            return true;
    return false;
}

int sim_config_update_runtime(struct sim_config *c, const cJSON *patch, char *err, size_t errlen)
{
    if (!cJSON_IsObject(patch)) {
        snprintf(err, errlen, "the body must be a JSON object of settings");
        return -1;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, patch)
    {
        char where[160], num[64];
        snprintf(where, sizeof(where), "key \"%s\"", it->string);
        const struct flagdef *f = find_flag(it->string);
        if (!f || !runtime_key(it->string)) {
            snprintf(err, errlen, "%s: not a setting that can change at run time", where);
            return -1;
        }
        int rc;
        if (f->type == F_FAILURES) {
            char *vals[SIM_FAIL_N * 4];
            size_t n = 0;
            const cJSON *v;
            if (cJSON_IsString(it)) {
                vals[n++] = it->valuestring;
            } else if (cJSON_IsArray(it)) {
                cJSON_ArrayForEach(v, it)
                {
                    if (!cJSON_IsString(v) || n == sizeof(vals) / sizeof(vals[0])) {
                        snprintf(err, errlen, "%s: a list of failure type names", where);
                        return -1;
                    }
                    vals[n++] = v->valuestring;
                }
            } else {
                snprintf(err, errlen, "%s: a list of failure type names", where);
                return -1;
            }
            rc = parse_failures(vals, n, &c->failure_types, where, err, errlen);
        } else if (cJSON_IsString(it)) {
            rc = apply_scalar(c, f, it->valuestring, where, err, errlen);
        } else if (cJSON_IsNumber(it)) {
            if (f->type == F_DUR) /* an integer number of nanoseconds, as upstream */
                snprintf(num, sizeof(num), "%.0fns", it->valuedouble);
            else if (f->type == F_FLOAT)
                snprintf(num, sizeof(num), "%.17g", it->valuedouble);
            else
                snprintf(num, sizeof(num), "%.0f", it->valuedouble);
            if (f->type != F_FLOAT && (fabs(it->valuedouble) > 9e18 ||
                                       it->valuedouble != (double)(long long)it->valuedouble)) {
                snprintf(err, errlen, "%s: %g is not an integer", where, it->valuedouble);
                return -1;
            }
            rc = apply_scalar(c, f, num, where, err, errlen);
        } else {
            snprintf(err, errlen, "%s: must be a string or a number", where);
            return -1;
        }
        if (rc < 0)
            return -1;
    }
    if (c->time_factor_under_load < 1.0) {
        snprintf(err, errlen, "time-factor-under-load must be >= 1.0");
        return -1;
    }
    if (check_sd("time-to-first-token", c->ttft, c->ttft_sd, err, errlen) < 0 ||
        check_sd("inter-token-latency", c->itl, c->itl_sd, err, errlen) < 0 ||
        check_sd("kv-cache-transfer-latency", c->kv_latency, c->kv_latency_sd, err, errlen) < 0)
        return -1;
    return 0;
}

cJSON *sim_config_json(const struct sim_config *c)
{
    cJSON *o = cJSON_CreateObject();
    char d[64];
    for (size_t i = 0; i < NFLAGS; i++) {
        const struct flagdef *f = &flags[i];
        const char *field = (const char *)c + f->off;
        switch (f->type) {
        case F_INT:
        case F_BOOL:
            if (f->type == F_BOOL)
                cJSON_AddBoolToObject(o, f->name, *(const long *)field != 0);
            else
                cJSON_AddNumberToObject(o, f->name, (double)*(const long *)field);
            break;
        case F_SEED: { /* exact: a double would round a nanosecond-clock seed */
            char n[32];
            snprintf(n, sizeof(n), "%lld", (long long)*(const int64_t *)field);
            cJSON_AddRawToObject(o, f->name, n);
            break;
        }
        case F_STR:
            cJSON_AddStringToObject(o, f->name, *(char *const *)field ? *(char *const *)field : "");
            break;
        case F_DUR:
            duration_format(*(const int64_t *)field, d, sizeof(d));
            cJSON_AddStringToObject(o, f->name, d);
            break;
        case F_FLOAT:
            cJSON_AddNumberToObject(o, f->name, *(const double *)field);
            break;
        case F_MODE:
            cJSON_AddStringToObject(o, f->name, c->mode == SIM_MODE_ECHO ? "echo" : "random");
            break;
        case F_CALC:
            cJSON_AddStringToObject(o, f->name,
                                    c->calc == SIM_CALC_CONSTANT    ? "constant"
                                    : c->calc == SIM_CALC_PER_TOKEN ? "per-token"
                                                                    : "");
            break;
        case F_LIST: {
            cJSON *a = cJSON_AddArrayToObject(o, f->name);
            for (size_t k = 0; k < c->nserved; k++)
                cJSON_AddItemToArray(a, cJSON_CreateString(c->served[k]));
            break;
        }
        case F_LORAS: {
            cJSON *a = cJSON_AddArrayToObject(o, f->name);
            for (size_t k = 0; k < c->nlora_modules; k++)
                cJSON_AddItemToArray(a, cJSON_CreateString(c->lora_modules[k]));
            break;
        }
        case F_FAILURES: {
            cJSON *a = cJSON_AddArrayToObject(o, f->name);
            for (int k = 0; k < SIM_FAIL_N; k++)
                if (c->failure_types & (1u << k))
                    cJSON_AddItemToArray(a, cJSON_CreateString(sim_failure_names[k]));
            break;
        }
        case F_NOBOOL:
        case F_IGNORED:
        case F_CONFIG:
            break;
        }
    }
    return o;
}

const char *sim_config_display_name(const struct sim_config *c)
{
    return c->nserved ? c->served[0] : c->model;
}

bool sim_config_serves(const struct sim_config *c, const char *name)
{
    for (size_t i = 0; i < c->nserved; i++)
        if (strcmp(c->served[i], name) == 0)
            return true;
    return false;
}
