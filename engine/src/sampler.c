/* sampler: choose the next token from logits.
 *
 * Order (as common CPU engines apply them): repetition penalty over the last
 * repeat_last_n tokens, the logit biases (OpenAI's logit_bias), then top-k,
 * top-p, min-p on the probabilities at temperature 1, then temperature, then
 * a draw from a seeded generator. temperature <= 0 is greedy (argmax after
 * the penalty and the biases). All scratch is
 * allocated by llm_sampler_new.
 */
#include "kllm/engine.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cand {
    float logit;
    int32_t id;
};

struct llm_sampler {
    struct llm_sampler_params p;
    int32_t n_vocab;
    uint64_t rng;
    int32_t *hist; /* ring buffer of the last repeat_last_n tokens */
    int32_t hist_n, hist_pos;
    float *vals;                 /* [n_vocab] biased, penalised logits */
    struct llm_logit_bias *bias; /* own copy of p.logit_bias */
    struct cand *cand;           /* [n_vocab] */
};

struct llm_sampler_params llm_sampler_default_params(void)
{
    return (struct llm_sampler_params){.temperature = 0.8f,
                                       .top_k = 40,
                                       .top_p = 0.95f,
                                       .min_p = 0.05f,
                                       .repeat_penalty = 1.0f,
                                       .repeat_last_n = 64,
                                       .seed = 0};
}

struct llm_sampler *llm_sampler_new(const struct llm_sampler_params *p, int32_t n_vocab)
{
    if (!p || n_vocab < 1 || p->repeat_last_n < 0 || p->repeat_last_n > (1 << 20) ||
        p->n_logit_bias < 0 || (p->n_logit_bias > 0 && !p->logit_bias))
        return NULL;
    struct llm_sampler *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->p = *p;
    s->n_vocab = n_vocab;
    if (p->n_logit_bias > 0) {
        s->bias = malloc(sizeof *s->bias * (size_t)p->n_logit_bias);
        if (!s->bias) {
            free(s);
            return NULL;
        }
        memcpy(s->bias, p->logit_bias, sizeof *s->bias * (size_t)p->n_logit_bias);
    }
    s->p.logit_bias = s->bias;
    s->hist = calloc((size_t)p->repeat_last_n + 1, sizeof *s->hist);
    s->vals = malloc(sizeof *s->vals * (size_t)n_vocab);
    s->cand = malloc(sizeof *s->cand * (size_t)n_vocab);
    if (!s->hist || !s->vals || !s->cand) {
        llm_sampler_free(s);
        return NULL;
    }
    llm_sampler_reset(s);
    return s;
}

void llm_sampler_free(struct llm_sampler *s)
{
    if (!s) return;
    free(s->hist);
    free(s->vals);
    free(s->cand);
    free(s->bias);
    free(s);
}

void llm_sampler_reset(struct llm_sampler *s)
{
    s->hist_n = s->hist_pos = 0;
    s->rng = s->p.seed ^ 0x9e3779b97f4a7c15ull;
}

void llm_sampler_accept(struct llm_sampler *s, int32_t tok)
{
    int32_t cap = s->p.repeat_last_n;
    if (cap == 0) return;
    s->hist[s->hist_pos] = tok;
    s->hist_pos = (s->hist_pos + 1) % cap;
    if (s->hist_n < cap) s->hist_n++;
}

int32_t llm_argmax(const float *logits, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++) {
        if (logits[i] > logits[best]) best = i;
    }
    return best;
}

static int cand_cmp(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->logit != y->logit) return x->logit < y->logit ? 1 : -1;
    return x->id - y->id;
}

/* Restores the heap below i: the root is the worst kept candidate. */
static void sift_down(struct cand *c, int32_t k, int32_t i)
{
    for (;;) {
        int32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < k && cand_cmp(&c[l], &c[m]) > 0) m = l;
        if (r < k && cand_cmp(&c[r], &c[m]) > 0) m = r;
        if (m == i) return;
        struct cand t = c[i];
        c[i] = c[m];
        c[m] = t;
        i = m;
    }
}

/* Keeps the k best candidates in O(n log k), then sorts them best first. */
static int32_t keep_top(struct cand *c, int32_t n, int32_t k)
{
    if (k < n) {
        for (int32_t i = k / 2 - 1; i >= 0; i--) sift_down(c, k, i);
        for (int32_t j = k; j < n; j++) {
            if (cand_cmp(&c[j], &c[0]) >= 0) continue; /* no better than the worst kept */
            c[0] = c[j];
            sift_down(c, k, 0);
        }
        n = k;
    }
    qsort(c, (size_t)n, sizeof *c, cand_cmp);
    return n;
}

int32_t llm_sampler_sample(struct llm_sampler *s, const float *logits)
{
    const struct llm_sampler_params *p = &s->p;
    int32_t n = s->n_vocab;
    float *v = s->vals;
    memcpy(v, logits, sizeof *v * (size_t)n);
    if (p->repeat_penalty != 1.0f && p->repeat_penalty > 0.0f) {
        for (int32_t i = 0; i < s->hist_n; i++) {
            int32_t t = s->hist[i];
            /* Each distinct token once: v[t] still equals the original logit
             * only if not yet penalised (0 and inf are fixed points anyway). */
            if (t < 0 || t >= n || v[t] != logits[t]) continue;
            v[t] = v[t] > 0.0f ? v[t] / p->repeat_penalty : v[t] * p->repeat_penalty;
        }
    }
    for (int32_t i = 0; i < p->n_logit_bias; i++) {
        int32_t t = s->bias[i].token;
        if (t >= 0 && t < n) v[t] += s->bias[i].bias;
    }
    if (p->temperature <= 0.0f) return llm_argmax(v, n);

    /* Candidates: drop logits so far below the max that their probability at
     * this temperature is below e^-30 of the best (no effect on the draw). */
    float max = v[llm_argmax(v, n)];
    float floor_ = max - 30.0f * (p->temperature > 1.0f ? p->temperature : 1.0f);
    int32_t nc = 0;
    for (int32_t i = 0; i < n; i++) {
        if (v[i] >= floor_) s->cand[nc++] = (struct cand){v[i], i};
    }
    struct cand *c = s->cand;
    nc = keep_top(c, nc, p->top_k > 0 ? p->top_k : nc);

    /* Probabilities at temperature 1 for top-p / min-p. */
    double sum = 0.0;
    for (int32_t i = 0; i < nc; i++) sum += exp((double)(c[i].logit - c[0].logit));
    if (p->top_p < 1.0f) {
        double cum = 0.0;
        for (int32_t i = 0; i < nc; i++) {
            cum += exp((double)(c[i].logit - c[0].logit)) / sum;
            if (cum >= p->top_p) {
                nc = i + 1;
                break;
            }
        }
    }
    if (p->min_p > 0.0f) {
        /* p_i / p_max = exp(l_i - l_max) */
        double lim = log((double)p->min_p);
        int32_t keep = 1;
        while (keep < nc && (double)(c[keep].logit - c[0].logit) >= lim) keep++;
        nc = keep;
    }
    sum = 0.0;
    for (int32_t i = 0; i < nc; i++) {
        double e = exp((double)(c[i].logit - c[0].logit) / (double)p->temperature);
        c[i].logit = (float)e;
        sum += e;
    }
    double r = rng_unit(&s->rng) * sum;
    for (int32_t i = 0; i < nc; i++) {
        r -= c[i].logit;
        if (r < 0.0) return c[i].id;
    }
    return c[nc - 1].id;
}
