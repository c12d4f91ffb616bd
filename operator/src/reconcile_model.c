/* reconcile_model.c: the Model reconcile (see op_ctl.h and
 * docs/operator.md): finalizer, ModelRevisions, the rollout state machine
 * (op_rollout), ModelReplicas per revision bound with op_schedule, the
 * replacement of Failed replicas (op_backoff), revision GC and status. It
 * reads the caches, calls the decision modules and writes the results to
 * the API server; worker thread only. */
#include "ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klog.h"
#include "op_spec.h"

#define MODEL_RESYNC_MS 10000
#define MAX_REVS 64

static const char *ctl_annotation(const cJSON *obj, const char *key)
{
    const cJSON *a = op_json_at(obj, "metadata.annotations");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* --- writing helpers ------------------------------------------------------ */

/* metadata merge patch for one annotation removal. */
static int ctl_clear_annotation(struct op_ctl *ctl, const char *ns, const char *name,
                                const char *ann)
{
    cJSON *p = cJSON_CreateObject(), *meta, *anns;
    struct kube_status st;
    int rc = KUBE_ENOMEM;

    if (!p) return rc;
    meta = cJSON_AddObjectToObject(p, "metadata");
    anns = meta ? cJSON_AddObjectToObject(meta, "annotations") : NULL;
    if (anns && cJSON_AddNullToObject(anns, ann))
        rc = kube_patch_merge(ctl->c, &ctl_r_models, ns, name, NULL, p, NULL, &st);
    cJSON_Delete(p);
    return rc;
}

/* Sets metadata.finalizers (with resourceVersion, so a concurrent change
 * conflicts instead of being overwritten). */
static int ctl_set_finalizer(struct op_ctl *ctl, const cJSON *model, bool present)
{
    cJSON *p = cJSON_CreateObject(), *meta, *arr;
    const cJSON *it;
    struct kube_status st;
    int rc = KUBE_ENOMEM;

    if (!p) return rc;
    meta = cJSON_AddObjectToObject(p, "metadata");
    arr = meta ? cJSON_AddArrayToObject(meta, "finalizers") : NULL;
    if (!arr) goto out;
    cJSON_AddStringToObject(meta, "resourceVersion", kube_obj_rv(model));
    cJSON_ArrayForEach(it, op_json_at(model, "metadata.finalizers"))
    {
        if (cJSON_IsString(it) && strcmp(it->valuestring, OP_FINALIZER) != 0)
            cJSON_AddItemToArray(arr, cJSON_CreateString(it->valuestring));
    }
    if (present) cJSON_AddItemToArray(arr, cJSON_CreateString(OP_FINALIZER));
    rc = kube_patch_merge(ctl->c, &ctl_r_models, kube_obj_namespace(model), kube_obj_name(model),
                          NULL, p, NULL, &st);
    if (rc && rc != KUBE_ENOTFOUND) ctl_log_err("finalizer", kube_obj_name(model), rc, &st);
out:
    cJSON_Delete(p);
    return rc;
}

static bool ctl_has_finalizer(const cJSON *model)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, op_json_at(model, "metadata.finalizers"))
    {
        if (cJSON_IsString(it) && strcmp(it->valuestring, OP_FINALIZER) == 0) return true;
    }
    return false;
}

/* Remembers a replica write (add: the name created; else the uid deleted)
 * until the cache shows it; see ctl_mstate. */
static void ctl_expect(struct ctl_mstate *ms, bool add, const char *id)
{
    if (!ms || !id) return;
    if (add && ms->n_exp_add < CTL_EXPECT_MAX)
        snprintf(ms->exp_add[ms->n_exp_add++], sizeof(ms->exp_add[0]), "%s", id);
    if (!add && ms->n_exp_del < CTL_EXPECT_MAX)
        snprintf(ms->exp_del[ms->n_exp_del++], sizeof(ms->exp_del[0]), "%s", id);
    ms->exp_ms = ctl_mono_ms();
}

static bool ctl_reps_have(const cJSON *reps, const char *field, const char *value)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, reps)
    {
        const char *v = op_json_str(it, field);
        if (v && !strcmp(v, value)) return true;
    }
    return false;
}

/* True when the cached replicas show every write remembered in ms (those
 * shown are forgotten), or when CTL_EXPECT_MS passed since the last one. */
static bool ctl_expect_met(struct ctl_mstate *ms, const cJSON *reps)
{
    int k = 0;
    if (!ms) return true;
    if (ctl_mono_ms() - ms->exp_ms > CTL_EXPECT_MS) ms->n_exp_add = ms->n_exp_del = 0;
    for (int i = 0; i < ms->n_exp_add; i++)
        if (!ctl_reps_have(reps, "metadata.name", ms->exp_add[i]))
            memmove(ms->exp_add[k++], ms->exp_add[i], sizeof(ms->exp_add[0]));
    ms->n_exp_add = k;
    k = 0;
    for (int i = 0; i < ms->n_exp_del; i++)
        if (ctl_reps_have(reps, "metadata.uid", ms->exp_del[i]))
            memmove(ms->exp_del[k++], ms->exp_del[i], sizeof(ms->exp_del[0]));
    ms->n_exp_del = k;
    return ms->n_exp_add == 0 && ms->n_exp_del == 0;
}

/* Deletes one replica (by uid); ms, when given, remembers the deletion. */
static int ctl_delete_replica(struct op_ctl *ctl, struct ctl_mstate *ms, const cJSON *rep,
                              const char *why)
{
    struct kube_status st;
    const char *uid = op_json_str(rep, "metadata.uid");
    int rc = kube_delete(ctl->c, &ctl_r_replicas, kube_obj_namespace(rep), kube_obj_name(rep), uid,
                         NULL, &st);
    const char *kv[] = {"replica", kube_obj_name(rep), "why", why, NULL};
    if (rc == KUBE_ENOTFOUND || rc == KUBE_ECONFLICT) rc = 0; /* gone or replaced already */
    if (rc) {
        ctl_log_err("delete replica", kube_obj_name(rep), rc, &st);
        return rc;
    }
    ctl_expect(ms, false, uid);
    klog_kv(KLOG_INFO, "operator", "replica deleted", kv);
    atomic_fetch_add(&ctl->replicas_deleted, 1);
    return 0;
}

/* --- the Model reconcile ------------------------------------------------- */

struct ctl_rev_plan {
    int32_t rev;
    const cJSON *obj; /* the ModelRevision (borrowed from revs) */
    int32_t desired;
    int32_t have, ready;
    const char *avoid; /* node a Failed replica was deleted from (borrowed) */
};

static struct ctl_rev_plan *ctl_plan_find(struct ctl_rev_plan *p, size_t n, int32_t rev)
{
    for (size_t i = 0; i < n; i++)
        if (p[i].rev == rev) return &p[i];
    return NULL;
}

