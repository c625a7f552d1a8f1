#include "simulator/sim_textgen.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#define DRAWS 400000

/* Fail unless hits/n is within 5 standard deviations of p (binomial). With
 * a fixed seed the draws are the same on every run. */
static void check_p(const char *what, long m, long a, long b, long hits, double p)
{
    double got = (double)hits / DRAWS;
    double tol = 5.0 * sqrt(p * (1.0 - p) / DRAWS) + 1e-12;
    if (got < p - tol || got > p + tol)
        fail_msg("%s %ld, [%ld, %ld]: probability %.5f want %.5f (+-%.5f)", what, m, a, b, got, p,
                 tol);
}

/* Expected probability mass on [lo, hi] for one max_tokens value, written
 * out by hand from upstream's calcBucketBoundaries. */
struct mass {
    long lo, hi;
    double p;
};

struct hist_case {
    long m;
    struct mass want[10]; /* terminated by p == 0 */
};

static const struct hist_case hist_cases[] = {
    /* M <= 6: uniform on [1, M] */
    {1, {{1, 1, 1.0}}},
    {2, {{1, 1, 0.5}, {2, 2, 0.5}}},
    {6, {{1, 1, 1.0 / 6}, {3, 3, 1.0 / 6}, {6, 6, 1.0 / 6}}},
    /* w = 1.2: [1,1] [2,2] [3,3] [4,4] [5,6], then exactly 7 */
    {7, {{1, 1, .2}, {2, 2, .3}, {3, 3, .2}, {4, 4, .05}, {5, 6, .1}, {7, 7, .15}}},
    /* w = 19.8: [1,19] [20,39] [40,59] [60,79] [80,99], then 100 */
    {100,
     {{1, 19, .2},
      {20, 39, .3},
      {40, 59, .2},
      {60, 79, .05},
      {80, 99, .1},
      {100, 100, .15},
      {19, 19, .2 / 19},
      {20, 20, .3 / 20},
      {99, 99, .1 / 20}}},
    /* w = 20 exactly: the last equal-width case */
    {101,
     {{1, 20, .2},
      {21, 40, .3},
      {41, 60, .2},
      {61, 80, .05},
      {81, 100, .1},
      {101, 101, .15},
      {80, 80, .05 / 20},
      {81, 81, .1 / 20},
      {100, 100, .1 / 20}}},
    /* fixed 20-wide buckets, bucket 3 stretched; bucket 4 is cut at M - 1 */
    {102,
     {{1, 20, .2},
      {21, 40, .3},
      {41, 60, .2},
      {61, 82, .05},
      {83, 101, .1},
      {102, 102, .15},
      {82, 82, .05 / 22},
      {83, 83, .1 / 19},
      {101, 101, .1 / 19}}},
    {500,
     {{1, 20, .2},
      {21, 40, .3},
      {41, 60, .2},
      {61, 480, .05},
      {481, 499, .1},
      {500, 500, .15},
      {480, 480, .05 / 420},
      {481, 481, .1 / 19}}},
};

static void check_hist(struct sim_rng *r, const struct hist_case *c)
{
    long hits[10] = {0};
    static long seen[512];
    memset(seen, 0, sizeof(seen));
    for (long i = 0; i < DRAWS; i++) {
        bool is_max = false;
        long k = sim_textgen_random_length(r, c->m, false, 100000, 7, &is_max);
        if (k < 1 || k > c->m)
            fail_msg("M=%ld: length %ld out of [1, M]", c->m, k);
        if (is_max != (k == c->m))
            fail_msg("M=%ld: is_max %d for length %ld", c->m, is_max, k);
        seen[k]++;
        for (int b = 0; c->want[b].p > 0; b++)
            hits[b] += k >= c->want[b].lo && k <= c->want[b].hi;
    }
    for (int b = 0; c->want[b].p > 0; b++)
        check_p("M =", c->m, c->want[b].lo, c->want[b].hi, hits[b], c->want[b].p);
    /* the buckets tile [1, M]: no value is unreachable */
    for (long k = 1; k <= c->m; k++)
        if (seen[k] == 0)
            fail_msg("M=%ld: length %ld never drawn", c->m, k);
}

static void test_histogram(void **state)
{
    (void)state;
    struct sim_rng r;
    sim_rng_seed(&r, 11);
    for (size_t i = 0; i < sizeof(hist_cases) / sizeof(hist_cases[0]); i++)
        check_hist(&r, &hist_cases[i]);
}

struct len_case {
    long max_tokens, max_model_len, prompt;
    bool ignore_eos;
    long lo, hi; /* every draw in [lo, hi] */
    long bound;  /* is_max iff the length equals this */
    long probe;  /* a length whose probability is checked */
    double p;    /* P(length == probe) */
};

