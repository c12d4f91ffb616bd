/* kubectl-kllm: the kubectl plugin (`kubectl kllm ...`, DESIGN.md §7).
 *
 *   kubectl kllm status   MODEL [-n NS]        revisions, rollout, replicas per node
 *   kubectl kllm promote  MODEL [-n NS]        skip the current pause of the rollout
 *   kubectl kllm abort    MODEL [-n NS]        roll the canary back now
 *   kubectl kllm rollback MODEL --to REV [-n NS]  copy revision REV's source+engine
 *                                               into the Model (a normal rollout follows)
 *   kubectl kllm top      MODEL [-n NS]        per-replica load from the agents' /metrics
 *
 * promote and abort set the annotations kllm.io/promote / kllm.io/abort on
 * the Model; the operator acts on them and removes them (op_plan.h). The
 * cluster comes from $KUBECONFIG / ~/.kube/config (or in-cluster), the
 * namespace from -n or the kubeconfig context. Exit status: 0 ok, 1 failed
 * (one line on stderr), 2 bad usage.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/client.h"
#include "kube/config.h"
#include "op_plan.h"
#include "op_scrape.h"

static const struct kube_resource r_models = {"kllm.io", "v1alpha1", "models", 1};
static const struct kube_resource r_revisions = {"kllm.io", "v1alpha1", "modelrevisions", 1};
static const struct kube_resource r_replicas = {"kllm.io", "v1alpha1", "modelreplicas", 1};

static const char usage[] =
    "usage: kubectl kllm COMMAND MODEL [-n NAMESPACE] [--to REV]\n"
    "  status MODEL          rollout state, revisions and replicas per node\n"
    "  promote MODEL         skip the current pause of the running rollout\n"
    "  abort MODEL           abort the running rollout (canary removed, stable kept)\n"
    "  rollback MODEL [--to REV]  copy revision REV (default: the one before the stable)\n"
    "                        back into the Model's spec; this starts a normal rollout\n"
    "  top MODEL             per-replica load scraped from the agents' /metrics\n"
    "  --kubeconfig FILE, -n/--namespace NS, --help, --version\n";

struct kk {
    struct kube_client *c;
    const char *ns;
    const char *model;
};

static int kk_fail(const char *what, int rc, const struct kube_status *st)
{
    fprintf(stderr, "kubectl-kllm: %s: %s%s%s\n", what, kube_strerror(rc),
            st && st->message[0] ? ": " : "", st && st->message[0] ? st->message : "");
    return 1;
}

static int kk_get_model(struct kk *k, cJSON **model)
{
    struct kube_status st;
    int rc = kube_get(k->c, &r_models, k->ns, k->model, model, &st);
    if (rc == KUBE_ENOTFOUND) {
        fprintf(stderr, "kubectl-kllm: model %s/%s not found\n", k->ns, k->model);
        return 1;
    }
    if (rc) return kk_fail("get model", rc, &st);
    return 0;
}

static int kk_list(struct kk *k, const struct kube_resource *r, cJSON **items)
{
    struct kube_list_opts lo;
    struct kube_status st;
    char sel[400];
    int rc;

    memset(&lo, 0, sizeof(lo));
    snprintf(sel, sizeof(sel), "%s=%s", OP_LABEL_MODEL, k->model);
    lo.label_selector = sel;
    rc = kube_list_all(k->c, r, k->ns, &lo, items, NULL, &st);
    if (rc) return kk_fail("list", rc, &st);
    return 0;
}

static const char *kk_s(const cJSON *o, const char *path)
{
    const char *s = op_json_str(o, path);
    return s ? s : "-";
}

static int kk_cmp_rev(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    int64_t rx = op_json_int(x, "spec.revision", 0), ry = op_json_int(y, "spec.revision", 0);
    if (rx != ry) return rx < ry ? -1 : 1;
    return strcmp(kk_s(x, "metadata.name"), kk_s(y, "metadata.name"));
}

/* items sorted by spec.revision then name, as a borrowed pointer array. */
static const cJSON **kk_sorted(const cJSON *items, size_t *n)
{
    const cJSON **v;
    const cJSON *it;
    size_t i = 0;
    *n = (size_t)cJSON_GetArraySize(items);
    v = calloc(*n ? *n : 1, sizeof(*v));
    if (!v) return NULL;
    cJSON_ArrayForEach(it, items) v[i++] = it;
    qsort(v, *n, sizeof(*v), kk_cmp_rev);
    return v;
}

