/*
 * sc_pd: the nixlv2 P/D flow of one intercepted request.
 *
 *   1. parse the client's body (400 when it is not a JSON object);
 *   2. check the prefill target against the allow-list (403);
 *   3. POST the prefill body to the prefiller, buffered, within
 *      --prefill-timeout (504), retrying 502/503/504 and transport errors
 *      --prefill-max-retries times with --prefill-retry-backoff;
 *   4. a prefill that still fails: its own status, headers and body go to
 *      the client (transport errors as 502 JSON), or with
 *      --prefill-fallback-local the original body is decoded locally;
 *   5. stream the decode leg back through the cached-token rewriter.
 */
#include "common/json.h"
#include "common/connfd.h"
#include "common/httpd.h"
#include "common/log.h"
#include "sidecar/sc_headers.h"
#include "sidecar/sc_internal.h"
#include "common/xalloc.h"
#include "sidecar/sc_upstream.h"

#include <civetweb.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The forwarded headers for the prefill leg: no Accept-Encoding, since the
 * answer is parsed here, and the JSON content type of the new body. */
static struct curl_slist *prefill_headers(const struct curl_slist *fwd)
{
    struct curl_slist *l = NULL;
    for (const struct curl_slist *p = fwd; p; p = p->next)
        if (strncasecmp(p->data, "Accept-Encoding:", 16) != 0 &&
            strncasecmp(p->data, "Content-Type:", 13) != 0)
            l = curl_slist_append(l, p->data);
    l = curl_slist_append(l, "Accept-Encoding:");
    return curl_slist_append(l, "Content-Type: application/json");
}

enum prefill_end { PF_OK, PF_STATUS, PF_TIMEOUT, PF_TRANSPORT, PF_GONE };

/* Run the prefill leg with retries. g holds the last answer. */
static enum prefill_end run_prefill(struct sc_req *r, const char *url, const char *body,
                                    struct sc_up_buffer *g, char *err, size_t errlen)
{
    const struct sc_config *cfg = r->s->cfg;
    struct curl_slist *h = prefill_headers(r->fwd);
    int64_t deadline = cfg->prefill_timeout > 0 ? now_ns() + cfg->prefill_timeout : 0;
    enum prefill_end end = PF_TRANSPORT;
    for (long attempt = 0;; attempt++) {
        long left_ms = 0;
        if (deadline) {
            left_ms = (long)((deadline - now_ns()) / 1000000);
            if (left_ms <= 0) {
                end = PF_TIMEOUT;
                break;
            }
        }
        struct sc_up_req up = {"POST",
                               url,
                               h,
                               body,
                               strlen(body),
                               left_ms,
                               5000,
                               sc_client_fd,
                               r,
                               (cfg->insecure_stages & SC_STAGE_PREFILLER) != 0};
        struct sc_up_sink sink = sc_up_buffer_sink(g);
        sc_up_buffer_reset(g);
        err[0] = '\0';
        enum sc_up_result res = sc_up_perform(&up, &sink, err, errlen);
        if (res == SC_UP_ABORTED && connfd_peer_gone(sc_client_fd(r))) {
            end = PF_GONE;
            break;
        }
        if (res == SC_UP_TIMEOUT) {
            end = PF_TIMEOUT;
            break;
        }
        bool retryable;
        if (res == SC_UP_OK) {
            end = g->status >= 200 && g->status < 300 ? PF_OK : PF_STATUS;
            retryable = g->status == 502 || g->status == 503 || g->status == 504;
        } else {
            end = PF_TRANSPORT; /* upstream: a transport error is a 502 */
            retryable = true;
        }
        if (!retryable || attempt >= cfg->prefill_max_retries)
            break;
        atomic_fetch_add(&r->s->retries, 1);
        log_debug("prefill retry", LOG_STR("request_id", r->request_id), LOG_STR("url", url),
                  LOG_INT("status", g->status), LOG_INT("attempt", attempt + 1));
        int64_t wait = cfg->prefill_retry_backoff;
        if (deadline && now_ns() + wait >= deadline) {
            end = PF_TIMEOUT;
            break;
        }
        int64_t until = now_ns() + wait;
        struct timespec ts = {.tv_sec = until / 1000000000, .tv_nsec = until % 1000000000};
        if (connfd_wait(sc_client_fd(r), -1, -1, &ts) == CONNFD_GONE) {
            end = PF_GONE;
            break;
        }
    }
    curl_slist_free_all(h);
    return end;
}

