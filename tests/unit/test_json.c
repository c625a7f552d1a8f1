#include "common/json.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char *nested(int depth, const char *open, const char *close, const char *inner)
{
    size_t lo = strlen(open), lc = strlen(close), li = strlen(inner);
    char *s = malloc((size_t)depth * (lo + lc) + li + 1), *p = s;
    for (int i = 0; i < depth; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, inner, li);
    p += li;
    for (int i = 0; i < depth; i++, p += lc)
        memcpy(p, close, lc);
    *p = '\0';
    return s;
}

static void test_depth(void **st)
{
    (void)st;
    static const struct {
        const char *text;
        int max;
        bool ok;
    } cases[] = {
        {"{}", 1, true},
        {"{\"a\":[1]}", 1, false},
        {"{\"a\":[1]}", 2, true},
        {"\"[[[[[[\"", 0, true},        /* brackets in a string do not count */
        {"[\"\\\"[[[\"]", 1, true},     /* nor after an escaped quote */
        {"[\"\\\\\",[[1]]]", 2, false}, /* an escaped backslash ends the escape */
        {"]]]][[", 2, true},            /* unbalanced input is cJSON's to refuse */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (json_depth_ok(cases[i].text, strlen(cases[i].text), cases[i].max) != cases[i].ok)
            fail_msg("case %zu: %s", i, cases[i].text);
}

static void test_parse_refuses_deep_input(void **st)
{
    (void)st;
    char err[128];
    char *ok = nested(JSON_MAX_DEPTH, "[", "]", "1");
    cJSON *j = json_parse(ok, strlen(ok), err, sizeof(err));
    assert_non_null(j);
    cJSON_Delete(j);
    free(ok);
    /* far deeper than cJSON's own limit of 1000, which overflows a worker's stack */
    char *deep = nested(200000, "{\"a\":", "}", "1");
    assert_null(json_parse(deep, strlen(deep), err, sizeof(err)));
    assert_string_equal(err, "JSON nesting is deeper than 128 levels");
    assert_null(json_parse(deep, strlen(deep), NULL, 0));
    free(deep);
    char *unclosed = nested(JSON_MAX_DEPTH + 1, "[", "", "");
    assert_null(json_parse(unclosed, strlen(unclosed), err, sizeof(err)));
    assert_string_equal(err, "JSON nesting is deeper than 128 levels");
    free(unclosed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_parse_refuses_deep_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
