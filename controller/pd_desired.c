#include "controller/pd_desired.h"

#include "common/duration.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MAX_NAME 53 /* "NAME-p-service" stays within 63 characters */

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

int pd_flag_name(const char *key, char *out, size_t outlen)
{
    size_t o = 0, n = strlen(key);
    if (n == 0 || !islower((unsigned char)key[0]))
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        if (!isalnum(c))
            return -1;
        bool boundary = isupper(c) && i > 0 &&
                        (!isupper((unsigned char)key[i - 1]) ||
                         (i + 1 < n && islower((unsigned char)key[i + 1])));
        if (o + 2 >= outlen)
            return -1;
        if (boundary)
            out[o++] = '-';
        out[o++] = (char)tolower(c);
    }
    out[o] = '\0';
    return 0;
}

/* The fields of a role ("prefill"/"decode") this module reads. */
struct role {
    const char *name; /* "prefill" or "decode" */
    long replicas;
    const cJSON *simulator, *resources, *sidecar;
};

struct cr {
    const char *name, *ns, *uid, *model, *image, *svc_type;
    const cJSON *served, *simulator;
    long port;
    struct role prefill, decode;
};

static const cJSON *field(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNull(v) ? NULL : v;
}

static int opt_str(const cJSON *obj, const char *key, const char *path, const char **out, char *err,
                   size_t errlen)
{
    const cJSON *v = field(obj, key);
    if (!v)
        return 0;
    if (!cJSON_IsString(v))
        return fail(err, errlen, "%s.%s must be a string", path, key);
    *out = v->valuestring;
    return 0;
}

static int opt_obj(const cJSON *obj, const char *key, const char *path, const cJSON **out,
                   char *err, size_t errlen)
{
    const cJSON *v = field(obj, key);
    if (v && !cJSON_IsObject(v))
        return fail(err, errlen, "%s.%s must be an object", path, key);
    *out = v;
    return 0;
}

static int opt_long(const cJSON *obj, const char *key, const char *path, long lo, long hi,
                    long *out, char *err, size_t errlen)
{
    const cJSON *v = field(obj, key);
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi)
        return fail(err, errlen, "%s.%s must be an integer in [%ld, %ld]", path, key, lo, hi);
    *out = (long)v->valuedouble;
    return 0;
}

static bool dns_label(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || !islower((unsigned char)s[0]) || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-')
            return false;
    return true;
}

static int read_role(const cJSON *spec, const char *name, struct role *r, char *err, size_t errlen)
{
    char path[32];
    snprintf(path, sizeof(path), "spec.%s", name);
    const cJSON *obj;
    *r = (struct role){.name = name, .replicas = 1};
    if (opt_obj(spec, name, "spec", &obj, err, errlen) < 0)
        return -1;
    if (!obj)
        return 0;
    if (opt_long(obj, "replicas", path, 0, 10000, &r->replicas, err, errlen) < 0 ||
        opt_obj(obj, "simulator", path, &r->simulator, err, errlen) < 0 ||
        opt_obj(obj, "resources", path, &r->resources, err, errlen) < 0 ||
        opt_obj(obj, "sidecar", path, &r->sidecar, err, errlen) < 0)
        return -1;
    if (r->sidecar && strcmp(name, "decode") != 0)
        return fail(err, errlen, "%s.sidecar: only decode pods have a sidecar", path);
    return 0;
}

