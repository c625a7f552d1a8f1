#include "common/yamljson.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void expect_json(const char *yaml, const char *json)
{
    char err[256] = "";
    cJSON *got = yaml_to_json(yaml, strlen(yaml), err, sizeof(err));
    if (!got)
        fail_msg("%s: %s", yaml, err);
    cJSON *want = cJSON_Parse(json);
    assert_non_null(want);
    if (!cJSON_Compare(got, want, 1)) {
        char *t = cJSON_PrintUnformatted(got);
        fail_msg("yaml %s\ngot  %s\nwant %s", yaml, t, json);
    }
    cJSON_Delete(got);
    cJSON_Delete(want);
}

static void test_kubernetes_object(void **state)
{
    (void)state;
    expect_json(
        "apiVersion: pdsim.io/v1alpha1\n"
        "kind: PDSimulation\n"
        "metadata:\n"
        "  name: vllm-sim\n"
        "spec:\n"
        "  model: meta-llama/Llama-3.1-8B-Instruct\n"
        "  servedModelNames: [a, 'b']\n"
        "  prefill:\n"
        "    replicas: 2\n"
        "    simulator: {prefillTimePerToken: 200ms, prefillTimeStdDev: 3ms}\n"
        "  decode:\n"
        "    sidecar:\n"
        "      defaultPrefiller: true\n"
        "      extra: ~\n",
        "{\"apiVersion\":\"pdsim.io/v1alpha1\",\"kind\":\"PDSimulation\","
        "\"metadata\":{\"name\":\"vllm-sim\"},\"spec\":{\"model\":"
        "\"meta-llama/Llama-3.1-8B-Instruct\",\"servedModelNames\":[\"a\",\"b\"],"
        "\"prefill\":{\"replicas\":2,\"simulator\":{\"prefillTimePerToken\":\"200ms\","
        "\"prefillTimeStdDev\":\"3ms\"}},\"decode\":{\"sidecar\":{\"defaultPrefiller\":true,"
        "\"extra\":null}}}}");
}

static void test_core_schema_scalars(void **state)
{
    (void)state;
    expect_json("[1, -2, +3, 0x1f, 0o17, 1.5, .5, 1e3, true, False, NULL, ~, '', yes, no, "
                "'1', \"true\", !!str 7, 1.2.3, 8000s]",
                "[1,-2,3,31,15,1.5,0.5,1000,true,false,null,null,\"\",\"yes\",\"no\",\"1\","
                "\"true\",\"7\",\"1.2.3\",\"8000s\"]");
    expect_json("", "null");
    expect_json("# only a comment\n", "null");
    expect_json("k: |\n  line one\n  line two\n", "{\"k\":\"line one\\nline two\\n\"}");
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"a: 1\na: 2\n", "line 2: duplicate key \"a\""},
        {"a: &x 1\nb: *x\n", "anchors and aliases"},
        {"a: 1\n---\nb: 2\n", "more than one YAML document"},
        {"[1, 2\n", "line "},
        {"? [1]\n: 2\n", "mapping keys must be strings"},
        {"a:\n  - b\n c: d\n", "line "},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "";
        cJSON *got = yaml_to_json(cases[i].yaml, strlen(cases[i].yaml), err, sizeof(err));
        if (got || !strstr(err, cases[i].want))
            fail_msg("case %zu: want \"%s\", got \"%s\"", i, cases[i].want, err);
    }
    char deep[1200];
    size_t n = 0;
    for (int i = 0; i < 300; i++)
        deep[n++] = '[';
    deep[n] = '\0';
    char err[256];
    assert_null(yaml_to_json(deep, n, err, sizeof(err)));
    char e2[256];
    assert_null(yaml_file_to_json("/nonexistent.yaml", e2, sizeof(e2)));
    assert_non_null(strstr(e2, "/nonexistent.yaml"));
}

static void test_multi_document(void **state)
{
    (void)state;
    char err[256];
    const char *y = "a: 1\n---\n---\nb: [x]\n";
    cJSON *all = yaml_to_json_all(y, strlen(y), err, sizeof(err));
    assert_non_null(all);
    assert_int_equal(cJSON_GetArraySize(all), 3);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(all, 0), "a")->valueint, 1);
    assert_true(cJSON_IsNull(cJSON_GetArrayItem(all, 1)));
    assert_string_equal(
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(all, 2), "b"), 0)->valuestring,
        "x");
    cJSON_Delete(all);
    assert_null(yaml_to_json(y, strlen(y), err, sizeof(err))); /* one document only */
    const char *bad = "a: 1\n---\nb: [\n";
    assert_null(yaml_to_json_all(bad, strlen(bad), err, sizeof(err)));
    assert_non_null(strstr(err, "line"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kubernetes_object),
        cmocka_unit_test(test_core_schema_scalars),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_multi_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
