/* Tests for sse: event framing and the [DONE] terminator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sse.h"

static void test_frames(void **state)
{
    struct abuf b;
    abuf_init(&b, 0);
    assert_int_equal(sse_data(&b, "{\"a\":1}"), 0);
    assert_int_equal(sse_done(&b), 0);
    assert_string_equal(abuf_str(&b), "data: {\"a\":1}\n\ndata: [DONE]\n\n");
    abuf_deinit(&b);
}

static void test_newlines_split(void **state)
{
    struct abuf b;
    abuf_init(&b, 0);
    assert_int_equal(sse_data(&b, "x\ny"), 0);
    assert_string_equal(abuf_str(&b), "data: x\ndata: y\n\n");
    abuf_deinit(&b);
}

static void test_cap(void **state)
{
    struct abuf b;
    abuf_init(&b, 10);
    assert_int_equal(sse_data(&b, "0123456789"), ABUF_ERR_TOO_BIG);
    assert_true(b.len <= 10);
    abuf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames),
        cmocka_unit_test(test_newlines_split),
        cmocka_unit_test(test_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
