/* Tests for fetch: model URI parsing and SHA-256 of files (the download
 * itself is exercised by integration.sh against a local HTTP server). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fetch.h"

#define ABC_SHA "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void test_parse(void **state)
{
    char url[256], sha[FETCH_SHA256_HEX + 1], err[256];
    assert_true(fetch_is_remote("https://h/m.gguf"));
    assert_true(fetch_is_remote("http://h/m.gguf"));
    assert_false(fetch_is_remote("file:///m.gguf"));
    assert_false(fetch_is_remote("/m.gguf"));
    assert_int_equal(
        fetch_parse_uri("https://h/m.gguf#sha256=BA7816BF8F01CFEA414140DE5DAE2223B00361"
                        "A396177A9CB410FF61F20015AD",
                        url, sizeof url, sha, err, sizeof err),
        0);
    assert_string_equal(url, "https://h/m.gguf");
    assert_string_equal(sha, ABC_SHA);
    assert_int_equal(fetch_parse_uri("https://h/m.gguf", url, sizeof url, sha, err, sizeof err),
                     -1);
    assert_int_equal(
        fetch_parse_uri("https://h/m.gguf#sha256=abc", url, sizeof url, sha, err, sizeof err), -1);
    assert_int_equal(
        fetch_parse_uri("https://h/m.gguf#md5=" ABC_SHA, url, sizeof url, sha, err, sizeof err),
        -1);
    assert_int_equal(fetch_parse_uri("https://h/m.gguf#sha256=" ABC_SHA "0", url, sizeof url, sha,
                                     err, sizeof err),
                     -1);
    assert_int_equal(
        fetch_parse_uri("https://h/m.gguf#sha256=" ABC_SHA, url, 8, sha, err, sizeof err),
        -1); /* url does not fit */
}

static void test_sha256(void **state)
{
    char path[] = "/tmp/kllm-fetch-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc", 3), 3);
    close(fd);
    char sha[FETCH_SHA256_HEX + 1], err[256];
    assert_int_equal(fetch_file_sha256(path, sha, err, sizeof err), 0);
    assert_string_equal(sha, ABC_SHA);
    unlink(path);
    assert_int_equal(fetch_file_sha256(path, sha, err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_sha256),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
