/*
 * sc_internal: state shared by sc_proxy.c (routes, pass-through) and
 * sc_pd.c (the P/D flow). Not a public API.
 */
#ifndef PDSIM_SC_INTERNAL_H
#define PDSIM_SC_INTERNAL_H

#include "common/buf.h"
#include "common/prom.h"
#include "sidecar/sc_config.h"
#include "sidecar/sc_transform.h"

#include <curl/curl.h>
#include <stdatomic.h>

struct mg_connection;

enum sc_outcome {
    SC_OUT_PD_OK,
    SC_OUT_PASS,
    SC_OUT_PREFILL_ERR,
    SC_OUT_DECODE_ERR,
    SC_OUT_CLIENT_ERR,
    SC_OUT_CLIENT_GONE,
    SC_OUT_FALLBACK,
    SC_OUT_N
};

/* One listening port: rank 0 on --port, rank r of --data-parallel-size on
 * port+r, proxying to the decoder on model-server-port+r. */
struct sc_listener {
    struct sc_server *s;
    struct mg_context *ctx;
    int rank;
    int port;          /* the real port */
    char decoder[300]; /* "http://host:port" */
};

/* The process: its listeners and the counters they share. */
struct tls_reload;

struct sc_server {
    const struct sc_config *cfg;
    struct sc_listener *ls;
    int nls;
    char pod_ip[64];            /* env POD_IP, for x-data-parallel-host-port */
    long sglang_bootstrap_port; /* env SGLANG_BOOTSTRAP_PORT, default 8998 */
    _Atomic unsigned long long outcomes[SC_OUT_N];
    _Atomic unsigned long long retries, prefill_timeouts, decode_timeouts, ssrf_denied, fallbacks;
    _Atomic long inflight;
    _Atomic bool stopping;
    _Atomic unsigned long long req_counter;
    struct tls_reload *tls; /* with --cert-path: serves renewed files */
    struct prom_hist prefill_seconds, decode_ttfb_seconds;
};

/* One proxied request: what both legs share. */
struct sc_req {
    struct sc_server *s;
    const struct sc_listener *l; /* the rank whose decoder serves the request */
    struct mg_connection *c;
    const char *method, *path, *query;
    struct curl_slist *fwd; /* forwarded request headers (hop-by-hop removed) */
    char request_id[80];
    int client_fd; /* the client's socket once verified (-1: unknown); see sc_client_fd */
    int client_fd_candidate;
    bool client_fd_checked;
};

/* The client's socket, verified on first use (one getpeername), so short
 * requests that never wait never pay for it. -1 when it cannot be proved. */
int sc_client_fd(void *req);

/* The P/D flow for an intercepted path. Returns the status for the log. */
int sc_pd_serve(struct sc_req *r, enum sc_api api, const char *prefiller, const char *body,
                size_t len);

/* Stream the decoder's answer to method+path with body to the client,
 * rewriting cached tokens when cached >= 0. Returns the status. */
int sc_relay(struct sc_req *r, const char *url, const char *method, const char *body, size_t len,
             long cached, long timeout_ms, enum sc_outcome ok_outcome);

/* shared-storage's decode-first: relay the decoder's answer to POST body
 * unless needs_prefill says, on the JSON body or the first two SSE events,
 * that the decoder lacks the KV cache; then nothing is sent and 0 is
 * returned. Otherwise the status sent. */
int sc_relay_unless(struct sc_req *r, const char *url, const char *body, size_t len,
                    long timeout_ms, bool (*needs_prefill)(const char *p, size_t n, bool sse));

/* An OpenAI-style JSON error to the client. Returns status. */
int sc_error(struct sc_req *r, int status, const char *type, const char *message);

#endif
