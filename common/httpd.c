#include "common/httpd.h"

#include "common/xalloc.h"

#include <civetweb.h>
#include <pthread.h>
#include <signal.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* pdsim serves no files and has no authentication. Without an auth handler
 * civetweb stats "<root>/.htpasswd" on every request: a syscall each. */
static int allow_all(struct mg_connection *c, void *cbdata)
{
    (void)c;
    (void)cbdata;
    return 1;
}

void httpd_block_stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* The options of the httpd_start running on this thread: civetweb calls
 * init_context from mg_start2, before its listening and worker threads run. */
static _Thread_local const struct httpd_opts *starting;
static _Thread_local void (*user_init_context)(const struct mg_context *);

static void init_context(const struct mg_context *cctx)
{
    struct mg_context *ctx = (struct mg_context *)cctx; /* civetweb's API is not const */
    mg_set_auth_handler(ctx, "/", allow_all, NULL);
    if (starting && starting->handler)
        mg_set_request_handler(ctx, "/", starting->handler, starting->handler_data);
    if (user_init_context)
        user_init_context(cctx);
}

/* Errors civetweb answers itself (a malformed or oversized request head, a
 * request that timed out) get the same OpenAI-style JSON body as ours. */
static int json_http_error(struct mg_connection *c, int status, const char *errmsg)
{
    char msg[256];
    snprintf(msg, sizeof(msg), "%s", errmsg && *errmsg ? errmsg : httpd_reason(status));
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    mg_disable_connection_keep_alive(c);
    return httpd_send_error(c, status, msg, NULL, "") < 0 ? 1 : 0;
}

int httpd_timeout_ms(int64_t ns)
{
    int64_t ms = ns / 1000000;
    return ms < 1 ? 1 : ms > INT_MAX ? INT_MAX : (int)ms;
}

struct mg_context *httpd_start(const struct httpd_opts *o, const struct mg_callbacks *callbacks,
                               int *port, char *err, size_t errlen)
{
    char ports[128], threads[16], ka[16], rt[16];
    const char *tls = o->tls_pem ? "s" : "";
    if (!o->host || !*o->host || strcmp(o->host, "0.0.0.0") == 0)
        snprintf(ports, sizeof(ports), "%d%s", o->port, tls);
    else
        snprintf(ports, sizeof(ports), "%s:%d%s", o->host, o->port, tls);
    snprintf(threads, sizeof(threads), "%d", o->threads > 0 ? o->threads : 64);
    snprintf(ka, sizeof(ka), "%d", o->keep_alive_ms > 0 ? o->keep_alive_ms : 5000);
    snprintf(rt, sizeof(rt), "%d", o->request_timeout_ms > 0 ? o->request_timeout_ms : 30000);
    const char *options[] = {"listening_ports",
                             ports,
                             "num_threads",
                             threads,
                             "enable_keep_alive",
                             "yes",
                             "keep_alive_timeout_ms",
                             ka,
                             "request_timeout_ms",
                             rt,
                             "tcp_nodelay",
                             "1",
                             "listen_backlog",
                             "4096",
                             "connection_queue",
                             "1024",
                             "enable_directory_listing",
                             "no",
                             "decode_url",
                             "yes",
                             o->tls_pem ? "ssl_certificate" : NULL,
                             o->tls_pem,
                             "ssl_protocol_version",
                             "4", /* TLS 1.2 and later */
                             NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    if (callbacks)
        cb = *callbacks;
    user_init_context = cb.init_context;
    cb.init_context = init_context;
    if (!cb.http_error)
        cb.http_error = json_http_error;
    starting = o;
    struct mg_init_data init = {
        .callbacks = &cb, .user_data = o->user_data, .configuration_options = options};
    struct mg_error_data ed;
    char msg[256] = "";
    memset(&ed, 0, sizeof(ed));
    ed.text = msg;
    ed.text_buffer_size = sizeof(msg);
    struct mg_context *ctx = mg_start2(&init, &ed);
    starting = NULL;
    user_init_context = NULL;
    if (!ctx) {
        snprintf(err, errlen, "cannot listen on %s: %s", ports, msg[0] ? msg : "unknown error");
        return NULL;
    }
    struct mg_server_port sp[4];
    memset(sp, 0, sizeof(sp));
    int n = mg_get_server_ports(ctx, 4, sp);
    if (n < 1) {
        mg_stop(ctx);
        snprintf(err, errlen, "cannot read the listening port");
        return NULL;
    }
    *port = sp[0].port;
    return ctx;
}

void httpd_stop(struct mg_context *ctx)
{
    if (ctx)
        mg_stop(ctx);
}

int httpd_read_body(struct mg_connection *c, struct buf *out)
{
    const struct mg_request_info *ri = mg_get_request_info(c);
    if (ri->content_length > 0 && (unsigned long long)ri->content_length > out->cap)
        return -E2BIG;
    char chunk[16384];
    for (;;) {
        int n = mg_read(c, chunk, sizeof(chunk));
        if (n < 0)
            return -EIO;
        if (n == 0)
            return 0;
        if (buf_append(out, chunk, (size_t)n) < 0)
            return -E2BIG;
    }
}

int httpd_discard_body(struct mg_connection *c, size_t max)
{
    char chunk[16384];
    size_t total = 0;
    while (total < max) {
        int n = mg_read(c, chunk, sizeof(chunk));
        if (n <= 0)
            return 0;
        total += (size_t)n;
    }
    return -E2BIG;
}

const char *httpd_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Payload Too Large";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return mg_get_response_code_text(NULL, status);
    }
}

