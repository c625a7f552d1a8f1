/*
 * sc_headers: the sidecar's header rules, as pure functions.
 *
 * Which prefiller a request names (x-prefiller-host-port: several values or a
 * comma list, the first non-empty entry wins, an "http://" prefix is
 * tolerated), which headers are hop-by-hop and never forwarded, and the
 * X-Forwarded-For value to send upstream. No I/O; thread-safe.
 */
#ifndef PDSIM_SC_HEADERS_H
#define PDSIM_SC_HEADERS_H

#include "common/buf.h"

#include <stdbool.h>
#include <stddef.h>

/* The prefiller named by the values of every x-prefiller-host-port header
 * (in order). Writes "host:port" into out and returns its length, 0 when no
 * value names one (plain pass-through), or -EINVAL when the first entry is
 * not a valid host:port (err says why). */
int sc_prefiller_pick(const char *const *values, size_t n, char *out, size_t outlen, char *err,
                      size_t errlen);

/* Split "host:port" or "[v6]:port" into host and port. Returns 0 or -EINVAL. */
int sc_split_host_port(const char *hp, char *host, size_t hostlen, int *port);

/* True for headers a proxy must not forward: Connection, Keep-Alive,
 * Proxy-*, TE, Trailer(s), Transfer-Encoding, Upgrade, Host, Content-Length
 * (recomputed), the routing headers, and any name listed in the request's
 * Connection header (connection_value, may be NULL). Case-insensitive. */
bool sc_header_is_dropped(const char *name, const char *connection_value);

/* SSRF allow-list check: target is "host:port". An entry "host" allows any
 * port, "host:port" that port only, "a.b.c.d/n" any IPv4 address in the
 * block (any port). Names compare case-insensitively. */
bool sc_allow_match(char *const *entries, size_t n, const char *target);

/* One "Name: value" line of a raw header block. */
struct sc_hline {
    char name[128];   /* NUL-terminated, cut at 127 bytes */
    size_t namelen;   /* the name's full length */
    const char *line; /* the whole line, without its CRLF */
    size_t len;
    const char *value; /* after the colon and any spaces, up to the line's end */
    size_t vlen;
};

/* The next "Name: value" line of a raw header block ("...\r\n" each) at *pos,
 * which it advances; lines without a colon are skipped. False at the end. */
bool sc_header_next(const char **pos, struct sc_hline *h);

/* Whether e is a valid allow-list entry. Returns 0 or -EINVAL (err says why). */
int sc_allow_entry_check(const char *e, char *err, size_t errlen);

/* X-Forwarded-For for upstream: the client's value with the peer appended. */
int sc_forwarded_for(struct buf *out, const char *existing, const char *peer);

#endif
