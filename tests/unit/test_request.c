#include "simulator/sim_pd.h"
#include "simulator/sim_request.h"
#include "simulator/sim_response.h"

#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static int parse(enum sim_api api, const char *body, struct sim_request *r, char *err,
                 const char **param)
{
    int rc = sim_request_parse(api, body, strlen(body), r, err, 256, param);
    return rc ? rc : sim_request_validate(r, err, 256, param);
}

static void test_chat_fields(void **state)
{
    (void)state;
    struct sim_request r;
    char err[256] = "";
    const char *param;
    const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"be "
                       "brief\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
                       "\"This is a test.\"}]}],\"stream\":true,\"stream_options\":{"
                       "\"include_usage\":true},\"max_tokens\":9,\"max_completion_tokens\":7,"
                       "\"n\":2,\"temperature\":0.5,\"kv_transfer_params\":{"
                       "\"do_remote_prefill\":true}}";
    assert_int_equal(parse(SIM_API_CHAT, body, &r, err, &param), 0);
    assert_string_equal(r.model, "m");
    assert_true(r.stream && r.include_usage && r.do_remote_prefill && !r.do_remote_decode);
    assert_int_equal(r.max_tokens, 7); /* max_completion_tokens wins */
    assert_int_equal(r.n, 2);
    assert_int_equal(r.nprompts, 1);
    assert_string_equal(r.prompts[0].text, "### system: be brief\n### user: This is a test.\n");
    assert_string_equal(r.prompts[0].echo, "This is a test.");
    assert_int_equal(r.prompts[0].ntokens, 17);
    sim_request_release(&r);
}

static void test_completion_prompts(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        size_t n;
        long tokens0;
        const char *echo0;
    } cases[] = {
        {"{\"prompt\":\"This is a test.\"}", 1, 5, "This is a test."},
        {"{\"prompt\":[\"a b\",\"c\"]}", 2, 2, "a b"},
        {"{\"prompt\":[1,2,3]}", 1, 3, "1,2,3"},
        {"{\"prompt\":[[1],[2,3]]}", 2, 1, "1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sim_request r;
        char err[256] = "";
        const char *param;
        assert_int_equal(parse(SIM_API_COMPLETIONS, cases[i].body, &r, err, &param), 0);
        assert_int_equal(r.nprompts, cases[i].n);
        assert_int_equal(r.prompts[0].ntokens, cases[i].tokens0);
        assert_string_equal(r.prompts[0].echo, cases[i].echo0);
        assert_string_equal(r.model, "");
        sim_request_release(&r);
    }
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        enum sim_api api;
        const char *body, *want, *param;
    } cases[] = {
        {SIM_API_CHAT, "{", "Failed to read and parse request body", ""},
        {SIM_API_CHAT, "3", "expected a JSON object", ""},
        {SIM_API_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":\"2\"}",
         "field 'n' must be an integer", "n"},
        {SIM_API_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":1.5}",
         "field 'n' must be an integer", "n"},
        {SIM_API_CHAT, "{\"messages\":[{\"content\":\"x\"}]}", "string 'role'", "messages"},
        {SIM_API_CHAT, "{\"messages\":[]}", "must not be empty", "messages"},
        {SIM_API_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":5}]}",
         "must be a string or an array", "messages"},
        {SIM_API_CHAT, "{\"messages\":[{\"role\":\"u\",\"content\":\"x\"}],\"max_tokens\":0}",
         "should be positive", "max_tokens"},
        {SIM_API_CHAT,
         "{\"messages\":[{\"role\":\"u\",\"content\":\"x\"}],\"kv_transfer_params\":[]}",
         "field 'kv_transfer_params' must be an object", "kv_transfer_params"},
        {SIM_API_COMPLETIONS, "{\"prompt\":[\"a\",\"\"]}", "prompt must not be empty", "prompt"},
        {SIM_API_COMPLETIONS, "{\"prompt\":[1,-2]}", "non-negative integers", "prompt"},
        /* found by fuzz_sim_request: token ids past 2^63 were cast to long (undefined) */
        {SIM_API_COMPLETIONS, "{\"prompt\":[1e300]}", "non-negative integers", "prompt"},
        {SIM_API_COMPLETIONS, "{\"prompt\":[[9223372036854775808]]}", "non-negative integers",
         "prompt"},
        /* uint32 ids, as upstream's []uint32 */
        {SIM_API_COMPLETIONS, "{\"prompt\":[4294967296]}", "integers up to 4294967295", "prompt"},
        {SIM_API_COMPLETIONS, "{\"prompt\":true}", "must be a string", "prompt"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sim_request r;
        char err[256] = "";
        const char *param = "";
        assert_int_equal(parse(cases[i].api, cases[i].body, &r, err, &param), 400);
        if (!strstr(err, cases[i].want) || strcmp(param, cases[i].param) != 0)
            fail_msg("case %zu: \"%s\" param \"%s\"", i, err, param);
        sim_request_release(&r);
    }
}

