#define _GNU_SOURCE /* PTHREAD_MUTEX_ADAPTIVE_NP, POLLRDHUP */
#include "sidecar/sc_upstream.h"

#include "common/connfd.h"
#include "common/xalloc.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static CURLSH *share;
static pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
static pthread_key_t tctx_key;

/* A thread's libcurl state: one easy handle driven by a multi handle with
 * curl_multi_socket_action, so this thread waits with one poll() over the
 * transfer's sockets (and the client's) and libcurl does no polling of its
 * own to find out what is ready. */
#define MAX_SOCKS 8
struct tctx {
    CURL *easy;
    CURLM *multi;
    struct pollfd socks[MAX_SOCKS];
    int nsocks;
    long timer_ms; /* libcurl's timeout, -1 = none */
};

static void lock_cb(CURL *h, curl_lock_data data, curl_lock_access access, void *u)
{
    (void)h;
    (void)access;
    (void)u;
    pthread_mutex_lock(&share_mu[data]);
}

static void unlock_cb(CURL *h, curl_lock_data data, void *u)
{
    (void)h;
    (void)u;
    pthread_mutex_unlock(&share_mu[data]);
}

static void tctx_free(void *p)
{
    struct tctx *t = p;
    curl_multi_cleanup(t->multi);
    curl_easy_cleanup(t->easy);
    free(t);
}

static int sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct tctx *t = userp;
    (void)e;
    (void)socketp;
    int i = 0;
    while (i < t->nsocks && t->socks[i].fd != fd)
        i++;
    if (what == CURL_POLL_REMOVE) {
        if (i < t->nsocks)
            t->socks[i] = t->socks[--t->nsocks];
        return 0;
    }
    if (i == t->nsocks) {
        if (t->nsocks == MAX_SOCKS)
            return -1;
        t->nsocks++;
        t->socks[i].fd = fd;
    }
    t->socks[i].events =
        (short)((what & CURL_POLL_IN ? POLLIN : 0) | (what & CURL_POLL_OUT ? POLLOUT : 0));
    return 0;
}

static int timer_cb(CURLM *m, long ms, void *userp)
{
    (void)m;
    ((struct tctx *)userp)->timer_ms = ms;
    return 0;
}

int sc_up_global_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    /* Held for microseconds: spin briefly before sleeping in the kernel. */
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&share_mu[i], &attr);
    pthread_mutexattr_destroy(&attr);
    share = curl_share_init();
    curl_share_setopt(share, CURLSHOPT_LOCKFUNC, lock_cb);
    curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, unlock_cb);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    return pthread_key_create(&tctx_key, tctx_free) == 0 ? 0 : -1;
}

void sc_up_global_cleanup(void)
{
    struct tctx *t = pthread_getspecific(tctx_key);
    if (t) {
        tctx_free(t);
        pthread_setspecific(tctx_key, NULL);
    }
    curl_share_cleanup(share);
    curl_global_cleanup();
}

static int buffer_headers(void *arg, long status, const struct buf *h)
{
    struct sc_up_buffer *b = arg;
    b->status = status;
    buf_reset(&b->headers);
    return buf_append(&b->headers, h->data, h->len);
}

static int buffer_body(void *arg, const char *p, size_t n)
{
    return buf_append(&((struct sc_up_buffer *)arg)->body, p, n);
}

void sc_up_buffer_init(struct sc_up_buffer *b, size_t body_cap)
{
    b->status = 0;
    buf_init(&b->headers, 256 * 1024);
    buf_init(&b->body, body_cap);
}

void sc_up_buffer_reset(struct sc_up_buffer *b)
{
    b->status = 0;
    buf_reset(&b->headers);
    buf_reset(&b->body);
}

void sc_up_buffer_release(struct sc_up_buffer *b)
{
    buf_release(&b->headers);
    buf_release(&b->body);
}

struct sc_up_sink sc_up_buffer_sink(struct sc_up_buffer *b)
{
    return (struct sc_up_sink){buffer_headers, buffer_body, b};
}

struct xfer {
    const struct sc_up_sink *sink;
    struct buf headers;
    CURL *h;
    bool headers_sent, failed;
};

static int send_headers(struct xfer *x)
{
    if (x->headers_sent)
        return 0;
    x->headers_sent = true;
    long status = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    return x->sink->on_headers ? x->sink->on_headers(x->sink->arg, status, &x->headers) : 0;
}

static size_t header_cb(char *p, size_t size, size_t n, void *arg)
{
    struct xfer *x = arg;
    size_t len = size * n;
    /* A new status line (after 100 Continue or a redirect) starts over. */
    if (len > 5 && memcmp(p, "HTTP/", 5) == 0)
        buf_reset(&x->headers);
    else if (len > 2 && buf_append(&x->headers, p, len) < 0)
        return 0;
    return len;
}

static size_t body_cb(char *p, size_t size, size_t n, void *arg)
{
    struct xfer *x = arg;
    size_t len = size * n;
    if (send_headers(x) < 0 || (x->sink->on_body && x->sink->on_body(x->sink->arg, p, len) < 0)) {
        x->failed = true;
        return 0; /* cancels the transfer */
    }
    return len;
}

