/* op_rollout: the canary rollout state machine of one Model (DESIGN.md §3.7,
 * docs/rollout.md).
 *
 * When a Model's source or engine changes, the new revision becomes the
 * canary and the Model controller starts a rollout with op_rollout_start.
 * On every reconcile it then calls op_rollout_eval with what it observes
 * (ready replicas of each revision, a Failed canary replica, the latest
 * analysis verdict, a promote or abort request) and the time; the function
 * advances the steps and says how many replicas each revision should have
 * and which canary weight the routers should use. The controller persists
 * struct op_rollout_state in the Model's status (currentStep, canaryWeight,
 * stepStartedAt, phase) so that any operator replica can continue it.
 *
 * Steps (spec.rollout.steps), applied in order:
 *   setWeight W     canary replicas := max(1, ceil(replicas * W / 100)); the
 *                   weight becomes W once that many canary replicas are Ready
 *                   (traffic never goes to replicas that cannot take it).
 *   pause {d}       wait d, or until promote.
 *   pause {}        wait until promote (phase Paused).
 * After the last step the canary is scaled to the full count; when all of
 * it is Ready the weight becomes 100 and the rollout is complete: the
 * caller makes the canary the stable revision and scales the old one to 0.
 * The stable revision keeps its full count until then, so the ready stable
 * count never drops during a rollout.
 *
 * No steps: surge by one, like a Deployment with maxSurge 1 and
 * maxUnavailable 0: one more canary replica than are Ready, one stable
 * replica fewer for each Ready canary one, weight proportional to the Ready
 * counts; complete when all canary replicas are Ready.
 *
 * A promote request skips the current pause; made while a setWeight step is
 * still waiting for replicas it stays pending (promote_consumed false) and
 * skips the next pause. The caller clears it when promote_consumed is set.
 *
 * Abort (op_rollout_eval with abort_requested, a Failed canary replica, an
 * analysis verdict of abort, or a step that waits for replicas longer than
 * the progress deadline): weight 0, canary replicas 0, stable back to its
 * full count; phase Aborted, final until the next op_rollout_start.
 *
 * Ownership: spec->steps is borrowed for the duration of a call. All structs
 * are caller-owned values. Threads: one state, one thread at a time.
 */
#ifndef OP_ROLLOUT_H
#define OP_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum op_step_kind {
    OP_STEP_SET_WEIGHT = 0,
    OP_STEP_PAUSE = 1,
};

struct op_rollout_step {
    enum op_step_kind kind;
    int32_t weight;   /* OP_STEP_SET_WEIGHT: 0..100 */
    int64_t pause_ms; /* OP_STEP_PAUSE: duration; < 0 waits for promote */
};

struct op_rollout_spec {
    const struct op_rollout_step *steps; /* borrowed; NULL when n_steps == 0 */
    size_t n_steps;
    int32_t replicas;             /* desired replicas of the Model (>= 0) */
    int64_t progress_deadline_ms; /* > 0 */
};

enum op_rollout_phase {
    OP_ROLLOUT_IDLE = 0,        /* no rollout: everything on stable */
    OP_ROLLOUT_PROGRESSING = 1, /* a step is running or waiting for replicas */
    OP_ROLLOUT_PAUSED = 2,      /* an indefinite pause: waits for promote */
    OP_ROLLOUT_COMPLETE = 3,    /* canary is the new stable */
    OP_ROLLOUT_ABORTED = 4,     /* rolled back */
};

enum op_rollout_reason {
    OP_REASON_NONE = 0,
    OP_REASON_ABORT_REQUESTED = 1,
    OP_REASON_CANARY_FAILED = 2,     /* a canary replica is Failed */
    OP_REASON_ANALYSIS_FAILED = 3,   /* failureLimit analysis runs failed */
    OP_REASON_DEADLINE_EXCEEDED = 4, /* progressDeadlineSeconds */
};

/* Persisted by the caller between calls (in the Model's status). */
struct op_rollout_state {
    enum op_rollout_phase phase;
    int32_t step;            /* index of the current step; n_steps: finishing */
    int32_t weight;          /* canary weight the routers use, 0..100 */
    int32_t step_weight;     /* weight of the last setWeight step reached/ongoing */
    int64_t step_started_ms; /* when the current step began */
    /* Progress clock of steps that wait for canary replicas: the deadline
     * counts from the later of step_started_ms and progress_ms, and a rise
     * of the canary's ready count moves progress_ms. A controller that does
     * not persist these two may zero them after a restart: that can only
     * lengthen the deadline, never cut it short. */
    int64_t progress_ms;
    int32_t canary_ready_seen;
    enum op_rollout_reason reason; /* why ABORTED */
};

/* What the controller sees now. */
struct op_rollout_observed {
    int32_t stable_ready;
    int32_t canary_ready;
    bool canary_failed;     /* a canary ModelReplica has phase Failed */
    bool analysis_abort;    /* op_analysis said abort */
    bool promote_requested; /* `kubectl kllm promote` (skips the current pause) */
    bool abort_requested;   /* `kubectl kllm abort` */
};

/* What to do now. */
struct op_rollout_decision {
    int32_t stable_replicas;  /* desired ModelReplicas of the stable revision */
    int32_t canary_replicas;  /* desired ModelReplicas of the canary revision */
    int32_t weight;           /* canary weight to publish, 0..100 */
    int32_t steps_advanced;   /* steps completed by this call (for Events) */
    bool promote_consumed;    /* the promote request was used: clear it */
    bool phase_changed;       /* phase differs from before the call */
    int64_t requeue_after_ms; /* call again by then (0: on the next event) */
};

/* Validates spec (weights 0..100, replicas >= 0, deadline > 0, steps
 * non-NULL when n_steps > 0). 0 or OP_EINVAL. */
int op_rollout_spec_check(const struct op_rollout_spec *spec);

/* Starts a rollout at now_ms: phase PROGRESSING, step 0, weight 0. */
void op_rollout_start(struct op_rollout_state *st, int64_t now_ms);

/* Advances st as far as obs and now_ms allow and fills *out. Level-based:
 * calling it again with the same inputs changes nothing. OP_EINVAL when an
 * argument is NULL, spec fails op_rollout_spec_check, or st->step is out of
 * range; st and *out are then untouched. */
int op_rollout_eval(const struct op_rollout_spec *spec, struct op_rollout_state *st,
                    const struct op_rollout_observed *obs, int64_t now_ms,
                    struct op_rollout_decision *out);

/* Canary replicas for a weight: max(1, ceil(replicas * weight / 100)),
 * at most replicas (and 1 when replicas is 0, so the canary can be judged). */
int32_t op_rollout_canary_replicas(int32_t replicas, int32_t weight);

/* Static names: "Progressing", "Paused", ... and "AbortRequested", ... */
const char *op_rollout_phase_name(enum op_rollout_phase phase);
const char *op_rollout_reason_name(enum op_rollout_reason reason);

#endif
