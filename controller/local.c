#define _GNU_SOURCE
#include "controller/local.h"

#include "common/log.h"
#include "common/xalloc.h"
#include "common/yamljson.h"
#include "controller/crd_check.h"
#include "controller/pd_desired.h"
#include "controller/pd_status.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_INIT  1.0
#define BACKOFF_MAX   30.0
#define BACKOFF_RESET 10.0 /* up this long: the next crash starts from BACKOFF_INIT */
#define STOP_GRACE    10.0

enum { PREFILL, DECODE };

struct proc {
    char name[200]; /* POD/CONTAINER */
    char ns[128];   /* the resource's namespace, for POD_NAMESPACE */
    char **argv;    /* argv[0]: the binary */
    int argc;
    pid_t pid; /* 0: not running */
    int restarts;
    double backoff, next_start, started, next_probe;
    int probe_port;
    char probe_path[128];
    bool ready;
    CURL *probe;
    int pod;
};

struct pod {
    int sim, role;
    int first, n; /* its processes */
    int port;     /* where the role's traffic goes: the sidecar, or the prefill simulator */
    atomic_bool ready;
};

struct front {
    int fd, port;
    int *pods; /* pod indexes */
    int npods;
    atomic_uint rr;
    pthread_t thread;
    bool started; /* thread is running */
};

struct sim {
    cJSON *cr, *status;
    char *name, *model;
    int role_port[2];       /* the role's stable address */
    int printed_restarts;   /* the RESTARTS column last printed */
    struct front *front[2]; /* NULL: one replica listens on role_port itself */
    int replicas[2];
};

struct local {
    int ports[512]; /* handed out, so that no two children get the same free port */
    int nports;
    struct sim *sims;
    int nsims;
    struct proc *procs;
    int nprocs;
    struct pod *pods;
    int npods;
    atomic_bool stopping;
};

/* One line at a time on stdout and stderr. Static: the output readers are
 * detached and may still finish a line while local_run returns. */
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- ports ---- */

static int listen_on(int port, int *real)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1024) < 0) {
        close(fd);
        return -1;
    }
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    *real = ntohs(a.sin_port);
    return fd;
}

/* A loopback port free right now (bound, then released), or -1. port > 0:
 * check that one. */
static int free_port(int port)
{
    int real = -1, fd = listen_on(port, &real);
    if (fd < 0)
        return -1;
    close(fd);
    return real;
}

/* A free loopback port (port > 0: that one) not handed out before, or -1. */
static int alloc_port(struct local *l, int port)
{
    for (int tries = 0; tries < 100; tries++) {
        int p = free_port(port);
        if (p < 0)
            return -1;
        bool seen = false;
        for (int i = 0; i < l->nports; i++)
            seen = seen || l->ports[i] == p;
        if (seen && port > 0)
            return -1;
        if (!seen) {
            if (l->nports < (int)(sizeof(l->ports) / sizeof(l->ports[0])))
                l->ports[l->nports++] = p;
            return p;
        }
    }
    return -1;
}

/* ---- the TCP round-robin front ---- */

struct relay {
    int a, b;
};

static void *relay_thread(void *arg)
{
    struct relay r = *(struct relay *)arg;
    free(arg);
    struct pollfd p[2] = {{.fd = r.a, .events = POLLIN}, {.fd = r.b, .events = POLLIN}};
    bool open_in[2] = {true, true};
    char buf[65536];
    while (open_in[0] || open_in[1]) {
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (!open_in[i] || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(p[i].fd, buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) { /* reset: pass a reset on (SO_LINGER 0 makes close send RST) */
                struct linger lg = {1, 0};
                setsockopt(i == 0 ? r.b : r.a, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                goto done;
            }
            if (n == 0) { /* half-close: pass the end on */
                open_in[i] = false;
                p[i].events = 0;
                p[i].fd = -1;
                shutdown(i == 0 ? r.b : r.a, SHUT_WR);
                continue;
            }
            int to = i == 0 ? r.b : r.a;
            for (ssize_t off = 0; off < n;) {
                ssize_t w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
                if (w <= 0)
                    goto done;
                off += w;
            }
        }
    }
done:
    close(r.a);
    close(r.b);
    return NULL;
}

struct front_arg {
    struct local *l;
    struct front *f;
};

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one));
    return fd;
}

