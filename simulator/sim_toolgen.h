/*
 * sim_toolgen: the tool calls of one chat choice, as upstream's tools_utils.go
 * makes them: how many calls (tool_choice and --tool-call-extra-call-probability),
 * which tools, and arguments generated from each function's JSON schema (enum
 * members, a fixed word list, numbers within bounds, arrays within length
 * bounds, required properties always and optional ones by chance).
 * Schemas are expected to have passed sim_tools_check, but any JSON is safe
 * (--skip-tool-validation): what cannot be generated becomes null.
 * Pure given the rng; thread-safe with one rng per caller.
 */
#ifndef PDSIM_SIM_TOOLGEN_H
#define PDSIM_SIM_TOOLGEN_H

#include "common/buf.h"
#include "simulator/sim_rng.h"
#include "simulator/sim_tokenizer.h"
#include "simulator/sim_tools.h"

#include <cjson/cJSON.h>
#include <stddef.h>

/* The --*-tool-call-* flags. Percentages are 0..100. */
struct sim_toolgen_cfg {
    long min_int, max_int;        /* integers without minimum/maximum */
    double min_num, max_num;      /* numbers without minimum/maximum */
    long min_arr, max_arr;        /* array lengths without minItems/maxItems */
    long not_required_pct;        /* an optional top-level parameter is present */
    long object_not_required_pct; /* an optional property of a nested object is present */
    long extra_call_pct;          /* one more call, rolled again until it fails */
};

struct sim_tool_call {
    const char *name; /* borrowed from the request's tools */
    char id[32];      /* "chatcmpl-tool-" + 10 digits */
    char *args;       /* owned: the arguments, a JSON object text */
    size_t args_len;
    struct sim_toklist toks; /* the tokens of args, one per chunk; each spans to the next */
};

struct sim_tool_calls {
    struct sim_tool_call *v; /* owned; n == 0 means a text answer */
    size_t n;
};

/* Decide and generate the calls: none for SIM_TOOL_NONE or without tools;
 * exactly one of the named tool for SIM_TOOL_NAMED; otherwise start from 0
 * (auto) or 1 (required) and add one while a roll of extra_call_pct succeeds,
 * up to the number of tools, each call picking a tool at random. *out is
 * overwritten; release it with sim_tool_calls_release. */
void sim_toolgen_calls(const struct sim_tools *t, const struct sim_toolgen_cfg *cfg,
                       struct sim_rng *r, struct sim_tool_calls *out);
void sim_tool_calls_release(struct sim_tool_calls *c);

/* Completion tokens of the calls, as upstream: the sum of 3 + argument tokens. */
long sim_tool_calls_tokens(const struct sim_tool_calls *c);

/* Arguments for one function's parameters schema (NULL: none, giving "{}"),
 * appended to out as compact JSON. Exposed for unit tests. */
void sim_toolgen_args(const cJSON *params, const struct sim_toolgen_cfg *cfg, struct sim_rng *r,
                      struct buf *out);

/* The words string arguments are drawn from (NULL-terminated), for tests. */
extern const char *const sim_toolgen_words[];

#endif
