#include "common/prom.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static const double bounds[] = {0.1, 1, 2.5};

static void test_hist_text(void **state)
{
    (void)state;
    struct prom_hist h;
    struct buf b;
    prom_hist_init(&h, bounds, 3);
    buf_init(&b, BUF_NOCAP);
    prom_hist_observe(&h, 0.05);
    prom_hist_observe(&h, 0.1); /* le is inclusive */
    prom_hist_observe(&h, 2);
    prom_hist_observe(&h, 99);
    assert_int_equal(prom_hist_count(&h), 4);
    assert_int_equal(prom_write_hist(&b, "x_seconds", "m=\"a\"", &h), 0);
    assert_string_equal(buf_str(&b), "x_seconds_bucket{m=\"a\",le=\"0.1\"} 2\n"
                                     "x_seconds_bucket{m=\"a\",le=\"1\"} 2\n"
                                     "x_seconds_bucket{m=\"a\",le=\"2.5\"} 3\n"
                                     "x_seconds_bucket{m=\"a\",le=\"+Inf\"} 4\n"
                                     "x_seconds_sum{m=\"a\"} 101.15\n"
                                     "x_seconds_count{m=\"a\"} 4\n");
    buf_reset(&b);
    assert_int_equal(prom_write_hist(&b, "y", "", &h), 0);
    assert_non_null(strstr(buf_str(&b), "y_bucket{le=\"+Inf\"} 4\ny_sum 101.15\ny_count 4\n"));
    buf_release(&b);
    prom_hist_release(&h);
}

/* The same lines from per-bucket counts; counts past the bounds land in +Inf. */
static void test_hist_counts(void **state)
{
    (void)state;
    struct buf b;
    const uint64_t counts[] = {2, 0, 1, 1, 3};
    buf_init(&b, BUF_NOCAP);
    assert_int_equal(prom_write_hist_counts(&b, "x", "m=\"a\"", bounds, 3, counts, 5, 9.5), 0);
    assert_string_equal(buf_str(&b), "x_bucket{m=\"a\",le=\"0.1\"} 2\n"
                                     "x_bucket{m=\"a\",le=\"1\"} 2\n"
                                     "x_bucket{m=\"a\",le=\"2.5\"} 3\n"
                                     "x_bucket{m=\"a\",le=\"+Inf\"} 7\n"
                                     "x_sum{m=\"a\"} 9.5\n"
                                     "x_count{m=\"a\"} 7\n");
    buf_reset(&b);
    assert_int_equal(prom_write_hist_counts(&b, "y", "", bounds, 3, counts, 1, 0.2), 0);
    assert_string_equal(buf_str(&b), "y_bucket{le=\"0.1\"} 2\ny_bucket{le=\"1\"} 2\n"
                                     "y_bucket{le=\"2.5\"} 2\ny_bucket{le=\"+Inf\"} 2\n"
                                     "y_sum 0.2\ny_count 2\n");
    buf_release(&b);
}

static void test_samples_and_escaping(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_NOCAP);
    assert_int_equal(prom_write_header(&b, "g", "Help text.", "gauge"), 0);
    assert_int_equal(prom_write_sample(&b, "g", "", 0.3), 0);
    assert_int_equal(prom_write_sample(&b, "g", "a=\"b\"", 1795526076), 0);
    assert_int_equal(prom_escape_label(&b, "q\"b\\n\n"), 0);
    assert_string_equal(buf_str(&b), "# HELP g Help text.\n# TYPE g gauge\ng 0.3\n"
                                     "g{a=\"b\"} 1795526076\nq\\\"b\\\\n\\n");
    buf_release(&b);
}

static struct prom_hist shared;

static void *observer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100000; i++)
        prom_hist_observe(&shared, (i % 4) * 1.0);
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    pthread_t t[4];
    prom_hist_init(&shared, bounds, 3);
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, observer, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(prom_hist_count(&shared), 400000);
    struct buf b;
    buf_init(&b, BUF_NOCAP);
    assert_int_equal(prom_write_hist(&b, "c", "", &shared), 0);
    /* values 0,1,2,3 each 100000 times: sum 600000 exactly (CAS lost no update) */
    assert_non_null(strstr(buf_str(&b), "c_sum 600000\nc_count 400000\n"));
    assert_non_null(strstr(buf_str(&b), "c_bucket{le=\"1\"} 200000\n"));
    buf_release(&b);
    prom_hist_release(&shared);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_text),
        cmocka_unit_test(test_hist_counts),
        cmocka_unit_test(test_samples_and_escaping),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
