/* schedule.c: filter and score InferenceNodes for one ModelReplica
 * (op_schedule.h). */
#include "op_core.h"
#include "op_schedule.h"

#include <stdio.h>
#include <string.h>

static bool sc_cached(const struct op_node *node, const char *sha256)
{
    size_t i;

    if (!sha256 || !*sha256 || !node->cached_sha256) return false;
    for (i = 0; i < node->n_cached; i++)
        if (node->cached_sha256[i] && strcmp(node->cached_sha256[i], sha256) == 0) return true;
    return false;
}

/* Mean free fraction of cpu and memory once req is placed: higher is emptier. */
static double sc_free_after(const struct op_node *node, const struct op_sched_request *req)
{
    double cpu = 0, mem = 0;

    if (node->alloc_cpu_milli > 0)
        cpu = (double)(node->alloc_cpu_milli - node->used_cpu_milli - req->cpu_milli) /
              (double)node->alloc_cpu_milli;
    if (node->alloc_mem_bytes > 0)
        mem = (double)(node->alloc_mem_bytes - node->used_mem_bytes - req->mem_bytes) /
              (double)node->alloc_mem_bytes;
    return (cpu + mem) / 2;
}

/* True when a is a better choice than b (both fit). */
static bool sc_better(const struct op_node *a, const struct op_node *b,
                      const struct op_sched_request *req)
{
    bool ca = sc_cached(a, req->sha256), cb = sc_cached(b, req->sha256);
    bool xa = req->avoid && a->name && strcmp(a->name, req->avoid) == 0;
    bool xb = req->avoid && b->name && strcmp(b->name, req->avoid) == 0;
    double fa, fb;
    int cmp;

    if (xa != xb) return xb;
    if (ca != cb) return ca;
    if (a->model_replicas != b->model_replicas) return a->model_replicas < b->model_replicas;
    fa = sc_free_after(a, req);
    fb = sc_free_after(b, req);
    if (fa != fb) return fa > fb;
    cmp = strcmp(a->name ? a->name : "", b->name ? b->name : "");
    return cmp < 0;
}

/* Appends ", N what" (or "N what" first) to buf when n > 0. */
static void sc_reason_part(char *buf, size_t len, size_t n, const char *what)
{
    size_t used;

    if (n == 0 || !buf || len == 0) return;
    used = strlen(buf);
    if (used + 1 >= len) return;
    snprintf(buf + used, len - used, "%s%zu %s", buf[used - 1] == ' ' ? "" : ", ", n, what);
}

int op_schedule(const struct op_node *nodes, size_t n, const struct op_sched_request *req,
                size_t *chosen, char *reason, size_t reason_len)
{
    size_t i, best = 0, not_ready = 0, cordoned = 0, no_cpu = 0, no_mem = 0;
    bool found = false;

    if (!req || !chosen || (n > 0 && !nodes)) return OP_EINVAL;
    if (req->cpu_milli < 0 || req->mem_bytes < 0) return OP_EINVAL;
    for (i = 0; i < n; i++) {
        const struct op_node *node = &nodes[i];
        bool fits = true;

        if (!node->ready) {
            not_ready++;
            continue;
        }
        if (node->unschedulable) {
            cordoned++;
            continue;
        }
        if (node->alloc_cpu_milli - node->used_cpu_milli < req->cpu_milli) {
            no_cpu++;
            fits = false;
        }
        if (node->alloc_mem_bytes - node->used_mem_bytes < req->mem_bytes) {
            no_mem++;
            fits = false;
        }
        if (!fits) continue;
        if (!found || sc_better(node, &nodes[best], req)) {
            best = i;
            found = true;
        }
    }
    if (found) {
        *chosen = best;
        if (reason && reason_len) reason[0] = '\0';
        return OP_OK;
    }
    if (reason && reason_len) {
        size_t used;
        if (n == 0) {
            snprintf(reason, reason_len, "0/0 nodes are available: no InferenceNodes.");
            return OP_ENOFIT;
        }
        snprintf(reason, reason_len, "0/%zu nodes are available: ", n);
        sc_reason_part(reason, reason_len, not_ready, "not ready");
        sc_reason_part(reason, reason_len, cordoned, "unschedulable");
        sc_reason_part(reason, reason_len, no_cpu, "insufficient cpu");
        sc_reason_part(reason, reason_len, no_mem, "insufficient memory");
        used = strlen(reason);
        if (used + 1 < reason_len) snprintf(reason + used, reason_len - used, ".");
    }
    return OP_ENOFIT;
}

void op_schedule_bind(struct op_node *node, const struct op_sched_request *req)
{
    if (!node || !req) return;
    node->used_cpu_milli += req->cpu_milli;
    node->used_mem_bytes += req->mem_bytes;
    node->model_replicas++;
}
