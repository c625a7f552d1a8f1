/*
 * sim_embed: POST /v1/embeddings as upstream's deterministic stub: each
 * input (a string, or token ids) becomes a vector computed from its token
 * ids, returned as JSON floats or base64 of little-endian float32 bytes.
 *
 * Request parsing and validation, the vectors and the response body; no I/O.
 * Pure; thread-safe.
 */
#ifndef PDSIM_SIM_EMBED_H
#define PDSIM_SIM_EMBED_H

#include "common/buf.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits that keep one response within tens of MB (OpenAI allows 2048 inputs). */
#define SIM_EMBED_MAX_INPUTS 2048
#define SIM_EMBED_MAX_FLOATS (4L << 20) /* inputs x dimensions */

struct sim_embed_input {
    uint32_t *ids; /* owned */
    size_t n;
};

struct sim_embed_req {
    cJSON *root;       /* owned; model is borrowed from it */
    const char *model; /* "" when absent */
    long dims;
    bool base64;
    struct sim_embed_input *in; /* owned, after sim_embed_validate */
    size_t nin;
    long prompt_tokens; /* all inputs' ids */
};

/* Parse body: JSON and the type of "model". Returns 0, or 400 with
 * upstream's "Failed to read and parse request body, ..." in err. Always
 * leaves r releasable. */
int sim_embed_parse(const char *body, size_t len, struct sim_embed_req *r, char *err, size_t errlen,
                    const char **param);
/* Check and tokenize the input ("input": a string, strings, token ids or
 * arrays of token ids), "dimensions" (>= 1; default_dims when absent) and
 * "encoding_format" (float or base64). Returns 0 or 400 with err and param. */
int sim_embed_validate(struct sim_embed_req *r, long default_dims, char *err, size_t errlen,
                       const char **param);
void sim_embed_release(struct sim_embed_req *r);

/* Upstream's vector: e[i] = 2*(ids[i] % 1024)/1024 - 1 for i < n, else
 * 2*(ids[i % n] % 256)/256 - 1; all 0 when n is 0. */
void sim_embed_vector(const uint32_t *ids, size_t n, long dims, float *out);

/* {"object":"list","data":[{"object":"embedding","index":i,"embedding":...}],
 * "model":model,"usage":{"prompt_tokens":P,"total_tokens":P}}, upstream's field
 * order; floats as Go prints a float32. Returns 0 or -E2BIG. */
int sim_embed_response(struct buf *b, const struct sim_embed_req *r, const char *model);

#endif
