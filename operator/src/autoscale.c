/* autoscale.c: stable/panic window autoscaler (op_autoscale.h,
 * docs/autoscaling.md). Samples live in a fixed ring; no allocation. */
#include "op_autoscale.h"
#include "op_core.h"

#include <math.h>
#include <stddef.h>

void op_autoscale_spec_default(struct op_autoscale_spec *spec)
{
    if (!spec) return;
    spec->min_replicas = 1;
    spec->max_replicas = 1;
    spec->target = 1;
    spec->scale_down_delay_ms = 300000;
    spec->stable_window_ms = 60000;
    spec->panic_window_ms = 6000;
    spec->panic_threshold = 2.0;
}

int op_autoscale_spec_check(const struct op_autoscale_spec *spec)
{
    if (!spec) return OP_EINVAL;
    if (spec->min_replicas < 0 || spec->max_replicas < spec->min_replicas) return OP_EINVAL;
    if (!(spec->target > 0) || !isfinite(spec->target)) return OP_EINVAL;
    if (spec->scale_down_delay_ms < 0 || spec->stable_window_ms <= 0) return OP_EINVAL;
    if (spec->panic_window_ms <= 0 || spec->panic_window_ms > spec->stable_window_ms)
        return OP_EINVAL;
    if (!(spec->panic_threshold > 1) || !isfinite(spec->panic_threshold)) return OP_EINVAL;
    return OP_OK;
}

void op_autoscaler_init(struct op_autoscaler *as)
{
    if (!as) return;
    as->head = 0;
    as->count = 0;
    as->last_desired = -1;
    as->panic_until_ms = 0;
    as->below_since_ms = -1;
    as->below_max = 0;
}

static struct op_autoscale_sample *as_at(struct op_autoscaler *as, uint32_t i)
{
    return &as->samples[(as->head + i) % OP_AUTOSCALE_MAX_SAMPLES];
}

int op_autoscaler_record(struct op_autoscaler *as, int64_t now_ms, double load, bool complete)
{
    struct op_autoscale_sample *s;

    if (!as) return OP_EINVAL;
    if (complete && (!isfinite(load) || load < 0)) return OP_EINVAL;
    if (as->count > 0 && now_ms < as_at(as, as->count - 1)->t_ms) return OP_EINVAL;
    if (as->count == OP_AUTOSCALE_MAX_SAMPLES) {
        as->head = (as->head + 1) % OP_AUTOSCALE_MAX_SAMPLES;
        as->count--;
    }
    s = as_at(as, as->count);
    s->t_ms = now_ms;
    s->load = complete ? load : 0;
    s->complete = complete;
    as->count++;
    return OP_OK;
}

/* Mean load of the complete samples in (now - window, now]; -1 when none. */
static double as_mean(struct op_autoscaler *as, int64_t now_ms, int64_t window_ms)
{
    double sum = 0;
    uint32_t i, n = 0;

    for (i = 0; i < as->count; i++) {
        const struct op_autoscale_sample *s = as_at(as, i);
        if (!s->complete || s->t_ms <= now_ms - window_ms || s->t_ms > now_ms) continue;
        sum += s->load;
        n++;
    }
    return n ? sum / n : -1;
}

/* ceil(load / target) as a replica count; the small slack keeps 8/4 at 2
 * when floating point gives 2.0000000001. */
static int32_t as_replicas_for(double load, double target)
{
    double r = ceil(load / target - 1e-9);

    if (r <= 0) return 0;
    if (r >= (double)INT32_MAX) return INT32_MAX;
    return (int32_t)r;
}

static int32_t as_clamp(int32_t v, const struct op_autoscale_spec *spec)
{
    if (v < spec->min_replicas) return spec->min_replicas;
    if (v > spec->max_replicas) return spec->max_replicas;
    return v;
}

