/* Tests of op_plan: Model/revision/replica/node JSON into decision structs
 * and back, conditions, merge patches, node liveness, /metrics sums. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>

#include "op_core.h"
#include "op_plan.h"

#define SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static const char model_json[] =
    "{\"metadata\":{\"name\":\"tiny\",\"namespace\":\"team-a\",\"uid\":\"u-1\",\"generation\":3},"
    "\"spec\":{\"source\":{\"uri\":\"https://m.example.org/t.gguf\",\"sha256\":\"" SHA "\"},"
    "\"engine\":{\"contextSize\":4096},\"resources\":{\"cpu\":\"2\",\"memory\":\"3Gi\"},"
    "\"replicas\":4,\"rollout\":{\"steps\":[{\"setWeight\":10},{\"pause\":{\"duration\":\"1m30s\"}}"
    ","
    "{\"setWeight\":50},{\"pause\":{}}],\"progressDeadlineSeconds\":120}},"
    "\"status\":{\"phase\":\"Paused\",\"currentStep\":3,\"canaryWeight\":50,"
    "\"stepStartedAt\":\"2026-11-29T04:05:06Z\"}}";

static cJSON *parse(const char *s)
{
    cJSON *j = cJSON_Parse(s);
    assert_non_null(j);
    return j;
}

static void test_json_paths(void **state)
{
    cJSON *m = parse(model_json);
    (void)state;

    assert_string_equal(op_json_str(m, "metadata.name"), "tiny");
    assert_int_equal(op_json_int(m, "spec.replicas", -1), 4);
    assert_int_equal(op_json_int(m, "spec.nope", -1), -1);
    assert_int_equal(op_json_int(m, "metadata.name", -2), -2); /* not a number */
    assert_null(op_json_str(m, "spec.replicas"));
    assert_null(op_json_at(m, "spec..replicas"));
    assert_null(op_json_at(m, "spec.replicas.deeper"));
    assert_non_null(op_json_at(m, "spec.rollout.steps"));
    cJSON_Delete(m);
}

static void test_time(void **state)
{
    char buf[40];
    int64_t ms = 0;
    (void)state;

    op_time_format(1764389106000LL, buf, sizeof(buf));
    assert_string_equal(buf, "2025-11-29T04:05:06Z");
    assert_int_equal(op_time_parse("2025-11-29T04:05:06Z", &ms), OP_OK);
    assert_int_equal(ms, 1764389106000LL);
    assert_int_equal(op_time_parse("2025-11-29T04:05:06.250000Z", &ms), OP_OK);
    assert_int_equal(ms, 1764389106250LL);
    assert_int_equal(op_time_parse("2025-11-29T06:05:06+02:00", &ms), OP_OK);
    assert_int_equal(ms, 1764389106000LL);
    ms = 7;
    assert_int_equal(op_time_parse("2025-11-29 04:05:06Z", &ms), OP_EINVAL);
    assert_int_equal(op_time_parse("2025-13-29T04:05:06Z", &ms), OP_EINVAL);
    assert_int_equal(op_time_parse("2025-11-29T04:05:06", &ms), OP_EINVAL);
    assert_int_equal(op_time_parse("2025-11-29T04:05:06Zjunk", &ms), OP_EINVAL);
    assert_int_equal(op_time_parse(NULL, &ms), OP_EINVAL);
    assert_int_equal(ms, 7);
}

