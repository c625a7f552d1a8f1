#include "simulator/sim_response.h"

#include "common/httpd.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int sim_resp_usage_json(struct buf *b, const struct sim_resp_usage *u)
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

double sim_resp_logprob(long pos, long alt)
{
    return -1.0 - (double)(pos % 3) * 0.1 - (double)alt * 0.5;
}

/* tok, or its alternative alt ("tok_alt"), in a new heap string of *n bytes. */
static char *lp_name(const char *tok, size_t len, long alt, size_t *n)
{
    char *name = xmalloc(len + 24);
    memcpy(name, tok, len);
    *n = len + (alt ? (size_t)snprintf(name + len, 24, "_%ld", alt) : 0);
    name[*n] = '\0';
    return name;
}

/* {"token":T,"logprob":L,"bytes":[...]} for tok, or its alternative alt
 * (tok_alt); left open (no closing brace) when open. */
static int lp_entry(struct buf *b, const char *tok, size_t len, long pos, long alt, bool open)
{
    size_t n;
    char *name = lp_name(tok, len, alt, &n);
    int rc = buf_puts(b, "{\"token\":");
    rc = rc ? rc : buf_json_strn(b, name, n);
    rc = rc ? rc : buf_puts(b, ",\"logprob\":");
    rc = rc ? rc : buf_put_double(b, sim_resp_logprob(pos, alt));
    rc = rc ? rc : buf_puts(b, ",\"bytes\":");
    if (n == 0) {
        rc = rc ? rc : buf_puts(b, "null");
    } else {
        rc = rc ? rc : buf_putc(b, '[');
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (i)
                rc = buf_putc(b, ',');
            rc = rc ? rc : buf_put_long(b, (unsigned char)name[i]);
        }
        rc = rc ? rc : buf_putc(b, ']');
    }
    free(name);
    return rc || open ? rc : buf_putc(b, '}');
}

/* One chat logprobs content item: the token, with top_logprobs. */
static int lp_chat_item(struct buf *b, const char *tok, size_t len, long pos, long top)
{
    int rc = lp_entry(b, tok, len, pos, 0, true);
    rc = rc ? rc : buf_puts(b, ",\"top_logprobs\":[");
    for (long j = 0; j < top && rc == 0; j++) {
        if (j)
            rc = buf_putc(b, ',');
        rc = rc ? rc : lp_entry(b, tok, len, pos, j, false);
    }
    return rc ? rc : buf_puts(b, "]}");
}

/* "logprobs":{...} for tokens [from, from+n) of text, at positions from... */
static int lp_obj(struct buf *b, enum sim_api api, const char *text, const struct sim_tok *toks,
                  size_t n, long first_pos, long top)
{
    int rc = buf_puts(b, ",\"logprobs\":");
    if (api == SIM_API_CHAT) {
        rc = rc ? rc : buf_puts(b, "{\"content\":[");
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (i)
                rc = buf_putc(b, ',');
            rc = rc ? rc
                    : lp_chat_item(b, text + toks[i].off, toks[i].len, first_pos + (long)i, top);
        }
        return rc ? rc : buf_puts(b, "]}");
    }
    /* text completions: tokens, token_logprobs, top_logprobs [{tok: lp}], text_offset */
    rc = rc ? rc : buf_puts(b, "{\"tokens\":[");
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i)
            rc = buf_putc(b, ',');
        rc = rc ? rc : buf_json_strn(b, text + toks[i].off, toks[i].len);
    }
    rc = rc ? rc : buf_puts(b, "],\"token_logprobs\":[");
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i)
            rc = buf_putc(b, ',');
        rc = rc ? rc : buf_put_double(b, sim_resp_logprob(first_pos + (long)i, 0));
    }
    rc = rc ? rc : buf_puts(b, "],\"top_logprobs\":[");
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = buf_puts(b, i ? ",{" : "{");
        for (long j = 0; j < top && rc == 0; j++) {
            size_t k;
            char *name = lp_name(text + toks[i].off, toks[i].len, j, &k);
            rc = j ? buf_putc(b, ',') : 0;
            rc = rc ? rc : buf_json_strn(b, name, k);
            free(name);
            rc = rc ? rc : buf_putc(b, ':');
            rc = rc ? rc : buf_put_double(b, sim_resp_logprob(first_pos + (long)i, j));
        }
        rc = rc ? rc : buf_putc(b, '}');
    }
    rc = rc ? rc : buf_puts(b, "],\"text_offset\":[");
    for (size_t i = 0; i < n && rc == 0; i++) { /* where each token starts in the text */
        if (i)
            rc = buf_putc(b, ',');
        rc = rc ? rc : buf_put_long(b, (long)toks[i].off);
    }
    return rc ? rc : buf_puts(b, "]}");
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

