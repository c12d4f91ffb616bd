/* scheduler (sched_*): the engine thread and its continuous-batching loop (see scheduler.h).
 *
 * Loop: admit queued jobs into free slots; build one batch (first one entry
 * per generating slot, then prompt chunks with whatever room is left, so a
 * long prompt never stalls the others); decode; sample each slot that asked
 * for logits; append its piece; retire slots that stopped, hit a limit,
 * failed, or were cancelled. Only this thread touches the llm_ctx and the
 * samplers.
 */
#include "scheduler.h"

#include "queue.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NONFINITE_UNHEALTHY 3 /* consecutive hits before the replica is unhealthy */
#define RUNAWAY_WINDOW 48
#define RUNAWAY_PERIOD 8

struct slot {
    struct job *job; /* NULL: free */
    int32_t pos;     /* prompt tokens fed so far */
    int32_t last;    /* last token fed or to feed next */
    struct llm_sampler *smp;
    int32_t *gen; /* generated tokens (max_tokens) for the repetition check */
    uint64_t t_last;
};

struct sched {
    const struct llm_model *model;
    struct llm_ctx *ctx;
    struct sched_params p;
    struct mx *mx;
    struct mx_model *mm;
    int32_t n_vocab;

    pthread_mutex_t mu; /* guards q, stop, n_active */
    pthread_cond_t cv;
    struct queue q;
    bool stop;
    int n_active;
    pthread_t th;
    bool th_started;

    /* engine-thread only */
    struct slot *slots;
    int32_t *b_tok, *b_seq, *b_slot;
    int8_t *b_log;
    int nonfinite_streak;
    atomic_bool healthy;
};

uint64_t sched_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- jobs ---- */

struct job *job_new(void)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    atomic_init(&j->refs, 1);
    atomic_init(&j->cancel, false);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    text_out_init(&j->out, (const char *const *)j->stops, 0);
    j->sp = llm_sampler_default_params();
    return j;
}

int job_set_prompt(struct job *j, const int32_t *toks, int32_t n)
{
    free(j->prompt);
    j->prompt = malloc(sizeof *toks * (size_t)(n > 0 ? n : 1));
    if (!j->prompt) return SCHED_ERR_NOMEM;
    memcpy(j->prompt, toks, sizeof *toks * (size_t)n);
    j->n_prompt = n;
    return 0;
}

int job_set_bias(struct job *j, const struct llm_logit_bias *b, int32_t n)
{
    free(j->bias);
    j->bias = NULL;
    j->sp.logit_bias = NULL;
    j->sp.n_logit_bias = 0;
    if (n <= 0) return 0;
    j->bias = malloc(sizeof *b * (size_t)n);
    if (!j->bias) return SCHED_ERR_NOMEM;
    memcpy(j->bias, b, sizeof *b * (size_t)n);
    j->sp.logit_bias = j->bias;
    j->sp.n_logit_bias = n;
    return 0;
}

int job_add_stop(struct job *j, const char *stop)
{
    if (j->n_stops >= JOB_MAX_STOPS) return SCHED_ERR_NOMEM;
    j->stops[j->n_stops] = strdup(stop);
    if (!j->stops[j->n_stops]) return SCHED_ERR_NOMEM;
    j->n_stops++;
    j->out.n_stops = j->n_stops;
    return 0;
}

void job_ref(struct job *j)
{
    atomic_fetch_add(&j->refs, 1);
}

