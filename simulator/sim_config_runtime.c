#include "simulator/sim_config.h"

#include "common/duration.h"
#include "simulator/sim_fakemetrics.h"
#include "simulator/sim_flags.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const runtime_keys[] = {"time-to-first-token",
                                           "time-to-first-token-std-dev",
                                           "inter-token-latency",
                                           "inter-token-latency-std-dev",
                                           "prefill-overhead",
                                           "prefill-time-per-token",
                                           "prefill-time-std-dev",
                                           "kv-cache-transfer-latency",
                                           "kv-cache-transfer-latency-std-dev",
                                           "kv-cache-transfer-time-per-token",
                                           "kv-cache-transfer-time-std-dev",
                                           "latency-calculator",
                                           "time-factor-under-load",
                                           "failure-injection-rate",
                                           "failure-types",
                                           "fake-metrics",
                                           NULL};

static bool runtime_key(const char *k)
{
    for (size_t i = 0; runtime_keys[i]; i++)
        if (strcmp(runtime_keys[i], k) == 0)
            return true;
    return false;
}

/* A partial fake-metrics update, as upstream: only when started with fake
 * metrics (the real ones cannot turn fake at run time). */
static struct sim_fake *patch_fake(const struct sim_config *c, const cJSON *patch, char *err,
                                   size_t errlen)
{
    char why[400];
    if (!c->fake_metrics) {
        snprintf(err, errlen,
                 "key \"fake-metrics\": the simulator is reporting real metrics (start it with "
                 "--fake-metrics to update fake ones)");
        return NULL;
    }
    struct sim_fake *f =
        sim_fake_patch(c->fake_metrics, patch, (double)time(NULL), why, sizeof(why));
    if (!f)
        snprintf(err, errlen, "key \"fake-metrics\": %s", why);
    return f;
}

static int update_fields(struct sim_config *c, const cJSON *patch, struct sim_fake **fake,
                         char *err, size_t errlen);

int sim_config_update_runtime(struct sim_config *c, const cJSON *patch, char *err, size_t errlen)
{
    struct sim_fake *fake = NULL;
    if (!cJSON_IsObject(patch)) {
        snprintf(err, errlen, "the body must be a JSON object of settings");
        return -1;
    }
    if (update_fields(c, patch, &fake, err, errlen) < 0) {
        sim_fake_free(fake);
        return -1;
    }
    if (fake)
        c->fake_metrics = fake; /* published only when everything else is valid */
    return 0;
}

/* Every key of patch; a fake-metrics update comes back in *fake. */
static int update_fields(struct sim_config *c, const cJSON *patch, struct sim_fake **fake,
                         char *err, size_t errlen)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, patch)
    {
        char where[160], num[64];
        snprintf(where, sizeof(where), "key \"%s\"", it->string);
        const struct flagdef *f = sim_flag_find(it->string);
        if (!f || !runtime_key(it->string)) {
            snprintf(err, errlen, "%s: not a setting that can change at run time", where);
            return -1;
        }
        int rc;
        if (f->type == F_FAKE) {
            sim_fake_free(*fake);
            *fake = cJSON_IsNull(it) ? NULL : patch_fake(c, it, err, errlen);
            if (!*fake && !cJSON_IsNull(it))
                return -1;
            continue;
        } else if (f->type == F_FAILURES) {
            char *vals[SIM_FAIL_N * 4];
            size_t n = 0;
            const cJSON *v;
            if (cJSON_IsString(it)) {
                vals[n++] = it->valuestring;
            } else if (cJSON_IsArray(it)) {
                cJSON_ArrayForEach(v, it)
                {
                    if (!cJSON_IsString(v) || n == sizeof(vals) / sizeof(vals[0])) {
                        snprintf(err, errlen, "%s: a list of failure type names", where);
                        return -1;
                    }
                    vals[n++] = v->valuestring;
                }
            } else {
                snprintf(err, errlen, "%s: a list of failure type names", where);
                return -1;
            }
            rc = sim_flag_parse_failures(vals, n, &c->failure_types, where, err, errlen);
        } else if (cJSON_IsString(it)) {
            rc = sim_flag_apply_scalar(c, f, it->valuestring, where, err, errlen);
        } else if (cJSON_IsNumber(it)) {
            if (f->type == F_DUR) /* an integer number of nanoseconds, as upstream */
                snprintf(num, sizeof(num), "%.0fns", it->valuedouble);
            else if (f->type == F_FLOAT)
                snprintf(num, sizeof(num), "%.17g", it->valuedouble);
            else
                snprintf(num, sizeof(num), "%.0f", it->valuedouble);
            if (f->type != F_FLOAT && (fabs(it->valuedouble) > 9e18 ||
                                       it->valuedouble != (double)(long long)it->valuedouble)) {
                snprintf(err, errlen, "%s: %g is not an integer", where, it->valuedouble);
                return -1;
            }
            rc = sim_flag_apply_scalar(c, f, num, where, err, errlen);
        } else {
            snprintf(err, errlen, "%s: must be a string or a number", where);
            return -1;
        }
        if (rc < 0)
            return -1;
    }
    if (c->time_factor_under_load < 1.0) {
        snprintf(err, errlen, "time-factor-under-load must be >= 1.0");
        return -1;
    }
    if (sim_flag_check_sd("time-to-first-token", c->ttft, c->ttft_sd, err, errlen) < 0 ||
        sim_flag_check_sd("inter-token-latency", c->itl, c->itl_sd, err, errlen) < 0 ||
        sim_flag_check_sd("kv-cache-transfer-latency", c->kv_latency, c->kv_latency_sd, err,
                          errlen) < 0)
        return -1;
    return 0;
}

