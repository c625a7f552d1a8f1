/*
 * k8s_watch: decode a Kubernetes watch stream.
 *
 * The API server sends one JSON event per line ({"type":..., "object":...})
 * in a chunked response whose chunks (and libcurl's write callbacks) do not
 * follow event boundaries: the decoder keeps the partial tail and hands out
 * each complete event. It remembers the last resourceVersion seen, from any
 * event including BOOKMARK, so a closed watch resumes from there; an ERROR
 * event with code 410 (Expired/Gone) tells the caller to list again.
 * Not thread-safe: one per watch.
 */
#ifndef PDSIM_K8S_WATCH_H
#define PDSIM_K8S_WATCH_H

#include "common/buf.h"

#include <cjson/cJSON.h>

enum k8s_event { K8S_ADDED, K8S_MODIFIED, K8S_DELETED, K8S_BOOKMARK, K8S_ERROR };

/* Feed results besides 0. */
enum {
    K8S_WATCH_EXPIRED = 1, /* ERROR 410: relist, the resourceVersion is too old */
    K8S_WATCH_FAILED = 2,  /* another ERROR event: restart the watch with backoff */
};

/* Called per event; object is borrowed for the call. A negative return stops
 * the feed and is returned by it. BOOKMARK events are not passed on. */
typedef int (*k8s_event_fn)(void *arg, enum k8s_event type, const cJSON *object);

struct k8s_watch_dec {
    struct buf line; /* the partial event */
    char rv[64];     /* the last resourceVersion seen, "" before any */
    char error[256]; /* the message of the last ERROR event */
};

/* max_event bounds one event's size (a larger one is an error). */
void k8s_watch_dec_init(struct k8s_watch_dec *d, size_t max_event);
void k8s_watch_dec_release(struct k8s_watch_dec *d);

/* Feed bytes. Returns 0, K8S_WATCH_EXPIRED or K8S_WATCH_FAILED (at an ERROR
 * event: the rest of the stream is not decoded), a callback's negative value,
 * -EPROTO for a line that is not an event, or -E2BIG past max_event. */
int k8s_watch_dec_feed(struct k8s_watch_dec *d, const char *p, size_t n, k8s_event_fn fn,
                       void *arg);

#endif
