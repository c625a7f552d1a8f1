#define _GNU_SOURCE /* PTHREAD_MUTEX_ADAPTIVE_NP */
#include "sidecar/sc_upstream.h"

#include "common/connfd.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static CURLSH *share;
static pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
static pthread_key_t easy_key;

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

static void easy_free(void *p)
{
    curl_easy_cleanup(p);
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
    return pthread_key_create(&easy_key, easy_free) == 0 ? 0 : -1;
}

void sc_up_global_cleanup(void)
{
    CURL *h = pthread_getspecific(easy_key);
    if (h) {
        curl_easy_cleanup(h);
        pthread_setspecific(easy_key, NULL);
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
    int (*client_fd)(void *);
    void *client_arg;
    struct timespec next_check; /* of the client socket, at most every 10 ms */
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

/* Called often during a transfer: a client that left cancels it. */
static int progress_cb(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    struct xfer *x = arg;
    (void)a;
    (void)b;
    (void)c;
    (void)d;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    if (now.tv_sec < x->next_check.tv_sec ||
        (now.tv_sec == x->next_check.tv_sec && now.tv_nsec < x->next_check.tv_nsec))
        return 0;
    x->next_check = now;
    x->next_check.tv_nsec += 10 * 1000000L;
    if (x->next_check.tv_nsec >= 1000000000L) {
        x->next_check.tv_sec++;
        x->next_check.tv_nsec -= 1000000000L;
    }
    return connfd_peer_gone(x->client_fd(x->client_arg)) ? 1 : 0;
}

static CURL *thread_handle(void)
{
    CURL *h = pthread_getspecific(easy_key);
    if (!h) {
        h = curl_easy_init();
        pthread_setspecific(easy_key, h);
    }
    return h; /* not reset: setup() sets every option it relies on, each time */
}

static void setup(CURL *h, const struct sc_up_req *r, struct xfer *x)
{
    curl_easy_setopt(h, CURLOPT_SHARE, share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_URL, r->url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    /* The shared cache keeps every idle connection; the easy default of 5
     * would close one after each transfer once more than 5 are in use. */
    curl_easy_setopt(h, CURLOPT_MAXCONNECTS, 8192L);
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
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, r->client_fd ? 0L : 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, r->timeout_ms > 0 ? r->timeout_ms : 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     r->connect_timeout_ms > 0 ? r->connect_timeout_ms : 0L);
}

enum sc_up_result sc_up_perform(const struct sc_up_req *r, const struct sc_up_sink *s, char *err,
                                size_t errlen)
{
    struct xfer x = {.sink = s, .client_fd = r->client_fd, .client_arg = r->client_arg};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &x.next_check);
    x.next_check.tv_nsec += 10 * 1000000L; /* short transfers never poll the client */
    if (x.next_check.tv_nsec >= 1000000000L) {
        x.next_check.tv_sec++;
        x.next_check.tv_nsec -= 1000000000L;
    }
    char ebuf[CURL_ERROR_SIZE] = "";
    buf_init(&x.headers, 256 * 1024);
    x.h = thread_handle();
    setup(x.h, r, &x);
    curl_easy_setopt(x.h, CURLOPT_ERRORBUFFER, ebuf);
    CURLcode rc = curl_easy_perform(x.h);
    curl_easy_setopt(x.h, CURLOPT_ERRORBUFFER, NULL);
    enum sc_up_result res = SC_UP_OK;
    if (rc == CURLE_OK && send_headers(&x) < 0)
        res = SC_UP_ABORTED;
    else if (rc == CURLE_COULDNT_CONNECT)
        res = SC_UP_REFUSED;
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        res = SC_UP_TIMEOUT;
    else if (rc == CURLE_WRITE_ERROR || rc == CURLE_ABORTED_BY_CALLBACK || x.failed)
        res = SC_UP_ABORTED;
    else if (rc != CURLE_OK)
        res = SC_UP_FAILED;
    if (rc != CURLE_OK && err)
        snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
    buf_release(&x.headers);
    return res;
}
