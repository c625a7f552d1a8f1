#include "controller/workqueue.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_dedup_and_fifo(void **state)
{
    (void)state;
    struct wq *q = wq_new(0.005, 1000);
    char key[64];
    wq_add(q, "ns/a");
    wq_add(q, "ns/b");
    wq_add(q, "ns/a"); /* already waiting: no second copy */
    assert_int_equal(wq_len(q), 2);
    assert_true(wq_get(q, key, sizeof(key)));
    assert_string_equal(key, "ns/a");
    assert_true(wq_get(q, key, sizeof(key)));
    assert_string_equal(key, "ns/b");
    assert_int_equal(wq_len(q), 0);
    wq_done(q, "ns/a");
    wq_done(q, "ns/b");
    wq_free(q);
}

/* A key added while it is processed is not handed to anyone until done. */
static void test_never_concurrent(void **state)
{
    (void)state;
    struct wq *q = wq_new(0.005, 1000);
    char key[64];
    wq_add(q, "ns/a");
    assert_true(wq_get(q, key, sizeof(key)));
    wq_add(q, "ns/a");
    wq_add(q, "ns/a");
    assert_int_equal(wq_len(q), 0);
    wq_add(q, "ns/b");
    assert_true(wq_get(q, key, sizeof(key)));
    assert_string_equal(key, "ns/b");
    wq_done(q, "ns/a"); /* now it comes back, once */
    assert_int_equal(wq_len(q), 1);
    assert_true(wq_get(q, key, sizeof(key)));
    assert_string_equal(key, "ns/a");
    assert_int_equal(wq_len(q), 0);
    wq_free(q);
}

static void test_add_after_and_rate_limit(void **state)
{
    (void)state;
    struct wq *q = wq_new(0.05, 0.2);
    char key[64];
    double t0 = now_s();
    wq_add_after(q, "ns/late", 0.1);
    wq_add_after(q, "ns/late", 5.0); /* the earlier time wins */
    assert_int_equal(wq_len(q), 0);
    assert_true(wq_get(q, key, sizeof(key)));
    double took = now_s() - t0;
    assert_true(took >= 0.095 && took < 2.0);
    wq_done(q, key);

    /* 50 ms, 100 ms, 200 ms, then capped at 200 ms; forget resets. */
    static const double want[] = {0.05, 0.1, 0.2, 0.2};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(wq_failures(q, "ns/x"), i);
        t0 = now_s();
        wq_add_rate_limited(q, "ns/x");
        assert_true(wq_get(q, key, sizeof(key)));
        took = now_s() - t0;
        if (took < want[i] - 0.005 || took > want[i] + 1.0)
            fail_msg("retry %d waited %.3f s, want %.3f", i, took, want[i]);
        wq_done(q, key);
    }
    wq_forget(q, "ns/x");
    assert_int_equal(wq_failures(q, "ns/x"), 0);
    wq_free(q);
}

static void *getter(void *arg)
{
    char key[64];
    return wq_get(arg, key, sizeof(key)) ? (void *)1 : NULL;
}

static void test_shutdown(void **state)
{
    (void)state;
    struct wq *q = wq_new(0.005, 1000);
    pthread_t t;
    pthread_create(&t, NULL, getter, q);
    struct timespec pause = {0, 50 * 1000000L};
    nanosleep(&pause, NULL);
    wq_shutdown(q); /* wakes the blocked getter, which gets nothing */
    void *got;
    pthread_join(t, &got);
    assert_null(got);
    wq_free(q);

    q = wq_new(0.005, 1000);
    wq_add(q, "ns/a");
    wq_shutdown(q);
    wq_add(q, "ns/b"); /* ignored after shutdown */
    char key[64];
    assert_false(wq_get(q, key, sizeof(key))); /* queued keys are dropped, not handed out */
    assert_int_equal(wq_len(q), 1);
    wq_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedup_and_fifo),
        cmocka_unit_test(test_never_concurrent),
        cmocka_unit_test(test_add_after_and_rate_limit),
        cmocka_unit_test(test_shutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
