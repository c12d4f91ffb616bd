/* Tests of the rollout state machine: every step kind, promote, abort,
 * deadline, the no-steps surge, and that stable keeps its count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "op_core.h"
#include "op_rollout.h"

#define SEC 1000
#define DEADLINE (600 * SEC)

/* DESIGN.md §2's steps: setWeight 10, pause 60s, setWeight 50, pause {}. */
static const struct op_rollout_step design_steps[] = {
    {OP_STEP_SET_WEIGHT, 10, 0},
    {OP_STEP_PAUSE, 0, 60 * SEC},
    {OP_STEP_SET_WEIGHT, 50, 0},
    {OP_STEP_PAUSE, 0, -1},
};

static struct op_rollout_spec design_spec(void)
{
    struct op_rollout_spec spec = {design_steps, 4, 4, DEADLINE};
    return spec;
}

static struct op_rollout_decision eval(const struct op_rollout_spec *spec,
                                       struct op_rollout_state *st,
                                       const struct op_rollout_observed *obs, int64_t now)
{
    struct op_rollout_decision d;
    memset(&d, 0x5a, sizeof(d));
    assert_int_equal(op_rollout_eval(spec, st, obs, now, &d), OP_OK);
    return d;
}

static void test_canary_replicas(void **state)
{
    (void)state;
    assert_int_equal(op_rollout_canary_replicas(4, 10), 1);
    assert_int_equal(op_rollout_canary_replicas(4, 50), 2);
    assert_int_equal(op_rollout_canary_replicas(4, 100), 4);
    assert_int_equal(op_rollout_canary_replicas(3, 34), 2);
    assert_int_equal(op_rollout_canary_replicas(10, 0), 1); /* at least one */
    assert_int_equal(op_rollout_canary_replicas(0, 50), 1);
    assert_int_equal(op_rollout_canary_replicas(5, 150), 5);
}

static void test_design_walkthrough(void **state)
{
    struct op_rollout_spec spec = design_spec();
    struct op_rollout_state st;
    struct op_rollout_observed obs = {4, 0, false, false, false, false};
    struct op_rollout_decision d;
    (void)state;

    op_rollout_start(&st, 0);
    /* setWeight 10: one canary replica is created; weight waits for it. */
    d = eval(&spec, &st, &obs, 0);
    assert_int_equal(st.phase, OP_ROLLOUT_PROGRESSING);
    assert_int_equal(st.step, 0);
    assert_int_equal(d.canary_replicas, 1);
    assert_int_equal(d.stable_replicas, 4);
    assert_int_equal(d.weight, 0);
    assert_int_equal(d.steps_advanced, 0);
    assert_true(d.requeue_after_ms > 0 && d.requeue_after_ms <= DEADLINE + 1);

    /* The canary replica is Ready: weight 10, then the 60 s pause starts. */
    obs.canary_ready = 1;
    d = eval(&spec, &st, &obs, 5 * SEC);
    assert_int_equal(st.step, 1);
    assert_int_equal(d.weight, 10);
    assert_int_equal(d.steps_advanced, 1);
    assert_int_equal(d.requeue_after_ms, 60 * SEC);
    assert_int_equal(st.phase, OP_ROLLOUT_PROGRESSING);
    /* Level-based: the same inputs again change nothing. */
    d = eval(&spec, &st, &obs, 5 * SEC);
    assert_int_equal(st.step, 1);
    assert_int_equal(d.steps_advanced, 0);
    assert_int_equal(d.weight, 10);

    d = eval(&spec, &st, &obs, 65 * SEC - 1);
    assert_int_equal(st.step, 1);
    assert_int_equal(d.requeue_after_ms, 1);
    /* Pause over: setWeight 50 needs 2 canary replicas; weight stays 10. */
    d = eval(&spec, &st, &obs, 65 * SEC);
    assert_int_equal(st.step, 2);
    assert_int_equal(d.canary_replicas, 2);
    assert_int_equal(d.stable_replicas, 4);
    assert_int_equal(d.weight, 10);

    obs.canary_ready = 2;
    d = eval(&spec, &st, &obs, 70 * SEC);
    assert_int_equal(st.step, 3);
    assert_int_equal(st.phase, OP_ROLLOUT_PAUSED);
    assert_true(d.phase_changed);
    assert_int_equal(d.weight, 50);
    assert_int_equal(d.canary_replicas, 2);
    /* An indefinite pause outlasts the progress deadline. */
    d = eval(&spec, &st, &obs, 70 * SEC + 10 * DEADLINE);
    assert_int_equal(st.phase, OP_ROLLOUT_PAUSED);
    assert_false(d.phase_changed);
    assert_int_equal(d.requeue_after_ms, 0);

    /* Promote: the canary is scaled to the full count; stable stays. */
    obs.promote_requested = true;
    d = eval(&spec, &st, &obs, 8000 * SEC);
    assert_true(d.promote_consumed);
    assert_int_equal(st.step, 4);
    assert_int_equal(st.phase, OP_ROLLOUT_PROGRESSING);
    assert_int_equal(d.canary_replicas, 4);
    assert_int_equal(d.stable_replicas, 4);
    assert_int_equal(d.weight, 50);
    obs.promote_requested = false;

    obs.canary_ready = 3;
    d = eval(&spec, &st, &obs, 8010 * SEC);
    assert_int_equal(st.phase, OP_ROLLOUT_PROGRESSING);
    assert_int_equal(d.stable_replicas, 4);
    obs.canary_ready = 4;
    d = eval(&spec, &st, &obs, 8020 * SEC);
    assert_int_equal(st.phase, OP_ROLLOUT_COMPLETE);
    assert_true(d.phase_changed);
    assert_int_equal(d.weight, 100);
    assert_int_equal(d.canary_replicas, 4);
    assert_int_equal(d.stable_replicas, 0);
    /* Complete is final: abort or failures no longer matter. */
    obs.abort_requested = true;
    d = eval(&spec, &st, &obs, 8030 * SEC);
    assert_int_equal(st.phase, OP_ROLLOUT_COMPLETE);
    assert_int_equal(d.weight, 100);
}

