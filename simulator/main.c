/*
 * pdsim-simulator: wires the configuration, logging and the HTTP server,
 * then waits for SIGTERM/SIGINT and drains in-flight requests.
 */
#include "common/httpd.h"
#include "common/log.h"
#include "simulator/sim_config.h"
#include "simulator/sim_dataset.h"
#include "simulator/sim_server.h"

#include <civetweb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long inflight(struct sim_server *const *srv, int n)
{
    long sum = 0;
    for (int i = 0; i < n; i++)
        sum += sim_server_inflight(srv[i]);
    return sum;
}

/* Wait until no request is in flight on any rank, for at most timeout_ns.
 * Returns the number still in flight. */
static long wait_idle(struct sim_server *const *srv, int nsrv, int64_t timeout_ns)
{
    struct timespec start, now, tick = {0, 10 * 1000000L};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        long n = inflight(srv, nsrv);
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t el =
            (int64_t)(now.tv_sec - start.tv_sec) * 1000000000LL + (now.tv_nsec - start.tv_nsec);
        if (n == 0 || el >= timeout_ns)
            return n;
        nanosleep(&tick, NULL);
    }
}

/* Let in-flight requests finish; past the timeout, end them cleanly (streams
 * get an error event and [DONE]) before civetweb stops, because civetweb
 * refuses writes once it is stopping. */
static void drain(struct sim_server *const *srv, int nsrv, int64_t timeout_ns)
{
    long n = wait_idle(srv, nsrv, timeout_ns);
    if (n == 0)
        return;
    log_warn("drain timeout: ending in-flight requests", LOG_INT("inflight", n));
    for (int i = 0; i < nsrv; i++)
        sim_server_abort(srv[i]);
    wait_idle(srv, nsrv, 5000000000LL);
}

/* Start every rank; on failure stop those started. Returns the number started. */
static int start_ranks(const struct sim_config *cfg, const struct sim_dp *dp,
                       struct sim_server **srv, char *err, size_t errlen)
{
    const char *scheme =
        (cfg->ssl_certfile && *cfg->ssl_certfile) || cfg->self_signed_certs ? "https" : "http";
    for (int i = 0; i < dp->nranks; i++) {
        srv[i] = sim_server_start(cfg, dp, i, err, errlen);
        if (!srv[i]) {
            while (i > 0)
                sim_server_stop(srv[--i]);
            return 0;
        }
        log_info("listening", LOG_STR("host", cfg->host), LOG_INT("port", sim_server_port(srv[i])),
                 LOG_STR("scheme", scheme), LOG_STR("model", cfg->model),
                 LOG_INT("max_num_seqs", cfg->max_num_seqs), LOG_INT("rank", dp->first_rank + i));
    }
    return dp->nranks;
}

/* --dataset-path, shared by every rank. Returns 0 or -1 with err naming the flag. */
static int open_dataset(const struct sim_config *cfg, struct sim_dp *dp, char *err, size_t errlen)
{
    if (!cfg->dataset_path || !*cfg->dataset_path)
        return 0;
    struct sim_dataset_opts o = {cfg->dataset_path, cfg->dataset_url, cfg->dataset_table,
                                 cfg->dataset_in_memory != 0};
    if (sim_dataset_open(&o, &dp->dataset, err, errlen) < 0)
        return -1;
    log_info("dataset loaded", LOG_STR("path", cfg->dataset_path),
             LOG_STR("table", cfg->dataset_table),
             LOG_INT("records", sim_dataset_records(dp->dataset)),
             LOG_BOOL("in_memory", cfg->dataset_in_memory));
    return 0;
}

int main(int argc, char **argv)
{
    struct sim_config cfg;
    char err[512], warn[512];
    log_set_component("simulator");
    enum sim_config_result r =
        sim_config_load(&cfg, argc, argv, err, sizeof(err), warn, sizeof(warn));
    if (r == SIM_CONFIG_HELP) {
        sim_config_help(stdout);
        sim_config_release(&cfg);
        return 0;
    }
    if (r == SIM_CONFIG_ERROR) {
        fprintf(stderr, "pdsim-simulator: %s\n", err);
        sim_config_release(&cfg);
        return 2;
    }
    log_set_level(log_level_from_v((int)cfg.v));
    if (warn[0])
        log_warn("flag ignored", LOG_STR("detail", warn));

    /* Block the stop signals in every thread; main takes them with sigwait. */
    sigset_t set;
    httpd_block_stop_signals(&set);

    struct sim_dp dp;
    struct sim_server *srv[SIM_DP_MAX];
    sim_dp_init(&dp, &cfg);
    if (open_dataset(&cfg, &dp, err, sizeof(err)) < 0) {
        fprintf(stderr, "pdsim-simulator: %s\n", err);
        sim_config_release(&cfg);
        return 2;
    }
    mg_init_library(0);
    int nsrv = start_ranks(&cfg, &dp, srv, err, sizeof(err));
    if (nsrv == 0) {
        fprintf(stderr, "pdsim-simulator: %s\n", err);
        mg_exit_library();
        sim_dataset_free(dp.dataset);
        sim_config_release(&cfg);
        return 1;
    }
    int sig = 0;
    sigwait(&set, &sig);
    log_info("shutting down", LOG_INT("signal", sig));
    for (int i = 0; i < nsrv; i++)
        sim_server_begin_shutdown(srv[i]);
    drain(srv, nsrv, cfg.shutdown_timeout);
    for (int i = 0; i < nsrv; i++)
        sim_server_stop(srv[i]);
    mg_exit_library();
    sim_dataset_free(dp.dataset);
    sim_config_release(&cfg);
    log_info("stopped");
    return 0;
}
