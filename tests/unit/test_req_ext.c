/* sim_req_ext and the three request readers: the Responses, Anthropic
 * Messages and generate bodies as struct sim_request (prompt text as the
 * tokenizer sees it, echo text, caps, P/D flags, tools in the chat shape), the
 * checks made after the model check, and the API's tool call ids. */
#include "simulator/sim_req_ext.h"
#include "simulator/sim_req_generate.h"
#include "simulator/sim_request.h"
#include "simulator/sim_textgen.h"

#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Parse and check as the server does (without the model check). */
static int run(enum sim_api api, const char *body, struct sim_request *r, struct sim_tools *t,
               char *err, const char **param)
{
    int rc = sim_request_parse(api, body, strlen(body), r, err, 256, param);
    return rc ? rc : sim_req_ext_check(r, false, t, err, 256, param);
}

static void test_responses_string(void **state)
{
    (void)state;
    struct sim_request r;
    struct sim_tools t;
    char err[256] = "";
    const char *param;
    const char *body = "{\"model\":\"m\",\"input\":\"This is a test.\",\"instructions\":\"be "
                       "brief\",\"max_output_tokens\":7,\"stream\":true,\"ignore_eos\":true,"
                       "\"n\":5,\"kv_transfer_params\":{\"do_remote_prefill\":true}}";
    assert_int_equal(run(SIM_API_RESPONSES, body, &r, &t, err, &param), 0);
    assert_string_equal(r.model, "m");
    assert_string_equal(r.instructions, "be brief");
    assert_true(r.stream && r.ignore_eos && r.do_remote_prefill && !r.do_remote_decode);
    assert_int_equal(r.max_tokens, 7);
    assert_int_equal(r.n, 1); /* not a Responses field */
    assert_int_equal(r.nprompts, 1);
    /* as chat's system + user messages: 17 tokens */
    assert_string_equal(r.prompts[0].text, "### system: be brief\n### user: This is a test.\n");
    assert_string_equal(r.prompts[0].echo, "This is a test.");
    assert_int_equal(r.prompts[0].ntokens, 17);
    assert_null(t.tools);
    sim_request_release(&r);
}

