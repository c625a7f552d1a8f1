/* pdsim-sidecar's flags: sc_config_load with an argv split from the input on
 * NUL and newline. Inputs naming --configuration-file or --ssrf-allow-file
 * are skipped, so the target never reads a file. */
#include "fuzz_util.h"
#include "sidecar/sc_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const refused[] = {"configuration-file", "ssrf-allow-file", NULL};
    struct fuzz_argv a;
    fuzz_argv_split(&a, "pdsim-sidecar", data, size);
    if (!fuzz_argv_has_flag(&a, refused)) {
        struct sc_config c;
        char err[512];
        (void)sc_config_load(&c, a.argc, a.argv, err, sizeof(err));
        sc_config_release(&c);
    }
    fuzz_argv_release(&a);
    return 0;
}
