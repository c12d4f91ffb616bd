/* Tests for route (the cluster router's choices): NAMESPACE/NAME and plain
 * NAME resolution with ambiguity, revision choice by canary weight and by
 * X-Kllm-Revision pins, replica order (local first, then least loaded);
 * and the quantity parsers the node reporter uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cluster.h"
#include "route.h"

static struct route_model mk_model(const char *ns, const char *name, int32_t st, int32_t ca,
                                   int32_t w)
{
    struct route_model m;
    memset(&m, 0, sizeof m);
    snprintf(m.ns, sizeof m.ns, "%s", ns);
    snprintf(m.name, sizeof m.name, "%s", name);
    m.stable_rev = st;
    m.canary_rev = ca;
    m.canary_weight = w;
    return m;
}

static struct route_replica mk_rep(const char *ns, const char *model, int32_t rev, bool local,
                                   int64_t load, const char *ep)
{
    struct route_replica r;
    memset(&r, 0, sizeof r);
    snprintf(r.ns, sizeof r.ns, "%s", ns);
    snprintf(r.model, sizeof r.model, "%s", model);
    snprintf(r.endpoint, sizeof r.endpoint, "%s", ep);
    r.revision = rev;
    r.local = local;
    r.slot = local ? 3 : -1;
    r.load = load;
    return r;
}

static void test_resolve(void **state)
{
    struct route_model ms[4] = {
        mk_model("team-a", "tiny", 1, 0, 0), mk_model("team-b", "tiny", 1, 0, 0),
        mk_model("team-a", "big", 1, 0, 0), mk_model("team-ab", "x", 1, 0, 0)};
    char err[256];
    assert_int_equal(route_resolve(ms, 4, "team-a/tiny", err, sizeof err), 0);
    assert_int_equal(route_resolve(ms, 4, "team-b/tiny", err, sizeof err), 1);
    assert_int_equal(route_resolve(ms, 4, "big", err, sizeof err), 2);
    assert_int_equal(route_resolve(ms, 4, "tiny", err, sizeof err), ROUTE_ERR_AMBIGUOUS);
    assert_non_null(strstr(err, "team-a/tiny"));
    assert_non_null(strstr(err, "team-b/tiny"));
    assert_int_equal(route_resolve(ms, 4, "team-c/tiny", err, sizeof err), ROUTE_ERR_NOTFOUND);
    assert_int_equal(route_resolve(ms, 4, "nope", err, sizeof err), ROUTE_ERR_NOTFOUND);
    assert_non_null(strstr(err, "nope"));
    /* the namespace must match whole, not as a prefix */
    assert_int_equal(route_resolve(ms, 4, "team-a/x", err, sizeof err), ROUTE_ERR_NOTFOUND);
    assert_int_equal(route_resolve(ms, 4, "team-a/", err, sizeof err), ROUTE_ERR_NOTFOUND);
    assert_int_equal(route_resolve(ms, 0, "tiny", err, sizeof err), ROUTE_ERR_NOTFOUND);
}

static void test_ambiguity_message_is_bounded(void **state)
{
    struct route_model ms[40];
    char ns[32], err[64];
    for (int i = 0; i < 40; i++) {
        snprintf(ns, sizeof ns, "namespace-%d", i);
        ms[i] = mk_model(ns, "m", 1, 0, 0);
    }
    assert_int_equal(route_resolve(ms, 40, "m", err, sizeof err), ROUTE_ERR_AMBIGUOUS);
    assert_true(strlen(err) < sizeof err);
}

static void test_pick_revision(void **state)
{
    struct route_model m = mk_model("a", "m", 3, 4, 10);
    /* weight 10: u below 0.10 goes to the canary */
    assert_int_equal(route_pick_revision(&m, NULL, 0.0), 4);
    assert_int_equal(route_pick_revision(&m, NULL, 0.0999), 4);
    assert_int_equal(route_pick_revision(&m, NULL, 0.10), 3);
    assert_int_equal(route_pick_revision(&m, "", 0.99), 3);
    int canary = 0;
    for (int i = 0; i < 1000; i++) canary += route_pick_revision(&m, NULL, i / 1000.0) == 4;
    assert_int_equal(canary, 100);
    /* pins */
    assert_int_equal(route_pick_revision(&m, "stable", 0.0), 3);
    assert_int_equal(route_pick_revision(&m, "canary", 0.99), 4);
    assert_int_equal(route_pick_revision(&m, "7", 0.5), 7);
    assert_int_equal(route_pick_revision(&m, "x", 0.5), ROUTE_ERR_BADPIN);
    assert_int_equal(route_pick_revision(&m, "0", 0.5), ROUTE_ERR_BADPIN);
    assert_int_equal(route_pick_revision(&m, "-1", 0.5), ROUTE_ERR_BADPIN);
    assert_int_equal(route_pick_revision(&m, "3x", 0.5), ROUTE_ERR_BADPIN);
    /* weight 0 or 100 */
    m.canary_weight = 0;
    assert_int_equal(route_pick_revision(&m, NULL, 0.0), 3);
    m.canary_weight = 100;
    assert_int_equal(route_pick_revision(&m, NULL, 0.9999), 4);
    /* no canary: canary pin falls back to stable */
    struct route_model s = mk_model("a", "m", 2, 0, 50);
    assert_int_equal(route_pick_revision(&s, NULL, 0.0), 2);
    assert_int_equal(route_pick_revision(&s, "canary", 0.0), 2);
    /* no status yet (no operator): any revision */
    struct route_model n = mk_model("a", "m", 0, 0, 0);
    assert_int_equal(route_pick_revision(&n, NULL, 0.3), 0);
}

