#include "sidecar/sc_transform.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int sc_api_from_path(const char *path, enum sc_api *api)
{
    static const struct {
        const char *path;
        enum sc_api api;
    } routes[] = {
        {"/v1/chat/completions", SC_API_CHAT},       {"/v1/completions", SC_API_COMPLETIONS},
        {"/v1/messages", SC_API_MESSAGES},           {"/v1/responses", SC_API_RESPONSES},
        {"/inference/v1/generate", SC_API_GENERATE},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(path, routes[i].path) == 0) {
            *api = routes[i].api;
            return 0;
        }
    }
    return -ENOENT;
}

static void set_item(cJSON *obj, const char *key, cJSON *value)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, value);
    else
        cJSON_AddItemToObject(obj, key, value);
}

/* Print and free body. */
static char *print_free(cJSON *body)
{
    char *out = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    return out;
}

static cJSON *remote_decode_params(void)
{
    cJSON *kv = cJSON_CreateObject();
    cJSON_AddBoolToObject(kv, "do_remote_decode", 1);
    cJSON_AddBoolToObject(kv, "do_remote_prefill", 0);
    cJSON_AddNullToObject(kv, "remote_engine_id");
    cJSON_AddNullToObject(kv, "remote_block_ids");
    cJSON_AddNullToObject(kv, "remote_host");
    cJSON_AddNullToObject(kv, "remote_port");
    return kv;
}

/* Set the API's token caps to 1 (created when absent). with_min also caps
 * min_tokens (nixlv2); the legacy connectors cap only the two maxima. */
static void cap_tokens(enum sc_api api, cJSON *body, bool with_min)
{
    static const char *const chat_caps[] = {"max_tokens", "max_completion_tokens", "min_tokens",
                                            NULL};
    static const char *const chat_max[] = {"max_tokens", "max_completion_tokens", NULL};
    static const char *const resp_caps[] = {"max_output_tokens", NULL};
    static const char *const gen_caps[] = {"max_tokens", "min_tokens", NULL};
    const char *const *caps = with_min ? chat_caps : chat_max;
    cJSON *target = body;
    if (api == SC_API_RESPONSES) {
        caps = resp_caps;
    } else if (api == SC_API_GENERATE) {
        caps = gen_caps;
        target = cJSON_GetObjectItemCaseSensitive(body, "sampling_params");
        if (!cJSON_IsObject(target)) {
            target = cJSON_CreateObject();
            set_item(body, "sampling_params", target);
        }
    }
    for (size_t i = 0; caps[i]; i++)
        set_item(target, caps[i], cJSON_CreateNumber(1));
}

char *sc_nixlv2_prefill_body(enum sc_api api, const cJSON *client)
{
    cJSON *body = cJSON_Duplicate(client, 1);
    if (!body)
        return NULL;
    set_item(body, "kv_transfer_params", remote_decode_params());
    set_item(body, "stream", cJSON_CreateFalse());
    cJSON_DeleteItemFromObjectCaseSensitive(body, "stream_options");
    cap_tokens(api, body, true);
    return print_free(body);
}

char *sc_nixlv2_decode_body(const cJSON *client, const cJSON *kv)
{
    cJSON *body = cJSON_Duplicate(client, 1);
    if (!body)
        return NULL;
    cJSON *copy = kv ? cJSON_Duplicate(kv, 1) : cJSON_CreateNull();
    set_item(body, "kv_transfer_params", copy ? copy : cJSON_CreateNull());
    return print_free(body);
}

long sc_cached_tokens(const cJSON *resp)
{
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(resp, "usage");
    const cJSON *det = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details");
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(det, "cached_tokens");
    /* below 2^63 before the cast: converting a larger double is undefined */
    return cJSON_IsNumber(ct) && ct->valuedouble > 0 && ct->valuedouble < 0x1p63
               ? (long)ct->valuedouble
               : 0;
}

char *sc_nixl_prefill_body(const cJSON *client)
{
    cJSON *body = cJSON_Duplicate(client, 1);
    if (!body)
        return NULL;
    set_item(body, "do_remote_decode", cJSON_CreateTrue());
    set_item(body, "stream", cJSON_CreateFalse());
    cJSON_DeleteItemFromObjectCaseSensitive(body, "stream_options");
    return print_free(body);
}

char *sc_nixl_decode_body(const cJSON *client, const cJSON *prefill_response)
{
    static const char *const fields[] = {"remote_block_ids", "remote_engine_id", "remote_host",
                                         "remote_port"};
    cJSON *body = cJSON_Duplicate(client, 1);
    if (!body)
        return NULL;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(prefill_response, fields[i]);
        if (v)
            set_item(body, fields[i], cJSON_Duplicate(v, 1));
    }
    set_item(body, "do_remote_prefill", cJSON_CreateTrue());
    return print_free(body);
}

char *sc_capped_prefill_body(enum sc_api api, const cJSON *client, bool cache_threshold)
{
    cJSON *body = cJSON_Duplicate(client, 1);
    if (!body)
        return NULL;
    cap_tokens(api, body, false);
    if (cache_threshold)
        set_item(body, "cache_hit_threshold", cJSON_CreateNumber(0));
    return print_free(body);
}

char *sc_shared_storage_decode_body(const cJSON *client)
{
    cJSON *body = cJSON_Duplicate(client, 1);
    if (!body)
        return NULL;
    set_item(body, "cache_hit_threshold", cJSON_CreateNumber(0));
    cJSON_DeleteItemFromObjectCaseSensitive(body, "kv_transfer_params");
    return print_free(body);
}

char *sc_sglang_body(const cJSON *client, const char *bootstrap_host, long bootstrap_port,
                     long long bootstrap_room)
{
    cJSON *body = cJSON_Duplicate(client, 1);
    if (!body)
        return NULL;
    char room[32];
    snprintf(room, sizeof(room), "%lld", bootstrap_room); /* exact: a double would round it */
    set_item(body, "bootstrap_host", cJSON_CreateString(bootstrap_host));
    set_item(body, "bootstrap_port", cJSON_CreateNumber((double)bootstrap_port));
    set_item(body, "bootstrap_room", cJSON_CreateRaw(room));
    return print_free(body);
}