static int read_cr(const cJSON *cr, struct cr *c, char *err, size_t errlen)
{
    const cJSON *meta = NULL, *spec = NULL, *svc = NULL;
    *c = (struct cr){.ns = "default", .port = 8000, .svc_type = "ClusterIP"};
    if (!cJSON_IsObject(cr))
        return fail(err, errlen, "the resource is not a JSON object");
    if (opt_obj(cr, "metadata", "resource", &meta, err, errlen) < 0 ||
        opt_obj(cr, "spec", "resource", &spec, err, errlen) < 0)
        return -1;
    if (opt_str(meta, "name", "metadata", &c->name, err, errlen) < 0 ||
        opt_str(meta, "namespace", "metadata", &c->ns, err, errlen) < 0 ||
        opt_str(meta, "uid", "metadata", &c->uid, err, errlen) < 0)
        return -1;
    if (!c->name || !dns_label(c->name) || strlen(c->name) > MAX_NAME)
        return fail(err, errlen,
                    "metadata.name must be a DNS label of at most %d characters (so that "
                    "NAME-p-service fits in 63)",
                    MAX_NAME);
    if (!spec)
        return fail(err, errlen, "spec is missing");
    if (opt_str(spec, "model", "spec", &c->model, err, errlen) < 0 ||
        opt_str(spec, "image", "spec", &c->image, err, errlen) < 0 ||
        opt_obj(spec, "simulator", "spec", &c->simulator, err, errlen) < 0 ||
        opt_obj(spec, "service", "spec", &svc, err, errlen) < 0)
        return -1;
    if (!c->model || !*c->model)
        return fail(err, errlen, "spec.model is required");
    c->served = field(spec, "servedModelNames");
    if (c->served) {
        const cJSON *it;
        if (!cJSON_IsArray(c->served))
            return fail(err, errlen, "spec.servedModelNames must be a list of strings");
        cJSON_ArrayForEach(it, c->served)
        {
            if (!cJSON_IsString(it) || !*it->valuestring)
                return fail(err, errlen,
                            "spec.servedModelNames must be a list of non-empty strings");
        }
    }
    if (opt_long(svc, "port", "spec.service", 1, 65535, &c->port, err, errlen) < 0 ||
        opt_str(svc, "type", "spec.service", &c->svc_type, err, errlen) < 0)
        return -1;
    if (c->port == PD_DECODER_PORT)
        return fail(err, errlen, "spec.service.port must not be %d (the decode simulator's)",
                    PD_DECODER_PORT);
    if (strcmp(c->svc_type, "ClusterIP") != 0 && strcmp(c->svc_type, "NodePort") != 0 &&
        strcmp(c->svc_type, "LoadBalancer") != 0)
        return fail(err, errlen, "spec.service.type must be ClusterIP, NodePort or LoadBalancer");
    return read_role(spec, "prefill", &c->prefill, err, errlen) < 0 ||
                   read_role(spec, "decode", &c->decode, err, errlen) < 0
               ? -1
               : 0;
}

/* ---- simulator arguments ---- */

