#define _GNU_SOURCE /* strptime, timegm */
#include "controller/leader.h"

#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct leader {
    struct k8s_client *c;
    char path[1024], coll[512], name[256], identity[256];
    double lease_s, renew_s, retry_s;
    pthread_t thread;
    bool running;
    atomic_bool stop, lost;
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* MicroTime, as the API server writes it. */
static void micro_time(double t, char *out, size_t len)
{
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, len, "%s.%06dZ", base, (int)((t - floor(t)) * 1e6));
}

static double parse_time(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *rest = strptime(s ? s : "", "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return 0;
    double frac = *rest == '.' ? strtod(rest, NULL) : 0;
    return (double)timegm(&tm) + frac;
}

static void sleep_s(double s, atomic_bool *stop)
{
    for (double left = s; left > 0 && !(stop && atomic_load(stop)); left -= 0.05) {
        struct timespec t = {0, 50 * 1000000L};
        nanosleep(&t, NULL);
    }
}

/* Try once to hold the Lease: create it, renew ours, or take an expired
 * one. Returns true while we hold it. */
static bool try_hold(struct leader *l, bool release)
{
    struct k8s_resp r;
    char err[512];
    k8s_resp_init(&r);
    bool held = false;
    if (k8s_request(l->c, "GET", l->path, NULL, NULL, &r, err, sizeof(err)) < 0) {
        k8s_resp_release(&r);
        return false;
    }
    double now = now_s();
    char nowt[64];
    micro_time(now, nowt, sizeof(nowt));
    cJSON *lease = r.status == 200 ? json_parse(r.body.data, r.body.len, NULL, 0) : NULL;
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(lease, "spec");
    const cJSON *holder = cJSON_GetObjectItemCaseSensitive(spec, "holderIdentity");
    const cJSON *renew = cJSON_GetObjectItemCaseSensitive(spec, "renewTime");
    const cJSON *dur = cJSON_GetObjectItemCaseSensitive(spec, "leaseDurationSeconds");
    bool mine = cJSON_IsString(holder) && strcmp(holder->valuestring, l->identity) == 0;
    bool free_ = !cJSON_IsString(holder) || !*holder->valuestring ||
                 parse_time(cJSON_IsString(renew) ? renew->valuestring : NULL) +
                         (cJSON_IsNumber(dur) ? dur->valuedouble : l->lease_s) <
                     now;
    if (release && !mine) {
        cJSON_Delete(lease);
        k8s_resp_release(&r);
        return false;
    }
    if (r.status == 404 || mine || free_) {
        cJSON *body = lease ? lease : cJSON_CreateObject();
        if (!lease) {
            cJSON_AddStringToObject(body, "apiVersion", "coordination.k8s.io/v1");
            cJSON_AddStringToObject(body, "kind", "Lease");
            cJSON *md = cJSON_AddObjectToObject(body, "metadata");
            cJSON_AddStringToObject(md, "name", l->name);
            spec = cJSON_AddObjectToObject(body, "spec");
        }
        cJSON_DeleteItemFromObject(spec, "holderIdentity");
        cJSON_AddStringToObject(spec, "holderIdentity", release ? "" : l->identity);
        cJSON_DeleteItemFromObject(spec, "leaseDurationSeconds");
        cJSON_AddNumberToObject(spec, "leaseDurationSeconds", release ? 1 : round(l->lease_s));
        cJSON_DeleteItemFromObject(spec, "renewTime");
        cJSON_AddStringToObject(spec, "renewTime", nowt);
        if (!mine && !release) {
            cJSON_DeleteItemFromObject(spec, "acquireTime");
            cJSON_AddStringToObject(spec, "acquireTime", nowt);
            const cJSON *tr = cJSON_GetObjectItemCaseSensitive(spec, "leaseTransitions");
            double n = cJSON_IsNumber(tr) ? tr->valuedouble + (lease ? 1 : 0) : 0;
            cJSON_DeleteItemFromObject(spec, "leaseTransitions");
            cJSON_AddNumberToObject(spec, "leaseTransitions", n);
        }
        char *text = cJSON_PrintUnformatted(body);
        struct k8s_resp w;
        k8s_resp_init(&w);
        /* PUT carries the resourceVersion we read: two candidates cannot both win. */
        int rc = lease ? k8s_request(l->c, "PUT", l->path, NULL, text, &w, err, sizeof(err))
                       : k8s_request(l->c, "POST", l->coll, NULL, text, &w, err, sizeof(err));
        held = rc == 0 && w.status < 300 && !release;
        cJSON_free(text);
        k8s_resp_release(&w);
        if (!lease)
            cJSON_Delete(body);
    }
    cJSON_Delete(lease);
    k8s_resp_release(&r);
    return held;
}

static void *renew_loop(void *arg)
{
    struct leader *l = arg;
    double last_ok = now_s();
    while (!atomic_load(&l->stop)) {
        sleep_s(l->retry_s, &l->stop);
        if (atomic_load(&l->stop))
            break;
        if (try_hold(l, false)) {
            last_ok = now_s();
        } else if (now_s() - last_ok > l->renew_s) {
            log_warn("leadership lost", LOG_STR("identity", l->identity));
            atomic_store(&l->lost, true);
            break;
        }
    }
    return NULL;
}

struct leader *leader_new(struct k8s_client *c, const char *ns, const char *name,
                          const char *identity, double lease_s, double renew_s, double retry_s)
{
    struct leader *l = xcalloc(1, sizeof(*l));
    l->c = c;
    snprintf(l->coll, sizeof(l->coll), "/apis/coordination.k8s.io/v1/namespaces/%s/leases", ns);
    snprintf(l->path, sizeof(l->path), "%s/%s", l->coll, name);
    snprintf(l->name, sizeof(l->name), "%s", name);
    snprintf(l->identity, sizeof(l->identity), "%s", identity);
    l->lease_s = lease_s > 0 ? lease_s : 15;
    l->renew_s = renew_s > 0 ? renew_s : 10;
    l->retry_s = retry_s > 0 ? retry_s : 2;
    return l;
}

bool leader_acquire(struct leader *l, atomic_bool *stop)
{
    while (!(stop && atomic_load(stop))) {
        if (try_hold(l, false)) {
            log_info("became leader", LOG_STR("identity", l->identity), LOG_STR("lease", l->path));
            l->running = pthread_create(&l->thread, NULL, renew_loop, l) == 0;
            return true;
        }
        sleep_s(l->retry_s, stop);
    }
    return false;
}

bool leader_lost(struct leader *l)
{
    return atomic_load(&l->lost);
}

void leader_release(struct leader *l)
{
    if (!l)
        return;
    atomic_store(&l->stop, true);
    if (l->running) {
        pthread_join(l->thread, NULL);
        if (!atomic_load(&l->lost))
            try_hold(l, true);
    }
    free(l);
}
