#include "controller/k8s_config.h"

#include "common/xalloc.h"
#include "common/yamljson.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOKEN_REREAD_S 60

int k8s_base64_decode(const char *in, struct buf *out)
{
    unsigned acc = 0;
    int bits = 0;
    for (const char *p = in; *p; p++) {
        unsigned char c = (unsigned char)*p;
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+' || c == '-')
            v = 62;
        else if (c == '/' || c == '_')
            v = 63;
        else if (c == '=' || c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        else
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (buf_putc(out, (char)((acc >> bits) & 0xff)) < 0)
                return -1;
        }
    }
    return 0;
}

static int read_file(const char *path, struct buf *out, char *err, size_t errlen, const char *what)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot read %s: %s", what, path, strerror(errno));
        return -1;
    }
    char chunk[8192];
    size_t n;
    buf_reset(out);
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = buf_append(out, chunk, n);
    fclose(f);
    if (rc < 0)
        snprintf(err, errlen, "%s: %s is too large", what, path);
    return rc < 0 ? -1 : 0;
}

/* A path from a kubeconfig: relative ones are relative to its directory. */
static char *resolve(const char *dir, const char *path)
{
    if (path[0] == '/' || !dir)
        return xstrdup(path);
    size_t n = strlen(dir) + strlen(path) + 2;
    char *out = xmalloc(n);
    snprintf(out, n, "%s/%s", dir, path);
    return out;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
}

const char *k8s_config_token(struct k8s_config *c, bool force)
{
    if (!c->token_file)
        return c->token;
    time_t now = time(NULL);
    if (c->token && !force && now - c->token_read < TOKEN_REREAD_S)
        return c->token;
    struct buf b;
    char err[256];
    buf_init(&b, 1 << 20);
    if (read_file(c->token_file, &b, err, sizeof(err), "token") == 0) {
        free(c->token);
        c->token = xstrdup(buf_str(&b));
        trim(c->token);
        c->token_read = now;
    } /* else keep the last token: the API server will say 401 if it expired */
    buf_release(&b);
    return c->token;
}

static void init(struct k8s_config *c)
{
    memset(c, 0, sizeof(*c));
    buf_init(&c->ca, 1 << 20);
    buf_init(&c->cert, 1 << 20);
    buf_init(&c->key, 1 << 20);
}

void k8s_config_release(struct k8s_config *c)
{
    buf_release(&c->ca);
    buf_release(&c->cert);
    buf_release(&c->key);
    free(c->server);
    free(c->token);
    free(c->token_file);
    free(c->namespace);
    free(c->source);
    memset(c, 0, sizeof(*c));
}

static int in_cluster(struct k8s_config *c, const char *sa_dir, char *err, size_t errlen)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
    char path[4096];
    if (!port || !*port)
        port = "443";
    size_t n = strlen(host) + strlen(port) + 16;
    c->server = xmalloc(n);
    snprintf(c->server, n, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
    snprintf(path, sizeof(path), "%s/ca.crt", sa_dir);
    if (read_file(path, &c->ca, err, errlen, "in-cluster CA") < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/token", sa_dir);
    c->token_file = xstrdup(path);
    if (!k8s_config_token(c, true)) {
        snprintf(err, errlen, "in-cluster token: cannot read %s", path);
        return -1;
    }
    struct buf ns;
    buf_init(&ns, 4096);
    snprintf(path, sizeof(path), "%s/namespace", sa_dir);
    char ignore[256];
    if (read_file(path, &ns, ignore, sizeof(ignore), "namespace") == 0 && ns.len) {
        c->namespace = xstrdup(buf_str(&ns));
        trim(c->namespace);
    }
    buf_release(&ns);
    c->source = xstrdup("in-cluster");
    return 0;
}

/* The entry of list (an array of {name, KEY: {...}}) called name. */
static const cJSON *named(const cJSON *list, const char *key, const char *name)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
            return cJSON_GetObjectItemCaseSensitive(it, key);
    }
    return NULL;
}

static const char *str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

/* PEM from KEY-data (base64) or KEY (a file). */
static int pem(const cJSON *obj, const char *key, const char *dir, struct buf *out,
               const char *where, char *err, size_t errlen)
{
    char dkey[128];
    snprintf(dkey, sizeof(dkey), "%s-data", key);
    const char *data = str(obj, dkey), *file = str(obj, key);
    if (data) {
        if (k8s_base64_decode(data, out) < 0) {
            snprintf(err, errlen, "%s: %s is not base64", where, dkey);
            return -1;
        }
        return 0;
    }
    if (!file)
        return 0;
    char *path = resolve(dir, file), what[700];
    snprintf(what, sizeof(what), "%s: %s", where, key);
    int rc = read_file(path, out, err, errlen, what);
    free(path);
    return rc;
}

