/* Tests for the informer store (indexes, selectors), REST path building
 * and backoff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/informer.h"

static cJSON *mk(const char *ns, const char *name, const char *rv, const char *labels_json)
{
    char buf[512];
    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"namespace\":\"%s\",\"name\":\"%s\",\"resourceVersion\":\"%s\","
             "\"labels\":%s}}",
             ns, name, rv, labels_json);
    cJSON *o = cJSON_Parse(buf);
    assert_non_null(o);
    return o;
}

static int count(struct kube_store *s, const char *ns, const char *sel)
{
    cJSON *a = NULL;
    int rc = kube_store_list(s, ns, sel, &a);
    if (rc) return rc;
    int n = cJSON_GetArraySize(a);
    cJSON_Delete(a);
    return n;
}

static void test_store_indexes(void **state)
{
    struct kube_store *s = NULL;
    cJSON *old = NULL, *got = NULL;
    assert_int_equal(kube_store_new(&s), 0);
    assert_int_equal(
        kube_store_upsert(s, mk("a", "x", "1", "{\"app\":\"m\",\"tier\":\"gpu\"}"), &old), 0);
    assert_null(old);
    kube_store_upsert(s, mk("a", "y", "2", "{\"app\":\"m\"}"), NULL);
    kube_store_upsert(s, mk("b", "x", "3", "{\"app\":\"n\"}"), NULL);
    assert_int_equal(kube_store_len(s), 3);
    assert_int_equal(count(s, NULL, NULL), 3);
    assert_int_equal(count(s, "a", NULL), 2);
    assert_int_equal(count(s, NULL, "app=m"), 2);
    assert_int_equal(count(s, "b", "app=m"), 0);
    assert_int_equal(count(s, NULL, "app==m,tier=gpu"), 1);
    assert_int_equal(count(s, NULL, "app!=m"), 1);
    assert_int_equal(count(s, NULL, "tier"), 1);
    assert_int_equal(count(s, NULL, "!tier"), 2);
    assert_int_equal(count(s, NULL, "=x"), KUBE_EINVAL);
    /* An update moves the object between label index entries. */
    assert_int_equal(kube_store_upsert(s, mk("a", "x", "4", "{\"app\":\"n\"}"), &old), 0);
    assert_string_equal(kube_obj_rv(old), "1");
    cJSON_Delete(old);
    assert_int_equal(count(s, NULL, "app=m"), 1);
    assert_int_equal(count(s, NULL, "app=n"), 2);
    assert_int_equal(count(s, NULL, "tier=gpu"), 0);
    assert_int_equal(kube_store_get(s, "a/x", &got), 0);
    assert_string_equal(kube_obj_rv(got), "4");
    cJSON_Delete(got);
    assert_int_equal(kube_store_delete(s, "a/x", &old), 0);
    assert_string_equal(kube_obj_name(old), "x");
    cJSON_Delete(old);
    assert_int_equal(kube_store_delete(s, "a/x", NULL), KUBE_ENOTFOUND);
    assert_int_equal(kube_store_get(s, "a/x", &got), KUBE_ENOTFOUND);
    assert_int_equal(count(s, NULL, "app=n"), 1);
    assert_int_equal(count(s, "a", NULL), 1);
    kube_store_free(s);
}

static void test_paths(void **state)
{
    char buf[256];
    const struct kube_resource models = {"kllm.io", "v1alpha1", "models", 1};
    const struct kube_resource nodes = {"", "v1", "nodes", 0};
    assert_int_equal(kube_resource_path(&models, "t", "m", "status", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/apis/kllm.io/v1alpha1/namespaces/t/models/m/status");
    assert_int_equal(kube_resource_path(&models, NULL, NULL, NULL, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/apis/kllm.io/v1alpha1/models");
    assert_int_equal(kube_resource_path(&nodes, "ignored", "n1", NULL, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/api/v1/nodes/n1");
    assert_int_equal(kube_resource_path(&models, "t", "m", NULL, buf, 10), KUBE_ETOOBIG);
    assert_int_equal(kube_query_escape("a=b,c!=d e", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "a%3Db%2Cc%21%3Dd%20e");
    assert_int_equal(kube_query_escape("abcdef", buf, 4), KUBE_ETOOBIG);
}

static void test_backoff(void **state)
{
    struct kube_backoff b;
    kube_backoff_init(&b, 100, 1000, 2.0, 0.0, 1);
    assert_int_equal(kube_backoff_next(&b), 100);
    assert_int_equal(kube_backoff_next(&b), 200);
    assert_int_equal(kube_backoff_next(&b), 400);
    assert_int_equal(kube_backoff_next(&b), 800);
    assert_int_equal(kube_backoff_next(&b), 1000);
    assert_int_equal(kube_backoff_next(&b), 1000);
    kube_backoff_reset(&b);
    assert_int_equal(kube_backoff_next(&b), 100);
    /* Jitter stays within [d, d * (1 + jitter)] and actually varies. */
    kube_backoff_init(&b, 1000000, 1000000, 2.0, 0.5, 7);
    int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < 1000; i++) {
        int64_t d = kube_backoff_next(&b);
        assert_true(d >= 1000000 && d <= 1500000);
        if (d < lo) lo = d;
        if (d > hi) hi = d;
    }
    assert_true(hi - lo > 400000);
}

static void test_strerror(void **state)
{
    assert_string_equal(kube_strerror(KUBE_ECONFLICT), "conflict");
    assert_string_equal(kube_strerror(-999), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_indexes),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