static void add_arg(cJSON *args, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_arg(cJSON *args, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    cJSON_AddItemToArray(args, cJSON_CreateString(buf));
}

static void number_text(double v, char *out, size_t outlen)
{
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(out, outlen, "%.0f", v);
    else
        snprintf(out, outlen, "%.17g", v);
}

/* One spec.simulator entry as flags. */
static int value_args(cJSON *args, const char *flag, const cJSON *v, const char *path, char *err,
                      size_t errlen)
{
    char num[64];
    if (cJSON_IsString(v)) {
        add_arg(args, "--%s=%s", flag, v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        number_text(v->valuedouble, num, sizeof(num));
        add_arg(args, "--%s=%s", flag, num);
    } else if (cJSON_IsBool(v)) {
        add_arg(args, "--%s=%s", flag, cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsArray(v)) { /* a list flag: --flag a b */
        const cJSON *it;
        add_arg(args, "--%s", flag);
        cJSON_ArrayForEach(it, v)
        {
            if (cJSON_IsString(it))
                add_arg(args, "%s", it->valuestring);
            else if (cJSON_IsNumber(it)) {
                number_text(it->valuedouble, num, sizeof(num));
                add_arg(args, "%s", num);
            } else
                return fail(err, errlen, "%s: list items must be strings or numbers", path);
        }
    } else if (!cJSON_IsNull(v)) {
        return fail(err, errlen, "%s must be a string, number, boolean or list", path);
    }
    return 0;
}

/* --port, --model and --served-model-name come from the resource itself. */
static bool reserved(const char *flag)
{
    static const char *const r[] = {"port", "model", "served-model-name", "host", NULL};
    for (size_t i = 0; r[i]; i++)
        if (strcmp(flag, r[i]) == 0)
            return true;
    return false;
}

/* A latency setting as nanoseconds: a duration string, or a number of ms. */
static bool latency_ns(const cJSON *v, int64_t *ns)
{
    if (cJSON_IsNumber(v)) {
        /* .inf, .nan or 1e300 ms have no int64 nanoseconds (found by fuzzing);
         * such a value is not a latency, and the simulator's flag check says so */
        double ms = v->valuedouble;
        if (!isfinite(ms) || fabs(ms) > 9e12)
            return false;
        *ns = (int64_t)(ms * 1e6);
        return true;
    }
    return cJSON_IsString(v) && duration_parse(v->valuestring, ns, NULL, 0) == 0;
}

/* Upstream refuses a std-dev above 0.3 x its mean. The CRD's CEL checks each
 * simulator object alone; this checks the merged values a pod gets (a mean in
 * spec.simulator, its std-dev in the role's overrides). */
static int check_std_devs(const struct cr *c, const struct role *r, char *err, size_t errlen)
{
    static const char *const pairs[][2] = {
        {"timeToFirstToken", "timeToFirstTokenStdDev"},
        {"interTokenLatency", "interTokenLatencyStdDev"},
        {"kvCacheTransferLatency", "kvCacheTransferLatencyStdDev"}};
    for (size_t i = 0; i < 3; i++) {
        const cJSON *mean = cJSON_GetObjectItemCaseSensitive(r->simulator, pairs[i][0]);
        const cJSON *sd = cJSON_GetObjectItemCaseSensitive(r->simulator, pairs[i][1]);
        mean = mean ? mean : cJSON_GetObjectItemCaseSensitive(c->simulator, pairs[i][0]);
        sd = sd ? sd : cJSON_GetObjectItemCaseSensitive(c->simulator, pairs[i][1]);
        int64_t m, s;
        if (mean && sd && latency_ns(mean, &m) && latency_ns(sd, &s) &&
            (double)s * 10 > (double)m * 3) /* in doubles: int64 x 10 can overflow */
            return fail(err, errlen,
                        "spec.%s.simulator: %s must be at most 0.3 x %s (as upstream requires; "
                        "spec.simulator merged with the role's simulator)",
                        r->name, pairs[i][1], pairs[i][0]);
    }
    return 0;
}

static int simulator_args(cJSON *args, const struct cr *c, const struct role *r, long port,
                          char *err, size_t errlen)
{
    if (check_std_devs(c, r, err, errlen) < 0)
        return -1;
    add_arg(args, "--port=%ld", port);
    add_arg(args, "--model=%s", c->model);
    if (c->served && cJSON_GetArraySize(c->served) > 0) {
        char path[] = "spec.servedModelNames";
        if (value_args(args, "served-model-name", c->served, path, err, errlen) < 0)
            return -1;
    }
    /* spec.simulator, each key overridden in place by the role's value, then
     * the role's own keys. */
    const cJSON *it;
    char flag[128], path[200];
    for (int pass = 0; pass < 2; pass++) {
        const cJSON *src = pass == 0 ? c->simulator : r->simulator;
        cJSON_ArrayForEach(it, src)
        {
            const cJSON *role_v = cJSON_GetObjectItemCaseSensitive(r->simulator, it->string);
            if (pass == 1 && cJSON_GetObjectItemCaseSensitive(c->simulator, it->string))
                continue; /* already placed by pass 0 */
            const cJSON *v = pass == 0 && role_v ? role_v : it;
            if (pass == 0 && role_v)
                snprintf(path, sizeof(path), "spec.%s.simulator.%s", r->name, it->string);
            else if (pass == 0)
                snprintf(path, sizeof(path), "spec.simulator.%s", it->string);
            else
                snprintf(path, sizeof(path), "spec.%s.simulator.%s", r->name, it->string);
            if (pd_flag_name(it->string, flag, sizeof(flag)) < 0)
                return fail(err, errlen, "%s: keys are camelCase flag names (maxNumSeqs)", path);
            if (reserved(flag))
                return fail(err, errlen, "%s: set by the controller from spec", path);
            if (value_args(args, flag, v, path, err, errlen) < 0)
                return -1;
        }
    }
    return 0;
}

static int sidecar_args(cJSON *args, const struct cr *c, char *err, size_t errlen)
{
    const char *conn = "nixlv2";
    const cJSON *dp = field(c->decode.sidecar, "defaultPrefiller");
    const cJSON *ssrf = field(c->decode.sidecar, "enableSSRFProtection");
    if (opt_str(c->decode.sidecar, "connector", "spec.decode.sidecar", &conn, err, errlen) < 0)
        return -1;
    static const char *const conns[] = {"nixlv2",  "nixl",   "shared-storage",
                                        "lmcache", "sglang", NULL};
    size_t i = 0;
    while (conns[i] && strcmp(conns[i], conn) != 0)
        i++;
    if (!conns[i])
        return fail(err, errlen,
                    "spec.decode.sidecar.connector must be nixlv2, nixl, shared-storage, "
                    "lmcache or sglang");
    if ((dp && !cJSON_IsBool(dp)) || (ssrf && !cJSON_IsBool(ssrf)))
        return fail(err, errlen,
                    "spec.decode.sidecar.defaultPrefiller and enableSSRFProtection are booleans");
    add_arg(args, "--port=%ld", c->port);
    add_arg(args, "--model-server-port=%d", PD_DECODER_PORT);
    add_arg(args, "--kv-connector=%s", conn);
    add_arg(args, "--secure-proxy=false");
    if (!dp || cJSON_IsTrue(dp))
        add_arg(args, "--default-prefiller=%s-p-service:%ld", c->name, c->port);
    if (cJSON_IsTrue(ssrf)) { /* the prefill Service, by its short and full names */
        add_arg(args, "--enable-ssrf-protection=true");
        add_arg(args,
                "--ssrf-allow=%s-p-service,%s-p-service.%s.svc,%s-p-service.%s.svc.cluster.local",
                c->name, c->name, c->ns, c->name, c->ns);
    }
    return 0;
}

/* ---- objects ---- */

static cJSON *labels(const struct cr *c, const char *role, bool selector)
{
    cJSON *l = cJSON_CreateObject();
    if (!selector) {
        cJSON_AddStringToObject(l, "app.kubernetes.io/name", "pdsim");
        cJSON_AddStringToObject(l, "app.kubernetes.io/component", role);
        cJSON_AddStringToObject(l, "app.kubernetes.io/managed-by", "pdsim-controller");
    }
    cJSON_AddStringToObject(l, "app.kubernetes.io/instance", c->name);
    cJSON_AddStringToObject(l, "llm-d.ai/role", role);
    return l;
}

static cJSON *metadata(const struct cr *c, const char *name, const char *role)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "name", name);
    cJSON_AddStringToObject(m, "namespace", c->ns);
    cJSON_AddItemToObject(m, "labels", labels(c, role, false));
    if (c->uid) { /* local mode has no API server and no uid */
        cJSON *ref = cJSON_CreateObject();
        cJSON_AddStringToObject(ref, "apiVersion", "pdsim.io/v1alpha1");
        cJSON_AddStringToObject(ref, "kind", "PDSimulation");
        cJSON_AddStringToObject(ref, "name", c->name);
        cJSON_AddStringToObject(ref, "uid", c->uid);
        cJSON_AddBoolToObject(ref, "controller", 1);
        cJSON_AddBoolToObject(ref, "blockOwnerDeletion", 1);
        cJSON *refs = cJSON_AddArrayToObject(m, "ownerReferences");
        cJSON_AddItemToArray(refs, ref);
    }
    return m;
}

static cJSON *env_from_field(const char *name, const char *path)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", name);
    cJSON *from = cJSON_AddObjectToObject(e, "valueFrom");
    cJSON *ref = cJSON_AddObjectToObject(from, "fieldRef");
    cJSON_AddStringToObject(ref, "fieldPath", path);
    return e;
}

