/*
 * pdsim-sidecar: wires the configuration, logging, libcurl and the HTTP
 * server, then waits for SIGTERM/SIGINT and lets in-flight requests finish
 * (60 s at most, as upstream's graceful shutdown).
 */
#include "common/httpd.h"
#include "common/log.h"
#include "sidecar/sc_config.h"
#include "sidecar/sc_proxy.h"
#include "sidecar/sc_upstream.h"

#include <civetweb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

#define DRAIN_TIMEOUT_MS 60000

static void drain(struct sc_server *s)
{
    struct timespec tick = {0, 10 * 1000000L};
    long n = 0;
    for (int ms = 0; ms < DRAIN_TIMEOUT_MS && (n = sc_server_inflight(s)) > 0; ms += 10)
        nanosleep(&tick, NULL);
    if (n > 0)
        log_warn("drain timeout: stopping with requests in flight", LOG_INT("inflight", n));
}

int main(int argc, char **argv)
{
    struct sc_config cfg;
    char err[512];
    log_set_component("sidecar");
    enum sc_config_result r = sc_config_load(&cfg, argc, argv, err, sizeof(err));
    if (r == SC_CONFIG_HELP) {
        sc_config_help(stdout);
        sc_config_release(&cfg);
        return 0;
    }
    if (r == SC_CONFIG_ERROR) {
        fprintf(stderr, "pdsim-sidecar: %s\n", err);
        sc_config_release(&cfg);
        return 2;
    }
    log_set_level(log_level_from_v((int)cfg.v));

    sigset_t set;
    httpd_block_stop_signals(&set);

    if (sc_up_global_init() != 0) {
        fprintf(stderr, "pdsim-sidecar: cannot initialise libcurl\n");
        sc_config_release(&cfg);
        return 1;
    }
    unsigned features = cfg.secure_proxy ? MG_FEATURES_TLS : 0;
    if ((mg_init_library(features) & features) != features) {
        fprintf(stderr, "pdsim-sidecar: --secure-proxy: civetweb cannot load OpenSSL (is the "
                        "tlsshim/libssl.so beside the binary?); pass --secure-proxy=false to "
                        "serve plain HTTP\n");
        sc_up_global_cleanup();
        sc_config_release(&cfg);
        return 1;
    }
    struct sc_server *srv = sc_server_start(&cfg, err, sizeof(err));
    if (!srv) {
        fprintf(stderr, "pdsim-sidecar: %s\n", err);
        mg_exit_library();
        sc_up_global_cleanup();
        sc_config_release(&cfg);
        return 1;
    }
    log_info("listening", LOG_STR("host", cfg.host), LOG_INT("port", sc_server_port(srv, 0)),
             LOG_INT("model_server_port", cfg.model_server_port),
             LOG_INT("data_parallel_size", cfg.data_parallel_size),
             LOG_STR("scheme", cfg.secure_proxy ? "https" : "http"),
             LOG_STR("default_prefiller", cfg.default_prefiller ? cfg.default_prefiller : ""));
    /* Verification is on unless a flag turned it off: say so, every start. */
    static const char *const stage_names[] = {"prefiller", "decoder", "encoder"};
    for (int i = 0; i < 3; i++)
        if (cfg.insecure_stages & (1u << i))
            log_warn("TLS certificate verification is off for an upstream",
                     LOG_STR("stage", stage_names[i]),
                     LOG_STR("flag", "--tls-insecure-skip-verify"));
    for (int i = 1; i < (int)cfg.data_parallel_size; i++)
        log_info("rank listening", LOG_INT("rank", i), LOG_INT("port", sc_server_port(srv, i)),
                 LOG_INT("model_server_port", cfg.model_server_port + i));
    int sig = 0;
    sigwait(&set, &sig);
    log_info("shutting down", LOG_INT("signal", sig));
    sc_server_begin_shutdown(srv);
    drain(srv);
    sc_server_stop(srv);
    mg_exit_library();
    sc_up_global_cleanup();
    sc_config_release(&cfg);
    log_info("stopped");
    return 0;
}
