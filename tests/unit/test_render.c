#include "simulator/sim_render.h"
#include "simulator/sim_tokenizer.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void parse(enum sim_api api, const char *body, struct sim_request *req)
{
    char err[256];
    const char *param;
    if (sim_request_parse(api, body, strlen(body), req, err, sizeof(err), &param))
        fail_msg("%s: %s", body, err);
}

static void test_prompt_ids(void **state)
{
    (void)state;
    struct sim_request req;
    size_t n;
    parse(SIM_API_COMPLETIONS, "{\"prompt\":[\"This is a test.\",[7,4294967295,0]]}", &req);
    uint32_t *ids = sim_render_prompt_ids(&req.prompts[0], &n);
    assert_int_equal(n, 5);
    assert_true(ids[0] == sim_fnv1a32("This ", 5) && ids[4] == sim_fnv1a32(".", 1));
    free(ids);
    ids = sim_render_prompt_ids(&req.prompts[1], &n);
    assert_int_equal(n, 3); /* given ids pass through */
    assert_true(ids[0] == 7 && ids[1] == 4294967295u && ids[2] == 0);
    free(ids);
    sim_request_release(&req);
    /* chat: the flattened messages, 10 tokens for one user message (as upstream) */
    parse(SIM_API_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"This is a test.\"}]}",
          &req);
    ids = sim_render_prompt_ids(&req.prompts[0], &n);
    assert_int_equal(n, 10);
    assert_true(ids[0] == sim_fnv1a32("#", 1) && ids[3] == sim_fnv1a32("user", 4));
    free(ids);
    sim_request_release(&req);
}

static void test_completions(void **state)
{
    (void)state;
    struct sim_request req;
    struct buf b;
    char want[256];
    buf_init(&b, BUF_NOCAP);
    parse(SIM_API_COMPLETIONS, "{\"prompt\":[\"hi there\",[1,2,3]]}", &req);
    assert_int_equal(sim_render_completions(&b, &req), 0);
    snprintf(want, sizeof(want), "[{\"token_ids\":[%u,%u]},{\"token_ids\":[1,2,3]}]",
             sim_fnv1a32("hi ", 3), sim_fnv1a32("there", 5));
    assert_string_equal(buf_str(&b), want);
    sim_request_release(&req);
    buf_reset(&b);
    parse(SIM_API_COMPLETIONS, "{\"prompt\":\"x\"}", &req); /* one object in an array, as vLLM */
    assert_int_equal(sim_render_completions(&b, &req), 0);
    snprintf(want, sizeof(want), "[{\"token_ids\":[%u]}]", sim_fnv1a32("x", 1));
    assert_string_equal(buf_str(&b), want);
    sim_request_release(&req);
    buf_release(&b);
}

static void test_chat_features(void **state)
{
    (void)state;
    struct sim_request req;
    struct buf b;
    buf_init(&b, BUF_NOCAP);
    parse(SIM_API_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &req);
    assert_int_equal(sim_render_chat(&b, &req), 0);
    assert_null(strstr(buf_str(&b), "features")); /* text only: no features */
    assert_true(strncmp(buf_str(&b), "{\"token_ids\":[", 14) == 0);
    sim_request_release(&req);
    buf_reset(&b);
    parse(SIM_API_CHAT,
          "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":"
          "{\"url\":\"http://a/1.png\"}},{\"type\":\"text\",\"text\":\"look at these\"},"
          "{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"AAAA\",\"format\":\"wav\"}},"
          "{\"type\":\"image_url\",\"image_url\":{\"url\":\"http://a/2.png\"}},"
          "{\"type\":\"image_url\",\"image_url\":{\"url\":\"\"}}]}]}",
          &req);
    assert_int_equal(sim_render_chat(&b, &req), 0);
    const char *t = buf_str(&b);
    char want[512];
    size_t n;
    uint32_t *ids = sim_render_prompt_ids(&req.prompts[0], &n);
    free(ids);
    long span = (long)n / 3;
    /* Go's sorted map keys; hashes sim_<prefix>_<index>_<fnv32 hex>; kwargs their base64 */
    snprintf(want, sizeof(want),
             "\"features\":{\"mm_hashes\":{\"audio\":[\"sim_audio_0_%x\"],\"image\":"
             "[\"sim_img_0_%x\",\"sim_img_1_%x\"]},\"mm_placeholders\":{\"audio\":[{\"offset\":"
             "%ld,\"length\":%ld}],\"image\":[{\"offset\":0,\"length\":%ld},{\"offset\":%ld,"
             "\"length\":%ld}]},\"kwargs_data\":{\"audio\":[",
             sim_fnv1a32("AAAA", 4), sim_fnv1a32("http://a/1.png", 14),
             sim_fnv1a32("http://a/2.png", 14), span, span, span, 2 * span, span);
    if (!strstr(t, want))
        fail_msg("%s\nlacks\n%s", t, want);
    assert_non_null(strstr(t, "\"image\":[\"c2ltX2ltZ18w")); /* base64("sim_img_0...") */
    assert_string_equal(t + strlen(t) - 5, "\"]}}}");
    sim_request_release(&req);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prompt_ids),
        cmocka_unit_test(test_completions),
        cmocka_unit_test(test_chat_features),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
