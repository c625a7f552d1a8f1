/*
 * sim_resp_messages: the Anthropic Messages API's answers (POST /v1/messages)
 * in upstream's field order: {"id":"msg_" + request id,"type":"message",
 * "role":"assistant","content":[text block | tool_use blocks],"model",
 * "stop_reason","stop_sequence":null,"usage":{...}}, stop_reason end_turn,
 * max_tokens (length, cache_threshold) or tool_use; and the named-event
 * stream: message_start, content_block_start, ping, content_block_delta
 * (text_delta, or input_json_delta per argument token), content_block_stop,
 * message_delta (stop_reason, output_tokens), message_stop. Errors use
 * Anthropic's envelope {"type":"error","error":{"type","message"}} with its
 * error types, as upstream does on this route. Pure; thread-safe.
 */
#ifndef PDSIM_SIM_RESP_MESSAGES_H
#define PDSIM_SIM_RESP_MESSAGES_H

#include "simulator/sim_resp_api.h"

extern const struct sim_resp_ops sim_resp_messages_ops;

/* Anthropic's error type for an HTTP status: invalid_request_error (400, 422),
 * authentication_error, permission_error, not_found_error,
 * request_too_large, rate_limit_error, overloaded_error (503), api_error. */
const char *sim_resp_messages_error_type(int status);

#endif
