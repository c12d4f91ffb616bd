/* Tests of the cross-field Model checks and of duration parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "op_core.h"
#include "op_spec.h"

#define SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static void test_validate(void **state)
{
    struct op_model_view m = {"https://m.example.org/a.gguf", SHA, true, 1, 10};
    char msg[160];
    (void)state;

    assert_int_equal(op_model_validate(&m, msg, sizeof(msg)), OP_OK);
    assert_string_equal(msg, "");
    m.min_replicas = 5;
    m.max_replicas = 3;
    assert_int_equal(op_model_validate(&m, msg, sizeof(msg)), OP_EINVAL);
    assert_string_equal(msg, "spec.autoscaling.minReplicas (5) must not exceed maxReplicas (3)");
    m.autoscaling = false; /* bounds only matter with autoscaling */
    assert_int_equal(op_model_validate(&m, msg, sizeof(msg)), OP_OK);
    m.min_replicas = 3;
    m.autoscaling = true;
    assert_int_equal(op_model_validate(&m, NULL, 0), OP_OK);

    m.sha256 = NULL;
    assert_int_equal(op_model_validate(&m, msg, sizeof(msg)), OP_EINVAL);
    assert_non_null(strstr(msg, "sha256"));
    m.uri = "http://m.example.org/a.gguf";
    assert_int_equal(op_model_validate(&m, msg, sizeof(msg)), OP_EINVAL);
    m.uri = "file:///var/lib/kllm/a.gguf";
    assert_int_equal(op_model_validate(&m, msg, sizeof(msg)), OP_OK);
    m.sha256 = "ABC";
    assert_int_equal(op_model_validate(&m, msg, sizeof(msg)), OP_EINVAL);
    m.sha256 = NULL;
    m.uri = "ftp://m.example.org/a.gguf";
    assert_int_equal(op_model_validate(&m, msg, sizeof(msg)), OP_EINVAL);
    assert_non_null(strstr(msg, "file:///"));
    assert_int_equal(op_model_validate(NULL, msg, sizeof(msg)), OP_EINVAL);
}

static void test_duration(void **state)
{
    int64_t ms = -7;
    const char *bad[] = {"", "s", "60", "1d", "-1s", "1.5s", "1h30", "60 s"};
    size_t i;
    (void)state;

    assert_int_equal(op_duration_parse_ms("60s", &ms), OP_OK);
    assert_int_equal(ms, 60000);
    assert_int_equal(op_duration_parse_ms("1h30m", &ms), OP_OK);
    assert_int_equal(ms, 5400000);
    assert_int_equal(op_duration_parse_ms("250ms", &ms), OP_OK);
    assert_int_equal(ms, 250);
    assert_int_equal(op_duration_parse_ms("5m", &ms), OP_OK);
    assert_int_equal(ms, 300000);
    assert_int_equal(op_duration_parse_ms("0s", &ms), OP_OK);
    assert_int_equal(ms, 0);
    assert_int_equal(op_duration_parse_ms("1m1ms", &ms), OP_OK);
    assert_int_equal(ms, 60001);
    ms = -7;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(op_duration_parse_ms(bad[i], &ms), OP_EINVAL);
    assert_int_equal(ms, -7);
    assert_int_equal(op_duration_parse_ms("9999999999999999h", &ms), OP_ERANGE);
    assert_int_equal(op_duration_parse_ms(NULL, &ms), OP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_duration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
