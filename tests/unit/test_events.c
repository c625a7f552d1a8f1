/* events against the fake API server: an Event is created with count 1, a
 * repeat of the same event raises its count instead of creating another, a
 * different message is another Event, and a repeat whose Event has expired
 * (deleted) creates a new one. */
#include "controller/events.h"
#include "fake_k8s.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static struct fake_k8s fk;

static int setup(void **state)
{
    (void)state;
    return fake_k8s_start(&fk, "", NULL);
}

static int teardown(void **state)
{
    (void)state;
    return fake_k8s_stop(&fk);
}

#define EVENTS "/api/v1/namespaces/default/events"

/* The Events in the namespace (caller deletes). */
static cJSON *list_events(void)
{
    struct k8s_resp r;
    char err[256] = "";
    k8s_resp_init(&r);
    assert_int_equal(k8s_request(fk.client, "GET", EVENTS, NULL, NULL, &r, err, sizeof(err)), 0);
    assert_int_equal(r.status, 200);
    cJSON *l = cJSON_Parse(buf_str(&r.body));
    k8s_resp_release(&r);
    return l;
}

static const cJSON *find(const cJSON *list, const char *message)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(list, "items"))
    {
        if (strcmp(cJSON_GetObjectItem(e, "message")->valuestring, message) == 0)
            return e;
    }
    return NULL;
}

static void test_aggregation(void **state)
{
    (void)state;
    cJSON *obj = cJSON_Parse("{\"apiVersion\":\"pdsim.io/v1alpha1\",\"kind\":\"PDSimulation\","
                             "\"metadata\":{\"name\":\"a\",\"namespace\":\"default\","
                             "\"uid\":\"u-1\",\"resourceVersion\":\"7\"}}");
    struct recorder *rec = recorder_new(fk.client, "pdsim-controller", "test_1");
    recorder_event(rec, obj, "Normal", "Created", "Created %s", "Deployment a-p");
    recorder_event(rec, obj, "Normal", "Created", "Created %s", "Deployment a-p");
    recorder_event(rec, obj, "Normal", "Created", "Created %s", "Deployment a-p");
    recorder_event(rec, obj, "Warning", "NotReady", "decode: %d of %d", 0, 1);
    unsigned long long created, aggregated, failed;
    recorder_counts(rec, &created, &aggregated, &failed);
    assert_true(created == 2 && aggregated == 2 && failed == 0);

    cJSON *l = list_events();
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(l, "items")), 2);
    const cJSON *e = find(l, "Created Deployment a-p");
    assert_non_null(e);
    assert_int_equal(cJSON_GetObjectItem(e, "count")->valueint, 3);
    assert_string_equal(cJSON_GetObjectItem(e, "type")->valuestring, "Normal");
    const cJSON *io = cJSON_GetObjectItem(e, "involvedObject");
    assert_string_equal(cJSON_GetObjectItem(io, "uid")->valuestring, "u-1");
    assert_string_equal(cJSON_GetObjectItem(io, "kind")->valuestring, "PDSimulation");
    assert_string_equal(cJSON_GetObjectItem(e, "reportingInstance")->valuestring, "test_1");
    assert_non_null(
        strstr(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "metadata"), "name")->valuestring, "a."));
    e = find(l, "decode: 0 of 1");
    assert_string_equal(cJSON_GetObjectItem(e, "type")->valuestring, "Warning");

    /* The Event expires (deleted); the next repeat creates a new one. */
    char path[512], err[256] = "";
    snprintf(path, sizeof(path), EVENTS "/%s",
             cJSON_GetObjectItem(cJSON_GetObjectItem(find(l, "Created Deployment a-p"), "metadata"),
                                 "name")
                 ->valuestring);
    struct k8s_resp r;
    k8s_resp_init(&r);
    assert_int_equal(k8s_request(fk.client, "DELETE", path, NULL, NULL, &r, err, sizeof(err)), 0);
    assert_int_equal(r.status, 200);
    k8s_resp_release(&r);
    cJSON_Delete(l);
    recorder_event(rec, obj, "Normal", "Created", "Created %s", "Deployment a-p");
    l = list_events();
    e = find(l, "Created Deployment a-p");
    assert_non_null(e);
    assert_int_equal(cJSON_GetObjectItem(e, "count")->valueint, 1);
    recorder_counts(rec, &created, &aggregated, &failed);
    assert_true(created == 3 && aggregated == 2 && failed == 0);
    cJSON_Delete(l);

    /* An unreachable server: counted as failed, nothing crashes. */
    fake_k8s_kill(&fk);
    recorder_event(rec, obj, "Normal", "Other", "x");
    recorder_event(rec, obj, "Normal", "Created", "Created %s", "Deployment a-p");
    recorder_counts(rec, &created, &aggregated, &failed);
    assert_int_equal(failed, 2);
    recorder_free(rec);
    cJSON_Delete(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aggregation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
