/*
 * sim_req_messages: an Anthropic Messages request (POST /v1/messages) read
 * into struct sim_request, as upstream converts it to a chat request: `system`
 * (a leading system message), `messages` with string or block content (text,
 * image, tool_use as "[name(input)]", each tool_result its own "tool"
 * message), `max_tokens`, `tools` (`input_schema` as the parameters) and
 * `tool_choice` (auto, any, none, tool) in the chat shape, plus the common
 * fields. Pure; thread-safe.
 */
#ifndef PDSIM_SIM_REQ_MESSAGES_H
#define PDSIM_SIM_REQ_MESSAGES_H

#include "simulator/sim_request.h"

#include <stddef.h>

/* req->root is a parsed JSON object. Returns 0, or 400 with err and *param
 * (the field to blame, a static string). */
int sim_req_messages_parse(struct sim_request *req, char *err, size_t errlen, const char **param);

#endif
