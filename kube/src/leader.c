/* leader.c: Lease-based leader election; see kube/leader.h. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "kube/leader.h"

static const struct kube_resource leases = {"coordination.k8s.io", "v1", "leases", 1};

struct kube_leader {
    struct kube_client *c;
    struct kube_leader_opts o;
    char *ns, *name, *id;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    int leader;
    /* What we last saw of the lease, and when (local clock). */
    char observed_holder[256];
    char observed_renew[64];
    int64_t observed_at;
    int64_t observed_duration_ns;
};

void kube_micro_time_now(char *buf, size_t cap)
{
    struct timeval tv;
    struct tm tm;
    char b[32];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%06ldZ", b, (long)tv.tv_usec);
}

static void llog(struct kube_leader *le, enum kube_log_level lvl, const char *msg, const char *k,
                 const char *v)
{
    const struct kube_logger *l = le->o.log.fn ? &le->o.log : kube_client_logger(le->c);
    const char *kv[] = {"lease", le->name, "identity", le->id, k, v, NULL};
    if (!k) kv[4] = NULL;
    if (l->fn) l->fn(l->ud, lvl, msg, kv);
}

int kube_leader_new(struct kube_client *c, const struct kube_leader_opts *o,
                    struct kube_leader **out)
{
    pthread_condattr_t ca;
    if (!c || !o || !o->ns || !o->name || !o->identity || !out) return KUBE_EINVAL;
    if (strlen(o->identity) >= 256) return KUBE_EINVAL;
    struct kube_leader *le = calloc(1, sizeof(*le));
    if (!le) return KUBE_ENOMEM;
    le->c = c;
    le->o = *o;
    le->ns = strdup(o->ns);
    le->name = strdup(o->name);
    le->id = strdup(o->identity);
    pthread_mutex_init(&le->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&le->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (!le->ns || !le->name || !le->id) {
        kube_leader_free(le);
        return KUBE_ENOMEM;
    }
    if (le->o.lease_duration_ns <= 0) le->o.lease_duration_ns = 15 * KUBE_SEC;
    if (le->o.renew_deadline_ns <= 0) le->o.renew_deadline_ns = 10 * KUBE_SEC;
    if (le->o.retry_period_ns <= 0) le->o.retry_period_ns = 2 * KUBE_SEC;
    *out = le;
    return 0;
}

static cJSON *lease_spec(cJSON *lease)
{
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(lease, "spec");
    if (!spec) spec = cJSON_AddObjectToObject(lease, "spec");
    return spec;
}

static void set_str(cJSON *o, const char *k, const char *v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o, k);
    cJSON_AddStringToObject(o, k, v);
}

static void set_num(cJSON *o, const char *k, double v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o, k);
    cJSON_AddNumberToObject(o, k, v);
}

int kube_leader_try(struct kube_leader *le)
{
    cJSON *lease = NULL, *out = NULL;
    struct kube_status st;
    char now[64];
    int rc;
    int64_t mono = kube_clock_now(le->o.clock);
    int32_t dur_s = (int32_t)(le->o.lease_duration_ns / KUBE_SEC);
    kube_micro_time_now(now, sizeof(now));

    rc = kube_get(le->c, &leases, le->ns, le->name, &lease, &st);
    if (rc == KUBE_ENOTFOUND) {
        lease = cJSON_CreateObject();
        cJSON *md = cJSON_AddObjectToObject(lease, "metadata");
        cJSON *spec = cJSON_AddObjectToObject(lease, "spec");
        if (!md || !spec) {
            rc = KUBE_ENOMEM;
            goto out;
        }
        cJSON_AddStringToObject(lease, "apiVersion", "coordination.k8s.io/v1");
        cJSON_AddStringToObject(lease, "kind", "Lease");
        cJSON_AddStringToObject(md, "name", le->name);
        cJSON_AddStringToObject(md, "namespace", le->ns);
        cJSON_AddStringToObject(spec, "holderIdentity", le->id);
        cJSON_AddNumberToObject(spec, "leaseDurationSeconds", dur_s);
        cJSON_AddStringToObject(spec, "acquireTime", now);
        cJSON_AddStringToObject(spec, "renewTime", now);
        cJSON_AddNumberToObject(spec, "leaseTransitions", 0);
        rc = kube_create(le->c, &leases, le->ns, lease, &out, &st);
        if (rc == 0) {
            snprintf(le->observed_holder, sizeof(le->observed_holder), "%s", le->id);
            le->observed_at = mono;
            rc = 1;
        } else if (rc == KUBE_EEXISTS || rc == KUBE_ECONFLICT) {
            rc = 0; /* someone else created it first */
        }
        goto out;
    }
    if (rc) goto out;
    cJSON *spec = lease_spec(lease);
    const char *holder = kube_obj_str(lease, "spec.holderIdentity");
    const char *renew = kube_obj_str(lease, "spec.renewTime");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(spec, "leaseDurationSeconds");
    if (!holder) holder = "";
    if (!renew) renew = "";
    if (strcmp(holder, le->observed_holder) != 0 || strcmp(renew, le->observed_renew) != 0) {
        if (strcmp(holder, le->observed_holder) != 0 && le->o.on_new_leader && *holder)
            le->o.on_new_leader(le->o.ud, holder);
        snprintf(le->observed_holder, sizeof(le->observed_holder), "%s", holder);
        snprintf(le->observed_renew, sizeof(le->observed_renew), "%s", renew);
        le->observed_at = mono;
        le->observed_duration_ns =
            cJSON_IsNumber(d) ? (int64_t)d->valuedouble * KUBE_SEC : le->o.lease_duration_ns;
    }
    int mine = strcmp(holder, le->id) == 0;
    if (*holder && !mine && mono < le->observed_at + le->observed_duration_ns) {
        rc = 0; /* held by someone alive */
        goto out;
    }
    set_str(spec, "holderIdentity", le->id);
    set_num(spec, "leaseDurationSeconds", dur_s);
    set_str(spec, "renewTime", now);
    if (!mine) {
        const cJSON *tr = cJSON_GetObjectItemCaseSensitive(spec, "leaseTransitions");
        set_str(spec, "acquireTime", now);
        set_num(spec, "leaseTransitions", cJSON_IsNumber(tr) ? tr->valuedouble + 1 : 1);
    }
    rc = kube_update(le->c, &leases, le->ns, le->name, NULL, lease, &out, &st);
    if (rc == 0) {
        snprintf(le->observed_holder, sizeof(le->observed_holder), "%s", le->id);
        snprintf(le->observed_renew, sizeof(le->observed_renew), "%s", now);
        le->observed_at = mono;
        le->observed_duration_ns = le->o.lease_duration_ns;
        rc = 1;
    } else if (rc == KUBE_ECONFLICT) {
        rc = 0; /* lost a race; re-read next time */
    }
out:
    if (rc < 0) llog(le, KUBE_LOG_WARN, "lease update failed", "error", kube_strerror(rc));
    cJSON_Delete(lease);
    cJSON_Delete(out);
    return rc;
}

