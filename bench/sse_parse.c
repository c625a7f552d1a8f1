#include "sse_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void sse_parser_init(struct sse_parser *p, sse_event_fn fn, void *arg)
{
    memset(p, 0, sizeof(*p));
    p->on_event = fn;
    p->arg = arg;
}

bool sse_parser_done(const struct sse_parser *p)
{
    return p->state == SSE_END;
}

/* Event bytes: split on the blank line that ends each event. */
static void body_bytes(struct sse_parser *p, const char *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p->line_len < sizeof(p->line))
            p->line[p->line_len++] = d[i];
        size_t l = p->line_len;
        if (l >= 2 && p->line[l - 1] == '\n' && p->line[l - 2] == '\n') {
            if (l > 8 && memcmp(p->line, "data: ", 6) == 0)
                p->on_event(p->arg, p->line + 6, l - 8);
            p->line_len = 0;
        }
    }
}

static bool parse_head(struct sse_parser *p)
{
    p->head[p->head_len] = '\0';
    if (sscanf(p->head, "HTTP/1.%*d %d", &p->status) != 1)
        return false;
    for (char *h = strstr(p->head, "\r\n"); h; h = strstr(h + 2, "\r\n"))
        if (strncasecmp(h + 2, "transfer-encoding: chunked", 26) == 0)
            p->chunked = true;
    p->state = p->chunked ? SSE_CHUNK_SIZE : SSE_BODY;
    return true;
}

/* One byte of the chunk-size line; returns false on garbage. */
static bool size_byte(struct sse_parser *p, char c)
{
    if (c == '\r')
        return true;
    if (c != '\n') {
        if (p->size_len >= sizeof(p->size_line) - 1)
            return false;
        p->size_line[p->size_len++] = c;
        return true;
    }
    p->size_line[p->size_len] = '\0';
    char *end;
    p->chunk_left = strtoul(p->size_line, &end, 16);
    if (end == p->size_line)
        return false;
    p->size_len = 0;
    p->state = p->chunk_left ? SSE_CHUNK_DATA : SSE_END;
    return true;
}

static size_t step(struct sse_parser *p, const char *d, size_t n)
{
    switch (p->state) {
    case SSE_HEADERS:
        if (p->head_len >= sizeof(p->head) - 1) {
            p->error = true;
            return n;
        }
        p->head[p->head_len++] = d[0];
        if (p->head_len >= 4 && memcmp(p->head + p->head_len - 4, "\r\n\r\n", 4) == 0 &&
            !parse_head(p))
            p->error = true;
        return 1;
    case SSE_CHUNK_SIZE:
        if (!size_byte(p, d[0]))
            p->error = true;
        return 1;
    case SSE_CHUNK_DATA: {
        size_t take = n < p->chunk_left ? n : p->chunk_left;
        body_bytes(p, d, take);
        p->chunk_left -= take;
        if (p->chunk_left == 0)
            p->state = SSE_CHUNK_CRLF;
        return take;
    }
    case SSE_CHUNK_CRLF:
        if (d[0] == '\n')
            p->state = SSE_CHUNK_SIZE;
        return 1;
    case SSE_BODY:
        body_bytes(p, d, n);
        return n;
    case SSE_END:
        return n;
    }
    return n;
}

bool sse_parser_feed(struct sse_parser *p, const char *data, size_t len)
{
    while (len > 0 && !p->error) {
        size_t used = step(p, data, len);
        data += used;
        len -= used;
    }
    return !p->error;
}
