#include "controller/crd_check.h"

#include "common/duration.h"
#include "common/yamljson.h"

#include <pthread.h>
#include <stdarg.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* crds/pdsimulation.yaml, generated into the build tree by CMake. */
extern const unsigned char pdsim_crd_yaml[];
extern const size_t pdsim_crd_yaml_len;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static cJSON *schema; /* openAPIV3Schema */
static char init_err[512];

static const char *const DURATION_UNITS = "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$";

enum rule_kind { RULE_SIZE_LE, RULE_NE, RULE_STDDEV };

struct rule {
    enum rule_kind kind;
    char a[128], b[128]; /* field (dot path for size) / second field */
    long x, y;           /* bound, or the two factors */
};

static bool match(const char *pattern, const char *s)
{
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
        return false;
    bool ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* Parse a CEL rule of a known shape. Returns 0 or -1. */
static int parse_rule(const char *text, struct rule *r)
{
    regex_t re;
    regmatch_t m[5];
    static const char *const shapes[] = {
        "^self\\.([A-Za-z.]+)\\.size\\(\\) <= ([0-9]+)$",
        "^self\\.([A-Za-z]+) != ([0-9]+)$",
        "^!has\\(self\\.([A-Za-z]+)\\) \\|\\| !has\\(self\\.([A-Za-z]+)\\) .*"
        "duration\\(self\\.[A-Za-z]+\\)\\.getMilliseconds\\(\\) \\* ([0-9]+) <= "
        "duration\\(self\\.[A-Za-z]+\\)\\.getMilliseconds\\(\\) \\* ([0-9]+)$",
    };
    for (int k = 0; k < 3; k++) {
        if (regcomp(&re, shapes[k], REG_EXTENDED) != 0)
            return -1;
        int rc = regexec(&re, text, 5, m, 0);
        regfree(&re);
        if (rc != 0)
            continue;
        memset(r, 0, sizeof(*r));
        r->kind = (enum rule_kind)k;
        snprintf(r->a, sizeof(r->a), "%.*s", (int)(m[1].rm_eo - m[1].rm_so), text + m[1].rm_so);
        if (k == RULE_STDDEV) {
            snprintf(r->b, sizeof(r->b), "%.*s", (int)(m[2].rm_eo - m[2].rm_so), text + m[2].rm_so);
            r->x = strtol(text + m[3].rm_so, NULL, 10);
            r->y = strtol(text + m[4].rm_so, NULL, 10);
        } else {
            r->x = strtol(text + m[2].rm_so, NULL, 10);
        }
        return 0;
    }
    return -1;
}

/* Every rule in the schema has a known shape. */
static int check_rules(const cJSON *s)
{
    if (!cJSON_IsObject(s) && !cJSON_IsArray(s))
        return 0;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, "x-kubernetes-validations"), *it;
    cJSON_ArrayForEach(it, v)
    {
        const cJSON *rule = cJSON_GetObjectItemCaseSensitive(it, "rule");
        struct rule r;
        if (!cJSON_IsString(rule) || parse_rule(rule->valuestring, &r) < 0) {
            snprintf(init_err, sizeof(init_err), "the CRD has a CEL rule pdsim cannot evaluate: %s",
                     cJSON_IsString(rule) ? rule->valuestring : "(not a string)");
            return -1;
        }
    }
    cJSON_ArrayForEach(it, s)
    {
        if (check_rules(it) < 0)
            return -1;
    }
    return 0;
}

static void load(void)
{
    char err[256];
    cJSON *crd = yaml_to_json((const char *)pdsim_crd_yaml, pdsim_crd_yaml_len, err, sizeof(err));
    if (!crd) {
        snprintf(init_err, sizeof(init_err), "the compiled-in CRD does not parse: %s", err);
        return;
    }
    const cJSON *versions =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(crd, "spec"), "versions");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(versions, 0), "schema"),
        "openAPIV3Schema");
    if (!cJSON_IsObject(s)) {
        snprintf(init_err, sizeof(init_err), "the compiled-in CRD has no openAPIV3Schema");
    } else if (check_rules(s) == 0) {
        schema = cJSON_Duplicate(s, 1);
    }
    cJSON_Delete(crd);
}

