#include "simulator/sim_req_responses.h"

#include "common/buf.h"
#include "common/json.h"
#include "simulator/sim_req_ext.h"

#include <stdio.h>
#include <string.h>

#define PART_CAP (64u << 20)

static int too_large(char *err, size_t errlen)
{
    snprintf(err, errlen, "field 'input' is too large");
    return -1;
}

static const char *str_of(const cJSON *obj, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* A string field of input item i, or "" when absent; -1 when of another type. */
static int item_str(const cJSON *it, long i, const char *key, const char **out, char *err,
                    size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, key);
    *out = "";
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v)) {
        snprintf(err, errlen, "field 'input[%ld].%s' must be a string", i, key);
        return -1;
    }
    *out = v->valuestring;
    return 0;
}

/* One content part of a message: its text as the tokenizer sees it (t) and as
 * echo mode returns it (e), as upstream's chat conversion and PlainText do. */
static int content_part(const cJSON *part, long i, struct buf *t, struct buf *e, char *err,
                        size_t errlen)
{
    const char *type = str_of(part, "type");
    if (!cJSON_IsObject(part) || (cJSON_GetObjectItemCaseSensitive(part, "type") && !type)) {
        snprintf(err, errlen,
                 "field 'input[%ld].content' parts must be objects with a string "
                 "'type'",
                 i);
        return -1;
    }
    const char *s = NULL;
    int rc = 0;
    if (!type || !*type || !strcmp(type, "input_text") || !strcmp(type, "output_text")) {
        s = str_of(part, "text");
        rc = buf_puts(t, s ? s : "");
        rc = rc ? rc : buf_puts(e, s ? s : "");
    } else if (!strcmp(type, "input_image")) {
        s = str_of(part, "image_url");
        rc = buf_appendf(t, "image: %s", s ? s : "");
        rc = rc ? rc : buf_appendf(e, "image: %s", s ? s : "");
    } else if (!strcmp(type, "input_audio")) {
        s = str_of(part, "format");
        rc = buf_appendf(t, "input_audio: %s", s ? s : "");
        rc = rc ? rc : buf_appendf(e, "audio: %s", s ? s : "");
    } else {
        snprintf(err, errlen, "unsupported input content type \"%.80s\" in input[%ld]", type, i);
        return -1;
    }
    return rc ? too_large(err, errlen) : 0;
}

static int input_message(struct sim_flat *f, const cJSON *it, long i, char *err, size_t errlen)
{
    const char *role;
    if (item_str(it, i, "role", &role, err, errlen) < 0)
        return -1;
    if (!*role) {
        snprintf(err, errlen, "field 'input[%ld].role' is required", i);
        return -1;
    }
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(it, "content");
    struct buf t, e;
    buf_init(&t, PART_CAP);
    buf_init(&e, PART_CAP);
    int rc = 0;
    if (cJSON_IsString(content)) {
        if (buf_puts(&t, content->valuestring) || buf_puts(&e, content->valuestring))
            rc = too_large(err, errlen);
    } else if (cJSON_IsArray(content)) {
        long k = 0;
        const cJSON *part;
        cJSON_ArrayForEach(part, content)
        {
            if (k++ && (buf_putc(&t, '\n') || buf_putc(&e, '\n')))
                rc = too_large(err, errlen);
            if (rc || (rc = content_part(part, i, &t, &e, err, errlen)) < 0)
                break;
        }
    } else if (content && !cJSON_IsNull(content)) {
        snprintf(err, errlen, "field 'input[%ld].content' must be a string or an array", i);
        rc = -1;
    }
    if (rc == 0) {
        sim_flat_add(f, role, NULL, buf_str(&t), t.len);
        sim_flat_echo(f, buf_str(&e), e.len);
    }
    buf_release(&t);
    buf_release(&e);
    return rc;
}

/* A prior call, flattened as upstream's chat conversion: an assistant message
 * whose only content is "[name(arguments)]"; echo mode returns "name(arguments)". */
