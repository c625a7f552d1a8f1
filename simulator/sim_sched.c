#include "simulator/sim_sched.h"

#include "common/buf.h"
#include "common/xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* An adapter that is loaded (holds a LoRA slot) or has items running or
 * waiting. Loaded adapters stay after their last item, as upstream, so they
 * can run again at once; they are evicted only when a slot is needed. */
struct lora_use {
    char *name;
    long running, waiting;
    bool loaded;
};

struct sim_sched {
    pthread_mutex_t mu;
    long max_running, max_waiting, max_loras;
    _Atomic long running;
    long waiting;
    bool closed;
    struct sim_sched_item *head, *tail;
    struct sim_metrics *metrics;
    struct lora_use *lu;
    size_t nlu, caplu;
    long nloaded;
    char *pub_running, *pub_waiting; /* adapter lists last given to metrics */
};

struct sim_sched *sim_sched_new(long max_running, long max_waiting, long max_loras,
                                struct sim_metrics *metrics)
{
    struct sim_sched *s = xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    s->max_running = max_running;
    s->max_waiting = max_waiting;
    s->max_loras = max_loras < 1 ? 1 : max_loras;
    s->metrics = metrics;
    s->pub_running = xstrdup("");
    s->pub_waiting = xstrdup("");
    return s;
}

