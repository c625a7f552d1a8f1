/* k8s_client against the fake API server (tests/support/fake_apiserver.py):
 * requests, Status errors, token rotation after a 401, watches (events,
 * resourceVersion, bookmarks, 410, stop), and an unreachable server. */
#include "controller/k8s_client.h"
#include "fake_k8s.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static struct fake_k8s fk;
static struct k8s_client *cl;

static void write_file(const char *name, const char *text)
{
    assert_int_equal(fake_k8s_write(&fk, name, text), 0);
}

static int setup(void **state)
{
    (void)state;
    if (fake_k8s_start(&fk, "--history 20 --bookmark-interval 0.2", "t1") < 0)
        return -1;
    cl = fk.client;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return fake_k8s_stop(&fk);
}

#define PD "/apis/pdsim.io/v1alpha1/namespaces/default/pdsimulations"

static long req(const char *method, const char *path, const char *ctype, const char *body,
                struct k8s_resp *r)
{
    char err[512] = "";
    if (k8s_request(cl, method, path, ctype, body, r, err, sizeof(err)) < 0)
        fail_msg("%s %s: %s", method, path, err);
    return r->status;
}

static void create(const char *name)
{
    char body[256];
    struct k8s_resp r;
    k8s_resp_init(&r);
    snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"%s\"},\"spec\":{\"model\":\"m\"}}",
             name);
    assert_int_equal(req("POST", PD, NULL, body, &r), 201);
    k8s_resp_release(&r);
}

static void test_requests_and_errors(void **state)
{
    (void)state;
    struct k8s_resp r;
    k8s_resp_init(&r);
    create("a");
    assert_int_equal(req("GET", PD "/a", NULL, NULL, &r), 200);
    assert_non_null(strstr(buf_str(&r.body), "\"uid\""));
    assert_int_equal(req("GET", PD "/nope", NULL, NULL, &r), 404);
    assert_string_equal(k8s_status_message(&r), "pdsimulations \"nope\" not found");
    assert_int_equal(req("POST", PD, NULL, "{\"metadata\":{\"name\":\"a\"}}", &r), 409);
    const char *apply = "{\"apiVersion\":\"pdsim.io/v1alpha1\",\"kind\":\"PDSimulation\","
                        "\"metadata\":{\"name\":\"b\"},\"spec\":{\"model\":\"m\"}}";
    assert_int_equal(req("PATCH", PD "/b?fieldManager=pdsim-controller&force=true",
                         "application/apply-patch+yaml", apply, &r),
                     201);
    assert_true(k8s_client_requests(cl, "GET", 404) == 1);
    assert_true(k8s_client_requests(cl, "GET", 200) >= 1);
    assert_true(k8s_client_requests(cl, "POST", 409) == 1);
    assert_true(k8s_client_requests(cl, "PATCH", 201) == 1);
    k8s_resp_release(&r);
}

/* A 429 with Retry-After: 1 is waited out and sent again; a plain 500 (no
 * Retry-After) is the caller's to handle. */
static void test_retry_after(void **state)
{
    (void)state;
    struct k8s_resp r;
    k8s_resp_init(&r);
    unsigned long long before = k8s_client_retries(cl);
    assert_int_equal(req("POST", "/fake/faults", NULL, "{\"fail\":{\"code\":429,\"count\":2}}", &r),
                     200);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(req("GET", PD "/a", NULL, NULL, &r), 200);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_int_equal(k8s_client_retries(cl) - before, 2);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    assert_true(s >= 1.9 && s < 10); /* two waits of Retry-After: 1 */
    assert_int_equal(req("POST", "/fake/faults", NULL, "{\"fail\":{\"code\":500,\"count\":1}}", &r),
                     200);
    assert_int_equal(req("GET", PD "/a", NULL, NULL, &r), 500);
    assert_int_equal(r.retry_after, -1);
    assert_int_equal(k8s_client_retries(cl) - before, 2);
    k8s_resp_release(&r);
}

