/* Tests of op_quantity: the formats Kubernetes writes, rounding, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "op_core.h"
#include "op_quantity.h"

static int64_t milli(const char *s)
{
    int64_t v = -12345;
    assert_int_equal(op_quantity_parse_milli(s, &v), OP_OK);
    return v;
}

static int64_t units(const char *s)
{
    int64_t v = -12345;
    assert_int_equal(op_quantity_parse_units(s, &v), OP_OK);
    return v;
}

static void test_cpu_forms(void **state)
{
    (void)state;
    assert_int_equal(milli("2"), 2000);
    assert_int_equal(milli("500m"), 500);
    assert_int_equal(milli("0.5"), 500);
    assert_int_equal(milli("+1.25"), 1250);
    assert_int_equal(milli(".1"), 100);
    assert_int_equal(milli("0"), 0);
    assert_int_equal(milli("1n"), 1); /* below 1m rounds up, as Kubernetes does */
    assert_int_equal(milli("1500u"), 2);
    assert_int_equal(milli("100000000000"), 100000000000000LL);
}

static void test_memory_forms(void **state)
{
    (void)state;
    assert_int_equal(units("3Gi"), 3221225472LL);
    assert_int_equal(units("128974848"), 128974848LL);
    assert_int_equal(units("129e6"), 129000000LL);
    assert_int_equal(units("129M"), 129000000LL);
    assert_int_equal(units("123Mi"), 128974848LL);
    assert_int_equal(units("1Ki"), 1024);
    assert_int_equal(units("1.5Gi"), 1610612736LL);
    assert_int_equal(units("2k"), 2000);
    assert_int_equal(units("1E3"), 1000); /* exponent, not exa */
    assert_int_equal(units("1e-3"), 1);   /* a fraction of a byte rounds up */
    assert_int_equal(units("1.5"), 2);
    assert_int_equal(units("4Ti"), 4398046511104LL);
    assert_int_equal(units("1P"), 1000000000000000LL);
}

static void test_errors(void **state)
{
    int64_t v = 7;
    const char *bad[] = {"",   "-1", "abc", "1.5.2", "3GB",  "Gi",  "1 Gi",
                         "1i", ".",  "1e",  "1ee3",  "0x10", "1Gii"};
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(op_quantity_parse_milli(bad[i], &v), OP_EINVAL);
        assert_int_equal(v, 7); /* untouched on error */
    }
    assert_int_equal(op_quantity_parse_milli(NULL, &v), OP_EINVAL);
    assert_int_equal(op_quantity_parse_milli("1", NULL), OP_EINVAL);
    assert_int_equal(op_quantity_parse_units("1", NULL), OP_EINVAL);
    assert_int_equal(op_quantity_parse_milli("99999999999999999999", &v), OP_ERANGE);
    assert_int_equal(op_quantity_parse_milli("8Ei", &v), OP_ERANGE);
    assert_int_equal(op_quantity_parse_milli("1e40", &v), OP_ERANGE);
    assert_string_equal(op_strerror(OP_ERANGE), "value out of range");
    assert_string_equal(op_strerror(12345), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_forms),
        cmocka_unit_test(test_memory_forms),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
