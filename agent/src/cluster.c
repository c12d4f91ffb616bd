/* cluster: node reporter, replica lifecycle and router view (cluster.h). */
#include "cluster.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <kube/client.h>
#include <kube/config.h>
#include <kube/informer.h>
#include <kube/leader.h>

#include "fetch.h"
#include "klog.h"
#include "route.h"
#include "scheduler.h"

#define LEASE_RENEW_S 10
#define LEASE_DURATION_S 40
#define WORKER_TICK_S 2
#define MAX_FAILED 64
#define MAX_PEERS 64
#define KEY_MAX 320

static const struct kube_resource r_nodes = {"kllm.io", "v1alpha1", "inferencenodes", 0};
static const struct kube_resource r_reps = {"kllm.io", "v1alpha1", "modelreplicas", 1};
static const struct kube_resource r_models = {"kllm.io", "v1alpha1", "models", 1};
static const struct kube_resource r_leases = {"coordination.k8s.io", "v1", "leases", 1};

/* What occupies one srv slot (worker thread only, except `key`/`uid`, read
 * under cl->mu by the router). */
struct slot_info {
    bool used;
    char key[KEY_MAX]; /* ns/replica */
    char uid[64];
    int32_t revision;
    int64_t cpu_milli, memory;
    char path[2048]; /* downloaded file in use (kept by cache eviction) */
};

struct peer_load {
    char endpoint[256];
    int64_t n;
};

struct cluster {
    struct cluster_opts o;
    char node[254], ns[64], advertise[256], cache_dir[1024];
    struct kube_config cfg;
    struct kube_client *c;
    struct kube_informer *inf_reps, *inf_models;

    pthread_mutex_t mu; /* everything below */
    pthread_cond_t cv;
    bool stopping, started, dirty;
    bool api_ok;
    struct slot_info *slots;
    struct {
        char key[KEY_MAX];
        char uid[64];
    } failed[MAX_FAILED];
    int n_failed;
    struct peer_load peers[MAX_PEERS];
    uint64_t rng;
    char *last_status; /* the InferenceNode status last written */
    char ready_since[40];

    pthread_t lease_thread, worker_thread;
    bool lease_running, worker_running;
    struct srv_router router;
};

/* ---- small helpers ---- */

static const cJSON *jat(const cJSON *o, const char *a, const char *b, const char *c)
{
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, a) : NULL;
    if (b) v = v ? cJSON_GetObjectItemCaseSensitive(v, b) : NULL;
    if (c) v = v ? cJSON_GetObjectItemCaseSensitive(v, c) : NULL;
    return v;
}

static const char *jstr(const cJSON *o, const char *a, const char *b, const char *c)
{
    const cJSON *v = jat(o, a, b, c);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int64_t jint(const cJSON *o, const char *a, const char *b, const char *c, int64_t dflt)
{
    const cJSON *v = jat(o, a, b, c);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

static void now_rfc3339(char *buf, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void kube_log(void *ud, enum kube_log_level lvl, const char *msg, const char *const *kv)
{
    (void)ud;
    klog_kv((enum klog_level)lvl, "kube", msg, kv);
}

int cluster_parse_cpu(const char *s, int64_t *milli)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0 || !isfinite(v)) return -1;
    if (*end == 'm' && end[1] == '\0')
        v /= 1000.0;
    else if (*end)
        return -1;
    *milli = (int64_t)llround(v * 1000.0);
    return 0;
}

int cluster_parse_bytes(const char *s, int64_t *bytes)
{
    static const struct {
        const char *suf;
        double mul;
    } sfx[] = {{"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
               {"k", 1e3},     {"M", 1e6},        {"G", 1e9},           {"T", 1e12},
               {"", 1.0}};
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0 || !isfinite(v)) return -1;
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++)
        if (strcmp(end, sfx[i].suf) == 0) {
            *bytes = (int64_t)llround(v * sfx[i].mul);
            return 0;
        }
    return -1;
}

/* int-or-string quantity field */
static int64_t jquantity(const cJSON *v, bool cpu, int64_t dflt)
{
    int64_t out = dflt;
    if (cJSON_IsNumber(v))
        return cpu ? (int64_t)(v->valuedouble * 1000.0) : (int64_t)v->valuedouble;
    if (!cJSON_IsString(v)) return dflt;
    if ((cpu ? cluster_parse_cpu(v->valuestring, &out)
             : cluster_parse_bytes(v->valuestring, &out)) < 0)
        return dflt;
    return out;
}

static bool has_label(const cJSON *obj, const char *k, const char *v)
{
    const char *got = jstr(obj, "metadata", "labels", k);
    return got && strcmp(got, v) == 0;
}

/* ---- capacity defaults ---- */

static int64_t read_file_i64(const char *path, const char *prefix)
{
    char buf[4096];
    FILE *f = fopen(path, "r");
    int64_t v = -1;
    if (!f) return -1;
    while (fgets(buf, sizeof buf, f)) {
        if (prefix && strncmp(buf, prefix, strlen(prefix)) != 0) continue;
        const char *p = buf + (prefix ? strlen(prefix) : 0);
        char *end = NULL;
        long long x = strtoll(p, &end, 10);
        if (end != p) v = x;
        break;
    }
    fclose(f);
    return v;
}

