/* Tests of the autoscaler: stable and panic windows, the scale-down delay,
 * clamping, missing metrics. One sample every 2 s, as the operator scrapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "op_autoscale.h"
#include "op_core.h"

#define SEC 1000

static struct op_autoscale_spec spec4(void)
{
    struct op_autoscale_spec s;
    op_autoscale_spec_default(&s);
    s.min_replicas = 1;
    s.max_replicas = 10;
    s.target = 4;
    s.scale_down_delay_ms = 300 * SEC;
    return s;
}

/* Records `load` every 2 s in [from, to) and returns the next time. */
static int64_t feed(struct op_autoscaler *as, int64_t from, int64_t to, double load)
{
    int64_t t;
    for (t = from; t < to; t += 2 * SEC)
        assert_int_equal(op_autoscaler_record(as, t, load, true), OP_OK);
    return t;
}

static struct op_autoscale_decision
decide(struct op_autoscaler *as, const struct op_autoscale_spec *spec, int32_t current, int64_t now)
{
    struct op_autoscale_decision d;
    memset(&d, 0x5a, sizeof(d));
    assert_int_equal(op_autoscaler_decide(as, spec, current, now, &d), OP_OK);
    return d;
}

static void test_steady_and_up(void **state)
{
    struct op_autoscale_spec spec = spec4();
    struct op_autoscaler as;
    struct op_autoscale_decision d;
    int64_t t;
    (void)state;

    op_autoscaler_init(&as);
    t = feed(&as, 0, 60 * SEC, 8); /* 8 in flight, target 4: 2 replicas */
    d = decide(&as, &spec, 2, t - 2 * SEC);
    assert_int_equal(d.desired, 2);
    assert_int_equal(d.reason, OP_SCALE_STEADY);
    assert_false(d.panic);
    assert_false(d.held);
    assert_true(d.stable_load > 7.99 && d.stable_load < 8.01);

    /* 12 over the whole stable window: 3 replicas; 12 < 2 x 8, no panic. */
    t = feed(&as, t, t + 60 * SEC, 12);
    d = decide(&as, &spec, 2, t - 2 * SEC);
    assert_int_equal(d.desired, 3);
    assert_int_equal(d.reason, OP_SCALE_UP);
    assert_false(d.panic);
    assert_string_equal(op_autoscale_reason_name(d.reason), "ScaleUp");
}

static void test_stable_window_smooths(void **state)
{
    struct op_autoscale_spec spec = spec4();
    struct op_autoscaler as;
    struct op_autoscale_decision d;
    int64_t t;
    (void)state;

    op_autoscaler_init(&as);
    t = feed(&as, 0, 54 * SEC, 8);
    t = feed(&as, t, t + 6 * SEC, 12); /* a 6 s bump below panic: mean 8.4 */
    d = decide(&as, &spec, 2, t - 2 * SEC);
    assert_int_equal(d.desired, 3); /* ceil(8.4 / 4) */
    assert_true(d.stable_load > 8.3 && d.stable_load < 8.5);
    assert_true(d.panic_load > 11.9 && d.panic_load < 12.1);
    /* Samples older than 60 s no longer count. */
    t = feed(&as, t, t + 60 * SEC, 4);
    d = decide(&as, &spec, 3, t - 2 * SEC);
    assert_true(d.stable_load > 3.99 && d.stable_load < 4.01);
}

static void test_panic(void **state)
{
    struct op_autoscale_spec spec = spec4();
    struct op_autoscaler as;
    struct op_autoscale_decision d;
    int64_t t, panic_at;
    (void)state;

    op_autoscaler_init(&as);
    t = feed(&as, 0, 60 * SEC, 8);
    /* 40 in flight against capacity 2 x 4 = 8: 5x, panic at once. */
    t = feed(&as, t, t + 6 * SEC, 40);
    panic_at = t - 2 * SEC;
    d = decide(&as, &spec, 2, panic_at);
    assert_true(d.panic);
    assert_int_equal(d.desired, 10); /* ceil(40 / 4), not the 60 s mean */
    assert_int_equal(d.reason, OP_SCALE_PANIC_UP);

    /* Load vanishes: no scale-down while panicking (60 s after the last trigger). */
    t = feed(&as, t, t + 40 * SEC, 0);
    d = decide(&as, &spec, 10, t - 2 * SEC);
    assert_true(d.panic);
    assert_int_equal(d.desired, 10);
    assert_int_equal(d.reason, OP_SCALE_STEADY);

    /* Panic over: a scale-down now waits for the delay. */
    t = feed(&as, t, panic_at + 62 * SEC, 0);
    d = decide(&as, &spec, 10, t - 2 * SEC);
    assert_false(d.panic);
    assert_int_equal(d.desired, 10);
    assert_int_equal(d.reason, OP_SCALE_DOWN_DELAYED);
    assert_int_equal(d.requeue_after_ms, 300 * SEC);
}

