#include "simulator/sim_resp_api.h"

#include "common/httpd.h"
#include "simulator/sim_resp_generate.h"
#include "simulator/sim_resp_messages.h"
#include "simulator/sim_resp_responses.h"

int sim_resp_openai_stream_error(struct buf *b, struct sim_resp_stream *s, int status,
                                 const char *msg)
{
    (void)s;
    int rc = sim_resp_sse_error(b, status, msg);
    return rc ? rc : sim_resp_sse_done(b);
}

/* Chat and completions: sim_response's chunks, in upstream's order. */

static int oa_begin(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_usage *u)
{
    (void)b;
    (void)s;
    (void)u;
    return 0;
}

static int oa_token(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch,
                    size_t i)
{
    const struct sim_tok *t = &ch->toks[i];
    int rc = i == 0 ? sim_resp_sse_role(b, &s->ctx, ch->index) : 0;
    if (ch->top >= 0) /* the token's real position (upstream uses created % 1000) */
        return rc ? rc
                  : sim_resp_sse_token_lp(b, &s->ctx, ch->index, ch->text + t->off, t->len, (long)i,
                                          ch->top);
    return rc ? rc : sim_resp_sse_token(b, &s->ctx, ch->index, ch->text + t->off, t->len);
}

/* The finish reason rides on the last token of each call, as upstream. */
static int oa_tool(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch,
                   size_t k, size_t j)
{
    const struct sim_tool_call *tc = &ch->calls->v[k];
    const struct sim_tok *t = &tc->toks.v[j];
    int rc = k == 0 && j == 0 ? sim_resp_sse_role(b, &s->ctx, ch->index) : 0;
    return rc ? rc
              : sim_resp_sse_tool(b, &s->ctx, ch->index, (long)k, tc->id, j == 0 ? tc->name : NULL,
                                  tc->args + t->off, t->len, j + 1 >= tc->toks.n);
}

static int oa_finish(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch)
{
    if (ch->calls && ch->calls->n) /* the last call's chunk carried it */
        return 0;
    return sim_resp_sse_finish(b, &s->ctx, ch->index, ch->finish);
}

static int oa_tail(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch,
                   size_t n, const struct sim_resp_usage *u)
{
    (void)ch;
    (void)n;
    int rc = s->include_usage ? sim_resp_sse_usage(b, &s->ctx, u) : 0;
    return rc ? rc : sim_resp_sse_done(b);
}

static int oa_full(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch,
                   size_t n, const struct sim_resp_usage *u, const char *kv_params)
{
    return sim_resp_full(b, &s->ctx, ch, n, u, kv_params);
}

#define OPENAI_OPS(prefix)                                                                         \
    {                                                                                              \
        .begin = oa_begin, .token = oa_token, .tool = oa_tool, .finish = oa_finish,                \
        .tail = oa_tail, .stream_error = sim_resp_openai_stream_error, .full = oa_full,            \
        .error_body = httpd_error_body, .id_prefix = (prefix), .cache_threshold = true,            \
    }

static const struct sim_resp_ops chat_ops = OPENAI_OPS("chatcmpl-");
static const struct sim_resp_ops completions_ops = OPENAI_OPS("cmpl-");

const struct sim_resp_ops *sim_resp_ops_for(enum sim_api api)
{
    switch (api) {
    case SIM_API_COMPLETIONS:
        return &completions_ops;
    case SIM_API_RESPONSES:
        return &sim_resp_responses_ops;
    case SIM_API_MESSAGES:
        return &sim_resp_messages_ops;
    case SIM_API_GENERATE:
        return &sim_resp_generate_ops;
    default:
        return &chat_ops;
    }
}
