/* reconcile's comparison of desired and live children: subsets, and
 * quantities under "resources" as the API server normalises them. */
#include "controller/reconcile.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static void test_quantity(void **state)
{
    (void)state;
    double v;
    assert_true(k8s_quantity("500m", &v) && v == 0.5);
    assert_true(k8s_quantity("1Gi", &v) && v == 1073741824.0);
    assert_true(k8s_quantity("2", &v) && v == 2.0);
    assert_true(k8s_quantity("1.5e3", &v) && v == 1500.0);
    assert_true(k8s_quantity("128M", &v) && v == 128e6);
    assert_false(k8s_quantity("lots", &v));
    assert_false(k8s_quantity("1Zi", &v));
}

static bool sub(const char *want, const char *have)
{
    cJSON *w = cJSON_Parse(want), *h = cJSON_Parse(have);
    bool r = json_subset(w, h);
    cJSON_Delete(w);
    cJSON_Delete(h);
    return r;
}

static void test_subset(void **state)
{
    (void)state;
    assert_true(sub("{\"a\":1}", "{\"a\":1,\"b\":2}"));
    assert_false(sub("{\"a\":1,\"c\":3}", "{\"a\":1,\"b\":2}"));
    assert_true(sub("{\"l\":[{\"x\":1}]}", "{\"l\":[{\"x\":1,\"y\":2}]}"));
    assert_false(sub("{\"l\":[1,2]}", "{\"l\":[1]}"));
    /* the server writes cpu: 1 back as "1", and 1000m as "1" */
    assert_true(sub("{\"resources\":{\"limits\":{\"cpu\":1}}}",
                    "{\"resources\":{\"limits\":{\"cpu\":\"1\"}}}"));
    assert_true(sub("{\"resources\":{\"requests\":{\"cpu\":\"1000m\",\"memory\":\"1Gi\"}}}",
                    "{\"resources\":{\"requests\":{\"cpu\":\"1\",\"memory\":\"1073741824\"}}}"));
    assert_false(sub("{\"resources\":{\"limits\":{\"cpu\":\"2\"}}}",
                     "{\"resources\":{\"limits\":{\"cpu\":\"1\"}}}"));
    /* elsewhere, a string is not a number */
    assert_false(sub("{\"replicas\":1}", "{\"replicas\":\"1\"}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantity),
        cmocka_unit_test(test_subset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
