/* Tests of the scheduler: fit, cache preference, spread, least allocated,
 * and the reason when nothing fits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "op_core.h"
#include "op_schedule.h"

#define GI (1024LL * 1024 * 1024)

static const char *sha_a = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
static const char *sha_b = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

static struct op_node node(const char *name, int64_t cpu_milli, int64_t mem)
{
    struct op_node n;
    memset(&n, 0, sizeof(n));
    n.name = name;
    n.ready = true;
    n.alloc_cpu_milli = cpu_milli;
    n.alloc_mem_bytes = mem;
    return n;
}

static size_t pick(const struct op_node *nodes, size_t n, const struct op_sched_request *req)
{
    size_t chosen = 999;
    char reason[128] = "x";
    assert_int_equal(op_schedule(nodes, n, req, &chosen, reason, sizeof(reason)), OP_OK);
    assert_string_equal(reason, "");
    return chosen;
}

static void test_fit_subtracts_bound_requests(void **state)
{
    struct op_node nodes[2];
    struct op_sched_request req = {2000, 3 * GI, NULL, NULL};
    (void)state;

    nodes[0] = node("a", 8000, 16 * GI);
    nodes[0].used_cpu_milli = 7000; /* 1 cpu left */
    nodes[1] = node("b", 4000, 8 * GI);
    nodes[1].used_mem_bytes = 6 * GI; /* 2 Gi left */
    nodes[1].used_cpu_milli = 0;
    {
        size_t chosen = 0;
        char reason[128];
        assert_int_equal(op_schedule(nodes, 2, &req, &chosen, reason, sizeof(reason)), OP_ENOFIT);
        assert_string_equal(reason,
                            "0/2 nodes are available: 1 insufficient cpu, 1 insufficient memory.");
    }
    nodes[1].used_mem_bytes = 5 * GI; /* exactly 3 Gi left: fits */
    assert_int_equal(pick(nodes, 2, &req), 1);
}

static void test_cache_preferred(void **state)
{
    const char *cache_b[] = {sha_b, sha_a};
    struct op_node nodes[3];
    struct op_sched_request req = {1000, 1 * GI, sha_a, NULL};
    (void)state;

    nodes[0] = node("a", 16000, 64 * GI); /* emptiest, cold */
    nodes[1] = node("b", 4000, 8 * GI);   /* fuller, has the model */
    nodes[1].cached_sha256 = cache_b;
    nodes[1].n_cached = 2;
    nodes[1].used_cpu_milli = 2000;
    nodes[2] = node("c", 16000, 64 * GI);
    assert_int_equal(pick(nodes, 3, &req), 1);
    /* Another model's file does not count. */
    req.sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
    assert_int_equal(pick(nodes, 3, &req), 0);
    /* A file:// source has no sha256: no preference. */
    req.sha256 = NULL;
    assert_int_equal(pick(nodes, 3, &req), 0);
}

static void test_spread_then_least_allocated(void **state)
{
    struct op_node nodes[3];
    struct op_sched_request req = {1000, 1 * GI, sha_a, NULL};
    size_t i, c, counts[3] = {0, 0, 0};
    (void)state;

    nodes[0] = node("a", 8000, 16 * GI);
    nodes[1] = node("b", 8000, 16 * GI);
    nodes[2] = node("c", 8000, 16 * GI);
    nodes[2].used_cpu_milli = 4000; /* c is busier with other models */
    /* Six replicas of one model: two per node, emptier nodes first. */
    for (i = 0; i < 6; i++) {
        c = pick(nodes, 3, &req);
        if (i == 0) assert_int_equal(c, 0); /* a and b tie: name decides */
        if (i == 1) assert_int_equal(c, 1);
        if (i == 2) assert_int_equal(c, 2); /* spread beats least allocated */
        op_schedule_bind(&nodes[c], &req);
        counts[c]++;
    }
    assert_int_equal(counts[0], 2);
    assert_int_equal(counts[1], 2);
    assert_int_equal(counts[2], 2);
    assert_int_equal(nodes[2].used_cpu_milli, 6000);
    assert_int_equal(nodes[2].model_replicas, 2);
}

