#define _GNU_SOURCE /* strcasestr */
#include "sidecar/sc_proxy.h"

#include "common/connfd.h"
#include "common/httpd.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "sidecar/sc_headers.h"
#include "sidecar/sc_internal.h"
#include "sidecar/sc_rewrite.h"
#include "common/tls.h"
#include "common/tls_reload.h"
#include "sidecar/sc_upstream.h"

#include <civetweb.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const double prefill_bounds[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                        1,     2.5,   5,    10,    30,   60,  120};

int sc_client_fd(void *req)
{
    struct sc_req *r = req;
    if (!r->client_fd_checked) {
        r->client_fd_checked = true;
        r->client_fd = connfd_verify(r->c, r->client_fd_candidate);
    }
    return r->client_fd;
}

int sc_error(struct sc_req *r, int status, const char *type, const char *message)
{
    struct buf b;
    buf_init(&b, 1 << 16);
    int rc = buf_puts(&b, "{\"error\":{\"message\":");
    rc = rc ? rc : buf_json_str(&b, message);
    rc = rc ? rc : buf_appendf(&b, ",\"type\":\"%s\",\"param\":null,\"code\":%d}}", type, status);
    if (rc == 0)
        httpd_send(r->c, status, "application/json", "", buf_str(&b), b.len);
    buf_release(&b);
    return status;
}

/* ---- streaming relay of an upstream response to the client ----
 *
 * Writes are coalesced: the status line and headers wait for the first body
 * bytes. An event stream goes out piece by piece as chunks (each decoder
 * read is flushed at once, so tokens are never held back). Any other body is
 * gathered up to RELAY_HOLD bytes: when it ends within that, the client gets
 * one write with a Content-Length; past it, it streams chunked. */

#define RELAY_HOLD (256u * 1024)

struct relay {
    struct sc_req *r;
    bool head, started, rewrite, sse, chunked, bodyless;
    bool (*needs_prefill)(const char *p, size_t n, bool sse); /* set: hold the answer */
    bool diverted; /* needs_prefill said yes: nothing was sent */
    long cached;
    struct sc_rewriter rw;
    struct buf hdr; /* status line and headers, not yet sent */
    struct buf out; /* body bytes not yet sent */
    long status;
    struct timespec t0;
};

static void response_headers(struct relay *x, const struct buf *h, struct buf *out)
{
    struct sc_hline l;
    for (const char *p = buf_str(h); sc_header_next(&p, &l);) {
        bool keep_len = x->head && strcasecmp(l.name, "Content-Length") == 0;
        if ((keep_len || !sc_header_is_dropped(l.name, NULL)) &&
            strcasecmp(l.name, "x-request-id") != 0) {
            int rc = buf_append(out, l.line, l.len);
            rc = rc ? rc : buf_puts(out, "\r\n");
            (void)rc; /* no cap */
        }
        if (strcasecmp(l.name, "Content-Type") == 0 && strcasestr(l.line, "text/event-stream"))
            x->sse = true;
    }
}

static int flush_chunked(struct relay *x);

static int on_headers(void *arg, long status, const struct buf *h)
{
    struct relay *x = arg;
    x->status = status;
    x->started = true;
    x->bodyless = x->head || status == 204 || status == 304 || (status >= 100 && status < 200);
    int rc = buf_appendf(&x->hdr, "HTTP/1.1 %ld %s\r\n", status, httpd_reason((int)status));
    response_headers(x, h, &x->hdr);
    rc = rc ? rc : buf_appendf(&x->hdr, "x-request-id: %s\r\n", x->r->request_id);
    if (x->rewrite)
        sc_rewriter_init(&x->rw, x->cached, x->sse, 64u << 20);
    /* A stream's headers go out at once: clients see the response start
     * when the decoder starts it, not at the first token. */
    return rc ? rc : x->sse && !x->bodyless && !x->needs_prefill ? flush_chunked(x) : 0;
}

static int write_all(struct relay *x, const struct buf *b)
{
    return b->len == 0 || mg_write(x->r->c, b->data, b->len) == (int)b->len ? 0 : -EIO;
}

/* Send what is pending as chunked output (headers first, once). */
static int flush_chunked(struct relay *x)
{
    if (!x->chunked) {
        x->chunked = true;
        int rc = buf_puts(&x->hdr, "Transfer-Encoding: chunked\r\n\r\n");
        if (rc < 0)
            return rc;
    }
    if (x->out.len) {
        int rc = buf_appendf(&x->hdr, "%zx\r\n", x->out.len);
        rc = rc ? rc : buf_append(&x->hdr, x->out.data, x->out.len);
        rc = rc ? rc : buf_puts(&x->hdr, "\r\n");
        if (rc < 0)
            return rc;
        buf_reset(&x->out);
    }
    int rc = write_all(x, &x->hdr);
    buf_reset(&x->hdr);
    return rc;
}

