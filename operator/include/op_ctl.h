/* op_ctl: the controllers of kllm-operator — informers on Models,
 * ModelRevisions, ModelReplicas, InferenceNodes and the node Leases, one
 * work queue keyed by "namespace/name" of a Model (plus the key "!nodes"
 * for the node liveness sweep), and one worker that reconciles.
 *
 * Life cycle (main.c): op_ctl_new, op_ctl_start (informers, on every
 * replica so that caches are warm), op_ctl_lead when this process becomes
 * leader (starts the worker), op_ctl_stop (worker, then informers),
 * op_ctl_free. Only the leader reconciles; every replica serves metrics.
 *
 * What a Model reconcile does (level-based, idempotent, from the caches):
 * finalizer; ModelRevision per distinct source+engine; rollout state
 * machine (op_rollout) driven by ready counts, pause timers and the
 * kllm.io/promote / kllm.io/abort annotations; ModelReplicas per revision,
 * bound with op_schedule; replicas on nodes whose Lease expired more than
 * the grace period ago are deleted and re-created elsewhere; status and
 * Events. Deterministic replica names (<model>-<rev>-<idx>) make a create
 * that the cache has not seen yet fail with AlreadyExists instead of
 * creating a duplicate.
 *
 * Threads: op_ctl_start/lead/stop/free from one controlling thread;
 * op_ctl_metrics and op_ctl_synced from any thread. Reconciles run on the
 * worker thread only. While leading, two more threads talk to agents so
 * that no reconcile waits for one: the scraper (op_scraper.h) fetches
 * their /metrics into a cache the reconciles read, and the golden thread
 * runs a rollout's golden prompts, whose verdict the next analysis run
 * takes.
 */
#ifndef OP_CTL_H
#define OP_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/client.h"

struct op_ctl_opts {
    const char *ns;       /* operator namespace (node Leases, Events of nodes) */
    const char *identity; /* Event source host */
    int64_t node_lease_timeout_ms;
    int64_t node_grace_ms;
    const char *endpoint; /* status.endpoint of every Model; NULL: default */
    const char *api_key;  /* bearer token for the agents' /v1 API (copied); NULL: none */
};

struct op_ctl;

/* c must outlive the controller. */
int op_ctl_new(struct kube_client *c, const struct op_ctl_opts *o, struct op_ctl **out);
/* Starts the informers. */
int op_ctl_start(struct op_ctl *ctl);
/* Starts reconciling (this process is leader). */
int op_ctl_lead(struct op_ctl *ctl);
/* Stops the worker (waits for the reconcile in progress), then the informers. */
void op_ctl_stop(struct op_ctl *ctl);
void op_ctl_free(struct op_ctl *ctl);
/* 1 when every informer has listed once. */
int op_ctl_synced(struct op_ctl *ctl);
/* Prometheus text of the controller's metrics into buf; returns length. */
size_t op_ctl_metrics(struct op_ctl *ctl, char *buf, size_t cap);

#endif
