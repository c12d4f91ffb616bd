/* controller.c: informers, work queue and the Model / node reconcilers of
 * kllm-operator (see op_ctl.h). The decisions come from op_rollout,
 * op_schedule and op_plan; this file reads the caches, calls them and
 * writes the results to the API server. */
#include "op_ctl.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "klog.h"
#include "kube/events.h"
#include "kube/informer.h"
#include "kube/queue.h"
#include "op_backoff.h"
#include "op_core.h"
#include "op_plan.h"
#include "op_rollout.h"
#include "op_schedule.h"
#include "op_scrape.h"
#include "op_scraper.h"
#include "op_spec.h"

#define NODES_KEY "!nodes"
#define NODE_SWEEP_MS 5000
#define MODEL_RESYNC_MS 10000
#define MAX_REVS 64
#define MAX_NODES 512
#define MAX_SHA 32

static const struct kube_resource r_models = {"kllm.io", "v1alpha1", "models", 1};
static const struct kube_resource r_revisions = {"kllm.io", "v1alpha1", "modelrevisions", 1};
static const struct kube_resource r_replicas = {"kllm.io", "v1alpha1", "modelreplicas", 1};
static const struct kube_resource r_inodes = {"kllm.io", "v1alpha1", "inferencenodes", 0};
static const struct kube_resource r_leases = {"coordination.k8s.io", "v1", "leases", 1};

enum { INF_MODELS, INF_REVS, INF_REPS, INF_NODES, INF_LEASES, INF_N };

#define SCALE_SAMPLE_MS 2000
/* Scraping (op_scraper): every 2 s (DESIGN.md §3.5), 1 s per fetch; a page
 * older than 3 periods plus a timeout is stale; an endpoint no reconcile
 * asked for during 30 s is no longer scraped. */
#define SCRAPE_PERIOD_MS 2000
#define SCRAPE_TIMEOUT_MS 1000
#define SCRAPE_MAX_AGE_MS (3 * SCRAPE_PERIOD_MS + SCRAPE_TIMEOUT_MS)
#define SCRAPE_IDLE_MS 30000
#define SCRAPE_MAX_BYTES (4u << 20)
#define SCRAPE_PENDING_RETRY_MS 500
#define GOLDEN_TIMEOUT_MS 10000L

/* What the worker remembers per Model between reconciles: the autoscaler's
 * samples and the previous scrape of each revision for analysis deltas.
 * Lost on restart or hand-over, which only delays the next decision. */
struct ctl_mstate {
    char key[600];
    struct op_autoscaler as;
    int64_t as_last_ms; /* monotonic time of the last autoscaler sample */
    double tok_prev;    /* generated tokens at the last sample (tokensPerSecond) */
    int64_t tok_prev_ms;
    bool tok_have;
    int32_t an_canary, an_stable; /* revisions an_prev_* belong to */
    struct op_agent_sample an_prev_c, an_prev_s;
    bool an_have_prev;
    int64_t an_last_ms;
    int64_t an_fetched_c; /* newest canary page used by the last run */
    /* The cache lags behind our own writes. After writing the Model we
     * remember the resourceVersion we had read; seeing it again means the
     * cache has not caught up, and acting on it would redo what we did
     * (start the same rollout twice). Same for a revision we created. */
    char stale_rv[64];
    int64_t stale_ms;
    int scaling; /* last ScalingActive verdict, 0 before the first decision */
    char scaling_msg[400];
    int32_t rev_pending;
    int64_t rev_pending_ms;
    /* Replacement of Failed replicas of the stable revision bo_rev. */
    int32_t bo_rev;
    struct op_backoff bo;
    char bo_msg[400]; /* the last replacement, for the Degraded condition */
    struct ctl_mstate *next;
};

/* One golden-prompt run against a Model's canary: submitted by the worker
 * at an analysis run, run by the golden thread, its verdict taken by the
 * worker at the next run. The worker unlinks and frees only done jobs, so
 * the golden thread reads a started job's fields without the lock. */
struct ctl_gjob {
    char key[600];
    int32_t rev;
    char endpoint[300];
    cJSON *prompts; /* [{prompt, expect, body}], owned */
    bool started, done;
    enum op_golden_result result;
    char why[200];
    struct ctl_gjob *next;
};

struct op_ctl {
    struct kube_client *c;
    struct op_ctl_opts o;
    char *ns, *identity, *endpoint;
    char *api_key; /* bearer token for the agents' /v1 API; NULL: none */
    struct kube_informer *inf[INF_N];
    struct kube_queue *q;
    struct kube_recorder *rec;
    struct op_scrape_cache *scache; /* any thread */
    struct op_scraper *scraper;     /* runs while leading */
    /* Golden prompts (ctl_golden_*): their own thread while leading, one
     * job per Model at a time. */
    pthread_t golden;
    bool golden_running, gsync_ok;
    pthread_mutex_t gmu;
    pthread_cond_t gcv;
    bool gstop;             /* under gmu */
    struct ctl_gjob *gjobs; /* under gmu */
    atomic_int gabort;      /* set on stop: aborts the request in flight */
    pthread_t worker;
    bool worker_running;
    struct op_liveness live;    /* worker thread only */
    struct ctl_mstate *mstates; /* worker thread only */
    atomic_ullong reconciles, reconcile_errors, reconcile_us, rollouts, promotions, rollbacks,
        replicas_created, replicas_deleted, nodes_not_ready, scale_decisions;
    atomic_int leading;
    atomic_ullong reconcile_le[8]; /* histogram: counts per RECONCILE_LE bound */
};

/* Upper bounds (seconds) of kllm_operator_reconcile_duration_seconds. */
static const double RECONCILE_LE[8] = {0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10};

