/*
 * workqueue: the controller's queue of keys ("namespace/name"), with
 * client-go's semantics (util/workqueue):
 *   - keys, not objects, de-duplicated while waiting;
 *   - a key being processed is never handed out again until wq_done; if it
 *     was added meanwhile, wq_done puts it back;
 *   - wq_add_after delays an add; wq_add_rate_limited delays it by the key's
 *     exponential failure backoff (base * 2^failures, capped), which
 *     wq_forget resets (ItemExponentialFailureRateLimiter);
 *   - wq_shutdown wakes every wq_get, and from then on wq_get returns false:
 *     keys still queued are dropped (reconciles are level-triggered, so the
 *     next leader or start derives them again from its informers), and a
 *     replica that lost its Lease writes nothing more once the reconciles in
 *     flight end.
 * Thread-safe.
 */
#ifndef PDSIM_WORKQUEUE_H
#define PDSIM_WORKQUEUE_H

#include <stdbool.h>
#include <stddef.h>

struct wq;

/* base_s and max_s bound the failure backoff (client-go: 5 ms, 1000 s). */
struct wq *wq_new(double base_s, double max_s);
void wq_free(struct wq *q);

void wq_add(struct wq *q, const char *key);
void wq_add_after(struct wq *q, const char *key, double delay_s);
void wq_add_rate_limited(struct wq *q, const char *key);
void wq_forget(struct wq *q, const char *key);
/* How many times in a row key was rate-limited since its last wq_forget. */
int wq_failures(struct wq *q, const char *key);

/* Block until a key is ready; copy it to key. False once shut down and
 * empty (or when key is too small for it, which drops nothing: it stays). */
bool wq_get(struct wq *q, char *key, size_t keylen);
void wq_done(struct wq *q, const char *key);

/* Keys ready to be handed out (the queue-depth metric). */
size_t wq_len(struct wq *q);
void wq_shutdown(struct wq *q);

#endif