static void *front_thread(void *arg)
{
    struct front_arg fa = *(struct front_arg *)arg;
    free(arg);
    struct front *f = fa.f;
    for (;;) {
        int c = accept4(f->fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINVAL || errno == EBADF || errno == ENOTSOCK)
                return NULL;                               /* the listening socket was shut down */
            if (errno != EINTR && errno != ECONNABORTED) { /* EMFILE, ENOBUFS...: wait, go on */
                log_warn("front: accept failed", LOG_INT("port", f->port),
                         LOG_STR("error", strerror(errno)));
                struct timespec t = {0, 100 * 1000000L};
                nanosleep(&t, NULL);
            }
            continue;
        }
        int one = 1;
        setsockopt(c, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one));
        /* Round robin over the ready replicas, as a Service over its ready
         * endpoints; when none is ready, over all of them. */
        int b = -1;
        for (int pass = 0; pass < 2 && b < 0; pass++) {
            for (int k = 0; k < f->npods && b < 0; k++) {
                struct pod *p =
                    &fa.l->pods[f->pods[atomic_fetch_add(&f->rr, 1) % (unsigned)f->npods]];
                if (pass == 0 && !atomic_load(&p->ready))
                    continue;
                b = connect_to(p->port);
            }
        }
        if (b < 0) {
            close(c); /* no endpoint: the client sees the connection end */
            continue;
        }
        struct relay *r = xmalloc(sizeof(*r));
        *r = (struct relay){c, b};
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, 256 * 1024);
        if (pthread_create(&t, &at, relay_thread, r) != 0) {
            close(c);
            close(b);
            free(r);
        }
        pthread_attr_destroy(&at);
    }
}

/* ---- children ---- */

struct reader {
    int fd;
    char prefix[220];
    pthread_mutex_t *mu;
};

/* Copy a child's output to stderr, a line at a time, with its prefix. */
static void *reader_thread(void *arg)
{
    struct reader r = *(struct reader *)arg;
    free(arg);
    FILE *in = fdopen(r.fd, "r");
    if (!in) {
        close(r.fd);
        return NULL;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, in)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        pthread_mutex_lock(r.mu);
        fprintf(stderr, "%s | %s\n", r.prefix, line);
        pthread_mutex_unlock(r.mu);
    }
    free(line);
    fclose(in);
    return NULL;
}

extern char **environ;

/* The parent's environment plus what the pod's downward API gives its
 * containers (POD_NAME, POD_NAMESPACE, POD_IP). Built before fork: the child
 * of a threaded process may not allocate. */
static char **child_env(const struct proc *p)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = xcalloc(n + 4, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "POD_NAME=", 9) && strncmp(environ[i], "POD_NAMESPACE=", 14) &&
            strncmp(environ[i], "POD_IP=", 7))
            env[k++] = environ[i];
    const char *slash = strchr(p->name, '/');
    char buf[300];
    snprintf(buf, sizeof(buf), "POD_NAME=%.*s", (int)(slash ? slash - p->name : 0), p->name);
    env[k++] = xstrdup(buf);
    snprintf(buf, sizeof(buf), "POD_NAMESPACE=%s", p->ns);
    env[k++] = xstrdup(buf);
    env[k++] = xstrdup("POD_IP=127.0.0.1");
    env[k] = NULL;
    return env;
}

static void free_child_env(char **env)
{
    size_t n = 0;
    while (env[n])
        n++;
    for (size_t i = n - 3; i < n; i++) /* the three made here; the rest are environ's */
        free(env[i]);
    free(env);
}

static int start_proc(struct proc *p)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -1;
    char **env = child_env(p);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        free_child_env(env);
        return -1;
    }
    if (pid == 0) {
        /* Own process group (a terminal's Ctrl-C reaches the parent, which
         * stops the children in order); dies with the parent. */
        setpgid(0, 0);
        /* SIGKILL, not SIGTERM: a parent killed with SIGKILL gets no chance to
         * stop its children, and a child draining for a minute would keep the
         * role's port. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        if (null > 2)
            close(null);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        execve(p->argv[0], p->argv, env);
        static const char msg[] = "cannot exec the binary\n"; /* async-signal-safe */
        ssize_t w = write(2, msg, sizeof(msg) - 1);
        (void)w;
        _exit(127);
    }
    close(fds[1]);
    free_child_env(env);
    struct reader *r = xmalloc(sizeof(*r));
    r->fd = fds[0];
    r->mu = &out_mu;
    snprintf(r->prefix, sizeof(r->prefix), "%s", p->name);
    pthread_t t;
    if (pthread_create(&t, NULL, reader_thread, r) == 0)
        pthread_detach(t);
    else {
        close(fds[0]);
        free(r);
    }
    p->pid = pid;
    p->started = now_s();
    p->ready = false;
    p->next_probe = p->started + 0.1;
    log_info("started", LOG_STR("process", p->name), LOG_INT("pid", pid),
             LOG_INT("restarts", p->restarts));
    return 0;
}

