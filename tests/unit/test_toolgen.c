/* sim_toolgen: call counts, arguments that follow the schema, ids, determinism. */
#include "simulator/sim_toolgen.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static const struct sim_toolgen_cfg defaults = {0, 100, 0, 100, 1, 5, 50, 50, 45};

static cJSON *args_of(const char *schema, const struct sim_toolgen_cfg *cfg, struct sim_rng *r)
{
    cJSON *s = schema ? cJSON_Parse(schema) : NULL;
    struct buf b;
    buf_init(&b, BUF_NOCAP);
    sim_toolgen_args(s, cfg, r, &b);
    cJSON *out = cJSON_Parse(buf_str(&b));
    if (!out)
        fail_msg("arguments are not JSON: %s", buf_str(&b));
    buf_release(&b);
    cJSON_Delete(s);
    return out;
}

static bool is_word(const char *s)
{
    for (size_t i = 0; sim_toolgen_words[i]; i++)
        if (strcmp(s, sim_toolgen_words[i]) == 0)
            return true;
    return false;
}

static void test_scalars(void **state)
{
    (void)state;
    struct sim_rng r;
    sim_rng_seed(&r, 1);
    const char *schema =
        "{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\"},\"e\":{\"type\":"
        "\"string\",\"enum\":[\"x\",\"y|z\"]},\"i\":{\"type\":\"integer\"},\"bi\":{\"type\":"
        "\"integer\",\"minimum\":-3,\"maximum\":-1},\"n\":{\"type\":\"number\",\"minimum\":0.5,"
        "\"maximum\":0.75},\"b\":{\"type\":\"boolean\"},\"ei\":{\"type\":\"integer\",\"enum\":[7,"
        "9]}},\"required\":[\"s\",\"e\",\"i\",\"bi\",\"n\",\"b\",\"ei\"]}";
    bool seen_true = false, seen_false = false, seen_e[2] = {false, false};
    for (int k = 0; k < 200; k++) {
        cJSON *a = args_of(schema, &defaults, &r);
        assert_int_equal(cJSON_GetArraySize(a), 7); /* all required */
        assert_true(is_word(cJSON_GetObjectItem(a, "s")->valuestring));
        const char *e = cJSON_GetObjectItem(a, "e")->valuestring;
        assert_true(strcmp(e, "x") == 0 || strcmp(e, "y|z") == 0);
        seen_e[strcmp(e, "x") == 0] = true;
        double i = cJSON_GetObjectItem(a, "i")->valuedouble;
        assert_true(i >= 0 && i <= 100 && i == floor(i));
        double bi = cJSON_GetObjectItem(a, "bi")->valuedouble;
        assert_true(bi >= -3 && bi <= -1 && bi == floor(bi));
        double n = cJSON_GetObjectItem(a, "n")->valuedouble;
        assert_true(n >= 0.5 && n <= 0.75);
        cJSON *b = cJSON_GetObjectItem(a, "b");
        assert_true(cJSON_IsBool(b));
        seen_true |= cJSON_IsTrue(b);
        seen_false |= cJSON_IsFalse(b);
        double ei = cJSON_GetObjectItem(a, "ei")->valuedouble;
        assert_true(ei == 7 || ei == 9);
        cJSON_Delete(a);
    }
    assert_true(seen_true && seen_false && seen_e[0] && seen_e[1]);
}

