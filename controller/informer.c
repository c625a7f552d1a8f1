#include "controller/informer.h"

#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

/* Objects are kept as compact JSON text, without metadata.managedFields (as
 * controller-runtime's cache strips them): a cJSON tree costs about ten times
 * its text, and the store is most of the controller's memory. */
struct entry {
    char *key;  /* "namespace/name" */
    char *rv;   /* metadata.resourceVersion */
    char *json; /* the object */
};

struct informer {
    struct k8s_client *c;
    struct informer_opts o;
    char *path, *selector;
    informer_fn fn;
    void *arg;
    pthread_t thread;
    pthread_mutex_t mu; /* the store, and the stop wait */
    pthread_cond_t cv;
    struct entry *v;
    size_t n, cap;
    atomic_bool stop, synced;
    _Atomic unsigned long long restarts, relists;
    unsigned seed;
};

static void key_of(const cJSON *obj, char *out, size_t outlen)
{
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *ns = cJSON_GetObjectItemCaseSensitive(md, "namespace");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(md, "name");
    snprintf(out, outlen, "%s/%s", cJSON_IsString(ns) ? ns->valuestring : "",
             cJSON_IsString(name) ? name->valuestring : "");
}

static const char *rv_of(const cJSON *obj)
{
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "resourceVersion");
    return cJSON_IsString(rv) ? rv->valuestring : "";
}

/* With mu held. */
static ssize_t find(struct informer *inf, const char *key)
{
    for (size_t i = 0; i < inf->n; i++)
        if (strcmp(inf->v[i].key, key) == 0)
            return (ssize_t)i;
    return -1;
}

/* Put or remove obj in the store; returns the event to report (ADDED or
 * MODIFIED for a put; -1 when nothing changed). */
static void entry_free(struct entry *e)
{
    free(e->key);
    free(e->rv);
    free(e->json);
}

/* obj as stored: compact text without managedFields (a heap string). */
static char *stored_text(const cJSON *obj)
{
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    cJSON *copy = NULL;
    if (cJSON_GetObjectItemCaseSensitive(md, "managedFields")) {
        copy = cJSON_Duplicate(obj, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(copy, "metadata"),
                                                "managedFields");
    }
    char *text = cJSON_PrintUnformatted(copy ? copy : obj);
    cJSON_Delete(copy);
    char *out = xstrdup(text);
    cJSON_free(text);
    return out;
}

static int store_put(struct informer *inf, const cJSON *obj)
{
    char key[600];
    key_of(obj, key, sizeof(key));
    char *json = stored_text(obj);
    pthread_mutex_lock(&inf->mu);
    ssize_t i = find(inf, key);
    int ev = K8S_ADDED;
    if (i >= 0) {
        ev = strcmp(inf->v[i].rv, rv_of(obj)) == 0 ? -1 : K8S_MODIFIED;
        free(inf->v[i].rv);
        free(inf->v[i].json);
        inf->v[i].rv = xstrdup(rv_of(obj));
        inf->v[i].json = json;
    } else {
        if (inf->n == inf->cap) {
            inf->cap = inf->cap ? inf->cap * 2 : 32;
            inf->v = xrealloc(inf->v, inf->cap * sizeof(*inf->v));
        }
        inf->v[inf->n++] = (struct entry){xstrdup(key), xstrdup(rv_of(obj)), json};
    }
    pthread_mutex_unlock(&inf->mu);
    return ev;
}

static void store_remove(struct informer *inf, const char *key)
{
    pthread_mutex_lock(&inf->mu);
    ssize_t i = find(inf, key);
    if (i >= 0) {
        entry_free(&inf->v[i]);
        inf->v[i] = inf->v[--inf->n];
    }
    pthread_mutex_unlock(&inf->mu);
}

static int on_watch_event(void *arg, enum k8s_event t, const cJSON *obj)
{
    struct informer *inf = arg;
    if (t == K8S_DELETED) {
        char key[600];
        key_of(obj, key, sizeof(key));
        store_remove(inf, key);
        inf->fn(inf->arg, t, obj);
    } else if (t == K8S_ADDED || t == K8S_MODIFIED) {
        int ev = store_put(inf, obj);
        if (ev >= 0)
            inf->fn(inf->arg, (enum k8s_event)ev, obj);
    }
    return 0;
}

