#include "controller/k8s_watch.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

struct seen {
    int n;
    enum k8s_event types[16];
    char names[16][32];
};

static int record(void *arg, enum k8s_event t, const cJSON *obj)
{
    struct seen *s = arg;
    const cJSON *name =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "name");
    s->types[s->n] = t;
    snprintf(s->names[s->n], sizeof(s->names[0]), "%s",
             cJSON_IsString(name) ? name->valuestring : "");
    s->n++;
    return 0;
}

static const char STREAM[] =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"10\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"11\"}}}"
    "\r\n"
    "\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"PDSimulation\",\"metadata\":{"
    "\"resourceVersion\":\"15\"}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"b\",\"resourceVersion\":\"16\"}}}"
    "\n";

/* Every way of cutting the stream into two or three chunks, and one byte at a
 * time, gives the same events. */
static void test_any_split(void **state)
{
    (void)state;
    size_t n = strlen(STREAM);
    {
        struct k8s_watch_dec d;
        struct seen s = {0};
        k8s_watch_dec_init(&d, 1 << 20);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(k8s_watch_dec_feed(&d, STREAM + i, 1, record, &s), 0);
        assert_int_equal(s.n, 3);
        assert_string_equal(s.names[2], "b");
        assert_string_equal(d.rv, "16");
        k8s_watch_dec_release(&d);
    }
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b++) {
            struct k8s_watch_dec d;
            struct seen s = {0};
            k8s_watch_dec_init(&d, 1 << 20);
            assert_int_equal(k8s_watch_dec_feed(&d, STREAM, a, record, &s), 0);
            assert_int_equal(k8s_watch_dec_feed(&d, STREAM + a, b - a, record, &s), 0);
            assert_int_equal(k8s_watch_dec_feed(&d, STREAM + b, n - b, record, &s), 0);
            assert_int_equal(s.n, 3); /* the bookmark is not passed on */
            assert_int_equal(s.types[0], K8S_ADDED);
            assert_int_equal(s.types[1], K8S_MODIFIED);
            assert_int_equal(s.types[2], K8S_DELETED);
            assert_string_equal(s.names[2], "b");
            assert_string_equal(d.rv, "16");
            k8s_watch_dec_release(&d);
        }
    }
}

static void test_bookmark_moves_rv(void **state)
{
    (void)state;
    struct k8s_watch_dec d;
    struct seen s = {0};
    k8s_watch_dec_init(&d, 1 << 20);
    const char *bm =
        "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"99\"}}}\n";
    assert_int_equal(k8s_watch_dec_feed(&d, bm, strlen(bm), record, &s), 0);
    assert_int_equal(s.n, 0);
    assert_string_equal(d.rv, "99");
    k8s_watch_dec_release(&d);
}

static void test_errors(void **state)
{
    (void)state;
    struct k8s_watch_dec d;
    struct seen s = {0};
    const char *expired =
        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
        "\"status\":\"Failure\",\"message\":\"too old resource version: 123 (456)\","
        "\"reason\":\"Expired\",\"code\":410}}\n"
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"never\"}}}\n";
    k8s_watch_dec_init(&d, 1 << 20);
    assert_int_equal(k8s_watch_dec_feed(&d, expired, strlen(expired), record, &s),
                     K8S_WATCH_EXPIRED);
    assert_int_equal(s.n, 1); /* the ERROR, nothing after it */
    assert_int_equal(s.types[0], K8S_ERROR);
    assert_string_equal(d.error, "too old resource version: 123 (456)");
    k8s_watch_dec_release(&d);

    const char *other = "{\"type\":\"ERROR\",\"object\":{\"code\":500,\"message\":\"boom\"}}\n";
    k8s_watch_dec_init(&d, 1 << 20);
    assert_int_equal(k8s_watch_dec_feed(&d, other, strlen(other), NULL, NULL), K8S_WATCH_FAILED);
    k8s_watch_dec_release(&d);

    static const char *const bad[] = {"not json\n", "{\"type\":\"ADDED\"}\n",
                                      "{\"type\":\"EXPLODED\",\"object\":{}}\n", "[1]\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        k8s_watch_dec_init(&d, 1 << 20);
        assert_int_equal(k8s_watch_dec_feed(&d, bad[i], strlen(bad[i]), NULL, NULL), -EPROTO);
        k8s_watch_dec_release(&d);
    }

    k8s_watch_dec_init(&d, 16); /* an event larger than the cap, split across feeds */
    assert_int_equal(k8s_watch_dec_feed(&d, STREAM, 10, NULL, NULL), 0);
    assert_int_equal(k8s_watch_dec_feed(&d, STREAM + 10, 10, NULL, NULL), -E2BIG);
    k8s_watch_dec_release(&d);
}

static int stop_at_second(void *arg, enum k8s_event t, const cJSON *obj)
{
    (void)t;
    (void)obj;
    return ++*(int *)arg == 2 ? -ECANCELED : 0;
}

static void test_callback_stops(void **state)
{
    (void)state;
    struct k8s_watch_dec d;
    int calls = 0;
    k8s_watch_dec_init(&d, 1 << 20);
    assert_int_equal(k8s_watch_dec_feed(&d, STREAM, strlen(STREAM), stop_at_second, &calls),
                     -ECANCELED);
    assert_int_equal(calls, 2);
    k8s_watch_dec_release(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_any_split),
        cmocka_unit_test(test_bookmark_moves_rv),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_callback_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
