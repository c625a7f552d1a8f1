#include "controller/reconcile.h"

#include "common/json.h"
#include "common/log.h"
#include "controller/events.h"
#include "controller/pd_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A Kubernetes quantity ("500m", "1Gi", "2", 1.5e3) as a number; false when
 * text is not one. */
bool k8s_quantity(const char *text, double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text)
        return false;
    static const struct {
        const char *suffix;
        double mult;
    } sfx[] = {{"Ki", 0x1p10}, {"Mi", 0x1p20}, {"Gi", 0x1p30}, {"Ti", 0x1p40},
               {"Pi", 0x1p50}, {"Ei", 0x1p60}, {"n", 1e-9},    {"u", 1e-6},
               {"m", 1e-3},    {"k", 1e3},     {"M", 1e6},     {"G", 1e9},
               {"T", 1e12},    {"P", 1e15},    {"E", 1e18},    {"", 1}};
    for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
        if (strcmp(end, sfx[i].suffix) == 0) {
            *out = v * sfx[i].mult;
            return true;
        }
    }
    return false;
}

/* Scalars equal, or (under "resources") the same quantity written another
 * way, as the API server normalises them ("1" and 1, "1000m" and "1"). */
static bool scalar_same(const cJSON *want, const cJSON *have, bool quantity)
{
    if (!have)
        return false;
    if (cJSON_Compare(want, have, 1))
        return true;
    if (!quantity)
        return false;
    char a[64], b[64];
    double x, y;
    if (cJSON_IsNumber(want))
        snprintf(a, sizeof(a), "%.17g", want->valuedouble);
    else if (cJSON_IsString(want))
        snprintf(a, sizeof(a), "%s", want->valuestring);
    else
        return false;
    if (cJSON_IsNumber(have))
        snprintf(b, sizeof(b), "%.17g", have->valuedouble);
    else if (cJSON_IsString(have))
        snprintf(b, sizeof(b), "%s", have->valuestring);
    else
        return false;
    return k8s_quantity(a, &x) && k8s_quantity(b, &y) &&
           (x == y || (x - y) * (x - y) <= 1e-18 * (x * x + y * y));
}

static bool subset(const cJSON *want, const cJSON *have, bool quantity)
{
    if (cJSON_IsObject(want)) {
        if (!cJSON_IsObject(have))
            return false;
        const cJSON *it;
        cJSON_ArrayForEach(it, want)
        {
            if (!subset(it, cJSON_GetObjectItemCaseSensitive(have, it->string),
                        quantity || strcmp(it->string, "resources") == 0))
                return false;
        }
        return true;
    }
    if (cJSON_IsArray(want)) {
        if (!cJSON_IsArray(have) || cJSON_GetArraySize(want) != cJSON_GetArraySize(have))
            return false;
        for (const cJSON *a = want->child, *b = have->child; a; a = a->next, b = b->next)
            if (!subset(a, b, quantity))
                return false;
        return true;
    }
    return scalar_same(want, have, quantity);
}

bool json_subset(const cJSON *want, const cJSON *have)
{
    return subset(want, have, false);
}

/* want is in live, leaving out apiVersion and kind: the items of a real LIST
 * of built-in kinds do not carry them. */
static bool child_same(const cJSON *want, const cJSON *live)
{
    if (!cJSON_IsObject(live))
        return false;
    const cJSON *it;
    cJSON_ArrayForEach(it, want)
    {
        if (strcmp(it->string, "apiVersion") == 0 || strcmp(it->string, "kind") == 0)
            continue;
        if (!subset(it, cJSON_GetObjectItemCaseSensitive(live, it->string), false))
            return false;
    }
    return true;
}

/* FNV-1a, 64 bits, as 16 hex digits. */
static void hash_hex(const char *s, char out[17])
{
    unsigned long long h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    snprintf(out, 17, "%016llx", h);
}

