#define _GNU_SOURCE
#include "simulator/sim_kvpub.h"

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "simulator/sim_kvevents.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

struct blob {
    char *p;
    size_t n;
    uint64_t seq; /* replay ring entries only */
};

struct sim_kvpub {
    void *ctx, *pub, *router;
    int wakefd;
    pthread_t thread;
    bool started;
    long batch_size, block_size, dp_rank, max_pending;
    bool map_format;
    int64_t flush_ns;
    pthread_mutex_t mu; /* guards the queue, topic and stopping */
    struct blob *q;     /* encoded events waiting, q[qhead .. qhead+qlen) */
    size_t qhead, qlen, qcap;
    char *topic;
    bool stopping, dropping;
    /* The thread's own: */
    uint64_t seq;
    struct blob *ring; /* the last published batches, for replay */
    size_t rcap, rhead, rlen;
};

static int64_t now_ns(clockid_t clk)
{
    struct timespec t;
    clock_gettime(clk, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

void sim_kvpub_set_topic(struct sim_kvpub *p, const char *topic)
{
    char *t = xstrdup(topic);
    pthread_mutex_lock(&p->mu);
    free(p->topic);
    p->topic = t;
    pthread_mutex_unlock(&p->mu);
}

static void wake(struct sim_kvpub *p)
{
    uint64_t one = 1;
    ssize_t w = write(p->wakefd, &one, sizeof(one));
    (void)w; /* a full eventfd counter still wakes the thread */
}

void sim_kvpub_push(void *arg, const struct sim_kvevent *ev)
{
    struct sim_kvpub *p = arg;
    struct buf b;
    buf_init(&b, BUF_NOCAP);
    int rc = sim_kvevents_encode_event(&b, ev, p->map_format, p->block_size);
    size_t n = 0;
    char *data = buf_take(&b, &n);
    if (rc < 0) { /* cannot happen without a cap; keep the queue consistent anyway */
        free(data);
        return;
    }
    pthread_mutex_lock(&p->mu);
    if ((long)p->qlen >= p->max_pending) {
        bool first = !p->dropping;
        p->dropping = true;
        pthread_mutex_unlock(&p->mu);
        free(data);
        if (first)
            log_warn("kv events dropped: the publisher queue is full",
                     LOG_INT("max_pending", p->max_pending));
        return;
    }
    if (p->qhead + p->qlen == p->qcap) {
        if (p->qhead > 0) {
            memmove(p->q, p->q + p->qhead, p->qlen * sizeof(*p->q));
            p->qhead = 0;
        } else {
            p->qcap = p->qcap ? p->qcap * 2 : 64;
            p->q = xrealloc(p->q, p->qcap * sizeof(*p->q));
        }
    }
    p->q[p->qhead + p->qlen++] = (struct blob){data, n, 0};
    bool full = p->qlen % (size_t)p->batch_size == 0;
    pthread_mutex_unlock(&p->mu);
    if (full)
        wake(p);
}

/* Take up to max queued events into out. Returns their number. */
static size_t take(struct sim_kvpub *p, struct blob *out, size_t max, char **topic)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->qlen < max ? p->qlen : max;
    memcpy(out, p->q + p->qhead, n * sizeof(*out));
    p->qhead += n;
    p->qlen -= n;
    if (p->qlen == 0) {
        p->qhead = 0;
        p->dropping = false;
    }
    *topic = xstrdup(p->topic ? p->topic : "");
    pthread_mutex_unlock(&p->mu);
    return n;
}

static void put_seq(unsigned char b[8], uint64_t seq)
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(seq >> (56 - 8 * i));
}

/* Keep a published batch for replay (the oldest goes when the ring is full). */
static void ring_put(struct sim_kvpub *p, uint64_t seq, char *payload, size_t n)
{
    struct blob *slot = &p->ring[(p->rhead + p->rlen) % p->rcap];
    if (p->rlen == p->rcap) {
        slot = &p->ring[p->rhead];
        free(slot->p);
        p->rhead = (p->rhead + 1) % p->rcap;
        p->rlen--;
    }
    *slot = (struct blob){payload, n, seq};
    p->rlen++;
}

