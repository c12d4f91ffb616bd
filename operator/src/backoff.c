/* backoff.c: exponential back-off of Failed replica replacement
 * (op_backoff.h). */
#include "op_backoff.h"
#include "op_core.h"

#include <stddef.h>

void op_backoff_spec_default(struct op_backoff_spec *spec)
{
    if (!spec) return;
    spec->base_ms = 10000;
    spec->max_ms = 300000;
    spec->reset_ms = 600000;
}

void op_backoff_init(struct op_backoff *b)
{
    if (!b) return;
    b->failures = 0;
    b->last_ms = 0;
    b->next_ms = 0;
}

int64_t op_backoff_wait_ms(const struct op_backoff *b, int64_t now_ms)
{
    if (!b || b->failures == 0 || now_ms >= b->next_ms) return 0;
    return b->next_ms - now_ms;
}

int op_backoff_replaced(struct op_backoff *b, const struct op_backoff_spec *spec, int64_t now_ms)
{
    int64_t delay;

    if (!b || !spec || spec->base_ms <= 0 || spec->max_ms < spec->base_ms || spec->reset_ms < 0)
        return OP_EINVAL;
    if (b->failures < INT32_MAX) b->failures++;
    /* The delay before the next one: base after the 1st, doubling, capped. */
    delay = spec->base_ms;
    for (int32_t i = 1; i < b->failures && delay < spec->max_ms; i++) delay *= 2;
    if (delay > spec->max_ms) delay = spec->max_ms;
    b->last_ms = now_ms;
    b->next_ms = now_ms + delay;
    return OP_OK;
}

void op_backoff_healthy(struct op_backoff *b, const struct op_backoff_spec *spec, int64_t now_ms)
{
    if (!b || !spec || b->failures == 0) return;
    if (now_ms - b->last_ms >= spec->reset_ms) op_backoff_init(b);
}
