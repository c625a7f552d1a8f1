#include "simulator/sim_admin.h"

#include "common/buf.h"
#include "common/httpd.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <stdlib.h>
#include <string.h>

static int send_config(struct sim_server *s, struct mg_connection *c, const struct sim_config *cfg)
{
    cJSON *j = sim_config_json(cfg);
    char *text = cJSON_PrintUnformatted(j);
    httpd_send(c, 200, "application/json", s->extra_headers, text, strlen(text));
    cJSON_free(text);
    cJSON_Delete(j);
    return 200;
}

/* Apply a partial update and publish the new settings. Returns them, or NULL
 * with err set and nothing changed. */
static const struct sim_runtime *update(struct sim_server *s, const cJSON *patch, char *err,
                                        size_t errlen)
{
    pthread_mutex_lock(&s->admin_mu);
    struct sim_runtime *cur = atomic_load(&s->rt), *next = xcalloc(1, sizeof(*next));
    next->cfg = cur->cfg;
    if (sim_config_update_runtime(&next->cfg, patch, err, errlen) < 0) {
        pthread_mutex_unlock(&s->admin_mu);
        free(next);
        return NULL;
    }
    sim_lat_from_config(&next->lat, &next->cfg);
    if (next->cfg.fake_metrics != cur->cfg.fake_metrics) {
        next->own_fake = next->cfg.fake_metrics;
        sim_metrics_set_fake(s->metrics, next->cfg.fake_metrics, next->cfg.fake_refresh);
    }
    next->prev = cur;
    atomic_store(&s->rt, next);
    pthread_mutex_unlock(&s->admin_mu);
    log_info("config updated");
    return next;
}

/* GET /admin/config: the running config. POST: a partial JSON update of the
 * latency, failure and fake-metrics settings, validated as a whole and
 * published at once; a bad one is a 400 and changes nothing. Requests
 * already running keep the settings they started with. */
int sim_admin_config(struct sim_server *s, struct mg_connection *c, const char *method)
{
    if (strcmp(method, "GET") == 0)
        return send_config(s, c, &atomic_load(&s->rt)->cfg);
    struct buf body;
    char err[512];
    int rd = sim_server_small_body(s, c, &body);
    if (rd)
        return rd;
    cJSON *patch = json_parse(buf_str(&body), body.len, err, sizeof(err));
    buf_release(&body);
    const struct sim_runtime *rt = patch ? update(s, patch, err, sizeof(err)) : NULL;
    cJSON_Delete(patch);
    if (!rt) {
        httpd_send_error(c, 400, err, NULL, s->extra_headers);
        return 400;
    }
    return send_config(s, c, &rt->cfg);
}

/* The body is the fake-metrics patch itself, as upstream (which wraps it the
 * same way and removes the endpoint in v0.12). */
int sim_admin_fake_metrics(struct sim_server *s, struct mg_connection *c)
{
    struct buf body;
    char err[512];
    int rd = sim_server_small_body(s, c, &body);
    if (rd)
        return rd;
    cJSON *fake = json_parse(buf_str(&body), body.len, err, sizeof(err));
    buf_release(&body);
    cJSON *patch = cJSON_CreateObject();
    if (fake)
        cJSON_AddItemToObject(patch, "fake-metrics", fake);
    const struct sim_runtime *rt = fake ? update(s, patch, err, sizeof(err)) : NULL;
    cJSON_Delete(patch);
    if (!rt) {
        httpd_send_error(c, 400, err, NULL, s->extra_headers);
        return 400;
    }
    httpd_send(c, 204, "application/json", s->extra_headers, "", 0);
    return 204;
}