const char *httpd_error_type(int status)
{
    switch (status) {
    case 400:
        return "BadRequestError";
    case 401:
        return "AuthenticationError";
    case 403:
        return "PermissionDeniedError";
    case 404:
        return "NotFoundError";
    case 422:
        return "UnprocessableEntityError";
    case 429:
        return "RateLimitError";
    default:
        return status >= 500 ? "InternalServerError" : "APIConnectionError";
    }
}

int httpd_error_body(struct buf *b, int status, const char *message, const char *param)
{
    int rc = buf_puts(b, "{\"error\":{\"message\":");
    if (rc == 0)
        rc = buf_json_str(b, message);
    if (rc == 0)
        rc = buf_appendf(b, ",\"type\":\"%s\",\"param\":", httpd_error_type(status));
    if (rc == 0)
        rc = param ? buf_json_str(b, param) : buf_puts(b, "null");
    if (rc == 0)
        rc = buf_appendf(b, ",\"code\":%d}}", status);
    return rc;
}

static int write_all(struct mg_connection *c, const char *p, size_t n)
{
    while (n > 0) {
        int w = mg_write(c, p, n);
        if (w <= 0)
            return -EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static const char *conn_header(struct mg_connection *c)
{
    const char *h = mg_get_header(c, "Connection");
    return h && strcasecmp(h, "close") == 0 ? "Connection: close\r\n" : "";
}

int httpd_send(struct mg_connection *c, int status, const char *content_type,
               const char *extra_headers, const char *body, size_t len)
{
    /* Headers and a body of up to a few KiB go out in one write. The buffer
     * stays small: every civetweb worker touches these stack pages, and RSS
     * per connection is a target. */
    char head[8192];
    int hn = snprintf(head, 2048,
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
                      status, httpd_reason(status), content_type, len,
                      extra_headers ? extra_headers : "", conn_header(c));
    if (hn < 0 || hn >= 2048)
        return -E2BIG;
    if (len <= sizeof(head) - (size_t)hn) {
        if (len)
            memcpy(head + hn, body, len);
        return write_all(c, head, (size_t)hn + len);
    }
    int rc = write_all(c, head, (size_t)hn);
    return rc < 0 ? rc : write_all(c, body, len);
}

int httpd_send_error(struct mg_connection *c, int status, const char *message, const char *param,
                     const char *extra_headers)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    int rc = httpd_error_body(&b, status, message, param);
    if (rc == 0)
        rc = httpd_send(c, status, "application/json", extra_headers, buf_str(&b), b.len);
    buf_release(&b);
    return rc;
}

int httpd_begin_chunked(struct mg_connection *c, int status, const char *content_type,
                        const char *extra_headers)
{
    char head[2048];
    int hn = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n"
                      "Cache-Control: no-cache\r\n%s%s\r\n",
                      status, httpd_reason(status), content_type,
                      extra_headers ? extra_headers : "", conn_header(c));
    if (hn < 0 || (size_t)hn >= sizeof(head))
        return -E2BIG;
    return write_all(c, head, (size_t)hn);
}

int httpd_write_chunk(struct mg_connection *c, const char *data, size_t len)
{
    if (len == 0)
        return -EINVAL;
    char stackbuf[4096];
    char *p = stackbuf;
    size_t need = len + 24;
    if (need > sizeof(stackbuf))
        p = xmalloc(need);
    int hn = snprintf(p, need, "%zx\r\n", len);
    memcpy(p + hn, data, len);
    memcpy(p + hn + len, "\r\n", 2);
    int rc = write_all(c, p, (size_t)hn + len + 2);
    if (p != stackbuf)
        free(p);
    return rc;
}

int httpd_end_chunked(struct mg_connection *c)
{
    return write_all(c, "0\r\n\r\n", 5);
}