void job_unref(struct job *j)
{
    if (!j || atomic_fetch_sub(&j->refs, 1) != 1) return;
    text_out_deinit(&j->out);
    for (int i = 0; i < j->n_stops; i++) free(j->stops[i]);
    free(j->prompt);
    free(j->bias);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

/* Mark the job done (status 0 = success) and drop the engine's reference. */
static void job_finish(struct job *j, int status, enum api_finish fin, const char *msg)
{
    pthread_mutex_lock(&j->mu);
    j->state = JOB_DONE;
    j->status = status;
    j->finish = fin;
    if (msg) snprintf(j->errmsg, sizeof j->errmsg, "%s", msg);
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    job_unref(j);
}

/* ---- slots (engine thread) ---- */

static void slot_release(struct sched *s, int i, int status, enum api_finish fin, const char *msg)
{
    struct slot *sl = &s->slots[i];
    struct job *j = sl->job;
    llm_seq_reset(s->ctx, i);
    llm_sampler_free(sl->smp);
    free(sl->gen);
    memset(sl, 0, sizeof *sl);
    pthread_mutex_lock(&s->mu);
    s->n_active--;
    pthread_mutex_unlock(&s->mu);
    if (s->mm) {
        mx_add_gauges(s->mx, s->mm, -1, 0);
        int32_t n_gen;
        size_t len;
        pthread_mutex_lock(&j->mu);
        n_gen = j->n_gen;
        len = j->out.text.len;
        pthread_mutex_unlock(&j->mu);
        if (!j->quiet) mx_add_tokens(s->mx, s->mm, 0, (uint64_t)n_gen);
        if (!j->quiet && status == 0 && len == 0) mx_anomaly(s->mx, s->mm, MX_ANOMALY_EMPTY);
        if (!j->quiet && status == 0)
            mx_observe_latency(s->mx, s->mm, (double)(s->p.now_ns() - j->t_arrival_ns) / 1e9);
    }
    job_finish(j, status, fin, msg);
}

/* Finish a slot that ran to max_tokens, checking for runaway repetition. */
static void slot_length(struct sched *s, int i)
{
    struct slot *sl = &s->slots[i];
    int32_t n = sl->job->n_gen;
    if (s->mm && !sl->job->quiet && text_is_runaway(sl->gen, n, RUNAWAY_WINDOW, RUNAWAY_PERIOD))
        mx_anomaly(s->mx, s->mm, MX_ANOMALY_REPETITION);
    slot_release(s, i, 0, API_FINISH_LENGTH, NULL);
}

static int slot_admit(struct sched *s, int i, struct job *j)
{
    struct slot *sl = &s->slots[i];
    memset(sl, 0, sizeof *sl);
    sl->job = j;
    sl->smp = llm_sampler_new(&j->sp, s->n_vocab);
    sl->gen = malloc(sizeof *sl->gen * (size_t)(j->max_tokens > 0 ? j->max_tokens : 1));
    llm_seq_reset(s->ctx, i);
    if (s->mm) {
        mx_add_gauges(s->mx, s->mm, 1, -1);
        if (!j->quiet) mx_add_tokens(s->mx, s->mm, (uint64_t)j->n_prompt, 0);
    }
    pthread_mutex_lock(&j->mu);
    j->state = JOB_RUNNING;
    pthread_mutex_unlock(&j->mu);
    if (!sl->smp || !sl->gen) {
        slot_release(s, i, 500, API_FINISH_NONE, "out of memory");
        return -1;
    }
    return 0;
}

static bool all_finite(const float *v, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return false;
    return true;
}

/* Sample the next token of slot i from batch entry e and deliver its piece. */
static void slot_sample(struct sched *s, int i, int32_t e)
{
    struct slot *sl = &s->slots[i];
    struct job *j = sl->job;
    const float *logits = llm_get_logits(s->ctx, e);
    if (!logits || !all_finite(logits, s->n_vocab)) {
        if (s->mm) mx_anomaly(s->mx, s->mm, MX_ANOMALY_NONFINITE);
        if (++s->nonfinite_streak >= NONFINITE_UNHEALTHY) {
            atomic_store(&s->healthy, false);
            if (s->mm) mx_set_ready(s->mx, s->mm, false);
        }
        slot_release(s, i, 500, API_FINISH_NONE, "the model produced non-finite logits");
        return;
    }
    s->nonfinite_streak = 0;
    int32_t tok = llm_sampler_sample(sl->smp, logits);
    llm_sampler_accept(sl->smp, tok);
    uint64_t now = s->p.now_ns();
    if (s->mm && !j->quiet) {
        if (j->n_gen == 0)
            mx_observe_ttft(s->mx, s->mm, (double)(now - j->t_arrival_ns) / 1e9);
        else
            mx_observe_token(s->mx, s->mm, (double)(now - sl->t_last) / 1e9);
    }
    sl->t_last = now;
    if (llm_token_is_eog(s->model, tok)) {
        slot_release(s, i, 0, API_FINISH_STOP, NULL);
        return;
    }
    /* Real vocabularies' longest tokens are well under 1 KiB (256 bytes was
     * close for some user-defined tokens); a longer piece (only a crafted
     * file has one) gives no text. */
    char piece[1024];
    int32_t np = llm_token_to_piece(s->model, sl->last, tok, piece, sizeof piece);
    if (np < 0) np = 0;
    sl->gen[j->n_gen] = tok;
    sl->last = tok;
    pthread_mutex_lock(&j->mu);
    int matched = text_out_append(&j->out, piece, (size_t)np);
    j->n_gen++;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    if (matched < 0)
        slot_release(s, i, 500, API_FINISH_NONE, "out of memory");
    else if (matched > 0)
        slot_release(s, i, 0, API_FINISH_STOP, NULL);
    else if (j->n_gen >= j->max_tokens)
        slot_length(s, i);
    else if (llm_seq_len(s->ctx, i) >= llm_ctx_n_ctx(s->ctx))
        slot_length(s, i);
}

/* One continuous-batching step over the active slots. */
static void step(struct sched *s)
{
    int32_t n = 0, cap = llm_ctx_n_batch(s->ctx);
    int32_t parallel = s->p.parallel;
    for (int i = 0; i < parallel; i++) {
        struct slot *sl = &s->slots[i];
        if (sl->job && atomic_load(&sl->job->cancel))
            slot_release(s, i, JOB_STATUS_CANCELLED, API_FINISH_NONE, "cancelled");
    }
    /* generating slots first: one entry each */
    for (int i = 0; i < parallel && n < cap; i++) {
        struct slot *sl = &s->slots[i];
        if (!sl->job || sl->pos < sl->job->n_prompt) continue;
        s->b_tok[n] = sl->last;
        s->b_seq[n] = i;
        s->b_log[n] = 1;
        s->b_slot[n] = i;
        n++;
    }
    /* then prompt chunks */
    for (int i = 0; i < parallel && n < cap; i++) {
        struct slot *sl = &s->slots[i];
        if (!sl->job || sl->pos >= sl->job->n_prompt) continue;
        const struct job *j = sl->job;
        while (sl->pos < j->n_prompt && n < cap) {
            s->b_tok[n] = j->prompt[sl->pos];
            s->b_seq[n] = i;
            s->b_log[n] = sl->pos == j->n_prompt - 1;
            s->b_slot[n] = i;
            sl->last = j->prompt[sl->pos];
            sl->pos++;
            n++;
        }
    }
    if (n == 0) return;
    struct llm_batch b = {.n = n, .tokens = s->b_tok, .seq = s->b_seq, .logits = s->b_log};
    int rc = llm_decode_batch(s->ctx, &b);
    if (rc < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "engine error: %s", llm_strerror(rc));
        for (int i = 0; i < parallel; i++) {
            bool in_batch = false;
            for (int32_t e = 0; e < n && !in_batch; e++) in_batch = s->b_slot[e] == i;
            if (in_batch && s->slots[i].job) slot_release(s, i, 500, API_FINISH_NONE, msg);
        }
        return;
    }
    for (int32_t e = 0; e < n; e++)
        if (s->b_log[e] && s->slots[s->b_slot[e]].job) slot_sample(s, s->b_slot[e], e);
}

