/* ctl.h: the inside of op_ctl (op_ctl.h), shared by the files of the
 * controllers and by nothing else:
 *   controller.c        life cycle, informers and their handlers, the work
 *                       queue, the worker, /metrics, Events and logging;
 *   reconcile_model.c   a Model: finalizer, revisions, rollout, replicas,
 *                       status, revision GC, replacement of Failed replicas;
 *   reconcile_metrics.c what reads the agents' metrics: canary analysis and
 *                       the autoscaler;
 *   reconcile_node.c    InferenceNodes: Lease staleness, the Ready
 *                       condition, the node table the scheduler works on;
 *   golden.c            the golden-prompt thread and its HTTP call.
 * Threads: what op_ctl.h says; the ctl_ functions below run on the worker
 * thread unless their comment says otherwise. */
#ifndef OP_CTL_INTERNAL_H
#define OP_CTL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kube/events.h"
#include "kube/informer.h"
#include "kube/queue.h"
#include "op_autoscale.h"
#include "op_backoff.h"
#include "op_core.h"
#include "op_ctl.h"
#include "op_plan.h"
#include "op_rollout.h"
#include "op_schedule.h"
#include "op_scrape.h"
#include "op_scraper.h"

#define NODE_SWEEP_MS 5000
#define MAX_NODES 512
#define MAX_SHA 32

/* Scraping (op_scraper): every 2 s (DESIGN.md §3.5), 1 s per fetch; a page
 * older than 3 periods plus a timeout is stale; an endpoint no reconcile
 * asked for during 30 s is no longer scraped. */
#define SCRAPE_PERIOD_MS 2000
#define SCRAPE_TIMEOUT_MS 1000
#define SCRAPE_MAX_AGE_MS (3 * SCRAPE_PERIOD_MS + SCRAPE_TIMEOUT_MS)
#define SCRAPE_IDLE_MS 30000
#define SCRAPE_MAX_BYTES (4u << 20)
#define SCRAPE_PENDING_RETRY_MS 500
#define CTL_EXPECT_MAX 32  /* replica writes remembered per Model */
#define CTL_EXPECT_MS 5000 /* the longest the replica step waits for them */

/* The resources the controllers watch and write (controller.c). */
extern const struct kube_resource ctl_r_models, ctl_r_revisions, ctl_r_replicas, ctl_r_inodes,
    ctl_r_leases;

enum { INF_MODELS, INF_REVS, INF_REPS, INF_NODES, INF_LEASES, INF_N };

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
    /* Our replica writes the cache has not shown yet (a ReplicaSet's
     * "expectations"): names created, uids deleted. Counting replicas
     * before the cache shows them would create or delete a second time
     * (a replacement re-created under the deleted replica's name, then the
     * surplus deleted), so the replica step waits for them, at most
     * CTL_EXPECT_MS after the last write. */
    char exp_add[CTL_EXPECT_MAX][300];
    char exp_del[CTL_EXPECT_MAX][64];
    int n_exp_add, n_exp_del;
    int64_t exp_ms;
    /* Replacement of Failed replicas of the stable revision bo_rev. */
    int32_t bo_rev;
    struct op_backoff bo;
    char bo_msg[400]; /* the last replacement, for the Degraded condition */
    struct ctl_mstate *next;
};

struct ctl_gjob; /* golden.c */

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

/* The node table for the scheduler (reconcile_node.c). */
struct ctl_nodes {
    struct op_node n[MAX_NODES];
    const char *sha[MAX_NODES][MAX_SHA];
    int64_t age_ms[MAX_NODES]; /* Lease age, -1 unknown */
    size_t len;
    cJSON *inodes; /* owns the strings the table borrows */
};

/* What one Model reconcile decided, for status (reconcile_model.c). */
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

/* controller.c */
int64_t ctl_now_ms(void);                        /* wall clock */
int64_t ctl_mono_ms(void);                       /* monotonic clock */
void ctl_enqueue_all_models(struct op_ctl *ctl); /* any thread */
/* An Event on obj (a kllm.io/v1alpha1 kind), logged too. */
void ctl_event(struct op_ctl *ctl, const cJSON *obj, const char *kind, const char *type,
               const char *reason, const char *msg);
/* A failed API call, as one log line (any thread). */
void ctl_log_err(const char *what, const char *name, int rc, const struct kube_status *st);

/* reconcile_model.c: one Model by its key "namespace/name"; *requeue_ms
 * (0: none) when it wants to look again. */
int ctl_reconcile_model(struct op_ctl *ctl, const char *key, int64_t *requeue_ms);
/* The per-Model memory, made on first use; NULL when out of memory. */
struct ctl_mstate *ctl_mstate_get(struct op_ctl *ctl, const char *key);

/* reconcile_metrics.c: one canary analysis run when its interval has
 * passed (sets *analysis_abort and v->analysis); one autoscaler sample and
 * decision (sets v->autoscaling, writes spec.replicas through /scale). */
void ctl_analyse(struct op_ctl *ctl, const cJSON *model, const char *key, const cJSON *reps,
                 const struct ctl_nodes *nodes, struct ctl_model_view *v, bool canary_failed,
                 bool *analysis_abort, int64_t *requeue_ms);
void ctl_autoscale(struct op_ctl *ctl, const cJSON *model, const char *key, const cJSON *reps,
                   const struct ctl_nodes *nodes, struct ctl_model_view *v, int64_t *requeue_ms);

/* reconcile_node.c */
int ctl_reconcile_nodes(struct op_ctl *ctl); /* the "!nodes" sweep */
/* Fills t from the caches; t->inodes is the caller's to free, on error too. */
int ctl_nodes_load(struct op_ctl *ctl, struct ctl_nodes *t, const char *ns, const char *model);
/* Index of node name in t, -1 when absent (or name is NULL). */
int ctl_nodes_find(const struct ctl_nodes *t, const char *name);

/* golden.c: ctl_golden_main is the golden thread (op_ctl_lead starts it,
 * ctl_golden_stop joins it); ctl_golden_jobs_free from op_ctl_free. */
void *ctl_golden_main(void *arg);
void ctl_golden_stop(struct op_ctl *ctl);
void ctl_golden_jobs_free(struct op_ctl *ctl);
/* Queues the Model's golden prompts against its canary (one job per Model);
 * ctl_golden_take takes a finished job's verdict, OP_GOLDEN_NOT_RUN if none. */
void ctl_golden_submit(struct op_ctl *ctl, const cJSON *model, const char *key, const cJSON *reps,
                       const struct ctl_nodes *nodes, int32_t canary);
enum op_golden_result ctl_golden_take(struct op_ctl *ctl, const char *key, int32_t rev, char *why,
                                      size_t why_len);

#endif
