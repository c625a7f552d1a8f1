#include "common/duration.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_parse(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t ns;
    } ok[] = {
        {"200ms", 200000000LL},
        {"1.5s", 1500000000LL},
        {"750us", 750000LL},
        {"750\xc2\xb5s", 750000LL},
        {"200", 200000000LL},
        {"0.5", 500000LL},
        {"0", 0},
        {"0s", 0},
        {"1m30s", 90000000000LL},
        {"2h", 7200000000000LL},
        {"10ns", 10},
        {"1.25ms", 1250000LL},
        {"-1s", -1000000000LL},
        {"3ms500us", 3500000LL},
        {".5s", 500000000LL},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t ns = -42;
        char err[128] = "";
        assert_int_equal(duration_parse(ok[i].in, &ns, err, sizeof(err)), 0);
        if (ns != ok[i].ns)
            fail_msg("%s: got %lld want %lld", ok[i].in, (long long)ns, (long long)ok[i].ns);
    }
}

static void test_parse_errors(void **state)
{
    (void)state;
    static const char *bad[] = {"", "ms", "1sec", "1.s.", "abc", "1 s", "1e3", "--1s", "1ms x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ns;
        char err[128] = "";
        if (duration_parse(bad[i], &ns, err, sizeof(err)) == 0)
            fail_msg("\"%s\" parsed as %lld", bad[i], (long long)ns);
        assert_true(err[0] != '\0');
    }
    int64_t ns;
    assert_int_equal(duration_parse("99999999999h", &ns, NULL, 0), -ERANGE);
}

static void test_format(void **state)
{
    (void)state;
    static const struct {
        int64_t ns;
        const char *out;
    } cases[] = {
        {0, "0s"},
        {1500000000LL, "1.5s"},
        {200000000LL, "200ms"},
        {750000, "750us"},
        {12, "12ns"},
        {90000000000LL, "1m30s"},
        {3600000000000LL, "1h0m0s"},
        {1250000, "1.25ms"},
        {-2000000, "-2ms"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[64];
        duration_format(cases[i].ns, out, sizeof(out));
        assert_string_equal(out, cases[i].out);
        int64_t back;
        assert_int_equal(duration_parse(out, &back, NULL, 0), 0);
        assert_true(back == cases[i].ns);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