static void *engine_main(void *arg)
{
    struct sched *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        while (s->n_active < s->p.parallel && queue_len(&s->q) > 0) {
            struct job *j = queue_pop(&s->q);
            int i = 0;
            while (s->slots[i].job) i++;
            s->n_active++;
            pthread_mutex_unlock(&s->mu);
            slot_admit(s, i, j);
            pthread_mutex_lock(&s->mu);
        }
        if (s->n_active == 0) {
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        step(s);
        pthread_mutex_lock(&s->mu);
    }
    struct job *j;
    while ((j = queue_pop(&s->q)) != NULL) {
        if (s->mm) mx_add_gauges(s->mx, s->mm, 0, -1);
        job_finish(j, 503, API_FINISH_NONE, "the server is shutting down");
    }
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->p.parallel; i++)
        if (s->slots[i].job)
            slot_release(s, i, 503, API_FINISH_NONE, "the server is shutting down");
    return NULL;
}

/* ---- public ---- */

struct sched *sched_new(const struct llm_model *m, const struct sched_params *p, struct mx *mx,
                        struct mx_model *mm, char *err, size_t errlen)
{
    struct sched *s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->model = m;
    s->p = *p;
    if (s->p.parallel < 1) s->p.parallel = 1;
    if (s->p.n_batch < s->p.parallel) s->p.n_batch = s->p.parallel;
    if (s->p.queue_max < 1) s->p.queue_max = 1;
    if (!s->p.now_ns) s->p.now_ns = sched_clock_ns;
    s->mx = mx;
    s->mm = mm;
    s->n_vocab = llm_model_n_vocab(m);
    atomic_init(&s->healthy, true);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (queue_init(&s->q, (size_t)s->p.queue_max) < 0) goto nomem;
    struct llm_ctx_params cp = llm_ctx_default_params();
    cp.n_seq = s->p.parallel;
    cp.n_batch = s->p.n_batch;
    if (s->p.n_ctx > 0) cp.n_ctx = s->p.n_ctx;
    cp.n_threads = s->p.n_threads;
    s->ctx = llm_ctx_new(m, &cp);
    if (!s->ctx) {
        snprintf(err, errlen, "cannot create an engine context (n_ctx=%d parallel=%d)",
                 (int)cp.n_ctx, (int)cp.n_seq);
        goto fail;
    }
    int32_t nb = llm_ctx_n_batch(s->ctx);
    s->slots = calloc((size_t)s->p.parallel, sizeof *s->slots);
    s->b_tok = calloc((size_t)nb, sizeof *s->b_tok);
    s->b_seq = calloc((size_t)nb, sizeof *s->b_seq);
    s->b_slot = calloc((size_t)nb, sizeof *s->b_slot);
    s->b_log = calloc((size_t)nb, sizeof *s->b_log);
    if (!s->slots || !s->b_tok || !s->b_seq || !s->b_slot || !s->b_log) goto nomem;
    if (pthread_create(&s->th, NULL, engine_main, s) != 0) {
        snprintf(err, errlen, "cannot start the engine thread");
        goto fail;
    }
    s->th_started = true;
    if (mm) mx_set_ready(mx, mm, true);
    return s;
nomem:
    snprintf(err, errlen, "out of memory");
fail:
    sched_free(s);
    return NULL;
}