static void test_panic_from_zero(void **state)
{
    struct op_autoscale_spec spec = spec4();
    struct op_autoscaler as;
    struct op_autoscale_decision d;
    (void)state;

    spec.min_replicas = 0;
    op_autoscaler_init(&as);
    feed(&as, 0, 2 * SEC, 3);
    d = decide(&as, &spec, 0, 0);
    assert_true(d.panic);
    assert_int_equal(d.desired, 1);
}

static void test_scale_down_delay(void **state)
{
    struct op_autoscale_spec spec = spec4();
    struct op_autoscaler as;
    struct op_autoscale_decision d;
    int64_t t, start;
    (void)state;

    op_autoscaler_init(&as);
    t = feed(&as, 0, 60 * SEC, 4); /* wants 1, has 5 */
    start = t - 2 * SEC;
    d = decide(&as, &spec, 5, start);
    assert_int_equal(d.desired, 5);
    assert_int_equal(d.reason, OP_SCALE_DOWN_DELAYED);
    assert_int_equal(d.requeue_after_ms, 300 * SEC);
    /* During the delay load rises to 8 for a while: 2 is the highest want. */
    t = feed(&as, t, t + 120 * SEC, 8);
    d = decide(&as, &spec, 5, t - 2 * SEC);
    assert_int_equal(d.desired, 5);
    t = feed(&as, t, start + 300 * SEC, 4);
    d = decide(&as, &spec, 5, start + 300 * SEC - 1);
    assert_int_equal(d.reason, OP_SCALE_DOWN_DELAYED);
    assert_int_equal(d.requeue_after_ms, 1);
    d = decide(&as, &spec, 5, start + 300 * SEC);
    assert_int_equal(d.reason, OP_SCALE_DOWN);
    assert_int_equal(d.desired, 2);

    /* Load back at the current count resets the delay. */
    op_autoscaler_init(&as);
    t = feed(&as, 0, 60 * SEC, 4);
    d = decide(&as, &spec, 2, t - 2 * SEC);
    assert_int_equal(d.reason, OP_SCALE_DOWN_DELAYED);
    t = feed(&as, t, t + 60 * SEC, 8);
    d = decide(&as, &spec, 2, t - 2 * SEC);
    assert_int_equal(d.reason, OP_SCALE_STEADY);
    t = feed(&as, t, t + 60 * SEC, 4);
    d = decide(&as, &spec, 2, t - 2 * SEC);
    assert_int_equal(d.reason, OP_SCALE_DOWN_DELAYED);
    assert_int_equal(d.requeue_after_ms, 300 * SEC); /* a fresh delay */

    /* Delay 0 scales down at once. */
    spec.scale_down_delay_ms = 0;
    d = decide(&as, &spec, 2, t - 2 * SEC);
    assert_int_equal(d.reason, OP_SCALE_DOWN);
    assert_int_equal(d.desired, 1);
}

static void test_clamp(void **state)
{
    struct op_autoscale_spec spec = spec4();
    struct op_autoscaler as;
    struct op_autoscale_decision d;
    int64_t t;
    (void)state;

    op_autoscaler_init(&as);
    t = feed(&as, 0, 60 * SEC, 400);
    d = decide(&as, &spec, 10, t - 2 * SEC);
    assert_int_equal(d.desired, 10); /* max */
    d = decide(&as, &spec, 6, t - 2 * SEC);
    assert_int_equal(d.desired, 10);
    assert_int_equal(d.reason, OP_SCALE_CLAMPED);

    op_autoscaler_init(&as);
    spec.min_replicas = 2;
    t = feed(&as, 0, 60 * SEC, 0);
    d = decide(&as, &spec, 2, t - 2 * SEC);
    assert_int_equal(d.desired, 2); /* min, idle */
    assert_int_equal(d.reason, OP_SCALE_STEADY);

    /* maxReplicas lowered below the current count: follow it now. */
    spec.max_replicas = 3;
    d = decide(&as, &spec, 7, t - 2 * SEC);
    assert_int_equal(d.desired, 3);
    assert_int_equal(d.reason, OP_SCALE_CLAMPED);
    /* minReplicas raised above it: up now. */
    spec.max_replicas = 10;
    spec.min_replicas = 4;
    d = decide(&as, &spec, 2, t - 2 * SEC);
    assert_int_equal(d.desired, 4);
}

