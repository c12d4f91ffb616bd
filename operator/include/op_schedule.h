/* op_schedule: binds a ModelReplica to an InferenceNode (DESIGN.md §3.2).
 *
 * Filter: a node qualifies when it is Ready, not unschedulable, and its
 * allocatable cpu and memory minus the requests of the replicas already
 * bound to it cover the replica's requests.
 * Score, in order (the first difference decides):
 *   1. not the node to avoid (where the replica being replaced failed: its
 *      cache or hardware may be the cause), which is still used when it is
 *      the only one that fits;
 *   2. the node's model cache holds the replica's sha256 (no download);
 *   3. fewer replicas of the same Model on the node (spread);
 *   4. least allocated after placement (mean free fraction of cpu and memory);
 *   5. node name, so equal nodes are chosen the same way every time.
 * When nothing fits, the reason reads like the Kubernetes scheduler's:
 * "0/3 nodes are available: 1 not ready, 2 insufficient memory."
 *
 * The controller fills the node table from its informer cache (allocatable
 * parsed with op_quantity, used from the ModelReplicas bound to each node),
 * calls op_schedule for one replica, and after binding it calls
 * op_schedule_bind so that the next replica of the same pass sees the
 * node's new usage.
 *
 * Ownership: nodes and their strings are borrowed for the call; nothing is
 * kept. Threads: reentrant.
 */
#ifndef OP_SCHEDULE_H
#define OP_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct op_node {
    const char *name;
    bool ready;
    bool unschedulable;
    int64_t alloc_cpu_milli; /* status.allocatable.cpu */
    int64_t alloc_mem_bytes; /* status.allocatable.memory */
    int64_t used_cpu_milli;  /* sum of requests of replicas bound here */
    int64_t used_mem_bytes;
    const char *const *cached_sha256; /* status.cachedModels[].sha256; borrowed */
    size_t n_cached;
    int32_t model_replicas; /* replicas of the Model being placed already here */
};

struct op_sched_request {
    int64_t cpu_milli;  /* spec.resources.cpu */
    int64_t mem_bytes;  /* spec.resources.memory */
    const char *sha256; /* spec.source.sha256, or NULL */
    const char *avoid;  /* node name to use only as a last resort, or NULL */
};

/* Picks a node for req. On success returns OP_OK and sets *chosen to its
 * index in nodes. When none fits returns OP_ENOFIT and writes a one-line
 * reason into reason (always NUL-terminated when reason_len > 0; may be
 * NULL). OP_EINVAL for NULL nodes/req/chosen with n > 0, or negative
 * requests. */
int op_schedule(const struct op_node *nodes, size_t n, const struct op_sched_request *req,
                size_t *chosen, char *reason, size_t reason_len);

/* Adds req to node's usage and counts one more replica of the Model. */
void op_schedule_bind(struct op_node *node, const struct op_sched_request *req);

#endif
