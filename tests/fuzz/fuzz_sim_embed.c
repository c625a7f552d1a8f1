/* pdsim-simulator's POST /v1/embeddings bodies: sim_embed_parse and
 * sim_embed_validate, then the response (base64 and float) when it is small;
 * every vector value must lie in [-1, 1). */
#include "fuzz_util.h"
#include "simulator/sim_embed.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sim_embed_req r;
    char err[256];
    const char *param;
    if (sim_embed_parse((const char *)data, size, &r, err, sizeof(err), &param) == 0 &&
        sim_embed_validate(&r, 8, err, sizeof(err), &param) == 0 &&
        (size_t)r.dims * (r.nin + 1) <= 65536) {
        struct buf b;
        float *v = calloc((size_t)r.dims, sizeof(float));
        for (size_t i = 0; i < r.nin; i++) {
            sim_embed_vector(r.in[i].ids, r.in[i].n, r.dims, v);
            for (long k = 0; k < r.dims; k++)
                if (!(v[k] >= -1.0f && v[k] < 1.0f))
                    abort();
        }
        free(v);
        buf_init(&b, BUF_NOCAP);
        if (sim_embed_response(&b, &r, "m") != 0)
            abort();
        r.base64 = !r.base64;
        buf_reset(&b);
        if (sim_embed_response(&b, &r, "m") != 0)
            abort();
        buf_release(&b);
    }
    sim_embed_release(&r);
    return 0;
}