int sim_resp_sse_token_lp(struct buf *b, const struct sim_resp_ctx *c, long index, const char *tok,
                          size_t len, long pos, long top)
{
    int rc = chunk_open(b, c, index, "null");
    rc = rc ? rc : buf_puts(b, c->api == SIM_API_CHAT ? ",\"delta\":{\"content\":" : ",\"text\":");
    rc = rc ? rc : buf_json_strn(b, tok, len);
    if (c->api == SIM_API_CHAT)
        rc = rc ? rc : buf_putc(b, '}');
    struct sim_tok t = {0, (uint32_t)len, 0};
    rc = rc ? rc : lp_obj(b, c->api, tok, &t, 1, pos, top);
    return rc ? rc : buf_puts(b, "}]}\n\n");
}

/* {"function":{"name":N,"arguments":A},"id":ID,"type":"function","index":K}, upstream's
 * order; name NULL writes null. */
static int tool_call_obj(struct buf *b, long k, const char *id, const char *name, const char *args,
                         size_t len)
{
    int rc = buf_puts(b, "{\"function\":{\"name\":");
    rc = rc ? rc : name ? buf_json_str(b, name) : buf_puts(b, "null");
    rc = rc ? rc : buf_puts(b, ",\"arguments\":");
    rc = rc ? rc : buf_json_strn(b, args, len);
    rc = rc ? rc : buf_puts(b, "},\"id\":");
    rc = rc ? rc : buf_json_str(b, id);
    rc = rc ? rc : buf_puts(b, ",\"type\":\"function\",\"index\":");
    rc = rc ? rc : buf_put_long(b, k);
    return rc ? rc : buf_putc(b, '}');
}

int sim_resp_sse_tool(struct buf *b, const struct sim_resp_ctx *c, long index, long k,
                      const char *id, const char *name, const char *tok, size_t len, bool last)
{
    int rc = chunk_open(b, c, index, last ? "\"tool_calls\"" : "null");
    rc = rc ? rc : buf_puts(b, ",\"delta\":{\"tool_calls\":[");
    rc = rc ? rc : tool_call_obj(b, k, id, name, tok, len);
    return rc ? rc : buf_puts(b, "]}}]}\n\n");
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
    rc = rc ? rc : sim_resp_usage_json(b, u);
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
        if (ch->calls && ch->calls->n) {
            rc = rc ? rc : buf_puts(b, ",\"tool_calls\":[");
            for (size_t k = 0; k < ch->calls->n && rc == 0; k++) {
                const struct sim_tool_call *tc = &ch->calls->v[k];
                rc = k ? buf_putc(b, ',') : 0;
                rc = rc ? rc : tool_call_obj(b, (long)k, tc->id, tc->name, tc->args, tc->args_len);
            }
            rc = rc ? rc : buf_putc(b, ']');
        } else if (ch->len) {
            rc = rc ? rc : buf_puts(b, ",\"content\":");
            rc = rc ? rc : buf_json_strn(b, ch->text, ch->len);
        }
        rc = rc ? rc : buf_putc(b, '}');
    } else {
        rc = rc ? rc : buf_puts(b, "\"text\":");
        rc = rc ? rc : buf_json_strn(b, ch->text, ch->len);
    }
    if (ch->top >= 0 && ch->toks)
        rc = rc ? rc : lp_obj(b, c->api, ch->text, ch->toks, ch->ntoks, 0, ch->top);
    return rc ? rc : buf_putc(b, '}');
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
    rc = rc ? rc : sim_resp_usage_json(b, u);
    rc = rc ? rc : buf_puts(b, ",\"choices\":[");
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i)
            rc = buf_putc(b, ',');
        rc = rc ? rc : full_choice(b, c, &ch[i]);
    }
    return rc ? rc : buf_puts(b, "]}");
}
