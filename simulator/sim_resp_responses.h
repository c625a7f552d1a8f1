/*
 * sim_resp_responses: the OpenAI Responses API's answers (POST /v1/responses)
 * in upstream's field order: the response object ("resp_" + request id,
 * object "response", created_at, status, instructions, output, text, usage)
 * with a message item ("msg_" + request id, one output_text part) or
 * function_call items ("fc_..." with call_id "call_..."); and the event
 * stream, each event an SSE "event: TYPE" line plus its data, numbered by
 * sequence_number: response.created, response.in_progress,
 * response.output_item.added, response.content_part.added,
 * response.output_text.delta..., response.output_text.done,
 * response.content_part.done, response.output_item.done (for a call:
 * output_item.added, function_call_arguments.delta..., .done,
 * output_item.done), response.completed. No [DONE]. Unlike upstream, every
 * event carries output_index (and content_index), items carry their id and
 * arguments, and the response always has output and usage, as the OpenAI
 * clients' stream accumulators need. Pure; thread-safe.
 */
#ifndef PDSIM_SIM_RESP_RESPONSES_H
#define PDSIM_SIM_RESP_RESPONSES_H

#include "simulator/sim_resp_api.h"

extern const struct sim_resp_ops sim_resp_responses_ops;

#endif
