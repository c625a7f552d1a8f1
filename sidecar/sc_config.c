#include "sidecar/sc_config.h"

#include "common/duration.h"
#include "common/xalloc.h"
#include "common/ycfg.h"
#include "sidecar/sc_headers.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ftype {
    F_INT,
    F_STR,
    F_BOOL,
    F_DUR,
    F_CONN,
    F_LIST,
    F_LIST_FILE,
    F_STAGES,     /* a stage list into an unsigned bit set */
    F_STAGE_BOOL, /* legacy boolean: sets or clears bit `min` of a stage set */
    F_CONFIG
};

struct flagdef {
    const char *name;
    enum ftype type;
    size_t off;
    long min, max;
    const char *def, *help;
};

#define OFF(f) offsetof(struct sc_config, f)

static const struct flagdef flags[] = {
    {"port", F_INT, OFF(port), 0, 65535, "8000", "listen port; 0 picks a free port (logged)"},
    {"host", F_STR, OFF(host), 0, 0, "0.0.0.0", "listen address (pdsim extension)"},
    {"model-server-port", F_INT, OFF(model_server_port), 1, 65535, "8200",
     "the local decoder's port"},
    {"vllm-port", F_INT, OFF(model_server_port), 1, 65535, "8200",
     "deprecated alias of --model-server-port"},
    {"decoder-host", F_STR, OFF(decoder_host), 0, 0, "127.0.0.1",
     "the decoder's address (pdsim extension)"},
    {"kv-connector", F_CONN, OFF(connector), 0, 0, "nixlv2",
     "P/D protocol: nixlv2, nixl, shared-storage, lmcache or sglang"},
    {"connector", F_CONN, OFF(connector), 0, 0, "nixlv2", "legacy spelling of --kv-connector"},
    {"secure-proxy", F_BOOL, OFF(secure_proxy), 0, 0, "true", "serve TLS (HTTPS) on the port(s)"},
    {"cert-path", F_STR, OFF(cert_path), 0, 0, "",
     "directory with tls.crt and tls.key; empty: a self-signed certificate"},
    {"enable-tls", F_STAGES, OFF(tls_stages), 0, 0, "",
     "stages using https upstream: prefiller, decoder, encoder (comma list or repeated)"},
    {"tls-insecure-skip-verify", F_STAGES, OFF(insecure_stages), 0, 0, "",
     "stages not verifying the upstream certificate"},
    {"prefiller-use-tls", F_STAGE_BOOL, OFF(tls_stages), SC_STAGE_PREFILLER, 0, "false",
     "legacy: https to the prefiller"},
    {"decoder-use-tls", F_STAGE_BOOL, OFF(tls_stages), SC_STAGE_DECODER, 0, "false",
     "legacy: https to the decoder"},
    {"prefiller-tls-insecure-skip-verify", F_STAGE_BOOL, OFF(insecure_stages), SC_STAGE_PREFILLER,
     0, "false", "legacy: do not verify the prefiller's certificate"},
    {"decoder-tls-insecure-skip-verify", F_STAGE_BOOL, OFF(insecure_stages), SC_STAGE_DECODER, 0,
     "false", "legacy: do not verify the decoder's certificate"},
    {"enable-ssrf-protection", F_BOOL, OFF(enable_ssrf), 0, 0, "false",
     "only send prefills to --ssrf-allow targets"},
    {"ssrf-allow", F_LIST, OFF(allow), 0, 0, "",
     "allowed prefill targets: host, host:port or CIDR, comma-separated or repeated"},
    {"ssrf-allow-file", F_LIST_FILE, OFF(allow), 0, 0, "",
     "file of allowed prefill targets, one per line, # comments"},
    {"prefill-max-retries", F_INT, OFF(prefill_max_retries), 0, 100, "0",
     "retries of a prefill answering 502/503/504"},
    {"prefill-retry-backoff", F_DUR, OFF(prefill_retry_backoff), 0, 0, "200ms",
     "delay between those retries"},
    {"data-parallel-size", F_INT, OFF(data_parallel_size), 1, 256, "1",
     "data-parallel ranks: rank r listens on port+r, proxying to model-server-port+r"},
    {"configuration-file", F_CONFIG, OFF(config_path), 0, 0, "", "YAML file of these flags"},
    {"default-prefiller", F_STR, OFF(default_prefiller), 0, 0, "",
     "host:port used when x-prefiller-host-port is absent (pdsim extension)"},
    {"prefill-timeout", F_DUR, OFF(prefill_timeout), 0, 0, "60s",
     "the prefill leg's limit; past it the client gets 504 (pdsim extension)"},
    {"decode-timeout", F_DUR, OFF(decode_timeout), 0, 0, "0s",
     "the decode leg's limit, 0 = none (pdsim extension)"},
    {"prefill-fallback-local", F_BOOL, OFF(prefill_fallback_local), 0, 0, "false",
     "decode locally when the prefill fails (pdsim extension)"},
    {"max-request-body-size-mb", F_INT, OFF(max_body_mb), 1, 512, "16",
     "largest request body; larger gets 413 (pdsim extension)"},
    {"http-threads", F_INT, OFF(http_threads), 16, 65536, "2048",
     "HTTP worker threads = concurrent connections (pdsim extension)"},
    {"http-request-timeout", F_DUR, OFF(http_request_timeout), 0, 0, "60s",
     "a client must send a request's headers within this time, and each read or write of the "
     "connection must progress within it; a stalled client is then dropped (pdsim extension)"},
    {"v", F_INT, OFF(v), 0, 10, "2", "log verbosity: 1 warn, 2 info, 4 debug"},
};

