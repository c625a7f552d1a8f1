#include "simulator/sim_config.h"
#include "simulator/sim_hooks.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_request_id(void **st)
{
    (void)st;
    char out[16], err[128];
    assert_int_equal(sim_hooks_request_id("abc-123", out, sizeof(out), err, sizeof(err)), 0);
    assert_string_equal(out, "abc-123");
    static const char *const bad[] = {"a\"b", "a\\b", "tab\there", "caf\xc3\xa9",
                                      "0123456789abcdef"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(sim_hooks_request_id(bad[i], out, sizeof(out), err, sizeof(err)), 400);
        assert_non_null(strstr(err, "X-Request-Id"));
    }
}

static void test_return_error(void **st)
{
    (void)st;
    static const struct {
        const char *v;
        int status;
        const char *msg;
    } cases[] = {
        {"429", 429, "Simulated error triggered by X-Return-Error header (code 429)"},
        {"503", 503, "(code 503)"},
        {"abc", 400, "\"abc\" is not an integer status code"},
        {"42x", 400, "is not an integer"},
        {"", 400, "is not an integer"},
        {"200", 400, "200 is not an HTTP error status"},
        {"600", 400, "600 is not an HTTP error status"},
        {"99999999999999999999", 400, "is not an integer"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[160] = "";
        assert_int_equal(sim_hooks_return_error(cases[i].v, err, sizeof(err)), cases[i].status);
        if (!strstr(err, cases[i].msg))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].msg);
    }
}

static void test_failure_injection(void **st)
{
    (void)st;
    static const struct {
        int type, status;
        const char *param, *msg;
    } types[] = {
        {SIM_FAIL_RATE_LIMIT, 429, NULL, "Rate limit reached for m in organization"},
        {SIM_FAIL_INVALID_API_KEY, 401, NULL, "Incorrect API key provided."},
        {SIM_FAIL_CONTEXT_LENGTH, 400, "messages", "maximum context length is 4096"},
        {SIM_FAIL_SERVER_ERROR, 503, NULL, "overloaded or not ready"},
        {SIM_FAIL_INVALID_REQUEST, 400, "model", "missing required parameter 'model'"},
        {SIM_FAIL_MODEL_NOT_FOUND, 404, "model", "The model 'm-nonexistent' does not exist"},
    };
    struct sim_rng r;
    sim_rng_seed2(&r, 7, 0);
    char err[200];
    const char *param;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        err[0] = '\0';
        assert_int_equal(
            sim_hooks_failure(&r, 100, 1u << types[i].type, "m", err, sizeof(err), &param),
            types[i].status);
        assert_non_null(strstr(err, types[i].msg));
        if (types[i].param)
            assert_string_equal(param, types[i].param);
        else
            assert_null(param);
    }
    int fails = 0;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(sim_hooks_failure(&r, 0, ~0u, "m", err, sizeof(err), &param), 0);
        fails += sim_hooks_failure(&r, 30, 1u << SIM_FAIL_RATE_LIMIT, "m", err, sizeof(err),
                                   &param) != 0;
    }
    assert_in_range(fails, 240, 360); /* 30 % of 1000, generously */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_id),
        cmocka_unit_test(test_return_error),
        cmocka_unit_test(test_failure_injection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