static void test_responses_items(void **state)
{
    (void)state;
    static const struct {
        const char *input;
        const char *text, *echo;
        bool tools_off;
    } cases[] = {
        {"[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"a\"},{\"type\":"
         "\"input_image\",\"image_url\":\"http://x/i.png\"}]},{\"type\":\"function_call\","
         "\"call_id\":\"call_1\",\"name\":\"f\",\"arguments\":\"{\\\"c\\\":1}\"},{\"type\":"
         "\"function_call_output\",\"call_id\":\"call_1\",\"output\":\"out\"}]",
         "### user: a\nimage: http://x/i.png\n### assistant: [f({\"c\":1})]\n### tool(call_1): "
         "out\n",
         "out", true},
        {"[{\"type\":\"message\",\"role\":\"user\",\"content\":\"q\"},{\"type\":\"function_call\","
         "\"name\":\"f\",\"arguments\":\"{}\"}]",
         "### user: q\n### assistant: [f({})]\n", "f({})", false},
        {"[{\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"x\"},{"
         "\"type\":\"input_audio\",\"data\":\"AA\",\"format\":\"wav\"}]}]",
         "### assistant: x\ninput_audio: wav\n", "x\naudio: wav", false},
        {"[]", "", "", false},
        {"\"héllo wörld\"", "### user: héllo wörld\n", "héllo wörld", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sim_request r;
        struct sim_tools t;
        char err[256] = "", body[1024];
        const char *param;
        snprintf(body, sizeof(body), "{\"model\":\"m\",\"input\":%s}", cases[i].input);
        assert_int_equal(run(SIM_API_RESPONSES, body, &r, &t, err, &param), 0);
        assert_string_equal(r.prompts[0].text, cases[i].text);
        assert_string_equal(r.prompts[0].echo, cases[i].echo);
        assert_int_equal(r.tools_off, cases[i].tools_off);
        assert_null(r.instructions);
        sim_request_release(&r);
    }
}

static const char *const WEATHER_FLAT =
    "{\"type\":\"function\",\"name\":\"get_weather\",\"description\":\"d\",\"parameters\":{"
    "\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}";

/* Flat tools become chat tools; auto (or nothing) becomes required, and a
 * function_call_output in the input turns tools off, as upstream. */
static void test_responses_tools(void **state)
{
    (void)state;
    static const struct {
        const char *extra;
        enum sim_tool_choice choice;
        size_t named;
    } cases[] = {
        {"", SIM_TOOL_REQUIRED, 0},
        {",\"tool_choice\":\"auto\"", SIM_TOOL_REQUIRED, 0},
        {",\"tool_choice\":\"none\"", SIM_TOOL_NONE, 0},
        {",\"tool_choice\":{\"type\":\"function\",\"name\":\"t2\"}", SIM_TOOL_NAMED, 1},
        {",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"t2\"}}", SIM_TOOL_NAMED,
         1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sim_request r;
        struct sim_tools t;
        char err[256] = "", body[1024];
        const char *param;
        snprintf(body, sizeof(body),
                 "{\"model\":\"m\",\"input\":\"q\",\"tools\":[%s,{\"type\":\"function\","
                 "\"function\":{\"name\":\"t2\"}}]%s}",
                 WEATHER_FLAT, cases[i].extra);
        assert_int_equal(run(SIM_API_RESPONSES, body, &r, &t, err, &param), 0);
        assert_int_equal(t.ntools, 2);
        assert_int_equal(t.choice, cases[i].choice);
        assert_int_equal(t.named, cases[i].named);
        char *tools = cJSON_PrintUnformatted(r.tools);
        assert_string_equal(tools, "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                                   "\"description\":\"d\",\"parameters\":{\"type\":\"object\","
                                   "\"properties\":{\"city\":{\"type\":\"string\"}},"
                                   "\"required\":[\"city\"]}}},{\"type\":\"function\","
                                   "\"function\":{\"name\":\"t2\"}}]");
        cJSON_free(tools);
        sim_request_release(&r);
    }
    struct sim_request r;
    struct sim_tools t;
    char err[256] = "", body[1024];
    const char *param;
    snprintf(body, sizeof(body),
             "{\"model\":\"m\",\"input\":[{\"type\":\"function_call_output\",\"call_id\":\"c\","
             "\"output\":\"x\"}],\"tool_choice\":\"required\",\"tools\":[%s]}",
             WEATHER_FLAT);
    assert_int_equal(run(SIM_API_RESPONSES, body, &r, &t, err, &param), 0);
    assert_int_equal(t.choice, SIM_TOOL_NONE);
    sim_request_release(&r);
}

struct err_case {
    enum sim_api api;
    const char *body;
    int status;
    const char *param;
    const char *msg; /* a substring of the message */
};

static void check_errors(const struct err_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct sim_request r;
        struct sim_tools t;
        char err[256] = "";
        const char *param = NULL;
        int rc = run(cases[i].api, cases[i].body, &r, &t, err, &param);
        if (rc != cases[i].status || !strstr(err, cases[i].msg))
            fail_msg("case %zu: %d \"%s\"", i, rc, err);
        assert_string_equal(param ? param : "", cases[i].param);
        sim_request_release(&r);
    }
}

static void test_responses_errors(void **state)
{
    (void)state;
    static const struct err_case cases[] = {
        {SIM_API_RESPONSES, "{\"model\":\"m\"}", 400, "input", "field 'input' is required"},
        {SIM_API_RESPONSES, "{\"input\":5}", 400, "input", "must be a string or an array"},
        {SIM_API_RESPONSES, "{\"input\":[5]}", 400, "input", "field 'input[0]' must be an object"},
        {SIM_API_RESPONSES, "{\"input\":[{\"content\":\"x\"}]}", 400, "input",
         "'input[0].role' is required"},
        {SIM_API_RESPONSES, "{\"input\":[{\"role\":\"user\",\"content\":7}]}", 400, "input",
         "'input[0].content' must be a string or an array"},
        {SIM_API_RESPONSES, "{\"input\":[{\"type\":\"reasoning\"}]}", 400, "input",
         "unsupported input item type \"reasoning\""},
        {SIM_API_RESPONSES,
         "{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_file\"}]}]}", 400, "input",
         "unsupported input content type \"input_file\""},
        {SIM_API_RESPONSES, "{\"input\":\"x\",\"instructions\":1}", 400, "instructions",
         "field 'instructions' must be a string"},
        {SIM_API_RESPONSES, "{\"input\":\"x\",\"max_output_tokens\":\"a\"}", 400,
         "max_output_tokens", "must be an integer"},
        {SIM_API_RESPONSES, "{\"input\":\"x\",\"max_output_tokens\":0}", 400, "max_output_tokens",
         "should be positive"},
        {SIM_API_RESPONSES, "{\"input\":\"x\",\"stream\":\"yes\"}", 400, "stream",
         "must be a boolean"},
        {SIM_API_RESPONSES, "{\"input\":\"x\",\"tools\":{}}", 400, "tools", "must be an array"},
        {SIM_API_RESPONSES, "{\"input\":\"x\",\"tools\":[{\"type\":\"web_search\"}]}", 400, "tools",
         "unsupported tool type \"web_search\""},
        {SIM_API_RESPONSES, "{\"input\":\"x\",\"tools\":[{\"type\":\"function\"}]}", 400, "tools",
         "'tools[0].name' is required"},
        {SIM_API_RESPONSES,
         "{\"input\":\"x\",\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"parameters\":{"
         "\"type\":\"object\",\"properties\":{\"c\":{\"type\":\"strin\"}}}}]}",
         400, "tools", "Tool validation failed: tools[0].parameters.properties.c"},
        {SIM_API_RESPONSES, "{\"input\":\"x\",\"tool_choice\":{\"type\":\"allowed_tools\"}}", 400,
         "tool_choice", "\"allowed_tools\" is not supported"},
        {SIM_API_RESPONSES, "{\"input\":\"x\",\"tool_choice\":\"required\"}", 400, "tool_choice",
         "`tools` must be set"},
        {SIM_API_RESPONSES,
         "{\"input\":\"x\",\"tool_choice\":{\"type\":\"function\",\"name\":\"g\"},\"tools\":[{"
         "\"type\":\"function\",\"name\":\"f\"}]}",
         400, "tool_choice", "names the function \"g\""},
        {SIM_API_RESPONSES,
         "{\"input\":\"x\",\"stream\":true,\"kv_transfer_params\":{\"do_remote_decode\":true}}",
         400, "stream", "Prefill does not support streaming"},
    };
    check_errors(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_messages_prompt(void **state)
{
    (void)state;
    struct sim_request r;
    struct sim_tools t;
    char err[256] = "";
    const char *param;
    const char *body =
        "{\"model\":\"m\",\"max_tokens\":9,\"system\":[{\"type\":\"text\",\"text\":\"s1\"},{"
        "\"type\":\"text\",\"text\":\"s2\"}],\"messages\":[{\"role\":\"user\",\"content\":\"What "
        "is "
        "the weather?\"},{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Let me "
        "check.\"},{\"type\":\"thinking\",\"thinking\":\"hm\"},{\"type\":\"tool_use\",\"id\":"
        "\"toolu_1\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}]},{\"role\":\"user\","
        "\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":[{\"type\":"
        "\"text\",\"text\":\"sunny\"},{\"type\":\"text\",\"text\":\"22C\"}]},{\"type\":\"image\","
        "\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"QUJD\"}}]},{"
        "\"role\":\"user\",\"content\":\"\"}],\"stream\":true}";
    assert_int_equal(run(SIM_API_MESSAGES, body, &r, &t, err, &param), 0);
    assert_int_equal(r.max_tokens, 9);
    assert_true(r.max_given && r.stream);
    /* upstream's chat conversion: the image's message before its tool result,
     * tool results as "tool" messages, an empty string message dropped */
    assert_string_equal(r.prompts[0].text,
                        "### system: s1\ns2\n### user: What is the weather?\n### assistant: Let "
                        "me check.[get_weather({\"city\":\"Paris\"})]\n### user: image: "
                        "data:image/png;base64,QUJD\n### tool(toolu_1): sunny\n22C\n");
    assert_string_equal(r.prompts[0].echo, "sunny\n22C");
    sim_request_release(&r);
}

static void test_messages_tools(void **state)
{
    (void)state;
    static const struct {
        const char *choice;
        enum sim_tool_choice want;
    } cases[] = {
        {"", SIM_TOOL_AUTO},
        {",\"tool_choice\":{\"type\":\"auto\"}", SIM_TOOL_AUTO},
        {",\"tool_choice\":{\"type\":\"any\"}", SIM_TOOL_REQUIRED},
        {",\"tool_choice\":{\"type\":\"none\"}", SIM_TOOL_NONE},
        {",\"tool_choice\":{\"type\":\"tool\",\"name\":\"get_weather\"}", SIM_TOOL_NAMED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sim_request r;
        struct sim_tools t;
        char err[256] = "", body[1024];
        const char *param;
        snprintf(body, sizeof(body),
                 "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":"
                 "\"q\"}],\"tools\":[{\"name\":\"get_weather\",\"description\":\"d\","
                 "\"cache_control\":{\"type\":\"ephemeral\"},\"input_schema\":{\"type\":"
                 "\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}]%s}",
                 cases[i].choice);
        assert_int_equal(run(SIM_API_MESSAGES, body, &r, &t, err, &param), 0);
        assert_int_equal(t.ntools, 1);
        assert_int_equal(t.choice, cases[i].want);
        char *tools = cJSON_PrintUnformatted(r.tools);
        assert_string_equal(tools, "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
                                   "\"description\":\"d\",\"parameters\":{\"type\":\"object\","
                                   "\"properties\":{\"city\":{\"type\":\"string\"}}}}}]");
        cJSON_free(tools);
        sim_request_release(&r);
    }
}

static void test_messages_errors(void **state)
{
    (void)state;
    static const struct err_case cases[] = {
        {SIM_API_MESSAGES, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400,
         "max_tokens", "max_tokens is required"},
        {SIM_API_MESSAGES, "{\"max_tokens\":5,\"messages\":[]}", 400, "messages",
         "messages must not be empty"},
        {SIM_API_MESSAGES, "{\"max_tokens\":5}", 400, "messages", "messages must not be empty"},
        {SIM_API_MESSAGES, "{\"max_tokens\":\"5\",\"messages\":[]}", 400, "max_tokens",
         "field 'max_tokens' must be an integer"},
        {SIM_API_MESSAGES,
         "{\"max_tokens\":0,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400,
         "max_tokens", "should be positive"},
        {SIM_API_MESSAGES, "{\"max_tokens\":5,\"messages\":{}}", 400, "messages",
         "must be an array"},
        {SIM_API_MESSAGES, "{\"max_tokens\":5,\"messages\":[{\"content\":\"x\"}]}", 400, "messages",
         "'messages[0]' must be an object with a string 'role'"},
        {SIM_API_MESSAGES, "{\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":1}]}",
         400, "messages", "'messages[0].content' must be a string or an array"},
        {SIM_API_MESSAGES,
         "{\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\"}]}]}",
         400, "messages", "image content block is missing required 'source' field"},
        {SIM_API_MESSAGES, "{\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":[1]}]}",
         400, "messages", "blocks must be objects with a string 'type'"},
        {SIM_API_MESSAGES, "{\"max_tokens\":5,\"system\":5,\"messages\":[]}", 400, "system",
         "field 'system' must be a string or an array"},
        {SIM_API_MESSAGES, "{\"max_tokens\":5,\"tool_choice\":{\"type\":\"tool\"},\"messages\":[]}",
         400, "tool_choice", "requires a non-empty 'name'"},
        {SIM_API_MESSAGES, "{\"max_tokens\":5,\"tool_choice\":\"auto\",\"messages\":[]}", 400,
         "tool_choice", "must be an object"},
        {SIM_API_MESSAGES, "{\"max_tokens\":5,\"tool_choice\":{\"type\":\"sometimes\"}}", 400,
         "tool_choice", "\"sometimes\" is not one of"},
        {SIM_API_MESSAGES, "{\"max_tokens\":5,\"tools\":[{\"description\":\"x\"}]}", 400, "tools",
         "'tools[0]' must be an object with a string 'name'"},
        {SIM_API_MESSAGES,
         "{\"max_tokens\":5,\"tools\":[{\"type\":\"bash_20250124\",\"name\":"
         "\"bash\"}]}",
         400, "tools", "unsupported tool type \"bash_20250124\""},
        {SIM_API_MESSAGES,
         "{\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{"
         "\"name\":\"f\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"c\":{\"type\":"
         "\"strin\"}}}}]}",
         400, "tools", "Tool validation failed: tools[0].input_schema.properties.c"},
        {SIM_API_MESSAGES,
         "{\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{"
         "\"name\":\"bad name\"}]}",
         400, "tools", "Tool validation failed: tools[0].name"},
    };
    check_errors(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_generate(void **state)
{
    (void)state;
    struct sim_request r;
    struct sim_tools t;
    char err[256] = "";
    const char *param;
    const char *body = "{\"model\":\"m\",\"token_ids\":[1,22,4294967295],\"sampling_params\":{"
                       "\"max_tokens\":2,\"temperature\":0.7,\"extra_args\":{"
                       "\"kv_transfer_params\":{\"do_remote_decode\":true}}},\"stream\":false,"
                       "\"stream_options\":{\"include_usage\":true},\"features\":null}";
    assert_int_equal(run(SIM_API_GENERATE, body, &r, &t, err, &param), 0);
    assert_string_equal(r.prompts[0].text, "1,22,4294967295");
    assert_int_equal(r.prompts[0].ntokens, 3);
    assert_int_equal(r.max_tokens, 2);
    assert_true(r.do_remote_decode && !r.do_remote_prefill && r.include_usage);
    struct sim_gen g;
    sim_gen_init(&g);
    sim_req_generate_echo(&r, r.max_tokens, &g);
    assert_int_equal(g.toks.n, 3);
    assert_int_equal(g.toks.v[0].id, 1);
    assert_int_equal(g.toks.v[1].id, 22);
    assert_int_equal(g.toks.v[2].id, 4294967295u);
    assert_int_equal(g.finish, SIM_FINISH_LENGTH); /* 3 >= max_tokens 2, never cut */
    sim_gen_release(&g);
    sim_gen_init(&g);
    sim_req_generate_echo(&r, -1, &g);
    assert_int_equal(g.finish, SIM_FINISH_STOP);
    sim_gen_release(&g);
    sim_request_release(&r);

    /* the top level wins over extra_args, as upstream */
    body = "{\"token_ids\":[5],\"kv_transfer_params\":{\"do_remote_prefill\":true},"
           "\"sampling_params\":{\"extra_args\":{\"kv_transfer_params\":{\"do_remote_decode\":"
           "true}}}}";
    assert_int_equal(run(SIM_API_GENERATE, body, &r, &t, err, &param), 0);
    assert_true(r.do_remote_prefill && !r.do_remote_decode);
    assert_int_equal(r.max_tokens, -1);
    sim_request_release(&r);
}

static void test_generate_errors(void **state)
{
    (void)state;
    static const struct err_case cases[] = {
        {SIM_API_GENERATE, "{\"sampling_params\":{}}", 400, "token_ids", "Missing input token_ids"},
        {SIM_API_GENERATE, "{\"token_ids\":[1]}", 400, "sampling_params",
         "Missing sampling_params field"},
        {SIM_API_GENERATE, "{\"token_ids\":\"1\",\"sampling_params\":{}}", 400, "token_ids",
         "must be an array of token ids"},
        {SIM_API_GENERATE, "{\"token_ids\":[],\"sampling_params\":{}}", 400, "token_ids",
         "must not be empty"},
        {SIM_API_GENERATE, "{\"token_ids\":[1,2.5],\"sampling_params\":{}}", 400, "token_ids",
         "(item 1 is not one)"},
        {SIM_API_GENERATE, "{\"token_ids\":[4294967296],\"sampling_params\":{}}", 400, "token_ids",
         "(item 0 is not one)"},
        {SIM_API_GENERATE, "{\"token_ids\":[1],\"sampling_params\":[]}", 400, "sampling_params",
         "field 'sampling_params' must be an object"},
        {SIM_API_GENERATE, "{\"token_ids\":[1],\"sampling_params\":{\"max_tokens\":\"2\"}}", 400,
         "sampling_params.max_tokens", "'sampling_params.max_tokens' must be an integer"},
        {SIM_API_GENERATE, "{\"token_ids\":[1],\"sampling_params\":{\"max_tokens\":-1}}", 400,
         "sampling_params.max_tokens", "should be positive"},
        {SIM_API_GENERATE,
         "{\"token_ids\":[1],\"sampling_params\":{\"extra_args\":{\"kv_transfer_params\":{"
         "\"do_remote_decode\":1}}}}",
         400, "sampling_params.extra_args.kv_transfer_params.do_remote_decode",
         "must be a boolean"},
        {SIM_API_GENERATE, "{\"token_ids\":[1],\"sampling_params\":{},\"ignore_eos\":true}", 400,
         "ignore_eos", "Ignore_eos is true"},
        {SIM_API_GENERATE, "{\"token_ids\":[1],\"sampling_params\":{},\"stream_options\":1}", 400,
         "stream_options", "must be an object"},
    };
    check_errors(cases, sizeof(cases) / sizeof(cases[0]));
}

/* Calls get the API's id prefix; Responses keeps the first call only. */
static void test_calls(void **state)
{
    (void)state;
    static const struct {
        enum sim_api api;
        const char *id0;
        size_t n;
    } cases[] = {
        {SIM_API_CHAT, "chatcmpl-tool-0123456789", 3},
        {SIM_API_RESPONSES, "fc_0123456789", 1},
        {SIM_API_MESSAGES, "toolu_0123456789", 3},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sim_request r = {.api = cases[i].api};
        struct sim_tool_calls c = {.v = calloc(3, sizeof(struct sim_tool_call)), .n = 3};
        for (size_t k = 0; k < 3; k++) {
            snprintf(c.v[k].id, sizeof(c.v[k].id), "chatcmpl-tool-%zu123456789", k);
            c.v[k].args = strdup("{}");
            sim_toklist_init(&c.v[k].toks);
            sim_tokenize(c.v[k].args, 2, &c.v[k].toks);
        }
        sim_req_ext_calls(&r, &c);
        assert_int_equal(c.n, cases[i].n);
        assert_string_equal(c.v[0].id, cases[i].id0);
        sim_tool_calls_release(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_responses_string), cmocka_unit_test(test_responses_items),
        cmocka_unit_test(test_responses_tools),  cmocka_unit_test(test_responses_errors),
        cmocka_unit_test(test_messages_prompt),  cmocka_unit_test(test_messages_tools),
        cmocka_unit_test(test_messages_errors),  cmocka_unit_test(test_generate),
        cmocka_unit_test(test_generate_errors),  cmocka_unit_test(test_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
