#include "simulator/sim_toolgen.h"

#include "common/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upstream's fakeStringArguments, in its order. */
const char *const sim_toolgen_words[] = {"testing",     "hello",    "Boston",   "sunny",
                                         "temperature", "cloudy",   "question", "Yorick",
                                         "silence",     "lifetime", NULL};
#define NWORDS 10

/* Bounds on what one call's arguments may hold, whatever the schema says
 * (minItems: 1000000000 nested three deep): past the budget arrays stop
 * growing and optional properties are left out. */
#define VALUE_BUDGET 65536
#define MAX_DEPTH    64
#define SAFE_INT     9007199254740992.0 /* 2^53: integers JSON readers keep exactly */

struct gctx {
    const struct sim_toolgen_cfg *cfg;
    struct sim_rng *r;
    struct buf *out;
    long budget;
};

/* Upstream's RandomBool(p): true with probability p percent. */
static bool roll(struct sim_rng *r, long pct)
{
    return sim_rng_range(r, 0, 99) < pct;
}

/* The range [lo, hi] from the schema's keywords or the flags' defaults. When
 * the schema gives one side beyond the other default, the range keeps the
 * defaults' width from the given side. */
static void bounds(const cJSON *s, const char *kmin, const char *kmax, double dlo, double dhi,
                   double *lo, double *hi)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(s, kmin);
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(s, kmax);
    bool ga = cJSON_IsNumber(a), gb = cJSON_IsNumber(b);
    *lo = ga ? a->valuedouble : dlo;
    *hi = gb ? b->valuedouble : dhi;
    double span = dhi > dlo ? dhi - dlo : 0;
    if (*lo <= *hi)
        return;
    if (ga && !gb)
        *hi = *lo + span;
    else if (gb && !ga)
        *lo = *hi - span;
    else
        *hi = *lo;
}

/* minimum/maximum with exclusiveMinimum/exclusiveMaximum, as one closed range
 * (for integers the next integer inside), then as bounds() for what is missing. */
static void num_bounds(const cJSON *s, bool integer, double dlo, double dhi, double *lo, double *hi)
{
    const cJSON *mi = cJSON_GetObjectItemCaseSensitive(s, "minimum");
    const cJSON *ma = cJSON_GetObjectItemCaseSensitive(s, "maximum");
    const cJSON *emi = cJSON_GetObjectItemCaseSensitive(s, "exclusiveMinimum");
    const cJSON *ema = cJSON_GetObjectItemCaseSensitive(s, "exclusiveMaximum");
    bool ga = cJSON_IsNumber(mi), gb = cJSON_IsNumber(ma);
    double a = ga ? mi->valuedouble : dlo, b = gb ? ma->valuedouble : dhi;
    if (cJSON_IsNumber(emi)) {
        double m = integer ? floor(emi->valuedouble) + 1 : nextafter(emi->valuedouble, INFINITY);
        a = ga && a > m ? a : m;
        ga = true;
    }
    if (cJSON_IsNumber(ema)) {
        double m = integer ? ceil(ema->valuedouble) - 1 : nextafter(ema->valuedouble, -INFINITY);
        b = gb && b < m ? b : m;
        gb = true;
    }
    double span = dhi > dlo ? dhi - dlo : 0;
    *lo = a;
    *hi = b;
    if (a <= b)
        return;
    if (ga && !gb)
        *hi = a + span;
    else if (gb && !ga)
        *lo = b - span;
    else
        *hi = a;
}

static void put(struct gctx *g, const char *s)
{
    (void)!buf_puts(g->out, s); /* the buffer has no cap */
}

static void gen_value(struct gctx *g, const cJSON *s, int depth, bool top);

static void gen_integer(struct gctx *g, const cJSON *s)
{
    double lo, hi;
    num_bounds(s, true, (double)g->cfg->min_int, (double)g->cfg->max_int, &lo, &hi);
    /* both bounds into +-2^53 first: casting 1e300 to int64_t is undefined */
    lo = fmin(fmax(ceil(lo), -SAFE_INT), SAFE_INT);
    hi = fmax(fmin(floor(hi), SAFE_INT), -SAFE_INT);
    (void)!buf_put_long(g->out, sim_rng_range(g->r, (int64_t)lo, (int64_t)(hi < lo ? lo : hi)));
}

