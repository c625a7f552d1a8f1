#include "simulator/sim_endpoints.h"

#include "common/buf.h"
#include "common/httpd.h"
#include "simulator/sim_embed.h"
#include "simulator/sim_hooks.h"
#include "simulator/sim_render.h"
#include "simulator/sim_rng.h"

#include <civetweb.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* One request's answer: status, message and headers. */
struct answer {
    int status;
    char err[512];
    const char *param;
    char hdrs[4608]; /* the server's extra headers, plus X-Request-Id */
};

/* The whole body under --max-request-body-size-mb. Returns 0, or the status
 * with a.err set (the caller sends it). */
static int read_body(struct sim_server *s, struct mg_connection *c, struct buf *body,
                     struct answer *a)
{
    long cap = s->cfg->max_request_body_size_mb;
    buf_init(body, (size_t)cap << 20);
    int rc = httpd_read_body(c, body);
    if (rc == 0)
        return 0;
    buf_release(body);
    if (rc == -E2BIG) {
        snprintf(a->err, sizeof(a->err), "Request body is larger than the limit of %ld MB", cap);
        if (httpd_discard_body(c, ((size_t)cap << 20) * 4) < 0)
            mg_disable_connection_keep_alive(c);
        return a->status = 413;
    }
    snprintf(a->err, sizeof(a->err), "Failed to read request body");
    return a->status = 400;
}

/* With --enable-request-id-headers: the client's X-Request-Id or a UUID from
 * the seed and the rank's request counter (as the generation endpoints),
 * echoed in X-Request-Id. Returns 0 or 400 with a.err set. */
static int request_id(struct sim_server *s, struct mg_connection *c, struct answer *a, char *reqid,
                      size_t reqidlen)
{
    char id[136];
    const char *h = mg_get_header(c, "X-Request-Id");
    snprintf(a->hdrs, sizeof(a->hdrs), "%s", s->extra_headers);
    if (!s->cfg->request_id_headers)
        return 0;
    if (h && *h) {
        if (sim_hooks_request_id(h, id, sizeof(id), a->err, sizeof(a->err)))
            return a->status = 400;
    } else {
        struct sim_rng r;
        uint64_t seed = (uint64_t)s->cfg->seed ^ ((uint64_t)s->rank * 0x9e3779b97f4a7c15ULL);
        sim_rng_seed2(&r, seed ^ 0xe4beddULL, atomic_fetch_add(&s->req_counter, 1));
        uint64_t x = sim_rng_u64(&r), y = sim_rng_u64(&r);
        snprintf(id, sizeof(id), "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(x >> 32),
                 (unsigned)((x >> 16) & 0xffff), (unsigned)(x & 0xfff),
                 (unsigned)(0x8000 | ((y >> 48) & 0x3fff)),
                 (unsigned long long)(y & 0xffffffffffffULL));
    }
    snprintf(reqid, reqidlen, "%s", id);
    size_t used = strlen(a->hdrs);
    snprintf(a->hdrs + used, sizeof(a->hdrs) - used, "X-Request-Id: %s\r\n", id);
    return 0;
}

/* A served name or a loaded adapter; *lora tells which. Returns 0 or 404. */
static int check_model(struct sim_server *s, const char *model, bool *lora, struct answer *a)
{
    *lora = !sim_config_serves(s->cfg, model) && sim_lora_has(s->loras, model);
    if (*lora || sim_config_serves(s->cfg, model))
        return 0;
    snprintf(a->err, sizeof(a->err), "The model `%s` does not exist.", model);
    a->param = "model";
    return a->status = 404;
}

static int embeddings(struct sim_server *s, const struct buf *body, struct answer *a,
                      struct buf *out)
{
    struct sim_embed_req r;
    bool lora = false;
    int st = sim_embed_parse(buf_str(body), body->len, &r, a->err, sizeof(a->err), &a->param);
    if (st == 0 && *r.model) /* an empty model is the served one, as upstream */
        st = check_model(s, r.model, &lora, a);
    if (st == 0)
        st = sim_embed_validate(&r, s->cfg->embed_dims, a->err, sizeof(a->err), &a->param);
    if (st == 0) {
        /* a base model as its first served name, an adapter as it is */
        const char *shown = lora ? r.model : sim_config_display_name(s->cfg);
        if (sim_embed_response(out, &r, shown) < 0) {
            snprintf(a->err, sizeof(a->err), "the response is too large");
            st = 500;
        }
    }
    sim_embed_release(&r);
    return a->status = st;
}

static int render(struct sim_server *s, enum sim_api api, const struct buf *body, struct answer *a,
                  struct buf *out)
{
    struct sim_request req;
    bool lora = false;
    int st =
        sim_request_parse(api, buf_str(body), body->len, &req, a->err, sizeof(a->err), &a->param);
    if (st == 0)
        st = check_model(s, req.model, &lora, a);
    if (st == 0 && lora) {
        snprintf(a->err, sizeof(a->err),
                 "The model `%s` is a LoRA adapter and is not supported by the render endpoints.",
                 req.model);
        a->param = "model";
        st = 400;
    }
    if (st == 0 && (api == SIM_API_CHAT ? sim_render_chat(out, &req)
                                        : sim_render_completions(out, &req)) < 0) {
        snprintf(a->err, sizeof(a->err), "the response is too large");
        st = 500;
    }
    sim_request_release(&req);
    return a->status = st;
}

int sim_endpoint_post(struct sim_server *s, struct mg_connection *c, const char *path, char *reqid,
                      size_t reqidlen)
{
    struct answer a;
    struct buf body, out;
    memset(&a, 0, sizeof(a));
    buf_init(&out, BUF_NOCAP);
    if (read_body(s, c, &body, &a) == 0) {
        if (request_id(s, c, &a, reqid, reqidlen) == 0) {
            if (strcmp(path, "/v1/embeddings") == 0)
                embeddings(s, &body, &a, &out);
            else
                render(s,
                       strcmp(path, "/v1/completions/render") == 0 ? SIM_API_COMPLETIONS
                                                                   : SIM_API_CHAT,
                       &body, &a, &out);
        }
        buf_release(&body);
    } else {
        snprintf(a.hdrs, sizeof(a.hdrs), "%s", s->extra_headers);
    }
    if (a.status == 0)
        httpd_send(c, 200, "application/json", a.hdrs, out.data, out.len);
    else
        httpd_send_error(c, a.status, a.err, a.param && *a.param ? a.param : NULL, a.hdrs);
    buf_release(&out);
    return a.status ? a.status : 200;
}