static void test_nothing_fits_reasons(void **state)
{
    struct op_node nodes[4];
    struct op_sched_request req = {1000, 1 * GI, NULL, NULL};
    size_t chosen = 77;
    char reason[128];
    char tiny[8];
    (void)state;

    nodes[0] = node("a", 8000, 16 * GI);
    nodes[0].ready = false;
    nodes[1] = node("b", 8000, 16 * GI);
    nodes[1].ready = false;
    nodes[2] = node("c", 8000, 16 * GI);
    nodes[2].unschedulable = true;
    nodes[3] = node("d", 500, 16 * GI);
    assert_int_equal(op_schedule(nodes, 4, &req, &chosen, reason, sizeof(reason)), OP_ENOFIT);
    assert_int_equal(chosen, 77);
    assert_string_equal(
        reason, "0/4 nodes are available: 2 not ready, 1 unschedulable, 1 insufficient cpu.");
    assert_int_equal(op_schedule(nodes, 4, &req, &chosen, tiny, sizeof(tiny)), OP_ENOFIT);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1); /* truncated, terminated */
    assert_int_equal(op_schedule(nodes, 4, &req, &chosen, NULL, 0), OP_ENOFIT);
    assert_int_equal(op_schedule(NULL, 0, &req, &chosen, reason, sizeof(reason)), OP_ENOFIT);
    assert_string_equal(reason, "0/0 nodes are available: no InferenceNodes.");
    /* Becoming ready makes it fit. */
    nodes[1].ready = true;
    assert_int_equal(pick(nodes, 4, &req), 1);
}

/* Replacing a replica that failed on a node: anywhere else first, even a
 * cold or fuller node; the failed node only when nothing else fits. */
static void test_avoid_node_of_failed_replica(void **state)
{
    const char *cache_a[] = {sha_a};
    struct op_node nodes[3];
    struct op_sched_request req = {1000, 1 * GI, sha_a, "a"};
    (void)state;

    nodes[0] = node("a", 16000, 64 * GI); /* emptiest and has the model */
    nodes[0].cached_sha256 = cache_a;
    nodes[0].n_cached = 1;
    nodes[1] = node("b", 8000, 16 * GI);
    nodes[1].used_cpu_milli = 6000;
    nodes[1].model_replicas = 1;
    nodes[2] = node("c", 8000, 16 * GI);
    nodes[2].used_cpu_milli = 7500; /* 0.5 cpu left: does not fit */
    assert_int_equal(pick(nodes, 3, &req), 1);
    req.avoid = NULL;
    assert_int_equal(pick(nodes, 3, &req), 0);
    /* Only the avoided node fits: it is used. */
    req.avoid = "a";
    nodes[1].used_cpu_milli = 7500;
    assert_int_equal(pick(nodes, 3, &req), 0);
    /* A name that matches no node changes nothing. */
    req.avoid = "zz";
    assert_int_equal(pick(nodes, 3, &req), 0);
}

static void test_invalid(void **state)
{
    struct op_node n = node("a", 1000, GI);
    struct op_sched_request req = {-1, 0, NULL, NULL};
    size_t chosen;
    (void)state;

    assert_int_equal(op_schedule(&n, 1, &req, &chosen, NULL, 0), OP_EINVAL);
    req.cpu_milli = 1;
    assert_int_equal(op_schedule(NULL, 1, &req, &chosen, NULL, 0), OP_EINVAL);
    assert_int_equal(op_schedule(&n, 1, NULL, &chosen, NULL, 0), OP_EINVAL);
    assert_int_equal(op_schedule(&n, 1, &req, NULL, NULL, 0), OP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_subtracts_bound_requests),
        cmocka_unit_test(test_cache_preferred),
        cmocka_unit_test(test_spread_then_least_allocated),
        cmocka_unit_test(test_nothing_fits_reasons),
        cmocka_unit_test(test_avoid_node_of_failed_replica),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
