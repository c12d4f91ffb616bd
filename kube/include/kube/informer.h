/* kube/informer.h: list+watch into an indexed, thread-safe cache.
 *
 * An informer lists a collection (paginated), then watches from the list's
 * resourceVersion with bookmarks. It keeps the cache equal to the server's
 * view across everything a watch can suffer:
 *   - stream ends (server timeout) or the connection drops (apiserver
 *     restart): watch again from the last resourceVersion seen (object or
 *     bookmark), after a jittered exponential backoff (200 ms .. 30 s) when
 *     it was an error; no event is lost and none is delivered twice;
 *   - 410 Gone (the resourceVersion was compacted away): list again and
 *     replace the cache, emitting add/update/delete only for real
 *     differences (an object whose resourceVersion did not change emits
 *     nothing), so deletes that happened while disconnected are not missed.
 * Handlers run on the informer's thread, one at a time, after the store has
 * been updated. An optional periodic resync calls on_update(obj, obj) for
 * every cached object (level-based controllers use it to re-check).
 *
 * The store indexes objects by key ("ns/name", or "name" when
 * cluster-scoped), by namespace and by label (key=value).
 *
 * Threads: kube_store_* may be called from any thread. Handlers must not
 * call kube_informer_stop/free. kube_informer_start/stop/free from one
 * controlling thread. Objects handed to handlers are borrowed for the call;
 * objects returned by kube_store_get/list are copies the caller frees.
 */
#ifndef KUBE_INFORMER_H
#define KUBE_INFORMER_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/client.h"

struct kube_store;

int kube_store_new(struct kube_store **out);
void kube_store_free(struct kube_store *s);
/* A copy of the object at key; KUBE_ENOTFOUND when absent. */
int kube_store_get(struct kube_store *s, const char *key, cJSON **out);
/* Copies of the objects in namespace ns (NULL: all) matching the
 * equality-based label selector (NULL/"": all), as a new JSON array.
 * Selector syntax: "a=b,c==d,e!=f,g,!h". KUBE_EINVAL for a bad selector. */
int kube_store_list(struct kube_store *s, const char *ns, const char *label_selector, cJSON **out);
/* Every key, as a new JSON array of strings. */
int kube_store_keys(struct kube_store *s, cJSON **out);
size_t kube_store_len(struct kube_store *s);

/* Store mutation, used by the informer (and tests). The store takes obj.
 * *old (if given) receives the replaced object (caller frees) or NULL. */
int kube_store_upsert(struct kube_store *s, cJSON *obj, cJSON **old);
/* Removes key; *old receives the removed object (caller frees) or NULL. */
int kube_store_delete(struct kube_store *s, const char *key, cJSON **old);

/* 1 if the object's labels match the selector, 0 if not, KUBE_EINVAL if the
 * selector is malformed. */
int kube_labels_match(const cJSON *obj, const char *selector);

struct kube_informer;

struct kube_informer_handlers {
    void (*on_add)(void *ud, const cJSON *obj);
    void (*on_update)(void *ud, const cJSON *old_obj, const cJSON *new_obj);
    void (*on_delete)(void *ud, const cJSON *obj);
    void *ud;
};

struct kube_informer_opts {
    struct kube_resource resource; /* strings copied */
    const char *ns;                /* NULL: all namespaces */
    const char *label_selector;
    const char *field_selector;
    int64_t resync_ns;       /* 0: no periodic resync */
    int32_t page_size;       /* list page; 0: 500 */
    int32_t watch_timeout_s; /* 0: random in [300, 600) so clients spread out */
    struct kube_informer_handlers handlers;
    struct kube_logger log; /* fn NULL: the client's logger */
};

/* The client must outlive the informer. */
int kube_informer_new(struct kube_client *c, const struct kube_informer_opts *o,
                      struct kube_informer **out);
/* Start the list/watch thread. KUBE_EINVAL if already started. Starting
 * again after kube_informer_stop keeps the store and resumes the watch from
 * the last resourceVersion (re-listing if that is gone). */
int kube_informer_start(struct kube_informer *inf);
/* Stop the thread (within about a second) and wait for it. Idempotent. */
void kube_informer_stop(struct kube_informer *inf);
void kube_informer_free(struct kube_informer *inf);

/* 1 once the first list has been applied to the store. */
int kube_informer_has_synced(struct kube_informer *inf);
/* 0 when synced, KUBE_ETIMEDOUT after timeout_ns (<0: forever). */
int kube_informer_wait_synced(struct kube_informer *inf, int64_t timeout_ns);
/* The informer's store; owned by the informer, valid until free. */
struct kube_store *kube_informer_store(struct kube_informer *inf);

struct kube_informer_stats {
    uint64_t lists;   /* full lists applied */
    uint64_t watches; /* watch streams opened */
    uint64_t gone;    /* 410s that forced a re-list */
    uint64_t errors;  /* failed lists / watches (retried with backoff) */
    uint64_t events;  /* watch events applied, bookmarks included */
};
void kube_informer_stats(struct kube_informer *inf, struct kube_informer_stats *out);
/* The last resourceVersion seen, copied into buf ("" before the first list). */
void kube_informer_last_rv(struct kube_informer *inf, char *buf, size_t cap);

#endif
