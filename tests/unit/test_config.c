#include "simulator/sim_config.h"
#include "simulator/sim_fakemetrics.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

static enum sim_config_result load(struct sim_config *c, char *err, const char *a0, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    argv[argc++] = "pdsim-simulator";
    va_start(ap, a0);
    for (const char *a = a0; a; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    return sim_config_load(c, argc, argv, err, 256, NULL, 0);
}

static char *write_yaml(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/pdsim-cfg-XXXXXX");
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_defaults_and_forms(void **state)
{
    (void)state;
    struct sim_config c;
    char err[256] = "";
    unsetenv("SIM_MODEL");
    assert_int_equal(load(&c, err, "--model", "m", "--port=9000", "--prefill-time-per-token=200",
                          "--prefill-time-std-dev", "3", "--inter-token-latency", "1.5ms", NULL),
                     SIM_CONFIG_OK);
    assert_string_equal(c.model, "m");
    assert_int_equal(c.port, 9000);
    assert_true(c.prefill_per_token == 200000000LL);
    assert_true(c.prefill_sd == 3000000LL);
    assert_true(c.itl == 1500000LL);
    assert_int_equal(c.max_num_seqs, 5);
    assert_int_equal(c.max_waiting_queue_length, 1000);
    assert_int_equal(c.max_model_len, 1024);
    assert_int_equal(c.nserved, 1);
    assert_string_equal(c.served[0], "m");
    assert_int_equal(c.mode, SIM_MODE_RANDOM);
    sim_config_release(&c);
}

static void test_served_list(void **state)
{
    (void)state;
    struct sim_config c;
    char err[256] = "";
    assert_int_equal(
        load(&c, err, "--model", "m", "--served-model-name", "a", "b", "--mode", "echo", NULL),
        SIM_CONFIG_OK);
    assert_int_equal(c.nserved, 2);
    assert_string_equal(c.served[0], "a");
    assert_string_equal(c.served[1], "b");
    assert_int_equal(c.mode, SIM_MODE_ECHO);
    sim_config_release(&c);
    assert_int_equal(load(&c, err, "--model", "m", "--served-model-name", NULL), SIM_CONFIG_OK);
    assert_int_equal(c.nserved, 1);
    assert_string_equal(c.served[0], "m");
    sim_config_release(&c);
}

static void test_precedence(void **state)
{
    (void)state;
    struct sim_config c;
    char err[256] = "";
    char *path = write_yaml("model: from-yaml\nport: 7000\nmax-num-seqs: 9\n"
                            "served-model-name: [y1, y2]\ntime-to-first-token: \"2000ms\"\n");
    setenv("SIM_MODEL", "from-env", 1);
    assert_int_equal(load(&c, err, "--config", path, "--port", "7001", NULL), SIM_CONFIG_OK);
    assert_string_equal(c.model, "from-env"); /* env beats YAML */
    assert_int_equal(c.port, 7001);           /* CLI beats YAML */
    assert_int_equal(c.max_num_seqs, 9);      /* YAML beats default */
    assert_true(c.ttft == 2000000000LL);
    assert_int_equal(c.nserved, 2);
    sim_config_release(&c);
    assert_int_equal(
        load(&c, err, "--config", path, "--model", "cli", "--served-model-name", "z", NULL),
        SIM_CONFIG_OK);
    assert_string_equal(c.model, "cli"); /* CLI beats env */
    assert_int_equal(c.nserved, 1);      /* a CLI list replaces the YAML list */
    unsetenv("SIM_MODEL");
    sim_config_release(&c);
    remove(path);
}

static void test_tool_flags(void **state)
{
    (void)state;
    struct sim_config c;
    char err[256] = "";
    assert_int_equal(load(&c, err, "--model", "m", NULL), SIM_CONFIG_OK);
    assert_int_equal(c.max_tool_int, 100);
    assert_int_equal(c.min_tool_int, 0);
    assert_true(c.max_tool_num == 100 && c.min_tool_num == 0);
    assert_int_equal(c.max_tool_arr, 5);
    assert_int_equal(c.min_tool_arr, 1);
    assert_int_equal(c.tool_not_required_pct, 50);
    assert_int_equal(c.object_not_required_pct, 50);
    assert_int_equal(c.tool_extra_call_pct, 45);
    assert_false(c.skip_tool_validation);
    sim_config_release(&c);
    char *path = write_yaml("min-tool-call-integer-param: -5\nmax-tool-call-number-param: 2.5\n"
                            "skip-tool-validation: true\ntool-call-extra-call-probability: 0\n");
    assert_int_equal(load(&c, err, "--model", "m", "--config", path,
                          "--object-tool-call-not-required-field-probability=100", NULL),
                     SIM_CONFIG_OK);
    unlink(path);
    assert_int_equal(c.min_tool_int, -5);
    assert_true(c.max_tool_num == 2.5);
    assert_true(c.skip_tool_validation);
    assert_int_equal(c.tool_extra_call_pct, 0);
    assert_int_equal(c.object_not_required_pct, 100);
    sim_config_release(&c);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *a, *b, *want;
    } cases[] = {
        {"--bogus", "1", "unknown flag --bogus"},
        {"--mm-encoder-only", "true", "flag --mm-encoder-only: not supported"},
        {"--enable-kvcache", "true", "--enable-kvcache needs the environment variable POD_IP"},
        {"--block-size", "24", "--block-size must be one of 8, 16, 32, 64, 128 (got 24)"},
        {"--block-size", "256", "flag --block-size: 256 is out of range"},
        {"--kv-cache-size", "-1", "flag --kv-cache-size: -1 is out of range"},
        {"--event-batch-size", "0", "flag --event-batch-size: 0 is out of range"},
        {"--global-cache-hit-threshold", "1.5", "--global-cache-hit-threshold must be between"},
        {"--global-cache-hit-threshold", "-0.1", "--global-cache-hit-threshold must be between"},
        {"--kv-events-replay-queue-size", "2000000", "out of range [0, 1048576]"},
        {"--port", "abc", "flag --port: \"abc\" is not an integer"},
        {"--port", "70000", "flag --port: 70000 is out of range"},
        {"--max-num-seqs", "0", "flag --max-num-seqs: 0 is out of range"},
        {"--mode", "loud", "flag --mode: \"loud\" is not a mode"},
        {"--time-to-first-token", "5parsecs", "flag --time-to-first-token: invalid duration"},
        {"--inter-token-latency", "-5ms", "flag --inter-token-latency: must not be negative"},
        {"--time-to-first-token-std-dev", "1s", "--time-to-first-token-std-dev must be at most"},
        {"--time-factor-under-load", "0.5", "--time-factor-under-load must be >= 1.0"},
        {"--latency-calculator", "fast", "is not a latency calculator"},
        {"--max-request-body-size-mb", "600", "out of range"},
        {"--data-parallel-size", "9", "flag --data-parallel-size: 9 is out of range"},
        {"--data-parallel-rank", "8", "flag --data-parallel-rank: 8 is out of range"},
        {"--max-loras", "0", "flag --max-loras: 0 is out of range"},
        {"--max-cpu-loras", "0", "flag --max-cpu-loras: 0 is out of range"},
        {"--lora-modules", "{\"path\":\"/p\"}",
         "--lora-modules value 1 (\"{\"path\":\"/p\"}\"): \"name\" is required"},
        {"--lora-modules", "{\"name\":\"a\",\"base_model_name\":\"other\"}",
         "base_model_name \"other\" is not the base model \"m\""},
        {"--lora-modules", "{\"name\":\"a\"", "--lora-modules value 1"},
        {"--lora-modules", "justaname", "or name=path"},
        {"--lora-modules", "m=/p", "adapter \"m\" has a served model name"},
        {"--lora-modules", "a,b=/p", "has a comma"},
        {"stray", "x", "unexpected argument \"stray\""},
        {"--tool-call-extra-call-probability", "101",
         "flag --tool-call-extra-call-probability: "
         "101 is out of range [0, 100]"},
        {"--tool-call-not-required-param-probability", "-1", "out of range [0, 100]"},
        {"--object-tool-call-not-required-field-probability", "x", "is not an integer"},
        {"--min-tool-call-integer-param", "101",
         "--min-tool-call-integer-param must be at most --max-tool-call-integer-param"},
        {"--max-tool-call-number-param", "-1",
         "--min-tool-call-number-param must be at most --max-tool-call-number-param"},
        {"--min-tool-call-array-param-length", "6", "--min-tool-call-array-param-length must be"},
        {"--max-tool-call-array-param-length", "-1", "out of range [0, 1024]"},
        {"--skip-tool-validation", "maybe", "unexpected argument \"maybe\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sim_config c;
        char err[256] = "";
        assert_int_equal(load(&c, err, "--model", "m", cases[i].a, cases[i].b, NULL),
                         SIM_CONFIG_ERROR);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
        sim_config_release(&c);
    }
    struct sim_config c;
    char err[256] = "";
    unsetenv("SIM_MODEL");
    assert_int_equal(load(&c, err, "--port", "1", NULL), SIM_CONFIG_ERROR);
    assert_non_null(strstr(err, "--model is required"));
    sim_config_release(&c);
    assert_int_equal(load(&c, err, "--model", "m", "--port", NULL), SIM_CONFIG_ERROR);
    assert_non_null(strstr(err, "flag --port needs a value"));
    sim_config_release(&c);
}

static void test_yaml_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"model: m\nbogus: 1\n", "line 2: key \"bogus\": unknown key"},
        {"model: m\nport: [1, 2]\n", "line 2: key \"port\": expected one value"},
        {"model: m\nmode: 3\n", "line 2: key \"mode\": \"3\" is not a mode"},
        {"model: m\n  x: : y\n", "line 2"},
        {"model: m\nmm-encoder-only: true\n", "not supported"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sim_config c;
        char err[256] = "";
        char *path = write_yaml(cases[i].yaml);
        assert_int_equal(load(&c, err, "--config", path, NULL), SIM_CONFIG_ERROR);
        if (!strstr(err, cases[i].want) || !strstr(err, path))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
        sim_config_release(&c);
        remove(path);
    }
    struct sim_config c;
    char err[256] = "";
    assert_int_equal(load(&c, err, "--model", "m", "--config", "/nonexistent.yaml", NULL),
                     SIM_CONFIG_ERROR);
    assert_non_null(strstr(err, "/nonexistent.yaml"));
    sim_config_release(&c);
}