static void test_order(void **state)
{
    struct route_model m = mk_model("a", "m", 1, 0, 0);
    struct route_replica rs[6] = {
        mk_rep("a", "m", 1, false, 5, "p1:1"), mk_rep("a", "m", 1, false, 1, "p2:1"),
        mk_rep("a", "m", 2, true, 0, "me:1"),  mk_rep("a", "m", 1, true, 9, "me:1"),
        mk_rep("b", "m", 1, true, 0, "me:1"),  mk_rep("a", "n", 1, false, 0, "p3:1"),
    };
    int idx[8];
    /* revision 1 of a/m: local (even busy) first, then the remote by load */
    assert_int_equal(route_order(rs, 6, &m, 1, false, idx, 8), 3);
    assert_int_equal(idx[0], 3);
    assert_int_equal(idx[1], 1);
    assert_int_equal(idx[2], 0);
    /* any revision */
    assert_int_equal(route_order(rs, 6, &m, 0, false, idx, 8), 4);
    assert_int_equal(idx[0], 2);
    assert_int_equal(idx[1], 3);
    assert_int_equal(idx[2], 1);
    assert_int_equal(idx[3], 0);
    /* equal load keeps table order; cap respected */
    rs[0].load = 1;
    assert_int_equal(route_order(rs, 6, &m, 1, false, idx, 2), 2);
    assert_int_equal(idx[0], 3);
    assert_int_equal(idx[1], 0);
    /* nothing for revision 9 */
    assert_int_equal(route_order(rs, 6, &m, 9, false, idx, 8), 0);
    /* fallback: revision 2 first, then revision 1 in its own order */
    assert_int_equal(route_order(rs, 6, &m, 2, true, idx, 8), 4);
    assert_int_equal(idx[0], 2);
    assert_int_equal(idx[1], 3);
    assert_int_equal(idx[2], 0);
    assert_int_equal(idx[3], 1);
    /* a revision with no replica left (mid-rollout): the others serve */
    assert_int_equal(route_order(rs, 6, &m, 9, true, idx, 8), 4);
    assert_int_equal(idx[0], 2);
    assert_int_equal(idx[1], 3);
    /* the chosen revision fills the cap before any fallback */
    assert_int_equal(route_order(rs, 6, &m, 1, true, idx, 3), 3);
    assert_int_equal(idx[0], 3);
    assert_int_equal(idx[2], 1);
    assert_int_equal(route_order(rs, 6, &m, 2, true, idx, 1), 1);
    assert_int_equal(idx[0], 2);
    /* fallback with "any revision" adds nothing */
    assert_int_equal(route_order(rs, 6, &m, 0, true, idx, 8), 4);
}

static void test_quantities(void **state)
{
    int64_t v = 0;
    assert_int_equal(cluster_parse_cpu("2", &v), 0);
    assert_int_equal(v, 2000);
    assert_int_equal(cluster_parse_cpu("500m", &v), 0);
    assert_int_equal(v, 500);
    assert_int_equal(cluster_parse_cpu("1.5", &v), 0);
    assert_int_equal(v, 1500);
    assert_int_equal(cluster_parse_cpu("2x", &v), -1);
    assert_int_equal(cluster_parse_cpu("-1", &v), -1);
    assert_int_equal(cluster_parse_cpu("", &v), -1);
    assert_int_equal(cluster_parse_bytes("3Gi", &v), 0);
    assert_int_equal(v, 3LL << 30);
    assert_int_equal(cluster_parse_bytes("512M", &v), 0);
    assert_int_equal(v, 512000000);
    assert_int_equal(cluster_parse_bytes("1000", &v), 0);
    assert_int_equal(v, 1000);
    assert_int_equal(cluster_parse_bytes("1Gb", &v), -1);
    assert_int_equal(cluster_parse_bytes("nan", &v), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve),       cmocka_unit_test(test_ambiguity_message_is_bounded),
        cmocka_unit_test(test_pick_revision), cmocka_unit_test(test_order),
        cmocka_unit_test(test_quantities),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
