/* reconcile_metrics.c: the parts of a Model reconcile that read the
 * agents' metrics, from the scraper's page cache (op_scrape; never waits
 * for an agent): one canary analysis run (op_analysis, with the golden
 * prompts' verdict from golden.c) and one autoscaler sample and decision
 * (op_autoscale, written through /scale). Worker thread only. */
#include "ctl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCALE_SAMPLE_MS 2000

/* Sums the cached pages (op_scrape) of the agents holding Ready replicas
 * of revision rev (rev 0: all) of the Model. One page per agent, counted
 * once however many of those replicas it holds (its series are per Model
 * and revision, not per replica). *asked Ready replicas, *answered of them
 * on an agent with a fresh page, *pending of them on one not fetched yet
 * (the scraper is kicked); *newest_ms (may be NULL) the newest page's
 * fetch time. Never waits. */
#define SCRAPE_MAX_AGENTS 256
static void ctl_scrape_rev(struct op_ctl *ctl, const cJSON *reps, const struct ctl_nodes *nodes,
                           int32_t rev, const char *model_key, struct op_agent_sample *sum,
                           int *asked, int *answered, int *pending, int64_t *newest_ms)
{
    const cJSON *it;
    const char *seen[SCRAPE_MAX_AGENTS];
    enum op_scrape_state seen_st[SCRAPE_MAX_AGENTS];
    size_t n_seen = 0;
    int64_t now = ctl_mono_ms();
    memset(sum, 0, sizeof(*sum));
    *asked = *answered = *pending = 0;
    if (newest_ms) *newest_ms = 0;
    cJSON_ArrayForEach(it, reps)
    {
        const char *phase = op_json_str(it, "status.phase");
        const char *ep = op_json_str(it, "status.endpoint");
        int ni = ctl_nodes_find(nodes, op_json_str(it, "spec.nodeName"));
        struct op_agent_sample one;
        char *text = NULL;
        int64_t at = 0;
        enum op_scrape_state st = OP_SCRAPE_FAILED;
        size_t k;
        if (rev && op_json_int(it, "spec.revision", 0) != rev) continue;
        if (!phase || strcmp(phase, "Ready") || ni < 0 || !nodes->n[ni].ready) continue;
        if (op_json_at(it, "metadata.deletionTimestamp")) continue;
        (*asked)++;
        if (!ep) continue;
        for (k = 0; k < n_seen && strcmp(seen[k], ep) != 0; k++) {}
        if (k < n_seen) { /* this agent's page is in the sum already */
            *pending += seen_st[k] == OP_SCRAPE_PENDING;
            *answered += seen_st[k] == OP_SCRAPE_OK;
            continue;
        }
        st = op_scrape_cache_get(ctl->scache, ep, now, &text, &at);
        if (st == OP_SCRAPE_OK && !text) st = OP_SCRAPE_FAILED; /* out of memory */
        if (n_seen < SCRAPE_MAX_AGENTS) {
            seen[n_seen] = ep;
            seen_st[n_seen++] = st;
        }
        if (st == OP_SCRAPE_PENDING) (*pending)++;
        if (st != OP_SCRAPE_OK) continue;
        (*answered)++;
        if (newest_ms && at > *newest_ms) *newest_ms = at;
        op_agent_sample_parse_rev(text, model_key, rev, &one);
        free(text);
        op_agent_sample_add(sum, &one);
    }
    if (*pending > 0) op_scraper_kick(ctl->scraper);
}

/* One canary analysis run when its interval has passed; sets
 * *analysis_abort and v->analysis. */
