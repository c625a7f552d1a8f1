#include "simulator/sim_resp_messages.h"

#include <stdio.h>
#include <string.h>

const char *sim_resp_messages_error_type(int status)
{
    switch (status) {
    case 400:
    case 422:
        return "invalid_request_error";
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 408:
        return "request_timeout_error";
    case 413:
        return "request_too_large";
    case 429:
        return "rate_limit_error";
    case 503:
    case 529:
        return "overloaded_error";
    default:
        return "api_error";
    }
}

static const char *stop_reason(enum sim_finish f)
{
    switch (f) {
    case SIM_FINISH_TOOL_CALLS:
        return "tool_use";
    case SIM_FINISH_LENGTH:
    case SIM_FINISH_CACHE_THRESHOLD:
        return "max_tokens";
    default:
        return "end_turn";
    }
}

static bool has_calls(const struct sim_resp_choice *ch)
{
    return ch->calls && ch->calls->n > 0;
}

/* "event: TYPE\ndata: {"type":"TYPE"" */
static int ev_open(struct buf *b, const char *type)
{
    int rc = buf_puts(b, "event: ");
    rc = rc ? rc : buf_puts(b, type);
    rc = rc ? rc : buf_puts(b, "\ndata: {\"type\":\"");
    rc = rc ? rc : buf_puts(b, type);
    return rc ? rc : buf_putc(b, '"');
}

static int ev_close(struct buf *b)
{
    return buf_puts(b, "}\n\n");
}

/* event TYPE with ,"index":I and the rest of the data in rest. */
static int ev_index(struct buf *b, const char *type, size_t index)
{
    int rc = ev_open(b, type);
    rc = rc ? rc : buf_puts(b, ",\"index\":");
    return rc ? rc : buf_put_long(b, (long long)index);
}

static int usage_obj(struct buf *b, const struct sim_resp_usage *u, long output)
{
    int rc = buf_puts(b, "{\"input_tokens\":");
    rc = rc ? rc : buf_put_long(b, u->prompt);
    rc = rc ? rc : buf_puts(b, ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":");
    rc = rc ? rc : buf_put_long(b, u->cached);
    rc = rc ? rc : buf_puts(b, ",\"output_tokens\":");
    rc = rc ? rc : buf_put_long(b, output);
    return rc ? rc : buf_putc(b, '}');
}

/* {"id","type":"message","role":"assistant","content":[",
 * which the caller fills and closes. */
static int message_head(struct buf *b, const struct sim_resp_stream *s)
{
    int rc = buf_puts(b, "{\"id\":");
    rc = rc ? rc : buf_json_str(b, s->ctx.id);
    return rc ? rc : buf_puts(b, ",\"type\":\"message\",\"role\":\"assistant\",\"content\":[");
}

/* "],"model":M,"stop_reason":SR|null,"stop_sequence":null,"usage":U" */
static int message_rest(struct buf *b, const struct sim_resp_stream *s, const char *sr,
                        const struct sim_resp_usage *u, long output)
{
    int rc = buf_puts(b, "],\"model\":");
    rc = rc ? rc : buf_json_str(b, s->ctx.model);
    rc = rc ? rc : buf_puts(b, ",\"stop_reason\":");
    if (sr) {
        rc = rc ? rc : buf_putc(b, '"');
        rc = rc ? rc : buf_puts(b, sr);
        rc = rc ? rc : buf_putc(b, '"');
    } else {
        rc = rc ? rc : buf_puts(b, "null");
    }
    rc = rc ? rc : buf_puts(b, ",\"stop_sequence\":null,\"usage\":");
    return rc ? rc : usage_obj(b, u, output);
}

static int begin(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_usage *u)
{
    int rc = ev_open(b, "message_start");
    rc = rc ? rc : buf_puts(b, ",\"message\":");
    rc = rc ? rc : message_head(b, s);
    rc = rc ? rc : message_rest(b, s, NULL, u, 0);
    rc = rc ? rc : buf_putc(b, '}');
    return rc ? rc : ev_close(b);
}

static int ping(struct buf *b)
{
    int rc = ev_open(b, "ping");
    return rc ? rc : ev_close(b);
}

/* content_block_start of the text block, then ping, as upstream. */
static int open_text(struct buf *b)
{
    int rc = ev_index(b, "content_block_start", 0);
    rc = rc ? rc : buf_puts(b, ",\"content_block\":{\"type\":\"text\",\"text\":\"\"}");
    rc = rc ? rc : ev_close(b);
    return rc ? rc : ping(b);
}

static int token(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch,
                 size_t i)
{
    (void)s;
    int rc = i == 0 ? open_text(b) : 0;
    rc = rc ? rc : ev_index(b, "content_block_delta", 0);
    rc = rc ? rc : buf_puts(b, ",\"delta\":{\"type\":\"text_delta\",\"text\":");
    rc = rc ? rc : buf_json_strn(b, ch->text + ch->toks[i].off, ch->toks[i].len);
    rc = rc ? rc : buf_putc(b, '}');
    return rc ? rc : ev_close(b);
}

static int block_stop(struct buf *b, size_t index)
{
    int rc = ev_index(b, "content_block_stop", index);
    return rc ? rc : ev_close(b);
}

/* Call k is content block k: started on its first token (after ping for the
 * first call, and the previous block's stop for the others). */
