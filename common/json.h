/*
 * json: typed, error-reporting field access on top of cJSON.
 *
 * Each getter treats a missing key and a JSON null alike ("absent"), and on
 * a wrong type writes "field 'max_tokens' must be an integer" into err. The
 * cJSON tree stays owned by the caller; returned strings are borrowed from it.
 */
#ifndef PDSIM_COMMON_JSON_H
#define PDSIM_COMMON_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Deepest nesting json_parse accepts. cJSON recurses once per level (and
 * allows 1000), which overflows a civetweb worker's small stack; requests,
 * API objects and tool schemas stay far below this. */
#define JSON_MAX_DEPTH 128

/* Parse text[0..len). Returns the tree (caller frees with cJSON_Delete) or
 * NULL with a reason and byte offset in err (err may be NULL). Nesting deeper
 * than JSON_MAX_DEPTH is refused before cJSON sees it. */
cJSON *json_parse(const char *text, size_t len, char *err, size_t errlen);
/* text[0..len) nests arrays and objects at most max deep (strings are skipped). */
bool json_depth_ok(const char *text, size_t len, int max);

/* Optional fields. Return 0 (with *present set) or -EINVAL with err set. */
int json_opt_int(const cJSON *obj, const char *key, long long *out, bool *present, char *err,
                 size_t errlen);
int json_opt_double(const cJSON *obj, const char *key, double *out, bool *present, char *err,
                    size_t errlen);
int json_opt_bool(const cJSON *obj, const char *key, bool *out, bool *present, char *err,
                  size_t errlen);
int json_opt_str(const cJSON *obj, const char *key, const char **out, bool *present, char *err,
                 size_t errlen);
/* Object or array fields: *out is NULL when absent. */
int json_opt_object(const cJSON *obj, const char *key, const cJSON **out, char *err, size_t errlen);
int json_opt_array(const cJSON *obj, const char *key, const cJSON **out, char *err, size_t errlen);

#endif
