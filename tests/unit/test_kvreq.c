#include "simulator/sim_kvreq.h"

#include "simulator/sim_blockhash.h"
#include "simulator/sim_tokenizer.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_threshold_rule(void **state)
{
    (void)state;
    static const struct {
        bool given;
        double req, global;
        long cached, queried;
        bool below;
    } cases[] = {
        {false, 0, 0, 0, 10, false},    /* no threshold at all */
        {true, 0.5, 0, 4, 10, true},    /* 0.4 < 0.5 */
        {true, 0.4, 0, 4, 10, false},   /* equal is not below */
        {true, 0, 0.9, 0, 10, false},   /* the request's 0 beats the global value */
        {false, 0, 0.9, 8, 10, true},   /* the global value */
        {false, 0, 0.8, 8, 10, false},  /* 0.8 is not below 0.8 */
        {true, 1.5, 0.5, 8, 10, false}, /* out of range: the global value, as upstream */
        {true, 0.1, 0, 0, 0, true},     /* nothing queried: hit rate 0 */
        {true, 1, 0, 16, 16, false},    /* all cached */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (sim_kvreq_below_threshold(cases[i].given, cases[i].req, cases[i].global,
                                      cases[i].cached, cases[i].queried) != cases[i].below)
            fail_msg("case %zu", i);
}

static struct sim_kvcache *cache(long capacity)
{
    struct sim_kvcache_opts o = {.capacity = capacity, .block_size = 8, .hash_seed = "s"};
    return sim_kvcache_new(&o);
}

static void parse(enum sim_api api, const char *body, struct sim_request *req)
{
    char err[256];
    const char *param;
    assert_int_equal(sim_request_parse(api, body, strlen(body), req, err, sizeof(err), &param), 0);
}

static void test_prompts_and_choices(void **state)
{
    (void)state;
    struct sim_kvcache *kv = cache(100);
    struct sim_metrics_opts mo = {"m", 1024, 1, 8, 100};
    struct sim_metrics *m = sim_metrics_new(&mo);
    struct sim_request req;
    struct sim_kvreq r;
    char err[256];
    /* two prompts: 20 words (2 full blocks of 8) and 17 token ids (2 blocks) */
    const char *body = "{\"prompt\":[\"a b c d e f g h i j k l m n o p q r s t\","
                       "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,4294967295]],\"n\":2}";
    parse(SIM_API_COMPLETIONS, body, &req);
    sim_kvreq_init(&r, kv, m, &req, 4, "m");
    assert_int_equal(r.p[0].ntokens, 20);
    assert_int_equal(r.p[0].nblocks, 2);
    assert_int_equal(r.p[1].ntokens, 17);
    assert_int_equal(r.p[1].nblocks, 2);
    assert_true(r.p[1].tokens[16] == 4294967295u);
    /* the keys are the dummy tokenizer's ids, chained from the model's root */
    struct sim_toklist t;
    sim_toklist_init(&t);
    sim_tokenize(req.prompts[0].text, req.prompts[0].text_len, &t);
    uint32_t ids[8];
    for (size_t i = 0; i < 8; i++)
        ids[i] = t.v[i].id;
    assert_true(r.p[0].keys[0] == sim_blockhash_link(sim_blockhash_root("s", "m"), ids, 8, NULL));
    sim_toklist_release(&t);
    long cached = -1;
    assert_int_equal(sim_kvreq_start(&r, 0, 0, &cached), 0);
    assert_int_equal(cached, 0);
    assert_int_equal(sim_kvreq_start(&r, 1, 0, &cached), 0); /* n=2: the same prompt again */
    assert_int_equal(cached, 16);
    sim_kvreq_end(&r, 0);
    sim_kvreq_end(&r, 0); /* idempotent */
    assert_int_equal(sim_kvreq_start(&r, 2, 1, &cached), 0);
    struct buf b;
    buf_init(&b, BUF_NOCAP);
    assert_int_equal(sim_metrics_format(m, &b), 0);
    assert_non_null(strstr(buf_str(&b), "vllm:prefix_cache_queries_total{model_name=\"m\"} 57"));
    assert_non_null(strstr(buf_str(&b), "vllm:prefix_cache_hits_total{model_name=\"m\"} 16"));
    assert_non_null(strstr(buf_str(&b), "vllm:kv_cache_usage_perc{model_name=\"m\"} 0.04"));
    sim_kvreq_release(&r); /* ends choices 1 and 2 */
    buf_reset(&b);
    assert_int_equal(sim_metrics_format(m, &b), 0);
    assert_non_null(strstr(buf_str(&b), "vllm:kv_cache_usage_perc{model_name=\"m\"} 0\n"));
    buf_release(&b);
    sim_request_release(&req);

    /* a token id that does not fit in 32 bits never gets here: the parser refuses it,
     * as upstream's []uint32 does */
    const char *param, *big = "{\"prompt\":[1,4294967296]}";
    assert_int_equal(
        sim_request_parse(SIM_API_COMPLETIONS, big, strlen(big), &req, err, sizeof(err), &param),
        400);
    sim_request_release(&req);

    /* no cache: everything is a no-op */
    parse(SIM_API_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &req);
    sim_kvreq_init(&r, NULL, m, &req, 1, "m");
    assert_int_equal(sim_kvreq_start(&r, 0, 0, &cached), 0);
    assert_int_equal(cached, 0);
    sim_kvreq_release(&r);
    sim_request_release(&req);
    sim_metrics_free(m);
    sim_kvcache_free(kv);
}

static void test_capacity(void **state)
{
    (void)state;
    struct sim_kvcache *kv = cache(1);
    struct sim_request req;
    struct sim_kvreq r;
    parse(SIM_API_COMPLETIONS, "{\"prompt\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}", &req);
    sim_kvreq_init(&r, kv, NULL, &req, 1, "m");
    long cached;
    assert_int_equal(sim_kvreq_start(&r, 0, 0, &cached), -ENOSPC);
    sim_kvreq_release(&r);
    sim_request_release(&req);
    sim_kvcache_free(kv);
}

/* /inference/v1/generate's token_ids are hashed as ids, like a completions
 * token-id prompt, not as the text "1,2,3" */
static void test_generate_ids(void **state)
{
    (void)state;
    struct sim_kvcache *kv = cache(100);
    struct sim_request a, b;
    struct sim_kvreq ra, rb;
    parse(SIM_API_COMPLETIONS, "{\"prompt\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]}", &a);
    parse(SIM_API_GENERATE,
          "{\"token_ids\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17],\"sampling_params\":"
          "{\"max_tokens\":1}}",
          &b);
    sim_kvreq_init(&ra, kv, NULL, &a, 1, "m");
    sim_kvreq_init(&rb, kv, NULL, &b, 1, "m");
    assert_int_equal(rb.p[0].ntokens, 17);
    assert_true(rb.p[0].tokens[0] == 1 && rb.p[0].tokens[16] == 17);
    assert_int_equal(rb.p[0].nblocks, 2);
    assert_memory_equal(ra.p[0].keys, rb.p[0].keys, 2 * sizeof(*ra.p[0].keys));
    sim_kvreq_release(&ra);
    sim_kvreq_release(&rb);
    sim_request_release(&a);
    sim_request_release(&b);
    sim_kvcache_free(kv);
}

static void test_request_threshold_field(void **state)
{
    (void)state;
    struct sim_request req;
    char err[256];
    const char *param;
    parse(SIM_API_CHAT,
          "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"cache_hit_threshold\":0.25}",
          &req);
    assert_true(req.cache_hit_given && req.cache_hit_threshold == 0.25);
    assert_int_equal(sim_request_validate(&req, err, sizeof(err), &param), 0);
    sim_request_release(&req);
    parse(SIM_API_COMPLETIONS, "{\"prompt\":\"x\",\"cache_hit_threshold\":null}", &req);
    assert_false(req.cache_hit_given);
    sim_request_release(&req);
    parse(SIM_API_COMPLETIONS, "{\"prompt\":\"x\",\"cache_hit_threshold\":1.5}", &req);
    assert_int_equal(sim_request_validate(&req, err, sizeof(err), &param), 400);
    assert_string_equal(param, "cache_hit_threshold");
    assert_string_equal(err, "cache_hit_threshold must be between 0 and 1");
    sim_request_release(&req);
    const char *bad = "{\"prompt\":\"x\",\"cache_hit_threshold\":\"high\"}";
    assert_int_equal(
        sim_request_parse(SIM_API_COMPLETIONS, bad, strlen(bad), &req, err, sizeof(err), &param),
        400);
    assert_string_equal(param, "cache_hit_threshold");
    sim_request_release(&req);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threshold_rule),
        cmocka_unit_test(test_prompts_and_choices),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_generate_ids),
        cmocka_unit_test(test_request_threshold_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
