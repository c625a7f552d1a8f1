/*
 * sim_endpoints: the POST endpoints that answer at once, with no scheduling,
 * latency or metrics (as upstream): /v1/embeddings and the render endpoints
 * /v1/completions/render and /v1/chat/completions/render.
 *
 * Check order as upstream: the body (400), the model (404; a LoRA adapter
 * is a 400 for render), then the values (400). X-Return-Error and failure
 * injection do not apply. Internal to the simulator; thread-safe.
 */
#ifndef PDSIM_SIM_ENDPOINTS_H
#define PDSIM_SIM_ENDPOINTS_H

#include "simulator/sim_internal.h"

/* Serve one of the paths above (POST). reqid receives the request id for the
 * access log. Returns the HTTP status sent. */
int sim_endpoint_post(struct sim_server *s, struct mg_connection *c, const char *path, char *reqid,
                      size_t reqidlen);

#endif