static void test_flag_bounds(void **state)
{
    (void)state;
    struct sim_rng r;
    sim_rng_seed(&r, 2);
    struct sim_toolgen_cfg cfg = {10, 12, -2.5, -2, 2, 3, 50, 50, 45};
    const char *schema = "{\"type\":\"object\",\"properties\":{\"i\":{\"type\":\"integer\"},\"n\":{"
                         "\"type\":\"number\"},\"a\":{\"type\":\"array\",\"items\":{\"type\":"
                         "\"integer\"}},\"m\":{\"type\":\"integer\",\"minimum\":50}},\"required\":["
                         "\"i\",\"n\",\"a\",\"m\"]}";
    long len_seen[4] = {0};
    for (int k = 0; k < 200; k++) {
        cJSON *a = args_of(schema, &cfg, &r);
        double i = cJSON_GetObjectItem(a, "i")->valuedouble;
        assert_true(i >= 10 && i <= 12);
        double n = cJSON_GetObjectItem(a, "n")->valuedouble;
        assert_true(n >= -2.5 && n <= -2);
        cJSON *arr = cJSON_GetObjectItem(a, "a");
        int len = cJSON_GetArraySize(arr);
        assert_true(len >= 2 && len <= 3);
        len_seen[len]++;
        cJSON *it;
        cJSON_ArrayForEach(it, arr)
        {
            assert_true(it->valuedouble >= 10 && it->valuedouble <= 12);
        }
        /* only minimum given, above the flag maximum: the flags' width from there */
        double m = cJSON_GetObjectItem(a, "m")->valuedouble;
        assert_true(m >= 50 && m <= 52);
        cJSON_Delete(a);
    }
    assert_true(len_seen[2] > 0 && len_seen[3] > 0);
}

/* exclusiveMinimum/exclusiveMaximum are honoured, alone or with the inclusive ones. */
static void test_exclusive_bounds(void **state)
{
    (void)state;
    struct sim_rng r;
    sim_rng_seed(&r, 9);
    for (int k = 0; k < 200; k++) {
        cJSON *a = args_of("{\"type\":\"object\",\"properties\":{\"i\":{\"type\":\"integer\","
                           "\"exclusiveMinimum\":3,\"exclusiveMaximum\":6},\"j\":{\"type\":"
                           "\"integer\",\"exclusiveMaximum\":-50},\"x\":{\"type\":\"number\","
                           "\"minimum\":0,\"exclusiveMaximum\":0.5}},\"required\":[\"i\",\"j\","
                           "\"x\"]}",
                           &defaults, &r);
        double i = cJSON_GetObjectItem(a, "i")->valuedouble;
        double j = cJSON_GetObjectItem(a, "j")->valuedouble;
        double x = cJSON_GetObjectItem(a, "x")->valuedouble;
        assert_true(i == 4 || i == 5);
        assert_true(j <= -51 && j >= -151); /* the flags' width below the bound */
        assert_true(x >= 0 && x < 0.5);
        cJSON_Delete(a);
    }
}

/* Bounds beyond 2^53 are clamped there before any conversion to an integer. */
static void test_huge_integer_bounds(void **state)
{
    (void)state;
    struct sim_rng r;
    sim_rng_seed(&r, 5);
    cJSON *a = args_of("{\"type\":\"object\",\"properties\":{\"hi\":{\"type\":\"integer\","
                       "\"minimum\":1e300},\"lo\":{\"type\":\"integer\",\"maximum\":-1e300}},"
                       "\"required\":[\"hi\",\"lo\"]}",
                       &defaults, &r);
    assert_true(cJSON_GetObjectItem(a, "hi")->valuedouble == 9007199254740992.0);
    assert_true(cJSON_GetObjectItem(a, "lo")->valuedouble == -9007199254740992.0);
    cJSON_Delete(a);
}

