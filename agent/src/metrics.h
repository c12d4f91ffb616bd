/* metrics: the agent's Prometheus counters and their text exposition.
 *
 * One struct mx_model per served model holds its counters, gauges and
 * latency histograms; struct mx holds the models plus process-wide counters.
 * mx_render writes the Prometheus text format (version 0.0.4) with `kllm_`
 * names, one `model` label per series.
 *
 * Ownership: mx_model objects belong to their struct mx (mx_add_model);
 * pointers stay valid until mx_deinit.
 * Threads: every function may be called from any thread (one mutex per mx).
 */
#ifndef AGENT_METRICS_H
#define AGENT_METRICS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "abuf.h"

#define MX_MAX_MODELS 32
#define MX_MAX_CODES 16
#define MX_HIST_BUCKETS 12

enum mx_anomaly {
    MX_ANOMALY_NONFINITE = 0, /* non-finite logits */
    MX_ANOMALY_EMPTY,         /* a completion with no text */
    MX_ANOMALY_REPETITION,    /* the same short pattern looping to max_tokens */
    MX_ANOMALY_COUNT
};

struct mx_hist {
    const double *bounds; /* MX_HIST_BUCKETS - 1 upper bounds, then +Inf */
    uint64_t counts[MX_HIST_BUCKETS];
    uint64_t count;
    double sum;
};

struct mx_model {
    char name[128];
    int32_t revision; /* > 0: rendered as a revision label (cluster mode) */
    char label[192];  /* model="NAME"[,revision="N"] */
    int codes[MX_MAX_CODES];
    uint64_t code_counts[MX_MAX_CODES];
    int n_codes;
    int64_t in_flight; /* admitted to a decode slot */
    int64_t queued;    /* waiting for a slot */
    uint64_t prompt_tokens;
    uint64_t generated_tokens;
    uint64_t anomalies[MX_ANOMALY_COUNT];
    struct mx_hist ttft;      /* seconds from arrival to first token */
    struct mx_hist per_token; /* seconds between tokens of one sequence */
    struct mx_hist latency;   /* seconds from arrival to the last token (successes) */
    bool ready;
};

struct mx {
    pthread_mutex_t mu;
    struct mx_model models[MX_MAX_MODELS];
    int n_models;
    uint64_t http_codes_other;        /* requests that named no served model */
    uint64_t cache_bytes;             /* size of the model cache directory */
    uint64_t proxied_ok, proxied_err; /* cluster mode: answered by a peer (2xx / other) */
};

int mx_init(struct mx *m);
void mx_deinit(struct mx *m);
/* NULL when MX_MAX_MODELS are registered. */
struct mx_model *mx_add_model(struct mx *m, const char *name);
/* The series of (name, revision): with reuse, an existing one is returned
 * (a reloaded replica continues its counters); else like mx_add_model.
 * revision 0: no revision label. NULL when the table is full. */
struct mx_model *mx_model_get(struct mx *m, const char *name, int32_t revision, bool reuse);

void mx_request_done(struct mx *m, struct mx_model *mm, int status);
/* A request answered by a peer agent with this HTTP status (cluster mode). */
void mx_proxied(struct mx *m, int status);
void mx_add_gauges(struct mx *m, struct mx_model *mm, int64_t d_in_flight, int64_t d_queued);
void mx_add_tokens(struct mx *m, struct mx_model *mm, uint64_t prompt, uint64_t generated);
void mx_observe_ttft(struct mx *m, struct mx_model *mm, double seconds);
void mx_observe_token(struct mx *m, struct mx_model *mm, double seconds);
void mx_observe_latency(struct mx *m, struct mx_model *mm, double seconds);
void mx_anomaly(struct mx *m, struct mx_model *mm, enum mx_anomaly kind);
void mx_set_ready(struct mx *m, struct mx_model *mm, bool ready);
void mx_set_cache_bytes(struct mx *m, uint64_t bytes);
const char *mx_anomaly_name(enum mx_anomaly kind);

/* Append the whole exposition to out. Returns 0 or ABUF_ERR_*. */
int mx_render(struct mx *m, struct abuf *out);

#endif
