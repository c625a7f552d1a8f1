#define _GNU_SOURCE /* prctl */
#include "simulator/sim_server.h"

#include "common/buf.h"
#include "common/httpd.h"
#include "common/json.h"
#include "common/log.h"
#include "common/pump.h"
#include "common/tls.h"
#include "common/tls_reload.h"
#include "common/xalloc.h"
#include "simulator/sim_admin.h"
#include "simulator/sim_endpoints.h"
#include "simulator/sim_fakemetrics.h"
#include "simulator/sim_internal.h"
#include "simulator/sim_kvrank.h"
#include "simulator/sim_pd.h"
#include "simulator/sim_resp_api.h"
#include "simulator/sim_tokenizer.h"

#include <civetweb.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static int send_json(struct sim_server *s, struct mg_connection *c, int status, struct buf *b)
{
    httpd_send(c, status, "application/json", s->extra_headers, buf_str(b), b->len);
    return status;
}

static int send_err(struct sim_server *s, struct mg_connection *c, int status, const char *msg)
{
    httpd_send_error(c, status, msg, NULL, s->extra_headers);
    return status;
}

struct models_ctx {
    struct buf *b;
    const struct sim_config *cfg;
    long now;
};

/* One /v1/models entry per adapter: root is its path (or name), parent the
 * displayed base model, as upstream. */
static int model_entry_lora(void *arg, const char *name, const char *path)
{
    struct models_ctx *m = arg;
    int rc = buf_puts(m->b, ",{\"id\":");
    rc = rc ? rc : buf_json_str(m->b, name);
    rc = rc ? rc
            : buf_appendf(
                  m->b,
                  ",\"object\":\"model\",\"created\":%ld,\"owned_by\":\"vllm\",\"root\":", m->now);
    rc = rc ? rc : buf_json_str(m->b, *path ? path : name);
    rc = rc ? rc : buf_puts(m->b, ",\"parent\":");
    rc = rc ? rc : buf_json_str(m->b, sim_config_display_name(m->cfg));
    rc = rc ? rc : buf_appendf(m->b, ",\"max_model_len\":%ld}", m->cfg->max_model_len);
    return rc;
}

static int handle_models(struct sim_server *s, struct mg_connection *c)
{
    struct buf b;
    long now = (long)time(NULL);
    int rc = 0;
    buf_init(&b, BUF_NOCAP);
    rc = buf_puts(&b, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < s->cfg->nserved && rc == 0; i++) {
        rc = buf_puts(&b, i ? ",{\"id\":" : "{\"id\":");
        rc = rc ? rc : buf_json_str(&b, s->cfg->served[i]);
        rc = rc ? rc
                : buf_appendf(&b,
                              ",\"object\":\"model\",\"created\":%ld,\"owned_by\":"
                              "\"vllm\",\"root\":",
                              now);
        rc = rc ? rc : buf_json_str(&b, s->cfg->model);
        rc = rc ? rc
                : buf_appendf(&b, ",\"parent\":null,\"max_model_len\":%ld}", s->cfg->max_model_len);
    }
    struct models_ctx mc = {&b, s->cfg, now};
    rc = rc ? rc : sim_lora_each(s->loras, model_entry_lora, &mc);
    rc = rc ? rc : buf_puts(&b, "]}");
    send_json(s, c, 200, &b);
    buf_release(&b);
    return 200;
}

static int handle_metrics(struct sim_server *s, struct mg_connection *c)
{
    struct buf b;
    buf_init(&b, BUF_NOCAP);
    if (sim_metrics_format(s->metrics, &b) < 0) {
        buf_release(&b);
        return send_err(s, c, 500, "cannot format metrics");
    }
    httpd_send(c, 200, "text/plain; version=0.0.4; charset=utf-8", s->extra_headers, buf_str(&b),
               b.len);
    buf_release(&b);
    return 200;
}

static int tokenize_reply(struct sim_server *s, struct mg_connection *c, const char *text,
                          size_t len)
{
    struct sim_toklist t;
    struct buf b;
    sim_toklist_init(&t);
    sim_tokenize(text, len, &t);
    buf_init(&b, BUF_NOCAP);
    int rc = buf_appendf(&b, "{\"max_model_len\":%ld,\"count\":%zu,\"tokens\":[",
                         s->cfg->max_model_len, t.n);
    for (size_t i = 0; i < t.n && rc == 0; i++)
        rc = buf_appendf(&b, i ? ",%u" : "%u", t.v[i].id);
    rc = rc ? rc : buf_puts(&b, "],\"token_strs\":null}");
    send_json(s, c, 200, &b);
    buf_release(&b);
    sim_toklist_release(&t);
    return 200;
}