static void test_stable_never_shrinks_during_steps(void **state)
{
    struct op_rollout_spec spec = design_spec();
    struct op_rollout_state st;
    struct op_rollout_observed obs = {4, 0, false, false, false, false};
    struct op_rollout_decision d;
    int64_t t;
    (void)state;

    op_rollout_start(&st, 0);
    for (t = 0; t < 3600 * SEC && st.phase != OP_ROLLOUT_COMPLETE; t += 5 * SEC) {
        obs.promote_requested = st.phase == OP_ROLLOUT_PAUSED;
        d = eval(&spec, &st, &obs, t);
        if (st.phase != OP_ROLLOUT_COMPLETE) assert_int_equal(d.stable_replicas, 4);
        assert_true(d.canary_replicas >= 1);
        obs.canary_ready = d.canary_replicas; /* replicas come up by the next look */
    }
    assert_int_equal(st.phase, OP_ROLLOUT_COMPLETE);
}

static void test_timed_pause_skipped_by_promote(void **state)
{
    static const struct op_rollout_step steps[] = {{OP_STEP_PAUSE, 0, 3600 * SEC},
                                                   {OP_STEP_SET_WEIGHT, 100, 0}};
    struct op_rollout_spec spec = {steps, 2, 2, DEADLINE};
    struct op_rollout_state st;
    struct op_rollout_observed obs = {2, 1, false, false, false, false};
    struct op_rollout_decision d;
    (void)state;

    op_rollout_start(&st, 0);
    d = eval(&spec, &st, &obs, 0);
    assert_int_equal(st.step, 0);
    assert_int_equal(d.canary_replicas, 1); /* a canary exists before any weight */
    assert_int_equal(d.weight, 0);
    assert_int_equal(d.requeue_after_ms, 3600 * SEC);
    obs.promote_requested = true;
    d = eval(&spec, &st, &obs, 10 * SEC);
    assert_true(d.promote_consumed);
    assert_int_equal(st.step, 1);
    assert_int_equal(d.canary_replicas, 2);
    assert_int_equal(d.weight, 0);
}

static void test_promote_pending_until_pause(void **state)
{
    struct op_rollout_spec spec = design_spec();
    struct op_rollout_state st;
    struct op_rollout_observed obs = {4, 0, false, false, true, false};
    struct op_rollout_decision d;
    (void)state;

    op_rollout_start(&st, 0);
    /* setWeight 10 is waiting for its replica: promote is kept for later. */
    d = eval(&spec, &st, &obs, 0);
    assert_false(d.promote_consumed);
    assert_int_equal(st.step, 0);
    /* Replica Ready: step 0 done, and the pending promote skips the 60 s pause. */
    obs.canary_ready = 1;
    d = eval(&spec, &st, &obs, 1 * SEC);
    assert_true(d.promote_consumed);
    assert_int_equal(d.steps_advanced, 2);
    assert_int_equal(st.step, 2);
    assert_int_equal(d.canary_replicas, 2);
}