static int ctl_finalize(struct op_ctl *ctl, const cJSON *model, int64_t *requeue_ms)
{
    cJSON *reps = NULL, *it;
    char sel[400];
    int rc, left = 0;

    if (!ctl_has_finalizer(model)) return 0;
    snprintf(sel, sizeof(sel), "%s=%s", OP_LABEL_MODEL, kube_obj_name(model));
    rc = kube_store_list(kube_informer_store(ctl->inf[INF_REPS]), kube_obj_namespace(model), sel,
                         &reps);
    if (rc) return rc;
    cJSON_ArrayForEach(it, reps)
    {
        left++;
        rc = ctl_delete_replica(ctl, NULL, it, "model deleted");
        if (rc) break;
    }
    cJSON_Delete(reps);
    if (rc) return rc;
    if (left > 0) {
        *requeue_ms = 1000;
        return 0;
    }
    rc = ctl_set_finalizer(ctl, model, false);
    if (rc == KUBE_ENOTFOUND) rc = 0;
    if (rc == 0) {
        const char *kv[] = {"model", kube_obj_name(model), NULL};
        klog_kv(KLOG_INFO, "operator", "model finalized", kv);
    }
    return rc;
}

/* The revision status outcome, written when it changes. */
static void ctl_revision_outcome(struct op_ctl *ctl, const cJSON *rev, const char *outcome,
                                 const char *reason, int64_t now_ms)
{
    cJSON *p, *s;
    struct kube_status st;
    char ts[40];
    const char *cur = op_json_str(rev, "status.outcome");

    if (!rev || (cur && strcmp(cur, outcome) == 0)) return;
    /* A rolled-back revision keeps that outcome when the rollout is dropped. */
    if (cur && !strcmp(cur, "RolledBack") && !strcmp(outcome, "Superseded")) return;
    p = cJSON_CreateObject();
    s = p ? cJSON_AddObjectToObject(p, "status") : NULL;
    if (!s) goto out;
    op_time_format(now_ms, ts, sizeof(ts));
    cJSON_AddStringToObject(s, "outcome", outcome);
    if (reason) cJSON_AddStringToObject(s, "reason", reason);
    if (strcmp(outcome, "Promoted") == 0) cJSON_AddStringToObject(s, "promotedAt", ts);
    if (strcmp(outcome, "RolledBack") == 0) cJSON_AddStringToObject(s, "rolledBackAt", ts);
    if (kube_patch_merge(ctl->c, &ctl_r_revisions, kube_obj_namespace(rev), kube_obj_name(rev),
                         "status", p, NULL, &st))
        ctl_log_err("revision status", kube_obj_name(rev), -1, &st);
out:
    cJSON_Delete(p);
}

/* Creates the ModelRevision for the Model's current template. */
static int ctl_create_revision(struct op_ctl *ctl, const cJSON *model, int32_t n, cJSON **out)
{
    cJSON *obj = op_plan_revision_new(model, n);
    struct kube_status st;
    int rc;
    char msg[128];

    if (!obj) return KUBE_ENOMEM;
    rc = kube_create(ctl->c, &ctl_r_revisions, kube_obj_namespace(model), obj, out, &st);
    cJSON_Delete(obj);
    if (rc) {
        ctl_log_err("create revision", kube_obj_name(model), rc, &st);
        return rc;
    }
    snprintf(msg, sizeof(msg), "created revision %d (%s-%d)", (int)n, kube_obj_name(model), (int)n);
    ctl_event(ctl, model, "Model", "Normal", "RevisionCreated", msg);
    return 0;
}

/* Writes a replica's Scheduled condition (and, when unbound, phase Pending
 * with the scheduler's reason), like a Pod's PodScheduled. Best effort. */
static void ctl_replica_scheduled(struct op_ctl *ctl, const char *ns, const char *name,
                                  const cJSON *cur, const char *node, const char *why)
{
    cJSON *p = cJSON_CreateObject(), *s, *conds;
    struct kube_status st;
    char msg[400];

    s = p ? cJSON_AddObjectToObject(p, "status") : NULL;
    if (!s) goto out;
    if (node)
        snprintf(msg, sizeof(msg), "bound to %s", node);
    else
        snprintf(msg, sizeof(msg), "%s", why && why[0] ? why : "no node fits");
    conds =
        op_plan_conditions_set_new(op_json_at(cur, "status.conditions"), "Scheduled", node != NULL,
                                   node ? "Bound" : "Unschedulable", msg, ctl_now_ms());
    if (!conds) goto out;
    cJSON_AddItemToObject(s, "conditions", conds);
    if (!node) {
        cJSON_AddStringToObject(s, "phase", "Pending");
        cJSON_AddStringToObject(s, "message", msg);
    }
    if (kube_patch_merge(ctl->c, &ctl_r_replicas, ns, name, "status", p, NULL, &st))
        ctl_log_err("replica status", name, -1, &st);
out:
    cJSON_Delete(p);
}

/* Schedules and creates one replica of revision p; idx is the name index. */
static int ctl_create_replica(struct op_ctl *ctl, const cJSON *model, const struct ctl_rev_plan *p,
                              int32_t idx, struct ctl_nodes *nodes, char *why, size_t why_len)
{
    struct op_sched_request req;
    size_t chosen = 0;
    const char *node = NULL;
    cJSON *obj;
    struct kube_status st;
    int rc;

    op_plan_requests(model, &req.cpu_milli, &req.mem_bytes);
    req.sha256 = op_json_str(p->obj, "spec.source.sha256");
    req.avoid = p->avoid;
    rc = op_schedule(nodes->n, nodes->len, &req, &chosen, why, why_len);
    if (rc == OP_OK) node = nodes->n[chosen].name;
    obj = op_plan_replica_new(model, p->obj, idx, node);
    if (!obj) return KUBE_ENOMEM;
    rc = kube_create(ctl->c, &ctl_r_replicas, kube_obj_namespace(model), obj, NULL, &st);
    cJSON_Delete(obj);
    if (rc == KUBE_EEXISTS) return 0; /* the cache has not seen it yet */
    if (rc) {
        ctl_log_err("create replica", kube_obj_name(model), rc, &st);
        return rc;
    }
    atomic_fetch_add(&ctl->replicas_created, 1);
    if (node) {
        op_schedule_bind(&nodes->n[chosen], &req);
        why[0] = '\0';
    } else {
        char rname[300];
        snprintf(rname, sizeof(rname), "%s-%d-%d", kube_obj_name(model), (int)p->rev, (int)idx);
        ctl_replica_scheduled(ctl, kube_obj_namespace(model), rname, NULL, NULL, why);
    }
    {
        char name[64];
        const char *kv[] = {"model", kube_obj_name(model),   "revision", name,
                            "node",  node ? node : "(none)", NULL};
        snprintf(name, sizeof(name), "%d", (int)p->rev);
        klog_kv(KLOG_INFO, "operator", "replica created", kv);
    }
    return 0;
}

