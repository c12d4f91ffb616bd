/* store.c: the informer's cache — objects by key, with namespace and
 * label (key=value) indexes, and equality-based label selectors. One
 * rwlock; readers get copies so nothing escapes the lock. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/informer.h"
#include "kmap.h"

#define KEY_MAX 512

struct kube_store {
    pthread_rwlock_t mu;
    struct kube_map objs;   /* key -> cJSON* */
    struct kube_map by_ns;  /* ns -> struct kube_map* (set of keys) */
    struct kube_map by_lbl; /* "k=v" -> struct kube_map* */
};

static void free_obj(void *p)
{
    cJSON_Delete(p);
}
static void free_set(void *p)
{
    kube_map_deinit(p);
    free(p);
}

int kube_store_new(struct kube_store **out)
{
    struct kube_store *s = calloc(1, sizeof(*s));
    if (!s) return KUBE_ENOMEM;
    pthread_rwlock_init(&s->mu, NULL);
    kube_map_init(&s->objs, free_obj);
    kube_map_init(&s->by_ns, free_set);
    kube_map_init(&s->by_lbl, free_set);
    *out = s;
    return 0;
}

void kube_store_free(struct kube_store *s)
{
    if (!s) return;
    kube_map_deinit(&s->objs);
    kube_map_deinit(&s->by_ns);
    kube_map_deinit(&s->by_lbl);
    pthread_rwlock_destroy(&s->mu);
    free(s);
}

static int set_add(struct kube_map *idx, const char *ikey, const char *key)
{
    struct kube_map *set = kube_map_get(idx, ikey);
    if (!set) {
        set = malloc(sizeof(*set));
        if (!set) return KUBE_ENOMEM;
        kube_map_init(set, NULL);
        if (kube_map_put(idx, ikey, set, NULL)) {
            free(set);
            return KUBE_ENOMEM;
        }
    }
    return kube_map_put(set, key, NULL, NULL);
}

static void set_del(struct kube_map *idx, const char *ikey, const char *key)
{
    struct kube_map *set = kube_map_get(idx, ikey);
    if (!set) return;
    kube_map_del(set, key, NULL);
    if (set->len == 0) free_set(kube_map_del(idx, ikey, NULL));
}

static const cJSON *labels_of(const cJSON *obj)
{
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
                                            "labels");
}

/* Add (add=1) or remove the index entries of obj under key. */
static int index_obj(struct kube_store *s, const cJSON *obj, const char *key, int add)
{
    char ik[KEY_MAX];
    int rc = 0;
    const char *ns = kube_obj_namespace(obj);
    if (ns) {
        if (add)
            rc = set_add(&s->by_ns, ns, key);
        else
            set_del(&s->by_ns, ns, key);
    }
    const cJSON *l;
    cJSON_ArrayForEach(l, labels_of(obj))
    {
        if (rc || !cJSON_IsString(l) || !l->string) continue;
        if ((size_t)snprintf(ik, sizeof(ik), "%s=%s", l->string, l->valuestring) >= sizeof(ik))
            continue; /* too long to index; list falls back to a scan */
        if (add)
            rc = set_add(&s->by_lbl, ik, key);
        else
            set_del(&s->by_lbl, ik, key);
    }
    return rc;
}

int kube_store_upsert(struct kube_store *s, cJSON *obj, cJSON **old)
{
    char key[KEY_MAX];
    void *prev = NULL;
    int rc = kube_obj_key(obj, key, sizeof(key));
    if (old) *old = NULL;
    if (rc) {
        cJSON_Delete(obj);
        return rc;
    }
    pthread_rwlock_wrlock(&s->mu);
    prev = kube_map_get(&s->objs, key);
    if (prev) index_obj(s, prev, key, 0);
    rc = kube_map_put(&s->objs, key, obj, &prev);
    if (rc == 0) rc = index_obj(s, obj, key, 1);
    pthread_rwlock_unlock(&s->mu);
    if (old)
        *old = prev;
    else
        cJSON_Delete(prev);
    return rc;
}

int kube_store_delete(struct kube_store *s, const char *key, cJSON **old)
{
    int found = 0;
    pthread_rwlock_wrlock(&s->mu);
    cJSON *prev = kube_map_del(&s->objs, key, &found);
    if (prev) index_obj(s, prev, key, 0);
    pthread_rwlock_unlock(&s->mu);
    if (old)
        *old = prev;
    else
        cJSON_Delete(prev);
    return found ? 0 : KUBE_ENOTFOUND;
}

int kube_store_get(struct kube_store *s, const char *key, cJSON **out)
{
    int rc = 0;
    *out = NULL;
    pthread_rwlock_rdlock(&s->mu);
    const cJSON *o = kube_map_get(&s->objs, key);
    if (!o)
        rc = KUBE_ENOTFOUND;
    else if (!(*out = cJSON_Duplicate(o, 1)))
        rc = KUBE_ENOMEM;
    pthread_rwlock_unlock(&s->mu);
    return rc;
}

size_t kube_store_len(struct kube_store *s)
{
    pthread_rwlock_rdlock(&s->mu);
    size_t n = s->objs.len;
    pthread_rwlock_unlock(&s->mu);
    return n;
}

/* --- label selectors --- */

struct term {
    char key[256];
    char val[256];
    int op; /* 0 '=', 1 '!=', 2 exists, 3 !exists */
};

