#include "controller/pd_status.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double num(const cJSON *obj, const char *a, const char *b, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, a);
    if (b)
        v = cJSON_GetObjectItemCaseSensitive(v, b);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static const char *text(const cJSON *obj, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, a);
    if (b)
        v = cJSON_GetObjectItemCaseSensitive(v, b);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The Deployment's condition of type t, or NULL. */
const cJSON *pd_condition(const cJSON *status, const char *type)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(status, "conditions"))
    {
        const char *t = text(c, "type", NULL);
        if (t && strcmp(t, type) == 0)
            return c;
    }
    return NULL;
}

void pd_now(char *out, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const cJSON *dep_condition(const cJSON *dep, const char *t)
{
    return pd_condition(cJSON_GetObjectItemCaseSensitive(dep, "status"), t);
}

enum role_state { ROLE_MISSING, ROLE_ROLLING, ROLE_READY, ROLE_FAILED };

struct role {
    const char *name; /* "Prefill" or "Decode" */
    enum role_state state;
    char reason[64], message[256];
    double desired, ready, available, updated, current;
};

/* kubectl rollout status, from the Deployment's spec and status. */
static void role_of(const cJSON *dep, const char *name, struct role *r)
{
    memset(r, 0, sizeof(*r));
    r->name = name;
    if (!dep) {
        r->state = ROLE_MISSING;
        snprintf(r->reason, sizeof(r->reason), "DeploymentMissing");
        snprintf(r->message, sizeof(r->message), "the %s Deployment does not exist yet", name);
        return;
    }
    r->desired = num(dep, "spec", "replicas", 1);
    r->current = num(dep, "status", "replicas", 0);
    r->updated = num(dep, "status", "updatedReplicas", 0);
    r->ready = num(dep, "status", "readyReplicas", 0);
    r->available = num(dep, "status", "availableReplicas", 0);
    double gen = num(dep, "metadata", "generation", 0);
    double observed = num(dep, "status", "observedGeneration", -1);
    const cJSON *prog = dep_condition(dep, "Progressing");
    const cJSON *fail = dep_condition(dep, "ReplicaFailure");
    const char *prog_reason = text(prog, "reason", NULL);
    if (prog_reason && strcmp(prog_reason, "ProgressDeadlineExceeded") == 0) {
        r->state = ROLE_FAILED;
        snprintf(r->reason, sizeof(r->reason), "ProgressDeadlineExceeded");
        snprintf(r->message, sizeof(r->message), "%s",
                 text(prog, "message", NULL) ? text(prog, "message", NULL)
                                             : "the rollout exceeded its deadline");
    } else if (fail && text(fail, "status", NULL) &&
               strcmp(text(fail, "status", NULL), "True") == 0) {
        r->state = ROLE_FAILED;
        snprintf(r->reason, sizeof(r->reason), "ReplicaFailure");
        snprintf(r->message, sizeof(r->message), "%s",
                 text(fail, "message", NULL) ? text(fail, "message", NULL) : "replica failure");
    } else if (observed < gen) {
        r->state = ROLE_ROLLING;
        snprintf(r->reason, sizeof(r->reason), "RolloutPending");
        snprintf(r->message, sizeof(r->message),
                 "waiting for the deployment controller to observe generation %.0f", gen);
    } else if (r->updated < r->desired) {
        r->state = ROLE_ROLLING;
        snprintf(r->reason, sizeof(r->reason), "RollingOut");
        snprintf(r->message, sizeof(r->message), "%.0f of %.0f replicas updated", r->updated,
                 r->desired);
    } else if (r->current > r->updated) {
        r->state = ROLE_ROLLING;
        snprintf(r->reason, sizeof(r->reason), "RollingOut");
        snprintf(r->message, sizeof(r->message), "%.0f old replicas pending termination",
                 r->current - r->updated);
    } else if (r->available < r->updated) {
        r->state = ROLE_ROLLING;
        snprintf(r->reason, sizeof(r->reason), "ReplicasNotAvailable");
        snprintf(r->message, sizeof(r->message), "%.0f of %.0f updated replicas available",
                 r->available, r->updated);
    } else {
        r->state = ROLE_READY;
        snprintf(r->reason, sizeof(r->reason), "RolloutComplete");
        snprintf(r->message, sizeof(r->message), "%.0f/%.0f replicas available", r->available,
                 r->desired);
    }
}

static cJSON *role_status(const struct role *r)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddNumberToObject(s, "replicas", r->desired);
    cJSON_AddNumberToObject(s, "readyReplicas", r->ready);
    cJSON_AddNumberToObject(s, "availableReplicas", r->available);
    cJSON_AddNumberToObject(s, "updatedReplicas", r->updated);
    char summary[64];
    snprintf(summary, sizeof(summary), "%.0f/%.0f", r->ready, r->desired);
    cJSON_AddStringToObject(s, "summary", summary);
    return s;
}