/* Complete SSE events ("\n\n"-terminated) in b. */
static size_t count_events(const struct buf *b)
{
    size_t n = 0;
    for (const char *p = b->data, *end = b->data + b->len;
         (p = memmem(p, (size_t)(end - p), "\n\n", 2)) != NULL; p += 2)
        n++;
    return n;
}

static int on_body(void *arg, const char *p, size_t n)
{
    struct relay *x = arg;
    if (x->bodyless)
        return 0;
    int rc = x->rewrite ? sc_rewriter_feed(&x->rw, p, n, &x->out) : buf_append(&x->out, p, n);
    if (rc < 0)
        return rc;
    if (x->needs_prefill) { /* decode-first: hold until two SSE events or the end */
        if (!x->sse || count_events(&x->out) < 2)
            return 0;
        if (x->status == 200 && x->needs_prefill(x->out.data, x->out.len, true)) {
            x->diverted = true;
            return -ECANCELED;
        }
        x->needs_prefill = NULL;
    }
    if (x->sse || x->chunked || x->out.len > RELAY_HOLD)
        return x->out.len ? flush_chunked(x) : 0;
    return 0;
}

/* The upstream response ended: send the rest. */
static int relay_finish(struct relay *x)
{
    int rc = x->rewrite ? sc_rewriter_finish(&x->rw, &x->out) : 0;
    if (rc < 0)
        return rc;
    if (x->needs_prefill && x->status == 200 && x->needs_prefill(x->out.data, x->out.len, x->sse)) {
        x->diverted = true;
        return 0;
    }
    if (x->bodyless) {
        rc = buf_puts(&x->hdr, "\r\n");
        return rc ? rc : write_all(x, &x->hdr);
    }
    if (!x->chunked) { /* the whole body is here: one write, with its length */
        rc = buf_appendf(&x->hdr, "Content-Length: %zu\r\n\r\n", x->out.len);
        rc = rc ? rc : buf_append(&x->hdr, x->out.data, x->out.len);
        return rc ? rc : write_all(x, &x->hdr);
    }
    rc = flush_chunked(x);
    return rc ? rc : httpd_end_chunked(x->r->c);
}

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int relay_ttfb(void *arg, long status, const struct buf *h)
{
    struct relay *x = arg;
    prom_hist_observe(&x->r->s->decode_ttfb_seconds, since(&x->t0));
    return on_headers(arg, status, h);
}

static int relay_run(struct relay *xp, const char *url, const char *method, const char *body,
                     size_t len, long timeout_ms, enum sc_outcome ok_outcome);

int sc_relay(struct sc_req *r, const char *url, const char *method, const char *body, size_t len,
             long cached, long timeout_ms, enum sc_outcome ok_outcome)
{
    struct relay x = {
        .r = r, .head = strcmp(method, "HEAD") == 0, .rewrite = cached >= 0, .cached = cached};
    return relay_run(&x, url, method, body, len, timeout_ms, ok_outcome);
}

int sc_relay_unless(struct sc_req *r, const char *url, const char *body, size_t len,
                    long timeout_ms, bool (*needs_prefill)(const char *p, size_t n, bool sse))
{
    struct relay x = {.r = r, .cached = -1, .needs_prefill = needs_prefill};
    return relay_run(&x, url, "POST", body, len, timeout_ms, SC_OUT_PD_OK);
}

