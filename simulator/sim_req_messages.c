#include "simulator/sim_req_messages.h"

#include "common/buf.h"
#include "common/json.h"
#include "simulator/sim_req_ext.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PART_CAP (64u << 20)

static int too_large(char *err, size_t errlen)
{
    snprintf(err, errlen, "field 'messages' is too large");
    return -1;
}

static const char *str_of(const cJSON *obj, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* Text blocks of a list joined by "\n" (other blocks are left out), as
 * upstream's PlainText; a string as it is. */
static int plain_text(const cJSON *content, struct buf *out)
{
    if (cJSON_IsString(content))
        return buf_puts(out, content->valuestring);
    int rc = 0, n = 0;
    const cJSON *b, *list = cJSON_IsArray(content) ? content : NULL;
    cJSON_ArrayForEach(b, list)
    {
        const char *type = str_of(b, "type"), *text = str_of(b, "text");
        if (!type || strcmp(type, "text") != 0)
            continue;
        rc = rc ? rc : n++ ? buf_putc(out, '\n') : 0;
        rc = rc ? rc : buf_puts(out, text ? text : "");
    }
    return rc;
}

/* One image block as the chat conversion shows it: "image: URL", a base64
 * source as a data URL. */
static int image_block(const cJSON *b, long i, struct buf *t, char *err, size_t errlen)
{
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(b, "source");
    if (!cJSON_IsObject(src)) {
        snprintf(err, errlen,
                 "image content block is missing required 'source' field "
                 "(messages[%ld])",
                 i);
        return -1;
    }
    const char *type = str_of(src, "type");
    const char *media = str_of(src, "media_type"), *data = str_of(src, "data");
    const char *url = str_of(src, "url");
    int rc = type && !strcmp(type, "base64")
                 ? buf_appendf(t, "image: data:%s;base64,%s", media ? media : "", data ? data : "")
                 : buf_appendf(t, "image: %s", url ? url : "");
    return rc ? too_large(err, errlen) : 0;
}

/* "[name(input)]", the input object as compact JSON ("{}" when absent). */
static int tool_use_block(const cJSON *b, struct buf *calls, char *err, size_t errlen)
{
    const char *name = str_of(b, "name");
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(b, "input");
    char *args = cJSON_IsObject(input) ? cJSON_PrintUnformatted(input) : NULL;
    int rc = buf_appendf(calls, "[%s(%s)]", name ? name : "", args ? args : "{}");
    cJSON_free(args);
    return rc ? too_large(err, errlen) : 0;
}

/* A message's blocks: text and images into t ("\n" between them), tool calls
 * into calls; tool results are flattened after the message by the caller. */
static int blocks(const cJSON *content, long i, struct buf *t, struct buf *calls, char *err,
                  size_t errlen)
{
    int n = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, content)
    {
        const char *type = str_of(b, "type");
        if (!cJSON_IsObject(b) || !type) {
            snprintf(err, errlen,
                     "field 'messages[%ld].content' blocks must be objects with a "
                     "string 'type'",
                     i);
            return -1;
        }
        bool text = !strcmp(type, "text"), image = !strcmp(type, "image");
        if ((text || image) && n++ && buf_putc(t, '\n'))
            return too_large(err, errlen);
        if (text && buf_puts(t, str_of(b, "text") ? str_of(b, "text") : ""))
            return too_large(err, errlen);
        if ((image && image_block(b, i, t, err, errlen) < 0) ||
            (!strcmp(type, "tool_use") && tool_use_block(b, calls, err, errlen) < 0))
            return -1;
        /* tool_result: after the message; anything else (thinking, document) is
         * skipped, as upstream does for forward compatibility. */
    }
    return 0;
}

/* Each tool_result block of a message as its own "### tool(ID): text". */
static int tool_results(struct sim_flat *f, const cJSON *content, char *err, size_t errlen)
{
    const cJSON *b;
    cJSON_ArrayForEach(b, content)
    {
        const char *type = str_of(b, "type"), *id = str_of(b, "tool_use_id");
        if (!type || strcmp(type, "tool_result") != 0)
            continue;
        struct buf t;
        buf_init(&t, PART_CAP);
        int rc = plain_text(cJSON_GetObjectItemCaseSensitive(b, "content"), &t);
        if (rc == 0)
            sim_flat_add(f, "tool", id && *id ? id : NULL, buf_str(&t), t.len);
        buf_release(&t);
        if (rc)
            return too_large(err, errlen);
    }
    return 0;
}

static int message(struct sim_flat *f, const cJSON *m, long i, char *err, size_t errlen)
{
    const char *role = str_of(m, "role");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
    if (!cJSON_IsObject(m) || !role) {
        snprintf(err, errlen, "field 'messages[%ld]' must be an object with a string 'role'", i);
        return -1;
    }
    if (cJSON_IsString(content)) {
        /* Upstream drops a message whose content is "" (it has no blocks either). */
        if (*content->valuestring)
            sim_flat_add(f, role, NULL, content->valuestring, strlen(content->valuestring));
        return 0;
    }
    if (!cJSON_IsArray(content)) {
        snprintf(err, errlen, "field 'messages[%ld].content' must be a string or an array", i);
        return -1;
    }
    struct buf t, calls;
    buf_init(&t, PART_CAP);
    buf_init(&calls, PART_CAP);
    int rc = blocks(content, i, &t, &calls, err, errlen);
    if (rc == 0 && (t.len || calls.len)) {
        if (buf_append(&t, calls.data, calls.len))
            rc = too_large(err, errlen);
        else
            sim_flat_add(f, role, NULL, buf_str(&t), t.len);
    }
    buf_release(&t);
    buf_release(&calls);
    return rc ? rc : tool_results(f, content, err, errlen);
}

