/* rollout.c: the canary rollout state machine (op_rollout.h, docs/rollout.md).
 * Pure: the controller passes what it observes and the time, and gets back
 * the replica counts and weight to apply. */
#include "op_core.h"
#include "op_rollout.h"

static int32_t ro_max(int32_t a, int32_t b)
{
    return a > b ? a : b;
}
static int32_t ro_min(int32_t a, int32_t b)
{
    return a < b ? a : b;
}

int32_t op_rollout_canary_replicas(int32_t replicas, int32_t weight)
{
    int64_t n;

    if (replicas <= 0) return 1;
    if (weight < 0) weight = 0;
    if (weight > 100) weight = 100;
    n = ((int64_t)replicas * weight + 99) / 100; /* ceil */
    return ro_min(replicas, ro_max(1, (int32_t)n));
}

int op_rollout_spec_check(const struct op_rollout_spec *spec)
{
    size_t i;

    if (!spec || spec->replicas < 0 || spec->progress_deadline_ms <= 0) return OP_EINVAL;
    if (spec->n_steps > 0 && !spec->steps) return OP_EINVAL;
    if (spec->n_steps > (size_t)INT32_MAX) return OP_EINVAL;
    for (i = 0; i < spec->n_steps; i++) {
        const struct op_rollout_step *s = &spec->steps[i];
        if (s->kind == OP_STEP_SET_WEIGHT) {
            if (s->weight < 0 || s->weight > 100) return OP_EINVAL;
        } else if (s->kind != OP_STEP_PAUSE) {
            return OP_EINVAL;
        }
    }
    return OP_OK;
}

void op_rollout_start(struct op_rollout_state *st, int64_t now_ms)
{
    if (!st) return;
    st->phase = OP_ROLLOUT_PROGRESSING;
    st->step = 0;
    st->weight = 0;
    st->step_weight = 0;
    st->step_started_ms = now_ms;
    st->progress_ms = now_ms;
    st->canary_ready_seen = 0;
    st->reason = OP_REASON_NONE;
}

static void ro_abort(struct op_rollout_state *s, enum op_rollout_reason why)
{
    s->phase = OP_ROLLOUT_ABORTED;
    s->weight = 0;
    s->reason = why;
}

static void ro_advance(struct op_rollout_state *s, int64_t now_ms, struct op_rollout_decision *d)
{
    s->step++;
    s->step_started_ms = now_ms;
    s->progress_ms = now_ms;
    d->steps_advanced++;
}

/* Progress clock for a wait on canary replicas: false when the deadline
 * passed; otherwise asks to be called again when it would pass. */
static bool ro_within_deadline(const struct op_rollout_spec *spec, struct op_rollout_state *s,
                               const struct op_rollout_observed *obs, int64_t now_ms,
                               struct op_rollout_decision *d)
{
    int64_t base, due;

    if (obs->canary_ready > s->canary_ready_seen) {
        s->canary_ready_seen = obs->canary_ready;
        s->progress_ms = now_ms;
    }
    base = s->step_started_ms > s->progress_ms ? s->step_started_ms : s->progress_ms;
    due = base + spec->progress_deadline_ms;
    if (now_ms > due) return false;
    d->requeue_after_ms = due - now_ms + 1;
    return true;
}

/* No steps: surge by one until every canary replica is Ready. */
static void ro_eval_surge(const struct op_rollout_spec *spec, struct op_rollout_state *s,
                          const struct op_rollout_observed *obs, int64_t now_ms,
                          struct op_rollout_decision *d)
{
    int32_t want = ro_max(1, spec->replicas);

    if (obs->canary_ready >= want) {
        s->phase = OP_ROLLOUT_COMPLETE;
        s->weight = 100;
        return;
    }
    if (!ro_within_deadline(spec, s, obs, now_ms, d)) ro_abort(s, OP_REASON_DEADLINE_EXCEEDED);
}

/* Runs steps until one has to wait. */
static void ro_eval_steps(const struct op_rollout_spec *spec, struct op_rollout_state *s,
                          const struct op_rollout_observed *obs, int64_t now_ms,
                          struct op_rollout_decision *d)
{
    for (;;) {
        const struct op_rollout_step *step;

        if ((size_t)s->step >= spec->n_steps) {
            /* Finishing: the whole canary must be Ready before it takes over. */
            s->phase = OP_ROLLOUT_PROGRESSING;
            if (obs->canary_ready >= ro_max(1, spec->replicas)) {
                s->phase = OP_ROLLOUT_COMPLETE;
                s->weight = 100;
            } else if (!ro_within_deadline(spec, s, obs, now_ms, d)) {
                ro_abort(s, OP_REASON_DEADLINE_EXCEEDED);
            }
            return;
        }
        step = &spec->steps[s->step];
        if (step->kind == OP_STEP_SET_WEIGHT) {
            s->phase = OP_ROLLOUT_PROGRESSING;
            s->step_weight = step->weight;
            if (obs->canary_ready >= op_rollout_canary_replicas(spec->replicas, step->weight)) {
                s->weight = step->weight;
                ro_advance(s, now_ms, d);
                continue;
            }
            if (!ro_within_deadline(spec, s, obs, now_ms, d))
                ro_abort(s, OP_REASON_DEADLINE_EXCEEDED);
            return;
        }
        /* OP_STEP_PAUSE */
        if (obs->promote_requested && !d->promote_consumed) {
            d->promote_consumed = true;
            ro_advance(s, now_ms, d);
            continue;
        }
        if (step->pause_ms < 0) {
            s->phase = OP_ROLLOUT_PAUSED;
            return;
        }
        if (now_ms - s->step_started_ms >= step->pause_ms) {
            ro_advance(s, now_ms, d);
            continue;
        }
        s->phase = OP_ROLLOUT_PROGRESSING;
        d->requeue_after_ms = s->step_started_ms + step->pause_ms - now_ms;
        return;
    }
}