/* Binds an unbound replica when a node has room now. */
static int ctl_bind_replica(struct op_ctl *ctl, const cJSON *model, const cJSON *rep,
                            struct ctl_nodes *nodes, char *why, size_t why_len)
{
    struct op_sched_request req;
    size_t chosen = 0;
    cJSON *p = NULL, *spec, *meta, *labels;
    struct kube_status st;
    int rc;

    op_plan_requests(rep, &req.cpu_milli, &req.mem_bytes);
    req.sha256 = op_json_str(rep, "spec.source.sha256");
    req.avoid = NULL;
    if (op_schedule(nodes->n, nodes->len, &req, &chosen, why, why_len) != OP_OK) {
        const char *cur = op_json_str(rep, "status.message");
        if (!cur || strcmp(cur, why) != 0) /* write only when the reason changed */
            ctl_replica_scheduled(ctl, kube_obj_namespace(rep), kube_obj_name(rep), rep, NULL, why);
        return 0;
    }
    p = cJSON_CreateObject();
    spec = p ? cJSON_AddObjectToObject(p, "spec") : NULL;
    meta = p ? cJSON_AddObjectToObject(p, "metadata") : NULL;
    labels = meta ? cJSON_AddObjectToObject(meta, "labels") : NULL;
    if (!labels || !spec) {
        cJSON_Delete(p);
        return KUBE_ENOMEM;
    }
    cJSON_AddStringToObject(spec, "nodeName", nodes->n[chosen].name);
    cJSON_AddStringToObject(labels, OP_LABEL_NODE, nodes->n[chosen].name);
    cJSON_AddStringToObject(meta, "resourceVersion", kube_obj_rv(rep));
    rc = kube_patch_merge(ctl->c, &ctl_r_replicas, kube_obj_namespace(rep), kube_obj_name(rep),
                          NULL, p, NULL, &st);
    cJSON_Delete(p);
    if (rc == KUBE_ECONFLICT || rc == KUBE_ENOTFOUND) return 0;
    if (rc) return rc;
    op_schedule_bind(&nodes->n[chosen], &req);
    ctl_replica_scheduled(ctl, kube_obj_namespace(rep), kube_obj_name(rep), rep,
                          nodes->n[chosen].name, NULL);
    why[0] = '\0';
    (void)model;
    return 0;
}

/* Orders replicas for deletion: unbound, then not Ready, then highest name. */
static int ctl_victim_cmp(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    int xb = op_json_str(x, "spec.nodeName") != NULL, yb = op_json_str(y, "spec.nodeName") != NULL;
    const char *xp = op_json_str(x, "status.phase"), *yp = op_json_str(y, "status.phase");
    int xr = xp && !strcmp(xp, "Ready"), yr = yp && !strcmp(yp, "Ready");
    const char *xn = kube_obj_name(x), *yn = kube_obj_name(y);
    if (xb != yb) return xb - yb;
    if (xr != yr) return xr - yr;
    if (strlen(xn) != strlen(yn)) return strlen(xn) < strlen(yn) ? 1 : -1;
    return -strcmp(xn, yn);
}

static int ctl_write_status(struct op_ctl *ctl, const cJSON *model, struct ctl_model_view *v,
                            int64_t now_ms)
{
    const cJSON *cur = op_json_at(model, "status");
    cJSON *want = cJSON_CreateObject(), *conds = NULL, *tmp, *patch = NULL, *body = NULL;
    const cJSON *keep;
    const char *idle;
    char buf[600];
    struct kube_status st;
    int rc = KUBE_ENOMEM, err = 0;
    bool rolled_back = v->st.phase == OP_ROLLOUT_ABORTED && v->rolling;

    if (!want) goto out;
    if (v->invalid)
        idle = "Degraded";
    else if (v->ready >= v->replicas && v->replicas >= 0 && !v->unschedulable)
        idle = "Healthy";
    else if (v->failed || v->unschedulable)
        idle = "Degraded";
    else
        idle = "Pending";
    cJSON_AddStringToObject(want, "phase",
                            v->rolling ? op_plan_phase_name(v->st.phase, idle) : idle);
    cJSON_AddNumberToObject(want, "observedGeneration",
                            (double)op_json_int(model, "metadata.generation", 0));
    if (v->stable > 0) cJSON_AddNumberToObject(want, "stableRevision", v->stable);
    if (v->rolling) {
        cJSON_AddNumberToObject(want, "canaryRevision", v->canary);
        cJSON_AddNumberToObject(want, "canaryWeight", v->d.weight);
        cJSON_AddNumberToObject(want, "currentStep", v->st.step);
        op_time_format(v->st.step_started_ms, buf, sizeof(buf));
        cJSON_AddStringToObject(want, "stepStartedAt", buf);
        keep = op_json_at(model, "status.rolloutStartedAt");
        if (v->starting || !cJSON_IsString(keep)) {
            op_time_format(now_ms, buf, sizeof(buf));
            cJSON_AddStringToObject(want, "rolloutStartedAt", buf);
        } else {
            cJSON_AddStringToObject(want, "rolloutStartedAt", keep->valuestring);
        }
    } else {
        cJSON_AddNumberToObject(want, "canaryWeight", 0);
    }
    cJSON_AddNumberToObject(want, "replicas", v->have);
    cJSON_AddNumberToObject(want, "readyReplicas", v->ready);
    snprintf(buf, sizeof(buf), "%d/%d", (int)v->ready, (int)v->replicas);
    cJSON_AddStringToObject(want, "ready", buf);
    snprintf(buf, sizeof(buf), "%s=%s", OP_LABEL_MODEL, kube_obj_name(model));
    cJSON_AddStringToObject(want, "selector", buf);
    cJSON_AddStringToObject(want, "endpoint", ctl->endpoint);
    keep = v->analysis ? v->analysis : op_json_at(model, "status.analysis");
    if (keep) cJSON_AddItemToObject(want, "analysis", cJSON_Duplicate(keep, 1));
    keep = v->autoscaling ? v->autoscaling : op_json_at(model, "status.autoscaling");
    if (keep && op_json_at(model, "spec.autoscaling"))
        cJSON_AddItemToObject(want, "autoscaling", cJSON_Duplicate(keep, 1));

    /* conditions */
    conds = cJSON_Duplicate(op_json_at(model, "status.conditions"), 1);
    if (!conds) conds = cJSON_CreateArray();
    snprintf(buf, sizeof(buf), "%d of %d replicas ready", (int)v->ready, (int)v->replicas);
    tmp =
        op_plan_conditions_set_new(conds, "Available", v->ready > 0 || v->replicas == 0,
                                   v->ready > 0 ? "ReplicasReady" : "NoReplicaReady", buf, now_ms);
    cJSON_Delete(conds);
    conds = tmp;
    if (v->rolling && !rolled_back) {
        snprintf(buf, sizeof(buf), "revision %d: step %d, weight %d", (int)v->canary,
                 (int)v->st.step, (int)v->d.weight);
        tmp = op_plan_conditions_set_new(
            conds, "Progressing", true,
            v->st.phase == OP_ROLLOUT_PAUSED ? "RolloutPaused" : "RolloutInProgress", buf, now_ms);
    } else if (rolled_back) {
        snprintf(buf, sizeof(buf), "revision %d rolled back", (int)v->canary);
        tmp =
            op_plan_conditions_set_new(conds, "Progressing", false, "RolloutAborted", buf, now_ms);
    } else {
        snprintf(buf, sizeof(buf), "revision %d is stable", (int)v->stable);
        tmp =
            op_plan_conditions_set_new(conds, "Progressing", false, "RolloutComplete", buf, now_ms);
    }
    cJSON_Delete(conds);
    conds = tmp;
    if (v->invalid)
        tmp = op_plan_conditions_set_new(conds, "Degraded", true, "InvalidSpec", v->invalid_msg,
                                         now_ms);
    else if (v->unschedulable)
        tmp = op_plan_conditions_set_new(conds, "Degraded", true, "Unschedulable", v->unsched_msg,
                                         now_ms);
    else if (v->failed)
        tmp = op_plan_conditions_set_new(conds, "Degraded", true, "ReplicaFailed",
                                         v->failed_msg[0] ? v->failed_msg : "a replica is Failed",
                                         now_ms);
    else
        tmp = op_plan_conditions_set_new(conds, "Degraded", false, "AsExpected", NULL, now_ms);
    cJSON_Delete(conds);
    conds = tmp;
    if (v->scaling != 0 || op_plan_condition(conds, "ScalingActive") != -1) {
        /* Like an HPA's ScalingActive: False while metrics are missing. */
        tmp = op_plan_conditions_set_new(
            conds, "ScalingActive", v->scaling > 0,
            v->scaling > 0   ? "ValidMetrics"
            : v->scaling < 0 ? "MetricsMissing"
                             : "AutoscalingOff",
            v->scaling ? v->scaling_msg : "spec.autoscaling is not set", now_ms);
        cJSON_Delete(conds);
        conds = tmp;
        if (!conds) goto out;
    }
    if (rolled_back && v->st.reason == OP_REASON_NONE &&
        op_plan_condition(conds, "RolledBack") == 1) {
        tmp = cJSON_Duplicate(conds, 1); /* restored from status: the reason is already there */
    } else if (rolled_back) {
        snprintf(buf, sizeof(buf), "revision %d: %s", (int)v->canary,
                 op_rollout_reason_name(v->st.reason));
        tmp = op_plan_conditions_set_new(
            conds, "RolledBack", true,
            v->st.reason ? op_rollout_reason_name(v->st.reason) : "RolledBack", buf, now_ms);
    } else {
        tmp = op_plan_conditions_set_new(conds, "RolledBack", false, "NoRollback", NULL, now_ms);
    }
    cJSON_Delete(conds);
    conds = tmp;
    if (!conds) goto out;
    cJSON_AddItemToObject(want, "conditions", conds);
    conds = NULL;

    patch = op_plan_merge_patch_new(cur, want, &err);
    if (err) goto out;
    rc = 0;
    if (!patch) goto out; /* nothing changed */
    body = cJSON_CreateObject();
    if (!body) {
        rc = KUBE_ENOMEM;
        goto out;
    }
    cJSON_AddItemToObject(body, "status", patch);
    patch = NULL;
    rc = kube_patch_merge(ctl->c, &ctl_r_models, kube_obj_namespace(model), kube_obj_name(model),
                          "status", body, NULL, &st);
    if (rc) ctl_log_err("model status", kube_obj_name(model), rc, &st);
    if (rc == 0) v->wrote_model = true;
out:
    cJSON_Delete(body);
    cJSON_Delete(patch);
    cJSON_Delete(conds);
    cJSON_Delete(want);
    return rc;
}

