#include "simulator/sim_resp_responses.h"

#include "common/httpd.h"

#include <string.h>

/* "event: TYPE\ndata: {"type":"TYPE"" */
static int ev_open(struct buf *b, const char *type)
{
    int rc = buf_puts(b, "event: ");
    rc = rc ? rc : buf_puts(b, type);
    rc = rc ? rc : buf_puts(b, "\ndata: {\"type\":\"");
    rc = rc ? rc : buf_puts(b, type);
    return rc ? rc : buf_putc(b, '"');
}

/* ","sequence_number":N}\n\n", numbering the events of a stream from 0. */
static int ev_close(struct buf *b, struct sim_resp_stream *s)
{
    int rc = buf_puts(b, ",\"sequence_number\":");
    rc = rc ? rc : buf_put_long(b, s->seq++);
    return rc ? rc : buf_puts(b, "}\n\n");
}

static bool has_calls(const struct sim_resp_choice *ch)
{
    return ch->calls && ch->calls->n > 0;
}

/* The text as streamed: its tokens end to end (echo mode's tokenizer skips a
 * few characters the full text keeps), as a JSON string. */
static int streamed_text(struct buf *b, const struct sim_resp_choice *ch)
{
    struct buf t;
    buf_init(&t, BUF_NOCAP);
    int rc = 0;
    for (size_t i = 0; i < ch->ntoks && rc == 0; i++)
        rc = buf_append(&t, ch->text + ch->toks[i].off, ch->toks[i].len);
    rc = rc ? rc : buf_json_strn(b, buf_str(&t), t.len);
    buf_release(&t);
    return rc;
}

/* {"type":"output_text","text":T,"annotations":[]}; text NULL: the streamed text. */
static int text_part(struct buf *b, const struct sim_resp_choice *ch, const char *text, size_t len)
{
    int rc = buf_puts(b, "{\"type\":\"output_text\",\"text\":");
    rc = rc ? rc : text ? buf_json_strn(b, text, len) : streamed_text(b, ch);
    return rc ? rc : buf_puts(b, ",\"annotations\":[]}");
}

/* The message item; ch NULL: in progress, with no content yet. */
static int message_item(struct buf *b, const struct sim_resp_stream *s,
                        const struct sim_resp_choice *ch, bool streamed)
{
    int rc = buf_puts(b, "{\"type\":\"message\",\"id\":\"msg_");
    rc = rc ? rc : buf_puts(b, s->reqid);
    rc = rc ? rc : buf_puts(b, "\",\"role\":\"assistant\",\"status\":");
    rc =
        rc ? rc : buf_puts(b, ch ? "\"completed\",\"content\":[" : "\"in_progress\",\"content\":[");
    if (ch)
        rc = rc ? rc : text_part(b, ch, streamed ? NULL : ch->text, ch->len);
    return rc ? rc : buf_puts(b, "]}");
}

/* A function_call item; done: completed, with its arguments (else in
 * progress, arguments ""). call_id is the item id with "call_" for "fc_". */
static int call_item(struct buf *b, const struct sim_tool_call *tc, bool done)
{
    const char *digits = strncmp(tc->id, "fc_", 3) == 0 ? tc->id + 3 : tc->id;
    int rc = buf_puts(b, "{\"type\":\"function_call\",\"id\":");
    rc = rc ? rc : buf_json_str(b, tc->id);
    rc = rc ? rc : buf_puts(b, ",\"call_id\":\"call_");
    rc = rc ? rc : buf_puts(b, digits);
    rc = rc ? rc : buf_puts(b, "\",\"name\":");
    rc = rc ? rc : buf_json_str(b, tc->name);
    rc = rc ? rc : buf_puts(b, ",\"arguments\":");
    rc = rc ? rc : done ? buf_json_strn(b, tc->args, tc->args_len) : buf_puts(b, "\"\"");
    return rc ? rc
              : buf_puts(b, done ? ",\"status\":\"completed\"}" : ",\"status\":\"in_progress\"}");
}

static int usage_obj(struct buf *b, const struct sim_resp_usage *u)
{
    int rc = buf_puts(b, "{\"input_tokens\":");
    rc = rc ? rc : buf_put_long(b, u->prompt);
    rc = rc ? rc : buf_puts(b, ",\"input_tokens_details\":{\"cached_tokens\":");
    rc = rc ? rc : buf_put_long(b, u->cached);
    rc = rc ? rc : buf_puts(b, "},\"output_tokens\":");
    rc = rc ? rc : buf_put_long(b, u->completion);
    rc = rc ? rc
            : buf_puts(b, ",\"output_tokens_details\":{\"reasoning_tokens\":0},"
                          "\"total_tokens\":");
    rc = rc ? rc : buf_put_long(b, u->prompt + u->completion);
    return rc ? rc : buf_putc(b, '}');
}

