/* kube/base.h: what every kube_ module shares — status codes, the log
 * callback, the injectable clock and exponential backoff with jitter.
 *
 * Threads: kube_strerror and kube_clock_now may be called from any thread.
 * A struct kube_backoff belongs to one thread at a time.
 */
#ifndef KUBE_BASE_H
#define KUBE_BASE_H

#include <stddef.h>
#include <stdint.h>

/* Every fallible kube_ function returns 0 or one of these (negative). */
enum kube_err {
    KUBE_OK = 0,
    KUBE_EINVAL = -1,         /* bad argument */
    KUBE_ENOMEM = -2,         /* allocation failed */
    KUBE_EIO = -3,            /* transport failure (connect, TLS, reset) */
    KUBE_EHTTP = -4,          /* an HTTP status not mapped below */
    KUBE_ENOTFOUND = -5,      /* 404 NotFound */
    KUBE_ECONFLICT = -6,      /* 409 Conflict: resourceVersion or precondition mismatch */
    KUBE_EEXISTS = -7,        /* 409 AlreadyExists */
    KUBE_EGONE = -8,          /* 410 Gone: resourceVersion too old, re-list */
    KUBE_EFORBIDDEN = -9,     /* 403 */
    KUBE_EUNAUTHORIZED = -10, /* 401 */
    KUBE_EINVALID = -11,      /* 422 Invalid (schema validation) */
    KUBE_ETOOBIG = -12,       /* a response or a line exceeded its size cap */
    KUBE_EPARSE = -13,        /* malformed JSON / YAML */
    KUBE_ECLOSED = -14,       /* object shut down */
    KUBE_ETIMEDOUT = -15,     /* deadline passed */
    KUBE_ECANCELED = -16,     /* stopped by the caller */
    KUBE_ECONFIG = -17,       /* kubeconfig / in-cluster config unusable */
    KUBE_ETHROTTLED = -18,    /* 429 TooManyRequests */
    KUBE_ESERVER = -19,       /* 5xx */
};

/* A static string for an error code; never NULL. */
const char *kube_strerror(int err);

enum kube_log_level {
    KUBE_LOG_DEBUG = 0,
    KUBE_LOG_INFO = 1,
    KUBE_LOG_WARN = 2,
    KUBE_LOG_ERROR = 3,
};

/* Libraries never print: they call this. kv is a NULL-terminated list of
 * key, value pairs (same shape as klog_kv, so programs can forward). The
 * callback may be invoked from any kube_ thread at the same time and must
 * be thread-safe. fn == NULL discards. */
struct kube_logger {
    void (*fn)(void *ud, enum kube_log_level lvl, const char *msg, const char *const *kv);
    void *ud;
};

/* Monotonic time source in nanoseconds. A NULL clock (or fn) means
 * CLOCK_MONOTONIC. Tests inject a fake one. */
struct kube_clock {
    int64_t (*now_ns)(void *ud);
    void *ud;
};

int64_t kube_clock_now(const struct kube_clock *c);

#define KUBE_MS ((int64_t)1000000)
#define KUBE_SEC ((int64_t)1000000000)

/* Exponential backoff: the n-th call to next() returns
 * min(initial * factor^n, max) stretched by a random factor in
 * [1, 1 + jitter]. The jitter keeps many clients from retrying in step. */
struct kube_backoff {
    int64_t initial_ns;
    int64_t max_ns;
    int64_t cur_ns;
    double factor;
    double jitter;
    uint64_t rng;
};

void kube_backoff_init(struct kube_backoff *b, int64_t initial_ns, int64_t max_ns, double factor,
                       double jitter, uint64_t seed);
int64_t kube_backoff_next(struct kube_backoff *b);
void kube_backoff_reset(struct kube_backoff *b);

/* Deterministic xorshift in [0, 1); state must be non-zero (0 is fixed up). */
double kube_rand01(uint64_t *state);

#endif
