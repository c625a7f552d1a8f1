/*
 * pd_status: the status of a PDSimulation, as a pure function of the resource,
 * its two Deployments (as the API server returns them) and the last status.
 *
 * A role is ready when its Deployment's rollout is complete, by kubectl's
 * rules, not only readyReplicas: the deployment controller has observed the
 * current generation, every desired replica is updated, no old replica is
 * left, and every updated replica is available. ProgressDeadlineExceeded or a
 * ReplicaFailure condition makes the resource Degraded, as does an invalid
 * spec (the caller passes its reason).
 *
 * Conditions Ready, PrefillReady, DecodeReady, Progressing and Degraded follow
 * metav1.Condition; a condition keeps its lastTransitionTime until its status
 * flips. Also: observedGeneration, phase (Pending | Progressing | Ready |
 * Degraded), per-role replicas/readyReplicas/availableReplicas/
 * updatedReplicas and "ready/desired" summary, endpoint, prefillEndpoint.
 */
#ifndef PDSIM_PD_STATUS_H
#define PDSIM_PD_STATUS_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* prefill and decode may be NULL (not created yet); old_status may be NULL.
 * invalid_reason/message describe a spec the schema let through (NULL: none).
 * now is an RFC 3339 time for new transitions. The caller owns the result. */
cJSON *pd_status(const cJSON *cr, const cJSON *prefill, const cJSON *decode,
                 const cJSON *old_status, const char *invalid_reason, const char *invalid_message,
                 const char *now);

/* The condition of that type in a status (or a Deployment's status), or NULL. */
const cJSON *pd_condition(const cJSON *status, const char *type);

/* The current time as RFC 3339 UTC seconds ("2026-11-24T21:10:00Z"). */
void pd_now(char *out, size_t len);

#endif