void ctl_analyse(struct op_ctl *ctl, const cJSON *model, const char *key, const cJSON *reps,
                 const struct ctl_nodes *nodes, struct ctl_model_view *v, bool canary_failed,
                 bool *analysis_abort, int64_t *requeue_ms)
{
    struct ctl_mstate *ms = ctl_mstate_get(ctl, key);
    int64_t interval = op_json_int(model, "spec.rollout.analysis.intervalSeconds", 10) * 1000;
    int64_t now = ctl_mono_ms();
    struct op_agent_sample cur_c, cur_s;
    int ac, nc, as, ns_, pc, ps;
    int64_t fc;
    struct op_analysis_spec spec;
    struct op_analysis_state st;
    struct op_analysis_input in;
    struct op_analysis_result res;
    char ts[40], msg[400], golden_why[200] = "";

    if (!ms) return;
    if (interval < 1000) interval = 1000;
    if (*requeue_ms > interval) *requeue_ms = interval;
    if (ms->an_canary != v->canary || ms->an_stable != v->stable) {
        ms->an_have_prev = false;
        ms->an_canary = v->canary;
        ms->an_stable = v->stable;
    }
    if (ms->an_have_prev && now - ms->an_last_ms < interval) return;
    ctl_scrape_rev(ctl, reps, nodes, v->canary, key, &cur_c, &ac, &nc, &pc, &fc);
    ctl_scrape_rev(ctl, reps, nodes, v->stable, key, &cur_s, &as, &ns_, &ps, NULL);
    if (!canary_failed &&
        (pc > 0 || ps > 0 || (ms->an_have_prev && nc > 0 && fc <= ms->an_fetched_c))) {
        /* Pages not fetched yet, or none newer than the last run's: a run
         * now would judge nothing. Soon again. */
        if (*requeue_ms > SCRAPE_PENDING_RETRY_MS) *requeue_ms = SCRAPE_PENDING_RETRY_MS;
        return;
    }
    if (!ms->an_have_prev) {
        ms->an_prev_c = cur_c;
        ms->an_prev_s = cur_s;
        ms->an_have_prev = nc > 0;
        ms->an_last_ms = now;
        ms->an_fetched_c = fc;
        ctl_golden_submit(ctl, model, key, reps, nodes, v->canary); /* judged next run */
        if (!canary_failed) return; /* a baseline first: deltas need two scrapes */
    }
    memset(&in, 0, sizeof(in));
    if (nc > 0) op_snapshot_delta(&ms->an_prev_c, &cur_c, &in.canary);
    if (ns_ > 0) op_snapshot_delta(&ms->an_prev_s, &cur_s, &in.stable);
    in.golden = ctl_golden_take(ctl, key, v->canary, golden_why, sizeof(golden_why));
    ctl_golden_submit(ctl, model, key, reps, nodes, v->canary);
    in.canary_replica_failed = canary_failed;
    op_plan_analysis_spec(model, &spec);
    st.failed_runs =
        v->starting ? 0 : (int32_t)op_json_int(model, "status.analysis.failedChecks", 0);
    if (op_analysis_run(&spec, &st, &in, &res)) return;
    if (nc > 0) ms->an_prev_c = cur_c;
    if (ns_ > 0) ms->an_prev_s = cur_s;
    ms->an_last_ms = now;
    ms->an_fetched_c = fc;
    cJSON_Delete(v->analysis);
    v->analysis = cJSON_CreateObject();
    if (v->analysis) {
        op_time_format(ctl_now_ms(), ts, sizeof(ts));
        cJSON_AddStringToObject(v->analysis, "lastRunAt", ts);
        cJSON_AddNumberToObject(v->analysis, "failedChecks", st.failed_runs);
        cJSON_AddStringToObject(v->analysis, "result",
                                res.verdict == OP_VERDICT_ABORT ? "Fail"
                                                                : op_verdict_name(res.verdict));
        snprintf(msg, sizeof(msg), "revision %d: %s (canary %.0f requests, %.0f errors)",
                 (int)v->canary, res.message[0] ? res.message : "checks passed", in.canary.requests,
                 in.canary.errors);
        cJSON_AddStringToObject(v->analysis, "message", msg);
    }
    if (res.verdict == OP_VERDICT_FAIL || res.verdict == OP_VERDICT_ABORT) {
        snprintf(msg, sizeof(msg), "revision %d: %s%s%s", (int)v->canary, res.message,
                 golden_why[0] ? "; " : "", golden_why);
        ctl_event(ctl, model, "Model", "Warning", "AnalysisFailed", msg);
    }
    if (res.verdict == OP_VERDICT_ABORT) *analysis_abort = true;
}

