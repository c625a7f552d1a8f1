/*
 * sc_config: pdsim-sidecar's flags: the newest llm-d pd-sidecar spellings,
 * the legacy llm-d-routing-sidecar ones still found in manifests (-port,
 * -vllm-port, --connector, -v, the *-use-tls booleans), and pdsim's own
 * (default prefiller, per-stage timeouts). Flags take one or two dashes, as
 * Go's flag package does. Flags > --configuration-file YAML > defaults.
 * Pure apart from reading that file; errors name the flag or key.
 */
#ifndef PDSIM_SC_CONFIG_H
#define PDSIM_SC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum sc_connector {
    SC_CONN_NIXLV2,         /* kv_transfer_params handshake (default) */
    SC_CONN_NIXL,           /* legacy v1: top-level remote_* fields */
    SC_CONN_SHARED_STORAGE, /* prefill to storage, optional decode-first */
    SC_CONN_LMCACHE,        /* legacy: capped prefill, then the original body */
    SC_CONN_SGLANG,         /* both legs at once with bootstrap_* fields */
};

/* The connector's name as on the command line. */
const char *sc_connector_name(enum sc_connector c);

struct sc_config {
    char *host;             /* listen address (pdsim extension) */
    long port;              /* 0 = any free port */
    long model_server_port; /* the local decoder */
    char *decoder_host;     /* pdsim extension, default 127.0.0.1 */
    enum sc_connector connector;
    bool secure_proxy;        /* serve TLS */
    char *cert_path;          /* dir with tls.crt and tls.key; NULL: a self-signed certificate */
    unsigned tls_stages;      /* SC_STAGE_* bits using https upstream (--enable-tls) */
    unsigned insecure_stages; /* SC_STAGE_* bits not verifying certificates */
    bool enable_ssrf;
    char **allow; /* SSRF allow-list entries: host, host:port or CIDR */
    size_t nallow;
    long prefill_max_retries;
    int64_t prefill_retry_backoff; /* ns */
    long data_parallel_size;
    char *default_prefiller; /* host:port or NULL */
    int64_t prefill_timeout; /* ns; 0 = none */
    int64_t decode_timeout;  /* ns; 0 = none */
    bool prefill_fallback_local;
    long max_body_mb;
    long v;
    long http_threads;
    int64_t http_request_timeout; /* ns: civetweb request_timeout_ms */
    char *config_path;
};

/* The upstream stages of --enable-tls and --tls-insecure-skip-verify. */
enum { SC_STAGE_PREFILLER = 1, SC_STAGE_DECODER = 2, SC_STAGE_ENCODER = 4 };

enum sc_config_result { SC_CONFIG_OK = 0, SC_CONFIG_HELP = 1, SC_CONFIG_ERROR = -1 };

/* Parse argv (and the YAML file it names). Release cfg with sc_config_release
 * also on error; err holds one line naming the flag or key. */
enum sc_config_result sc_config_load(struct sc_config *cfg, int argc, char **argv, char *err,
                                     size_t errlen);
void sc_config_release(struct sc_config *cfg);
void sc_config_help(FILE *out);

#endif
