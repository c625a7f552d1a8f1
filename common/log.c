#include "common/log.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX   8192
#define LOG_FIELDS_MAX 32

static const char *g_component = "pdsim";
static atomic_int g_level = LOG_LEVEL_INFO;
static atomic_int g_fd = 2;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_component(const char *component)
{
    g_component = component;
}

void log_set_level(enum log_level level)
{
    atomic_store(&g_level, (int)level);
}

void log_set_fd(int fd)
{
    atomic_store(&g_fd, fd);
}

enum log_level log_level_from_v(int v)
{
    if (v <= 0)
        return LOG_LEVEL_ERROR;
    if (v == 1)
        return LOG_LEVEL_WARN;
    if (v <= 3)
        return LOG_LEVEL_INFO;
    return LOG_LEVEL_DEBUG;
}

int log_level_parse(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = LOG_LEVEL_WARN;
        return 0;
    }
    return -EINVAL;
}

bool log_enabled(enum log_level level)
{
    return (int)level <= atomic_load(&g_level);
}

/* A bounded writer: a put that does not fit writes nothing and sets over. */
struct out {
    char *p;
    int len;
    int cap;
    bool over;
};

static void put(struct out *o, const char *s, int n)
{
    if (n > o->cap - o->len) {
        o->over = true;
        return;
    }
    memcpy(o->p + o->len, s, (size_t)n);
    o->len += n;
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, (int)strlen(s));
}

/* Escape one byte into e; returns its length. */
static int escape_byte(unsigned char c, char e[7])
{
    static const char hex[] = "0123456789abcdef";
    const char *simple = NULL;
    switch (c) {
    case '"':
        simple = "\\\"";
        break;
    case '\\':
        simple = "\\\\";
        break;
    case '\n':
        simple = "\\n";
        break;
    case '\r':
        simple = "\\r";
        break;
    case '\t':
        simple = "\\t";
        break;
    default:
        break;
    }
    if (simple) {
        memcpy(e, simple, 2);
        return 2;
    }
    if (c < 0x20) {
        memcpy(e, "\\u00", 4);
        e[4] = hex[c >> 4];
        e[5] = hex[c & 15];
        return 6;
    }
    e[0] = (char)c;
    return 1;
}

/* A JSON string of at most limit output bytes; a longer value is cut at a
 * character boundary. Returns true when it was cut. */
static bool put_json_str_max(struct out *o, const char *s, int limit)
{
    const unsigned char *c = (const unsigned char *)(s ? s : "");
    int used = 2;
    bool cut = false;
    put(o, "\"", 1);
    for (; *c; c++) {
        char e[7];
        int n = escape_byte(*c, e);
        /* Never end inside a UTF-8 sequence: stop before a lead byte's run. */
        int run = 1;
        if (*c >= 0xC0)
            while ((c[run] & 0xC0) == 0x80 && run < 4)
                run++;
        if (used + n + run - 1 > limit) {
            cut = true;
            break;
        }
        put(o, e, n);
        used += n;
    }
    put(o, "\"", 1);
    return cut;
}

static void put_json_str(struct out *o, const char *s)
{
    put_json_str_max(o, s, 1 << 30);
}

static void put_value(struct out *o, const struct log_field *f)
{
    char num[64];
    switch (f->type) {
    case LOG_F_STR:
        if (f->v.s)
            put_json_str(o, f->v.s);
        else
            puts_(o, "null");
        break;
    case LOG_F_INT:
        snprintf(num, sizeof(num), "%lld", f->v.i);
        puts_(o, num);
        break;
    case LOG_F_DBL:
        if (isfinite(f->v.d))
            snprintf(num, sizeof(num), "%.6g", f->v.d);
        else
            snprintf(num, sizeof(num), "null");
        puts_(o, num);
        break;
    case LOG_F_BOOL:
        puts_(o, f->v.i ? "true" : "false");
        break;
    case LOG_F_END:
        break;
    }
}

/* Add one field; when it does not fit, a string value is cut to what does and
 * anything else is left out. Returns false once the line is full. */
static bool put_field(struct out *o, const struct log_field *f)
{
    int safe = o->len;
    put(o, ",", 1);
    put_json_str(o, f->key);
    put(o, ":", 1);
    put_value(o, f);
    if (!o->over)
        return true;
    o->over = false;
    o->len = safe;
    if (f->type == LOG_F_STR && f->v.s) {
        put(o, ",", 1);
        put_json_str(o, f->key);
        put(o, ":", 1);
        if (!o->over) {
            put_json_str_max(o, f->v.s, o->cap - o->len);
            if (!o->over)
                return false;
        }
        o->over = false;
        o->len = safe;
    }
    return false;
}

int log_format(char *out, int outlen, const char *ts, enum log_level level, const char *component,
               const char *msg, const struct log_field *fields, int nfields)
{
    static const char trunc[] = ",\"truncated\":true";
    /* Room for the closing brace, the truncation marker, '\n' and NUL. */
    struct out o = {out, 0, outlen - (int)sizeof(trunc) - 3, false};
    bool full = false;
    puts_(&o, "{\"ts\":");
    put_json_str(&o, ts);
    puts_(&o, ",\"level\":");
    put_json_str(&o, level_names[level]);
    puts_(&o, ",\"component\":");
    put_json_str(&o, component);
    puts_(&o, ",\"msg\":");
    put_json_str_max(&o, msg, o.cap - o.len > 2 ? o.cap - o.len : 2);
    for (int i = 0; i < nfields && !full; i++)
        full = !put_field(&o, &fields[i]);
    o.cap = outlen - 2;
    if (full)
        puts_(&o, trunc);
    put(&o, "}", 1);
    out[o.len++] = '\n';
    out[o.len] = '\0';
    return o.len;
}

void log_msg(enum log_level level, const char *msg, ...)
{
    if (!log_enabled(level))
        return;
    struct log_field fields[LOG_FIELDS_MAX];
    int n = 0;
    va_list ap;
    va_start(ap, msg);
    for (;;) {
        struct log_field f = va_arg(ap, struct log_field);
        if (f.type == LOG_F_END)
            break;
        if (n < LOG_FIELDS_MAX)
            fields[n++] = f;
    }
    va_end(ap);

    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char ts[96];
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000);
    char line[LOG_LINE_MAX];
    int len = log_format(line, sizeof(line), ts, level, g_component, msg, fields, n);
    ssize_t rc = write(atomic_load(&g_fd), line, (size_t)len);
    (void)rc;
}
