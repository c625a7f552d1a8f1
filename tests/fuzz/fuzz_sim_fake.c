/* pdsim-simulator's --fake-metrics objects and their POST /admin/config
 * patches: the input's first line (JSON) is parsed as a spec, the rest as a
 * patch of it; then GET's JSON, the generators at a few times, and the
 * /metrics exposition of both specs. */
#include "common/json.h"
#include "fuzz_util.h"
#include "simulator/sim_fakemetrics.h"
#include "simulator/sim_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void use(const struct sim_fake *f)
{
    static const struct sim_metrics_opts o = {"m", 1024, 1, 16, 1024};
    static const int64_t t[] = {0, 1, 999999999, 1000000000LL * 3600, INT64_MAX / 2};
    cJSON *j = sim_fake_json(f);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_free(text);
    cJSON_Delete(j);
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        const struct sim_fake_gauge *g[] = {&f->running, &f->waiting, &f->kv};
        for (int k = 0; k < 3; k++) {
            double v = sim_fake_gauge_at(g[k], t[i], k < 2);
            double lo = g[k]->fn ? fmin(g[k]->start, g[k]->end) : g[k]->value;
            double hi = g[k]->fn ? fmax(g[k]->start, g[k]->end) : g[k]->value;
            if (!(v >= floor(lo) - 1e-9 && v <= hi + 1e-9)) /* within its bounds */
                abort();
        }
    }
    struct sim_metrics *m = sim_metrics_new(&o);
    struct buf b;
    buf_init(&b, BUF_NOCAP);
    sim_metrics_set_fake(m, f, 100000000);
    if (sim_metrics_format(m, &b) != 0)
        abort();
    buf_release(&b);
    sim_metrics_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    size_t first = nl ? (size_t)(nl - (const char *)data) : size;
    char err[256];
    cJSON *spec = json_parse((const char *)data, first, err, sizeof(err));
    struct sim_fake *f = NULL;
    if (spec && sim_fake_parse(spec, 1e9, &f, err, sizeof(err)) == 0) {
        use(f);
        cJSON *patch = nl ? json_parse(nl + 1, size - first - 1, err, sizeof(err)) : NULL;
        struct sim_fake *n = patch ? sim_fake_patch(f, patch, 2e9, err, sizeof(err)) : NULL;
        if (n)
            use(n);
        sim_fake_free(n);
        cJSON_Delete(patch);
    }
    sim_fake_free(f);
    cJSON_Delete(spec);
    return 0;
}
