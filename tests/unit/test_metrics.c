#include "simulator/sim_metrics.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_appearance_and_values(void **state)
{
    (void)state;
    struct sim_metrics_opts o = {"model\"x", 1024, 1, 16, 1024};
    struct sim_metrics *m = sim_metrics_new(&o);
    struct buf b;
    buf_init(&b, BUF_NOCAP);
    sim_metrics_set_running(m, 2);
    sim_metrics_set_waiting(m, 1);
    assert_int_equal(sim_metrics_format(m, &b), 0);
    const char *t = buf_str(&b);
    assert_non_null(strstr(t, "vllm:num_requests_running{model_name=\"model\\\"x\"} 2\n"));
    assert_non_null(strstr(t, "vllm:num_requests_waiting{model_name=\"model\\\"x\"} 1\n"));
    assert_non_null(strstr(t, "vllm:cache_config_info{model_name=\"model\\\"x\",block_size="
                              "\"16\",num_gpu_blocks=\"1024\"} 1\n"));
    assert_non_null(strstr(t, "max_lora=\"1\",running_lora_adapters=\"\""));
    assert_null(strstr(t, "time_to_first_token")); /* not before the first observation */
    assert_null(strstr(t, "request_success_total"));

    sim_metrics_observe_ttft(m, 0.05);
    sim_metrics_observe_itl(m, 0.02);
    sim_metrics_observe_queue(m, 0);
    struct sim_metrics_done d = {1.2, 1.0, 0.1, 0.9, 10, 46, 50, SIM_FINISH_LENGTH};
    sim_metrics_observe_done(m, &d);
    buf_reset(&b);
    assert_int_equal(sim_metrics_format(m, &b), 0);
    t = buf_str(&b);
    assert_non_null(
        strstr(t, "vllm:time_to_first_token_seconds_bucket{model_name=\"model\\\"x\",le=\"0.04\"} "
                  "0\nvllm:time_to_first_token_seconds_bucket{model_name=\"model\\\"x\",le="
                  "\"0.06\"} 1\n"));
    assert_non_null(
        strstr(t, "vllm:inter_token_latency_seconds_count{model_name=\"model\\\"x\"} 1"));
    assert_non_null(strstr(t, "vllm:time_per_output_token_seconds_count"));
    assert_non_null(strstr(t, "vllm:request_queue_time_seconds_bucket{model_name=\"model\\\"x\","
                              "le=\"0.3\"} 1\n"));
    assert_non_null(strstr(t, "vllm:request_prompt_tokens_bucket{model_name=\"model\\\"x\",le="
                              "\"1000\"} 1\n"));
    assert_non_null(strstr(t, "vllm:request_prompt_tokens_bucket{model_name=\"model\\\"x\",le="
                              "\"5\"} 0\n"));
    assert_null(strstr(t, "le=\"2000\""));
    assert_non_null(strstr(t, "vllm:request_params_max_tokens_sum{model_name=\"model\\\"x\"} 50"));
    assert_non_null(strstr(t, "vllm:request_time_per_output_token_seconds_sum{model_name="
                              "\"model\\\"x\"} 0.02\n"));
    assert_non_null(strstr(t, "vllm:prompt_tokens_total{model_name=\"model\\\"x\"} 10\n"));
    assert_non_null(strstr(t, "vllm:generation_tokens_total{model_name=\"model\\\"x\"} 46\n"));
    assert_non_null(strstr(t, "vllm:request_success_total{model_name=\"model\\\"x\","
                              "finish_reason=\"length\"} 1\n"));
    assert_null(strstr(t, "finish_reason=\"stop\""));
    /* one HELP/TYPE per family */
    const char *first = strstr(t, "# TYPE vllm:request_success_total counter");
    assert_non_null(first);
    assert_null(strstr(first + 1, "# TYPE vllm:request_success_total"));
    buf_release(&b);
    sim_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_appearance_and_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