static int relay_run(struct relay *xp, const char *url, const char *method, const char *body,
                     size_t len, long timeout_ms, enum sc_outcome ok_outcome)
{
    struct relay x = *xp;
    struct sc_req *r = x.r;
    struct sc_up_sink sink = {relay_ttfb, on_body, &x};
    struct sc_up_req up = {
        method,     url,  r->fwd,       body, len,
        timeout_ms, 5000, sc_client_fd, r,    (r->s->cfg->insecure_stages & SC_STAGE_DECODER) != 0};
    char err[CURL_ERROR_SIZE + 64] = "";
    buf_init(&x.out, BUF_NOCAP);
    buf_init(&x.hdr, BUF_NOCAP);
    clock_gettime(CLOCK_MONOTONIC, &x.t0);
    enum sc_up_result res = sc_up_perform(&up, &sink, err, sizeof(err));
    int status = (int)x.status;
    struct sc_server *s = r->s;
    bool sent = x.chunked; /* the client has the status line already */
    if (res == SC_UP_OK && x.started)
        relay_finish(&x);
    if (x.diverted) {
        status = 0; /* decode-first: a prefill is needed, nothing was sent */
    } else if (res == SC_UP_OK && x.started) {
        atomic_fetch_add(&s->outcomes[ok_outcome], 1);
    } else if (res == SC_UP_ABORTED && connfd_peer_gone(sc_client_fd(r))) {
        atomic_fetch_add(&s->outcomes[SC_OUT_CLIENT_GONE], 1);
        status = 499;
    } else if (!sent) {
        atomic_fetch_add(&s->outcomes[SC_OUT_DECODE_ERR], 1);
        if (res == SC_UP_REFUSED)
            status = sc_error(r, 503, "ServiceUnavailable", "decode server not ready");
        else if (res == SC_UP_TIMEOUT) {
            atomic_fetch_add(&s->decode_timeouts, 1);
            status = sc_error(r, 504, "GatewayTimeout", "decode server timed out");
        } else
            status = sc_error(r, 502, "BadGateway", err[0] ? err : "decode response failed");
    } else {
        /* The stream broke after it started: end it, the status is sent. */
        atomic_fetch_add(&s->outcomes[SC_OUT_DECODE_ERR], 1);
        if (res == SC_UP_TIMEOUT)
            atomic_fetch_add(&s->decode_timeouts, 1);
        httpd_end_chunked(r->c);
    }
    if (x.rewrite && x.started)
        sc_rewriter_release(&x.rw);
    buf_release(&x.out);
    buf_release(&x.hdr);
    return status;
}

/* ---- routes ---- */

static struct curl_slist *forward_headers(struct sc_req *r, const struct mg_request_info *ri)
{
    struct curl_slist *l = NULL;
    const char *conn = mg_get_header(r->c, "Connection");
    const char *xff = NULL, *rid = NULL;
    for (int i = 0; i < ri->num_headers; i++) {
        const char *n = ri->http_headers[i].name, *v = ri->http_headers[i].value;
        if (strcasecmp(n, "X-Forwarded-For") == 0) {
            xff = v;
            continue;
        }
        if (strcasecmp(n, "x-request-id") == 0) {
            rid = rid ? rid : v; /* reused, never duplicated */
            continue;
        }
        if (sc_header_is_dropped(n, conn))
            continue;
        size_t ll = strlen(n) + strlen(v) + 3;
        char *line = xmalloc(ll);
        snprintf(line, ll, "%s: %s", n, v);
        l = curl_slist_append(l, line);
        free(line);
    }
    if (rid && *rid && strlen(rid) < sizeof(r->request_id))
        snprintf(r->request_id, sizeof(r->request_id), "%s", rid);
    else
        snprintf(r->request_id, sizeof(r->request_id), "pdsim-%d-%llu", r->s->ls[0].port,
                 (unsigned long long)atomic_fetch_add(&r->s->req_counter, 1));
    struct buf b;
    buf_init(&b, 8192);
    int rc = buf_puts(&b, "X-Forwarded-For: ");
    rc = rc ? rc : sc_forwarded_for(&b, xff, ri->remote_addr);
    if (rc == 0)
        l = curl_slist_append(l, buf_str(&b));
    buf_release(&b);
    char idh[128];
    snprintf(idh, sizeof(idh), "x-request-id: %s", r->request_id);
    l = curl_slist_append(l, idh);
    return curl_slist_append(l, "Expect:"); /* no 100-continue round trip */
}

/* The prefiller this request names (header, else --default-prefiller).
 * Returns 1 with out set, 0 for none, or an HTTP status after answering. */
static int pick_prefiller(struct sc_req *r, const struct mg_request_info *ri, char *out,
                          size_t outlen)
{
    const char *vals[16];
    size_t n = 0;
    for (int i = 0; i < ri->num_headers && n < 16; i++)
        if (strcasecmp(ri->http_headers[i].name, "x-prefiller-host-port") == 0)
            vals[n++] = ri->http_headers[i].value;
    char err[300];
    int rc = sc_prefiller_pick(vals, n, out, outlen, err, sizeof(err));
    if (rc < 0)
        return sc_error(r, 400, "BadRequestError", err);
    if (rc == 0 && r->s->cfg->default_prefiller) {
        snprintf(out, outlen, "%s", r->s->cfg->default_prefiller);
        rc = 1;
    }
    return rc > 0 ? 1 : 0;
}

