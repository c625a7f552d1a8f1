#include "simulator/sim_latency.h"

void sim_lat_from_config(struct sim_lat *l, const struct sim_config *c)
{
    l->calc = c->calc;
    l->ttft = c->ttft;
    l->ttft_sd = c->ttft_sd;
    l->itl = c->itl;
    l->itl_sd = c->itl_sd;
    l->prefill_overhead = c->prefill_overhead;
    l->prefill_per_token = c->prefill_per_token;
    l->prefill_sd = c->prefill_sd;
    l->kv_latency = c->kv_latency;
    l->kv_latency_sd = c->kv_latency_sd;
    l->kv_per_token = c->kv_per_token;
    l->kv_time_sd = c->kv_time_sd;
    l->time_factor = c->time_factor_under_load;
    l->max_num_seqs = c->max_num_seqs;
}

double sim_lat_load_factor(const struct sim_lat *l, long running)
{
    if (l->max_num_seqs <= 1 || running <= 1)
        return 1.0;
    if (running > l->max_num_seqs)
        running = l->max_num_seqs;
    return 1.0 + (l->time_factor - 1.0) * (double)(running - 1) / (double)(l->max_num_seqs - 1);
}

/* Round to whole nanoseconds, saturating at SIM_LAT_MAX_NS: a huge setting
 * (--prefill-time-per-token=2000000h) times a long prompt is beyond int64. */
static int64_t round_ns(double v)
{
    return v < (double)SIM_LAT_MAX_NS ? (int64_t)(v + 0.5) : SIM_LAT_MAX_NS;
}

int64_t sim_lat_jitter(struct sim_rng *r, double mean, double sd)
{
    if (mean <= 0)
        return 0;
    if (sd <= 0)
        return round_ns(mean);
    double v = mean + sd * sim_rng_normal(r);
    double lo = 0.3 * mean, hi = 1.7 * mean;
    if (v < lo)
        v = lo;
    if (v > hi)
        v = hi;
    return round_ns(v);
}

static int64_t remote_ttft(const struct sim_lat *l, struct sim_rng *r, long n)
{
    bool constant = l->calc == SIM_CALC_CONSTANT ||
                    (l->calc == SIM_CALC_LEGACY && (l->kv_latency || l->kv_latency_sd));
    if (constant)
        return sim_lat_jitter(r, (double)l->kv_latency, (double)l->kv_latency_sd);
    return sim_lat_jitter(r, (double)n * (double)l->kv_per_token, (double)l->kv_time_sd);
}

int64_t sim_lat_ttft(const struct sim_lat *l, struct sim_rng *r, long n, long c,
                     bool remote_prefill, long running)
{
    if (remote_prefill)
        return remote_ttft(l, r, n);
    double f = sim_lat_load_factor(l, running);
    bool constant =
        l->calc == SIM_CALC_CONSTANT || (l->calc == SIM_CALC_LEGACY && (l->ttft || l->ttft_sd));
    if (constant)
        return sim_lat_jitter(r, f * (double)l->ttft, (double)l->ttft_sd);
    long uncached = n > c ? n - c : 0;
    double mean =
        f * (double)l->prefill_overhead + (double)uncached * f * (double)l->prefill_per_token;
    return sim_lat_jitter(r, mean, (double)l->prefill_sd);
}

int64_t sim_lat_itl(const struct sim_lat *l, struct sim_rng *r, long running)
{
    double f = sim_lat_load_factor(l, running);
    return sim_lat_jitter(r, f * (double)l->itl, (double)l->itl_sd);
}
