#include "simulator/sim_request.h"

#include "common/buf.h"
#include "common/json.h"
#include "common/xalloc.h"
#include "simulator/sim_req_ext.h"
#include "simulator/sim_tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROMPT_CAP (64u << 20)

void sim_request_release(struct sim_request *req)
{
    if (!req)
        return;
    for (size_t i = 0; i < req->nprompts; i++) {
        free(req->prompts[i].text);
        free(req->prompts[i].echo);
    }
    free(req->prompts);
    cJSON_Delete(req->root);
    memset(req, 0, sizeof(*req));
}

static struct sim_prompt *add_prompt(struct sim_request *req)
{
    req->prompts = xrealloc(req->prompts, (req->nprompts + 1) * sizeof(*req->prompts));
    struct sim_prompt *p = &req->prompts[req->nprompts++];
    memset(p, 0, sizeof(*p));
    return p;
}

/* Text of one content part list: text parts joined by "\n", images as "image: url". */
static int content_text(const cJSON *content, struct buf *out, char *err, size_t errlen)
{
    if (cJSON_IsString(content))
        return buf_puts(out, content->valuestring);
    if (!content || cJSON_IsNull(content))
        return 0;
    if (!cJSON_IsArray(content)) {
        snprintf(err, errlen, "field 'messages.content' must be a string or an array");
        return -1;
    }
    int rc = 0, i = 0;
    const cJSON *part;
    cJSON_ArrayForEach(part, content)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsObject(part) || !cJSON_IsString(type)) {
            snprintf(err, errlen, "field 'messages.content' parts need a string 'type'");
            return -1;
        }
        if (i++ > 0)
            rc = rc ? rc : buf_putc(out, '\n');
        if (strcmp(type->valuestring, "text") == 0 && cJSON_IsString(text)) {
            rc = rc ? rc : buf_puts(out, text->valuestring);
        } else if (strcmp(type->valuestring, "image_url") == 0) {
            const cJSON *iu = cJSON_GetObjectItemCaseSensitive(part, "image_url");
            const cJSON *url = cJSON_GetObjectItemCaseSensitive(iu, "url");
            rc = rc ? rc
                    : buf_appendf(out, "image: %s", cJSON_IsString(url) ? url->valuestring : "");
        }
    }
    return rc;
}

/* Flatten messages as upstream: "### role[(tool_call_id)]: text\n" each. */
static int flatten_messages(const cJSON *msgs, struct sim_prompt *p, char *err, size_t errlen)
{
    struct buf all, last;
    int rc = 0;
    buf_init(&all, PROMPT_CAP);
    buf_init(&last, PROMPT_CAP);
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *tcid = cJSON_GetObjectItemCaseSensitive(m, "tool_call_id");
        if (!cJSON_IsObject(m) || !cJSON_IsString(role)) {
            snprintf(err, errlen, "field 'messages' items must be objects with a string 'role'");
            rc = -1;
            break;
        }
        buf_reset(&last);
        rc = content_text(cJSON_GetObjectItemCaseSensitive(m, "content"), &last, err, errlen);
        if (rc < 0)
            break;
        const cJSON *tc;
        cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(m, "tool_calls"))
        {
            const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
            const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
            rc = rc ? rc
                    : buf_appendf(&last, "[%s(%s)]", cJSON_IsString(name) ? name->valuestring : "",
                                  cJSON_IsString(args) ? args->valuestring : "");
        }
        rc = rc ? rc : buf_appendf(&all, "### %s", role->valuestring);
        if (cJSON_IsString(tcid))
            rc = rc ? rc : buf_appendf(&all, "(%s)", tcid->valuestring);
        rc = rc ? rc : buf_appendf(&all, ": %s\n", buf_str(&last));
        if (rc) {
            snprintf(err, errlen, "messages are too large");
            break;
        }
    }
    if (rc == 0) {
        p->text = buf_take(&all, &p->text_len);
        p->echo = buf_take(&last, &p->echo_len);
        p->ntokens = (long)sim_token_count(p->text, p->text_len);
    }
    buf_release(&all);
    buf_release(&last);
    return rc;
}