static void test_missing_metrics_hold(void **state)
{
    struct op_autoscale_spec spec = spec4();
    struct op_autoscaler as;
    struct op_autoscale_decision d;
    int64_t t;
    (void)state;

    op_autoscaler_init(&as);
    /* No sample at all: hold the current count. */
    d = decide(&as, &spec, 3, 0);
    assert_true(d.held);
    assert_int_equal(d.desired, 3);
    assert_int_equal(d.reason, OP_SCALE_HOLD_MISSING);

    t = feed(&as, 0, 60 * SEC, 16);
    d = decide(&as, &spec, 3, t - 2 * SEC);
    assert_int_equal(d.desired, 4);
    /* A replica stops answering: not zero load, the decision is held. */
    assert_int_equal(op_autoscaler_record(&as, t, 0, false), OP_OK);
    d = decide(&as, &spec, 4, t);
    assert_true(d.held);
    assert_int_equal(d.desired, 4);
    assert_string_equal(op_autoscale_reason_name(d.reason), "MetricsMissing");
    /* Even for a long time: never scaled down while blind. */
    for (t += 2 * SEC; t < 1000 * SEC; t += 2 * SEC)
        assert_int_equal(op_autoscaler_record(&as, t, 0, false), OP_OK);
    d = decide(&as, &spec, 4, t - 2 * SEC);
    assert_true(d.held);
    assert_int_equal(d.desired, 4);
    /* Metrics back: incomplete samples were left out of the mean. */
    assert_int_equal(op_autoscaler_record(&as, t, 16, true), OP_OK);
    d = decide(&as, &spec, 4, t);
    assert_false(d.held);
    assert_true(d.stable_load > 15.99 && d.stable_load < 16.01);
    assert_int_equal(d.desired, 4);
}

static void test_record_and_spec_errors(void **state)
{
    struct op_autoscale_spec spec = spec4();
    struct op_autoscaler as;
    struct op_autoscale_decision d;
    int i;
    (void)state;

    op_autoscaler_init(&as);
    assert_int_equal(op_autoscaler_record(&as, 10, 1, true), OP_OK);
    assert_int_equal(op_autoscaler_record(&as, 9, 1, true), OP_EINVAL); /* back in time */
    assert_int_equal(op_autoscaler_record(&as, 11, -1, true), OP_EINVAL);
    assert_int_equal(op_autoscaler_record(NULL, 11, 1, true), OP_EINVAL);
    /* The ring keeps the newest samples. */
    for (i = 0; i < 3 * OP_AUTOSCALE_MAX_SAMPLES; i++)
        assert_int_equal(op_autoscaler_record(&as, 100 + i, 8, true), OP_OK);
    assert_int_equal(as.count, OP_AUTOSCALE_MAX_SAMPLES);
    d = decide(&as, &spec, 2, 100 + 3 * OP_AUTOSCALE_MAX_SAMPLES - 1);
    assert_int_equal(d.desired, 2);

    spec.min_replicas = 5;
    spec.max_replicas = 4; /* minReplicas > maxReplicas: InvalidSpec */
    assert_int_equal(op_autoscale_spec_check(&spec), OP_EINVAL);
    assert_int_equal(op_autoscaler_decide(&as, &spec, 2, 0, &d), OP_EINVAL);
    spec = spec4();
    spec.target = 0;
    assert_int_equal(op_autoscale_spec_check(&spec), OP_EINVAL);
    spec = spec4();
    spec.panic_window_ms = spec.stable_window_ms + 1;
    assert_int_equal(op_autoscale_spec_check(&spec), OP_EINVAL);
    spec = spec4();
    assert_int_equal(op_autoscaler_decide(&as, &spec, -1, 0, &d), OP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steady_and_up),
        cmocka_unit_test(test_stable_window_smooths),
        cmocka_unit_test(test_panic),
        cmocka_unit_test(test_panic_from_zero),
        cmocka_unit_test(test_scale_down_delay),
        cmocka_unit_test(test_clamp),
        cmocka_unit_test(test_missing_metrics_hold),
        cmocka_unit_test(test_record_and_spec_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
