/* Tests of the canary analysis: each check, failureLimit, inconclusive runs,
 * a Failed canary replica. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "op_analysis.h"
#include "op_core.h"

/* A healthy interval: 1000 requests each, 0.5% errors, similar latency. */
static struct op_analysis_input healthy(void)
{
    struct op_analysis_input in;
    memset(&in, 0, sizeof(in));
    in.canary = (struct op_metrics_snapshot){true, 1000, 5, 0, 110};
    in.stable = (struct op_metrics_snapshot){true, 9000, 40, 0, 100};
    in.golden = OP_GOLDEN_PASS;
    return in;
}

static struct op_analysis_result run(const struct op_analysis_spec *spec,
                                     struct op_analysis_state *st,
                                     const struct op_analysis_input *in)
{
    struct op_analysis_result r;
    memset(&r, 0x5a, sizeof(r));
    assert_int_equal(op_analysis_run(spec, st, in, &r), OP_OK);
    return r;
}

static void test_pass(void **state)
{
    struct op_analysis_spec spec;
    struct op_analysis_state st = {0};
    struct op_analysis_input in = healthy();
    struct op_analysis_result r;
    (void)state;

    op_analysis_spec_default(&spec);
    r = run(&spec, &st, &in);
    assert_int_equal(r.verdict, OP_VERDICT_PASS);
    assert_int_equal(r.failed, 0);
    assert_int_equal(st.failed_runs, 0);
    assert_true(r.error_rate > 0.0049 && r.error_rate < 0.0051);
    assert_true(r.p95_ratio > 1.09 && r.p95_ratio < 1.11);
    assert_string_equal(op_verdict_name(r.verdict), "Pass");
}

static void test_each_check_fails(void **state)
{
    struct op_analysis_spec spec;
    struct op_analysis_state st;
    struct op_analysis_input in;
    struct op_analysis_result r;
    (void)state;

    op_analysis_spec_default(&spec);
    spec.failure_limit = 5;

    st.failed_runs = 0;
    in = healthy();
    in.canary.errors = 30; /* 3% > 2% */
    r = run(&spec, &st, &in);
    assert_int_equal(r.verdict, OP_VERDICT_FAIL);
    assert_int_equal(r.failed, OP_CHECK_ERROR_RATE);
    assert_non_null(strstr(r.message, "error rate 0.030 > 0.020"));

    st.failed_runs = 0;
    in = healthy();
    in.canary.anomalies = 21; /* 2.1% > 2% */
    r = run(&spec, &st, &in);
    assert_int_equal(r.failed, OP_CHECK_ANOMALY_RATE);

    st.failed_runs = 0;
    in = healthy();
    in.canary.p95_ms = 151; /* 1.51x > 1.5x */
    r = run(&spec, &st, &in);
    assert_int_equal(r.failed, OP_CHECK_P95_RATIO);
    assert_non_null(strstr(r.message, "p95 latency 1.51x"));

    st.failed_runs = 0;
    in = healthy();
    in.golden = OP_GOLDEN_FAIL;
    r = run(&spec, &st, &in);
    assert_int_equal(r.failed, OP_CHECK_GOLDEN);
    assert_non_null(strstr(r.message, "golden prompt failed"));
    assert_int_equal(st.failed_runs, 1);

    /* Exactly at the limits is a pass. */
    st.failed_runs = 0;
    in = healthy();
    in.canary.errors = 20;
    in.canary.p95_ms = 150;
    r = run(&spec, &st, &in);
    assert_int_equal(r.verdict, OP_VERDICT_PASS);
}