static const char *str_at(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, a), b);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void path_of(char *out, size_t len, const char *kind, const char *ns, const char *name)
{
    if (strcmp(kind, "Deployment") == 0)
        snprintf(out, len, "/apis/apps/v1/namespaces/%s/deployments/%s", ns, name);
    else
        snprintf(out, len, "/api/v1/namespaces/%s/services/%s", ns, name);
}

/* Apply desired unless the live child already has it. The child carries the
 * hash of its desired state (annotation pdsim.io/desired-hash): a field
 * dropped from the desired state changes the hash, so it is applied, and
 * server-side apply removes the field the controller no longer owns.
 * Returns 0 (nothing to do), 1 (created), 2 (updated) or -1; *applied gets
 * the server's answer when it applied (the caller deletes it). */
static int apply_child(struct reconciler *r, const cJSON *desired, cJSON **applied, char *err,
                       size_t errlen)
{
    const char *ns = str_at(desired, "metadata", "namespace"),
               *name = str_at(desired, "metadata", "name");
    const char *kind = cJSON_GetObjectItemCaseSensitive(desired, "kind")->valuestring;
    char *text = cJSON_PrintUnformatted(desired), hash[17];
    hash_hex(text, hash);
    cJSON_free(text);
    cJSON *want = cJSON_Duplicate(desired, 1);
    cJSON *md = cJSON_GetObjectItemCaseSensitive(want, "metadata");
    cJSON *ann = cJSON_GetObjectItemCaseSensitive(md, "annotations");
    if (!ann)
        ann = cJSON_AddObjectToObject(md, "annotations");
    cJSON_AddStringToObject(ann, "pdsim.io/desired-hash", hash);
    struct informer *inf = strcmp(kind, "Deployment") == 0 ? r->deployments : r->services;
    cJSON *live = informer_get(inf, ns, name);
    bool same = live && child_same(want, live), existed = live != NULL;
    cJSON_Delete(live);
    if (same) {
        cJSON_Delete(want);
        return 0;
    }
    char base[1024], path[1200];
    path_of(base, sizeof(base), kind, ns, name);
    snprintf(path, sizeof(path), "%s?fieldManager=pdsim-controller&force=true", base);
    char *body = cJSON_PrintUnformatted(want);
    struct k8s_resp resp;
    k8s_resp_init(&resp);
    int rc = k8s_request(r->client, "PATCH", path, "application/apply-patch+yaml", body, &resp, err,
                         errlen);
    if (rc == 0 && resp.status >= 300) {
        snprintf(err, errlen, "apply %s %s/%s: HTTP %ld %s", kind, ns, name, resp.status,
                 k8s_status_message(&resp));
        rc = -1;
    }
    if (rc == 0) {
        atomic_fetch_add(&r->applies, 1);
        log_info("applied", LOG_STR("kind", kind), LOG_STR("namespace", ns), LOG_STR("name", name));
        rc = existed ? 2 : 1;
        *applied = json_parse(resp.body.data ? resp.body.data : "", resp.body.len, NULL, 0);
    }
    cJSON_free(body);
    cJSON_Delete(want);
    k8s_resp_release(&resp);
    return rc;
}

/* PUT /status. Returns 0, 1 on 409 Conflict (err set), or -1. */
static int write_status(struct reconciler *r, const cJSON *cr, const cJSON *status, char *err,
                        size_t errlen)
{
    const char *ns = str_at(cr, "metadata", "namespace"), *name = str_at(cr, "metadata", "name");
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "apiVersion", "pdsim.io/v1alpha1");
    cJSON_AddStringToObject(body, "kind", "PDSimulation");
    cJSON_AddItemToObject(body, "metadata",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(cr, "metadata"), 1));
    cJSON_AddItemToObject(body, "status", cJSON_Duplicate(status, 1));
    char path[1024], *text = cJSON_PrintUnformatted(body);
    snprintf(path, sizeof(path), "/apis/pdsim.io/v1alpha1/namespaces/%s/pdsimulations/%s/status",
             ns, name);
    struct k8s_resp resp;
    k8s_resp_init(&resp);
    int rc = k8s_request(r->client, "PUT", path, NULL, text, &resp, err, errlen);
    if (rc == 0 && resp.status >= 300) {
        snprintf(err, errlen, "status of %s/%s: HTTP %ld %s", ns, name, resp.status,
                 k8s_status_message(&resp));
        rc = resp.status == 409 ? 1 : -1;
    }
    if (rc == 0)
        atomic_fetch_add(&r->status_writes, 1);
    cJSON_free(text);
    cJSON_Delete(body);
    k8s_resp_release(&resp);
    return rc;
}