/* --- per-Model memory -------------------------------------------------------- */

struct ctl_mstate *ctl_mstate_get(struct op_ctl *ctl, const char *key)
{
    struct ctl_mstate *m;
    for (m = ctl->mstates; m; m = m->next)
        if (!strcmp(m->key, key)) return m;
    m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    snprintf(m->key, sizeof(m->key), "%s", key);
    op_autoscaler_init(&m->as);
    m->next = ctl->mstates;
    ctl->mstates = m;
    return m;
}

static void ctl_mstate_drop(struct op_ctl *ctl, const char *key)
{
    struct ctl_mstate **pp = &ctl->mstates;
    while (*pp) {
        if (!strcmp((*pp)->key, key)) {
            struct ctl_mstate *dead = *pp;
            *pp = dead->next;
            free(dead);
            return;
        }
        pp = &(*pp)->next;
    }
}

static int ctl_int_desc(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x < y) - (x > y);
}

/* Deletes the oldest ModelRevisions beyond spec.revisionHistoryLimit; the
 * stable, canary and current ones, and any that still has replicas, are
 * never candidates. */
static void ctl_revision_gc(struct op_ctl *ctl, const cJSON *model, const struct ctl_rev_plan *plan,
                            size_t n_plan, const struct ctl_model_view *v)
{
    int32_t old[MAX_REVS];
    size_t n = 0;
    int64_t limit = op_json_int(model, "spec.revisionHistoryLimit", 5);

    for (size_t i = 0; i < n_plan; i++) {
        const struct ctl_rev_plan *p = &plan[i];
        if (p->rev == v->stable || p->rev == v->canary || p->rev == v->target || p->have > 0)
            continue;
        old[n++] = p->rev;
    }
    if ((int64_t)n <= limit) return;
    qsort(old, n, sizeof(old[0]), ctl_int_desc);
    for (size_t i = (size_t)(limit < 0 ? 0 : limit); i < n; i++) {
        char name[300], msg[400];
        struct kube_status st;
        int rc;
        snprintf(name, sizeof(name), "%s-%d", kube_obj_name(model), (int)old[i]);
        rc =
            kube_delete(ctl->c, &ctl_r_revisions, kube_obj_namespace(model), name, NULL, NULL, &st);
        if (rc && rc != KUBE_ENOTFOUND) {
            ctl_log_err("delete revision", name, rc, &st);
            continue;
        }
        if (rc == 0) {
            snprintf(msg, sizeof(msg), "revision %d deleted (revisionHistoryLimit %lld)",
                     (int)old[i], (long long)limit);
            ctl_event(ctl, model, "Model", "Normal", "RevisionDeleted", msg);
        }
    }
}

/* A Failed replica of the stable revision: deleted, so that the create
 * loop re-creates it (on another node when one fits), unless the
 * revision's back-off (op_backoff) is still running; *deleted says which.
 * v->failed_msg gets the line for the Degraded condition. */
