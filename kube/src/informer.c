/* informer.c: the list/watch loop (a "reflector") that keeps a kube_store
 * equal to the server, and the optional resync thread. See
 * kube/informer.h for the guarantees. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/informer.h"
#include "kube/watch.h"
#include "kmap.h"

#define RV_MAX 64

struct kube_informer {
    struct kube_client *c;
    struct kube_informer_opts o;
    char *group, *version, *resource, *ns, *lsel, *fsel;
    struct kube_store *store;
    pthread_t thread, resync_thread;
    int started;
    volatile int stop;
    pthread_mutex_t mu; /* guards synced, stats, rv; with cv for sleeps */
    pthread_cond_t cv;
    pthread_mutex_t handler_mu; /* handlers run one at a time */
    int synced;
    char rv[RV_MAX];
    struct kube_informer_stats stats;
    struct kube_backoff backoff;
};

static void ilog(struct kube_informer *inf, enum kube_log_level lvl, const char *msg,
                 const char *k1, const char *v1, const char *k2, const char *v2)
{
    const struct kube_logger *l = inf->o.log.fn ? &inf->o.log : kube_client_logger(inf->c);
    const char *kv[] = {"resource", inf->resource, k1, v1, k2, v2, NULL};
    if (!k1) kv[2] = NULL;
    if (!k2) kv[4] = NULL;
    if (l->fn) l->fn(l->ud, lvl, msg, kv);
}

static int dupopt(const char *s, char **d)
{
    *d = NULL;
    if (!s) return 0;
    *d = strdup(s);
    return *d ? 0 : KUBE_ENOMEM;
}

int kube_informer_new(struct kube_client *c, const struct kube_informer_opts *o,
                      struct kube_informer **out)
{
    int rc = 0;
    pthread_condattr_t ca;
    struct kube_informer *inf;
    if (!c || !o || !o->resource.resource || !o->resource.version || !out) return KUBE_EINVAL;
    inf = calloc(1, sizeof(*inf));
    if (!inf) return KUBE_ENOMEM;
    inf->c = c;
    inf->o = *o;
    pthread_mutex_init(&inf->mu, NULL);
    pthread_mutex_init(&inf->handler_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&inf->cv, &ca);
    pthread_condattr_destroy(&ca);
    if ((rc = dupopt(o->resource.group ? o->resource.group : "", &inf->group)) ||
        (rc = dupopt(o->resource.version, &inf->version)) ||
        (rc = dupopt(o->resource.resource, &inf->resource)) || (rc = dupopt(o->ns, &inf->ns)) ||
        (rc = dupopt(o->label_selector, &inf->lsel)) ||
        (rc = dupopt(o->field_selector, &inf->fsel)) || (rc = kube_store_new(&inf->store)))
        goto out;
    inf->o.resource.group = inf->group;
    inf->o.resource.version = inf->version;
    inf->o.resource.resource = inf->resource;
    inf->o.ns = inf->ns;
    inf->o.label_selector = inf->lsel;
    inf->o.field_selector = inf->fsel;
    if (inf->o.page_size <= 0) inf->o.page_size = 500;
    kube_backoff_init(&inf->backoff, 200 * KUBE_MS, 30 * KUBE_SEC, 2.0, 1.0,
                      (uint64_t)(uintptr_t)inf ^ (uint64_t)kube_clock_now(NULL));
    *out = inf;
    inf = NULL;
out:
    kube_informer_free(inf);
    return rc;
}

void kube_informer_free(struct kube_informer *inf)
{
    if (!inf) return;
    kube_informer_stop(inf);
    kube_store_free(inf->store);
    free(inf->group);
    free(inf->version);
    free(inf->resource);
    free(inf->ns);
    free(inf->lsel);
    free(inf->fsel);
    pthread_cond_destroy(&inf->cv);
    pthread_mutex_destroy(&inf->mu);
    pthread_mutex_destroy(&inf->handler_mu);
    free(inf);
}

/* Sleep up to ns unless stopped; returns 1 when stopping. */
static int nap(struct kube_informer *inf, int64_t ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t t = (int64_t)ts.tv_sec * KUBE_SEC + ts.tv_nsec + ns;
    ts.tv_sec = (time_t)(t / KUBE_SEC);
    ts.tv_nsec = (long)(t % KUBE_SEC);
    pthread_mutex_lock(&inf->mu);
    while (!inf->stop)
        if (pthread_cond_timedwait(&inf->cv, &inf->mu, &ts) == ETIMEDOUT) break;
    int s = inf->stop;
    pthread_mutex_unlock(&inf->mu);
    return s;
}

static void set_rv(struct kube_informer *inf, const char *rv)
{
    if (!rv || !*rv) return;
    pthread_mutex_lock(&inf->mu);
    snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
    pthread_mutex_unlock(&inf->mu);
}

static void stat_inc(struct kube_informer *inf, uint64_t *field)
{
    pthread_mutex_lock(&inf->mu);
    (*field)++;
    pthread_mutex_unlock(&inf->mu);
}

