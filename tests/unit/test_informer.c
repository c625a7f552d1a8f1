/* informer against the fake API server: initial list, watch events, resume
 * after dropped and timed-out watches, relist after 410 (with DELETED for
 * objects that vanished meanwhile), retries while the server fails. */
#include "controller/informer.h"
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

#define PD "/apis/pdsim.io/v1alpha1/namespaces/default/pdsimulations"

static struct fake_k8s fk;
static struct k8s_client *cl;

/* What the handler saw, as "A:name", "M:name", "D:name". */
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
static char seen[8192];

static void handler(void *arg, enum k8s_event t, const cJSON *obj)
{
    (void)arg;
    const cJSON *name = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "name");
    pthread_mutex_lock(&seen_mu);
    size_t n = strlen(seen);
    snprintf(seen + n, sizeof(seen) - n, "%c:%s ",
             t == K8S_ADDED      ? 'A'
             : t == K8S_MODIFIED ? 'M'
                                 : 'D',
             name ? name->valuestring : "?");
    pthread_mutex_unlock(&seen_mu);
}

static bool seen_has(const char *s)
{
    pthread_mutex_lock(&seen_mu);
    bool yes = strstr(seen, s) != NULL;
    pthread_mutex_unlock(&seen_mu);
    return yes;
}

static void wait_for(const char *s)
{
    for (int i = 0; i < 200 && !seen_has(s); i++) {
        struct timespec d = {0, 50 * 1000000L};
        nanosleep(&d, NULL);
    }
    if (!seen_has(s))
        fail_msg("never saw \"%s\"; saw: %s", s, seen);
}

static void call(const char *method, const char *path, const char *body)
{
    struct k8s_resp r;
    char err[512] = "";
    const char *ctype = strcmp(method, "PATCH") == 0 ? "application/merge-patch+json" : NULL;
    k8s_resp_init(&r);
    if (k8s_request(cl, method, path, ctype, body, &r, err, sizeof(err)) < 0 || r.status >= 300)
        fail_msg("%s %s: %ld %s", method, path, r.status, err);
    k8s_resp_release(&r);
}

static void create(const char *name)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"metadata\":{\"name\":\"%s\"},\"spec\":{\"model\":\"m\"}}",
             name);
    call("POST", PD, body);
}

static int setup(void **state)
{
    (void)state;
    if (fake_k8s_start(&fk, "--history 10 --bookmark-interval 0.2", NULL) < 0)
        return -1;
    cl = fk.client;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return fake_k8s_stop(&fk);
}

static void test_list_watch_resume_relist(void **state)
{
    (void)state;
    create("before");
    call("POST", PD,
         "{\"metadata\":{\"name\":\"mf\",\"managedFields\":[{\"manager\":\"kubectl\"}]},"
         "\"spec\":{\"model\":\"m\"}}");
    struct informer_opts o = {.path = PD,
                              .backoff_init_s = 0.05,
                              .backoff_max_s = 0.5,
                              .watch_timeout_min_s = 1,
                              .watch_timeout_max_s = 2};
    struct informer *inf = informer_start(cl, &o, handler, NULL);
    wait_for("A:before");
    assert_true(informer_synced(inf));
    cJSON *got = informer_get(inf, "default", "before");
    assert_non_null(got);
    cJSON_Delete(got);
    /* The store keeps objects without managedFields, and everything else. */
    got = informer_get(inf, "default", "mf");
    assert_non_null(got);
    const cJSON *md = cJSON_GetObjectItem(got, "metadata");
    assert_null(cJSON_GetObjectItem(md, "managedFields"));
    assert_string_equal(cJSON_GetObjectItem(md, "name")->valuestring, "mf");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(got, "spec"), "model")->valuestring,
                        "m");
    cJSON_Delete(got);

    create("live");
    wait_for("A:live");
    call("PATCH", PD "/live", "{\"spec\":{\"model\":\"m2\"}}"); /* merge patch */
    wait_for("M:live");

    /* Watches end by timeout (1-2 s) and are resumed without a relist. */
    sleep(3);
    assert_true(informer_watch_restarts(inf) >= 1);
    assert_int_equal(informer_relists(inf), 0);
    create("after-timeout");
    wait_for("A:after-timeout");

    /* A dropped watch resumes too. */
    call("POST", "/fake/faults", "{\"drop_watches\":true}");
    create("after-drop");
    wait_for("A:after-drop");

    /* A restarted server (history wiped) answers 410: relist, and an object
     * deleted meanwhile is reported DELETED. */
    call("POST", "/fake/faults",
         "{\"fail\":{\"code\":500,\"count\":3,\"only_watch\":true},\"drop_watches\":true}");
    call("DELETE", PD "/before", NULL); /* while the informer cannot watch */
    call("POST", "/fake/faults", "{\"wipe_history\":true}");
    wait_for("D:before");
    for (int i = 0; i < 100 && informer_relists(inf) == 0; i++) {
        struct timespec d = {0, 50 * 1000000L};
        nanosleep(&d, NULL);
    }
    assert_true(informer_relists(inf) >= 1);
    assert_null(informer_get(inf, "default", "before"));
    assert_int_equal(informer_len(inf), 4); /* mf, live, after-timeout, after-drop */
    create("after-relist");
    wait_for("A:after-relist");
    informer_stop(inf); /* ends a watch at once */
}

/* 0.8 s doubling to 30 s, each wait jittered up to twice its step, never over 30 s. */
static void test_backoff(void **state)
{
    (void)state;
    double delay = 0.8, want[] = {0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30, 30};
    for (int i = 0; i < 8; i++) {
        double step = delay;
        assert_true(step > want[i] - 1e-9 && step < want[i] + 1e-9);
        assert_true(backoff_step(&(double){step}, 30, 0) == step); /* no jitter */
        double lo = backoff_step(&(double){step}, 30, 0.5);
        assert_true(lo > step * 1.5 - 1e-9 || lo == 30);
        assert_true(backoff_step(&delay, 30, 1.0) <= 30);
    }
    assert_true(delay == 30);
}

static void test_label_selector(void **state)
{
    (void)state;
    call("POST", PD,
         "{\"metadata\":{\"name\":\"sel\",\"labels\":{\"app.kubernetes.io/managed-by\":"
         "\"pdsim-controller\"}},\"spec\":{}}");
    struct informer_opts o = {.path = PD,
                              .label_selector = "app.kubernetes.io/managed-by=pdsim-controller",
                              .watch_timeout_min_s = 5};
    struct informer *inf = informer_start(cl, &o, handler, NULL);
    wait_for("A:sel");
    for (int i = 0; i < 100 && !informer_synced(inf); i++)
        usleep(20000);
    assert_int_equal(informer_len(inf), 1);
    informer_stop(inf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_watch_resume_relist),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_label_selector),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