static void test_rollout_spec_and_state(void **state)
{
    cJSON *m = parse(model_json);
    struct op_rollout_step steps[OP_MAX_STEPS];
    struct op_rollout_spec spec;
    struct op_rollout_state st;
    (void)state;

    assert_int_equal(op_plan_rollout_spec(m, 4, steps, &spec), OP_OK);
    assert_int_equal(spec.n_steps, 4);
    assert_int_equal(spec.replicas, 4);
    assert_int_equal(spec.progress_deadline_ms, 120000);
    assert_int_equal(steps[0].kind, OP_STEP_SET_WEIGHT);
    assert_int_equal(steps[0].weight, 10);
    assert_int_equal(steps[1].kind, OP_STEP_PAUSE);
    assert_int_equal(steps[1].pause_ms, 90000);
    assert_int_equal(steps[3].pause_ms, -1);
    assert_int_equal(op_rollout_spec_check(&spec), OP_OK);

    op_plan_rollout_state(m, &spec, &st);
    assert_int_equal(st.phase, OP_ROLLOUT_PAUSED);
    assert_int_equal(st.step, 3);
    assert_int_equal(st.weight, 50);
    assert_int_equal(st.step_weight, 50); /* the setWeight before step 3 */
    assert_int_equal(st.step_started_ms, 1764389106000LL + 365LL * 86400000LL);
    assert_int_equal(st.progress_ms, 0);

    /* A restored state continues: promote skips the pause and completes
     * once the whole canary is Ready. */
    {
        struct op_rollout_observed obs = {4, 4, false, false, true, false};
        struct op_rollout_decision d;
        assert_int_equal(op_rollout_eval(&spec, &st, &obs, st.step_started_ms + 1, &d), OP_OK);
        assert_true(d.promote_consumed);
        assert_int_equal(st.phase, OP_ROLLOUT_COMPLETE);
    }

    /* Out-of-range status is clamped, not trusted. */
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(m, "status"), "currentStep",
                              cJSON_CreateNumber(99));
    op_plan_rollout_state(m, &spec, &st);
    assert_int_equal(st.step, 4);

    /* Bad steps. */
    cJSON_Delete(m);
    m = parse("{\"spec\":{\"rollout\":{\"steps\":[{\"pause\":{\"duration\":\"soon\"}}]}}}");
    assert_int_equal(op_plan_rollout_spec(m, 1, steps, &spec), OP_EINVAL);
    cJSON_Delete(m);
    m = parse("{\"spec\":{\"rollout\":{\"steps\":[{}]}}}");
    assert_int_equal(op_plan_rollout_spec(m, 1, steps, &spec), OP_EINVAL);
    cJSON_Delete(m);
    m = parse("{\"spec\":{}}");
    assert_int_equal(op_plan_rollout_spec(m, 2, steps, &spec), OP_OK);
    assert_int_equal(spec.n_steps, 0);
    assert_null(spec.steps);
    assert_int_equal(spec.progress_deadline_ms, 600000);
    cJSON_Delete(m);
}

static void test_phase_names(void **state)
{
    (void)state;
    assert_string_equal(op_plan_phase_name(OP_ROLLOUT_PROGRESSING, "Healthy"), "Progressing");
    assert_string_equal(op_plan_phase_name(OP_ROLLOUT_PAUSED, "Healthy"), "Paused");
    assert_string_equal(op_plan_phase_name(OP_ROLLOUT_ABORTED, "Healthy"), "RolledBack");
    assert_string_equal(op_plan_phase_name(OP_ROLLOUT_IDLE, "Pending"), "Pending");
    assert_string_equal(op_plan_phase_name(OP_ROLLOUT_COMPLETE, "Healthy"), "Healthy");
}

