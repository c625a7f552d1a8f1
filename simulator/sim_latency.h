/*
 * sim_latency: upstream's latency model with nanosecond precision.
 *
 * Time to first token from the three calculators (legacy "", constant,
 * per-token), the KV-transfer time of a remote-prefill request, inter-token
 * latency, and the load factor L(r) = 1 + (F-1)(r-1)/(S-1). Every sample is
 * normal, clamped to [0.3, 1.7] x mean, and never truncated to whole
 * milliseconds (upstream truncates, so sub-ms latencies become 0).
 * Pure given the rng; thread-safe with one rng per caller.
 */
#ifndef PDSIM_SIM_LATENCY_H
#define PDSIM_SIM_LATENCY_H

#include "simulator/sim_config.h"
#include "simulator/sim_rng.h"

#include <stdbool.h>
#include <stdint.h>

struct sim_lat {
    enum sim_calc calc;
    int64_t ttft, ttft_sd, itl, itl_sd;
    int64_t prefill_overhead, prefill_per_token, prefill_sd;
    int64_t kv_latency, kv_latency_sd, kv_per_token, kv_time_sd;
    double time_factor;
    long max_num_seqs;
};

/* Copy the latency settings out of a config. */
void sim_lat_from_config(struct sim_lat *l, const struct sim_config *c);

/* L(running): 1 when max_num_seqs <= 1; running counts this request. */
double sim_lat_load_factor(const struct sim_lat *l, long running);

/* The longest latency returned (2^62 ns, about 146 years), so that a sample
 * added to a clock reading never overflows. */
#define SIM_LAT_MAX_NS ((int64_t)1 << 62)

/* mean + sd*Z clamped to [0.3, 1.7] x mean, in ns; exactly mean when sd is 0;
 * at most SIM_LAT_MAX_NS. */
int64_t sim_lat_jitter(struct sim_rng *r, double mean, double sd);

/* Time to first token in ns for a prompt of n tokens, c of them cached.
 * remote_prefill selects the KV-transfer formulas (never load-scaled). */
int64_t sim_lat_ttft(const struct sim_lat *l, struct sim_rng *r, long n, long c,
                     bool remote_prefill, long running);

/* One inter-token latency in ns at the current load. */
int64_t sim_lat_itl(const struct sim_lat *l, struct sim_rng *r, long running);

#endif
