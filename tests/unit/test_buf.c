#include "common/buf.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_append_and_take(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, BUF_NOCAP);
    assert_string_equal(buf_str(&b), "");
    assert_int_equal(buf_puts(&b, "hello"), 0);
    assert_int_equal(buf_appendf(&b, " %d-%s", 42, "x"), 0);
    assert_string_equal(buf_str(&b), "hello 42-x");
    size_t len;
    char *s = buf_take(&b, &len);
    assert_int_equal(len, 10);
    assert_string_equal(s, "hello 42-x");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(s);
    buf_release(&b);
}

static void test_cap(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 8);
    assert_int_equal(buf_puts(&b, "12345678"), 0);
    assert_int_equal(buf_putc(&b, '9'), -E2BIG);
    assert_string_equal(buf_str(&b), "12345678");
    buf_reset(&b);
    assert_int_equal(buf_appendf(&b, "%s", "123456789"), -E2BIG);
    assert_int_equal(b.len, 0);
    buf_release(&b);
    buf_release(NULL);
}

static void test_large_appendf(void **state)
{
    (void)state;
    struct buf b;
    char big[1000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    buf_init(&b, BUF_NOCAP);
    assert_int_equal(buf_appendf(&b, "<%s>", big), 0);
    assert_int_equal(b.len, 1001);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[1000], '>');
    buf_release(&b);
}

static void test_put_long(void **state)
{
    (void)state;
    static const long long cases[] = {0, 7, -7, 1234567890123LL, -9223372036854775807LL - 1};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b;
        char want[32];
        buf_init(&b, BUF_NOCAP);
        buf_reserve(&b, 100);
        assert_true(b.alloc >= 101);
        assert_int_equal(buf_put_long(&b, cases[i]), 0);
        snprintf(want, sizeof(want), "%lld", cases[i]);
        assert_string_equal(buf_str(&b), want);
        buf_release(&b);
    }
}

/* Go's encoding/json spelling of a float64: shortest digits, plain decimals
 * from 1e-6 to 1e21 (10, not 1e+01), e-notation outside without padding. */
static void test_put_double(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *want;
    } cases[] = {{0, "0"},
                 {10, "10"},
                 {-10, "-10"},
                 {100, "100"},
                 {0.5, "0.5"},
                 {-1.1, "-1.1"},
                 {57.3, "57.3"},
                 {1e20, "100000000000000000000"},
                 {1e21, "1e+21"},
                 {0.000001, "0.000001"},
                 {1e-7, "1e-7"},
                 {0.1 + 0.2, "0.30000000000000004"},
                 {123456789012.5, "123456789012.5"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b;
        buf_init(&b, BUF_NOCAP);
        assert_int_equal(buf_put_double(&b, cases[i].v), 0);
        if (strcmp(buf_str(&b), cases[i].want) != 0)
            fail_msg("case %zu: %s, want %s", i, buf_str(&b), cases[i].want);
        buf_release(&b);
    }
}

static void test_json_escape(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "\"plain\""},
        {"q\"b\\", "\"q\\\"b\\\\\""},
        {"a\nb\tc\r", "\"a\\nb\\tc\\r\""},
        {"\x01\x1f", "\"\\u0001\\u001f\""},
        {"h\xc3\xa9llo", "\"h\xc3\xa9llo\""},
        {"", "\"\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b;
        buf_init(&b, BUF_NOCAP);
        assert_int_equal(buf_json_str(&b, cases[i].in), 0);
        assert_string_equal(buf_str(&b), cases[i].out);
        buf_release(&b);
    }
    struct buf small;
    buf_init(&small, 4);
    assert_int_equal(buf_json_str(&small, "abcdef"), -E2BIG);
    assert_int_equal(small.len, 0);
    buf_release(&small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_take), cmocka_unit_test(test_cap),
        cmocka_unit_test(test_large_appendf),   cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_put_long),        cmocka_unit_test(test_put_double),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