/* The prefill's own answer to the client: status, content headers, body. */
static int pass_prefill_answer(struct sc_req *r, const struct sc_up_buffer *g)
{
    struct buf extra;
    buf_init(&extra, BUF_NOCAP);
    const char *ctype = "application/json";
    char ct[256] = "";
    struct sc_hline l;
    for (const char *p = buf_str(&g->headers); sc_header_next(&p, &l);) {
        if (l.namelen >= sizeof(l.name))
            continue;
        if (strcasecmp(l.name, "Content-Type") == 0) {
            snprintf(ct, sizeof(ct), "%.*s", (int)l.vlen, l.value);
            ctype = ct;
        } else if (!sc_header_is_dropped(l.name, NULL) && strcasecmp(l.name, "Date") != 0 &&
                   strcasecmp(l.name, "Server") != 0 && strcasecmp(l.name, "x-request-id") != 0) {
            int rc = buf_append(&extra, l.line, l.len);
            rc = rc ? rc : buf_puts(&extra, "\r\n");
            (void)rc; /* no cap */
        }
    }
    int rc = buf_appendf(&extra, "x-request-id: %s\r\n", r->request_id);
    (void)rc;
    httpd_send(r->c, (int)g->status, ctype, buf_str(&extra), buf_str(&g->body), g->body.len);
    buf_release(&extra);
    return (int)g->status;
}

/* --prefill-fallback-local: the original body, decoded (and so prefilled)
 * by the local decoder alone. */
static int fallback_local(struct sc_req *r, const char *body, size_t len, const char *why)
{
    atomic_fetch_add(&r->s->fallbacks, 1);
    log_warn("prefill failed, decoding locally", LOG_STR("request_id", r->request_id),
             LOG_STR("reason", why));
    char url[8192];
    snprintf(url, sizeof(url), "%s%s", r->l->decoder, r->path);
    long dms = (long)(r->s->cfg->decode_timeout / 1000000);
    return sc_relay(r, url, "POST", body, len, -1, dms, SC_OUT_FALLBACK);
}

static int prefill_failed(struct sc_req *r, enum prefill_end end, const struct sc_up_buffer *g,
                          const char *prefiller, const char *err, const char *body, size_t len)
{
    struct sc_server *s = r->s;
    char msg[600];
    if (end == PF_GONE) {
        atomic_fetch_add(&s->outcomes[SC_OUT_CLIENT_GONE], 1);
        return 499;
    }
    if (end == PF_TIMEOUT)
        atomic_fetch_add(&s->prefill_timeouts, 1);
    if (s->cfg->prefill_fallback_local) {
        snprintf(msg, sizeof(msg), "%s",
                 end == PF_TIMEOUT  ? "timeout"
                 : end == PF_STATUS ? "status"
                                    : err);
        return fallback_local(r, body, len, msg);
    }
    atomic_fetch_add(&s->outcomes[SC_OUT_PREFILL_ERR], 1);
    if (end == PF_TIMEOUT) {
        snprintf(msg, sizeof(msg), "prefill server %s did not answer within %.3gs", prefiller,
                 (double)s->cfg->prefill_timeout / 1e9);
        return sc_error(r, 504, "GatewayTimeout", msg);
    }
    if (end == PF_STATUS)
        return pass_prefill_answer(r, g);
    snprintf(msg, sizeof(msg), "prefill server %s: %s", prefiller, err);
    return sc_error(r, 502, "BadGateway", msg);
}

/* The prefill leg's body for the sequential connectors. */
static char *prefill_body(enum sc_connector conn, enum sc_api api, const cJSON *client)
{
    switch (conn) {
    case SC_CONN_NIXL:
        return sc_nixl_prefill_body(client);
    case SC_CONN_LMCACHE:
        return sc_capped_prefill_body(api, client, false);
    case SC_CONN_SHARED_STORAGE:
        return sc_capped_prefill_body(api, client, true);
    default:
        return sc_nixlv2_prefill_body(api, client);
    }
}

/* nixlv2, nixl, lmcache and shared-storage: prefill (with retries and the
 * stage deadline), then the decode leg streamed back. */
