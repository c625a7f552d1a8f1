/*
 * pump: see pump.h. One thread, one epoll set; tasks come in through a
 * locked list and a wake-up eventfd, and leave by a semaphore each.
 */
#define _GNU_SOURCE
#include "common/pump.h"

#include "common/log.h"
#include "common/xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

enum { REF_WAKE, REF_ABORT, REF_SOCK, REF_EV };

struct pump_slot {
    int64_t at; /* CLOCK_MONOTONIC ns */
    struct pump_task *task;
};

struct pump_loop {
    pthread_t thread;
    int ep, wakefd, abortfd;
    int64_t stall_ns;
    pthread_mutex_t mu; /* guards incoming and stopping */
    struct pump_task *incoming;
    bool stopping;
    bool aborted;
    _Atomic long ntasks;
    struct pump_task *live; /* every task the thread holds */
    struct pump_task *done; /* finished in this pass: posted after it, so no
                             * event later in the same epoll batch can reach
                             * a task its owner has already freed */
    struct pump_slot *heap;
    size_t nheap, capheap;
    struct pump_ref wake_ref, abort_ref;
};

struct pump {
    size_t n;
    _Atomic unsigned long next; /* round robin over the loops */
    struct pump_loop *loop[];
};

static void ts_add(struct timespec *t, int64_t ns)
{
    int64_t v = (int64_t)t->tv_nsec + ns;
    t->tv_sec += (time_t)(v / 1000000000LL);
    t->tv_nsec = (long)(v % 1000000000LL);
}

static int64_t ts_ns(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec;
}

/* The heap: tasks by deadline (ns, kept beside the pointer so that sifting
 * reads one array, not a thousand tasks), each task knowing its index. */

static void heap_set(struct pump_loop *p, size_t i, struct pump_slot v)
{
    p->heap[i] = v;
    v.task->heap_idx = (long)i;
}

static void heap_up(struct pump_loop *p, size_t i)
{
    struct pump_slot v = p->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (v.at >= p->heap[parent].at)
            break;
        heap_set(p, i, p->heap[parent]);
        i = parent;
    }
    heap_set(p, i, v);
}

static void heap_down(struct pump_loop *p, size_t i)
{
    struct pump_slot v = p->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        int64_t best = v.at;
        if (l < p->nheap && p->heap[l].at < best) {
            m = l;
            best = p->heap[l].at;
        }
        if (l + 1 < p->nheap && p->heap[l + 1].at < best)
            m = l + 1;
        if (m == i)
            break;
        heap_set(p, i, p->heap[m]);
        i = m;
    }
    heap_set(p, i, v);
}

static void heap_remove(struct pump_loop *p, struct pump_task *t)
{
    if (t->heap_idx < 0)
        return;
    size_t i = (size_t)t->heap_idx;
    t->heap_idx = -1;
    struct pump_slot last = p->heap[--p->nheap];
    if (last.task == t)
        return;
    heap_set(p, i, last);
    heap_up(p, i);
    heap_down(p, (size_t)last.task->heap_idx);
}

static void heap_put(struct pump_loop *p, struct pump_task *t, const struct timespec *at)
{
    int64_t ns = ts_ns(at);
    if (t->heap_idx >= 0) {
        size_t i = (size_t)t->heap_idx;
        p->heap[i].at = ns;
        heap_up(p, i);
        heap_down(p, (size_t)t->heap_idx);
        return;
    }
    if (p->nheap == p->capheap) {
        p->capheap = p->capheap ? 2 * p->capheap : 64;
        p->heap = xrealloc(p->heap, p->capheap * sizeof(*p->heap));
    }
    heap_set(p, p->nheap++, (struct pump_slot){ns, t});
    heap_up(p, p->nheap - 1);
}

static void watch_sock(struct pump_loop *p, struct pump_task *t, bool out)
{
    int ev = EPOLLRDHUP | (out ? EPOLLOUT : 0);
    if (ev == t->sock_events)
        return;
    struct epoll_event e = {.events = (uint32_t)ev, .data.ptr = &t->sock_ref};
    if (epoll_ctl(p->ep, EPOLL_CTL_MOD, t->sockfd, &e) == 0)
        t->sock_events = ev;
}