static cJSON *container(const struct cr *c, const struct pd_opts *o, const char *name,
                        const char *command, cJSON *args, long port, const char *ready_path,
                        const cJSON *resources)
{
    cJSON *k = cJSON_CreateObject();
    cJSON_AddStringToObject(k, "name", name);
    cJSON_AddStringToObject(k, "image", c->image && *c->image ? c->image : o->image);
    if (o->pull_policy)
        cJSON_AddStringToObject(k, "imagePullPolicy", o->pull_policy);
    cJSON *cmd = cJSON_AddArrayToObject(k, "command");
    cJSON_AddItemToArray(cmd, cJSON_CreateString(command));
    cJSON_AddItemToObject(k, "args", args);
    cJSON *ports = cJSON_AddArrayToObject(k, "ports");
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "name", "http");
    cJSON_AddNumberToObject(p, "containerPort", (double)port);
    cJSON_AddStringToObject(p, "protocol", "TCP");
    cJSON_AddItemToArray(ports, p);
    cJSON *env = cJSON_AddArrayToObject(k, "env");
    cJSON_AddItemToArray(env, env_from_field("POD_NAME", "metadata.name"));
    cJSON_AddItemToArray(env, env_from_field("POD_NAMESPACE", "metadata.namespace"));
    cJSON_AddItemToArray(env, env_from_field("POD_IP", "status.podIP"));
    cJSON *probe = cJSON_AddObjectToObject(k, "readinessProbe");
    cJSON *get = cJSON_AddObjectToObject(probe, "httpGet");
    cJSON_AddStringToObject(get, "path", ready_path);
    cJSON_AddNumberToObject(get, "port", (double)port);
    cJSON_AddNumberToObject(probe, "periodSeconds", 2);
    if (resources)
        cJSON_AddItemToObject(k, "resources", cJSON_Duplicate(resources, 1));
    /* Hardened as the Pod Security "restricted" profile asks; /tmp (an emptyDir)
     * is the only writable place, for the self-signed certificate file. */
    cJSON *sec = cJSON_AddObjectToObject(k, "securityContext");
    cJSON_AddFalseToObject(sec, "allowPrivilegeEscalation");
    cJSON_AddTrueToObject(sec, "readOnlyRootFilesystem");
    cJSON *drop = cJSON_AddArrayToObject(cJSON_AddObjectToObject(sec, "capabilities"), "drop");
    cJSON_AddItemToArray(drop, cJSON_CreateString("ALL"));
    cJSON *mount = cJSON_CreateObject();
    cJSON_AddStringToObject(mount, "name", "tmp");
    cJSON_AddStringToObject(mount, "mountPath", "/tmp");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(k, "volumeMounts"), mount);
    return k;
}

