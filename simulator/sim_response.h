/*
 * sim_response: the JSON bodies and SSE events of chat and text completions,
 * byte for byte in upstream's field order.
 *
 * Builders append to a buf; they do no I/O, so they are unit-testable and
 * the server can send one SSE event (or several) per write. Pure; thread-safe.
 */
#ifndef PDSIM_SIM_RESPONSE_H
#define PDSIM_SIM_RESPONSE_H

#include "common/buf.h"
#include "simulator/sim_request.h"
#include "simulator/sim_textgen.h"
#include "simulator/sim_toolgen.h"

struct sim_resp_ctx {
    enum sim_api api;
    const char *id;    /* full id: "chatcmpl-..." or "cmpl-..." */
    const char *model; /* display name */
    long created;      /* unix seconds, the same in every chunk */
};

struct sim_resp_choice {
    long index;
    const char *text;
    size_t len;
    enum sim_finish finish;
    const struct sim_tok *toks; /* the tokens of text, for logprobs (NULL: none) */
    size_t ntoks;
    long top; /* logprobs: alternatives per token (the token itself first); -1: no logprobs */
    const struct sim_tool_calls
        *calls; /* chat: tool calls instead of text (NULL or n == 0: text) */
};

struct sim_resp_usage {
    long prompt;
    long completion;
    long cached;
    bool no_details; /* "prompt_tokens_details": null (a cache_threshold answer) */
};

/* The usage object: {"prompt_tokens","completion_tokens","total_tokens",
 * "prompt_tokens_details":{"cached_tokens"} (or null)}. */
int sim_resp_usage_json(struct buf *b, const struct sim_resp_usage *u);

/* "data: {...role chunk...}\n\n" (chat only; completions append nothing). */
int sim_resp_sse_role(struct buf *b, const struct sim_resp_ctx *c, long index);
/* "data: {...one token...}\n\n". */
int sim_resp_sse_token(struct buf *b, const struct sim_resp_ctx *c, long index, const char *tok,
                       size_t len);
/* The same with the token's logprobs (position pos, top alternatives). */
int sim_resp_sse_token_lp(struct buf *b, const struct sim_resp_ctx *c, long index, const char *tok,
                          size_t len, long pos, long top);
/* Upstream's synthetic logprob: -1 - 0.1 (pos mod 3) - 0.5 alt. */
double sim_resp_logprob(long pos, long alt);
/* One argument token of tool call k (chat): "data: {...delta:{"tool_calls":[{"function":
 * {"name":name or null,"arguments":tok},"id":id,"type":"function","index":k}]}}\n\n",
 * with finish_reason "tool_calls" when last (the call's last token), else null. */
int sim_resp_sse_tool(struct buf *b, const struct sim_resp_ctx *c, long index, long k,
                      const char *id, const char *name, const char *tok, size_t len, bool last);
/* "data: {...finish chunk...}\n\n". */
int sim_resp_sse_finish(struct buf *b, const struct sim_resp_ctx *c, long index, enum sim_finish f);
/* "data: {... "choices":[], usage ...}\n\n". */
int sim_resp_sse_usage(struct buf *b, const struct sim_resp_ctx *c, const struct sim_resp_usage *u);
/* "data: [DONE]\n\n". */
int sim_resp_sse_done(struct buf *b);
/* "data: {"error":{...}}\n\n" for an error in the middle of a stream. */
int sim_resp_sse_error(struct buf *b, int status, const char *message);

/* The whole non-streaming body. kv_params is a JSON object text or NULL. */
int sim_resp_full(struct buf *b, const struct sim_resp_ctx *c, const struct sim_resp_choice *ch,
                  size_t n, const struct sim_resp_usage *u, const char *kv_params);

#endif
