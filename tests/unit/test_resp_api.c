/* The per-API builders of sim_resp_api, byte for byte: the Responses object
 * and event stream, the Anthropic message and its named events, generate's
 * bodies and chunks, and the chat/completions table over sim_response. */
#include "simulator/sim_resp_api.h"
#include "simulator/sim_resp_messages.h"
#include "simulator/sim_tokenizer.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define ID "0f3c"

static struct sim_resp_stream stream_of(enum sim_api api, const char *id)
{
    return (struct sim_resp_stream){.ctx = {api, id, "m", 1700000000}, .reqid = ID};
}

/* A text choice (its tokens in toks, which the caller releases). */
static struct sim_resp_choice text_choice(const char *text, struct sim_toklist *toks,
                                          enum sim_finish f)
{
    sim_toklist_init(toks);
    sim_tokenize(text, strlen(text), toks);
    return (struct sim_resp_choice){.text = text,
                                    .len = strlen(text),
                                    .finish = f,
                                    .toks = toks->v,
                                    .ntoks = toks->n,
                                    .top = -1};
}

/* One call of get_weather with {"city":"Paris"} (9 tokens). */
static void one_call(struct sim_tool_calls *c, struct sim_tool_call *tc, const char *id)
{
    memset(tc, 0, sizeof(*tc));
    tc->name = "get_weather";
    snprintf(tc->id, sizeof(tc->id), "%s", id);
    tc->args = (char *)"{\"city\":\"Paris\"}";
    tc->args_len = strlen(tc->args);
    sim_toklist_init(&tc->toks);
    sim_tokenize(tc->args, tc->args_len, &tc->toks);
    c->v = tc;
    c->n = 1;
}

/* Run f on a fresh buffer and compare with want. */
#define EXPECT(want, call)                                                                         \
    do {                                                                                           \
        struct buf b_;                                                                             \
        buf_init(&b_, BUF_NOCAP);                                                                  \
        struct buf *b = &b_;                                                                       \
        assert_int_equal((call), 0);                                                               \
        assert_string_equal(buf_str(b), (want));                                                   \
        buf_release(&b_);                                                                          \
    } while (0)

static const struct sim_resp_usage USAGE = {.prompt = 8, .completion = 3, .cached = 2};

static void test_responses_full(void **state)
{
    (void)state;
    const struct sim_resp_ops *o = sim_resp_ops_for(SIM_API_RESPONSES);
    struct sim_resp_stream s = stream_of(SIM_API_RESPONSES, "resp_" ID);
    struct sim_toklist toks;
    struct sim_resp_choice ch = text_choice("Héllo \"you\".", &toks, SIM_FINISH_STOP);
    s.instructions = "be brief";
    EXPECT("{\"id\":\"resp_0f3c\",\"model\":\"m\",\"object\":\"response\",\"kv_transfer_params\":{"
           "\"do_remote_prefill\":true},\"created_at\":1700000000,\"status\":\"completed\","
           "\"instructions\":\"be brief\",\"output\":[{\"type\":\"message\",\"id\":\"msg_0f3c\","
           "\"role\":\"assistant\",\"status\":\"completed\",\"content\":[{\"type\":"
           "\"output_text\",\"text\":\"Héllo \\\"you\\\".\",\"annotations\":[]}]}],\"text\":{"
           "\"format\":{\"type\":\"text\"}},\"usage\":{\"input_tokens\":8,"
           "\"input_tokens_details\":{\"cached_tokens\":2},\"output_tokens\":3,"
           "\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":11}}",
           o->full(b, &s, &ch, 1, &USAGE, "{\"do_remote_prefill\":true}"));
    sim_toklist_release(&toks);

    struct sim_tool_calls calls;
    struct sim_tool_call tc;
    one_call(&calls, &tc, "fc_0123456789");
    ch = (struct sim_resp_choice){.finish = SIM_FINISH_TOOL_CALLS, .calls = &calls, .top = -1};
    s.instructions = NULL;
    EXPECT("{\"id\":\"resp_0f3c\",\"model\":\"m\",\"object\":\"response\",\"created_at\":"
           "1700000000,\"status\":\"completed\",\"output\":[{\"type\":\"function_call\",\"id\":"
           "\"fc_0123456789\",\"call_id\":\"call_0123456789\",\"name\":\"get_weather\","
           "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\",\"status\":\"completed\"}],\"text\":{"
           "\"format\":{\"type\":\"text\"}},\"usage\":{\"input_tokens\":8,"
           "\"input_tokens_details\":{\"cached_tokens\":2},\"output_tokens\":3,"
           "\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":11}}",
           o->full(b, &s, &ch, 1, &USAGE, NULL));
    sim_toklist_release(&tc.toks);
}