static void url_of(struct sc_req *r, const char *base, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s%s%s%s", base, r->path, r->query ? "?" : "", r->query ? r->query : "");
}

/* GET a decoder path into m; returns the status, 0 when unreachable. */
static long decoder_get(struct sc_req *r, const char *path, struct sc_up_buffer *m)
{
    char url[400];
    snprintf(url, sizeof(url), "%s%s", r->l->decoder, path);
    struct sc_up_req up = {
        "GET", url,  NULL, NULL, 0,
        5000,  1000, NULL, NULL, (r->s->cfg->insecure_stages & SC_STAGE_DECODER) != 0};
    struct sc_up_sink sink = sc_up_buffer_sink(m);
    return sc_up_perform(&up, &sink, NULL, 0) == SC_UP_OK ? m->status : 0;
}

static int handle_ready(struct sc_req *r)
{
    struct sc_up_buffer m;
    sc_up_buffer_init(&m, 1 << 16);
    long st = decoder_get(r, "/health", &m);
    sc_up_buffer_release(&m);
    if (st == 200) {
        httpd_send(r->c, 200, "application/json", "", "", 0);
        return 200;
    }
    return sc_error(r, 503, "ServiceUnavailable", "decode server not ready");
}

static int sidecar_metrics(struct sc_server *s, struct buf *b)
{
    static const char *const names[SC_OUT_N] = {"pd_ok",           "passthrough",  "prefill_error",
                                                "decode_error",    "client_error", "client_gone",
                                                "prefill_fallback"};
    int rc = prom_write_header(b, "pdsim_sidecar_requests_total",
                               "Requests handled by the sidecar, by outcome.", "counter");
    for (int i = 0; i < SC_OUT_N && rc == 0; i++) {
        char l[64];
        snprintf(l, sizeof(l), "outcome=\"%s\"", names[i]);
        rc = prom_write_sample(b, "pdsim_sidecar_requests_total", l,
                               (double)atomic_load(&s->outcomes[i]));
    }
    static const struct {
        const char *name, *help;
        size_t off;
    } counters[] = {
        {"pdsim_sidecar_prefill_retries_total", "Prefill retries after 502/503/504.",
         offsetof(struct sc_server, retries)},
        {"pdsim_sidecar_ssrf_denied_total", "Prefill targets refused by the allow-list.",
         offsetof(struct sc_server, ssrf_denied)},
        {"pdsim_sidecar_prefill_fallbacks_total",
         "Failed prefills decoded locally (--prefill-fallback-local).",
         offsetof(struct sc_server, fallbacks)},
    };
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]) && rc == 0; i++) {
        rc = prom_write_header(b, counters[i].name, counters[i].help, "counter");
        rc =
            rc ? rc
               : prom_write_sample(b, counters[i].name, "",
                                   (double)atomic_load((
                                       _Atomic unsigned long long *)((char *)s + counters[i].off)));
    }
    rc = rc ? rc
            : prom_write_header(b, "pdsim_sidecar_timeouts_total", "Upstream legs that timed out.",
                                "counter");
    rc = rc ? rc
            : prom_write_sample(b, "pdsim_sidecar_timeouts_total", "stage=\"prefill\"",
                                (double)atomic_load(&s->prefill_timeouts));
    rc = rc ? rc
            : prom_write_sample(b, "pdsim_sidecar_timeouts_total", "stage=\"decode\"",
                                (double)atomic_load(&s->decode_timeouts));
    rc = rc ? rc
            : prom_write_header(b, "pdsim_sidecar_prefill_duration_seconds",
                                "Prefill leg duration, retries included.", "histogram");
    rc = rc ? rc
            : prom_write_hist(b, "pdsim_sidecar_prefill_duration_seconds", "", &s->prefill_seconds);
    rc = rc ? rc
            : prom_write_header(b, "pdsim_sidecar_decode_ttfb_seconds",
                                "Decode leg: time to the decoder's response headers.", "histogram");
    return rc ? rc
              : prom_write_hist(b, "pdsim_sidecar_decode_ttfb_seconds", "",
                                &s->decode_ttfb_seconds);
}