static int kk_status(struct kk *k)
{
    cJSON *m = NULL, *revs = NULL, *reps = NULL;
    const cJSON **v = NULL;
    const cJSON *c;
    size_t n;
    int rc = 1;

    if (kk_get_model(k, &m) || kk_list(k, &r_revisions, &revs) || kk_list(k, &r_replicas, &reps))
        goto out;
    printf("Model:     %s/%s\n", k->ns, k->model);
    printf("Phase:     %s\n", kk_s(m, "status.phase"));
    printf("Ready:     %s\n", kk_s(m, "status.ready"));
    printf("Stable:    %lld\n", (long long)op_json_int(m, "status.stableRevision", 0));
    if (op_json_at(m, "status.canaryRevision"))
        printf("Canary:    %lld (weight %lld%%, step %lld)\n",
               (long long)op_json_int(m, "status.canaryRevision", 0),
               (long long)op_json_int(m, "status.canaryWeight", 0),
               (long long)op_json_int(m, "status.currentStep", 0));
    if (op_json_at(m, "status.analysis"))
        printf("Analysis:  %s (failed checks %lld) %s\n", kk_s(m, "status.analysis.result"),
               (long long)op_json_int(m, "status.analysis.failedChecks", 0),
               kk_s(m, "status.analysis.message"));
    printf("Endpoint:  %s\n", kk_s(m, "status.endpoint"));
    printf("Conditions:\n");
    cJSON_ArrayForEach(c, op_json_at(m, "status.conditions"))
    {
        printf("  %-12s %-6s %-20s %s\n", kk_s(c, "type"), kk_s(c, "status"), kk_s(c, "reason"),
               op_json_str(c, "message") ? op_json_str(c, "message") : "");
    }
    v = kk_sorted(revs, &n);
    if (!v) goto out;
    printf("Revisions:\n  %-4s %-11s %-12s %s\n", "REV", "OUTCOME", "REASON", "SOURCE");
    for (size_t i = 0; i < n; i++)
        printf("  %-4lld %-11s %-12s %s\n", (long long)op_json_int(v[i], "spec.revision", 0),
               kk_s(v[i], "status.outcome"), kk_s(v[i], "status.reason"),
               kk_s(v[i], "spec.source.uri"));
    free(v);
    v = kk_sorted(reps, &n);
    if (!v) goto out;
    printf("Replicas:\n  %-28s %-4s %-20s %-12s %s\n", "NAME", "REV", "NODE", "PHASE", "ENDPOINT");
    for (size_t i = 0; i < n; i++)
        printf("  %-28s %-4lld %-20s %-12s %s\n", kk_s(v[i], "metadata.name"),
               (long long)op_json_int(v[i], "spec.revision", 0), kk_s(v[i], "spec.nodeName"),
               kk_s(v[i], "status.phase"), kk_s(v[i], "status.endpoint"));
    rc = 0;
out:
    free(v);
    cJSON_Delete(reps);
    cJSON_Delete(revs);
    cJSON_Delete(m);
    return rc;
}

static int kk_annotate(struct kk *k, const char *ann, const char *verb)
{
    cJSON *m = NULL, *p = NULL, *meta, *anns;
    struct kube_status st;
    char val[32];
    int rc = 1, kr;

    if (kk_get_model(k, &m)) goto out;
    if (!op_json_at(m, "status.canaryRevision")) {
        fprintf(stderr, "kubectl-kllm: model %s/%s has no rollout in progress\n", k->ns, k->model);
        goto out;
    }
    if (op_json_str(m, "status.phase") && !strcmp(op_json_str(m, "status.phase"), "RolledBack")) {
        fprintf(stderr, "kubectl-kllm: the rollout of revision %lld was already rolled back\n",
                (long long)op_json_int(m, "status.canaryRevision", 0));
        goto out;
    }
    snprintf(val, sizeof(val), "%lld", (long long)op_json_int(m, "status.canaryRevision", 0));
    p = cJSON_CreateObject();
    meta = p ? cJSON_AddObjectToObject(p, "metadata") : NULL;
    anns = meta ? cJSON_AddObjectToObject(meta, "annotations") : NULL;
    if (!anns) goto out;
    cJSON_AddStringToObject(anns, ann, val);
    kr = kube_patch_merge(k->c, &r_models, k->ns, k->model, NULL, p, NULL, &st);
    if (kr) {
        rc = kk_fail(verb, kr, &st);
        goto out;
    }
    printf("model.kllm.io/%s: %s requested (canary revision %s)\n", k->model, verb, val);
    rc = 0;
out:
    cJSON_Delete(p);
    cJSON_Delete(m);
    return rc;
}

