#include "simulator/sim_rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sim_rng_seed(struct sim_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

void sim_rng_seed2(struct sim_rng *r, uint64_t a, uint64_t b)
{
    uint64_t x = a;
    uint64_t mixed = splitmix64(&x) ^ (b * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
    sim_rng_seed(r, mixed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_u64(struct sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double sim_rng_double(struct sim_rng *r)
{
    return (double)(sim_rng_u64(r) >> 11) * 0x1.0p-53;
}

int64_t sim_rng_range(struct sim_rng *r, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    uint64_t span = (uint64_t)(hi - lo) + 1;
    if (span == 0) /* the full 64-bit range */
        return (int64_t)sim_rng_u64(r);
    /* Lemire's nearly-divisionless method would be faster; rejection keeps it unbiased. */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % span);
    uint64_t v;
    do {
        v = sim_rng_u64(r);
    } while (v >= limit);
    return lo + (int64_t)(v % span);
}

double sim_rng_normal(struct sim_rng *r)
{
    /* Marsaglia's polar method; the spare deviate is dropped to keep state simple. */
    double u, v, s;
    do {
        u = 2.0 * sim_rng_double(r) - 1.0;
        v = 2.0 * sim_rng_double(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    return u * sqrt(-2.0 * log(s) / s);
}
