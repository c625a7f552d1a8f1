#include "simulator/sim_req_generate.h"

#include "common/buf.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "simulator/sim_req_ext.h"

#include <stdio.h>
#include <string.h>

#define IDS_CAP (64u << 20)

static bool token_id(const cJSON *t)
{
    /* a uint32, as upstream's []uint32; compare before any cast */
    return cJSON_IsNumber(t) && t->valuedouble >= 0 && t->valuedouble <= 4294967295.0 &&
           t->valuedouble == (double)(long long)t->valuedouble;
}

/* token_ids: the prompt, its text the ids joined by ",". Absent is reported
 * after the model check (sim_req_ext_check), as upstream. */
static int parse_ids(struct sim_request *req, char *err, size_t errlen, const char **param)
{
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(req->root, "token_ids"), *t;
    *param = "token_ids";
    if (!ids || cJSON_IsNull(ids)) {
        req->prompts = xcalloc(1, sizeof(*req->prompts));
        req->nprompts = 1;
        req->prompts[0].text = xstrndup("", 0);
        req->prompts[0].echo = xstrndup("", 0);
        return 0;
    }
    if (!cJSON_IsArray(ids)) {
        snprintf(err, errlen, "field 'token_ids' must be an array of token ids");
        return 400;
    }
    if (cJSON_GetArraySize(ids) == 0) {
        snprintf(err, errlen, "field 'token_ids' must not be empty");
        return 400;
    }
    struct sim_flat f;
    long n = 0;
    sim_flat_init(&f);
    cJSON_ArrayForEach(t, ids)
    {
        if (!token_id(t)) {
            snprintf(err, errlen,
                     "field 'token_ids' must hold integers from 0 to 4294967295 "
                     "(item %ld is not one)",
                     n);
            sim_flat_release(&f);
            return 400;
        }
        if (f.rc == 0)
            f.rc = buf_appendf(&f.all, n ? ",%lld" : "%lld", (long long)t->valuedouble);
        n++;
    }
    if (f.rc == 0)
        f.rc = buf_append(&f.echo, f.all.data, f.all.len);
    int rc = sim_flat_finish(&f, req, "token_ids", err, errlen);
    if (rc == 0) {
        req->prompts[0].ntokens = n;      /* the ids, not the tokens of their text */
        req->prompts[0].token_ids = true; /* hashed as ids (KV cache, dataset) */
    }
    return rc;
}

static int kv_params(struct sim_request *req, const cJSON *kv, char *err, size_t errlen,
                     const char **param)
{
    bool present;
    if (json_opt_bool(kv, "do_remote_decode", &req->do_remote_decode, &present, err, errlen) < 0) {
        *param = "sampling_params.extra_args.kv_transfer_params.do_remote_decode";
        return 400;
    }
    if (json_opt_bool(kv, "do_remote_prefill", &req->do_remote_prefill, &present, err, errlen) <
        0) {
        *param = "sampling_params.extra_args.kv_transfer_params.do_remote_prefill";
        return 400;
    }
    return 0;
}

/* sampling_params: max_tokens, and extra_args.kv_transfer_params when the top
 * level has no kv_transfer_params. Everything else (temperature, ...) is
 * accepted and not used. */
static int parse_sampling(struct sim_request *req, char *err, size_t errlen, const char **param)
{
    const cJSON *sp, *extra, *kv;
    bool present;
    long long v;
    *param = "sampling_params";
    if (json_opt_object(req->root, "sampling_params", &sp, err, errlen) < 0)
        return 400;
    if (!sp)
        return 0;
    *param = "sampling_params.max_tokens";
    if (json_opt_int(sp, "max_tokens", &v, &present, err, errlen) < 0) {
        snprintf(err, errlen, "field 'sampling_params.max_tokens' must be an integer");
        return 400;
    }
    if (present) {
        req->max_tokens = (long)v;
        req->max_given = true;
    }
    *param = "sampling_params.extra_args";
    if (json_opt_object(sp, "extra_args", &extra, err, errlen) < 0) {
        snprintf(err, errlen, "field 'sampling_params.extra_args' must be an object");
        return 400;
    }
    *param = "sampling_params.extra_args.kv_transfer_params";
    if (extra && json_opt_object(extra, "kv_transfer_params", &kv, err, errlen) < 0) {
        snprintf(err, errlen,
                 "field 'sampling_params.extra_args.kv_transfer_params' must be an object");
        return 400;
    }
    const cJSON *top = cJSON_GetObjectItemCaseSensitive(req->root, "kv_transfer_params");
    if (extra && kv && (!top || cJSON_IsNull(top)))
        return kv_params(req, kv, err, errlen, param);
    return 0;
}

int sim_req_generate_parse(struct sim_request *req, char *err, size_t errlen, const char **param)
{
    int rc = sim_req_ext_common(req, err, errlen, param);
    if (rc)
        return rc;
    const cJSON *so, *features;
    bool present;
    *param = "stream_options";
    if (json_opt_object(req->root, "stream_options", &so, err, errlen) < 0)
        return 400;
    *param = "stream_options.include_usage";
    if (so && json_opt_bool(so, "include_usage", &req->include_usage, &present, err, errlen) < 0)
        return 400;
    *param = "features";
    if (json_opt_object(req->root, "features", &features, err, errlen) < 0)
        return 400;
    rc = parse_sampling(req, err, errlen, param);
    rc = rc ? rc : parse_ids(req, err, errlen, param);
    if (rc == 0)
        *param = "";
    return rc;
}

void sim_req_generate_echo(const struct sim_request *req, long max_tokens, struct sim_gen *out)
{
    const struct sim_prompt *p = &req->prompts[0];
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(req->root, "token_ids"), *t;
    out->text = xstrndup(p->echo, p->echo_len);
    out->text_len = p->echo_len;
    size_t off = 0;
    cJSON_ArrayForEach(t, ids)
    {
        size_t len = strcspn(out->text + off, ",");
        sim_toklist_push(&out->toks, out->text, off, len);
        out->toks.v[out->toks.n - 1].id = (uint32_t)t->valuedouble;
        off += len + 1;
    }
    out->finish =
        max_tokens >= 0 && (long)out->toks.n >= max_tokens ? SIM_FINISH_LENGTH : SIM_FINISH_STOP;
}