/* Replica counts and weight for the state reached. */
static void ro_settle(const struct op_rollout_spec *spec, const struct op_rollout_state *s,
                      const struct op_rollout_observed *obs, struct op_rollout_decision *d)
{
    int32_t n = spec->replicas;

    switch (s->phase) {
    case OP_ROLLOUT_COMPLETE:
        d->stable_replicas = 0;
        d->canary_replicas = n;
        break;
    case OP_ROLLOUT_PROGRESSING:
    case OP_ROLLOUT_PAUSED:
        if (spec->n_steps == 0) {
            int32_t cr = ro_min(obs->canary_ready, n);
            d->canary_replicas = ro_min(ro_max(1, n), cr + 1);
            d->stable_replicas = ro_max(0, n - cr);
        } else {
            d->stable_replicas = n;
            d->canary_replicas = (size_t)s->step >= spec->n_steps
                                     ? ro_max(1, n)
                                     : op_rollout_canary_replicas(n, s->step_weight);
        }
        break;
    case OP_ROLLOUT_IDLE:
    case OP_ROLLOUT_ABORTED:
    default:
        d->stable_replicas = n;
        d->canary_replicas = 0;
        break;
    }
    d->weight = s->weight;
}

int op_rollout_eval(const struct op_rollout_spec *spec, struct op_rollout_state *st,
                    const struct op_rollout_observed *obs, int64_t now_ms,
                    struct op_rollout_decision *out)
{
    struct op_rollout_decision d = {0};
    struct op_rollout_state s;

    if (!spec || !st || !obs || !out) return OP_EINVAL;
    if (op_rollout_spec_check(spec) != OP_OK) return OP_EINVAL;
    if (st->step < 0 || (size_t)st->step > spec->n_steps) return OP_EINVAL;
    s = *st;
    if (s.phase == OP_ROLLOUT_PROGRESSING || s.phase == OP_ROLLOUT_PAUSED) {
        if (obs->abort_requested) {
            ro_abort(&s, OP_REASON_ABORT_REQUESTED);
        } else if (obs->canary_failed) {
            ro_abort(&s, OP_REASON_CANARY_FAILED);
        } else if (obs->analysis_abort) {
            ro_abort(&s, OP_REASON_ANALYSIS_FAILED);
        } else if (spec->n_steps == 0) {
            ro_eval_surge(spec, &s, obs, now_ms, &d);
            if (s.phase == OP_ROLLOUT_PROGRESSING) {
                int32_t cr = obs->canary_ready < 0 ? 0 : obs->canary_ready;
                int32_t sr = ro_min(obs->stable_ready < 0 ? 0 : obs->stable_ready,
                                    ro_max(0, spec->replicas - cr));
                s.weight = cr + sr > 0 ? (int32_t)((200 * (int64_t)cr + cr + sr) / (2 * (cr + sr)))
                                       : 0; /* rounded percentage of Ready replicas */
            }
        } else {
            ro_eval_steps(spec, &s, obs, now_ms, &d);
        }
        if (s.phase == OP_ROLLOUT_COMPLETE || s.phase == OP_ROLLOUT_ABORTED) d.requeue_after_ms = 0;
    }
    ro_settle(spec, &s, obs, &d);
    d.phase_changed = s.phase != st->phase;
    *st = s;
    *out = d;
    return OP_OK;
}

const char *op_rollout_phase_name(enum op_rollout_phase phase)
{
    switch (phase) {
    case OP_ROLLOUT_IDLE: return "Idle";
    case OP_ROLLOUT_PROGRESSING: return "Progressing";
    case OP_ROLLOUT_PAUSED: return "Paused";
    case OP_ROLLOUT_COMPLETE: return "Complete";
    case OP_ROLLOUT_ABORTED: return "Aborted";
    default: return "Unknown";
    }
}

const char *op_rollout_reason_name(enum op_rollout_reason reason)
{
    switch (reason) {
    case OP_REASON_NONE: return "";
    case OP_REASON_ABORT_REQUESTED: return "AbortRequested";
    case OP_REASON_CANARY_FAILED: return "CanaryReplicaFailed";
    case OP_REASON_ANALYSIS_FAILED: return "AnalysisFailed";
    case OP_REASON_DEADLINE_EXCEEDED: return "ProgressDeadlineExceeded";
    default: return "Unknown";
    }
}