/* Hand the task back to its owner. */
static void finish(struct pump_loop *p, struct pump_task *t, int result)
{
    heap_remove(p, t);
    epoll_ctl(p->ep, EPOLL_CTL_DEL, t->sockfd, NULL);
    if (t->evfd >= 0)
        epoll_ctl(p->ep, EPOLL_CTL_DEL, t->evfd, NULL);
    if (t->prev_live)
        t->prev_live->next_live = t->next_live;
    else
        p->live = t->next_live;
    if (t->next_live)
        t->next_live->prev_live = t->prev_live;
    buf_release(&t->pend);
    t->result = result;
    t->finished = 1;
    t->next_new = p->done;
    p->done = t;
}

static void post_done(struct pump_loop *p)
{
    while (p->done) {
        struct pump_task *t = p->done;
        p->done = t->next_new;
        atomic_fetch_sub(&p->ntasks, 1);
        sem_post(&t->done); /* t may be gone after this */
    }
}

/* End the task as soon as its pending chunk is out (at once when none is). */
static void end_task(struct pump_loop *p, struct pump_task *t, int result)
{
    if (t->ending)
        return;
    t->ending = 1;
    t->final = result;
    if (t->pend.len == 0)
        finish(p, t, result);
}

static void abort_all(struct pump_loop *p)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    p->aborted = true;
    for (struct pump_task *t = p->live, *nx; t; t = nx) {
        nx = t->next_live;
        end_task(p, t, PUMP_ABORT);
        if (!t->finished && p->stall_ns > 1000000000LL) {
            /* shutting down: a pending chunk gets at most 1 s to drain */
            struct timespec limit = now;
            ts_add(&limit, 1000000000LL);
            heap_put(p, t, &limit);
        }
    }
}

/* Send the pending bytes. Returns 1 when all went, 0 when some wait, -1 on error. */
static int send_pending(struct pump_task *t)
{
    while (t->pend_off < t->pend.len) {
        ssize_t n = send(t->sockfd, t->pend.data + t->pend_off, t->pend.len - t->pend_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        t->pend_off += (size_t)n;
    }
    buf_reset(&t->pend);
    t->pend_off = 0;
    return 1;
}

/* Send out as one chunk, keeping what the socket did not take. Returns 1 when
 * all went, 0 when some wait, -1 on error. */
static int send_chunk(struct pump_task *t)
{
    struct buf *out = t->out;
    if (out->len == 0)
        return 1;
    char hdr[24];
    int hn = snprintf(hdr, sizeof(hdr), "%zx\r\n", out->len);
    struct iovec iov[3] = {{hdr, (size_t)hn}, {out->data, out->len}, {(void *)"\r\n", 2}};
    size_t total = (size_t)hn + out->len + 2;
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 3};
    ssize_t n;
    do
        n = sendmsg(t->sockfd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        buf_reset(out);
        return -1;
    }
    size_t sent = n < 0 ? 0 : (size_t)n;
    if (sent < total) {
        for (int i = 0; i < 3; i++) {
            if (sent >= iov[i].iov_len) {
                sent -= iov[i].iov_len;
                continue;
            }
            int rc =
                buf_append(&t->pend, (const char *)iov[i].iov_base + sent, iov[i].iov_len - sent);
            (void)rc; /* pend has no cap */
            sent = 0;
        }
    }
    buf_reset(out);
    return t->pend.len ? 0 : 1;
}

/* Stalled: wait for the socket, with a deadline that ends the task. */
static void stall(struct pump_loop *p, struct pump_task *t, const struct timespec *now)
{
    struct timespec limit = *now;
    ts_add(&limit, p->stall_ns);
    heap_put(p, t, &limit);
    watch_sock(p, t, true);
}

static void step(struct pump_loop *p, struct pump_task *t, const struct timespec *now)
{
    struct timespec next = *now;
    enum pump_next what = t->step(t, now, &next);
    int rc = send_chunk(t);
    if (rc < 0) {
        buf_reset(&t->pend);
        end_task(p, t, PUMP_GONE);
        return;
    }
    if (what == PUMP_END) {
        end_task(p, t, t->result);
        if (t->ending && t->pend.len) /* not finished: the chunk is still going out */
            stall(p, t, now);
        return;
    }
    if (rc == 0) { /* the next step waits until the socket took this one */
        stall(p, t, now);
        return;
    }
    if (what == PUMP_AT)
        heap_put(p, t, &next);
    else
        heap_remove(p, t);
}

