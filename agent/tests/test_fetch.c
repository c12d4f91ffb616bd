/* Tests for fetch: model URI parsing and SHA-256 of files (the download
 * itself is exercised by integration.sh against a local HTTP server). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
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

static void mkfile(const char *dir, const char *name, size_t size, time_t mtime, char *path,
                   size_t cap)
{
    snprintf(path, cap, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < size; i++) fputc('x', f);
    fclose(f);
    struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void test_evict_lru(void **state)
{
    char dir[] = "/tmp/kllm-cache-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[256], b[256], c[256], other[256];
    mkfile(dir, "sha256-a.gguf", 100, 1000, a, sizeof a);
    mkfile(dir, "sha256-b.gguf", 100, 2000, b, sizeof b);
    mkfile(dir, "sha256-c.gguf.part", 100, 3000, c, sizeof c);
    mkfile(dir, "notes.txt", 1000, 10, other, sizeof other); /* not ours: never counted */
    assert_int_equal(fetch_cache_bytes(dir), 300);
    /* under the limit: nothing happens */
    assert_int_equal(fetch_evict(dir, 300, NULL, 0), 0);
    /* the oldest goes first */
    assert_int_equal(fetch_evict(dir, 250, NULL, 0), 1);
    assert_int_not_equal(access(a, F_OK), 0);
    assert_int_equal(access(b, F_OK), 0);
    /* a file in use is never evicted, even when it is the oldest */
    const char *keep[] = {b};
    assert_int_equal(fetch_evict(dir, 50, keep, 1), 1);
    assert_int_equal(access(b, F_OK), 0);
    assert_int_not_equal(access(c, F_OK), 0);
    assert_int_equal(access(other, F_OK), 0);
    unlink(b);
    unlink(other);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_evict_lru),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
