#include "controller/reconcile.h"

#include "common/log.h"
#include "controller/pd_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool json_subset(const cJSON *want, const cJSON *have)
{
    if (cJSON_IsObject(want)) {
        if (!cJSON_IsObject(have))
            return false;
        const cJSON *it;
        cJSON_ArrayForEach(it, want)
        {
            if (!json_subset(it, cJSON_GetObjectItemCaseSensitive(have, it->string)))
                return false;
        }
        return true;
    }
    if (cJSON_IsArray(want)) {
        if (!cJSON_IsArray(have) || cJSON_GetArraySize(want) != cJSON_GetArraySize(have))
            return false;
        for (const cJSON *a = want->child, *b = have->child; a; a = a->next, b = b->next)
            if (!json_subset(a, b))
                return false;
        return true;
    }
    return have && cJSON_Compare(want, have, 1);
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

static int apply_child(struct reconciler *r, const cJSON *want, char *err, size_t errlen)
{
    const char *ns = str_at(want, "metadata", "namespace"),
               *name = str_at(want, "metadata", "name");
    const char *kind = cJSON_GetObjectItemCaseSensitive(want, "kind")->valuestring;
    struct informer *inf = strcmp(kind, "Deployment") == 0 ? r->deployments : r->services;
    cJSON *live = informer_get(inf, ns, name);
    bool same = live && json_subset(want, live);
    cJSON_Delete(live);
    if (same)
        return 0;
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
    }
    cJSON_free(body);
    k8s_resp_release(&resp);
    return rc;
}

static void now_rfc3339(char *out, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int write_status(struct reconciler *r, cJSON *cr, cJSON *status, char *err, size_t errlen)
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
    if (rc == 0 && resp.status >= 300) { /* 409: a newer version; the next pass re-reads */
        snprintf(err, errlen, "status of %s/%s: HTTP %ld %s", ns, name, resp.status,
                 k8s_status_message(&resp));
        rc = -1;
    }
    if (rc == 0)
        atomic_fetch_add(&r->status_writes, 1);
    cJSON_free(text);
    cJSON_Delete(body);
    k8s_resp_release(&resp);
    return rc;
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
    cJSON_ArrayForEach(child, children)
    {
        if (apply_child(r, child, err, errlen) < 0) {
            rc = -1;
            break;
        }
    }
    char pname[300], dname[300], now[32];
    snprintf(pname, sizeof(pname), "%s-p", name);
    snprintf(dname, sizeof(dname), "%s-d", name);
    cJSON *p = informer_get(r->deployments, ns, pname),
          *d = informer_get(r->deployments, ns, dname);
    now_rfc3339(now, sizeof(now));
    const cJSON *old = cJSON_GetObjectItemCaseSensitive(cr, "status");
    cJSON *status =
        pd_status(cr, p, d, old, children ? NULL : "InvalidSpec", children ? NULL : derr, now);
    if (!children)
        log_warn("invalid spec", LOG_STR("key", key), LOG_STR("reason", derr));
    if (rc == 0 && !cJSON_Compare(status, old, 1))
        rc = write_status(r, cr, status, err, errlen);
    cJSON_Delete(status);
    cJSON_Delete(p);
    cJSON_Delete(d);
    cJSON_Delete(children);
    cJSON_Delete(cr);
    return rc;
}
