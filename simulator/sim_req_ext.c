#include "simulator/sim_req_ext.h"

#include "common/json.h"
#include "common/xalloc.h"
#include "simulator/sim_req_generate.h"
#include "simulator/sim_req_messages.h"
#include "simulator/sim_req_responses.h"
#include "simulator/sim_tokenizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Flattened prompts share the body's cap in practice; this bounds a prompt
 * that expands (many tiny content parts each costing a separator). */
#define FLAT_CAP (64u << 20)

int sim_req_ext_parse(struct sim_request *req, char *err, size_t errlen, const char **param)
{
    switch (req->api) {
    case SIM_API_RESPONSES:
        return sim_req_responses_parse(req, err, errlen, param);
    case SIM_API_MESSAGES:
        return sim_req_messages_parse(req, err, errlen, param);
    case SIM_API_GENERATE:
        return sim_req_generate_parse(req, err, errlen, param);
    default:
        snprintf(err, errlen, "this endpoint does not take this request");
        return 400;
    }
}

#define FIELD(call, name)                                                                          \
    do {                                                                                           \
        if ((call) < 0) {                                                                          \
            *param = (name);                                                                       \
            return 400;                                                                            \
        }                                                                                          \
    } while (0)

int sim_req_ext_common(struct sim_request *req, char *err, size_t errlen, const char **param)
{
    const cJSON *r = req->root, *kv;
    bool present;
    req->n = 1;
    req->max_tokens = -1;
    FIELD(json_opt_str(r, "model", &req->model, &present, err, errlen), "model");
    if (!present)
        req->model = "";
    FIELD(json_opt_bool(r, "stream", &req->stream, &present, err, errlen), "stream");
    FIELD(json_opt_bool(r, "ignore_eos", &req->ignore_eos, &present, err, errlen), "ignore_eos");
    FIELD(json_opt_object(r, "kv_transfer_params", &kv, err, errlen), "kv_transfer_params");
    if (kv) {
        FIELD(json_opt_bool(kv, "do_remote_decode", &req->do_remote_decode, &present, err, errlen),
              "kv_transfer_params.do_remote_decode");
        FIELD(
            json_opt_bool(kv, "do_remote_prefill", &req->do_remote_prefill, &present, err, errlen),
            "kv_transfer_params.do_remote_prefill");
    }
    return 0;
}

/* The fields upstream requires in its Validate step (after the model check). */
static int required(const struct sim_request *req, char *err, size_t errlen, const char **param)
{
    const cJSON *r = req->root;
    if (req->api == SIM_API_MESSAGES) {
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "messages")) == 0) {
            snprintf(err, errlen, "messages must not be empty");
            *param = "messages";
            return 400;
        }
        if (!req->max_given) {
            snprintf(err, errlen, "max_tokens is required");
            *param = "max_tokens";
            return 400;
        }
    } else if (req->api == SIM_API_GENERATE) {
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(r, "token_ids");
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(r, "sampling_params");
        if (!ids || cJSON_IsNull(ids)) {
            snprintf(err, errlen, "Missing input token_ids");
            *param = "token_ids";
            return 400;
        }
        if (!sp || cJSON_IsNull(sp)) {
            snprintf(err, errlen, "Missing sampling_params field");
            *param = "sampling_params";
            return 400;
        }
    }
    return 0;
}

/* sim_tools_check speaks of the chat shape ("tools[0].function.parameters");
 * say where the client wrote it: Responses' flat tools have no "function"
 * level, Anthropic's call the schema "input_schema". */
static void tools_path(enum sim_api api, char *err, size_t errlen)
{
    char *p = strstr(err, "].function");
    if (!p || api == SIM_API_CHAT)
        return;
    char *rest = p + strlen("].function");
    char tail[512];
    const char *ren = "";
    if (api == SIM_API_MESSAGES && strncmp(rest, ".parameters", 11) == 0) {
        ren = ".input_schema";
        rest += 11;
    }
    snprintf(tail, sizeof(tail), "]%s%s", ren, rest);
    snprintf(p, errlen - (size_t)(p - err), "%s", tail);
}

static int check_tools(struct sim_request *req, bool skip_schema, struct sim_tools *tools,
                       char *err, size_t errlen, const char **param)
{
    int rc = sim_tools_check(req->tools, req->tool_choice, skip_schema, tools, err, errlen, param);
    if (rc) {
        tools_path(req->api, err, errlen);
        return rc;
    }
    if (req->api == SIM_API_RESPONSES) {
        /* As upstream: the first tool turn always calls (auto becomes required);
         * once a tool's output is in the input, the answer is text. */
        if (req->tools_off)
            tools->choice = SIM_TOOL_NONE;
        else if (tools->choice == SIM_TOOL_AUTO)
            tools->choice = SIM_TOOL_REQUIRED;
    }
    return 0;
}

