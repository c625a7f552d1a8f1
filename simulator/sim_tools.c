#include "simulator/sim_tools.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 32 /* schemas nest far less; this bounds the recursion */
/* Members of one enum, properties or required list, or tuple items: real
 * schemas have a handful; the bound keeps checking and generation linear. */
#define MAX_MEMBERS 1024

/* Where the checker is in the request ("tools[0].function.parameters..."),
 * and where it reports. */
struct vctx {
    char path[512];
    size_t len;
    char *err;
    size_t errlen;
    int depth;
};

/* Append text (prefix then key, or prefix then "[i]" when key is NULL) to the
 * path; returns the old length for path_pop. Long paths are cut, not failed. */
static size_t path_push(struct vctx *v, const char *prefix, const char *key, long i)
{
    size_t old = v->len, room = sizeof(v->path) - v->len;
    int n = key ? snprintf(v->path + v->len, room, "%s%s", prefix, key)
                : snprintf(v->path + v->len, room, "%s[%ld]", prefix, i);
    v->len += n > 0 ? (size_t)n : 0;
    if (v->len >= sizeof(v->path))
        v->len = sizeof(v->path) - 1;
    return old;
}

static void path_pop(struct vctx *v, size_t old)
{
    v->len = old;
    v->path[old] = '\0';
}

__attribute__((format(printf, 2, 3))) static int fail(struct vctx *v, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    snprintf(v->err, v->errlen, "%s: %s", v->path, what);
    return -EINVAL;
}

static const char *const types[] = {"object",  "array",   "string", "number",
                                    "integer", "boolean", "null",   NULL};

/* Upstream's whitelist, plus minimum/maximum, title and default, and what
 * newer upstream versions and pydantic schemas carry: format, pattern,
 * minLength/maxLength (accepted, not used to generate) and
 * exclusiveMinimum/exclusiveMaximum (honoured). */
static const char *const keywords[] = {"type",
                                       "format",
                                       "pattern",
                                       "minLength",
                                       "maxLength",
                                       "exclusiveMinimum",
                                       "exclusiveMaximum",
                                       "description",
                                       "enum",
                                       "properties",
                                       "items",
                                       "required",
                                       "minItems",
                                       "maxItems",
                                       "minimum",
                                       "maximum",
                                       "title",
                                       "default",
                                       "additionalProperties",
                                       NULL};

static bool in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

static bool is_integer(const cJSON *j)
{
    return cJSON_IsNumber(j) && j->valuedouble == floor(j->valuedouble) &&
           fabs(j->valuedouble) < 9007199254740992.0;
}

static int check_schema_node(struct vctx *v, const cJSON *s);

/* enum: a non-empty array whose members have the schema's type. */
static int check_enum(struct vctx *v, const cJSON *e, const char *type)
{
    if (strcmp(type, "object") == 0 || strcmp(type, "array") == 0 || strcmp(type, "null") == 0)
        return fail(v, "\"enum\" is not allowed with type \"%s\"", type);
    if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) == 0)
        return fail(v, "\"enum\" must be a non-empty array");
    if (cJSON_GetArraySize(e) > MAX_MEMBERS)
        return fail(v, "\"enum\" has more than %d members", MAX_MEMBERS);
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, e)
    {
        bool ok = strcmp(type, "string") == 0    ? cJSON_IsString(m)
                  : strcmp(type, "number") == 0  ? cJSON_IsNumber(m)
                  : strcmp(type, "integer") == 0 ? is_integer(m)
                                                 : cJSON_IsBool(m);
        if (!ok) {
            return fail(v, "enum[%d] is not of type \"%s\"", i, type);
        }
        i++;
    }
    return 0;
}