static void test_revision_and_replica(void **state)
{
    cJSON *m = parse(model_json);
    cJSON *rev = op_plan_revision_new(m, 3), *rep;
    (void)state;

    assert_non_null(rev);
    assert_string_equal(op_json_str(rev, "metadata.name"), "tiny-3");
    assert_string_equal(op_json_str(rev, "metadata.namespace"), "team-a");
    assert_string_equal(op_json_str(rev, "kind"), "ModelRevision");
    assert_int_equal(op_json_int(rev, "spec.revision", 0), 3);
    assert_string_equal(op_json_str(rev, "spec.model"), "tiny");
    assert_int_equal(op_json_int(rev, "spec.engine.contextSize", 0), 4096);
    assert_int_equal(op_json_int(rev, "spec.engine.parallel", 0), 4); /* default filled */
    {
        const cJSON *own = cJSON_GetArrayItem(op_json_at(rev, "metadata.ownerReferences"), 0);
        assert_string_equal(op_json_str(own, "uid"), "u-1");
        assert_true(cJSON_IsTrue(op_json_at(own, "controller")));
        assert_string_equal(
            cJSON_GetObjectItem(op_json_at(rev, "metadata.labels"), "kllm.io/revision")
                ->valuestring,
            "3");
    }
    assert_true(op_plan_same_template(m, rev));

    rep = op_plan_replica_new(m, rev, 1, "node-a");
    assert_non_null(rep);
    assert_string_equal(op_json_str(rep, "metadata.name"), "tiny-3-1");
    assert_string_equal(op_json_str(rep, "spec.nodeName"), "node-a");
    assert_string_equal(op_json_str(rep, "spec.resources.memory"), "3Gi");
    assert_string_equal(
        cJSON_GetObjectItem(op_json_at(rep, "metadata.labels"), "kllm.io/node")->valuestring,
        "node-a");
    assert_string_equal(op_json_str(rep, "spec.source.sha256"), SHA);
    cJSON_Delete(rep);
    rep = op_plan_replica_new(m, rev, 0, NULL);
    assert_null(op_json_at(rep, "spec.nodeName"));
    assert_null(cJSON_GetObjectItem(op_json_at(rep, "metadata.labels"), "kllm.io/node"));
    cJSON_Delete(rep);

    /* A change of engine or source is a new template; defaults are not. */
    cJSON_AddNumberToObject(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "spec"), "engine"),
                            "parallel", 4);
    assert_true(op_plan_same_template(m, rev));
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "spec"), "engine"),
                              "parallel", cJSON_CreateNumber(8));
    assert_false(op_plan_same_template(m, rev));
    cJSON_Delete(rev);
    cJSON_Delete(m);

    m = parse("{\"metadata\":{\"name\":\"x\",\"uid\":\"u\"},\"spec\":{\"source\":{\"uri\":\"file://"
              "/a\"}}}");
    rev = op_plan_revision_new(m, 1);
    assert_null(op_json_at(rev, "spec.source.sha256")); /* never an empty string */
    assert_true(op_plan_same_template(m, rev));
    assert_null(op_plan_revision_new(m, 0));
    cJSON_Delete(rev);
    cJSON_Delete(m);
    m = parse("{\"metadata\":{\"name\":\"x\"},\"spec\":{}}"); /* no uid: no owner */
    assert_null(op_plan_revision_new(m, 1));
    cJSON_Delete(m);
}

