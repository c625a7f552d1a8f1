#include "controller/pd_status.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static cJSON *cr(int generation)
{
    char t[256];
    snprintf(t, sizeof(t),
             "{\"metadata\":{\"name\":\"vllm-sim\",\"namespace\":\"default\",\"generation\":%d},"
             "\"spec\":{\"model\":\"m\",\"service\":{\"port\":8000}}}",
             generation);
    return cJSON_Parse(t);
}

/* A Deployment with spec.replicas want, at generation gen, whose status says
 * observed/updated/current/available. */
static cJSON *dep(int want, int gen, int observed, int updated, int current, int available,
                  const char *progressing_reason)
{
    char t[1024];
    snprintf(t, sizeof(t),
             "{\"metadata\":{\"generation\":%d},\"spec\":{\"replicas\":%d},\"status\":{"
             "\"observedGeneration\":%d,\"replicas\":%d,\"updatedReplicas\":%d,"
             "\"readyReplicas\":%d,\"availableReplicas\":%d,\"conditions\":[{\"type\":"
             "\"Progressing\",\"status\":\"%s\",\"reason\":\"%s\",\"message\":\"m\"}]}}",
             gen, want, observed, current, updated, available, available,
             strcmp(progressing_reason, "ProgressDeadlineExceeded") == 0 ? "False" : "True",
             progressing_reason);
    return cJSON_Parse(t);
}

static const cJSON *cond(const cJSON *status, const char *type)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(status, "conditions"))
    {
        if (strcmp(cJSON_GetObjectItem(c, "type")->valuestring, type) == 0)
            return c;
    }
    fail_msg("no condition %s", type);
    return NULL;
}

static const char *field(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItem(o, k)->valuestring;
}

static void test_pending_then_ready(void **state)
{
    (void)state;
    cJSON *c = cr(1);
    cJSON *s = pd_status(c, NULL, NULL, NULL, NULL, NULL, "2026-01-01T00:00:00Z");
    assert_string_equal(field(s, "phase"), "Pending");
    assert_string_equal(field(cond(s, "Ready"), "status"), "False");
    assert_string_equal(field(cond(s, "PrefillReady"), "reason"), "DeploymentMissing");
    assert_string_equal(field(s, "endpoint"), "vllm-sim-d-service.default.svc:8000");
    assert_string_equal(field(s, "prefillEndpoint"), "vllm-sim-p-service.default.svc:8000");

    cJSON *p = dep(1, 1, 1, 1, 1, 1, "NewReplicaSetAvailable");
    cJSON *d = dep(2, 1, 1, 2, 2, 2, "NewReplicaSetAvailable");
    cJSON *s2 = pd_status(c, p, d, s, NULL, NULL, "2026-01-01T00:01:00Z");
    assert_string_equal(field(s2, "phase"), "Ready");
    const cJSON *ready = cond(s2, "Ready");
    assert_string_equal(field(ready, "status"), "True");
    assert_string_equal(field(ready, "lastTransitionTime"), "2026-01-01T00:01:00Z"); /* flipped */
    /* Degraded stayed False: its transition time is the first one. */
    assert_string_equal(field(cond(s2, "Degraded"), "lastTransitionTime"), "2026-01-01T00:00:00Z");
    assert_string_equal(field(cJSON_GetObjectItem(s2, "decode"), "summary"), "2/2");
    assert_int_equal(cJSON_GetObjectItem(s2, "observedGeneration")->valueint, 1);

    /* Recomputed later with nothing changed: equal, so no status write is due. */
    cJSON *s3 = pd_status(c, p, d, s2, NULL, NULL, "2026-01-01T00:05:00Z");
    assert_true(cJSON_Compare(s2, s3, 1));
    cJSON_Delete(s);
    cJSON_Delete(s2);
    cJSON_Delete(s3);
    cJSON_Delete(p);
    cJSON_Delete(d);
    cJSON_Delete(c);
}

/* kubectl's rollout rules, not readyReplicas alone. */
static void test_rollout_rules(void **state)
{
    (void)state;
    cJSON *c = cr(2);
    cJSON *ok = dep(1, 1, 1, 1, 1, 1, "NewReplicaSetAvailable");
    static const struct {
        int want, gen, observed, updated, current, available;
        const char *reason;
    } cases[] = {
        {2, 3, 2, 2, 2, 2, "RolloutPending"},       /* generation not observed yet */
        {3, 1, 1, 2, 3, 3, "RollingOut"},           /* not all updated */
        {2, 1, 1, 2, 3, 2, "RollingOut"},           /* old replicas still there */
        {2, 1, 1, 2, 2, 1, "ReplicasNotAvailable"}, /* updated but not available */
        {0, 1, 1, 0, 0, 0, "RolloutComplete"},      /* scaled to zero is complete */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *d = dep(cases[i].want, cases[i].gen, cases[i].observed, cases[i].updated,
                       cases[i].current, cases[i].available, "ReplicaSetUpdated");
        cJSON *s = pd_status(c, ok, d, NULL, NULL, NULL, "t");
        const char *reason = field(cond(s, "DecodeReady"), "reason");
        if (strcmp(reason, cases[i].reason) != 0)
            fail_msg("case %zu: reason %s, want %s", i, reason, cases[i].reason);
        bool complete = strcmp(cases[i].reason, "RolloutComplete") == 0;
        assert_string_equal(field(s, "phase"), complete ? "Ready" : "Progressing");
        assert_string_equal(field(cond(s, "Progressing"), "status"), complete ? "False" : "True");
        cJSON_Delete(s);
        cJSON_Delete(d);
    }
    cJSON_Delete(ok);
    cJSON_Delete(c);
}

static void test_degraded(void **state)
{
    (void)state;
    cJSON *c = cr(1);
    cJSON *ok = dep(1, 1, 1, 1, 1, 1, "NewReplicaSetAvailable");
    cJSON *stuck = dep(1, 1, 1, 1, 1, 0, "ProgressDeadlineExceeded");
    cJSON *s = pd_status(c, stuck, ok, NULL, NULL, NULL, "t");
    assert_string_equal(field(s, "phase"), "Degraded");
    assert_string_equal(field(cond(s, "Degraded"), "status"), "True");
    assert_string_equal(field(cond(s, "Degraded"), "reason"), "ProgressDeadlineExceeded");
    assert_string_equal(field(cond(s, "Progressing"), "status"), "False");
    cJSON_Delete(s);
    s = pd_status(c, ok, ok, NULL, "InvalidSpec", "spec.simulator.port: set by the controller",
                  "t");
    assert_string_equal(field(s, "phase"), "Degraded");
    assert_string_equal(field(cond(s, "Ready"), "reason"), "InvalidSpec");
    assert_string_equal(field(cond(s, "Degraded"), "message"),
                        "spec.simulator.port: set by the controller");
    cJSON_Delete(s);
    cJSON_Delete(stuck);
    cJSON_Delete(ok);
    cJSON_Delete(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pending_then_ready),
        cmocka_unit_test(test_rollout_rules),
        cmocka_unit_test(test_degraded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
