/*
 * sim_tools: a chat request's `tools` and `tool_choice`, checked the way
 * upstream does it, and better: a function's `parameters` are checked against
 * upstream's whitelist of JSON-schema keywords, with errors that say what is
 * wrong and where ("tools[0].function.parameters.properties.city: unknown type
 * \"strin\""). Generating calls is sim_toolgen's job, not this module's.
 * Pure; thread-safe.
 */
#ifndef PDSIM_SIM_TOOLS_H
#define PDSIM_SIM_TOOLS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

enum sim_tool_choice {
    SIM_TOOL_AUTO,     /* "auto", or not given: zero or more calls */
    SIM_TOOL_NONE,     /* "none": a text answer */
    SIM_TOOL_REQUIRED, /* "required": one or more calls */
    SIM_TOOL_NAMED,    /* {"type":"function","function":{"name":N}}: exactly one call of N */
};

/* The checked tools of one request. Pointers are borrowed from the request's
 * cJSON tree, which must outlive this. */
struct sim_tools {
    const cJSON *tools; /* the `tools` array, or NULL when absent or empty */
    size_t ntools;
    enum sim_tool_choice choice;
    size_t named; /* SIM_TOOL_NAMED: the index of the named tool in tools */
};

/* Check tools and tool_choice (either may be NULL: absent), in this order:
 * the JSON types, each tool (type "function", a name of 1-64 characters of
 * [a-zA-Z0-9_-]), each function's schema unless skip_schema (upstream's
 * --skip-tool-validation), then tool_choice ("none", "auto", "required" or a
 * named function that is in tools; "required" and a named function need
 * tools). Returns 0 with *out filled, or 400 with the message in err and the
 * field to blame in *param ("tools" or "tool_choice", static strings).
 * Schema errors read "Tool validation failed: <path>: <problem>". */
int sim_tools_check(const cJSON *tools, const cJSON *tool_choice, bool skip_schema,
                    struct sim_tools *out, char *err, size_t errlen, const char **param);

/* Check one JSON schema (a function's `parameters`) against the whitelist;
 * path names it in the message ("tools[0].function.parameters"). Returns 0,
 * or -EINVAL with "<path>: <problem>" in err. Exposed for unit tests. */
int sim_tools_check_schema(const cJSON *schema, const char *path, char *err, size_t errlen);

#endif