/* One autoscaler sample and decision; writes spec.replicas through /scale. */
void ctl_autoscale(struct op_ctl *ctl, const cJSON *model, const char *key, const cJSON *reps,
                   const struct ctl_nodes *nodes, struct ctl_model_view *v, int64_t *requeue_ms)
{
    struct ctl_mstate *ms = ctl_mstate_get(ctl, key);
    struct op_autoscale_spec spec;
    struct op_autoscale_decision d;
    enum op_scale_metric metric;
    struct op_agent_sample sum;
    int asked, answered, pending;
    int64_t now = ctl_mono_ms();
    double load = 0;
    bool complete;
    char msg[400], ts[40];
    int32_t current = (int32_t)op_json_int(model, "spec.replicas", 1);

    if (!ms || op_plan_autoscale_spec(model, &spec, &metric)) return;
    if (*requeue_ms > SCALE_SAMPLE_MS) *requeue_ms = SCALE_SAMPLE_MS;
    v->scaling = ms->scaling; /* between samples the last verdict stands */
    snprintf(v->scaling_msg, sizeof(v->scaling_msg), "%s", ms->scaling_msg);
    if (ms->as_last_ms && now - ms->as_last_ms < SCALE_SAMPLE_MS) return;
    ctl_scrape_rev(ctl, reps, nodes, 0, key, &sum, &asked, &answered, &pending, NULL);
    if (pending > 0) {
        /* Endpoints the scraper has not fetched yet: no sample rather than
         * an incomplete one (that would read as metrics missing). */
        *requeue_ms = SCRAPE_PENDING_RETRY_MS;
        return;
    }
    ms->as_last_ms = now;
    complete = asked > 0 && answered == asked;
    if (metric == OP_METRIC_CONCURRENCY) load = sum.in_flight + sum.queued;
    if (metric == OP_METRIC_QUEUE_DEPTH) load = sum.queued;
    if (metric == OP_METRIC_TOKENS_PER_SECOND) {
        if (complete && ms->tok_have && now > ms->tok_prev_ms && sum.gen_tokens >= ms->tok_prev)
            load = (sum.gen_tokens - ms->tok_prev) * 1000.0 / (double)(now - ms->tok_prev_ms);
        else
            complete = false; /* a rate needs two complete scrapes */
        ms->tok_have = asked > 0 && answered == asked;
        ms->tok_prev = sum.gen_tokens;
        ms->tok_prev_ms = now;
    }
    if (op_autoscaler_record(&ms->as, now, complete ? load : 0, complete)) return;
    if (op_autoscaler_decide(&ms->as, &spec, current, now, &d)) return;
    if (d.requeue_after_ms > 0 && d.requeue_after_ms < *requeue_ms)
        *requeue_ms = d.requeue_after_ms;
    cJSON_Delete(v->autoscaling);
    v->autoscaling = cJSON_CreateObject();
    v->scaling = d.held ? -1 : 1;
    if (d.held)
        snprintf(msg, sizeof(msg), "metrics of %d of %d ready replicas missing: holding %d",
                 asked - answered, asked, (int)d.desired);
    else
        snprintf(msg, sizeof(msg), "%s: load %.1f (panic window %.1f), target %.1f per replica",
                 op_autoscale_reason_name(d.reason), d.stable_load, d.panic_load, spec.target);
    snprintf(v->scaling_msg, sizeof(v->scaling_msg), "%s", msg);
    ms->scaling = v->scaling;
    snprintf(ms->scaling_msg, sizeof(ms->scaling_msg), "%s", msg);
    if (v->autoscaling) {
        const cJSON *last = op_json_at(model, "status.autoscaling.lastScaleTime");
        cJSON_AddNumberToObject(v->autoscaling, "desiredReplicas", d.desired);
        cJSON_AddNumberToObject(v->autoscaling, "load",
                                d.stable_load > 0 ? round(d.stable_load * 10) / 10 : 0);
        cJSON_AddBoolToObject(v->autoscaling, "panic", d.panic);
        cJSON_AddStringToObject(v->autoscaling, "message", msg);
        if (d.desired != current && !d.held) {
            op_time_format(ctl_now_ms(), ts, sizeof(ts));
            cJSON_AddStringToObject(v->autoscaling, "lastScaleTime", ts);
        } else if (cJSON_IsString(last)) {
            cJSON_AddStringToObject(v->autoscaling, "lastScaleTime", last->valuestring);
        }
    }
    if (d.desired != current && !d.held) {
        struct kube_status st;
        char ev[500];
        int rc = kube_set_scale(ctl->c, &ctl_r_models, kube_obj_namespace(model),
                                kube_obj_name(model), d.desired, &st);
        if (rc) {
            ctl_log_err("scale", kube_obj_name(model), rc, &st);
            return;
        }
        snprintf(ev, sizeof(ev), "replicas %d -> %d: %s", (int)current, (int)d.desired, msg);
        ctl_event(ctl, model, "Model", "Normal", "Scaled", ev);
        atomic_fetch_add(&ctl->scale_decisions, 1);
    }
}
