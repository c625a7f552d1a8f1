/*
 * pdsim-controller: watches PDSimulations and reconciles their Deployments,
 * Services and status. Informers feed a work queue of keys; one worker
 * reconciles (never one key twice at once); failures retry with per-key
 * exponential backoff. /healthz, /readyz and /metrics on the probe address.
 */
#include "common/httpd.h"
#include "common/log.h"
#include "common/prom.h"
#include "controller/events.h"
#include "controller/informer.h"
#include "controller/k8s_client.h"
#include "controller/leader.h"
#include "controller/local.h"
#include "controller/reconcile.h"
#include "controller/workqueue.h"

#include <civetweb.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct ctl {
    struct reconciler r;
    struct wq *q;
    _Atomic unsigned long long ok, failed;
    struct prom_hist duration;
};

static const double bounds[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30};

/* A PDSimulation event: its key. A child's event: its controlling owner's. */
static void enqueue(struct ctl *c, const cJSON *obj)
{
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *ns = cJSON_GetObjectItemCaseSensitive(md, "namespace");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");
    const char *name = NULL;
    if (cJSON_IsString(kind) && strcmp(kind->valuestring, "PDSimulation") == 0) {
        name = cJSON_GetObjectItemCaseSensitive(md, "name")->valuestring;
    } else {
        const cJSON *ref;
        cJSON_ArrayForEach(ref, cJSON_GetObjectItemCaseSensitive(md, "ownerReferences"))
        {
            const cJSON *k = cJSON_GetObjectItemCaseSensitive(ref, "kind");
            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ref, "controller")) &&
                cJSON_IsString(k) && strcmp(k->valuestring, "PDSimulation") == 0)
                name = cJSON_GetObjectItemCaseSensitive(ref, "name")->valuestring;
        }
    }
    if (!name || !cJSON_IsString(ns))
        return;
    char key[600];
    snprintf(key, sizeof(key), "%s/%s", ns->valuestring, name);
    wq_add(c->q, key);
}

static void on_event(void *arg, enum k8s_event t, const cJSON *obj)
{
    (void)t;
    enqueue(arg, obj);
}

struct sig_arg {
    sigset_t *set;
    atomic_bool *stop;
    struct wq *q;
};

static void *signal_thread(void *arg)
{
    struct sig_arg *a = arg;
    int sig = 0;
    sigwait(a->set, &sig);
    log_info("shutting down", LOG_INT("signal", sig));
    atomic_store(a->stop, true);
    wq_shutdown(a->q);
    return NULL;
}