/* Sleep s seconds unless stopped first. Returns false when stopped. */
static bool nap(struct informer *inf, double s)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long ns = ts.tv_nsec + (long long)(s * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    pthread_mutex_lock(&inf->mu);
    while (!atomic_load(&inf->stop) && pthread_cond_timedwait(&inf->cv, &inf->mu, &ts) == 0)
        ;
    pthread_mutex_unlock(&inf->mu);
    return !atomic_load(&inf->stop);
}

double backoff_step(double *delay, double max_s, double r)
{
    double d = *delay * (1.0 + r);
    *delay = *delay * 2 < max_s ? *delay * 2 : max_s;
    return d < max_s ? d : max_s;
}

static bool back_off(struct informer *inf, double *delay)
{
    return nap(inf,
               backoff_step(delay, inf->o.backoff_max_s, (double)rand_r(&inf->seed) / RAND_MAX));
}

static void add_selector(struct informer *inf, char *url, size_t len)
{
    if (!inf->selector)
        return;
    char *esc = curl_easy_escape(NULL, inf->selector, 0);
    size_t n = strlen(url);
    snprintf(url + n, len - n, "%slabelSelector=%s", strchr(url, '?') ? "&" : "?", esc);
    curl_free(esc);
}

/* LIST into the store: report new and changed objects, and as DELETED the
 * stored ones the list no longer has. Returns 0 with rv set, or -1. */
static int relist(struct informer *inf, char *rv, size_t rvlen)
{
    char url[4096], err[1024];
    snprintf(url, sizeof(url), "%s", inf->path);
    add_selector(inf, url, sizeof(url));
    struct k8s_resp r;
    k8s_resp_init(&r);
    int rc = k8s_request(inf->c, "GET", url, NULL, NULL, &r, err, sizeof(err));
    cJSON *list = rc == 0 && r.status == 200 ? json_parse(r.body.data, r.body.len, NULL, 0) : NULL;
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items");
    if (!cJSON_IsArray(items)) {
        log_warn("list failed", LOG_STR("path", inf->path), LOG_INT("status", r.status),
                 LOG_STR("error", rc < 0 ? err : k8s_status_message(&r)));
        cJSON_Delete(list);
        k8s_resp_release(&r);
        return -1;
    }
    /* Vanished objects first (client-go's Replace). */
    pthread_mutex_lock(&inf->mu);
    size_t n = inf->n;
    char **keys = xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        keys[i] = xstrdup(inf->v[i].key);
    pthread_mutex_unlock(&inf->mu);
    for (size_t i = 0; i < n; i++) {
        bool present = false;
        const cJSON *it;
        cJSON_ArrayForEach(it, items)
        {
            char key[600];
            key_of(it, key, sizeof(key));
            if (strcmp(key, keys[i]) == 0) {
                present = true;
                break;
            }
        }
        if (!present) {
            pthread_mutex_lock(&inf->mu);
            ssize_t j = find(inf, keys[i]);
            cJSON *last = j >= 0 ? cJSON_Parse(inf->v[j].json) : NULL;
            pthread_mutex_unlock(&inf->mu);
            store_remove(inf, keys[i]);
            if (last)
                inf->fn(inf->arg, K8S_DELETED, last);
            cJSON_Delete(last);
        }
        free(keys[i]);
    }
    free(keys);
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        int ev = store_put(inf, it);
        if (ev >= 0)
            inf->fn(inf->arg, (enum k8s_event)ev, it);
    }
    snprintf(rv, rvlen, "%s", rv_of(list));
    cJSON_Delete(list);
    k8s_resp_release(&r);
    atomic_store(&inf->synced, true);
    return 0;
}

