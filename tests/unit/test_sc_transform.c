#include "sidecar/sc_rewrite.h"
#include "sidecar/sc_transform.h"

#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static char *prefill(enum sc_api api, const char *client)
{
    cJSON *c = cJSON_Parse(client);
    assert_non_null(c);
    char *out = sc_nixlv2_prefill_body(api, c);
    cJSON_Delete(c);
    return out;
}

static void test_prefill_chat(void **state)
{
    (void)state;
    static const struct {
        enum sc_api api;
        const char *in, *want;
    } cases[] = {
        {SC_API_CHAT,
         "{\"model\":\"m\",\"messages\":[],\"stream\":true,\"stream_options\":{\"include_usage\":"
         "true},\"max_tokens\":50,\"max_completion_tokens\":100,\"kv_transfer_params\":{\"x\":1}}",
         "{\"model\":\"m\",\"messages\":[],\"stream\":false,\"max_tokens\":1,"
         "\"max_completion_tokens\":1,\"kv_transfer_params\":{\"do_remote_decode\":true,"
         "\"do_remote_prefill\":false,\"remote_engine_id\":null,\"remote_block_ids\":null,"
         "\"remote_host\":null,\"remote_port\":null},\"min_tokens\":1}"},
        {SC_API_COMPLETIONS, "{\"prompt\":\"p\"}",
         "{\"prompt\":\"p\",\"kv_transfer_params\":{\"do_remote_decode\":true,"
         "\"do_remote_prefill\":false,\"remote_engine_id\":null,\"remote_block_ids\":null,"
         "\"remote_host\":null,\"remote_port\":null},\"stream\":false,\"max_tokens\":1,"
         "\"max_completion_tokens\":1,\"min_tokens\":1}"},
        {SC_API_RESPONSES, "{\"input\":\"x\",\"max_output_tokens\":100,\"stream\":true}",
         "{\"input\":\"x\",\"max_output_tokens\":1,\"stream\":false,\"kv_transfer_params\":{"
         "\"do_remote_decode\":true,\"do_remote_prefill\":false,\"remote_engine_id\":null,"
         "\"remote_block_ids\":null,\"remote_host\":null,\"remote_port\":null}}"},
        {SC_API_GENERATE, "{\"token_ids\":[1]}",
         "{\"token_ids\":[1],\"kv_transfer_params\":{\"do_remote_decode\":true,"
         "\"do_remote_prefill\":false,\"remote_engine_id\":null,\"remote_block_ids\":null,"
         "\"remote_host\":null,\"remote_port\":null},\"stream\":false,\"sampling_params\":{"
         "\"max_tokens\":1,\"min_tokens\":1}}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = prefill(cases[i].api, cases[i].in);
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("case %zu:\n got %s\nwant %s", i, out, cases[i].want);
        cJSON_free(out);
    }
}

static void test_decode_restores_original(void **state)
{
    (void)state;
    const char *in = "{\"model\":\"m\",\"stream\":true,\"max_completion_tokens\":100,"
                     "\"kv_transfer_params\":{\"client\":1}}";
    cJSON *c = cJSON_Parse(in);
    cJSON *kv =
        cJSON_Parse("{\"remote_engine_id\":\"e\",\"remote_block_ids\":[1,2],\"tp_size\":1}");
    char *out = sc_nixlv2_decode_body(c, kv);
    assert_string_equal(out, "{\"model\":\"m\",\"stream\":true,\"max_completion_tokens\":100,"
                             "\"kv_transfer_params\":{\"remote_engine_id\":\"e\","
                             "\"remote_block_ids\":[1,2],\"tp_size\":1}}");
    cJSON_free(out);
    out = sc_nixlv2_decode_body(c, NULL);
    assert_non_null(strstr(out, "\"kv_transfer_params\":null"));
    assert_null(strstr(out, "max_tokens"));
    cJSON_free(out);
    cJSON_Delete(c);
    cJSON_Delete(kv);
}

static void test_paths_and_cached(void **state)
{
    (void)state;
    enum sc_api api;
    assert_int_equal(sc_api_from_path("/v1/messages", &api), 0);
    assert_int_equal(api, SC_API_MESSAGES);
    assert_true(sc_api_from_path("/v1/models", &api) < 0);
    cJSON *r = cJSON_Parse("{\"usage\":{\"prompt_tokens_details\":{\"cached_tokens\":7}}}");
    assert_int_equal(sc_cached_tokens(r), 7);
    cJSON_Delete(r);
    r = cJSON_Parse("{\"usage\":{\"prompt_tokens_details\":null}}");
    assert_int_equal(sc_cached_tokens(r), 0);
    cJSON_Delete(r);
    /* found by fuzz_sc_transform: a huge value was converted to long (undefined) */
    r = cJSON_Parse("{\"usage\":{\"prompt_tokens_details\":{\"cached_tokens\":2e109}}}");
    assert_int_equal(sc_cached_tokens(r), 0);
    cJSON_Delete(r);
}

/* The decoder's SSE output, fed split at every pair of points, comes out
 * with the prefiller's cached_tokens and otherwise byte for byte. */
static void test_sse_rewrite_any_split(void **state)
{
    (void)state;
    const char *in = "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n"
                     "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,"
                     "\"prompt_tokens_details\":{\"cached_tokens\":49}}}\n\n"
                     "data: [DONE]\n\n";
    const char *want = "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n"
                       "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,"
                       "\"prompt_tokens_details\":{\"cached_tokens\":7}}}\n\n"
                       "data: [DONE]\n\n";
    size_t n = strlen(in);
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b += 5) {
            struct sc_rewriter r;
            struct buf out;
            sc_rewriter_init(&r, 7, true, 1 << 20);
            buf_init(&out, BUF_NOCAP);
            assert_int_equal(sc_rewriter_feed(&r, in, a, &out), 0);
            /* every complete line is out as soon as it ends */
            const char *nl = a ? memchr(in, '\n', a) : NULL;
            if (nl && (size_t)(nl - in) < 60)
                assert_true(out.len > 0);
            assert_int_equal(sc_rewriter_feed(&r, in + a, b - a, &out), 0);
            assert_int_equal(sc_rewriter_feed(&r, in + b, n - b, &out), 0);
            assert_int_equal(sc_rewriter_finish(&r, &out), 0);
            if (strcmp(buf_str(&out), want) != 0)
                fail_msg("split %zu/%zu: %s", a, b, buf_str(&out));
            buf_release(&out);
            sc_rewriter_release(&r);
        }
    }
}