/* properties (an object of schemas) and required (names among them). */
static int check_properties(struct vctx *v, const cJSON *props, const cJSON *req)
{
    if (props && !cJSON_IsObject(props))
        return fail(v, "\"properties\" must be an object of schemas");
    if (cJSON_GetArraySize(props) > MAX_MEMBERS)
        return fail(v, "\"properties\" has more than %d members", MAX_MEMBERS);
    const cJSON *p;
    cJSON_ArrayForEach(p, props)
    {
        size_t old = path_push(v, ".properties.", p->string, 0);
        int rc = check_schema_node(v, p);
        path_pop(v, old);
        if (rc)
            return rc;
    }
    if (!req)
        return 0;
    if (!cJSON_IsArray(req))
        return fail(v, "\"required\" must be an array of property names");
    if (cJSON_GetArraySize(req) > MAX_MEMBERS)
        return fail(v, "\"required\" has more than %d members", MAX_MEMBERS);
    const cJSON *r;
    cJSON_ArrayForEach(r, req)
    {
        if (!cJSON_IsString(r))
            return fail(v, "\"required\" must be an array of property names");
        if (!cJSON_GetObjectItemCaseSensitive(props, r->valuestring))
            return fail(v, "\"required\" names \"%s\", which is not in \"properties\"",
                        r->valuestring);
    }
    return 0;
}

/* items: one schema, or an array of schemas (one per position). */
static int check_items(struct vctx *v, const cJSON *items)
{
    if (cJSON_IsObject(items)) {
        size_t old = path_push(v, ".items", "", 0);
        int rc = check_schema_node(v, items);
        path_pop(v, old);
        return rc;
    }
    if (!cJSON_IsArray(items))
        return fail(v, "\"items\" must be a schema or an array of schemas");
    if (cJSON_GetArraySize(items) > MAX_MEMBERS)
        return fail(v, "\"items\" has more than %d schemas", MAX_MEMBERS);
    long i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        size_t old = path_push(v, ".items", NULL, i++);
        int rc = check_schema_node(v, it);
        path_pop(v, old);
        if (rc)
            return rc;
    }
    return 0;
}

/* minItems/maxItems (non-negative integers) and minimum/maximum (numbers), min <= max. */
static int check_bounds(struct vctx *v, const cJSON *s, const char *type)
{
    const cJSON *lo = cJSON_GetObjectItemCaseSensitive(s, "minItems");
    const cJSON *hi = cJSON_GetObjectItemCaseSensitive(s, "maxItems");
    if ((lo && (!is_integer(lo) || lo->valuedouble < 0)) ||
        (hi && (!is_integer(hi) || hi->valuedouble < 0)))
        return fail(v, "\"%s\" must be a non-negative integer",
                    lo && (!is_integer(lo) || lo->valuedouble < 0) ? "minItems" : "maxItems");
    if (lo && hi && lo->valuedouble > hi->valuedouble)
        return fail(v, "\"minItems\" is greater than \"maxItems\"");
    static const char *const strs[] = {"format", "pattern"};
    static const char *const lens[] = {"minLength", "maxLength"};
    static const char *const nums[] = {"exclusiveMinimum", "exclusiveMaximum"};
    for (int i = 0; i < 2; i++) {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(s, strs[i]);
        if (k && !cJSON_IsString(k))
            return fail(v, "\"%s\" must be a string", strs[i]);
        k = cJSON_GetObjectItemCaseSensitive(s, lens[i]);
        if (k && (!is_integer(k) || k->valuedouble < 0))
            return fail(v, "\"%s\" must be a non-negative integer", lens[i]);
        k = cJSON_GetObjectItemCaseSensitive(s, nums[i]);
        if (k && !cJSON_IsNumber(k))
            return fail(v, "\"%s\" must be a number", nums[i]);
    }
    const cJSON *ln = cJSON_GetObjectItemCaseSensitive(s, "minLength");
    const cJSON *lx = cJSON_GetObjectItemCaseSensitive(s, "maxLength");
    if (ln && lx && ln->valuedouble > lx->valuedouble)
        return fail(v, "\"minLength\" is greater than \"maxLength\"");
    lo = cJSON_GetObjectItemCaseSensitive(s, "minimum");
    hi = cJSON_GetObjectItemCaseSensitive(s, "maximum");
    if ((lo && !cJSON_IsNumber(lo)) || (hi && !cJSON_IsNumber(hi)))
        return fail(v, "\"%s\" must be a number",
                    lo && !cJSON_IsNumber(lo) ? "minimum" : "maximum");
    const cJSON *elo = cJSON_GetObjectItemCaseSensitive(s, "exclusiveMinimum");
    const cJSON *ehi = cJSON_GetObjectItemCaseSensitive(s, "exclusiveMaximum");
    if ((elo || lo) && (ehi || hi)) { /* some value must lie strictly/inside both */
        double a = lo ? lo->valuedouble : -INFINITY, b = hi ? hi->valuedouble : INFINITY;
        bool int_type = strcmp(type, "integer") == 0;
        if (elo)
            a = fmax(a, int_type ? floor(elo->valuedouble) + 1
                                 : nextafter(elo->valuedouble, INFINITY));
        if (ehi)
            b = fmin(b, int_type ? ceil(ehi->valuedouble) - 1
                                 : nextafter(ehi->valuedouble, -INFINITY));
        if ((elo || ehi) && (int_type ? ceil(a) > floor(b) : a > b))
            return fail(v, "no value lies between the lower and the upper bound");
    }
    if (lo && hi && lo->valuedouble > hi->valuedouble)
        return fail(v, "\"minimum\" is greater than \"maximum\"");
    if (lo && hi && strcmp(type, "integer") == 0 && ceil(lo->valuedouble) > floor(hi->valuedouble))
        return fail(v, "no integer lies between \"minimum\" and \"maximum\"");
    return 0;
}

