/* op_backoff: when the controller may replace a Failed replica of a
 * Model's stable revision (docs/operator.md, "Failed replicas").
 *
 * A replica the agent reports Failed (download or load failed, a golden
 * prompt at warm-up failed) is deleted and re-created, preferably on
 * another node. A model that is broken everywhere must not churn, so the
 * replacements of one revision back off like a Pod's CrashLoopBackOff:
 *
 *   1st failure       replaced at once
 *   k-th failure      replaced base x 2^(k-2) after the previous
 *                     replacement (10 s, 20 s, 40 s, ... capped at max)
 *   reset             once the revision has had no Failed replica for
 *                     reset_ms after the last replacement
 *
 * The controller keeps one op_backoff per Model for its stable revision
 * (a new stable revision starts from zero). Canary replicas are not
 * replaced: a Failed canary aborts the rollout (op_analysis).
 *
 * Ownership: caller-owned values, no allocation. Threads: one object, one
 * thread at a time. Time: now_ms from the caller's monotonic clock.
 */
#ifndef OP_BACKOFF_H
#define OP_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

struct op_backoff_spec {
    int64_t base_ms;  /* > 0: delay before the 2nd replacement */
    int64_t max_ms;   /* >= base_ms: the cap */
    int64_t reset_ms; /* >= 0: healthy this long forgets the failures */
};

struct op_backoff {
    int32_t failures; /* replacements so far */
    int64_t last_ms;  /* time of the last replacement */
    int64_t next_ms;  /* the next replacement may happen at or after this */
};

/* 10 s, 300 s, 600 s. */
void op_backoff_spec_default(struct op_backoff_spec *spec);
void op_backoff_init(struct op_backoff *b);

/* Milliseconds until a Failed replica may be replaced; 0: now. */
int64_t op_backoff_wait_ms(const struct op_backoff *b, int64_t now_ms);

/* Records a replacement at now_ms and sets when the next may happen.
 * OP_EINVAL for NULL or a bad spec (b untouched). */
int op_backoff_replaced(struct op_backoff *b, const struct op_backoff_spec *spec, int64_t now_ms);

/* Called when the revision has no Failed replica: forgets the failures
 * once reset_ms have passed since the last replacement. */
void op_backoff_healthy(struct op_backoff *b, const struct op_backoff_spec *spec, int64_t now_ms);

#endif
