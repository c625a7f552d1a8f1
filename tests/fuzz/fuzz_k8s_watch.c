/* pdsim-controller's watch-stream decoder (NDJSON events). The stream is fed
 * whole, one byte at a time and in random-sized pieces: the events, the last
 * resourceVersion and the result must not depend on the split. A small
 * max_event exercises the -E2BIG path. */
#include "common/buf.h"
#include "controller/k8s_watch.h"
#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>

/* A record of the events seen: type and object, one line each. */
static int record(void *arg, enum k8s_event type, const cJSON *object)
{
    struct buf *log = arg;
    char *text = cJSON_PrintUnformatted(object);
    int rc = buf_appendf(log, "%d %s\n", (int)type, text ? text : "?");
    cJSON_free(text);
    if (rc < 0)
        abort();
    return 0;
}

/* Feed in pieces of size step (0: random); stop at the first non-zero result
 * as informer.c does. */
static int feed(size_t max_event, size_t step, const uint8_t *data, size_t size, struct buf *log)
{
    struct k8s_watch_dec d;
    struct fuzz_pieces pieces;
    fuzz_pieces_init(&pieces, data, size);
    k8s_watch_dec_init(&d, max_event);
    int rc = 0;
    for (size_t off = 0; off < size && rc == 0;) {
        size_t n = step ? (step < size - off ? step : size - off) : fuzz_piece(&pieces, size - off);
        rc = k8s_watch_dec_feed(&d, (const char *)data + off, n, record, log);
        off += n;
    }
    if (buf_appendf(log, "rc %d rv %s error %s\n", rc, d.rv, d.error) < 0)
        abort();
    k8s_watch_dec_release(&d);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf whole, bytes, pieces;
    buf_init(&whole, BUF_NOCAP);
    buf_init(&bytes, BUF_NOCAP);
    buf_init(&pieces, BUF_NOCAP);
    /* max_event above any input: the cap never decides */
    size_t big = size + 1;
    (void)feed(big, size ? size : 1, data, size, &whole);
    (void)feed(big, 1, data, size, &bytes);
    (void)feed(big, 0, data, size, &pieces);
    if (whole.len != bytes.len || memcmp(buf_str(&whole), buf_str(&bytes), whole.len) != 0 ||
        whole.len != pieces.len || memcmp(buf_str(&whole), buf_str(&pieces), whole.len) != 0)
        abort(); /* the split changed what was decoded */
    buf_reset(&pieces);
    (void)feed(64, 0, data, size, &pieces);
    buf_release(&whole);
    buf_release(&bytes);
    buf_release(&pieces);
    return 0;
}