/* A condition; lastTransitionTime stays as in old_status while status does. */
static void add_condition(cJSON *conds, const cJSON *old_status, const char *type, bool status,
                          const char *reason, const char *message, double generation,
                          const char *now)
{
    const char *st = status ? "True" : "False", *since = now;
    const cJSON *c = pd_condition(old_status, type);
    const char *s = text(c, "status", NULL);
    if (s && strcmp(s, st) == 0 && text(c, "lastTransitionTime", NULL))
        since = text(c, "lastTransitionTime", NULL);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "status", st);
    cJSON_AddNumberToObject(o, "observedGeneration", generation);
    cJSON_AddStringToObject(o, "lastTransitionTime", since);
    cJSON_AddStringToObject(o, "reason", reason);
    cJSON_AddStringToObject(o, "message", message);
    cJSON_AddItemToArray(conds, o);
}

cJSON *pd_status(const cJSON *cr, const cJSON *prefill, const cJSON *decode,
                 const cJSON *old_status, const char *invalid_reason, const char *invalid_message,
                 const char *now)
{
    const char *name = text(cr, "metadata", "name"), *ns = text(cr, "metadata", "namespace");
    double gen = num(cr, "metadata", "generation", 0);
    double port = num(cJSON_GetObjectItemCaseSensitive(cr, "spec"), "service", "port", 8000);
    struct role p, d;
    role_of(prefill, "Prefill", &p);
    role_of(decode, "Decode", &d);

    bool invalid = invalid_reason != NULL;
    const struct role *failed = p.state == ROLE_FAILED ? &p : d.state == ROLE_FAILED ? &d : NULL;
    bool ready = !invalid && p.state == ROLE_READY && d.state == ROLE_READY;
    bool rolling = !invalid && !failed && (p.state != ROLE_READY || d.state != ROLE_READY);

    cJSON *s = cJSON_CreateObject();
    cJSON_AddNumberToObject(s, "observedGeneration", gen);
    cJSON_AddStringToObject(s, "phase",
                            invalid || failed                                    ? "Degraded"
                            : ready                                              ? "Ready"
                            : p.state == ROLE_MISSING && d.state == ROLE_MISSING ? "Pending"
                                                                                 : "Progressing");
    cJSON_AddItemToObject(s, "prefill", role_status(&p));
    cJSON_AddItemToObject(s, "decode", role_status(&d));
    char ep[600];
    snprintf(ep, sizeof(ep), "%s-d-service.%s.svc:%.0f", name ? name : "", ns ? ns : "default",
             port);
    cJSON_AddStringToObject(s, "endpoint", ep);
    snprintf(ep, sizeof(ep), "%s-p-service.%s.svc:%.0f", name ? name : "", ns ? ns : "default",
             port);
    cJSON_AddStringToObject(s, "prefillEndpoint", ep);

    cJSON *conds = cJSON_AddArrayToObject(s, "conditions");
    char msg[600];
    if (invalid)
        add_condition(conds, old_status, "Ready", false, "InvalidSpec",
                      invalid_message ? invalid_message : "", gen, now);
    else if (ready)
        add_condition(conds, old_status, "Ready", true, "AllRolesReady",
                      "prefill and decode rollouts are complete", gen, now);
    else {
        const struct role *wait = p.state != ROLE_READY ? &p : &d;
        snprintf(msg, sizeof(msg), "%s: %s", wait->name, wait->message);
        add_condition(conds, old_status, "Ready", false, wait->reason, msg, gen, now);
    }
    add_condition(conds, old_status, "PrefillReady", p.state == ROLE_READY, p.reason, p.message,
                  gen, now);
    add_condition(conds, old_status, "DecodeReady", d.state == ROLE_READY, d.reason, d.message, gen,
                  now);
    add_condition(conds, old_status, "Progressing", rolling, rolling ? "RollingOut" : "Stable",
                  rolling ? "a rollout is in progress" : "no rollout in progress", gen, now);
    if (invalid) {
        add_condition(conds, old_status, "Degraded", true, invalid_reason,
                      invalid_message ? invalid_message : "", gen, now);
    } else if (failed) {
        snprintf(msg, sizeof(msg), "%s: %s", failed->name, failed->message);
        add_condition(conds, old_status, "Degraded", true, failed->reason, msg, gen, now);
    } else {
        add_condition(conds, old_status, "Degraded", false, "AsExpected", "", gen, now);
    }
    return s;
}
