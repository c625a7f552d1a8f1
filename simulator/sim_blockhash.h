/*
 * sim_blockhash: the KV block keys of a token sequence, computed as the llm-d
 * router does (llm-d-kv-cache's kvblock.ChunkedTokenDatabase, default
 * "cbor-fnv" algorithm, which upstream's simulator links), so that a
 * cache-aware router that tokenizes the same prompt finds the blocks this
 * simulator announces.
 *
 * Each key is FNV-64a over the canonical CBOR encoding of the array
 * [parent, tokens, extra]. The chain starts from a per-model root:
 * FNV-64a(hash-seed bytes), then hash(that, null, model name). Only full
 * blocks get keys. Not for multimodal extras (always null here). Pure;
 * thread-safe.
 */
#ifndef PDSIM_SIM_BLOCKHASH_H
#define PDSIM_SIM_BLOCKHASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-64a of n bytes, continuing from h (start with SIM_FNV64_OFFSET). */
#define SIM_FNV64_OFFSET 14695981039346656037ULL
uint64_t sim_fnv64a(uint64_t h, const void *p, size_t n);

/* One link: FNV-64a(CBOR([parent, tokens or null, extra or null])).
 * tokens NULL encodes CBOR null (as a nil Go slice); extra NULL encodes null,
 * else a text string. */
uint64_t sim_blockhash_link(uint64_t parent, const uint32_t *tokens, size_t ntokens,
                            const char *extra);

/* The root of model's chain under seed (the --hash-seed string, "" when unset). */
uint64_t sim_blockhash_root(const char *seed, const char *model);

/* Keys of the full blocks of tokens[0..ntokens): ntokens / block_size of them
 * into out (the caller sizes it). Returns their number. */
size_t sim_blockhash_chain(uint64_t root, const uint32_t *tokens, size_t ntokens, size_t block_size,
                           uint64_t *out);

#endif