/* The field that carries the token cap in each API, for param. */
static const char *max_param(enum sim_api api)
{
    switch (api) {
    case SIM_API_RESPONSES:
        return "max_output_tokens";
    case SIM_API_GENERATE:
        return "sampling_params.max_tokens";
    default:
        return "max_tokens";
    }
}

int sim_req_ext_check(struct sim_request *req, bool skip_schema, struct sim_tools *tools, char *err,
                      size_t errlen, const char **param)
{
    memset(tools, 0, sizeof(*tools));
    *param = NULL;
    int rc = required(req, err, errlen, param);
    if (rc == 0 && req->api != SIM_API_COMPLETIONS && req->api != SIM_API_GENERATE)
        rc = check_tools(req, skip_schema, tools, err, errlen, param);
    if (rc == 0) {
        rc = sim_request_validate(req, err, errlen, param);
        if (rc && *param && strcmp(*param, "max_tokens") == 0)
            *param = max_param(req->api);
    }
    return rc;
}

void sim_req_ext_calls(const struct sim_request *req, struct sim_tool_calls *calls)
{
    const char *prefix = req->api == SIM_API_RESPONSES  ? "fc_"
                         : req->api == SIM_API_MESSAGES ? "toolu_"
                                                        : NULL;
    if (!prefix)
        return;
    /* Upstream's Responses path keeps the first of the generated calls. */
    while (req->api == SIM_API_RESPONSES && calls->n > 1) {
        struct sim_tool_call *c = &calls->v[--calls->n];
        free(c->args);
        sim_toklist_release(&c->toks);
    }
    for (size_t i = 0; i < calls->n; i++) {
        /* the id's last 10 digits after the API's prefix (at most 6 + 10 bytes) */
        char *id = calls->v[i].id, digits[11];
        size_t n = strlen(id), d = n < 10 ? n : 10, p = strlen(prefix);
        memcpy(digits, id + n - d, d + 1);
        memcpy(id, prefix, p);
        memcpy(id + p, digits, d + 1);
    }
}

void sim_flat_init(struct sim_flat *f)
{
    buf_init(&f->all, FLAT_CAP);
    buf_init(&f->echo, FLAT_CAP);
    f->rc = 0;
}

void sim_flat_add(struct sim_flat *f, const char *role, const char *tcid, const char *text,
                  size_t len)
{
    int rc = f->rc ? f->rc : buf_puts(&f->all, "### ");
    rc = rc ? rc : buf_puts(&f->all, role);
    if (tcid) {
        rc = rc ? rc : buf_putc(&f->all, '(');
        rc = rc ? rc : buf_puts(&f->all, tcid);
        rc = rc ? rc : buf_putc(&f->all, ')');
    }
    rc = rc ? rc : buf_puts(&f->all, ": ");
    rc = rc ? rc : buf_append(&f->all, text, len);
    rc = rc ? rc : buf_putc(&f->all, '\n');
    f->rc = rc;
    sim_flat_echo(f, text, len);
}

void sim_flat_echo(struct sim_flat *f, const char *text, size_t len)
{
    buf_reset(&f->echo);
    if (f->rc == 0)
        f->rc = buf_append(&f->echo, text, len);
}

int sim_flat_finish(struct sim_flat *f, struct sim_request *req, const char *what, char *err,
                    size_t errlen)
{
    int rc = f->rc;
    if (rc == 0) {
        req->prompts = xcalloc(1, sizeof(*req->prompts));
        req->nprompts = 1;
        struct sim_prompt *p = req->prompts;
        p->text = buf_take(&f->all, &p->text_len);
        p->echo = buf_take(&f->echo, &p->echo_len);
        p->ntokens = (long)sim_token_count(p->text, p->text_len);
    } else {
        snprintf(err, errlen, "field '%s' is too large", what);
    }
    sim_flat_release(f);
    return rc ? 400 : 0;
}

void sim_flat_release(struct sim_flat *f)
{
    buf_release(&f->all);
    buf_release(&f->echo);
}

void sim_req_ext_set(cJSON *obj, const char *key, cJSON *item)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item);
    else
        cJSON_AddItemToObject(obj, key, item);
}

int sim_req_ext_tools(struct sim_request *req, sim_tool_convert_fn convert, char *err,
                      size_t errlen, const char **param)
{
    const cJSON *tools, *t;
    *param = "tools";
    if (json_opt_array(req->root, "tools", &tools, err, errlen) < 0)
        return 400;
    if (!tools)
        return 0;
    cJSON *out = cJSON_CreateArray();
    long i = 0;
    cJSON_ArrayForEach(t, tools)
    {
        cJSON *c = convert(t, i++, err, errlen);
        if (!c) {
            cJSON_Delete(out);
            return 400;
        }
        cJSON_AddItemToArray(out, c);
    }
    sim_req_ext_set(req->root, "tools", out);
    req->tools = out;
    return 0;
}

void sim_req_ext_named_choice(struct sim_request *req, const char *name)
{
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "type", "function");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(out, "function"), "name", name);
    sim_req_ext_set(req->root, "tool_choice", out);
    req->tool_choice = out;
}
