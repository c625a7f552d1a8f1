/*
 * sim_req_responses: an OpenAI Responses request (POST /v1/responses) read
 * into struct sim_request, as upstream's ResponsesRequest reads it: `input`
 * (a string, or message, function_call and function_call_output items),
 * `instructions` (a leading system message), `max_output_tokens`, Responses'
 * flat function `tools` and `tool_choice` (both converted to the chat shape
 * sim_tools checks), plus the common fields. Pure; thread-safe.
 */
#ifndef PDSIM_SIM_REQ_RESPONSES_H
#define PDSIM_SIM_REQ_RESPONSES_H

#include "simulator/sim_request.h"

#include <stddef.h>

/* req->root is a parsed JSON object. Returns 0, or 400 with err and *param
 * (the field to blame, a static string). */
int sim_req_responses_parse(struct sim_request *req, char *err, size_t errlen, const char **param);

#endif