static size_t discard(char *d, size_t s, size_t n, void *u)
{
    (void)d;
    (void)u;
    return s * n;
}

static bool probe(struct proc *p)
{
    if (!p->probe) {
        p->probe = curl_easy_init();
        char url[256];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", p->probe_port, p->probe_path);
        curl_easy_setopt(p->probe, CURLOPT_URL, url);
        curl_easy_setopt(p->probe, CURLOPT_TIMEOUT_MS, 500L); /* it runs in the supervisor loop */
        curl_easy_setopt(p->probe, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(p->probe, CURLOPT_WRITEFUNCTION, discard);
    }
    long code = 0;
    if (curl_easy_perform(p->probe) == CURLE_OK)
        curl_easy_getinfo(p->probe, CURLINFO_RESPONSE_CODE, &code);
    return code >= 200 && code < 400; /* as the kubelet's httpGet probe */
}

/* ---- building the processes from pd_desired's children ---- */

static char *find_binary(const char *dir, const char *name)
{
    char path[PATH_MAX + 64], self[PATH_MAX];
    struct stat st;
    if (dir) {
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return stat(path, &st) == 0 ? xstrdup(path) : NULL;
    }
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = '\0';
        /* installed side by side, or the build tree (controller/, simulator/, sidecar/) */
        const char *sub = strcmp(name, "pdsim-simulator") == 0 ? "simulator" : "sidecar";
        snprintf(path, sizeof(path), "%s/%s", self, name);
        if (stat(path, &st) == 0)
            return xstrdup(path);
        snprintf(path, sizeof(path), "%s/../%s/%s", self, sub, name);
        if (stat(path, &st) == 0)
            return realpath(path, NULL);
    }
    const char *env = getenv("PATH");
    char *copy = xstrdup(env ? env : "/usr/local/bin:/usr/bin:/bin"), *save = NULL;
    for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(path, sizeof(path), "%s/%s", d, name);
        if (stat(path, &st) == 0 && (st.st_mode & S_IXUSR)) {
            free(copy);
            return xstrdup(path);
        }
    }
    free(copy);
    return NULL;
}

static void add_arg(struct proc *p, const char *a)
{
    p->argv = xrealloc(p->argv, (size_t)(p->argc + 2) * sizeof(char *));
    p->argv[p->argc++] = xstrdup(a);
    p->argv[p->argc] = NULL;
}

static const char *sstr(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b)
        v = cJSON_GetObjectItemCaseSensitive(v, b);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static long num_at(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, a), b);
    return cJSON_IsNumber(v) ? (long)v->valuedouble : -1;
}

/* A pod's args for loopback: ports through the pod's map, the default
 * prefiller to the prefill address, loopback prefill targets allowed. */
static void local_args(struct proc *p, const cJSON *args, int map[][2], int nmap,
                       const char *prefill_svc, int prefill_port)
{
    const cJSON *a;
    char buf[1024];
    cJSON_ArrayForEach(a, args)
    {
        const char *s = a->valuestring, *eq = strchr(s, '=');
        if (eq && strncmp(s, "--", 2) == 0 && eq - s >= 6 && strncmp(eq - 4, "port", 4) == 0) {
            long v = strtol(eq + 1, NULL, 10);
            for (int i = 0; i < nmap; i++) {
                if (map[i][0] == v) {
                    snprintf(buf, sizeof(buf), "%.*s=%d", (int)(eq - s), s, map[i][1]);
                    s = buf;
                    break;
                }
            }
        } else if (eq && strncmp(s, "--default-prefiller=", 20) == 0 &&
                   strncmp(eq + 1, prefill_svc, strlen(prefill_svc)) == 0) {
            snprintf(buf, sizeof(buf), "--default-prefiller=127.0.0.1:%d", prefill_port);
            s = buf;
        } else if (eq && strncmp(s, "--ssrf-allow=", 13) == 0) {
            snprintf(buf, sizeof(buf), "%s,127.0.0.1,localhost", s);
            s = buf;
        }
        add_arg(p, s);
    }
    add_arg(p, "--host=127.0.0.1");
}

