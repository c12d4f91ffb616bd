/* op_plan: the pure part of the Model controller — reading Model,
 * ModelRevision, ModelReplica and InferenceNode JSON into the decision
 * modules' structs, and building the JSON the controller writes back.
 *
 * Nothing here talks to the API server or reads a clock: the controller
 * (operator/src/reconcile_model.c) passes objects from its informer caches
 * and the time, and these functions return values or new cJSON objects, so
 * all of it is tested with cmocka (operator/tests/test_plan.c).
 *
 * Annotations the kubectl plugin sets on a Model and the controller clears:
 *   kllm.io/promote   skip the current pause of the running rollout
 *   kllm.io/abort     abort the running rollout (roll back)
 *
 * Ownership: JSON arguments are borrowed for the call; functions whose name
 * ends in _new return a cJSON object the caller frees with cJSON_Delete
 * (NULL on allocation failure). Strings written to caller buffers are
 * always NUL-terminated. Threads: reentrant, no state.
 */
#ifndef OP_PLAN_H
#define OP_PLAN_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "op_analysis.h"
#include "op_autoscale.h"
#include "op_rollout.h"
#include "op_schedule.h"

#define OP_ANN_PROMOTE "kllm.io/promote"
#define OP_ANN_ABORT "kllm.io/abort"
#define OP_LABEL_MODEL "kllm.io/model"
#define OP_LABEL_REVISION "kllm.io/revision"
#define OP_LABEL_NODE "kllm.io/node"
#define OP_FINALIZER "kllm.io/replicas"
#define OP_MAX_STEPS 64

/* Integer field at a dotted path ("spec.replicas"); def when absent or not
 * a number. */
int64_t op_json_int(const cJSON *obj, const char *path, int64_t def);
/* String field at a dotted path, or NULL. */
const char *op_json_str(const cJSON *obj, const char *path);
/* The object at a dotted path, or NULL. */
const cJSON *op_json_at(const cJSON *obj, const char *path);

/* RFC 3339 UTC ("2026-11-29T04:05:06Z") for wall time ms (seconds kept). */
void op_time_format(int64_t ms, char *buf, size_t cap);
/* Parses RFC 3339 with an optional fraction and Z or +hh:mm. OP_EINVAL on
 * malformed input; *ms untouched then. */
int op_time_parse(const char *s, int64_t *ms);

/* spec.rollout of a Model into spec (steps written into the caller's array
 * of OP_MAX_STEPS). replicas is the Model's desired count. OP_EINVAL for a
 * malformed step or duration. */
int op_plan_rollout_spec(const cJSON *model, int32_t replicas, struct op_rollout_step *steps,
                         struct op_rollout_spec *spec);

/* Restores the persisted rollout state from a Model's status (phase,
 * currentStep, canaryWeight, stepStartedAt); step_weight is recomputed from
 * the steps. progress_ms and canary_ready_seen restart at 0 (see
 * op_rollout.h: that can only lengthen a deadline). */
void op_plan_rollout_state(const cJSON *model, const struct op_rollout_spec *spec,
                           struct op_rollout_state *st);

/* Model status.phase for a rollout phase; IDLE and COMPLETE give
 * idle_phase (Healthy, Pending or Degraded, the caller decides). */
const char *op_plan_phase_name(enum op_rollout_phase p, const char *idle_phase);

/* true when a ModelRevision (or ModelReplica) spec holds the same source
 * and engine as the Model's spec. */
bool op_plan_same_template(const cJSON *model, const cJSON *obj);

/* The new ModelRevision "<model>-<n>" for the Model's current source and
 * engine, labelled and owned by the Model (ownerReferences controller,
 * blockOwnerDeletion, so the garbage collector removes it with the Model). */
cJSON *op_plan_revision_new(const cJSON *model, int32_t n);

/* A new ModelReplica "<model>-<rev>-<idx>" for revision rev (its spec copied
 * from the ModelRevision), bound to node (NULL: unbound), owned by the
 * Model. */
cJSON *op_plan_replica_new(const cJSON *model, const cJSON *revision, int32_t idx,
                           const char *node);

/* Fills node from an InferenceNode: name (borrowed from the JSON), Ready
 * condition, spec.unschedulable, allocatable cpu and memory; cached sha256
 * pointers go into sha (capacity n_sha). used_* and model_replicas are
 * zeroed: the caller adds the replicas bound to it. OP_EINVAL when the name
 * is missing; a missing or unparsable allocatable counts as 0 (fits
 * nothing). */
int op_plan_node(const cJSON *inode, struct op_node *node, const char **sha, size_t n_sha);

/* cpu (milli) and memory (bytes) that a ModelReplica or Model requests
 * (spec.resources, defaults cpu 1, memory 0). */
void op_plan_requests(const cJSON *obj, int64_t *cpu_milli, int64_t *mem_bytes);

/* Condition list helper: returns a new conditions array equal to old (may
 * be NULL) with the condition `type` set. lastTransitionTime is kept when
 * status did not change, else set to now_ms. reason must be non-empty;
 * message may be NULL (left out). */
cJSON *op_plan_conditions_set_new(const cJSON *old, const char *type, bool status,
                                  const char *reason, const char *message, int64_t now_ms);

/* The condition `type`'s status in a conditions array: 1 True, 0 False,
 * -1 absent/Unknown. */
