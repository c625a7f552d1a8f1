#include "common/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

bool json_depth_ok(const char *text, size_t len, int max)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return false;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return true;
}

cJSON *json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    if (!json_depth_ok(text, len, JSON_MAX_DEPTH)) {
        if (err)
            snprintf(err, errlen, "JSON nesting is deeper than %d levels", JSON_MAX_DEPTH);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root && err) {
        size_t off = end && end >= text ? (size_t)(end - text) : 0;
        if (len == 0)
            snprintf(err, errlen, "empty body");
        else if (off >= len)
            snprintf(err, errlen, "unexpected end of JSON input");
        else
            snprintf(err, errlen, "invalid JSON at byte %zu", off);
    }
    return root;
}

static const cJSON *lookup(const cJSON *obj, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it))
        return NULL;
    return it;
}

static int type_err(char *err, size_t errlen, const char *key, const char *what)
{
    if (err)
        snprintf(err, errlen, "field '%s' must be %s", key, what);
    return -EINVAL;
}

int json_opt_int(const cJSON *obj, const char *key, long long *out, bool *present, char *err,
                 size_t errlen)
{
    const cJSON *it = lookup(obj, key);
    *present = false;
    if (!it)
        return 0;
    double d = it->valuedouble;
    if (!cJSON_IsNumber(it) || !isfinite(d) || d != floor(d) || fabs(d) > 9.0e15)
        return type_err(err, errlen, key, "an integer");
    *out = (long long)d;
    *present = true;
    return 0;
}

int json_opt_double(const cJSON *obj, const char *key, double *out, bool *present, char *err,
                    size_t errlen)
{
    const cJSON *it = lookup(obj, key);
    *present = false;
    if (!it)
        return 0;
    if (!cJSON_IsNumber(it))
        return type_err(err, errlen, key, "a number");
    *out = it->valuedouble;
    *present = true;
    return 0;
}

int json_opt_bool(const cJSON *obj, const char *key, bool *out, bool *present, char *err,
                  size_t errlen)
{
    const cJSON *it = lookup(obj, key);
    *present = false;
    if (!it)
        return 0;
    if (!cJSON_IsBool(it))
        return type_err(err, errlen, key, "a boolean");
    *out = cJSON_IsTrue(it);
    *present = true;
    return 0;
}

int json_opt_str(const cJSON *obj, const char *key, const char **out, bool *present, char *err,
                 size_t errlen)
{
    const cJSON *it = lookup(obj, key);
    *present = false;
    if (!it)
        return 0;
    if (!cJSON_IsString(it))
        return type_err(err, errlen, key, "a string");
    *out = it->valuestring;
    *present = true;
    return 0;
}

int json_opt_object(const cJSON *obj, const char *key, const cJSON **out, char *err, size_t errlen)
{
    const cJSON *it = lookup(obj, key);
    *out = NULL;
    if (!it)
        return 0;
    if (!cJSON_IsObject(it))
        return type_err(err, errlen, key, "an object");
    *out = it;
    return 0;
}

int json_opt_array(const cJSON *obj, const char *key, const cJSON **out, char *err, size_t errlen)
{
    const cJSON *it = lookup(obj, key);
    *out = NULL;
    if (!it)
        return 0;
    if (!cJSON_IsArray(it))
        return type_err(err, errlen, key, "an array");
    *out = it;
    return 0;
}
