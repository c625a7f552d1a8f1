/*
 * sim_lora: the LoRA adapters one simulator rank knows, from --lora-modules
 * and POST /v1/load_lora_adapter, in registration order.
 *
 * Knowing an adapter only lets requests name it; the --max-loras slots are
 * taken by sim_sched when requests run, as upstream. The parsers are pure;
 * the registry is thread-safe (one mutex).
 */
#ifndef PDSIM_SIM_LORA_H
#define PDSIM_SIM_LORA_H

#include <stdbool.h>
#include <stddef.h>

struct sim_lora_module {
    char *name; /* owned */
    char *path; /* owned; "" when none was given */
};

/* Parse one --lora-modules value: upstream's JSON string
 * {"name":N,"path":P,"base_model_name":B} (B "" or the base model), or vLLM's
 * name=path. Returns 0, or -EINVAL with err saying what is wrong. */
int sim_lora_parse_module(const char *spec, const char *base_model, struct sim_lora_module *out,
                          char *err, size_t errlen);
/* Free the strings. Accepts NULL. */
void sim_lora_module_release(struct sim_lora_module *m);

/* Parse a /v1/load_lora_adapter body (load true: lora_name required,
 * lora_path optional as upstream) or a /v1/unload_lora_adapter body
 * (lora_name). Returns 0, or -EINVAL with err and *param naming the field
 * (a static string, or NULL when the body is not a JSON object). */
int sim_lora_parse_request(const char *body, size_t len, bool load, struct sim_lora_module *out,
                           char *err, size_t errlen, const char **param);

struct sim_lora;

/* An empty registry. Caller frees with sim_lora_free. */
struct sim_lora *sim_lora_new(void);
void sim_lora_free(struct sim_lora *l);
/* Register name with path, or replace the path of a known name (allowed, as
 * upstream and vLLM's --lora-modules). Strings are copied. */
void sim_lora_put(struct sim_lora *l, const char *name, const char *path);
/* Forget name. Returns 0 or -ENOENT. Requests already admitted keep running. */
int sim_lora_remove(struct sim_lora *l, const char *name);
/* name is a registered adapter. */
bool sim_lora_has(struct sim_lora *l, const char *name);

typedef int (*sim_lora_each_fn)(void *arg, const char *name, const char *path);
/* Call fn for each adapter in registration order, under the lock (fn must
 * not call back into l). Stops at and returns the first non-zero result. */
int sim_lora_each(struct sim_lora *l, sim_lora_each_fn fn, void *arg);

#endif