static int from_kubeconfig(struct k8s_config *c, const char *file, char *err, size_t errlen)
{
    char perr[512];
    cJSON *kc = yaml_file_to_json(file, perr, sizeof(perr));
    if (!kc) {
        snprintf(err, errlen, "kubeconfig %s", perr);
        return -1;
    }
    char *dcopy = xstrdup(file);
    const char *dir = dirname(dcopy);
    int rc = -1;
    const char *cur = str(kc, "current-context");
    const cJSON *ctx =
        cur ? named(cJSON_GetObjectItemCaseSensitive(kc, "contexts"), "context", cur) : NULL;
    const char *cname = str(ctx, "cluster"), *uname = str(ctx, "user");
    const cJSON *cluster =
        cname ? named(cJSON_GetObjectItemCaseSensitive(kc, "clusters"), "cluster", cname) : NULL;
    const cJSON *user =
        uname ? named(cJSON_GetObjectItemCaseSensitive(kc, "users"), "user", uname) : NULL;
    if (!cur) {
        snprintf(err, errlen, "kubeconfig %s: current-context is not set", file);
    } else if (!ctx) {
        snprintf(err, errlen, "kubeconfig %s: context \"%s\" is not in contexts", file, cur);
    } else if (!cluster || !str(cluster, "server")) {
        snprintf(err, errlen, "kubeconfig %s: cluster \"%s\" (of context \"%s\") has no server",
                 file, cname ? cname : "", cur);
    } else if (uname && !user) {
        snprintf(err, errlen, "kubeconfig %s: user \"%s\" is not in users", file, uname);
    } else if (cJSON_GetObjectItemCaseSensitive(user, "exec") ||
               cJSON_GetObjectItemCaseSensitive(user, "auth-provider")) {
        snprintf(err, errlen,
                 "kubeconfig %s: user \"%s\" uses an exec or auth-provider plugin, which "
                 "pdsim-controller does not run; use a token or a client certificate",
                 file, uname);
    } else {
        c->server = xstrdup(str(cluster, "server"));
        c->insecure =
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cluster, "insecure-skip-tls-verify"));
        char cwhere[512], uwhere[512];
        snprintf(cwhere, sizeof(cwhere), "kubeconfig %s: cluster %s", file, cname);
        snprintf(uwhere, sizeof(uwhere), "kubeconfig %s: user %s", file, uname ? uname : "");
        rc = pem(cluster, "certificate-authority", dir, &c->ca, cwhere, err, errlen);
        rc = rc ? rc : pem(user, "client-certificate", dir, &c->cert, uwhere, err, errlen);
        rc = rc ? rc : pem(user, "client-key", dir, &c->key, uwhere, err, errlen);
        if (rc == 0 && (c->cert.len > 0) != (c->key.len > 0)) {
            snprintf(err, errlen,
                     "kubeconfig %s: user \"%s\" has a client certificate without its key (or the "
                     "reverse)",
                     file, uname);
            rc = -1;
        }
        if (rc == 0 && str(user, "token"))
            c->token = xstrdup(str(user, "token"));
        else if (rc == 0 && str(user, "tokenFile")) {
            c->token_file = resolve(dir, str(user, "tokenFile"));
            if (!k8s_config_token(c, true)) {
                snprintf(err, errlen, "kubeconfig %s: cannot read tokenFile %s", file,
                         c->token_file);
                rc = -1;
            }
        }
        if (rc == 0 && str(ctx, "namespace"))
            c->namespace = xstrdup(str(ctx, "namespace"));
        if (rc == 0)
            c->source = xstrdup(file);
    }
    free(dcopy);
    cJSON_Delete(kc);
    return rc;
}

int k8s_config_load(struct k8s_config *c, const char *kubeconfig, const char *sa_dir, char *err,
                    size_t errlen)
{
    init(c);
    if (!sa_dir)
        sa_dir = K8S_SA_DIR;
    if (kubeconfig && *kubeconfig)
        return from_kubeconfig(c, kubeconfig, err, errlen);
    const char *env = getenv("KUBECONFIG");
    if (env && *env) {
        char *list = xstrdup(env), *save = NULL;
        for (char *p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
            if (access(p, R_OK) == 0) {
                int rc = from_kubeconfig(c, p, err, errlen);
                free(list);
                return rc;
            }
        }
        free(list);
    }
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    char path[4096];
    snprintf(path, sizeof(path), "%s/token", sa_dir);
    if (host && *host && access(path, R_OK) == 0)
        return in_cluster(c, sa_dir, err, errlen);
    const char *home = getenv("HOME");
    if (home && *home) {
        snprintf(path, sizeof(path), "%s/.kube/config", home);
        if (access(path, R_OK) == 0)
            return from_kubeconfig(c, path, err, errlen);
    }
    snprintf(err, errlen,
             "no cluster configuration: pass --kubeconfig, set KUBECONFIG, run in a pod, or "
             "create ~/.kube/config");
    return -1;
}