/* Booleans (alone, =V, or a following true/false), --no- forms, failure type
 * lists (stopping at the next flag, comma-separated, from YAML), and the
 * runtime update used by /admin/config. */
static void test_loras_and_ranks(void **state)
{
    (void)state;
    struct sim_config c;
    char err[256] = "";
    assert_int_equal(load(&c, err, "--model", "m", "--lora-modules",
                          "{\"name\":\"a\",\"path\":\"/p\",\"base_model_name\":\"m\"}", "b=/q",
                          "--max-loras", "2", "--data-parallel-size", "3", NULL),
                     SIM_CONFIG_OK);
    assert_int_equal(c.nlora_modules, 2);
    assert_string_equal(c.lora_modules[1], "b=/q");
    assert_true(c.max_loras == 2 && c.max_cpu_loras == 2); /* max-cpu-loras follows */
    assert_true(c.data_parallel_size == 3 && c.data_parallel_rank == -1);
    sim_config_release(&c);
    assert_int_equal(
        load(&c, err, "--model", "m", "--max-loras", "3", "--max-cpu-loras", "2", NULL),
        SIM_CONFIG_ERROR);
    assert_non_null(strstr(err, "--max-cpu-loras (2) must be >= --max-loras (3)"));
    sim_config_release(&c);
    char *bad = write_yaml("model: m\nlora-modules: ['{\"name\": 3}']\n");
    assert_int_equal(load(&c, err, "--config", bad, NULL), SIM_CONFIG_ERROR);
    unlink(bad);
    assert_non_null(
        strstr(err, "--lora-modules value 1 (\"{\"name\": 3}\"): field 'name' must be a string"));
    sim_config_release(&c);
    char *yaml = write_yaml("model: m\nlora-modules:\n  - '{\"name\": \"y1\", \"path\": \"/y\"}'\n"
                            "data-parallel-rank: 2\n");
    assert_int_equal(load(&c, err, "--config", yaml, "--lora-modules", "z=/z", NULL),
                     SIM_CONFIG_OK);
    unlink(yaml);
    /* a CLI list replaces the YAML list, as upstream */
    assert_int_equal(c.nlora_modules, 1);
    assert_string_equal(c.lora_modules[0], "z=/z");
    assert_int_equal(c.data_parallel_rank, 2);
    sim_config_release(&c);
}

