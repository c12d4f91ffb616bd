/* route: the cluster router's choices, as pure functions over a snapshot of
 * the routing table (Models and Ready ModelReplicas seen by the informers).
 *
 *   1. route_resolve: the request's `model` is "NAMESPACE/NAME", or a plain
 *      "NAME" that exactly one namespace has; ambiguity lists the choices.
 *   2. route_pick_revision: X-Kllm-Revision (stable|canary|<n>) pins; else
 *      the canary gets canaryWeight percent of requests (u is a uniform
 *      random number in [0, 1) supplied by the caller, so tests choose it).
 *   3. route_order: the Ready replicas of that revision, local first, then
 *      least loaded (ties keep table order), so the caller can try the first
 *      and fall back to the next when a peer refuses; with fallback, the
 *      model's other revisions follow in the same order, so that a request
 *      nobody pinned is served while a rollout moves (the agent may see the
 *      old revision's replicas leave before the Model's new status).
 *
 * No I/O, no locks, no allocation. Threads: any.
 */
#ifndef AGENT_ROUTE_H
#define AGENT_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTE_NS_MAX 64
#define ROUTE_NAME_MAX 254
#define ROUTE_EP_MAX 256

struct route_model {
    char ns[ROUTE_NS_MAX];
    char name[ROUTE_NAME_MAX];
    int32_t stable_rev; /* status.stableRevision; 0: unknown */
    int32_t canary_rev; /* status.canaryRevision; 0: none */
    int32_t canary_weight;
};

struct route_replica {
    char ns[ROUTE_NS_MAX];
    char model[ROUTE_NAME_MAX]; /* spec.model */
    int32_t revision;
    char endpoint[ROUTE_EP_MAX]; /* status.endpoint, host:port */
    bool local;                  /* served by this agent */
    int slot;                    /* local: the agent's model slot */
    int64_t load;                /* requests this agent has on it now */
};

enum route_err {
    ROUTE_OK = 0,
    ROUTE_ERR_NOTFOUND = -1,  /* 404 */
    ROUTE_ERR_AMBIGUOUS = -2, /* 400, err lists the choices */
    ROUTE_ERR_BADPIN = -3,    /* 400: X-Kllm-Revision is not stable|canary|<n> */
    ROUTE_ERR_NOREPLICA = -4, /* 503: no Ready replica of the revision */
};

/* Index of the model named req in ms[0..n), or ROUTE_ERR_NOTFOUND /
 * ROUTE_ERR_AMBIGUOUS with a client-facing message in err. */
int route_resolve(const struct route_model *ms, int n, const char *req, char *err, size_t errlen);

/* The revision to serve. pin NULL/"": weighted choice with u in [0,1).
 * Without a stable revision in status, the canary (or 0: any) is used.
 * Returns the revision (>= 0; 0 means "any revision") or ROUTE_ERR_BADPIN. */
int32_t route_pick_revision(const struct route_model *m, const char *pin, double u);

/* Fills idx[0..cap) with the indexes of rs[0..n) that serve model m at
 * revision rev (0: any), local first, then by load; with fallback, those
 * of its other revisions after them. Returns how many. */
int route_order(const struct route_replica *rs, int n, const struct route_model *m, int32_t rev,
                bool fallback, int *idx, int cap);

#endif