/* One ZMQ message [topic, seq, batch of the n events]. */
static void publish(struct sim_kvpub *p, struct blob *ev, size_t n, const char *topic)
{
    struct buf events, batch;
    buf_init(&events, BUF_NOCAP);
    buf_init(&batch, BUF_NOCAP);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        rc = rc ? rc : buf_append(&events, ev[i].p, ev[i].n);
        free(ev[i].p);
    }
    double ts = (double)now_ns(CLOCK_REALTIME) / 1e9;
    rc = rc ? rc
            : sim_kvevents_encode_batch(&batch, ts, events.data ? events.data : "", events.len, n,
                                        p->dp_rank);
    buf_release(&events);
    unsigned char seq[8];
    put_seq(seq, ++p->seq);
    /* Let the socket take in subscriptions that arrived since the last send:
     * a PUB that connects to a binding SUB would drop this batch otherwise. */
    int zev;
    size_t zevlen = sizeof(zev);
    zmq_getsockopt(p->pub, ZMQ_EVENTS, &zev, &zevlen);
    if (rc == 0 && (zmq_send(p->pub, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
                    zmq_send(p->pub, seq, 8, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
                    zmq_send(p->pub, batch.data, batch.len, ZMQ_DONTWAIT) < 0))
        log_warn("kv events batch not sent", LOG_STR("error", zmq_strerror(errno)),
                 LOG_INT("seq", (long long)p->seq));
    if (rc == 0 && p->router) {
        size_t len = 0;
        char *payload = buf_take(&batch, &len);
        ring_put(p, p->seq, payload, len);
    }
    buf_release(&batch);
}

/* Publish full batches, and everything when flush_all. Returns whether any
 * batch went out. */
static bool publish_pending(struct sim_kvpub *p, bool flush_all)
{
    size_t max = (size_t)p->batch_size;
    struct blob *ev = xcalloc(max, sizeof(*ev));
    bool sent = false;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t waiting = p->qlen;
        pthread_mutex_unlock(&p->mu);
        if (waiting == 0 || (!flush_all && waiting < max))
            break;
        char *topic;
        size_t n = take(p, ev, max, &topic);
        publish(p, ev, n, topic);
        free(topic);
        sent = true;
    }
    free(ev);
    return sent;
}

