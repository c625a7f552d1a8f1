/*
 * sim_req_ext: what the Responses, Anthropic Messages and generate requests
 * share once parsed into the common struct sim_request: the fields they all
 * have, the prompt flattened as upstream's tokenizer sees it ("### role: text\n"
 * per message), the checks made after the model check, and the tool checks and
 * generated calls adapted to each API. Each API's body is read by its own
 * module (sim_req_responses, sim_req_messages, sim_req_generate); chat and
 * completions stay in sim_request. Pure; thread-safe.
 */
#ifndef PDSIM_SIM_REQ_EXT_H
#define PDSIM_SIM_REQ_EXT_H

#include "common/buf.h"
#include "simulator/sim_request.h"
#include "simulator/sim_toolgen.h"
#include "simulator/sim_tools.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Parse req->root (a JSON object) of a Responses, Messages or generate
 * request. The contract of sim_request_parse: 0, or 400 with err and *param. */
int sim_req_ext_parse(struct sim_request *req, char *err, size_t errlen, const char **param);

/* The fields all three read at the top level: model, stream, ignore_eos and
 * kv_transfer_params.do_remote_decode/do_remote_prefill. n is 1, max_tokens -1. */
int sim_req_ext_common(struct sim_request *req, char *err, size_t errlen, const char **param);

/* The checks upstream makes after the model check, in its order: the API's
 * required fields (messages and max_tokens; token_ids and sampling_params),
 * the tools (chat, responses, messages; into *tools), then
 * sim_request_validate, with param naming the API's own field. Returns 0 or
 * 400 with err and *param. */
int sim_req_ext_check(struct sim_request *req, bool skip_schema, struct sim_tools *tools, char *err,
                      size_t errlen, const char **param);

/* Generated calls as the API shows them: ids "fc_" + 10 digits (responses,
 * which also keeps one call only, as upstream) or "toolu_" + 10 digits
 * (messages); chat's stay "chatcmpl-tool-...". */
void sim_req_ext_calls(const struct sim_request *req, struct sim_tool_calls *calls);

/* A prompt being flattened. */
struct sim_flat {
    struct buf all;  /* "### role[(id)]: text\n" per message */
    struct buf echo; /* what echo mode returns: the last message's text by default */
    int rc;          /* the first append error (-E2BIG), sticky */
};

void sim_flat_init(struct sim_flat *f);
/* One message; tcid (a tool call id, or NULL) goes in parentheses after the
 * role, as upstream flattens role "tool". text becomes the echo text. */
void sim_flat_add(struct sim_flat *f, const char *role, const char *tcid, const char *text,
                  size_t len);
/* Make text the echo text instead. */
void sim_flat_echo(struct sim_flat *f, const char *text, size_t len);
/* Hand the flattened text over as req's one prompt (counting its tokens) and
 * release f. Returns 0, or 400 with "... too large" in err. */
int sim_flat_finish(struct sim_flat *f, struct sim_request *req, const char *what, char *err,
                    size_t errlen);

/* Drop f without making a prompt (an error elsewhere). */
void sim_flat_release(struct sim_flat *f);

/* Put item under key in obj, replacing what is there (obj owns item). */
void sim_req_ext_set(cJSON *obj, const char *key, cJSON *item);

/* Convert one of an API's tools (tools[i]) to the chat shape, or NULL with err set. */
typedef cJSON *(*sim_tool_convert_fn)(const cJSON *t, long i, char *err, size_t errlen);
/* The request's optional "tools" array, each converted to the chat shape, in
 * req->root and req->tools. Returns 0, or 400 with err and *param set. */
int sim_req_ext_tools(struct sim_request *req, sim_tool_convert_fn convert, char *err,
                      size_t errlen, const char **param);
/* tool_choice naming one function, in the chat shape, in req->root and req->tool_choice. */
void sim_req_ext_named_choice(struct sim_request *req, const char *name);

#endif
