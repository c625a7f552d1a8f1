#include "simulator/sim_sched.h"

#include "common/xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct sim_sched {
    pthread_mutex_t mu;
    long max_running, max_waiting;
    _Atomic long running;
    long waiting;
    bool closed;
    struct sim_sched_item *head, *tail;
    struct sim_metrics *metrics;
};

struct sim_sched *sim_sched_new(long max_running, long max_waiting, struct sim_metrics *metrics)
{
    struct sim_sched *s = xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    s->max_running = max_running;
    s->max_waiting = max_waiting;
    s->metrics = metrics;
    return s;
}

void sim_sched_free(struct sim_sched *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static double since(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* Start item now. Caller holds the lock. */
static void start(struct sim_sched *s, struct sim_sched_item *it, const struct timespec *now)
{
    it->started_at = *now;
    atomic_store(&s->running, atomic_load(&s->running) + 1);
    atomic_store(&it->state, SIM_ITEM_RUNNING);
    if (s->metrics)
        sim_metrics_observe_queue(s->metrics, since(&it->queued_at, now));
}

static void publish(struct sim_sched *s)
{
    if (s->metrics) {
        sim_metrics_set_running(s->metrics, atomic_load(&s->running));
        sim_metrics_set_waiting(s->metrics, s->waiting);
    }
}

int sim_sched_submit(struct sim_sched *s, struct sim_sched_item *const *items, size_t n, int *evfd)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&s->mu);
    if (s->closed) {
        pthread_mutex_unlock(&s->mu);
        return -ESHUTDOWN;
    }
    long free_slots = s->head ? 0 : s->max_running - atomic_load(&s->running);
    if (free_slots < 0)
        free_slots = 0;
    long must_wait = (long)n > free_slots ? (long)n - free_slots : 0;
    if (must_wait > 0 && s->waiting + must_wait > s->max_waiting) {
        pthread_mutex_unlock(&s->mu);
        return -EAGAIN;
    }
    if (must_wait > 0 && *evfd < 0) {
        *evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (*evfd < 0) {
            pthread_mutex_unlock(&s->mu);
            return -EAGAIN;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct sim_sched_item *it = items[i];
        it->queued_at = now;
        it->evfd = *evfd;
        it->prev = it->next = NULL;
        if ((long)i < free_slots) {
            start(s, it, &now);
            continue;
        }
        atomic_store(&it->state, SIM_ITEM_QUEUED);
        it->prev = s->tail;
        if (s->tail)
            s->tail->next = it;
        else
            s->head = it;
        s->tail = it;
        s->waiting++;
    }
    publish(s);
    pthread_mutex_unlock(&s->mu);
    return (int)must_wait;
}

static void unlink_item(struct sim_sched *s, struct sim_sched_item *it)
{
    if (it->prev)
        it->prev->next = it->next;
    else
        s->head = it->next;
    if (it->next)
        it->next->prev = it->prev;
    else
        s->tail = it->prev;
    it->prev = it->next = NULL;
    s->waiting--;
}

void sim_sched_finish(struct sim_sched *s, struct sim_sched_item *it)
{
    struct timespec now;
    int st = atomic_load(&it->state);
    if (st != SIM_ITEM_RUNNING && st != SIM_ITEM_QUEUED)
        return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&s->mu);
    st = atomic_load(&it->state);
    if (st == SIM_ITEM_QUEUED) {
        unlink_item(s, it);
    } else if (st == SIM_ITEM_RUNNING) {
        atomic_store(&s->running, atomic_load(&s->running) - 1);
    }
    atomic_store(&it->state, SIM_ITEM_DONE);
    while (s->head && atomic_load(&s->running) < s->max_running) {
        struct sim_sched_item *next = s->head;
        unlink_item(s, next);
        start(s, next, &now);
        uint64_t one = 1;
        ssize_t w = write(next->evfd, &one, sizeof(one));
        (void)w;
    }
    publish(s);
    pthread_mutex_unlock(&s->mu);
}

long sim_sched_running(const struct sim_sched *s)
{
    return atomic_load(&s->running);
}

long sim_sched_active(struct sim_sched *s)
{
    pthread_mutex_lock(&s->mu);
    long n = atomic_load(&s->running) + s->waiting;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void sim_sched_close(struct sim_sched *s)
{
    pthread_mutex_lock(&s->mu);
    s->closed = true;
    pthread_mutex_unlock(&s->mu);
}