static int input_call(struct sim_flat *f, const cJSON *it, long i, char *err, size_t errlen)
{
    const char *name, *args;
    if (item_str(it, i, "name", &name, err, errlen) < 0 ||
        item_str(it, i, "arguments", &args, err, errlen) < 0)
        return -1;
    struct buf b;
    buf_init(&b, PART_CAP);
    int rc = buf_appendf(&b, "[%s(%s)]", name, args);
    if (rc == 0) {
        sim_flat_add(f, "assistant", NULL, buf_str(&b), b.len);
        sim_flat_echo(f, buf_str(&b) + 1, b.len - 2);
    }
    buf_release(&b);
    return rc ? too_large(err, errlen) : 0;
}

/* A tool's result: "### tool(call_id): output". output is a string or (newer
 * clients) a list of text parts, joined as message content is. */
static int input_output(struct sim_flat *f, const cJSON *it, long i, char *err, size_t errlen)
{
    const char *id;
    if (item_str(it, i, "call_id", &id, err, errlen) < 0)
        return -1;
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(it, "output");
    struct buf t, e;
    buf_init(&t, PART_CAP);
    buf_init(&e, PART_CAP);
    int rc = 0;
    if (cJSON_IsString(out)) {
        if (buf_puts(&t, out->valuestring))
            rc = too_large(err, errlen);
    } else if (cJSON_IsArray(out)) {
        long k = 0;
        const cJSON *part;
        cJSON_ArrayForEach(part, out)
        {
            if (k++ && buf_putc(&t, '\n'))
                rc = too_large(err, errlen);
            if (rc || (rc = content_part(part, i, &t, &e, err, errlen)) < 0)
                break;
        }
    } else if (out && !cJSON_IsNull(out)) {
        snprintf(err, errlen, "field 'input[%ld].output' must be a string or an array", i);
        rc = -1;
    }
    if (rc == 0)
        sim_flat_add(f, "tool", *id ? id : NULL, buf_str(&t), t.len);
    buf_release(&t);
    buf_release(&e);
    return rc;
}

static int input_item(struct sim_request *req, struct sim_flat *f, const cJSON *it, long i,
                      char *err, size_t errlen)
{
    const char *type;
    if (!cJSON_IsObject(it)) {
        snprintf(err, errlen, "field 'input[%ld]' must be an object", i);
        return -1;
    }
    if (item_str(it, i, "type", &type, err, errlen) < 0)
        return -1;
    if (!*type || !strcmp(type, "message"))
        return input_message(f, it, i, err, errlen);
    if (!strcmp(type, "function_call"))
        return input_call(f, it, i, err, errlen);
    if (!strcmp(type, "function_call_output")) {
        req->tools_off = true;
        return input_output(f, it, i, err, errlen);
    }
    snprintf(err, errlen, "unsupported input item type \"%.80s\" in input[%ld]", type, i);
    return -1;
}

/* input, after instructions as a leading system message; echo mode returns
 * the last input item only. */
static int parse_input(struct sim_request *req, char *err, size_t errlen, const char **param)
{
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(req->root, "input");
    struct sim_flat f;
    *param = "input";
    if (!in || cJSON_IsNull(in)) {
        snprintf(err, errlen, "field 'input' is required");
        return 400;
    }
    if (!cJSON_IsString(in) && !cJSON_IsArray(in)) {
        snprintf(err, errlen, "field 'input' must be a string or an array");
        return 400;
    }
    sim_flat_init(&f);
    if (req->instructions)
        sim_flat_add(&f, "system", NULL, req->instructions, strlen(req->instructions));
    sim_flat_echo(&f, "", 0);
    int rc = 0;
    if (cJSON_IsString(in)) {
        sim_flat_add(&f, "user", NULL, in->valuestring, strlen(in->valuestring));
    } else {
        long i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, in)
        {
            if ((rc = input_item(req, &f, it, i++, err, errlen)) < 0)
                break;
        }
    }
    if (rc < 0) {
        sim_flat_release(&f);
        return 400;
    }
    return sim_flat_finish(&f, req, "input", err, errlen);
}

