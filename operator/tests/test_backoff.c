/* Tests of the Failed-replica replacement back-off with an invented clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "op_backoff.h"
#include "op_core.h"

static void test_first_at_once_then_doubling_to_cap(void **state)
{
    struct op_backoff_spec spec = {10000, 60000, 600000};
    struct op_backoff b;
    int64_t t = 1000;
    const int64_t want[] = {10000, 20000, 40000, 60000, 60000, 60000};
    (void)state;

    op_backoff_init(&b);
    assert_int_equal(op_backoff_wait_ms(&b, t), 0); /* the first failure: at once */
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(op_backoff_replaced(&b, &spec, t), OP_OK);
        assert_int_equal(b.failures, (int32_t)i + 1);
        assert_int_equal(op_backoff_wait_ms(&b, t), want[i]);
        assert_int_equal(op_backoff_wait_ms(&b, t + want[i] - 1), 1);
        t += want[i];
        assert_int_equal(op_backoff_wait_ms(&b, t), 0);
    }
}

static void test_cap_holds_after_many_failures(void **state)
{
    struct op_backoff_spec spec;
    struct op_backoff b;
    (void)state;

    op_backoff_spec_default(&spec);
    op_backoff_init(&b);
    b.failures = INT32_MAX - 1; /* no overflow in the doubling */
    assert_int_equal(op_backoff_replaced(&b, &spec, 5), OP_OK);
    assert_int_equal(b.failures, INT32_MAX);
    assert_int_equal(op_backoff_wait_ms(&b, 5), spec.max_ms);
    assert_int_equal(op_backoff_replaced(&b, &spec, 10), OP_OK);
    assert_int_equal(b.failures, INT32_MAX);
    assert_int_equal(op_backoff_wait_ms(&b, 10), spec.max_ms);
}

static void test_reset_after_healthy_period(void **state)
{
    struct op_backoff_spec spec = {10000, 300000, 600000};
    struct op_backoff b;
    (void)state;

    op_backoff_init(&b);
    op_backoff_replaced(&b, &spec, 0);
    op_backoff_replaced(&b, &spec, 10000);
    assert_int_equal(op_backoff_wait_ms(&b, 10000), 20000);
    op_backoff_healthy(&b, &spec, 10000 + 599999); /* not long enough */
    assert_int_equal(b.failures, 2);
    op_backoff_healthy(&b, &spec, 10000 + 600000);
    assert_int_equal(b.failures, 0);
    assert_int_equal(op_backoff_wait_ms(&b, 10000 + 600000), 0);
    /* After a reset the next failure is again replaced at once, then 10 s. */
    op_backoff_replaced(&b, &spec, 700000);
    assert_int_equal(op_backoff_wait_ms(&b, 700000), 10000);
}

static void test_invalid(void **state)
{
    struct op_backoff_spec bad = {0, 1000, 0};
    struct op_backoff b;
    (void)state;

    op_backoff_init(&b);
    assert_int_equal(op_backoff_replaced(&b, &bad, 0), OP_EINVAL);
    bad.base_ms = 2000; /* max below base */
    assert_int_equal(op_backoff_replaced(&b, &bad, 0), OP_EINVAL);
    bad.max_ms = 2000;
    bad.reset_ms = -1;
    assert_int_equal(op_backoff_replaced(&b, &bad, 0), OP_EINVAL);
    assert_int_equal(b.failures, 0);
    assert_int_equal(op_backoff_replaced(NULL, &bad, 0), OP_EINVAL);
    assert_int_equal(op_backoff_wait_ms(NULL, 0), 0);
    op_backoff_healthy(NULL, &bad, 0);
    op_backoff_spec_default(NULL);
    op_backoff_init(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_at_once_then_doubling_to_cap),
        cmocka_unit_test(test_cap_holds_after_many_failures),
        cmocka_unit_test(test_reset_after_healthy_period),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