static void test_json_rewrite(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"{\"usage\":{\"prompt_tokens\":3}}",
         "{\"usage\":{\"prompt_tokens\":3,\"prompt_tokens_details\":{\"cached_tokens\":7}}}"},
        {"{\"usage\":{\"prompt_tokens_details\":null}}",
         "{\"usage\":{\"prompt_tokens_details\":{\"cached_tokens\":7}}}"},
        {"{\"usage\":null}", "{\"usage\":null}"},
        {"not json", "not json"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sc_rewriter r;
        struct buf out;
        sc_rewriter_init(&r, 7, false, 1 << 20);
        buf_init(&out, BUF_NOCAP);
        size_t n = strlen(cases[i].in);
        assert_int_equal(sc_rewriter_feed(&r, cases[i].in, n / 2, &out), 0);
        assert_int_equal(out.len, 0); /* a JSON body is held until it is whole */
        assert_int_equal(sc_rewriter_feed(&r, cases[i].in + n / 2, n - n / 2, &out), 0);
        assert_int_equal(sc_rewriter_finish(&r, &out), 0);
        assert_string_equal(buf_str(&out), cases[i].want);
        buf_release(&out);
        sc_rewriter_release(&r);
    }
    struct sc_rewriter r;
    struct buf out;
    sc_rewriter_init(&r, 7, true, 16);
    buf_init(&out, BUF_NOCAP);
    assert_int_equal(sc_rewriter_feed(&r, "data: 0123456789abcdef", 22, &out), -E2BIG);
    buf_release(&out);
    sc_rewriter_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefill_chat),     cmocka_unit_test(test_decode_restores_original),
        cmocka_unit_test(test_paths_and_cached), cmocka_unit_test(test_sse_rewrite_any_split),
        cmocka_unit_test(test_json_rewrite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