int crd_check_init(char *err, size_t errlen)
{
    pthread_once(&once, load);
    if (!schema) {
        snprintf(err, errlen, "%s", init_err);
        return -1;
    }
    return 0;
}

static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s%s%s", path[0] ? path : "", path[0] ? ": " : "", msg);
    return -1;
}

static double num(const cJSON *s, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, k);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static const char *str(const cJSON *s, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int check_string(const cJSON *s, const cJSON *v, const char *path, char *err, size_t errlen)
{
    size_t len = strlen(v->valuestring);
    char n[32];
    if (len < (size_t)num(s, "minLength", 0)) {
        snprintf(n, sizeof(n), "%.0f", num(s, "minLength", 0));
        return fail(err, errlen, path, "must be at least %s characters long", n);
    }
    if (len > (size_t)num(s, "maxLength", 1e9)) {
        snprintf(n, sizeof(n), "%.0f", num(s, "maxLength", 0));
        return fail(err, errlen, path, "may not be longer than %s characters", n);
    }
    const char *pat = str(s, "pattern");
    if (pat && !match(pat, v->valuestring))
        return fail(err, errlen, path, "\"%s\" does not match %s", v->valuestring, pat);
    return 0;
}

static int64_t millis(const char *d)
{
    int64_t ns = 0;
    char e[64];
    return duration_parse(d, &ns, e, sizeof(e)) == 0 ? ns / 1000000 : 0;
}

static int eval_rules(const cJSON *s, const cJSON *v, const char *path, char *err, size_t errlen)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(s, "x-kubernetes-validations"))
    {
        struct rule r;
        if (parse_rule(str(it, "rule"), &r) < 0)
            return fail(err, errlen, path, "unsupported rule %s", str(it, "rule"));
        bool ok = true;
        if (r.kind == RULE_SIZE_LE) {
            const cJSON *x = v;
            char field[128], *save = NULL;
            snprintf(field, sizeof(field), "%s", r.a);
            for (char *tok = strtok_r(field, ".", &save); tok && x;
                 tok = strtok_r(NULL, ".", &save))
                x = cJSON_GetObjectItemCaseSensitive(x, tok);
            ok = !cJSON_IsString(x) || strlen(x->valuestring) <= (size_t)r.x;
        } else if (r.kind == RULE_NE) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(v, r.a);
            ok = !cJSON_IsNumber(x) || x->valuedouble != (double)r.x;
        } else {
            const char *a = str(v, r.a), *b = str(v, r.b);
            if (a && b && match(DURATION_UNITS, a) && match(DURATION_UNITS, b))
                ok = millis(a) * r.x <= millis(b) * r.y;
        }
        if (!ok) {
            const char *msg = str(it, "message");
            return fail(err, errlen, path, "%s", msg ? msg : str(it, "rule"));
        }
    }
    return 0;
}

static void join(char *out, size_t len, const char *path, const char *key)
{
    snprintf(out, len, "%s%s%s", path, path[0] ? "." : "", key);
}

/* A JSON number with an integer value that fits int64 (YAML's .nan, .inf and
 * 1e300 do not; converting them to an integer type would be undefined). */
static bool is_int64(const cJSON *v)
{
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    return d >= -0x1p63 && d < 0x1p63 && d == (double)(long long)d;
}

