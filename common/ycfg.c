#include "common/ycfg.h"

#include "common/buf.h"
#include "common/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define YCFG_MAX_FILE (4u << 20)

void ycfg_release(struct ycfg *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        for (size_t j = 0; j < c->v[i].nitems; j++)
            free(c->v[i].items[j]);
        free(c->v[i].items);
        free(c->v[i].key);
    }
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

static char *scalar_text(const yaml_node_t *n)
{
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        ((len == 1 && s[0] == '~') || (len == 4 && memcmp(s, "null", 4) == 0)))
        return xstrdup("");
    return xstrndup(s, len);
}

static int add_entry(struct ycfg *c, yaml_document_t *doc, const yaml_node_pair_t *pair, bool maps,
                     char *err, size_t errlen)
{
    yaml_node_t *k = yaml_document_get_node(doc, pair->key);
    yaml_node_t *v = yaml_document_get_node(doc, pair->value);
    int line = (int)k->start_mark.line + 1;
    if (k->type != YAML_SCALAR_NODE) {
        snprintf(err, errlen, "line %d: keys must be plain names", line);
        return -EBADMSG;
    }
    char *key = scalar_text(k);
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->v[i].key, key) == 0) {
            snprintf(err, errlen, "line %d: duplicate key \"%s\" (first on line %d)", line, key,
                     c->v[i].line);
            free(key);
            return -EBADMSG;
        }
    }
    struct ycfg_entry e = {.key = key, .line = line};
    if (v->type == YAML_SCALAR_NODE) {
        e.items = xmalloc(sizeof(char *));
        e.items[0] = scalar_text(v);
        e.nitems = 1;
    } else if (v->type == YAML_SEQUENCE_NODE) {
        e.is_list = true;
        size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
        e.items = xcalloc(n ? n : 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
            yaml_node_t *it = yaml_document_get_node(doc, v->data.sequence.items.start[i]);
            if (it->type != YAML_SCALAR_NODE) {
                snprintf(err, errlen, "line %d: key \"%s\": list items must be scalars",
                         (int)it->start_mark.line + 1, key);
                for (size_t j = 0; j < e.nitems; j++)
                    free(e.items[j]);
                free(e.items);
                free(key);
                return -EBADMSG;
            }
            e.items[e.nitems++] = scalar_text(it);
        }
    } else if (maps) {
        e.is_map = true; /* the caller reads the mapping itself */
    } else {
        snprintf(err, errlen, "line %d: key \"%s\": expected a value or a list, not a mapping",
                 line, key);
        free(key);
        return -EBADMSG;
    }
    c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
    c->v[c->n++] = e;
    return 0;
}

static int parse(const char *text, size_t len, struct ycfg *out, bool maps, char *err,
                 size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = 0;
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    out->v = NULL;
    out->n = 0;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "line %d: %s", (int)parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "invalid YAML");
        yaml_parser_delete(&parser);
        return -EBADMSG;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) /* empty document */
        goto out;
    if (root->type != YAML_MAPPING_NODE) {
        snprintf(err, errlen, "line %d: the file must be a mapping of flag names to values",
                 (int)root->start_mark.line + 1);
        rc = -EBADMSG;
        goto out;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        rc = add_entry(out, &doc, p, maps, err, errlen);
        if (rc < 0)
            break;
    }
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc < 0)
        ycfg_release(out);
    return rc;
}

int ycfg_parse(const char *text, size_t len, struct ycfg *out, char *err, size_t errlen)
{
    return parse(text, len, out, false, err, errlen);
}

static int load_file(const char *path, struct ycfg *out, bool maps, char *err, size_t errlen)
{
    struct buf b;
    char chunk[8192];
    int rc = 0;
    out->v = NULL;
    out->n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        rc = -errno;
        if (err)
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(-rc));
        return rc;
    }
    buf_init(&b, YCFG_MAX_FILE);
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        rc = buf_append(&b, chunk, n);
        if (rc < 0) {
            if (err)
                snprintf(err, errlen, "%s is larger than 4 MiB", path);
            goto out;
        }
    }
    if (ferror(f)) {
        rc = -EIO;
        if (err)
            snprintf(err, errlen, "cannot read %s", path);
        goto out;
    }
    rc = parse(buf_str(&b), b.len, out, maps, err, errlen);
out:
    fclose(f);
    buf_release(&b);
    return rc;
}

int ycfg_load_file(const char *path, struct ycfg *out, char *err, size_t errlen)
{
    return load_file(path, out, false, err, errlen);
}

int ycfg_load_file_maps(const char *path, struct ycfg *out, char *err, size_t errlen)
{
    return load_file(path, out, true, err, errlen);
}
