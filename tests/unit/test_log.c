#include "common/log.h"

#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void test_format_fields(void **state)
{
    (void)state;
    char line[512];
    struct log_field f[] = {LOG_STR("path", "/v1/x\"y\n"), LOG_INT("status", 404),
                            LOG_DBL("ms", 1.5), LOG_BOOL("ok", 0), LOG_STR("null", NULL)};
    int n = log_format(line, sizeof(line), "T", LOG_LEVEL_WARN, "sim", "request done", f, 5);
    assert_int_equal(n, (int)strlen(line));
    assert_string_equal(line, "{\"ts\":\"T\",\"level\":\"warn\",\"component\":\"sim\",\"msg\":"
                              "\"request done\",\"path\":\"/v1/x\\\"y\\n\",\"status\":404,"
                              "\"ms\":1.5,\"ok\":false,\"null\":null}\n");
}

static void test_control_chars_escaped(void **state)
{
    (void)state;
    char line[256];
    struct log_field f[] = {LOG_STR("v", "a\x01\x1f"
                                         "b")};
    log_format(line, sizeof(line), "T", LOG_LEVEL_INFO, "c", "m", f, 1);
    assert_non_null(strstr(line, "\"a\\u0001\\u001fb\""));
    cJSON *j = cJSON_Parse(line);
    assert_non_null(j);
    cJSON_Delete(j);
}

/* A line cut at any length stays one parseable JSON object. */
static void test_truncation_is_valid_json(void **state)
{
    (void)state;
    char big[600];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[100] = '"';
    big[200] = '\\';
    memcpy(big + 300, "\xc3\xa9\xc3\xa9", 4);
    for (int cap = 80; cap < 700; cap++) {
        char line[800];
        struct log_field f[] = {LOG_STR("k", big), LOG_INT("n", 1)};
        int n = log_format(line, cap, "T", LOG_LEVEL_INFO, "c", "m", f, 2);
        assert_true(n < cap);
        assert_int_equal(line[n - 1], '\n');
        cJSON *j = cJSON_Parse(line);
        if (!j)
            fail_msg("cap %d: not JSON: %s", cap, line);
        assert_non_null(cJSON_GetObjectItem(j, "msg"));
        cJSON_Delete(j);
    }
}

static void test_levels(void **state)
{
    (void)state;
    assert_int_equal(log_level_from_v(0), LOG_LEVEL_ERROR);
    assert_int_equal(log_level_from_v(1), LOG_LEVEL_WARN);
    assert_int_equal(log_level_from_v(2), LOG_LEVEL_INFO);
    assert_int_equal(log_level_from_v(4), LOG_LEVEL_DEBUG);
    enum log_level l;
    assert_int_equal(log_level_parse("debug", &l), 0);
    assert_int_equal(l, LOG_LEVEL_DEBUG);
    assert_true(log_level_parse("loud", &l) < 0);

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    log_set_fd(fds[1]);
    log_set_level(LOG_LEVEL_WARN);
    log_info("dropped");
    log_warn("kept", LOG_INT("n", 7));
    log_set_fd(2);
    close(fds[1]);
    char out[512] = "";
    ssize_t n = read(fds[0], out, sizeof(out) - 1);
    close(fds[0]);
    assert_true(n > 0);
    assert_null(strstr(out, "dropped"));
    assert_non_null(strstr(out, "\"msg\":\"kept\",\"n\":7}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_fields),
        cmocka_unit_test(test_control_chars_escaped),
        cmocka_unit_test(test_truncation_is_valid_json),
        cmocka_unit_test(test_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