static int build(struct local *l, struct sim *s, const cJSON *children, const char *sim_bin,
                 const char *sc_bin, char *err, size_t errlen)
{
    char psvc[300];
    snprintf(psvc, sizeof(psvc), "%s-p-service", s->name);
    const cJSON *child;
    int idx = (int)(s - l->sims);
    cJSON_ArrayForEach(child, children)
    {
        const char *kind = cJSON_GetObjectItemCaseSensitive(child, "kind")->valuestring;
        if (strcmp(kind, "Deployment") != 0)
            continue;
        const char *dname = cJSON_GetObjectItemCaseSensitive(
                                cJSON_GetObjectItemCaseSensitive(child, "metadata"), "name")
                                ->valuestring;
        int role = dname[strlen(dname) - 1] == 'p' ? PREFILL : DECODE;
        long replicas = num_at(child, "spec", "replicas");
        s->replicas[role] = (int)replicas;
        const cJSON *containers = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(child, "spec"),
                                                 "template"),
                "spec"),
            "containers");
        for (long r = 0; r < replicas; r++) {
            /* the pod's ports: containerPort -> a loopback port; the role's
             * port (8000 on the sidecar or prefill simulator) is the role's
             * address when it has one replica */
            int map[8][2], nmap = 0;
            const cJSON *c, *pt;
            cJSON_ArrayForEach(c, containers)
            {
                cJSON_ArrayForEach(pt, cJSON_GetObjectItemCaseSensitive(c, "ports"))
                {
                    if (nmap == 8)
                        break;
                    const cJSON *cpv = cJSON_GetObjectItemCaseSensitive(pt, "containerPort");
                    int cp = cJSON_IsNumber(cpv) ? cpv->valueint : 0;
                    bool front_port = cp != PD_DECODER_PORT;
                    int lp = front_port && replicas == 1 && !s->front[role] ? s->role_port[role]
                                                                            : alloc_port(l, 0);
                    if (lp < 0) {
                        snprintf(err, errlen, "no free loopback port");
                        return -1;
                    }
                    map[nmap][0] = cp;
                    map[nmap++][1] = lp;
                }
            }
            l->pods = xrealloc(l->pods, (size_t)(l->npods + 1) * sizeof(*l->pods));
            struct pod *pod = &l->pods[l->npods];
            memset(pod, 0, sizeof(*pod));
            pod->sim = idx;
            pod->role = role;
            pod->first = l->nprocs;
            cJSON_ArrayForEach(c, containers)
            {
                l->procs = xrealloc(l->procs, (size_t)(l->nprocs + 1) * sizeof(*l->procs));
                struct proc *p = &l->procs[l->nprocs++];
                memset(p, 0, sizeof(*p));
                p->pod = l->npods;
                const char *cname = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
                snprintf(p->name, sizeof(p->name), "%s-%ld/%s", dname, r, cname);
                snprintf(p->ns, sizeof(p->ns), "%s", sstr(s->cr, "metadata", "namespace"));
                const char *cmd =
                    cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c, "command"), 0)
                        ->valuestring;
                const char *bin = strcmp(cmd, "pdsim-sidecar") == 0 ? sc_bin : sim_bin;
                add_arg(p, bin);
                local_args(p, cJSON_GetObjectItemCaseSensitive(c, "args"), map, nmap, psvc,
                           s->role_port[PREFILL]);
                const cJSON *get = cJSON_GetObjectItemCaseSensitive(
                    cJSON_GetObjectItemCaseSensitive(c, "readinessProbe"), "httpGet");
                const cJSON *path = cJSON_GetObjectItemCaseSensitive(get, "path");
                snprintf(p->probe_path, sizeof(p->probe_path), "%s",
                         cJSON_IsString(path) ? path->valuestring : "/health");
                const cJSON *ppv = cJSON_GetObjectItemCaseSensitive(get, "port");
                int pport = cJSON_IsNumber(ppv) ? ppv->valueint : 0;
                for (int i = 0; i < nmap; i++)
                    if (map[i][0] == pport)
                        p->probe_port = map[i][1];
                if (strcmp(cname, "sidecar") == 0 || role == PREFILL)
                    pod->port = p->probe_port;
                p->backoff = BACKOFF_INIT;
            }
            pod->n = l->nprocs - pod->first;
            l->npods++;
        }
    }
    return 0;
}

/* ---- status ---- */

static cJSON *fake_deployment(struct local *l, int sim, int role, const char *name)
{
    int ready = 0;
    for (int i = 0; i < l->npods; i++)
        if (l->pods[i].sim == sim && l->pods[i].role == role && atomic_load(&l->pods[i].ready))
            ready++;
    int want = l->sims[sim].replicas[role];
    cJSON *d = cJSON_CreateObject();
    cJSON *md = cJSON_AddObjectToObject(d, "metadata");
    cJSON_AddStringToObject(md, "name", name);
    cJSON_AddNumberToObject(md, "generation", 1);
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(d, "spec"), "replicas", want);
    cJSON *st = cJSON_AddObjectToObject(d, "status");
    cJSON_AddNumberToObject(st, "observedGeneration", 1);
    cJSON_AddNumberToObject(st, "replicas", want);
    cJSON_AddNumberToObject(st, "updatedReplicas", want);
    cJSON_AddNumberToObject(st, "readyReplicas", ready);
    cJSON_AddNumberToObject(st, "availableReplicas", ready);
    return d;
}

