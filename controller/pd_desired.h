/*
 * pd_desired: the children a PDSimulation should have, as a pure function.
 *
 * From the custom resource (its JSON, as the API server returns it) it builds
 * the seed's topology:
 *   NAME-p          Deployment, prefill pods with one simulator container
 *   NAME-p-service  Service to it
 *   NAME-d          Deployment, decode pods with the sidecar (on the service
 *                   port) and the simulator (on 8200): READY 2/2
 *   NAME-d-service  Service to it
 * Labels, selectors (instance + role only: selectors are immutable) and the
 * controlling ownerReference follow ../shared/design.md. Simulator flags come
 * from spec.simulator merged with the role's simulator overrides, camelCase
 * keys becoming upstream flag names (maxNumSeqs -> --max-num-seqs), so any
 * simulator flag can be passed. The decode sidecar gets --default-prefiller
 * NAME-p-service:PORT unless spec.decode.sidecar.defaultPrefiller is false.
 *
 * The controller applies the result with server-side apply; local mode reads
 * the same args. No I/O; thread-safe.
 */
#ifndef PDSIM_PD_DESIRED_H
#define PDSIM_PD_DESIRED_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define PD_DECODER_PORT 8200 /* the decode simulator, behind the sidecar */

struct pd_opts {
    const char *image;       /* used when spec.image is empty */
    const char *pull_policy; /* imagePullPolicy of every container; NULL: omitted */
};

/* The children, as a JSON array in this order: prefill Deployment, prefill
 * Service, decode Deployment, decode Service. NULL when the resource is
 * invalid: err then says which field and why (for a Degraded condition). */
cJSON *pd_desired_children(const cJSON *cr, const struct pd_opts *o, char *err, size_t errlen);

/* A camelCase spec key as a flag name without dashes ("maxNumSeqs" ->
 * "max-num-seqs", "enableSSRFProtection" -> "enable-ssrf-protection").
 * Returns 0, or -1 when out is too small or the key is not camelCase. */
int pd_flag_name(const char *key, char *out, size_t outlen);

#endif