void sim_sched_free(struct sim_sched *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nlu; i++)
        free(s->lu[i].name);
    free(s->lu);
    free(s->pub_running);
    free(s->pub_waiting);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static double since(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* The entry of adapter name, created when create is set; NULL otherwise. */
static struct lora_use *lu_get(struct sim_sched *s, const char *name, bool create)
{
    for (size_t i = 0; i < s->nlu; i++)
        if (strcmp(s->lu[i].name, name) == 0)
            return &s->lu[i];
    if (!create)
        return NULL;
    if (s->nlu == s->caplu) {
        s->caplu = s->caplu ? s->caplu * 2 : 8;
        s->lu = xrealloc(s->lu, s->caplu * sizeof(*s->lu));
    }
    struct lora_use *u = &s->lu[s->nlu++];
    memset(u, 0, sizeof(*u));
    u->name = xstrdup(name);
    return u;
}

/* Drop u when nothing refers to it any more. */
static void lu_gc(struct sim_sched *s, struct lora_use *u)
{
    if (u->loaded || u->running || u->waiting)
        return;
    free(u->name);
    size_t i = (size_t)(u - s->lu);
    memmove(&s->lu[i], &s->lu[i + 1], (s->nlu - i - 1) * sizeof(*s->lu));
    s->nlu--;
}

static bool lora_loaded(struct sim_sched *s, const char *lora)
{
    if (!lora)
        return true;
    struct lora_use *u = lu_get(s, lora, false);
    return u && u->loaded;
}

/* An idle loaded adapter, to evict. */
static struct lora_use *lu_idle(struct sim_sched *s)
{
    for (size_t i = 0; i < s->nlu; i++)
        if (s->lu[i].loaded && s->lu[i].running == 0)
            return &s->lu[i];
    return NULL;
}

static bool lora_can_load(struct sim_sched *s, const char *lora)
{
    return lora_loaded(s, lora) || s->nloaded < s->max_loras || lu_idle(s);
}

/* Take a LoRA slot for lora (loading it, evicting an idle one if needed)
 * and count one running item. lora_can_load must hold. */
static void lora_take(struct sim_sched *s, const char *lora, bool was_waiting)
{
    if (!lora)
        return;
    struct lora_use *idle = !lora_loaded(s, lora) && s->nloaded >= s->max_loras ? lu_idle(s) : NULL;
    if (idle) { /* lora_can_load promised one */
        idle->loaded = false;
        s->nloaded--;
        lu_gc(s, idle);
    }
    struct lora_use *u = lu_get(s, lora, true);
    if (!u->loaded) {
        u->loaded = true;
        s->nloaded++;
    }
    u->running++;
    if (was_waiting)
        u->waiting--;
}

/* Start item now. Caller holds the lock. */
static void start(struct sim_sched *s, struct sim_sched_item *it, const struct timespec *now,
                  bool was_waiting)
{
    lora_take(s, it->lora, was_waiting);
    it->started_at = *now;
    atomic_store(&s->running, atomic_load(&s->running) + 1);
    atomic_store(&it->state, SIM_ITEM_RUNNING);
    if (s->metrics)
        sim_metrics_observe_queue(s->metrics, since(&it->queued_at, now));
}

/* The adapters with running (or waiting) items, comma-separated. */
static char *lora_list(const struct sim_sched *s, bool running)
{
    struct buf b;
    buf_init(&b, BUF_NOCAP);
    int rc = 0;
    for (size_t i = 0; i < s->nlu && rc == 0; i++) {
        const struct lora_use *u = &s->lu[i];
        if (running ? u->running > 0 : u->waiting > 0)
            rc = b.len ? buf_appendf(&b, ",%s", u->name) : buf_puts(&b, u->name);
    }
    char *r = buf_take(&b, NULL);
    return r ? r : xstrdup("");
}

static void publish(struct sim_sched *s)
{
    if (!s->metrics)
        return;
    sim_metrics_set_running(s->metrics, atomic_load(&s->running));
    sim_metrics_set_waiting(s->metrics, s->waiting);
    if (s->nlu == 0 && !s->pub_running[0] && !s->pub_waiting[0])
        return; /* no adapter in use, none before: nothing changed */
    char *run = lora_list(s, true), *wait = lora_list(s, false);
    if (strcmp(run, s->pub_running) == 0 && strcmp(wait, s->pub_waiting) == 0) {
        free(run);
        free(wait);
        return;
    }
    free(s->pub_running);
    free(s->pub_waiting);
    s->pub_running = run;
    s->pub_waiting = wait;
    sim_metrics_set_lora_info(s->metrics, run, wait);
}

static void enqueue(struct sim_sched *s, struct sim_sched_item *it)
{
    atomic_store(&it->state, SIM_ITEM_QUEUED);
    it->prev = s->tail;
    if (s->tail)
        s->tail->next = it;
    else
        s->head = it;
    s->tail = it;
    s->waiting++;
    if (it->lora)
        lu_get(s, it->lora, true)->waiting++;
}

int sim_sched_submit(struct sim_sched *s, struct sim_sched_item *const *items, size_t n,
                     const char *lora, int *evfd)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&s->mu);
    if (s->closed) {
        pthread_mutex_unlock(&s->mu);
        return -ESHUTDOWN;
    }
    /* Free slots with a non-empty queue mean every waiting item is held back
     * by its adapter (sim_sched_finish starts all it can), so a new item that
     * can run does not jump the FIFO order. */
    long free_slots = s->max_running - atomic_load(&s->running);
    if (free_slots < 0 || !lora_can_load(s, lora))
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
        it->lora = lora;
        it->prev = it->next = NULL;
        if ((long)i < free_slots)
            start(s, it, &now, false);
        else
            enqueue(s, it);
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

/* The waiting item a free slot goes to, or NULL. */
static struct sim_sched_item *pick(struct sim_sched *s)
{
    if (s->nlu == 0)
        return s->head; /* no adapter in play: plain FIFO */
    for (struct sim_sched_item *it = s->head; it; it = it->next)
        if (lora_loaded(s, it->lora))
            return it;
    for (struct sim_sched_item *it = s->head; it; it = it->next)
        if (lora_can_load(s, it->lora))
            return it;
    return NULL;
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
    struct lora_use *u = it->lora ? lu_get(s, it->lora, false) : NULL;
    if (st == SIM_ITEM_QUEUED) {
        unlink_item(s, it);
        if (u)
            u->waiting--;
    } else if (st == SIM_ITEM_RUNNING) {
        atomic_store(&s->running, atomic_load(&s->running) - 1);
        if (u)
            u->running--;
    }
    if (u)
        lu_gc(s, u);
    atomic_store(&it->state, SIM_ITEM_DONE);
    struct sim_sched_item *next;
    while (atomic_load(&s->running) < s->max_running && (next = pick(s))) {
        unlink_item(s, next);
        start(s, next, &now, true);
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
