#include "common/duration.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct unit {
    const char *name;
    int64_t ns;
};

/* Longest names first so "ms" is not read as "m". */
static const struct unit units[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xc2\xb5s", 1000}, /* µs */
    {"\xce\xbcs", 1000},
    /* μs */ {"ms", 1000000},
    {"s", 1000000000LL},
    {"m", 60000000000LL},
    {"h", 3600000000000LL},
};

__attribute__((format(printf, 3, 4))) static void seterr(char *err, size_t errlen, const char *fmt,
                                                         ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Read "123.456" at *p into an integer part and a fraction scaled by scale. */
static int read_number(const char **p, long double *val)
{
    const char *s = *p;
    long double v = 0;
    bool digits = false;
    while (isdigit((unsigned char)*s)) {
        v = v * 10 + (*s - '0');
        s++;
        digits = true;
    }
    if (*s == '.') {
        s++;
        long double scale = 0.1L;
        while (isdigit((unsigned char)*s)) {
            v += (*s - '0') * scale;
            scale /= 10;
            s++;
            digits = true;
        }
    }
    if (!digits)
        return -EINVAL;
    *p = s;
    *val = v;
    return 0;
}

static const struct unit *read_unit(const char **p)
{
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        size_t n = strlen(units[i].name);
        if (strncmp(*p, units[i].name, n) == 0) {
            *p += n;
            return &units[i];
        }
    }
    return NULL;
}

int duration_parse(const char *s, int64_t *ns, char *err, size_t errlen)
{
    const char *p = s;
    bool neg = false;
    if (!s || !*s) {
        seterr(err, errlen, "empty duration");
        return -EINVAL;
    }
    if (*p == '-' || *p == '+')
        neg = (*p++ == '-');
    long double total = 0;
    int parts = 0;
    while (*p) {
        long double v;
        if (read_number(&p, &v) < 0) {
            seterr(err, errlen, "invalid duration \"%s\"", s);
            return -EINVAL;
        }
        if (!*p && parts == 0) { /* a bare number: milliseconds */
            total = v * 1e6L;
            parts++;
            break;
        }
        const struct unit *u = read_unit(&p);
        if (!u) {
            seterr(err, errlen, "invalid duration \"%s\" (units are ns, us, ms, s, m, h)", s);
            return -EINVAL;
        }
        total += v * (long double)u->ns;
        parts++;
    }
    if (total > 9.2e18L) {
        seterr(err, errlen, "duration \"%s\" is too large", s);
        return -ERANGE;
    }
    int64_t r = (int64_t)(total + 0.5L);
    *ns = neg ? -r : r;
    return 0;
}

/* Append the fraction digits of v/div without trailing zeros. */
static int fmt_frac(char *out, size_t outlen, int64_t v, int64_t div, const char *unit)
{
    int64_t ip = v / div, fp = v % div;
    if (fp == 0)
        return snprintf(out, outlen, "%lld%s", (long long)ip, unit);
    char frac[24];
    size_t width = 0;
    for (int64_t d = div; d > 1 && width < sizeof(frac) - 1; d /= 10)
        width++;
    frac[width] = '\0';
    for (size_t i = width; i > 0; i--, fp /= 10)
        frac[i - 1] = (char)('0' + fp % 10);
    for (size_t n = width; n > 0 && frac[n - 1] == '0'; n--)
        frac[n - 1] = '\0';
    return snprintf(out, outlen, "%lld.%s%s", (long long)ip, frac, unit);
}

int duration_format(int64_t ns, char *out, size_t outlen)
{
    const char *sign = ns < 0 ? "-" : "";
    uint64_t u = ns < 0 ? (uint64_t)(-(ns + 1)) + 1 : (uint64_t)ns;
    char body[64];
    if (u == 0)
        snprintf(body, sizeof(body), "0s");
    else if (u < 1000)
        snprintf(body, sizeof(body), "%lluns", (unsigned long long)u);
    else if (u < 1000000)
        fmt_frac(body, sizeof(body), (int64_t)u, 1000, "us");
    else if (u < 1000000000ULL)
        fmt_frac(body, sizeof(body), (int64_t)u, 1000000, "ms");
    else {
        uint64_t h = u / 3600000000000ULL, rem = u % 3600000000000ULL;
        uint64_t m = rem / 60000000000ULL;
        rem %= 60000000000ULL;
        char sec[40];
        fmt_frac(sec, sizeof(sec), (int64_t)rem, 1000000000, "s");
        if (h)
            snprintf(body, sizeof(body), "%lluh%llum%s", (unsigned long long)h,
                     (unsigned long long)m, sec);
        else if (m)
            snprintf(body, sizeof(body), "%llum%s", (unsigned long long)m, sec);
        else
            snprintf(body, sizeof(body), "%s", sec);
    }
    return snprintf(out, outlen, "%s%s", sign, body);
}
