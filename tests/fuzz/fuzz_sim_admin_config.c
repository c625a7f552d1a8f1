/* pdsim-simulator's POST /admin/config: a JSON patch applied to a copy of a
 * loaded default config (sim_server.c's handle_admin_config), then the
 * latency model run and GET's JSON built from the result. */
#include "common/json.h"
#include "fuzz_util.h"
#include "simulator/sim_config.h"
#include "simulator/sim_latency.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

static struct sim_config base;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char *args[] = {"pdsim-simulator", "--model", "m", NULL};
    char err[256];
    unsetenv("SIM_MODEL");
    if (sim_config_load(&base, 3, args, err, sizeof(err), NULL, 0) != SIM_CONFIG_OK)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    cJSON *patch = json_parse((const char *)data, size, err, sizeof(err));
    if (!patch)
        return 0;
    struct sim_config c = base; /* pointer members stay shared, as in the server */
    if (sim_config_update_runtime(&c, patch, err, sizeof(err)) == 0) {
        struct sim_lat lat;
        sim_lat_from_config(&lat, &c);
        /* the new latencies in use: prompts up to a full context, any load */
        struct sim_rng r;
        sim_rng_seed(&r, size);
        static const long prompts[] = {1, 1000, 1L << 20};
        for (size_t i = 0; i < sizeof(prompts) / sizeof(prompts[0]); i++) {
            (void)sim_lat_ttft(&lat, &r, prompts[i], prompts[i] / 2, false, c.max_num_seqs);
            (void)sim_lat_ttft(&lat, &r, prompts[i], 0, true, 1);
        }
        (void)sim_lat_itl(&lat, &r, c.max_num_seqs);
        cJSON *j = sim_config_json(&c);
        char *text = cJSON_PrintUnformatted(j);
        cJSON_free(text);
        cJSON_Delete(j);
    }
    cJSON_Delete(patch);
    return 0;
}
