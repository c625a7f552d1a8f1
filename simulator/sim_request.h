/*
 * sim_request: a generation request body (chat, text completions, and through
 * sim_req_ext the Responses, Anthropic Messages and generate APIs), parsed
 * and validated the way upstream does, into plain C values.
 *
 * Chat messages are flattened as upstream's tokenizer sees them
 * ("### role: text\n" per message); completions keep one prompt per array
 * element. Errors come back as an HTTP status plus upstream's message and,
 * for wrong field types, the name of the field. Pure; thread-safe.
 */
#ifndef PDSIM_SIM_REQUEST_H
#define PDSIM_SIM_REQUEST_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

enum sim_api {
    SIM_API_CHAT,        /* POST /v1/chat/completions */
    SIM_API_COMPLETIONS, /* POST /v1/completions */
    SIM_API_RESPONSES,   /* POST /v1/responses (OpenAI Responses) */
    SIM_API_MESSAGES,    /* POST /v1/messages (Anthropic Messages) */
    SIM_API_GENERATE,    /* POST /inference/v1/generate (token ids in and out) */
};

struct sim_prompt {
    char *text; /* owned: what the tokenizer counts (chat: all messages flattened) */
    size_t text_len;
    char *echo; /* owned: what echo mode returns (chat: the last message's text) */
    size_t echo_len;
    long ntokens;   /* prompt tokens */
    bool token_ids; /* a token-id prompt: text is the ids joined by "," */
};

struct sim_request {
    enum sim_api api;
    cJSON *root; /* owned parse tree; strings below are borrowed from it */
    const char *model;
    bool stream;
    bool include_usage;
    long max_tokens; /* -1 when unset; max_completion_tokens wins over max_tokens */
    long n;
    bool ignore_eos;
    bool logprobs;     /* chat logprobs: true, or completions logprobs given */
    long top_logprobs; /* alternatives per token, the token itself first (0..20) */
    bool top_given;    /* top_logprobs (chat) or logprobs (completions) was given */
    bool max_given;    /* max_tokens or max_completion_tokens was given */
    bool do_remote_decode;
    bool do_remote_prefill;
    bool cache_hit_given;       /* cache_hit_threshold was given (not null) */
    double cache_hit_threshold; /* 0..1: below this prefix-cache hit rate, finish cache_threshold */
    const cJSON *tools; /* chat shape (responses and messages converted): the array, or NULL */
    const cJSON *tool_choice;   /* chat shape: a string or an object, or NULL */
    const char *instructions;   /* responses: borrowed, or NULL */
    bool tools_off;             /* responses: the input holds a function_call_output: text only */
    struct sim_prompt *prompts; /* owned; chat has exactly one */
    size_t nprompts;
};

/* Parse body (JSON and the types of its fields; the values are checked by
 * sim_request_validate). Returns 0, or an HTTP status (400) with the message in err and,
 * when a field is to blame, its name in param (a static string or "").
 * req is always left releasable. */
int sim_request_parse(enum sim_api api, const char *body, size_t len, struct sim_request *req,
                      char *err, size_t errlen, const char **param);
void sim_request_release(struct sim_request *req);

/* The checks of the request's values (n, max tokens, stream with
 * do_remote_decode, ignore_eos, logprobs, cache_hit_threshold in 0..1), which upstream makes after
 * the test headers, failure injection and the model check. Returns 0, or 400 with err and param. */
int sim_request_validate(struct sim_request *req, char *err, size_t errlen, const char **param);

/* Check prompt + max_tokens (or 1) against the context window. Returns 0 or
 * 400 with upstream's message in err. */
int sim_request_check_context(const struct sim_request *req, long max_model_len, char *err,
                              size_t errlen);

#endif