static void test_abort_reasons(void **state)
{
    struct op_rollout_spec spec = design_spec();
    struct op_rollout_state st;
    struct op_rollout_observed obs;
    struct op_rollout_decision d;
    int which;
    (void)state;

    for (which = 0; which < 3; which++) {
        memset(&obs, 0, sizeof(obs));
        obs.stable_ready = 4;
        obs.canary_ready = 1;
        op_rollout_start(&st, 0);
        d = eval(&spec, &st, &obs, 1 * SEC); /* now in the 60 s pause, weight 10 */
        assert_int_equal(d.weight, 10);
        if (which == 0) obs.abort_requested = true;
        if (which == 1) obs.canary_failed = true;
        if (which == 2) obs.analysis_abort = true;
        d = eval(&spec, &st, &obs, 2 * SEC);
        assert_int_equal(st.phase, OP_ROLLOUT_ABORTED);
        assert_true(d.phase_changed);
        assert_int_equal(d.weight, 0);
        assert_int_equal(d.canary_replicas, 0);
        assert_int_equal(d.stable_replicas, 4);
        assert_int_equal(st.reason, which == 0   ? OP_REASON_ABORT_REQUESTED
                                    : which == 1 ? OP_REASON_CANARY_FAILED
                                                 : OP_REASON_ANALYSIS_FAILED);
        /* Aborted is final: time passing or the inputs clearing change nothing. */
        memset(&obs, 0, sizeof(obs));
        d = eval(&spec, &st, &obs, 5000 * SEC);
        assert_int_equal(st.phase, OP_ROLLOUT_ABORTED);
        assert_false(d.phase_changed);
        assert_int_equal(d.canary_replicas, 0);
    }
    assert_string_equal(op_rollout_reason_name(OP_REASON_DEADLINE_EXCEEDED),
                        "ProgressDeadlineExceeded");
    assert_string_equal(op_rollout_phase_name(OP_ROLLOUT_PAUSED), "Paused");
}

static void test_abort_while_paused(void **state)
{
    static const struct op_rollout_step steps[] = {{OP_STEP_PAUSE, 0, -1}};
    struct op_rollout_spec spec = {steps, 1, 3, DEADLINE};
    struct op_rollout_state st;
    struct op_rollout_observed obs = {3, 1, false, false, false, false};
    struct op_rollout_decision d;
    (void)state;

    op_rollout_start(&st, 0);
    eval(&spec, &st, &obs, 0);
    assert_int_equal(st.phase, OP_ROLLOUT_PAUSED);
    obs.abort_requested = true;
    obs.promote_requested = true; /* abort wins over promote */
    d = eval(&spec, &st, &obs, 1);
    assert_int_equal(st.phase, OP_ROLLOUT_ABORTED);
    assert_false(d.promote_consumed);
}

static void test_deadline(void **state)
{
    static const struct op_rollout_step steps[] = {{OP_STEP_SET_WEIGHT, 100, 0}};
    struct op_rollout_spec spec = {steps, 1, 4, DEADLINE};
    struct op_rollout_state st;
    struct op_rollout_observed obs = {4, 0, false, false, false, false};
    struct op_rollout_decision d;
    (void)state;

    op_rollout_start(&st, 0);
    d = eval(&spec, &st, &obs, DEADLINE); /* exactly at the deadline: still fine */
    assert_int_equal(st.phase, OP_ROLLOUT_PROGRESSING);
    assert_int_equal(d.requeue_after_ms, 1);
    d = eval(&spec, &st, &obs, DEADLINE + 1);
    assert_int_equal(st.phase, OP_ROLLOUT_ABORTED);
    assert_int_equal(st.reason, OP_REASON_DEADLINE_EXCEEDED);
    assert_int_equal(d.canary_replicas, 0);
    assert_int_equal(d.stable_replicas, 4);

    /* Progress (more canary replicas Ready) restarts the clock. */
    op_rollout_start(&st, 0);
    obs.canary_ready = 0;
    eval(&spec, &st, &obs, 0);
    obs.canary_ready = 2;
    eval(&spec, &st, &obs, 500 * SEC);
    d = eval(&spec, &st, &obs, 1000 * SEC);
    assert_int_equal(st.phase, OP_ROLLOUT_PROGRESSING);
    d = eval(&spec, &st, &obs, 500 * SEC + DEADLINE + 1);
    assert_int_equal(st.phase, OP_ROLLOUT_ABORTED);
    assert_int_equal(st.reason, OP_REASON_DEADLINE_EXCEEDED);

    /* The wait after the last step has the deadline too. */
    static const struct op_rollout_step pause[] = {{OP_STEP_PAUSE, 0, 1 * SEC}};
    struct op_rollout_spec spec2 = {pause, 1, 2, DEADLINE};
    op_rollout_start(&st, 0);
    obs.canary_ready = 1;
    eval(&spec2, &st, &obs, 2 * SEC);
    assert_int_equal(st.step, 1);
    d = eval(&spec2, &st, &obs, 2 * SEC + DEADLINE + 1);
    assert_int_equal(st.phase, OP_ROLLOUT_ABORTED);
    (void)d;
}

