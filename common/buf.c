#include "common/buf.h"

#include "common/xalloc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void buf_release(struct buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* Make room for n more bytes plus the NUL. */
static int grow(struct buf *b, size_t n)
{
    if (n > b->cap || b->len > b->cap - n)
        return -E2BIG;
    size_t need = b->len + n + 1;
    if (need <= b->alloc)
        return 0;
    size_t a = b->alloc ? b->alloc : 64;
    while (a < need)
        a *= 2;
    bool fresh = b->data == NULL;
    b->data = xrealloc(b->data, a);
    b->alloc = a;
    if (fresh) /* a reserved empty buffer is still a valid string */
        b->data[b->len] = '\0';
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    int rc = grow(b, n);
    if (rc < 0)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_putc(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

int buf_put_double(struct buf *b, double v)
{
    char s[48];
    int prec = 1;
    if (v == 0)
        return buf_putc(b, '0');
    for (; prec < 17; prec++) { /* the fewest significant digits that read back */
        snprintf(s, sizeof(s), "%.*e", prec - 1, v);
        if (strtod(s, NULL) == v)
            break;
    }
    snprintf(s, sizeof(s), "%.*e", prec - 1, v);
    char *e = strchr(s, 'e');
    int exp10 = atoi(e + 1);
    double a = v < 0 ? -v : v;
    if (a >= 1e-6 && a < 1e21) { /* Go's encoding/json: plain decimals in this range */
        int decimals = prec - 1 - exp10;
        return buf_appendf(b, "%.*f", decimals > 0 ? decimals : 0, v);
    }
    *e = '\0'; /* and e-07 as e-7 */
    return buf_appendf(b, "%se%c%d", s, exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
}

int buf_put_long(struct buf *b, long long v)
{
    char tmp[24];
    char *p = tmp + sizeof(tmp);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

void buf_reserve(struct buf *b, size_t n)
{
    if (n <= b->cap && b->len <= b->cap - n && grow(b, n) == 0)
        return;
}

int buf_vappendf(struct buf *b, const char *fmt, va_list ap)
{
    char small[256];
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(small, sizeof(small), fmt, cp);
    va_end(cp);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n < sizeof(small))
        return buf_append(b, small, (size_t)n);
    int rc = grow(b, (size_t)n);
    if (rc < 0)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int buf_appendf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vappendf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int buf_json_strn(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start_len = b->len;
    int rc = buf_putc(b, '"');
    size_t run = 0; /* start of the pending run of bytes that need no escape */
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        default:
            if (c < 0x20) {
                u[0] = '\\';
                u[1] = 'u';
                u[2] = '0';
                u[3] = '0';
                u[4] = hex[c >> 4];
                u[5] = hex[c & 15];
                u[6] = '\0';
                esc = u;
            }
        }
        if (esc) {
            rc = buf_append(b, s + run, i - run);
            if (rc == 0)
                rc = buf_puts(b, esc);
            run = i + 1;
        }
    }
    if (rc == 0)
        rc = buf_append(b, s + run, n - run);
    if (rc == 0)
        rc = buf_putc(b, '"');
    if (rc < 0) {
        b->len = start_len;
        if (b->data)
            b->data[b->len] = '\0';
    }
    return rc;
}

int buf_json_str(struct buf *b, const char *s)
{
    return buf_json_strn(b, s ? s : "", s ? strlen(s) : 0);
}

char *buf_take(struct buf *b, size_t *len)
{
    char *p = b->data ? b->data : xstrdup("");
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    return p;
}

const char *buf_str(const struct buf *b)
{
    return b->data ? b->data : "";
}
