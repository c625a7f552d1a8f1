/* pdsim-sidecar's body rewriting: the client's JSON body through every
 * connector's prefill and decode bodies for every API, the same JSON also
 * standing in for the prefiller's answer (kv_transfer_params, remote_*,
 * usage), as sc_pd.c uses them. */
#include "fuzz_util.h"
#include "sidecar/sc_transform.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

static void check(char *body)
{
    /* every body the sidecar sends upstream is a JSON object */
    cJSON *j = cJSON_Parse(body);
    if (!body || !cJSON_IsObject(j))
        abort();
    cJSON_Delete(j);
    cJSON_free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *perr = NULL;
    cJSON *client = cJSON_ParseWithLengthOpts((const char *)data, size, &perr, 0);
    if (!cJSON_IsObject(client)) {
        cJSON_Delete(client);
        return 0;
    }
    static const enum sc_api apis[] = {SC_API_CHAT, SC_API_COMPLETIONS, SC_API_MESSAGES,
                                       SC_API_RESPONSES, SC_API_GENERATE};
    for (size_t i = 0; i < sizeof(apis) / sizeof(apis[0]); i++) {
        check(sc_nixlv2_prefill_body(apis[i], client));
        check(sc_capped_prefill_body(apis[i], client, false));
        check(sc_capped_prefill_body(apis[i], client, true));
    }
    const cJSON *kv = cJSON_GetObjectItemCaseSensitive(client, "kv_transfer_params");
    check(sc_nixlv2_decode_body(client, kv));
    check(sc_nixlv2_decode_body(client, NULL));
    check(sc_nixl_prefill_body(client));
    check(sc_nixl_decode_body(client, client));
    check(sc_shared_storage_decode_body(client));
    check(sc_sglang_body(client, "10.0.0.1", 8998, (long long)size * 0x123456789LL));
    (void)sc_cached_tokens(client);
    cJSON_Delete(client);
    return 0;
}