static int send_frames(void *sock, const void *const *part, const size_t *len, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (zmq_send(sock, part[i], len[i], (i + 1 < n ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0)
            return -1;
    return 0;
}

/* Answer one replay request: every kept batch from the first with seq >= start
 * on, then the sentinel. A client that cannot take them loses the rest. */
static void replay_send(struct sim_kvpub *p, const void *id, size_t idlen, uint64_t start)
{
    char *topic;
    pthread_mutex_lock(&p->mu);
    topic = xstrdup(p->topic ? p->topic : "");
    pthread_mutex_unlock(&p->mu);
    unsigned char seq[8];
    size_t i = 0;
    while (i < p->rlen && p->ring[(p->rhead + i) % p->rcap].seq < start)
        i++;
    int rc = 0;
    for (; i < p->rlen && rc == 0; i++) {
        const struct blob *b = &p->ring[(p->rhead + i) % p->rcap];
        put_seq(seq, b->seq);
        const void *part[] = {id, "", topic, seq, b->p};
        size_t len[] = {idlen, 0, strlen(topic), 8, b->n};
        rc = send_frames(p->router, part, len, 5);
    }
    put_seq(seq, SIM_KVEVENTS_END_SEQ);
    const void *end[] = {id, "", "", seq, ""};
    size_t endlen[] = {idlen, 0, 0, 8, 0};
    if (rc < 0 || send_frames(p->router, end, endlen, 5) < 0)
        log_debug("kv events replay not fully sent", LOG_STR("error", zmq_strerror(errno)));
    free(topic);
}

/* Serve the replay requests waiting on the ROUTER: [identity, "", 8-byte
 * start seq] each; anything else is ignored, as upstream. */
static void replay_serve(struct sim_kvpub *p)
{
    for (int k = 0; k < 64; k++) {
        zmq_msg_t part[3], extra;
        size_t nparts = 0;
        int more = 1;
        while (more) {
            zmq_msg_t *m = nparts < 3 ? &part[nparts] : &extra;
            zmq_msg_init(m);
            if (zmq_msg_recv(m, p->router, nparts ? 0 : ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(m);
                for (size_t i = 0; i < nparts && i < 3; i++)
                    zmq_msg_close(&part[i]);
                return; /* nothing more waiting */
            }
            more = zmq_msg_more(m);
            if (m == &extra)
                zmq_msg_close(m);
            nparts++;
        }
        if (nparts == 3 && zmq_msg_size(&part[1]) == 0 && zmq_msg_size(&part[2]) >= 8) {
            const unsigned char *s = zmq_msg_data(&part[2]);
            uint64_t start = 0;
            for (int i = 0; i < 8; i++)
                start = start << 8 | s[i];
            replay_send(p, zmq_msg_data(&part[0]), zmq_msg_size(&part[0]), start);
        }
        for (size_t i = 0; i < nparts && i < 3; i++)
            zmq_msg_close(&part[i]);
    }
}

static void *run(void *arg)
{
    struct sim_kvpub *p = arg;
    int64_t deadline = now_ns(CLOCK_MONOTONIC) + p->flush_ns;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        bool stopping = p->stopping;
        pthread_mutex_unlock(&p->mu);
        if (publish_pending(p, stopping))
            deadline = now_ns(CLOCK_MONOTONIC) + p->flush_ns;
        if (stopping)
            break;
        int64_t now = now_ns(CLOCK_MONOTONIC);
        if (now >= deadline) { /* a second since the last batch: send what there is */
            publish_pending(p, true);
            deadline = now + p->flush_ns;
        }
        zmq_pollitem_t items[2] = {{.socket = NULL, .fd = p->wakefd, .events = ZMQ_POLLIN},
                                   {.socket = p->router, .events = ZMQ_POLLIN}};
        long ms = (long)((deadline - now + 999999) / 1000000);
        if (zmq_poll(items, p->router ? 2 : 1, ms) < 0 && errno != EINTR) {
            log_error("kv events publisher stopped", LOG_STR("error", zmq_strerror(errno)));
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            uint64_t v;
            ssize_t r = read(p->wakefd, &v, sizeof(v));
            (void)r;
        }
        if (p->router && (items[1].revents & ZMQ_POLLIN))
            replay_serve(p);
    }
    return NULL;
}

static int open_sockets(struct sim_kvpub *p, const struct sim_kvpub_opts *o, char *err,
                        size_t errlen)
{
    int linger = 200, hwm = (int)(o->replay_queue + 16), zero = 0;
    p->pub = zmq_socket(p->ctx, ZMQ_PUB);
    if (!p->pub) {
        snprintf(err, errlen, "--zmq-endpoint: %s", zmq_strerror(errno));
        return -1;
    }
    zmq_setsockopt(p->pub, ZMQ_LINGER, &linger, sizeof(linger));
    bool bind = sim_kvevents_passive(o->endpoint);
    if ((bind ? zmq_bind(p->pub, o->endpoint) : zmq_connect(p->pub, o->endpoint)) < 0) {
        snprintf(err, errlen, "--zmq-endpoint %s: cannot %s: %s", o->endpoint,
                 bind ? "bind" : "connect", zmq_strerror(errno));
        return -1;
    }
    if (!o->replay_endpoint || !o->replay_endpoint[0])
        return 0;
    p->router = zmq_socket(p->ctx, ZMQ_ROUTER);
    if (!p->router) {
        snprintf(err, errlen, "--kv-events-replay-endpoint: %s", zmq_strerror(errno));
        return -1;
    }
    zmq_setsockopt(p->router, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(p->router, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    if (zmq_bind(p->router, o->replay_endpoint) < 0) {
        snprintf(err, errlen, "--kv-events-replay-endpoint %s: cannot bind: %s", o->replay_endpoint,
                 zmq_strerror(errno));
        return -1;
    }
    p->rcap = (size_t)o->replay_queue;
    p->ring = xcalloc(p->rcap, sizeof(*p->ring));
    return 0;
}

struct sim_kvpub *sim_kvpub_start(const struct sim_kvpub_opts *o, char *err, size_t errlen)
{
    struct sim_kvpub *p = xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    p->batch_size = o->batch_size > 0 ? o->batch_size : 1;
    p->block_size = o->block_size;
    p->dp_rank = o->dp_rank;
    p->max_pending = o->max_pending > 0 ? o->max_pending : 1;
    p->map_format = o->map_format;
    p->flush_ns = o->flush_ns > 0 ? o->flush_ns : 1000000000LL;
    p->topic = o->topic ? xstrdup(o->topic) : NULL;
    p->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    p->ctx = zmq_ctx_new();
    if (p->wakefd < 0 || !p->ctx) {
        snprintf(err, errlen, "--zmq-endpoint: %s", strerror(errno));
        sim_kvpub_stop(p);
        return NULL;
    }
    if (open_sockets(p, o, err, errlen) < 0) {
        sim_kvpub_stop(p);
        return NULL;
    }
    int rc = pthread_create(&p->thread, NULL, run, p);
    if (rc != 0) {
        snprintf(err, errlen, "--zmq-endpoint: cannot start the publisher: %s", strerror(rc));
        sim_kvpub_stop(p);
        return NULL;
    }
    p->started = true;
    return p;
}

void sim_kvpub_stop(struct sim_kvpub *p)
{
    if (!p)
        return;
    if (p->started) {
        pthread_mutex_lock(&p->mu);
        p->stopping = true;
        pthread_mutex_unlock(&p->mu);
        wake(p);
        pthread_join(p->thread, NULL);
    }
    if (p->pub)
        zmq_close(p->pub);
    if (p->router)
        zmq_close(p->router);
    if (p->ctx)
        zmq_ctx_term(p->ctx);
    if (p->wakefd >= 0)
        close(p->wakefd);
    for (size_t i = 0; i < p->qlen; i++)
        free(p->q[p->qhead + i].p);
    free(p->q);
    for (size_t i = 0; i < p->rlen; i++)
        free(p->ring[(p->rhead + i) % p->rcap].p);
    free(p->ring);
    free(p->topic);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