static int64_t ctl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t ctl_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *ctl_label(const cJSON *obj, const char *key)
{
    const cJSON *labels = op_json_at(obj, "metadata.labels");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *ctl_annotation(const cJSON *obj, const char *key)
{
    const cJSON *a = op_json_at(obj, "metadata.annotations");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* --- event handlers: map every object to the Model key it affects ------- */

static void ctl_enqueue_model_of(struct op_ctl *ctl, const cJSON *obj)
{
    const char *ns = kube_obj_namespace(obj), *m = ctl_label(obj, OP_LABEL_MODEL);
    char key[600];
    if (!ns || !m) return;
    snprintf(key, sizeof(key), "%s/%s", ns, m);
    kube_queue_add(ctl->q, key);
}

static void ctl_enqueue_all_models(struct op_ctl *ctl)
{
    cJSON *keys = NULL, *k;
    if (kube_store_keys(kube_informer_store(ctl->inf[INF_MODELS]), &keys)) return;
    cJSON_ArrayForEach(k, keys)
    {
        if (cJSON_IsString(k)) kube_queue_add(ctl->q, k->valuestring);
    }
    cJSON_Delete(keys);
}

static void on_model(void *ud, const cJSON *obj)
{
    struct op_ctl *ctl = ud;
    char key[600];
    if (kube_obj_key(obj, key, sizeof(key)) == 0) kube_queue_add(ctl->q, key);
}
static void on_model_upd(void *ud, const cJSON *o, const cJSON *n)
{
    (void)o;
    on_model(ud, n);
}
static void on_child(void *ud, const cJSON *obj)
{
    ctl_enqueue_model_of(ud, obj);
}
static void on_child_upd(void *ud, const cJSON *o, const cJSON *n)
{
    ctl_enqueue_model_of(ud, n);
    if (o != n) ctl_enqueue_model_of(ud, o);
}
static void on_node(void *ud, const cJSON *obj)
{
    struct op_ctl *ctl = ud;
    (void)obj;
    ctl_enqueue_all_models(ctl);
}
static void on_node_upd(void *ud, const cJSON *o, const cJSON *n)
{
    (void)o;
    on_node(ud, n);
}

static void ctl_kube_log(void *ud, enum kube_log_level lvl, const char *msg, const char *const *kv)
{
    (void)ud;
    klog_kv((enum klog_level)lvl, "kube", msg, kv);
}

/* --- life cycle ---------------------------------------------------------- */

int op_ctl_new(struct kube_client *c, const struct op_ctl_opts *o, struct op_ctl **out)
{
    struct op_ctl *ctl = NULL;
    int rc = KUBE_ENOMEM;
    const struct kube_resource *res[INF_N] = {&r_models, &r_revisions, &r_replicas, &r_inodes,
                                              &r_leases};
    char ep[512];

    if (!c || !o || !o->ns || !out) return KUBE_EINVAL;
    ctl = calloc(1, sizeof(*ctl));
    if (!ctl) goto out;
    ctl->c = c;
    ctl->o = *o;
    snprintf(ep, sizeof(ep), "http://kllm-agent.%s:8080/v1", o->ns);
    ctl->ns = strdup(o->ns);
    ctl->identity = strdup(o->identity ? o->identity : "kllm-operator");
    ctl->endpoint = strdup(o->endpoint ? o->endpoint : ep);
    ctl->api_key = o->api_key ? strdup(o->api_key) : NULL;
    if (!ctl->ns || !ctl->identity || !ctl->endpoint || (o->api_key && !ctl->api_key)) goto out;
    ctl->o.ns = ctl->ns;
    op_liveness_init(&ctl->live);
    rc = kube_queue_new(NULL, &ctl->q);
    if (rc) goto out;
    rc = kube_recorder_new(c, "kllm-operator", ctl->identity, &ctl->rec);
    if (rc) goto out;
    {
        struct op_scrape_cache_opts co = {SCRAPE_MAX_AGE_MS, SCRAPE_IDLE_MS};
        struct op_scraper_opts so;
        rc = KUBE_ENOMEM;
        ctl->scache = op_scrape_cache_new(&co);
        if (!ctl->scache) goto out;
        so.cache = ctl->scache;
        so.period_ms = SCRAPE_PERIOD_MS;
        so.timeout_ms = SCRAPE_TIMEOUT_MS;
        so.max_bytes = SCRAPE_MAX_BYTES;
        ctl->scraper = op_scraper_new(&so);
        if (!ctl->scraper) goto out;
    }
    if (pthread_mutex_init(&ctl->gmu, NULL)) goto out;
    if (pthread_cond_init(&ctl->gcv, NULL)) {
        pthread_mutex_destroy(&ctl->gmu);
        goto out;
    }
    ctl->gsync_ok = true;
    for (int i = 0; i < INF_N; i++) {
        struct kube_informer_opts io;
        memset(&io, 0, sizeof(io));
        io.resource = *res[i];
        io.log.fn = ctl_kube_log;
        io.handlers.ud = ctl;
        if (i == INF_MODELS) {
            io.handlers.on_add = on_model;
            io.handlers.on_update = on_model_upd;
            io.handlers.on_delete = on_model;
            io.resync_ns = 30 * KUBE_SEC;
        } else if (i == INF_REVS || i == INF_REPS) {
            io.handlers.on_add = on_child;
            io.handlers.on_update = on_child_upd;
            io.handlers.on_delete = on_child;
        } else if (i == INF_NODES) {
            io.handlers.on_add = on_node;
            io.handlers.on_update = on_node_upd;
            io.handlers.on_delete = on_node;
        } else {
            io.ns = ctl->ns; /* Leases: only our namespace (RBAC) */
        }
        rc = kube_informer_new(c, &io, &ctl->inf[i]);
        if (rc) goto out;
    }
    *out = ctl;
    ctl = NULL;
    rc = 0;
out:
    op_ctl_free(ctl);
    return rc;
}

int op_ctl_start(struct op_ctl *ctl)
{
    for (int i = 0; i < INF_N; i++) {
        int rc = kube_informer_start(ctl->inf[i]);
        if (rc) return rc;
    }
    return 0;
}

int op_ctl_synced(struct op_ctl *ctl)
{
    for (int i = 0; i < INF_N; i++)
        if (!kube_informer_has_synced(ctl->inf[i])) return 0;
    return 1;
}

/* --- writing helpers ------------------------------------------------------ */

static void ctl_event(struct op_ctl *ctl, const cJSON *obj, const char *kind, const char *type,
                      const char *reason, const char *msg)
{
    struct kube_object_ref ref = {"kllm.io/v1alpha1", kind, kube_obj_namespace(obj),
                                  kube_obj_name(obj), op_json_str(obj, "metadata.uid")};
    const char *kv[] = {"kind",    kind, "name", kube_obj_name(obj), "reason", reason,
                        "message", msg,  NULL};
    if (!ref.ns) ref.ns = ctl->ns;
    klog_kv(strcmp(type, "Warning") == 0 ? KLOG_WARN : KLOG_INFO, "operator", "event", kv);
    kube_recorder_event(ctl->rec, &ref, type, reason, msg);
}

static void ctl_log_err(const char *what, const char *name, int rc, const struct kube_status *st)
{
    const char *kv[] = {"name", name, "error", kube_strerror(rc), "message", st ? st->message : "",
                        NULL};
    klog_kv(KLOG_WARN, "operator", what, kv);
}

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
        rc = kube_patch_merge(ctl->c, &r_models, ns, name, NULL, p, NULL, &st);
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
    rc = kube_patch_merge(ctl->c, &r_models, kube_obj_namespace(model), kube_obj_name(model), NULL,
                          p, NULL, &st);
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

static int ctl_delete_replica(struct op_ctl *ctl, const cJSON *rep, const char *why)
{
    struct kube_status st;
    int rc = kube_delete(ctl->c, &r_replicas, kube_obj_namespace(rep), kube_obj_name(rep),
                         op_json_str(rep, "metadata.uid"), NULL, &st);
    const char *kv[] = {"replica", kube_obj_name(rep), "why", why, NULL};
    if (rc == KUBE_ENOTFOUND || rc == KUBE_ECONFLICT) return 0; /* gone or replaced already */
    if (rc) {
        ctl_log_err("delete replica", kube_obj_name(rep), rc, &st);
        return rc;
    }
    klog_kv(KLOG_INFO, "operator", "replica deleted", kv);
    atomic_fetch_add(&ctl->replicas_deleted, 1);
    return 0;
}

/* --- the node table for the scheduler ------------------------------------ */

struct ctl_nodes {
    struct op_node n[MAX_NODES];
    const char *sha[MAX_NODES][MAX_SHA];
    int64_t age_ms[MAX_NODES]; /* Lease age, -1 unknown */
    size_t len;
    cJSON *inodes; /* owns the strings the table borrows */
};

static bool ctl_node_stale(const struct op_ctl *ctl, int64_t age_ms)
{
    return age_ms > ctl->o.node_lease_timeout_ms;
}

/* Fills t from the caches; usage from every bound replica (all namespaces);
 * model_replicas counts those of model ns/name. t->inodes (the JSON the
 * table borrows from) is the caller's to free, on error too. */
static int ctl_nodes_load(struct op_ctl *ctl, struct ctl_nodes *t, const char *ns,
                          const char *model)
{
    cJSON *reps = NULL, *it;
    int rc;
    int64_t now = ctl_mono_ms();

    memset(t->age_ms, 0, sizeof(t->age_ms));
    t->len = 0;
    t->inodes = NULL;
    rc = kube_store_list(kube_informer_store(ctl->inf[INF_NODES]), NULL, NULL, &t->inodes);
    if (rc) return rc;
    cJSON_ArrayForEach(it, t->inodes)
    {
        if (t->len >= MAX_NODES) break;
        if (op_plan_node(it, &t->n[t->len], t->sha[t->len], MAX_SHA)) continue;
        t->age_ms[t->len] = op_liveness_age(&ctl->live, t->n[t->len].name, now);
        if (ctl_node_stale(ctl, t->age_ms[t->len])) t->n[t->len].ready = false;
        t->len++;
    }
    rc = kube_store_list(kube_informer_store(ctl->inf[INF_REPS]), NULL, NULL, &reps);
    if (rc) return rc;
    cJSON_ArrayForEach(it, reps)
    {
        const char *node = op_json_str(it, "spec.nodeName");
        int64_t cpu, mem;
        if (!node || op_json_at(it, "metadata.deletionTimestamp")) continue;
        for (size_t i = 0; i < t->len; i++) {
            if (strcmp(t->n[i].name, node) != 0) continue;
            op_plan_requests(it, &cpu, &mem);
            t->n[i].used_cpu_milli += cpu;
            t->n[i].used_mem_bytes += mem;
            if (kube_obj_namespace(it) && strcmp(kube_obj_namespace(it), ns) == 0 &&
                op_json_str(it, "spec.model") && strcmp(op_json_str(it, "spec.model"), model) == 0)
                t->n[i].model_replicas++;
        }
    }
    cJSON_Delete(reps);
    return 0;
}

static int ctl_nodes_find(const struct ctl_nodes *t, const char *name)
{
    for (size_t i = 0; name && i < t->len; i++)
        if (strcmp(t->n[i].name, name) == 0) return (int)i;
    return -1;
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
        rc = ctl_delete_replica(ctl, it, "model deleted");
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
    if (kube_patch_merge(ctl->c, &r_revisions, kube_obj_namespace(rev), kube_obj_name(rev),
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
    rc = kube_create(ctl->c, &r_revisions, kube_obj_namespace(model), obj, out, &st);
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
    if (kube_patch_merge(ctl->c, &r_replicas, ns, name, "status", p, NULL, &st))
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
    rc = kube_create(ctl->c, &r_replicas, kube_obj_namespace(model), obj, NULL, &st);
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
    rc = kube_patch_merge(ctl->c, &r_replicas, kube_obj_namespace(rep), kube_obj_name(rep), NULL, p,
                          NULL, &st);
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

struct ctl_model_view {
    int32_t replicas;
    int32_t stable, canary, target;
    struct op_rollout_state st;
    struct op_rollout_decision d;
    bool rolling, starting, invalid, unschedulable, failed;
    char invalid_msg[256], unsched_msg[256], failed_msg[400];
    int32_t have, ready;
    cJSON *analysis, *autoscaling; /* new status.analysis / .autoscaling, or NULL: keep */
    bool wrote_model;              /* the Model was written: the cache is behind */
    int scaling;                   /* autoscaler: 0 off, 1 active, -1 metrics missing */
    char scaling_msg[400];
};

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
    rc = kube_patch_merge(ctl->c, &r_models, kube_obj_namespace(model), kube_obj_name(model),
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

/* --- per-Model memory, scraping, analysis, autoscaling ------------------------ */

static struct ctl_mstate *ctl_mstate_get(struct op_ctl *ctl, const char *key)
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

struct ctl_buf {
    char *p;
    size_t len, cap;
};

static size_t ctl_buf_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct ctl_buf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n + 1 > b->cap) return 0; /* over the cap: the transfer fails */
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

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

/* curl progress callback: aborts the transfer once *ud is set (stop). */
static int ctl_complete_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                                 curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    return atomic_load((atomic_int *)ud) != 0; /* non-zero aborts the transfer */
}

/* POST body to http://endpoint/v1/completions pinned to the canary, with
 * the agents' API key when there is one; the response body (caller frees)
 * on HTTP 200, else NULL with *http the code (0: no answer, or
 * aborted because *abort_flag was set). */
static char *ctl_complete(const char *endpoint, const char *api_key, const char *body,
                          atomic_int *abort_flag, long *http)
{
    char auth[1100];
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    struct ctl_buf b = {NULL, 0, 1u << 20};
    char url[600];
    char *out = NULL;

    *http = 0;
    if (!h) return NULL;
    b.p = malloc(b.cap);
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    hdr = hdr ? curl_slist_append(hdr, "X-Kllm-Revision: canary") : NULL;
    if (hdr && api_key) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", api_key);
        hdr = curl_slist_append(hdr, auth);
    }
    if (!b.p || !hdr) goto out;
    b.p[0] = '\0';
    snprintf(url, sizeof(url), "%s%s/v1/completions", strstr(endpoint, "://") ? "" : "http://",
             endpoint);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, ctl_buf_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, GOLDEN_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, ctl_complete_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, abort_flag);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, http);
    if (*http == 200) {
        out = b.p;
        b.p = NULL;
    }
out:
    free(b.p);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return out;
}

/* --- golden prompts, on their own thread ---------------------------------
 * A canary that hangs on /v1/completions costs the golden thread a timeout
 * (GOLDEN_TIMEOUT_MS per prompt) and no reconcile anything: the worker
 * submits a job at one analysis run (ctl_golden_submit) and takes its
 * verdict at the next (ctl_golden_take); one job per Model at a time. */

/* Runs job j's prompts (golden thread, without the lock). */
static enum op_golden_result ctl_golden_run(struct op_ctl *ctl, const struct ctl_gjob *j, char *why,
                                            size_t why_len)
{
    const cJSON *g;

    cJSON_ArrayForEach(g, j->prompts)
    {
        const char *prompt = op_json_str(g, "prompt"), *expect = op_json_str(g, "expect");
        const char *body = op_json_str(g, "body");
        char *resp;
        long http = 0;
        int ok;
        if (!prompt || !expect || !body) continue;
        resp = ctl_complete(j->endpoint, ctl->api_key, body, &ctl->gabort, &http);
        if (!resp && http == 0) return OP_GOLDEN_NOT_RUN; /* no answer: inconclusive */
        ok = resp ? op_golden_check(resp, expect) : 0;
        free(resp);
        if (ok != 1) {
            snprintf(why, why_len, "golden prompt %.60s did not answer %.60s (HTTP %ld)", prompt,
                     expect, http);
            return OP_GOLDEN_FAIL;
        }
    }
    return OP_GOLDEN_PASS;
}

static void *ctl_golden_main(void *arg)
{
    struct op_ctl *ctl = arg;

    for (;;) {
        struct ctl_gjob *j = NULL;
        enum op_golden_result r;
        char why[200] = "";

        pthread_mutex_lock(&ctl->gmu);
        for (;;) {
            for (j = ctl->gjobs; j && j->started; j = j->next) {}
            if (ctl->gstop || j) break;
            pthread_cond_wait(&ctl->gcv, &ctl->gmu);
        }
        if (ctl->gstop) {
            pthread_mutex_unlock(&ctl->gmu);
            return NULL;
        }
        j->started = true;
        pthread_mutex_unlock(&ctl->gmu);
        r = ctl_golden_run(ctl, j, why, sizeof(why));
        pthread_mutex_lock(&ctl->gmu);
        j->result = r;
        snprintf(j->why, sizeof(j->why), "%s", why);
        j->done = true;
        pthread_mutex_unlock(&ctl->gmu);
    }
}

/* The verdict of the Model's finished job for revision rev (then
 * forgotten); OP_GOLDEN_NOT_RUN when none has finished. */
static enum op_golden_result ctl_golden_take(struct op_ctl *ctl, const char *key, int32_t rev,
                                             char *why, size_t why_len)
{
    struct ctl_gjob **pp, *dead = NULL;
    enum op_golden_result r = OP_GOLDEN_NOT_RUN;

    pthread_mutex_lock(&ctl->gmu);
    for (pp = &ctl->gjobs; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->key, key) != 0) continue;
        if ((*pp)->done) {
            dead = *pp;
            *pp = dead->next;
            if (dead->rev == rev) {
                r = dead->result;
                snprintf(why, why_len, "%s", dead->why);
            }
        }
        break;
    }
    pthread_mutex_unlock(&ctl->gmu);
    if (dead) cJSON_Delete(dead->prompts);
    free(dead);
    return r;
}