static void *run(void *arg)
{
    struct informer *inf = arg;
    double delay = inf->o.backoff_init_s;
    char rv[64] = "";
    bool need_list = true;
    while (!atomic_load(&inf->stop)) {
        if (need_list) {
            if (relist(inf, rv, sizeof(rv)) < 0) {
                if (!back_off(inf, &delay))
                    break;
                continue;
            }
            need_list = false;
            delay = inf->o.backoff_init_s;
        }
        int span = inf->o.watch_timeout_max_s - inf->o.watch_timeout_min_s;
        int timeout = inf->o.watch_timeout_min_s + (span > 0 ? rand_r(&inf->seed) % span : 0);
        char url[4096], err[1024] = "";
        snprintf(url, sizeof(url),
                 "%s?watch=1&resourceVersion=%s&allowWatchBookmarks=true&timeoutSeconds=%d",
                 inf->path, rv, timeout);
        add_selector(inf, url, sizeof(url));
        struct k8s_watch_dec d;
        k8s_watch_dec_init(&d, 64u << 20);
        int rc = k8s_watch(inf->c, url, &d, on_watch_event, inf, &inf->stop, err, sizeof(err));
        if (d.rv[0])
            snprintf(rv, sizeof(rv), "%s", d.rv);
        bool got_events = d.rv[0] != '\0';
        k8s_watch_dec_release(&d);
        if (atomic_load(&inf->stop))
            break;
        atomic_fetch_add(&inf->restarts, 1);
        if (rc == K8S_WATCH_EXPIRED || rc == 410) { /* an ERROR event, or the HTTP answer */
            atomic_fetch_add(&inf->relists, 1);
            log_info("watch expired, listing again", LOG_STR("path", inf->path));
            need_list = true;
        } else if (rc != 0) {
            log_warn("watch failed", LOG_STR("path", inf->path), LOG_INT("result", rc),
                     LOG_STR("error", err));
            if (!back_off(inf, &delay))
                break;
        } else if (got_events) {
            delay = inf->o.backoff_init_s; /* a healthy watch */
        }
    }
    return NULL;
}

struct informer *informer_start(struct k8s_client *c, const struct informer_opts *o, informer_fn fn,
                                void *arg)
{
    struct informer *inf = xcalloc(1, sizeof(*inf));
    inf->c = c;
    inf->o = *o;
    inf->path = xstrdup(o->path);
    inf->selector = o->label_selector ? xstrdup(o->label_selector) : NULL;
    inf->o.path = inf->path;
    inf->o.label_selector = inf->selector;
    if (inf->o.backoff_init_s <= 0)
        inf->o.backoff_init_s = 0.8;
    if (inf->o.backoff_max_s <= 0)
        inf->o.backoff_max_s = 30;
    if (inf->o.watch_timeout_min_s <= 0)
        inf->o.watch_timeout_min_s = 300;
    if (inf->o.watch_timeout_max_s <= inf->o.watch_timeout_min_s)
        inf->o.watch_timeout_max_s = inf->o.watch_timeout_min_s * 2;
    inf->fn = fn;
    inf->arg = arg;
    inf->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)inf;
    pthread_mutex_init(&inf->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&inf->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_create(&inf->thread, NULL, run, inf);
    return inf;
}

void informer_stop(struct informer *inf)
{
    if (!inf)
        return;
    pthread_mutex_lock(&inf->mu);
    atomic_store(&inf->stop, true);
    pthread_cond_broadcast(&inf->cv);
    pthread_mutex_unlock(&inf->mu);
    pthread_join(inf->thread, NULL);
    for (size_t i = 0; i < inf->n; i++)
        entry_free(&inf->v[i]);
    free(inf->v);
    free(inf->path);
    free(inf->selector);
    pthread_cond_destroy(&inf->cv);
    pthread_mutex_destroy(&inf->mu);
    free(inf);
}

bool informer_synced(struct informer *inf)
{
    return atomic_load(&inf->synced);
}

cJSON *informer_get(struct informer *inf, const char *ns, const char *name)
{
    char key[600];
    snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", name);
    pthread_mutex_lock(&inf->mu);
    ssize_t i = find(inf, key);
    cJSON *out = i >= 0 ? cJSON_Parse(inf->v[i].json) : NULL;
    pthread_mutex_unlock(&inf->mu);
    return out;
}

size_t informer_len(struct informer *inf)
{
    pthread_mutex_lock(&inf->mu);
    size_t n = inf->n;
    pthread_mutex_unlock(&inf->mu);
    return n;
}

unsigned long long informer_watch_restarts(struct informer *inf)
{
    return atomic_load(&inf->restarts);
}

unsigned long long informer_relists(struct informer *inf)
{
    return atomic_load(&inf->relists);
}