static void take_incoming(struct pump_loop *p, const struct timespec *now)
{
    pthread_mutex_lock(&p->mu);
    struct pump_task *t = p->incoming;
    p->incoming = NULL;
    pthread_mutex_unlock(&p->mu);
    while (t) {
        struct pump_task *nx = t->next_new;
        t->next_live = p->live;
        t->prev_live = NULL;
        if (p->live)
            p->live->prev_live = t;
        p->live = t;
        struct epoll_event e = {.events = EPOLLRDHUP, .data.ptr = &t->sock_ref};
        if (epoll_ctl(p->ep, EPOLL_CTL_ADD, t->sockfd, &e) < 0) {
            finish(p, t, PUMP_REFUSED);
        } else {
            t->sock_events = EPOLLRDHUP;
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &t->ev_ref};
            if (t->evfd >= 0 && epoll_ctl(p->ep, EPOLL_CTL_ADD, t->evfd, &ev) < 0) {
                finish(p, t, PUMP_REFUSED);
            } else if (p->aborted) {
                end_task(p, t, PUMP_ABORT);
            } else {
                step(p, t, now);
            }
        }
        t = nx;
    }
}

static void on_event(struct pump_loop *p, const struct epoll_event *e, const struct timespec *now)
{
    struct pump_ref *ref = e->data.ptr;
    if (ref->kind == REF_WAKE) {
        uint64_t v;
        ssize_t rc = read(p->wakefd, &v, sizeof(v));
        (void)rc;
        take_incoming(p, now);
        return;
    }
    if (ref->kind == REF_ABORT) {
        epoll_ctl(p->ep, EPOLL_CTL_DEL, p->abortfd, NULL); /* level-triggered: once is enough */
        abort_all(p);
        return;
    }
    struct pump_task *t = ref->task;
    if (t->finished)
        return;
    if (ref->kind == REF_EV) {
        uint64_t v;
        ssize_t rc = read(t->evfd, &v, sizeof(v));
        (void)rc;
        if (!t->ending && t->pend.len == 0)
            step(p, t, now);
        return;
    }
    if (e->events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        buf_reset(&t->pend);
        t->ending = 0; /* whatever it was ending with, the client is gone */
        end_task(p, t, PUMP_GONE);
        return;
    }
    if (e->events & EPOLLOUT) {
        size_t before = t->pend_off;
        int rc = send_pending(t);
        if (rc == 0 && t->pend_off > before) /* progress: the stall limit starts again */
            stall(p, t, now);
        if (rc < 0) {
            buf_reset(&t->pend);
            t->ending = 0;
            end_task(p, t, PUMP_GONE);
        } else if (rc > 0) {
            watch_sock(p, t, false);
            heap_remove(p, t);
            if (t->ending)
                finish(p, t, t->final);
            else
                step(p, t, now); /* what fell due meanwhile goes out now */
        }
    }
}

static void on_deadlines(struct pump_loop *p, const struct timespec *now)
{
    int64_t now_ns = ts_ns(now);
    while (p->nheap > 0 && p->heap[0].at <= now_ns) {
        struct pump_task *t = p->heap[0].task;
        heap_remove(p, t);
        if (t->pend.len > 0) { /* the stall limit: the client stopped reading */
            buf_reset(&t->pend);
            t->ending = 0;
            end_task(p, t, PUMP_GONE);
        } else {
            step(p, t, now);
        }
    }
}

