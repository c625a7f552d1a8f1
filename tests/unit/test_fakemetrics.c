#include "simulator/sim_fakemetrics.h"
#include "simulator/sim_metrics.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define S 1000000000LL /* one second in ns */

static struct sim_fake *parse(const char *json, char *err, size_t errlen)
{
    cJSON *o = cJSON_Parse(json);
    struct sim_fake *f = NULL;
    assert_non_null(o);
    int rc = sim_fake_parse(o, 1000.5, &f, err, errlen);
    cJSON_Delete(o);
    return rc == 0 ? f : NULL;
}

static void test_parse_values(void **state)
{
    (void)state;
    char err[256] = "";
    struct sim_fake *f =
        parse("{\"running-requests\":3,\"waiting-requests\":\"ramp:10:0:5s\","
              "\"kv-cache-usage\":\"0.25\",\"loras\":[{\"running\":\"a,b\","
              "\"waiting\":\"c\",\"timestamp\":12},\"{\\\"running\\\":\\\"d\\\"}\"],"
              "\"ttft-buckets-values\":[1,0,2],\"request-success-total\":"
              "{\"length\":4},\"total-prompt-tokens\":7}",
              err, sizeof(err));
    assert_non_null(f);
    assert_int_equal(f->running.fn, SIM_FAKE_FIXED);
    assert_true(f->running.value == 3);
    assert_int_equal(f->waiting.fn, SIM_FAKE_RAMP);
    assert_true(f->waiting.start == 10 && f->waiting.end == 0 && f->waiting.period_ns == 5 * S);
    assert_true(f->kv.value == 0.25); /* a numeric string, as YAML scalars may be */
    assert_int_equal(f->nloras, 2);
    assert_string_equal(f->loras[0].running, "a,b");
    assert_true(f->loras[0].timestamp == 12);
    assert_string_equal(f->loras[1].running, "d"); /* upstream's YAML form: JSON text */
    assert_string_equal(f->loras[1].waiting, "");
    assert_true(f->hist[SIM_FAKE_TTFT].set && f->hist[SIM_FAKE_TTFT].n == 3);
    assert_false(f->hist[SIM_FAKE_TPOT].set);
    /* every finish reason shown, 0 unless given */
    assert_true(f->success_set && f->success[1] == 4 && f->success[0] == 0 && f->success[4] == 0);
    assert_true(f->total_prompt_set && f->total_prompt == 7 && !f->total_gen_set);
    assert_true(sim_fake_has_functions(f));
    sim_fake_free(f);
    f = parse("{}", err, sizeof(err));
    assert_non_null(f);
    assert_int_equal(f->nloras, 0);
    assert_true(f->loras_at == 1000); /* the empty LoRA series is valued with the time */
    assert_false(sim_fake_has_functions(f));
    sim_fake_free(f);
}

