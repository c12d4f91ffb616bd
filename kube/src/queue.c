/* queue.c: deduplicating, delaying, rate-limited work queue. See
 * kube/queue.h for the contract. One mutex guards everything; waits use a
 * condition variable on CLOCK_MONOTONIC. The injected clock decides when
 * delayed keys become due; real time only bounds how long get() sleeps. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/queue.h"
#include "kmap.h"

struct delayed {
    int64_t due;
    char *key;
};

struct kube_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct kube_queue_opts o;
    /* FIFO of keys ready to hand out (ring buffer). */
    char **fifo;
    size_t head, n, cap;
    struct kube_map dirty;      /* queued or to be re-queued: key -> NULL */
    struct kube_map processing; /* handed out, not done: key -> NULL */
    struct kube_map due;        /* delayed: key -> int64_t* earliest due */
    struct delayed *heap;       /* min-heap by due; stale entries skipped */
    size_t hn, hcap;
    struct kube_map failures; /* key -> int32_t* */
    double tokens;
    int64_t tokens_at;
    int shutting_down;
};

int kube_queue_new(const struct kube_queue_opts *opts, struct kube_queue **out)
{
    struct kube_queue *q = calloc(1, sizeof(*q));
    pthread_condattr_t ca;
    if (!q) return KUBE_ENOMEM;
    if (opts) q->o = *opts;
    if (q->o.base_delay_ns <= 0) q->o.base_delay_ns = 5 * KUBE_MS;
    if (q->o.max_delay_ns <= 0) q->o.max_delay_ns = 1000 * KUBE_SEC;
    if (q->o.qps <= 0) q->o.qps = 10;
    if (q->o.burst <= 0) q->o.burst = 100;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    kube_map_init(&q->dirty, NULL);
    kube_map_init(&q->processing, NULL);
    kube_map_init(&q->due, free);
    kube_map_init(&q->failures, free);
    q->tokens = q->o.burst;
    q->tokens_at = kube_clock_now(q->o.clock);
    *out = q;
    return 0;
}

void kube_queue_free(struct kube_queue *q)
{
    if (!q) return;
    for (size_t i = 0; i < q->n; i++) free(q->fifo[(q->head + i) % q->cap]);
    free(q->fifo);
    for (size_t i = 0; i < q->hn; i++) free(q->heap[i].key);
    free(q->heap);
    kube_map_deinit(&q->dirty);
    kube_map_deinit(&q->processing);
    kube_map_deinit(&q->due);
    kube_map_deinit(&q->failures);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

static int fifo_push(struct kube_queue *q, const char *key)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        char **f = malloc(cap * sizeof(*f));
        if (!f) return KUBE_ENOMEM;
        for (size_t i = 0; i < q->n; i++) f[i] = q->fifo[(q->head + i) % q->cap];
        free(q->fifo);
        q->fifo = f;
        q->head = 0;
        q->cap = cap;
    }
    char *k = strdup(key);
    if (!k) return KUBE_ENOMEM;
    q->fifo[(q->head + q->n) % q->cap] = k;
    q->n++;
    return 0;
}

/* Under mu. */
static int add_locked(struct kube_queue *q, const char *key)
{
    if (kube_map_has(&q->dirty, key)) return 0;
    int rc = kube_map_put(&q->dirty, key, NULL, NULL);
    if (rc) return rc;
    /* Parked while a worker has it; done() queues it again. */
    if (kube_map_has(&q->processing, key)) return 0;
    rc = fifo_push(q, key);
    if (rc) {
        kube_map_del(&q->dirty, key, NULL);
        return rc;
    }
    pthread_cond_signal(&q->cv);
    return 0;
}

static void heap_up(struct delayed *h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p].due <= h[i].due) break;
        struct delayed t = h[p];
        h[p] = h[i];
        h[i] = t;
        i = p;
    }
}

static void heap_pop(struct kube_queue *q)
{
    struct delayed *h = q->heap;
    h[0] = h[--q->hn];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->hn && h[l].due < h[m].due) m = l;
        if (r < q->hn && h[r].due < h[m].due) m = r;
        if (m == i) break;
        struct delayed t = h[m];
        h[m] = h[i];
        h[i] = t;
        i = m;
    }
}