static int kk_rollback(struct kk *k, int64_t to)
{
    cJSON *m = NULL, *revs = NULL, *p = NULL, *spec, *src;
    const cJSON *it, *rev = NULL;
    struct kube_status st;
    int rc = 1, kr;
    int64_t stable;

    if (kk_get_model(k, &m) || kk_list(k, &r_revisions, &revs)) goto out;
    stable = op_json_int(m, "status.stableRevision", 0);
    cJSON_ArrayForEach(it, revs)
    {
        int64_t n = op_json_int(it, "spec.revision", 0);
        if (to > 0 ? n == to : (n < stable && (!rev || n > op_json_int(rev, "spec.revision", 0))))
            rev = it;
    }
    if (!rev) {
        if (to > 0)
            fprintf(stderr, "kubectl-kllm: model %s/%s has no revision %lld\n", k->ns, k->model,
                    (long long)to);
        else
            fprintf(stderr, "kubectl-kllm: model %s/%s has no revision before %lld\n", k->ns,
                    k->model, (long long)stable);
        goto out;
    }
    p = cJSON_CreateObject();
    spec = p ? cJSON_AddObjectToObject(p, "spec") : NULL;
    src = spec ? cJSON_AddObjectToObject(spec, "source") : NULL;
    if (!src) goto out;
    cJSON_AddStringToObject(src, "uri", kk_s(rev, "spec.source.uri"));
    if (op_json_str(rev, "spec.source.sha256"))
        cJSON_AddStringToObject(src, "sha256", op_json_str(rev, "spec.source.sha256"));
    else
        cJSON_AddNullToObject(src, "sha256");
    if (op_json_at(rev, "spec.engine"))
        cJSON_AddItemToObject(spec, "engine", cJSON_Duplicate(op_json_at(rev, "spec.engine"), 1));
    kr = kube_patch_merge(k->c, &r_models, k->ns, k->model, NULL, p, NULL, &st);
    if (kr) {
        rc = kk_fail("rollback", kr, &st);
        goto out;
    }
    printf("model.kllm.io/%s: spec set to revision %lld (%s)\n", k->model,
           (long long)op_json_int(rev, "spec.revision", 0), kk_s(rev, "spec.source.uri"));
    rc = 0;
out:
    cJSON_Delete(p);
    cJSON_Delete(revs);
    cJSON_Delete(m);
    return rc;
}

/* GET http://endpoint/metrics (capped at 4 MiB): the page, or NULL. */
static char *kk_scrape(const char *endpoint)
{
    CURL *h = curl_easy_init();
    struct op_capbuf b = {.max = 4u << 20};
    char url[600];
    long code = 0;
    char *page = NULL;

    if (!h) return NULL;
    snprintf(url, sizeof(url), "%s%s/metrics", strstr(endpoint, "://") ? "" : "http://", endpoint);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, op_capbuf_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(h) == CURLE_OK &&
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code == 200)
        page = op_capbuf_take(&b);
    free(b.p);
    curl_easy_cleanup(h);
    return page;
}

static int kk_top(struct kk *k)
{
    cJSON *reps = NULL;
    const cJSON **v = NULL;
    char lab[600];
    size_t n;
    int rc = 1;

    if (kk_list(k, &r_replicas, &reps)) goto out;
    v = kk_sorted(reps, &n);
    if (!v) goto out;
    snprintf(lab, sizeof(lab), "model=\"%s/%s\"", k->ns, k->model);
    printf("%-28s %-4s %-20s %-8s %9s %7s %12s %10s\n", "NAME", "REV", "NODE", "PHASE", "IN-FLIGHT",
           "QUEUED", "GEN-TOKENS", "REQUESTS");
    for (size_t i = 0; i < n; i++) {
        const char *ep = op_json_str(v[i], "status.endpoint");
        int f1 = 0, f2 = 0, f3 = 0, f4 = 0;
        double infl = 0, q = 0, tok = 0, req = 0;
        char *page = ep ? kk_scrape(ep) : NULL;
        if (page) {
            /* Cluster-mode agents label by NAMESPACE/NAME; fall back to all. */
            const char *sel = strstr(page, lab) ? lab : NULL;
            infl = op_prom_sum(page, "kllm_requests_in_flight", sel, &f1);
            q = op_prom_sum(page, "kllm_requests_queued", sel, &f2);
            tok = op_prom_sum(page, "kllm_generated_tokens_total", sel, &f3);
            req = op_prom_sum(page, "kllm_requests_total", sel, &f4);
            free(page);
        }
        if (f1 + f2 + f3 + f4 > 0)
            printf("%-28s %-4lld %-20s %-8s %9.0f %7.0f %12.0f %10.0f\n",
                   kk_s(v[i], "metadata.name"), (long long)op_json_int(v[i], "spec.revision", 0),
                   kk_s(v[i], "spec.nodeName"), kk_s(v[i], "status.phase"), infl, q, tok, req);
        else
            printf("%-28s %-4lld %-20s %-8s %9s %7s %12s %10s\n", kk_s(v[i], "metadata.name"),
                   (long long)op_json_int(v[i], "spec.revision", 0), kk_s(v[i], "spec.nodeName"),
                   kk_s(v[i], "status.phase"), "-", "-", "-", "-");
    }
    rc = 0;
out:
    free(v);
    cJSON_Delete(reps);
    return rc;
}