/* Queues the Model's golden prompts against one Ready canary replica,
 * unless a job of this Model is queued or running already. */
static void ctl_golden_submit(struct op_ctl *ctl, const cJSON *model, const char *key,
                              const cJSON *reps, const struct ctl_nodes *nodes, int32_t canary)
{
    const cJSON *prompts = op_json_at(model, "spec.rollout.analysis.goldenPrompts");
    const cJSON *it, *g;
    const char *ep = NULL;
    struct ctl_gjob *j, *k;

    if (cJSON_GetArraySize(prompts) == 0) return;
    cJSON_ArrayForEach(it, reps)
    {
        const char *phase = op_json_str(it, "status.phase");
        int ni = ctl_nodes_find(nodes, op_json_str(it, "spec.nodeName"));
        if (op_json_int(it, "spec.revision", 0) != canary || !phase || strcmp(phase, "Ready") ||
            ni < 0 || !nodes->n[ni].ready || !op_json_str(it, "status.endpoint"))
            continue;
        ep = op_json_str(it, "status.endpoint");
        break;
    }
    if (!ep) return;
    j = calloc(1, sizeof(*j));
    if (!j) return;
    snprintf(j->key, sizeof(j->key), "%s", key);
    snprintf(j->endpoint, sizeof(j->endpoint), "%s", ep);
    j->rev = canary;
    j->prompts = cJSON_CreateArray();
    cJSON_ArrayForEach(g, prompts)
    {
        const char *prompt = op_json_str(g, "prompt"), *expect = op_json_str(g, "expect");
        char *body;
        cJSON *one;
        if (!prompt || !expect || !j->prompts) continue;
        body = op_golden_request_new(key, prompt, (int32_t)op_json_int(g, "maxTokens", 16));
        one = cJSON_CreateObject();
        if (body && one && cJSON_AddStringToObject(one, "prompt", prompt) &&
            cJSON_AddStringToObject(one, "expect", expect) &&
            cJSON_AddStringToObject(one, "body", body)) {
            cJSON_AddItemToArray(j->prompts, one);
            one = NULL;
        }
        cJSON_Delete(one);
        free(body);
    }
    if (cJSON_GetArraySize(j->prompts) == 0) {
        cJSON_Delete(j->prompts);
        free(j);
        return;
    }
    pthread_mutex_lock(&ctl->gmu);
    for (k = ctl->gjobs; k && strcmp(k->key, key) != 0; k = k->next) {}
    if (!k) {
        j->next = ctl->gjobs;
        ctl->gjobs = j;
        j = NULL;
        pthread_cond_signal(&ctl->gcv);
    }
    pthread_mutex_unlock(&ctl->gmu);
    if (j) cJSON_Delete(j->prompts);
    free(j);
}

