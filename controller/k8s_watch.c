#include "controller/k8s_watch.h"

#include "common/json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void k8s_watch_dec_init(struct k8s_watch_dec *d, size_t max_event)
{
    buf_init(&d->line, max_event);
    d->rv[0] = '\0';
    d->error[0] = '\0';
}

void k8s_watch_dec_release(struct k8s_watch_dec *d)
{
    buf_release(&d->line);
}

static int parse_type(const char *t, enum k8s_event *out)
{
    static const char *const names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(t, names[i]) == 0) {
            *out = (enum k8s_event)i;
            return 0;
        }
    }
    return -EPROTO;
}

/* One complete line (without its newline). */
static int event(struct k8s_watch_dec *d, const char *p, size_t n, k8s_event_fn fn, void *arg)
{
    while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
        n--;
    if (n == 0)
        return 0;
    cJSON *ev = json_parse(p, n, NULL, 0);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(ev, "type");
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(ev, "object");
    enum k8s_event t;
    int rc = 0;
    if (!cJSON_IsString(type) || !cJSON_IsObject(obj) || parse_type(type->valuestring, &t) < 0) {
        rc = -EPROTO;
    } else if (t == K8S_ERROR) {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(obj, "message");
        snprintf(d->error, sizeof(d->error), "%s",
                 cJSON_IsString(msg) ? msg->valuestring : "watch error");
        rc = fn ? fn(arg, t, obj) : 0;
        if (rc >= 0)
            rc = cJSON_IsNumber(code) && (code->valueint == 410) ? K8S_WATCH_EXPIRED
                                                                 : K8S_WATCH_FAILED;
    } else {
        const cJSON *rv = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(obj, "metadata"), "resourceVersion");
        if (cJSON_IsString(rv) && strlen(rv->valuestring) < sizeof(d->rv))
            snprintf(d->rv, sizeof(d->rv), "%s", rv->valuestring);
        if (t != K8S_BOOKMARK && fn)
            rc = fn(arg, t, obj);
    }
    cJSON_Delete(ev);
    return rc;
}

int k8s_watch_dec_feed(struct k8s_watch_dec *d, const char *p, size_t n, k8s_event_fn fn, void *arg)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        int rc;
        if (d->line.len == 0 && nl) { /* a whole line in the input: no copy */
            rc = event(d, p, take, fn, arg);
        } else {
            if (buf_append(&d->line, p, take) < 0)
                return -E2BIG;
            if (!nl)
                return 0;
            rc = event(d, d->line.data, d->line.len, fn, arg);
            buf_reset(&d->line);
        }
        if (rc != 0)
            return rc;
        p += take + 1;
        n -= take + 1;
    }
    return 0;
}
