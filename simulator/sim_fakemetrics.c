#include "simulator/sim_fakemetrics.h"

#include "common/buf.h"
#include "common/duration.h"
#include "common/json.h"
#include "common/xalloc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const hist_keys[SIM_FAKE_NHIST] = {
    "ttft-buckets-values",           "tpot-buckets-values",       "e2erl-buckets-values",
    "queue-time-buckets-values",     "inf-time-buckets-values",   "prefill-time-buckets-values",
    "decode-time-buckets-values",    "request-prompt-tokens",     "request-generation-tokens",
    "request-max-generation-tokens", "request-params-max-tokens",
};

/* Longest array per histogram: its buckets, +Inf included. Upstream checks
 * the first two; a longer latency array would only pile into +Inf, so it is
 * refused too. The token histograms' bounds follow --max-model-len: extra
 * values there count in +Inf, as upstream. */
static const size_t hist_max[SIM_FAKE_NHIST] = {23, 20, 22, 22, 22, 22, 22, 0, 0, 0, 0};

/* enum sim_finish order. */
static const char *const reasons[SIM_FAKE_NREASONS] = {"stop", "length", "remote_decode",
                                                       "tool_calls", "cache_threshold"};

static const char *const fn_names[] = {"", "oscillate", "ramp", "rampreset", "squarewave"};

#define MAX_COUNT 9007199254740992.0 /* 2^53: integers a JSON reader keeps exactly */
#define TWO_PI    6.283185307179586

static void free_loras(struct sim_fake_lora *l, size_t n);

void sim_fake_free(struct sim_fake *f)
{
    if (!f)
        return;
    free_loras(f->loras, f->nloras);
    for (int i = 0; i < SIM_FAKE_NHIST; i++)
        free(f->hist[i].v);
    free(f);
}

static struct sim_fake *copy(const struct sim_fake *f)
{
    struct sim_fake *c = xmalloc(sizeof(*c));
    *c = *f;
    c->loras = f->nloras ? xcalloc(f->nloras, sizeof(*c->loras)) : NULL;
    for (size_t i = 0; i < f->nloras; i++) {
        c->loras[i].running = xstrdup(f->loras[i].running);
        c->loras[i].waiting = xstrdup(f->loras[i].waiting);
        c->loras[i].timestamp = f->loras[i].timestamp;
    }
    for (int i = 0; i < SIM_FAKE_NHIST; i++) {
        c->hist[i].v = NULL;
        if (f->hist[i].n) {
            c->hist[i].v = xcalloc(f->hist[i].n, sizeof(uint64_t));
            memcpy(c->hist[i].v, f->hist[i].v, f->hist[i].n * sizeof(uint64_t));
        }
    }
    return c;
}

/* A number, or a string that is one (YAML scalars may arrive quoted). */
static bool number_of(const cJSON *v, double *out)
{
    if (cJSON_IsNumber(v)) {
        *out = v->valuedouble;
        return isfinite(*out);
    }
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return false;
    char *end;
    errno = 0;
    *out = strtod(v->valuestring, &end);
    return errno == 0 && *end == '\0' && isfinite(*out);
}

static int count_of(const cJSON *v, const char *key, uint64_t *out, char *err, size_t errlen)
{
    double d;
    if (!number_of(v, &d) || d < 0 || d > MAX_COUNT || d != floor(d)) {
        snprintf(err, errlen, "%s: values must be non-negative integers", key);
        return -1;
    }
    *out = (uint64_t)d;
    return 0;
}

/* "fn:start:end:period" (upstream's format; the period is a duration). */
static int parse_function(const char *s, struct sim_fake_gauge *g, char *why, size_t whylen)
{
    char *copy_s = xstrdup(s), *parts[4];
    int n = 0;
    for (char *p = copy_s; n < 4 && p; n++) { /* exactly four non-empty parts */
        parts[n] = p;
        p = strchr(p, ':');
        if (p)
            *p++ = '\0';
        if (n == 3 && p)
            n = 5; /* a fifth part */
    }
    int rc = -1;
    double a, b;
    char *e1, *e2;
    if (n != 4 || !*parts[0] || !*parts[3]) {
        snprintf(why, whylen, "\"%.60s\" is not a number or fn:start:end:period", s);
        goto out;
    }
    g->fn = SIM_FAKE_FIXED;
    for (int i = 1; i < 5; i++)
        if (strcmp(parts[0], fn_names[i]) == 0)
            g->fn = (enum sim_fake_fn)i;
    a = strtod(parts[1], &e1);
    b = strtod(parts[2], &e2);
    if (g->fn == SIM_FAKE_FIXED) {
        snprintf(why, whylen,
                 "unknown generator \"%.40s\" (oscillate, ramp, rampreset or squarewave)",
                 parts[0]);
    } else if (*e1 || *e2 || e1 == parts[1] || e2 == parts[2] || !isfinite(a) || !isfinite(b)) {
        snprintf(why, whylen, "start and end in \"%.60s\" must be numbers", s);
    } else if (a < 0 || b < 0) {
        snprintf(why, whylen, "start and end must not be negative");
    } else if (duration_parse(parts[3], &g->period_ns, NULL, 0) < 0 || g->period_ns <= 0) {
        snprintf(why, whylen, "period \"%.40s\" must be a positive duration", parts[3]);
    } else {
        g->start = a;
        g->end = b;
        rc = 0;
    }
out:
    free(copy_s);
    return rc;
}