static int parse_chat(struct sim_request *req, char *err, size_t errlen, const char **param)
{
    const cJSON *msgs;
    if (json_opt_array(req->root, "messages", &msgs, err, errlen) < 0) {
        *param = "messages";
        return 400;
    }
    if (!msgs || cJSON_GetArraySize(msgs) == 0) {
        snprintf(err, errlen, "field 'messages' is required and must not be empty");
        *param = "messages";
        return 400;
    }
    if (flatten_messages(msgs, add_prompt(req), err, errlen) < 0) {
        *param = "messages";
        return 400;
    }
    if (json_opt_array(req->root, "tools", &req->tools, err, errlen) < 0) {
        *param = "tools";
        return 400;
    }
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(req->root, "tool_choice");
    if (tc && !cJSON_IsNull(tc) && !cJSON_IsString(tc) && !cJSON_IsObject(tc)) {
        snprintf(err, errlen, "field 'tool_choice' must be a string or an object");
        *param = "tool_choice";
        return 400;
    }
    req->tool_choice = cJSON_IsNull(tc) ? NULL : tc;
    return 0;
}

/* A token-id prompt: its echo text is the ids joined by ",", as upstream. */
static int token_prompt(struct sim_request *req, const cJSON *arr, char *err, size_t errlen)
{
    struct buf b;
    buf_init(&b, PROMPT_CAP);
    long n = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, arr)
    {
        /* uint32 ids, as upstream's []uint32 (checked before the cast) */
        if (!cJSON_IsNumber(t) || !(t->valuedouble >= 0 && t->valuedouble <= 4294967295.0) ||
            t->valuedouble != (double)(long)t->valuedouble) {
            snprintf(err, errlen,
                     "field 'prompt' token ids must be non-negative integers up to 4294967295");
            buf_release(&b);
            return -1;
        }
        if (buf_appendf(&b, n ? ",%ld" : "%ld", (long)t->valuedouble) < 0) {
            snprintf(err, errlen, "field 'prompt' is too large");
            buf_release(&b);
            return -1;
        }
        n++;
    }
    struct sim_prompt *p = add_prompt(req);
    p->echo = buf_take(&b, &p->echo_len);
    p->text = xstrndup(p->echo, p->echo_len);
    p->text_len = p->echo_len;
    p->ntokens = n;
    p->token_ids = true;
    return 0;
}

static void string_prompt(struct sim_request *req, const char *s)
{
    struct sim_prompt *p = add_prompt(req);
    p->text_len = p->echo_len = strlen(s);
    p->text = xstrndup(s, p->text_len);
    p->echo = xstrndup(s, p->echo_len);
    p->ntokens = (long)sim_token_count(p->text, p->text_len);
}

static int parse_prompt_item(struct sim_request *req, const cJSON *it, char *err, size_t errlen)
{
    if (cJSON_IsString(it)) {
        if (!it->valuestring[0]) {
            snprintf(err, errlen, "prompt must not be empty");
            return -1;
        }
        string_prompt(req, it->valuestring);
        return 0;
    }
    if (cJSON_IsArray(it)) {
        if (cJSON_GetArraySize(it) == 0) {
            snprintf(err, errlen, "prompt token array must not be empty");
            return -1;
        }
        return token_prompt(req, it, err, errlen);
    }
    snprintf(err, errlen,
             "field 'prompt' must be a string, an array of strings, an array of "
             "token ids or an array of token id arrays");
    return -1;
}