#define RESP_HEAD                                                                                  \
    "\"id\":\"resp_0f3c\",\"model\":\"m\",\"object\":\"response\",\"created_at\":1700000000,"
#define PART(t)   "{\"type\":\"output_text\",\"text\":\"" t "\",\"annotations\":[]}"
#define MSG_WHERE ",\"output_index\":0,\"content_index\":0,\"item_id\":\"msg_0f3c\""

/* The whole stream of a text answer, numbered from 0. */
static void test_responses_stream_text(void **state)
{
    (void)state;
    const struct sim_resp_ops *o = sim_resp_ops_for(SIM_API_RESPONSES);
    struct sim_resp_stream s = stream_of(SIM_API_RESPONSES, "resp_" ID);
    struct sim_toklist toks;
    struct sim_resp_choice ch = text_choice("Hi you.", &toks, SIM_FINISH_STOP);
    struct buf out;
    buf_init(&out, BUF_NOCAP);
    assert_int_equal(o->begin(&out, &s, &USAGE), 0);
    for (size_t i = 0; i < ch.ntoks; i++)
        assert_int_equal(o->token(&out, &s, &ch, i), 0);
    assert_int_equal(o->finish(&out, &s, &ch), 0);
    assert_int_equal(o->tail(&out, &s, &ch, 1, &USAGE), 0);
    const char *want =
        "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{" RESP_HEAD
        "\"status\":\"in_progress\",\"output\":[],\"text\":{\"format\":{\"type\":\"text\"}}},"
        "\"sequence_number\":0}\n\n"
        "event: response.in_progress\ndata: "
        "{\"type\":\"response.in_progress\",\"response\":{" RESP_HEAD
        "\"status\":\"in_progress\",\"output\":[],\"text\":{\"format\":{\"type\":\"text\"}}},"
        "\"sequence_number\":1}\n\n"
        "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\","
        "\"output_index\":0,\"item\":{\"type\":\"message\",\"id\":\"msg_0f3c\",\"role\":"
        "\"assistant\",\"status\":\"in_progress\",\"content\":[]},\"sequence_number\":2}\n\n"
        "event: response.content_part.added\ndata: "
        "{\"type\":\"response.content_part.added\"" MSG_WHERE ",\"part\":" PART(
            "") ",\"sequence_number\":3}\n\n"
                "event: response.output_text.delta\ndata: "
                "{\"type\":\"response.output_text.delta\"" MSG_WHERE
                ",\"delta\":\"Hi \",\"sequence_number\":4}\n\n"
                "event: response.output_text.delta\ndata: "
                "{\"type\":\"response.output_text.delta\"" MSG_WHERE
                ",\"delta\":\"you\",\"sequence_number\":5}\n\n"
                "event: response.output_text.delta\ndata: "
                "{\"type\":\"response.output_text.delta\"" MSG_WHERE
                ",\"delta\":\".\",\"sequence_number\":6}\n\n"
                "event: response.output_text.done\ndata: "
                "{\"type\":\"response.output_text.done\"" MSG_WHERE
                ",\"text\":\"Hi you.\",\"sequence_number\":7}\n\n"
                "event: response.content_part.done\ndata: "
                "{\"type\":\"response.content_part.done\"" MSG_WHERE ",\"part\":" PART(
                    "Hi you.") ",\"sequence_number\":8}\n\n"
                               "event: response.output_item.done\ndata: "
                               "{\"type\":\"response.output_item.done\","
                               "\"output_index\":0,\"item\":{\"type\":\"message\",\"id\":\"msg_"
                               "0f3c\",\"role\":"
                               "\"assistant\",\"status\":\"completed\",\"content\":[" PART(
                                   "Hi you.") "]},"
                                              "\"sequence_number\":9}\n\n"
                                              "event: response.completed\ndata: "
                                              "{\"type\":\"response.completed\",\"response\":"
                                              "{" RESP_HEAD
                                              "\"status\":\"completed\",\"output\":[{\"type\":"
                                              "\"message\",\"id\":\"msg_0f3c\",\"role\":"
                                              "\"assistant\",\"status\":\"completed\",\"content\":"
                                              "[" PART("Hi you.") "]}],\"text\":{"
                                                                  "\"format\":{\"type\":\"text\"}},"
                                                                  "\"usage\":{\"input_tokens\":8,"
                                                                  "\"input_tokens_details\":{"
                                                                  "\"cached_tokens\":2},\"output_"
                                                                  "tokens\":3,\"output_tokens_"
                                                                  "details\":{"
                                                                  "\"reasoning_tokens\":0},\"total_"
                                                                  "tokens\":11}},\"sequence_"
                                                                  "number\":10}\n\n";
    assert_string_equal(buf_str(&out), want);
    buf_release(&out);

    /* Nothing streamed (an empty answer): finish opens the message first. */
    struct sim_resp_choice empty = {.text = "", .finish = SIM_FINISH_STOP, .top = -1};
    s.seq = 0;
    EXPECT("event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\","
           "\"output_index\":0,\"item\":{\"type\":\"message\",\"id\":\"msg_0f3c\",\"role\":"
           "\"assistant\",\"status\":\"in_progress\",\"content\":[]},\"sequence_number\":0}\n\n"
           "event: response.content_part.added\ndata: "
           "{\"type\":\"response.content_part.added\"" MSG_WHERE ",\"part\":" PART(
               "") ",\"sequence_number\":1}\n\n"
                   "event: response.output_text.done\ndata: "
                   "{\"type\":\"response.output_text.done\"" MSG_WHERE
                   ",\"text\":\"\",\"sequence_number\":2}\n\n"
                   "event: response.content_part.done\ndata: "
                   "{\"type\":\"response.content_part.done\"" MSG_WHERE ",\"part\":" PART(
                       "") ",\"sequence_number\":3}\n\n"
                           "event: response.output_item.done\ndata: "
                           "{\"type\":\"response.output_item.done\","
                           "\"output_index\":0,\"item\":{\"type\":\"message\",\"id\":\"msg_0f3c\","
                           "\"role\":"
                           "\"assistant\",\"status\":\"completed\",\"content\":[" PART(
                               "") "]},"
                                   "\"sequence_number\":4}\n\n",
           o->finish(b, &s, &empty));
    sim_toklist_release(&toks);
}