static int ctl_replace_failed(struct op_ctl *ctl, const cJSON *model, struct ctl_mstate *ms,
                              const cJSON *rep, struct ctl_rev_plan *p, struct ctl_model_view *v,
                              int64_t *requeue_ms, bool *deleted)
{
    struct op_backoff_spec spec;
    int64_t now = ctl_mono_ms(), wait = op_backoff_wait_ms(&ms->bo, now);
    const char *node = op_json_str(rep, "spec.nodeName");
    const char *why = op_json_str(rep, "status.message");
    char msg[400];
    int rc;

    *deleted = false;
    op_backoff_spec_default(&spec);
    if (wait > 0) {
        snprintf(v->failed_msg, sizeof(v->failed_msg),
                 "replica %s failed on %s (%.120s); %d replaced so far, backing off: next "
                 "replacement in %lld s",
                 kube_obj_name(rep), node ? node : "no node", why ? why : "no message",
                 (int)ms->bo.failures, (long long)((wait + 999) / 1000));
        if (*requeue_ms > wait) *requeue_ms = wait;
        return 0;
    }
    snprintf(msg, sizeof(msg), "replica %s failed on %s (%.120s); replacing it (replacement %d)",
             kube_obj_name(rep), node ? node : "no node", why ? why : "no message",
             (int)ms->bo.failures + 1);
    rc = ctl_delete_replica(ctl, ms, rep, "failed");
    if (rc) return rc;
    op_backoff_replaced(&ms->bo, &spec, now);
    ctl_event(ctl, model, "Model", "Warning", "ReplicaFailed", msg);
    snprintf(ms->bo_msg, sizeof(ms->bo_msg), "%s", msg);
    snprintf(v->failed_msg, sizeof(v->failed_msg), "%s", msg);
    p->avoid = node;
    p->have--;
    *deleted = true;
    return 0;
}

/* --- ctl_reconcile_model, step by step -------------------------------------
 * Each step reads and fills one struct ctl_mrun; a step that ends the
 * reconcile early (cache behind, finalizing, invalid spec) sets done. */

struct ctl_mrun {
    struct op_ctl *ctl;
    const char *key, *ns, *name;
    int64_t now; /* wall clock, for status timestamps */
    int64_t *requeue_ms;
    cJSON *model, *revs, *reps, *created; /* owned */
    struct ctl_nodes *nodes;              /* owned */
    struct ctl_mstate *ms;                /* NULL when out of memory */
    const cJSON *target;                  /* revision of the current template */
    char sel[400];                        /* label selector of the Model's children */
    struct ctl_model_view v;
    struct op_rollout_step steps[OP_MAX_STEPS];
    struct op_rollout_spec rspec;
    struct op_rollout_observed obs;
    struct ctl_rev_plan plan[MAX_REVS];
    size_t n_plan;
    enum op_rollout_phase before; /* the rollout phase this reconcile started from */
    bool done;
};

/* The Model from the cache; a deleted one is forgotten, a deleting one
 * finalized, a new one given the finalizer. */
static int ctl_model_load(struct ctl_mrun *r)
{
    struct op_ctl *ctl = r->ctl;
    const char *key = r->key;
    struct ctl_mstate *ms;
    int rc;

    r->done = true;
    rc = kube_store_get(kube_informer_store(ctl->inf[INF_MODELS]), key, &r->model);
    if (rc == KUBE_ENOTFOUND) {
        ctl_mstate_drop(ctl, key);
        ctl_golden_take(ctl, key, -1, NULL, 0); /* forget a finished job */
        return 0;
    }
    if (rc) return rc;
    r->ns = kube_obj_namespace(r->model);
    r->name = kube_obj_name(r->model);
    if (!r->ns || !r->name) return 0;
    ms = r->ms = ctl_mstate_get(ctl, key);
    if (ms && ms->stale_rv[0] && kube_obj_rv(r->model) &&
        !strcmp(ms->stale_rv, kube_obj_rv(r->model)) && ctl_mono_ms() - ms->stale_ms < 5000) {
        *r->requeue_ms = 100; /* our last write has not reached the cache yet */
        return 0;
    }
    if (op_json_at(r->model, "metadata.deletionTimestamp"))
        return ctl_finalize(ctl, r->model, r->requeue_ms);
    if (!ctl_has_finalizer(r->model)) {
        rc = ctl_set_finalizer(ctl, r->model, true);
        r->v.wrote_model = rc == 0;
        return rc; /* the update brings us back */
    }
    r->done = false;
    return 0;
}

/* Replica count and revisions from the spec and status; a bad spec sets
 * Degraded=True InvalidSpec and changes nothing else. */
static int ctl_model_check(struct ctl_mrun *r)
{
    const cJSON *model = r->model;
    struct ctl_model_view *v = &r->v;
    struct op_model_view mv = {op_json_str(model, "spec.source.uri"),
                               op_json_str(model, "spec.source.sha256"),
                               op_json_at(model, "spec.autoscaling") != NULL,
                               (int32_t)op_json_int(model, "spec.autoscaling.minReplicas", 1),
                               (int32_t)op_json_int(model, "spec.autoscaling.maxReplicas", 1)};

    *r->requeue_ms = MODEL_RESYNC_MS;
    v->replicas = (int32_t)op_json_int(model, "spec.replicas", 1);
    if (v->replicas < 0) v->replicas = 0;
    v->stable = (int32_t)op_json_int(model, "status.stableRevision", 0);
    v->canary = (int32_t)op_json_int(model, "status.canaryRevision", 0);
    if (op_model_validate(&mv, v->invalid_msg, sizeof(v->invalid_msg)) ||
        op_plan_rollout_spec(model, v->replicas, r->steps, &r->rspec) ||
        op_rollout_spec_check(&r->rspec)) {
        if (!v->invalid_msg[0]) snprintf(v->invalid_msg, sizeof(v->invalid_msg), "bad rollout");
        v->invalid = true;
        v->rolling = v->canary > 0;
        r->done = true;
        return ctl_write_status(r->ctl, model, v, r->now);
    }
    return 0;
}

static void ctl_plan_add(struct ctl_mrun *r, int32_t rev, const cJSON *obj)
{
    struct ctl_rev_plan *plan = r->plan;
    size_t n_plan = r->n_plan;

    if (n_plan < MAX_REVS) {
        plan[n_plan].rev = rev;
        plan[n_plan].obj = obj;
        plan[n_plan].desired = plan[n_plan].have = plan[n_plan].ready = 0;
        plan[n_plan].avoid = NULL;
        r->n_plan++;
    }
}

