/* Tests of the /metrics page cache between the scraper thread and the
 * reconcilers: states, copies, target expiry, limits; one test with a
 * second thread so that ASan/TSan-style misuse would show; the libcurl
 * body buffer. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "op_scrape.h"

static struct op_scrape_cache *cache(void)
{
    struct op_scrape_cache_opts o = {10000, 30000};
    struct op_scrape_cache *c = op_scrape_cache_new(&o);
    assert_non_null(c);
    return c;
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++) free(l[i]);
    free(l);
}

static void test_states(void **state)
{
    struct op_scrape_cache *c = cache();
    char *text = (char *)1, **l = NULL;
    int64_t at = 0;
    size_t n;
    (void)state;

    /* Asking registers the target; nothing is known yet. */
    assert_int_equal(op_scrape_cache_get(c, "10.0.0.1:8080", 1000, &text, &at), OP_SCRAPE_PENDING);
    assert_null(text);
    n = op_scrape_cache_targets(c, 1000, &l);
    assert_int_equal(n, 1);
    assert_string_equal(l[0], "10.0.0.1:8080");
    free_list(l, n);
    /* A page arrives: OK with a copy and its time. */
    op_scrape_cache_put(c, "10.0.0.1:8080", strdup("kllm_requests_in_flight 3\n"), 1500);
    assert_int_equal(op_scrape_cache_get(c, "10.0.0.1:8080", 2000, &text, &at), OP_SCRAPE_OK);
    assert_string_equal(text, "kllm_requests_in_flight 3\n");
    assert_int_equal(at, 1500);
    free(text);
    /* The next fetch fails: unknown, even though an older page exists. */
    op_scrape_cache_put(c, "10.0.0.1:8080", NULL, 3500);
    assert_int_equal(op_scrape_cache_get(c, "10.0.0.1:8080", 4000, &text, &at), OP_SCRAPE_FAILED);
    assert_null(text);
    /* It answers again, then the scraper stops refreshing it: stale. */
    op_scrape_cache_put(c, "10.0.0.1:8080", strdup("kllm_requests_in_flight 5\n"), 5500);
    assert_int_equal(op_scrape_cache_get(c, "10.0.0.1:8080", 15500, NULL, NULL), OP_SCRAPE_OK);
    assert_int_equal(op_scrape_cache_get(c, "10.0.0.1:8080", 15501, &text, NULL), OP_SCRAPE_STALE);
    assert_null(text);
    op_scrape_cache_free(c);
}

static void test_idle_targets_dropped(void **state)
{
    struct op_scrape_cache *c = cache();
    char **l = NULL;
    size_t n;
    (void)state;

    assert_int_equal(op_scrape_cache_get(c, "a:1", 0, NULL, NULL), OP_SCRAPE_PENDING);
    assert_int_equal(op_scrape_cache_get(c, "b:1", 0, NULL, NULL), OP_SCRAPE_PENDING);
    assert_int_equal(op_scrape_cache_get(c, "c:1", 20000, NULL, NULL), OP_SCRAPE_PENDING);
    op_scrape_cache_put(c, "a:1", strdup("x 1\n"), 100);
    assert_int_equal(op_scrape_cache_get(c, "a:1", 25000, NULL, NULL), OP_SCRAPE_STALE);
    /* At 30001 b was last asked for 30001 ms ago: dropped; a and c stay. */
    n = op_scrape_cache_targets(c, 30001, &l);
    assert_int_equal(n, 2);
    assert_true((!strcmp(l[0], "a:1") && !strcmp(l[1], "c:1")) ||
                (!strcmp(l[0], "c:1") && !strcmp(l[1], "a:1")));
    free_list(l, n);
    /* A page for a dropped endpoint is ignored (and freed). */
    op_scrape_cache_put(c, "b:1", strdup("x 2\n"), 30002);
    assert_int_equal(op_scrape_cache_get(c, "b:1", 30003, NULL, NULL), OP_SCRAPE_PENDING);
    /* Everything idle: no targets. */
    n = op_scrape_cache_targets(c, 200000, &l);
    assert_int_equal(n, 0);
    assert_null(l);
    op_scrape_cache_free(c);
}

