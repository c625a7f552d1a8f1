/*
 * httpd: civetweb helpers shared by the simulator and the sidecar.
 *
 * Starting a server on HOST:PORT (port 0 = any free port, read back), reading
 * a request body under a cap, and writing complete responses, OpenAI-style
 * error bodies and HTTP/1.1 chunks each in a single write: civetweb's
 * mg_send_chunk makes three writes per chunk, which with Nagle's algorithm
 * delays every streamed token. Handlers run on civetweb worker threads; all
 * functions here are reentrant.
 */
#ifndef PDSIM_COMMON_HTTPD_H
#define PDSIM_COMMON_HTTPD_H

#include "common/buf.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct mg_connection;
struct mg_context;
struct mg_callbacks;

struct httpd_opts {
    const char *host;  /* "0.0.0.0" or NULL = all interfaces; else one address */
    int port;          /* 0 = any free port */
    int threads;       /* worker threads = concurrent connections */
    int keep_alive_ms; /* idle keep-alive timeout */
    int request_timeout_ms;
    void *user_data; /* given to civetweb as the context user data */
    /* A PEM file with the private key and certificate: serve HTTPS (TLS 1.2
     * or later) instead of HTTP. Needs mg_init_library(MG_FEATURES_TLS). */
    const char *tls_pem;
    /* The handler of every path, registered before the first request can
     * arrive (so no early request gets civetweb's plain 404). */
    int (*handler)(struct mg_connection *c, void *cbdata);
    void *handler_data;
};

/* A timeout flag (ns) as civetweb milliseconds: at least 1, at most INT_MAX. */
int httpd_timeout_ms(int64_t ns);

/* For a server's main(), before any thread starts: block SIGTERM and SIGINT
 * in every thread (set receives them, for sigwait) and ignore SIGPIPE, so a
 * client that hangs up mid-write is an error return, not a death. */
void httpd_block_stop_signals(sigset_t *set);

/* Start a server. Returns the context (stop with httpd_stop) and the real
 * port in *port, or NULL with a reason in err. callbacks may be NULL. */
struct mg_context *httpd_start(const struct httpd_opts *o, const struct mg_callbacks *callbacks,
                               int *port, char *err, size_t errlen);
void httpd_stop(struct mg_context *ctx);

/* Read the whole request body into out (whose cap is the limit). Returns 0,
 * -E2BIG when the body (or its Content-Length) exceeds the cap, or -EIO. */
int httpd_read_body(struct mg_connection *c, struct buf *out);

/* Read and drop what is left of the request body, at most max bytes, so the
 * client (which may still be sending) reads our error response instead of a
 * reset. Returns 0 when the body ended, -E2BIG when max was reached. */
int httpd_discard_body(struct mg_connection *c, size_t max);

/* Reason phrase for an HTTP status ("Not Found"). */
const char *httpd_reason(int status);
/* OpenAI error "type" for a status: BadRequestError, NotFoundError, ... */
const char *httpd_error_type(int status);

/* Build {"error":{"message":..,"type":..,"param":..,"code":status}}. param may be NULL. */
int httpd_error_body(struct buf *b, int status, const char *message, const char *param);

/* Send a complete response with Content-Length in one write. extra_headers
 * is "" or lines each ending in "\r\n". Returns 0 or -EIO (client gone). */
int httpd_send(struct mg_connection *c, int status, const char *content_type,
               const char *extra_headers, const char *body, size_t len);
/* Send an OpenAI error JSON response. */
int httpd_send_error(struct mg_connection *c, int status, const char *message, const char *param,
                     const char *extra_headers);

/* Start a chunked response (status line and headers only). */
int httpd_begin_chunked(struct mg_connection *c, int status, const char *content_type,
                        const char *extra_headers);
/* One chunk, framing included, in one write. len 0 is refused (it would end
 * the body): use httpd_end_chunked. Returns 0 or -EIO. */
int httpd_write_chunk(struct mg_connection *c, const char *data, size_t len);
int httpd_end_chunked(struct mg_connection *c);

#endif