/* The pod's part of the hardening: non-root (the image's user), the runtime's
 * default seccomp profile, and the /tmp emptyDir the containers mount. */
static void harden_pod(cJSON *pspec)
{
    cJSON *sec = cJSON_AddObjectToObject(pspec, "securityContext");
    cJSON_AddTrueToObject(sec, "runAsNonRoot");
    cJSON_AddNumberToObject(sec, "runAsUser", 65532);
    cJSON_AddNumberToObject(sec, "runAsGroup", 65532);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(sec, "seccompProfile"), "type",
                            "RuntimeDefault");
    cJSON *tmp = cJSON_CreateObject();
    cJSON_AddStringToObject(tmp, "name", "tmp");
    cJSON_AddObjectToObject(tmp, "emptyDir");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(pspec, "volumes"), tmp);
}

static cJSON *deployment(const struct cr *c, const struct role *r, cJSON *containers)
{
    char name[80];
    snprintf(name, sizeof(name), "%s-%c", c->name, r->name[0]);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "apiVersion", "apps/v1");
    cJSON_AddStringToObject(d, "kind", "Deployment");
    cJSON_AddItemToObject(d, "metadata", metadata(c, name, r->name));
    cJSON *spec = cJSON_AddObjectToObject(d, "spec");
    cJSON_AddNumberToObject(spec, "replicas", (double)r->replicas);
    cJSON *sel = cJSON_AddObjectToObject(spec, "selector");
    cJSON_AddItemToObject(sel, "matchLabels", labels(c, r->name, true));
    cJSON *tmpl = cJSON_AddObjectToObject(spec, "template");
    cJSON *tmeta = cJSON_AddObjectToObject(tmpl, "metadata");
    cJSON_AddItemToObject(tmeta, "labels", labels(c, r->name, false));
    cJSON *pspec = cJSON_AddObjectToObject(tmpl, "spec");
    cJSON_AddItemToObject(pspec, "containers", containers);
    harden_pod(pspec);
    return d;
}