/* The response object. u NULL: in progress (empty output, no usage). */
static int response_obj(struct buf *b, const struct sim_resp_stream *s,
                        const struct sim_resp_choice *ch, size_t n, const struct sim_resp_usage *u,
                        const char *kv_params, bool streamed)
{
    int rc = buf_puts(b, "{\"id\":");
    rc = rc ? rc : buf_json_str(b, s->ctx.id);
    rc = rc ? rc : buf_puts(b, ",\"model\":");
    rc = rc ? rc : buf_json_str(b, s->ctx.model);
    rc = rc ? rc : buf_puts(b, ",\"object\":\"response\"");
    if (kv_params) {
        rc = rc ? rc : buf_puts(b, ",\"kv_transfer_params\":");
        rc = rc ? rc : buf_puts(b, kv_params);
    }
    rc = rc ? rc : buf_puts(b, ",\"created_at\":");
    rc = rc ? rc : buf_put_long(b, s->ctx.created);
    rc = rc ? rc : buf_puts(b, u ? ",\"status\":\"completed\"" : ",\"status\":\"in_progress\"");
    if (s->instructions) {
        rc = rc ? rc : buf_puts(b, ",\"instructions\":");
        rc = rc ? rc : buf_json_str(b, s->instructions);
    }
    rc = rc ? rc : buf_puts(b, ",\"output\":[");
    for (size_t i = 0; u && i < n && rc == 0; i++) {
        rc = i ? buf_putc(b, ',') : 0;
        if (!has_calls(&ch[i])) {
            rc = rc ? rc : message_item(b, s, &ch[i], streamed);
            continue;
        }
        for (size_t k = 0; k < ch[i].calls->n && rc == 0; k++) {
            rc = k ? buf_putc(b, ',') : 0;
            rc = rc ? rc : call_item(b, &ch[i].calls->v[k], true);
        }
    }
    rc = rc ? rc : buf_puts(b, "],\"text\":{\"format\":{\"type\":\"text\"}}");
    if (u) {
        rc = rc ? rc : buf_puts(b, ",\"usage\":");
        rc = rc ? rc : usage_obj(b, u);
    }
    return rc ? rc : buf_putc(b, '}');
}

static int begin(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_usage *u)
{
    (void)u;
    int rc = 0;
    static const char *const types[] = {"response.created", "response.in_progress"};
    for (int i = 0; i < 2 && rc == 0; i++) {
        rc = ev_open(b, types[i]);
        rc = rc ? rc : buf_puts(b, ",\"response\":");
        rc = rc ? rc : response_obj(b, s, NULL, 0, NULL, NULL, true);
        rc = rc ? rc : ev_close(b, s);
    }
    return rc;
}

/* ","output_index":O[,"content_index":0,"item_id":"msg_ID"]" */
static int where(struct buf *b, const struct sim_resp_stream *s, size_t out, bool part)
{
    int rc = buf_puts(b, ",\"output_index\":");
    rc = rc ? rc : buf_put_long(b, (long long)out);
    if (!part)
        return rc;
    rc = rc ? rc : buf_puts(b, ",\"content_index\":0,\"item_id\":\"msg_");
    rc = rc ? rc : buf_puts(b, s->reqid);
    return rc ? rc : buf_putc(b, '"');
}

/* output_item.added (message, in progress) and content_part.added (empty). */
static int open_message(struct buf *b, struct sim_resp_stream *s)
{
    int rc = ev_open(b, "response.output_item.added");
    rc = rc ? rc : where(b, s, 0, false);
    rc = rc ? rc : buf_puts(b, ",\"item\":");
    rc = rc ? rc : message_item(b, s, NULL, true);
    rc = rc ? rc : ev_close(b, s);
    rc = rc ? rc : ev_open(b, "response.content_part.added");
    rc = rc ? rc : where(b, s, 0, true);
    rc = rc ? rc
            : buf_puts(b, ",\"part\":{\"type\":\"output_text\",\"text\":\"\","
                          "\"annotations\":[]}");
    return rc ? rc : ev_close(b, s);
}

static int token(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch,
                 size_t i)
{
    int rc = i == 0 ? open_message(b, s) : 0;
    rc = rc ? rc : ev_open(b, "response.output_text.delta");
    rc = rc ? rc : where(b, s, 0, true);
    rc = rc ? rc : buf_puts(b, ",\"delta\":");
    rc = rc ? rc : buf_json_strn(b, ch->text + ch->toks[i].off, ch->toks[i].len);
    return rc ? rc : ev_close(b, s);
}