int main(int argc, char **argv)
{
    struct kube_config cfg;
    struct kk k = {NULL, NULL, NULL};
    const char *cmd = NULL, *kubeconfig = NULL;
    char err[512] = "";
    int64_t to = 0;
    int rc = 2;

    memset(&cfg, 0, sizeof(cfg));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        bool is_ns = !strcmp(a, "-n") || !strcmp(a, "--namespace");
        bool is_to = !strcmp(a, "--to");
        bool is_kc = !strcmp(a, "--kubeconfig");
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        }
        if (!strcmp(a, "--version")) {
            printf("kubectl-kllm %s\n", KLLM_VERSION);
            return 0;
        }
        if (!strncmp(a, "--namespace=", 12)) {
            k.ns = a + 12;
            continue;
        }
        if (!strncmp(a, "--to=", 5)) {
            val = a + 5;
            is_to = true;
        } else if (!strncmp(a, "--kubeconfig=", 13)) {
            kubeconfig = a + 13;
            continue;
        } else if (is_ns || is_to || is_kc) {
            if (i + 1 >= argc) {
                fprintf(stderr, "kubectl-kllm: %s needs a value\n", a);
                return 2;
            }
            val = argv[++i];
        }
        if (is_ns) {
            k.ns = val;
        } else if (is_kc) {
            kubeconfig = val;
        } else if (is_to) {
            char *end = NULL;
            errno = 0;
            to = strtoll(val, &end, 10);
            if (errno || !end || *end || to < 1) {
                fprintf(stderr, "kubectl-kllm: --to: expected a revision number, got %s\n", val);
                return 2;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "kubectl-kllm: unknown flag %s (see --help)\n", a);
            return 2;
        } else if (!cmd) {
            cmd = a;
        } else if (!k.model) {
            k.model = a;
        } else {
            fprintf(stderr, "kubectl-kllm: unexpected argument %s\n", a);
            return 2;
        }
    }
    if (!cmd) {
        fputs(usage, stderr);
        return 2;
    }
    if (strcmp(cmd, "status") && strcmp(cmd, "promote") && strcmp(cmd, "abort") &&
        strcmp(cmd, "rollback") && strcmp(cmd, "top")) {
        fprintf(stderr, "kubectl-kllm: unknown command %s (see --help)\n", cmd);
        return 2;
    }
    if (!k.model) {
        fprintf(stderr, "kubectl-kllm: %s needs a MODEL name\n", cmd);
        return 2;
    }
    if (to && strcmp(cmd, "rollback") != 0) {
        fprintf(stderr, "kubectl-kllm: --to only applies to rollback\n");
        return 2;
    }
    rc = kubeconfig ? kube_config_load_file(&cfg, kubeconfig, NULL, err, sizeof(err))
                    : kube_config_load_default(&cfg, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "kubectl-kllm: cluster config: %s\n", err[0] ? err : kube_strerror(rc));
        rc = 1;
        goto out;
    }
    if (!k.ns) k.ns = cfg.namespace_ ? cfg.namespace_ : "default";
    rc = kube_client_new(&cfg, NULL, &k.c);
    if (rc) {
        rc = kk_fail("client", rc, NULL);
        goto out;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!strcmp(cmd, "status"))
        rc = kk_status(&k);
    else if (!strcmp(cmd, "promote"))
        rc = kk_annotate(&k, OP_ANN_PROMOTE, "promote");
    else if (!strcmp(cmd, "abort"))
        rc = kk_annotate(&k, OP_ANN_ABORT, "abort");
    else if (!strcmp(cmd, "rollback"))
        rc = kk_rollback(&k, to);
    else
        rc = kk_top(&k);
out:
    kube_client_free(k.c);
    kube_config_deinit(&cfg);
    return rc;
}