static void test_arrays_and_nesting(void **state)
{
    (void)state;
    struct sim_rng r;
    sim_rng_seed(&r, 3);
    const char *schema =
        "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\",\"minItems\":4,"
        "\"maxItems\":6,\"items\":{\"type\":\"array\",\"items\":{\"type\":\"boolean\"},"
        "\"minItems\":1,\"maxItems\":1}},\"o\":{\"type\":\"object\",\"properties\":{\"req\":{"
        "\"type\":\"string\"},\"opt\":{\"type\":\"integer\"}},\"required\":[\"req\"]},\"t\":{"
        "\"type\":\"array\",\"items\":[{\"type\":\"string\"},{\"type\":\"integer\"}]},\"z\":{"
        "\"type\":\"array\",\"items\":{\"type\":\"string\"},\"maxItems\":0}},\"required\":[\"a\","
        "\"o\",\"t\",\"z\"]}";
    int opt_seen = 0;
    for (int k = 0; k < 100; k++) {
        cJSON *a = args_of(schema, &defaults, &r);
        cJSON *arr = cJSON_GetObjectItem(a, "a");
        assert_true(cJSON_GetArraySize(arr) >= 4 && cJSON_GetArraySize(arr) <= 6);
        cJSON *it;
        cJSON_ArrayForEach(it, arr)
        {
            assert_int_equal(cJSON_GetArraySize(it), 1);
            assert_true(cJSON_IsBool(cJSON_GetArrayItem(it, 0)));
        }
        cJSON *o = cJSON_GetObjectItem(a, "o");
        assert_true(is_word(cJSON_GetObjectItem(o, "req")->valuestring));
        opt_seen += cJSON_GetObjectItem(o, "opt") != NULL;
        cJSON *t = cJSON_GetObjectItem(a, "t");
        assert_int_equal(cJSON_GetArraySize(t), 2);
        assert_true(cJSON_IsString(cJSON_GetArrayItem(t, 0)));
        assert_true(cJSON_IsNumber(cJSON_GetArrayItem(t, 1)));
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(a, "z")), 0);
        cJSON_Delete(a);
    }
    assert_true(opt_seen > 20 && opt_seen < 80); /* 50% */
}

/* Optional parameters follow the two probabilities, top level and nested apart. */
static void test_optional_probabilities(void **state)
{
    (void)state;
    struct sim_rng r;
    sim_rng_seed(&r, 4);
    const char *schema = "{\"type\":\"object\",\"properties\":{\"p\":{\"type\":\"string\"},\"o\":{"
                         "\"type\":\"object\",\"properties\":{\"f\":{\"type\":\"string\"}}}},"
                         "\"required\":[\"o\"]}";
    struct sim_toolgen_cfg all_top = defaults, all_nested = defaults;
    all_top.not_required_pct = 100;
    all_top.object_not_required_pct = 0;
    all_nested.not_required_pct = 0;
    all_nested.object_not_required_pct = 100;
    for (int k = 0; k < 50; k++) {
        cJSON *a = args_of(schema, &all_top, &r);
        assert_non_null(cJSON_GetObjectItem(a, "p"));
        assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "o"), "f"));
        cJSON_Delete(a);
        a = args_of(schema, &all_nested, &r);
        assert_null(cJSON_GetObjectItem(a, "p"));
        assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "o"), "f"));
        cJSON_Delete(a);
    }
    cJSON *a = args_of(NULL, &defaults, &r); /* no parameters: an empty object */
    assert_true(cJSON_IsObject(a) && cJSON_GetArraySize(a) == 0);
    cJSON_Delete(a);
}

/* Anything the validation would reject still gives valid JSON (--skip-tool-validation). */
static void test_unvalidated_schemas(void **state)
{
    (void)state;
    struct sim_rng r;
    sim_rng_seed(&r, 5);
    const char *schema =
        "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"strin\"},\"b\":3,\"c\":{\"type\":["
        "\"null\",\"integer\"]},\"d\":{\"type\":\"array\"},\"e\":{\"type\":\"array\",\"items\":{"
        "\"type\":\"string\"},\"minItems\":1000000000}},\"required\":[\"a\",\"b\",\"c\",\"d\","
        "\"e\"]"
        "}";
    cJSON *a = args_of(schema, &defaults, &r);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(a, "a")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(a, "b")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(a, "c")));
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(a, "d")));
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(a, "e")) <= 65536);
    cJSON_Delete(a);
}

#define TOOL(n)                                                                                    \
    "{\"type\":\"function\",\"function\":{\"name\":\"" n "\",\"parameters\":{\"type\":\"object\"," \
    "\"properties\":{\"q\":{\"type\":\"string\",\"enum\":[\"a|b\"]}},\"required\":[\"q\"]}}}"