static int handle_tokenize(struct sim_server *s, struct mg_connection *c)
{
    struct buf body;
    char err[256];
    const char *param;
    struct sim_request req;
    buf_init(&body, (size_t)s->cfg->max_request_body_size_mb << 20);
    int rc = httpd_read_body(c, &body);
    if (rc < 0) {
        buf_release(&body);
        if (rc == -E2BIG && httpd_discard_body(c, body.cap * 4) < 0)
            mg_disable_connection_keep_alive(c);
        return send_err(s, c, rc == -E2BIG ? 413 : 400,
                        rc == -E2BIG ? "Request body is larger than the limit"
                                     : "Failed to read request body");
    }
    cJSON *root = json_parse(buf_str(&body), body.len, err, sizeof(err));
    bool has_prompt = root && cJSON_GetObjectItemCaseSensitive(root, "prompt");
    bool has_msgs = root && cJSON_GetObjectItemCaseSensitive(root, "messages");
    cJSON_Delete(root);
    int status;
    if (has_prompt == has_msgs) {
        status = send_err(s, c, 400,
                          has_prompt ? "Only one of prompt or messages may be given"
                                     : "Either prompt or messages is required");
    } else {
        status = sim_request_parse(has_msgs ? SIM_API_CHAT : SIM_API_COMPLETIONS, buf_str(&body),
                                   body.len, &req, err, sizeof(err), &param);
        if (status)
            httpd_send_error(c, status, err, *param ? param : NULL, s->extra_headers);
        else
            status = tokenize_reply(s, c, req.prompts[0].text, req.prompts[0].text_len);
        sim_request_release(&req);
    }
    buf_release(&body);
    return status;
}

