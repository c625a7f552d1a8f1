/*
 * pump: a few threads that drive many timed HTTP streams, so a thousand
 * streams cost a few threads' wake-ups instead of a thousand.
 *
 * A handler whose work is "sleep until the next deadline, send what is due,
 * repeat" hands that loop to the pump (pump_run) and blocks once until it
 * ends. The pump keeps its tasks in a heap by deadline and waits with epoll
 * for the earliest deadline, a task's event fd, a client hang-up or the abort
 * fd. It calls the task's step, then sends what step produced as one HTTP/1.1
 * chunk (framing included, one system call) without blocking: a client that
 * reads slowly holds back only its own task, whose next step waits until its
 * bytes are out. The pump writes the socket itself, so it serves plain-HTTP
 * connections only; a TLS connection keeps its thread's own loop.
 */
#ifndef PDSIM_COMMON_PUMP_H
#define PDSIM_COMMON_PUMP_H

#include "common/buf.h"

#include <semaphore.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct pump;

/* What a step asks for next. */
enum pump_next {
    PUMP_AT,   /* run again at *next (or earlier, when evfd is signalled) */
    PUMP_WAIT, /* run again when evfd is signalled: there is no deadline */
    PUMP_END,  /* finished: t->result is the answer of pump_run */
};

/* pump_run's answers besides the result a step set (which must be >= 0). */
#define PUMP_GONE    (-1) /* the client hung up, or a write failed or stalled */
#define PUMP_ABORT   (-2) /* the abort fd became readable */
#define PUMP_REFUSED (-3) /* the socket could not be watched: run the loop yourself */

struct pump_task;
/* Advance the task to now and append what is due to *out. Runs on the pump's
 * thread; while pump_run blocks, nothing else may touch the task's state. */
typedef enum pump_next (*pump_step_fn)(struct pump_task *t, const struct timespec *now,
                                       struct timespec *next);

struct pump_ref {
    struct pump_task *task; /* NULL: the pump's own fd (wake-up, abort) */
    int kind;
};

struct pump_task {
    /* Set by the owner before pump_run. */
    int sockfd;        /* the client's plain-TCP socket */
    int evfd;          /* -1, or an eventfd that makes the step run (the pump drains it) */
    pump_step_fn step; /* never NULL */
    struct buf *out;   /* step's output; the pump sends it and empties it */
    int result;        /* set by step before it answers PUMP_END */
    /* The pump's. */
    struct pump_task *next_new, *prev_live, *next_live;
    struct pump_ref sock_ref, ev_ref;
    long heap_idx;   /* -1: not in the heap */
    struct buf pend; /* a chunk the socket has not taken yet, from pend_off */
    size_t pend_off;
    int sock_events;
    int final; /* >= 0 or PUMP_*: set once the task is ending */
    int ending, finished;
    sem_t done;
};

/* Start the pump: threads loops (at least 1), each a thread with its own
 * epoll set; pump_run hands tasks to them in turn. abortfd (or -1) ends every task with PUMP_ABORT
 * once it is readable; stall_ns is how long a client may leave a chunk unread before its task ends
 * with PUMP_GONE. Returns NULL with a reason in err. */
struct pump *pump_start(int threads, int abortfd, int64_t stall_ns, char *err, size_t errlen);

/* Run t on the pump and wait until it ends. Returns t->result (>= 0) or a
 * PUMP_* code. Everything step produced has been sent when it returns
 * t->result; after PUMP_GONE or PUMP_ABORT a chunk may have been cut short
 * only when the client stopped reading. Thread-safe. */
int pump_run(struct pump *p, struct pump_task *t);

/* Number of tasks the pump is running (for tests and metrics). */
long pump_tasks(struct pump *p);

/* Stop the threads; tasks still running end with PUMP_ABORT first. NULL is a no-op. */
void pump_stop(struct pump *p);

#endif
