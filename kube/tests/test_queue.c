/* Tests for the work queue: dedup, one worker per key, delays, per-item
 * backoff, overall bucket, drain on shutdown. Time is a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/queue.h"

static int64_t fake_now;
static int64_t fake_clock(void *ud)
{
    return fake_now;
}
static const struct kube_clock fake = {fake_clock, NULL};

static struct kube_queue *mkq(void)
{
    struct kube_queue_opts o = {0};
    struct kube_queue *q = NULL;
    o.clock = &fake;
    fake_now = 1000 * KUBE_SEC;
    assert_int_equal(kube_queue_new(&o, &q), 0);
    return q;
}

static void expect_key(struct kube_queue *q, const char *want)
{
    char *k = NULL;
    assert_int_equal(kube_queue_get(q, &k, 0), 0);
    assert_string_equal(k, want);
    kube_queue_done(q, k);
    free(k);
}

static void test_dedup_and_fifo(void **state)
{
    struct kube_queue *q = mkq();
    assert_int_equal(kube_queue_add(q, "a"), 0);
    assert_int_equal(kube_queue_add(q, "b"), 0);
    assert_int_equal(kube_queue_add(q, "a"), 0);
    assert_int_equal(kube_queue_len(q), 2);
    expect_key(q, "a");
    expect_key(q, "b");
    char *k = NULL;
    assert_int_equal(kube_queue_get(q, &k, 0), KUBE_ETIMEDOUT);
    kube_queue_free(q);
}

static void test_one_worker_per_key(void **state)
{
    struct kube_queue *q = mkq();
    char *k = NULL, *k2 = NULL;
    kube_queue_add(q, "a");
    assert_int_equal(kube_queue_get(q, &k, 0), 0);
    /* Re-added while processing: parked, not handed to a second worker. */
    kube_queue_add(q, "a");
    kube_queue_add(q, "a");
    assert_int_equal(kube_queue_len(q), 0);
    assert_int_equal(kube_queue_get(q, &k2, 0), KUBE_ETIMEDOUT);
    kube_queue_done(q, k);
    free(k);
    assert_int_equal(kube_queue_len(q), 1);
    expect_key(q, "a");
    assert_int_equal(kube_queue_len(q), 0);
    kube_queue_free(q);
}

static void test_add_after(void **state)
{
    struct kube_queue *q = mkq();
    kube_queue_add_after(q, "late", 10 * KUBE_SEC);
    kube_queue_add_after(q, "soon", 2 * KUBE_SEC);
    kube_queue_add_after(q, "late", 5 * KUBE_SEC); /* earlier wins */
    assert_int_equal(kube_queue_len(q), 0);
    assert_int_equal(kube_queue_delayed_len(q), 2);
    fake_now += 2 * KUBE_SEC;
    assert_int_equal(kube_queue_len(q), 1);
    expect_key(q, "soon");
    fake_now += 3 * KUBE_SEC;
    assert_int_equal(kube_queue_len(q), 1);
    expect_key(q, "late");
    fake_now += 10 * KUBE_SEC; /* the stale 10 s entry must not fire again */
    assert_int_equal(kube_queue_len(q), 0);
    assert_int_equal(kube_queue_delayed_len(q), 0);
    kube_queue_free(q);
}

static void test_per_item_backoff(void **state)
{
    struct kube_queue *q = mkq();
    int64_t want = 5 * KUBE_MS;
    for (int i = 0; i < 10; i++) {
        assert_int_equal(kube_queue_peek_delay(q, "x"), want);
        assert_int_equal(kube_queue_add_rate_limited(q, "x"), 0);
        fake_now += want - 1;
        assert_int_equal(kube_queue_len(q), 0);
        fake_now += 1;
        expect_key(q, "x");
        want *= 2;
    }
    assert_int_equal(kube_queue_num_requeues(q, "x"), 10);
    for (int i = 0; i < 30; i++) kube_queue_add_rate_limited(q, "x");
    assert_int_equal(kube_queue_peek_delay(q, "x"), 1000 * KUBE_SEC); /* capped */
    kube_queue_forget(q, "x");
    assert_int_equal(kube_queue_num_requeues(q, "x"), 0);
    /* 40 reservations < burst 100, so only the per-item delay applies. */
    assert_int_equal(kube_queue_peek_delay(q, "x"), 5 * KUBE_MS);
    kube_queue_free(q);
}

static void test_overall_bucket(void **state)
{
    struct kube_queue *q = mkq();
    char key[16];
    /* Burst 100 at qps 10: the 101st distinct key waits 100 ms, the 102nd 200 ms. */
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(kube_queue_peek_delay(q, key), 5 * KUBE_MS);
        kube_queue_add_rate_limited(q, key);
    }
    assert_int_equal(kube_queue_peek_delay(q, "k100"), 100 * KUBE_MS);
    kube_queue_add_rate_limited(q, "k100");
    assert_int_equal(kube_queue_peek_delay(q, "k101"), 200 * KUBE_MS);
    fake_now += 200 * KUBE_MS;
    assert_int_equal(kube_queue_len(q), 101);
    kube_queue_free(q);
}

struct worker_arg {
    struct kube_queue *q;
    int processed;
};

static void *worker(void *p)
{
    struct worker_arg *a = p;
    char *k;
    while (kube_queue_get(a->q, &k, -1) == 0) {
        a->processed++;
        kube_queue_done(a->q, k);
        free(k);
    }
    return NULL;
}

static void test_shutdown_drains(void **state)
{
    struct kube_queue *q = NULL;
    assert_int_equal(kube_queue_new(NULL, &q), 0);
    char key[16];
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        kube_queue_add(q, key);
    }
    kube_queue_shutdown(q);
    assert_int_equal(kube_queue_add(q, "late"), KUBE_ECLOSED);
    struct worker_arg a = {q, 0};
    pthread_t t;
    pthread_create(&t, NULL, worker, &a);
    assert_int_equal(kube_queue_shutdown_drain(q, 10 * KUBE_SEC), 0);
    pthread_join(t, NULL);
    assert_int_equal(a.processed, 50);
    kube_queue_free(q);
}

static void test_blocking_get_wakes(void **state)
{
    struct kube_queue *q = NULL;
    assert_int_equal(kube_queue_new(NULL, &q), 0);
    struct worker_arg a = {q, 0};
    pthread_t t;
    pthread_create(&t, NULL, worker, &a);
    kube_queue_add_after(q, "x", 20 * KUBE_MS); /* real clock */
    kube_queue_add(q, "y");
    while (kube_queue_len(q) || kube_queue_delayed_len(q)) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(kube_queue_shutdown_drain(q, 10 * KUBE_SEC), 0);
    pthread_join(t, NULL);
    assert_int_equal(a.processed, 2);
    kube_queue_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedup_and_fifo),     cmocka_unit_test(test_one_worker_per_key),
        cmocka_unit_test(test_add_after),          cmocka_unit_test(test_per_item_backoff),
        cmocka_unit_test(test_overall_bucket),     cmocka_unit_test(test_shutdown_drains),
        cmocka_unit_test(test_blocking_get_wakes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
