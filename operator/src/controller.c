/* controller.c: the life cycle of op_ctl (op_ctl.h) — informers and their
 * handlers, which map every change to the Model key it affects, the work
 * queue and its one worker, leadership, /metrics — and the Event and log
 * helpers the reconcilers share. What a reconcile does is in
 * reconcile_model.c and reconcile_node.c; see ctl.h for the map. */
#include "ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "klog.h"

#define NODES_KEY "!nodes"

const struct kube_resource ctl_r_models = {"kllm.io", "v1alpha1", "models", 1};
const struct kube_resource ctl_r_revisions = {"kllm.io", "v1alpha1", "modelrevisions", 1};
const struct kube_resource ctl_r_replicas = {"kllm.io", "v1alpha1", "modelreplicas", 1};
const struct kube_resource ctl_r_inodes = {"kllm.io", "v1alpha1", "inferencenodes", 0};
const struct kube_resource ctl_r_leases = {"coordination.k8s.io", "v1", "leases", 1};

/* Upper bounds (seconds) of kllm_operator_reconcile_duration_seconds. */
static const double RECONCILE_LE[8] = {0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10};

int64_t ctl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ctl_mono_ms(void)
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

/* --- event handlers: map every object to the Model key it affects ------- */

static void ctl_enqueue_model_of(struct op_ctl *ctl, const cJSON *obj)
{
    const char *ns = kube_obj_namespace(obj), *m = ctl_label(obj, OP_LABEL_MODEL);
    char key[600];
    if (!ns || !m) return;
    snprintf(key, sizeof(key), "%s/%s", ns, m);
    kube_queue_add(ctl->q, key);
}

void ctl_enqueue_all_models(struct op_ctl *ctl)
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
    const struct kube_resource *res[INF_N] = {&ctl_r_models, &ctl_r_revisions, &ctl_r_replicas,
                                              &ctl_r_inodes, &ctl_r_leases};
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

void ctl_event(struct op_ctl *ctl, const cJSON *obj, const char *kind, const char *type,
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

void ctl_log_err(const char *what, const char *name, int rc, const struct kube_status *st)
{
    const char *kv[] = {"name", name, "error", kube_strerror(rc), "message", st ? st->message : "",
                        NULL};
    klog_kv(KLOG_WARN, "operator", what, kv);
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
    ctl_golden_jobs_free(ctl);
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
