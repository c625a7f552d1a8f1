#include "controller/k8s_client.h"

#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const VERBS[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "WATCH"};
#define NVERBS 6

struct k8s_client {
    struct k8s_config *cfg;
    pthread_mutex_t cfg_mu; /* the token is re-read under it */
    CURLSH *share;
    pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
    _Atomic unsigned long long counts[NVERBS][600]; /* [verb][status], 0 = no answer */
    _Atomic unsigned long long retries;
    atomic_bool no_retries;
};

static void lock_cb(CURL *h, curl_lock_data data, curl_lock_access access, void *u)
{
    (void)h;
    (void)access;
    pthread_mutex_lock(&((struct k8s_client *)u)->share_mu[data]);
}

static void unlock_cb(CURL *h, curl_lock_data data, void *u)
{
    (void)h;
    pthread_mutex_unlock(&((struct k8s_client *)u)->share_mu[data]);
}

struct k8s_client *k8s_client_new(struct k8s_config *cfg, char *err, size_t errlen)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return NULL;
    }
    struct k8s_client *c = xcalloc(1, sizeof(*c));
    c->cfg = cfg;
    pthread_mutex_init(&c->cfg_mu, NULL);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_mu[i], NULL);
    c->share = curl_share_init();
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, lock_cb);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, unlock_cb);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    return c;
}

void k8s_client_free(struct k8s_client *c)
{
    if (!c)
        return;
    curl_share_cleanup(c->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_mu[i]);
    pthread_mutex_destroy(&c->cfg_mu);
    free(c);
    curl_global_cleanup();
}

static int verb_index(const char *verb)
{
    for (int i = 0; i < NVERBS; i++)
        if (strcmp(VERBS[i], verb) == 0)
            return i;
    return -1;
}

unsigned long long k8s_client_requests(struct k8s_client *c, const char *verb, int code)
{
    int v = verb_index(verb);
    return v < 0 || code < 0 || code >= 600 ? 0 : atomic_load(&c->counts[v][code]);
}

void k8s_client_stop_retries(struct k8s_client *c)
{
    atomic_store(&c->no_retries, true);
}

unsigned long long k8s_client_retries(struct k8s_client *c)
{
    return atomic_load(&c->retries);
}

static void count(struct k8s_client *c, const char *verb, long status)
{
    int v = verb_index(verb);
    if (v >= 0)
        atomic_fetch_add(&c->counts[v][status >= 100 && status < 600 ? status : 0], 1);
}

void k8s_resp_init(struct k8s_resp *r)
{
    r->status = 0;
    r->retry_after = -1;
    buf_init(&r->body, 256u << 20);
}

void k8s_resp_release(struct k8s_resp *r)
{
    buf_release(&r->body);
}

static size_t to_buf(char *p, size_t size, size_t n, void *arg)
{
    return buf_append(arg, p, size * n) == 0 ? size * n : 0;
}

