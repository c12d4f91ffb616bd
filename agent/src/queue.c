/* queue: bounded pointer FIFO (see queue.h). */
#include "queue.h"

#include <stdlib.h>

int queue_init(struct queue *q, size_t cap)
{
    q->head = 0;
    q->len = 0;
    q->cap = cap ? cap : 1;
    q->items = calloc(q->cap, sizeof *q->items);
    return q->items ? QUEUE_OK : QUEUE_ERR_NOMEM;
}

void queue_deinit(struct queue *q)
{
    free(q->items);
    q->items = NULL;
    q->len = 0;
}

int queue_push(struct queue *q, void *item)
{
    if (q->len == q->cap) return QUEUE_ERR_FULL;
    q->items[(q->head + q->len) % q->cap] = item;
    q->len++;
    return QUEUE_OK;
}

void *queue_pop(struct queue *q)
{
    if (q->len == 0) return NULL;
    void *it = q->items[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    return it;
}

int queue_remove(struct queue *q, const void *item)
{
    for (size_t i = 0; i < q->len; i++) {
        if (q->items[(q->head + i) % q->cap] != item) continue;
        for (size_t j = i; j + 1 < q->len; j++)
            q->items[(q->head + j) % q->cap] = q->items[(q->head + j + 1) % q->cap];
        q->len--;
        return 1;
    }
    return 0;
}
