/*
 * sim_req_generate: a token-in, token-out request (POST /inference/v1/generate,
 * vLLM's disaggregated-serving API) read into struct sim_request, as upstream's
 * GenerateRequest: `token_ids`, `sampling_params` (`max_tokens`, and
 * `extra_args.kv_transfer_params` when the top level has none, as vLLM
 * sometimes sends it), `stream`, `stream_options`, `ignore_eos`,
 * `kv_transfer_params`; `features` is accepted and not used. The prompt's text
 * is the ids joined by ",", as a token-id completions prompt.
 * Pure; thread-safe.
 */
#ifndef PDSIM_SIM_REQ_GENERATE_H
#define PDSIM_SIM_REQ_GENERATE_H

#include "simulator/sim_request.h"
#include "simulator/sim_textgen.h"

#include <stddef.h>

/* req->root is a parsed JSON object. Returns 0, or 400 with err and *param
 * (the field to blame, a static string). */
int sim_req_generate_parse(struct sim_request *req, char *err, size_t errlen, const char **param);

/* Echo mode's answer: the prompt's own token ids (out->toks[i].id), each a
 * token of out->text ("1,2,3" without the commas). Like sim_textgen_echo,
 * max_tokens (< 0: not set) never truncates but gives finish "length" when
 * the count reaches it. req was parsed by sim_req_generate_parse. */
void sim_req_generate_echo(const struct sim_request *req, long max_tokens, struct sim_gen *out);

#endif