static bool is(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

int sim_server_small_body(struct sim_server *s, struct mg_connection *c, struct buf *body)
{
    buf_init(body, 1u << 20);
    int rd = httpd_read_body(c, body);
    if (rd == 0)
        return 0;
    size_t cap = body->cap;
    buf_release(body);
    /* Read the rest of an oversized body (up to 4x the cap), as the generate path
     * does: closing with unread data resets the connection, and a client still
     * sending gets a broken pipe instead of the 413 (seen under valgrind). */
    if (rd != -E2BIG || httpd_discard_body(c, cap * 4) < 0)
        mg_disable_connection_keep_alive(c);
    return rd == -E2BIG ? send_err(s, c, 413, "Request body is larger than the limit of 1 MB")
                        : send_err(s, c, 400, "Failed to read request body");
}

/* POST /v1/load_lora_adapter {"lora_name","lora_path"} and
 * /v1/unload_lora_adapter {"lora_name"}: 200 with an empty body, as upstream.
 * Better than upstream: a malformed body or a name that is a served model is
 * a 400, and unloading an unknown adapter is a 404 (vLLM's answer). */
static int handle_lora(struct sim_server *s, struct mg_connection *c, bool load)
{
    struct buf body;
    char err[512];
    const char *param;
    struct sim_lora_module m;
    int rd = sim_server_small_body(s, c, &body);
    if (rd)
        return rd;
    int rc = sim_lora_parse_request(buf_str(&body), body.len, load, &m, err, sizeof(err), &param);
    buf_release(&body);
    if (rc < 0) {
        httpd_send_error(c, 400, err, param, s->extra_headers);
        return 400;
    }
    int status = 200;
    if (load && sim_config_serves(s->cfg, m.name)) {
        snprintf(err, sizeof(err), "The lora adapter '%s' has a served model name.", m.name);
        httpd_send_error(c, status = 400, err, "lora_name", s->extra_headers);
    } else if (load) {
        sim_lora_put(s->loras, m.name, m.path);
        if (s->kv)
            sim_kvrank_lora(s->kv, m.name, true);
        log_info("lora adapter loaded", LOG_STR("name", m.name), LOG_STR("path", m.path));
    } else if (sim_lora_remove(s->loras, m.name) < 0) {
        snprintf(err, sizeof(err), "The lora adapter '%s' cannot be found.", m.name);
        httpd_send_error(c, status = 404, err, "lora_name", s->extra_headers);
    } else {
        if (s->kv)
            sim_kvrank_lora(s->kv, m.name, false);
        log_info("lora adapter unloaded", LOG_STR("name", m.name));
    }
    if (status == 200)
        httpd_send(c, 200, "application/json", s->extra_headers, "", 0);
    sim_lora_module_release(&m);
    return status;
}

static int method_not_allowed(struct sim_server *s, struct mg_connection *c, const char *allow)
{
    char hdr[512], msg[128];
    snprintf(hdr, sizeof(hdr), "Allow: %s\r\n%s", allow, s->extra_headers);
    snprintf(msg, sizeof(msg), "Method Not Allowed: use %s", allow);
    httpd_send_error(c, 405, msg, NULL, hdr);
    return 405;
}

/* Generation and tokenize routes (POST). Returns 0 when path is not one. */
static int route_post(struct sim_server *s, struct mg_connection *c, const char *m,
                      const char *path, char *reqid, size_t idlen)
{
    enum sim_api api;
    if (is(path, "/v1/chat/completions"))
        api = SIM_API_CHAT;
    else if (is(path, "/v1/completions"))
        api = SIM_API_COMPLETIONS;
    else if (is(path, "/v1/responses"))
        api = SIM_API_RESPONSES;
    else if (is(path, "/v1/messages"))
        api = SIM_API_MESSAGES;
    else if (is(path, "/inference/v1/generate"))
        api = SIM_API_GENERATE;
    else if (is(path, "/tokenize"))
        return is(m, "POST") ? handle_tokenize(s, c) : method_not_allowed(s, c, "POST");
    else if (is(path, "/v1/load_lora_adapter") || is(path, "/v1/unload_lora_adapter"))
        return is(m, "POST") ? handle_lora(s, c, path[4] == 'l') : method_not_allowed(s, c, "POST");
    else if (is(path, "/v1/embeddings") || is(path, "/v1/completions/render") ||
             is(path, "/v1/chat/completions/render"))
        return is(m, "POST") ? sim_endpoint_post(s, c, path, reqid, idlen)
                             : method_not_allowed(s, c, "POST");
    else if (is(path, "/fake_metrics")) /* deprecated upstream */
        return is(m, "POST") ? sim_admin_fake_metrics(s, c) : method_not_allowed(s, c, "POST");
    else
        return 0;
    if (!is(m, "POST"))
        return method_not_allowed(s, c, "POST");
    if (atomic_load(&s->shutting_down)) { /* in the API's error shape (Anthropic's on messages) */
        struct buf b;
        buf_init(&b, BUF_NOCAP);
        if (sim_resp_ops_for(api)->error_body(&b, 503, "server is shutting down", NULL) == 0)
            httpd_send(c, 503, "application/json", s->extra_headers, buf_str(&b), b.len);
        buf_release(&b);
        return 503;
    }
    return sim_generate(s, c, api, reqid, idlen);
}

/* --startup-duration has passed. */
static bool started_up(struct sim_server *s)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t up = (int64_t)(now.tv_sec - s->started.tv_sec) * 1000000000LL +
                 (now.tv_nsec - s->started.tv_nsec);
    return up >= s->cfg->startup_duration;
}

/* POST /sleep, POST /wake_up[?tags=kv_cache], GET /is_sleeping, as upstream:
 * /sleep acts only with --enable-sleep-mode and VLLM_SERVER_DEV_MODE=1, and
 * answers 200 either way; sleeping does not block inference. */