/* The resource as the API server has it now (NULL with err when it cannot be
 * read; NULL with err "" when it is gone). */
static cJSON *read_fresh(struct reconciler *r, const char *ns, const char *name, char *err,
                         size_t errlen)
{
    char path[1024];
    snprintf(path, sizeof(path), "/apis/pdsim.io/v1alpha1/namespaces/%s/pdsimulations/%s", ns,
             name);
    struct k8s_resp resp;
    k8s_resp_init(&resp);
    cJSON *obj = NULL;
    err[0] = '\0';
    if (k8s_request(r->client, "GET", path, NULL, NULL, &resp, err, errlen) == 0) {
        if (resp.status == 200)
            obj = json_parse(resp.body.data, resp.body.len, NULL, 0);
        else if (resp.status != 404)
            snprintf(err, errlen, "get %s/%s: HTTP %ld %s", ns, name, resp.status,
                     k8s_status_message(&resp));
    }
    k8s_resp_release(&resp);
    return obj;
}

static long long generation(const cJSON *cr)
{
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cr, "metadata"), "generation");
    return cJSON_IsNumber(g) ? (long long)g->valuedouble : 0;
}

static bool cond_true(const cJSON *c)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(c, "status");
    return cJSON_IsString(s) && strcmp(s->valuestring, "True") == 0;
}

static const char *cond_str(const cJSON *c, const char *field)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(c, field);
    return cJSON_IsString(s) ? s->valuestring : "";
}

/* Events for the Ready and Degraded transitions from old to new status. A
 * first status that is not Ready says nothing: the resource is just new. */
static void transition_events(struct reconciler *r, const cJSON *cr, const cJSON *old,
                              const cJSON *now)
{
    if (!r->events)
        return;
    const cJSON *ro = pd_condition(old, "Ready"), *rn = pd_condition(now, "Ready");
    if (rn && cond_true(rn) && !(ro && cond_true(ro)))
        recorder_event(r->events, cr, "Normal", "Ready", "%s", cond_str(rn, "message"));
    else if (rn && !cond_true(rn) && ro && cond_true(ro))
        recorder_event(r->events, cr, "Warning", "NotReady", "%s: %s", cond_str(rn, "reason"),
                       cond_str(rn, "message"));
    const cJSON *dold = pd_condition(old, "Degraded"), *dn = pd_condition(now, "Degraded");
    if (dn && cond_true(dn) && !(dold && cond_true(dold)))
        recorder_event(r->events, cr, "Warning", cond_str(dn, "reason"), "%s",
                       cond_str(dn, "message"));
    else if (dn && !cond_true(dn) && dold && cond_true(dold))
        recorder_event(r->events, cr, "Normal", "Recovered", "%s", cond_str(dn, "message"));
}