int op_plan_condition(const cJSON *conditions, const char *type);

/* A JSON merge patch turning `cur` (may be NULL) into `want`: want's
 * members that differ, and null for members of cur that want lacks. NULL
 * when they are equal (nothing to write) or on allocation failure (*err
 * set to 1 then). */
cJSON *op_plan_merge_patch_new(const cJSON *cur, const cJSON *want, int *err);

/* Node liveness from agents' Leases (DESIGN.md §3.8). The controller
 * observes each node's Lease (its resourceVersion; NULL when there is none)
 * with its own monotonic clock, never trusting the agent's renewTime: a
 * node is stale when its Lease has not changed for timeout_ms of our time
 * (counted from when we first looked, for a node without a Lease). */
#define OP_LIVENESS_MAX 1024
struct op_liveness_entry {
    char name[254];
    char rv[64];
    int64_t changed_ms;
    bool used; /* seen in the last op_liveness_sweep round */
};
struct op_liveness {
    struct op_liveness_entry e[OP_LIVENESS_MAX];
    size_t n;
};
void op_liveness_init(struct op_liveness *l);
/* Records node's Lease resourceVersion at now_ms; OP_ERANGE when the table
 * is full. */
int op_liveness_observe(struct op_liveness *l, const char *node, const char *lease_rv,
                        int64_t now_ms);
/* Milliseconds since node's Lease last changed; -1 for an unknown node. */
int64_t op_liveness_age(const struct op_liveness *l, const char *node, int64_t now_ms);
/* Forgets nodes not observed since the last sweep (deleted nodes). */
void op_liveness_sweep(struct op_liveness *l);

/* Sums the samples of one metric in Prometheus text (`name{labels} value`
 * or `name value`); with label_sub non-NULL only samples whose label text
 * contains it (e.g. "model=\"team-a/m\""). *found is the number of samples
 * summed (0: the sum is 0 and means "absent"). Reentrant. */
double op_prom_sum(const char *text, const char *metric, const char *label_sub, int *found);

/* One agent's counters and gauges for one Model, from its /metrics page
 * (DESIGN.md §3.5, docs/agent.md). Samples are those labelled
 * model="NAMESPACE/NAME" (cluster mode); when the page has none, all samples
 * (a standalone agent serving one model). */
#define OP_LAT_BUCKETS 16
struct op_agent_sample {
    double requests;   /* kllm_requests_total, every code */
    double errors;     /* of which code 5xx */
    double anomalies;  /* kllm_anomalies_total */
    double in_flight;  /* kllm_requests_in_flight */
    double queued;     /* kllm_requests_queued */
    double gen_tokens; /* kllm_generated_tokens_total */
    /* kllm_request_duration_seconds buckets: upper bounds in seconds
     * (ascending, +Inf as INFINITY) and cumulative counts */
    int32_t n_lat;
    double lat_le[OP_LAT_BUCKETS];
    double lat_cum[OP_LAT_BUCKETS];
};
/* sum += one (counters, gauges and latency buckets with the same bounds). */
void op_agent_sample_add(struct op_agent_sample *sum, const struct op_agent_sample *one);
void op_agent_sample_parse(const char *text, const char *model_key, struct op_agent_sample *out);
/* The same for one revision: samples labelled
 * model="NAMESPACE/NAME",revision="rev" when the page has them (an agent
 * keeps one series per loaded revision); zero when it has revision series
 * for the model but not rev; else as op_agent_sample_parse (an agent
 * without revision labels, a stand-in). */
void op_agent_sample_parse_rev(const char *text, const char *model_key, int32_t rev,
                               struct op_agent_sample *out);

/* The snapshot of one interval from two scrapes of the same revision's
 * replicas (summed): counter deltas, a counter that went down (agent
 * restart) counts from 0; p95_ms from the latency buckets' deltas
 * (interpolated within the bucket), 0 (unknown) without requests. */
void op_snapshot_delta(const struct op_agent_sample *prev, const struct op_agent_sample *cur,
                       struct op_metrics_snapshot *out);

/* spec.rollout.analysis into an op_analysis_spec (CRD defaults for absent
 * fields). */
void op_plan_analysis_spec(const cJSON *model, struct op_analysis_spec *spec);

enum op_scale_metric {
    OP_METRIC_CONCURRENCY = 0, /* in-flight + queued requests */
    OP_METRIC_QUEUE_DEPTH = 1, /* queued requests */
    OP_METRIC_TOKENS_PER_SECOND = 2,
};
/* spec.autoscaling into spec and the metric. OP_EINVAL when the Model has
 * no autoscaling or it fails op_autoscale_spec_check. */
int op_plan_autoscale_spec(const cJSON *model, struct op_autoscale_spec *spec,
                           enum op_scale_metric *metric);

/* Golden prompts (spec.rollout.analysis.goldenPrompts): the request body
 * sent to an agent's POST /v1/completions with `X-Kllm-Revision: canary`
 * (greedy, so the answer is reproducible), as a new heap string the caller
 * frees; NULL on allocation failure. */
char *op_golden_request_new(const char *model_key, const char *prompt, int32_t max_tokens);
/* 1 when the completion's choices[0].text contains expect, 0 when it does
 * not, OP_EINVAL when body is not a completion response. */
int op_golden_check(const char *body, const char *expect);

#endif