static void test_responses_stream_call(void **state)
{
    (void)state;
    const struct sim_resp_ops *o = sim_resp_ops_for(SIM_API_RESPONSES);
    struct sim_resp_stream s = stream_of(SIM_API_RESPONSES, "resp_" ID);
    struct sim_tool_calls calls;
    struct sim_tool_call tc;
    one_call(&calls, &tc, "fc_0123456789");
    struct sim_resp_choice ch = {.finish = SIM_FINISH_TOOL_CALLS, .calls = &calls, .top = -1};
    s.seq = 2;
    EXPECT("event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\","
           "\"output_index\":0,\"item\":{\"type\":\"function_call\",\"id\":\"fc_0123456789\","
           "\"call_id\":\"call_0123456789\",\"name\":\"get_weather\",\"arguments\":\"\","
           "\"status\":\"in_progress\"},\"sequence_number\":2}\n\n"
           "event: response.function_call_arguments.delta\ndata: {\"type\":"
           "\"response.function_call_arguments.delta\",\"output_index\":0,\"item_id\":"
           "\"fc_0123456789\",\"delta\":\"{\",\"sequence_number\":3}\n\n",
           o->tool(b, &s, &ch, 0, 0));
    EXPECT("event: response.function_call_arguments.delta\ndata: {\"type\":"
           "\"response.function_call_arguments.delta\",\"output_index\":0,\"item_id\":"
           "\"fc_0123456789\",\"delta\":\"city\",\"sequence_number\":4}\n\n",
           o->tool(b, &s, &ch, 0, 2));
    EXPECT("event: response.function_call_arguments.done\ndata: {\"type\":"
           "\"response.function_call_arguments.done\",\"output_index\":0,\"item_id\":"
           "\"fc_0123456789\",\"name\":\"get_weather\",\"arguments\":"
           "\"{\\\"city\\\":\\\"Paris\\\"}\",\"sequence_number\":5}\n\n"
           "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\","
           "\"output_index\":0,\"item\":{\"type\":\"function_call\",\"id\":\"fc_0123456789\","
           "\"call_id\":\"call_0123456789\",\"name\":\"get_weather\",\"arguments\":"
           "\"{\\\"city\\\":\\\"Paris\\\"}\",\"status\":\"completed\"},\"sequence_number\":6}\n\n",
           o->finish(b, &s, &ch));
    EXPECT("event: error\ndata: {\"type\":\"error\",\"code\":null,\"message\":\"server is "
           "shutting down\",\"param\":null,\"sequence_number\":7}\n\n",
           o->stream_error(b, &s, 503, "server is shutting down"));
    EXPECT("{\"error\":{\"message\":\"bad\",\"type\":\"BadRequestError\",\"param\":\"input\","
           "\"code\":400}}",
           o->error_body(b, 400, "bad", "input"));
    sim_toklist_release(&tc.toks);
}