static const struct len_case len_cases[] = {
    {40, 1024, 5, true, 40, 40, 40, 40, 1.0},    /* ignore_eos: exactly max_tokens */
    {-1, 100, 30, true, 70, 70, 70, 70, 1.0},    /* ... or the room when unset */
    {500, 100, 10, false, 1, 90, 90, 90, .15},   /* max_tokens capped at the room */
    {500, 100, 10, true, 90, 90, 90, 90, 1.0},   /* same cap with ignore_eos */
    {0, 1024, 5, false, 0, 0, 0, 0, 1.0},        /* nothing to generate */
    {-1, 20, 10, false, 1, 10, 10, 10, 0.1},     /* room < 20: uniform on [1, room] */
    {-1, 29, 10, false, 1, 19, 19, 1, 1.0 / 19}, /* room 19 is still uniform */
    {-1, 11, 10, false, 1, 1, 1, 1, 1.0},        /* room 1 */
    {-1, 10, 10, false, 0, 0, 0, 0, 1.0},        /* no room */
    /* room 20: Normal(40,20) kept in [1, 20] before rounding */
    {-1, 30, 10, false, 1, 20, 20, 20, 0.044892},
    {-1, 30, 10, false, 1, 20, 20, 1, 0.011473},
    {-1, 1024, 10, false, 1, 1014, 1014, 1014, 0.0}, /* the bound is out of reach */
};

static void test_lengths(void **state)
{
    (void)state;
    struct sim_rng r;
    sim_rng_seed(&r, 5);
    for (size_t c = 0; c < sizeof(len_cases) / sizeof(len_cases[0]); c++) {
        const struct len_case *lc = &len_cases[c];
        long at_probe = 0;
        for (long i = 0; i < DRAWS; i++) {
            bool is_max = false;
            long k = sim_textgen_random_length(&r, lc->max_tokens, lc->ignore_eos,
                                               lc->max_model_len, lc->prompt, &is_max);
            if (k < lc->lo || k > lc->hi || is_max != (k == lc->bound))
                fail_msg("case %zu: length %ld is_max %d", c, k, is_max);
            at_probe += k == lc->probe;
        }
        check_p("length case", (long)c, lc->probe, lc->probe, at_probe, lc->p);
    }
}

/* Without max_tokens: Normal(40, 20) truncated to [1, room]. Its mean is
 * 40 + 20 phi(1.95) / (1 - Phi(-1.95)) = 41.2; below 1 nothing is kept, so
 * P(length == 1) = P(1 <= v < 1.5) / P(v >= 1) = 0.00157 (rounding before
 * the range check would make it 0.00305). */
static void test_normal_shape(void **state)
{
    (void)state;
    struct sim_rng r;
    bool is_max;
    double sum = 0;
    long ones = 0, above_100 = 0;
    sim_rng_seed(&r, 7);
    for (long i = 0; i < DRAWS; i++) {
        long k = sim_textgen_random_length(&r, -1, false, 1024, 10, &is_max);
        sum += (double)k;
        ones += k == 1;
        above_100 += k > 100;
    }
    double mean = sum / DRAWS;
    if (mean < 40.8 || mean > 41.6)
        fail_msg("mean %.3f want 41.2", mean);
    check_p("no max_tokens, room", 1014, 1, 1, ones, 0.0015667);
    /* P(v > 100.5) = 1 - Phi(3.025) = 0.0012 */
    check_p("no max_tokens, room", 1014, 101, 1014, above_100, 0.0012758);
}

/* Does text[0..len) read as whole sentences then a prefix of one? */
static bool is_sentence_concat(const char *text, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        size_t best = 0;
        for (size_t i = 0; sim_textgen_sentences[i]; i++) {
            const char *s = sim_textgen_sentences[i];
            size_t sl = strlen(s), n = sl < len - pos ? sl : len - pos;
            if (memcmp(text + pos, s, n) == 0 && n > best)
                best = n;
        }
        if (best == 0)
            return false;
        pos += best;
    }
    return true;
}

static void check_random_text(struct sim_rng *r, long k)
{
    struct sim_gen g;
    struct sim_toklist again;
    sim_gen_init(&g);
    sim_textgen_random(r, k, &g);
    assert_non_null(g.text);
    if ((long)g.toks.n != k)
        fail_msg("k=%ld: %zu tokens", k, g.toks.n);
    assert_int_equal(strlen(g.text), g.text_len);
    assert_true(is_sentence_concat(g.text, g.text_len));
    /* the text re-tokenizes to the same k tokens (boundaries and ids) */
    sim_toklist_init(&again);
    sim_tokenize(g.text, g.text_len, &again);
    assert_int_equal(again.n, g.toks.n);
    size_t pos = 0;
    for (size_t i = 0; i < g.toks.n; i++) {
        assert_int_equal(g.toks.v[i].off, pos);
        assert_int_equal(again.v[i].off, g.toks.v[i].off);
        assert_int_equal(again.v[i].len, g.toks.v[i].len);
        assert_int_equal(again.v[i].id, g.toks.v[i].id);
        pos += g.toks.v[i].len;
    }
    assert_int_equal(pos, g.text_len);
    sim_toklist_release(&again);
    sim_gen_release(&g);
}

