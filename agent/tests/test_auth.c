/* Tests for auth: key file loading and the bearer check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"

static void write_file(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(s, f);
    fclose(f);
}

static void test_load(void **state)
{
    char path[] = "/tmp/kllm-auth-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char key[AUTH_KEY_MAX + 1], err[256];
    write_file(path, "  sk-abc \n");
    assert_int_equal(auth_load_key(path, key, sizeof key, err, sizeof err), 0);
    assert_string_equal(key, "sk-abc");
    write_file(path, "\n");
    assert_int_equal(auth_load_key(path, key, sizeof key, err, sizeof err), -1);
    char big[AUTH_KEY_MAX + 10];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    write_file(path, big);
    assert_int_equal(auth_load_key(path, key, sizeof key, err, sizeof err), -1);
    unlink(path);
    assert_int_equal(auth_load_key(path, key, sizeof key, err, sizeof err), -1);
}

static void test_check(void **state)
{
    assert_true(auth_check("Bearer sk-abc", "sk-abc"));
    assert_true(auth_check("bearer sk-abc", "sk-abc"));
    assert_false(auth_check(NULL, "sk-abc"));
    assert_false(auth_check("sk-abc", "sk-abc"));
    assert_false(auth_check("Bearer sk-abd", "sk-abc"));
    assert_false(auth_check("Bearer sk-ab", "sk-abc"));
    assert_false(auth_check("Bearer sk-abcd", "sk-abc"));
    assert_false(auth_check("Bearer sk-abcsk-abc", "sk-abc")); /* cyclic compare must not pass */
    assert_false(auth_check("Bearer ", "sk-abc"));
    assert_false(auth_check("Basic sk-abc", "sk-abc"));
    assert_false(auth_check("Bearer x", ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