static int tool(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch,
                size_t k, size_t j)
{
    (void)s;
    const struct sim_tool_call *tc = &ch->calls->v[k];
    int rc = 0;
    if (j == 0) {
        rc = k == 0 ? ping(b) : block_stop(b, k - 1);
        rc = rc ? rc : ev_index(b, "content_block_start", k);
        rc = rc ? rc : buf_puts(b, ",\"content_block\":{\"type\":\"tool_use\",\"id\":");
        rc = rc ? rc : buf_json_str(b, tc->id);
        rc = rc ? rc : buf_puts(b, ",\"name\":");
        rc = rc ? rc : buf_json_str(b, tc->name);
        rc = rc ? rc : buf_puts(b, ",\"input\":{}}");
        rc = rc ? rc : ev_close(b);
    }
    rc = rc ? rc : ev_index(b, "content_block_delta", k);
    rc = rc ? rc : buf_puts(b, ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":");
    rc = rc ? rc : buf_json_strn(b, tc->args + tc->toks.v[j].off, tc->toks.v[j].len);
    rc = rc ? rc : buf_putc(b, '}');
    return rc ? rc : ev_close(b);
}

static int finish(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch)
{
    (void)s;
    if (has_calls(ch))
        return block_stop(b, ch->calls->n - 1);
    int rc = ch->ntoks == 0 ? open_text(b) : 0; /* nothing was streamed: open it now */
    return rc ? rc : block_stop(b, 0);
}

static int tail(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch,
                size_t n, const struct sim_resp_usage *u)
{
    (void)s;
    int rc = ev_open(b, "message_delta");
    rc = rc ? rc : buf_puts(b, ",\"delta\":{\"stop_reason\":\"");
    rc = rc ? rc : buf_puts(b, stop_reason(n ? ch[0].finish : SIM_FINISH_STOP));
    rc = rc ? rc : buf_puts(b, "\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":");
    rc = rc ? rc : buf_put_long(b, u->completion);
    rc = rc ? rc : buf_putc(b, '}');
    rc = rc ? rc : ev_close(b);
    rc = rc ? rc : ev_open(b, "message_stop");
    return rc ? rc : ev_close(b);
}

/* Anthropic's envelope has no param: a 400 whose message does not name its
 * field says it at the end, "... (field 'max_tokens')". */
static int error_body(struct buf *b, int status, const char *msg, const char *param)
{
    struct buf m;
    buf_init(&m, BUF_NOCAP);
    int rc = buf_puts(&m, msg);
    if (status == 400 && param && *param && !strstr(msg, param))
        rc = rc ? rc : buf_appendf(&m, " (field '%s')", param);
    rc = rc ? rc : buf_puts(b, "{\"type\":\"error\",\"error\":{\"type\":\"");
    rc = rc ? rc : buf_puts(b, sim_resp_messages_error_type(status));
    rc = rc ? rc : buf_puts(b, "\",\"message\":");
    rc = rc ? rc : buf_json_strn(b, buf_str(&m), m.len);
    buf_release(&m);
    return rc ? rc : buf_puts(b, "}}");
}

/* "event: error" with the envelope; the stream has no [DONE]. */
static int stream_error(struct buf *b, struct sim_resp_stream *s, int status, const char *msg)
{
    (void)s;
    int rc = buf_puts(b, "event: error\ndata: ");
    rc = rc ? rc : error_body(b, status, msg, NULL);
    return rc ? rc : buf_puts(b, "\n\n");
}

/* One text block, or a tool_use block per call with its arguments as input. */
static int content(struct buf *b, const struct sim_resp_choice *ch)
{
    if (!has_calls(ch)) {
        int rc = buf_puts(b, "{\"type\":\"text\",\"text\":");
        rc = rc ? rc : buf_json_strn(b, ch->text ? ch->text : "", ch->len);
        return rc ? rc : buf_putc(b, '}');
    }
    int rc = 0;
    for (size_t k = 0; k < ch->calls->n && rc == 0; k++) {
        const struct sim_tool_call *tc = &ch->calls->v[k];
        rc = k ? buf_putc(b, ',') : 0;
        rc = rc ? rc : buf_puts(b, "{\"type\":\"tool_use\",\"id\":");
        rc = rc ? rc : buf_json_str(b, tc->id);
        rc = rc ? rc : buf_puts(b, ",\"name\":");
        rc = rc ? rc : buf_json_str(b, tc->name);
        rc = rc ? rc : buf_puts(b, ",\"input\":");
        /* an object always (upstream decodes into a map; a schema that is not an
         * object's, allowed with --skip-tool-validation, gives {}) */
        if (tc->args_len && tc->args[0] == '{')
            rc = rc ? rc : buf_append(b, tc->args, tc->args_len);
        else
            rc = rc ? rc : buf_puts(b, "{}");
        rc = rc ? rc : buf_putc(b, '}');
    }
    return rc;
}

static int full(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch,
                size_t n, const struct sim_resp_usage *u, const char *kv_params)
{
    int rc = message_head(b, s);
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = i ? buf_putc(b, ',') : 0;
        rc = rc ? rc : content(b, &ch[i]);
    }
    rc = rc ? rc
            : message_rest(b, s, stop_reason(n ? ch[0].finish : SIM_FINISH_STOP), u, u->completion);
    if (kv_params) { /* for the P/D sidecar, which reads it from the prefill answer */
        rc = rc ? rc : buf_puts(b, ",\"kv_transfer_params\":");
        rc = rc ? rc : buf_puts(b, kv_params);
    }
    return rc ? rc : buf_putc(b, '}');
}

const struct sim_resp_ops sim_resp_messages_ops = {
    .begin = begin,
    .token = token,
    .tool = tool,
    .finish = finish,
    .tail = tail,
    .stream_error = stream_error,
    .full = full,
    .error_body = error_body,
    .id_prefix = "msg_",
    .cache_threshold = true, /* upstream converts Messages to a chat request */
};