/* max < 0: no upper bound. */
static int parse_gauge(const cJSON *v, const char *key, double max, struct sim_fake_gauge *g,
                       char *err, size_t errlen)
{
    char why[160] = "";
    struct sim_fake_gauge n = {0};
    if (number_of(v, &n.value)) {
        if (n.value < 0 || (max >= 0 && n.value > max))
            snprintf(why, sizeof(why),
                     max >= 0 ? "must be between 0 and 1" : "must not be negative");
    } else if (!cJSON_IsString(v)) {
        snprintf(why, sizeof(why), "must be a number or a \"fn:start:end:period\" string");
    } else if (parse_function(v->valuestring, &n, why, sizeof(why)) == 0 && max >= 0 &&
               (n.start > max || n.end > max)) {
        snprintf(why, sizeof(why), "start and end must be between 0 and 1");
    }
    if (why[0]) {
        snprintf(err, errlen, "%s: %s", key, why);
        return -1;
    }
    *g = n;
    return 0;
}

static int lora_field(const cJSON *o, const char *k, char **out, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (v && !cJSON_IsNull(v) && !cJSON_IsString(v)) {
        snprintf(err, errlen, "loras: \"%s\" must be a string", k);
        return -1;
    }
    *out = xstrdup(cJSON_IsString(v) ? v->valuestring : "");
    return 0;
}

/* One loras item: an object, or (YAML, as upstream) a string holding one. */
static int parse_lora(const cJSON *it, struct sim_fake_lora *l, char *err, size_t errlen)
{
    cJSON *own = NULL;
    if (cJSON_IsString(it))
        it = own = json_parse(it->valuestring, strlen(it->valuestring), NULL, 0);
    int rc = -1;
    double ts = 0;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "timestamp");
    if (!cJSON_IsObject(it))
        snprintf(err, errlen,
                 "loras: items must be objects "
                 "{\"running\",\"waiting\",\"timestamp\"}");
    else if (t && !cJSON_IsNull(t) && !number_of(t, &ts))
        snprintf(err, errlen, "loras: \"timestamp\" must be a number");
    else if (lora_field(it, "running", &l->running, err, errlen) == 0 &&
             lora_field(it, "waiting", &l->waiting, err, errlen) == 0)
        rc = 0;
    l->timestamp = ts;
    cJSON_Delete(own);
    return rc;
}

static void free_loras(struct sim_fake_lora *l, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        free(l[k].running);
        free(l[k].waiting);
    }
    free(l);
}

static int parse_loras(struct sim_fake *f, const cJSON *v, double now, char *err, size_t errlen)
{
    if (!cJSON_IsArray(v)) {
        snprintf(err, errlen, "loras: must be an array");
        return -1;
    }
    size_t n = (size_t)cJSON_GetArraySize(v), i = 0;
    struct sim_fake_lora *l = n ? xcalloc(n, sizeof(*l)) : NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (parse_lora(it, &l[i++], err, errlen) < 0) {
            free_loras(l, i);
            return -1;
        }
    }
    free_loras(f->loras, f->nloras);
    f->loras = l;
    f->nloras = n;
    f->loras_at = floor(now);
    return 0;
}

static int parse_counts(struct sim_fake_counts *c, int h, const cJSON *v, char *err, size_t errlen)
{
    const char *key = hist_keys[h];
    if (!cJSON_IsArray(v)) {
        snprintf(err, errlen, "%s: must be an array of counts", key);
        return -1;
    }
    size_t n = (size_t)cJSON_GetArraySize(v), i = 0;
    if (hist_max[h] && n > hist_max[h]) {
        snprintf(err, errlen, "%s: %zu values, but the histogram has %zu buckets", key, n,
                 hist_max[h]);
        return -1;
    }
    uint64_t *vals = n ? xcalloc(n, sizeof(*vals)) : NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (count_of(it, key, &vals[i++], err, errlen) < 0) {
            free(vals);
            return -1;
        }
    }
    free(c->v);
    *c = (struct sim_fake_counts){true, vals, n};
    return 0;
}