/* Revisions: find the one for the current template, or create it. */
static int ctl_model_revisions(struct ctl_mrun *r)
{
    struct ctl_mstate *ms = r->ms;
    cJSON *it;
    int32_t max_rev = 0;
    int rc;

    snprintf(r->sel, sizeof(r->sel), "%s=%s", OP_LABEL_MODEL, r->name);
    rc = kube_store_list(kube_informer_store(r->ctl->inf[INF_REVS]), r->ns, r->sel, &r->revs);
    if (rc) return rc;
    cJSON_ArrayForEach(it, r->revs)
    {
        int32_t n = (int32_t)op_json_int(it, "spec.revision", 0);
        if (n > max_rev) max_rev = n;
        if (op_plan_same_template(r->model, it) &&
            (!r->target || n > op_json_int(r->target, "spec.revision", 0)))
            r->target = it;
        ctl_plan_add(r, n, it);
    }
    if (!r->target && ms && ms->rev_pending > 0 &&
        !ctl_plan_find(r->plan, r->n_plan, ms->rev_pending) &&
        ctl_mono_ms() - ms->rev_pending_ms < 5000) {
        *r->requeue_ms = 100; /* the revision we created is not in the cache yet */
        r->done = true;
        return 0;
    }
    if (!r->target) {
        int32_t n = max_rev;
        if (r->v.stable > n) n = r->v.stable;
        if (r->v.canary > n) n = r->v.canary;
        if (ms && ms->rev_pending > n) n = ms->rev_pending;
        rc = ctl_create_revision(r->ctl, r->model, n + 1, &r->created);
        if (rc == 0 && ms) {
            ms->rev_pending = n + 1;
            ms->rev_pending_ms = ctl_mono_ms();
        }
        if (rc == KUBE_EEXISTS) {
            *r->requeue_ms = 500; /* the cache is behind */
            r->done = true;
            return 0;
        }
        if (rc) return rc;
        r->target = r->created;
        ctl_plan_add(r, n + 1, r->created);
    }
    r->v.target = (int32_t)op_json_int(r->target, "spec.revision", 0);
    return 0;
}

/* Replicas: count per revision; the node table. */
static int ctl_model_count(struct ctl_mrun *r)
{
    struct ctl_nodes *nodes;
    cJSON *it;
    int rc;

    rc = kube_store_list(kube_informer_store(r->ctl->inf[INF_REPS]), r->ns, r->sel, &r->reps);
    if (rc) return rc;
    nodes = r->nodes = calloc(1, sizeof(*nodes));
    if (!nodes) return KUBE_ENOMEM;
    rc = ctl_nodes_load(r->ctl, nodes, r->ns, r->name);
    if (rc) return rc;
    cJSON_ArrayForEach(it, r->reps)
    {
        struct ctl_rev_plan *p =
            ctl_plan_find(r->plan, r->n_plan, (int32_t)op_json_int(it, "spec.revision", 0));
        const char *phase = op_json_str(it, "status.phase");
        int ni = ctl_nodes_find(nodes, op_json_str(it, "spec.nodeName"));
        if (!p || op_json_at(it, "metadata.deletionTimestamp")) continue;
        p->have++;
        if (phase && !strcmp(phase, "Ready") && ni >= 0 && nodes->n[ni].ready) p->ready++;
        if (phase && !strcmp(phase, "Failed")) {
            if (p->rev == r->v.canary && r->v.canary != r->v.stable) r->obs.canary_failed = true;
            r->v.failed = true;
        }
    }
    return 0;
}

/* Which revisions are stable and canary: a new template starts a rollout,
 * a template back to the stable one drops the canary, otherwise the
 * persisted rollout state is restored. */
static void ctl_model_pick(struct ctl_mrun *r)
{
    struct op_ctl *ctl = r->ctl;
    const cJSON *model = r->model;
    struct ctl_model_view *v = &r->v;
    struct ctl_rev_plan *plan = r->plan;
    size_t n_plan = r->n_plan;
    int64_t now = r->now;
    char msg[512];

    r->before = OP_ROLLOUT_IDLE;
    if (v->stable == 0 || !ctl_plan_find(plan, n_plan, v->stable)) {
        v->stable = v->target;
        v->canary = 0;
    } else if (v->target == v->stable) {
        if (v->canary > 0) {
            snprintf(msg, sizeof(msg), "spec is back to revision %d; canary %d dropped",
                     (int)v->stable, (int)v->canary);
            ctl_event(ctl, model, "Model", "Normal", "RolloutCanceled", msg);
            ctl_revision_outcome(ctl, ctl_plan_find(plan, n_plan, v->canary)->obj, "Superseded",
                                 "RolloutCanceled", now);
        }
        v->canary = 0;
    } else if (v->canary != v->target) {
        if (v->canary > 0 && ctl_plan_find(plan, n_plan, v->canary))
            ctl_revision_outcome(ctl, ctl_plan_find(plan, n_plan, v->canary)->obj, "Superseded",
                                 "NewerRevision", now);
        v->canary = v->target;
        v->starting = true;
        op_rollout_start(&v->st, now);
        atomic_fetch_add(&ctl->rollouts, 1);
        snprintf(msg, sizeof(msg), "rollout of revision %d started (stable %d, %zu steps)",
                 (int)v->canary, (int)v->stable, r->rspec.n_steps);
        ctl_event(ctl, model, "Model", "Normal", "RolloutStarted", msg);
        ctl_revision_outcome(ctl, r->target, "Active", "Canary", now);
        v->analysis = cJSON_CreateObject(); /* a new rollout starts with no failed checks */
        if (v->analysis) {
            cJSON_AddNumberToObject(v->analysis, "failedChecks", 0);
            cJSON_AddStringToObject(v->analysis, "message", "rollout started");
        }
    } else {
        op_plan_rollout_state(model, &r->rspec, &v->st);
        r->before = v->st.phase;
    }
    v->rolling = v->canary > 0;
}

/* The rollout's decision (v->d) from the ready counts, the annotations and
 * the canary analysis. */
static int ctl_model_rollout_eval(struct ctl_mrun *r, const struct ctl_rev_plan *sp,
                                  const struct ctl_rev_plan *cp)
{
    struct op_ctl *ctl = r->ctl;
    const cJSON *model = r->model;
    struct ctl_model_view *v = &r->v;
    struct op_rollout_observed *obs = &r->obs;
    char msg[512];
    int rc;

    if (v->starting) r->before = OP_ROLLOUT_PROGRESSING;
    obs->stable_ready = sp ? sp->ready : 0;
    obs->canary_ready = cp ? cp->ready : 0;
    obs->promote_requested = ctl_annotation(model, OP_ANN_PROMOTE) != NULL;
    obs->abort_requested = ctl_annotation(model, OP_ANN_ABORT) != NULL;
    obs->analysis_abort = false;
    if (v->st.phase != OP_ROLLOUT_ABORTED)
        ctl_analyse(ctl, model, r->key, r->reps, r->nodes, v, obs->canary_failed,
                    &obs->analysis_abort, r->requeue_ms);
    if (v->st.phase == OP_ROLLOUT_ABORTED) {
        memset(&v->d, 0, sizeof(v->d));
        v->d.stable_replicas = v->replicas;
    } else {
        int32_t step0 = v->st.step;
        rc = op_rollout_eval(&r->rspec, &v->st, obs, r->now, &v->d);
        if (rc) return rc;
        if (v->d.steps_advanced > 0 || v->st.step != step0) {
            snprintf(msg, sizeof(msg), "revision %d: step %d of %zu, weight %d", (int)v->canary,
                     (int)v->st.step, r->rspec.n_steps, (int)v->d.weight);
            ctl_event(ctl, model, "Model", "Normal", "StepAdvanced", msg);
        }
        if (v->d.promote_consumed) {
            ctl_event(ctl, model, "Model", "Normal", "PromoteRequested",
                      "kubectl kllm promote: pause skipped");
            v->wrote_model |= ctl_clear_annotation(ctl, r->ns, r->name, OP_ANN_PROMOTE) == 0;
        }
        if (v->d.requeue_after_ms > 0 && v->d.requeue_after_ms < *r->requeue_ms)
            *r->requeue_ms = v->d.requeue_after_ms;
    }
    return 0;
}