static void gen_number(struct gctx *g, const cJSON *s)
{
    double lo, hi;
    num_bounds(s, false, g->cfg->min_num, g->cfg->max_num, &lo, &hi);
    double v = lo + sim_rng_double(g->r) * (hi - lo);
    (void)!buf_put_double(g->out, isfinite(v) ? v : 0);
}

static void gen_array(struct gctx *g, const cJSON *s, int depth)
{
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
    long n;
    if (cJSON_IsArray(items)) { /* a tuple: one element per schema */
        n = cJSON_GetArraySize(items);
    } else {
        double lo, hi;
        bounds(s, "minItems", "maxItems", (double)g->cfg->min_arr, (double)g->cfg->max_arr, &lo,
               &hi);
        lo = fmin(fmax(ceil(lo), 0), VALUE_BUDGET);
        hi = fmin(fmax(floor(hi), lo), VALUE_BUDGET);
        n = (long)sim_rng_range(g->r, (int64_t)lo, (int64_t)hi);
    }
    /* a tuple is walked in order, not indexed: cJSON_GetArrayItem is linear */
    const cJSON *item = cJSON_IsArray(items) ? items->child : items;
    put(g, "[");
    for (long i = 0; i < n && g->budget > 0 && item; i++) {
        if (i)
            put(g, ",");
        gen_value(g, item, depth + 1, false);
        if (cJSON_IsArray(items))
            item = item->next;
    }
    put(g, "]");
}

static bool is_required(const cJSON *required, const char *name)
{
    const cJSON *r;
    cJSON_ArrayForEach(r, required)
    {
        if (cJSON_IsString(r) && strcmp(r->valuestring, name) == 0)
            return true;
    }
    return false;
}

/* Properties in the schema's order; required ones always, optional ones with
 * the top-level or nested-object probability. */
static void gen_object(struct gctx *g, const cJSON *s, int depth, bool top)
{
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
    const cJSON *required = cJSON_GetObjectItemCaseSensitive(s, "required");
    long pct = top ? g->cfg->not_required_pct : g->cfg->object_not_required_pct;
    bool first = true;
    put(g, "{");
    const cJSON *p, *all = cJSON_IsObject(props) ? props : NULL;
    long charge = cJSON_IsArray(required) ? cJSON_GetArraySize(required) / 16 : 0;
    cJSON_ArrayForEach(p, all)
    {
        /* is_required walks the list: charge it, and stop at twice the budget
         * (only an unvalidated, absurd schema gets there) */
        g->budget -= charge;
        if (g->budget <= -VALUE_BUDGET)
            break;
        if (!is_required(required, p->string) && (!roll(g->r, pct) || g->budget <= 0))
            continue;
        if (!first)
            put(g, ",");
        first = false;
        (void)!buf_json_str(g->out, p->string);
        put(g, ":");
        gen_value(g, p, depth + 1, false);
    }
    put(g, "}");
}

/* The type to generate: "type", or the first known one of a list (accepted
 * with --skip-tool-validation); an untyped schema with properties is an object. */
static const char *type_of(const cJSON *s)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "type");
    if (cJSON_IsString(t))
        return t->valuestring;
    const cJSON *it, *list = cJSON_IsArray(t) ? t : NULL;
    cJSON_ArrayForEach(it, list)
    {
        if (cJSON_IsString(it) && strcmp(it->valuestring, "null") != 0)
            return it->valuestring;
    }
    return cJSON_GetObjectItemCaseSensitive(s, "properties") ? "object" : "null";
}

