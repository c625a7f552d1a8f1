#include "simulator/sim_config.h"

#include "common/xalloc.h"
#include "common/yamljson.h"
#include "common/ycfg.h"
#include "simulator/sim_fakemetrics.h"
#include "simulator/sim_flags.h"
#include "simulator/sim_kvevents.h"
#include "simulator/sim_lora.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    c->stream_threads = 1;
    c->http_request_timeout = 60000000000LL;
    c->max_tool_int = 100;
    c->max_tool_num = 100;
    c->max_tool_arr = 5;
    c->min_tool_arr = 1;
    c->tool_not_required_pct = 50;
    c->object_not_required_pct = 50;
    c->tool_extra_call_pct = 45;
    c->shutdown_timeout = 30000000000LL;
    c->dataset_table = xstrdup("llmd");
    c->embed_dims = 384;
    c->fake_refresh = 100000000LL;
    c->kv_cache_size = 1024;
    c->block_size = 16;
    c->hash_seed = xstrdup("");
    c->zmq_endpoint = xstrdup("tcp://127.0.0.1:5557");
    c->event_batch_size = 16;
    c->replay_endpoint = xstrdup("");
    c->replay_queue_size = 1024;
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
    free(c->dataset_path);
    free(c->dataset_url);
    free(c->dataset_table);
    sim_fake_free(c->fake_metrics);
    free(c->hash_seed);
    free(c->zmq_endpoint);
    free(c->replay_endpoint);
    memset(c, 0, sizeof(*c));
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
        return sim_flag_parse_failures(vals, n, (unsigned *)((char *)c + f->off), where, err,
                                       errlen);
    if (f->type == F_IGNORED) {
        if (warn && warnlen && !warn[0])
            snprintf(warn, warnlen, "%s is accepted and ignored: %s", where, f->help + 9);
        return 0;
    }
    if (is_list || n != 1) {
        snprintf(err, errlen, "%s: expected one value, got %zu", where, n);
        return -EINVAL;
    }
    return sim_flag_apply_scalar(c, f, vals[0], where, err, errlen);
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
    if (sim_flag_unsupported(name))
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
        cf->def = sim_flag_find(cf->name);
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

/* A YAML mapping value: only fake-metrics takes one (read through yamljson,
 * which keeps YAML's number and string types). */
static int apply_yaml_map(struct sim_config *c, const struct flagdef *f, const char *path,
                          const char *key, cJSON **doc, const char *where, char *err, size_t errlen)
{
    char yerr[256];
    if (f->type != F_FAKE) {
        snprintf(err, errlen, "%s: expected a value or a list, not a mapping", where);
        return -EINVAL;
    }
    if (!*doc && !(*doc = yaml_file_to_json(path, yerr, sizeof(yerr)))) {
        snprintf(err, errlen, "--config %s: %s", path, yerr);
        return -EINVAL;
    }
    return sim_flag_apply_fake(c, cJSON_GetObjectItemCaseSensitive(*doc, key), where, err, errlen);
}

