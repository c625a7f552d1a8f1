/* The flat YAML of --config and --configuration-file (common/ycfg.h). */
#include "common/ycfg.h"
#include "fuzz_util.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ycfg y;
    char err[512];
    if (ycfg_parse((const char *)data, size, &y, err, sizeof(err)) == 0) {
        for (size_t i = 0; i < y.n; i++)
            if (!y.v[i].key || y.v[i].line < 1 || (!y.v[i].is_list && y.v[i].nitems != 1))
                abort(); /* what the header promises */
    } else if (y.n != 0) {
        abort(); /* on error *out is left empty */
    }
    ycfg_release(&y);
    return 0;
}