/* One canary analysis run when its interval has passed; sets
 * *analysis_abort and v->analysis. */
static void ctl_analyse(struct op_ctl *ctl, const cJSON *model, const char *key, const cJSON *reps,
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
static void ctl_autoscale(struct op_ctl *ctl, const cJSON *model, const char *key,
                          const cJSON *reps, const struct ctl_nodes *nodes,
                          struct ctl_model_view *v, int64_t *requeue_ms)
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
        int rc = kube_set_scale(ctl->c, &r_models, kube_obj_namespace(model), kube_obj_name(model),
                                d.desired, &st);
        if (rc) {
            ctl_log_err("scale", kube_obj_name(model), rc, &st);
            return;
        }
        snprintf(ev, sizeof(ev), "replicas %d -> %d: %s", (int)current, (int)d.desired, msg);
        ctl_event(ctl, model, "Model", "Normal", "Scaled", ev);
        atomic_fetch_add(&ctl->scale_decisions, 1);
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
        rc = kube_delete(ctl->c, &r_revisions, kube_obj_namespace(model), name, NULL, NULL, &st);
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
    rc = ctl_delete_replica(ctl, rep, "failed");
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

static int ctl_reconcile_model(struct op_ctl *ctl, const char *key, int64_t *requeue_ms)
{
    cJSON *model = NULL, *revs = NULL, *reps = NULL, *created = NULL, *it;
    struct ctl_model_view v;
    struct op_rollout_step steps[OP_MAX_STEPS];
    struct op_rollout_spec rspec;
    struct op_rollout_observed obs;
    struct ctl_rev_plan plan[MAX_REVS];
    struct ctl_nodes *nodes = NULL;
    struct ctl_mstate *ms = NULL;
    size_t n_plan = 0;
    const char *ns, *name;
    const cJSON *target = NULL;
    char sel[400], msg[512];
    int rc;
    int32_t max_rev = 0;
    int64_t now = ctl_now_ms();
    enum op_rollout_phase before;

    memset(&v, 0, sizeof(v));
    memset(&obs, 0, sizeof(obs));
    rc = kube_store_get(kube_informer_store(ctl->inf[INF_MODELS]), key, &model);
    if (rc == KUBE_ENOTFOUND) {
        ctl_mstate_drop(ctl, key);
        ctl_golden_take(ctl, key, -1, NULL, 0); /* forget a finished job */
        rc = 0;
        goto out;
    }
    if (rc) goto out;
    ns = kube_obj_namespace(model);
    name = kube_obj_name(model);
    if (!ns || !name) goto out;
    ms = ctl_mstate_get(ctl, key);
    if (ms && ms->stale_rv[0] && kube_obj_rv(model) && !strcmp(ms->stale_rv, kube_obj_rv(model)) &&
        ctl_mono_ms() - ms->stale_ms < 5000) {
        *requeue_ms = 100; /* our last write has not reached the cache yet */
        goto out;
    }
    if (op_json_at(model, "metadata.deletionTimestamp")) {
        rc = ctl_finalize(ctl, model, requeue_ms);
        goto out;
    }
    if (!ctl_has_finalizer(model)) {
        rc = ctl_set_finalizer(ctl, model, true);
        v.wrote_model = rc == 0;
        goto out; /* the update brings us back */
    }
    *requeue_ms = MODEL_RESYNC_MS;
    v.replicas = (int32_t)op_json_int(model, "spec.replicas", 1);
    if (v.replicas < 0) v.replicas = 0;
    v.stable = (int32_t)op_json_int(model, "status.stableRevision", 0);
    v.canary = (int32_t)op_json_int(model, "status.canaryRevision", 0);

    {
        struct op_model_view mv = {op_json_str(model, "spec.source.uri"),
                                   op_json_str(model, "spec.source.sha256"),
                                   op_json_at(model, "spec.autoscaling") != NULL,
                                   (int32_t)op_json_int(model, "spec.autoscaling.minReplicas", 1),
                                   (int32_t)op_json_int(model, "spec.autoscaling.maxReplicas", 1)};
        if (op_model_validate(&mv, v.invalid_msg, sizeof(v.invalid_msg)) ||
            op_plan_rollout_spec(model, v.replicas, steps, &rspec) ||
            op_rollout_spec_check(&rspec)) {
            if (!v.invalid_msg[0]) snprintf(v.invalid_msg, sizeof(v.invalid_msg), "bad rollout");
            v.invalid = true;
            v.rolling = v.canary > 0;
            rc = ctl_write_status(ctl, model, &v, now);
            goto out;
        }
    }

    /* Revisions: find the one for the current template, or create it. */
    snprintf(sel, sizeof(sel), "%s=%s", OP_LABEL_MODEL, name);
    rc = kube_store_list(kube_informer_store(ctl->inf[INF_REVS]), ns, sel, &revs);
    if (rc) goto out;
    cJSON_ArrayForEach(it, revs)
    {
        int32_t n = (int32_t)op_json_int(it, "spec.revision", 0);
        if (n > max_rev) max_rev = n;
        if (op_plan_same_template(model, it) &&
            (!target || n > op_json_int(target, "spec.revision", 0)))
            target = it;
        if (n_plan < MAX_REVS) {
            plan[n_plan].rev = n;
            plan[n_plan].obj = it;
            plan[n_plan].desired = plan[n_plan].have = plan[n_plan].ready = 0;
            plan[n_plan].avoid = NULL;
            n_plan++;
        }
    }
    if (!target && ms && ms->rev_pending > 0 && !ctl_plan_find(plan, n_plan, ms->rev_pending) &&
        ctl_mono_ms() - ms->rev_pending_ms < 5000) {
        *requeue_ms = 100; /* the revision we created is not in the cache yet */
        goto out;
    }
    if (!target) {
        int32_t n = max_rev;
        if (v.stable > n) n = v.stable;
        if (v.canary > n) n = v.canary;
        if (ms && ms->rev_pending > n) n = ms->rev_pending;
        rc = ctl_create_revision(ctl, model, n + 1, &created);
        if (rc == 0 && ms) {
            ms->rev_pending = n + 1;
            ms->rev_pending_ms = ctl_mono_ms();
        }
        if (rc == KUBE_EEXISTS) {
            *requeue_ms = 500; /* the cache is behind */
            rc = 0;
            goto out;
        }
        if (rc) goto out;
        target = created;
        if (n_plan < MAX_REVS) {
            plan[n_plan].rev = n + 1;
            plan[n_plan].obj = created;
            plan[n_plan].desired = plan[n_plan].have = plan[n_plan].ready = 0;
            plan[n_plan].avoid = NULL;
            n_plan++;
        }
    }
    v.target = (int32_t)op_json_int(target, "spec.revision", 0);

    /* Replicas: count per revision. */
    rc = kube_store_list(kube_informer_store(ctl->inf[INF_REPS]), ns, sel, &reps);
    if (rc) goto out;
    nodes = calloc(1, sizeof(*nodes));
    if (!nodes) {
        rc = KUBE_ENOMEM;
        goto out;
    }
    rc = ctl_nodes_load(ctl, nodes, ns, name);
    if (rc) goto out;
    cJSON_ArrayForEach(it, reps)
    {
        struct ctl_rev_plan *p =
            ctl_plan_find(plan, n_plan, (int32_t)op_json_int(it, "spec.revision", 0));
        const char *phase = op_json_str(it, "status.phase");
        int ni = ctl_nodes_find(nodes, op_json_str(it, "spec.nodeName"));
        if (!p || op_json_at(it, "metadata.deletionTimestamp")) continue;
        p->have++;
        if (phase && !strcmp(phase, "Ready") && ni >= 0 && nodes->n[ni].ready) p->ready++;
        if (phase && !strcmp(phase, "Failed")) {
            if (p->rev == v.canary && v.canary != v.stable) obs.canary_failed = true;
            v.failed = true;
        }
    }

    /* Which revisions are stable and canary; the rollout. */
    before = OP_ROLLOUT_IDLE;
    if (v.stable == 0 || !ctl_plan_find(plan, n_plan, v.stable)) {
        v.stable = v.target;
        v.canary = 0;
    } else if (v.target == v.stable) {
        if (v.canary > 0) {
            snprintf(msg, sizeof(msg), "spec is back to revision %d; canary %d dropped",
                     (int)v.stable, (int)v.canary);
            ctl_event(ctl, model, "Model", "Normal", "RolloutCanceled", msg);
            ctl_revision_outcome(ctl, ctl_plan_find(plan, n_plan, v.canary)->obj, "Superseded",
                                 "RolloutCanceled", now);
        }
        v.canary = 0;
    } else if (v.canary != v.target) {
        if (v.canary > 0 && ctl_plan_find(plan, n_plan, v.canary))
            ctl_revision_outcome(ctl, ctl_plan_find(plan, n_plan, v.canary)->obj, "Superseded",
                                 "NewerRevision", now);
        v.canary = v.target;
        v.starting = true;
        op_rollout_start(&v.st, now);
        atomic_fetch_add(&ctl->rollouts, 1);
        snprintf(msg, sizeof(msg), "rollout of revision %d started (stable %d, %zu steps)",
                 (int)v.canary, (int)v.stable, rspec.n_steps);
        ctl_event(ctl, model, "Model", "Normal", "RolloutStarted", msg);
        ctl_revision_outcome(ctl, target, "Active", "Canary", now);
        v.analysis = cJSON_CreateObject(); /* a new rollout starts with no failed checks */
        if (v.analysis) {
            cJSON_AddNumberToObject(v.analysis, "failedChecks", 0);
            cJSON_AddStringToObject(v.analysis, "message", "rollout started");
        }
    } else {
        op_plan_rollout_state(model, &rspec, &v.st);
        before = v.st.phase;
    }
    v.rolling = v.canary > 0;

    if (v.rolling) {
        struct ctl_rev_plan *sp = ctl_plan_find(plan, n_plan, v.stable);
        struct ctl_rev_plan *cp = ctl_plan_find(plan, n_plan, v.canary);
        if (v.starting) before = OP_ROLLOUT_PROGRESSING;
        obs.stable_ready = sp ? sp->ready : 0;
        obs.canary_ready = cp ? cp->ready : 0;
        obs.promote_requested = ctl_annotation(model, OP_ANN_PROMOTE) != NULL;
        obs.abort_requested = ctl_annotation(model, OP_ANN_ABORT) != NULL;
        obs.analysis_abort = false;
        if (v.st.phase != OP_ROLLOUT_ABORTED)
            ctl_analyse(ctl, model, key, reps, nodes, &v, obs.canary_failed, &obs.analysis_abort,
                        requeue_ms);
        if (v.st.phase == OP_ROLLOUT_ABORTED) {
            memset(&v.d, 0, sizeof(v.d));
            v.d.stable_replicas = v.replicas;
        } else {
            int32_t step0 = v.st.step;
            rc = op_rollout_eval(&rspec, &v.st, &obs, now, &v.d);
            if (rc) goto out;
            if (v.d.steps_advanced > 0 || v.st.step != step0) {
                snprintf(msg, sizeof(msg), "revision %d: step %d of %zu, weight %d", (int)v.canary,
                         (int)v.st.step, rspec.n_steps, (int)v.d.weight);
                ctl_event(ctl, model, "Model", "Normal", "StepAdvanced", msg);
            }
            if (v.d.promote_consumed) {
                ctl_event(ctl, model, "Model", "Normal", "PromoteRequested",
                          "kubectl kllm promote: pause skipped");
                v.wrote_model |= ctl_clear_annotation(ctl, ns, name, OP_ANN_PROMOTE) == 0;
            }
            if (v.d.requeue_after_ms > 0 && v.d.requeue_after_ms < *requeue_ms)
                *requeue_ms = v.d.requeue_after_ms;
        }
        if (v.st.phase == OP_ROLLOUT_COMPLETE) {
            snprintf(msg, sizeof(msg), "revision %d is now stable (was %d)", (int)v.canary,
                     (int)v.stable);
            ctl_event(ctl, model, "Model", "Normal", "Promoted", msg);
            atomic_fetch_add(&ctl->promotions, 1);
            if (sp) ctl_revision_outcome(ctl, sp->obj, "Superseded", "Promoted", now);
            if (cp) ctl_revision_outcome(ctl, cp->obj, "Promoted", "RolloutComplete", now);
            v.stable = v.canary;
            v.canary = 0;
            v.rolling = false;
            memset(&v.d, 0, sizeof(v.d));
            v.d.stable_replicas = v.replicas;
        } else if (v.st.phase == OP_ROLLOUT_ABORTED && before != OP_ROLLOUT_ABORTED) {
            snprintf(msg, sizeof(msg), "revision %d rolled back: %s", (int)v.canary,
                     op_rollout_reason_name(v.st.reason));
            ctl_event(ctl, model, "Model", "Warning", "RolledBack", msg);
            atomic_fetch_add(&ctl->rollbacks, 1);
            if (cp)
                ctl_revision_outcome(ctl, cp->obj, "RolledBack",
                                     op_rollout_reason_name(v.st.reason), now);
        } else if (v.st.phase == OP_ROLLOUT_PAUSED && before != OP_ROLLOUT_PAUSED) {
            snprintf(msg, sizeof(msg), "revision %d paused at step %d: waiting for promote",
                     (int)v.canary, (int)v.st.step);
            ctl_event(ctl, model, "Model", "Normal", "RolloutPaused", msg);
        }
        if (obs.abort_requested)
            v.wrote_model |= ctl_clear_annotation(ctl, ns, name, OP_ANN_ABORT) == 0;
    } else {
        memset(&v.d, 0, sizeof(v.d));
        v.d.stable_replicas = v.replicas;
        if (ctl_annotation(model, OP_ANN_PROMOTE))
            v.wrote_model |= ctl_clear_annotation(ctl, ns, name, OP_ANN_PROMOTE) == 0;
        if (ctl_annotation(model, OP_ANN_ABORT))
            v.wrote_model |= ctl_clear_annotation(ctl, ns, name, OP_ANN_ABORT) == 0;
    }
    for (size_t i = 0; i < n_plan; i++) {
        if (plan[i].rev == v.stable) plan[i].desired = v.d.stable_replicas;
        if (v.rolling && plan[i].rev == v.canary) plan[i].desired = v.d.canary_replicas;
    }

    /* Replicas: delete what is not wanted or lost with its node; create the
     * missing ones; bind unbound ones. */
    {
        const cJSON *keep[1024];
        size_t n_keep = 0;
        bool stable_failed = false;
        if (ms && ms->bo_rev != v.stable) {
            ms->bo_rev = v.stable;
            op_backoff_init(&ms->bo);
            ms->bo_msg[0] = '\0';
        }
        cJSON_ArrayForEach(it, reps)
        {
            struct ctl_rev_plan *p =
                ctl_plan_find(plan, n_plan, (int32_t)op_json_int(it, "spec.revision", 0));
            const char *node = op_json_str(it, "spec.nodeName");
            const char *phase = op_json_str(it, "status.phase");
            int ni = ctl_nodes_find(nodes, node);
            if (op_json_at(it, "metadata.deletionTimestamp")) continue;
            if (!p || p->desired == 0) {
                rc = ctl_delete_replica(ctl, it, "revision scaled to 0");
                if (p) p->have--;
                if (rc) goto out;
                continue;
            }
            if (ms && p->rev == v.stable && !(v.rolling && p->rev == v.canary) && phase &&
                !strcmp(phase, "Failed")) {
                bool deleted = false;
                stable_failed = true;
                rc = ctl_replace_failed(ctl, model, ms, it, p, &v, requeue_ms, &deleted);
                if (rc) goto out;
                if (deleted) continue;
            }
            if (node && (ni < 0 ||
                         nodes->age_ms[ni] > ctl->o.node_lease_timeout_ms + ctl->o.node_grace_ms)) {
                snprintf(msg, sizeof(msg), "replica %s lost with node %s; rescheduling",
                         kube_obj_name(it), node);
                ctl_event(ctl, model, "Model", "Warning", "ReplicaRescheduled", msg);
                rc = ctl_delete_replica(ctl, it, "node lost");
                if (rc) goto out;
                p->have--;
                continue;
            }
            if (n_keep < sizeof(keep) / sizeof(keep[0])) keep[n_keep++] = it;
        }
        qsort(keep, n_keep, sizeof(keep[0]), ctl_victim_cmp);
        for (size_t i = 0; i < n_plan; i++) {
            struct ctl_rev_plan *p = &plan[i];
            int32_t excess = p->have - p->desired;
            for (size_t k = 0; k < n_keep && excess > 0; k++) {
                if ((int32_t)op_json_int(keep[k], "spec.revision", 0) != p->rev) continue;
                rc = ctl_delete_replica(ctl, keep[k], "scale down");
                if (rc) goto out;
                keep[k] = NULL;
                excess--;
                p->have--;
            }
            for (int32_t idx = 0; p->have < p->desired && idx < 10000; idx++) {
                char rname[300];
                bool used = false;
                snprintf(rname, sizeof(rname), "%s-%d-%d", name, (int)p->rev, (int)idx);
                cJSON_ArrayForEach(it, reps)
                {
                    if (!strcmp(kube_obj_name(it), rname)) used = true;
                }
                if (used) continue;
                rc = ctl_create_replica(ctl, model, p, idx, nodes, v.unsched_msg,
                                        sizeof(v.unsched_msg));
                if (rc) goto out;
                if (v.unsched_msg[0]) v.unschedulable = true;
                p->have++;
            }
        }
        if (ms && !stable_failed) {
            struct op_backoff_spec bspec;
            struct ctl_rev_plan *sp = ctl_plan_find(plan, n_plan, v.stable);
            op_backoff_spec_default(&bspec);
            op_backoff_healthy(&ms->bo, &bspec, ctl_mono_ms());
            /* Degraded until the replacement is Ready, not only while a
             * replica is Failed, so the condition does not flap. */
            if (ms->bo.failures > 0 && ms->bo_msg[0] && sp && sp->ready < sp->desired) {
                v.failed = true;
                snprintf(v.failed_msg, sizeof(v.failed_msg), "%s", ms->bo_msg);
            }
        }
        for (size_t k = 0; k < n_keep; k++) {
            if (!keep[k] || op_json_str(keep[k], "spec.nodeName")) continue;
            rc = ctl_bind_replica(ctl, model, keep[k], nodes, v.unsched_msg, sizeof(v.unsched_msg));
            if (rc) goto out;
            if (v.unsched_msg[0]) v.unschedulable = true;
        }
        if (v.unschedulable) {
            ctl_event(ctl, model, "Model", "Warning", "FailedScheduling", v.unsched_msg);
            if (*requeue_ms > 5000) *requeue_ms = 5000;
        }
    }
    for (size_t i = 0; i < n_plan; i++) {
        if (plan[i].rev != v.stable && !(v.rolling && plan[i].rev == v.canary)) continue;
        v.have += plan[i].have;
        v.ready += plan[i].ready;
    }
    ctl_revision_gc(ctl, model, plan, n_plan, &v);
    if (op_json_at(model, "spec.autoscaling"))
        ctl_autoscale(ctl, model, key, reps, nodes, &v, requeue_ms);
    rc = ctl_write_status(ctl, model, &v, now);
out:
    if (ms && v.wrote_model && kube_obj_rv(model)) {
        snprintf(ms->stale_rv, sizeof(ms->stale_rv), "%s", kube_obj_rv(model));
        ms->stale_ms = ctl_mono_ms();
    }
    cJSON_Delete(v.analysis);
    cJSON_Delete(v.autoscaling);
    if (nodes) cJSON_Delete(nodes->inodes);
    free(nodes);
    cJSON_Delete(created);
    cJSON_Delete(reps);
    cJSON_Delete(revs);
    cJSON_Delete(model);
    return rc;
}

/* --- node liveness --------------------------------------------------------- */

static int ctl_node_condition(struct op_ctl *ctl, const cJSON *node, bool ready, const char *reason,
                              const char *msg)
{
    cJSON *conds = op_plan_conditions_set_new(op_json_at(node, "status.conditions"), "Ready", ready,
                                              reason, msg, ctl_now_ms());
    cJSON *p = cJSON_CreateObject(), *s;
    struct kube_status st;
    int rc = KUBE_ENOMEM;

    s = p ? cJSON_AddObjectToObject(p, "status") : NULL;
    if (!s || !conds) goto out;
    cJSON_AddItemToObject(s, "conditions", conds);
    conds = NULL;
    rc = kube_patch_merge(ctl->c, &r_inodes, NULL, kube_obj_name(node), "status", p, NULL, &st);
    if (rc) ctl_log_err("node status", kube_obj_name(node), rc, &st);
out:
    cJSON_Delete(conds);
    cJSON_Delete(p);
    return rc;
}

static int ctl_reconcile_nodes(struct op_ctl *ctl)
{
    cJSON *inodes = NULL, *it;
    int64_t now = ctl_mono_ms();
    bool changed = false;
    int rc = kube_store_list(kube_informer_store(ctl->inf[INF_NODES]), NULL, NULL, &inodes);

    if (rc) return rc;
    cJSON_ArrayForEach(it, inodes)
    {
        const char *name = kube_obj_name(it);
        char key[600], msg[300];
        cJSON *lease = NULL;
        int64_t age;
        int cond;
        const char *reason = NULL;
        const cJSON *c;

        if (!name) continue;
        snprintf(key, sizeof(key), "%s/kllm-node-%s", ctl->ns, name);
        kube_store_get(kube_informer_store(ctl->inf[INF_LEASES]), key, &lease);
        op_liveness_observe(&ctl->live, name, lease ? kube_obj_rv(lease) : NULL, now);
        cJSON_Delete(lease);
        age = op_liveness_age(&ctl->live, name, now);
        cond = op_plan_condition(op_json_at(it, "status.conditions"), "Ready");
        cJSON_ArrayForEach(c, op_json_at(it, "status.conditions"))
        {
            if (op_json_str(c, "type") && !strcmp(op_json_str(c, "type"), "Ready"))
                reason = op_json_str(c, "reason");
        }
        if (ctl_node_stale(ctl, age) && cond != 0) {
            snprintf(msg, sizeof(msg), "Lease kllm-node-%s not renewed for %lld s", name,
                     (long long)(age / 1000));
            ctl_event(ctl, it, "InferenceNode", "Warning", "NodeNotReady", msg);
            if (ctl_node_condition(ctl, it, false, "LeaseExpired", msg) == 0)
                atomic_fetch_add(&ctl->nodes_not_ready, 1);
            changed = true;
        } else if (!ctl_node_stale(ctl, age) && cond == 0 && reason &&
                   !strcmp(reason, "LeaseExpired")) {
            ctl_event(ctl, it, "InferenceNode", "Normal", "NodeReady", "Lease renewed again");
            ctl_node_condition(ctl, it, true, "LeaseRenewed", "Lease renewed again");
            changed = true;
        } else if (ctl_node_stale(ctl, age) &&
                   age <= ctl->o.node_lease_timeout_ms + ctl->o.node_grace_ms + NODE_SWEEP_MS) {
            changed = true; /* grace period running out: look at its replicas */
        }
    }
    op_liveness_sweep(&ctl->live);
    cJSON_Delete(inodes);
    if (changed) ctl_enqueue_all_models(ctl);
    return 0;
}

/* --- worker ----------------------------------------------------------------- */

static void *ctl_worker(void *arg)
{
    struct op_ctl *ctl = arg;
    char *key = NULL;

    kube_queue_add(ctl->q, NODES_KEY);
    while (kube_queue_get(ctl->q, &key, -1) == 0) {
        int64_t t0 = ctl_mono_ms(), requeue = 0;
        int rc;

        if (!op_ctl_synced(ctl)) {
            kube_queue_done(ctl->q, key);
            kube_queue_add_after(ctl->q, key, 200 * KUBE_MS);
            free(key);
            continue;
        }
        if (strcmp(key, NODES_KEY) == 0) {
            rc = ctl_reconcile_nodes(ctl);
            requeue = NODE_SWEEP_MS;
        } else {
            rc = ctl_reconcile_model(ctl, key, &requeue);
        }
        {
            int64_t took = ctl_mono_ms() - t0;
            atomic_fetch_add(&ctl->reconciles, 1);
            atomic_fetch_add(&ctl->reconcile_us, (unsigned long long)took * 1000);
            for (size_t b = 0; b < 8; b++)
                if ((double)took / 1000.0 <= RECONCILE_LE[b]) {
                    atomic_fetch_add(&ctl->reconcile_le[b], 1); /* cumulated when written */
                    break;
                }
        }
        if (rc) {
            const char *kv[] = {"key", key, "error", kube_strerror(rc), NULL};
            atomic_fetch_add(&ctl->reconcile_errors, 1);
            klog_kv(KLOG_WARN, "operator", "reconcile failed", kv);
            kube_queue_add_rate_limited(ctl->q, key);
        } else {
            kube_queue_forget(ctl->q, key);
            if (requeue > 0) kube_queue_add_after(ctl->q, key, requeue * KUBE_MS);
        }
        kube_queue_done(ctl->q, key);
        free(key);
        key = NULL;
    }
    return NULL;
}

static void ctl_golden_stop(struct op_ctl *ctl)
{
    if (!ctl->golden_running) return;
    atomic_store(&ctl->gabort, 1);
    pthread_mutex_lock(&ctl->gmu);
    ctl->gstop = true;
    pthread_cond_signal(&ctl->gcv);
    pthread_mutex_unlock(&ctl->gmu);
    pthread_join(ctl->golden, NULL);
    ctl->golden_running = false;
}

int op_ctl_lead(struct op_ctl *ctl)
{
    if (!ctl || ctl->worker_running) return KUBE_EINVAL;
    if (op_scraper_start(ctl->scraper)) return KUBE_ENOMEM;
    ctl->gstop = false;
    atomic_store(&ctl->gabort, 0);
    if (pthread_create(&ctl->golden, NULL, ctl_golden_main, ctl)) {
        op_scraper_stop(ctl->scraper);
        return KUBE_ENOMEM;
    }
    ctl->golden_running = true;
    if (pthread_create(&ctl->worker, NULL, ctl_worker, ctl)) {
        ctl_golden_stop(ctl);
        op_scraper_stop(ctl->scraper);
        return KUBE_ENOMEM;
    }
    ctl->worker_running = true;
    atomic_store(&ctl->leading, 1);
    ctl_enqueue_all_models(ctl);
    return 0;
}

void op_ctl_stop(struct op_ctl *ctl)
{
    if (!ctl) return;
    if (ctl->q) kube_queue_shutdown(ctl->q);
    if (ctl->worker_running) {
        pthread_join(ctl->worker, NULL);
        ctl->worker_running = false;
    }
    ctl_golden_stop(ctl);
    op_scraper_stop(ctl->scraper);
    atomic_store(&ctl->leading, 0);
    for (int i = 0; i < INF_N; i++)
        if (ctl->inf[i]) kube_informer_stop(ctl->inf[i]);
}

void op_ctl_free(struct op_ctl *ctl)
{
    if (!ctl) return;
    op_ctl_stop(ctl);
    for (int i = 0; i < INF_N; i++) kube_informer_free(ctl->inf[i]);
    while (ctl->mstates) {
        struct ctl_mstate *n = ctl->mstates->next;
        free(ctl->mstates);
        ctl->mstates = n;
    }
    while (ctl->gjobs) {
        struct ctl_gjob *n = ctl->gjobs->next;
        cJSON_Delete(ctl->gjobs->prompts);
        free(ctl->gjobs);
        ctl->gjobs = n;
    }
    if (ctl->gsync_ok) {
        pthread_cond_destroy(&ctl->gcv);
        pthread_mutex_destroy(&ctl->gmu);
    }
    op_scraper_free(ctl->scraper);
    op_scrape_cache_free(ctl->scache);
    kube_recorder_free(ctl->rec);
    kube_queue_free(ctl->q);
    free(ctl->ns);
    free(ctl->identity);
    free(ctl->endpoint);
    free(ctl->api_key);
    free(ctl);
}

size_t op_ctl_metrics(struct op_ctl *ctl, char *buf, size_t cap)
{
    int n;
    size_t used;
    uint64_t fetches = 0, failures = 0;
    unsigned long long cum = 0;
    if (!ctl || !buf || cap == 0) return 0;
    op_scraper_counts(ctl->scraper, &fetches, &failures);
    n = snprintf(
        buf, cap,
        "# HELP kllm_operator_leader 1 when this replica is the leader.\n"
        "# TYPE kllm_operator_leader gauge\nkllm_operator_leader %d\n"
        "# HELP kllm_operator_reconciles_total Reconciles run.\n"
        "# TYPE kllm_operator_reconciles_total counter\nkllm_operator_reconciles_total %llu\n"
        "# TYPE kllm_operator_reconcile_errors_total counter\n"
        "kllm_operator_reconcile_errors_total %llu\n"
        "# TYPE kllm_operator_reconcile_seconds_total counter\n"
        "kllm_operator_reconcile_seconds_total %.6f\n"
        "# TYPE kllm_operator_queue_depth gauge\nkllm_operator_queue_depth %zu\n"
        "# TYPE kllm_rollouts_total counter\nkllm_rollouts_total %llu\n"
        "# TYPE kllm_promotions_total counter\nkllm_promotions_total %llu\n"
        "# TYPE kllm_rollbacks_total counter\nkllm_rollbacks_total %llu\n"
        "# TYPE kllm_operator_replicas_created_total counter\n"
        "kllm_operator_replicas_created_total %llu\n"
        "# TYPE kllm_operator_replicas_deleted_total counter\n"
        "kllm_operator_replicas_deleted_total %llu\n"
        "# TYPE kllm_operator_nodes_not_ready_total counter\n"
        "kllm_operator_nodes_not_ready_total %llu\n"
        "# TYPE kllm_operator_scale_decisions_total counter\n"
        "kllm_operator_scale_decisions_total %llu\n"
        "# HELP kllm_operator_scrapes_total Fetches of agents' /metrics by the scraper thread.\n"
        "# TYPE kllm_operator_scrapes_total counter\nkllm_operator_scrapes_total %llu\n"
        "# TYPE kllm_operator_scrape_failures_total counter\n"
        "kllm_operator_scrape_failures_total %llu\n"
        "# HELP kllm_operator_reconcile_duration_seconds Time of one reconcile.\n"
        "# TYPE kllm_operator_reconcile_duration_seconds histogram\n",
        atomic_load(&ctl->leading), (unsigned long long)atomic_load(&ctl->reconciles),
        (unsigned long long)atomic_load(&ctl->reconcile_errors),
        (double)atomic_load(&ctl->reconcile_us) / 1e6, kube_queue_len(ctl->q),
        (unsigned long long)atomic_load(&ctl->rollouts),
        (unsigned long long)atomic_load(&ctl->promotions),
        (unsigned long long)atomic_load(&ctl->rollbacks),
        (unsigned long long)atomic_load(&ctl->replicas_created),
        (unsigned long long)atomic_load(&ctl->replicas_deleted),
        (unsigned long long)atomic_load(&ctl->nodes_not_ready),
        (unsigned long long)atomic_load(&ctl->scale_decisions), (unsigned long long)fetches,
        (unsigned long long)failures);
    if (n < 0) return 0;
    used = (size_t)n < cap ? (size_t)n : cap - 1;
    for (size_t b = 0; b < 8 && used + 1 < cap; b++) {
        cum += atomic_load(&ctl->reconcile_le[b]);
        n = snprintf(buf + used, cap - used,
                     "kllm_operator_reconcile_duration_seconds_bucket{le=\"%g\"} %llu\n",
                     RECONCILE_LE[b], cum);
        if (n < 0) return used;
        used += (size_t)n < cap - used ? (size_t)n : cap - used - 1;
    }
    if (used + 1 < cap) {
        n = snprintf(buf + used, cap - used,
                     "kllm_operator_reconcile_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                     "kllm_operator_reconcile_duration_seconds_sum %.6f\n"
                     "kllm_operator_reconcile_duration_seconds_count %llu\n",
                     (unsigned long long)atomic_load(&ctl->reconciles),
                     (double)atomic_load(&ctl->reconcile_us) / 1e6,
                     (unsigned long long)atomic_load(&ctl->reconciles));
        if (n > 0) used += (size_t)n < cap - used ? (size_t)n : cap - used - 1;
    }
    return used;
}
