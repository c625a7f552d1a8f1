/*
 * sim_resp_generate: the answers of POST /inference/v1/generate (token ids
 * out), in upstream's field order: {["kv_transfer_params",]"choices":[{"index",
 * "finish_reason","token_ids":[...]}],"request_id","ec_transfer_params":null};
 * streamed, one "data:" chunk per token {"request_id","choices":[{"index",
 * "finish_reason":null,"token_ids":[id]}]} with the finish reason on the last
 * token's chunk, then {"request_id","choices":[],"usage"} when
 * stream_options.include_usage, then [DONE]. Pure; thread-safe.
 */
#ifndef PDSIM_SIM_RESP_GENERATE_H
#define PDSIM_SIM_RESP_GENERATE_H

#include "simulator/sim_resp_api.h"

extern const struct sim_resp_ops sim_resp_generate_ops;

#endif
