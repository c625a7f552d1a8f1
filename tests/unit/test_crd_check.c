/* crd_check: the compiled-in CRD's schema, defaults and CEL rules applied to
 * PDSimulations, as the API server would (tests/integration/test_crd.py does
 * the same in Python against the YAML). */
#include "common/yamljson.h"
#include "controller/crd_check.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#ifndef EXAMPLES_DIR
#error EXAMPLES_DIR must name manifests/examples
#endif

static cJSON *parse(const char *yaml)
{
    char err[256];
    cJSON *o = yaml_to_json(yaml, strlen(yaml), err, sizeof(err));
    if (!o)
        fail_msg("%s", err);
    return o;
}

/* Validate yaml; returns the error ("" when valid). */
static const char *check(const char *yaml)
{
    static char err[512];
    cJSON *o = parse(yaml);
    err[0] = '\0';
    crd_validate(o, err, sizeof(err));
    cJSON_Delete(o);
    return err;
}

#define HEAD "apiVersion: pdsim.io/v1alpha1\nkind: PDSimulation\nmetadata: {name: x}\n"

static void test_init_and_examples(void **state)
{
    (void)state;
    char err[512] = "";
    assert_int_equal(crd_check_init(err, sizeof(err)), 0); /* every CEL rule understood */
    const char *files[] = {"vllm-sim.yaml", "llama-8b-h100.yaml"};
    for (int i = 0; i < 2; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", EXAMPLES_DIR, files[i]);
        cJSON *o = yaml_file_to_json(path, err, sizeof(err));
        assert_non_null(o);
        if (crd_validate(o, err, sizeof(err)) != 0)
            fail_msg("%s: %s", files[i], err);
        cJSON_Delete(o);
    }
}

static void test_defaults(void **state)
{
    (void)state;
    char err[512];
    cJSON *o = parse(HEAD "spec: {model: m}\n");
    assert_int_equal(crd_validate(o, err, sizeof(err)), 0);
    const cJSON *spec = cJSON_GetObjectItem(o, "spec");
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(spec, "service"), "port")->valueint,
                     8000);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(spec, "simulator"), "mode")->valuestring, "random");
    const cJSON *dec = cJSON_GetObjectItem(spec, "decode");
    assert_int_equal(cJSON_GetObjectItem(dec, "replicas")->valueint, 1);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(dec, "sidecar"), "connector")->valuestring,
        "nixlv2");
    cJSON_Delete(o);
}

static void test_errors(void **state)
{
    (void)state;
    assert_string_equal(check(HEAD "spec: {model: m}\n"), "");
    assert_string_equal(check(HEAD "spec: {model: m, prefill: {replicas: -1}}\n"),
                        "spec.prefill.replicas: must be greater than or equal to 0");
    assert_non_null(strstr(check(HEAD "spec: {model: m, simulator: {prefillTimePerToken: fast}}\n"),
                           "spec.simulator.prefillTimePerToken: \"fast\" does not match"));
    assert_string_equal(check(HEAD "spec: {model: m, simulator: {prefillTimePerToken: 200}}\n"),
                        "");
    assert_string_equal(check(HEAD "spec: {model: m, replicas: 3}\n"),
                        "spec.replicas: unknown field \"replicas\"");
    assert_non_null(strstr(check(HEAD "spec: {model: m, simulator: {mode: loud}}\n"),
                           "spec.simulator.mode: \"loud\" is not one of"));
    assert_non_null(strstr(check(HEAD "spec: {model: m, decode: {sidecar: {connector: x}}}\n"),
                           "spec.decode.sidecar.connector:"));
    assert_string_equal(check(HEAD "spec: {}\n"), "spec.model: Required value");
    /* found by fuzz_pd_desired: .nan and huge numbers were converted to long long (undefined) */
    assert_string_equal(check(HEAD "spec: {model: m, simulator: {timeToFirstToken: .nan}}\n"),
                        "spec.simulator.timeToFirstToken: must be an integer or a string");
    assert_string_equal(check(HEAD "spec: {model: m, simulator: {timeToFirstToken: -.inf}}\n"),
                        "spec.simulator.timeToFirstToken: must be an integer or a string");
    assert_string_equal(check(HEAD "spec: {model: m, prefill: {replicas: 1e300}}\n"),
                        "spec.prefill.replicas: must be an integer");
    assert_string_equal(check(HEAD "spec: {model: m, prefill: {replicas: .NaN}}\n"),
                        "spec.prefill.replicas: must be an integer");
    assert_non_null(strstr(check(HEAD "spec: {model: m, simulator: {timeToFirstToken: 100ms, "
                                      "timeToFirstTokenStdDev: 40ms}}\n"),
                           "spec.simulator: timeToFirstTokenStdDev must be at most 0.3 x"));
    assert_string_equal(check(HEAD "spec: {model: m, simulator: {timeToFirstToken: 100ms, "
                                   "timeToFirstTokenStdDev: 30ms}}\n"),
                        "");
    assert_non_null(strstr(check(HEAD "spec: {model: m, decode: {simulator: {interTokenLatency: "
                                      "1s, interTokenLatencyStdDev: 301ms}}}\n"),
                           "spec.decode.simulator: interTokenLatencyStdDev must be at most"));
    assert_non_null(strstr(check(HEAD "spec: {model: m, service: {port: 8200}}\n"),
                           "spec.service: port 8200 is the decode simulator's"));
    assert_non_null(strstr(check("apiVersion: pdsim.io/v1alpha1\nkind: PDSimulation\nmetadata: "
                                 "{name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\n"
                                 "spec: {model: m}\n"),
                           "at most 53 characters"));
    assert_non_null(strstr(check("apiVersion: pdsim.io/v1alpha1\nkind: PDSimulation\nmetadata: "
                                 "{name: Bad_Name}\nspec: {model: m}\n"),
                           "metadata.name: \"Bad_Name\" must be lower-case"));
    assert_string_equal(check("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n"),
                        "apiVersion: must be pdsim.io/v1alpha1, not \"v1\"");
    assert_string_equal(check("apiVersion: pdsim.io/v1alpha1\nkind: PDSimulation\nspec: {}\n"),
                        "metadata.name: Required value");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_examples),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