static int64_t default_cpu_milli(void)
{
    char buf[128];
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (f) {
        long long quota = 0, period = 0;
        bool ok = fgets(buf, sizeof buf, f) && sscanf(buf, "%lld %lld", &quota, &period) == 2;
        fclose(f);
        if (ok && quota > 0 && period > 0) return quota * 1000 / period;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return (n > 0 ? n : 1) * 1000;
}

static int64_t default_memory(void)
{
    int64_t mem = read_file_i64("/proc/meminfo", "MemTotal:");
    mem = mem > 0 ? mem * 1024 : 0;
    int64_t cg = read_file_i64("/sys/fs/cgroup/memory.max", NULL); /* "max" reads as -1 */
    if (cg > 0 && (mem == 0 || cg < mem)) mem = cg;
    return mem;
}

static int64_t cache_capacity(const struct cluster *cl)
{
    if (cl->o.cache_max_bytes > 0) return (int64_t)cl->o.cache_max_bytes;
    struct statvfs sv;
    if (statvfs(cl->cache_dir, &sv) == 0) return (int64_t)sv.f_blocks * (int64_t)sv.f_frsize;
    return 0;
}

/* ---- status writes ---- */

static int patch_status(struct cluster *cl, const struct kube_resource *r, const char *ns,
                        const char *name, cJSON *status)
{
    cJSON *p = cJSON_CreateObject();
    struct kube_status st;
    int rc = KUBE_ENOMEM;
    if (!p) {
        cJSON_Delete(status);
        return rc;
    }
    cJSON_AddItemToObject(p, "status", status);
    rc = kube_patch_merge(cl->c, r, ns, name, "status", p, NULL, &st);
    if (rc && rc != KUBE_ENOTFOUND) {
        const char *kv[] = {"object",  name,       "error", kube_strerror(rc),
                            "message", st.message, NULL};
        klog_kv(KLOG_WARN, "cluster", "status write failed", kv);
    }
    cJSON_Delete(p);
    pthread_mutex_lock(&cl->mu);
    cl->api_ok = rc == 0 || rc == KUBE_ENOTFOUND || rc == KUBE_ECONFLICT || rc == KUBE_EINVALID;
    pthread_mutex_unlock(&cl->mu);
    return rc;
}

/* phase plus optional fields; message NULL removes it (merge-patch null:
 * this API server turns "" into null anyway). */
static void replica_status(struct cluster *cl, const char *ns, const char *name, const char *phase,
                           int progress, const char *message, bool ready)
{
    cJSON *s = cJSON_CreateObject();
    char now[40];
    if (!s) return;
    now_rfc3339(now, sizeof now);
    cJSON_AddStringToObject(s, "phase", phase);
    if (progress >= 0) cJSON_AddNumberToObject(s, "progress", progress);
    if (message)
        cJSON_AddStringToObject(s, "message", message);
    else
        cJSON_AddNullToObject(s, "message");
    if (strcmp(phase, "Downloading") == 0 && progress == 0)
        cJSON_AddStringToObject(s, "startedAt", now);
    if (ready) {
        cJSON_AddStringToObject(s, "endpoint", cl->advertise);
        cJSON_AddStringToObject(s, "readyAt", now);
    }
    if (ready || strcmp(phase, "Failed") == 0) {
        /* A merge patch replaces the whole list: keep the other writers'
         * conditions (the operator's Scheduled) as the cache has them. */
        cJSON *conds = cJSON_AddArrayToObject(s, "conditions");
        cJSON *cur = NULL;
        char key[KEY_MAX];
        snprintf(key, sizeof key, "%s/%s", ns, name);
        if (conds && kube_store_get(kube_informer_store(cl->inf_reps), key, &cur) == 0) {
            const cJSON *old = jat(cur, "status", "conditions", NULL), *oc;
            cJSON_ArrayForEach(oc, old)
            {
                const char *t = jstr(oc, "type", NULL, NULL);
                if (t && strcmp(t, "Ready") != 0)
                    cJSON_AddItemToArray(conds, cJSON_Duplicate(oc, 1));
            }
        }
        cJSON_Delete(cur);
        cJSON *c = cJSON_CreateObject();
        if (conds && c) {
            cJSON_AddStringToObject(c, "type", "Ready");
            cJSON_AddStringToObject(c, "status", ready ? "True" : "False");
            cJSON_AddStringToObject(c, "reason", ready ? "Loaded" : "Failed");
            cJSON_AddStringToObject(c, "lastTransitionTime", now);
            if (message) cJSON_AddStringToObject(c, "message", message);
            cJSON_AddItemToArray(conds, c);
        } else {
            cJSON_Delete(c);
        }
    }
    patch_status(cl, &r_reps, ns, name, s);
}

/* The node's status as we see it now (without the condition's time). */
static cJSON *node_status_new(struct cluster *cl)
{
    cJSON *s = cJSON_CreateObject(), *reps = NULL;
    char buf[64];
    int64_t cache = cache_capacity(cl), cpu_alloc = 0, mem_alloc = 0;
    if (!s) return NULL;
    if (kube_store_list(kube_informer_store(cl->inf_reps), NULL, NULL, &reps) == 0) {
        const cJSON *it;
        cJSON_ArrayForEach(it, reps)
        {
            const char *nn = jstr(it, "spec", "nodeName", NULL);
            if (!nn || strcmp(nn, cl->node) != 0) continue;
            if (jat(it, "metadata", "deletionTimestamp", NULL)) continue;
            cpu_alloc += jquantity(jat(it, "spec", "resources", "cpu"), true, 1000);
            mem_alloc += jquantity(jat(it, "spec", "resources", "memory"), false, 2LL << 30);
        }
    }
    cJSON_Delete(reps);
    const char *names[] = {"capacity", "allocatable", "allocated"};
    for (int i = 0; i < 3; i++) {
        cJSON *q = cJSON_AddObjectToObject(s, names[i]);
        if (!q) continue;
        snprintf(buf, sizeof buf, "%lldm", (long long)(i < 2 ? cl->o.cpu_milli : cpu_alloc));
        cJSON_AddStringToObject(q, "cpu", buf);
        cJSON_AddNumberToObject(q, "memory", (double)(i < 2 ? cl->o.memory : mem_alloc));
        if (i < 2)
            cJSON_AddNumberToObject(q, "modelCache", (double)cache);
        else
            cJSON_AddNumberToObject(q, "modelCache", (double)fetch_cache_bytes(cl->cache_dir));
    }
    cJSON *cached = cJSON_AddArrayToObject(s, "cachedModels");
    DIR *d = opendir(cl->cache_dir);
    struct dirent *de;
    while (cached && d && (de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (strncmp(de->d_name, "sha256-", 7) != 0 || nl != 7 + FETCH_SHA256_HEX + 5 ||
            strcmp(de->d_name + nl - 5, ".gguf") != 0)
            continue;
        char path[2048], sha[FETCH_SHA256_HEX + 1];
        struct stat stt;
        snprintf(path, sizeof path, "%s/%s", cl->cache_dir, de->d_name);
        if (stat(path, &stt) != 0) continue;
        memcpy(sha, de->d_name + 7, FETCH_SHA256_HEX);
        sha[FETCH_SHA256_HEX] = '\0';
        cJSON *m = cJSON_CreateObject();
        if (!m) break;
        cJSON_AddStringToObject(m, "sha256", sha);
        cJSON_AddNumberToObject(m, "sizeBytes", (double)stt.st_size);
        cJSON_AddItemToArray(cached, m);
    }
    if (d) closedir(d);
    cJSON_AddStringToObject(s, "endpoint", cl->advertise);
    cJSON_AddStringToObject(s, "agentVersion", KLLM_VERSION);
    return s;
}

static int node_register(struct cluster *cl, char *err, size_t errlen);

/* Writes the InferenceNode status when it differs from the last write. */
static void node_status_sync(struct cluster *cl)
{
    cJSON *s = node_status_new(cl);
    char *txt = s ? cJSON_PrintUnformatted(s) : NULL;
    if (!txt) goto out;
    if (cl->last_status && strcmp(cl->last_status, txt) == 0) goto out;
    cJSON *conds = cJSON_AddArrayToObject(s, "conditions");
    cJSON *c = cJSON_CreateObject();
    if (!conds || !c) {
        cJSON_Delete(c);
        goto out;
    }
    cJSON_AddStringToObject(c, "type", "Ready");
    cJSON_AddStringToObject(c, "status", "True");
    cJSON_AddStringToObject(c, "reason", "AgentReady");
    cJSON_AddStringToObject(c, "message", "kllm-agent is running");
    cJSON_AddStringToObject(c, "lastTransitionTime", cl->ready_since);
    cJSON_AddItemToArray(conds, c);
    cJSON *send = s;
    s = NULL;
    char err[256];
    int rc = patch_status(cl, &r_nodes, NULL, cl->node, send);
    if (rc == KUBE_ENOTFOUND && node_register(cl, err, sizeof err) == 0)
        klogf(KLOG_WARN, "cluster", "InferenceNode %s was deleted; created it again (status next)",
              cl->node); /* last_status unchanged: the next pass writes it */
    if (rc == 0) {
        free(cl->last_status);
        cl->last_status = txt;
        txt = NULL;
        klogf(KLOG_INFO, "cluster", "InferenceNode %s status written", cl->node);
    }
out:
    free(txt);
    cJSON_Delete(s);
}

static int node_register(struct cluster *cl, char *err, size_t errlen)
{
    cJSON *obj = NULL, *meta;
    struct kube_status st;
    int rc = kube_get(cl->c, &r_nodes, NULL, cl->node, &obj, &st);
    if (rc == KUBE_ENOTFOUND) {
        cJSON *n = cJSON_CreateObject();
        if (!n) return -1;
        cJSON_AddStringToObject(n, "apiVersion", "kllm.io/v1alpha1");
        cJSON_AddStringToObject(n, "kind", "InferenceNode");
        meta = cJSON_AddObjectToObject(n, "metadata");
        if (meta) cJSON_AddStringToObject(meta, "name", cl->node);
        rc = kube_create(cl->c, &r_nodes, NULL, n, NULL, &st);
        cJSON_Delete(n);
        if (rc == KUBE_EEXISTS) rc = 0;
    }
    cJSON_Delete(obj);
    if (rc) {
        snprintf(err, errlen, "InferenceNode %s: %s (%s)", cl->node, kube_strerror(rc), st.message);
        return -1;
    }
    return 0;
}

/* ---- Lease ---- */

static int lease_renew(struct cluster *cl)
{
    cJSON *obj = NULL;
    struct kube_status st;
    char name[300], now[64];
    snprintf(name, sizeof name, "kllm-node-%s", cl->node);
    kube_micro_time_now(now, sizeof now);
    int rc = kube_get(cl->c, &r_leases, cl->ns, name, &obj, &st);
    if (rc == KUBE_ENOTFOUND) {
        obj = cJSON_CreateObject();
        cJSON *meta = obj ? cJSON_AddObjectToObject(obj, "metadata") : NULL;
        cJSON *spec = obj ? cJSON_AddObjectToObject(obj, "spec") : NULL;
        if (!meta || !spec) {
            cJSON_Delete(obj);
            return KUBE_ENOMEM;
        }
        cJSON_AddStringToObject(obj, "apiVersion", "coordination.k8s.io/v1");
        cJSON_AddStringToObject(obj, "kind", "Lease");
        cJSON_AddStringToObject(meta, "name", name);
        cJSON_AddStringToObject(meta, "namespace", cl->ns);
        cJSON_AddStringToObject(spec, "holderIdentity", cl->node);
        cJSON_AddNumberToObject(spec, "leaseDurationSeconds", LEASE_DURATION_S);
        cJSON_AddStringToObject(spec, "acquireTime", now);
        cJSON_AddStringToObject(spec, "renewTime", now);
        rc = kube_create(cl->c, &r_leases, cl->ns, obj, NULL, &st);
    } else if (rc == 0) {
        cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
        if (!spec) spec = cJSON_AddObjectToObject(obj, "spec");
        if (spec) {
            cJSON_DeleteItemFromObjectCaseSensitive(spec, "renewTime");
            cJSON_DeleteItemFromObjectCaseSensitive(spec, "holderIdentity");
            cJSON_AddStringToObject(spec, "renewTime", now);
            cJSON_AddStringToObject(spec, "holderIdentity", cl->node);
            rc = kube_update(cl->c, &r_leases, cl->ns, name, NULL, obj, NULL, &st);
        }
    }
    cJSON_Delete(obj);
    if (rc) {
        const char *kv[] = {"lease", name, "error", kube_strerror(rc), "message", st.message, NULL};
        klog_kv(KLOG_WARN, "cluster", "lease renewal failed", kv);
    }
    pthread_mutex_lock(&cl->mu);
    cl->api_ok = rc == 0 || rc == KUBE_ECONFLICT;
    pthread_mutex_unlock(&cl->mu);
    return rc;
}

static void wait_locked(struct cluster *cl, int seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += seconds;
    pthread_cond_timedwait(&cl->cv, &cl->mu, &ts);
}

static void *lease_main(void *arg)
{
    struct cluster *cl = arg;
    pthread_mutex_lock(&cl->mu);
    while (!cl->stopping) {
        pthread_mutex_unlock(&cl->mu);
        lease_renew(cl);
        pthread_mutex_lock(&cl->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += LEASE_RENEW_S;
        while (!cl->stopping && pthread_cond_timedwait(&cl->cv, &cl->mu, &ts) != ETIMEDOUT) {}
    }
    pthread_mutex_unlock(&cl->mu);
    return NULL;
}

/* ---- replicas ---- */

struct bring {
    struct cluster *cl;
    const char *ns, *name, *key, *uid;
    int last_pct;
    time_t last_write;
};

static bool replica_still_wanted(struct cluster *cl, const char *key, const char *uid)
{
    cJSON *obj = NULL;
    bool want = kube_store_get(kube_informer_store(cl->inf_reps), key, &obj) == 0 &&
                !jat(obj, "metadata", "deletionTimestamp", NULL) &&
                strcmp(jstr(obj, "metadata", "uid", NULL) ? jstr(obj, "metadata", "uid", NULL) : "",
                       uid) == 0;
    cJSON_Delete(obj);
    return want;
}

static int fetch_cancelled(void *arg)
{
    struct bring *b = arg;
    pthread_mutex_lock(&b->cl->mu);
    bool stop = b->cl->stopping;
    pthread_mutex_unlock(&b->cl->mu);
    return stop || !replica_still_wanted(b->cl, b->key, b->uid);
}

static void fetch_progress(void *arg, int pct)
{
    struct bring *b = arg;
    time_t t = time(NULL);
    if (pct < 0 || pct > 100 || pct == b->last_pct || (pct < 100 && t - b->last_write < 1)) return;
    b->last_pct = pct;
    b->last_write = t;
    replica_status(b->cl, b->ns, b->name, "Downloading", pct, NULL, false);
}

/* Greedy completion of prompt through the engine thread (never on this
 * thread); text into out. 0 or -1 with err. */
static int run_prompt(struct srv_model *sm, const char *prompt, int32_t max_tokens, char *out,
                      size_t out_cap, char *err, size_t errlen)
{
    int rc = -1;
    int32_t cap = 4096, *toks = malloc(sizeof *toks * (size_t)cap);
    struct job *j = job_new();
    if (!toks || !j) goto out;
    int32_t n = llm_tokenize(sm->model, prompt, (int32_t)strlen(prompt), true, toks, cap);
    if (n < 1 || n >= sched_n_ctx(sm->sched) || job_set_prompt(j, toks, n) < 0) {
        snprintf(err, errlen, "cannot tokenize the prompt");
        goto out;
    }
    j->max_tokens = max_tokens;
    j->sp.temperature = 0;
    j->quiet = true;
    j->t_arrival_ns = sched_clock_ns();
    if (sched_submit(sm->sched, j) < 0) {
        snprintf(err, errlen, "cannot submit");
        goto out;
    }
    pthread_mutex_lock(&j->mu);
    while (j->state != JOB_DONE) pthread_cond_wait(&j->cv, &j->mu);
    pthread_mutex_unlock(&j->mu);
    if (j->status) {
        snprintf(err, errlen, "%s", j->errmsg);
        goto out;
    }
    snprintf(out, out_cap, "%.*s", (int)j->out.text.len, abuf_str(&j->out.text));
    rc = 0;
out:
    job_unref(j);
    free(toks);
    return rc;
}

/* The Model's golden prompts must all produce their expected text. */
static int golden_check(struct cluster *cl, struct srv_model *sm, const char *ns, const char *model,
                        char *err, size_t errlen)
{
    char key[KEY_MAX], got[2048];
    cJSON *m = NULL;
    int rc = 0, i = 0;
    snprintf(key, sizeof key, "%s/%s", ns, model);
    if (kube_store_get(kube_informer_store(cl->inf_models), key, &m) != 0) return 0;
    const cJSON *gp = jat(m, "spec", "rollout", "analysis");
    gp = gp ? cJSON_GetObjectItemCaseSensitive(gp, "goldenPrompts") : NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, gp)
    {
        const char *prompt = jstr(it, "prompt", NULL, NULL);
        const char *expect = jstr(it, "expect", NULL, NULL);
        int64_t mt = jint(it, "maxTokens", NULL, NULL, 16);
        i++;
        if (!prompt || !expect) continue;
        char e2[256];
        if (run_prompt(sm, prompt, (int32_t)(mt > 0 && mt < 4096 ? mt : 16), got, sizeof got, e2,
                       sizeof e2) < 0) {
            snprintf(err, errlen, "golden prompt %d failed: %s", i, e2);
            rc = -1;
            break;
        }
        if (!strstr(got, expect)) {
            snprintf(err, errlen, "golden prompt %d: expected \"%.64s\" in the completion", i,
                     expect);
            rc = -1;
            break;
        }
    }
    cJSON_Delete(m);
    return rc;
}

/* A deleted replica has left the informer's store, so the router no longer
 * picks it; the requests already on it (queued, running, streaming) finish
 * before slot_unload fails what is left, for up to drain_ms, so that a
 * rollout or a scale-down that removes a replica does not cut requests. */
static void slot_drain(struct cluster *cl, int i)
{
    struct srv_model *sm = &cl->o.slots[i];
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t waited_ms = 0;
    while (atomic_load(&sm->users) > 0 && waited_ms < cl->o.drain_ms) {
        pthread_mutex_lock(&cl->mu);
        bool stop = cl->stopping;
        pthread_mutex_unlock(&cl->mu);
        if (stop) break; /* the agent's own drain has run; cluster_stop unloads */
        usleep(20000);
        clock_gettime(CLOCK_MONOTONIC, &t);
        waited_ms = (int64_t)(t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
    }
    if (atomic_load(&sm->users) > 0) {
        const char *kv[] = {"replica", cl->slots[i].key, NULL};
        klog_kv(KLOG_WARN, "cluster", "drain time over; failing the replica's requests", kv);
    }
}

static void slot_unload(struct cluster *cl, int i)
{
    struct srv_model *sm = &cl->o.slots[i];
    pthread_mutex_lock(&cl->mu); /* the router reads loaded+sched under mu */
    atomic_store(&sm->loaded, false);
    pthread_mutex_unlock(&cl->mu);
    if (sm->mx) mx_set_ready(cl->o.mx, sm->mx, false);
    if (sm->sched) sched_stop(sm->sched); /* fails what is queued or running: users leave */
    while (atomic_load(&sm->users) > 0) usleep(10000);
    sched_free(sm->sched);
    llm_model_free(sm->model);
    sm->sched = NULL;
    sm->model = NULL;
    pthread_mutex_lock(&cl->mu);
    const char *kv[] = {"replica", cl->slots[i].key, NULL};
    klog_kv(KLOG_INFO, "cluster", "replica unloaded", kv);
    memset(&cl->slots[i], 0, sizeof cl->slots[i]);
    pthread_mutex_unlock(&cl->mu);
}

static void mark_failed(struct cluster *cl, const char *key, const char *uid)
{
    pthread_mutex_lock(&cl->mu);
    int i = cl->n_failed < MAX_FAILED ? cl->n_failed++ : MAX_FAILED - 1;
    snprintf(cl->failed[i].key, sizeof cl->failed[i].key, "%s", key);
    snprintf(cl->failed[i].uid, sizeof cl->failed[i].uid, "%s", uid);
    pthread_mutex_unlock(&cl->mu);
}

static bool is_failed(struct cluster *cl, const char *uid)
{
    bool f = false;
    pthread_mutex_lock(&cl->mu);
    for (int i = 0; i < cl->n_failed && !f; i++) f = strcmp(cl->failed[i].uid, uid) == 0;
    pthread_mutex_unlock(&cl->mu);
    return f;
}

/* Download, load, warm up, check, publish. On failure the replica is
 * Failed and nothing stays loaded. */
static void replica_bring_up(struct cluster *cl, const cJSON *rep)
{
    const char *ns = kube_obj_namespace(rep), *name = kube_obj_name(rep);
    const char *uid = jstr(rep, "metadata", "uid", NULL);
    const char *model = jstr(rep, "spec", "model", NULL);
    const char *uri = jstr(rep, "spec", "source", "uri");
    const char *sha = jstr(rep, "spec", "source", "sha256");
    int32_t rev = (int32_t)jint(rep, "spec", "revision", NULL, 0);
    char key[KEY_MAX], err[512] = "", path[2048], spec[2300];
    int slot = -1;
    struct srv_model *sm = NULL;
    if (!ns || !name || !uid || !model || !uri) return;
    snprintf(key, sizeof key, "%s/%s", ns, name);
    struct bring b = {.cl = cl, .ns = ns, .name = name, .key = key, .uid = uid, .last_pct = -1};

    pthread_mutex_lock(&cl->mu);
    for (int i = 0; i < cl->o.n_slots && slot < 0; i++)
        if (!cl->slots[i].used) slot = i;
    if (slot >= 0) {
        cl->slots[slot].used = true;
        snprintf(cl->slots[slot].key, sizeof cl->slots[slot].key, "%s", key);
        snprintf(cl->slots[slot].uid, sizeof cl->slots[slot].uid, "%s", uid);
        cl->slots[slot].revision = rev;
        cl->slots[slot].cpu_milli = jquantity(jat(rep, "spec", "resources", "cpu"), true, 1000);
        cl->slots[slot].memory = jquantity(jat(rep, "spec", "resources", "memory"), false, 0);
    }
    pthread_mutex_unlock(&cl->mu);
    if (slot < 0) {
        snprintf(err, sizeof err, "no free model slot on node %s", cl->node);
        goto fail;
    }
    sm = &cl->o.slots[slot];
    {
        const char *kv[] = {"replica", key, "model", model, NULL};
        klog_kv(KLOG_INFO, "cluster", "bringing up replica", kv);
    }
    const char *file = uri;
    if (fetch_is_remote(uri)) {
        if (!sha) {
            snprintf(err, sizeof err, "spec.source.sha256 is required for %s", uri);
            goto fail;
        }
        replica_status(cl, ns, name, "Downloading", 0, NULL, false);
        snprintf(spec, sizeof spec, "%s#sha256=%s", uri, sha);
        if (fetch_model_progress(spec, cl->cache_dir, cl->o.cache_max_bytes, fetch_cancelled,
                                 fetch_progress, &b, path, sizeof path, err, sizeof err) < 0)
            goto fail;
        snprintf(cl->slots[slot].path, sizeof cl->slots[slot].path, "%s", path);
        file = path;
    } else if (strncmp(uri, "file://", 7) == 0) {
        file = uri + 7;
    }
    replica_status(cl, ns, name, "Loading", fetch_is_remote(uri) ? 100 : -1, NULL, false);
    int lrc = llm_model_load(file, &sm->model, err, sizeof err);
    if (lrc < 0) {
        if (!err[0]) snprintf(err, sizeof err, "cannot load the model: %s", llm_strerror(lrc));
        goto fail;
    }
    sm->tmpl = tmpl_choose(llm_model_chat_template(sm->model), cl->o.tmpl_override);
    if (sm->tmpl == TMPL_NONE)
        tmpl_markers(llm_model_chat_template(sm->model), sm->tmpl_markers, sizeof sm->tmpl_markers);
    int64_t threads = jint(rep, "spec", "engine", "threads", 0);
    if (threads <= 0) threads = cl->o.threads;
    if (threads <= 0) threads = (cl->slots[slot].cpu_milli + 999) / 1000;
    struct sched_params sp = {
        .parallel = (int32_t)jint(rep, "spec", "engine", "parallel", 4),
        .n_ctx = (int32_t)jint(rep, "spec", "engine", "contextSize", 0),
        .n_batch = cl->o.n_batch,
        .n_threads = (int32_t)threads,
        .queue_max = cl->o.queue_max,
    };
    char model_id[sizeof sm->name];
    if (snprintf(model_id, sizeof model_id, "%.63s/%s", ns, model) >= (int)sizeof model_id) {
        snprintf(err, sizeof err, "model name too long");
        goto fail;
    }
    memcpy(sm->name, model_id, sizeof sm->name);
    sm->mx = mx_model_get(cl->o.mx, model_id, rev, true);
    if (!sm->mx) {
        snprintf(err, sizeof err, "too many model series for metrics");
        goto fail;
    }
    sm->sched = sched_new(sm->model, &sp, cl->o.mx, sm->mx, err, sizeof err);
    if (!sm->sched) goto fail;
    char out[64];
    if (run_prompt(sm, "Hello", 1, out, sizeof out, err, sizeof err) < 0) goto fail;
    if (golden_check(cl, sm, ns, model, err, sizeof err) < 0) goto fail;
    if (!replica_still_wanted(cl, key, uid)) {
        snprintf(err, sizeof err, "deleted while loading");
        slot_unload(cl, slot);
        return;
    }
    mx_set_ready(cl->o.mx, sm->mx, true);
    atomic_store(&sm->loaded, true);
    replica_status(cl, ns, name, "Ready", 100, NULL, true);
    {
        const char *kv[] = {"replica", key, "model", model_id, "endpoint", cl->advertise, NULL};
        klog_kv(KLOG_INFO, "cluster", "replica ready", kv);
    }
    if (cl->o.cache_max_bytes > 0) {
        const char *keep[64];
        int nk = 0;
        pthread_mutex_lock(&cl->mu);
        for (int i = 0; i < cl->o.n_slots && nk < 64; i++)
            if (cl->slots[i].used && cl->slots[i].path[0]) keep[nk++] = cl->slots[i].path;
        fetch_evict(cl->cache_dir, cl->o.cache_max_bytes, keep, nk);
        pthread_mutex_unlock(&cl->mu);
    }
    mx_set_cache_bytes(cl->o.mx, fetch_cache_bytes(cl->cache_dir));
    return;
fail : {
    const char *kv[] = {"replica", key, "error", err, NULL};
    klog_kv(KLOG_WARN, "cluster", "replica failed", kv);
}
    if (slot >= 0) slot_unload(cl, slot);
    mark_failed(cl, key, uid);
    if (replica_still_wanted(cl, key, uid))
        replica_status(cl, ns, name, "Failed", -1, err[0] ? err : "failed", false);
}

/* One pass: unload what is gone, bring up what is new. */
static void replicas_sync(struct cluster *cl)
{
    cJSON *mine = NULL;
    char sel[400];
    snprintf(sel, sizeof sel, "kllm.io/node=%s", cl->node);
    if (kube_store_list(kube_informer_store(cl->inf_reps), NULL, sel, &mine) != 0) return;
    for (int i = 0; i < cl->o.n_slots; i++) {
        pthread_mutex_lock(&cl->mu);
        bool used = cl->slots[i].used;
        char key[KEY_MAX], uid[64];
        memcpy(key, cl->slots[i].key, sizeof key);
        memcpy(uid, cl->slots[i].uid, sizeof uid);
        pthread_mutex_unlock(&cl->mu);
        if (!used || replica_still_wanted(cl, key, uid)) continue;
        cJSON *obj = NULL;
        if (kube_store_get(kube_informer_store(cl->inf_reps), key, &obj) == 0 &&
            jat(obj, "metadata", "deletionTimestamp", NULL))
            replica_status(cl, kube_obj_namespace(obj), kube_obj_name(obj), "Terminating", -1, NULL,
                           false);
        cJSON_Delete(obj);
        slot_drain(cl, i);
        slot_unload(cl, i);
    }
    const cJSON *it;
    /* Replicas bound here that nobody has reported on yet are Pending until
     * the worker gets to them (bring-ups run one at a time). */
    cJSON_ArrayForEach(it, mine)
    {
        const char *nn = jstr(it, "spec", "nodeName", NULL);
        if (!nn || strcmp(nn, cl->node) != 0 || jstr(it, "status", "phase", NULL)) continue;
        if (jat(it, "metadata", "deletionTimestamp", NULL)) continue;
        replica_status(cl, kube_obj_namespace(it), kube_obj_name(it), "Pending", -1, NULL, false);
    }
    cJSON_ArrayForEach(it, mine)
    {
        const char *nn = jstr(it, "spec", "nodeName", NULL);
        const char *uid = jstr(it, "metadata", "uid", NULL);
        char key[KEY_MAX];
        bool have = false;
        if (!nn || strcmp(nn, cl->node) != 0 || !uid) continue;
        if (jat(it, "metadata", "deletionTimestamp", NULL) || is_failed(cl, uid)) continue;
        if (kube_obj_key(it, key, sizeof key) != 0) continue;
        pthread_mutex_lock(&cl->mu);
        for (int i = 0; i < cl->o.n_slots && !have; i++)
            have = cl->slots[i].used && strcmp(cl->slots[i].uid, uid) == 0;
        bool stop = cl->stopping;
        pthread_mutex_unlock(&cl->mu);
        if (stop) break;
        if (!have) replica_bring_up(cl, it);
    }
    cJSON_Delete(mine);
}

static void *worker_main(void *arg)
{
    struct cluster *cl = arg;
    pthread_mutex_lock(&cl->mu);
    while (!cl->stopping) {
        cl->dirty = false;
        pthread_mutex_unlock(&cl->mu);
        replicas_sync(cl);
        node_status_sync(cl);
        pthread_mutex_lock(&cl->mu);
        if (!cl->dirty && !cl->stopping) wait_locked(cl, WORKER_TICK_S);
    }
    pthread_mutex_unlock(&cl->mu);
    return NULL;
}

static void on_rep_event(struct cluster *cl, const cJSON *obj)
{
    if (!has_label(obj, "kllm.io/node", cl->node)) return;
    pthread_mutex_lock(&cl->mu);
    cl->dirty = true;
    pthread_cond_broadcast(&cl->cv);
    pthread_mutex_unlock(&cl->mu);
}
static void on_rep_add(void *ud, const cJSON *o)
{
    on_rep_event(ud, o);
}
static void on_rep_update(void *ud, const cJSON *a, const cJSON *b)
{
    (void)a;
    on_rep_event(ud, b);
}
static void on_rep_delete(void *ud, const cJSON *o)
{
    on_rep_event(ud, o);
}

/* ---- router ---- */

static int64_t peer_count(struct cluster *cl, const char *ep)
{
    for (int i = 0; i < MAX_PEERS; i++)
        if (strcmp(cl->peers[i].endpoint, ep) == 0) return cl->peers[i].n;
    return 0;
}

static void rt_peer_load(void *ud, const char *ep, int delta)
{
    struct cluster *cl = ud;
    pthread_mutex_lock(&cl->mu);
    int free_i = -1;
    for (int i = 0; i < MAX_PEERS; i++) {
        if (strcmp(cl->peers[i].endpoint, ep) == 0) {
            cl->peers[i].n += delta;
            if (cl->peers[i].n <= 0) memset(&cl->peers[i], 0, sizeof cl->peers[i]);
            pthread_mutex_unlock(&cl->mu);
            return;
        }
        if (free_i < 0 && !cl->peers[i].endpoint[0]) free_i = i;
    }
    if (free_i >= 0 && delta > 0) {
        snprintf(cl->peers[free_i].endpoint, sizeof cl->peers[free_i].endpoint, "%s", ep);
        cl->peers[free_i].n = delta;
    }
    pthread_mutex_unlock(&cl->mu);
}

/* Snapshot of the routing table (heap arrays the caller frees). */
static int rt_snapshot(struct cluster *cl, struct route_model **ms_out, int *nm,
                       struct route_replica **rs_out, int *nr)
{
    cJSON *models = NULL, *reps = NULL;
    struct route_model *ms = NULL;
    struct route_replica *rs = NULL;
    int rc = -1, k = 0;
    if (kube_store_list(kube_informer_store(cl->inf_models), NULL, NULL, &models) != 0 ||
        kube_store_list(kube_informer_store(cl->inf_reps), NULL, NULL, &reps) != 0)
        goto out;
    int n_m = cJSON_GetArraySize(models), n_r = cJSON_GetArraySize(reps);
    ms = calloc((size_t)n_m + 1, sizeof *ms);
    rs = calloc((size_t)n_r + 1, sizeof *rs);
    if (!ms || !rs) goto out;
    const cJSON *it;
    cJSON_ArrayForEach(it, models)
    {
        const char *ns = kube_obj_namespace(it), *name = kube_obj_name(it);
        if (!ns || !name) continue;
        snprintf(ms[k].ns, sizeof ms[k].ns, "%s", ns);
        snprintf(ms[k].name, sizeof ms[k].name, "%s", name);
        ms[k].stable_rev = (int32_t)jint(it, "status", "stableRevision", NULL, 0);
        ms[k].canary_rev = (int32_t)jint(it, "status", "canaryRevision", NULL, 0);
        ms[k].canary_weight = (int32_t)jint(it, "status", "canaryWeight", NULL, 0);
        k++;
    }
    *nm = k;
    k = 0;
    pthread_mutex_lock(&cl->mu);
    cJSON_ArrayForEach(it, reps)
    {
        const char *ns = kube_obj_namespace(it), *model = jstr(it, "spec", "model", NULL);
        const char *phase = jstr(it, "status", "phase", NULL);
        const char *ep = jstr(it, "status", "endpoint", NULL);
        const char *nn = jstr(it, "spec", "nodeName", NULL);
        const char *uid = jstr(it, "metadata", "uid", NULL);
        if (!ns || !model || !phase || strcmp(phase, "Ready") != 0 || !ep || !nn || !uid) continue;
        if (jat(it, "metadata", "deletionTimestamp", NULL)) continue;
        struct route_replica *r = &rs[k];
        r->slot = -1;
        if (strcmp(nn, cl->node) == 0) {
            for (int i = 0; i < cl->o.n_slots; i++)
                if (cl->slots[i].used && strcmp(cl->slots[i].uid, uid) == 0 &&
                    atomic_load(&cl->o.slots[i].loaded))
                    r->slot = i;
            if (r->slot < 0) continue; /* ours but not (or no longer) loaded */
            r->local = true;
            r->load = sched_busy(cl->o.slots[r->slot].sched);
        } else {
            r->load = peer_count(cl, ep);
        }
        snprintf(r->ns, sizeof r->ns, "%s", ns);
        snprintf(r->model, sizeof r->model, "%s", model);
        snprintf(r->endpoint, sizeof r->endpoint, "%s", ep);
        r->revision = (int32_t)jint(it, "spec", "revision", NULL, 0);
        k++;
    }
    pthread_mutex_unlock(&cl->mu);
    *nr = k;
    *ms_out = ms;
    *rs_out = rs;
    ms = NULL;
    rs = NULL;
    rc = 0;
out:
    free(ms);
    free(rs);
    cJSON_Delete(models);
    cJSON_Delete(reps);
    return rc;
}

static int rt_route(void *ud, const char *model, const char *pin, bool local_only,
                    struct srv_route *out, char *err, size_t errlen, const char **code)
{
    struct cluster *cl = ud;
    struct route_model *ms = NULL;
    struct route_replica *rs = NULL;
    int nm = 0, nr = 0, status = 503, idx[SRV_ROUTE_MAX * 4];
    if (rt_snapshot(cl, &ms, &nm, &rs, &nr) < 0) {
        snprintf(err, errlen, "routing table unavailable");
        goto out;
    }
    int mi = route_resolve(ms, nm, model, err, errlen);
    if (mi == ROUTE_ERR_NOTFOUND) {
        status = 404;
        *code = "model_not_found";
        goto out;
    }
    if (mi < 0) {
        status = 400;
        *code = "model_ambiguous";
        goto out;
    }
    pthread_mutex_lock(&cl->mu);
    double u = kube_rand01(&cl->rng);
    pthread_mutex_unlock(&cl->mu);
    int32_t rev = route_pick_revision(&ms[mi], pin, u);
    if (rev < 0) {
        snprintf(err, errlen, "X-Kllm-Revision must be stable, canary or a revision number");
        status = 400;
        goto out;
    }
    /* Unpinned: the model's other revisions are the fallback (a rollout
     * in motion); a pinned or proxied request gets what it asked for. */
    bool fallback = !(pin && pin[0]) && !local_only;
    int n = route_order(rs, nr, &ms[mi], rev, fallback, idx, SRV_ROUTE_MAX * 4);
    out->n = 0;
    for (int i = 0; i < n && out->n < SRV_ROUTE_MAX; i++) {
        const struct route_replica *r = &rs[idx[i]];
        if (local_only && !r->local) continue;
        out->slot[out->n] = r->local ? r->slot : -1;
        out->revision[out->n] = rev ? r->revision : 0;
        snprintf(out->endpoint[out->n], sizeof out->endpoint[0], "%s", r->endpoint);
        out->n++;
    }
    if (out->n == 0) {
        if (rev > 0)
            snprintf(err, errlen, "no Ready replica of model '%s/%s' revision %d%s", ms[mi].ns,
                     ms[mi].name, (int)rev, local_only ? " on this node" : "");
        else
            snprintf(err, errlen, "no Ready replica of model '%s/%s'%s", ms[mi].ns, ms[mi].name,
                     local_only ? " on this node" : "");
        *code = "no_replica";
        goto out;
    }
    status = 0;
out:
    free(ms);
    free(rs);
    return status;
}

static int rt_list(void *ud, char (*ids)[256], int cap)
{
    struct cluster *cl = ud;
    cJSON *models = NULL;
    int n = 0;
    if (kube_store_list(kube_informer_store(cl->inf_models), NULL, NULL, &models) != 0) return 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, models)
    {
        if (n >= cap) break;
        const char *ns = kube_obj_namespace(it), *name = kube_obj_name(it);
        if (ns && name) snprintf(ids[n++], 256, "%s/%s", ns, name);
    }
    cJSON_Delete(models);
    return n;
}

static bool rt_ready(void *ud)
{
    struct cluster *cl = ud;
    cJSON *mine = NULL;
    char sel[400];
    bool ok;
    pthread_mutex_lock(&cl->mu);
    ok = cl->api_ok && cl->started;
    pthread_mutex_unlock(&cl->mu);
    if (!ok || !kube_informer_has_synced(cl->inf_reps)) return false;
    snprintf(sel, sizeof sel, "kllm.io/node=%s", cl->node);
    if (kube_store_list(kube_informer_store(cl->inf_reps), NULL, sel, &mine) != 0) return false;
    const cJSON *it;
    pthread_mutex_lock(&cl->mu);
    cJSON_ArrayForEach(it, mine)
    {
        const char *uid = jstr(it, "metadata", "uid", NULL);
        const char *nn = jstr(it, "spec", "nodeName", NULL);
        bool have = false;
        if (!uid || !nn || strcmp(nn, cl->node) != 0) continue;
        if (jat(it, "metadata", "deletionTimestamp", NULL)) continue;
        for (int i = 0; i < cl->o.n_slots && !have; i++)
            have = cl->slots[i].used && strcmp(cl->slots[i].uid, uid) == 0 &&
                   atomic_load(&cl->o.slots[i].loaded) && sched_healthy(cl->o.slots[i].sched);
        if (!have) ok = false;
    }
    pthread_mutex_unlock(&cl->mu);
    cJSON_Delete(mine);
    return ok;
}

/* ---- lifecycle ---- */

struct cluster *cluster_new(const struct cluster_opts *o, char *err, size_t errlen)
{
    struct cluster *cl = calloc(1, sizeof *cl);
    int rc;
    if (!cl) return NULL;
    cl->o = *o;
    snprintf(cl->node, sizeof cl->node, "%s", o->node_name);
    snprintf(cl->ns, sizeof cl->ns, "%s", o->ns ? o->ns : "kllm-system");
    snprintf(cl->cache_dir, sizeof cl->cache_dir, "%s", o->cache_dir);
    if (cl->o.cpu_milli <= 0) cl->o.cpu_milli = default_cpu_milli();
    if (cl->o.memory <= 0) cl->o.memory = default_memory();
    cl->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    pthread_mutex_init(&cl->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&cl->cv, &ca);
    pthread_condattr_destroy(&ca);
    cl->slots = calloc((size_t)o->n_slots, sizeof *cl->slots);
    if (!cl->slots) goto fail;
    if (o->kubeconfig)
        rc = kube_config_load_file(&cl->cfg, o->kubeconfig, NULL, err, errlen);
    else
        rc = kube_config_load_default(&cl->cfg, err, errlen);
    if (rc) goto fail;
    struct kube_client_opts co = {.log = {.fn = kube_log}, .request_timeout_ms = 15000};
    char ua[64];
    snprintf(ua, sizeof ua, "kllm-agent/%s", KLLM_VERSION);
    co.user_agent = ua;
    rc = kube_client_new(&cl->cfg, &co, &cl->c);
    if (rc) {
        snprintf(err, errlen, "kube client: %s", kube_strerror(rc));
        goto fail;
    }
    struct kube_informer_opts io = {
        .resource = r_reps,
        .handlers = {.on_add = on_rep_add,
                     .on_update = on_rep_update,
                     .on_delete = on_rep_delete,
                     .ud = cl},
    };
    struct kube_informer_opts mo = {.resource = r_models};
    if (kube_informer_new(cl->c, &io, &cl->inf_reps) ||
        kube_informer_new(cl->c, &mo, &cl->inf_models)) {
        snprintf(err, errlen, "cannot create informers");
        goto fail;
    }
    cl->router = (struct srv_router){
        .route = rt_route, .list = rt_list, .ready = rt_ready, .peer_load = rt_peer_load, .ud = cl};
    return cl;
fail:
    cluster_free(cl);
    return NULL;
}

int cluster_start(struct cluster *cl, const char *advertise, char *err, size_t errlen)
{
    if (advertise) snprintf(cl->advertise, sizeof cl->advertise, "%s", advertise);
    now_rfc3339(cl->ready_since, sizeof cl->ready_since);
    if (node_register(cl, err, errlen) < 0) return -1;
    if (lease_renew(cl) != 0) {
        snprintf(err, errlen, "cannot create or renew Lease %s/kllm-node-%s", cl->ns, cl->node);
        return -1;
    }
    if (kube_informer_start(cl->inf_reps) || kube_informer_start(cl->inf_models)) {
        snprintf(err, errlen, "cannot start informers");
        return -1;
    }
    if (kube_informer_wait_synced(cl->inf_reps, 30 * KUBE_SEC) ||
        kube_informer_wait_synced(cl->inf_models, 30 * KUBE_SEC)) {
        snprintf(err, errlen, "ModelReplicas/Models not listed within 30 s (RBAC? API server?)");
        return -1;
    }
    if (pthread_create(&cl->lease_thread, NULL, lease_main, cl) != 0) {
        snprintf(err, errlen, "cannot start the lease thread");
        return -1;
    }
    cl->lease_running = true;
    if (pthread_create(&cl->worker_thread, NULL, worker_main, cl) != 0) {
        snprintf(err, errlen, "cannot start the replica worker");
        return -1;
    }
    cl->worker_running = true;
    pthread_mutex_lock(&cl->mu);
    cl->started = true;
    pthread_mutex_unlock(&cl->mu);
    klogf(KLOG_INFO, "cluster", "node %s registered; lease %s/kllm-node-%s", cl->node, cl->ns,
          cl->node);
    return 0;
}

const struct srv_router *cluster_router(struct cluster *cl)
{
    return &cl->router;
}

void cluster_stop(struct cluster *cl)
{
    if (!cl) return;
    pthread_mutex_lock(&cl->mu);
    cl->stopping = true;
    cl->started = false;
    pthread_cond_broadcast(&cl->cv);
    pthread_mutex_unlock(&cl->mu);
    if (cl->worker_running) pthread_join(cl->worker_thread, NULL);
    if (cl->lease_running) pthread_join(cl->lease_thread, NULL);
    cl->worker_running = cl->lease_running = false;
    if (cl->inf_reps) kube_informer_stop(cl->inf_reps);
    if (cl->inf_models) kube_informer_stop(cl->inf_models);
    for (int i = 0; cl->slots && i < cl->o.n_slots; i++) {
        if (!cl->slots[i].used) continue;
        /* Tell the fleet at once (peers stop routing here, the operator sees
         * it) rather than leave a Ready replica behind a dead endpoint; the
         * next start of the agent brings it up again. */
        char key[KEY_MAX], msg[300];
        memcpy(key, cl->slots[i].key, sizeof key);
        char *slash = strchr(key, '/');
        bool was_ready = atomic_load(&cl->o.slots[i].loaded);
        slot_unload(cl, i);
        if (slash && was_ready && cl->c) {
            *slash = '\0';
            snprintf(msg, sizeof msg, "kllm-agent on node %s stopped", cl->node);
            replica_status(cl, key, slash + 1, "Pending", -1, msg, false);
        }
    }
}

void cluster_free(struct cluster *cl)
{
    if (!cl) return;
    cluster_stop(cl);
    kube_informer_free(cl->inf_reps);
    kube_informer_free(cl->inf_models);
    kube_client_free(cl->c);
    kube_config_deinit(&cl->cfg);
    free(cl->last_status);
    free(cl->slots);
    pthread_cond_destroy(&cl->cv);
    pthread_mutex_destroy(&cl->mu);
    free(cl);
}
