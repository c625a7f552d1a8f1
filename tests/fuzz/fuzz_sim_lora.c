/* pdsim-simulator's LoRA inputs: /v1/load_lora_adapter and
 * /v1/unload_lora_adapter bodies, and --lora-modules values (the input as
 * one NUL-terminated string). */
#include "fuzz_util.h"
#include "simulator/sim_lora.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sim_lora_module m;
    char err[512];
    const char *param;
    for (int load = 0; load < 2; load++) {
        memset(&m, 0, sizeof(m));
        if (sim_lora_parse_request((const char *)data, size, load, &m, err, sizeof(err), &param) ==
            0)
            sim_lora_module_release(&m);
    }
    char *spec = malloc(size + 1);
    memcpy(spec, data, size);
    spec[size] = '\0';
    static const char *const bases[] = {"", "m", "meta-llama/Llama-3.1-8B-Instruct"};
    for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
        memset(&m, 0, sizeof(m));
        if (sim_lora_parse_module(spec, bases[i], &m, err, sizeof(err)) == 0) {
            if (!m.name || !m.path)
                abort(); /* the header promises both strings */
            sim_lora_module_release(&m);
        }
    }
    free(spec);
    return 0;
}