/* Recompute every status; true when one changed. */
static bool update_status(struct local *l)
{
    bool changed = false;
    char now[32];
    pd_now(now, sizeof(now));
    for (int i = 0; i < l->nsims; i++) {
        struct sim *s = &l->sims[i];
        char n[300];
        snprintf(n, sizeof(n), "%s-p", s->name);
        cJSON *p = fake_deployment(l, i, PREFILL, n);
        snprintf(n, sizeof(n), "%s-d", s->name);
        cJSON *d = fake_deployment(l, i, DECODE, n);
        cJSON *st = pd_status(s->cr, p, d, s->status, NULL, NULL, now);
        char ep[64];
        snprintf(ep, sizeof(ep), "127.0.0.1:%d", s->role_port[DECODE]);
        cJSON_ReplaceItemInObject(st, "endpoint", cJSON_CreateString(ep));
        snprintf(ep, sizeof(ep), "127.0.0.1:%d", s->role_port[PREFILL]);
        cJSON_ReplaceItemInObject(st, "prefillEndpoint", cJSON_CreateString(ep));
        cJSON_Delete(p);
        cJSON_Delete(d);
        int restarts = 0;
        for (int k = 0; k < l->nprocs; k++)
            if (l->pods[l->procs[k].pod].sim == i)
                restarts += l->procs[k].restarts;
        if (restarts != s->printed_restarts) {
            s->printed_restarts = restarts;
            changed = true;
        }
        if (!s->status || !cJSON_Compare(st, s->status, 1)) {
            cJSON_Delete(s->status);
            s->status = st;
            changed = true;
        } else {
            cJSON_Delete(st);
        }
    }
    return changed;
}

static const char *cond(const cJSON *status, const char *type)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(pd_condition(status, type), "status");
    return cJSON_IsString(st) ? st->valuestring : "Unknown";
}

static void print_table(struct local *l)
{
    int w = 4, wm = 5;
    for (int i = 0; i < l->nsims; i++) {
        w = (int)strlen(l->sims[i].name) > w ? (int)strlen(l->sims[i].name) : w;
        wm = (int)strlen(l->sims[i].model) > wm ? (int)strlen(l->sims[i].model) : wm;
    }
    char now[32];
    pd_now(now, sizeof(now));
    pthread_mutex_lock(&out_mu);
    printf("\n%s\n%-*s  %-*s  %-7s  %-7s  %-5s  %-11s  %-21s  %-21s  %s\n", now, w, "NAME", wm,
           "MODEL", "PREFILL", "DECODE", "READY", "PHASE", "ENDPOINT", "PREFILL-ENDPOINT",
           "RESTARTS");
    for (int i = 0; i < l->nsims; i++) {
        const struct sim *s = &l->sims[i];
        int restarts = s->printed_restarts;
        printf("%-*s  %-*s  %-7s  %-7s  %-5s  %-11s  %-21s  %-21s  %d\n", w, s->name, wm, s->model,
               sstr(s->status, "prefill", "summary"), sstr(s->status, "decode", "summary"),
               cond(s->status, "Ready"), sstr(s->status, "phase", NULL),
               sstr(s->status, "endpoint", NULL), sstr(s->status, "prefillEndpoint", NULL),
               restarts);
    }
    fflush(stdout);
    pthread_mutex_unlock(&out_mu);
}

static void write_status_file(struct local *l, const char *path)
{
    cJSON *list = cJSON_CreateObject();
    cJSON_AddStringToObject(list, "apiVersion", "v1");
    cJSON_AddStringToObject(list, "kind", "List");
    cJSON *items = cJSON_AddArrayToObject(list, "items");
    for (int i = 0; i < l->nsims; i++) {
        cJSON *o = cJSON_Duplicate(l->sims[i].cr, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(o, "status");
        cJSON_AddItemToObject(o, "status", cJSON_Duplicate(l->sims[i].status, 1));
        cJSON_AddItemToArray(items, o);
    }
    char *text = cJSON_Print(list), tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f) {
        fputs(text, f);
        fputc('\n', f);
        if (fclose(f) == 0 && rename(tmp, path) == 0) {
            cJSON_free(text);
            cJSON_Delete(list);
            return;
        }
    }
    log_warn("cannot write the status file", LOG_STR("path", path),
             LOG_STR("error", strerror(errno)));
    cJSON_free(text);
    cJSON_Delete(list);
}

/* ---- reading the documents ---- */