/* /metrics: the decoder's metrics followed by the sidecar's own. */
static int handle_metrics(struct sc_req *r)
{
    struct sc_up_buffer m;
    sc_up_buffer_init(&m, 64u << 20);
    long st = decoder_get(r, "/metrics", &m);
    if (st == 200 && m.body.len && m.body.data[m.body.len - 1] != '\n') {
        int rc = buf_putc(&m.body, '\n');
        (void)rc;
    }
    if (st != 200)
        buf_reset(&m.body);
    int rc = sidecar_metrics(r->s, &m.body);
    if (rc == 0)
        httpd_send(r->c, 200, "text/plain; version=0.0.4; charset=utf-8", "", buf_str(&m.body),
                   m.body.len);
    sc_up_buffer_release(&m);
    return rc == 0 ? 200 : sc_error(r, 500, "InternalServerError", "cannot format metrics");
}

static int route(struct sc_req *r, const struct mg_request_info *ri)
{
    bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    if (get && strcmp(r->path, "/health") == 0) {
        httpd_send(r->c, 200, "application/json", "", "", 0);
        return 200;
    }
    if (get && strcmp(r->path, "/ready") == 0)
        return handle_ready(r);
    if (strcmp(r->method, "GET") == 0 && strcmp(r->path, "/metrics") == 0)
        return handle_metrics(r);
    struct buf body;
    long cap = r->s->cfg->max_body_mb;
    buf_init(&body, (size_t)cap << 20);
    int rc = httpd_read_body(r->c, &body);
    int status;
    enum sc_api api;
    char prefiller[300];
    if (rc == -E2BIG) {
        if (httpd_discard_body(r->c, body.cap * 4) < 0)
            mg_disable_connection_keep_alive(r->c);
        status = sc_error(r, 413, "BadRequestError", "Request body is larger than the limit");
    } else if (rc < 0) {
        status = sc_error(r, 400, "BadRequestError", "Failed to read request body");
    } else if (strcmp(r->method, "POST") == 0 && sc_api_from_path(r->path, &api) == 0 &&
               (status = pick_prefiller(r, ri, prefiller, sizeof(prefiller))) != 0) {
        if (status == 1)
            status = sc_pd_serve(r, api, prefiller, buf_str(&body), body.len);
    } else {
        char url[8192];
        url_of(r, r->l->decoder, url, sizeof(url));
        status = sc_relay(r, url, r->method,
                          body.len || strcmp(r->method, "POST") == 0 ? buf_str(&body) : NULL,
                          body.len, -1, 0, SC_OUT_PASS);
    }
    buf_release(&body);
    return status;
}

/* On rank 0 with data parallelism, x-data-parallel-host-port names the rank
 * to use, as upstream's map of POD_IP:port+r (also localhost, 127.0.0.1 or
 * the listen address). Sets r->l; returns 0, or 400 after answering. */
static int pick_rank(struct sc_req *r)
{
    const struct sc_server *s = r->s;
    const char *v =
        r->l->rank == 0 && s->nls > 1 ? mg_get_header(r->c, "x-data-parallel-host-port") : NULL;
    if (!v || !*v)
        return 0;
    char host[256], msg[400];
    int port;
    if (sc_split_host_port(v, host, sizeof(host), &port) == 0 &&
        (strcmp(host, s->pod_ip) == 0 || strcmp(host, "127.0.0.1") == 0 ||
         strcasecmp(host, "localhost") == 0 || strcmp(host, s->cfg->host) == 0)) {
        for (int i = 0; i < s->nls; i++) {
            if (s->ls[i].port == port) {
                r->l = &s->ls[i];
                return 0;
            }
        }
    }
    snprintf(msg, sizeof(msg), "x-data-parallel-host-port %s is not a rank of this sidecar", v);
    return sc_error(r, 400, "BadRequestError", msg);
}

static int on_request(struct mg_connection *c, void *cbdata)
{
    const struct mg_request_info *ri = mg_get_request_info(c);
    const struct sc_listener *l = cbdata;
    struct sc_req r = {.s = l->s,
                       .l = l,
                       .c = c,
                       .method = ri->request_method,
                       .path = ri->local_uri,
                       .query = ri->query_string};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    r.client_fd = -1;
    r.client_fd_candidate = connfd_candidate();
    r.fwd = forward_headers(&r, ri);
    atomic_fetch_add(&r.s->inflight, 1);
    int status;
    if (atomic_load(&r.s->stopping)) {
        mg_disable_connection_keep_alive(c);
        status = sc_error(&r, 503, "ServiceUnavailable", "the sidecar is shutting down");
    } else if ((status = pick_rank(&r)) == 0) {
        status = route(&r, ri);
    }
    atomic_fetch_sub(&r.s->inflight, 1);
    curl_slist_free_all(r.fwd);
    if (log_enabled(LOG_LEVEL_DEBUG))
        log_debug("request", LOG_STR("method", r.method), LOG_STR("path", r.path),
                  LOG_INT("status", status), LOG_DBL("duration_ms", since(&t0) * 1e3),
                  LOG_STR("request_id", r.request_id));
    return status > 0 ? status : 500;
}