int op_autoscaler_decide(struct op_autoscaler *as, const struct op_autoscale_spec *spec,
                         int32_t current, int64_t now_ms, struct op_autoscale_decision *out)
{
    struct op_autoscale_decision d = {0};
    const struct op_autoscale_sample *newest;
    int32_t stable_want, panic_want, want, clamped;

    if (!as || !out || current < 0 || op_autoscale_spec_check(spec) != OP_OK) return OP_EINVAL;
    d.stable_load = as_mean(as, now_ms, spec->stable_window_ms);
    d.panic_load = as_mean(as, now_ms, spec->panic_window_ms);
    newest = as->count ? as_at(as, as->count - 1) : NULL;

    if (!newest || !newest->complete || d.stable_load < 0) {
        /* Blind: keep what was decided; never read a silent replica as idle. */
        d.held = true;
        d.reason = OP_SCALE_HOLD_MISSING;
        d.desired = as_clamp(as->last_desired >= 0 ? as->last_desired : current, spec);
        d.panic = now_ms < as->panic_until_ms;
        as->below_since_ms = -1; /* the scale-down delay restarts with data */
        as->last_desired = d.desired;
        *out = d;
        return OP_OK;
    }

    stable_want = as_replicas_for(d.stable_load, spec->target);
    panic_want = d.panic_load >= 0 ? as_replicas_for(d.panic_load, spec->target) : stable_want;
    if (d.panic_load > 0 &&
        (current == 0 || d.panic_load >= spec->panic_threshold * spec->target * current))
        as->panic_until_ms = now_ms + spec->stable_window_ms;
    d.panic = now_ms < as->panic_until_ms;

    want = stable_want;
    if (d.panic) {
        /* Panic only ever raises: the larger of both windows and the current count. */
        if (panic_want > want) want = panic_want;
        if (current > want) want = current;
    }
    clamped = as_clamp(want, spec);

    if (current > spec->max_replicas || current < spec->min_replicas) {
        /* The bounds changed under us: follow them now, not after a delay;
         * going further down than maxReplicas still waits for the delay. */
        d.desired = current > spec->max_replicas ? spec->max_replicas : clamped;
        d.reason = OP_SCALE_CLAMPED;
        as->below_since_ms = -1;
    } else if (clamped > current) {
        d.desired = clamped;
        d.reason = d.panic && panic_want > stable_want ? OP_SCALE_PANIC_UP : OP_SCALE_UP;
        if (clamped != want) d.reason = OP_SCALE_CLAMPED;
        as->below_since_ms = -1;
    } else if (clamped == current) {
        d.desired = current;
        d.reason = OP_SCALE_STEADY;
        as->below_since_ms = -1;
    } else {
        if (as->below_since_ms < 0) {
            as->below_since_ms = now_ms;
            as->below_max = clamped;
        } else if (clamped > as->below_max) {
            as->below_max = clamped;
        }
        if (now_ms - as->below_since_ms >= spec->scale_down_delay_ms) {
            d.desired = as->below_max;
            d.reason = OP_SCALE_DOWN;
            as->below_since_ms = -1;
        } else {
            d.desired = current;
            d.reason = OP_SCALE_DOWN_DELAYED;
            d.requeue_after_ms = as->below_since_ms + spec->scale_down_delay_ms - now_ms;
        }
    }
    as->last_desired = d.desired;
    *out = d;
    return OP_OK;
}

const char *op_autoscale_reason_name(enum op_autoscale_reason reason)
{
    switch (reason) {
    case OP_SCALE_STEADY: return "Steady";
    case OP_SCALE_UP: return "ScaleUp";
    case OP_SCALE_PANIC_UP: return "PanicScaleUp";
    case OP_SCALE_DOWN: return "ScaleDown";
    case OP_SCALE_DOWN_DELAYED: return "ScaleDownDelayed";
    case OP_SCALE_HOLD_MISSING: return "MetricsMissing";
    case OP_SCALE_CLAMPED: return "Clamped";
    default: return "Unknown";
    }
}