static int check_schema_node(struct vctx *v, const cJSON *s)
{
    if (!cJSON_IsObject(s))
        return fail(v, "must be an object (a JSON schema)");
    if (v->depth >= MAX_DEPTH)
        return fail(v, "schemas nested deeper than 32 levels are not supported");
    const cJSON *k;
    cJSON_ArrayForEach(k, s)
    {
        if (!in_list(keywords, k->string))
            return fail(v, "unknown keyword \"%s\"", k->string);
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(s, "type");
    if (!type)
        return fail(v, "\"type\" is required");
    if (!cJSON_IsString(type))
        return fail(v, "\"type\" must be a string");
    const char *t = type->valuestring;
    if (!in_list(types, t))
        return fail(v, "unknown type \"%s\"", t);
    const char *const strings[] = {"description", "title"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(s, strings[i]);
        if (d && !cJSON_IsString(d))
            return fail(v, "\"%s\" must be a string", strings[i]);
    }
    const cJSON *ap = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
    if (ap && !cJSON_IsBool(ap))
        return fail(v, "\"additionalProperties\" must be true or false");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(s, "enum");
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
    int rc = e ? check_enum(v, e, t) : 0;
    rc = rc ? rc : check_bounds(v, s, t);
    if (rc)
        return rc;
    if (strcmp(t, "array") == 0 && !items)
        return fail(v, "type \"array\" needs \"items\"");
    v->depth++;
    rc = items ? check_items(v, items) : 0;
    rc = rc ? rc
            : check_properties(v, cJSON_GetObjectItemCaseSensitive(s, "properties"),
                               cJSON_GetObjectItemCaseSensitive(s, "required"));
    v->depth--;
    return rc;
}

int sim_tools_check_schema(const cJSON *schema, const char *path, char *err, size_t errlen)
{
    struct vctx v = {.err = err, .errlen = errlen};
    snprintf(v.path, sizeof(v.path), "%s", path);
    v.len = strlen(v.path);
    return check_schema_node(&v, schema);
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* The whitelist on the tool and function objects: known keys, their types, and
 * parameters an object schema. */
static int check_function_schema(struct vctx *v, const cJSON *tool, const cJSON *fn)
{
    static const char *const tool_keys[] = {"type", "function", NULL};
    static const char *const fn_keys[] = {"name", "description", "parameters", "strict", NULL};
    const cJSON *k;
    cJSON_ArrayForEach(k, tool)
    {
        if (!in_list(tool_keys, k->string))
            return fail(v, "unknown key \"%s\"", k->string);
    }
    size_t old = path_push(v, ".function", "", 0);
    int rc = 0;
    cJSON_ArrayForEach(k, fn)
    {
        if (!in_list(fn_keys, k->string)) {
            rc = fail(v, "unknown key \"%s\"", k->string);
            break;
        }
    }
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(fn, "description");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(fn, "strict");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
    if (rc == 0 && d && !cJSON_IsString(d) && !cJSON_IsNull(d))
        rc = fail(v, "\"description\" must be a string");
    if (rc == 0 && st && !cJSON_IsBool(st) && !cJSON_IsNull(st))
        rc = fail(v, "\"strict\" must be true or false");
    if (rc == 0 && p && !cJSON_IsNull(p)) {
        path_push(v, ".parameters", "", 0);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "type");
        rc = check_schema_node(v, p);
        if (rc == 0 && strcmp(t->valuestring, "object") != 0)
            rc = fail(v, "type must be \"object\", not \"%s\"", t->valuestring);
    }
    path_pop(v, old);
    return rc;
}

/* One tool: always its shape and name; its schema unless skip_schema. */
static int check_tool(struct vctx *v, const cJSON *tool, bool skip_schema)
{
    if (!cJSON_IsObject(tool))
        return fail(v, "must be an object");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(tool, "type");
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tool, "function");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "function") != 0)
        return fail(v, "\"type\" must be \"function\"");
    if (!cJSON_IsObject(fn))
        return fail(v, "\"function\" must be an object");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
    size_t old = path_push(v, ".function.name", "", 0);
    int rc = 0;
    if (!cJSON_IsString(name))
        rc = fail(v, "is required and must be a string");
    else if (!valid_name(name->valuestring))
        rc = fail(v, "\"%.80s\" is not 1 to 64 characters of a-z, A-Z, 0-9, _ and -",
                  name->valuestring);
    path_pop(v, old);
    if (rc || skip_schema)
        return rc;
    return check_function_schema(v, tool, fn);
}

