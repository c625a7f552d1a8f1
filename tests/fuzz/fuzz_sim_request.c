/* pdsim-simulator's generation request bodies: parse, the checks made after
 * the model check (required fields, tools, values), the context-window check
 * and generate's echo of the token ids, as sim_generate.c runs them. Every
 * input is tried as each API: chat, completions, responses, messages, generate. */
#include "fuzz_util.h"
#include "simulator/sim_req_ext.h"
#include "simulator/sim_req_generate.h"
#include "simulator/sim_request.h"
#include "simulator/sim_textgen.h"
#include "simulator/sim_tools.h"

#include <stdbool.h>

static void one(enum sim_api api, const uint8_t *data, size_t size)
{
    struct sim_request req;
    char err[512];
    const char *param = NULL;
    int rc = sim_request_parse(api, (const char *)data, size, &req, err, sizeof(err), &param);
    for (int skip = 0; rc == 0 && skip < 2; skip++) {
        struct sim_tools t;
        if (sim_req_ext_check(&req, skip, &t, err, sizeof(err), &param) != 0)
            continue;
        (void)sim_request_check_context(&req, 1024, err, sizeof(err));
        (void)sim_request_check_context(&req, 0x7fffffffL, err, sizeof(err));
        if (api == SIM_API_GENERATE) {
            struct sim_gen g;
            sim_gen_init(&g);
            sim_req_generate_echo(&req, req.max_tokens, &g);
            sim_gen_release(&g);
        }
    }
    sim_request_release(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int api = SIM_API_CHAT; api <= SIM_API_GENERATE; api++)
        one((enum sim_api)api, data, size);
    return 0;
}
