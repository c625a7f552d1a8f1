/* pdsim-sidecar's cached-token rewrite of decode responses. SSE input is fed
 * whole, one byte at a time and in random-sized pieces: the output must be
 * the same however the stream was split. A JSON body likewise must come out
 * as sc_rewrite_json makes it. A small cap exercises the -E2BIG path. */
#include "common/buf.h"
#include "fuzz_util.h"
#include "sidecar/sc_rewrite.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CAP (64u << 20) /* as sc_proxy.c */

/* Feed data in pieces of size step (0: random pieces); out gets the result. */
static int feed(bool sse, size_t cap, size_t step, const uint8_t *data, size_t size,
                struct buf *out)
{
    struct sc_rewriter r;
    struct fuzz_pieces pieces;
    fuzz_pieces_init(&pieces, data, size);
    sc_rewriter_init(&r, 1234, sse, cap);
    int rc = 0;
    for (size_t off = 0; off < size && rc == 0;) {
        size_t n = step ? (step < size - off ? step : size - off) : fuzz_piece(&pieces, size - off);
        rc = sc_rewriter_feed(&r, (const char *)data + off, n, out);
        off += n;
    }
    rc = rc ? rc : sc_rewriter_finish(&r, out);
    sc_rewriter_release(&r);
    return rc;
}

static void same(const struct buf *a, const struct buf *b)
{
    if (a->len != b->len || (a->len && memcmp(a->data, b->data, a->len) != 0))
        abort(); /* the split changed the output */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf whole, bytes, pieces;
    buf_init(&whole, BUF_NOCAP);
    buf_init(&bytes, BUF_NOCAP);
    buf_init(&pieces, BUF_NOCAP);
    if (feed(true, CAP, size ? size : 1, data, size, &whole) != 0 ||
        feed(true, CAP, 1, data, size, &bytes) != 0 || feed(true, CAP, 0, data, size, &pieces))
        abort(); /* nothing near the cap */
    same(&whole, &bytes);
    same(&whole, &pieces);

    buf_reset(&whole);
    buf_reset(&pieces);
    if (feed(false, CAP, 0, data, size, &pieces) != 0 ||
        sc_rewrite_json((const char *)data, size, 1234, &whole) != 0)
        abort();
    same(&whole, &pieces);

    buf_reset(&pieces);
    (void)feed(true, 64, 0, data, size, &pieces);
    buf_reset(&pieces);
    (void)feed(false, 64, 0, data, size, &pieces);
    buf_release(&whole);
    buf_release(&bytes);
    buf_release(&pieces);
    return 0;
}