/* Move every delayed key that is due into the FIFO. Under mu. */
static void promote_due(struct kube_queue *q)
{
    int64_t now = kube_clock_now(q->o.clock);
    while (q->hn && q->heap[0].due <= now) {
        struct delayed d = q->heap[0];
        heap_pop(q);
        const int64_t *cur = kube_map_get(&q->due, d.key);
        /* Skip stale heap entries: the key was re-scheduled earlier. */
        if (cur && *cur == d.due) {
            free(kube_map_del(&q->due, d.key, NULL));
            if (!q->shutting_down) (void)add_locked(q, d.key);
        }
        free(d.key);
    }
}

int kube_queue_add(struct kube_queue *q, const char *key)
{
    int rc;
    if (!q || !key) return KUBE_EINVAL;
    pthread_mutex_lock(&q->mu);
    rc = q->shutting_down ? KUBE_ECLOSED : add_locked(q, key);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static int add_after_locked(struct kube_queue *q, const char *key, int64_t delay_ns)
{
    if (delay_ns <= 0) return add_locked(q, key);
    int64_t due = kube_clock_now(q->o.clock) + delay_ns;
    int64_t *cur = kube_map_get(&q->due, key);
    if (cur && *cur <= due) return 0; /* an earlier wake-up already exists */
    if (q->hn == q->hcap) {
        size_t cap = q->hcap ? q->hcap * 2 : 32;
        struct delayed *h = realloc(q->heap, cap * sizeof(*h));
        if (!h) return KUBE_ENOMEM;
        q->heap = h;
        q->hcap = cap;
    }
    char *k = strdup(key);
    if (!k) return KUBE_ENOMEM;
    if (cur) {
        *cur = due;
    } else {
        int64_t *v = malloc(sizeof(*v));
        if (!v || kube_map_put(&q->due, key, v, NULL)) {
            free(v);
            free(k);
            return KUBE_ENOMEM;
        }
        *v = due;
    }
    q->heap[q->hn].due = due;
    q->heap[q->hn].key = k;
    heap_up(q->heap, q->hn++);
    /* A sleeping get() may now have to wake up earlier. */
    pthread_cond_broadcast(&q->cv);
    return 0;
}

int kube_queue_add_after(struct kube_queue *q, const char *key, int64_t delay_ns)
{
    int rc;
    if (!q || !key) return KUBE_EINVAL;
    pthread_mutex_lock(&q->mu);
    rc = q->shutting_down ? KUBE_ECLOSED : add_after_locked(q, key, delay_ns);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static int64_t item_delay(const struct kube_queue *q, int32_t failures)
{
    int64_t d = q->o.base_delay_ns;
    for (int32_t i = 0; i < failures; i++) {
        if (d >= q->o.max_delay_ns / 2) return q->o.max_delay_ns;
        d *= 2;
    }
    return d < q->o.max_delay_ns ? d : q->o.max_delay_ns;
}

/* Token bucket reservation (like golang.org/x/time/rate Reserve): take a
 * token now, possibly going negative; the wait is how long until the
 * bucket is back at zero. */
static int64_t bucket_reserve(struct kube_queue *q, int take)
{
    int64_t now = kube_clock_now(q->o.clock);
    double tokens = q->tokens + (double)(now - q->tokens_at) / 1e9 * q->o.qps;
    if (tokens > q->o.burst) tokens = q->o.burst;
    if (take) {
        q->tokens = tokens - 1.0;
        q->tokens_at = now;
        tokens = q->tokens;
    } else {
        tokens -= 1.0;
    }
    if (tokens >= 0) return 0;
    return (int64_t)(-tokens / q->o.qps * 1e9);
}

int64_t kube_queue_peek_delay(struct kube_queue *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    const int32_t *f = kube_map_get(&q->failures, key);
    int64_t a = item_delay(q, f ? *f : 0), b = bucket_reserve(q, 0);
    pthread_mutex_unlock(&q->mu);
    return a > b ? a : b;
}

int kube_queue_add_rate_limited(struct kube_queue *q, const char *key)
{
    int rc = 0;
    if (!q || !key) return KUBE_EINVAL;
    pthread_mutex_lock(&q->mu);
    if (q->shutting_down) {
        rc = KUBE_ECLOSED;
        goto out;
    }
    int32_t *f = kube_map_get(&q->failures, key);
    if (!f) {
        f = calloc(1, sizeof(*f));
        if (!f || kube_map_put(&q->failures, key, f, NULL)) {
            free(f);
            rc = KUBE_ENOMEM;
            goto out;
        }
    }
    int64_t a = item_delay(q, *f), b = bucket_reserve(q, 1);
    if (*f < INT32_MAX) (*f)++;
    rc = add_after_locked(q, key, a > b ? a : b);
out:
    pthread_mutex_unlock(&q->mu);
    return rc;
}

void kube_queue_forget(struct kube_queue *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    free(kube_map_del(&q->failures, key, NULL));
    pthread_mutex_unlock(&q->mu);
}

int32_t kube_queue_num_requeues(struct kube_queue *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    const int32_t *f = kube_map_get(&q->failures, key);
    int32_t n = f ? *f : 0;
    pthread_mutex_unlock(&q->mu);
    return n;
}

static void deadline_after(struct timespec *ts, int64_t ns)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    int64_t t = (int64_t)ts->tv_sec * KUBE_SEC + ts->tv_nsec + ns;
    ts->tv_sec = (time_t)(t / KUBE_SEC);
    ts->tv_nsec = (long)(t % KUBE_SEC);
}

int kube_queue_get(struct kube_queue *q, char **key, int64_t timeout_ns)
{
    int rc = 0;
    struct timespec end;
    int64_t end_ns = 0;
    if (!q || !key) return KUBE_EINVAL;
    *key = NULL;
    if (timeout_ns > 0) {
        deadline_after(&end, timeout_ns);
        end_ns = (int64_t)end.tv_sec * KUBE_SEC + end.tv_nsec;
    }
    pthread_mutex_lock(&q->mu);
    for (;;) {
        promote_due(q);
        if (q->n) break;
        if (q->shutting_down) {
            rc = KUBE_ECLOSED;
            goto out;
        }
        if (timeout_ns == 0) {
            rc = KUBE_ETIMEDOUT;
            goto out;
        }
        /* Sleep until the next delayed key is due or the caller's deadline,
         * whichever is first; re-check after every wake-up. */
        int64_t wait = -1;
        if (q->hn) {
            wait = q->heap[0].due - kube_clock_now(q->o.clock);
            if (wait < KUBE_MS) wait = KUBE_MS;
        }
        struct timespec ts;
        if (timeout_ns > 0) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            int64_t left = end_ns - ((int64_t)now.tv_sec * KUBE_SEC + now.tv_nsec);
            if (left <= 0) {
                rc = KUBE_ETIMEDOUT;
                goto out;
            }
            if (wait < 0 || left < wait) wait = left;
        }
        if (wait < 0) {
            pthread_cond_wait(&q->cv, &q->mu);
        } else {
            deadline_after(&ts, wait);
            int w = pthread_cond_timedwait(&q->cv, &q->mu, &ts);
            if (w != 0 && w != ETIMEDOUT) {
                rc = KUBE_EIO;
                goto out;
            }
        }
    }
    *key = q->fifo[q->head];
    q->head = (q->head + 1) % q->cap;
    q->n--;
    kube_map_del(&q->dirty, *key, NULL);
    if (kube_map_put(&q->processing, *key, NULL, NULL)) {
        /* Cannot track it: put it back rather than break the one-worker rule. */
        (void)fifo_push(q, *key);
        (void)kube_map_put(&q->dirty, *key, NULL, NULL);
        free(*key);
        *key = NULL;
        rc = KUBE_ENOMEM;
    }
out:
    pthread_mutex_unlock(&q->mu);
    return rc;
}