static void test_parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"kv-cache-usage\":1.5}", "kv-cache-usage: must be between 0 and 1"},
        {"{\"running-requests\":-1}", "running-requests: must not be negative"},
        {"{\"running-requests\":\"sine:0:1:1s\"}", "unknown generator \"sine\""},
        {"{\"running-requests\":\"ramp:0:1\"}", "is not a number or fn:start:end:period"},
        {"{\"running-requests\":\"ramp:0:x:1s\"}", "start and end in"},
        {"{\"running-requests\":\"ramp:0:1:1s:9\"}", "is not a number or fn:start:end:period"},
        {"{\"running-requests\":\":0:1:1s\"}", "is not a number or fn:start:end:period"},
        {"{\"running-requests\":\"ramp:0:1:\"}", "is not a number or fn:start:end:period"},
        {"{\"running-requests\":\"ramp::1:1s\"}", "start and end in"},
        {"{\"running-requests\":\"\"}", "is not a number or fn:start:end:period"},
        {"{\"running-requests\":\"ramp:0:-1:1s\"}", "must not be negative"},
        {"{\"running-requests\":\"ramp:0:1:0s\"}", "must be a positive duration"},
        {"{\"running-requests\":\"ramp:0:1:soon\"}", "must be a positive duration"},
        {"{\"kv-cache-usage\":\"oscillate:0:2:1s\"}", "start and end must be between 0 and 1"},
        {"{\"waiting-requests\":true}", "must be a number or a \"fn:start:end:period\""},
        {"{\"ttft-buckets-values\":[1,-1]}", "ttft-buckets-values: values must be non-negative"},
        {"{\"tpot-buckets-values\":[1.5]}", "tpot-buckets-values: values must be non-negative "
                                            "integers"},
        {"{\"ttft-buckets-values\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}",
         "24 values, but the histogram has 23 buckets"},
        {"{\"e2erl-buckets-values\":{}}", "must be an array of counts"},
        {"{\"request-success-total\":{\"done\":1}}", "\"done\" is not a finish reason"},
        {"{\"request-success-total\":[1]}", "must be an object"},
        {"{\"prefix-cache-hits\":1}", "prefix-cache-hits and prefix-cache-queries go together"},
        {"{\"prefix-cache-hits\":3,\"prefix-cache-queries\":2}", "cannot exceed"},
        {"{\"loras\":{}}", "loras: must be an array"},
        {"{\"loras\":[1]}", "loras: items must be objects"},
        {"{\"loras\":[{\"running\":1}]}", "\"running\" must be a string"},
        {"{\"loras\":[{\"timestamp\":\"x\"}]}", "\"timestamp\" must be a number"},
        {"{\"total-prompt-tokens\":-3}", "total-prompt-tokens: values must be non-negative"},
        {"{\"runing-requests\":1}", "unknown key \"runing-requests\""},
        {"[1]", "must be an object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "";
        struct sim_fake *f = parse(cases[i].json, err, sizeof(err));
        if (f)
            fail_msg("case %zu: %s accepted", i, cases[i].json);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].want);
    }
}

/* Upstream's partial update: absent and null keys stay, [] and {} clear. */
static void test_patch(void **state)
{
    (void)state;
    char err[256] = "";
    struct sim_fake *f = parse("{\"running-requests\":3,\"waiting-requests\":4,"
                               "\"ttft-buckets-values\":[1,2],\"request-success-total\":{\"stop\":"
                               "2},\"loras\":[{\"running\":\"a\"}]}",
                               err, sizeof(err));
    cJSON *p = cJSON_Parse("{\"running-requests\":7,\"waiting-requests\":null,"
                           "\"ttft-buckets-values\":[],\"request-success-total\":{},\"loras\":[]}");
    struct sim_fake *n = sim_fake_patch(f, p, 2000, err, sizeof(err));
    cJSON_Delete(p);
    assert_non_null(n);
    assert_true(n->running.value == 7 && n->waiting.value == 4);
    assert_true(n->hist[SIM_FAKE_TTFT].set && n->hist[SIM_FAKE_TTFT].n == 0);
    assert_true(n->success_set && n->success[0] == 0);
    assert_int_equal(n->nloras, 0);
    assert_true(n->loras_at == 2000);
    /* the original is untouched */
    assert_true(f->running.value == 3 && f->hist[SIM_FAKE_TTFT].n == 2 && f->nloras == 1);
    /* a bad patch changes nothing and says why */
    p = cJSON_Parse("{\"running-requests\":1,\"kv-cache-usage\":9}");
    assert_null(sim_fake_patch(n, p, 2000, err, sizeof(err)));
    assert_non_null(strstr(err, "kv-cache-usage"));
    cJSON_Delete(p);
    /* hits alone is fine when queries are already there */
    p = cJSON_Parse("{\"prefix-cache-hits\":1,\"prefix-cache-queries\":5}");
    struct sim_fake *m = sim_fake_patch(n, p, 2000, err, sizeof(err));
    cJSON_Delete(p);
    p = cJSON_Parse("{\"prefix-cache-hits\":4}");
    struct sim_fake *k = sim_fake_patch(m, p, 2000, err, sizeof(err));
    cJSON_Delete(p);
    assert_non_null(k);
    assert_true(k->prefix_hits == 4 && k->prefix_queries == 5);
    /* printed as upstream's keys; a function as its spec */
    cJSON *j = sim_fake_json(k);
    char *text = cJSON_PrintUnformatted(j);
    assert_non_null(strstr(text, "\"running-requests\":7"));
    assert_non_null(strstr(text, "\"ttft-buckets-values\":[]"));
    assert_non_null(strstr(text, "\"tpot-buckets-values\":null"));
    assert_non_null(strstr(text, "\"prefix-cache-hits\":4"));
    free(text);
    cJSON_Delete(j);
    struct sim_fake *g = parse("{\"running-requests\":\"oscillate:0.5:10:1m30s\"}", err, 256);
    j = sim_fake_json(g);
    text = cJSON_PrintUnformatted(j);
    if (!strstr(text, "\"running-requests\":\"oscillate:0.5:10:1m30s\""))
        fail_msg("%s", text);
    free(text);
    cJSON_Delete(j);
    sim_fake_free(g);
    sim_fake_free(k);
    sim_fake_free(m);
    sim_fake_free(n);
    sim_fake_free(f);
}

