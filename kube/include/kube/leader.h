/* kube/leader.h: leader election on a coordination.k8s.io/v1 Lease.
 *
 * Every retry period (2 s) each candidate reads the Lease. A candidate
 * takes it when it is free, released (holderIdentity ""), or when its
 * holder has not renewed it for leaseDurationSeconds of *local* time (we
 * time the holder's changes with our own clock, never trusting another
 * machine's renewTime). The leader renews every retry period and gives up
 * leadership (on_stopped) if it could not renew for the renew deadline
 * (10 s) - before the 15 s lease can be taken by someone else. Writes use
 * the Lease's resourceVersion, so two candidates never both win.
 * kube_leader_stop releases the Lease (holderIdentity "", duration 1 s) so
 * a successor takes over at once instead of waiting out the lease.
 *
 * Threads: callbacks run on the election thread, one at a time;
 * on_started is always followed by exactly one on_stopped. The other
 * functions may be called from any thread; stop/free from one thread.
 */
#ifndef KUBE_LEADER_H
#define KUBE_LEADER_H

#include <stdint.h>

#include "kube/client.h"

struct kube_leader;

struct kube_leader_opts {
    const char *ns;            /* Lease namespace */
    const char *name;          /* Lease name */
    const char *identity;      /* this candidate, unique (e.g. pod name + pid) */
    int64_t lease_duration_ns; /* 0: 15 s */
    int64_t renew_deadline_ns; /* 0: 10 s */
    int64_t retry_period_ns;   /* 0: 2 s */
    void (*on_started)(void *ud);
    void (*on_stopped)(void *ud);
    void (*on_new_leader)(void *ud, const char *identity); /* holder changed */
    void *ud;
    struct kube_logger log;         /* fn NULL: the client's */
    const struct kube_clock *clock; /* NULL: monotonic */
};

/* Strings are copied; the client must outlive the elector. */
int kube_leader_new(struct kube_client *c, const struct kube_leader_opts *o,
                    struct kube_leader **out);
int kube_leader_start(struct kube_leader *le);
int kube_leader_is_leader(struct kube_leader *le);
/* Stop campaigning; release the Lease if held (on_stopped runs first). */
void kube_leader_stop(struct kube_leader *le);
void kube_leader_free(struct kube_leader *le);

/* One acquire-or-renew attempt (what the thread does every retry period);
 * exposed for tests. 1: we hold the lease, 0: someone else does, <0 error. */
int kube_leader_try(struct kube_leader *le);

/* RFC 3339 with microseconds (metav1.MicroTime) for the wall clock now. */
void kube_micro_time_now(char *buf, size_t cap);

#endif