/* What the decision changed: promotion, rollback or pause (Events,
 * counters, revision outcomes); the abort annotation is consumed. */
static void ctl_model_rollout_outcome(struct ctl_mrun *r, const struct ctl_rev_plan *sp,
                                      const struct ctl_rev_plan *cp)
{
    struct op_ctl *ctl = r->ctl;
    const cJSON *model = r->model;
    struct ctl_model_view *v = &r->v;
    enum op_rollout_phase before = r->before;
    int64_t now = r->now;
    char msg[512];

    if (v->st.phase == OP_ROLLOUT_COMPLETE) {
        snprintf(msg, sizeof(msg), "revision %d is now stable (was %d)", (int)v->canary,
                 (int)v->stable);
        ctl_event(ctl, model, "Model", "Normal", "Promoted", msg);
        atomic_fetch_add(&ctl->promotions, 1);
        if (sp) ctl_revision_outcome(ctl, sp->obj, "Superseded", "Promoted", now);
        if (cp) ctl_revision_outcome(ctl, cp->obj, "Promoted", "RolloutComplete", now);
        v->stable = v->canary;
        v->canary = 0;
        v->rolling = false;
        memset(&v->d, 0, sizeof(v->d));
        v->d.stable_replicas = v->replicas;
    } else if (v->st.phase == OP_ROLLOUT_ABORTED && before != OP_ROLLOUT_ABORTED) {
        snprintf(msg, sizeof(msg), "revision %d rolled back: %s", (int)v->canary,
                 op_rollout_reason_name(v->st.reason));
        ctl_event(ctl, model, "Model", "Warning", "RolledBack", msg);
        atomic_fetch_add(&ctl->rollbacks, 1);
        if (cp)
            ctl_revision_outcome(ctl, cp->obj, "RolledBack", op_rollout_reason_name(v->st.reason),
                                 now);
    } else if (v->st.phase == OP_ROLLOUT_PAUSED && before != OP_ROLLOUT_PAUSED) {
        snprintf(msg, sizeof(msg), "revision %d paused at step %d: waiting for promote",
                 (int)v->canary, (int)v->st.step);
        ctl_event(ctl, model, "Model", "Normal", "RolloutPaused", msg);
    }
    if (r->obs.abort_requested)
        v->wrote_model |= ctl_clear_annotation(ctl, r->ns, r->name, OP_ANN_ABORT) == 0;
}

/* The rollout step and each revision's desired replicas. */
static int ctl_model_rollout(struct ctl_mrun *r)
{
    struct ctl_model_view *v = &r->v;
    int rc;

    if (v->rolling) {
        struct ctl_rev_plan *sp = ctl_plan_find(r->plan, r->n_plan, v->stable);
        struct ctl_rev_plan *cp = ctl_plan_find(r->plan, r->n_plan, v->canary);
        rc = ctl_model_rollout_eval(r, sp, cp);
        if (rc) return rc;
        ctl_model_rollout_outcome(r, sp, cp);
    } else {
        memset(&v->d, 0, sizeof(v->d));
        v->d.stable_replicas = v->replicas;
        if (ctl_annotation(r->model, OP_ANN_PROMOTE))
            v->wrote_model |= ctl_clear_annotation(r->ctl, r->ns, r->name, OP_ANN_PROMOTE) == 0;
        if (ctl_annotation(r->model, OP_ANN_ABORT))
            v->wrote_model |= ctl_clear_annotation(r->ctl, r->ns, r->name, OP_ANN_ABORT) == 0;
    }
    for (size_t i = 0; i < r->n_plan; i++) {
        if (r->plan[i].rev == v->stable) r->plan[i].desired = v->d.stable_replicas;
        if (v->rolling && r->plan[i].rev == v->canary) r->plan[i].desired = v->d.canary_replicas;
    }
    return 0;
}

/* Whether the Model's published status still routes traffic to rev while
 * this reconcile's decision no longer does (a promotion, a rollback).
 * Agents route by that status; deleting the revision's replicas before
 * they see the new one would leave them choosing a revision with nothing
 * to serve it, so the deletion waits for the next pass, after the status
 * write. */
static bool ctl_rev_still_routed(const cJSON *model, const struct ctl_model_view *v, int32_t rev)
{
    bool published = op_json_int(model, "status.stableRevision", 0) == rev ||
                     (op_json_int(model, "status.canaryRevision", 0) == rev &&
                      op_json_int(model, "status.canaryWeight", 0) > 0);
    bool routed = v->stable == rev || (v->rolling && v->canary == rev && v->d.weight > 0);
    return rev > 0 && published && !routed;
}

/* Deletes what is not wanted or lost with its node and replaces a Failed
 * stable replica; the replicas left go into keep. */
static int ctl_model_prune(struct ctl_mrun *r, const cJSON **keep, size_t cap, size_t *n_keep,
                           bool *stable_failed)
{
    struct op_ctl *ctl = r->ctl;
    struct ctl_model_view *v = &r->v;
    struct ctl_mstate *ms = r->ms;
    struct ctl_nodes *nodes = r->nodes;
    cJSON *it;
    char msg[512];
    int rc;

    if (ms && ms->bo_rev != v->stable) {
        ms->bo_rev = v->stable;
        op_backoff_init(&ms->bo);
        ms->bo_msg[0] = '\0';
    }
    cJSON_ArrayForEach(it, r->reps)
    {
        struct ctl_rev_plan *p =
            ctl_plan_find(r->plan, r->n_plan, (int32_t)op_json_int(it, "spec.revision", 0));
        const char *node = op_json_str(it, "spec.nodeName");
        const char *phase = op_json_str(it, "status.phase");
        int ni = ctl_nodes_find(nodes, node);
        if (op_json_at(it, "metadata.deletionTimestamp")) continue;
        if (!p || p->desired == 0) {
            if (ctl_rev_still_routed(r->model, v, (int32_t)op_json_int(it, "spec.revision", 0))) {
                if (*r->requeue_ms > 200) *r->requeue_ms = 200; /* after the status write */
                continue;
            }
            rc = ctl_delete_replica(ctl, r->ms, it, "revision scaled to 0");
            if (p) p->have--;
            if (rc) return rc;
            continue;
        }
        if (ms && p->rev == v->stable && !(v->rolling && p->rev == v->canary) && phase &&
            !strcmp(phase, "Failed")) {
            bool deleted = false;
            *stable_failed = true;
            rc = ctl_replace_failed(ctl, r->model, ms, it, p, v, r->requeue_ms, &deleted);
            if (rc) return rc;
            if (deleted) continue;
        }
        if (node &&
            (ni < 0 || nodes->age_ms[ni] > ctl->o.node_lease_timeout_ms + ctl->o.node_grace_ms)) {
            snprintf(msg, sizeof(msg), "replica %s lost with node %s; rescheduling",
                     kube_obj_name(it), node);
            ctl_event(ctl, r->model, "Model", "Warning", "ReplicaRescheduled", msg);
            rc = ctl_delete_replica(ctl, r->ms, it, "node lost");
            if (rc) return rc;
            p->have--;
            continue;
        }
        if (*n_keep < cap) keep[(*n_keep)++] = it;
    }
    return 0;
}