static void test_node(void **state)
{
    cJSON *n = parse("{\"metadata\":{\"name\":\"node-a\"},\"spec\":{\"unschedulable\":true},"
                     "\"status\":{\"allocatable\":{\"cpu\":\"7500m\",\"memory\":17179869184},"
                     "\"cachedModels\":[{\"sha256\":\"" SHA "\"},{\"sha256\":\"" SHA "\"}],"
                     "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}");
    struct op_node node;
    const char *sha[1];
    int64_t cpu, mem;
    cJSON *rep;
    (void)state;

    assert_int_equal(op_plan_node(n, &node, sha, 1), OP_OK);
    assert_string_equal(node.name, "node-a");
    assert_true(node.ready);
    assert_true(node.unschedulable);
    assert_int_equal(node.alloc_cpu_milli, 7500);
    assert_int_equal(node.alloc_mem_bytes, 17179869184LL);
    assert_int_equal(node.n_cached, 1); /* capped at the caller's array */
    assert_string_equal(node.cached_sha256[0], SHA);
    cJSON_Delete(n);

    n = parse("{\"metadata\":{\"name\":\"b\"},\"status\":{\"allocatable\":{\"cpu\":\"-1\"},"
              "\"conditions\":[{\"type\":\"Ready\",\"status\":\"Unknown\"}]}}");
    assert_int_equal(op_plan_node(n, &node, sha, 1), OP_OK);
    assert_false(node.ready);
    assert_int_equal(node.alloc_cpu_milli, 0); /* nonsense fits nothing */
    assert_int_equal(node.alloc_mem_bytes, 0);
    cJSON_Delete(n);
    n = parse("{\"status\":{}}");
    assert_int_equal(op_plan_node(n, &node, sha, 1), OP_EINVAL);
    cJSON_Delete(n);

    rep = parse("{\"spec\":{\"resources\":{\"cpu\":\"500m\",\"memory\":\"1Gi\"}}}");
    op_plan_requests(rep, &cpu, &mem);
    assert_int_equal(cpu, 500);
    assert_int_equal(mem, 1073741824LL);
    cJSON_Delete(rep);
    rep = parse("{\"spec\":{}}");
    op_plan_requests(rep, &cpu, &mem);
    assert_int_equal(cpu, 1000);
    assert_int_equal(mem, 0);
    cJSON_Delete(rep);
}

static void test_conditions(void **state)
{
    cJSON *c1, *c2, *c3;
    const cJSON *x;
    (void)state;

    c1 = op_plan_conditions_set_new(NULL, "Available", true, "ReplicasReady", "2 of 2", 1000);
    assert_int_equal(cJSON_GetArraySize(c1), 1);
    assert_int_equal(op_plan_condition(c1, "Available"), 1);
    assert_int_equal(op_plan_condition(c1, "Degraded"), -1);
    x = cJSON_GetArrayItem(c1, 0);
    assert_string_equal(op_json_str(x, "lastTransitionTime"), "1970-01-01T00:00:01Z");

    /* Same status later: the transition time stays, reason/message move. */
    c2 = op_plan_conditions_set_new(c1, "Available", true, "ReplicasReady", "1 of 2", 99000);
    x = cJSON_GetArrayItem(c2, 0);
    assert_string_equal(op_json_str(x, "lastTransitionTime"), "1970-01-01T00:00:01Z");
    assert_string_equal(op_json_str(x, "message"), "1 of 2");
    /* A flip moves it; other conditions are kept; NULL message left out. */
    c3 = op_plan_conditions_set_new(c2, "Degraded", false, "AsExpected", NULL, 5000);
    cJSON_Delete(c2);
    c2 = op_plan_conditions_set_new(c3, "Available", false, "NoReplicaReady", "", 99000);
    assert_int_equal(cJSON_GetArraySize(c2), 2);
    assert_int_equal(op_plan_condition(c2, "Available"), 0);
    assert_int_equal(op_plan_condition(c2, "Degraded"), 0);
    x = cJSON_GetArrayItem(c2, 0);
    assert_string_equal(op_json_str(x, "lastTransitionTime"), "1970-01-01T00:01:39Z");
    assert_null(op_json_at(x, "message"));
    assert_null(op_json_at(cJSON_GetArrayItem(c3, 1), "message"));
    cJSON_Delete(c1);
    cJSON_Delete(c2);
    cJSON_Delete(c3);
}

static void test_merge_patch(void **state)
{
    cJSON *cur = parse("{\"phase\":\"Paused\",\"canaryRevision\":2,\"ready\":\"1/2\"}");
    cJSON *want = parse("{\"phase\":\"Healthy\",\"ready\":\"1/2\",\"stableRevision\":2}");
    cJSON *p;
    char *s;
    int err = 5;
    (void)state;

    p = op_plan_merge_patch_new(cur, want, &err);
    assert_int_equal(err, 0);
    s = cJSON_PrintUnformatted(p);
    assert_string_equal(s, "{\"phase\":\"Healthy\",\"stableRevision\":2,\"canaryRevision\":null}");
    free(s);
    cJSON_Delete(p);
    assert_null(op_plan_merge_patch_new(want, want, &err)); /* equal: nothing to write */
    assert_int_equal(err, 0);
    p = op_plan_merge_patch_new(NULL, want, &err);
    assert_int_equal(cJSON_GetArraySize(p), 3);
    cJSON_Delete(p);
    cJSON_Delete(cur);
    cJSON_Delete(want);
}