static int parse_completion(struct sim_request *req, char *err, size_t errlen, const char **param)
{
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(req->root, "prompt");
    *param = "prompt";
    if (!prompt || cJSON_IsNull(prompt)) {
        snprintf(err, errlen, "field 'prompt' is required");
        return 400;
    }
    if (cJSON_IsString(prompt))
        return parse_prompt_item(req, prompt, err, errlen) < 0 ? 400 : 0;
    if (!cJSON_IsArray(prompt))
        return parse_prompt_item(req, prompt, err, errlen) < 0 ? 400 : 0;
    if (cJSON_GetArraySize(prompt) == 0) {
        snprintf(err, errlen, "prompt array must not be empty");
        return 400;
    }
    const cJSON *first = cJSON_GetArrayItem(prompt, 0);
    if (cJSON_IsNumber(first)) /* one token-id prompt */
        return token_prompt(req, prompt, err, errlen) < 0 ? 400 : 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, prompt)
    {
        if (parse_prompt_item(req, it, err, errlen) < 0)
            return 400;
    }
    return 0;
}

#define FIELD(call, name)                                                                          \
    do {                                                                                           \
        if ((call) < 0) {                                                                          \
            *param = (name);                                                                       \
            return 400;                                                                            \
        }                                                                                          \
    } while (0)

static int parse_common(struct sim_request *req, char *err, size_t errlen, const char **param)
{
    const cJSON *r = req->root;
    bool present;
    long long v;
    FIELD(json_opt_str(r, "model", &req->model, &present, err, errlen), "model");
    if (!present)
        req->model = "";
    FIELD(json_opt_bool(r, "stream", &req->stream, &present, err, errlen), "stream");
    const cJSON *so, *kv;
    FIELD(json_opt_object(r, "stream_options", &so, err, errlen), "stream_options");
    if (so)
        FIELD(json_opt_bool(so, "include_usage", &req->include_usage, &present, err, errlen),
              "stream_options.include_usage");
    req->max_tokens = -1;
    FIELD(json_opt_int(r, "max_tokens", &v, &present, err, errlen), "max_tokens");
    bool have_max = present;
    if (present)
        req->max_tokens = v;
    FIELD(json_opt_int(r, "max_completion_tokens", &v, &present, err, errlen),
          "max_completion_tokens");
    if (present)
        req->max_tokens = v;
    have_max = have_max || present;
    req->n = 1;
    FIELD(json_opt_int(r, "n", &v, &present, err, errlen), "n");
    if (present)
        req->n = v;
    FIELD(json_opt_bool(r, "ignore_eos", &req->ignore_eos, &present, err, errlen), "ignore_eos");
    if (req->api == SIM_API_CHAT) {
        /* logprobs: bool; top_logprobs: 0..20, needs logprobs, 1 when not given (as upstream) */
        FIELD(json_opt_bool(r, "logprobs", &req->logprobs, &present, err, errlen), "logprobs");
        FIELD(json_opt_int(r, "top_logprobs", &v, &present, err, errlen), "top_logprobs");
        req->top_logprobs = present ? v : 1;
        req->top_given = present;
    } else {
        /* logprobs: an integer 0..20 (or null): that many alternatives, at least the token */
        const cJSON *lp = cJSON_GetObjectItemCaseSensitive(r, "logprobs");
        if (lp && !cJSON_IsNull(lp)) {
            FIELD(json_opt_int(r, "logprobs", &v, &present, err, errlen), "logprobs");
            req->logprobs = true;
            req->top_logprobs = v; /* 0 becomes 1 in sim_request_validate */
            req->top_given = true;
        }
    }
    FIELD(json_opt_object(r, "kv_transfer_params", &kv, err, errlen), "kv_transfer_params");
    if (kv) {
        FIELD(json_opt_bool(kv, "do_remote_decode", &req->do_remote_decode, &present, err, errlen),
              "kv_transfer_params.do_remote_decode");
        FIELD(
            json_opt_bool(kv, "do_remote_prefill", &req->do_remote_prefill, &present, err, errlen),
            "kv_transfer_params.do_remote_prefill");
    }
    const cJSON *cht = cJSON_GetObjectItemCaseSensitive(r, "cache_hit_threshold");
    if (cht && !cJSON_IsNull(cht))
        FIELD(json_opt_double(r, "cache_hit_threshold", &req->cache_hit_threshold,
                              &req->cache_hit_given, err, errlen),
              "cache_hit_threshold");
    req->max_given = have_max;
    return 0;
}