static int walk(const cJSON *s, cJSON *v, const char *path, char *err, size_t errlen)
{
    const char *t = str(s, "type");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "x-kubernetes-int-or-string"))) {
        if (cJSON_IsString(v))
            return check_string(s, v, path, err, errlen);
        if (!is_int64(v))
            return fail(err, errlen, path, "must be an integer or a string");
        return 0;
    }
    if (t && strcmp(t, "object") == 0 && !cJSON_IsObject(v))
        return fail(err, errlen, path, "must be an object");
    if (t && strcmp(t, "array") == 0 && !cJSON_IsArray(v))
        return fail(err, errlen, path, "must be a list");
    if (t && strcmp(t, "string") == 0 && !cJSON_IsString(v))
        return fail(err, errlen, path, "must be a string");
    if (t && strcmp(t, "boolean") == 0 && !cJSON_IsBool(v))
        return fail(err, errlen, path, "must be true or false");
    if (t && strcmp(t, "integer") == 0 && !is_int64(v))
        return fail(err, errlen, path, "must be an integer");
    if (t && strcmp(t, "number") == 0 && !cJSON_IsNumber(v))
        return fail(err, errlen, path, "must be a number");
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(s, "enum");
    if (en) {
        bool found = false;
        const cJSON *e;
        cJSON_ArrayForEach(e, en) found = found || cJSON_Compare(e, v, 1);
        if (!found) {
            char *have = cJSON_PrintUnformatted(v), *want = cJSON_PrintUnformatted(en);
            fail(err, errlen, path, "%s is not one of %s", have, want);
            cJSON_free(have);
            cJSON_free(want);
            return -1;
        }
    }
    if (cJSON_IsNumber(v)) {
        char n[64];
        if (cJSON_GetObjectItemCaseSensitive(s, "minimum") &&
            v->valuedouble < num(s, "minimum", 0)) {
            snprintf(n, sizeof(n), "%g", num(s, "minimum", 0));
            return fail(err, errlen, path, "must be greater than or equal to %s", n);
        }
        if (cJSON_GetObjectItemCaseSensitive(s, "maximum") &&
            v->valuedouble > num(s, "maximum", 0)) {
            snprintf(n, sizeof(n), "%g", num(s, "maximum", 0));
            return fail(err, errlen, path, "must be less than or equal to %s", n);
        }
    }
    if (cJSON_IsString(v) && check_string(s, v, path, err, errlen) < 0)
        return -1;
    char sub[512];
    if (cJSON_IsArray(v)) {
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
        int i = 0;
        cJSON *it;
        cJSON_ArrayForEach(it, v)
        {
            snprintf(sub, sizeof(sub), "%s[%d]", path, i++);
            if (items && walk(items, it, sub, err, errlen) < 0)
                return -1;
        }
    }
    if (cJSON_IsObject(v)) {
        const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties"), *p;
        cJSON_ArrayForEach(p, props)
        {
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(p, "default");
            if (d && !cJSON_GetObjectItemCaseSensitive(v, p->string))
                cJSON_AddItemToObject(v, p->string, cJSON_Duplicate(d, 1));
        }
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(s, "required"))
        {
            if (cJSON_IsString(p) && !cJSON_GetObjectItemCaseSensitive(v, p->valuestring)) {
                join(sub, sizeof(sub), path, p->valuestring);
                return fail(err, errlen, sub, "Required value");
            }
        }
        bool keep_unknown = cJSON_IsTrue(
                 cJSON_GetObjectItemCaseSensitive(s, "x-kubernetes-preserve-unknown-fields")),
             is_meta = strcmp(path, "metadata") == 0;
        cJSON *it;
        cJSON_ArrayForEach(it, v)
        {
            join(sub, sizeof(sub), path, it->string);
            const cJSON *ps = cJSON_GetObjectItemCaseSensitive(props, it->string);
            if (ps) {
                if (walk(ps, it, sub, err, errlen) < 0)
                    return -1;
            } else if (!keep_unknown && !is_meta) {
                return fail(err, errlen, sub, "unknown field \"%s\"", it->string);
            }
        }
    }
    return eval_rules(s, v, path, err, errlen);
}

int crd_validate(cJSON *obj, char *err, size_t errlen)
{
    if (crd_check_init(err, errlen) < 0)
        return -1;
    if (!cJSON_IsObject(obj))
        return fail(err, errlen, "", "the document is not a mapping");
    const char *api = str(obj, "apiVersion"), *kind = str(obj, "kind");
    if (!api || strcmp(api, "pdsim.io/v1alpha1") != 0)
        return fail(err, errlen, "apiVersion", "must be pdsim.io/v1alpha1, not \"%s\"",
                    api ? api : "");
    if (!kind || strcmp(kind, "PDSimulation") != 0)
        return fail(err, errlen, "kind", "must be PDSimulation, not \"%s\"", kind ? kind : "");
    const char *name = str(cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "name");
    if (!name || !*name)
        return fail(err, errlen, "metadata.name", "Required value");
    /* The children are Services: their names must be DNS-1035 labels. */
    if (!match("^[a-z]([-a-z0-9]*[a-z0-9])?$", name))
        return fail(err, errlen, "metadata.name",
                    "\"%s\" must be lower-case letters, digits and '-', starting with a letter",
                    name);
    return walk(schema, obj, "", err, errlen);
}