static struct tctx *thread_ctx(void)
{
    struct tctx *t = pthread_getspecific(tctx_key);
    if (!t) {
        t = xcalloc(1, sizeof(*t));
        t->easy = curl_easy_init();
        t->multi = curl_multi_init();
        t->timer_ms = -1;
        curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
        curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t);
        curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
        curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, t);
        /* The shared cache keeps every idle connection. The default, 4 per
         * handle in the multi, would close one after each transfer as soon as
         * more are in use across threads: a new connection per request. */
        curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, 8192L);
        pthread_setspecific(tctx_key, t);
    }
    return t; /* the easy handle is not reset: setup() sets every option it relies on */
}

static long ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)((now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000);
}

/* Run the transfer on t's multi handle. From 10 ms in, the client's socket
 * is watched too, and its hang-up cancels the transfer (*gone). */
static CURLcode drive(struct tctx *t, const struct sc_up_req *r, bool *gone)
{
    int running = 0, cfd = -1;
    bool client_checked = r->client_fd == NULL;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    curl_multi_add_handle(t->multi, t->easy);
    CURLMcode mc = curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    while (running && mc == CURLM_OK) {
        struct pollfd p[MAX_SOCKS + 1];
        int ns = t->nsocks, n = ns;
        memcpy(p, t->socks, (size_t)ns * sizeof(p[0]));
        long wait = t->timer_ms < 0 || t->timer_ms > 1000 ? 1000 : t->timer_ms;
        if (!client_checked) {
            long el = ms_since(&t0);
            if (el >= 10) {
                client_checked = true;
                cfd = r->client_fd(r->client_arg);
            } else if (wait > 10 - el) {
                wait = 10 - el;
            }
        }
        if (cfd >= 0)
            p[n++] = (struct pollfd){.fd = cfd, .events = POLLRDHUP};
        for (int i = 0; i < n; i++)
            p[i].revents = 0;
        int k = poll(p, (nfds_t)n, (int)wait);
        if (k < 0 && errno != EINTR)
            break;
        if (cfd >= 0 && p[n - 1].revents) {
            if (connfd_peer_gone(cfd)) {
                *gone = true;
                break;
            }
            cfd = -1; /* pipelined request bytes, not a hang-up: stop watching */
        }
        if (k <= 0) {
            mc = curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
            continue;
        }
        for (int i = 0; i < ns && mc == CURLM_OK; i++) {
            if (!p[i].revents)
                continue;
            int ev = (p[i].revents & (POLLIN | POLLHUP) ? CURL_CSELECT_IN : 0) |
                     (p[i].revents & POLLOUT ? CURL_CSELECT_OUT : 0) |
                     (p[i].revents & (POLLERR | POLLNVAL) ? CURL_CSELECT_ERR : 0);
            mc = curl_multi_socket_action(t->multi, p[i].fd, ev, &running);
        }
    }
    CURLcode rc = *gone ? CURLE_ABORTED_BY_CALLBACK : CURLE_OK;
    if (mc != CURLM_OK)
        rc = CURLE_FAILED_INIT;
    int left;
    for (CURLMsg *m; (m = curl_multi_info_read(t->multi, &left)) != NULL;)
        if (m->msg == CURLMSG_DONE && !*gone)
            rc = m->data.result;
    if (running && rc == CURLE_OK) /* the loop ended on a poll error */
        rc = CURLE_RECV_ERROR;
    curl_multi_remove_handle(t->multi, t->easy);
    return rc;
}

static void setup(CURL *h, const struct sc_up_req *r, struct xfer *x)
{
    curl_easy_setopt(h, CURLOPT_SHARE, share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_URL, r->url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, r->insecure ? 0L : 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, r->insecure ? 0L : 2L);
    if (r->body) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L); /* no body; also clears NOBODY */
        curl_easy_setopt(h, CURLOPT_NOBODY, strcmp(r->method, "HEAD") == 0 ? 1L : 0L);
    }
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, r->timeout_ms > 0 ? r->timeout_ms : 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     r->connect_timeout_ms > 0 ? r->connect_timeout_ms : 0L);
}

enum sc_up_result sc_up_perform(const struct sc_up_req *r, const struct sc_up_sink *s, char *err,
                                size_t errlen)
{
    struct xfer x = {.sink = s};
    char ebuf[CURL_ERROR_SIZE] = "";
    bool gone = false;
    buf_init(&x.headers, 256 * 1024);
    struct tctx *t = thread_ctx();
    x.h = t->easy;
    setup(x.h, r, &x);
    curl_easy_setopt(x.h, CURLOPT_ERRORBUFFER, ebuf);
    CURLcode rc = drive(t, r, &gone);
    curl_easy_setopt(x.h, CURLOPT_ERRORBUFFER, NULL);
    enum sc_up_result res = SC_UP_OK;
    if (rc == CURLE_OK && send_headers(&x) < 0)
        res = SC_UP_ABORTED;
    else if (rc == CURLE_COULDNT_CONNECT)
        res = SC_UP_REFUSED;
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        res = SC_UP_TIMEOUT;
    else if (rc == CURLE_WRITE_ERROR || rc == CURLE_ABORTED_BY_CALLBACK || x.failed || gone)
        res = SC_UP_ABORTED;
    else if (rc != CURLE_OK)
        res = SC_UP_FAILED;
    if (rc != CURLE_OK && err)
        snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
    buf_release(&x.headers);
    return res;
}
