/*
 * sim_pd: the prefill side of the P/D handshake: the kv_transfer_params a
 * prefill-only (do_remote_decode) request returns to the routing sidecar.
 *
 * Upstream returns fixed dummies ("DUMMY_ID", port 1234). pdsim returns
 * meaningful values: a stable engine id per process, this server's host and
 * port, and block ids derived from the prompt tokens (one per 16-token block,
 * a chained hash, so the same prompt prefix gives the same ids).
 * Pure; thread-safe.
 */
#ifndef PDSIM_SIM_PD_H
#define PDSIM_SIM_PD_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

#define SIM_PD_BLOCK_TOKENS 16

/* A random UUID (version 4) as text, for the engine id. out holds 37 bytes. */
void sim_pd_new_engine_id(char out[37]);

/* Append the kv_transfer_params JSON object for a prompt whose text is
 * prompt[0..len). Returns 0 or -E2BIG. */
int sim_pd_params_json(struct buf *b, const char *engine_id, const char *host, long port,
                       const char *prompt, size_t len);

#endif