static void test_random_text(void **state)
{
    (void)state;
    struct sim_rng r;
    sim_rng_seed(&r, 9);
    for (long k = 0; k <= 300; k++)
        check_random_text(&r, k);
    check_random_text(&r, 5000);
    sim_gen_release(NULL);
}

static void test_random_text_uses_all_sentences(void **state)
{
    (void)state;
    struct sim_rng r;
    struct sim_gen g;
    sim_rng_seed(&r, 3);
    sim_gen_init(&g);
    sim_textgen_random(&r, 3000, &g);
    for (size_t i = 0; sim_textgen_sentences[i]; i++)
        if (!strstr(g.text, sim_textgen_sentences[i]))
            fail_msg("sentence %zu never used", i);
    sim_gen_release(&g);
}

static void test_seed_determinism(void **state)
{
    (void)state;
    struct sim_rng a, b, c;
    struct sim_gen ga, gb, gc;
    sim_rng_seed(&a, 42);
    sim_rng_seed(&b, 42);
    sim_rng_seed(&c, 43);
    sim_gen_init(&ga);
    sim_gen_init(&gb);
    sim_gen_init(&gc);
    sim_textgen_random(&a, 60, &ga);
    sim_textgen_random(&b, 60, &gb);
    sim_textgen_random(&c, 60, &gc);
    assert_string_equal(ga.text, gb.text);
    assert_string_not_equal(ga.text, gc.text);
    sim_gen_release(&ga);
    sim_gen_release(&gb);
    sim_gen_release(&gc);
}

struct echo_case {
    const char *text;
    size_t len; /* 0: strlen */
    long max_tokens;
    size_t ntok;
    enum sim_finish finish;
};

static const struct echo_case echo_cases[] = {
    {"This is a test.", 0, -1, 5, SIM_FINISH_STOP},
    {"This is a test.", 0, 2, 5, SIM_FINISH_LENGTH}, /* never truncated */
    {"This is a test.", 0, 5, 5, SIM_FINISH_LENGTH},
    {"This is a test.", 0, 6, 5, SIM_FINISH_STOP},
    {"", 0, -1, 0, SIM_FINISH_STOP},
    {"", 0, 0, 0, SIM_FINISH_LENGTH}, /* 0 >= 0, as upstream */
    {"a`b c", 0, 3, 3, SIM_FINISH_LENGTH},
    {"h\xc3\xa9llo \xe6\x97\xa5\xe6\x9c\xac", 0, 3, 2, SIM_FINISH_STOP},
    {"a\0b", 3, -1, 2, SIM_FINISH_STOP},
};

static void test_echo(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(echo_cases) / sizeof(echo_cases[0]); i++) {
        const struct echo_case *ec = &echo_cases[i];
        size_t len = ec->len ? ec->len : strlen(ec->text);
        struct sim_gen g;
        sim_gen_init(&g);
        sim_textgen_echo(ec->text, len, ec->max_tokens, &g);
        assert_int_equal(g.text_len, len);
        assert_memory_equal(g.text, ec->text, len); /* the text is kept byte for byte */
        assert_int_equal(g.text[len], '\0');
        if (g.toks.n != ec->ntok || g.finish != ec->finish)
            fail_msg("echo case %zu: %zu tokens finish %s", i, g.toks.n, sim_finish_name(g.finish));
        sim_gen_release(&g);
    }
}

static void test_finish_names(void **state)
{
    (void)state;
    assert_string_equal(sim_finish_name(SIM_FINISH_STOP), "stop");
    assert_string_equal(sim_finish_name(SIM_FINISH_LENGTH), "length");
    assert_string_equal(sim_finish_name(SIM_FINISH_REMOTE_DECODE), "remote_decode");
    assert_string_equal(sim_finish_name(SIM_FINISH_TOOL_CALLS), "tool_calls");
    assert_string_equal(sim_finish_name(SIM_FINISH_CACHE_THRESHOLD), "cache_threshold");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_normal_shape),
        cmocka_unit_test(test_random_text),
        cmocka_unit_test(test_random_text_uses_all_sentences),
        cmocka_unit_test(test_seed_determinism),
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_finish_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
