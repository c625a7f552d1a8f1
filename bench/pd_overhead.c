/*
 * pd_overhead: what the sidecar adds to a P/D request.
 *
 * Two ways to run the same nixlv2 request, one at a time, alternating in
 * blocks so drift hits both alike:
 *   direct   the client runs both legs itself: POST the prefill body to the
 *            prefiller, parse kv_transfer_params, POST the decode body to
 *            the decoder (the same transforms the sidecar uses);
 *   sidecar  the client POSTs the original body to the sidecar with
 *            x-prefiller-host-port.
 * Each keeps its connections alive (one libcurl handle per target). Latency
 * is request start to the last response byte. Prints p50/p99 of each and the
 * differences, as text or JSON.
 *
 * usage: pd_overhead --prefill PORT --decode PORT --sidecar PORT
 *                    [--requests 4000] [--block 100] [--json]
 */
#include "common/buf.h"
#include "sidecar/sc_transform.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const CLIENT_BODY =
    "{\"model\":\"bench-model\",\"messages\":[{\"role\":\"user\",\"content\":\"This is a "
    "test.\"}],\"max_tokens\":10}";

static size_t sink(char *p, size_t size, size_t n, void *arg)
{
    return buf_append(arg, p, size * n) == 0 ? size * n : 0;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* POST body to url on h; the answer goes to out. Returns the status or -1. */
static long post(CURL *h, const char *url, const struct curl_slist *hdrs, const char *body,
                 struct buf *out)
{
    buf_reset(out);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    if (curl_easy_perform(h) != CURLE_OK)
        return -1;
    long st = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    return st;
}

struct ctx {
    CURL *pre, *dec, *sc;
    char pre_url[128], dec_url[128], sc_url[128];
    struct curl_slist *json_hdrs, *sc_hdrs;
    cJSON *client;
    struct buf a, b;
};

static int run_direct(struct ctx *c)
{
    char *pbody = sc_nixlv2_prefill_body(SC_API_CHAT, c->client);
    long st = post(c->pre, c->pre_url, c->json_hdrs, pbody, &c->a);
    cJSON_free(pbody);
    if (st != 200)
        return -1;
    cJSON *resp = cJSON_ParseWithLength(c->a.data, c->a.len);
    const cJSON *kv = cJSON_GetObjectItemCaseSensitive(resp, "kv_transfer_params");
    char *dbody = sc_nixlv2_decode_body(c->client, kv);
    st = post(c->dec, c->dec_url, c->json_hdrs, dbody, &c->b);
    cJSON_free(dbody);
    cJSON_Delete(resp);
    return st == 200 ? 0 : -1;
}

static int run_sidecar(struct ctx *c)
{
    return post(c->sc, c->sc_url, c->sc_hdrs, CLIENT_BODY, &c->a) == 200 ? 0 : -1;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static double pct(double *v, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

int main(int argc, char **argv)
{
    int pre = 0, dec = 0, scp = 0, json = 0;
    long requests = 4000, block = 100;
    static const struct option opts[] = {{"prefill", required_argument, 0, 'p'},
                                         {"decode", required_argument, 0, 'd'},
                                         {"sidecar", required_argument, 0, 's'},
                                         {"requests", required_argument, 0, 'n'},
                                         {"block", required_argument, 0, 'b'},
                                         {"json", no_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (o) {
        case 'p':
            pre = atoi(optarg);
            break;
        case 'd':
            dec = atoi(optarg);
            break;
        case 's':
            scp = atoi(optarg);
            break;
        case 'n':
            requests = atol(optarg);
            break;
        case 'b':
            block = atol(optarg);
            break;
        case 'j':
            json = 1;
            break;
        default:
            fprintf(stderr, "usage: pd_overhead --prefill PORT --decode PORT --sidecar PORT "
                            "[--requests 4000] [--block 100] [--json]\n");
            return 2;
        }
    }
    if (!pre || !dec || !scp || requests < 10 || block < 1) {
        fprintf(stderr, "pd_overhead: --prefill, --decode and --sidecar ports are required\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct ctx c = {.pre = curl_easy_init(), .dec = curl_easy_init(), .sc = curl_easy_init()};
    snprintf(c.pre_url, sizeof(c.pre_url), "http://127.0.0.1:%d/v1/chat/completions", pre);
    snprintf(c.dec_url, sizeof(c.dec_url), "http://127.0.0.1:%d/v1/chat/completions", dec);
    snprintf(c.sc_url, sizeof(c.sc_url), "http://127.0.0.1:%d/v1/chat/completions", scp);
    c.json_hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    c.json_hdrs = curl_slist_append(c.json_hdrs, "Expect:");
    char ph[64];
    snprintf(ph, sizeof(ph), "x-prefiller-host-port: 127.0.0.1:%d", pre);
    c.sc_hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    c.sc_hdrs = curl_slist_append(c.sc_hdrs, "Expect:");
    c.sc_hdrs = curl_slist_append(c.sc_hdrs, ph);
    c.client = cJSON_Parse(CLIENT_BODY);
    buf_init(&c.a, BUF_NOCAP);
    buf_init(&c.b, BUF_NOCAP);
    double *td = calloc((size_t)requests, sizeof(double));
    double *ts = calloc((size_t)requests, sizeof(double));
    long nd = 0, ns = 0, failed = 0;
    /* Warm up both paths (connections, caches). */
    for (int i = 0; i < 200; i++)
        failed += (run_direct(&c) < 0) + (run_sidecar(&c) < 0);
    if (failed) {
        fprintf(stderr, "pd_overhead: warm-up requests failed (%ld)\n", failed);
        return 1;
    }
    for (long done = 0; done < requests; done += block) {
        for (int mode = 0; mode < 2; mode++) {
            for (long i = 0; i < block && done + i < requests; i++) {
                double t0 = now_s();
                int rc = mode == 0 ? run_direct(&c) : run_sidecar(&c);
                double dt = (now_s() - t0) * 1e3;
                if (rc < 0)
                    failed++;
                else if (mode == 0)
                    td[nd++] = dt;
                else
                    ts[ns++] = dt;
            }
        }
    }
    qsort(td, (size_t)nd, sizeof(double), cmp_double);
    qsort(ts, (size_t)ns, sizeof(double), cmp_double);
    double d50 = pct(td, (size_t)nd, 0.5), d99 = pct(td, (size_t)nd, 0.99);
    double s50 = pct(ts, (size_t)ns, 0.5), s99 = pct(ts, (size_t)ns, 0.99);
    if (json)
        printf("{\"requests\":%ld,\"failed\":%ld,\"direct_p50_ms\":%.4f,\"direct_p99_ms\":%.4f,"
               "\"sidecar_p50_ms\":%.4f,\"sidecar_p99_ms\":%.4f,\"added_p50_ms\":%.4f,"
               "\"added_p99_ms\":%.4f}\n",
               requests, failed, d50, d99, s50, s99, s50 - d50, s99 - d99);
    else
        printf("direct  p50 %.3f ms p99 %.3f ms\nsidecar p50 %.3f ms p99 %.3f ms\n"
               "added   p50 %.3f ms p99 %.3f ms (failed %ld)\n",
               d50, d99, s50, s99, s50 - d50, s99 - d99, failed);
    free(td);
    free(ts);
    buf_release(&c.a);
    buf_release(&c.b);
    cJSON_Delete(c.client);
    curl_slist_free_all(c.json_hdrs);
    curl_slist_free_all(c.sc_hdrs);
    curl_easy_cleanup(c.pre);
    curl_easy_cleanup(c.dec);
    curl_easy_cleanup(c.sc);
    curl_global_cleanup();
    return failed ? 1 : 0;
}
