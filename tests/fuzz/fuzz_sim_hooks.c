/* pdsim-simulator's test hooks: X-Request-Id and X-Return-Error values (the
 * input after two bytes, as a C string) and failure injection (rate and
 * types from the first two bytes, the rest as the model name). */
#include "fuzz_util.h"
#include "simulator/sim_config.h"
#include "simulator/sim_hooks.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    char *hdr = malloc(size - 1);
    memcpy(hdr, data + 2, size - 2);
    hdr[size - 2] = '\0';
    char err[512], id[136], tiny[1];
    const char *param;

    if (sim_hooks_request_id(hdr, id, sizeof(id), err, sizeof(err)) == 0 && strcmp(id, hdr) != 0)
        abort(); /* an accepted id is copied as it is */
    (void)sim_hooks_request_id(hdr, tiny, sizeof(tiny), err, sizeof(err));
    int st = sim_hooks_return_error(hdr, err, sizeof(err));
    if (st < 400 || st > 599)
        abort(); /* always an error status */

    /* rate 0..100 and a non-empty type mask, as sim_config_load guarantees */
    long rate = data[0] % 101;
    unsigned types = 1u + data[1] % ((1u << SIM_FAIL_N) - 1);
    struct sim_rng r;
    sim_rng_seed(&r, size);
    for (int i = 0; i < 4; i++) {
        param = NULL;
        st = sim_hooks_failure(&r, rate, types, hdr, err, sizeof(err), &param);
        if (st != 0 && (st < 400 || st > 599))
            abort();
    }
    free(hdr);
    return 0;
}
