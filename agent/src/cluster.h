/* cluster: kllm-agent's cluster mode — the node reporter, the replica
 * lifecycle and the router's view of the fleet.
 *
 * - InferenceNode <node>: created if missing; status (capacity, allocatable,
 *   allocated, cachedModels, endpoint, agentVersion, Ready condition) is
 *   patched when it differs from what was last written, never on a timer.
 * - Lease <ns>/kllm-node-<node>: renewed every 10 s by its own thread.
 * - ModelReplicas with label kllm.io/node=<node>: one worker thread brings
 *   each up (Pending -> Downloading with progress -> Loading -> warm-up ->
 *   golden prompts of its Model -> Ready with endpoint and readyAt, or
 *   Failed with a message) into a free model slot of the HTTP server, and
 *   unloads a replica that is deleted (or Terminating) once no HTTP thread
 *   uses it. A Failed replica is not retried until it is re-created (new uid).
 * - Router (srv_router): Models and Ready ModelReplicas of all namespaces
 *   from two informers; choices by route.c.
 *
 * Ownership: the slots and mx are borrowed (they must outlive the
 * cluster); the cluster loads into and frees from the slots it fills.
 * Threads: cluster_new/start/stop/free from the main thread; the router
 * callbacks from any thread.
 */
#ifndef AGENT_CLUSTER_H
#define AGENT_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "metrics.h"
#include "tmpl.h"

struct cluster_opts {
    const char *node_name;
    const char *kubeconfig; /* NULL: in-cluster (or $KUBECONFIG) */
    const char *ns;         /* Lease namespace */
    int64_t cpu_milli;      /* capacity; 0: from the cgroup / the CPU count */
    int64_t memory;         /* bytes; 0: from the cgroup / /proc/meminfo */
    const char *cache_dir;
    uint64_t cache_max_bytes;
    int32_t n_batch, queue_max, threads; /* scheduler defaults (--batch-size ...) */
    enum tmpl_kind tmpl_override;
    int64_t drain_ms; /* a deleted replica finishes its requests this long (--shutdown-timeout) */
    struct srv_model *slots; /* empty slots the replicas are loaded into */
    int n_slots;
    struct mx *mx;
};

struct cluster;

/* Loads the kube config and creates the client. NULL with err on failure. */
struct cluster *cluster_new(const struct cluster_opts *o, char *err, size_t errlen);
/* Registers the node (advertise: the host:port peers and the operator use),
 * takes the Lease, starts the informers and threads. 0, or -1 with err. */
int cluster_start(struct cluster *cl, const char *advertise, char *err, size_t errlen);
/* The router for srv_config.router (valid until cluster_free). */
const struct srv_router *cluster_router(struct cluster *cl);
/* Stops the threads and informers, unloads every replica. Idempotent. */
void cluster_stop(struct cluster *cl);
void cluster_free(struct cluster *cl);

/* Quantities as Kubernetes writes them: "2", "500m", "1.5" (cpu, into
 * millicores) and "3Gi", "512M", "1000" (bytes). 0 or -1. Exposed for tests. */
int cluster_parse_cpu(const char *s, int64_t *milli);
int cluster_parse_bytes(const char *s, int64_t *bytes);

#endif