static void test_generators(void **state)
{
    (void)state;
    const struct sim_fake_gauge osc = {SIM_FAKE_OSCILLATE, 0, 0, 10, 4 * S};
    assert_true(fabs(sim_fake_gauge_at(&osc, 0, false) - 5) < 1e-9);
    assert_true(fabs(sim_fake_gauge_at(&osc, S, false) - 10) < 1e-9);
    assert_true(fabs(sim_fake_gauge_at(&osc, 3 * S, false) - 0) < 1e-9);
    assert_true(sim_fake_gauge_at(&osc, S / 2, true) == 8); /* 8.53 truncated, as upstream */
    /* bounds far apart: float rounding must not leave [start, end] (a fuzz find) */
    const struct sim_fake_gauge wide = {SIM_FAKE_OSCILLATE, 0, 5.3e70, 10, 4 * S};
    for (int64_t t = 0; t < 8 * S; t += S / 4) {
        double v = sim_fake_gauge_at(&wide, t, true);
        assert_true(v >= 10 && v <= 5.3e70);
    }
    const struct sim_fake_gauge ramp = {SIM_FAKE_RAMP, 0, 10, 0, 5 * S};
    assert_true(sim_fake_gauge_at(&ramp, 0, false) == 10);
    assert_true(sim_fake_gauge_at(&ramp, 2 * S, false) == 6);
    assert_true(sim_fake_gauge_at(&ramp, 5 * S, false) == 0);
    assert_true(sim_fake_gauge_at(&ramp, 60 * S, false) == 0); /* stays at the end */
    const struct sim_fake_gauge rr = {SIM_FAKE_RAMPRESET, 0, 0, 4, 2 * S};
    assert_true(sim_fake_gauge_at(&rr, S, false) == 2);
    assert_true(sim_fake_gauge_at(&rr, 2 * S, false) == 0); /* back to the start */
    assert_true(sim_fake_gauge_at(&rr, 5 * S / 2, false) == 1);
    const struct sim_fake_gauge sq = {SIM_FAKE_SQUAREWAVE, 0, 1, 7, 2 * S};
    assert_true(sim_fake_gauge_at(&sq, 0, false) == 1);
    assert_true(sim_fake_gauge_at(&sq, S - 1, false) == 1);
    assert_true(sim_fake_gauge_at(&sq, S, false) == 7);
    assert_true(sim_fake_gauge_at(&sq, 2 * S, false) == 1);
    const struct sim_fake_gauge fixed = {SIM_FAKE_FIXED, 2.5, 0, 0, 0};
    assert_true(sim_fake_gauge_at(&fixed, 9 * S, true) == 2.5); /* numbers are as given */
    /* a token counter from bucket counts: count x bound, past the last bound + 1 */
    static const double b[] = {1, 2, 5};
    uint64_t v[] = {1, 0, 2, 3};
    const struct sim_fake_counts c = {true, v, 4};
    assert_true(sim_fake_counts_sum(&c, b, 3) == 1 + 10 + 18);
}

