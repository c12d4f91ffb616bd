/* queue: a bounded FIFO of pointers — the wait line in front of a model's
 * decode slots.
 *
 * Fixed capacity chosen at creation (--queue-max); a push to a full queue
 * fails at once with QUEUE_ERR_FULL, which the HTTP layer turns into a 429
 * with Retry-After: nothing ever waits unboundedly. queue_remove takes out a
 * cancelled entry from the middle so it stops holding a place.
 *
 * Ownership: the queue stores pointers, never owns what they point to.
 * Threads: no locking of its own; the scheduler guards it with its mutex.
 */
#ifndef AGENT_QUEUE_H
#define AGENT_QUEUE_H

#include <stddef.h>

enum queue_err { QUEUE_OK = 0, QUEUE_ERR_FULL = -1, QUEUE_ERR_NOMEM = -2 };

struct queue {
    void **items;
    size_t cap;
    size_t head; /* index of the oldest item */
    size_t len;
};

int queue_init(struct queue *q, size_t cap); /* cap >= 1 */
void queue_deinit(struct queue *q);
int queue_push(struct queue *q, void *item);
void *queue_pop(struct queue *q); /* NULL when empty */
/* Remove item wherever it is; 1 if found, 0 if not. Order is kept. */
int queue_remove(struct queue *q, const void *item);
static inline size_t queue_len(const struct queue *q)
{
    return q->len;
}

#endif
