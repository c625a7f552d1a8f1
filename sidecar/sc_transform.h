/*
 * sc_transform: the request and response bodies of the nixlv2 P/D flow.
 *
 * The prefill leg gets the client's body with stream=false, no
 * stream_options, every token cap of its API set to 1 (added when absent) and
 * kv_transfer_params = {do_remote_decode:true, do_remote_prefill:false,
 * remote_*: null}. The decode leg gets the client's body exactly as sent plus
 * the prefill's kv_transfer_params verbatim. Pure; thread-safe.
 */
#ifndef PDSIM_SC_TRANSFORM_H
#define PDSIM_SC_TRANSFORM_H

#include <cjson/cJSON.h>
#include <stddef.h>

enum sc_api { SC_API_CHAT, SC_API_COMPLETIONS, SC_API_MESSAGES, SC_API_RESPONSES, SC_API_GENERATE };

/* The API of an intercepted POST path. Returns 0, or -ENOENT for any other
 * path (which is proxied as it is). */
int sc_api_from_path(const char *path, enum sc_api *api);

/* The prefill body (caller frees with cJSON_free). client is not changed. */
char *sc_nixlv2_prefill_body(enum sc_api api, const cJSON *client);

/* The decode body: client plus "kv_transfer_params": kv (verbatim; JSON null
 * when kv is NULL). Caller frees with cJSON_free. */
char *sc_nixlv2_decode_body(const cJSON *client, const cJSON *kv);

/* The prefiller's usage.prompt_tokens_details.cached_tokens, 0 when absent. */
long sc_cached_tokens(const cJSON *prefill_response);

#endif