#define MSG_HEAD "{\"id\":\"msg_0f3c\",\"type\":\"message\",\"role\":\"assistant\",\"content\":["
#define MSG_USAGE(out)                                                                             \
    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":8,\"cache_creation_input_tokens\":0,"      \
    "\"cache_read_input_tokens\":2,\"output_tokens\":" out "}"

static void test_messages_full(void **state)
{
    (void)state;
    const struct sim_resp_ops *o = sim_resp_ops_for(SIM_API_MESSAGES);
    struct sim_resp_stream s = stream_of(SIM_API_MESSAGES, "msg_" ID);
    static const struct {
        enum sim_finish f;
        const char *sr;
    } reasons[] = {
        {SIM_FINISH_STOP, "end_turn"},
        {SIM_FINISH_LENGTH, "max_tokens"},
        {SIM_FINISH_CACHE_THRESHOLD, "max_tokens"},
        {SIM_FINISH_REMOTE_DECODE, "end_turn"},
    };
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        struct sim_toklist toks;
        struct sim_resp_choice ch = text_choice("Hi wörld.", &toks, reasons[i].f);
        char want[1024];
        snprintf(want, sizeof(want),
                 MSG_HEAD "{\"type\":\"text\",\"text\":\"Hi wörld.\"}],\"model\":\"m\","
                          "\"stop_reason\":\"%s\"," MSG_USAGE("3") "}",
                 reasons[i].sr);
        EXPECT(want, o->full(b, &s, &ch, 1, &USAGE, NULL));
        sim_toklist_release(&toks);
    }
    struct sim_tool_calls calls;
    struct sim_tool_call tc;
    one_call(&calls, &tc, "toolu_0123456789");
    struct sim_resp_choice ch = {.finish = SIM_FINISH_TOOL_CALLS, .calls = &calls, .top = -1};
    EXPECT(MSG_HEAD "{\"type\":\"tool_use\",\"id\":\"toolu_0123456789\",\"name\":\"get_weather\","
                    "\"input\":{\"city\":\"Paris\"}}],\"model\":\"m\",\"stop_reason\":"
                    "\"tool_use\"," MSG_USAGE("3") ",\"kv_transfer_params\":{}}",
           o->full(b, &s, &ch, 1, &USAGE, "{}"));
    sim_toklist_release(&tc.toks);
}

