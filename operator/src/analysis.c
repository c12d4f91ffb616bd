/* analysis.c: canary vs stable verdicts (op_analysis.h, docs/rollout.md). */
#include "op_analysis.h"
#include "op_core.h"

#include <stdio.h>
#include <string.h>

void op_analysis_spec_default(struct op_analysis_spec *spec)
{
    if (!spec) return;
    spec->max_error_rate = 0.02;
    spec->max_p95_ratio = 1.5;
    spec->failure_limit = 2;
    spec->min_requests = 1;
}

/* Appends "; text" (or "text" first) to the message; truncates silently. */
static void an_note(struct op_analysis_result *r, const char *text)
{
    size_t used = strlen(r->message);

    if (used + 1 >= sizeof(r->message)) return;
    snprintf(r->message + used, sizeof(r->message) - used, "%s%s", used ? "; " : "", text);
}

int op_analysis_run(const struct op_analysis_spec *spec, struct op_analysis_state *st,
                    const struct op_analysis_input *in, struct op_analysis_result *out)
{
    struct op_analysis_result r;
    const struct op_metrics_snapshot *c, *s;
    char buf[96];
    bool judged = false;
    int32_t failed_runs;

    if (!spec || !st || !in || !out) return OP_EINVAL;
    if (spec->failure_limit < 1 || !(spec->max_error_rate >= 0 && spec->max_error_rate <= 1) ||
        !(spec->max_p95_ratio >= 1) || !(spec->min_requests >= 0))
        return OP_EINVAL;
    memset(&r, 0, sizeof(r));
    r.error_rate = r.anomaly_rate = r.p95_ratio = -1;
    c = &in->canary;
    s = &in->stable;

    if (in->canary_replica_failed) {
        r.failed |= OP_CHECK_REPLICA_FAILED;
        an_note(&r, "a canary replica is Failed");
    }
    if (in->golden != OP_GOLDEN_NOT_RUN) judged = true;
    if (in->golden == OP_GOLDEN_FAIL) {
        r.failed |= OP_CHECK_GOLDEN;
        an_note(&r, "golden prompt failed");
    }
    /* Rates need traffic: a canary at weight 0 or an idle model is not judged. */
    if (c->valid && c->requests > 0 && c->requests >= spec->min_requests) {
        judged = true;
        r.error_rate = c->errors / c->requests;
        r.anomaly_rate = c->anomalies / c->requests;
        if (r.error_rate > spec->max_error_rate) {
            r.failed |= OP_CHECK_ERROR_RATE;
            snprintf(buf, sizeof(buf), "error rate %.3f > %.3f", r.error_rate,
                     spec->max_error_rate);
            an_note(&r, buf);
        }
        if (r.anomaly_rate > spec->max_error_rate) {
            r.failed |= OP_CHECK_ANOMALY_RATE;
            snprintf(buf, sizeof(buf), "anomaly rate %.3f > %.3f", r.anomaly_rate,
                     spec->max_error_rate);
            an_note(&r, buf);
        }
        /* Latency is relative to stable, so both must have a p95. */
        if (s->valid && s->p95_ms > 0 && c->p95_ms > 0) {
            r.p95_ratio = c->p95_ms / s->p95_ms;
            if (r.p95_ratio > spec->max_p95_ratio) {
                r.failed |= OP_CHECK_P95_RATIO;
                snprintf(buf, sizeof(buf), "p95 latency %.2fx stable > %.2fx", r.p95_ratio,
                         spec->max_p95_ratio);
                an_note(&r, buf);
            }
        }
    }

    failed_runs = st->failed_runs < 0 ? 0 : st->failed_runs;
    if (r.failed != 0) {
        if (failed_runs < INT32_MAX) failed_runs++;
        if ((r.failed & OP_CHECK_REPLICA_FAILED) || failed_runs >= spec->failure_limit)
            r.verdict = OP_VERDICT_ABORT;
        else
            r.verdict = OP_VERDICT_FAIL;
        snprintf(buf, sizeof(buf), "failed checks %d/%d", (int)failed_runs,
                 (int)spec->failure_limit);
        an_note(&r, buf);
    } else if (!judged) {
        r.verdict = OP_VERDICT_INCONCLUSIVE;
        an_note(&r, "not enough canary traffic to judge");
    } else {
        r.verdict = OP_VERDICT_PASS;
        an_note(&r, "canary within limits");
    }
    st->failed_runs = failed_runs;
    *out = r;
    return OP_OK;
}

const char *op_verdict_name(enum op_verdict v)
{
    switch (v) {
    case OP_VERDICT_PASS: return "Pass";
    case OP_VERDICT_FAIL: return "Fail";
    case OP_VERDICT_INCONCLUSIVE: return "Inconclusive";
    case OP_VERDICT_ABORT: return "Abort";
    default: return "Unknown";
    }
}