static void test_liveness(void **state)
{
    struct op_liveness *l = malloc(sizeof(*l));
    (void)state;

    assert_non_null(l);
    op_liveness_init(l);
    assert_int_equal(op_liveness_age(l, "a", 0), -1);
    assert_int_equal(op_liveness_observe(l, "a", "10", 1000), OP_OK);
    assert_int_equal(op_liveness_observe(l, "b", NULL, 1000), OP_OK); /* no Lease yet */
    assert_int_equal(op_liveness_age(l, "a", 41000), 40000);
    /* The agent renews: the resourceVersion changes, the age restarts. */
    assert_int_equal(op_liveness_observe(l, "a", "11", 30000), OP_OK);
    assert_int_equal(op_liveness_age(l, "a", 41000), 11000);
    /* Same resourceVersion: no renewal, whatever the agent's clock says. */
    assert_int_equal(op_liveness_observe(l, "a", "11", 60000), OP_OK);
    assert_int_equal(op_liveness_age(l, "a", 71000), 41000);
    assert_int_equal(op_liveness_age(l, "b", 71000), 70000);
    /* A node not seen in a round is forgotten at the sweep after. */
    op_liveness_sweep(l);
    assert_int_equal(op_liveness_observe(l, "a", "11", 72000), OP_OK);
    op_liveness_sweep(l);
    assert_int_equal(op_liveness_age(l, "b", 73000), -1);
    assert_int_equal(op_liveness_age(l, "a", 73000), 43000);
    assert_int_equal(op_liveness_observe(NULL, "a", "1", 0), OP_EINVAL);
    free(l);
}

static void test_prom_sum(void **state)
{
    const char *text = "# HELP kllm_requests_in_flight x\n"
                       "# TYPE kllm_requests_in_flight gauge\n"
                       "kllm_requests_in_flight{model=\"team-a/tiny\"} 3\n"
                       "kllm_requests_in_flight{model=\"team-a/other\"} 5\n"
                       "kllm_requests_in_flight_extra{model=\"team-a/tiny\"} 100\n"
                       "kllm_requests_total{model=\"team-a/tiny\",code=\"200\"} 10\n"
                       "kllm_requests_total{model=\"team-a/tiny\",code=\"500\"} 2\n"
                       "kllm_unrouted_requests_total 7\n"
                       "kllm_requests_queued{model=\"team-a/tiny\"} NaN";
    int n = -1;
    (void)state;

    assert_true(op_prom_sum(text, "kllm_requests_in_flight", NULL, &n) == 8.0);
    assert_int_equal(n, 2);
    assert_true(op_prom_sum(text, "kllm_requests_in_flight", "model=\"team-a/tiny\"", &n) == 3.0);
    assert_int_equal(n, 1);
    assert_true(op_prom_sum(text, "kllm_requests_total", "code=\"500\"", &n) == 2.0);
    assert_true(op_prom_sum(text, "kllm_unrouted_requests_total", NULL, &n) == 7.0);
    assert_int_equal(n, 1);
    assert_true(op_prom_sum(text, "kllm_requests_queued", NULL, &n) == 0.0); /* NaN skipped */
    assert_int_equal(n, 0);
    assert_true(op_prom_sum(text, "kllm_absent", NULL, &n) == 0.0);
    assert_int_equal(n, 0);
    assert_true(op_prom_sum("", "x", NULL, NULL) == 0.0);
}

