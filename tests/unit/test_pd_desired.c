#include "controller/pd_desired.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#ifndef GOLDEN_DIR
#error GOLDEN_DIR must name tests/unit/golden
#endif

static const struct pd_opts OPTS = {.image = "ghcr.io/pdsim/pdsim:test",
                                    .pull_policy = "IfNotPresent"};

static cJSON *load(const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", GOLDEN_DIR, name);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *j = cJSON_Parse(buf);
    if (!j)
        fail_msg("%s is not JSON", path);
    return j;
}

/* The seed's scenario: the children match the reviewed golden JSON exactly.
 * PDSIM_UPDATE_GOLDEN=1 rewrites the file (review the diff before committing). */
static void test_golden_seed_scenario(void **state)
{
    (void)state;
    cJSON *cr = load("pdsim-vllm-sim.cr.json");
    char err[512] = "";
    cJSON *got = pd_desired_children(cr, &OPTS, err, sizeof(err));
    if (!got)
        fail_msg("unexpected error: %s", err);
    if (getenv("PDSIM_UPDATE_GOLDEN")) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/pdsim-vllm-sim.children.json", GOLDEN_DIR);
        FILE *f = fopen(path, "w");
        char *text = cJSON_Print(got);
        fprintf(f, "%s\n", text);
        fclose(f);
        cJSON_free(text);
    }
    cJSON *want = load("pdsim-vllm-sim.children.json");
    if (!cJSON_Compare(got, want, 1)) {
        char *text = cJSON_Print(got);
        fail_msg("children differ from the golden file; got:\n%s", text);
    }
    cJSON_Delete(want);
    cJSON_Delete(got);
    cJSON_Delete(cr);
}

static void test_flag_names(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"maxNumSeqs", "max-num-seqs"},
        {"kvCacheTransferLatency", "kv-cache-transfer-latency"},
        {"enableSSRFProtection", "enable-ssrf-protection"},
        {"timeToFirstToken", "time-to-first-token"},
        {"seed", "seed"},
        {"v", "v"},
        {"kvCacheSize", "kv-cache-size"},
    };
    char out[128];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(pd_flag_name(cases[i][0], out, sizeof(out)), 0);
        assert_string_equal(out, cases[i][1]);
    }
    assert_int_equal(pd_flag_name("MaxNumSeqs", out, sizeof(out)), -1);
    assert_int_equal(pd_flag_name("max-num-seqs", out, sizeof(out)), -1);
    assert_int_equal(pd_flag_name("", out, sizeof(out)), -1);
    assert_int_equal(pd_flag_name("maxNumSeqs", out, 4), -1);
}

/* Apply a JSON patch-like edit (key path, value) to a copy of the golden CR
 * and expect an error naming want. */
static void expect_error(const char *spec_json, const char *want)
{
    cJSON *cr = load("pdsim-vllm-sim.cr.json");
    cJSON *spec = cJSON_Parse(spec_json);
    assert_non_null(spec);
    cJSON_ReplaceItemInObjectCaseSensitive(cr, "spec", spec);
    char err[512] = "";
    cJSON *got = pd_desired_children(cr, &OPTS, err, sizeof(err));
    if (got || !strstr(err, want))
        fail_msg("spec %s: want an error with \"%s\", got \"%s\"", spec_json, want, err);
    cJSON_Delete(cr);
}

static void test_invalid_specs(void **state)
{
    (void)state;
    expect_error("{}", "spec.model is required");
    expect_error("{\"model\":\"m\",\"prefill\":{\"replicas\":-1}}", "spec.prefill.replicas");
    expect_error("{\"model\":\"m\",\"decode\":{\"replicas\":1.5}}", "spec.decode.replicas");
    expect_error("{\"model\":\"m\",\"service\":{\"port\":70000}}", "spec.service.port");
    expect_error("{\"model\":\"m\",\"service\":{\"port\":8200}}", "spec.service.port");
    expect_error("{\"model\":\"m\",\"service\":{\"type\":\"Ingress\"}}", "spec.service.type");
    expect_error("{\"model\":\"m\",\"decode\":{\"sidecar\":{\"connector\":\"x\"}}}",
                 "spec.decode.sidecar.connector");
    expect_error("{\"model\":\"m\",\"prefill\":{\"sidecar\":{}}}", "spec.prefill.sidecar");
    expect_error("{\"model\":\"m\",\"simulator\":{\"port\":9}}", "spec.simulator.port");
    expect_error("{\"model\":\"m\",\"decode\":{\"simulator\":{\"model\":\"x\"}}}",
                 "spec.decode.simulator.model");
    expect_error("{\"model\":\"m\",\"simulator\":{\"max_num_seqs\":9}}",
                 "spec.simulator.max_num_seqs");
    expect_error("{\"model\":\"m\",\"simulator\":{\"lora\":{\"a\":1}}}", "spec.simulator.lora");
    expect_error("{\"model\":\"m\",\"servedModelNames\":[\"\"]}", "spec.servedModelNames");
    /* a mean in spec.simulator, a std-dev above 0.3 x it in the role */
    expect_error("{\"model\":\"m\",\"simulator\":{\"interTokenLatency\":\"10ms\"},"
                 "\"decode\":{\"simulator\":{\"interTokenLatencyStdDev\":4}}}",
                 "spec.decode.simulator: interTokenLatencyStdDev must be at most 0.3 x");
    expect_error("{\"model\":\"m\",\"simulator\":{\"timeToFirstTokenStdDev\":\"31ms\"},"
                 "\"prefill\":{\"simulator\":{\"timeToFirstToken\":100}}}",
                 "spec.prefill.simulator: timeToFirstTokenStdDev");
}