/* Upsert obj (taken) and run on_add / on_update. */
static int apply_upsert(struct kube_informer *inf, cJSON *obj)
{
    cJSON *old = NULL;
    const struct kube_informer_handlers *h = &inf->o.handlers;
    pthread_mutex_lock(&inf->handler_mu);
    int rc = kube_store_upsert(inf->store, obj, &old);
    if (rc == 0) {
        if (old && h->on_update)
            h->on_update(h->ud, old, obj);
        else if (!old && h->on_add)
            h->on_add(h->ud, obj);
    }
    pthread_mutex_unlock(&inf->handler_mu);
    cJSON_Delete(old);
    return rc;
}

static void apply_delete(struct kube_informer *inf, const char *key)
{
    cJSON *old = NULL;
    const struct kube_informer_handlers *h = &inf->o.handlers;
    pthread_mutex_lock(&inf->handler_mu);
    if (kube_store_delete(inf->store, key, &old) == 0 && h->on_delete) h->on_delete(h->ud, old);
    pthread_mutex_unlock(&inf->handler_mu);
    cJSON_Delete(old);
}

/* Apply a full list: upsert what changed, delete what disappeared. */
static int replace_all(struct kube_informer *inf, cJSON *items)
{
    int rc = 0;
    char key[512];
    struct kube_map seen;
    cJSON *keys = NULL;
    kube_map_init(&seen, NULL);
    while (items->child) {
        cJSON *it = cJSON_DetachItemViaPointer(items, items->child);
        if (kube_obj_key(it, key, sizeof(key))) {
            cJSON_Delete(it);
            continue;
        }
        if ((rc = kube_map_put(&seen, key, NULL, NULL))) {
            cJSON_Delete(it);
            goto out;
        }
        cJSON *cur = NULL;
        if (kube_store_get(inf->store, key, &cur) == 0 && kube_obj_rv(cur) && kube_obj_rv(it) &&
            strcmp(kube_obj_rv(cur), kube_obj_rv(it)) == 0) {
            /* Unchanged since we last saw it: no event, so nothing is
             * delivered twice across a re-list. */
            cJSON_Delete(cur);
            cJSON_Delete(it);
            continue;
        }
        cJSON_Delete(cur);
        if ((rc = apply_upsert(inf, it))) goto out;
    }
    if ((rc = kube_store_keys(inf->store, &keys))) goto out;
    const cJSON *k;
    cJSON_ArrayForEach(k, keys)
    {
        if (!kube_map_has(&seen, k->valuestring)) apply_delete(inf, k->valuestring);
    }
out:
    cJSON_Delete(keys);
    kube_map_deinit(&seen);
    return rc;
}

static int do_list(struct kube_informer *inf)
{
    cJSON *items = NULL;
    char *rv = NULL;
    struct kube_status st;
    struct kube_list_opts lo = {inf->o.label_selector, inf->o.field_selector, inf->o.page_size,
                                NULL, NULL};
    int rc = kube_list_all(inf->c, &inf->o.resource, inf->o.ns, &lo, &items, &rv, &st);
    if (rc) {
        ilog(inf, KUBE_LOG_WARN, "list failed", "error", kube_strerror(rc), "message", st.message);
        goto out;
    }
    if ((rc = replace_all(inf, items))) goto out;
    set_rv(inf, rv);
    pthread_mutex_lock(&inf->mu);
    inf->stats.lists++;
    inf->synced = 1;
    pthread_cond_broadcast(&inf->cv);
    pthread_mutex_unlock(&inf->mu);
out:
    cJSON_Delete(items);
    free(rv);
    return rc;
}

static int on_event(void *ud, struct kube_event *ev)
{
    struct kube_informer *inf = ud;
    char key[512];
    stat_inc(inf, &inf->stats.events);
    switch (ev->type) {
    case KUBE_EVENT_ADDED:
    case KUBE_EVENT_MODIFIED: {
        char rv[RV_MAX];
        snprintf(rv, sizeof(rv), "%s", kube_obj_rv(ev->object) ? kube_obj_rv(ev->object) : "");
        cJSON *obj = ev->object;
        ev->object = NULL;
        int rc = apply_upsert(inf, obj);
        if (rc) return rc;
        set_rv(inf, rv);
        return 0;
    }
    case KUBE_EVENT_DELETED:
        if (kube_obj_key(ev->object, key, sizeof(key)) == 0) apply_delete(inf, key);
        set_rv(inf, kube_obj_rv(ev->object));
        return 0;
    case KUBE_EVENT_BOOKMARK: set_rv(inf, kube_obj_rv(ev->object)); return 0;
    case KUBE_EVENT_ERROR: {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(ev->object, "code");
        const char *msg = kube_obj_str(ev->object, "message");
        ilog(inf, KUBE_LOG_INFO, "watch error event", "message", msg ? msg : "", NULL, NULL);
        return cJSON_IsNumber(code) && code->valueint == 410 ? KUBE_EGONE : KUBE_ESERVER;
    }
    }
    return 0;
}

