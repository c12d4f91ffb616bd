/* events.c: Event recorder with aggregation of repeats; see kube/events.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/events.h"
#include "kmap.h"

#define RECENT_MAX 4096

static const struct kube_resource events = {"", "v1", "events", 1};

struct seen {
    char name[256];
    char ns[256];
    int32_t count;
};

struct kube_recorder {
    struct kube_client *c;
    char *component, *host;
    pthread_mutex_t mu;
    struct kube_map recent; /* aggregation key -> struct seen* */
    uint64_t seq;
};

int kube_recorder_new(struct kube_client *c, const char *component, const char *host,
                      struct kube_recorder **out)
{
    if (!c || !component || !out) return KUBE_EINVAL;
    struct kube_recorder *r = calloc(1, sizeof(*r));
    if (!r) return KUBE_ENOMEM;
    r->c = c;
    r->component = strdup(component);
    r->host = host ? strdup(host) : NULL;
    pthread_mutex_init(&r->mu, NULL);
    kube_map_init(&r->recent, free);
    if (!r->component || (host && !r->host)) {
        kube_recorder_free(r);
        return KUBE_ENOMEM;
    }
    *out = r;
    return 0;
}

void kube_recorder_free(struct kube_recorder *r)
{
    if (!r) return;
    kube_map_deinit(&r->recent);
    pthread_mutex_destroy(&r->mu);
    free(r->component);
    free(r->host);
    free(r);
}

/* metav1.Time: RFC 3339, seconds. */
static void time_now(char *buf, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int create_event(struct kube_recorder *r, const struct kube_object_ref *ref, const char *ns,
                        const char *type, const char *reason, const char *msg, struct seen *s)
{
    char now[40], name[256];
    struct kube_status st;
    struct timespec ts;
    int rc = KUBE_ENOMEM;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* Unique and sortable, like client-go: <object>.<hex nanoseconds>. */
    snprintf(name, sizeof(name), "%.200s.%llx", ref->name,
             (unsigned long long)((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec +
                                  r->seq++));
    time_now(now, sizeof(now));
    cJSON *e = cJSON_CreateObject();
    cJSON *md = cJSON_AddObjectToObject(e, "metadata");
    cJSON *io = cJSON_AddObjectToObject(e, "involvedObject");
    cJSON *src = cJSON_AddObjectToObject(e, "source");
    if (!md || !io || !src) goto out;
    cJSON_AddStringToObject(e, "apiVersion", "v1");
    cJSON_AddStringToObject(e, "kind", "Event");
    cJSON_AddStringToObject(md, "name", name);
    cJSON_AddStringToObject(md, "namespace", ns);
    if (ref->api_version) cJSON_AddStringToObject(io, "apiVersion", ref->api_version);
    cJSON_AddStringToObject(io, "kind", ref->kind);
    cJSON_AddStringToObject(io, "name", ref->name);
    if (ref->ns) cJSON_AddStringToObject(io, "namespace", ref->ns);
    if (ref->uid) cJSON_AddStringToObject(io, "uid", ref->uid);
    cJSON_AddStringToObject(src, "component", r->component);
    if (r->host) cJSON_AddStringToObject(src, "host", r->host);
    cJSON_AddStringToObject(e, "type", type);
    cJSON_AddStringToObject(e, "reason", reason);
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "firstTimestamp", now);
    cJSON_AddStringToObject(e, "lastTimestamp", now);
    cJSON_AddNumberToObject(e, "count", 1);
    rc = kube_create(r->c, &events, ns, e, NULL, &st);
    if (rc == 0) {
        snprintf(s->name, sizeof(s->name), "%s", name);
        snprintf(s->ns, sizeof(s->ns), "%s", ns);
        s->count = 1;
    }
out:
    cJSON_Delete(e);
    return rc;
}

int kube_recorder_event(struct kube_recorder *r, const struct kube_object_ref *ref,
                        const char *type, const char *reason, const char *message)
{
    char key[2048], msg[1025], now[40];
    struct kube_status st;
    int rc = 0;
    if (!r || !ref || !ref->kind || !ref->name || !type || !reason || !message) return KUBE_EINVAL;
    snprintf(msg, sizeof(msg), "%s", message);
    const char *ns = ref->ns && *ref->ns ? ref->ns : "default";
    snprintf(key, sizeof(key), "%s|%s|%s|%s|%s|%s|%s", ref->kind, ns, ref->name,
             ref->uid ? ref->uid : "", type, reason, msg);
    pthread_mutex_lock(&r->mu);
    struct seen *s = kube_map_get(&r->recent, key);
    if (s) {
        cJSON *p = cJSON_CreateObject();
        time_now(now, sizeof(now));
        if (!p || !cJSON_AddNumberToObject(p, "count", s->count + 1) ||
            !cJSON_AddStringToObject(p, "lastTimestamp", now)) {
            cJSON_Delete(p);
            rc = KUBE_ENOMEM;
            goto out;
        }
        rc = kube_patch_merge(r->c, &events, s->ns, s->name, NULL, p, NULL, &st);
        cJSON_Delete(p);
        if (rc == 0) {
            s->count++;
            goto out;
        }
        if (rc != KUBE_ENOTFOUND) goto out;
        /* Expired on the server: start a new one below. */
    } else {
        if (r->recent.len >= RECENT_MAX) {
            kube_map_deinit(&r->recent); /* crude but bounded: forget everything */
            kube_map_init(&r->recent, free);
        }
        s = calloc(1, sizeof(*s));
        if (!s || kube_map_put(&r->recent, key, s, NULL)) {
            free(s);
            rc = KUBE_ENOMEM;
            goto out;
        }
    }
    rc = create_event(r, ref, ns, type, reason, msg, s);
    if (rc) free(kube_map_del(&r->recent, key, NULL));
out:
    pthread_mutex_unlock(&r->mu);
    return rc;
}