static int check_choice(const cJSON *tc, struct sim_tools *out, char *err, size_t errlen)
{
    static const char *const usage = "tool_choice must be \"none\", \"auto\", \"required\" or "
                                     "{\"type\":\"function\",\"function\":{\"name\":NAME}}";
    if (!tc || cJSON_IsNull(tc)) {
        out->choice = SIM_TOOL_AUTO;
    } else if (cJSON_IsString(tc)) {
        const char *s = tc->valuestring;
        if (strcmp(s, "auto") == 0)
            out->choice = SIM_TOOL_AUTO;
        else if (strcmp(s, "none") == 0)
            out->choice = SIM_TOOL_NONE;
        else if (strcmp(s, "required") == 0)
            out->choice = SIM_TOOL_REQUIRED;
        else
            return snprintf(err, errlen, "%s, not \"%.80s\"", usage, s), 400;
    } else {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(tc, "type");
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
        if (!cJSON_IsObject(tc) || !cJSON_IsString(type) ||
            strcmp(type->valuestring, "function") != 0 || !cJSON_IsString(name))
            return snprintf(err, errlen, "%s", usage), 400;
        out->choice = SIM_TOOL_NAMED;
        if (!out->tools) /* reported below */
            return 0;
        size_t i = 0;
        const cJSON *t;
        cJSON_ArrayForEach(t, out->tools)
        {
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(t, "function"), "name");
            if (strcmp(n->valuestring, name->valuestring) == 0) {
                out->named = i;
                return 0;
            }
            i++;
        }
        snprintf(err, errlen, "tool_choice names the function \"%.80s\", which is not in tools",
                 name->valuestring);
        return 400;
    }
    return 0;
}

int sim_tools_check(const cJSON *tools, const cJSON *tool_choice, bool skip_schema,
                    struct sim_tools *out, char *err, size_t errlen, const char **param)
{
    memset(out, 0, sizeof(*out));
    *param = "tools";
    if (tools && !cJSON_IsNull(tools) && !cJSON_IsArray(tools)) {
        snprintf(err, errlen, "field 'tools' must be an array");
        return 400;
    }
    char msg[400];
    long i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tools)
    {
        struct vctx v = {.err = msg, .errlen = sizeof(msg)};
        path_push(&v, "tools", NULL, i++);
        if (check_tool(&v, t, skip_schema) < 0) {
            snprintf(err, errlen, "Tool validation failed: %s", msg);
            return 400;
        }
    }
    if (i > 0) {
        out->tools = tools;
        out->ntools = (size_t)i;
    }
    *param = "tool_choice";
    if (tool_choice && !cJSON_IsNull(tool_choice) && !cJSON_IsString(tool_choice) &&
        !cJSON_IsObject(tool_choice)) {
        snprintf(err, errlen, "field 'tool_choice' must be a string or an object");
        return 400;
    }
    int rc = check_choice(tool_choice, out, err, errlen);
    if (rc)
        return rc;
    if ((out->choice == SIM_TOOL_REQUIRED || out->choice == SIM_TOOL_NAMED) && !out->tools) {
        snprintf(err, errlen, "When using `tool_choice`, `tools` must be set.");
        return 400;
    }
    *param = "";
    return 0;
}
