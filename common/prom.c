#include "common/prom.h"

#include "common/xalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void prom_hist_init(struct prom_hist *h, const double *bounds, size_t nbounds)
{
    h->bounds = bounds;
    h->nbounds = nbounds;
    h->stride = (nbounds + 2 + 7) & ~(size_t)7; /* 8 words = 64 bytes */
    size_t bytes = PROM_SHARDS * h->stride * sizeof(int64_t);
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0)
        p = xmalloc(bytes); /* unaligned still works, only slower */
    memset(p, 0, bytes);
    h->cells = p;
}

void prom_hist_release(struct prom_hist *h)
{
    if (!h)
        return;
    free((void *)h->cells);
    h->cells = NULL;
}

static _Atomic unsigned next_shard;
static _Thread_local unsigned my_shard = ~0u;

void prom_hist_observe(struct prom_hist *h, double v)
{
    if (my_shard == ~0u)
        my_shard = atomic_fetch_add_explicit(&next_shard, 1, memory_order_relaxed) % PROM_SHARDS;
    _Atomic int64_t *cell = h->cells + (size_t)my_shard * h->stride;
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&cell[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&cell[h->nbounds + 1], llround(v * 1e9), memory_order_relaxed);
}

/* Bucket i (or the sum, i = nbounds + 1) added over the shards. */
static int64_t total(const struct prom_hist *h, size_t i)
{
    int64_t t = 0;
    for (size_t s = 0; s < PROM_SHARDS; s++)
        t += atomic_load_explicit(&h->cells[s * h->stride + i], memory_order_relaxed);
    return t;
}

uint64_t prom_hist_count(const struct prom_hist *h)
{
    uint64_t n = 0;
    for (size_t i = 0; i <= h->nbounds; i++)
        n += (uint64_t)total(h, i);
    return n;
}

int prom_write_header(struct buf *b, const char *name, const char *help, const char *type)
{
    return buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Go's strconv.FormatFloat(v, 'g', -1, 64) style: the shortest text that
 * reads back as the same double; +Inf/-Inf/NaN as Prometheus spells them. */
static void fmt_value(char *out, size_t n, double v)
{
    if (isinf(v)) {
        snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (isnan(v)) {
        snprintf(out, n, "NaN");
        return;
    }
    /* Fewest significant digits that read back exactly, then Go's choice of
     * notation: plain decimals for exponents in [-4, 21), else e-notation. */
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(out, n, "%.*e", prec - 1, v);
        if (strtod(out, NULL) == v)
            break;
    }
    snprintf(out, n, "%.*e", prec - 1, v);
    int exp10 = atoi(strchr(out, 'e') + 1);
    if (exp10 >= -4 && exp10 < 21) {
        int decimals = prec - 1 - exp10;
        snprintf(out, n, "%.*f", decimals > 0 ? decimals : 0, v);
    }
}

int prom_write_sample(struct buf *b, const char *name, const char *labels, double v)
{
    char num[40];
    fmt_value(num, sizeof(num), v);
    if (labels && *labels)
        return buf_appendf(b, "%s{%s} %s\n", name, labels, num);
    return buf_appendf(b, "%s %s\n", name, num);
}

int prom_write_hist(struct buf *b, const char *name, const char *labels, const struct prom_hist *h)
{
    /* _count is the +Inf bucket, so the two always agree. */
    uint64_t cum = 0;
    char le[40];
    const char *sep = labels && *labels ? "," : "";
    int rc = 0;
    for (size_t i = 0; i <= h->nbounds && rc == 0; i++) {
        cum += (uint64_t)total(h, i);
        if (i < h->nbounds)
            fmt_value(le, sizeof(le), h->bounds[i]);
        else
            snprintf(le, sizeof(le), "+Inf");
        rc = buf_appendf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels ? labels : "", sep, le,
                         (unsigned long long)cum);
    }
    char sum[40];
    int64_t fixed = total(h, h->nbounds + 1);
    fmt_value(sum, sizeof(sum), (double)(fixed / 1000000000) + (double)(fixed % 1000000000) / 1e9);
    const char *lb = labels && *labels ? labels : NULL;
    rc = rc ? rc
            : (lb ? buf_appendf(b, "%s_sum{%s} %s\n%s_count{%s} %llu\n", name, lb, sum, name, lb,
                                (unsigned long long)cum)
                  : buf_appendf(b, "%s_sum %s\n%s_count %llu\n", name, sum, name,
                                (unsigned long long)cum));
    return rc;
}

int prom_write_hist_counts(struct buf *b, const char *name, const char *labels,
                           const double *bounds, size_t nbounds, const uint64_t *counts,
                           size_t ncounts, double sum)
{
    uint64_t cum = 0;
    char le[40], s[40];
    const char *lb = labels && *labels ? labels : NULL;
    int rc = 0;
    for (size_t i = 0; i <= nbounds && rc == 0; i++) {
        for (size_t k = i; k < ncounts && (k == i || i == nbounds); k++)
            cum += counts[k];
        if (i < nbounds)
            fmt_value(le, sizeof(le), bounds[i]);
        else
            snprintf(le, sizeof(le), "+Inf");
        rc = buf_appendf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, lb ? lb : "", lb ? "," : "",
                         le, (unsigned long long)cum);
    }
    fmt_value(s, sizeof(s), sum);
    rc = rc ? rc
            : (lb ? buf_appendf(b, "%s_sum{%s} %s\n%s_count{%s} %llu\n", name, lb, s, name, lb,
                                (unsigned long long)cum)
                  : buf_appendf(b, "%s_sum %s\n%s_count %llu\n", name, s, name,
                                (unsigned long long)cum));
    return rc;
}

int prom_escape_label(struct buf *b, const char *v)
{
    int rc = 0;
    for (const char *p = v; *p && rc == 0; p++) {
        if (*p == '\\')
            rc = buf_puts(b, "\\\\");
        else if (*p == '"')
            rc = buf_puts(b, "\\\"");
        else if (*p == '\n')
            rc = buf_puts(b, "\\n");
        else
            rc = buf_putc(b, *p);
    }
    return rc;
}