static int pd_sequential(struct sc_req *r, enum sc_api api, const char *prefiller,
                         const cJSON *client, const char *body, size_t len)
{
    struct sc_server *s = r->s;
    const struct sc_config *cfg = s->cfg;
    char url[8192];
    snprintf(url, sizeof(url), "%s://%s%s", cfg->tls_stages & SC_STAGE_PREFILLER ? "https" : "http",
             prefiller, r->path);
    char *pbody = prefill_body(cfg->connector, api, client);
    struct sc_up_buffer g;
    sc_up_buffer_init(&g, 64u << 20);
    char err[CURL_ERROR_SIZE + 64];
    int64_t t0 = now_ns();
    enum prefill_end end = pbody ? run_prefill(r, url, pbody, &g, err, sizeof(err)) : PF_TRANSPORT;
    if (!pbody)
        snprintf(err, sizeof(err), "cannot build the prefill request");
    cJSON_free(pbody);
    prom_hist_observe(&s->prefill_seconds, (double)(now_ns() - t0) / 1e9);
    if (end != PF_OK) {
        int status = prefill_failed(r, end, &g, prefiller, err, body, len);
        sc_up_buffer_release(&g);
        return status;
    }

    /* The decode body; nixlv2 and nixl need the prefill's JSON answer. */
    bool needs_answer = cfg->connector == SC_CONN_NIXLV2 || cfg->connector == SC_CONN_NIXL;
    cJSON *resp = needs_answer ? json_parse(g.body.data, g.body.len, NULL, 0) : NULL;
    char *dbody = NULL;
    long cached = -1; /* the cached-token rewrite is nixlv2's only, as upstream */
    int status = 0;
    if (needs_answer && !cJSON_IsObject(resp)) {
        snprintf(err, sizeof(err), "the answer is not a JSON object");
        status = prefill_failed(r, PF_TRANSPORT, &g, prefiller, err, body, len);
    } else if (cfg->connector == SC_CONN_NIXLV2) {
        const cJSON *kv = cJSON_GetObjectItemCaseSensitive(resp, "kv_transfer_params");
        if (!cJSON_IsObject(kv))
            log_warn("prefill answer has no kv_transfer_params",
                     LOG_STR("request_id", r->request_id), LOG_STR("prefiller", prefiller));
        dbody = sc_nixlv2_decode_body(client, kv);
        cached = sc_cached_tokens(resp);
    } else if (cfg->connector == SC_CONN_NIXL) {
        dbody = sc_nixl_decode_body(client, resp);
    } else if (cfg->connector == SC_CONN_SHARED_STORAGE) {
        dbody = sc_shared_storage_decode_body(client);
    }
    if (status == 0) {
        char durl[8192];
        snprintf(durl, sizeof(durl), "%s%s", r->l->decoder, r->path);
        long dms = (long)(cfg->decode_timeout / 1000000);
        if (cfg->connector == SC_CONN_LMCACHE) /* the original body, as sent */
            status = sc_relay(r, durl, "POST", body, len, -1, dms, SC_OUT_PD_OK);
        else if (dbody)
            status = sc_relay(r, durl, "POST", dbody, strlen(dbody), cached, dms, SC_OUT_PD_OK);
        else
            status = sc_error(r, 500, "InternalServerError", "cannot build the decode request");
    }
    cJSON_free(dbody);
    cJSON_Delete(resp);
    sc_up_buffer_release(&g);
    return status;
}

/* ---- sglang: both legs at once ---- */

struct bg_prefill {
    struct sc_server *s;
    char *url, *body, request_id[80];
    struct curl_slist *headers;
};

/* The detached prefill leg: not tied to the client, its result only logged.
 * It counts as in flight, so a shutdown waits for it. */
static void *bg_prefill_run(void *arg)
{
    struct bg_prefill *b = arg;
    struct sc_server *s = b->s;
    struct sc_up_buffer g;
    sc_up_buffer_init(&g, 64u << 20);
    char err[CURL_ERROR_SIZE + 64] = "";
    struct sc_up_req up = {"POST",
                           b->url,
                           b->headers,
                           b->body,
                           strlen(b->body),
                           (long)(s->cfg->prefill_timeout / 1000000),
                           5000,
                           NULL,
                           NULL,
                           (s->cfg->insecure_stages & SC_STAGE_PREFILLER) != 0};
    struct sc_up_sink sink = sc_up_buffer_sink(&g);
    int64_t t0 = now_ns();
    enum sc_up_result res = sc_up_perform(&up, &sink, err, sizeof(err));
    prom_hist_observe(&s->prefill_seconds, (double)(now_ns() - t0) / 1e9);
    if (res == SC_UP_TIMEOUT)
        atomic_fetch_add(&s->prefill_timeouts, 1);
    if (res != SC_UP_OK || g.status < 200 || g.status >= 300)
        log_warn("sglang prefill failed", LOG_STR("request_id", b->request_id),
                 LOG_STR("url", b->url), LOG_INT("status", g.status), LOG_STR("error", err));
    else
        log_debug("sglang prefill done", LOG_STR("request_id", b->request_id),
                  LOG_INT("status", g.status));
    sc_up_buffer_release(&g);
    curl_slist_free_all(b->headers);
    free(b->url);
    free(b->body);
    free(b);
    atomic_fetch_sub(&s->inflight, 1);
    return NULL;
}