static void test_messages_stream(void **state)
{
    (void)state;
    const struct sim_resp_ops *o = sim_resp_ops_for(SIM_API_MESSAGES);
    struct sim_resp_stream s = stream_of(SIM_API_MESSAGES, "msg_" ID);
    struct sim_toklist toks;
    struct sim_resp_choice ch = text_choice("Hi you.", &toks, SIM_FINISH_LENGTH);
    struct buf out;
    buf_init(&out, BUF_NOCAP);
    assert_int_equal(o->begin(&out, &s, &USAGE), 0);
    for (size_t i = 0; i < ch.ntoks; i++)
        assert_int_equal(o->token(&out, &s, &ch, i), 0);
    assert_int_equal(o->finish(&out, &s, &ch), 0);
    assert_int_equal(o->tail(&out, &s, &ch, 1, &USAGE), 0);
    assert_string_equal(
        buf_str(&out),
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":" MSG_HEAD
        "],\"model\":\"m\",\"stop_reason\":null," MSG_USAGE(
            "0") "}}\n\n"
                 "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
                 "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
                 "event: ping\ndata: {\"type\":\"ping\"}\n\n"
                 "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                 "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi \"}}\n\n"
                 "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                 "\"delta\":{\"type\":\"text_delta\",\"text\":\"you\"}}\n\n"
                 "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                 "\"delta\":{\"type\":\"text_delta\",\"text\":\".\"}}\n\n"
                 "event: content_block_stop\ndata: "
                 "{\"type\":\"content_block_stop\",\"index\":0}\n\n"
                 "event: message_delta\ndata: "
                 "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                 "\"max_tokens\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":3}}\n\n"
                 "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    buf_release(&out);
    sim_toklist_release(&toks);

    /* two calls: ping, then each call a block, the first stopped when the second starts */
    struct sim_tool_call tcs[2];
    struct sim_tool_calls calls;
    one_call(&calls, &tcs[0], "toolu_0000000001");
    one_call(&calls, &tcs[1], "toolu_0000000002");
    calls.v = tcs;
    calls.n = 2;
    struct sim_resp_choice tch = {.finish = SIM_FINISH_TOOL_CALLS, .calls = &calls, .top = -1};
    EXPECT("event: ping\ndata: {\"type\":\"ping\"}\n\n"
           "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
           "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_0000000001\",\"name\":"
           "\"get_weather\",\"input\":{}}}\n\n"
           "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
           "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}\n\n",
           o->tool(b, &s, &tch, 0, 0));
    EXPECT("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
           "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,"
           "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_0000000002\",\"name\":"
           "\"get_weather\",\"input\":{}}}\n\n"
           "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
           "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}\n\n",
           o->tool(b, &s, &tch, 1, 0));
    EXPECT("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
           o->finish(b, &s, &tch));
    EXPECT("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
           "\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":3}}\n\n"
           "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
           o->tail(b, &s, &tch, 1, &USAGE));
    sim_toklist_release(&tcs[0].toks);
    sim_toklist_release(&tcs[1].toks);
}

