/*
 * pdsim-simulator: wires the configuration, logging and the HTTP server,
 * then waits for SIGTERM/SIGINT and drains in-flight requests.
 */
#include "common/httpd.h"
#include "common/log.h"
#include "simulator/sim_config.h"
#include "simulator/sim_server.h"

#include <civetweb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Wait until no request is in flight, for at most timeout_ns. Returns the
 * number still in flight. */
static long wait_idle(struct sim_server *srv, int64_t timeout_ns)
{
    struct timespec start, now, tick = {0, 10 * 1000000L};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        long n = sim_server_inflight(srv);
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
static void drain(struct sim_server *srv, int64_t timeout_ns)
{
    long n = wait_idle(srv, timeout_ns);
    if (n == 0)
        return;
    log_warn("drain timeout: ending in-flight requests", LOG_INT("inflight", n));
    sim_server_abort(srv);
    wait_idle(srv, 5000000000LL);
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

    mg_init_library(0);
    struct sim_server *srv = sim_server_start(&cfg, err, sizeof(err));
    if (!srv) {
        fprintf(stderr, "pdsim-simulator: %s\n", err);
        mg_exit_library();
        sim_config_release(&cfg);
        return 1;
    }
    log_info("listening", LOG_STR("host", cfg.host), LOG_INT("port", sim_server_port(srv)),
             LOG_STR("scheme", (cfg.ssl_certfile && *cfg.ssl_certfile) || cfg.self_signed_certs
                                   ? "https"
                                   : "http"),
             LOG_STR("model", cfg.model), LOG_INT("max_num_seqs", cfg.max_num_seqs));
    int sig = 0;
    sigwait(&set, &sig);
    log_info("shutting down", LOG_INT("signal", sig));
    sim_server_begin_shutdown(srv);
    drain(srv, cfg.shutdown_timeout);
    sim_server_stop(srv);
    mg_exit_library();
    sim_config_release(&cfg);
    log_info("stopped");
    return 0;
}