static void *worker(void *arg)
{
    struct ctl *c = arg;
    char key[600], err[1024];
    while (wq_get(c->q, key, sizeof(key))) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        err[0] = '\0';
        int rc = reconcile(&c->r, key, err, sizeof(err));
        clock_gettime(CLOCK_MONOTONIC, &b);
        prom_hist_observe(&c->duration,
                          (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
        if (rc < 0) {
            atomic_fetch_add(&c->failed, 1);
            log_warn("reconcile failed", LOG_STR("key", key), LOG_STR("error", err),
                     LOG_INT("retries", wq_failures(c->q, key)));
            wq_add_rate_limited(c->q, key);
        } else {
            atomic_fetch_add(&c->ok, 1);
            wq_forget(c->q, key);
        }
        wq_done(c->q, key);
    }
    return NULL;
}

static int on_http(struct mg_connection *conn, void *cbdata)
{
    struct ctl *c = cbdata;
    const char *uri = mg_get_request_info(conn)->local_uri;
    if (strcmp(uri, "/healthz") == 0) {
        httpd_send(conn, 200, "text/plain", "", "ok", 2);
        return 200;
    }
    if (strcmp(uri, "/readyz") == 0) {
        bool ready = informer_synced(c->r.pdsims) && informer_synced(c->r.deployments) &&
                     informer_synced(c->r.services);
        httpd_send(conn, ready ? 200 : 503, "text/plain", "", ready ? "ok" : "informers syncing",
                   ready ? 2 : 17);
        return ready ? 200 : 503;
    }
    if (strcmp(uri, "/metrics") == 0) {
        struct buf b;
        buf_init(&b, BUF_NOCAP);
        int rc = prom_write_header(&b, "pdsim_controller_reconcile_total", "Reconciles by result.",
                                   "counter");
        rc = rc ? rc
                : prom_write_sample(&b, "pdsim_controller_reconcile_total", "result=\"success\"",
                                    (double)atomic_load(&c->ok));
        rc = rc ? rc
                : prom_write_sample(&b, "pdsim_controller_reconcile_total", "result=\"error\"",
                                    (double)atomic_load(&c->failed));
        rc = rc ? rc
                : prom_write_header(&b, "pdsim_controller_reconcile_duration_seconds",
                                    "Reconcile duration.", "histogram");
        rc = rc ? rc
                : prom_write_hist(&b, "pdsim_controller_reconcile_duration_seconds", "",
                                  &c->duration);
        rc = rc ? rc
                : prom_write_header(&b, "pdsim_controller_queue_depth", "Keys waiting.", "gauge");
        rc = rc ? rc
                : prom_write_sample(&b, "pdsim_controller_queue_depth", "", (double)wq_len(c->q));
        rc = rc ? rc
                : prom_write_header(&b, "pdsim_controller_watch_restarts_total",
                                    "Watches restarted, by kind.", "counter");
        struct informer *infs[] = {c->r.pdsims, c->r.deployments, c->r.services};
        const char *names[] = {"kind=\"PDSimulation\"", "kind=\"Deployment\"", "kind=\"Service\""};
        for (int i = 0; i < 3 && rc == 0; i++)
            rc = prom_write_sample(&b, "pdsim_controller_watch_restarts_total", names[i],
                                   (double)informer_watch_restarts(infs[i]));
        rc = rc ? rc
                : prom_write_header(&b, "pdsim_controller_api_requests_total",
                                    "API server requests by verb and HTTP status.", "counter");
        static const char *const verbs[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "WATCH"};
        for (int v = 0; v < 6 && rc == 0; v++) {
            for (int k = 0; k < 600 && rc == 0; k++) {
                unsigned long long n = k8s_client_requests(c->r.client, verbs[v], k);
                if (!n)
                    continue;
                char l[64];
                if (k)
                    snprintf(l, sizeof(l), "verb=\"%s\",code=\"%d\"", verbs[v], k);
                else
                    snprintf(l, sizeof(l), "verb=\"%s\",code=\"none\"", verbs[v]);
                rc = prom_write_sample(&b, "pdsim_controller_api_requests_total", l, (double)n);
            }
        }
        unsigned long long ev[3];
        recorder_counts(c->r.events, &ev[0], &ev[1], &ev[2]);
        rc = rc ? rc
                : prom_write_header(&b, "pdsim_controller_events_total",
                                    "Events recorded: created, aggregated into a count, failed.",
                                    "counter");
        static const char *const evl[] = {"result=\"created\"", "result=\"aggregated\"",
                                          "result=\"failed\""};
        for (int i = 0; i < 3 && rc == 0; i++)
            rc = prom_write_sample(&b, "pdsim_controller_events_total", evl[i], (double)ev[i]);
        rc = rc ? rc
                : prom_write_header(&b, "pdsim_controller_writes_total",
                                    "Writes of children (apply) and of status.", "counter");
        rc = rc ? rc
                : prom_write_sample(&b, "pdsim_controller_writes_total", "what=\"apply\"",
                                    (double)atomic_load(&c->r.applies));
        rc = rc ? rc
                : prom_write_sample(&b, "pdsim_controller_writes_total", "what=\"status\"",
                                    (double)atomic_load(&c->r.status_writes));
        rc = rc ? rc
                : prom_write_header(&b, "pdsim_controller_status_conflicts_total",
                                    "Status writes answered 409 and retried on a re-read.",
                                    "counter");
        rc = rc ? rc
                : prom_write_sample(&b, "pdsim_controller_status_conflicts_total", "",
                                    (double)atomic_load(&c->r.conflicts));
        rc = rc ? rc
                : prom_write_header(&b, "pdsim_controller_api_retries_total",
                                    "Requests sent again after 429 or Retry-After.", "counter");
        rc = rc ? rc
                : prom_write_sample(&b, "pdsim_controller_api_retries_total", "",
                                    (double)k8s_client_retries(c->r.client));
        if (rc) {
            httpd_send(conn, 500, "text/plain", "", "metrics too large", 17);
            buf_release(&b);
            return 500;
        }
        httpd_send(conn, 200, "text/plain; version=0.0.4", "", buf_str(&b), b.len);
        buf_release(&b);
        return 200;
    }
    httpd_send(conn, 404, "text/plain", "", "not found", 9);
    return 404;
}

/* "host:port" or ":port" (all interfaces). Returns 0 or -1. */
static int parse_bind(const char *text, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(text, ':');
    char *end;
    if (!colon || !colon[1])
        return -1;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535)
        return -1;
    *port = (int)p;
    snprintf(host, hostlen, "%.*s", (int)(colon - text), text);
    if (!host[0])
        snprintf(host, hostlen, "0.0.0.0");
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: pdsim-controller [flags]\n\n"
               "  --kubeconfig PATH             kubeconfig (default: $KUBECONFIG, in-cluster, "
               "~/.kube/config)\n"
               "  --namespace NS                watch one namespace (default: all)\n"
               "  --image IMAGE                 pdsim image for the children (required unless "
               "every spec.image is set)\n"
               "  --image-pull-policy POLICY    Always, IfNotPresent or Never\n"
               "  --health-probe-bind-address A host:port of /healthz, /readyz, /metrics "
               "(default 0.0.0.0:8081)\n"
               "  --metrics-bind-address A      host:port of a second /metrics listener, or 0 for "
               "none (default 0)\n"
               "  --max-concurrent-reconciles N reconcile workers, 1 to 64 (default 1)\n"
               "  --leader-elect[=true|false]   hold a Lease before reconciling (default false)\n"
               "  --leader-election-namespace NS  the Lease's namespace (default: the "
               "config's, else default)\n"
               "  --leader-election-id NAME     the Lease's name (default pdsim-controller)\n"
               "  --v N                         log verbosity: 1 warn, 2 info, 4 debug\n"
               "\nLocal mode (no cluster):\n"
               "  --local FILE                  run the PDSimulations of FILE (- for stdin) as "
               "local processes\n"
               "  --local-port N                the decode address 127.0.0.1:N (default "
               "spec.service.port; 0 any free port)\n"
               "  --local-status-file PATH      write the status as JSON on every change\n"
               "  --local-bin-dir DIR           where pdsim-simulator and pdsim-sidecar are "
               "(default: beside this binary, the build tree, PATH)\n");
}