/* A handle set up for cfg and path, with the Authorization header. */
static CURL *handle(struct k8s_client *c, const char *method, const char *path,
                    struct curl_slist **hdrs, bool force_token)
{
    char url[8192], auth[8192];
    snprintf(url, sizeof(url), "%s%s", c->cfg->server, path);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (c->cfg->ca.len) {
        struct curl_blob b = {c->cfg->ca.data, c->cfg->ca.len, CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
    }
    if (c->cfg->cert.len && c->cfg->key.len) {
        struct curl_blob cert = {c->cfg->cert.data, c->cfg->cert.len, CURL_BLOB_COPY};
        struct curl_blob key = {c->cfg->key.data, c->cfg->key.len, CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
    }
    if (c->cfg->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    pthread_mutex_lock(&c->cfg_mu);
    const char *token = k8s_config_token(c->cfg, force_token);
    if (token && *token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        *hdrs = curl_slist_append(*hdrs, auth);
    }
    pthread_mutex_unlock(&c->cfg_mu);
    *hdrs = curl_slist_append(*hdrs, "Accept: application/json");
    *hdrs = curl_slist_append(*hdrs, "User-Agent: pdsim-controller");
    *hdrs = curl_slist_append(*hdrs, "Expect:");
    return h;
}

/* How requests authenticate, for the logs: never the credential itself. */
static const char *auth_kind(struct k8s_client *c)
{
    pthread_mutex_lock(&c->cfg_mu); /* token changes when token_file is re-read */
    bool bearer = c->cfg->token || c->cfg->token_file;
    pthread_mutex_unlock(&c->cfg_mu);
    if (bearer)
        return c->cfg->cert.len ? "bearer token and client certificate" : "bearer token";
    return c->cfg->cert.len ? "client certificate" : "none";
}

static int once(struct k8s_client *c, const char *method, const char *path,
                const char *content_type, const char *body, struct k8s_resp *out, bool force,
                char *err, size_t errlen)
{
    struct curl_slist *hdrs = NULL;
    CURL *h = handle(c, method, path, &hdrs, force);
    char ct[256], ebuf[CURL_ERROR_SIZE] = "";
    if (body) {
        snprintf(ct, sizeof(ct), "Content-Type: %s",
                 content_type ? content_type : "application/json");
        hdrs = curl_slist_append(hdrs, ct);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_buf);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
    buf_reset(&out->body);
    CURLcode rc = curl_easy_perform(h);
    out->status = 0;
    out->retry_after = -1;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
        curl_off_t ra = -1; /* 0 when absent: only trusted when the header is there */
        struct curl_header *hdr;
        if (curl_easy_header(h, "Retry-After", 0, CURLH_HEADER, -1, &hdr) == CURLHE_OK &&
            curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra >= 0)
            out->retry_after = (long)ra;
    } else
        snprintf(err, errlen, "%s %s: %s", method, path, ebuf[0] ? ebuf : curl_easy_strerror(rc));
    count(c, method, out->status);
    if (log_enabled(LOG_LEVEL_DEBUG)) {
        double secs = 0;
        curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &secs);
        log_debug("api request", LOG_STR("method", method), LOG_STR("path", path),
                  LOG_INT("status", out->status), LOG_DBL("duration_ms", secs * 1e3),
                  LOG_STR("auth", auth_kind(c)), LOG_STR("error", rc == CURLE_OK ? NULL : err));
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc == CURLE_OK ? 0 : -1;
}

int k8s_request(struct k8s_client *c, const char *method, const char *path,
                const char *content_type, const char *body, struct k8s_resp *out, char *err,
                size_t errlen)
{
    int rc = once(c, method, path, content_type, body, out, false, err, errlen);
    if (rc == 0 && out->status == 401 && c->cfg->token_file) /* a rotated token */
        rc = once(c, method, path, content_type, body, out, true, err, errlen);
    /* As client-go: a 429, or a 5xx with Retry-After, was not acted on; wait
     * as told (at most K8S_RETRY_AFTER_MAX s) and send it again. */
    for (int i = 0; rc == 0 && i < K8S_RETRIES &&
                    (out->status == 429 || (out->status >= 500 && out->retry_after >= 0));
         i++) {
        long s = out->retry_after < 0 ? 1 : out->retry_after;
        int steps = (int)(s > K8S_RETRY_AFTER_MAX ? K8S_RETRY_AFTER_MAX : s) * 10;
        for (int k = 0; k < (steps ? steps : 1) && !atomic_load(&c->no_retries); k++) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (atomic_load(&c->no_retries))
            break; /* shutting down: the caller gets the 429 */
        atomic_fetch_add(&c->retries, 1);
        rc = once(c, method, path, content_type, body, out, false, err, errlen);
    }
    return rc;
}

const char *k8s_status_message(const struct k8s_resp *r)
{
    static _Thread_local char msg[1024];
    msg[0] = '\0';
    cJSON *j = json_parse(r->body.data ? r->body.data : "", r->body.len, NULL, 0);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
    if (cJSON_IsString(m))
        snprintf(msg, sizeof(msg), "%s", m->valuestring);
    cJSON_Delete(j);
    return msg;
}

struct watch_ctx {
    struct k8s_watch_dec *d;
    k8s_event_fn fn;
    void *arg;
    atomic_bool *stop;
    long status;
    int result; /* what the decoder said, when it stopped the transfer */
    CURL *h;
    struct buf errbody; /* the body of a non-200 answer */
};

static size_t watch_body(char *p, size_t size, size_t n, void *arg)
{
    struct watch_ctx *w = arg;
    if (!w->status)
        curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->status);
    if (w->status != 200)
        return buf_append(&w->errbody, p, size * n) == 0 ? size * n : 0;
    int rc = k8s_watch_dec_feed(w->d, p, size * n, w->fn, w->arg);
    if (rc != 0) {
        w->result = rc;
        return 0; /* ends the transfer */
    }
    return size * n;
}

static int watch_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a;
    (void)b;
    (void)c;
    (void)d;
    struct watch_ctx *w = arg;
    return w->stop && atomic_load(w->stop) ? 1 : 0;
}

