/*
 * sse_loadgen: a light, single-threaded epoll client that opens N streaming
 * chat completions at once and timestamps every SSE token on receipt, to
 * measure pdsim's time-to-first-token and inter-token-latency error as the
 * client sees it. One timestamp per read(), right after it returns.
 */
#define _GNU_SOURCE
#include "sse_parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct opts {
    const char *host, *model;
    const char *samples; /* --samples FILE: every measured TTFT and ITL, in ms */
    int port, streams, tokens, ramp_ms, timeout_s;
    double ttft_ms, itl_ms;
    bool json;
};

struct stream {
    int fd;
    double t_start, t_sent, t_read; /* t_read: when the current read returned */
    double t_head;                  /* when the response headers had arrived */
    size_t sent;
    double *tok;
    int ntok, cap;
    bool done, failed, started;
    struct sse_parser p;
};

static char request[4096];
static size_t request_len;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void on_event(void *arg, const char *data, size_t len)
{
    struct stream *s = arg;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        s->done = true;
        return;
    }
    if (memmem(data, len, "\"content\":", 10) || memmem(data, len, "\"text\":\"", 8)) {
        /* a finish chunk of a text completion has text "", not a token */
        if (memmem(data, len, "\"text\":\"\"", 9))
            return;
        if (s->ntok < s->cap)
            s->tok[s->ntok++] = s->t_read;
    }
}

static int open_stream(struct stream *s, const struct opts *o, int ep)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    inet_pton(AF_INET, o->host, &a.sin_addr);
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(s->fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS)
        return -1;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = s};
    s->t_start = now_ms();
    s->started = true;
    return epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
}

static void close_stream(struct stream *s, int ep, bool failed)
{
    if (s->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
        close(s->fd);
        s->fd = -1;
    }
    s->failed = failed || !s->done || s->p.status != 200;
    s->done = true;
}

static void on_ready(struct stream *s, uint32_t events, int ep)
{
    if (s->sent < request_len && (events & EPOLLOUT)) {
        ssize_t w = write(s->fd, request + s->sent, request_len - s->sent);
        if (w < 0 && errno != EAGAIN) {
            close_stream(s, ep, true);
            return;
        }
        if (w > 0)
            s->sent += (size_t)w;
        if (s->sent == request_len) {
            s->t_sent = now_ms();
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
            epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
        }
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    char buf[65536];
    for (;;) {
        ssize_t n = read(s->fd, buf, sizeof(buf));
        s->t_read = now_ms();
        if (n > 0) {
            bool had_head = s->p.state != SSE_HEADERS;
            if (!sse_parser_feed(&s->p, buf, (size_t)n))
                close_stream(s, ep, true);
            else if (sse_parser_done(&s->p))
                close_stream(s, ep, false);
            if (!had_head && s->p.state != SSE_HEADERS)
                s->t_head = s->t_read;
            if (s->fd < 0)
                return;
            continue;
        }
        if (n == 0 || errno != EAGAIN)
            close_stream(s, ep, n != 0);
        return;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    if (!n)
        return NAN;
    size_t i = (size_t)ceil(p * (double)n) - 1;
    return v[i < n ? i : n - 1];
}

struct summary {
    size_t n;
    double p50, p99, p999, max, mean_signed;
};

static void summarize(double *v, size_t n, struct summary *out)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += v[i];
        v[i] = fabs(v[i]);
    }
    qsort(v, n, sizeof(double), cmp_double);
    out->n = n;
    out->mean_signed = n ? sum / (double)n : NAN;
    out->p50 = pct(v, n, 0.50);
    out->p99 = pct(v, n, 0.99);
    out->p999 = pct(v, n, 0.999);
    out->max = n ? v[n - 1] : NAN;
}

/* One line per measurement: "ttft MS" per stream, "itl MS" per gap between tokens. */
static int write_samples(const char *path, const struct stream *ss, int n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    for (int i = 0; i < n; i++) {
        const struct stream *s = &ss[i];
        if (s->failed || s->ntok == 0)
            continue;
        fprintf(f, "ttft %.4f\n", s->tok[0] - s->t_sent);
        for (int k = 1; k < s->ntok; k++)
            fprintf(f, "itl %.4f\n", s->tok[k] - s->tok[k - 1]);
    }
    return fclose(f) == 0 ? 0 : -1;
}

static void report(const struct opts *o, struct stream *ss, double elapsed_ms)
{
    size_t cap = (size_t)o->streams * (size_t)o->tokens;
    double *ttft = calloc((size_t)o->streams, sizeof(double));
    double *head = calloc((size_t)o->streams, sizeof(double));
    double *itl = calloc(cap ? cap : 1, sizeof(double));
    size_t nt = 0, ni = 0, ok = 0, failed = 0, tokens = 0;
    for (int i = 0; i < o->streams; i++) {
        struct stream *s = &ss[i];
        if (s->failed || s->ntok == 0) {
            failed++;
            continue;
        }
        ok++;
        tokens += (size_t)s->ntok;
        head[nt] = s->t_head - s->t_sent;
        ttft[nt++] = (s->tok[0] - s->t_sent) - o->ttft_ms;
        for (int k = 1; k < s->ntok; k++)
            itl[ni++] = (s->tok[k] - s->tok[k - 1]) - o->itl_ms;
    }
    struct summary st, si, sh;
    summarize(head, nt, &sh);
    summarize(ttft, nt, &st);
    summarize(itl, ni, &si);
    double tps = (double)tokens / (elapsed_ms / 1e3);
    if (o->json)
        printf("{\"streams\":%d,\"ok\":%zu,\"failed\":%zu,\"tokens\":%zu,\"tokens_per_s\":%.0f,"
               "\"ttft_err_ms\":{\"n\":%zu,\"mean\":%.4f,\"p50\":%.4f,\"p99\":%.4f,\"p999\":%.4f,"
               "\"max\":%.4f},\"itl_err_ms\":{\"n\":%zu,\"mean\":%.4f,\"p50\":%.4f,\"p99\":%.4f,"
               "\"p999\":%.4f,\"max\":%.4f},\"headers_ms\":{\"p50\":%.4f,\"p99\":%.4f,"
               "\"max\":%.4f}}\n",
               o->streams, ok, failed, tokens, tps, st.n, st.mean_signed, st.p50, st.p99, st.p999,
               st.max, si.n, si.mean_signed, si.p50, si.p99, si.p999, si.max, sh.p50, sh.p99,
               sh.max);
    else
        printf("streams %d ok %zu failed %zu tokens %zu (%.0f tokens/s)\n"
               "|TTFT error| ms: p50 %.3f p99 %.3f p999 %.3f max %.3f (mean signed %.3f)\n"
               "|ITL error|  ms: p50 %.3f p99 %.3f p999 %.3f max %.3f (mean signed %.3f)\n"
               "response headers after ms: p50 %.3f p99 %.3f max %.3f\n",
               o->streams, ok, failed, tokens, tps, st.p50, st.p99, st.p999, st.max, st.mean_signed,
               si.p50, si.p99, si.p999, si.max, si.mean_signed, sh.p50, sh.p99, sh.max);
    free(ttft);
    free(head);
    free(itl);
}