/* sim_metrics shows the spec instead of the real metrics. */
static void test_format(void **state)
{
    (void)state;
    char err[256] = "";
    struct sim_metrics_opts o = {"m", 1024, 2, 16, 1024};
    struct sim_metrics *m = sim_metrics_new(&o);
    struct sim_metrics_done d = {1.2, 1.0, 0.1, 0.9, 10, 46, 50, SIM_FINISH_STOP};
    sim_metrics_observe_done(m, &d); /* real: hidden once fake */
    sim_metrics_set_running(m, 3);
    struct sim_fake *f = parse("{\"running-requests\":\"ramp:0:10:10s\",\"waiting-requests\":30,"
                               "\"kv-cache-usage\":0.4,\"loras\":[{\"running\":\"l1\",\"waiting\":"
                               "\"l2\",\"timestamp\":1257894567},{\"running\":\"l3\"}],"
                               "\"tpot-buckets-values\":[0,2,0,1],\"request-generation-tokens\":"
                               "[1,1],\"request-success-total\":{\"stop\":2},\"prefix-cache-hits\":"
                               "1,\"prefix-cache-queries\":4,\"ttft-buckets-values\":[0,0]}",
                               err, sizeof(err));
    assert_non_null(f);
    sim_metrics_set_fake(m, f, 100000000);
    struct buf b;
    buf_init(&b, BUF_NOCAP);
    assert_int_equal(sim_metrics_format(m, &b), 0);
    const char *t = buf_str(&b);
    assert_non_null(strstr(t, "vllm:num_requests_running{model_name=\"m\"} 0\n"));
    assert_non_null(strstr(t, "vllm:num_requests_waiting{model_name=\"m\"} 30\n"));
    assert_non_null(strstr(t, "vllm:kv_cache_usage_perc{model_name=\"m\"} 0.4\n"));
    assert_non_null(strstr(t, "{model_name=\"m\",max_lora=\"2\",running_lora_adapters=\"l1\","
                              "waiting_lora_adapters=\"l2\"} 1257894567\n"));
    assert_non_null(strstr(t, "running_lora_adapters=\"l3\",waiting_lora_adapters=\"\"} 0\n"));
    /* TPOT counts feed both per-token histograms */
    assert_non_null(strstr(t, "vllm:time_per_output_token_seconds_bucket{model_name=\"m\",le="
                              "\"0.01\"} 0\nvllm:time_per_output_token_seconds_bucket{model_name="
                              "\"m\",le=\"0.025\"} 2\n"));
    assert_non_null(strstr(t, "vllm:inter_token_latency_seconds_count{model_name=\"m\"} 3\n"));
    assert_non_null(strstr(t, "vllm:inter_token_latency_seconds_sum{model_name=\"m\"} 0.125\n"));
    assert_null(strstr(t, "time_to_first_token")); /* all-zero counts: no series */
    assert_null(strstr(t, "e2e_request_latency")); /* the real observation is not shown */
    assert_non_null(strstr(t, "vllm:generation_tokens_total{model_name=\"m\"} 3\n"));
    assert_null(strstr(t, "vllm:prompt_tokens_total"));
    assert_non_null(strstr(t, "finish_reason=\"stop\"} 2\n"));
    assert_non_null(strstr(t, "finish_reason=\"cache_threshold\"} 0\n"));
    assert_non_null(strstr(t, "vllm:prefix_cache_hits_total{model_name=\"m\"} 1\n"));
    assert_non_null(strstr(t, "vllm:prefix_cache_queries_total{model_name=\"m\"} 4\n"));
    buf_release(&b);
    sim_metrics_free(m);
    sim_fake_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_values), cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_patch),        cmocka_unit_test(test_generators),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