static void test_token_rotation(void **state)
{
    (void)state;
    struct k8s_resp r;
    k8s_resp_init(&r);
    /* The server now wants t2; the file has it, but the client read t1 < 60 s ago. */
    assert_int_equal(req("POST", "/fake/token", NULL, "{\"token\":\"t2\"}", &r), 200);
    write_file("token", "t2\n");
    unsigned long long before = k8s_client_requests(cl, "GET", 401);
    assert_int_equal(req("GET", PD, NULL, NULL, &r), 200); /* 401, re-read, retried */
    assert_int_equal(k8s_client_requests(cl, "GET", 401), before + 1);
    k8s_resp_release(&r);
}

struct seen {
    int added;
};

static int on_event(void *arg, enum k8s_event t, const cJSON *obj)
{
    (void)obj;
    if (t == K8S_ADDED)
        ((struct seen *)arg)->added++;
    return 0;
}

static void *create_later(void *arg)
{
    (void)arg;
    struct timespec d = {0, 300 * 1000000L};
    nanosleep(&d, NULL);
    char body[128];
    struct k8s_resp r;
    k8s_resp_init(&r);
    for (int i = 0; i < 3; i++) {
        char err[256];
        snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"w%d\"},\"spec\":{}}", i);
        k8s_request(cl, "POST", PD, NULL, body, &r, err, sizeof(err));
    }
    k8s_resp_release(&r);
    return NULL;
}

static void test_watch(void **state)
{
    (void)state;
    struct k8s_resp r;
    k8s_resp_init(&r);
    assert_int_equal(req("GET", PD, NULL, NULL, &r), 200);
    cJSON *list = cJSON_Parse(buf_str(&r.body));
    char rv[64], path[256], err[512] = "";
    snprintf(
        rv, sizeof(rv), "%s",
        cJSON_GetObjectItem(cJSON_GetObjectItem(list, "metadata"), "resourceVersion")->valuestring);
    cJSON_Delete(list);

    struct k8s_watch_dec d;
    struct seen s = {0};
    k8s_watch_dec_init(&d, 1 << 20);
    pthread_t t;
    pthread_create(&t, NULL, create_later, NULL);
    snprintf(path, sizeof(path),
             PD "?watch=1&resourceVersion=%s&timeoutSeconds=2&allowWatchBookmarks=true", rv);
    assert_int_equal(k8s_watch(cl, path, &d, on_event, &s, NULL, err, sizeof(err)), 0);
    pthread_join(t, NULL);
    assert_int_equal(s.added, 3);
    assert_true(atoll(d.rv) > atoll(rv));
    k8s_watch_dec_release(&d);

    /* 30 creates push rv out of the 20-event history: 410 Expired. */
    for (int i = 0; i < 30; i++) {
        char name[32];
        snprintf(name, sizeof(name), "x%d", i);
        create(name);
    }
    k8s_watch_dec_init(&d, 1 << 20);
    assert_int_equal(k8s_watch(cl, path, &d, on_event, &s, NULL, err, sizeof(err)),
                     K8S_WATCH_EXPIRED);
    k8s_watch_dec_release(&d);
    k8s_resp_release(&r);
}

static atomic_bool stop_flag;

static void *stop_later(void *arg)
{
    (void)arg;
    struct timespec d = {0, 300 * 1000000L};
    nanosleep(&d, NULL);
    atomic_store(&stop_flag, true);
    return NULL;
}

static void test_watch_stop_and_unreachable(void **state)
{
    (void)state;
    struct k8s_watch_dec d;
    char err[512] = "";
    k8s_watch_dec_init(&d, 1 << 20);
    pthread_t t;
    pthread_create(&t, NULL, stop_later, NULL);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(k8s_watch(cl, PD "?watch=1&timeoutSeconds=30", &d, NULL, NULL, &stop_flag, err,
                               sizeof(err)),
                     0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    pthread_join(t, NULL);
    assert_true(b.tv_sec - a.tv_sec < 5); /* stopped, not the 30 s timeout */
    k8s_watch_dec_release(&d);

    fake_k8s_kill(&fk);
    struct k8s_resp r;
    k8s_resp_init(&r);
    assert_int_equal(k8s_request(cl, "GET", PD, NULL, NULL, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "GET " PD));
    k8s_resp_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_and_errors),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_token_rotation),
        cmocka_unit_test(test_watch),
        cmocka_unit_test(test_watch_stop_and_unreachable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
