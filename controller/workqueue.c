#include "controller/workqueue.h"

#include "common/xalloc.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

/* A growable list of owned key strings; the queue sizes are small (one key
 * per PDSimulation), so lookups are linear. */
struct keys {
    char **v;
    size_t n, cap;
};

static ssize_t keys_find(const struct keys *k, const char *key)
{
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->v[i], key) == 0)
            return (ssize_t)i;
    return -1;
}

static void keys_push(struct keys *k, const char *key)
{
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 16;
        k->v = xrealloc(k->v, k->cap * sizeof(*k->v));
    }
    k->v[k->n++] = xstrdup(key);
}

/* Remove entry i (order kept: the ready list is FIFO). */
static void keys_remove(struct keys *k, size_t i)
{
    free(k->v[i]);
    memmove(&k->v[i], &k->v[i + 1], (k->n - i - 1) * sizeof(*k->v));
    k->n--;
}

static void keys_release(struct keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i]);
    free(k->v);
}

struct delayed {
    char *key;
    int64_t due_ns;
};

struct failure {
    char *key;
    int n;
};

struct wq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct keys ready, dirty, processing;
    struct delayed *delayed;
    size_t ndelayed, capdelayed;
    struct failure *fail;
    size_t nfail, capfail;
    double base_s, max_s;
    bool shutdown;
};

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

struct wq *wq_new(double base_s, double max_s)
{
    struct wq *q = xcalloc(1, sizeof(*q));
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&q->mu, NULL);
    q->base_s = base_s;
    q->max_s = max_s;
    return q;
}

void wq_free(struct wq *q)
{
    if (!q)
        return;
    keys_release(&q->ready);
    keys_release(&q->dirty);
    keys_release(&q->processing);
    for (size_t i = 0; i < q->ndelayed; i++)
        free(q->delayed[i].key);
    free(q->delayed);
    for (size_t i = 0; i < q->nfail; i++)
        free(q->fail[i].key);
    free(q->fail);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

/* client-go's Add, with q->mu held. */
static void add_locked(struct wq *q, const char *key)
{
    if (q->shutdown || keys_find(&q->dirty, key) >= 0)
        return;
    keys_push(&q->dirty, key);
    if (keys_find(&q->processing, key) >= 0)
        return; /* wq_done queues it */
    keys_push(&q->ready, key);
    pthread_cond_signal(&q->cv);
}

void wq_add(struct wq *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    add_locked(q, key);
    pthread_mutex_unlock(&q->mu);
}

static void add_after_locked(struct wq *q, const char *key, double delay_s)
{
    if (q->shutdown)
        return;
    if (delay_s <= 0) {
        add_locked(q, key);
        return;
    }
    int64_t due = now_ns() + (int64_t)(delay_s * 1e9);
    for (size_t i = 0; i < q->ndelayed; i++) {
        if (strcmp(q->delayed[i].key, key) == 0) { /* the earlier time wins */
            if (due < q->delayed[i].due_ns)
                q->delayed[i].due_ns = due;
            pthread_cond_broadcast(&q->cv);
            return;
        }
    }
    if (q->ndelayed == q->capdelayed) {
        q->capdelayed = q->capdelayed ? q->capdelayed * 2 : 16;
        q->delayed = xrealloc(q->delayed, q->capdelayed * sizeof(*q->delayed));
    }
    q->delayed[q->ndelayed++] = (struct delayed){xstrdup(key), due};
    pthread_cond_broadcast(&q->cv); /* a getter may need to wake earlier */
}

void wq_add_after(struct wq *q, const char *key, double delay_s)
{
    pthread_mutex_lock(&q->mu);
    add_after_locked(q, key, delay_s);
    pthread_mutex_unlock(&q->mu);
}

static struct failure *failure_of(struct wq *q, const char *key, bool create)
{
    for (size_t i = 0; i < q->nfail; i++)
        if (strcmp(q->fail[i].key, key) == 0)
            return &q->fail[i];
    if (!create)
        return NULL;
    if (q->nfail == q->capfail) {
        q->capfail = q->capfail ? q->capfail * 2 : 16;
        q->fail = xrealloc(q->fail, q->capfail * sizeof(*q->fail));
    }
    q->fail[q->nfail] = (struct failure){xstrdup(key), 0};
    return &q->fail[q->nfail++];
}

void wq_add_rate_limited(struct wq *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    struct failure *f = failure_of(q, key, true);
    double delay = q->base_s * pow(2.0, f->n);
    f->n++;
    add_after_locked(q, key, delay < q->max_s ? delay : q->max_s);
    pthread_mutex_unlock(&q->mu);
}

void wq_forget(struct wq *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    struct failure *f = failure_of(q, key, false);
    if (f) {
        free(f->key);
        *f = q->fail[--q->nfail];
    }
    pthread_mutex_unlock(&q->mu);
}

int wq_failures(struct wq *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    struct failure *f = failure_of(q, key, false);
    int n = f ? f->n : 0;
    pthread_mutex_unlock(&q->mu);
    return n;
}

/* Move due delayed keys to the ready list; returns the next due time, or 0. */
static int64_t promote_due(struct wq *q)
{
    int64_t now = now_ns(), next = 0;
    for (size_t i = 0; i < q->ndelayed;) {
        if (q->delayed[i].due_ns <= now) {
            char *key = q->delayed[i].key;
            q->delayed[i] = q->delayed[--q->ndelayed];
            add_locked(q, key);
            free(key);
        } else {
            if (!next || q->delayed[i].due_ns < next)
                next = q->delayed[i].due_ns;
            i++;
        }
    }
    return next;
}

bool wq_get(struct wq *q, char *key, size_t keylen)
{
    pthread_mutex_lock(&q->mu);
    for (;;) {
        int64_t next = promote_due(q);
        if (q->ready.n > 0 || q->shutdown)
            break;
        if (next) {
            struct timespec ts = {.tv_sec = next / 1000000000, .tv_nsec = next % 1000000000};
            pthread_cond_timedwait(&q->cv, &q->mu, &ts);
        } else {
            pthread_cond_wait(&q->cv, &q->mu);
        }
    }
    bool ok = !q->shutdown && q->ready.n > 0 && strlen(q->ready.v[0]) < keylen;
    if (ok) {
        strcpy(key, q->ready.v[0]);
        keys_push(&q->processing, key);
        keys_remove(&q->dirty, (size_t)keys_find(&q->dirty, key));
        keys_remove(&q->ready, 0);
    }
    pthread_mutex_unlock(&q->mu);
    return ok;
}

void wq_done(struct wq *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    ssize_t i = keys_find(&q->processing, key);
    if (i >= 0) {
        keys_remove(&q->processing, (size_t)i);
        if (keys_find(&q->dirty, key) >= 0) { /* added while it was processed */
            keys_push(&q->ready, key);
            pthread_cond_signal(&q->cv);
        }
    }
    pthread_mutex_unlock(&q->mu);
}

size_t wq_len(struct wq *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->ready.n;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void wq_shutdown(struct wq *q)
{
    pthread_mutex_lock(&q->mu);
    q->shutdown = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}
