#include "simulator/sim_lora.h"

#include "common/json.h"
#include "common/xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Names go into Prometheus labels and JSON: keep them printable and bounded. */
static int check_name(const char *name, char *err, size_t errlen)
{
    size_t n = strlen(name);
    if (n == 0 || n > 256) {
        snprintf(err, errlen, "the adapter name must be 1 to 256 characters");
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch < 0x20 || ch == 0x7f || ch == ',') {
            snprintf(err, errlen, "the adapter name \"%.64s\" has a comma or a control character",
                     name);
            return -EINVAL;
        }
    }
    return 0;
}

static int parse_json_module(const char *spec, const char *base_model, struct sim_lora_module *out,
                             char *err, size_t errlen)
{
    char jerr[160];
    const char *name = NULL, *path = NULL, *base = NULL;
    bool present;
    cJSON *j = json_parse(spec, strlen(spec), jerr, sizeof(jerr));
    int rc = -EINVAL;
    if (!j || !cJSON_IsObject(j)) {
        snprintf(err, errlen, "not a JSON object {\"name\",\"path\",\"base_model_name\"}%s%s",
                 j ? "" : ": ", j ? "" : jerr);
        goto out;
    }
    if (json_opt_str(j, "name", &name, &present, jerr, sizeof(jerr)) < 0 ||
        json_opt_str(j, "path", &path, &present, jerr, sizeof(jerr)) < 0 ||
        json_opt_str(j, "base_model_name", &base, &present, jerr, sizeof(jerr)) < 0) {
        snprintf(err, errlen, "%s", jerr);
        goto out;
    }
    if (!name || check_name(name, err, errlen) < 0) {
        if (!name)
            snprintf(err, errlen, "\"name\" is required");
        goto out;
    }
    if (base && *base && strcmp(base, base_model) != 0) {
        snprintf(err, errlen, "base_model_name \"%.100s\" is not the base model \"%.100s\"", base,
                 base_model);
        goto out;
    }
    out->name = xstrdup(name);
    out->path = xstrdup(path ? path : "");
    rc = 0;
out:
    cJSON_Delete(j);
    return rc;
}

int sim_lora_parse_module(const char *spec, const char *base_model, struct sim_lora_module *out,
                          char *err, size_t errlen)
{
    out->name = out->path = NULL;
    const char *p = spec;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '{')
        return parse_json_module(p, base_model, out, err, errlen);
    const char *eq = strchr(spec, '=');
    if (!eq) {
        snprintf(err, errlen,
                 "expected a JSON object {\"name\",\"path\",\"base_model_name\"} or "
                 "name=path");
        return -EINVAL;
    }
    char *name = xstrndup(spec, (size_t)(eq - spec));
    if (check_name(name, err, errlen) < 0) {
        free(name);
        return -EINVAL;
    }
    out->name = name;
    out->path = xstrdup(eq + 1);
    return 0;
}

void sim_lora_module_release(struct sim_lora_module *m)
{
    if (!m)
        return;
    free(m->name);
    free(m->path);
    m->name = m->path = NULL;
}

int sim_lora_parse_request(const char *body, size_t len, bool load, struct sim_lora_module *out,
                           char *err, size_t errlen, const char **param)
{
    char jerr[200];
    const char *name = NULL, *path = NULL;
    bool present;
    out->name = out->path = NULL;
    *param = NULL;
    cJSON *j = json_parse(body, len, jerr, sizeof(jerr));
    int rc = -EINVAL;
    if (!j || !cJSON_IsObject(j)) {
        snprintf(err, errlen, "failed to read and parse %s lora request body: %s",
                 load ? "load" : "unload", j ? "not a JSON object" : jerr);
        goto out;
    }
    *param = "lora_name";
    if (json_opt_str(j, "lora_name", &name, &present, jerr, sizeof(jerr)) < 0) {
        snprintf(err, errlen, "%s", jerr);
        goto out;
    }
    if (!name) {
        snprintf(err, errlen, "'lora_name' is required");
        goto out;
    }
    if (check_name(name, err, errlen) < 0)
        goto out;
    if (load && json_opt_str(j, "lora_path", &path, &present, jerr, sizeof(jerr)) < 0) {
        *param = "lora_path";
        snprintf(err, errlen, "%s", jerr);
        goto out;
    }
    *param = NULL;
    out->name = xstrdup(name);
    out->path = xstrdup(path ? path : "");
    rc = 0;
out:
    cJSON_Delete(j);
    return rc;
}

struct sim_lora {
    pthread_mutex_t mu;
    struct sim_lora_module *v;
    size_t n, cap;
};

struct sim_lora *sim_lora_new(void)
{
    struct sim_lora *l = xcalloc(1, sizeof(*l));
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

void sim_lora_free(struct sim_lora *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        sim_lora_module_release(&l->v[i]);
    free(l->v);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* Index of name, or l->n. Caller holds the lock. */
static size_t find(const struct sim_lora *l, const char *name)
{
    size_t i = 0;
    while (i < l->n && strcmp(l->v[i].name, name) != 0)
        i++;
    return i;
}

void sim_lora_put(struct sim_lora *l, const char *name, const char *path)
{
    pthread_mutex_lock(&l->mu);
    size_t i = find(l, name);
    if (i < l->n) {
        free(l->v[i].path);
        l->v[i].path = xstrdup(path);
    } else {
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 8;
            l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
        }
        l->v[l->n].name = xstrdup(name);
        l->v[l->n].path = xstrdup(path);
        l->n++;
    }
    pthread_mutex_unlock(&l->mu);
}

int sim_lora_remove(struct sim_lora *l, const char *name)
{
    pthread_mutex_lock(&l->mu);
    size_t i = find(l, name);
    int rc = -ENOENT;
    if (i < l->n) {
        sim_lora_module_release(&l->v[i]);
        memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
        l->n--;
        rc = 0;
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

bool sim_lora_has(struct sim_lora *l, const char *name)
{
    pthread_mutex_lock(&l->mu);
    bool r = find(l, name) < l->n;
    pthread_mutex_unlock(&l->mu);
    return r;
}

int sim_lora_each(struct sim_lora *l, sim_lora_each_fn fn, void *arg)
{
    int rc = 0;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->n && rc == 0; i++)
        rc = fn(arg, l->v[i].name, l->v[i].path);
    pthread_mutex_unlock(&l->mu);
    return rc;
}