/* Latencies without int64 nanoseconds (1e300 ms; .inf in YAML) and near-int64
 * durations neither overflow nor stop rendering; the simulator's own flag check
 * answers for such values (found by fuzzing pd_desired). */
static void test_huge_latencies(void **state)
{
    (void)state;
    static const char *const specs[] = {
        "{\"model\":\"m\",\"simulator\":{\"interTokenLatency\":1e300,"
        "\"interTokenLatencyStdDev\":-1e300}}",
        "{\"model\":\"m\",\"simulator\":{\"timeToFirstToken\":\"1000000h\","
        "\"timeToFirstTokenStdDev\":\"1000000h\"}}",
    };
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        cJSON *cr = load("pdsim-vllm-sim.cr.json");
        cJSON_ReplaceItemInObjectCaseSensitive(cr, "spec", cJSON_Parse(specs[i]));
        char err[512] = "";
        cJSON *got = pd_desired_children(cr, &OPTS, err, sizeof(err));
        if (i == 0 && !got)
            fail_msg("spec %zu: %s", i, err);
        if (i == 1) /* a std-dev equal to its mean is above 0.3 x it */
            assert_non_null(strstr(err, "timeToFirstTokenStdDev must be at most 0.3 x"));
        cJSON_Delete(got);
        cJSON_Delete(cr);
    }
}

static void test_name_and_image(void **state)
{
    (void)state;
    cJSON *cr = load("pdsim-vllm-sim.cr.json");
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(cr, "metadata");
    char err[512] = "", longname[60];
    memset(longname, 'a', 54);
    longname[54] = '\0';
    cJSON_ReplaceItemInObjectCaseSensitive(meta, "name", cJSON_CreateString(longname));
    assert_null(pd_desired_children(cr, &OPTS, err, sizeof(err)));
    assert_non_null(strstr(err, "metadata.name"));
    longname[53] = '\0'; /* 53 is the longest that keeps NAME-p-service within 63 */
    cJSON_ReplaceItemInObjectCaseSensitive(meta, "name", cJSON_CreateString(longname));
    cJSON *got = pd_desired_children(cr, &OPTS, err, sizeof(err));
    assert_non_null(got);
    cJSON_Delete(got);
    cJSON_ReplaceItemInObjectCaseSensitive(meta, "name", cJSON_CreateString("Bad_Name"));
    assert_null(pd_desired_children(cr, &OPTS, err, sizeof(err)));
    cJSON_ReplaceItemInObjectCaseSensitive(meta, "name", cJSON_CreateString("ok"));
    struct pd_opts noimage = {.image = NULL};
    assert_null(pd_desired_children(cr, &noimage, err, sizeof(err)));
    assert_non_null(strstr(err, "--image"));
    /* Without a uid (local mode) there is no ownerReference. */
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "uid");
    got = pd_desired_children(cr, &OPTS, err, sizeof(err));
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(got, 0), "metadata");
    assert_null(cJSON_GetObjectItemCaseSensitive(m, "ownerReferences"));
    cJSON_Delete(got);
    cJSON_Delete(cr);
}

static void test_default_prefiller_off(void **state)
{
    (void)state;
    cJSON *cr = load("pdsim-vllm-sim.cr.json");
    cJSON *sc = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cr, "spec"), "decode"),
        "sidecar");
    cJSON_ReplaceItemInObjectCaseSensitive(sc, "defaultPrefiller", cJSON_CreateFalse());
    char err[512];
    cJSON *got = pd_desired_children(cr, &OPTS, err, sizeof(err));
    assert_non_null(got);
    char *text = cJSON_PrintUnformatted(got);
    assert_null(strstr(text, "--default-prefiller"));
    cJSON_free(text);
    cJSON_Delete(got);
    cJSON_Delete(cr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_seed_scenario),  cmocka_unit_test(test_flag_names),
        cmocka_unit_test(test_invalid_specs),         cmocka_unit_test(test_name_and_image),
        cmocka_unit_test(test_default_prefiller_off), cmocka_unit_test(test_huge_latencies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