static int handle_sleep(struct sim_server *s, struct mg_connection *c, const char *m,
                        const char *path)
{
    if (is(path, "/is_sleeping")) {
        if (!is(m, "GET"))
            return method_not_allowed(s, c, "GET");
        const char *b =
            atomic_load(&s->sleeping) ? "{\"is_sleeping\":true}" : "{\"is_sleeping\":false}";
        httpd_send(c, 200, "application/json", s->extra_headers, b, strlen(b));
        return 200;
    }
    if (!is(m, "POST"))
        return method_not_allowed(s, c, "POST");
    if (is(path, "/sleep")) {
        const char *dev = getenv("VLLM_SERVER_DEV_MODE");
        if (s->cfg->sleep_mode && dev && strcmp(dev, "1") == 0) {
            atomic_store(&s->sleeping, true);
            if (s->kv) /* as upstream: the cache is dropped (AllBlocksCleared) */
                sim_kvrank_sleep(s->kv);
            log_info("sleeping");
        }
    } else {
        const char *q = mg_get_request_info(c)->query_string;
        char tags[64] = "";
        if (q)
            mg_get_var(q, strlen(q), "tags", tags, sizeof(tags));
        if (!tags[0] || strcmp(tags, "kv_cache") == 0) {
            atomic_store(&s->sleeping, false);
            if (s->kv)
                sim_kvrank_wake(s->kv);
            log_info("awake");
        }
    }
    httpd_send(c, 200, "application/json", s->extra_headers, "", 0);
    return 200;
}

/* GET /query (Mooncake bootstrap emulation): every rank of this process. */
static int handle_query(struct sim_server *s, struct mg_connection *c)
{
    char body[128 * SIM_DP_MAX];
    size_t n = 0;
    for (int i = 0; i < s->dp->nranks; i++)
        n += (size_t)snprintf(body + n, sizeof(body) - n, "%s\"%d\":{\"engine_id\":\"%s\"}",
                              i ? "," : "{", s->dp->first_rank + i, s->dp->engine_ids[i]);
    n += (size_t)snprintf(body + n, sizeof(body) - n, "}");
    httpd_send(c, 200, "application/json", s->extra_headers, body, n);
    return 200;
}

static int route(struct sim_server *s, struct mg_connection *c, const char *m, const char *path,
                 char *reqid, size_t idlen)
{
    int st = route_post(s, c, m, path, reqid, idlen);
    if (st)
        return st;
    bool get = is(m, "GET");
    if (is(path, "/health") || is(path, "/health/ready") || is(path, "/ready")) {
        /* HEAD too (probes use it): these bodies are empty anyway. */
        if (!get && !is(m, "HEAD"))
            return method_not_allowed(s, c, "GET, HEAD");
        st = is(path, "/health") || (!atomic_load(&s->shutting_down) && started_up(s)) ? 200 : 503;
        httpd_send(c, st, "application/json", s->extra_headers, "", 0);
        return st;
    }
    if (is(path, "/admin/config"))
        return get || is(m, "POST") ? sim_admin_config(s, c, m)
                                    : method_not_allowed(s, c, "GET, POST");
    if (is(path, "/sleep") || is(path, "/wake_up") || is(path, "/is_sleeping"))
        return handle_sleep(s, c, m, path);
    if (is(path, "/query")) {
        if (!get)
            return method_not_allowed(s, c, "GET");
        return handle_query(s, c);
    }
    if (is(path, "/v1/models"))
        return get ? handle_models(s, c) : method_not_allowed(s, c, "GET");
    if (is(path, "/metrics"))
        return get ? handle_metrics(s, c) : method_not_allowed(s, c, "GET");
    char msg[300];
    snprintf(msg, sizeof(msg), "Not Found: %.200s", path);
    return send_err(s, c, 404, msg);
}

