/* base.c: status strings, the default clock, backoff with jitter. */
#include <time.h>

#include "kube/base.h"

const char *kube_strerror(int err)
{
    switch (err) {
    case KUBE_OK: return "ok";
    case KUBE_EINVAL: return "invalid argument";
    case KUBE_ENOMEM: return "out of memory";
    case KUBE_EIO: return "transport error";
    case KUBE_EHTTP: return "unexpected HTTP status";
    case KUBE_ENOTFOUND: return "not found";
    case KUBE_ECONFLICT: return "conflict";
    case KUBE_EEXISTS: return "already exists";
    case KUBE_EGONE: return "resource version too old (gone)";
    case KUBE_EFORBIDDEN: return "forbidden";
    case KUBE_EUNAUTHORIZED: return "unauthorized";
    case KUBE_EINVALID: return "invalid object";
    case KUBE_ETOOBIG: return "too large";
    case KUBE_EPARSE: return "parse error";
    case KUBE_ECLOSED: return "shut down";
    case KUBE_ETIMEDOUT: return "timed out";
    case KUBE_ECANCELED: return "canceled";
    case KUBE_ECONFIG: return "bad configuration";
    case KUBE_ETHROTTLED: return "too many requests";
    case KUBE_ESERVER: return "server error";
    default: return "unknown error";
    }
}

int64_t kube_clock_now(const struct kube_clock *c)
{
    if (c && c->now_ns) return c->now_ns(c->ud);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * KUBE_SEC + ts.tv_nsec;
}

double kube_rand01(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ULL;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return (double)(x >> 11) / (double)(1ULL << 53);
}

void kube_backoff_init(struct kube_backoff *b, int64_t initial_ns, int64_t max_ns, double factor,
                       double jitter, uint64_t seed)
{
    b->initial_ns = initial_ns > 0 ? initial_ns : 1;
    b->max_ns = max_ns >= b->initial_ns ? max_ns : b->initial_ns;
    b->cur_ns = b->initial_ns;
    b->factor = factor >= 1.0 ? factor : 1.0;
    b->jitter = jitter >= 0.0 ? jitter : 0.0;
    b->rng = seed ? seed : 0x2545f4914f6cdd1dULL;
}

int64_t kube_backoff_next(struct kube_backoff *b)
{
    int64_t d = b->cur_ns;
    if (b->jitter > 0.0) d += (int64_t)((double)d * b->jitter * kube_rand01(&b->rng));
    double next = (double)b->cur_ns * b->factor;
    b->cur_ns = next >= (double)b->max_ns ? b->max_ns : (int64_t)next;
    return d;
}

void kube_backoff_reset(struct kube_backoff *b)
{
    b->cur_ns = b->initial_ns;
}
