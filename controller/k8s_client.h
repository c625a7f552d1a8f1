/*
 * k8s_client: the Kubernetes REST API over libcurl, with no client library.
 *
 * Requests carry the bearer token of a k8s_config (re-read from its file when
 * due) and its TLS settings (CA, client certificate, insecure). A 401 makes
 * the client re-read the token file at once and retry the request one time,
 * as rotated service-account tokens need. Connections are kept alive in one
 * libcurl cache shared by every thread. A 429 (or a 5xx with Retry-After)
 * waits as the server asks and is sent again, as client-go does. Watches stream through
 * k8s_watch_dec. Thread-safe after k8s_client_new; the config must outlive the client.
 */
#ifndef PDSIM_K8S_CLIENT_H
#define PDSIM_K8S_CLIENT_H

#include "common/buf.h"
#include "controller/k8s_config.h"
#include "controller/k8s_watch.h"

#include <stdatomic.h>
#include <stdbool.h>

struct k8s_client;

/* A 429, or a 5xx with Retry-After, is sent again up to K8S_RETRIES times,
 * after the Retry-After seconds (1 s if absent, at most K8S_RETRY_AFTER_MAX). */
#define K8S_RETRIES         5
#define K8S_RETRY_AFTER_MAX 10

struct k8s_resp {
    long status;
    long retry_after; /* seconds from the Retry-After header, or -1 */
    struct buf body;
};

/* NULL with err on failure (libcurl). */
struct k8s_client *k8s_client_new(struct k8s_config *cfg, char *err, size_t errlen);
void k8s_client_free(struct k8s_client *c);

/* Counters for the controller's metrics: requests by verb ("GET"...
 * "WATCH") and HTTP status (0: no answer). */
unsigned long long k8s_client_requests(struct k8s_client *c, const char *verb, int code);

/* From now on, a 429 or Retry-After is returned to the caller at once, and a
 * wait in progress ends within 0.1 s (shutdown). */
void k8s_client_stop_retries(struct k8s_client *c);

/* How many requests were sent again after a 429 or Retry-After. */
unsigned long long k8s_client_retries(struct k8s_client *c);

void k8s_resp_init(struct k8s_resp *r);
void k8s_resp_release(struct k8s_resp *r);

/* method path (with query) and an optional body with its content type.
 * Returns 0 with the HTTP status in out (any status, errors included), or -1
 * when the server could not be reached (err says why). */
int k8s_request(struct k8s_client *c, const char *method, const char *path,
                const char *content_type, const char *body, struct k8s_resp *out, char *err,
                size_t errlen);

/* The message of a Kubernetes Status body, or "" (borrowed from a static
 * buffer per thread). */
const char *k8s_status_message(const struct k8s_resp *r);

/* Stream a watch (path with ?watch=1&...) into d, events to fn, until the
 * server ends it (returns 0), an ERROR event (K8S_WATCH_EXPIRED or
 * K8S_WATCH_FAILED), a non-200 answer (its status, > 2), *stop becoming true
 * (returns 0 too), or a transport failure (-1, err). */
int k8s_watch(struct k8s_client *c, const char *path, struct k8s_watch_dec *d, k8s_event_fn fn,
              void *arg, atomic_bool *stop, char *err, size_t errlen);

#endif