static void usage(void)
{
    fprintf(stderr, "usage: sse_loadgen --port N [--host 127.0.0.1] [--streams 1000] "
                    "[--tokens 50] [--ttft-ms 100] [--itl-ms 20] [--ramp-ms 1000] "
                    "[--model M] [--timeout-s 120] [--json] [--samples FILE]\n");
    exit(2);
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"host", 1, 0, 'h'},    {"port", 1, 0, 'p'},    {"streams", 1, 0, 's'},
        {"tokens", 1, 0, 'k'},  {"ttft-ms", 1, 0, 't'}, {"itl-ms", 1, 0, 'i'},
        {"ramp-ms", 1, 0, 'r'}, {"model", 1, 0, 'm'},   {"timeout-s", 1, 0, 'T'},
        {"json", 0, 0, 'j'},    {"samples", 1, 0, 'S'}, {0, 0, 0, 0}};
    *o = (struct opts){"127.0.0.1", "testmodel", NULL, 0, 1000, 50, 1000, 120, 100, 20, false};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'h':
            o->host = optarg;
            break;
        case 'p':
            o->port = atoi(optarg);
            break;
        case 's':
            o->streams = atoi(optarg);
            break;
        case 'k':
            o->tokens = atoi(optarg);
            break;
        case 't':
            o->ttft_ms = atof(optarg);
            break;
        case 'i':
            o->itl_ms = atof(optarg);
            break;
        case 'r':
            o->ramp_ms = atoi(optarg);
            break;
        case 'm':
            o->model = optarg;
            break;
        case 'T':
            o->timeout_s = atoi(optarg);
            break;
        case 'j':
            o->json = true;
            break;
        case 'S':
            o->samples = optarg;
            break;
        default:
            usage();
        }
    }
    if (o->port <= 0 || o->streams <= 0 || o->tokens <= 0)
        usage();
}

static void build_request(const struct opts *o)
{
    char body[1024];
    int bl = snprintf(body, sizeof(body),
                      "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello "
                      "from the load generator\"}],\"max_tokens\":%d,\"ignore_eos\":true,"
                      "\"stream\":true}",
                      o->model, o->tokens);
    request_len = (size_t)snprintf(request, sizeof(request),
                                   "POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\n"
                                   "Content-Type: application/json\r\nContent-Length: %d\r\n"
                                   "Connection: close\r\n\r\n%s",
                                   o->host, bl, body);
}

int main(int argc, char **argv)
{
    struct opts o;
    parse_opts(argc, argv, &o);
    build_request(&o);
    struct rlimit rl = {65536, 65536};
    setrlimit(RLIMIT_NOFILE, &rl);
    struct stream *ss = calloc((size_t)o.streams, sizeof(*ss));
    for (int i = 0; i < o.streams; i++) {
        ss[i].fd = -1;
        ss[i].cap = o.tokens + 8;
        ss[i].tok = calloc((size_t)ss[i].cap, sizeof(double));
        sse_parser_init(&ss[i].p, on_event, &ss[i]);
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    double t0 = now_ms(), deadline = t0 + o.timeout_s * 1e3;
    int started = 0, finished = 0;
    struct epoll_event evs[256];
    while (finished < o.streams && now_ms() < deadline) {
        double now = now_ms();
        while (started < o.streams && now - t0 >= (double)o.ramp_ms * started / (double)o.streams) {
            if (open_stream(&ss[started], &o, ep) < 0)
                close_stream(&ss[started], ep, true);
            started++;
        }
        int wait = started < o.streams ? 1 : 100;
        int n = epoll_wait(ep, evs, 256, wait);
        for (int i = 0; i < n; i++)
            on_ready(evs[i].data.ptr, evs[i].events, ep);
        finished = 0;
        for (int i = 0; i < started; i++)
            finished += ss[i].done;
    }
    double elapsed = now_ms() - t0;
    for (int i = 0; i < o.streams; i++)
        if (!ss[i].done)
            close_stream(&ss[i], ep, true);
    report(&o, ss, elapsed);
    if (o.samples && write_samples(o.samples, ss, o.streams) < 0) {
        fprintf(stderr, "sse_loadgen: cannot write --samples %s\n", o.samples);
        return 1;
    }
    for (int i = 0; i < o.streams; i++)
        free(ss[i].tok);
    free(ss);
    close(ep);
    return 0;
}
