/* scheduler (sched_*): continuous batching — one engine thread per served model.
 *
 * HTTP threads build a struct job (prompt tokens, limits, sampling), submit
 * it, and then only wait on the job's condition variable and read its text.
 * The engine thread owns the llm_ctx: every step it builds one llm_batch with
 * the next token of every generating sequence plus chunks of the prompts of
 * newly admitted ones (up to n_batch entries), runs llm_decode_batch, samples,
 * and appends the pieces to each job. Queued jobs take a free slot between
 * steps; a finished, failed or cancelled job frees its slot (and its KV
 * sequence) at once. The queue in front of the slots is bounded: a submit to
 * a full queue fails with SCHED_ERR_FULL (the caller answers 429).
 *
 * Ownership: jobs are reference counted. job_new returns one reference for
 * the caller; sched_submit takes another for the engine, dropped when the job
 * is done. The model is borrowed and must outlive the sched.
 * Threads: sched_submit/sched_cancel/sched_* getters from any thread;
 * sched_new/sched_free from one controlling thread. A job's fields below
 * `mu` are guarded by it; the ones above are written before submit only.
 */
#ifndef AGENT_SCHEDULER_H
#define AGENT_SCHEDULER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <kllm/engine.h>

#include "api.h"
#include "metrics.h"
#include "text.h"

enum sched_err {
    SCHED_OK = 0,
    SCHED_ERR_FULL = -1,    /* queue full: retry later */
    SCHED_ERR_STOPPED = -2, /* shutting down */
    SCHED_ERR_NOMEM = -3,
    SCHED_ERR_ENGINE = -4,
};

enum job_state { JOB_NEW = 0, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

#define JOB_MAX_STOPS (API_MAX_STOP + 1) /* the request's + the template's */
#define JOB_STATUS_CANCELLED 499         /* client went away (nginx's code) */

struct job {
    /* input: set before sched_submit, read-only afterwards */
    int32_t *prompt; /* owned */
    int32_t n_prompt;
    int32_t max_tokens;
    struct llm_sampler_params sp; /* sp.logit_bias points at `bias` */
    struct llm_logit_bias *bias;  /* owned (job_set_bias) */
    char *stops[JOB_MAX_STOPS];   /* owned copies */
    int n_stops;
    uint64_t t_arrival_ns;
    bool quiet; /* internal (warm-up): not counted in token or latency metrics */

    atomic_int refs;
    atomic_bool cancel; /* set by the HTTP side; the engine frees the slot */

    pthread_mutex_t mu;
    pthread_cond_t cv; /* broadcast on new text and on completion */
    enum job_state state;
    struct text_out out;
    int32_t n_gen;
    enum api_finish finish;
    int status; /* 0 ok; else the HTTP status of the failure (500, 503, 499) */
    char errmsg[160];
};

/* A job with no prompt yet; NULL on allocation failure. */
struct job *job_new(void);
/* Copy the prompt tokens / a stop string into the job. 0 or SCHED_ERR_NOMEM. */
int job_set_prompt(struct job *j, const int32_t *toks, int32_t n);
int job_add_stop(struct job *j, const char *stop);
/* Copy n logit biases into the job (replacing any). 0 or SCHED_ERR_NOMEM. */
int job_set_bias(struct job *j, const struct llm_logit_bias *b, int32_t n);
void job_ref(struct job *j);
void job_unref(struct job *j); /* frees on the last reference; NULL ok */

struct sched_params {
    int32_t parallel; /* decode slots (llm ctx n_seq) */
    int32_t n_ctx;    /* 0: engine default */
    int32_t n_batch;  /* most tokens per step (raised to parallel if lower) */
    int32_t n_threads;
    int32_t queue_max;        /* jobs waiting for a slot */
    uint64_t (*now_ns)(void); /* injectable clock; NULL: CLOCK_MONOTONIC */
};

struct sched;

/* Creates the context and starts the engine thread. NULL on failure, with a
 * reason in err. m, mx, mm are borrowed. */
struct sched *sched_new(const struct llm_model *m, const struct sched_params *p, struct mx *mx,
                        struct mx_model *mm, char *err, size_t errlen);
/* Fails every queued and running job with 503 and joins the engine thread;
 * later submits get SCHED_ERR_STOPPED. Idempotent. */
void sched_stop(struct sched *s);
/* sched_stop, then frees everything. NULL ok. */
void sched_free(struct sched *s);
/* Queue a job (takes the engine's reference). 0 or SCHED_ERR_FULL/STOPPED. */
int sched_submit(struct sched *s, struct job *j);
/* The client is gone: a queued job is dropped at once, a running one frees
 * its slot before the next step. Idempotent. */
void sched_cancel(struct sched *s, struct job *j);
int32_t sched_n_ctx(const struct sched *s);
/* False after repeated non-finite logits: the replica should not be Ready. */
bool sched_healthy(const struct sched *s);
/* Number of jobs queued + running (for draining). */
int sched_busy(const struct sched *s);

uint64_t sched_clock_ns(void); /* CLOCK_MONOTONIC in ns */

#endif