static void test_context_window(void **state)
{
    (void)state;
    struct sim_request r;
    char err[256] = "";
    const char *param;
    assert_int_equal(parse(SIM_API_COMPLETIONS, "{\"prompt\":\"This is a test.\",\"max_tokens\":6}",
                           &r, err, &param),
                     0);
    assert_int_equal(sim_request_check_context(&r, 11, err, sizeof(err)), 0);
    assert_int_equal(sim_request_check_context(&r, 10, err, sizeof(err)), 400);
    assert_non_null(strstr(err, "maximum context length is 10 tokens. However, you requested 11 "
                                "tokens (5 in the messages, 6 in the completion)"));
    sim_request_release(&r);
}

static void test_response_shapes(void **state)
{
    (void)state;
    struct sim_resp_ctx c = {SIM_API_CHAT, "chatcmpl-1", "m\"x", 100};
    struct sim_resp_usage u = {10, 2, 0, false};
    struct sim_resp_choice ch = {0, "hi\n", 3, SIM_FINISH_STOP, NULL, 0, -1, NULL};
    struct buf b;
    buf_init(&b, BUF_NOCAP);
    assert_int_equal(sim_resp_full(&b, &c, &ch, 1, &u, NULL), 0);
    assert_string_equal(
        buf_str(&b), "{\"id\":\"chatcmpl-1\",\"model\":\"m\\\"x\",\"object\":\"chat.completion\","
                     "\"created\":100,\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":2,"
                     "\"total_tokens\":12,\"prompt_tokens_details\":{\"cached_tokens\":0}},"
                     "\"choices\":[{\"index\":0,\"finish_reason\":\"stop\",\"message\":{"
                     "\"role\":\"assistant\",\"content\":\"hi\\n\"}}]}");
    buf_reset(&b);
    struct sim_resp_usage none = {10, 0, 0, true}; /* a cache_threshold answer */
    struct sim_resp_choice empty = {0, "", 0, SIM_FINISH_CACHE_THRESHOLD, NULL, 0, -1, NULL};
    assert_int_equal(sim_resp_full(&b, &c, &empty, 1, &none, NULL), 0);
    assert_non_null(strstr(buf_str(&b), "\"total_tokens\":10,\"prompt_tokens_details\":null}"));
    assert_non_null(strstr(buf_str(&b), "\"finish_reason\":\"cache_threshold\",\"message\":{"
                                        "\"role\":\"assistant\"}"));
    buf_reset(&b);
    assert_int_equal(sim_resp_sse_token(&b, &c, 1, "to", 2), 0);
    assert_string_equal(buf_str(&b), "data: {\"id\":\"chatcmpl-1\",\"model\":\"m\\\"x\",\"object\":"
                                     "\"chat.completion.chunk\",\"created\":100,\"usage\":null,"
                                     "\"choices\":[{\"index\":1,\"finish_reason\":null,"
                                     "\"delta\":{\"content\":\"to\"}}]}\n\n");
    buf_reset(&b);
    c.api = SIM_API_COMPLETIONS;
    c.id = "cmpl-1";
    assert_int_equal(sim_resp_sse_finish(&b, &c, 0, SIM_FINISH_LENGTH), 0);
    assert_non_null(strstr(buf_str(&b), "\"object\":\"text_completion\""));
    assert_non_null(
        strstr(buf_str(&b), "{\"index\":0,\"finish_reason\":\"length\",\"text\":\"\"}"));
    buf_reset(&b);
    assert_int_equal(sim_resp_sse_role(&b, &c, 0), 0);
    assert_int_equal(b.len, 0); /* completions have no role chunk */
    buf_release(&b);
}

static void test_tool_messages(void **state)
{
    (void)state;
    struct sim_request r;
    char err[256] = "";
    const char *param;
    const char *body =
        "{\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"},{\"role\":"
        "\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
        "\"function\":{\"name\":\"get\",\"arguments\":\"{\\\"city\\\":\\\"Boston\\\"}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"sunny\"}],\"tools\":[],"
        "\"tool_choice\":\"auto\"}";
    assert_int_equal(parse(SIM_API_CHAT, body, &r, err, &param), 0);
    assert_string_equal(r.prompts[0].text, "### user: weather?\n### assistant: "
                                           "[get({\"city\":\"Boston\"})]\n### tool(c1): sunny\n");
    assert_non_null(r.tools);
    assert_string_equal(r.tool_choice->valuestring, "auto");
    sim_request_release(&r);
    assert_int_equal(
        parse(SIM_API_CHAT, "{\"messages\":[{\"role\":\"user\"}],\"tools\":3}", &r, err, &param),
        400);
    assert_string_equal(param, "tools");
    sim_request_release(&r);
    assert_int_equal(parse(SIM_API_CHAT, "{\"messages\":[{\"role\":\"user\"}],\"tool_choice\":[]}",
                           &r, err, &param),
                     400);
    assert_string_equal(param, "tool_choice");
    sim_request_release(&r);
}