void sched_stop(struct sched *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->th_started) pthread_join(s->th, NULL);
    s->th_started = false;
    if (s->mm) mx_set_ready(s->mx, s->mm, false);
}

void sched_free(struct sched *s)
{
    if (!s) return;
    sched_stop(s);
    free(s->b_log);
    free(s->b_slot);
    free(s->b_seq);
    free(s->b_tok);
    free(s->slots);
    llm_ctx_free(s->ctx);
    queue_deinit(&s->q);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int sched_submit(struct sched *s, struct job *j)
{
    int rc = SCHED_OK;
    pthread_mutex_lock(&s->mu);
    if (s->stop) {
        rc = SCHED_ERR_STOPPED;
        goto out;
    }
    j->state = JOB_QUEUED; /* not yet visible to the engine: no job lock needed */
    job_ref(j);
    if (queue_push(&s->q, j) < 0) {
        j->state = JOB_NEW;
        atomic_fetch_sub(&j->refs, 1);
        rc = SCHED_ERR_FULL;
        goto out;
    }
    if (s->mm) mx_add_gauges(s->mx, s->mm, 0, 1);
    pthread_cond_signal(&s->cv);
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void sched_cancel(struct sched *s, struct job *j)
{
    atomic_store(&j->cancel, true);
    pthread_mutex_lock(&s->mu);
    int removed = queue_remove(&s->q, j);
    pthread_mutex_unlock(&s->mu);
    if (removed) {
        if (s->mm) mx_add_gauges(s->mx, s->mm, 0, -1);
        job_finish(j, JOB_STATUS_CANCELLED, API_FINISH_NONE, "cancelled");
    }
}

int32_t sched_n_ctx(const struct sched *s)
{
    return llm_ctx_n_ctx(s->ctx);
}

bool sched_healthy(const struct sched *s)
{
    return atomic_load(&s->healthy);
}

int sched_busy(const struct sched *s)
{
    struct sched *m = (struct sched *)s; /* the mutex is not part of the logical state */
    pthread_mutex_lock(&m->mu);
    int n = m->n_active + (int)queue_len(&m->q);
    pthread_mutex_unlock(&m->mu);
    return n;
}
