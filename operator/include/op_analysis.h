/* op_analysis: the canary analysis of one rollout (DESIGN.md §3.7,
 * docs/rollout.md).
 *
 * Every spec.rollout.analysis.intervalSeconds the controller scrapes the
 * agents' /metrics, turns the counters of each revision into a snapshot of
 * that interval (deltas, not totals), runs the golden prompts against the
 * canary, and calls op_analysis_run. One run is one check: it passes, fails
 * (any of: error rate, anomaly rate, p95 latency ratio, golden prompt) or is
 * inconclusive (too little traffic to judge: neither a pass nor a failure).
 * When failed runs reach failureLimit, or at once when a canary replica is
 * Failed, the verdict is abort and the rollout state machine rolls back.
 *
 * Ownership: all structs are caller-owned values; message is written into
 * the result. Threads: one state, one thread at a time.
 */
#ifndef OP_ANALYSIS_H
#define OP_ANALYSIS_H

#include <stdbool.h>
#include <stdint.h>

/* One revision's traffic over the last interval, summed over its Ready
 * replicas. valid is false when nothing could be scraped. */
struct op_metrics_snapshot {
    bool valid;
    double requests;  /* completed requests */
    double errors;    /* of which failed (5xx, engine errors) */
    double anomalies; /* kllm_anomalies_total delta (NaN logits, runaway output, ...) */
    double p95_ms;    /* p95 request latency; <= 0 when unknown */
};

enum op_golden_result {
    OP_GOLDEN_NOT_RUN = 0, /* no golden prompts, or none ran this interval */
    OP_GOLDEN_PASS = 1,
    OP_GOLDEN_FAIL = 2,
};

struct op_analysis_spec {
    double max_error_rate; /* 0..1, also the anomaly-rate limit */
    double max_p95_ratio;  /* >= 1: canary p95 / stable p95 */
    int32_t failure_limit; /* >= 1 failed runs abort */
    double min_requests;   /* canary requests below this: rates inconclusive */
};

struct op_analysis_input {
    struct op_metrics_snapshot canary;
    struct op_metrics_snapshot stable;
    enum op_golden_result golden;
    bool canary_replica_failed;
};

/* Persisted between runs (Model status.analysis.failedChecks). */
struct op_analysis_state {
    int32_t failed_runs;
};

enum op_verdict {
    OP_VERDICT_PASS = 0,
    OP_VERDICT_FAIL = 1,         /* this run failed; below failureLimit so far */
    OP_VERDICT_INCONCLUSIVE = 2, /* not enough data; counts neither way */
    OP_VERDICT_ABORT = 3,        /* roll back now */
};

/* Bits of op_analysis_result.failed. */
enum op_check {
    OP_CHECK_ERROR_RATE = 1u << 0,
    OP_CHECK_ANOMALY_RATE = 1u << 1,
    OP_CHECK_P95_RATIO = 1u << 2,
    OP_CHECK_GOLDEN = 1u << 3,
    OP_CHECK_REPLICA_FAILED = 1u << 4,
};

struct op_analysis_result {
    enum op_verdict verdict;
    uint32_t failed;     /* op_check bits that failed this run */
    double error_rate;   /* canary, or -1 when not computed */
    double anomaly_rate; /* canary, or -1 */
    double p95_ratio;    /* canary / stable, or -1 */
    char message[256];   /* one line for the Model condition and Event */
};

/* Fills spec with the CRD defaults (0.02, 1.5, 2, 1 request). */
void op_analysis_spec_default(struct op_analysis_spec *spec);

/* Judges one interval, updates st->failed_runs and fills *out. OP_EINVAL when
 * an argument is NULL or spec is out of range (failure_limit < 1, rates
 * outside their ranges); st and *out are then untouched. */
int op_analysis_run(const struct op_analysis_spec *spec, struct op_analysis_state *st,
                    const struct op_analysis_input *in, struct op_analysis_result *out);

/* Static name: "Pass", "Fail", "Inconclusive", "Abort". */
const char *op_verdict_name(enum op_verdict v);

#endif