static void test_tool_call_shapes(void **state)
{
    (void)state;
    struct sim_resp_ctx c = {SIM_API_CHAT, "chatcmpl-1", "m", 100};
    struct sim_resp_usage u = {10, 8, 0, false};
    struct sim_tool_call tc = {"get", "chatcmpl-tool-0123456789", "{\"a\":1}", 7, {NULL, 0, 0}};
    struct sim_tool_calls calls = {&tc, 1};
    struct sim_resp_choice ch = {0, "", 0, SIM_FINISH_TOOL_CALLS, NULL, 0, -1, &calls};
    struct buf b;
    buf_init(&b, BUF_NOCAP);
    assert_int_equal(sim_resp_full(&b, &c, &ch, 1, &u, NULL), 0);
    assert_non_null(strstr(
        buf_str(&b), "\"choices\":[{\"index\":0,\"finish_reason\":\"tool_calls\",\"message\":{"
                     "\"role\":\"assistant\",\"tool_calls\":[{\"function\":{\"name\":\"get\","
                     "\"arguments\":\"{\\\"a\\\":1}\"},\"id\":\"chatcmpl-tool-0123456789\","
                     "\"type\":\"function\",\"index\":0}]}}]}"));
    buf_reset(&b);
    assert_int_equal(sim_resp_sse_tool(&b, &c, 2, 1, "id1", NULL, "x\"", 2, true), 0);
    assert_string_equal(buf_str(&b),
                        "data: {\"id\":\"chatcmpl-1\",\"model\":\"m\",\"object\":"
                        "\"chat.completion.chunk\",\"created\":100,\"usage\":null,\"choices\":[{"
                        "\"index\":2,\"finish_reason\":\"tool_calls\",\"delta\":{\"tool_calls\":[{"
                        "\"function\":{\"name\":null,\"arguments\":\"x\\\"\"},\"id\":\"id1\","
                        "\"type\":\"function\",\"index\":1}]}}]}\n\n");
    buf_reset(&b);
    assert_int_equal(sim_resp_sse_tool(&b, &c, 0, 0, "id1", "get", "{", 1, false), 0);
    assert_non_null(strstr(buf_str(&b), "\"finish_reason\":null,\"delta\":{\"tool_calls\":[{"
                                        "\"function\":{\"name\":\"get\",\"arguments\":\"{\"}"));
    buf_release(&b);
}

static void test_pd_params(void **state)
{
    (void)state;
    struct buf a, b;
    char id[37];
    sim_pd_new_engine_id(id);
    assert_int_equal(strlen(id), 36);
    assert_int_equal(id[14], '4');
    buf_init(&a, BUF_NOCAP);
    buf_init(&b, BUF_NOCAP);
    const char *p = "one two three four five six seven eight nine ten eleven twelve thirteen "
                    "fourteen fifteen sixteen seventeen";
    assert_int_equal(sim_pd_params_json(&a, id, "10.0.0.1", 8000, p, strlen(p)), 0);
    assert_int_equal(sim_pd_params_json(&b, id, "10.0.0.1", 8000, p, 40), 0);
    cJSON *ja = cJSON_Parse(buf_str(&a)), *jb = cJSON_Parse(buf_str(&b));
    assert_non_null(ja);
    cJSON *ids = cJSON_GetObjectItem(ja, "remote_block_ids");
    assert_int_equal(cJSON_GetArraySize(ids), 2); /* 17 tokens = 2 blocks of 16 */
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(ja, "do_remote_decode")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(ja, "do_remote_prefill")));
    assert_int_equal(cJSON_GetObjectItem(ja, "remote_port")->valueint, 8000);
    assert_string_equal(cJSON_GetObjectItem(ja, "remote_engine_id")->valuestring, id);
    /* a shorter prompt has a different first block (fewer tokens in it) */
    cJSON *idb = cJSON_GetObjectItem(jb, "remote_block_ids");
    assert_int_equal(cJSON_GetArraySize(idb), 1);
    assert_true(cJSON_GetArrayItem(idb, 0)->valuedouble != cJSON_GetArrayItem(ids, 0)->valuedouble);
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    buf_release(&a);
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat_fields),     cmocka_unit_test(test_completion_prompts),
        cmocka_unit_test(test_errors),          cmocka_unit_test(test_context_window),
        cmocka_unit_test(test_response_shapes), cmocka_unit_test(test_pd_params),
        cmocka_unit_test(test_tool_messages),   cmocka_unit_test(test_tool_call_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