static int pd_sglang(struct sc_req *r, const char *prefiller, const cJSON *client)
{
    struct sc_server *s = r->s;
    const struct sc_config *cfg = s->cfg;
    char host[256];
    int port;
    sc_split_host_port(prefiller, host, sizeof(host), &port); /* checked by the caller */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long room = (long long)now.tv_sec * 1000000000LL + now.tv_nsec + rand() % 1000;
    char *body = sc_sglang_body(client, host, s->sglang_bootstrap_port, room);
    if (!body)
        return sc_error(r, 500, "InternalServerError", "cannot build the request");

    struct bg_prefill *b = xcalloc(1, sizeof(*b));
    char url[8192];
    snprintf(url, sizeof(url), "%s://%s%s", cfg->tls_stages & SC_STAGE_PREFILLER ? "https" : "http",
             prefiller, r->path);
    b->s = s;
    b->url = xstrdup(url);
    b->body = xstrdup(body);
    b->headers = prefill_headers(r->fwd);
    snprintf(b->request_id, sizeof(b->request_id), "%s", r->request_id);
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    atomic_fetch_add(&s->inflight, 1);
    if (pthread_create(&t, &attr, bg_prefill_run, b) != 0) {
        log_warn("cannot start the sglang prefill", LOG_STR("request_id", r->request_id));
        atomic_fetch_add(&s->inflight, 1); /* bg_prefill_run takes one off */
        bg_prefill_run(b);
    }
    pthread_attr_destroy(&attr);

    char durl[8192];
    snprintf(durl, sizeof(durl), "%s%s", r->l->decoder, r->path);
    int status = sc_relay(r, durl, "POST", body, strlen(body), -1,
                          (long)(cfg->decode_timeout / 1000000), SC_OUT_PD_OK);
    cJSON_free(body);
    return status;
}

/* ---- shared-storage: decode first when the client sets cache_hit_threshold ---- */

/* The decoder answered finish_reason "cache_threshold": it lacks the KV
 * cache, so a prefill is needed. Looks at a JSON body or at SSE events. */
static bool needs_prefill(const char *p, size_t n, bool sse)
{
    if (!sse) {
        cJSON *j = json_parse(p, n, NULL, 0);
        const cJSON *fr = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0), "finish_reason");
        bool yes = cJSON_IsString(fr) && strcmp(fr->valuestring, "cache_threshold") == 0;
        cJSON_Delete(j);
        return yes;
    }
    for (const char *q = p, *end = p + n; q < end;) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        size_t ll = nl ? (size_t)(nl - q) : (size_t)(end - q);
        if (ll > 6 && memcmp(q, "data: ", 6) == 0 && needs_prefill(q + 6, ll - 6, false))
            return true;
        q += ll + 1;
    }
    return false;
}

/* Send the original body to the decoder. Returns its status when that
 * answer went to the client, or 0 when a prefill is needed. */
static int decode_first(struct sc_req *r, const char *body, size_t len)
{
    char durl[8192];
    snprintf(durl, sizeof(durl), "%s%s", r->l->decoder, r->path);
    return sc_relay_unless(r, durl, body, len, (long)(r->s->cfg->decode_timeout / 1000000),
                           needs_prefill);
}

int sc_pd_serve(struct sc_req *r, enum sc_api api, const char *prefiller, const char *body,
                size_t len)
{
    struct sc_server *s = r->s;
    const struct sc_config *cfg = s->cfg;
    char msg[600];
    char perr[160];
    cJSON *client = json_parse(body, len, perr, sizeof(perr));
    if (!cJSON_IsObject(client)) {
        cJSON_Delete(client);
        atomic_fetch_add(&s->outcomes[SC_OUT_CLIENT_ERR], 1);
        if (len == 0)
            return sc_error(r, 400, "BadRequestError", "the request body is empty");
        snprintf(msg, sizeof(msg), "the request body is not a JSON object (%s)",
                 client ? "another JSON value" : perr);
        return sc_error(r, 400, "BadRequestError", msg);
    }
    if (cfg->enable_ssrf && !sc_allow_match(cfg->allow, cfg->nallow, prefiller)) {
        cJSON_Delete(client);
        atomic_fetch_add(&s->ssrf_denied, 1);
        atomic_fetch_add(&s->outcomes[SC_OUT_CLIENT_ERR], 1);
        log_warn("prefill target denied", LOG_STR("request_id", r->request_id),
                 LOG_STR("target", prefiller));
        snprintf(msg, sizeof(msg), "prefill target %s is not in the allow-list", prefiller);
        return sc_error(r, 403, "Forbidden", msg);
    }

    int status;
    if (cfg->connector == SC_CONN_SGLANG)
        status = pd_sglang(r, prefiller, client);
    else if (cfg->connector == SC_CONN_SHARED_STORAGE &&
             cJSON_GetObjectItemCaseSensitive(client, "cache_hit_threshold") &&
             (status = decode_first(r, body, len)) != 0)
        ; /* the decoder had the KV cache: its answer is sent */
    else
        status = pd_sequential(r, api, prefiller, client, body, len);
    cJSON_Delete(client);
    return status;
}