static cJSON *service(const struct cr *c, const char *role)
{
    char name[80];
    snprintf(name, sizeof(name), "%s-%c-service", c->name, role[0]);
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "apiVersion", "v1");
    cJSON_AddStringToObject(s, "kind", "Service");
    cJSON_AddItemToObject(s, "metadata", metadata(c, name, role));
    cJSON *spec = cJSON_AddObjectToObject(s, "spec");
    cJSON_AddStringToObject(spec, "type", c->svc_type);
    cJSON_AddItemToObject(spec, "selector", labels(c, role, true));
    cJSON *ports = cJSON_AddArrayToObject(spec, "ports");
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "name", "http");
    cJSON_AddNumberToObject(p, "port", (double)c->port);
    cJSON_AddNumberToObject(p, "targetPort", (double)c->port);
    cJSON_AddStringToObject(p, "protocol", "TCP");
    cJSON_AddItemToArray(ports, p);
    return s;
}

cJSON *pd_desired_children(const cJSON *cr, const struct pd_opts *o, char *err, size_t errlen)
{
    struct cr c;
    if (read_cr(cr, &c, err, errlen) < 0)
        return NULL;
    if ((!c.image || !*c.image) && (!o->image || !*o->image)) {
        fail(err, errlen, "spec.image is empty and the controller has no --image");
        return NULL;
    }
    cJSON *pargs = cJSON_CreateArray(), *dargs = cJSON_CreateArray(), *sargs = cJSON_CreateArray();
    if (simulator_args(pargs, &c, &c.prefill, c.port, err, errlen) < 0 ||
        simulator_args(dargs, &c, &c.decode, PD_DECODER_PORT, err, errlen) < 0 ||
        sidecar_args(sargs, &c, err, errlen) < 0) {
        cJSON_Delete(pargs);
        cJSON_Delete(dargs);
        cJSON_Delete(sargs);
        return NULL;
    }
    cJSON *pcont = cJSON_CreateArray(), *dcont = cJSON_CreateArray();
    cJSON_AddItemToArray(pcont, container(&c, o, "simulator", "pdsim-simulator", pargs, c.port,
                                          "/health", c.prefill.resources));
    cJSON_AddItemToArray(
        dcont, container(&c, o, "sidecar", "pdsim-sidecar", sargs, c.port, "/ready", NULL));
    cJSON_AddItemToArray(dcont, container(&c, o, "simulator", "pdsim-simulator", dargs,
                                          PD_DECODER_PORT, "/health", c.decode.resources));
    cJSON *out = cJSON_CreateArray();
    cJSON_AddItemToArray(out, deployment(&c, &c.prefill, pcont));
    cJSON_AddItemToArray(out, service(&c, "prefill"));
    cJSON_AddItemToArray(out, deployment(&c, &c.decode, dcont));
    cJSON_AddItemToArray(out, service(&c, "decode"));
    return out;
}
