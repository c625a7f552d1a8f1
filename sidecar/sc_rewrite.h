/*
 * sc_rewrite: the cached-token rewrite of decode responses.
 *
 * After a KV transfer the decoder reports nearly every prompt token as
 * cached, so usage.prompt_tokens_details.cached_tokens takes the prefiller's
 * value instead (created when missing), in a JSON body or in every SSE data
 * line that carries a usage object. SSE input may be split anywhere: complete
 * lines go out as soon as they end, so streaming is never held back, and a
 * partial line waits for the rest. Not thread-safe: one per response.
 */
#ifndef PDSIM_SC_REWRITE_H
#define PDSIM_SC_REWRITE_H

#include "common/buf.h"

#include <stdbool.h>

struct sc_rewriter {
    long cached;     /* the prefiller's cached_tokens */
    bool sse;        /* text/event-stream, else one JSON body */
    struct buf pend; /* a partial SSE line, or the whole JSON body so far */
};

/* cap bounds what may be held back (a line, or a JSON body). */
void sc_rewriter_init(struct sc_rewriter *r, long cached, bool sse, size_t cap);
void sc_rewriter_release(struct sc_rewriter *r);
/* Feed decoder bytes; append what can go to the client now to out.
 * Returns 0, or -E2BIG when a held-back line or body exceeds the cap. */
int sc_rewriter_feed(struct sc_rewriter *r, const char *p, size_t n, struct buf *out);
/* The end of the response: flush what is left (a last line without a
 * newline, or the JSON body, rewritten). */
int sc_rewriter_finish(struct sc_rewriter *r, struct buf *out);

/* Rewrite one JSON text; appends the result (or the input unchanged when it
 * is not an object with a usage object) to out. */
int sc_rewrite_json(const char *p, size_t n, long cached, struct buf *out);

#endif