/* function_call_arguments.done and output_item.done of call k. */
static int close_call(struct buf *b, struct sim_resp_stream *s, const struct sim_tool_call *tc,
                      size_t k)
{
    int rc = ev_open(b, "response.function_call_arguments.done");
    rc = rc ? rc : where(b, s, k, false);
    rc = rc ? rc : buf_puts(b, ",\"item_id\":");
    rc = rc ? rc : buf_json_str(b, tc->id);
    rc = rc ? rc : buf_puts(b, ",\"name\":");
    rc = rc ? rc : buf_json_str(b, tc->name);
    rc = rc ? rc : buf_puts(b, ",\"arguments\":");
    rc = rc ? rc : buf_json_strn(b, tc->args, tc->args_len);
    rc = rc ? rc : ev_close(b, s);
    rc = rc ? rc : ev_open(b, "response.output_item.done");
    rc = rc ? rc : where(b, s, k, false);
    rc = rc ? rc : buf_puts(b, ",\"item\":");
    rc = rc ? rc : call_item(b, tc, true);
    return rc ? rc : ev_close(b, s);
}

/* Each call is one output item: added on its first token, done before the
 * next call's (the last one's in finish). */
static int tool(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch,
                size_t k, size_t j)
{
    const struct sim_tool_call *tc = &ch->calls->v[k];
    int rc = 0;
    if (j == 0) {
        rc = k ? close_call(b, s, &ch->calls->v[k - 1], k - 1) : 0;
        rc = rc ? rc : ev_open(b, "response.output_item.added");
        rc = rc ? rc : where(b, s, k, false);
        rc = rc ? rc : buf_puts(b, ",\"item\":");
        rc = rc ? rc : call_item(b, tc, false);
        rc = rc ? rc : ev_close(b, s);
    }
    rc = rc ? rc : ev_open(b, "response.function_call_arguments.delta");
    rc = rc ? rc : where(b, s, k, false);
    rc = rc ? rc : buf_puts(b, ",\"item_id\":");
    rc = rc ? rc : buf_json_str(b, tc->id);
    rc = rc ? rc : buf_puts(b, ",\"delta\":");
    rc = rc ? rc : buf_json_strn(b, tc->args + tc->toks.v[j].off, tc->toks.v[j].len);
    return rc ? rc : ev_close(b, s);
}

static int finish(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch)
{
    if (has_calls(ch))
        return close_call(b, s, &ch->calls->v[ch->calls->n - 1], ch->calls->n - 1);
    int rc = ch->ntoks == 0 ? open_message(b, s) : 0; /* nothing was streamed: open it now */
    rc = rc ? rc : ev_open(b, "response.output_text.done");
    rc = rc ? rc : where(b, s, 0, true);
    rc = rc ? rc : buf_puts(b, ",\"text\":");
    rc = rc ? rc : streamed_text(b, ch);
    rc = rc ? rc : ev_close(b, s);
    rc = rc ? rc : ev_open(b, "response.content_part.done");
    rc = rc ? rc : where(b, s, 0, true);
    rc = rc ? rc : buf_puts(b, ",\"part\":");
    rc = rc ? rc : text_part(b, ch, NULL, 0);
    rc = rc ? rc : ev_close(b, s);
    rc = rc ? rc : ev_open(b, "response.output_item.done");
    rc = rc ? rc : where(b, s, 0, false);
    rc = rc ? rc : buf_puts(b, ",\"item\":");
    rc = rc ? rc : message_item(b, s, ch, true);
    return rc ? rc : ev_close(b, s);
}

static int tail(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch,
                size_t n, const struct sim_resp_usage *u)
{
    int rc = ev_open(b, "response.completed");
    rc = rc ? rc : buf_puts(b, ",\"response\":");
    rc = rc ? rc : response_obj(b, s, ch, n, u, NULL, true);
    return rc ? rc : ev_close(b, s);
}

/* OpenAI's error event; the stream has no [DONE]. */
static int stream_error(struct buf *b, struct sim_resp_stream *s, int status, const char *msg)
{
    (void)status;
    int rc = ev_open(b, "error");
    rc = rc ? rc : buf_puts(b, ",\"code\":null,\"message\":");
    rc = rc ? rc : buf_json_str(b, msg);
    rc = rc ? rc : buf_puts(b, ",\"param\":null");
    return rc ? rc : ev_close(b, s);
}

static int full(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch,
                size_t n, const struct sim_resp_usage *u, const char *kv_params)
{
    return response_obj(b, s, ch, n, u, kv_params, false);
}

const struct sim_resp_ops sim_resp_responses_ops = {
    .begin = begin,
    .token = token,
    .tool = tool,
    .finish = finish,
    .tail = tail,
    .stream_error = stream_error,
    .full = full,
    .error_body = httpd_error_body,
    .id_prefix = "resp_",
    .cache_threshold = false, /* upstream's Responses requests ignore the header */
};