/* One Responses tool in the chat shape: {"type":"function","name",...} (flat)
 * or {"type":"function","function":{...}} (accepted too, as upstream). */
static cJSON *chat_tool(const cJSON *t, long i, char *err, size_t errlen)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(t, "type");
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
    if (!cJSON_IsObject(t)) {
        snprintf(err, errlen, "field 'tools[%ld]' must be an object", i);
        return NULL;
    }
    if (type && (!cJSON_IsString(type) || strcmp(type->valuestring, "function") != 0)) {
        snprintf(err, errlen, "unsupported tool type \"%.80s\" in tools[%ld]",
                 cJSON_IsString(type) ? type->valuestring : "(not a string)", i);
        return NULL;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "type", "function");
    if (cJSON_IsObject(fn)) {
        cJSON_AddItemToObject(out, "function", cJSON_Duplicate(fn, true));
        return out;
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
    if (!cJSON_IsString(name)) {
        snprintf(err, errlen, "field 'tools[%ld].name' is required and must be a string", i);
        cJSON_Delete(out);
        return NULL;
    }
    cJSON *f = cJSON_AddObjectToObject(out, "function");
    static const char *const keys[] = {"name", "description", "parameters", "strict"};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, keys[k]);
        if (v)
            cJSON_AddItemToObject(f, keys[k], cJSON_Duplicate(v, true));
    }
    return out;
}

/* "none", "auto", "required" (checked by sim_tools), or {"type":"function",
 * "name":N} (also with the chat shape's "function":{"name":N}). */
static int parse_tool_choice(struct sim_request *req, char *err, size_t errlen, const char **param)
{
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(req->root, "tool_choice");
    *param = "tool_choice";
    if (!tc || cJSON_IsNull(tc))
        return 0;
    if (cJSON_IsString(tc)) {
        req->tool_choice = tc;
        return 0;
    }
    if (!cJSON_IsObject(tc)) {
        snprintf(err, errlen, "field 'tool_choice' must be a string or an object");
        return 400;
    }
    const char *type = str_of(tc, "type");
    const char *name = str_of(tc, "name");
    if (!name)
        name = str_of(cJSON_GetObjectItemCaseSensitive(tc, "function"), "name");
    if (!type || strcmp(type, "function") != 0) {
        snprintf(err, errlen,
                 "tool_choice type \"%.80s\" is not supported: use \"none\", "
                 "\"auto\", \"required\" or {\"type\":\"function\",\"name\":NAME}",
                 type ? type : "(missing)");
        return 400;
    }
    if (!name) {
        snprintf(err, errlen, "tool_choice of type \"function\" needs a string 'name'");
        return 400;
    }
    sim_req_ext_named_choice(req, name);
    return 0;
}

int sim_req_responses_parse(struct sim_request *req, char *err, size_t errlen, const char **param)
{
    int rc = sim_req_ext_common(req, err, errlen, param);
    if (rc)
        return rc;
    bool present;
    long long v;
    *param = "instructions";
    if (json_opt_str(req->root, "instructions", &req->instructions, &present, err, errlen) < 0)
        return 400;
    if (!present || !*req->instructions)
        req->instructions = NULL;
    *param = "max_output_tokens";
    if (json_opt_int(req->root, "max_output_tokens", &v, &present, err, errlen) < 0)
        return 400;
    if (present) {
        req->max_tokens = (long)v;
        req->max_given = true;
    }
    rc = sim_req_ext_tools(req, chat_tool, err, errlen, param);
    rc = rc ? rc : parse_tool_choice(req, err, errlen, param);
    rc = rc ? rc : parse_input(req, err, errlen, param);
    if (rc == 0)
        *param = "";
    return rc;
}