#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

const char *sc_connector_name(enum sc_connector c)
{
    static const char *const names[] = {"nixlv2", "nixl", "shared-storage", "lmcache", "sglang"};
    return (size_t)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

static const struct flagdef *find_flag(const char *name)
{
    for (size_t i = 0; i < NFLAGS; i++)
        if (strcmp(flags[i].name, name) == 0)
            return &flags[i];
    return NULL;
}

static void set_defaults(struct sc_config *c)
{
    memset(c, 0, sizeof(*c));
    c->host = xstrdup("0.0.0.0");
    c->decoder_host = xstrdup("127.0.0.1");
    c->port = 8000;
    c->model_server_port = 8200;
    c->secure_proxy = true;
    c->prefill_retry_backoff = 200000000LL;
    c->data_parallel_size = 1;
    c->prefill_timeout = 60000000000LL;
    c->max_body_mb = 16;
    c->http_threads = 2048;
    c->http_request_timeout = 60000000000LL;
    c->v = 2;
}

void sc_config_release(struct sc_config *c)
{
    if (!c)
        return;
    free(c->host);
    free(c->decoder_host);
    free(c->default_prefiller);
    free(c->config_path);
    free(c->cert_path);
    for (size_t i = 0; i < c->nallow; i++)
        free(c->allow[i]);
    free(c->allow);
    memset(c, 0, sizeof(*c));
}

static int parse_bool(const char *v, bool *out)
{
    static const char *const t[] = {"1", "t", "T", "true", "TRUE", "True", NULL};
    static const char *const f[] = {"0", "f", "F", "false", "FALSE", "False", NULL};
    for (size_t i = 0; t[i]; i++) {
        if (strcmp(v, t[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(v, f[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* The next item of a comma list at *v, without surrounding spaces (n may be
 * 0); advances *v. False at the end of the list. */
static bool next_item(const char **v, const char **item, size_t *n)
{
    if (!**v)
        return false;
    const char *s = *v, *e = strchr(s, ',');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    *v = e ? e + 1 : s + len;
    while (len && *s == ' ') {
        s++;
        len--;
    }
    while (len && s[len - 1] == ' ')
        len--;
    *item = s;
    *n = len;
    return true;
}

static int add_allow(struct sc_config *c, const char *v, const char *where, char *err,
                     size_t errlen)
{
    const char *s;
    size_t n;
    while (next_item(&v, &s, &n)) {
        if (n) {
            if (n > 255) {
                snprintf(err, errlen, "%s: entry too long", where);
                return -EINVAL;
            }
            char *entry = xstrndup(s, n), why[300];
            if (sc_allow_entry_check(entry, why, sizeof(why)) < 0) {
                snprintf(err, errlen, "%s: %s", where, why);
                free(entry);
                return -EINVAL;
            }
            c->allow = xrealloc(c->allow, (c->nallow + 1) * sizeof(char *));
            c->allow[c->nallow++] = entry;
        }
    }
    return 0;
}

static int add_allow_file(struct sc_config *c, const char *path, const char *where, char *err,
                          size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot read %s: %s", where, path, strerror(errno));
        return -EINVAL;
    }
    char line[512], at[600];
    int rc = 0;
    for (int no = 1; rc == 0 && fgets(line, sizeof(line), f); no++) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        snprintf(at, sizeof(at), "%s %s:%d", where, path, no);
        rc = add_allow(c, line, at, err, errlen);
    }
    fclose(f);
    return rc;
}

static bool is_bool(const struct flagdef *f)
{
    return f->type == F_BOOL || f->type == F_STAGE_BOOL;
}

/* "prefiller,decoder" into stage bits (added to what is there). */
static int add_stages(unsigned *set, const char *v, const char *where, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        unsigned bit;
    } stages[] = {{"prefiller", SC_STAGE_PREFILLER},
                  {"decoder", SC_STAGE_DECODER},
                  {"encoder", SC_STAGE_ENCODER}};
    const char *s;
    size_t n;
    while (next_item(&v, &s, &n)) {
        size_t i = 0;
        while (n && i < sizeof(stages) / sizeof(stages[0]) &&
               !(strlen(stages[i].name) == n && strncmp(stages[i].name, s, n) == 0))
            i++;
        if (n && i == sizeof(stages) / sizeof(stages[0])) {
            snprintf(err, errlen, "%s: \"%.*s\" is not a stage (prefiller, decoder, encoder)",
                     where, (int)n, s);
            return -EINVAL;
        }
        if (n)
            *set |= stages[i].bit;
    }
    return 0;
}

static int apply(struct sc_config *c, const struct flagdef *f, const char *val, bool bare,
                 const char *where, char *err, size_t errlen)
{
    char *field = (char *)c + f->off;
    bool b;
    char *end;
    if (bare && !is_bool(f)) {
        snprintf(err, errlen, "%s needs a value", where);
        return -EINVAL;
    }
    switch (f->type) {
    case F_INT: {
        errno = 0;
        long v = strtol(val, &end, 10);
        if (errno || end == val || *end || v < f->min || v > f->max) {
            snprintf(err, errlen, "%s: \"%s\" is not an integer in [%ld, %ld]", where, val, f->min,
                     f->max);
            return -EINVAL;
        }
        *(long *)field = v;
        return 0;
    }
    case F_STR:
    case F_CONFIG:
        free(*(char **)field);
        *(char **)field = xstrdup(val);
        return 0;
    case F_BOOL:
    case F_STAGE_BOOL:
        if (parse_bool(bare ? "true" : val, &b) < 0) {
            snprintf(err, errlen, "%s: \"%s\" is not a boolean", where, val);
            return -EINVAL;
        }
        if (f->type == F_BOOL)
            *(bool *)field = b;
        else if (b)
            *(unsigned *)field |= (unsigned)f->min;
        else
            *(unsigned *)field &= ~(unsigned)f->min;
        return 0;
    case F_DUR: {
        char derr[160];
        int64_t ns;
        /* ns is unset when the parse fails: test the parse first, so a bad value gets
         * the parser's message, never one chosen by an uninitialised ns (valgrind). */
        if (duration_parse(val, &ns, derr, sizeof(derr)) < 0) {
            snprintf(err, errlen, "%s: %s", where, derr);
            return -EINVAL;
        }
        if (ns < 0) {
            snprintf(err, errlen, "%s: must not be negative", where);
            return -EINVAL;
        }
        *(int64_t *)field = ns;
        return 0;
    }
    case F_CONN:
        for (int k = SC_CONN_NIXLV2; k <= SC_CONN_SGLANG; k++) {
            if (strcmp(val, sc_connector_name((enum sc_connector)k)) == 0) {
                c->connector = (enum sc_connector)k;
                return 0;
            }
        }
        snprintf(err, errlen, "%s: \"%s\" is %s", where, val,
                 strcmp(val, "mooncake") == 0 || strcmp(val, "offloading") == 0
                     ? "not implemented yet (nixlv2, nixl, shared-storage, lmcache, sglang are)"
                     : "not a connector (nixlv2, nixl, shared-storage, lmcache, sglang)");
        return -EINVAL;
    case F_LIST:
        return add_allow(c, val, where, err, errlen);
    case F_LIST_FILE:
        return add_allow_file(c, val, where, err, errlen);
    case F_STAGES:
        return add_stages((unsigned *)field, val, where, err, errlen);
    }
    return 0;
}

/* Apply the YAML file: keys are flag names (either spelling). */
static int apply_yaml(struct sc_config *c, const char *path, char *err, size_t errlen)
{
    struct ycfg y;
    char yerr[256];
    int rc = ycfg_load_file(path, &y, yerr, sizeof(yerr));
    if (rc < 0) {
        snprintf(err, errlen, "--configuration-file %s: %s", path, yerr);
        return rc;
    }
    bool has_msp = false;
    for (size_t i = 0; i < y.n; i++)
        has_msp = has_msp || strcmp(y.v[i].key, "model-server-port") == 0;
    for (size_t i = 0; i < y.n && rc == 0; i++) {
        const struct ycfg_entry *e = &y.v[i];
        char where[300];
        snprintf(where, sizeof(where), "--configuration-file %s line %d: key \"%s\"", path, e->line,
                 e->key);
        const struct flagdef *f = find_flag(e->key);
        if (!f || f->type == F_CONFIG) {
            snprintf(err, errlen, "%s: unknown key", where);
            rc = -EINVAL;
        } else if (has_msp && strcmp(e->key, "vllm-port") == 0) {
            continue;
        } else {
            for (size_t k = 0; k < e->nitems && rc == 0; k++)
                rc = apply(c, f, e->items[k], false, where, err, errlen);
        }
    }
    ycfg_release(&y);
    return rc;
}

struct occurrence {
    const struct flagdef *f;
    const char *val;
    bool bare;
    char where[80];
};

static int scan(int argc, char **argv, struct occurrence *occ, size_t *nocc, bool *help, char *err,
                size_t errlen)
{
    *nocc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "-help") == 0) {
            *help = true;
            continue;
        }
        if (a[0] != '-' || a[1] == '\0') {
            snprintf(err, errlen, "unexpected argument \"%s\": flags start with - or --", a);
            return -EINVAL;
        }
        const char *name = a + (a[1] == '-' ? 2 : 1);
        const char *eq = strchr(name, '=');
        char key[64];
        size_t kl = eq ? (size_t)(eq - name) : strlen(name);
        snprintf(key, sizeof(key), "%.*s", (int)(kl < 63 ? kl : 63), name);
        const struct flagdef *f = find_flag(key);
        if (!f) {
            snprintf(err, errlen, "unknown flag %.*s (see --help)", (int)(name - a + kl), a);
            return -EINVAL;
        }
        struct occurrence *o = &occ[(*nocc)++];
        o->f = f;
        snprintf(o->where, sizeof(o->where), "flag --%s", f->name);
        if (eq) {
            o->val = eq + 1;
        } else if (is_bool(f)) {
            o->bare = true;
            o->val = "true";
        } else if (i + 1 < argc) {
            o->val = argv[++i];
        } else {
            snprintf(err, errlen, "flag --%s needs a value", f->name);
            return -EINVAL;
        }
    }
    return 0;
}

static int validate(struct sc_config *c, char *err, size_t errlen)
{
    char host[256];
    int port;
    if (c->cert_path && !c->cert_path[0]) {
        free(c->cert_path);
        c->cert_path = NULL;
    }
    if (c->port && c->port + c->data_parallel_size - 1 > 65535) {
        snprintf(err, errlen, "--data-parallel-size: --port + %ld exceeds 65535",
                 c->data_parallel_size - 1);
        return -EINVAL;
    }
    if (c->model_server_port + c->data_parallel_size - 1 > 65535) {
        snprintf(err, errlen, "--data-parallel-size: --model-server-port + %ld exceeds 65535",
                 c->data_parallel_size - 1);
        return -EINVAL;
    }
    if (c->enable_ssrf && c->nallow == 0) {
        snprintf(err, errlen,
                 "--enable-ssrf-protection: the allow-list is empty; give --ssrf-allow or "
                 "--ssrf-allow-file");
        return -EINVAL;
    }
    if (c->default_prefiller && c->default_prefiller[0] &&
        sc_split_host_port(c->default_prefiller, host, sizeof(host), &port) < 0) {
        snprintf(err, errlen, "--default-prefiller: \"%s\" is not host:port", c->default_prefiller);
        return -EINVAL;
    }
    if (c->prefill_max_retries > 0 && c->prefill_retry_backoff <= 0) {
        snprintf(err, errlen, "--prefill-retry-backoff must be > 0 when retries are on");
        return -EINVAL;
    }
    return 0;
}

enum sc_config_result sc_config_load(struct sc_config *c, int argc, char **argv, char *err,
                                     size_t errlen)
{
    struct occurrence *occ = xcalloc((size_t)argc + 1, sizeof(*occ));
    size_t n = 0;
    bool help = false, msp_cli = false;
    set_defaults(c);
    int rc = scan(argc, argv, occ, &n, &help, err, errlen);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        msp_cli = msp_cli || strcmp(occ[i].f->name, "model-server-port") == 0;
        if (occ[i].f->type == F_CONFIG)
            rc = apply(c, occ[i].f, occ[i].val, occ[i].bare, occ[i].where, err, errlen);
    }
    if (rc == 0 && c->config_path)
        rc = apply_yaml(c, c->config_path, err, errlen);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (occ[i].f->type == F_CONFIG || (msp_cli && strcmp(occ[i].f->name, "vllm-port") == 0))
            continue;
        rc = apply(c, occ[i].f, occ[i].val, occ[i].bare, occ[i].where, err, errlen);
    }
    free(occ);
    if (help)
        return SC_CONFIG_HELP;
    if (rc == 0)
        rc = validate(c, err, errlen);
    if (c->default_prefiller && !c->default_prefiller[0]) {
        free(c->default_prefiller);
        c->default_prefiller = NULL;
    }
    return rc < 0 ? SC_CONFIG_ERROR : SC_CONFIG_OK;
}

void sc_config_help(FILE *out)
{
    fprintf(out, "Usage: pdsim-sidecar [flags]\n\n"
                 "The P/D routing sidecar in front of a decode server. Flags take one or two\n"
                 "dashes; booleans take =false. Durations take units (200ms, 1.5s).\n\nFlags:\n");
    for (size_t i = 0; i < NFLAGS; i++) {
        fprintf(out, "  --%-36s %s", flags[i].name, flags[i].help);
        if (flags[i].def[0])
            fprintf(out, " (default %s)", flags[i].def);
        fputc('\n', out);
    }
}
