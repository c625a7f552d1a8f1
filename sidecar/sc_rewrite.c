#define _GNU_SOURCE /* memmem */
#include "sidecar/sc_rewrite.h"

#include "common/json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>

void sc_rewriter_init(struct sc_rewriter *r, long cached, bool sse, size_t cap)
{
    r->cached = cached;
    r->sse = sse;
    buf_init(&r->pend, cap);
}

void sc_rewriter_release(struct sc_rewriter *r)
{
    if (r)
        buf_release(&r->pend);
}

int sc_rewrite_json(const char *p, size_t n, long cached, struct buf *out)
{
    cJSON *root = json_parse(p, n, NULL, 0);
    cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (!cJSON_IsObject(usage)) {
        cJSON_Delete(root);
        return buf_append(out, p, n);
    }
    cJSON *det = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details");
    if (!cJSON_IsObject(det)) {
        det = cJSON_CreateObject();
        if (cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details"))
            cJSON_ReplaceItemInObjectCaseSensitive(usage, "prompt_tokens_details", det);
        else
            cJSON_AddItemToObject(usage, "prompt_tokens_details", det);
    }
    cJSON *num = cJSON_CreateNumber((double)cached);
    if (cJSON_GetObjectItemCaseSensitive(det, "cached_tokens"))
        cJSON_ReplaceItemInObjectCaseSensitive(det, "cached_tokens", num);
    else
        cJSON_AddItemToObject(det, "cached_tokens", num);
    char *text = cJSON_PrintUnformatted(root);
    int rc = text ? buf_puts(out, text) : buf_append(out, p, n);
    cJSON_free(text);
    cJSON_Delete(root);
    return rc;
}

/* One complete SSE line (its newline included). Only data lines with a usage
 * object are parsed; token lines ("usage":null) pass straight through. */
static int emit_line(struct sc_rewriter *r, const char *p, size_t n, struct buf *out)
{
    static const char data[] = "data: ";
    size_t body = n;
    while (body > 0 && (p[body - 1] == '\n' || p[body - 1] == '\r'))
        body--;
    if (body <= 6 || memcmp(p, data, 6) != 0 || !memmem(p, body, "\"usage\":{", 9))
        return buf_append(out, p, n);
    int rc = buf_append(out, p, 6);
    rc = rc ? rc : sc_rewrite_json(p + 6, body - 6, r->cached, out);
    return rc ? rc : buf_append(out, p + body, n - body);
}

int sc_rewriter_feed(struct sc_rewriter *r, const char *p, size_t n, struct buf *out)
{
    if (!r->sse)
        return buf_append(&r->pend, p, n);
    int rc = 0;
    while (n > 0 && rc == 0) {
        const char *nl = memchr(p, '\n', n);
        if (!nl)
            return buf_append(&r->pend, p, n);
        size_t len = (size_t)(nl - p) + 1;
        if (r->pend.len) {
            rc = buf_append(&r->pend, p, len);
            rc = rc ? rc : emit_line(r, r->pend.data, r->pend.len, out);
            buf_reset(&r->pend);
        } else {
            rc = emit_line(r, p, len, out);
        }
        p += len;
        n -= len;
    }
    return rc;
}

int sc_rewriter_finish(struct sc_rewriter *r, struct buf *out)
{
    int rc = 0;
    if (r->pend.len)
        rc = r->sse ? emit_line(r, r->pend.data, r->pend.len, out)
                    : sc_rewrite_json(r->pend.data, r->pend.len, r->cached, out);
    buf_reset(&r->pend);
    return rc;
}