int main(int argc, char **argv)
{
    const char *kubeconfig = NULL, *ns = NULL, *image = NULL, *pull = NULL;
    const char *probe = "0.0.0.0:8081", *metrics = "0", *le_ns = NULL, *le_id = "pdsim-controller";
    bool leader_elect = false;
    int v = 2, workers = 1;
    struct local_opts lo = {.port = -1};
    static const struct option opts[] = {{"kubeconfig", required_argument, 0, 'k'},
                                         {"namespace", required_argument, 0, 'n'},
                                         {"image", required_argument, 0, 'i'},
                                         {"image-pull-policy", required_argument, 0, 'p'},
                                         {"health-probe-bind-address", required_argument, 0, 'h'},
                                         {"metrics-bind-address", required_argument, 0, 'm'},
                                         {"max-concurrent-reconciles", required_argument, 0, 'w'},
                                         {"v", required_argument, 0, 'v'},
                                         {"leader-elect", optional_argument, 0, 'L'},
                                         {"leader-election-namespace", required_argument, 0, 'N'},
                                         {"leader-election-id", required_argument, 0, 'I'},
                                         {"local", required_argument, 0, 'l'},
                                         {"local-port", required_argument, 0, 'P'},
                                         {"local-status-file", required_argument, 0, 'S'},
                                         {"local-bin-dir", required_argument, 0, 'B'},
                                         {"help", no_argument, 0, 'H'},
                                         {0, 0, 0, 0}};
    log_set_component("controller");
    opterr = 0;
    for (int o; (o = getopt_long_only(argc, argv, "", opts, NULL)) != -1;) {
        switch (o) {
        case 'k':
            kubeconfig = optarg;
            break;
        case 'n':
            ns = *optarg ? optarg : NULL;
            break;
        case 'i':
            image = optarg;
            break;
        case 'p':
            if (strcmp(optarg, "Always") && strcmp(optarg, "IfNotPresent") &&
                strcmp(optarg, "Never")) {
                fprintf(stderr,
                        "pdsim-controller: --image-pull-policy: \"%s\" is not Always, IfNotPresent "
                        "or Never\n",
                        optarg);
                return 2;
            }
            pull = optarg;
            break;
        case 'h':
            probe = optarg;
            break;
        case 'm':
            metrics = optarg;
            break;
        case 'w':
            workers = atoi(optarg);
            break;
        case 'v':
            v = atoi(optarg);
            break;
        case 'L':
            if (!optarg || strcmp(optarg, "true") == 0) {
                leader_elect = true;
            } else if (strcmp(optarg, "false") == 0) {
                leader_elect = false;
            } else {
                fprintf(stderr, "pdsim-controller: --leader-elect: \"%s\" is not true or false\n",
                        optarg);
                return 2;
            }
            break;
        case 'N':
            le_ns = optarg;
            break;
        case 'I':
            le_id = optarg;
            break;
        case 'l':
            lo.file = optarg;
            break;
        case 'P': {
            char *end;
            long p = strtol(optarg, &end, 10);
            if (*end || end == optarg || p < 0 || p > 65535) {
                fprintf(stderr, "pdsim-controller: --local-port: \"%s\" is not a port (0-65535)\n",
                        optarg);
                return 2;
            }
            lo.port = (int)p;
            break;
        }
        case 'S':
            lo.status_file = optarg;
            break;
        case 'B':
            lo.bin_dir = optarg;
            break;
        case 'H':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "pdsim-controller: unknown flag or missing value: %s (see --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    log_set_level(log_level_from_v(v));
    if (optind < argc) {
        fprintf(stderr, "pdsim-controller: unexpected argument: %s (see --help)\n", argv[optind]);
        return 2;
    }
    if (!lo.file && (lo.port >= 0 || lo.status_file || lo.bin_dir)) {
        fprintf(stderr, "pdsim-controller: --local-port, --local-status-file and --local-bin-dir "
                        "need --local FILE\n");
        return 2;
    }
    if (lo.file) {
        sigset_t lset;
        httpd_block_stop_signals(&lset);
        return local_run(&lo);
    }
    char host[256], mhost[256], err[1024];
    int port, mport = -1;
    if (parse_bind(probe, host, sizeof(host), &port) < 0) {
        fprintf(stderr, "pdsim-controller: --health-probe-bind-address: \"%s\" is not host:port\n",
                probe);
        return 2;
    }
    if (strcmp(metrics, "0") != 0 && parse_bind(metrics, mhost, sizeof(mhost), &mport) < 0) {
        fprintf(stderr, "pdsim-controller: --metrics-bind-address: \"%s\" is not host:port or 0\n",
                metrics);
        return 2;
    }
    if (workers < 1 || workers > 64) {
        fprintf(stderr, "pdsim-controller: --max-concurrent-reconciles: must be 1 to 64\n");
        return 2;
    }
    char identity[300], hostname[200] = "pdsim-controller";
    gethostname(hostname, sizeof(hostname) - 1);
    snprintf(identity, sizeof(identity), "%s_%d",
             getenv("POD_NAME") ? getenv("POD_NAME") : hostname, (int)getpid());

    sigset_t set;
    httpd_block_stop_signals(&set);

    struct k8s_config cfg;
    if (k8s_config_load(&cfg, kubeconfig, NULL, err, sizeof(err)) < 0) {
        fprintf(stderr, "pdsim-controller: %s\n", err);
        k8s_config_release(&cfg);
        return 1;
    }
    if (cfg.insecure)
        log_warn("TLS certificate verification of the API server is off",
                 LOG_STR("reason", "kubeconfig cluster has insecure-skip-tls-verify: true"),
                 LOG_STR("server", cfg.server));
    struct ctl c = {.q = wq_new(0.005, 1000)};
    prom_hist_init(&c.duration, bounds, sizeof(bounds) / sizeof(bounds[0]));
    c.r.client = k8s_client_new(&cfg, err, sizeof(err));
    c.r.opts = (struct pd_opts){.image = image, .pull_policy = pull};
    c.r.events = recorder_new(c.r.client, "pdsim-controller", identity);
    char pd_path[512], dep_path[512], svc_path[512];
    if (ns) {
        snprintf(pd_path, sizeof(pd_path), "/apis/pdsim.io/v1alpha1/namespaces/%s/pdsimulations",
                 ns);
        snprintf(dep_path, sizeof(dep_path), "/apis/apps/v1/namespaces/%s/deployments", ns);
        snprintf(svc_path, sizeof(svc_path), "/api/v1/namespaces/%s/services", ns);
    } else {
        snprintf(pd_path, sizeof(pd_path), "/apis/pdsim.io/v1alpha1/pdsimulations");
        snprintf(dep_path, sizeof(dep_path), "/apis/apps/v1/deployments");
        snprintf(svc_path, sizeof(svc_path), "/api/v1/services");
    }
    const char *sel = "app.kubernetes.io/managed-by=pdsim-controller";
    struct informer_opts po = {.path = pd_path}, dopts = {.path = dep_path, .label_selector = sel},
                         so = {.path = svc_path, .label_selector = sel};
    c.r.pdsims = informer_start(c.r.client, &po, on_event, &c);
    c.r.deployments = informer_start(c.r.client, &dopts, on_event, &c);
    c.r.services = informer_start(c.r.client, &so, on_event, &c);

    mg_init_library(0);
    struct httpd_opts ho = {
        .host = host, .port = port, .threads = 4, .handler = on_http, .handler_data = &c};
    int real_port = 0;
    struct mg_context *http = httpd_start(&ho, NULL, &real_port, err, sizeof(err));
    if (!http) {
        fprintf(stderr, "pdsim-controller: --health-probe-bind-address: %s\n", err);
        return 1;
    }
    struct mg_context *mhttp = NULL;
    int real_mport = 0;
    if (mport >= 0) {
        struct httpd_opts mo = {
            .host = mhost, .port = mport, .threads = 2, .handler = on_http, .handler_data = &c};
        mhttp = httpd_start(&mo, NULL, &real_mport, err, sizeof(err));
        if (!mhttp) {
            fprintf(stderr, "pdsim-controller: --metrics-bind-address: %s\n", err);
            return 1;
        }
    }
    log_info("listening", LOG_STR("host", host), LOG_INT("port", real_port),
             LOG_INT("metrics_port", mhttp ? real_mport : real_port),
             LOG_STR("api_server", cfg.server), LOG_STR("config", cfg.source),
             LOG_STR("namespace", ns ? ns : ""));
    /* SIGTERM/SIGINT from here on: a thread turns them into the stop flag. */
    static atomic_bool stopping;
    struct sig_arg sa = {&set, &stopping, c.q};
    pthread_t st;
    pthread_create(&st, NULL, signal_thread, &sa);
    pthread_detach(st);
    /* Reconcile only once the stores are filled, as controller-runtime waits
     * for cache sync: a half-empty store would look like missing children. */
    while (!atomic_load(&stopping) &&
           !(informer_synced(c.r.pdsims) && informer_synced(c.r.deployments) &&
             informer_synced(c.r.services))) {
        struct timespec t = {0, 20 * 1000000L};
        nanosleep(&t, NULL);
    }
    struct leader *lead = NULL;
    if (leader_elect) {
        lead = leader_new(c.r.client,
                          le_ns           ? le_ns
                          : cfg.namespace ? cfg.namespace
                                          : "default",
                          le_id, identity, 0, 0, 0);
        leader_acquire(lead, &stopping); /* returns at once when stopping */
    }
    int rc = 0;
    if (!atomic_load(&stopping)) {
        pthread_t w[64];
        for (int i = 0; i < workers; i++)
            pthread_create(&w[i], NULL, worker, &c);
        while (!atomic_load(&stopping)) {
            if (lead && leader_lost(lead)) {
                log_error("leadership lost: exiting so that another replica leads");
                rc = 1;
                break;
            }
            struct timespec t = {0, 50 * 1000000L};
            nanosleep(&t, NULL);
        }
        wq_shutdown(c.q);
        k8s_client_stop_retries(c.r.client);
        for (int i = 0; i < workers; i++)
            pthread_join(w[i], NULL); /* the reconciles in flight finish */
    }
    leader_release(lead);
    informer_stop(c.r.pdsims);
    informer_stop(c.r.deployments);
    informer_stop(c.r.services);
    httpd_stop(http);
    if (mhttp)
        httpd_stop(mhttp);
    mg_exit_library();
    recorder_free(c.r.events);
    k8s_client_free(c.r.client);
    k8s_config_release(&cfg);
    wq_free(c.q);
    prom_hist_release(&c.duration);
    log_info("stopped");
    return rc;
}