static void *run(void *p)
{
    struct kube_informer *inf = p;
    char rv[RV_MAX];
    kube_informer_last_rv(inf, rv, sizeof(rv));
    /* Restarted after a stop: resume from where we were (a 410 re-lists). */
    int need_list = rv[0] == '\0';
    uint64_t seed = (uint64_t)(uintptr_t)inf;
    while (!inf->stop) {
        if (need_list) {
            if (do_list(inf)) {
                stat_inc(inf, &inf->stats.errors);
                if (nap(inf, kube_backoff_next(&inf->backoff))) break;
                continue;
            }
            need_list = 0;
            kube_backoff_reset(&inf->backoff);
        }
        kube_informer_last_rv(inf, rv, sizeof(rv));
        struct kube_watch_opts wo = {rv, inf->o.label_selector,  inf->o.field_selector,
                                     1,  inf->o.watch_timeout_s, &inf->stop};
        if (wo.timeout_seconds <= 0) wo.timeout_seconds = 300 + (int32_t)(300 * kube_rand01(&seed));
        struct kube_status st;
        stat_inc(inf, &inf->stats.watches);
        int rc = kube_watch(inf->c, &inf->o.resource, inf->o.ns, &wo, on_event, inf, &st);
        if (inf->stop || rc == KUBE_ECANCELED) break;
        if (rc == 0) {
            kube_backoff_reset(&inf->backoff);
            continue; /* the server ended the stream; resume from rv */
        }
        if (rc == KUBE_EGONE) {
            ilog(inf, KUBE_LOG_INFO, "resourceVersion gone, re-listing", "rv", rv, NULL, NULL);
            stat_inc(inf, &inf->stats.gone);
            need_list = 1;
            continue;
        }
        stat_inc(inf, &inf->stats.errors);
        ilog(inf, KUBE_LOG_WARN, "watch failed, retrying", "error", kube_strerror(rc), "message",
             st.message);
        if (nap(inf, kube_backoff_next(&inf->backoff))) break;
    }
    return NULL;
}

static void *resync_run(void *p)
{
    struct kube_informer *inf = p;
    const struct kube_informer_handlers *h = &inf->o.handlers;
    while (!nap(inf, inf->o.resync_ns)) {
        cJSON *all = NULL, *o;
        if (kube_store_list(inf->store, NULL, NULL, &all)) continue;
        cJSON_ArrayForEach(o, all)
        {
            if (inf->stop) break;
            pthread_mutex_lock(&inf->handler_mu);
            if (h->on_update) h->on_update(h->ud, o, o);
            pthread_mutex_unlock(&inf->handler_mu);
        }
        cJSON_Delete(all);
    }
    return NULL;
}

int kube_informer_start(struct kube_informer *inf)
{
    if (!inf || inf->started) return KUBE_EINVAL;
    inf->stop = 0;
    if (pthread_create(&inf->thread, NULL, run, inf)) return KUBE_ENOMEM;
    inf->started = 1;
    if (inf->o.resync_ns > 0 && pthread_create(&inf->resync_thread, NULL, resync_run, inf) == 0)
        inf->started = 2;
    return 0;
}

void kube_informer_stop(struct kube_informer *inf)
{
    if (!inf || !inf->started) return;
    pthread_mutex_lock(&inf->mu);
    inf->stop = 1;
    pthread_cond_broadcast(&inf->cv);
    pthread_mutex_unlock(&inf->mu);
    pthread_join(inf->thread, NULL);
    if (inf->started == 2) pthread_join(inf->resync_thread, NULL);
    inf->started = 0;
}

int kube_informer_has_synced(struct kube_informer *inf)
{
    pthread_mutex_lock(&inf->mu);
    int s = inf->synced;
    pthread_mutex_unlock(&inf->mu);
    return s;
}

int kube_informer_wait_synced(struct kube_informer *inf, int64_t timeout_ns)
{
    struct timespec ts;
    int rc = 0;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t t = (int64_t)ts.tv_sec * KUBE_SEC + ts.tv_nsec + (timeout_ns > 0 ? timeout_ns : 0);
    ts.tv_sec = (time_t)(t / KUBE_SEC);
    ts.tv_nsec = (long)(t % KUBE_SEC);
    pthread_mutex_lock(&inf->mu);
    while (!inf->synced && !inf->stop) {
        int w = timeout_ns < 0 ? pthread_cond_wait(&inf->cv, &inf->mu)
                               : pthread_cond_timedwait(&inf->cv, &inf->mu, &ts);
        if (w == ETIMEDOUT) break;
    }
    if (!inf->synced) rc = inf->stop ? KUBE_ECANCELED : KUBE_ETIMEDOUT;
    pthread_mutex_unlock(&inf->mu);
    return rc;
}

struct kube_store *kube_informer_store(struct kube_informer *inf)
{
    return inf->store;
}

void kube_informer_stats(struct kube_informer *inf, struct kube_informer_stats *out)
{
    pthread_mutex_lock(&inf->mu);
    *out = inf->stats;
    pthread_mutex_unlock(&inf->mu);
}

void kube_informer_last_rv(struct kube_informer *inf, char *buf, size_t cap)
{
    pthread_mutex_lock(&inf->mu);
    snprintf(buf, cap, "%s", inf->rv);
    pthread_mutex_unlock(&inf->mu);
}