static char *read_all(const char *file, size_t *len, char *err, size_t errlen)
{
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (!f) {
        snprintf(err, errlen, "--local: %s: %s", file, strerror(errno));
        return NULL;
    }
    char *text = NULL, chunk[65536];
    size_t n, cap = 0;
    *len = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (*len + n + 1 > cap) {
            cap = (*len + n + 1) * 2;
            text = xrealloc(text, cap);
        }
        memcpy(text + *len, chunk, n);
        *len += n;
    }
    if (f != stdin)
        fclose(f);
    if (!text)
        text = xstrdup("");
    text[*len] = '\0';
    return text;
}

/* The PDSimulations of the file, validated and defaulted (exit code 2 on a
 * bad one, err says which and why). */
static cJSON *load_docs(const char *file, char *err, size_t errlen)
{
    size_t len;
    char *text = read_all(file, &len, err, errlen);
    if (!text)
        return NULL;
    char perr[512];
    cJSON *all = yaml_to_json_all(text, len, perr, sizeof(perr));
    free(text);
    if (!all) {
        snprintf(err, errlen, "%s: %s", file, perr);
        return NULL;
    }
    cJSON *out = cJSON_CreateArray();
    int i = 0;
    cJSON *doc;
    cJSON_ArrayForEach(doc, all)
    {
        i++;
        if (cJSON_IsNull(doc))
            continue;
        if (crd_validate(doc, perr, sizeof(perr)) < 0) {
            const char *name = sstr(doc, "metadata", "name");
            snprintf(err, errlen, "%s: document %d%s%s%s: %s", file, i, *name ? " (" : "", name,
                     *name ? ")" : "", perr);
            cJSON_Delete(all);
            cJSON_Delete(out);
            return NULL;
        }
        cJSON *md = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
        if (!cJSON_GetObjectItemCaseSensitive(md, "namespace"))
            cJSON_AddStringToObject(md, "namespace", "default");
        char uid[300];
        snprintf(uid, sizeof(uid), "local-%s", sstr(doc, "metadata", "name"));
        cJSON_DeleteItemFromObjectCaseSensitive(md, "uid");
        cJSON_AddStringToObject(md, "uid", uid);
        cJSON_DeleteItemFromObjectCaseSensitive(md, "generation");
        cJSON_AddNumberToObject(md, "generation", 1);
        const cJSON *prev;
        cJSON_ArrayForEach(prev, out)
        {
            if (strcmp(sstr(prev, "metadata", "name"), sstr(doc, "metadata", "name")) == 0) {
                snprintf(err, errlen, "%s: document %d: metadata.name \"%s\" is used twice", file,
                         i, sstr(doc, "metadata", "name"));
                cJSON_Delete(all);
                cJSON_Delete(out);
                return NULL;
            }
        }
        cJSON_AddItemToArray(out, cJSON_Duplicate(doc, 1));
    }
    cJSON_Delete(all);
    if (cJSON_GetArraySize(out) == 0) {
        snprintf(err, errlen, "%s: no PDSimulation in it", file);
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

/* ---- the run ---- */

/* SIGTERM the processes that match (sidecars, or the rest) and wait for them
 * until the deadline. Returns how many are left. */
static int stop_some(struct local *l, bool sidecars, double deadline)
{
    for (int i = 0; i < l->nprocs; i++)
        if (l->procs[i].pid > 0 && (strstr(l->procs[i].name, "/sidecar") != NULL) == sidecars)
            kill(l->procs[i].pid, SIGTERM);
    for (;;) {
        int left = 0;
        for (int i = 0; i < l->nprocs; i++) {
            struct proc *p = &l->procs[i];
            if (p->pid > 0 && waitpid(p->pid, NULL, WNOHANG) == p->pid)
                p->pid = 0;
            left += p->pid > 0 && (strstr(p->name, "/sidecar") != NULL) == sidecars;
        }
        if (!left || now_s() > deadline)
            return left;
        struct timespec t = {0, 20 * 1000000L};
        nanosleep(&t, NULL);
    }
}

/* The sidecars first (they finish what they proxy while their simulators
 * still answer), then the simulators; SIGKILL whatever is left after
 * STOP_GRACE. */
static void stop_all(struct local *l)
{
    double deadline = now_s() + STOP_GRACE;
    stop_some(l, true, deadline);
    stop_some(l, false, deadline);
    for (int i = 0; i < l->nprocs; i++) {
        if (l->procs[i].pid > 0) {
            log_warn("did not stop in time: killed", LOG_STR("process", l->procs[i].name));
            kill(l->procs[i].pid, SIGKILL);
            waitpid(l->procs[i].pid, NULL, 0);
            l->procs[i].pid = 0;
        }
    }
}

static void reap(struct local *l, double now)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (int i = 0; i < l->nprocs; i++) {
            struct proc *p = &l->procs[i];
            if (p->pid != pid)
                continue;
            p->pid = 0;
            p->ready = false;
            if (now - p->started >= BACKOFF_RESET)
                p->backoff = BACKOFF_INIT;
            p->next_start = now + p->backoff;
            log_warn("exited: restarting after a backoff", LOG_STR("process", p->name),
                     LOG_INT("exit_code", WIFEXITED(st) ? WEXITSTATUS(st) : -1),
                     LOG_INT("signal", WIFSIGNALED(st) ? WTERMSIG(st) : 0),
                     LOG_DBL("restart_in_s", p->backoff), LOG_INT("restarts", p->restarts));
            p->backoff = p->backoff * 2 < BACKOFF_MAX ? p->backoff * 2 : BACKOFF_MAX;
            p->restarts++;
        }
    }
}

