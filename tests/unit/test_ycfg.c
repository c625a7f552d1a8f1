#include "common/ycfg.h"

#include <errno.h>
#include <stdlib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void test_scalars_and_lists(void **state)
{
    (void)state;
    const char *y = "model: m1\n"
                    "port: 8000\n"
                    "served-model-name:\n  - a\n  - b\n"
                    "time-to-first-token: \"2000ms\"\n"
                    "empty: ~\n";
    struct ycfg c;
    char err[128] = "";
    assert_int_equal(ycfg_parse(y, strlen(y), &c, err, sizeof(err)), 0);
    assert_int_equal(c.n, 5);
    assert_string_equal(c.v[0].key, "model");
    assert_string_equal(c.v[0].items[0], "m1");
    assert_int_equal(c.v[0].line, 1);
    assert_false(c.v[0].is_list);
    assert_true(c.v[2].is_list);
    assert_int_equal(c.v[2].nitems, 2);
    assert_string_equal(c.v[2].items[1], "b");
    assert_int_equal(c.v[3].line, 6);
    assert_string_equal(c.v[3].items[0], "2000ms");
    assert_string_equal(c.v[4].items[0], "");
    ycfg_release(&c);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"a: 1\na: 2\n", "line 2: duplicate key \"a\""},
        {"- a\n- b\n", "line 1: the file must be a mapping"},
        {"a: {b: 1}\n", "line 1: key \"a\": expected a value or a list, not a mapping"},
        {"a: [1, {b: 2}]\n", "key \"a\": list items must be scalars"},
        {"a: 1\n b: : :\n", "line 2"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ycfg c;
        char err[256] = "";
        assert_int_equal(ycfg_parse(cases[i].yaml, strlen(cases[i].yaml), &c, err, sizeof(err)),
                         -EBADMSG);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: %s does not contain %s", i, err, cases[i].want);
        assert_int_equal(c.n, 0);
    }
}

/* ycfg_load_file_maps: a mapping value is an entry without items. */
static void test_maps(void **state)
{
    (void)state;
    struct ycfg c;
    char err[256] = "", path[] = "/tmp/pdsim-ycfg-XXXXXX";
    int fd = mkstemp(path);
    const char *y = "a: 1\nfake:\n  x: 2\n  y: [1, 2]\nb: [3]\n";
    assert_int_equal(write(fd, y, strlen(y)), (int)strlen(y));
    close(fd);
    assert_int_equal(ycfg_load_file_maps(path, &c, err, sizeof(err)), 0);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.v[1].key, "fake");
    assert_true(c.v[1].is_map && c.v[1].nitems == 0 && c.v[1].line == 2);
    assert_false(c.v[0].is_map || c.v[2].is_map);
    ycfg_release(&c);
    /* the plain loader still refuses it */
    assert_true(ycfg_load_file(path, &c, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "key \"fake\": expected a value or a list, not a mapping"));
    unlink(path);
}

static void test_empty_and_file(void **state)
{
    (void)state;
    struct ycfg c;
    char err[256] = "";
    assert_int_equal(ycfg_parse("", 0, &c, err, sizeof(err)), 0);
    assert_int_equal(c.n, 0);
    ycfg_release(&c);
    assert_int_equal(ycfg_load_file("/nonexistent/x.yaml", &c, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/x.yaml"));
    char path[] = "/tmp/pdsim-ycfg-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("mode: echo\n", f);
    fclose(f);
    assert_int_equal(ycfg_load_file(path, &c, err, sizeof(err)), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.v[0].items[0], "echo");
    ycfg_release(&c);
    remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_and_lists),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_empty_and_file),
        cmocka_unit_test(test_maps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