/* system (a string, or text blocks), then the messages. */
static int parse_prompt(struct sim_request *req, char *err, size_t errlen, const char **param)
{
    const cJSON *sys = cJSON_GetObjectItemCaseSensitive(req->root, "system"), *msgs;
    struct sim_flat f;
    *param = "system";
    if (sys && !cJSON_IsNull(sys) && !cJSON_IsString(sys) && !cJSON_IsArray(sys)) {
        snprintf(err, errlen, "field 'system' must be a string or an array of text blocks");
        return 400;
    }
    *param = "messages";
    if (json_opt_array(req->root, "messages", &msgs, err, errlen) < 0)
        return 400;
    sim_flat_init(&f);
    struct buf s;
    buf_init(&s, PART_CAP);
    int rc = plain_text(sys, &s) ? too_large(err, errlen) : 0;
    if (rc == 0 && s.len)
        sim_flat_add(&f, "system", NULL, buf_str(&s), s.len);
    buf_release(&s);
    long i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        if (rc == 0)
            rc = message(&f, m, i++, err, errlen);
    }
    if (rc < 0) {
        sim_flat_release(&f);
        return 400;
    }
    return sim_flat_finish(&f, req, "messages", err, errlen);
}

/* An Anthropic tool in the chat shape: input_schema becomes the parameters. */
static cJSON *chat_tool(const cJSON *t, long i, char *err, size_t errlen)
{
    const char *type = str_of(t, "type"), *name = str_of(t, "name");
    if (!cJSON_IsObject(t) || !name ||
        (cJSON_GetObjectItemCaseSensitive(t, "type") && (!type || strcmp(type, "custom")))) {
        if (cJSON_IsObject(t) && name)
            snprintf(err, errlen, "unsupported tool type \"%.80s\" in tools[%ld]",
                     type ? type : "(not a string)", i);
        else
            snprintf(err, errlen, "field 'tools[%ld]' must be an object with a string 'name'", i);
        return NULL;
    }
    cJSON *c = cJSON_CreateObject(), *fn;
    cJSON_AddStringToObject(c, "type", "function");
    fn = cJSON_AddObjectToObject(c, "function");
    cJSON_AddStringToObject(fn, "name", name);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(t, "description");
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(t, "input_schema");
    if (d)
        cJSON_AddItemToObject(fn, "description", cJSON_Duplicate(d, true));
    if (schema)
        cJSON_AddItemToObject(fn, "parameters", cJSON_Duplicate(schema, true));
    return c;
}

/* {"type":"auto"|"any"|"none"} or {"type":"tool","name":N}, as chat's
 * "auto", "required", "none" or the named function. */
static int parse_tool_choice(struct sim_request *req, char *err, size_t errlen, const char **param)
{
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(req->root, "tool_choice");
    *param = "tool_choice";
    if (!tc || cJSON_IsNull(tc))
        return 0;
    const char *type = str_of(tc, "type"), *name = str_of(tc, "name");
    cJSON *out;
    if (!cJSON_IsObject(tc) || !type) {
        snprintf(err, errlen, "field 'tool_choice' must be an object with a string 'type'");
        return 400;
    } else if (!strcmp(type, "auto") || !strcmp(type, "none")) {
        out = cJSON_CreateString(type);
    } else if (!strcmp(type, "any")) {
        out = cJSON_CreateString("required");
    } else if (!strcmp(type, "tool")) {
        if (!name || !*name) {
            snprintf(err, errlen, "tool_choice of type 'tool' requires a non-empty 'name'");
            return 400;
        }
        sim_req_ext_named_choice(req, name);
        return 0;
    } else {
        snprintf(err, errlen, "tool_choice type \"%.80s\" is not one of auto, any, tool, none",
                 type);
        return 400;
    }
    sim_req_ext_set(req->root, "tool_choice", out);
    req->tool_choice = out;
    return 0;
}

int sim_req_messages_parse(struct sim_request *req, char *err, size_t errlen, const char **param)
{
    int rc = sim_req_ext_common(req, err, errlen, param);
    if (rc)
        return rc;
    bool present;
    long long v;
    *param = "max_tokens";
    if (json_opt_int(req->root, "max_tokens", &v, &present, err, errlen) < 0)
        return 400;
    if (present) {
        req->max_tokens = (long)v;
        req->max_given = true;
    }
    rc = sim_req_ext_tools(req, chat_tool, err, errlen, param);
    rc = rc ? rc : parse_tool_choice(req, err, errlen, param);
    rc = rc ? rc : parse_prompt(req, err, errlen, param);
    if (rc == 0)
        *param = "";
    return rc;
}
