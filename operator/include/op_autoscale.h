/* op_autoscale: the LLM-aware autoscaler of one Model (DESIGN.md §3.6,
 * docs/autoscaling.md).
 *
 * The controller scrapes the agents every 2 s and records one sample per
 * scrape: the chosen metric (concurrency, queueDepth or tokensPerSecond)
 * summed over the Model's Ready replicas (stable + canary), and whether
 * every Ready replica answered. Then op_autoscaler_decide says how many
 * replicas the Model should have:
 *
 *   stable load  = mean of the samples of the last 60 s (stable window)
 *   panic load   = mean of the samples of the last 6 s (panic window)
 *   desired      = ceil(stable load / target)
 *   panic        when panic load >= 2 x (current replicas x target): scale
 *                  up at once to ceil(panic load / target); stay in panic
 *                  for a stable window after the last such sample, and do
 *                  not scale down while panicking
 *   scale down   only after desired has stayed below current for
 *                scaleDownDelaySeconds, and then to the highest desired seen
 *                during that delay
 *   clamp        to [minReplicas, maxReplicas]
 *   missing      a sample where a replica did not answer is not counted as
 *                zero load: it is left out, and when the newest sample is
 *                incomplete (or no sample is in the window) the last
 *                decision is held (decision.held) so that the caller can set
 *                a condition.
 *
 * Ownership: struct op_autoscaler is caller-owned (embed it or allocate it
 * per Model); no allocation. Threads: one autoscaler, one thread at a time.
 * Time: now_ms from the caller's clock, non-decreasing between calls.
 */
#ifndef OP_AUTOSCALE_H
#define OP_AUTOSCALE_H

#include <stdbool.h>
#include <stdint.h>

#define OP_AUTOSCALE_MAX_SAMPLES 256 /* 60 s at one sample per 250 ms */

struct op_autoscale_spec {
    int32_t min_replicas;        /* >= 0 */
    int32_t max_replicas;        /* >= min_replicas (else OP_EINVAL: InvalidSpec) */
    double target;               /* per replica, > 0 */
    int64_t scale_down_delay_ms; /* >= 0 */
    int64_t stable_window_ms;    /* 60000 */
    int64_t panic_window_ms;     /* 6000, <= stable_window_ms */
    double panic_threshold;      /* 2.0: panic load / capacity that panics */
};

struct op_autoscale_sample {
    int64_t t_ms;
    double load;
    bool complete; /* every Ready replica was scraped */
};

struct op_autoscaler {
    struct op_autoscale_sample samples[OP_AUTOSCALE_MAX_SAMPLES]; /* ring */
    uint32_t head, count;
    int32_t last_desired;   /* last decision; -1 before the first */
    int64_t panic_until_ms; /* panicking while now < this; 0: never */
    int64_t below_since_ms; /* desired < current since; -1: not below */
    int32_t below_max;      /* highest desired seen since below_since_ms */
};

enum op_autoscale_reason {
    OP_SCALE_STEADY = 0, /* desired == current */
    OP_SCALE_UP = 1,
    OP_SCALE_PANIC_UP = 2,
    OP_SCALE_DOWN = 3,
    OP_SCALE_DOWN_DELAYED = 4, /* would scale down; waiting for the delay */
    OP_SCALE_HOLD_MISSING = 5, /* metrics missing: last decision held */
    OP_SCALE_CLAMPED = 6,      /* min/max changed the result */
};

struct op_autoscale_decision {
    int32_t desired;    /* write to spec.replicas (via /scale) */
    double stable_load; /* -1 when no sample in the window */
    double panic_load;  /* -1 when no sample in the window */
    bool panic;
    bool held; /* metrics missing: desired is the last decision */
    enum op_autoscale_reason reason;
    int64_t requeue_after_ms; /* when a delayed scale-down may happen, else 0 */
};

/* Fills spec's windows and threshold with the defaults (60 s, 6 s, 2.0);
 * min 1, max 1, target 1, delay 300 s. */
void op_autoscale_spec_default(struct op_autoscale_spec *spec);

/* OP_OK, or OP_EINVAL for a bad spec (the controller reports InvalidSpec). */
int op_autoscale_spec_check(const struct op_autoscale_spec *spec);

void op_autoscaler_init(struct op_autoscaler *as);

/* Records one scrape. load is ignored when complete is false. OP_EINVAL for
 * NULL, a negative or non-finite load, or a time older than the last
 * sample. The oldest sample is dropped when the ring is full. */
int op_autoscaler_record(struct op_autoscaler *as, int64_t now_ms, double load, bool complete);

/* Decides the replica count for a Model that has `current` desired replicas
 * now. OP_EINVAL for NULL, a bad spec or current < 0 (nothing changes). */
int op_autoscaler_decide(struct op_autoscaler *as, const struct op_autoscale_spec *spec,
                         int32_t current, int64_t now_ms, struct op_autoscale_decision *out);

/* Static name: "Steady", "ScaleUp", ... */
const char *op_autoscale_reason_name(enum op_autoscale_reason reason);

#endif