static int on_request(struct mg_connection *c, void *cbdata)
{
    struct sim_server *s = cbdata;
    const struct mg_request_info *ri = mg_get_request_info(c);
    struct timespec t0, t1;
    char reqid[160] = "";
    clock_gettime(CLOCK_MONOTONIC, &t0);
    atomic_fetch_add(&s->inflight, 1);
    int status = route(s, c, ri->request_method, ri->local_uri, reqid, sizeof(reqid));
    atomic_fetch_sub(&s->inflight, 1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* Access lines are debug level (--v=4, as the seed manifest runs): at info they
     * would cost a write(2) per request in load tests. */
    if (log_enabled(LOG_LEVEL_DEBUG))
        log_debug("request", LOG_STR("method", ri->request_method), LOG_STR("path", ri->local_uri),
                  LOG_INT("status", status),
                  LOG_DBL("duration_ms", (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                                             (double)(t1.tv_nsec - t0.tv_nsec) / 1e6),
                  LOG_STR("request_id", reqid[0] ? reqid : NULL));
    return status;
}

static void *init_thread(const struct mg_context *ctx, int type)
{
    (void)ctx;
    (void)type;
    /* Default timer slack is 50us; every token wake-up would be that late. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    return NULL;
}

static int init_ssl(void *ssl_ctx, void *user_data)
{
    struct sim_server *s = user_data;
    return s->tls ? tls_reload_install(s->tls, ssl_ctx) : 0;
}

static int log_message(const struct mg_connection *c, const char *message)
{
    (void)c;
    log_warn("civetweb", LOG_STR("detail", message));
    return 1;
}

static char *build_extra_headers(long port)
{
    struct buf b;
    const char *pod = getenv("POD_NAME"), *ns = getenv("POD_NAMESPACE");
    buf_init(&b, 4096);
    int rc = 0;
    /* Header values come from the environment: refuse CR/LF injection. */
    if (pod && *pod && !strpbrk(pod, "\r\n"))
        rc = buf_appendf(&b, "x-inference-pod: %s\r\nx-inference-port: %ld\r\n", pod, port);
    if (rc == 0 && ns && *ns && !strpbrk(ns, "\r\n"))
        rc = buf_appendf(&b, "x-inference-namespace: %s\r\n", ns);
    (void)rc;
    return buf_take(&b, NULL);
}

static char *pd_host(const struct sim_config *cfg)
{
    const char *ip = getenv("POD_IP");
    if (ip && *ip)
        return xstrdup(ip);
    if (cfg->host && *cfg->host && strcmp(cfg->host, "0.0.0.0") != 0)
        return xstrdup(cfg->host);
    return xstrdup("127.0.0.1");
}

/* --http-threads is the process's total, shared out among the ranks. */
static int rank_threads(const struct sim_config *cfg, const struct sim_dp *dp)
{
    long t = cfg->http_threads / (dp->nranks > 0 ? dp->nranks : 1);
    return t < 16 ? 16 : (int)t;
}

void sim_dp_init(struct sim_dp *dp, const struct sim_config *cfg)
{
    memset(dp, 0, sizeof(*dp));
    dp->first_rank = cfg->data_parallel_rank >= 0 ? (int)cfg->data_parallel_rank : 0;
    dp->nranks = cfg->data_parallel_rank >= 0 ? 1 : (int)cfg->data_parallel_size;
    if (dp->nranks > SIM_DP_MAX)
        dp->nranks = SIM_DP_MAX;
    for (int i = 0; i < dp->nranks; i++)
        sim_pd_new_engine_id(dp->engine_ids[i]);
}

/* This rank's adapters: --lora-modules (checked by sim_config_load). */
static void load_lora_modules(struct sim_server *s)
{
    s->loras = sim_lora_new();
    for (size_t i = 0; i < s->cfg->nlora_modules; i++) {
        struct sim_lora_module m;
        char why[256];
        if (sim_lora_parse_module(s->cfg->lora_modules[i], s->cfg->model, &m, why, sizeof(why)) ==
            0) {
            sim_lora_put(s->loras, m.name, m.path);
            if (s->kv)
                sim_kvrank_lora(s->kv, m.name, true);
        }
        sim_lora_module_release(&m);
    }
}

struct sim_server *sim_server_start(const struct sim_config *cfg, const struct sim_dp *dp,
                                    int index, char *err, size_t errlen)
{
    long port = cfg->port > 0 ? cfg->port + index : 0;
    if (port > 65535) {
        snprintf(err, errlen, "rank %d: port %ld is out of range (--port + rank index)",
                 dp->first_rank + index, port);
        return NULL;
    }
    struct sim_server *s = xcalloc(1, sizeof(*s));
    s->cfg = cfg;
    s->dp = dp;
    s->rank = dp->first_rank + index;
    s->abortfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct sim_runtime *rt = xcalloc(1, sizeof(*rt));
    rt->cfg = *cfg;
    sim_lat_from_config(&rt->lat, &rt->cfg);
    atomic_store(&s->rt, rt);
    pthread_mutex_init(&s->admin_mu, NULL);
    struct sim_metrics_opts mo = {sim_config_display_name(cfg), cfg->max_model_len, cfg->max_loras,
                                  cfg->block_size, cfg->kv_cache_size};
    s->metrics = sim_metrics_new(&mo);
    if (cfg->fake_metrics)
        sim_metrics_set_fake(s->metrics, cfg->fake_metrics, cfg->fake_refresh);
    s->sched =
        sim_sched_new(cfg->max_num_seqs, cfg->max_waiting_queue_length, cfg->max_loras, s->metrics);
    if (cfg->enable_kvcache &&
        !(s->kv = sim_kvrank_start(cfg, s->rank, port, s->metrics, err, errlen))) {
        sim_server_stop(s);
        return NULL;
    }
    load_lora_modules(s);
    memcpy(s->engine_id, dp->engine_ids[index], sizeof(s->engine_id));
    s->pd_host = pd_host(cfg);
    /* Known before the first request can arrive. With --port 0 the real port
     * is filled in after the start, before anyone has been told it. */
    s->extra_headers = build_extra_headers(port);
    rt->cfg.port = port;
    clock_gettime(CLOCK_MONOTONIC, &s->started);
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.init_thread = init_thread;
    cb.log_message = log_message;
    bool files = cfg->ssl_certfile && *cfg->ssl_certfile;
    char pem[4096] = "";
    if (files) {
        s->tls = tls_reload_new(cfg->ssl_keyfile, cfg->ssl_certfile);
        cb.init_ssl = init_ssl;
    }
    if ((files || cfg->self_signed_certs) &&
        tls_pem(files ? cfg->ssl_keyfile : NULL, files ? cfg->ssl_certfile : NULL,
                files ? "--ssl-certfile/--ssl-keyfile" : "--self-signed-certs", pem, sizeof(pem),
                err, errlen) < 0) {
        sim_server_stop(s);
        return NULL;
    }
    if (s->abortfd < 0 || !(s->pump = pump_start((int)cfg->stream_threads, s->abortfd,
                                                 cfg->http_request_timeout, err, errlen))) {
        if (s->abortfd < 0)
            snprintf(err, errlen, "eventfd: %s", strerror(errno));
        sim_server_stop(s);
        return NULL;
    }
    struct httpd_opts o = {.host = cfg->host,
                           .port = (int)port,
                           .threads = rank_threads(cfg, dp),
                           .keep_alive_ms = 60000,
                           .request_timeout_ms = httpd_timeout_ms(cfg->http_request_timeout),
                           .tls_pem = pem[0] ? pem : NULL,
                           .user_data = s,
                           .handler = on_request,
                           .handler_data = s};
    s->ctx = httpd_start(&o, &cb, &s->port, err, errlen);
    if (pem[0])
        unlink(pem); /* civetweb has read it; the key stays only in memory */
    if (!s->ctx || s->abortfd < 0) {
        if (s->abortfd < 0)
            snprintf(err, errlen, "eventfd: %s", strerror(errno));
        sim_server_stop(s);
        return NULL;
    }
    if (port == 0) {
        free(s->extra_headers);
        s->extra_headers = build_extra_headers(s->port);
        rt->cfg.port = s->port; /* GET /admin/config shows this rank's port */
        if (s->kv)              /* the KV-event topic names the real port */
            sim_kvrank_set_port(s->kv, s->port);
    }
    return s;
}

int sim_server_port(const struct sim_server *s)
{
    return s->port;
}

void sim_server_begin_shutdown(struct sim_server *s)
{
    atomic_store(&s->shutting_down, true);
    sim_sched_close(s->sched);
}

long sim_server_inflight(const struct sim_server *s)
{
    return atomic_load(&s->inflight);
}

void sim_server_abort(struct sim_server *s)
{
    uint64_t one = 1;
    ssize_t w = write(s->abortfd, &one, sizeof(one));
    (void)w;
}

void sim_server_stop(struct sim_server *s)
{
    if (!s)
        return;
    if (s->ctx) {
        sim_server_abort(s);
        httpd_stop(s->ctx);
    }
    pump_stop(s->pump);     /* after httpd_stop: no handler waits on it any more */
    sim_kvrank_stop(s->kv); /* after httpd_stop: no request holds blocks any more */
    sim_sched_free(s->sched);
    sim_metrics_free(s->metrics);
    sim_lora_free(s->loras);
    tls_reload_free(s->tls);
    for (struct sim_runtime *rt = atomic_load(&s->rt), *prev; rt; rt = prev) {
        prev = rt->prev;
        sim_fake_free(rt->own_fake);
        free(rt);
    }
    pthread_mutex_destroy(&s->admin_mu);
    free(s->pd_host);
    free(s->extra_headers);
    if (s->abortfd >= 0)
        close(s->abortfd);
    free(s);
}