static void test_messages_errors(void **state)
{
    (void)state;
    const struct sim_resp_ops *o = sim_resp_ops_for(SIM_API_MESSAGES);
    struct sim_resp_stream s = stream_of(SIM_API_MESSAGES, "msg_" ID);
    EXPECT("{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"Max "
           "completion tokens and max tokens should be positive (field 'max_tokens')\"}}",
           o->error_body(b, 400, "Max completion tokens and max tokens should be positive",
                         "max_tokens"));
    EXPECT("{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":"
           "\"field 'max_tokens' must be an integer\"}}",
           o->error_body(b, 400, "field 'max_tokens' must be an integer", "max_tokens"));
    EXPECT("{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\",\"message\":\"The model "
           "`x` does not exist.\"}}",
           o->error_body(b, 404, "The model `x` does not exist.", "model"));
    EXPECT("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
           "\"message\":\"server is shutting down\"}}\n\n",
           o->stream_error(b, &s, 503, "server is shutting down"));
    static const struct {
        int status;
        const char *type;
    } types[] = {{400, "invalid_request_error"},
                 {401, "authentication_error"},
                 {403, "permission_error"},
                 {404, "not_found_error"},
                 {413, "request_too_large"},
                 {429, "rate_limit_error"},
                 {500, "api_error"},
                 {503, "overloaded_error"}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        assert_string_equal(sim_resp_messages_error_type(types[i].status), types[i].type);
}

static void test_generate(void **state)
{
    (void)state;
    const struct sim_resp_ops *o = sim_resp_ops_for(SIM_API_GENERATE);
    struct sim_resp_stream s = stream_of(SIM_API_GENERATE, ID);
    struct sim_toklist toks;
    struct sim_resp_choice ch = text_choice("a b", &toks, SIM_FINISH_LENGTH);
    toks.v[0].id = 7;
    toks.v[1].id = 4294967295u;
    EXPECT("{\"kv_transfer_params\":{\"do_remote_prefill\":true},\"choices\":[{\"index\":0,"
           "\"finish_reason\":\"length\",\"token_ids\":[7,4294967295]}],\"request_id\":\"0f3c\","
           "\"ec_transfer_params\":null}",
           o->full(b, &s, &ch, 1, &USAGE, "{\"do_remote_prefill\":true}"));
    EXPECT("", o->begin(b, &s, &USAGE));
    EXPECT("data: {\"request_id\":\"0f3c\",\"choices\":[{\"index\":0,\"finish_reason\":null,"
           "\"token_ids\":[7]}]}\n\n",
           o->token(b, &s, &ch, 0));
    EXPECT("data: {\"request_id\":\"0f3c\",\"choices\":[{\"index\":0,\"finish_reason\":\"length\","
           "\"token_ids\":[4294967295]}]}\n\n",
           o->token(b, &s, &ch, 1));
    EXPECT("", o->finish(b, &s, &ch)); /* it rode on the last token */
    EXPECT("data: [DONE]\n\n", o->tail(b, &s, &ch, 1, &USAGE));
    s.include_usage = true;
    EXPECT("data: {\"request_id\":\"0f3c\",\"choices\":[],\"usage\":{\"prompt_tokens\":8,"
           "\"completion_tokens\":3,\"total_tokens\":11,\"prompt_tokens_details\":{"
           "\"cached_tokens\":2}}}\n\ndata: [DONE]\n\n",
           o->tail(b, &s, &ch, 1, &USAGE));
    struct sim_resp_choice none = {.finish = SIM_FINISH_STOP, .top = -1};
    EXPECT("data: {\"request_id\":\"0f3c\",\"choices\":[{\"index\":0,\"finish_reason\":\"stop\","
           "\"token_ids\":[]}]}\n\n",
           o->finish(b, &s, &none));
    EXPECT("data: {\"error\":{\"message\":\"gone\",\"type\":\"InternalServerError\",\"param\":null,"
           "\"code\":503}}\n\ndata: [DONE]\n\n",
           o->stream_error(b, &s, 503, "gone"));
    sim_toklist_release(&toks);
}

/* Chat and completions go through the same table as sim_response's chunks. */
static void test_openai_tables(void **state)
{
    (void)state;
    const struct sim_resp_ops *o = sim_resp_ops_for(SIM_API_CHAT);
    struct sim_resp_stream s = stream_of(SIM_API_CHAT, "chatcmpl-" ID);
    struct sim_toklist toks;
    struct sim_resp_choice ch = text_choice("Hi you.", &toks, SIM_FINISH_STOP);
    struct buf want;
    buf_init(&want, BUF_NOCAP);
    assert_int_equal(sim_resp_sse_role(&want, &s.ctx, 0), 0);
    assert_int_equal(sim_resp_sse_token(&want, &s.ctx, 0, "Hi ", 3), 0);
    EXPECT(buf_str(&want), o->token(b, &s, &ch, 0));
    buf_reset(&want);
    assert_int_equal(sim_resp_sse_token(&want, &s.ctx, 0, "you", 3), 0);
    EXPECT(buf_str(&want), o->token(b, &s, &ch, 1));
    buf_reset(&want);
    assert_int_equal(sim_resp_sse_finish(&want, &s.ctx, 0, SIM_FINISH_STOP), 0);
    EXPECT(buf_str(&want), o->finish(b, &s, &ch));
    EXPECT("data: [DONE]\n\n", o->tail(b, &s, &ch, 1, &USAGE));
    buf_release(&want);

    struct sim_tool_calls calls;
    struct sim_tool_call tc;
    one_call(&calls, &tc, "chatcmpl-tool-0123456789");
    struct sim_resp_choice tch = {.finish = SIM_FINISH_TOOL_CALLS, .calls = &calls, .top = -1};
    EXPECT("", o->finish(b, &s, &tch)); /* the last argument chunk carried tool_calls */
    sim_toklist_release(&tc.toks);
    sim_toklist_release(&toks);

    static const struct {
        enum sim_api api;
        const char *prefix;
        bool ct;
    } apis[] = {{SIM_API_CHAT, "chatcmpl-", true},
                {SIM_API_COMPLETIONS, "cmpl-", true},
                {SIM_API_RESPONSES, "resp_", false},
                {SIM_API_MESSAGES, "msg_", true},
                {SIM_API_GENERATE, "", false}};
    for (size_t i = 0; i < sizeof(apis) / sizeof(apis[0]); i++) {
        assert_string_equal(sim_resp_ops_for(apis[i].api)->id_prefix, apis[i].prefix);
        assert_int_equal(sim_resp_ops_for(apis[i].api)->cache_threshold, apis[i].ct);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_responses_full),
        cmocka_unit_test(test_responses_stream_text),
        cmocka_unit_test(test_responses_stream_call),
        cmocka_unit_test(test_messages_full),
        cmocka_unit_test(test_messages_stream),
        cmocka_unit_test(test_messages_errors),
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_openai_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
