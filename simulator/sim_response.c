#include "simulator/sim_response.h"

#include "common/httpd.h"

#include <stdio.h>

static const char *object_name(const struct sim_resp_ctx *c, bool chunk)
{
    if (c->api == SIM_API_COMPLETIONS)
        return "text_completion";
    return chunk ? "chat.completion.chunk" : "chat.completion";
}

static int head(struct buf *b, const struct sim_resp_ctx *c, bool chunk)
{
    int rc = buf_puts(b, "{\"id\":");
    rc = rc ? rc : buf_json_str(b, c->id);
    rc = rc ? rc : buf_puts(b, ",\"model\":");
    rc = rc ? rc : buf_json_str(b, c->model);
    rc = rc ? rc : buf_puts(b, ",\"object\":\"");
    rc = rc ? rc : buf_puts(b, object_name(c, chunk));
    return rc ? rc : buf_putc(b, '"');
}

static int usage_obj(struct buf *b, const struct sim_resp_usage *u)
{
    int rc = buf_puts(b, "{\"prompt_tokens\":");
    rc = rc ? rc : buf_put_long(b, u->prompt);
    rc = rc ? rc : buf_puts(b, ",\"completion_tokens\":");
    rc = rc ? rc : buf_put_long(b, u->completion);
    rc = rc ? rc : buf_puts(b, ",\"total_tokens\":");
    rc = rc ? rc : buf_put_long(b, u->prompt + u->completion);
    if (u->no_details)
        return rc ? rc : buf_puts(b, ",\"prompt_tokens_details\":null}");
    rc = rc ? rc : buf_puts(b, ",\"prompt_tokens_details\":{\"cached_tokens\":");
    rc = rc ? rc : buf_put_long(b, u->cached);
    return rc ? rc : buf_puts(b, "}}");
}

/* data: {head,"created":T,"usage":null,"choices":[{"index":i,"finish_reason":F, */
static int chunk_open(struct buf *b, const struct sim_resp_ctx *c, long index, const char *finish)
{
    int rc = buf_puts(b, "data: ");
    rc = rc ? rc : head(b, c, true);
    rc = rc ? rc : buf_puts(b, ",\"created\":");
    rc = rc ? rc : buf_put_long(b, c->created);
    rc = rc ? rc : buf_puts(b, ",\"usage\":null,\"choices\":[{\"index\":");
    rc = rc ? rc : buf_put_long(b, index);
    rc = rc ? rc : buf_puts(b, ",\"finish_reason\":");
    return rc ? rc : buf_puts(b, finish);
}

int sim_resp_sse_role(struct buf *b, const struct sim_resp_ctx *c, long index)
{
    if (c->api != SIM_API_CHAT)
        return 0;
    int rc = chunk_open(b, c, index, "null");
    return rc ? rc : buf_puts(b, ",\"delta\":{\"role\":\"assistant\"}}]}\n\n");
}

int sim_resp_sse_token(struct buf *b, const struct sim_resp_ctx *c, long index, const char *tok,
                       size_t len)
{
    int rc = chunk_open(b, c, index, "null");
    rc = rc ? rc : buf_puts(b, c->api == SIM_API_CHAT ? ",\"delta\":{\"content\":" : ",\"text\":");
    rc = rc ? rc : buf_json_strn(b, tok, len);
    rc = rc ? rc : buf_puts(b, c->api == SIM_API_CHAT ? "}}]}\n\n" : "}]}\n\n");
    return rc;
}

int sim_resp_sse_finish(struct buf *b, const struct sim_resp_ctx *c, long index, enum sim_finish f)
{
    char fr[40];
    snprintf(fr, sizeof(fr), "\"%s\"", sim_finish_name(f));
    int rc = chunk_open(b, c, index, fr);
    return rc ? rc
              : buf_puts(b,
                         c->api == SIM_API_CHAT ? ",\"delta\":{}}]}\n\n" : ",\"text\":\"\"}]}\n\n");
}

int sim_resp_sse_usage(struct buf *b, const struct sim_resp_ctx *c, const struct sim_resp_usage *u)
{
    int rc = buf_puts(b, "data: ");
    rc = rc ? rc : head(b, c, true);
    rc = rc ? rc : buf_appendf(b, ",\"created\":%ld,\"usage\":", c->created);
    rc = rc ? rc : usage_obj(b, u);
    return rc ? rc : buf_puts(b, ",\"choices\":[]}\n\n");
}

int sim_resp_sse_done(struct buf *b)
{
    return buf_puts(b, "data: [DONE]\n\n");
}

int sim_resp_sse_error(struct buf *b, int status, const char *message)
{
    int rc = buf_puts(b, "data: ");
    rc = rc ? rc : httpd_error_body(b, status, message, NULL);
    return rc ? rc : buf_puts(b, "\n\n");
}

static int full_choice(struct buf *b, const struct sim_resp_ctx *c,
                       const struct sim_resp_choice *ch)
{
    int rc = buf_puts(b, "{\"index\":");
    rc = rc ? rc : buf_put_long(b, ch->index);
    rc = rc ? rc : buf_puts(b, ",\"finish_reason\":\"");
    rc = rc ? rc : buf_puts(b, sim_finish_name(ch->finish));
    rc = rc ? rc : buf_puts(b, "\",");
    if (c->api == SIM_API_CHAT) {
        rc = rc ? rc : buf_puts(b, "\"message\":{\"role\":\"assistant\"");
        if (ch->len) {
            rc = rc ? rc : buf_puts(b, ",\"content\":");
            rc = rc ? rc : buf_json_strn(b, ch->text, ch->len);
        }
        rc = rc ? rc : buf_puts(b, "}}");
    } else {
        rc = rc ? rc : buf_puts(b, "\"text\":");
        rc = rc ? rc : buf_json_strn(b, ch->text, ch->len);
        rc = rc ? rc : buf_putc(b, '}');
    }
    return rc;
}

int sim_resp_full(struct buf *b, const struct sim_resp_ctx *c, const struct sim_resp_choice *ch,
                  size_t n, const struct sim_resp_usage *u, const char *kv_params)
{
    int rc = head(b, c, false);
    if (kv_params) {
        rc = rc ? rc : buf_puts(b, ",\"kv_transfer_params\":");
        rc = rc ? rc : buf_puts(b, kv_params);
    }
    rc = rc ? rc : buf_puts(b, ",\"created\":");
    rc = rc ? rc : buf_put_long(b, c->created);
    rc = rc ? rc : buf_puts(b, ",\"usage\":");
    rc = rc ? rc : usage_obj(b, u);
    rc = rc ? rc : buf_puts(b, ",\"choices\":[");
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i)
            rc = buf_putc(b, ',');
        rc = rc ? rc : full_choice(b, c, &ch[i]);
    }
    return rc ? rc : buf_puts(b, "]}");
}