static int trim_copy(char *dst, size_t cap, const char *s, size_t n)
{
    while (n && (*s == ' ')) s++, n--;
    while (n && s[n - 1] == ' ') n--;
    if (n == 0 || n >= cap) return KUBE_EINVAL;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* Parse the next term of sel at *pos; 1 when one was parsed, 0 at the end. */
static int next_term(const char *sel, size_t *pos, struct term *t)
{
    const char *p = sel + *pos;
    if (!*p) return 0;
    size_t n = strcspn(p, ",");
    *pos += n + (p[n] ? 1 : 0);
    const char *eq = memchr(p, '=', n);
    if (!eq) {
        const char *k = p;
        size_t kl = n;
        while (kl && *k == ' ') k++, kl--;
        t->op = 2;
        if (kl && *k == '!') {
            t->op = 3;
            k++;
            kl--;
        }
        t->val[0] = '\0';
        return trim_copy(t->key, sizeof(t->key), k, kl) ? KUBE_EINVAL : 1;
    }
    size_t kl = (size_t)(eq - p);
    const char *v = eq + 1;
    t->op = 0;
    if (kl && p[kl - 1] == '!') {
        t->op = 1;
        kl--;
    } else if (*v == '=') {
        v++;
    }
    size_t vl = n - (size_t)(v - p);
    if (trim_copy(t->key, sizeof(t->key), p, kl)) return KUBE_EINVAL;
    if (vl == 0 || (vl == 1 && *v == ' ')) {
        t->val[0] = '\0';
    } else if (trim_copy(t->val, sizeof(t->val), v, vl)) {
        return KUBE_EINVAL;
    }
    return 1;
}

int kube_labels_match(const cJSON *obj, const char *selector)
{
    struct term t;
    size_t pos = 0;
    int r, match = 1;
    if (!selector) return 1;
    while ((r = next_term(selector, &pos, &t)) == 1) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels_of(obj), t.key);
        const char *val = cJSON_IsString(v) ? v->valuestring : NULL;
        switch (t.op) {
        case 0: match &= val && strcmp(val, t.val) == 0; break;
        case 1: match &= !val || strcmp(val, t.val) != 0; break;
        case 2: match &= val != NULL; break;
        default: match &= val == NULL; break;
        }
    }
    return r < 0 ? r : match;
}

struct collect {
    struct kube_store *s;
    const char *ns;
    const char *sel;
    cJSON *arr;
    int rc;
};

static int collect_obj(struct collect *c, const cJSON *o)
{
    if (c->ns && (!kube_obj_namespace(o) || strcmp(kube_obj_namespace(o), c->ns) != 0)) return 0;
    if (kube_labels_match(o, c->sel) != 1) return 0;
    cJSON *d = cJSON_Duplicate(o, 1);
    if (!d) {
        c->rc = KUBE_ENOMEM;
        return 1;
    }
    cJSON_AddItemToArray(c->arr, d);
    return 0;
}

static int collect_all(void *ud, const char *key, void *value)
{
    return collect_obj(ud, value);
}

static int collect_key(void *ud, const char *key, void *value)
{
    struct collect *c = ud;
    const cJSON *o = kube_map_get(&c->s->objs, key);
    return o ? collect_obj(c, o) : 0;
}

int kube_store_list(struct kube_store *s, const char *ns, const char *label_selector, cJSON **out)
{
    struct term t;
    size_t pos = 0;
    int r, use_idx = 0;
    char ik[KEY_MAX];
    struct kube_map *set = NULL;
    struct collect c = {s, ns, label_selector && *label_selector ? label_selector : NULL, NULL, 0};
    *out = NULL;
    /* Validate the selector and find an equality term to use the index. */
    while (c.sel && (r = next_term(c.sel, &pos, &t)) != 0) {
        if (r < 0) return KUBE_EINVAL;
        if (t.op == 0 && !use_idx &&
            (size_t)snprintf(ik, sizeof(ik), "%s=%s", t.key, t.val) < sizeof(ik))
            use_idx = 1;
    }
    c.arr = cJSON_CreateArray();
    if (!c.arr) return KUBE_ENOMEM;
    pthread_rwlock_rdlock(&s->mu);
    if (use_idx) {
        set = kube_map_get(&s->by_lbl, ik);
        if (set) kube_map_each(set, collect_key, &c);
    } else if (ns) {
        set = kube_map_get(&s->by_ns, ns);
        if (set) kube_map_each(set, collect_key, &c);
    } else {
        kube_map_each(&s->objs, collect_all, &c);
    }
    pthread_rwlock_unlock(&s->mu);
    if (c.rc) {
        cJSON_Delete(c.arr);
        return c.rc;
    }
    *out = c.arr;
    return 0;
}

static int collect_keyname(void *ud, const char *key, void *value)
{
    cJSON *s = cJSON_CreateString(key);
    if (!s) return 1;
    cJSON_AddItemToArray(ud, s);
    return 0;
}

int kube_store_keys(struct kube_store *s, cJSON **out)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr) return KUBE_ENOMEM;
    pthread_rwlock_rdlock(&s->mu);
    kube_map_each(&s->objs, collect_keyname, arr);
    size_t want = s->objs.len;
    pthread_rwlock_unlock(&s->mu);
    if ((size_t)cJSON_GetArraySize(arr) != want) {
        cJSON_Delete(arr);
        return KUBE_ENOMEM;
    }
    *out = arr;
    return 0;
}
