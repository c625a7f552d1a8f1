/*
 * informer: a local, always-current copy of one kind of object (client-go's
 * reflector + store), kept by a thread.
 *
 * LIST, then WATCH from the list's resourceVersion with bookmarks and a
 * randomized timeout; a watch that ends (timeout, dropped connection) resumes
 * from the last resourceVersion seen, bookmarks included; ERROR 410 relists,
 * and the relist reports objects that vanished meanwhile as DELETED. While the
 * API server is unreachable or failing, retries back off exponentially with
 * jitter (0.8 s doubling to 30 s by default). Each change reaches the handler
 * after the store has it, so the handler may read the store.
 */
#ifndef PDSIM_INFORMER_H
#define PDSIM_INFORMER_H

#include "controller/k8s_client.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

struct informer;

struct informer_opts {
    const char *path;           /* collection path, e.g. /apis/apps/v1/namespaces/ns/deployments */
    const char *label_selector; /* NULL: all */
    double backoff_init_s, backoff_max_s;         /* 0: 0.8 and 30 */
    int watch_timeout_min_s, watch_timeout_max_s; /* 0: 300 and 600 */
};

/* Called on the informer's thread for every change, after the store has it. */
typedef void (*informer_fn)(void *arg, enum k8s_event type, const cJSON *object);

struct informer *informer_start(struct k8s_client *c, const struct informer_opts *o, informer_fn fn,
                                void *arg);
/* Stop the thread (ends a watch at once) and free. Accepts NULL. */
void informer_stop(struct informer *inf);

/* The first list has been stored. */
bool informer_synced(struct informer *inf);
/* A copy of namespace/name (cJSON_Delete it), or NULL. */
cJSON *informer_get(struct informer *inf, const char *ns, const char *name);
/* How many objects the store holds. */
size_t informer_len(struct informer *inf);
/* One step of the retry backoff (client-go's wait.Backoff, factor 2, jitter
 * 1.0): returns the wait, *delay times (1 + r) for r in [0, 1], at most max_s,
 * and doubles *delay up to max_s. */
double backoff_step(double *delay, double max_s, double r);
/* Watches restarted and relists after 410, for the metrics. */
unsigned long long informer_watch_restarts(struct informer *inf);
unsigned long long informer_relists(struct informer *inf);

#endif
