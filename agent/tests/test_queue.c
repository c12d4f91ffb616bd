/* Tests for queue: FIFO order, the bound (backpressure), removal from the
 * middle, wrap-around. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "queue.h"

static void test_fifo_and_bound(void **state)
{
    struct queue q;
    int items[5];
    assert_int_equal(queue_init(&q, 3), 0);
    assert_null(queue_pop(&q));
    for (int i = 0; i < 3; i++) assert_int_equal(queue_push(&q, &items[i]), QUEUE_OK);
    assert_int_equal(queue_push(&q, &items[3]), QUEUE_ERR_FULL);
    assert_int_equal(queue_len(&q), 3);
    assert_ptr_equal(queue_pop(&q), &items[0]);
    assert_int_equal(queue_push(&q, &items[3]), QUEUE_OK); /* wraps */
    assert_ptr_equal(queue_pop(&q), &items[1]);
    assert_ptr_equal(queue_pop(&q), &items[2]);
    assert_ptr_equal(queue_pop(&q), &items[3]);
    assert_null(queue_pop(&q));
    queue_deinit(&q);
}

static void test_remove(void **state)
{
    struct queue q;
    int items[5];
    assert_int_equal(queue_init(&q, 4), 0);
    /* move head so the contents wrap */
    queue_push(&q, &items[4]);
    queue_push(&q, &items[4]);
    queue_pop(&q);
    queue_pop(&q);
    for (int i = 0; i < 4; i++) queue_push(&q, &items[i]);
    assert_int_equal(queue_remove(&q, &items[1]), 1);
    assert_int_equal(queue_remove(&q, &items[1]), 0);
    assert_int_equal(queue_len(&q), 3);
    assert_int_equal(queue_push(&q, &items[4]), QUEUE_OK); /* the freed place is usable */
    assert_ptr_equal(queue_pop(&q), &items[0]);
    assert_ptr_equal(queue_pop(&q), &items[2]);
    assert_ptr_equal(queue_pop(&q), &items[3]);
    assert_ptr_equal(queue_pop(&q), &items[4]);
    queue_deinit(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_and_bound),
        cmocka_unit_test(test_remove),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