static int parse_success(struct sim_fake *f, const cJSON *v, char *err, size_t errlen)
{
    uint64_t s[SIM_FAKE_NREASONS] = {0};
    if (!cJSON_IsObject(v)) {
        snprintf(err, errlen,
                 "request-success-total: must be an object "
                 "{finish_reason: count}");
        return -1;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        int r = 0;
        while (r < SIM_FAKE_NREASONS && strcmp(reasons[r], it->string) != 0)
            r++;
        if (r == SIM_FAKE_NREASONS) {
            snprintf(err, errlen,
                     "request-success-total: \"%.60s\" is not a finish reason "
                     "(stop, length, remote_decode, tool_calls, cache_threshold)",
                     it->string);
            return -1;
        }
        if (count_of(it, "request-success-total", &s[r], err, errlen) < 0)
            return -1;
    }
    f->success_set = true;
    memcpy(f->success, s, sizeof(s));
    return 0;
}

/* The scalar counters: total-*-tokens and prefix-cache-*. */
static int parse_total(struct sim_fake *f, const char *k, const cJSON *v, char *err, size_t errlen)
{
    uint64_t x;
    if (count_of(v, k, &x, err, errlen) < 0)
        return -1;
    if (strcmp(k, "total-prompt-tokens") == 0) {
        f->total_prompt = x;
        f->total_prompt_set = true;
    } else if (strcmp(k, "total-generation-tokens") == 0) {
        f->total_gen = x;
        f->total_gen_set = true;
    } else if (strcmp(k, "prefix-cache-hits") == 0) {
        f->prefix_hits = x;
        f->hits_set = true;
    } else {
        f->prefix_queries = x;
        f->queries_set = true;
    }
    return 0;
}

static int apply_key(struct sim_fake *f, const char *k, const cJSON *v, double now, char *err,
                     size_t errlen)
{
    if (strcmp(k, "running-requests") == 0)
        return parse_gauge(v, k, -1, &f->running, err, errlen);
    if (strcmp(k, "waiting-requests") == 0)
        return parse_gauge(v, k, -1, &f->waiting, err, errlen);
    if (strcmp(k, "kv-cache-usage") == 0)
        return parse_gauge(v, k, 1, &f->kv, err, errlen);
    if (strcmp(k, "loras") == 0)
        return parse_loras(f, v, now, err, errlen);
    if (strcmp(k, "request-success-total") == 0)
        return parse_success(f, v, err, errlen);
    for (int h = 0; h < SIM_FAKE_NHIST; h++)
        if (strcmp(k, hist_keys[h]) == 0)
            return parse_counts(&f->hist[h], h, v, err, errlen);
    if (strcmp(k, "total-prompt-tokens") == 0 || strcmp(k, "total-generation-tokens") == 0 ||
        strcmp(k, "prefix-cache-hits") == 0 || strcmp(k, "prefix-cache-queries") == 0)
        return parse_total(f, k, v, err, errlen);
    snprintf(err, errlen, "unknown key \"%.60s\"", k);
    return -1;
}

static int validate(const struct sim_fake *f, char *err, size_t errlen)
{
    if (f->hits_set != f->queries_set) {
        snprintf(err, errlen, "prefix-cache-hits and prefix-cache-queries go together");
        return -1;
    }
    if (f->hits_set && f->prefix_hits > f->prefix_queries) {
        snprintf(err, errlen, "prefix-cache-hits cannot exceed prefix-cache-queries");
        return -1;
    }
    return 0;
}

struct sim_fake *sim_fake_patch(const struct sim_fake *f, const cJSON *patch, double now, char *err,
                                size_t errlen)
{
    if (!cJSON_IsObject(patch)) {
        snprintf(err, errlen, "must be an object");
        return NULL;
    }
    struct sim_fake *n = copy(f);
    const cJSON *it;
    cJSON_ArrayForEach(it, patch)
    {
        if (cJSON_IsNull(it)) /* as absent, as upstream */
            continue;
        if (apply_key(n, it->string, it, now, err, errlen) < 0) {
            sim_fake_free(n);
            return NULL;
        }
    }
    if (validate(n, err, errlen) < 0) {
        sim_fake_free(n);
        return NULL;
    }
    return n;
}

int sim_fake_parse(const cJSON *obj, double now, struct sim_fake **out, char *err, size_t errlen)
{
    struct sim_fake empty;
    memset(&empty, 0, sizeof(empty));
    empty.loras_at = floor(now);
    *out = sim_fake_patch(&empty, obj, now, err, errlen);
    return *out ? 0 : -1;
}

