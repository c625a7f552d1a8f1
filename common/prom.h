/*
 * prom: Prometheus text exposition (format 0.0.4) and lock-free histograms.
 *
 * Histograms are updated from many threads with atomics (no lock on the hot
 * path) and formatted into a buf on scrape. This module knows nothing about
 * vLLM metric names; simulator/sim_metrics.c owns those.
 */
#ifndef PDSIM_COMMON_PROM_H
#define PDSIM_COMMON_PROM_H

#include "common/buf.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Observations land in one of PROM_SHARDS copies, picked per thread, so
 * threads on different cores rarely share a cache line; a scrape adds them. */
#define PROM_SHARDS 16

struct prom_hist {
    const double *bounds; /* borrowed, ascending upper bounds, without +Inf */
    size_t nbounds;
    size_t stride;          /* words per shard: nbounds + 1 buckets, the sum, padding */
    _Atomic int64_t *cells; /* owned; PROM_SHARDS x stride, cache-line aligned */
};

/* Set up an empty histogram over bounds (which must outlive it). */
void prom_hist_init(struct prom_hist *h, const double *bounds, size_t nbounds);
/* Free the bucket array. Accepts NULL. */
void prom_hist_release(struct prom_hist *h);
/* Record one value. Thread-safe, lock-free: two relaxed fetch-adds on this
 * thread's shard, no CAS loop. The sum keeps 9 decimals (ns for seconds). */
void prom_hist_observe(struct prom_hist *h, double v);
/* Number of observations so far. Thread-safe. */
uint64_t prom_hist_count(const struct prom_hist *h);

/* "# HELP name help\n# TYPE name type\n". Returns 0 or -E2BIG. */
int prom_write_header(struct buf *b, const char *name, const char *help, const char *type);
/* "name{labels} value\n"; labels is the inside of the braces, already
 * escaped (may be "" for none). Returns 0 or -E2BIG. */
int prom_write_sample(struct buf *b, const char *name, const char *labels, double v);
/* The _bucket (cumulative, le="+Inf" last), _sum and _count lines. */
int prom_write_hist(struct buf *b, const char *name, const char *labels, const struct prom_hist *h);
/* A histogram given as counts per bucket (counts[i] observations in bucket i;
 * counts[nbounds] and any after it in +Inf) and the sum of the observations:
 * the same _bucket, _sum and _count lines. */
int prom_write_hist_counts(struct buf *b, const char *name, const char *labels,
                           const double *bounds, size_t nbounds, const uint64_t *counts,
                           size_t ncounts, double sum);
/* Append v escaped as a label value (backslash, quote, newline). */
int prom_escape_label(struct buf *b, const char *v);

#endif
