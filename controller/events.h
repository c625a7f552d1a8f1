/*
 * events: core/v1 Events about a resource, aggregated by count as client-go's
 * recorder does.
 *
 * An event is identified by its object (uid), type, reason and message. The
 * first one is created (POST) with count 1; a repeat of the same event PATCHes
 * that Event's count and lastTimestamp instead of creating another (and
 * creates a new one if it has expired meanwhile). The recorder remembers the
 * last EVENTS_CACHE distinct events, least recently used first out. Sending
 * is best effort: a failure is logged and counted, never returned, because an
 * event must not fail a reconcile. Thread-safe.
 */
#ifndef PDSIM_EVENTS_H
#define PDSIM_EVENTS_H

#include "controller/k8s_client.h"

#include <cjson/cJSON.h>

#define EVENTS_CACHE 4096

struct recorder;

/* component is source.component and reportingComponent; instance is
 * reportingInstance (the pod or host). */
struct recorder *recorder_new(struct k8s_client *c, const char *component, const char *instance);
void recorder_free(struct recorder *r);

/* Record an event about obj (a full object with apiVersion, kind and
 * metadata). type is "Normal" or "Warning"; reason is CamelCase; the message
 * is printf-formatted and cut at 1024 bytes. */
void recorder_event(struct recorder *r, const cJSON *obj, const char *type, const char *reason,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Events created, aggregated (PATCHed) and failed since the start. */
void recorder_counts(struct recorder *r, unsigned long long *created,
                     unsigned long long *aggregated, unsigned long long *failed);

#endif