static void gen_value(struct gctx *g, const cJSON *s, int depth, bool top)
{
    g->budget--;
    if (!cJSON_IsObject(s) || depth > MAX_DEPTH) {
        put(g, "null");
        return;
    }
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(s, "enum");
    int nenum = cJSON_IsArray(e) ? cJSON_GetArraySize(e) : 0;
    if (nenum > 0) {
        /* a pick walks the list: charge it, so a huge enum under a long array
         * cannot make one request cost minutes */
        g->budget -= nenum / 16;
        int k = (int)sim_rng_range(g->r, 0, nenum - 1);
        char *txt = cJSON_PrintUnformatted(cJSON_GetArrayItem(e, k));
        put(g, txt ? txt : "null");
        free(txt);
        return;
    }
    const char *t = type_of(s);
    if (strcmp(t, "string") == 0)
        (void)!buf_json_str(g->out, sim_toolgen_words[sim_rng_range(g->r, 0, NWORDS - 1)]);
    else if (strcmp(t, "integer") == 0)
        gen_integer(g, s);
    else if (strcmp(t, "number") == 0)
        gen_number(g, s);
    else if (strcmp(t, "boolean") == 0)
        put(g, sim_rng_range(g->r, 0, 1) ? "true" : "false");
    else if (strcmp(t, "array") == 0)
        gen_array(g, s, depth);
    else if (strcmp(t, "object") == 0)
        gen_object(g, s, depth, top);
    else
        put(g, "null");
}

void sim_toolgen_args(const cJSON *params, const struct sim_toolgen_cfg *cfg, struct sim_rng *r,
                      struct buf *out)
{
    struct gctx g = {cfg, r, out, VALUE_BUDGET};
    if (!cJSON_IsObject(params)) {
        put(&g, "{}");
        return;
    }
    gen_object(&g, params, 0, true); /* a function's arguments are always an object */
}

static void gen_call(const cJSON *tool, const struct sim_toolgen_cfg *cfg, struct sim_rng *r,
                     struct sim_tool_call *c)
{
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tool, "function");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
    struct buf b;
    memset(c, 0, sizeof(*c));
    c->name = cJSON_IsString(name) ? name->valuestring : "";
    buf_init(&b, BUF_NOCAP);
    sim_toolgen_args(cJSON_GetObjectItemCaseSensitive(fn, "parameters"), cfg, r, &b);
    c->args = buf_take(&b, &c->args_len);
    int n = snprintf(c->id, sizeof(c->id), "chatcmpl-tool-");
    for (int i = 0; i < 10; i++)
        c->id[n + i] = (char)('0' + sim_rng_range(r, 0, 9));
    c->id[n + 10] = '\0';
    sim_toklist_init(&c->toks);
    sim_tokenize(c->args, c->args_len, &c->toks);
    /* The tokenizer skips a few characters ('|', '`'; an enum member may hold
     * them): each token takes the bytes up to the next, so the streamed pieces
     * always add up to the arguments. */
    for (size_t i = 0; i < c->toks.n; i++)
        c->toks.v[i].len =
            (uint32_t)((i + 1 < c->toks.n ? c->toks.v[i + 1].off : c->args_len) - c->toks.v[i].off);
}

void sim_toolgen_calls(const struct sim_tools *t, const struct sim_toolgen_cfg *cfg,
                       struct sim_rng *r, struct sim_tool_calls *out)
{
    memset(out, 0, sizeof(*out));
    if (!t->tools || t->ntools == 0 || t->choice == SIM_TOOL_NONE)
        return;
    size_t n = t->choice == SIM_TOOL_AUTO ? 0 : 1;
    size_t max = t->choice == SIM_TOOL_NAMED ? 1 : t->ntools;
    while (n < max && roll(r, cfg->extra_call_pct))
        n++;
    if (n == 0)
        return;
    out->v = xcalloc(n, sizeof(*out->v));
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        size_t k = t->choice == SIM_TOOL_NAMED ? t->named
                   : t->ntools > 1             ? (size_t)sim_rng_range(r, 0, (int64_t)t->ntools - 1)
                                               : 0;
        gen_call(cJSON_GetArrayItem(t->tools, (int)k), cfg, r, &out->v[i]);
    }
}

void sim_tool_calls_release(struct sim_tool_calls *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].args);
        sim_toklist_release(&c->v[i].toks);
    }
    free(c->v);
    memset(c, 0, sizeof(*c));
}

long sim_tool_calls_tokens(const struct sim_tool_calls *c)
{
    long n = 0;
    for (size_t i = 0; i < c->n; i++)
        n += 3 + (long)c->v[i].toks.n;
    return n;
}