static int apply_yaml(struct sim_config *c, const char *path, char *err, size_t errlen, char *warn,
                      size_t warnlen)
{
    struct ycfg y;
    char yerr[256];
    cJSON *doc = NULL;
    int rc = ycfg_load_file_maps(path, &y, yerr, sizeof(yerr));
    if (rc < 0) {
        snprintf(err, errlen, "--config %s: %s", path, yerr);
        return rc;
    }
    for (size_t i = 0; i < y.n && rc == 0; i++) {
        const struct ycfg_entry *e = &y.v[i];
        char where[256];
        snprintf(where, sizeof(where), "--config %s line %d: key \"%s\"", path, e->line, e->key);
        const struct flagdef *f = sim_flag_find(e->key);
        if (!f || f->type == F_CONFIG) {
            snprintf(err, errlen, "%s: %s", where,
                     sim_flag_unsupported(e->key)
                         ? "not supported by this version of pdsim-simulator"
                         : "unknown key");
            rc = -EINVAL;
            break;
        }
        if (e->is_map)
            rc = apply_yaml_map(c, f, path, e->key, &doc, where, err, errlen);
        else
            rc = apply(c, f, e->items, e->nitems, e->is_list, where, err, errlen, warn, warnlen);
    }
    cJSON_Delete(doc);
    ycfg_release(&y);
    return rc;
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

/* The dataset and fake-metrics flags, checked against each other and the mode. */
static int validate_extras(const struct sim_config *c, char *err, size_t errlen)
{
    bool path = c->dataset_path && *c->dataset_path, url = c->dataset_url && *c->dataset_url;
    const char *t = c->dataset_table;
    bool ident = t && (*t == '_' || (*t >= 'A' && *t <= 'Z') || (*t >= 'a' && *t <= 'z'));
    for (; ident && *t; t++)
        ident = *t == '_' || (*t >= 'A' && *t <= 'Z') || (*t >= 'a' && *t <= 'z') ||
                (*t >= '0' && *t <= '9');
    if (url && !path)
        snprintf(err, errlen, "--dataset-url needs --dataset-path (where the file would be)");
    else if ((path || url) && c->mode == SIM_MODE_ECHO)
        snprintf(err, errlen, "--dataset-path cannot be used with --mode echo");
    else if (!ident)
        snprintf(err, errlen,
                 "--dataset-table-name \"%.80s\" must be a plain SQL name (letters, digits, _)",
                 c->dataset_table ? c->dataset_table : "");
    else if (c->fake_refresh <= 0)
        snprintf(err, errlen, "--fake-metrics-refresh-interval must be greater than 0");
    else
        return 0;
    return -EINVAL;
}

/* The KV-cache settings, as upstream checks them (the ports only matter, and
 * are only checked, with --enable-kvcache). */
static int validate_kvcache(const struct sim_config *c, char *err, size_t errlen)
{
    long bs = c->block_size;
    if (bs != 8 && bs != 16 && bs != 32 && bs != 64 && bs != 128) {
        snprintf(err, errlen, "--block-size must be one of 8, 16, 32, 64, 128 (got %ld)", bs);
        return -EINVAL;
    }
    if (!(c->global_cache_hit_threshold >= 0 && c->global_cache_hit_threshold <= 1)) {
        snprintf(err, errlen, "--global-cache-hit-threshold must be between 0 and 1");
        return -EINVAL;
    }
    if (c->replay_endpoint[0] && c->replay_queue_size < 1) {
        snprintf(err, errlen, "--kv-events-replay-queue-size must be >= 1");
        return -EINVAL;
    }
    if (!c->enable_kvcache)
        return 0;
    const char *ip = getenv("POD_IP");
    if (!ip || !*ip) {
        snprintf(err, errlen,
                 "--enable-kvcache needs the environment variable POD_IP (the pod's address in "
                 "the KV-event topic)");
        return -EINVAL;
    }
    /* Each rank publishes on (and replays from) its port + rank, so the two
     * ranges must not meet, whichever ranks this process serves. */
    long zp = sim_kvevents_endpoint_port(c->zmq_endpoint);
    long rp = sim_kvevents_endpoint_port(c->replay_endpoint);
    long top = c->data_parallel_size - 1;
    if (c->zmq_endpoint[0] && c->replay_endpoint[0] && zp >= 0 && rp >= 0 && zp <= rp + top &&
        rp <= zp + top) {
        snprintf(err, errlen,
                 "--zmq-endpoint (%s) and --kv-events-replay-endpoint (%s) ports collide once "
                 "offset by data-parallel rank",
                 c->zmq_endpoint, c->replay_endpoint);
        return -EINVAL;
    }
    return 0;
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
    if (sim_flag_check_sd("time-to-first-token", c->ttft, c->ttft_sd, err, errlen) < 0 ||
        sim_flag_check_sd("inter-token-latency", c->itl, c->itl_sd, err, errlen) < 0 ||
        sim_flag_check_sd("kv-cache-transfer-latency", c->kv_latency, c->kv_latency_sd, err,
                          errlen) < 0)
        return -EINVAL;
    if (check_tool_ranges(c, err, errlen) < 0 || validate_extras(c, err, errlen) < 0 ||
        validate_kvcache(c, err, errlen) < 0)
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
    env = getenv("PYTHONHASHSEED"); /* as vLLM's hash seed; --hash-seed wins */
    if (rc == 0 && env && *env) {
        free(c->hash_seed);
        c->hash_seed = xstrdup(env);
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