static void test_agent_sample(void **state)
{
    const char *page = "kllm_requests_total{model=\"team-a/tiny\",code=\"200\"} 90\n"
                       "kllm_requests_total{model=\"team-a/tiny\",code=\"503\"} 6\n"
                       "kllm_requests_total{model=\"team-a/tiny\",code=\"429\"} 4\n"
                       "kllm_requests_total{model=\"team-b/tiny\",code=\"500\"} 1000\n"
                       "kllm_anomalies_total{model=\"team-a/tiny\",kind=\"repetition\"} 2\n"
                       "kllm_requests_in_flight{model=\"team-a/tiny\"} 3\n"
                       "kllm_requests_queued{model=\"team-a/tiny\"} 1\n"
                       "kllm_generated_tokens_total{model=\"team-a/tiny\"} 5000\n";
    struct op_agent_sample a, b;
    struct op_metrics_snapshot snap;
    (void)state;

    op_agent_sample_parse(page, "team-a/tiny", &a);
    assert_true(a.requests == 100.0);
    assert_true(a.errors == 6.0); /* 5xx only: a 429 is the queue, not the model */
    assert_true(a.anomalies == 2.0);
    assert_true(a.in_flight == 3.0);
    assert_true(a.queued == 1.0);
    assert_true(a.gen_tokens == 5000.0);
    /* A standalone agent (no NAMESPACE/NAME label): every sample counts. */
    op_agent_sample_parse("kllm_requests_in_flight{model=\"m\"} 4\n", "team-a/tiny", &b);
    assert_true(b.in_flight == 4.0);
    op_agent_sample_parse(NULL, "x", &b);
    assert_true(b.requests == 0.0);

    b = a;
    b.requests = 150;
    b.errors = 16;
    b.anomalies = 2;
    op_snapshot_delta(&a, &b, &snap);
    assert_true(snap.valid);
    assert_true(snap.requests == 50.0);
    assert_true(snap.errors == 10.0);
    assert_true(snap.anomalies == 0.0);
    assert_true(snap.p95_ms == 0.0);
    /* The agent restarted: counters count from zero again. */
    b.requests = 20;
    b.errors = 1;
    op_snapshot_delta(&a, &b, &snap);
    assert_true(snap.requests == 20.0);
    assert_true(snap.errors == 1.0);
    op_snapshot_delta(NULL, &b, &snap);
    assert_false(snap.valid);
}

/* One agent holding a stable and a canary replica of the same Model: each
 * revision gets its own series, the Model total is both. */
static void test_agent_sample_per_revision(void **state)
{
    const char *page = "kllm_requests_total{model=\"team-a/tiny\",revision=\"1\",code=\"200\"} 90\n"
                       "kllm_requests_total{model=\"team-a/tiny\",revision=\"1\",code=\"500\"} 1\n"
                       "kllm_requests_total{model=\"team-a/tiny\",revision=\"12\",code=\"500\"} 7\n"
                       "kllm_requests_total{model=\"team-a/tiny\",revision=\"2\",code=\"200\"} 10\n"
                       "kllm_requests_total{model=\"team-a/tiny\",revision=\"2\",code=\"503\"} 5\n"
                       "kllm_requests_in_flight{model=\"team-a/tiny\",revision=\"1\"} 3\n"
                       "kllm_requests_in_flight{model=\"team-a/tiny\",revision=\"2\"} 1\n"
                       "kllm_requests_in_flight{model=\"team-b/tiny\",revision=\"2\"} 50\n";
    struct op_agent_sample s;
    (void)state;

    op_agent_sample_parse_rev(page, "team-a/tiny", 2, &s);
    assert_true(s.requests == 15.0 && s.errors == 5.0 && s.in_flight == 1.0);
    op_agent_sample_parse_rev(page, "team-a/tiny", 1, &s);
    assert_true(s.requests == 91.0 && s.errors == 1.0 && s.in_flight == 3.0);
    /* revision="1" is not a prefix match of revision="12" and back. */
    op_agent_sample_parse_rev(page, "team-a/tiny", 12, &s);
    assert_true(s.requests == 7.0 && s.errors == 7.0 && s.in_flight == 0.0);
    /* Revision series, none for 3: nothing of revision 3 on this agent. */
    op_agent_sample_parse_rev(page, "team-a/tiny", 3, &s);
    assert_true(s.requests == 0.0 && s.in_flight == 0.0);
    /* Revision 0, or the plain parse: the Model's total on this agent. */
    op_agent_sample_parse_rev(page, "team-a/tiny", 0, &s);
    assert_true(s.requests == 113.0 && s.in_flight == 4.0);
    /* A page without revision labels (a stand-in): the Model's samples. */
    op_agent_sample_parse_rev("kllm_requests_in_flight{model=\"team-a/tiny\"} 6\n", "team-a/tiny",
                              2, &s);
    assert_true(s.in_flight == 6.0);
    op_agent_sample_parse_rev(NULL, "team-a/tiny", 2, &s);
    assert_true(s.requests == 0.0);
}