static void calls(const char *choice, long extra, uint64_t seed, struct sim_tool_calls *out)
{
    static cJSON *tools;
    if (!tools)
        tools = cJSON_Parse("[" TOOL("t0") "," TOOL("t1") "," TOOL("t2") "]");
    struct sim_tools t = {tools, 3, SIM_TOOL_AUTO, 0};
    if (strcmp(choice, "none") == 0)
        t.choice = SIM_TOOL_NONE;
    else if (strcmp(choice, "required") == 0)
        t.choice = SIM_TOOL_REQUIRED;
    else if (strcmp(choice, "t2") == 0)
        t.choice = SIM_TOOL_NAMED, t.named = 2;
    struct sim_toolgen_cfg cfg = defaults;
    cfg.extra_call_pct = extra;
    struct sim_rng r;
    sim_rng_seed(&r, seed);
    sim_toolgen_calls(&t, &cfg, &r, out);
}

static void test_call_counts(void **state)
{
    (void)state;
    static const struct {
        const char *choice;
        long extra;
        size_t lo, hi;
    } cases[] = {
        {"none", 100, 0, 0},   {"auto", 0, 0, 0},       {"auto", 100, 3, 3}, {"auto", 45, 0, 3},
        {"required", 0, 1, 1}, {"required", 100, 3, 3}, {"t2", 100, 1, 1},   {"t2", 0, 1, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t hist[4] = {0};
        for (uint64_t seed = 0; seed < 300; seed++) {
            struct sim_tool_calls c;
            calls(cases[i].choice, cases[i].extra, seed, &c);
            if (c.n < cases[i].lo || c.n > cases[i].hi)
                fail_msg("case %zu: %zu calls", i, c.n);
            hist[c.n]++;
            long tokens = 0;
            for (size_t k = 0; k < c.n; k++) {
                const struct sim_tool_call *tc = &c.v[k];
                if (strcmp(cases[i].choice, "t2") == 0)
                    assert_string_equal(tc->name, "t2");
                assert_string_equal(tc->args, "{\"q\":\"a|b\"}");
                assert_int_equal(strlen(tc->id), 24);
                assert_memory_equal(tc->id, "chatcmpl-tool-", 14);
                for (int d = 14; d < 24; d++)
                    assert_true(tc->id[d] >= '0' && tc->id[d] <= '9');
                /* the streamed pieces add up to the arguments, '|' included */
                size_t at = 0;
                for (size_t j = 0; j < tc->toks.n; j++) {
                    assert_int_equal(tc->toks.v[j].off, at);
                    at += tc->toks.v[j].len;
                }
                assert_int_equal(at, tc->args_len);
                tokens += 3 + (long)tc->toks.n;
            }
            assert_int_equal(sim_tool_calls_tokens(&c), tokens);
            sim_tool_calls_release(&c);
        }
        if (cases[i].extra == 45) /* auto, 45%: no call 55% of the time, sometimes all three */
            assert_true(hist[0] > 120 && hist[0] < 210 && hist[3] > 0);
    }
}

static void test_determinism(void **state)
{
    (void)state;
    char first[4][512];
    int differ = 0;
    for (uint64_t seed = 10; seed < 14; seed++) {
        struct sim_tool_calls a, b;
        calls("required", 60, seed, &a);
        calls("required", 60, seed, &b);
        assert_int_equal(a.n, b.n);
        for (size_t k = 0; k < a.n; k++) {
            assert_string_equal(a.v[k].id, b.v[k].id);
            assert_string_equal(a.v[k].name, b.v[k].name);
            assert_string_equal(a.v[k].args, b.v[k].args);
        }
        snprintf(first[seed - 10], sizeof(first[0]), "%zu %s %s", a.n, a.v[0].id, a.v[0].name);
        if (seed > 10)
            differ += strcmp(first[seed - 10], first[0]) != 0;
        sim_tool_calls_release(&a);
        sim_tool_calls_release(&b);
    }
    assert_int_equal(differ, 3); /* another seed, other ids */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_flag_bounds),
        cmocka_unit_test(test_huge_integer_bounds),
        cmocka_unit_test(test_exclusive_bounds),
        cmocka_unit_test(test_arrays_and_nesting),
        cmocka_unit_test(test_optional_probabilities),
        cmocka_unit_test(test_unvalidated_schemas),
        cmocka_unit_test(test_call_counts),
        cmocka_unit_test(test_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
