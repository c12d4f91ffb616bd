/* Tests for klog: text and JSON lines, level filtering, escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "klog.h"

static void capture(enum klog_level lvl, enum klog_format fmt, const char *const *kv, char *out,
                    size_t cap)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    klog_setup(KLOG_INFO, fmt, p[1]);
    klog_kv(lvl, "test", "hello world", kv);
    close(p[1]);
    ssize_t n = read(p[0], out, cap - 1);
    close(p[0]);
    out[n < 0 ? 0 : n] = '\0';
    klog_setup(KLOG_INFO, KLOG_FORMAT_TEXT, 2);
}

static void test_text_line(void **state)
{
    char buf[1024];
    const char *kv[] = {"model", "tiny", "reason", "bad \"sha\"", NULL};
    capture(KLOG_WARN, KLOG_FORMAT_TEXT, kv, buf, sizeof buf);
    assert_non_null(strstr(buf, " warn test: hello world model=tiny reason=\"bad \\\"sha\\\"\"\n"));
}

static void test_json_line(void **state)
{
    char buf[1024];
    const char *kv[] = {"k", "a\nb", NULL};
    capture(KLOG_ERROR, KLOG_FORMAT_JSON, kv, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"level\":\"error\",\"component\":\"test\",\"msg\":\"hello "
                                "world\",\"k\":\"a\\u000ab\"}\n"));
}

static void test_filtered(void **state)
{
    char buf[256];
    capture(KLOG_DEBUG, KLOG_FORMAT_TEXT, NULL, buf, sizeof buf);
    assert_string_equal(buf, "");
}

static void test_parse(void **state)
{
    enum klog_level l;
    enum klog_format f;
    assert_int_equal(klog_parse_level("warn", &l), 0);
    assert_int_equal(l, KLOG_WARN);
    assert_int_equal(klog_parse_level("loud", &l), -1);
    assert_int_equal(klog_parse_format("json", &f), 0);
    assert_int_equal(f, KLOG_FORMAT_JSON);
    assert_int_equal(klog_parse_format("xml", &f), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_line),
        cmocka_unit_test(test_json_line),
        cmocka_unit_test(test_filtered),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
