/* scrape.c: the mutex-protected cache of agents' /metrics pages
 * (op_scrape.h). A flat table: a few hundred agents at most, looked up by
 * a linear scan. */
#include "op_scrape.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct sc_entry {
    char endpoint[OP_SCRAPE_MAX_ENDPOINT + 1];
    char *page;         /* last good page, or NULL */
    int64_t fetched_ms; /* when page was fetched */
    int64_t asked_ms;   /* last op_scrape_cache_get */
    bool tried;         /* fetched at least once */
    bool failed;        /* the last fetch failed */
};

struct op_scrape_cache {
    pthread_mutex_t mu;
    struct op_scrape_cache_opts o;
    struct sc_entry *e; /* OP_SCRAPE_MAX_TARGETS */
    size_t n;
};

struct op_scrape_cache *op_scrape_cache_new(const struct op_scrape_cache_opts *o)
{
    struct op_scrape_cache *c;

    if (!o || o->max_age_ms <= 0 || o->idle_ms <= 0) return NULL;
    c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->e = calloc(OP_SCRAPE_MAX_TARGETS, sizeof(*c->e));
    if (!c->e || pthread_mutex_init(&c->mu, NULL)) {
        free(c->e);
        free(c);
        return NULL;
    }
    c->o = *o;
    return c;
}

void op_scrape_cache_free(struct op_scrape_cache *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) free(c->e[i].page);
    free(c->e);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static struct sc_entry *sc_find(struct op_scrape_cache *c, const char *endpoint)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->e[i].endpoint, endpoint) == 0) return &c->e[i];
    return NULL;
}

enum op_scrape_state op_scrape_cache_get(struct op_scrape_cache *c, const char *endpoint,
                                         int64_t now_ms, char **text, int64_t *fetched_ms)
{
    struct sc_entry *e;
    enum op_scrape_state st;
    size_t len = endpoint ? strlen(endpoint) : 0;

    if (text) *text = NULL;
    if (!c || len == 0 || len > OP_SCRAPE_MAX_ENDPOINT) return OP_SCRAPE_FAILED;
    pthread_mutex_lock(&c->mu);
    e = sc_find(c, endpoint);
    if (!e) {
        if (c->n == OP_SCRAPE_MAX_TARGETS) {
            pthread_mutex_unlock(&c->mu);
            return OP_SCRAPE_FAILED;
        }
        e = &c->e[c->n++];
        memset(e, 0, sizeof(*e));
        memcpy(e->endpoint, endpoint, len + 1);
    }
    e->asked_ms = now_ms;
    if (!e->tried)
        st = OP_SCRAPE_PENDING;
    else if (e->failed || !e->page)
        st = OP_SCRAPE_FAILED;
    else if (now_ms - e->fetched_ms > c->o.max_age_ms)
        st = OP_SCRAPE_STALE;
    else
        st = OP_SCRAPE_OK;
    if (st == OP_SCRAPE_OK) {
        if (text) *text = strdup(e->page);
        if (fetched_ms) *fetched_ms = e->fetched_ms;
    }
    pthread_mutex_unlock(&c->mu);
    return st;
}

size_t op_scrape_cache_targets(struct op_scrape_cache *c, int64_t now_ms, char ***out)
{
    char **list = NULL;
    size_t n = 0;

    if (out) *out = NULL;
    if (!c || !out) return 0;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n;) { /* drop the idle ones: move the last into the gap */
        if (now_ms - c->e[i].asked_ms > c->o.idle_ms) {
            free(c->e[i].page);
            c->e[i] = c->e[--c->n];
            continue;
        }
        i++;
    }
    if (c->n > 0) list = calloc(c->n, sizeof(*list));
    for (size_t i = 0; list && i < c->n; i++) {
        list[n] = strdup(c->e[i].endpoint);
        if (list[n]) n++;
    }
    pthread_mutex_unlock(&c->mu);
    if (n == 0) {
        free(list);
        list = NULL;
    }
    *out = list;
    return n;
}

void op_scrape_cache_put(struct op_scrape_cache *c, const char *endpoint, char *page,
                         int64_t now_ms)
{
    struct sc_entry *e;

    if (!c || !endpoint) {
        free(page);
        return;
    }
    pthread_mutex_lock(&c->mu);
    e = sc_find(c, endpoint);
    if (e) {
        e->tried = true;
        e->failed = page == NULL;
        if (page) {
            free(e->page);
            e->page = page;
            e->fetched_ms = now_ms;
            page = NULL;
        }
    }
    pthread_mutex_unlock(&c->mu);
    free(page);
}

size_t op_capbuf_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct op_capbuf *b = ud;
    size_t n = size * nmemb;
    if (b->len + n + 1 > b->max) return 0; /* over the cap: the transfer fails */
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->len + n + 1) cap *= 2;
        if (cap > b->max) cap = b->max;
        char *p = realloc(b->p, cap);
        if (!p) return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

char *op_capbuf_take(struct op_capbuf *b)
{
    char *p = b->p ? b->p : strdup(""); /* an empty body is an answer too */
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}
