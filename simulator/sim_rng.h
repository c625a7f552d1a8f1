/*
 * sim_rng: a small, fast, seedable PRNG (xoshiro256**, seeded by splitmix64).
 *
 * Each request gets its own generator derived from (--seed, request number),
 * so a run is reproducible for a given seed whatever the thread interleaving.
 * Not thread-safe: one generator per request or per thread.
 */
#ifndef PDSIM_SIM_RNG_H
#define PDSIM_SIM_RNG_H

#include <stdint.h>

struct sim_rng {
    uint64_t s[4];
};

/* Seed from one 64-bit value (any value, 0 included). */
void sim_rng_seed(struct sim_rng *r, uint64_t seed);
/* Seed from two values, e.g. the process seed and a request counter. */
void sim_rng_seed2(struct sim_rng *r, uint64_t a, uint64_t b);
uint64_t sim_rng_u64(struct sim_rng *r);
/* Uniform in [0, 1). */
double sim_rng_double(struct sim_rng *r);
/* Uniform integer in [lo, hi] (inclusive); returns lo when hi <= lo. */
int64_t sim_rng_range(struct sim_rng *r, int64_t lo, int64_t hi);
/* Standard normal deviate (mean 0, sd 1). */
double sim_rng_normal(struct sim_rng *r);

#endif
