/*
 * reconcile: one level-triggered pass over one PDSimulation.
 *
 * Reads the resource and its children from the informers' stores, computes the
 * desired children (pd_desired) and applies each with server-side apply
 * (fieldManager pdsim-controller, force) only when the live object differs in
 * a field the controller sets, so an idle cluster sees no writes and an edited
 * or deleted child comes back. Then computes the status (pd_status) and writes
 * /status only when it changed; a 409 there re-reads the resource and writes
 * again. An invalid spec becomes Degraded, not an error. Events: Created and
 * Updated for children written, Ready/NotReady and Degraded/Recovered flips.
 */
#ifndef PDSIM_RECONCILE_H
#define PDSIM_RECONCILE_H

#include "controller/events.h"
#include "controller/informer.h"
#include "controller/k8s_client.h"
#include "controller/pd_desired.h"

#include <stdatomic.h>

struct reconciler {
    struct k8s_client *client;
    struct informer *pdsims, *deployments, *services;
    struct pd_opts opts;
    struct recorder *events; /* NULL: no Events */
    _Atomic unsigned long long applies, status_writes, conflicts;
};

/* Reconcile "namespace/name". Returns 0, or -1 (err says why) to retry later
 * with backoff. */
int reconcile(struct reconciler *r, const char *key, char *err, size_t errlen);

/* Whether every field of want is in have with the same value (objects
 * recursively, arrays and scalars exactly; under a "resources" key, scalars
 * compare as Kubernetes quantities, as the API server normalises them). */
bool json_subset(const cJSON *want, const cJSON *have);

/* A Kubernetes quantity ("500m", "1Gi", "2", "1.5e3") as a number; false when
 * text is not one. */
bool k8s_quantity(const char *text, double *out);

#endif