static void test_failure_limit(void **state)
{
    struct op_analysis_spec spec;
    struct op_analysis_state st = {0};
    struct op_analysis_input bad = healthy(), good = healthy();
    struct op_analysis_result r;
    (void)state;

    op_analysis_spec_default(&spec); /* failureLimit 2 */
    bad.canary.errors = 500;
    r = run(&spec, &st, &bad);
    assert_int_equal(r.verdict, OP_VERDICT_FAIL);
    assert_non_null(strstr(r.message, "failed checks 1/2"));
    /* A passing run in between does not wipe out the count. */
    r = run(&spec, &st, &good);
    assert_int_equal(r.verdict, OP_VERDICT_PASS);
    assert_int_equal(st.failed_runs, 1);
    r = run(&spec, &st, &bad);
    assert_int_equal(r.verdict, OP_VERDICT_ABORT);
    assert_int_equal(st.failed_runs, 2);

    spec.failure_limit = 1;
    st.failed_runs = 0;
    r = run(&spec, &st, &bad);
    assert_int_equal(r.verdict, OP_VERDICT_ABORT);
}

static void test_inconclusive(void **state)
{
    struct op_analysis_spec spec;
    struct op_analysis_state st = {0};
    struct op_analysis_input in;
    struct op_analysis_result r;
    (void)state;

    op_analysis_spec_default(&spec);
    spec.min_requests = 50;
    /* No traffic and no golden prompts: nothing to judge. */
    in = healthy();
    in.golden = OP_GOLDEN_NOT_RUN;
    in.canary.requests = 10;
    in.canary.errors = 10; /* 100% of very little */
    r = run(&spec, &st, &in);
    assert_int_equal(r.verdict, OP_VERDICT_INCONCLUSIVE);
    assert_int_equal(st.failed_runs, 0);
    assert_true(r.error_rate < 0);
    /* Canary metrics could not be scraped. */
    in = healthy();
    in.golden = OP_GOLDEN_NOT_RUN;
    in.canary.valid = false;
    r = run(&spec, &st, &in);
    assert_int_equal(r.verdict, OP_VERDICT_INCONCLUSIVE);
    /* Stable has no latency data: the ratio is skipped, the rest judged. */
    in = healthy();
    in.stable.p95_ms = 0;
    in.canary.p95_ms = 10000;
    r = run(&spec, &st, &in);
    assert_int_equal(r.verdict, OP_VERDICT_PASS);
    assert_true(r.p95_ratio < 0);
    /* A golden prompt alone is enough to judge. */
    in = healthy();
    in.canary.requests = 0;
    in.canary.errors = 0;
    r = run(&spec, &st, &in);
    assert_int_equal(r.verdict, OP_VERDICT_PASS);
}

static void test_failed_replica_aborts_at_once(void **state)
{
    struct op_analysis_spec spec;
    struct op_analysis_state st = {0};
    struct op_analysis_input in = healthy();
    struct op_analysis_result r;
    (void)state;

    op_analysis_spec_default(&spec);
    spec.failure_limit = 10;
    in.canary_replica_failed = true;
    r = run(&spec, &st, &in);
    assert_int_equal(r.verdict, OP_VERDICT_ABORT);
    assert_true(r.failed & OP_CHECK_REPLICA_FAILED);
    assert_non_null(strstr(r.message, "canary replica is Failed"));
}

static void test_invalid(void **state)
{
    struct op_analysis_spec spec;
    struct op_analysis_state st = {3};
    struct op_analysis_input in = healthy();
    struct op_analysis_result r;
    (void)state;

    op_analysis_spec_default(&spec);
    spec.failure_limit = 0;
    assert_int_equal(op_analysis_run(&spec, &st, &in, &r), OP_EINVAL);
    op_analysis_spec_default(&spec);
    spec.max_error_rate = 1.5;
    assert_int_equal(op_analysis_run(&spec, &st, &in, &r), OP_EINVAL);
    op_analysis_spec_default(&spec);
    spec.max_p95_ratio = 0.5;
    assert_int_equal(op_analysis_run(&spec, &st, &in, &r), OP_EINVAL);
    assert_int_equal(op_analysis_run(NULL, &st, &in, &r), OP_EINVAL);
    assert_int_equal(st.failed_runs, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass),
        cmocka_unit_test(test_each_check_fails),
        cmocka_unit_test(test_failure_limit),
        cmocka_unit_test(test_inconclusive),
        cmocka_unit_test(test_failed_replica_aborts_at_once),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