/* p95 from the agents' kllm_request_duration_seconds buckets: deltas between
 * two scrapes, summed over replicas, interpolated inside the bucket. */
static void test_latency_p95(void **state)
{
    const char *before =
        "kllm_request_duration_seconds_bucket{model=\"team-a/tiny\",le=\"0.5\"} 10\n"
        "kllm_request_duration_seconds_bucket{model=\"team-a/tiny\",le=\"1\"} 10\n"
        "kllm_request_duration_seconds_bucket{model=\"team-a/tiny\",le=\"+Inf\"} 10\n"
        "kllm_request_duration_seconds_bucket{model=\"team-b/tiny\",le=\"0.5\"} 99\n";
    /* 100 more requests: 80 under 0.5 s, 20 between 0.5 and 1 s. */
    const char *after =
        "kllm_request_duration_seconds_bucket{model=\"team-a/tiny\",le=\"0.5\"} 90\n"
        "kllm_request_duration_seconds_bucket{model=\"team-a/tiny\",le=\"1\"} 110\n"
        "kllm_request_duration_seconds_bucket{model=\"team-a/tiny\",le=\"+Inf\"} 110\n";
    struct op_agent_sample a, b, sum;
    struct op_metrics_snapshot snap;
    (void)state;

    op_agent_sample_parse(before, "team-a/tiny", &a);
    assert_int_equal(a.n_lat, 3);
    assert_true(a.lat_le[0] == 0.5 && isinf(a.lat_le[2]) && a.lat_cum[0] == 10.0);
    op_agent_sample_parse(after, "team-a/tiny", &b);
    op_snapshot_delta(&a, &b, &snap);
    /* target 95 of 100: 80 by 0.5 s, the rest spread to 1 s: 0.5 + 0.5 * 15/20 */
    assert_true(fabs(snap.p95_ms - 875.0) < 1e-6);
    /* Two replicas with the same buckets sum; no new requests: unknown. */
    memset(&sum, 0, sizeof sum);
    op_agent_sample_add(&sum, &b);
    op_agent_sample_add(&sum, &b);
    assert_true(sum.lat_cum[1] == 220.0);
    op_snapshot_delta(&b, &b, &snap);
    assert_true(snap.p95_ms == 0.0);
    /* Everything past the last finite bound: that bound is the estimate. */
    op_agent_sample_parse("kllm_request_duration_seconds_bucket{le=\"1\"} 0\n"
                          "kllm_request_duration_seconds_bucket{le=\"+Inf\"} 5\n",
                          NULL, &b);
    memset(&a, 0, sizeof a);
    op_snapshot_delta(&a, &b, &snap);
    assert_true(snap.p95_ms == 1000.0);
}

