#include "common/yamljson.h"

#include "common/xalloc.h"

#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define MAX_DEPTH 128

struct ctx {
    yaml_parser_t p;
    char *err;
    size_t errlen;
};

static cJSON *fail(struct ctx *c, size_t line, const char *msg)
{
    if (!c->err[0])
        snprintf(c->err, c->errlen, "line %zu: %s", line + 1, msg);
    return NULL;
}

/* YAML 1.2 core schema for a plain scalar. */
static cJSON *plain_scalar(const char *s)
{
    if (!*s || strcmp(s, "~") == 0 || strcasecmp(s, "null") == 0)
        return cJSON_CreateNull();
    if (strcasecmp(s, "true") == 0)
        return cJSON_CreateTrue();
    if (strcasecmp(s, "false") == 0)
        return cJSON_CreateFalse();
    static const char *const inf[] = {".inf", "+.inf", ".Inf", "+.Inf", ".INF", "+.INF"};
    for (size_t i = 0; i < sizeof(inf) / sizeof(inf[0]); i++)
        if (strcmp(s, inf[i]) == 0)
            return cJSON_CreateNumber(INFINITY);
    if (strcmp(s, "-.inf") == 0 || strcmp(s, "-.Inf") == 0 || strcmp(s, "-.INF") == 0)
        return cJSON_CreateNumber(-INFINITY);
    if (strcmp(s, ".nan") == 0 || strcmp(s, ".NaN") == 0 || strcmp(s, ".NAN") == 0)
        return cJSON_CreateNumber(NAN);
    /* [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+ | [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
     */
    static const char *const num = "^([-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?(\\.[0-9]+|[0-9]+("
                                   "\\.[0-9]*)?)([eE][-+]?[0-9]+)?)$";
    regex_t re;
    if (regcomp(&re, num, REG_EXTENDED | REG_NOSUB) != 0)
        return cJSON_CreateString(s);
    bool is_num = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    if (!is_num)
        return cJSON_CreateString(s);
    if (strncmp(s, "0o", 2) == 0)
        return cJSON_CreateNumber((double)strtoll(s + 2, NULL, 8));
    if (strncmp(s, "0x", 2) == 0)
        return cJSON_CreateNumber((double)strtoll(s + 2, NULL, 16));
    return cJSON_CreateNumber(strtod(s, NULL));
}

static cJSON *node(struct ctx *c, yaml_event_t *ev, int depth);

static bool next(struct ctx *c, yaml_event_t *ev)
{
    if (yaml_parser_parse(&c->p, ev))
        return true;
    fail(c, c->p.problem_mark.line, c->p.problem ? c->p.problem : "YAML syntax error");
    return false;
}

static cJSON *mapping(struct ctx *c, int depth)
{
    cJSON *obj = cJSON_CreateObject();
    for (;;) {
        yaml_event_t k;
        if (!next(c, &k))
            break;
        if (k.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&k);
            return obj;
        }
        if (k.type != YAML_SCALAR_EVENT) {
            fail(c, k.start_mark.line, "mapping keys must be strings");
            yaml_event_delete(&k);
            break;
        }
        char *key = xstrdup((const char *)k.data.scalar.value);
        size_t line = k.start_mark.line;
        yaml_event_delete(&k);
        if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
            char msg[300];
            snprintf(msg, sizeof(msg), "duplicate key \"%.200s\"", key);
            fail(c, line, msg);
            free(key);
            break;
        }
        yaml_event_t v;
        cJSON *val = next(c, &v) ? node(c, &v, depth + 1) : NULL;
        if (!val) {
            free(key);
            break;
        }
        cJSON_AddItemToObject(obj, key, val);
        free(key);
    }
    cJSON_Delete(obj);
    return NULL;
}

static cJSON *sequence(struct ctx *c, int depth)
{
    cJSON *arr = cJSON_CreateArray();
    for (;;) {
        yaml_event_t ev;
        if (!next(c, &ev))
            break;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return arr;
        }
        cJSON *v = node(c, &ev, depth + 1);
        if (!v)
            break;
        cJSON_AddItemToArray(arr, v);
    }
    cJSON_Delete(arr);
    return NULL;
}

