/*
 * sim_admin: the run-time configuration endpoints of one rank: GET and POST
 * /admin/config (a partial update, validated as a whole and published at
 * once) and upstream's deprecated POST /fake_metrics (a fake-metrics partial
 * update on its own). Internal to the simulator; thread-safe.
 */
#ifndef PDSIM_SIM_ADMIN_H
#define PDSIM_SIM_ADMIN_H

#include "simulator/sim_internal.h"

/* GET or POST /admin/config (other methods are the caller's 405). Returns
 * the HTTP status sent. */
int sim_admin_config(struct sim_server *s, struct mg_connection *c, const char *method);

/* POST /fake_metrics: 204 when applied, 400 with the reason otherwise. */
int sim_admin_fake_metrics(struct sim_server *s, struct mg_connection *c);

#endif