static void test_bools_lists_and_runtime(void **state)
{
    (void)state;
    struct sim_config c;
    char err[256] = "";
    assert_int_equal(load(&c, err, "--model", "m", "--enable-sleep-mode", "true", "--port", "7",
                          "--enable-request-id-headers", "--failure-types", "rate_limit",
                          "server_error", "--seed", "5", NULL),
                     SIM_CONFIG_OK);
    assert_true(c.sleep_mode && c.request_id_headers && c.port == 7 && c.seed == 5);
    assert_int_equal(c.failure_types, (1u << SIM_FAIL_RATE_LIMIT) | (1u << SIM_FAIL_SERVER_ERROR));
    sim_config_release(&c);
    assert_int_equal(load(&c, err, "--model", "m", "--enable-sleep-mode", "--no-enable-sleep-mode",
                          "--enable-request-id-headers=false", NULL),
                     SIM_CONFIG_OK);
    assert_true(!c.sleep_mode && !c.request_id_headers);
    sim_config_release(&c);
    assert_int_equal(load(&c, err, "--model", "m", "--no-enable-sleep-mode=false",
                          "--failure-types=invalid_api_key,model_not_found", NULL),
                     SIM_CONFIG_OK);
    assert_true(c.sleep_mode);
    assert_int_equal(c.failure_types,
                     (1u << SIM_FAIL_INVALID_API_KEY) | (1u << SIM_FAIL_MODEL_NOT_FOUND));
    sim_config_release(&c);
    char *yaml = write_yaml("model: m\nfailure-types: [context_length]\nenable-sleep-mode: true\n"
                            "failure-injection-rate: 30\n");
    assert_int_equal(load(&c, err, "--config", yaml, NULL), SIM_CONFIG_OK);
    unlink(yaml);
    assert_true(c.sleep_mode && c.failure_rate == 30);
    assert_int_equal(c.failure_types, 1u << SIM_FAIL_CONTEXT_LENGTH);

    /* /admin/config: strings or integer nanoseconds; validated as a whole */
    struct sim_config copy = c;
    cJSON *patch = cJSON_Parse("{\"inter-token-latency\":\"20ms\",\"time-to-first-token\":5000000,"
                               "\"failure-types\":[\"rate_limit\"]}");
    assert_int_equal(sim_config_update_runtime(&copy, patch, err, sizeof(err)), 0);
    assert_true(copy.itl == 20000000 && copy.ttft == 5000000);
    assert_int_equal(copy.failure_types, 1u << SIM_FAIL_RATE_LIMIT);
    cJSON_Delete(patch);
    copy = c;
    patch = cJSON_Parse("{\"failure-injection-rate\":1e300}");
    assert_int_equal(sim_config_update_runtime(&copy, patch, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "failure-injection-rate"));
    cJSON_Delete(patch);
    patch = cJSON_Parse("{\"model\":\"x\"}");
    assert_int_equal(sim_config_update_runtime(&copy, patch, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a setting that can change"));
    cJSON_Delete(patch);
    /* the seed survives GET /admin/config exactly */
    c.seed = 1764024756123456789LL;
    cJSON *j = sim_config_json(&c);
    char *text = cJSON_PrintUnformatted(j);
    assert_non_null(strstr(text, "\"seed\":1764024756123456789"));
    cJSON_free(text);
    cJSON_Delete(j);
    sim_config_release(&c);

    assert_int_equal(load(&c, err, "--model", "m", "--enable-sleep-mode=maybe", NULL),
                     SIM_CONFIG_ERROR);
    sim_config_release(&c);
    assert_int_equal(load(&c, err, "--model", "m", "--failure-types", "nope", NULL),
                     SIM_CONFIG_ERROR);
    assert_non_null(strstr(err, "\"nope\" is not a failure type"));
    sim_config_release(&c);
}

/* The KV-cache flags: upstream's defaults, PYTHONHASHSEED below --hash-seed,
 * a YAML global-cache-hit-threshold honoured (upstream's pflag default
 * overwrites it), the replay queue only checked with a replay endpoint, and
 * the ZMQ and replay ports apart over every data-parallel rank. */
static void test_kvcache_flags(void **state)
{
    (void)state;
    struct sim_config c;
    char err[256] = "";
    unsetenv("PYTHONHASHSEED");
    setenv("POD_IP", "10.0.0.1", 1);
    assert_int_equal(load(&c, err, "--model", "m", NULL), SIM_CONFIG_OK);
    assert_int_equal(c.enable_kvcache, 0);
    assert_int_equal(c.kv_cache_size, 1024);
    assert_int_equal(c.block_size, 16);
    assert_string_equal(c.hash_seed, "");
    assert_string_equal(c.zmq_endpoint, "tcp://127.0.0.1:5557");
    assert_int_equal(c.event_batch_size, 16);
    assert_int_equal(c.map_event_format, 0);
    assert_string_equal(c.replay_endpoint, "");
    assert_int_equal(c.replay_queue_size, 1024);
    assert_true(c.global_cache_hit_threshold == 0);
    sim_config_release(&c);

    setenv("PYTHONHASHSEED", "123", 1);
    assert_int_equal(load(&c, err, "--model", "m", "--enable-kvcache", "--block-size", "8",
                          "--kv-cache-size", "0", "--use-vllm-map-event-format",
                          "--kv-events-replay-queue-size", "0", NULL),
                     SIM_CONFIG_OK);
    assert_string_equal(c.hash_seed, "123");
    assert_int_equal(c.enable_kvcache, 1);
    assert_int_equal(c.block_size, 8);
    assert_int_equal(c.kv_cache_size, 0);
    assert_int_equal(c.map_event_format, 1);
    sim_config_release(&c);
    assert_int_equal(load(&c, err, "--model", "m", "--hash-seed", "7", NULL), SIM_CONFIG_OK);
    assert_string_equal(c.hash_seed, "7");
    sim_config_release(&c);
    char *path = write_yaml("model: m\nhash-seed: \"9\"\nglobal-cache-hit-threshold: 0.5\n");
    assert_int_equal(load(&c, err, "--config", path, NULL), SIM_CONFIG_OK);
    assert_string_equal(c.hash_seed, "123"); /* env over YAML */
    assert_true(c.global_cache_hit_threshold == 0.5);
    sim_config_release(&c);
    remove(path);
    unsetenv("PYTHONHASHSEED");

    assert_int_equal(load(&c, err, "--model", "m", "--kv-events-replay-endpoint", "tcp://*:6000",
                          "--kv-events-replay-queue-size", "0", NULL),
                     SIM_CONFIG_ERROR);
    assert_non_null(strstr(err, "--kv-events-replay-queue-size must be >= 1"));
    sim_config_release(&c);
    assert_int_equal(load(&c, err, "--model", "m", "--enable-kvcache", "--data-parallel-size", "3",
                          "--zmq-endpoint", "tcp://127.0.0.1:6000", "--kv-events-replay-endpoint",
                          "tcp://*:6002", NULL),
                     SIM_CONFIG_ERROR);
    assert_non_null(strstr(err, "ports collide once offset by data-parallel rank"));
    sim_config_release(&c);
    assert_int_equal(load(&c, err, "--model", "m", "--enable-kvcache", "--data-parallel-size", "3",
                          "--zmq-endpoint", "tcp://127.0.0.1:6000", "--kv-events-replay-endpoint",
                          "tcp://*:6003", NULL),
                     SIM_CONFIG_OK);
    sim_config_release(&c);
    unsetenv("POD_IP");
}

static void test_dataset_and_fake_flags(void **state)
{
    (void)state;
    struct sim_config c;
    char err[256] = "";
    assert_int_equal(load(&c, err, "--model", "m", NULL), SIM_CONFIG_OK);
    assert_string_equal(c.dataset_table, "llmd");
    assert_true(c.embed_dims == 384 && c.fake_refresh == 100000000LL && !c.fake_metrics);
    sim_config_release(&c);
    assert_int_equal(load(&c, err, "--model", "m", "--dataset-path", "/d.db", "--dataset-url",
                          "https://h/d.db", "--dataset-in-memory", "--dataset-table-name", "t_2",
                          "--default-embedding-dimensions", "8", "--fake-metrics",
                          "{\"running-requests\":\"ramp:0:5:1s\"}",
                          "--fake-metrics-refresh-interval", "1s", NULL),
                     SIM_CONFIG_OK);
    assert_string_equal(c.dataset_path, "/d.db");
    assert_string_equal(c.dataset_url, "https://h/d.db");
    assert_string_equal(c.dataset_table, "t_2");
    assert_true(c.dataset_in_memory && c.embed_dims == 8 && c.fake_refresh == 1000000000LL);
    assert_non_null(c.fake_metrics);
    /* GET /admin/config shows the spec; POST patches it (a new spec, the old one intact) */
    cJSON *j = sim_config_json(&c);
    char *text = cJSON_PrintUnformatted(j);
    assert_non_null(strstr(text, "\"running-requests\":\"ramp:0:5:1s\""));
    assert_non_null(strstr(text, "\"fake-metrics-refresh-interval\":\"1s\""));
    cJSON_free(text);
    cJSON_Delete(j);
    struct sim_config copy = c;
    cJSON *patch = cJSON_Parse("{\"fake-metrics\":{\"waiting-requests\":2}}");
    assert_int_equal(sim_config_update_runtime(&copy, patch, err, sizeof(err)), 0);
    assert_true(copy.fake_metrics && copy.fake_metrics != c.fake_metrics);
    j = sim_config_json(&copy);
    text = cJSON_PrintUnformatted(j);
    assert_non_null(strstr(text, "\"waiting-requests\":2"));
    assert_non_null(strstr(text, "\"running-requests\":\"ramp:0:5:1s\""));
    cJSON_free(text);
    cJSON_Delete(j);
    cJSON_Delete(patch);
    struct sim_config again = copy;
    patch = cJSON_Parse("{\"fake-metrics\":{\"waiting-requests\":-2}}");
    assert_int_equal(sim_config_update_runtime(&again, patch, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "key \"fake-metrics\": waiting-requests: must not be negative"));
    assert_true(again.fake_metrics == copy.fake_metrics);
    cJSON_Delete(patch);
    /* a valid fake patch with an invalid other key: nothing published, nothing leaked */
    patch = cJSON_Parse("{\"fake-metrics\":{\"waiting-requests\":1},"
                        "\"time-factor-under-load\":0.5}");
    assert_int_equal(sim_config_update_runtime(&again, patch, err, sizeof(err)), -1);
    assert_true(again.fake_metrics == copy.fake_metrics);
    cJSON_Delete(patch);
    sim_fake_free(copy.fake_metrics);
    sim_config_release(&c);

    /* without --fake-metrics they cannot be patched in */
    assert_int_equal(load(&c, err, "--model", "m", NULL), SIM_CONFIG_OK);
    copy = c;
    patch = cJSON_Parse("{\"fake-metrics\":{\"running-requests\":1}}");
    assert_int_equal(sim_config_update_runtime(&copy, patch, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "reporting real metrics"));
    cJSON_Delete(patch);
    sim_config_release(&c);

    /* YAML: a mapping (numbers and strings typed as YAML types them) */
    char *yaml = write_yaml("model: m\nfake-metrics:\n  running-requests: 3\n"
                            "  waiting-requests: \"squarewave:0:4:2s\"\n  loras:\n"
                            "    - '{\"running\":\"a\",\"timestamp\":5}'\n"
                            "  ttft-buckets-values: [1, 2]\n");
    assert_int_equal(load(&c, err, "--config", yaml, NULL), SIM_CONFIG_OK);
    unlink(yaml);
    assert_true(c.fake_metrics && c.fake_metrics->running.value == 3);
    assert_int_equal(c.fake_metrics->waiting.fn, SIM_FAKE_SQUAREWAVE);
    assert_true(c.fake_metrics->nloras == 1 && c.fake_metrics->hist[SIM_FAKE_TTFT].n == 2);
    sim_config_release(&c);

    static const struct {
        const char *a, *b, *want;
    } cases[] = {
        {"--dataset-url", "https://h/x", "--dataset-url needs --dataset-path"},
        {"--dataset-table-name", "a;drop", "--dataset-table-name \"a;drop\" must be a plain"},
        {"--dataset-table-name", "1t", "must be a plain SQL name"},
        {"--default-embedding-dimensions", "0", "out of range [1, 65536]"},
        {"--fake-metrics", "{", "flag --fake-metrics: not JSON"},
        {"--fake-metrics", "{\"kv-cache-usage\":2}", "flag --fake-metrics: kv-cache-usage: must"},
        {"--fake-metrics-refresh-interval", "0s", "--fake-metrics-refresh-interval must be"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(load(&c, err, "--model", "m", cases[i].a, cases[i].b, NULL),
                         SIM_CONFIG_ERROR);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
        sim_config_release(&c);
    }
    assert_int_equal(load(&c, err, "--model", "m", "--mode", "echo", "--dataset-path", "/d", NULL),
                     SIM_CONFIG_ERROR);
    assert_non_null(strstr(err, "--dataset-path cannot be used with --mode echo"));
    sim_config_release(&c);
    yaml = write_yaml("model: m\nmax-num-seqs:\n  a: 1\n");
    assert_int_equal(load(&c, err, "--config", yaml, NULL), SIM_CONFIG_ERROR);
    unlink(yaml);
    assert_non_null(strstr(err, "key \"max-num-seqs\": expected a value or a list, not a mapping"));
    sim_config_release(&c);
}

static void test_help(void **state)
{
    (void)state;
    struct sim_config c;
    char err[256] = "";
    assert_int_equal(load(&c, err, "--help", NULL), SIM_CONFIG_HELP);
    sim_config_release(&c);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    sim_config_help(f);
    fclose(f);
    assert_non_null(strstr(text, "--max-num-seqs"));
    assert_non_null(strstr(text, "(default 5)"));
    assert_non_null(strstr(text, "--kv-cache-transfer-time-std-dev"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_forms),
        cmocka_unit_test(test_served_list),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_tool_flags),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_loras_and_ranks),
        cmocka_unit_test(test_bools_lists_and_runtime),
        cmocka_unit_test(test_kvcache_flags),
        cmocka_unit_test(test_dataset_and_fake_flags),
        cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
