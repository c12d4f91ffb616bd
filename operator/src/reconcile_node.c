/* reconcile_node.c: InferenceNodes. The node sweep (key "!nodes", every
 * NODE_SWEEP_MS) marks a node whose Lease kllm-node-<name> was not renewed
 * within --node-lease-timeout Ready=False LeaseExpired, and Ready again
 * once it is, and enqueues every Model when that changes something (their
 * reconciles move replicas off a node lost for longer than the grace
 * period). The node table built here is what op_schedule works on. Worker
 * thread only. */
#include "ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the node table for the scheduler ------------------------------------ */

static bool ctl_node_stale(const struct op_ctl *ctl, int64_t age_ms)
{
    return age_ms > ctl->o.node_lease_timeout_ms;
}

/* Fills t from the caches; usage from every bound replica (all namespaces);
 * model_replicas counts those of model ns/name. t->inodes (the JSON the
 * table borrows from) is the caller's to free, on error too. */
int ctl_nodes_load(struct op_ctl *ctl, struct ctl_nodes *t, const char *ns, const char *model)
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

int ctl_nodes_find(const struct ctl_nodes *t, const char *name)
{
    for (size_t i = 0; name && i < t->len; i++)
        if (strcmp(t->n[i].name, name) == 0) return (int)i;
    return -1;
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
    rc = kube_patch_merge(ctl->c, &ctl_r_inodes, NULL, kube_obj_name(node), "status", p, NULL, &st);
    if (rc) ctl_log_err("node status", kube_obj_name(node), rc, &st);
out:
    cJSON_Delete(conds);
    cJSON_Delete(p);
    return rc;
}

int ctl_reconcile_nodes(struct op_ctl *ctl)
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
