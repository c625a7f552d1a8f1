/* pdsim-simulator's flags: sim_config_load with an argv split from the input
 * on NUL and newline. SIM_MODEL is unset, and inputs with --config are
 * skipped, so the target never reads a file; --config YAML is fuzz_ycfg's. */
#include "fuzz_util.h"
#include "simulator/sim_config.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    unsetenv("SIM_MODEL");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const refused[] = {"config", NULL};
    struct fuzz_argv a;
    fuzz_argv_split(&a, "pdsim-simulator", data, size);
    if (!fuzz_argv_has_flag(&a, refused)) {
        struct sim_config c;
        char err[512], warn[512];
        if (sim_config_load(&c, a.argc, a.argv, err, sizeof(err), warn, sizeof(warn)) ==
            SIM_CONFIG_OK) {
            if (!sim_config_display_name(&c))
                abort();
            cJSON *j = sim_config_json(&c); /* GET /admin/config of this config */
            char *text = cJSON_PrintUnformatted(j);
            cJSON_free(text);
            cJSON_Delete(j);
        }
        sim_config_release(&c);
    }
    fuzz_argv_release(&a);
    return 0;
}