static void *init_thread(const struct mg_context *ctx, int type)
{
    (void)ctx;
    (void)type;
    return NULL;
}

static int init_ssl(void *ssl_ctx, void *user_data)
{
    struct sc_server *s = user_data;
    return s->tls ? tls_reload_install(s->tls, ssl_ctx) : 0;
}

struct sc_server *sc_server_start(const struct sc_config *cfg, char *err, size_t errlen)
{
    struct sc_server *s = xcalloc(1, sizeof(*s));
    s->cfg = cfg;
    const char *pod_ip = getenv("POD_IP"), *sgl = getenv("SGLANG_BOOTSTRAP_PORT");
    snprintf(s->pod_ip, sizeof(s->pod_ip), "%s", pod_ip ? pod_ip : "");
    s->sglang_bootstrap_port = sgl && atol(sgl) > 0 && atol(sgl) < 65536 ? atol(sgl) : 8998;
    prom_hist_init(&s->prefill_seconds, prefill_bounds, sizeof(prefill_bounds) / sizeof(double));
    prom_hist_init(&s->decode_ttfb_seconds, prefill_bounds,
                   sizeof(prefill_bounds) / sizeof(double));
    s->ls = xcalloc((size_t)cfg->data_parallel_size, sizeof(*s->ls));
    char pem[4096] = "";
    char key[4096], crt[4096];
    if (cfg->cert_path) { /* a Kubernetes TLS secret's file names */
        snprintf(key, sizeof(key), "%s/tls.key", cfg->cert_path);
        snprintf(crt, sizeof(crt), "%s/tls.crt", cfg->cert_path);
    }
    if (cfg->secure_proxy && tls_pem(cfg->cert_path ? key : NULL, cfg->cert_path ? crt : NULL,
                                     cfg->cert_path ? "--cert-path" : "--secure-proxy", pem,
                                     sizeof(pem), err, errlen) < 0) {
        sc_server_stop(s);
        return NULL;
    }
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.init_thread = init_thread;
    if (cfg->secure_proxy && cfg->cert_path) {
        s->tls = tls_reload_new(key, crt);
        cb.init_ssl = init_ssl;
    }
    /* --http-threads is the process's total, shared out among the ranks */
    long threads = cfg->http_threads / cfg->data_parallel_size;
    for (int i = 0; i < (int)cfg->data_parallel_size; i++) {
        struct sc_listener *l = &s->ls[i];
        l->s = s;
        l->rank = i;
        snprintf(l->decoder, sizeof(l->decoder), "%s://%s:%ld",
                 cfg->tls_stages & SC_STAGE_DECODER ? "https" : "http", cfg->decoder_host,
                 cfg->model_server_port + i);
        struct httpd_opts o = {.host = cfg->host,
                               .port = cfg->port ? (int)cfg->port + i : 0,
                               .threads = threads < 16 ? 16 : (int)threads,
                               .keep_alive_ms = 60000,
                               .request_timeout_ms = httpd_timeout_ms(cfg->http_request_timeout),
                               .user_data = s,
                               .handler = on_request,
                               .handler_data = l,
                               .tls_pem = pem[0] ? pem : NULL};
        l->ctx = httpd_start(&o, &cb, &l->port, err, errlen);
        if (!l->ctx)
            break;
        s->nls = i + 1;
    }
    if (pem[0]) /* civetweb has read it */
        unlink(pem);
    if (s->nls < (int)cfg->data_parallel_size) {
        sc_server_stop(s);
        return NULL;
    }
    return s;
}

int sc_server_port(const struct sc_server *s, int rank)
{
    return s->ls[rank].port;
}

long sc_server_inflight(struct sc_server *s)
{
    return atomic_load(&s->inflight);
}

void sc_server_begin_shutdown(struct sc_server *s)
{
    atomic_store(&s->stopping, true);
}

void sc_server_stop(struct sc_server *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->nls; i++)
        httpd_stop(s->ls[i].ctx);
    free(s->ls);
    tls_reload_free(s->tls);
    prom_hist_release(&s->prefill_seconds);
    prom_hist_release(&s->decode_ttfb_seconds);
    free(s);
}