static cJSON *gauge_json(const struct sim_fake_gauge *g)
{
    if (g->fn == SIM_FAKE_FIXED)
        return cJSON_CreateNumber(g->value);
    struct buf b;
    char d[64];
    buf_init(&b, BUF_NOCAP);
    duration_format(g->period_ns, d, sizeof(d));
    int rc = buf_appendf(&b, "%s:", fn_names[g->fn]);
    rc = rc ? rc : buf_put_double(&b, g->start);
    rc = rc ? rc : buf_putc(&b, ':');
    rc = rc ? rc : buf_put_double(&b, g->end);
    rc = rc ? rc : buf_appendf(&b, ":%s", d);
    (void)rc; /* no cap */
    cJSON *s = cJSON_CreateString(buf_str(&b));
    buf_release(&b);
    return s;
}

static void add_counts(cJSON *o, const char *k, const struct sim_fake_counts *c)
{
    if (!c->set) {
        cJSON_AddNullToObject(o, k);
        return;
    }
    cJSON *a = cJSON_AddArrayToObject(o, k);
    for (size_t i = 0; i < c->n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)c->v[i]));
}

cJSON *sim_fake_json(const struct sim_fake *f)
{
    cJSON *o = cJSON_CreateObject(), *l = cJSON_AddArrayToObject(o, "loras");
    for (size_t i = 0; i < f->nloras; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "running", f->loras[i].running);
        cJSON_AddStringToObject(e, "waiting", f->loras[i].waiting);
        cJSON_AddNumberToObject(e, "timestamp", f->loras[i].timestamp);
        cJSON_AddItemToArray(l, e);
    }
    cJSON_AddItemToObject(o, "running-requests", gauge_json(&f->running));
    cJSON_AddItemToObject(o, "waiting-requests", gauge_json(&f->waiting));
    cJSON_AddItemToObject(o, "kv-cache-usage", gauge_json(&f->kv));
    for (int h = 0; h < SIM_FAKE_NHIST; h++)
        add_counts(o, hist_keys[h], &f->hist[h]);
    if (f->success_set) {
        cJSON *s = cJSON_AddObjectToObject(o, "request-success-total");
        for (int r = 0; r < SIM_FAKE_NREASONS; r++)
            cJSON_AddNumberToObject(s, reasons[r], (double)f->success[r]);
    } else {
        cJSON_AddNullToObject(o, "request-success-total");
    }
    if (f->total_prompt_set)
        cJSON_AddNumberToObject(o, "total-prompt-tokens", (double)f->total_prompt);
    if (f->total_gen_set)
        cJSON_AddNumberToObject(o, "total-generation-tokens", (double)f->total_gen);
    if (f->hits_set) {
        cJSON_AddNumberToObject(o, "prefix-cache-hits", (double)f->prefix_hits);
        cJSON_AddNumberToObject(o, "prefix-cache-queries", (double)f->prefix_queries);
    }
    return o;
}

double sim_fake_gauge_at(const struct sim_fake_gauge *g, int64_t t_ns, bool round)
{
    if (t_ns < 0)
        t_ns = 0;
    double v, t = (double)t_ns / 1e9, p = (double)g->period_ns / 1e9;
    switch (g->fn) {
    case SIM_FAKE_FIXED:
        return g->value;
    case SIM_FAKE_OSCILLATE:
        /* halves first: no overflow near DBL_MAX */
        v = g->start / 2 + g->end / 2 + (g->end / 2 - g->start / 2) * sin(TWO_PI * t / p);
        break;
    case SIM_FAKE_RAMP:
        v = t / p >= 1 ? g->end : g->start + t / p * (g->end - g->start);
        break;
    case SIM_FAKE_RAMPRESET:
        v = g->start + (double)(t_ns % g->period_ns) / (double)g->period_ns * (g->end - g->start);
        break;
    default: /* SIM_FAKE_SQUAREWAVE */
        v = t_ns % g->period_ns < g->period_ns / 2 ? g->start : g->end;
        break;
    }
    /* Rounding can step outside [start, end] when the two differ by many orders of
     * magnitude (5e70 and 10: the halves cancel to 0); the curve never does. */
    double lo = fmin(g->start, g->end), hi = fmax(g->start, g->end);
    v = v < lo ? lo : v > hi ? hi : v;
    return round ? trunc(v) : v;
}

bool sim_fake_has_functions(const struct sim_fake *f)
{
    return f->running.fn != SIM_FAKE_FIXED || f->waiting.fn != SIM_FAKE_FIXED ||
           f->kv.fn != SIM_FAKE_FIXED;
}

double sim_fake_counts_sum(const struct sim_fake_counts *c, const double *bounds, size_t nbounds)
{
    double sum = 0;
    if (nbounds == 0)
        return 0;
    for (size_t i = 0; i < c->n; i++)
        sum += (double)c->v[i] * (i < nbounds ? bounds[i] : bounds[nbounds - 1] + 1);
    return sum;
}