int reconcile(struct reconciler *r, const char *key, char *err, size_t errlen)
{
    char ns[256], name[256];
    const char *slash = strchr(key, '/');
    if (!slash || (size_t)(slash - key) >= sizeof(ns)) {
        snprintf(err, errlen, "bad key %s", key);
        return -1;
    }
    snprintf(ns, sizeof(ns), "%.*s", (int)(slash - key), key);
    snprintf(name, sizeof(name), "%s", slash + 1);
    cJSON *cr = informer_get(r->pdsims, ns, name);
    if (!cr)
        return 0; /* deleted: garbage collection removes the children */
    if (str_at(cr, "metadata", "deletionTimestamp")) {
        cJSON_Delete(cr);
        return 0;
    }
    char derr[512] = "";
    cJSON *children = pd_desired_children(cr, &r->opts, derr, sizeof(derr));
    int rc = 0;
    const cJSON *child;
    char created[1024] = "", updated[1024] = "", pname[300], dname[300], now[32];
    snprintf(pname, sizeof(pname), "%s-p", name);
    snprintf(dname, sizeof(dname), "%s-d", name);
    cJSON *p = NULL, *d = NULL; /* Deployments as just applied: fresher than the informer's */
    cJSON_ArrayForEach(child, children)
    {
        cJSON *applied = NULL;
        int a = apply_child(r, child, &applied, err, errlen);
        if (a < 0) {
            rc = -1;
            break;
        }
        const char *cname = str_at(child, "metadata", "name");
        if (applied &&
            strcmp(cJSON_GetObjectItemCaseSensitive(child, "kind")->valuestring, "Deployment") ==
                0 &&
            (strcmp(cname, pname) == 0 || strcmp(cname, dname) == 0)) {
            cJSON **slot = strcmp(cname, pname) == 0 ? &p : &d;
            cJSON_Delete(*slot);
            *slot = applied;
            applied = NULL;
        }
        cJSON_Delete(applied);
        if (a > 0) {
            char *list = a == 1 ? created : updated;
            size_t len = strlen(list);
            snprintf(list + len, 1024 - len, "%s%s %s", len ? ", " : "",
                     cJSON_GetObjectItemCaseSensitive(child, "kind")->valuestring,
                     str_at(child, "metadata", "name"));
        }
    }
    /* One event per pass and verb, so a drift that keeps coming back is one
     * Event with a growing count. */
    if (r->events && created[0])
        recorder_event(r->events, cr, "Normal", "Created", "Created %s", created);
    if (r->events && updated[0])
        recorder_event(r->events, cr, "Normal", "Updated", "Updated %s", updated);
    if (!p)
        p = informer_get(r->deployments, ns, pname);
    if (!d)
        d = informer_get(r->deployments, ns, dname);
    pd_now(now, sizeof(now));
    const cJSON *old = cJSON_GetObjectItemCaseSensitive(cr, "status");
    cJSON *status =
        pd_status(cr, p, d, old, children ? NULL : "InvalidSpec", children ? NULL : derr, now);
    if (!children)
        log_warn("invalid spec", LOG_STR("key", key), LOG_STR("reason", derr));
    if (rc == 0 && !cJSON_Compare(status, old, 1)) {
        rc = write_status(r, cr, status, err, errlen);
        if (rc == 0)
            transition_events(r, cr, old, status);
    }
    /* 409: someone wrote the resource since the informer saw it. Re-read it;
     * with the same spec (generation), recompute the status against what is
     * there now and write again. A new spec comes with its own watch event,
     * which queues this key again. */
    for (int tries = 0; rc == 1 && tries < 3; tries++) {
        atomic_fetch_add(&r->conflicts, 1);
        cJSON *fresh = read_fresh(r, ns, name, err, errlen);
        if (!fresh) {
            rc = err[0] ? -1 : 0;
            break;
        }
        if (generation(fresh) != generation(cr)) {
            cJSON_Delete(fresh);
            rc = 0;
            break;
        }
        const cJSON *fold = cJSON_GetObjectItemCaseSensitive(fresh, "status");
        cJSON_Delete(status);
        status = pd_status(fresh, p, d, fold, children ? NULL : "InvalidSpec",
                           children ? NULL : derr, now);
        rc = cJSON_Compare(status, fold, 1) ? 0 : write_status(r, fresh, status, err, errlen);
        if (rc == 0)
            transition_events(r, fresh, fold, status);
        cJSON_Delete(fresh);
    }
    if (rc == 1)
        rc = -1; /* still conflicting: back off and try again */
    cJSON_Delete(status);
    cJSON_Delete(p);
    cJSON_Delete(d);
    cJSON_Delete(children);
    cJSON_Delete(cr);
    return rc;
}