static void test_analysis_and_autoscale_specs(void **state)
{
    cJSON *m = parse("{\"spec\":{\"rollout\":{\"analysis\":{\"failureLimit\":3,"
                     "\"maxErrorRate\":0.1}},\"autoscaling\":{\"minReplicas\":2,"
                     "\"maxReplicas\":5,\"metric\":\"tokensPerSecond\",\"target\":50,"
                     "\"scaleDownDelaySeconds\":60}}}");
    struct op_analysis_spec as;
    struct op_autoscale_spec sc;
    enum op_scale_metric metric;
    (void)state;

    op_plan_analysis_spec(m, &as);
    assert_int_equal(as.failure_limit, 3);
    assert_true(as.max_error_rate == 0.1);
    assert_true(as.max_p95_ratio == 1.5); /* CRD default */
    assert_int_equal(op_plan_autoscale_spec(m, &sc, &metric), OP_OK);
    assert_int_equal(metric, OP_METRIC_TOKENS_PER_SECOND);
    assert_int_equal(sc.min_replicas, 2);
    assert_int_equal(sc.max_replicas, 5);
    assert_true(sc.target == 50.0);
    assert_int_equal(sc.scale_down_delay_ms, 60000);
    assert_int_equal(sc.stable_window_ms, 60000);
    cJSON_Delete(m);

    m = parse("{\"spec\":{\"autoscaling\":{\"minReplicas\":5,\"maxReplicas\":3}}}");
    assert_int_equal(op_plan_autoscale_spec(m, &sc, &metric), OP_EINVAL);
    cJSON_Delete(m);
    m = parse("{\"spec\":{}}");
    assert_int_equal(op_plan_autoscale_spec(m, &sc, &metric), OP_EINVAL);
    op_plan_analysis_spec(m, &as);
    assert_int_equal(as.failure_limit, 2);
    cJSON_Delete(m);
}

static void test_golden(void **state)
{
    char *req = op_golden_request_new("team-a/tiny", "2+2=", 4);
    cJSON *j;
    (void)state;

    assert_non_null(req);
    j = parse(req);
    assert_string_equal(op_json_str(j, "model"), "team-a/tiny");
    assert_string_equal(op_json_str(j, "prompt"), "2+2=");
    assert_int_equal(op_json_int(j, "max_tokens", 0), 4);
    assert_int_equal(op_json_int(j, "temperature", -1), 0);
    cJSON_Delete(j);
    free(req);
    req = op_golden_request_new("m", "p", 0);
    j = parse(req);
    assert_int_equal(op_json_int(j, "max_tokens", 0), 16);
    cJSON_Delete(j);
    free(req);
    assert_null(op_golden_request_new(NULL, "p", 1));

    assert_int_equal(op_golden_check("{\"choices\":[{\"text\":\" 4, and\"}]}", "4"), 1);
    assert_int_equal(op_golden_check("{\"choices\":[{\"text\":\" 5\"}]}", "4"), 0);
    assert_int_equal(op_golden_check("{\"choices\":[]}", "4"), OP_EINVAL);
    assert_int_equal(op_golden_check("{\"error\":{\"message\":\"x\"}}", "4"), OP_EINVAL);
    assert_int_equal(op_golden_check("not json", "4"), OP_EINVAL);
    assert_int_equal(op_golden_check(NULL, "4"), OP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_paths),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_rollout_spec_and_state),
        cmocka_unit_test(test_phase_names),
        cmocka_unit_test(test_revision_and_replica),
        cmocka_unit_test(test_node),
        cmocka_unit_test(test_conditions),
        cmocka_unit_test(test_merge_patch),
        cmocka_unit_test(test_liveness),
        cmocka_unit_test(test_prom_sum),
        cmocka_unit_test(test_agent_sample),
        cmocka_unit_test(test_agent_sample_per_revision),
        cmocka_unit_test(test_latency_p95),
        cmocka_unit_test(test_analysis_and_autoscale_specs),
        cmocka_unit_test(test_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
