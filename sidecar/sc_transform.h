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
#include <stdbool.h>
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

/* Legacy nixl (v1): the prefill gets do_remote_decode:true and stream:false
 * (no stream_options), no token cap; the decode gets the prefill answer's
 * top-level remote_block_ids, remote_engine_id, remote_host, remote_port and
 * do_remote_prefill:true. */
char *sc_nixl_prefill_body(const cJSON *client);
char *sc_nixl_decode_body(const cJSON *client, const cJSON *prefill_response);

/* lmcache and shared-storage prefill: max_tokens and max_completion_tokens
 * (or the API's equivalents) set to 1; shared-storage also sets
 * cache_hit_threshold to 0. stream is left as sent. */
char *sc_capped_prefill_body(enum sc_api api, const cJSON *client, bool cache_threshold);

/* shared-storage decode: the client's body with cache_hit_threshold 0 and no
 * kv_transfer_params. */
char *sc_shared_storage_decode_body(const cJSON *client);

/* sglang: the client's body plus bootstrap_host, bootstrap_port and
 * bootstrap_room (an exact 64-bit integer), the same on both legs. */
char *sc_sglang_body(const cJSON *client, const char *bootstrap_host, long bootstrap_port,
                     long long bootstrap_room);

/* The prefiller's usage.prompt_tokens_details.cached_tokens, 0 when absent,
 * not positive or not below 2^63. */
long sc_cached_tokens(const cJSON *prefill_response);

#endif