int k8s_watch(struct k8s_client *c, const char *path, struct k8s_watch_dec *d, k8s_event_fn fn,
              void *arg, atomic_bool *stop, char *err, size_t errlen)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        struct curl_slist *hdrs = NULL;
        struct watch_ctx w = {.d = d, .fn = fn, .arg = arg, .stop = stop};
        char ebuf[CURL_ERROR_SIZE] = "";
        w.h = handle(c, "GET", path, &hdrs, attempt > 0);
        buf_init(&w.errbody, 1 << 20);
        curl_easy_setopt(w.h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(w.h, CURLOPT_WRITEFUNCTION, watch_body);
        curl_easy_setopt(w.h, CURLOPT_WRITEDATA, &w);
        curl_easy_setopt(w.h, CURLOPT_XFERINFOFUNCTION, watch_progress);
        curl_easy_setopt(w.h, CURLOPT_XFERINFODATA, &w);
        curl_easy_setopt(w.h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(w.h, CURLOPT_ERRORBUFFER, ebuf);
        /* No overall timeout: the server ends the watch (timeoutSeconds). A
         * connection silent for 15 minutes is dead. */
        curl_easy_setopt(w.h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(w.h, CURLOPT_LOW_SPEED_TIME, 900L);
        CURLcode rc = curl_easy_perform(w.h);
        if (!w.status)
            curl_easy_getinfo(w.h, CURLINFO_RESPONSE_CODE, &w.status);
        count(c, "WATCH", w.status);
        log_debug("watch ended", LOG_STR("path", path), LOG_INT("status", w.status),
                  LOG_STR("auth", auth_kind(c)));
        int out;
        if (w.result != 0)
            out = w.result; /* an ERROR event, or the callback's value */
        else if (stop && atomic_load(stop))
            out = 0;
        else if (rc != CURLE_OK && rc != CURLE_PARTIAL_FILE && w.status == 200) {
            snprintf(err, errlen, "watch %s: %s", path, ebuf[0] ? ebuf : curl_easy_strerror(rc));
            out = -1; /* broken mid-stream: re-watch from the last RV */
        } else if (rc != CURLE_OK && w.status == 0) {
            snprintf(err, errlen, "watch %s: %s", path, ebuf[0] ? ebuf : curl_easy_strerror(rc));
            out = -1;
        } else if (w.status != 200) {
            snprintf(err, errlen, "watch %s: HTTP %ld %.*s", path, w.status, (int)w.errbody.len,
                     w.errbody.data ? w.errbody.data : "");
            out = (int)w.status;
        } else {
            out = 0; /* the server ended the watch */
        }
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(w.h);
        buf_release(&w.errbody);
        if (!(out == 401 && c->cfg->token_file && attempt == 0))
            return out;
    }
    return 401;
}