static void release(struct kube_leader *le)
{
    cJSON *lease = NULL;
    struct kube_status st;
    char now[64];
    if (kube_get(le->c, &leases, le->ns, le->name, &lease, &st)) return;
    const char *holder = kube_obj_str(lease, "spec.holderIdentity");
    if (holder && strcmp(holder, le->id) == 0) {
        cJSON *spec = lease_spec(lease);
        kube_micro_time_now(now, sizeof(now));
        set_str(spec, "holderIdentity", "");
        set_num(spec, "leaseDurationSeconds", 1);
        set_str(spec, "renewTime", now);
        int rc = kube_update(le->c, &leases, le->ns, le->name, NULL, lease, NULL, &st);
        llog(le, rc ? KUBE_LOG_WARN : KUBE_LOG_INFO, rc ? "lease release failed" : "lease released",
             rc ? "error" : NULL, kube_strerror(rc));
    }
    cJSON_Delete(lease);
}

/* Sleep ns unless stopped; 1 when stopping. */
static int nap(struct kube_leader *le, int64_t ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t t = (int64_t)ts.tv_sec * KUBE_SEC + ts.tv_nsec + ns;
    ts.tv_sec = (time_t)(t / KUBE_SEC);
    ts.tv_nsec = (long)(t % KUBE_SEC);
    pthread_mutex_lock(&le->mu);
    while (!le->stop)
        if (pthread_cond_timedwait(&le->cv, &le->mu, &ts) == ETIMEDOUT) break;
    int s = le->stop;
    pthread_mutex_unlock(&le->mu);
    return s;
}

static void set_leader(struct kube_leader *le, int v)
{
    pthread_mutex_lock(&le->mu);
    le->leader = v;
    pthread_mutex_unlock(&le->mu);
}

static void *run(void *p)
{
    struct kube_leader *le = p;
    int leader = 0;
    int64_t last_renew = 0;
    uint64_t seed = (uint64_t)(uintptr_t)le;
    do {
        int r = kube_leader_try(le);
        int64_t now = kube_clock_now(le->o.clock);
        if (r == 1) {
            last_renew = now;
            if (!leader) {
                leader = 1;
                set_leader(le, 1);
                llog(le, KUBE_LOG_INFO, "became leader", NULL, NULL);
                if (le->o.on_started) le->o.on_started(le->o.ud);
            }
        } else if (leader && (r == 0 || now - last_renew > le->o.renew_deadline_ns)) {
            /* Someone else holds it, or we could not renew in time. */
            leader = 0;
            set_leader(le, 0);
            llog(le, KUBE_LOG_WARN, "lost leadership", NULL, NULL);
            if (le->o.on_stopped) le->o.on_stopped(le->o.ud);
        }
        /* Candidates spread their retries a little (jitter 0..20%). */
        int64_t wait = le->o.retry_period_ns;
        if (!leader) wait += (int64_t)((double)wait * 0.2 * kube_rand01(&seed));
        if (nap(le, wait)) break;
    } while (1);
    if (leader) {
        set_leader(le, 0);
        if (le->o.on_stopped) le->o.on_stopped(le->o.ud);
        release(le);
    }
    return NULL;
}

int kube_leader_start(struct kube_leader *le)
{
    if (!le || le->started) return KUBE_EINVAL;
    if (pthread_create(&le->thread, NULL, run, le)) return KUBE_ENOMEM;
    le->started = 1;
    return 0;
}

int kube_leader_is_leader(struct kube_leader *le)
{
    pthread_mutex_lock(&le->mu);
    int v = le->leader;
    pthread_mutex_unlock(&le->mu);
    return v;
}

void kube_leader_stop(struct kube_leader *le)
{
    if (!le || !le->started) return;
    pthread_mutex_lock(&le->mu);
    le->stop = 1;
    pthread_cond_broadcast(&le->cv);
    pthread_mutex_unlock(&le->mu);
    pthread_join(le->thread, NULL);
    le->started = 0;
}

void kube_leader_free(struct kube_leader *le)
{
    if (!le) return;
    kube_leader_stop(le);
    free(le->ns);
    free(le->name);
    free(le->id);
    pthread_cond_destroy(&le->cv);
    pthread_mutex_destroy(&le->mu);
    free(le);
}
