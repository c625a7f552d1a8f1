/*
 * leader: leader election with a coordination.k8s.io/v1 Lease, as client-go's
 * leaderelection: lease duration 15 s, renew deadline 10 s, retry period 2 s.
 *
 * leader_acquire blocks until this process holds the Lease (or stop is set).
 * A thread then renews it every retry period; if it cannot renew for the
 * renew deadline, leadership is lost and leader_lost() turns true (the
 * controller then exits, as controller-runtime does). leader_release gives
 * the Lease up at shutdown so another replica takes over at once.
 */
#ifndef PDSIM_LEADER_H
#define PDSIM_LEADER_H

#include "controller/k8s_client.h"

#include <stdatomic.h>
#include <stdbool.h>

struct leader;

/* namespace/name of the Lease; identity names this process. Durations in
 * seconds (0: 15, 10, 2). */
struct leader *leader_new(struct k8s_client *c, const char *ns, const char *name,
                          const char *identity, double lease_s, double renew_s, double retry_s);
/* Block until leader (true) or stop (false). Starts the renew thread. */
bool leader_acquire(struct leader *l, atomic_bool *stop);
bool leader_lost(struct leader *l);
/* Stop renewing and give the Lease up. Frees. Accepts NULL. */
void leader_release(struct leader *l);

#endif
