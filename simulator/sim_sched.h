/*
 * sim_sched: max-num-seqs running slots, max-loras LoRA slots and a waiting
 * queue, scheduled as upstream's dispatcher does.
 *
 * A request submits one item per choice (and per prompt), all or nothing.
 * Items that find a free slot (and, for a LoRA adapter, a LoRA slot) run at
 * once; the others wait and are started by sim_sched_finish of an earlier
 * item, which signals the waiting request's eventfd. A freed slot goes to the
 * first waiting item whose adapter is loaded (base-model items always
 * qualify), else to the first whose adapter can be loaded, evicting an idle
 * adapter when max-loras are loaded: FIFO apart from that LoRA skipping.
 * Finishing a waiting item cancels it, so a client that disconnects frees its
 * slot (or its place) at once.
 * Thread-safe: one mutex, held only for list and counter updates.
 */
#ifndef PDSIM_SIM_SCHED_H
#define PDSIM_SIM_SCHED_H

#include "simulator/sim_metrics.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum sim_item_state { SIM_ITEM_IDLE, SIM_ITEM_QUEUED, SIM_ITEM_RUNNING, SIM_ITEM_DONE };

struct sim_sched_item {
    struct sim_sched_item *prev, *next; /* waiting-queue links; owned by the scheduler */
    int evfd;                           /* signalled when the item starts */
    const char *lora;                   /* adapter name (borrowed), NULL for the base model */
    _Atomic int state;                  /* enum sim_item_state */
    struct timespec queued_at, started_at;
};

struct sim_sched;

/* Caller frees with sim_sched_free. metrics (borrowed, may be NULL) gets the
 * running and waiting gauges, queue times and the LoRA adapter lists. */
struct sim_sched *sim_sched_new(long max_running, long max_waiting, long max_loras,
                                struct sim_metrics *metrics);
void sim_sched_free(struct sim_sched *s);

/* Admit n items for one model: lora is the adapter's name, or NULL for the
 * base model; it is borrowed and must outlive the items. *evfd is created (an
 * eventfd) when an item has to wait and it is still -1; the caller closes it.
 * Returns the number of items that must wait (0..n), -EAGAIN when the waiting
 * queue cannot take them (nothing was admitted), or -ESHUTDOWN after
 * sim_sched_close. */
int sim_sched_submit(struct sim_sched *s, struct sim_sched_item *const *items, size_t n,
                     const char *lora, int *evfd);

/* The item is done (RUNNING) or abandoned (QUEUED): free its slot or its
 * place; start waiting items in FIFO order. No-op for DONE or IDLE items. */
void sim_sched_finish(struct sim_sched *s, struct sim_sched_item *item);

/* Requests running now (the load-factor input). Lock-free. */
long sim_sched_running(const struct sim_sched *s);
/* Running plus waiting. */
long sim_sched_active(struct sim_sched *s);
/* Refuse new submissions from now on. */
void sim_sched_close(struct sim_sched *s);

#endif