static void free_local(struct local *l)
{
    /* the fronts first: their threads read l->pods */
    for (int i = 0; i < l->nsims; i++) {
        struct sim *s = &l->sims[i];
        for (int r = 0; r < 2; r++) {
            if (!s->front[r])
                continue;
            shutdown(s->front[r]->fd, SHUT_RDWR);
            if (s->front[r]->started)
                pthread_join(s->front[r]->thread, NULL);
            close(s->front[r]->fd);
            free(s->front[r]->pods);
            free(s->front[r]);
            s->front[r] = NULL;
        }
    }
    for (int i = 0; i < l->nprocs; i++) {
        for (int k = 0; k < l->procs[i].argc; k++)
            free(l->procs[i].argv[k]);
        free(l->procs[i].argv);
        if (l->procs[i].probe)
            curl_easy_cleanup(l->procs[i].probe);
    }
    free(l->procs);
    free(l->pods);
    for (int i = 0; i < l->nsims; i++) {
        struct sim *s = &l->sims[i];
        cJSON_Delete(s->cr);
        cJSON_Delete(s->status);
        free(s->name);
        free(s->model);
    }
    free(l->sims);
}

int local_run(const struct local_opts *o)
{
    char err[1024];
    cJSON *docs = load_docs(o->file, err, sizeof(err));
    if (!docs) {
        fprintf(stderr, "pdsim-controller: %s\n", err);
        return 2;
    }
    if (o->port >= 0 && cJSON_GetArraySize(docs) > 1) {
        fprintf(stderr,
                "pdsim-controller: --local-port: %s has %d PDSimulations; each takes its "
                "decode address from its spec.service.port\n",
                o->file, cJSON_GetArraySize(docs));
        cJSON_Delete(docs);
        return 2;
    }
    char *sim_bin = find_binary(o->bin_dir, "pdsim-simulator"),
         *sc_bin = find_binary(o->bin_dir, "pdsim-sidecar");
    if (!sim_bin || !sc_bin) {
        fprintf(stderr,
                "pdsim-controller: cannot find %s%s (next to pdsim-controller, in the "
                "build tree, or on PATH); use --local-bin-dir\n",
                sim_bin ? "" : "pdsim-simulator ", sc_bin ? "" : "pdsim-sidecar");
        free(sim_bin);
        free(sc_bin);
        cJSON_Delete(docs);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct local l = {0};
    l.nsims = cJSON_GetArraySize(docs);
    l.sims = xcalloc((size_t)l.nsims, sizeof(*l.sims));
    int rc = 0;
    struct pd_opts popts = {.image = "local"};
    for (int i = 0; i < l.nsims && rc == 0; i++) {
        struct sim *s = &l.sims[i];
        s->cr = cJSON_Duplicate(cJSON_GetArrayItem(docs, i), 1);
        s->name = xstrdup(sstr(s->cr, "metadata", "name"));
        s->model = xstrdup(sstr(s->cr, "spec", "model"));
        cJSON *children = pd_desired_children(s->cr, &popts, err, sizeof(err));
        if (!children) {
            fprintf(stderr, "pdsim-controller: %s: %s: %s\n", o->file, s->name, err);
            rc = 2;
            break;
        }
        /* the role addresses */
        long svc_port = num_at(cJSON_GetObjectItemCaseSensitive(s->cr, "spec"), "service", "port");
        int want = o->port >= 0 ? o->port : (int)svc_port;
        for (int k = 0; k < i; k++)
            if (want && l.sims[k].role_port[DECODE] == want) {
                fprintf(stderr, "pdsim-controller: %s: %s: spec.service.port %d is %s's too\n",
                        o->file, s->name, want, l.sims[k].name);
                rc = 2;
            }
        s->role_port[DECODE] = rc ? -1 : alloc_port(&l, want);
        s->role_port[PREFILL] = alloc_port(&l, 0);
        if (rc == 0 && s->role_port[DECODE] < 0) {
            fprintf(stderr,
                    "pdsim-controller: 127.0.0.1:%d is in use (%s; --local-port chooses "
                    "another, 0 any free one)\n",
                    want, o->port >= 0 ? "--local-port" : "spec.service.port");
            rc = 1;
        }
        /* fronts for roles with other than one replica */
        const cJSON *ch;
        cJSON_ArrayForEach(ch, children)
        {
            if (rc || strcmp(cJSON_GetObjectItemCaseSensitive(ch, "kind")->valuestring,
                             "Deployment") != 0)
                continue;
            const char *dn = sstr(ch, "metadata", "name");
            int role = dn[strlen(dn) - 1] == 'p' ? PREFILL : DECODE;
            if (num_at(ch, "spec", "replicas") == 1)
                continue;
            struct front *f = xcalloc(1, sizeof(*f));
            f->fd = listen_on(s->role_port[role], &f->port);
            if (f->fd < 0) {
                fprintf(stderr, "pdsim-controller: cannot listen on 127.0.0.1:%d: %s\n",
                        s->role_port[role], strerror(errno));
                free(f);
                rc = 1;
                continue;
            }
            s->front[role] = f;
        }
        if (rc == 0 && build(&l, s, children, sim_bin, sc_bin, err, sizeof(err)) < 0) {
            fprintf(stderr, "pdsim-controller: %s\n", err);
            rc = 1;
        }
        cJSON_Delete(children);
    }
    cJSON_Delete(docs);
    free(sim_bin);
    free(sc_bin);
    if (rc) {
        free_local(&l);
        curl_global_cleanup();
        return rc;
    }
    /* the fronts' replicas, then their threads */
    for (int i = 0; i < l.nsims; i++) {
        for (int r = 0; r < 2; r++) {
            struct front *f = l.sims[i].front[r];
            if (!f)
                continue;
            for (int k = 0; k < l.npods; k++) {
                if (l.pods[k].sim == i && l.pods[k].role == r) {
                    f->pods = xrealloc(f->pods, (size_t)(f->npods + 1) * sizeof(int));
                    f->pods[f->npods++] = k;
                }
            }
            struct front_arg *fa = xmalloc(sizeof(*fa));
            *fa = (struct front_arg){&l, f};
            f->started = pthread_create(&f->thread, NULL, front_thread, fa) == 0;
            if (!f->started)
                free(fa);
        }
    }
    for (int i = 0; i < l.nsims; i++)
        log_info("local", LOG_STR("name", l.sims[i].name),
                 LOG_INT("decode_port", l.sims[i].role_port[DECODE]),
                 LOG_INT("prefill_port", l.sims[i].role_port[PREFILL]),
                 LOG_INT("prefill_replicas", l.sims[i].replicas[PREFILL]),
                 LOG_INT("decode_replicas", l.sims[i].replicas[DECODE]));

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    update_status(&l);
    print_table(&l);
    if (o->status_file)
        write_status_file(&l, o->status_file);
    while (!atomic_load(&l.stopping)) {
        double now = now_s();
        reap(&l, now);
        for (int i = 0; i < l.nprocs; i++) {
            struct proc *p = &l.procs[i];
            if (p->pid == 0 && now >= p->next_start && start_proc(p) < 0) {
                log_error("cannot start", LOG_STR("process", p->name),
                          LOG_STR("error", strerror(errno)));
                p->next_start = now + BACKOFF_INIT;
            }
            if (p->pid > 0 && now >= p->next_probe) {
                p->ready = probe(p);
                p->next_probe = now + (p->ready ? 1.0 : 0.2);
            }
        }
        for (int k = 0; k < l.npods; k++) {
            bool ready = true;
            for (int i = l.pods[k].first; i < l.pods[k].first + l.pods[k].n; i++)
                ready = ready && l.procs[i].pid > 0 && l.procs[i].ready;
            atomic_store(&l.pods[k].ready, ready);
        }
        if (update_status(&l)) {
            print_table(&l);
            if (o->status_file)
                write_status_file(&l, o->status_file);
        }
        struct timespec t = {0, 100 * 1000000L};
        siginfo_t si;
        int sig = sigtimedwait(&set, &si, &t);
        if (sig == SIGINT || sig == SIGTERM) {
            log_info("stopping", LOG_INT("signal", sig));
            atomic_store(&l.stopping, true);
        }
    }
    stop_all(&l);
    free_local(&l);
    curl_global_cleanup();
    log_info("stopped");
    return 0;
}
