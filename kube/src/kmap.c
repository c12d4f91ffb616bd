/* kmap.c: the internal string hash map used by the store, queue and
 * event recorder. FNV-1a, chained buckets. */
#include <stdlib.h>
#include <string.h>

#include "kube/base.h"
#include "kmap.h"

static size_t hash_str(const char *s)
{
    size_t h = (size_t)1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= (size_t)1099511628211ULL;
    }
    return h;
}

void kube_map_init(struct kube_map *m, void (*free_value)(void *))
{
    m->b = NULL;
    m->nb = 0;
    m->len = 0;
    m->free_value = free_value;
}

void kube_map_deinit(struct kube_map *m)
{
    for (size_t i = 0; i < m->nb; i++) {
        struct kube_map_entry *e = m->b[i];
        while (e) {
            struct kube_map_entry *n = e->next;
            if (m->free_value) m->free_value(e->value);
            free(e);
            e = n;
        }
    }
    free(m->b);
    m->b = NULL;
    m->nb = 0;
    m->len = 0;
}

static struct kube_map_entry *find(const struct kube_map *m, const char *key, size_t h)
{
    if (!m->nb) return NULL;
    for (struct kube_map_entry *e = m->b[h & (m->nb - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->key, key) == 0) return e;
    return NULL;
}

void *kube_map_get(const struct kube_map *m, const char *key)
{
    struct kube_map_entry *e = find(m, key, hash_str(key));
    return e ? e->value : NULL;
}

int kube_map_has(const struct kube_map *m, const char *key)
{
    return find(m, key, hash_str(key)) != NULL;
}

static int grow(struct kube_map *m)
{
    size_t nb = m->nb ? m->nb * 2 : 16;
    struct kube_map_entry **b = calloc(nb, sizeof(*b));
    if (!b) return KUBE_ENOMEM;
    for (size_t i = 0; i < m->nb; i++) {
        struct kube_map_entry *e = m->b[i];
        while (e) {
            struct kube_map_entry *n = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = n;
        }
    }
    free(m->b);
    m->b = b;
    m->nb = nb;
    return 0;
}

int kube_map_put(struct kube_map *m, const char *key, void *value, void **old)
{
    size_t h = hash_str(key);
    struct kube_map_entry *e = find(m, key, h);
    if (e) {
        if (old)
            *old = e->value;
        else if (m->free_value)
            m->free_value(e->value);
        e->value = value;
        return 0;
    }
    if (old) *old = NULL;
    if ((m->len + 1) * 4 > m->nb * 3) {
        int rc = grow(m);
        if (rc) return rc;
    }
    size_t kl = strlen(key);
    e = malloc(sizeof(*e) + kl + 1);
    if (!e) return KUBE_ENOMEM;
    memcpy(e->key, key, kl + 1);
    e->hash = h;
    e->value = value;
    e->next = m->b[h & (m->nb - 1)];
    m->b[h & (m->nb - 1)] = e;
    m->len++;
    return 0;
}

void *kube_map_del(struct kube_map *m, const char *key, int *found)
{
    if (found) *found = 0;
    if (!m->nb) return NULL;
    size_t h = hash_str(key);
    struct kube_map_entry **pp = &m->b[h & (m->nb - 1)];
    for (; *pp; pp = &(*pp)->next) {
        struct kube_map_entry *e = *pp;
        if (e->hash == h && strcmp(e->key, key) == 0) {
            void *v = e->value;
            *pp = e->next;
            free(e);
            m->len--;
            if (found) *found = 1;
            return v;
        }
    }
    return NULL;
}

void kube_map_each(const struct kube_map *m, int (*fn)(void *ud, const char *key, void *value),
                   void *ud)
{
    for (size_t i = 0; i < m->nb; i++)
        for (struct kube_map_entry *e = m->b[i]; e; e = e->next)
            if (fn(ud, e->key, e->value)) return;
}
