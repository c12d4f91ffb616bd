/* Tests for text: stop strings cut across pieces, hold-back of possible stop
 * prefixes and unfinished UTF-8, sanitizing, runaway repetition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "text.h"

static void test_stop_across_pieces(void **state)
{
    const char *stops[] = {"END", "\n\n"};
    struct text_out t;
    text_out_init(&t, stops, 2);
    assert_int_equal(text_out_append(&t, "hello E", 7), 0);
    /* "E" may start "END": held back */
    assert_int_equal(text_out_ready(&t, false), 6);
    assert_int_equal(text_out_append(&t, "N", 1), 0);
    assert_int_equal(text_out_ready(&t, false), 6);
    assert_int_equal(text_out_append(&t, "Dxyz", 4), 1);
    assert_true(t.stopped);
    assert_string_equal(abuf_str(&t.text), "hello ");
    assert_int_equal(text_out_ready(&t, false), 6);
    assert_int_equal(text_out_append(&t, "more", 4), 1); /* ignored after a stop */
    assert_string_equal(abuf_str(&t.text), "hello ");
    text_out_deinit(&t);
}

static void test_stop_false_start(void **state)
{
    const char *stops[] = {"abc"};
    struct text_out t;
    text_out_init(&t, stops, 1);
    assert_int_equal(text_out_append(&t, "xab", 3), 0);
    assert_int_equal(text_out_ready(&t, false), 1);
    assert_int_equal(text_out_append(&t, "d", 1), 0);
    assert_int_equal(text_out_ready(&t, false), 4); /* "abd" cannot become "abc" */
    assert_int_equal(text_out_append(&t, "ab", 2), 0);
    assert_int_equal(text_out_ready(&t, true), 6); /* final: everything */
    text_out_deinit(&t);
}

static void test_earliest_stop_wins(void **state)
{
    const char *stops[] = {"cd", "b"};
    struct text_out t;
    text_out_init(&t, stops, 2);
    assert_int_equal(text_out_append(&t, "abcd", 4), 1);
    assert_string_equal(abuf_str(&t.text), "a");
    text_out_deinit(&t);
}

static void test_utf8_holdback(void **state)
{
    struct text_out t;
    text_out_init(&t, NULL, 0);
    /* "é" is C3 A9, "€" is E2 82 AC */
    assert_int_equal(text_out_append(&t, "a\xC3", 2), 0);
    assert_int_equal(text_out_ready(&t, false), 1);
    assert_int_equal(text_out_append(&t, "\xA9\xE2\x82", 3), 0);
    assert_int_equal(text_out_ready(&t, false), 3);
    assert_int_equal(text_out_append(&t, "\xAC", 1), 0);
    assert_int_equal(text_out_ready(&t, false), 6);
    text_out_deinit(&t);
    /* an invalid byte is not held back forever */
    assert_int_equal(text_utf8_complete("a\xFF", 2), 2);
    assert_int_equal(text_utf8_complete("\xF0\x9F\x98", 3), 0);
    assert_int_equal(text_utf8_complete("\xF0\x9F\x98\x80", 4), 4);
}

static void test_sanitize(void **state)
{
    struct abuf b;
    abuf_init(&b, 0);
    assert_int_equal(text_utf8_sanitize(&b, "ok \xC3\xA9", 5), 0);
    assert_string_equal(abuf_str(&b), "ok \xC3\xA9");
    abuf_reset(&b);
    /* lone continuation, overlong, surrogate, NUL, truncated */
    const char bad[] = "a\x80"
                       "b\xC0\xAF"
                       "c\xED\xA0\x80"
                       "d\0e\xE2\x82";
    assert_int_equal(text_utf8_sanitize(&b, bad, sizeof bad - 1), 0);
    const char *want = "a\xEF\xBF\xBD"
                       "b\xEF\xBF\xBD\xEF\xBF\xBD"
                       "c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                       "d\xEF\xBF\xBD"
                       "e\xEF\xBF\xBD\xEF\xBF\xBD";
    assert_string_equal(abuf_str(&b), want);
    abuf_deinit(&b);
}

static void test_runaway(void **state)
{
    int32_t loop[60], mixed[60];
    for (int i = 0; i < 60; i++) {
        loop[i] = i < 10 ? 100 + i : 7 + (i % 3);
        mixed[i] = (i * 7919) % 101;
    }
    assert_true(text_is_runaway(loop, 60, 48, 8));
    assert_false(text_is_runaway(mixed, 60, 48, 8));
    assert_false(text_is_runaway(loop, 20, 48, 8)); /* too short to judge */
    int32_t same[50];
    for (int i = 0; i < 50; i++) same[i] = 3;
    assert_true(text_is_runaway(same, 50, 48, 8));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_across_pieces), cmocka_unit_test(test_stop_false_start),
        cmocka_unit_test(test_earliest_stop_wins), cmocka_unit_test(test_utf8_holdback),
        cmocka_unit_test(test_sanitize),           cmocka_unit_test(test_runaway),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
