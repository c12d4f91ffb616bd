/* Tests for kubeconfig and in-cluster config loading (fixtures in
 * kube/tests/data; run from the repo root). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "kube/base.h"
#include "kube/config.h"

#define D "kube/tests/data/"

static void test_files_and_namespace(void **state)
{
    struct kube_config c;
    char err[256] = "";
    assert_int_equal(kube_config_load_file(&c, D "kubeconfig-files.yaml", NULL, err, sizeof(err)),
                     0);
    assert_string_equal(c.server, "https://127.0.0.1:6443"); /* trailing slash dropped */
    assert_string_equal(c.ca_file, D "test.crt");            /* relative to the file */
    assert_string_equal(c.cert_file, D "test.crt");
    assert_string_equal(c.key_file, "/abs/path/test.key");
    assert_string_equal(c.namespace_, "team-a");
    assert_null(c.token);
    assert_int_equal(c.insecure_skip_tls_verify, 0);
    kube_config_deinit(&c);
}

static void test_named_context_token(void **state)
{
    struct kube_config c;
    assert_int_equal(kube_config_load_file(&c, D "kubeconfig-files.yaml", "prod", NULL, 0), 0);
    assert_string_equal(c.server, "https://other.example:443");
    assert_string_equal(c.token, "abc.def.ghi");
    assert_string_equal(c.namespace_, "default");
    assert_null(c.ca_file);
    kube_config_deinit(&c);
}

static void test_inline_data(void **state)
{
    struct kube_config c;
    char *crt = NULL;
    size_t n = 0;
    assert_int_equal(kube_config_load_file(&c, D "kubeconfig-inline.yaml", NULL, NULL, 0), 0);
    assert_int_equal(kube_read_file(D "test.crt", 1 << 20, &crt, &n), 0);
    assert_int_equal(c.ca_len, n);
    assert_memory_equal(c.ca_data, crt, n);
    assert_int_equal(c.cert_len, n);
    assert_non_null(c.key_data);
    assert_non_null(strstr((const char *)c.key_data, "PRIVATE KEY"));
    free(crt);
    kube_config_deinit(&c);
}

static void test_insecure_token_file(void **state)
{
    struct kube_config c;
    assert_int_equal(kube_config_load_file(&c, D "kubeconfig-insecure.yaml", NULL, NULL, 0), 0);
    assert_int_equal(c.insecure_skip_tls_verify, 1);
    assert_string_equal(c.token_file, D "token.txt");
    kube_config_deinit(&c);
}

static void test_errors(void **state)
{
    struct kube_config c;
    char err[256] = "";
    assert_int_equal(
        kube_config_load_file(&c, D "kubeconfig-bad-context.yaml", NULL, err, sizeof(err)),
        KUBE_ECONFIG);
    assert_non_null(strstr(err, "missing"));
    assert_int_equal(kube_config_load_file(&c, D "kubeconfig-broken.yaml", NULL, err, sizeof(err)),
                     KUBE_EPARSE);
    assert_int_equal(kube_config_load_file(&c, D "nope.yaml", NULL, err, sizeof(err)),
                     KUBE_ENOTFOUND);
    assert_int_equal(kube_config_load_file(&c, D "kubeconfig-files.yaml", "nope", NULL, 0),
                     KUBE_ECONFIG);
    assert_null(c.server); /* nothing left allocated */
}

static void test_incluster(void **state)
{
    struct kube_config c;
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    assert_int_equal(kube_config_load_incluster(&c, D "sa", NULL, 0), 0);
    assert_string_equal(c.server, "https://10.0.0.1:443");
    assert_string_equal(c.token_file, D "sa/token");
    assert_string_equal(c.ca_file, D "sa/ca.crt");
    assert_string_equal(c.namespace_, "kllm-system");
    kube_config_deinit(&c);
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    assert_int_equal(kube_config_load_incluster(&c, D "sa", NULL, 0), 0);
    assert_string_equal(c.server, "https://[fd00::1]:443");
    kube_config_deinit(&c);
    unsetenv("KUBERNETES_SERVICE_HOST");
    assert_int_equal(kube_config_load_incluster(&c, D "sa", NULL, 0), KUBE_ECONFIG);
}

static void test_base64(void **state)
{
    unsigned char *out = NULL;
    size_t n = 0;
    assert_int_equal(kube_base64_decode("aGVs\nbG8=", &out, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "hello", 5);
    free(out);
    assert_int_equal(kube_base64_decode("a*b", &out, &n), KUBE_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files_and_namespace),
        cmocka_unit_test(test_named_context_token),
        cmocka_unit_test(test_inline_data),
        cmocka_unit_test(test_insecure_token_file),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_incluster),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
