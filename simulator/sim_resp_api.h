/*
 * sim_resp_api: one table of builders per API, so the generation lifecycle
 * (sim_generate.c) answers every API the same way. A stream is: begin, then
 * for each choice its tokens (text, or the argument tokens of its tool calls)
 * and its finish, as their times come, then the tail; a stream that fails
 * midway ends with stream_error instead. A non-streaming answer is one full
 * body; an error before anything was sent is one error body. Chat and
 * completions use sim_response's builders; the Responses, Anthropic Messages
 * and generate APIs have their own modules (sim_resp_responses,
 * sim_resp_messages, sim_resp_generate). Builders only append to a buf, so
 * they are unit-testable. Pure; thread-safe with one stream state per request.
 */
#ifndef PDSIM_SIM_RESP_API_H
#define PDSIM_SIM_RESP_API_H

#include "common/buf.h"
#include "simulator/sim_request.h"
#include "simulator/sim_response.h"

#include <stdbool.h>
#include <stddef.h>

/* One response being built. */
struct sim_resp_stream {
    struct sim_resp_ctx ctx;  /* api, full id ("resp_" + request id, ...), model, created */
    const char *reqid;        /* the bare request id: generate's request_id, the item ids */
    const char *instructions; /* responses: shown in the response object, or NULL */
    bool include_usage;       /* stream_options.include_usage (chat, completions, generate) */
    long seq;                 /* responses: the next event's sequence_number, from 0 */
};

/* Every builder returns 0 or -E2BIG (the buf's cap). ch is one choice: its
 * text and tokens, or its tool calls (ch->calls->n > 0), and its finish. */
struct sim_resp_ops {
    /* The stream's opening events, right after the headers (u: prompt tokens). */
    int (*begin)(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_usage *u);
    /* Text token i of ch (the first one also opens the choice's output). */
    int (*token)(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch,
                 size_t i);
    /* Argument token j of tool call k of ch. */
    int (*tool)(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch,
                size_t k, size_t j);
    /* ch has sent all its tokens (possibly none). */
    int (*finish)(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch);
    /* Every choice finished: usage, the closing events, [DONE] where the API has one. */
    int (*tail)(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch,
                size_t n, const struct sim_resp_usage *u);
    /* The stream ends with an error (status, message). */
    int (*stream_error)(struct buf *b, struct sim_resp_stream *s, int status, const char *msg);
    /* The non-streaming body. kv_params: a JSON object text (prefill side) or NULL. */
    int (*full)(struct buf *b, struct sim_resp_stream *s, const struct sim_resp_choice *ch,
                size_t n, const struct sim_resp_usage *u, const char *kv_params);
    /* An error answer's JSON body; param (the field to blame) may be NULL. */
    int (*error_body)(struct buf *b, int status, const char *msg, const char *param);
    const char *id_prefix; /* of the response id: "chatcmpl-", "cmpl-", "resp_", "msg_", "" */
    bool cache_threshold;  /* X-Cache-Threshold-Finish-Reason applies (as upstream) */
};

/* The table of api (static storage). */
const struct sim_resp_ops *sim_resp_ops_for(enum sim_api api);

/* "data: [DONE]\n\n" and the error frame of the OpenAI-shaped streams, shared
 * by the tables: "data: {"error":{...}}\n\n" then [DONE]. */
int sim_resp_openai_stream_error(struct buf *b, struct sim_resp_stream *s, int status,
                                 const char *msg);

#endif
