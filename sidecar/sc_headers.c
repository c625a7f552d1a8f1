#include "sidecar/sc_headers.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

int sc_split_host_port(const char *hp, char *host, size_t hostlen, int *port)
{
    const char *colon;
    size_t hl;
    if (hp[0] == '[') {
        const char *close = strchr(hp, ']');
        if (!close || close[1] != ':')
            return -EINVAL;
        hp++;
        hl = (size_t)(close - hp);
        colon = close + 1;
    } else {
        colon = strrchr(hp, ':');
        if (!colon || strchr(hp, ':') != colon)
            return -EINVAL;
        hl = (size_t)(colon - hp);
    }
    if (hl == 0 || hl >= hostlen)
        return -EINVAL;
    /* Canonical decimal only ("080", "+80" are refused): the allow-list check
     * and the connection must read the same port. */
    const char *ds = colon + 1;
    size_t nd = strspn(ds, "0123456789");
    if (nd == 0 || nd > 5 || ds[nd] || ds[0] == '0')
        return -EINVAL;
    long p = strtol(ds, NULL, 10);
    if (p < 1 || p > 65535)
        return -EINVAL;
    for (size_t i = 0; i < hl; i++) {
        unsigned char c = (unsigned char)hp[i];
        if (!isalnum(c) && c != '.' && c != '-' && c != '_' && c != ':')
            return -EINVAL;
    }
    memcpy(host, hp, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}

/* Copy entry [s, e) trimmed of white space and an http:// prefix. */
static size_t trimmed(const char *s, const char *e, char *out, size_t outlen)
{
    while (s < e && isspace((unsigned char)*s))
        s++;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    if ((size_t)(e - s) > 7 && strncasecmp(s, "http://", 7) == 0)
        s += 7;
    size_t n = (size_t)(e - s);
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
    return n;
}

int sc_prefiller_pick(const char *const *values, size_t n, char *out, size_t outlen, char *err,
                      size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = values[i];
        for (const char *s = v; *s;) {
            const char *e = strchr(s, ',');
            if (!e)
                e = s + strlen(s);
            size_t len = trimmed(s, e, out, outlen);
            if (len > 0) {
                char host[256];
                int port;
                if (sc_split_host_port(out, host, sizeof(host), &port) < 0) {
                    snprintf(err, errlen, "x-prefiller-host-port: \"%.200s\" is not host:port",
                             out);
                    return -EINVAL;
                }
                return (int)len;
            }
            s = *e ? e + 1 : e;
        }
    }
    out[0] = '\0';
    return 0;
}

static bool listed(const char *name, const char *list)
{
    size_t nl = strlen(name);
    for (const char *s = list; s && *s;) {
        while (*s == ' ' || *s == ',' || *s == '\t')
            s++;
        const char *e = s;
        while (*e && *e != ',' && *e != ' ' && *e != '\t')
            e++;
        if ((size_t)(e - s) == nl && strncasecmp(s, name, nl) == 0)
            return true;
        s = e;
    }
    return false;
}

bool sc_header_is_dropped(const char *name, const char *connection_value)
{
    static const char *const hop[] = {"Connection",
                                      "Keep-Alive",
                                      "Proxy-Connection",
                                      "Proxy-Authenticate",
                                      "Proxy-Authorization",
                                      "TE",
                                      "Trailer",
                                      "Trailers",
                                      "Transfer-Encoding",
                                      "Upgrade",
                                      "Host",
                                      "Content-Length",
                                      "x-prefiller-host-port",
                                      "x-prefiller-url",
                                      "Expect",
                                      NULL};
    for (size_t i = 0; hop[i]; i++)
        if (strcasecmp(name, hop[i]) == 0)
            return true;
    return listed(name, connection_value);
}

bool sc_header_next(const char **pos, struct sc_hline *h)
{
    while (**pos) {
        const char *line = *pos, *e = strstr(line, "\r\n");
        size_t n = e ? (size_t)(e - line) : strlen(line);
        const char *colon = memchr(line, ':', n);
        *pos = e ? e + 2 : line + n;
        if (!colon)
            continue;
        h->namelen = (size_t)(colon - line);
        size_t nl = h->namelen < sizeof(h->name) - 1 ? h->namelen : sizeof(h->name) - 1;
        memcpy(h->name, line, nl);
        h->name[nl] = '\0';
        h->line = line;
        h->len = n;
        h->value = colon + 1;
        while (h->value < line + n && *h->value == ' ')
            h->value++;
        h->vlen = (size_t)(line + n - h->value);
        return true;
    }
    return false;
}

int sc_forwarded_for(struct buf *out, const char *existing, const char *peer)
{
    int rc = 0;
    if (existing && *existing) {
        rc = buf_puts(out, existing);
        rc = rc ? rc : buf_puts(out, ", ");
    }
    return rc ? rc : buf_puts(out, peer);
}

static bool cidr_match(const char *cidr, const char *host)
{
    char net[64];
    const char *slash = strchr(cidr, '/');
    if (!slash || (size_t)(slash - cidr) >= sizeof(net))
        return false;
    memcpy(net, cidr, (size_t)(slash - cidr));
    net[slash - cidr] = '\0';
    char *end;
    long bits = strtol(slash + 1, &end, 10);
    struct in_addr a, b;
    if (*end || bits < 0 || bits > 32 || inet_pton(AF_INET, net, &a) != 1 ||
        inet_pton(AF_INET, host, &b) != 1)
        return false;
    uint32_t mask = bits == 0 ? 0 : htonl(~0u << (32 - bits));
    return (a.s_addr & mask) == (b.s_addr & mask);
}

int sc_allow_entry_check(const char *e, char *err, size_t errlen)
{
    char host[256];
    int port;
    const char *slash = strchr(e, '/');
    if (slash) {
        char net[64];
        char *end;
        struct in_addr a;
        size_t nl = (size_t)(slash - e);
        long bits = strtol(slash + 1, &end, 10);
        if (nl >= sizeof(net) || !isdigit((unsigned char)slash[1]) || *end || bits > 32) {
            snprintf(err, errlen, "'%s' is not an IPv4 CIDR (a.b.c.d/0-32)", e);
            return -EINVAL;
        }
        memcpy(net, e, nl);
        net[nl] = '\0';
        if (inet_pton(AF_INET, net, &a) != 1) {
            snprintf(err, errlen, "'%s' is not an IPv4 CIDR (a.b.c.d/0-32)", e);
            return -EINVAL;
        }
        return 0;
    }
    if (strchr(e, ':') && sc_split_host_port(e, host, sizeof(host), &port) < 0) {
        snprintf(err, errlen, "'%s' is not host:port", e);
        return -EINVAL;
    }
    for (const char *p = e; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr(".-_:[]", *p)) {
            snprintf(err, errlen, "'%s' is not a host name, host:port or CIDR", e);
            return -EINVAL;
        }
    }
    return 0;
}

bool sc_allow_match(char *const *entries, size_t n, const char *target)
{
    char host[256], ehost[256];
    int port, eport;
    if (sc_split_host_port(target, host, sizeof(host), &port) < 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *e = entries[i];
        if (strchr(e, '/')) {
            if (cidr_match(e, host))
                return true;
        } else if (sc_split_host_port(e, ehost, sizeof(ehost), &eport) == 0) {
            if (eport == port && strcasecmp(ehost, host) == 0)
                return true;
        } else if (strcasecmp(e, host) == 0) {
            return true;
        }
    }
    return false;
}
