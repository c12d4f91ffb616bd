/* Tests for the watch-stream decoder: a stream split at every possible
 * chunk boundary decodes to the same events; partial lines, bookmarks,
 * ERROR events, garbage and the line cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/watch.h"

static const char stream[] =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"10\"},"
    "\"spec\":{\"text\":\"h\xc3\xa9llo \\n {\\\"x\\\"}\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"11\"}}}"
    "\r\n"
    "\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Model\",\"metadata\":{\"resourceVersion\":"
    "\"15\"}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"16\"}}}\n"
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\","
    "\"message\":\"too old resource version\"}}\n";

struct rec {
    char log[1024];
    size_t n;
    int taken;
    cJSON *kept;
};

static int on_ev(void *ud, struct kube_event *ev)
{
    static const char *const t[] = {"A", "M", "D", "B", "E"};
    struct rec *r = ud;
    const char *rv = kube_obj_rv(ev->object);
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(ev->object, "code");
    r->n += (size_t)snprintf(r->log + r->n, sizeof(r->log) - r->n, "%s:%s:%d;", t[ev->type],
                             rv ? rv : "-", cJSON_IsNumber(code) ? code->valueint : 0);
    if (ev->type == KUBE_EVENT_ADDED && !r->kept) {
        r->kept = ev->object; /* take ownership */
        ev->object = NULL;
    }
    return 0;
}

static const char want[] = "A:10:0;M:11:0;B:15:0;D:16:0;E:-:410;";

static void check_split(size_t a, size_t b)
{
    struct kube_watch_decoder d;
    struct rec r = {0};
    size_t n = sizeof(stream) - 1;
    kube_watch_decoder_init(&d, 0, on_ev, &r);
    assert_int_equal(kube_watch_decoder_feed(&d, stream, a), 0);
    assert_int_equal(kube_watch_decoder_feed(&d, stream + a, b - a), 0);
    assert_int_equal(kube_watch_decoder_feed(&d, stream + b, n - b), 0);
    assert_int_equal(kube_watch_decoder_finish(&d), 0);
    assert_string_equal(r.log, want);
    assert_int_equal(d.events, 5);
    assert_string_equal(kube_obj_str(r.kept, "spec.text"), "h\xc3\xa9llo \n {\"x\"}");
    cJSON_Delete(r.kept);
    kube_watch_decoder_deinit(&d);
}

static void test_every_two_splits(void **state)
{
    size_t n = sizeof(stream) - 1;
    for (size_t a = 0; a <= n; a++)
        for (size_t b = a; b <= n; b += 7) check_split(a, b);
    for (size_t a = 0; a <= n; a++) check_split(a, n);
}

static void test_byte_at_a_time(void **state)
{
    struct kube_watch_decoder d;
    struct rec r = {0};
    kube_watch_decoder_init(&d, 0, on_ev, &r);
    for (size_t i = 0; i < sizeof(stream) - 1; i++)
        assert_int_equal(kube_watch_decoder_feed(&d, stream + i, 1), 0);
    assert_int_equal(kube_watch_decoder_finish(&d), 0);
    assert_string_equal(r.log, want);
    cJSON_Delete(r.kept);
    kube_watch_decoder_deinit(&d);
}

static void test_trailing_line_without_newline(void **state)
{
    struct kube_watch_decoder d;
    struct rec r = {0};
    const char *s = "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"resourceVersion\":\"3\"}}}";
    kube_watch_decoder_init(&d, 0, on_ev, &r);
    assert_int_equal(kube_watch_decoder_feed(&d, s, strlen(s)), 0);
    assert_int_equal(r.n, 0); /* not yet: the line may continue */
    assert_int_equal(kube_watch_decoder_finish(&d), 0);
    assert_string_equal(r.log, "M:3:0;");
    kube_watch_decoder_deinit(&d);
}

static void test_garbage_and_cap(void **state)
{
    struct kube_watch_decoder d;
    struct rec r = {0};
    kube_watch_decoder_init(&d, 0, on_ev, &r);
    assert_int_equal(kube_watch_decoder_feed(&d, "{\"type\":\"ADDED\",\"obj", 20), 0);
    assert_int_equal(kube_watch_decoder_feed(&d, "\n", 1), KUBE_EPARSE);
    kube_watch_decoder_deinit(&d);

    kube_watch_decoder_init(&d, 0, on_ev, &r);
    assert_int_equal(kube_watch_decoder_feed(&d, "{\"type\":\"WHAT\",\"object\":{}}\n", 29),
                     KUBE_EPARSE);
    kube_watch_decoder_deinit(&d);

    kube_watch_decoder_init(&d, 0, on_ev, &r);
    assert_int_equal(kube_watch_decoder_feed(&d, "{\"type\":\"ADDED\",\"object\":5}\n", 29),
                     KUBE_EPARSE);
    kube_watch_decoder_deinit(&d);

    kube_watch_decoder_init(&d, 64, on_ev, &r);
    char big[100];
    memset(big, 'x', sizeof(big));
    assert_int_equal(kube_watch_decoder_feed(&d, big, 40), 0);
    assert_int_equal(kube_watch_decoder_feed(&d, big, 40), KUBE_ETOOBIG);
    kube_watch_decoder_deinit(&d);
}

static int stop_at_second(void *ud, struct kube_event *ev)
{
    int *n = ud;
    return ++*n == 2 ? 42 : 0;
}

static void test_handler_stops(void **state)
{
    struct kube_watch_decoder d;
    int n = 0;
    kube_watch_decoder_init(&d, 0, stop_at_second, &n);
    assert_int_equal(kube_watch_decoder_feed(&d, stream, sizeof(stream) - 1), 42);
    assert_int_equal(n, 2);
    kube_watch_decoder_deinit(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_two_splits),
        cmocka_unit_test(test_byte_at_a_time),
        cmocka_unit_test(test_trailing_line_without_newline),
        cmocka_unit_test(test_garbage_and_cap),
        cmocka_unit_test(test_handler_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
