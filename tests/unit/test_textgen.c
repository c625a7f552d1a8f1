#include "simulator/sim_textgen.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_histogram(void **state)
{
    (void)state;
    struct sim_rng r;
    sim_rng_seed(&r, 11);
    static const long maxes[] = {1, 2, 6, 7, 50, 100, 101, 102, 500};
    for (size_t k = 0; k < sizeof(maxes) / sizeof(maxes[0]); k++) {
        long m = maxes[k], at_max = 0, n = 40000, lo_bucket = 0;
        for (long i = 0; i < n; i++) {
            bool is_max = false;
            long len = sim_textgen_random_length(&r, m, false, 1024, 5, &is_max);
            if (len < 1 || len > m)
                fail_msg("M=%ld: length %ld", m, len);
            assert_int_equal(is_max, len == m);
            at_max += len == m;
            lo_bucket += m > 101 && len <= 20;
        }
        double frac = (double)at_max / (double)n;
        double want = m <= 1 ? 1.0 : m <= 6 ? 1.0 / (double)m : 0.15;
        if (frac < want - 0.015 || frac > want + 0.015)
            fail_msg("M=%ld: P(len=M)=%f want %f", m, frac, want);
        if (m > 101 && (lo_bucket < n * 0.18 || lo_bucket > n * 0.22))
            fail_msg("M=%ld: bucket [1,20] got %ld of %ld, want 20%%", m, lo_bucket, n);
    }
}

static void test_no_max_and_ignore_eos(void **state)
{
    (void)state;
    struct sim_rng r;
    bool is_max;
    sim_rng_seed(&r, 5);
    assert_int_equal(sim_textgen_random_length(&r, 40, true, 1024, 5, &is_max), 40);
    assert_true(is_max);
    double sum = 0;
    for (int i = 0; i < 20000; i++) {
        long len = sim_textgen_random_length(&r, -1, false, 1024, 10, &is_max);
        assert_true(len >= 1 && len <= 1014);
        sum += (double)len;
    }
    assert_true(sum / 20000 > 38 && sum / 20000 < 43); /* Normal(40, 20) cut at 1 */
    for (int i = 0; i < 1000; i++) {
        long len = sim_textgen_random_length(&r, -1, false, 20, 10, &is_max);
        assert_true(len >= 1 && len <= 10);
        assert_int_equal(is_max, len == 10);
    }
}

static void test_random_text_exact_tokens(void **state)
{
    (void)state;
    struct sim_rng r;
    sim_rng_seed(&r, 9);
    for (long k = 1; k < 200; k += 7) {
        struct sim_gen g;
        sim_gen_init(&g);
        sim_textgen_random(&r, k, &g);
        assert_int_equal(g.toks.n, k);
        assert_int_equal(strlen(g.text), g.text_len);
        /* the tokens tile the text exactly and re-tokenize to k tokens */
        size_t pos = 0;
        for (size_t i = 0; i < g.toks.n; i++) {
            assert_int_equal(g.toks.v[i].off, pos);
            pos += g.toks.v[i].len;
        }
        assert_int_equal(pos, g.text_len);
        assert_int_equal(sim_token_count(g.text, g.text_len), k);
        sim_gen_release(&g);
    }
}

static void test_seed_determinism(void **state)
{
    (void)state;
    struct sim_rng a, b;
    struct sim_gen ga, gb;
    sim_rng_seed(&a, 42);
    sim_rng_seed(&b, 42);
    sim_gen_init(&ga);
    sim_gen_init(&gb);
    sim_textgen_random(&a, 60, &ga);
    sim_textgen_random(&b, 60, &gb);
    assert_string_equal(ga.text, gb.text);
    sim_gen_release(&ga);
    sim_gen_release(&gb);
}

static void test_echo(void **state)
{
    (void)state;
    struct sim_gen g;
    sim_gen_init(&g);
    sim_textgen_echo("This is a test.", 15, -1, &g);
    assert_string_equal(g.text, "This is a test.");
    assert_int_equal(g.toks.n, 5);
    assert_int_equal(g.finish, SIM_FINISH_STOP);
    sim_gen_release(&g);
    sim_textgen_echo("This is a test.", 15, 2, &g); /* never truncated, but "length" */
    assert_int_equal(g.toks.n, 5);
    assert_int_equal(g.finish, SIM_FINISH_LENGTH);
    sim_gen_release(&g);
    sim_textgen_echo("This is a test.", 15, 5, &g);
    assert_int_equal(g.finish, SIM_FINISH_LENGTH);
    sim_gen_release(&g);
    sim_textgen_echo("This is a test.", 15, 6, &g);
    assert_int_equal(g.finish, SIM_FINISH_STOP);
    sim_gen_release(&g);
    assert_string_equal(sim_finish_name(SIM_FINISH_REMOTE_DECODE), "remote_decode");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_no_max_and_ignore_eos),
        cmocka_unit_test(test_random_text_exact_tokens),
        cmocka_unit_test(test_seed_determinism),
        cmocka_unit_test(test_echo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