static void *pump_main(void *arg)
{
    struct pump_loop *p = arg;
    struct epoll_event evs[128];
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* the default 50 us would make every token late */
    for (;;) {
        struct timespec now, rel, *relp = NULL;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (p->nheap > 0) {
            int64_t left = p->heap[0].at - ts_ns(&now);
            if (left < 0)
                left = 0;
            rel.tv_sec = (time_t)(left / 1000000000LL);
            rel.tv_nsec = (long)(left % 1000000000LL);
            relp = &rel;
        }
        int n = epoll_pwait2(p->ep, evs, (int)(sizeof(evs) / sizeof(evs[0])), relp, NULL);
        if (n < 0 && errno != EINTR) {
            log_error("pump: epoll_pwait2 failed", LOG_STR("error", strerror(errno)));
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        for (int i = 0; i < n; i++)
            on_event(p, &evs[i], &now);
        on_deadlines(p, &now);
        pthread_mutex_lock(&p->mu);
        bool stopping = p->stopping;
        pthread_mutex_unlock(&p->mu);
        if (stopping && !p->aborted)
            abort_all(p);
        post_done(p);
        pthread_mutex_lock(&p->mu);
        bool idle = !p->incoming && !p->live;
        pthread_mutex_unlock(&p->mu);
        if (stopping && idle)
            break;
    }
    return NULL;
}

static struct pump_loop *loop_start(int abortfd, int64_t stall_ns, char *err, size_t errlen)
{
    struct pump_loop *p = xcalloc(1, sizeof(*p));
    p->abortfd = abortfd;
    p->stall_ns = stall_ns > 0 ? stall_ns : 1;
    p->wake_ref.kind = REF_WAKE;
    p->abort_ref.kind = REF_ABORT;
    pthread_mutex_init(&p->mu, NULL);
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    p->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event w = {.events = EPOLLIN, .data.ptr = &p->wake_ref};
    struct epoll_event a = {.events = EPOLLIN, .data.ptr = &p->abort_ref};
    if (p->ep < 0 || p->wakefd < 0 || epoll_ctl(p->ep, EPOLL_CTL_ADD, p->wakefd, &w) < 0 ||
        (abortfd >= 0 && epoll_ctl(p->ep, EPOLL_CTL_ADD, abortfd, &a) < 0)) {
        snprintf(err, errlen, "stream pump: %s", strerror(errno));
        goto fail;
    }
    int rc = pthread_create(&p->thread, NULL, pump_main, p);
    if (rc != 0) {
        snprintf(err, errlen, "stream pump: pthread_create: %s", strerror(rc));
        goto fail;
    }
    return p;
fail:
    if (p->ep >= 0)
        close(p->ep);
    if (p->wakefd >= 0)
        close(p->wakefd);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return NULL;
}

static void wake(struct pump_loop *p)
{
    uint64_t one = 1;
    ssize_t rc = write(p->wakefd, &one, sizeof(one));
    (void)rc;
}

static int loop_run(struct pump_loop *p, struct pump_task *t)
{
    t->heap_idx = -1;
    t->sock_ref = (struct pump_ref){t, REF_SOCK};
    t->ev_ref = (struct pump_ref){t, REF_EV};
    t->sock_events = 0;
    t->ending = 0;
    t->finished = 0;
    t->final = 0;
    buf_init(&t->pend, BUF_NOCAP);
    t->pend_off = 0;
    sem_init(&t->done, 0, 0);
    atomic_fetch_add(&p->ntasks, 1);
    pthread_mutex_lock(&p->mu);
    bool first = p->incoming == NULL;
    t->next_new = p->incoming;
    p->incoming = t;
    pthread_mutex_unlock(&p->mu);
    if (first)
        wake(p);
    while (sem_wait(&t->done) < 0 && errno == EINTR)
        ;
    sem_destroy(&t->done);
    return t->result;
}

static void loop_stop(struct pump_loop *p)
{
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_mutex_unlock(&p->mu);
    wake(p);
    pthread_join(p->thread, NULL);
    close(p->ep);
    close(p->wakefd);
    pthread_mutex_destroy(&p->mu);
    free(p->heap);
    free(p);
}

struct pump *pump_start(int threads, int abortfd, int64_t stall_ns, char *err, size_t errlen)
{
    size_t n = threads > 0 ? (size_t)threads : 1;
    struct pump *p = xcalloc(1, sizeof(*p) + n * sizeof(p->loop[0]));
    for (p->n = 0; p->n < n; p->n++) {
        if (!(p->loop[p->n] = loop_start(abortfd, stall_ns, err, errlen))) {
            pump_stop(p);
            return NULL;
        }
    }
    return p;
}

int pump_run(struct pump *p, struct pump_task *t)
{
    unsigned long i = atomic_fetch_add(&p->next, 1);
    return loop_run(p->loop[i % p->n], t);
}

long pump_tasks(struct pump *p)
{
    long n = 0;
    for (size_t i = 0; i < p->n; i++)
        n += atomic_load(&p->loop[i]->ntasks);
    return n;
}

void pump_stop(struct pump *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        loop_stop(p->loop[i]);
    free(p);
}
