#include "controller/events.h"

#include "common/log.h"
#include "common/xalloc.h"
#include "controller/pd_status.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct entry {
    char *key;       /* uid \x1f type \x1f reason \x1f message */
    char *ns, *name; /* the Event object */
    long long count;
    unsigned long long used; /* recency, for eviction */
};

struct recorder {
    struct k8s_client *client;
    char *component, *instance;
    pthread_mutex_t mu;
    struct entry cache[EVENTS_CACHE];
    int n;
    unsigned long long tick;
    _Atomic unsigned long long created, aggregated, failed, seq;
};

struct recorder *recorder_new(struct k8s_client *c, const char *component, const char *instance)
{
    struct recorder *r = xcalloc(1, sizeof(*r));
    r->client = c;
    r->component = xstrdup(component);
    r->instance = xstrdup(instance);
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

static void entry_free(struct entry *e)
{
    free(e->key);
    free(e->ns);
    free(e->name);
    memset(e, 0, sizeof(*e));
}

void recorder_free(struct recorder *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n; i++)
        entry_free(&r->cache[i]);
    pthread_mutex_destroy(&r->mu);
    free(r->component);
    free(r->instance);
    free(r);
}

void recorder_counts(struct recorder *r, unsigned long long *created,
                     unsigned long long *aggregated, unsigned long long *failed)
{
    *created = atomic_load(&r->created);
    *aggregated = atomic_load(&r->aggregated);
    *failed = atomic_load(&r->failed);
}

static const char *md_str(const cJSON *obj, const char *field)
{
    const cJSON *v =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "metadata"), field);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static const char *top_str(const cJSON *obj, const char *field)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* POST or PATCH; returns the HTTP status, or 0 when the server was not
 * reached. */
static long send(struct recorder *r, const char *method, const char *path, const char *ctype,
                 cJSON *body)
{
    char *text = cJSON_PrintUnformatted(body), err[512] = "";
    struct k8s_resp resp;
    k8s_resp_init(&resp);
    long status = 0;
    if (k8s_request(r->client, method, path, ctype, text, &resp, err, sizeof(err)) == 0)
        status = resp.status;
    if (status < 200 || status >= 300) {
        if (status != 404)
            log_warn("event not recorded", LOG_STR("path", path), LOG_INT("status", status),
                     LOG_STR("error", status ? k8s_status_message(&resp) : err));
    }
    k8s_resp_release(&resp);
    cJSON_free(text);
    return status;
}

static cJSON *new_event(struct recorder *r, const cJSON *obj, const char *type, const char *reason,
                        const char *message, const char *name, const char *now)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "apiVersion", "v1");
    cJSON_AddStringToObject(ev, "kind", "Event");
    cJSON *md = cJSON_AddObjectToObject(ev, "metadata");
    cJSON_AddStringToObject(md, "name", name);
    cJSON_AddStringToObject(md, "namespace", md_str(obj, "namespace"));
    cJSON *io = cJSON_AddObjectToObject(ev, "involvedObject");
    cJSON_AddStringToObject(io, "apiVersion", top_str(obj, "apiVersion"));
    cJSON_AddStringToObject(io, "kind", top_str(obj, "kind"));
    cJSON_AddStringToObject(io, "namespace", md_str(obj, "namespace"));
    cJSON_AddStringToObject(io, "name", md_str(obj, "name"));
    cJSON_AddStringToObject(io, "uid", md_str(obj, "uid"));
    cJSON_AddStringToObject(io, "resourceVersion", md_str(obj, "resourceVersion"));
    cJSON_AddStringToObject(ev, "type", type);
    cJSON_AddStringToObject(ev, "reason", reason);
    cJSON_AddStringToObject(ev, "message", message);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(ev, "source"), "component", r->component);
    cJSON_AddStringToObject(ev, "reportingComponent", r->component);
    cJSON_AddStringToObject(ev, "reportingInstance", r->instance);
    cJSON_AddStringToObject(ev, "firstTimestamp", now);
    cJSON_AddStringToObject(ev, "lastTimestamp", now);
    cJSON_AddNumberToObject(ev, "count", 1);
    return ev;
}

/* The cache slot for key: found (key set), else an empty one, a new one, or
 * the least recently used (freed). */
static struct entry *slot(struct recorder *r, const char *key)
{
    struct entry *oldest = NULL, *empty = NULL;
    for (int i = 0; i < r->n; i++) {
        if (!r->cache[i].key) {
            empty = empty ? empty : &r->cache[i];
            continue;
        }
        if (strcmp(r->cache[i].key, key) == 0)
            return &r->cache[i];
        if (!oldest || r->cache[i].used < oldest->used)
            oldest = &r->cache[i];
    }
    if (empty)
        return empty;
    if (r->n < EVENTS_CACHE)
        return &r->cache[r->n++];
    entry_free(oldest);
    return oldest;
}

void recorder_event(struct recorder *r, const cJSON *obj, const char *type, const char *reason,
                    const char *fmt, ...)
{
    char message[1025], now[32], key[1400], path[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    pd_now(now, sizeof(now));
    const char *ns = md_str(obj, "namespace");
    snprintf(key, sizeof(key), "%s\x1f%s\x1f%s\x1f%s", md_str(obj, "uid"), type, reason, message);
    log_info("event", LOG_STR("object", md_str(obj, "name")), LOG_STR("type", type),
             LOG_STR("reason", reason), LOG_STR("message", message));

    /* One event at a time keeps a repeat from racing its own creation. */
    pthread_mutex_lock(&r->mu);
    struct entry *e = slot(r, key);
    e->used = ++r->tick;
    if (e->key) { /* seen: count it on the existing Event */
        cJSON *patch = cJSON_CreateObject();
        cJSON_AddNumberToObject(patch, "count", (double)(e->count + 1));
        cJSON_AddStringToObject(patch, "lastTimestamp", now);
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events/%s", e->ns, e->name);
        long st = send(r, "PATCH", path, "application/merge-patch+json", patch);
        cJSON_Delete(patch);
        if (st >= 200 && st < 300) {
            e->count++;
            atomic_fetch_add(&r->aggregated, 1);
            pthread_mutex_unlock(&r->mu);
            return;
        }
        if (st != 404) { /* keep the entry: the next repeat tries again */
            atomic_fetch_add(&r->failed, 1);
            pthread_mutex_unlock(&r->mu);
            return;
        }
        entry_free(e); /* the Event expired (its TTL): a new one */
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char name[400];
    snprintf(name, sizeof(name), "%.240s.%llx", md_str(obj, "name"),
             (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec +
                 atomic_fetch_add(&r->seq, 1));
    cJSON *ev = new_event(r, obj, type, reason, message, name, now);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ns);
    long st = send(r, "POST", path, NULL, ev);
    cJSON_Delete(ev);
    if (st >= 200 && st < 300) {
        e->key = xstrdup(key);
        e->ns = xstrdup(ns);
        e->name = xstrdup(name);
        e->count = 1;
        atomic_fetch_add(&r->created, 1);
    } else {
        atomic_fetch_add(&r->failed, 1); /* the slot stays empty (key NULL) for the next one */
    }
    pthread_mutex_unlock(&r->mu);
}
