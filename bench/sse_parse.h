/*
 * sse_parse: an incremental parser for one HTTP/1.1 response whose body is
 * chunked Server-Sent Events, for the benchmark load generator.
 *
 * Bytes may arrive split anywhere; the parser calls back once per complete
 * "data: ..." event. It only handles what pdsim sends (a status line,
 * headers, chunked or identity body), not all of HTTP. Pure; not thread-safe.
 */
#ifndef PDSIM_BENCH_SSE_PARSE_H
#define PDSIM_BENCH_SSE_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* Called per event with its data (without "data: " and the blank line). */
typedef void (*sse_event_fn)(void *arg, const char *data, size_t len);

enum sse_state { SSE_HEADERS, SSE_CHUNK_SIZE, SSE_CHUNK_DATA, SSE_CHUNK_CRLF, SSE_BODY, SSE_END };

struct sse_parser {
    enum sse_state state;
    int status; /* HTTP status, once the headers are in */
    bool chunked;
    size_t chunk_left;
    char head[4096]; /* header bytes until the blank line */
    size_t head_len;
    char line[65536]; /* the current event being assembled */
    size_t line_len;
    char size_line[32];
    size_t size_len;
    sse_event_fn on_event;
    void *arg;
    bool error;
};

void sse_parser_init(struct sse_parser *p, sse_event_fn fn, void *arg);
/* Feed bytes. Returns false on a protocol error (p->error is set). */
bool sse_parser_feed(struct sse_parser *p, const char *data, size_t len);
/* True once the terminating zero-length chunk was seen. */
bool sse_parser_done(const struct sse_parser *p);

#endif