int sim_request_validate(struct sim_request *req, char *err, size_t errlen, const char **param)
{
    if (req->n <= 0 || req->n > 128) {
        snprintf(err, errlen, req->n <= 0 ? "n must be at least 1" : "n must be at most 128");
        *param = "n";
        return 400;
    }
    if (req->max_given && req->max_tokens <= 0) {
        snprintf(err, errlen, "Max completion tokens and max tokens should be positive");
        *param = "max_tokens";
        return 400;
    }
    if (req->do_remote_decode && req->stream) {
        snprintf(err, errlen, "Prefill does not support streaming");
        *param = "stream";
        return 400;
    }
    if (req->ignore_eos && !req->max_given) {
        snprintf(err, errlen,
                 "Ignore_eos is true but max_completion_tokens (or max_tokens) is not set");
        *param = "ignore_eos";
        return 400;
    }
    const char *lp = req->api == SIM_API_CHAT ? "top_logprobs" : "logprobs";
    if (req->top_given && (req->top_logprobs < 0 || req->top_logprobs > 20)) {
        snprintf(err, errlen, "%s must be between 0 and 20", lp);
        *param = lp;
        return 400;
    }
    if (req->api == SIM_API_CHAT && req->top_given && !req->logprobs) {
        snprintf(err, errlen, "top_logprobs requires logprobs to be true");
        *param = "top_logprobs";
        return 400;
    }
    /* Upstream ignores a value outside 0..1 (and falls back to the global one). */
    if (req->cache_hit_given && !(req->cache_hit_threshold >= 0 && req->cache_hit_threshold <= 1)) {
        snprintf(err, errlen, "cache_hit_threshold must be between 0 and 1");
        *param = "cache_hit_threshold";
        return 400;
    }
    if (req->api != SIM_API_CHAT && req->logprobs && req->top_logprobs == 0)
        req->top_logprobs = 1; /* the token itself, at least (as upstream) */
    return 0;
}

int sim_request_parse(enum sim_api api, const char *body, size_t len, struct sim_request *req,
                      char *err, size_t errlen, const char **param)
{
    char jerr[128];
    memset(req, 0, sizeof(*req));
    req->api = api;
    *param = "";
    req->root = json_parse(body, len, jerr, sizeof(jerr));
    if (!req->root) {
        snprintf(err, errlen, "Failed to read and parse request body, %s", jerr);
        return 400;
    }
    if (!cJSON_IsObject(req->root)) {
        snprintf(err, errlen, "Failed to read and parse request body, expected a JSON object");
        return 400;
    }
    if (api != SIM_API_CHAT && api != SIM_API_COMPLETIONS)
        return sim_req_ext_parse(req, err, errlen, param);
    int rc = parse_common(req, err, errlen, param);
    if (rc)
        return rc;
    return api == SIM_API_CHAT ? parse_chat(req, err, errlen, param)
                               : parse_completion(req, err, errlen, param);
}

int sim_request_check_context(const struct sim_request *req, long max_model_len, char *err,
                              size_t errlen)
{
    long completion = req->max_tokens > 0 ? req->max_tokens : 1;
    for (size_t i = 0; i < req->nprompts; i++) {
        long p = req->prompts[i].ntokens;
        if (p + completion > max_model_len) {
            snprintf(err, errlen,
                     "This model's maximum context length is %ld tokens. However, you requested "
                     "%ld tokens (%ld in the messages, %ld in the completion). Please reduce the "
                     "length of the messages or completion",
                     max_model_len, p + completion, p, completion);
            return 400;
        }
    }
    return 0;
}