static void test_surge_without_steps(void **state)
{
    struct op_rollout_spec spec = {NULL, 0, 3, DEADLINE};
    struct op_rollout_state st;
    struct op_rollout_observed obs = {3, 0, false, false, false, false};
    struct op_rollout_decision d;
    (void)state;

    op_rollout_start(&st, 0);
    d = eval(&spec, &st, &obs, 0);
    assert_int_equal(d.canary_replicas, 1); /* surge by one */
    assert_int_equal(d.stable_replicas, 3);
    assert_int_equal(d.weight, 0);

    obs.canary_ready = 1;
    d = eval(&spec, &st, &obs, 10 * SEC);
    assert_int_equal(d.canary_replicas, 2);
    assert_int_equal(d.stable_replicas, 2);
    assert_int_equal(d.weight, 33); /* 1 of 3 Ready replicas */
    assert_true(d.canary_replicas + d.stable_replicas <= 4);

    obs.canary_ready = 2;
    obs.stable_ready = 2;
    d = eval(&spec, &st, &obs, 20 * SEC);
    assert_int_equal(d.canary_replicas, 3);
    assert_int_equal(d.stable_replicas, 1);
    assert_int_equal(d.weight, 67);

    obs.canary_ready = 3;
    obs.stable_ready = 1;
    d = eval(&spec, &st, &obs, 30 * SEC);
    assert_int_equal(st.phase, OP_ROLLOUT_COMPLETE);
    assert_int_equal(d.canary_replicas, 3);
    assert_int_equal(d.stable_replicas, 0);
    assert_int_equal(d.weight, 100);

    /* A stuck surge hits the deadline and puts stable back to full. */
    op_rollout_start(&st, 0);
    obs.canary_ready = 1;
    obs.stable_ready = 2;
    eval(&spec, &st, &obs, 0);
    d = eval(&spec, &st, &obs, DEADLINE + 1);
    assert_int_equal(st.phase, OP_ROLLOUT_ABORTED);
    assert_int_equal(d.stable_replicas, 3);
    assert_int_equal(d.canary_replicas, 0);
}

static void test_invalid(void **state)
{
    static const struct op_rollout_step bad[] = {{OP_STEP_SET_WEIGHT, 101, 0}};
    struct op_rollout_spec spec = {bad, 1, 2, DEADLINE};
    struct op_rollout_spec good = design_spec();
    struct op_rollout_state st, before;
    struct op_rollout_observed obs = {0};
    struct op_rollout_decision d;
    (void)state;

    op_rollout_start(&st, 0);
    before = st;
    assert_int_equal(op_rollout_eval(&spec, &st, &obs, 0, &d), OP_EINVAL);
    assert_memory_equal(&st, &before, sizeof(st));
    assert_int_equal(op_rollout_eval(NULL, &st, &obs, 0, &d), OP_EINVAL);
    assert_int_equal(op_rollout_eval(&good, &st, NULL, 0, &d), OP_EINVAL);
    spec.steps = NULL;
    assert_int_equal(op_rollout_spec_check(&spec), OP_EINVAL);
    good.progress_deadline_ms = 0;
    assert_int_equal(op_rollout_spec_check(&good), OP_EINVAL);
    good = design_spec();
    st.step = 5; /* beyond n_steps (4) */
    assert_int_equal(op_rollout_eval(&good, &st, &obs, 0, &d), OP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canary_replicas),
        cmocka_unit_test(test_design_walkthrough),
        cmocka_unit_test(test_stable_never_shrinks_during_steps),
        cmocka_unit_test(test_timed_pause_skipped_by_promote),
        cmocka_unit_test(test_promote_pending_until_pause),
        cmocka_unit_test(test_abort_reasons),
        cmocka_unit_test(test_abort_while_paused),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_surge_without_steps),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