static void test_limits_and_bad_input(void **state)
{
    struct op_scrape_cache_opts bad = {0, 1};
    struct op_scrape_cache *c = cache();
    char ep[OP_SCRAPE_MAX_ENDPOINT + 2], **l = NULL;
    size_t n;
    (void)state;

    assert_null(op_scrape_cache_new(&bad));
    assert_null(op_scrape_cache_new(NULL));
    memset(ep, 'x', sizeof(ep) - 1);
    ep[sizeof(ep) - 1] = '\0';
    assert_int_equal(op_scrape_cache_get(c, ep, 0, NULL, NULL), OP_SCRAPE_FAILED);
    assert_int_equal(op_scrape_cache_get(c, "", 0, NULL, NULL), OP_SCRAPE_FAILED);
    assert_int_equal(op_scrape_cache_get(c, NULL, 0, NULL, NULL), OP_SCRAPE_FAILED);
    assert_int_equal(op_scrape_cache_get(NULL, "a:1", 0, NULL, NULL), OP_SCRAPE_FAILED);
    for (int i = 0; i < OP_SCRAPE_MAX_TARGETS; i++) {
        char e[32];
        snprintf(e, sizeof(e), "10.0.%d.%d:8080", i / 256, i % 256);
        assert_int_equal(op_scrape_cache_get(c, e, 0, NULL, NULL), OP_SCRAPE_PENDING);
    }
    assert_int_equal(op_scrape_cache_get(c, "full:1", 0, NULL, NULL), OP_SCRAPE_FAILED);
    n = op_scrape_cache_targets(c, 0, &l);
    assert_int_equal(n, OP_SCRAPE_MAX_TARGETS);
    free_list(l, n);
    op_scrape_cache_put(NULL, "a:1", strdup("x"), 0);
    op_scrape_cache_put(c, NULL, strdup("x"), 0);
    assert_int_equal(op_scrape_cache_targets(NULL, 0, &l), 0);
    op_scrape_cache_free(c);
    op_scrape_cache_free(NULL);
}

/* A scraper thread putting pages while this thread reads: every page read
 * is a whole page that was put. */
struct writer {
    struct op_scrape_cache *c;
    int rounds;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    for (int i = 1; i <= w->rounds; i++) {
        char page[64];
        snprintf(page, sizeof(page), "kllm_requests_in_flight %d\n", i);
        op_scrape_cache_put(w->c, "a:1", strdup(page), i);
    }
    return NULL;
}

static void test_two_threads(void **state)
{
    struct writer w = {cache(), 2000};
    pthread_t t;
    (void)state;

    assert_int_equal(op_scrape_cache_get(w.c, "a:1", 0, NULL, NULL), OP_SCRAPE_PENDING);
    assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
    for (int i = 0; i < 2000; i++) {
        char *text = NULL;
        if (op_scrape_cache_get(w.c, "a:1", 0, &text, NULL) == OP_SCRAPE_OK) {
            assert_non_null(text);
            assert_memory_equal(text, "kllm_requests_in_flight ", 24);
        }
        free(text);
    }
    pthread_join(t, NULL);
    assert_int_equal(op_scrape_cache_get(w.c, "a:1", 2000, NULL, NULL), OP_SCRAPE_OK);
    op_scrape_cache_free(w.c);
}

/* The libcurl body buffer: grows past its first 16 KiB, stays
 * NUL-terminated, refuses (returns 0, so curl fails the transfer) what
 * would pass max, and hands over "" for an empty body. */
static void test_capbuf(void **state)
{
    struct op_capbuf b = {.max = 40000};
    char chunk[10000];
    memset(chunk, 'x', sizeof(chunk));
    for (int i = 0; i < 3; i++)
        assert_int_equal(op_capbuf_write(chunk, 1, sizeof(chunk), &b), 10000);
    assert_int_equal(b.len, 30000);
    assert_true(b.cap >= 30001 && b.cap <= 40000);
    assert_int_equal(b.p[30000], '\0');
    assert_int_equal(op_capbuf_write(chunk, 1, sizeof(chunk), &b), 0); /* 40001 > max */
    assert_int_equal(b.len, 30000);
    char *page = op_capbuf_take(&b);
    assert_non_null(page);
    assert_int_equal(strlen(page), 30000);
    assert_null(b.p);
    free(page);
    page = op_capbuf_take(&b);
    assert_string_equal(page, "");
    free(page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_idle_targets_dropped),
        cmocka_unit_test(test_limits_and_bad_input),
        cmocka_unit_test(test_two_threads),
        cmocka_unit_test(test_capbuf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