cJSON *sim_config_json(const struct sim_config *c)
{
    cJSON *o = cJSON_CreateObject();
    char d[64];
    for (size_t i = 0; i < sim_nflags; i++) {
        const struct flagdef *f = &sim_flags[i];
        const char *field = (const char *)c + f->off;
        switch (f->type) {
        case F_INT:
        case F_BOOL:
            if (f->type == F_BOOL)
                cJSON_AddBoolToObject(o, f->name, *(const long *)field != 0);
            else
                cJSON_AddNumberToObject(o, f->name, (double)*(const long *)field);
            break;
        case F_SEED: { /* exact: a double would round a nanosecond-clock seed */
            char n[32];
            snprintf(n, sizeof(n), "%lld", (long long)*(const int64_t *)field);
            cJSON_AddRawToObject(o, f->name, n);
            break;
        }
        case F_STR:
            cJSON_AddStringToObject(o, f->name, *(char *const *)field ? *(char *const *)field : "");
            break;
        case F_DUR:
            duration_format(*(const int64_t *)field, d, sizeof(d));
            cJSON_AddStringToObject(o, f->name, d);
            break;
        case F_FLOAT:
            cJSON_AddNumberToObject(o, f->name, *(const double *)field);
            break;
        case F_MODE:
            cJSON_AddStringToObject(o, f->name, c->mode == SIM_MODE_ECHO ? "echo" : "random");
            break;
        case F_CALC:
            cJSON_AddStringToObject(o, f->name,
                                    c->calc == SIM_CALC_CONSTANT    ? "constant"
                                    : c->calc == SIM_CALC_PER_TOKEN ? "per-token"
                                                                    : "");
            break;
        case F_LIST: {
            cJSON *a = cJSON_AddArrayToObject(o, f->name);
            for (size_t k = 0; k < c->nserved; k++)
                cJSON_AddItemToArray(a, cJSON_CreateString(c->served[k]));
            break;
        }
        case F_LORAS: {
            cJSON *a = cJSON_AddArrayToObject(o, f->name);
            for (size_t k = 0; k < c->nlora_modules; k++)
                cJSON_AddItemToArray(a, cJSON_CreateString(c->lora_modules[k]));
            break;
        }
        case F_FAILURES: {
            cJSON *a = cJSON_AddArrayToObject(o, f->name);
            for (int k = 0; k < SIM_FAIL_N; k++)
                if (c->failure_types & (1u << k))
                    cJSON_AddItemToArray(a, cJSON_CreateString(sim_failure_names[k]));
            break;
        }
        case F_FAKE:
            if (c->fake_metrics)
                cJSON_AddItemToObject(o, f->name, sim_fake_json(c->fake_metrics));
            else
                cJSON_AddNullToObject(o, f->name);
            break;
        case F_NOBOOL:
        case F_IGNORED:
        case F_CONFIG:
            break;
        }
    }
    return o;
}