/* Scales each revision to its desired count: deletes the excess (see
 * ctl_victim_cmp), creates the missing replicas under free names. */
static int ctl_model_scale(struct ctl_mrun *r, const cJSON **keep, size_t n_keep)
{
    struct ctl_model_view *v = &r->v;
    int rc;

    for (size_t i = 0; i < r->n_plan; i++) {
        struct ctl_rev_plan *p = &r->plan[i];
        int32_t excess = p->have - p->desired;
        for (size_t k = 0; k < n_keep && excess > 0; k++) {
            if ((int32_t)op_json_int(keep[k], "spec.revision", 0) != p->rev) continue;
            rc = ctl_delete_replica(r->ctl, r->ms, keep[k], "scale down");
            if (rc) return rc;
            keep[k] = NULL;
            excess--;
            p->have--;
        }
        for (int32_t idx = 0; p->have < p->desired && idx < 10000; idx++) {
            char rname[300];
            snprintf(rname, sizeof(rname), "%s-%d-%d", r->name, (int)p->rev, (int)idx);
            if (ctl_reps_have(r->reps, "metadata.name", rname)) continue;
            rc = ctl_create_replica(r->ctl, r->model, p, idx, r->nodes, v->unsched_msg,
                                    sizeof(v->unsched_msg));
            if (rc) return rc;
            ctl_expect(r->ms, true, rname);
            if (v->unsched_msg[0]) v->unschedulable = true;
            p->have++;
        }
    }
    return 0;
}

/* Replicas: delete what is not wanted or lost with its node; create the
 * missing ones; bind unbound ones. */
static int ctl_model_replicas(struct ctl_mrun *r)
{
    struct op_ctl *ctl = r->ctl;
    struct ctl_model_view *v = &r->v;
    struct ctl_mstate *ms = r->ms;
    const cJSON *keep[1024];
    size_t n_keep = 0;
    bool stable_failed = false;
    int rc;

    if (!ctl_expect_met(ms, r->reps)) {
        if (*r->requeue_ms > 200) *r->requeue_ms = 200; /* our writes are not cached yet */
        return 0;
    }
    rc = ctl_model_prune(r, keep, sizeof(keep) / sizeof(keep[0]), &n_keep, &stable_failed);
    if (rc) return rc;
    qsort(keep, n_keep, sizeof(keep[0]), ctl_victim_cmp);
    rc = ctl_model_scale(r, keep, n_keep);
    if (rc) return rc;
    if (ms && !stable_failed) {
        struct op_backoff_spec bspec;
        struct ctl_rev_plan *sp = ctl_plan_find(r->plan, r->n_plan, v->stable);
        op_backoff_spec_default(&bspec);
        op_backoff_healthy(&ms->bo, &bspec, ctl_mono_ms());
        /* Degraded until the replacement is Ready, not only while a
         * replica is Failed, so the condition does not flap. */
        if (ms->bo.failures > 0 && ms->bo_msg[0] && sp && sp->ready < sp->desired) {
            v->failed = true;
            snprintf(v->failed_msg, sizeof(v->failed_msg), "%s", ms->bo_msg);
        }
    }
    for (size_t k = 0; k < n_keep; k++) {
        if (!keep[k] || op_json_str(keep[k], "spec.nodeName")) continue;
        rc = ctl_bind_replica(ctl, r->model, keep[k], r->nodes, v->unsched_msg,
                              sizeof(v->unsched_msg));
        if (rc) return rc;
        if (v->unsched_msg[0]) v->unschedulable = true;
    }
    if (v->unschedulable) {
        ctl_event(ctl, r->model, "Model", "Warning", "FailedScheduling", v->unsched_msg);
        if (*r->requeue_ms > 5000) *r->requeue_ms = 5000;
    }
    return 0;
}

/* Totals of the serving revisions, revision GC, the autoscaler, status. */
static int ctl_model_finish(struct ctl_mrun *r)
{
    struct ctl_model_view *v = &r->v;

    for (size_t i = 0; i < r->n_plan; i++) {
        if (r->plan[i].rev != v->stable && !(v->rolling && r->plan[i].rev == v->canary)) continue;
        v->have += r->plan[i].have;
        v->ready += r->plan[i].ready;
    }
    ctl_revision_gc(r->ctl, r->model, r->plan, r->n_plan, v);
    if (op_json_at(r->model, "spec.autoscaling"))
        ctl_autoscale(r->ctl, r->model, r->key, r->reps, r->nodes, v, r->requeue_ms);
    return ctl_write_status(r->ctl, r->model, v, r->now);
}

int ctl_reconcile_model(struct op_ctl *ctl, const char *key, int64_t *requeue_ms)
{
    struct ctl_mrun r;
    int rc;

    memset(&r, 0, sizeof(r));
    r.ctl = ctl;
    r.key = key;
    r.requeue_ms = requeue_ms;
    r.now = ctl_now_ms();
    rc = ctl_model_load(&r);
    if (rc || r.done) goto out;
    rc = ctl_model_check(&r);
    if (rc || r.done) goto out;
    rc = ctl_model_revisions(&r);
    if (rc || r.done) goto out;
    rc = ctl_model_count(&r);
    if (rc) goto out;
    ctl_model_pick(&r);
    rc = ctl_model_rollout(&r);
    if (rc) goto out;
    rc = ctl_model_replicas(&r);
    if (rc) goto out;
    rc = ctl_model_finish(&r);
out:
    if (r.ms && r.v.wrote_model && kube_obj_rv(r.model)) {
        snprintf(r.ms->stale_rv, sizeof(r.ms->stale_rv), "%s", kube_obj_rv(r.model));
        r.ms->stale_ms = ctl_mono_ms();
    }
    cJSON_Delete(r.v.analysis);
    cJSON_Delete(r.v.autoscaling);
    if (r.nodes) cJSON_Delete(r.nodes->inodes);
    free(r.nodes);
    cJSON_Delete(r.created);
    cJSON_Delete(r.reps);
    cJSON_Delete(r.revs);
    cJSON_Delete(r.model);
    return rc;
}
