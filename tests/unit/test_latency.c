#include "simulator/sim_latency.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define MS 1000000LL

static void test_jitter_distribution(void **state)
{
    (void)state;
    static const struct {
        double mean, sd;
    } cases[] = {{20 * MS, 2 * MS}, {0.4 * MS, 0.1 * MS}, {100 * MS, 30 * MS}, {50000, 15000}};
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct sim_rng r;
        sim_rng_seed(&r, 7 + k);
        double sum = 0, sq = 0;
        int n = 200000;
        for (int i = 0; i < n; i++) {
            double v = (double)sim_lat_jitter(&r, cases[k].mean, cases[k].sd);
            assert_true(v >= 0.3 * cases[k].mean - 1 && v <= 1.7 * cases[k].mean + 1);
            sum += v;
            sq += v * v;
        }
        double mean = sum / n, sd = sqrt(sq / n - mean * mean);
        if (fabs(mean - cases[k].mean) > 0.01 * cases[k].mean)
            fail_msg("case %zu: mean %f", k, mean);
        /* clamping at +-0.7 mean (2.33 sd when sd = 0.3 mean) piles the tails at the
         * bounds: the sd becomes 0.982 sd */
        double want_sd = cases[k].sd >= 0.3 * cases[k].mean ? 0.982 * cases[k].sd : cases[k].sd;
        if (fabs(sd - want_sd) > 0.05 * cases[k].sd)
            fail_msg("case %zu: sd %f want ~%f", k, sd, want_sd);
    }
}

static void test_jitter_submillisecond_not_truncated(void **state)
{
    (void)state;
    struct sim_rng r;
    sim_rng_seed(&r, 1);
    assert_true(sim_lat_jitter(&r, 750000, 0) == 750000); /* upstream gives 0 */
    assert_true(sim_lat_jitter(&r, 1234567, 0) == 1234567);
    assert_true(sim_lat_jitter(&r, 0, 5) == 0);
}

/* Found by fuzz_sim_admin_config: prefill-time-per-token 35h and a long
 * prompt is beyond int64 nanoseconds (the cast was undefined, INT64_MIN on
 * x86); latencies saturate instead. */
static void test_huge_latency_saturates(void **state)
{
    (void)state;
    struct sim_rng r;
    struct sim_lat l;
    sim_rng_seed(&r, 1);
    memset(&l, 0, sizeof(l));
    l.time_factor = 1.0;
    l.max_num_seqs = 1;
    l.prefill_per_token = 35 * 3600 * 1000 * MS;
    assert_true(sim_lat_ttft(&l, &r, 1L << 20, 0, false, 1) == SIM_LAT_MAX_NS);
    l.prefill_sd = l.prefill_per_token;
    assert_true(sim_lat_ttft(&l, &r, 1L << 20, 0, false, 1) == SIM_LAT_MAX_NS);
    assert_true(sim_lat_jitter(&r, 1e30, 0) == SIM_LAT_MAX_NS);
    assert_true(sim_lat_jitter(&r, 1e30, 1e29) == SIM_LAT_MAX_NS);
    assert_true(sim_lat_jitter(&r, (double)SIM_LAT_MAX_NS / 2, 0) == SIM_LAT_MAX_NS / 2);
}

static void test_load_factor(void **state)
{
    (void)state;
    struct sim_lat l;
    memset(&l, 0, sizeof(l));
    l.time_factor = 3.0;
    l.max_num_seqs = 5;
    assert_true(fabs(sim_lat_load_factor(&l, 1) - 1.0) < 1e-9);
    assert_true(fabs(sim_lat_load_factor(&l, 3) - 2.0) < 1e-9);
    assert_true(fabs(sim_lat_load_factor(&l, 5) - 3.0) < 1e-9);
    l.max_num_seqs = 1;
    assert_true(fabs(sim_lat_load_factor(&l, 1) - 1.0) < 1e-9);
}

static void test_calculators(void **state)
{
    (void)state;
    struct sim_rng r;
    struct sim_lat l;
    sim_rng_seed(&r, 3);
    memset(&l, 0, sizeof(l));
    l.time_factor = 1.0;
    l.max_num_seqs = 5;
    /* legacy: ttft set -> constant, prefill ignored */
    l.ttft = 100 * MS;
    l.prefill_overhead = 1000 * MS;
    assert_true(sim_lat_ttft(&l, &r, 5, 0, false, 1) == 100 * MS);
    /* legacy: ttft 0 -> per-token overhead + n*per_tok */
    l.ttft = 0;
    l.prefill_per_token = 50 * MS;
    assert_true(sim_lat_ttft(&l, &r, 5, 0, false, 1) == 1250 * MS);
    assert_true(sim_lat_ttft(&l, &r, 5, 2, false, 1) == 1150 * MS); /* cached tokens */
    /* constant with ttft 0 ignores the per-token settings */
    l.calc = SIM_CALC_CONSTANT;
    assert_true(sim_lat_ttft(&l, &r, 5, 0, false, 1) == 0);
    /* remote prefill: KV transfer, never load-scaled */
    l.kv_latency = 50 * MS;
    l.time_factor = 4.0;
    assert_true(sim_lat_ttft(&l, &r, 5, 0, true, 5) == 50 * MS);
    l.calc = SIM_CALC_PER_TOKEN;
    l.kv_per_token = 2 * MS;
    assert_true(sim_lat_ttft(&l, &r, 5, 0, true, 5) == 10 * MS);
    l.calc = SIM_CALC_LEGACY;
    l.kv_latency = 0;
    assert_true(sim_lat_ttft(&l, &r, 7, 0, true, 5) == 14 * MS);
    /* load scales ttft and itl */
    l.calc = SIM_CALC_CONSTANT;
    l.ttft = 10 * MS;
    l.itl = 4 * MS;
    assert_true(sim_lat_ttft(&l, &r, 5, 0, false, 5) == 40 * MS);
    assert_true(sim_lat_itl(&l, &r, 3) == 10 * MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jitter_distribution),
        cmocka_unit_test(test_jitter_submillisecond_not_truncated),
        cmocka_unit_test(test_huge_latency_saturates),
        cmocka_unit_test(test_load_factor),
        cmocka_unit_test(test_calculators),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