/* The value starting at ev (which it deletes). */
static cJSON *node(struct ctx *c, yaml_event_t *ev, int depth)
{
    cJSON *out = NULL;
    size_t line = ev->start_mark.line;
    if (depth > MAX_DEPTH) {
        out = fail(c, line, "nested too deeply");
    } else if (ev->type == YAML_ALIAS_EVENT ||
               (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.anchor) ||
               (ev->type == YAML_MAPPING_START_EVENT && ev->data.mapping_start.anchor) ||
               (ev->type == YAML_SEQUENCE_START_EVENT && ev->data.sequence_start.anchor)) {
        out = fail(c, line, "anchors and aliases are not supported");
    } else if (ev->type == YAML_SCALAR_EVENT) {
        const char *s = (const char *)ev->data.scalar.value;
        const char *tag = (const char *)ev->data.scalar.tag;
        bool str = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
                   (tag && strcmp(tag, YAML_STR_TAG) == 0);
        out = str ? cJSON_CreateString(s) : plain_scalar(s);
    } else if (ev->type == YAML_MAPPING_START_EVENT) {
        yaml_event_delete(ev);
        return mapping(c, depth);
    } else if (ev->type == YAML_SEQUENCE_START_EVENT) {
        yaml_event_delete(ev);
        return sequence(c, depth);
    } else {
        out = fail(c, line, "unexpected YAML event");
    }
    yaml_event_delete(ev);
    return out;
}

/* One document (multi false: a second is an error), or every document as an
 * array (multi true). */
static cJSON *parse(const char *text, size_t len, bool multi, char *err, size_t errlen)
{
    struct ctx c = {.err = err, .errlen = errlen};
    err[0] = '\0';
    if (!yaml_parser_initialize(&c.p)) {
        snprintf(err, errlen, "cannot initialise the YAML parser");
        return NULL;
    }
    yaml_parser_set_input_string(&c.p, (const unsigned char *)text, len);
    cJSON *doc = NULL, *all = multi ? cJSON_CreateArray() : NULL;
    bool seen_doc = false, ok = true;
    for (;;) {
        yaml_event_t ev;
        if (!next(&c, &ev)) {
            ok = false;
            break;
        }
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (multi && t == YAML_DOCUMENT_END_EVENT) {
            cJSON_AddItemToArray(all, doc ? doc : cJSON_CreateNull());
            doc = NULL;
        }
        if (t == YAML_DOCUMENT_START_EVENT && seen_doc && !multi) {
            fail(&c, ev.start_mark.line, "more than one YAML document");
            yaml_event_delete(&ev);
            ok = false;
            break;
        }
        if (t == YAML_DOCUMENT_START_EVENT)
            seen_doc = true;
        if (t == YAML_SCALAR_EVENT || t == YAML_MAPPING_START_EVENT ||
            t == YAML_SEQUENCE_START_EVENT || t == YAML_ALIAS_EVENT) {
            doc = node(&c, &ev, 0);
            if (!doc) {
                ok = false;
                break;
            }
            continue;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&c.p);
    if (!ok) {
        cJSON_Delete(doc);
        cJSON_Delete(all);
        return NULL;
    }
    if (multi)
        return all;
    return doc ? doc : cJSON_CreateNull();
}

cJSON *yaml_to_json(const char *text, size_t len, char *err, size_t errlen)
{
    return parse(text, len, false, err, errlen);
}

cJSON *yaml_to_json_all(const char *text, size_t len, char *err, size_t errlen)
{
    return parse(text, len, true, err, errlen);
}

cJSON *yaml_file_to_json(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[65536];
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (len + n > cap) {
            cap = (len + n) * 2;
            text = xrealloc(text, cap);
        }
        memcpy(text + len, chunk, n);
        len += n;
    }
    fclose(f);
    char perr[256];
    cJSON *doc = yaml_to_json(text ? text : "", len, perr, sizeof(perr));
    if (!doc)
        snprintf(err, errlen, "%s: %s", path, perr);
    free(text);
    return doc;
}
