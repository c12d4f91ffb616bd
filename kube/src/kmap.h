/* kmap.h: internal string-keyed hash map (chained, grows at load 3/4).
 * Keys are copied; values are opaque and owned by the caller, who frees
 * them before kube_map_free or passes a destructor. Not thread-safe: the
 * owning module locks around it. */
#ifndef KUBE_KMAP_H
#define KUBE_KMAP_H

#include <stddef.h>

struct kube_map_entry {
    struct kube_map_entry *next;
    size_t hash;
    void *value;
    char key[];
};

struct kube_map {
    struct kube_map_entry **b;
    size_t nb;
    size_t len;
    void (*free_value)(void *);
};

void kube_map_init(struct kube_map *m, void (*free_value)(void *));
void kube_map_deinit(struct kube_map *m);
/* NULL when absent. */
void *kube_map_get(const struct kube_map *m, const char *key);
int kube_map_has(const struct kube_map *m, const char *key);
/* Insert or replace; the old value is returned in *old (if old != NULL) or
 * else destroyed with free_value. 0 or KUBE_ENOMEM. */
int kube_map_put(struct kube_map *m, const char *key, void *value, void **old);
/* Remove; returns the value (not destroyed) or NULL. *found set if given. */
void *kube_map_del(struct kube_map *m, const char *key, int *found);
/* Iterate: fn returns non-zero to stop. Must not modify the map. */
void kube_map_each(const struct kube_map *m, int (*fn)(void *ud, const char *key, void *value),
                   void *ud);

#endif
