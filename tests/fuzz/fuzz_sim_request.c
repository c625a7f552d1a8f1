/* pdsim-simulator's chat and completions request bodies: parse, the value
 * checks, the context-window check and (chat) the tools checks, as
 * sim_generate.c runs them. Every input is tried as both APIs. */
#include "fuzz_util.h"
#include "simulator/sim_request.h"
#include "simulator/sim_tools.h"

#include <stdbool.h>

static void one(enum sim_api api, const uint8_t *data, size_t size)
{
    struct sim_request req;
    char err[512];
    const char *param = NULL;
    int rc = sim_request_parse(api, (const char *)data, size, &req, err, sizeof(err), &param);
    if (rc == 0)
        rc = sim_request_validate(&req, err, sizeof(err), &param);
    if (rc == 0) {
        (void)sim_request_check_context(&req, 1024, err, sizeof(err));
        (void)sim_request_check_context(&req, 0x7fffffffL, err, sizeof(err));
    }
    if (rc == 0 && api == SIM_API_CHAT) {
        struct sim_tools t;
        for (int skip = 0; skip < 2; skip++)
            (void)sim_tools_check(req.tools, req.tool_choice, skip, &t, err, sizeof(err), &param);
    }
    sim_request_release(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one(SIM_API_CHAT, data, size);
    one(SIM_API_COMPLETIONS, data, size);
    return 0;
}
