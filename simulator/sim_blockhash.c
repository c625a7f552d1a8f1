#include "simulator/sim_blockhash.h"

#include <string.h>

#define FNV64_PRIME 1099511628211ULL

uint64_t sim_fnv64a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= FNV64_PRIME;
    }
    return h;
}

/* A CBOR head in canonical (shortest) form: major type and argument, fed
 * straight into the hash, so no buffer is needed for any model name length. */
static uint64_t cbor_head(uint64_t h, unsigned major, uint64_t v)
{
    unsigned char b[9];
    size_t n;
    if (v < 24) {
        b[0] = (unsigned char)(major << 5 | v);
        n = 1;
    } else if (v <= 0xff) {
        b[0] = (unsigned char)(major << 5 | 24);
        n = 2;
    } else if (v <= 0xffff) {
        b[0] = (unsigned char)(major << 5 | 25);
        n = 3;
    } else if (v <= 0xffffffffULL) {
        b[0] = (unsigned char)(major << 5 | 26);
        n = 5;
    } else {
        b[0] = (unsigned char)(major << 5 | 27);
        n = 9;
    }
    for (size_t i = 1; i < n; i++) /* big-endian argument */
        b[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
    return sim_fnv64a(h, b, n);
}

#define CBOR_UINT  0u
#define CBOR_TEXT  3u
#define CBOR_ARRAY 4u
#define CBOR_NULL  0xf6

uint64_t sim_blockhash_link(uint64_t parent, const uint32_t *tokens, size_t ntokens,
                            const char *extra)
{
    static const unsigned char null = CBOR_NULL;
    uint64_t h = cbor_head(SIM_FNV64_OFFSET, CBOR_ARRAY, 3);
    h = cbor_head(h, CBOR_UINT, parent);
    if (tokens) {
        h = cbor_head(h, CBOR_ARRAY, ntokens);
        for (size_t i = 0; i < ntokens; i++)
            h = cbor_head(h, CBOR_UINT, tokens[i]);
    } else {
        h = sim_fnv64a(h, &null, 1);
    }
    if (extra) {
        size_t len = strlen(extra);
        h = cbor_head(h, CBOR_TEXT, len);
        h = sim_fnv64a(h, extra, len);
    } else {
        h = sim_fnv64a(h, &null, 1);
    }
    return h;
}

uint64_t sim_blockhash_root(const char *seed, const char *model)
{
    uint64_t init = sim_fnv64a(SIM_FNV64_OFFSET, seed, strlen(seed));
    return sim_blockhash_link(init, NULL, 0, model);
}

size_t sim_blockhash_chain(uint64_t root, const uint32_t *tokens, size_t ntokens, size_t block_size,
                           uint64_t *out)
{
    size_t n = block_size ? ntokens / block_size : 0;
    uint64_t prev = root;
    for (size_t i = 0; i < n; i++)
        out[i] = prev = sim_blockhash_link(prev, tokens + i * block_size, block_size, NULL);
    return n;
}