void kube_queue_done(struct kube_queue *q, const char *key)
{
    pthread_mutex_lock(&q->mu);
    kube_map_del(&q->processing, key, NULL);
    if (kube_map_has(&q->dirty, key)) (void)fifo_push(q, key);
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

size_t kube_queue_len(struct kube_queue *q)
{
    pthread_mutex_lock(&q->mu);
    promote_due(q);
    size_t n = q->n;
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t kube_queue_delayed_len(struct kube_queue *q)
{
    pthread_mutex_lock(&q->mu);
    promote_due(q);
    size_t n = q->due.len;
    pthread_mutex_unlock(&q->mu);
    return n;
}

void kube_queue_shutdown(struct kube_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->shutting_down = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

int kube_queue_shutdown_drain(struct kube_queue *q, int64_t timeout_ns)
{
    int rc = 0;
    struct timespec end;
    if (timeout_ns >= 0) deadline_after(&end, timeout_ns);
    pthread_mutex_lock(&q->mu);
    q->shutting_down = 1;
    pthread_cond_broadcast(&q->cv);
    while (q->processing.len || q->n) {
        int w = timeout_ns < 0 ? pthread_cond_wait(&q->cv, &q->mu)
                               : pthread_cond_timedwait(&q->cv, &q->mu, &end);
        if (w == ETIMEDOUT) {
            rc = KUBE_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}
