/*
 * sc_upstream: HTTP calls to the decoder and prefillers with libcurl.
 *
 * Every call reuses its thread's easy handle, driven by the thread's multi
 * handle with curl_multi_socket_action (one poll() per wait, over the
 * transfer's sockets and, from 10 ms in, the client's), and one process-wide
 * connection cache (a CURLSH share), so connections stay alive across
 * requests and threads: no new connection per request. Responses stream to
 * callbacks as they arrive; a callback that fails, or a client that hangs
 * up, cancels the transfer at once. Thread-safe after sc_up_global_init.
 */
#ifndef PDSIM_SC_UPSTREAM_H
#define PDSIM_SC_UPSTREAM_H

#include "common/buf.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

struct sc_up_req {
    const char *method;
    const char *url;
    const struct curl_slist *headers; /* borrowed */
    const char *body;
    size_t body_len;
    long timeout_ms;         /* whole transfer; 0 = none */
    long connect_timeout_ms; /* 0 = libcurl's default */
    /* The client's socket, watched for hang-ups from 10 ms into the
     * transfer: client_fd(client_arg) returns it, or -1. NULL = none. */
    int (*client_fd)(void *client_arg);
    void *client_arg;
    bool insecure; /* https: do not verify the certificate */
};

/* on_headers runs once, before the first body byte (or at the end for an
 * empty body), with the status and the raw header lines ("Name: value\r\n"
 * each). on_body runs per received piece. A negative return cancels. */
struct sc_up_sink {
    int (*on_headers)(void *arg, long status, const struct buf *headers);
    int (*on_body)(void *arg, const char *p, size_t n);
    void *arg;
};

/* A sink that keeps the whole response: status, raw header lines, body
 * (at most body_cap bytes; more cancels the transfer). */
struct sc_up_buffer {
    long status;
    struct buf headers, body;
};
void sc_up_buffer_init(struct sc_up_buffer *b, size_t body_cap);
void sc_up_buffer_reset(struct sc_up_buffer *b);
void sc_up_buffer_release(struct sc_up_buffer *b);
struct sc_up_sink sc_up_buffer_sink(struct sc_up_buffer *b);

enum sc_up_result {
    SC_UP_OK,
    SC_UP_REFUSED, /* could not connect */
    SC_UP_TIMEOUT, /* timeout_ms passed */
    SC_UP_ABORTED, /* a callback failed or the client hung up */
    SC_UP_FAILED,  /* any other transport error */
};

/* Once in main, before threads: curl_global_init and the shared cache. */
int sc_up_global_init(void);
void sc_up_global_cleanup(void);

/* Perform r, streaming into s. err gets libcurl's message on failure. */
enum sc_up_result sc_up_perform(const struct sc_up_req *r, const struct sc_up_sink *s, char *err,
                                size_t errlen);

#endif
