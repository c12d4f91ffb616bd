/* kube/queue.h: the controller work queue (client-go's rate-limited
 * delaying queue, in C).
 *
 * Keys (usually "namespace/name") go in; workers take one, reconcile, and
 * call kube_queue_done. Guarantees:
 *   - a key is never queued twice: adding a key that is waiting is a no-op;
 *   - a key is never handed to two workers at once: a key added while it is
 *     being processed is parked and queued again when done() is called;
 *   - kube_queue_add_rate_limited delays a key by max(per-item exponential
 *     backoff base*2^n capped at max, overall token bucket of qps/burst);
 *     kube_queue_forget resets the per-item count after a success;
 *   - kube_queue_add_after queues after a delay (the earliest wins);
 *   - kube_queue_shutdown refuses new keys; workers still get what was queued
 *     (drain), then KUBE_ECLOSED. Delayed keys not yet due are dropped.
 *
 * Example worker:
 *     char *key;
 *     while (kube_queue_get(q, &key, -1) == 0) {
 *         int rc = reconcile(key);
 *         if (rc) kube_queue_add_rate_limited(q, key); else kube_queue_forget(q, key);
 *         kube_queue_done(q, key);
 *         free(key);
 *     }
 *
 * Threads: every function may be called from any thread concurrently, except
 * kube_queue_free, which must run after every other call has returned.
 */
#ifndef KUBE_QUEUE_H
#define KUBE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "kube/base.h"

struct kube_queue;

struct kube_queue_opts {
    int64_t base_delay_ns;          /* per-item backoff start; 0: 5 ms */
    int64_t max_delay_ns;           /* per-item backoff cap; 0: 1000 s */
    double qps;                     /* overall bucket refill; 0: 10/s */
    int32_t burst;                  /* overall bucket size; 0: 100 */
    const struct kube_clock *clock; /* NULL: monotonic; kept by pointer */
};

/* opts may be NULL for defaults. *out owned by the caller (kube_queue_free). */
int kube_queue_new(const struct kube_queue_opts *opts, struct kube_queue **out);
void kube_queue_free(struct kube_queue *q);

/* The key is copied. KUBE_ECLOSED after shutdown. */
int kube_queue_add(struct kube_queue *q, const char *key);
int kube_queue_add_after(struct kube_queue *q, const char *key, int64_t delay_ns);
int kube_queue_add_rate_limited(struct kube_queue *q, const char *key);
/* The delay the next add_rate_limited would use, without taking it. */
int64_t kube_queue_peek_delay(struct kube_queue *q, const char *key);
void kube_queue_forget(struct kube_queue *q, const char *key);
int32_t kube_queue_num_requeues(struct kube_queue *q, const char *key);

/* Wait up to timeout_ns (<0: forever, 0: poll) for a key; on 0 *key is a
 * heap string the caller frees (after kube_queue_done). KUBE_ETIMEDOUT when
 * nothing came, KUBE_ECLOSED when shut down and empty. */
int kube_queue_get(struct kube_queue *q, char **key, int64_t timeout_ns);
void kube_queue_done(struct kube_queue *q, const char *key);

/* Keys ready to hand out (moves due delayed keys first). */
size_t kube_queue_len(struct kube_queue *q);
/* Keys delayed and not yet due. */
size_t kube_queue_delayed_len(struct kube_queue *q);

void kube_queue_shutdown(struct kube_queue *q);
/* Shut down and wait until no key is being processed and none is queued.
 * KUBE_ETIMEDOUT if that takes longer than timeout_ns (<0: forever). */
int kube_queue_shutdown_drain(struct kube_queue *q, int64_t timeout_ns);

#endif
