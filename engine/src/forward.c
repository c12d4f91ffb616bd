/* forward: the transformer of every supported architecture over a batch
 * of (sequence, token) entries.
 *
 * One llm_decode_batch call runs every layer once for all entries, so each
 * weight matrix is read once per step however many sequences advance
 * (continuous batching) or however long the prompt chunk is. Per layer (the
 * parts in brackets only where the architecture has them, see arch.c):
 *
 *   x = embedding * [embd_scale]                        [B][dim]
 *   xb = rmsnorm(x) * attn_norm
 *   q = Wq xb [+ bq], k = Wk xb [+ bk], v = Wv xb [+ bv] [B][q_dim], [B][kv_dim]
 *   [q, k = per-head rmsnorm * q_norm, k_norm]; rope(q, k) (adjacent or NeoX pairs)
 *   K/V cache[seq][pos] = k, v (f16)
 *   att = softmax([cap tanh](q.K^T * scale)) V per head over the window (GQA)
 *   x += [post_norm](Wo att)
 *   xb = rmsnorm(x) * ffn_norm
 *   x += [post_norm](Wdown (act(Wgate xb) * Wup xb))      act: silu or gelu
 *
 * then rmsnorm + output matrix [+ soft-capping] for the entries that asked
 * for logits; the last layer's FFN runs only for those rows. Every buffer is allocated by llm_ctx_new; decoding never
 * allocates.
 */
#include "kernels.h"
#include "model.h"
#include "quant.h"

#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct llm_ctx {
    const struct llm_model *m;
    int32_t n_ctx, n_seq, n_batch, n_threads;
    const float *rope_ff;        /* rope frequency factors for this context size, or NULL */
    uint16_t *k_cache, *v_cache; /* [layer][seq][n_ctx][kv_dim] f16 */
    int32_t *seq_len;            /* [n_seq] */
    int32_t *seq_next;           /* [n_seq] scratch: next position while laying out a batch */
    int32_t *pos;                /* [n_batch] position of each entry */
    int32_t *logit_row;          /* [n_batch] row in `logits`, or -1 */
    int32_t *logit_src;          /* [n_batch] entry index of each logits row */
    float *x, *xb, *q, *k, *v, *att_out; /* [n_batch][dim, q_dim or kv_dim] */
    float *hb, *hb2;                     /* [n_batch][ffn] */
    float *scores;                       /* [n_threads][n_ctx] */
    void *xq;                            /* [n_batch] activation rows in a dot type */
    float *logits;                       /* [n_batch][n_vocab] */
};

struct llm_ctx_params llm_ctx_default_params(void)
{
    return (struct llm_ctx_params){.n_ctx = 0, .n_seq = 1, .n_batch = 128, .n_threads = 0};
}

static void *xalloc(size_t n, int *ok)
{
    void *p = NULL;
    if (n == 0) n = 64;
    if (posix_memalign(&p, 64, (n + 63) / 64 * 64) != 0) {
        *ok = 0;
        return NULL;
    }
    memset(p, 0, n);
    return p;
}

/* GELU (tanh form) looked up by the f16 value of x, as the reference does. */
static uint16_t gelu_table[65536];
static pthread_once_t gelu_once = PTHREAD_ONCE_INIT;
static void gelu_build(void)
{
    q_init();
    for (uint32_t h = 0; h < 65536; h++) {
        float x = q_f16_to_f32((uint16_t)h);
        /* one FMA where the reference's compiled code has it */
        float y =
            0.5f * x * (1.0f + tanhf(0.79788456080286535588f * x * fmaf(0.044715f * x, x, 1.0f)));
        gelu_table[h] = q_f32_to_f16(y);
    }
}

struct llm_ctx *llm_ctx_new(const struct llm_model *m, const struct llm_ctx_params *p)
{
    const struct hparams *hp = &m->hp;
    struct llm_ctx_params d = llm_ctx_default_params();
    if (!p) p = &d;
    if (p->n_ctx < 0 || p->n_seq < 1 || p->n_seq > 4096 || p->n_batch < 1 || p->n_batch > 65536 ||
        p->n_threads < 0)
        return NULL;
    struct llm_ctx *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->m = m;
    c->n_ctx = p->n_ctx ? p->n_ctx : (hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096);
    c->n_seq = p->n_seq;
    c->n_batch = p->n_batch;
    c->n_threads = p->n_threads ? p->n_threads : omp_get_max_threads();
    if (c->n_ctx > (1 << 20)) c->n_ctx = 1 << 20;

    int ok = 1;
    size_t B = (size_t)c->n_batch;
    size_t kv = (size_t)hp->n_layers * (size_t)c->n_seq * (size_t)c->n_ctx * (size_t)hp->kv_dim;
    size_t maxdim = (size_t)(hp->ffn_dim > hp->dim ? hp->ffn_dim : hp->dim);
    if ((size_t)hp->q_dim > maxdim) maxdim = (size_t)hp->q_dim;
    /* phi3 LongRoPE: the long factors once the context passes the original */
    c->rope_ff = m->rope_ff_long && c->n_ctx > m->hp.n_ctx_orig ? m->rope_ff_long : m->rope_ff;
    pthread_once(&gelu_once, gelu_build);
    c->k_cache = xalloc(kv * 2, &ok);
    c->v_cache = xalloc(kv * 2, &ok);
    c->seq_len = xalloc(sizeof(int32_t) * (size_t)c->n_seq, &ok);
    c->seq_next = xalloc(sizeof(int32_t) * (size_t)c->n_seq, &ok);
    c->pos = xalloc(sizeof(int32_t) * B, &ok);
    c->logit_row = xalloc(sizeof(int32_t) * B, &ok);
    c->logit_src = xalloc(sizeof(int32_t) * B, &ok);
    c->x = xalloc(sizeof(float) * B * (size_t)hp->dim, &ok);
    c->xb = xalloc(sizeof(float) * B * (size_t)hp->dim, &ok);
    c->q = xalloc(sizeof(float) * B * (size_t)hp->q_dim, &ok);
    c->k = xalloc(sizeof(float) * B * (size_t)hp->kv_dim, &ok);
    c->v = xalloc(sizeof(float) * B * (size_t)hp->kv_dim, &ok);
    c->att_out = xalloc(sizeof(float) * B * (size_t)hp->q_dim, &ok);
    c->hb = xalloc(sizeof(float) * B * (size_t)hp->ffn_dim, &ok);
    c->hb2 = xalloc(sizeof(float) * B * (size_t)hp->ffn_dim, &ok);
    c->scores = xalloc(sizeof(float) * (size_t)c->n_threads * (size_t)c->n_ctx, &ok);
    c->xq = xalloc(B * (maxdim * 4 + 64), &ok);
    c->logits = xalloc(sizeof(float) * B * (size_t)hp->n_vocab, &ok);
    if (!ok) {
        llm_ctx_free(c);
        return NULL;
    }
    return c;
}

void llm_ctx_free(struct llm_ctx *c)
{
    if (!c) return;
    void *bufs[] = {c->k_cache,   c->v_cache, c->seq_len, c->seq_next, c->pos, c->logit_row,
                    c->logit_src, c->x,       c->xb,      c->q,        c->k,   c->v,
                    c->att_out,   c->hb,      c->hb2,     c->scores,   c->xq,  c->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(c);
}

const struct llm_model *llm_ctx_model(const struct llm_ctx *c)
{
    return c->m;
}
int32_t llm_ctx_n_ctx(const struct llm_ctx *c)
{
    return c->n_ctx;
}
int32_t llm_ctx_n_seq(const struct llm_ctx *c)
{
    return c->n_seq;
}
int32_t llm_ctx_n_batch(const struct llm_ctx *c)
{
    return c->n_batch;
}

int llm_seq_reset(struct llm_ctx *c, int32_t seq)
{
    if (seq < 0 || seq >= c->n_seq) return LLM_ERR_ARG;
    c->seq_len[seq] = 0;
    return 0;
}

int32_t llm_seq_len(const struct llm_ctx *c, int32_t seq)
{
    if (seq < 0 || seq >= c->n_seq) return LLM_ERR_ARG;
    return c->seq_len[seq];
}

const float *llm_get_logits(const struct llm_ctx *c, int32_t i)
{
    if (i < 0 || i >= c->n_batch || c->logit_row[i] < 0) return NULL;
    return c->logits + (size_t)c->logit_row[i] * (size_t)c->m->hp.n_vocab;
}

/* outs[i][b][r] = ws[i] row r . x[b] for the n weights that share input x.
 * The input is quantized once per dot type. Called by every thread after
 * a barrier that completed x (every producer in forward() ends with one);
 * ends with a barrier, so the outputs (and the free xq buffer) are ready. */
static void matmuls(struct llm_ctx *c, const float *x, int32_t nrows, int n,
                    const struct wmat *const *ws, float *const *outs)
{
    uint32_t done_type = UINT32_MAX;
    for (int i = 0; i < n; i++) {
        const struct wmat *w = ws[i];
        uint32_t dt = kern_act_type_mat(w->type, w->n_out);
        size_t qb = kern_act_row_bytes(dt, w->n_in);
        if (dt != done_type) {
            kern_quantize_rows(dt, x, (size_t)w->n_in, c->xq, qb, nrows);
#pragma omp barrier
            done_type = dt;
        }
        kern_matmul(w->type, w->data, w->row_bytes, w->n_in, w->n_out, c->xq, qb, outs[i],
                    (size_t)w->n_out, nrows);
        /* a later weight with another dot type re-quantizes: wait for readers */
        if (i + 1 < n && kern_act_type_mat(ws[i + 1]->type, ws[i + 1]->n_out) != dt) {
#pragma omp barrier
        }
    }
#pragma omp barrier
}

static void matmul(struct llm_ctx *c, float *out, const struct wmat *w, const float *x,
                   int32_t nrows)
{
    matmuls(c, x, nrows, 1, &w, &out);
}

static void rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    float mean = (float)(sum / (double)n);
    float scale = 1.0f / sqrtf(mean + eps);
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] * scale) * w[i];
}

/* cos/sin of the rope angles of one position (computed once per entry,
 * shared by every head of q and k): pair i turns by
 * scale * pos * base^(-2i/rope_dim) / ff[i], and both are multiplied by
 * mscale (the rope attention factor). */
static void rope_table(float *cs, float *sn, const struct hparams *hp, float base, float scale,
                       const float *ff, int32_t pos)
{
    float theta_scale = powf(base, -2.0f / (float)hp->rope_dim);
    float theta = (float)pos;
    for (int32_t i = 0; i < hp->rope_dim / 2; i++) {
        float t = scale * (ff ? theta / ff[i] : theta);
        cs[i] = cosf(t) * hp->rope_mscale;
        sn[i] = sinf(t) * hp->rope_mscale;
        theta *= theta_scale;
    }
}

/* Rotates each head's pairs by the table's angles: (x[2i], x[2i+1]), or
 * with NeoX order (x[i], x[i + rope_dim/2]). Elements past rope_dim stay. */
static void rope(float *x, int32_t n_heads, const struct hparams *hp, const float *cs,
                 const float *sn)
{
    const int32_t half = hp->rope_dim / 2, stride = hp->rope_neox ? 1 : 2,
                  off = hp->rope_neox ? half : 1;
    for (int32_t h = 0; h < n_heads; h++) {
        float *v = x + h * hp->head_dim;
        for (int32_t i = 0; i < half; i++) {
            float *a = v + i * stride, *b = a + off;
            float x0 = *a, x1 = *b;
            /* rounded as the reference's compiled code does (one FMA each) */
            *a = fmaf(x0, cs[i], -(x1 * sn[i]));
            *b = fmaf(x0, sn[i], x1 * cs[i]);
        }
    }
}

/* Per-head RMSNorm (qwen3, gemma3 q/k norms), in place. */
static void head_norms(float *x, int32_t n_heads, int32_t hd, const float *w, float eps)
{
    for (int32_t h = 0; h < n_heads; h++) rmsnorm(x + h * hd, x + h * hd, w, hd, eps);
}

static void add_bias(float *x, const float *b, int32_t n)
{
    for (int32_t i = 0; i < n; i++) x[i] += b[i];
}

/* g[i] = gelu(g[i]) * u[i], work-shared; gelu through the f16 table, exact
 * outside (-10, 10) as the reference has it. */
static void gelu_mul(float *g, const float *u, size_t n)
{
#pragma omp for schedule(static) nowait
    for (size_t i = 0; i < n; i++) {
        float x = g[i];
        float y = x <= -10.0f ? 0.0f : x >= 10.0f ? x : q_f16_to_f32(gelu_table[q_f32_to_f16(x)]);
        g[i] = y * u[i];
    }
}

static void attention(struct llm_ctx *c, int32_t layer, int32_t nrows, const int32_t *seq)
{
    const struct hparams *hp = &c->m->hp;
    const int32_t hd = hp->head_dim, kvd = hp->kv_dim, group = hp->n_heads / hp->n_kv_heads;
    const int32_t window = c->m->layers[layer].swa ? hp->n_swa : 0;
    const int32_t work = nrows * hp->n_heads;
    float *sc = c->scores + (size_t)omp_get_thread_num() * (size_t)c->n_ctx;
#pragma omp for schedule(dynamic, 1)
    for (int32_t wi = 0; wi < work; wi++) {
        int32_t b = wi / hp->n_heads, h = wi % hp->n_heads;
        int32_t s = seq[b], p = c->pos[b];
        /* a sliding-window layer sees positions (p - window, p] */
        int32_t first = window > 0 && p + 1 > window ? p + 1 - window : 0;
        size_t base = ((size_t)layer * (size_t)c->n_seq + (size_t)s) * (size_t)c->n_ctx + first;
        const uint16_t *kc = c->k_cache + base * (size_t)kvd + (size_t)(h / group) * (size_t)hd;
        const uint16_t *vc = c->v_cache + base * (size_t)kvd + (size_t)(h / group) * (size_t)hd;
        float *out = c->att_out + (size_t)b * (size_t)hp->q_dim + (size_t)h * (size_t)hd;
        kern_attend(c->q + (size_t)b * (size_t)hp->q_dim + (size_t)h * (size_t)hd, kc, vc,
                    (size_t)kvd, hd, p + 1 - first, hp->kq_scale, hp->attn_softcap, sc, out);
    }
}

/* Lays out positions; fails without side effects on a bad batch. */
static int plan_batch(struct llm_ctx *c, const struct llm_batch *b)
{
    if (!b || b->n < 1 || b->n > c->n_batch || !b->tokens || !b->seq) return LLM_ERR_ARG;
    memcpy(c->seq_next, c->seq_len, sizeof(int32_t) * (size_t)c->n_seq);
    for (int32_t i = 0; i < b->n; i++) {
        int32_t s = b->seq[i], t = b->tokens[i];
        if (s < 0 || s >= c->n_seq || t < 0 || t >= c->m->hp.n_vocab) return LLM_ERR_ARG;
        if (c->seq_next[s] >= c->n_ctx) return LLM_ERR_CTX_FULL;
        c->pos[i] = c->seq_next[s]++;
    }
    return 0;
}

/* q, k, v of one entry after the projections: biases, q/k norms, rope,
 * the q scale; k and v go into the cache. */
static void qkv_finish(struct llm_ctx *c, const struct layer *L, int32_t l, int32_t i, int32_t seq)
{
    const struct hparams *hp = &c->m->hp;
    const int32_t kvd = hp->kv_dim;
    float *q = c->q + (size_t)i * hp->q_dim, *k = c->k + (size_t)i * kvd,
          *v = c->v + (size_t)i * kvd;
    if (L->bq) add_bias(q, L->bq, hp->q_dim);
    if (L->bk) add_bias(k, L->bk, kvd);
    if (L->bv) add_bias(v, L->bv, kvd);
    if (L->q_norm) head_norms(q, hp->n_heads, hp->head_dim, L->q_norm, hp->rms_eps);
    if (L->k_norm) head_norms(k, hp->n_kv_heads, hp->head_dim, L->k_norm, hp->rms_eps);
    float cs[256], sn[256]; /* rope_dim <= head_dim <= 512 (arch.c) */
    rope_table(cs, sn, hp, L->rope_base, L->rope_scale, c->rope_ff, c->pos[i]);
    rope(q, hp->n_heads, hp, cs, sn);
    rope(k, hp->n_kv_heads, hp, cs, sn);
    if (hp->q_scale != 1.0f)
        for (int32_t j = 0; j < hp->q_dim; j++) q[j] *= hp->q_scale;
    size_t off = (((size_t)l * c->n_seq + (size_t)seq) * c->n_ctx + (size_t)c->pos[i]) * kvd;
    q_quantize_row(LLM_TYPE_F16, k, c->k_cache + off, kvd);
    q_quantize_row(LLM_TYPE_F16, v, c->v_cache + off, kvd);
}

/* x[i] = rmsnorm(x[i]) * w for n rows of dim, in place (gemma post-norms). */
static void norm_rows(float *x, int32_t n, int32_t dim, const float *w, float eps)
{
#pragma omp for schedule(static)
    for (int32_t i = 0; i < n; i++) rmsnorm(x + (size_t)i * dim, x + (size_t)i * dim, w, dim, eps);
}

/* The whole forward pass, run by every thread of one parallel region. */
static void forward(struct llm_ctx *c, const struct llm_batch *b, int32_t nl)
{
    const struct llm_model *m = c->m;
    const struct hparams *hp = &m->hp;
    const int32_t dim = hp->dim, ffn = hp->ffn_dim;
    int32_t n = b->n; /* rows in flight: every entry, then only the logit rows */

#pragma omp for schedule(static)
    for (int32_t i = 0; i < n; i++) {
        float *x = c->x + (size_t)i * dim;
        q_dequantize_row(m->tok_embd.type,
                         m->tok_embd.data + (size_t)b->tokens[i] * m->tok_embd.row_bytes, x, dim);
        if (hp->embd_scale != 1.0f)
            for (int32_t j = 0; j < dim; j++) x[j] *= hp->embd_scale;
    }
    for (int32_t l = 0; l < hp->n_layers; l++) {
        const struct layer *L = &m->layers[l];
#pragma omp for schedule(static)
        for (int32_t i = 0; i < n; i++)
            rmsnorm(c->xb + (size_t)i * dim, c->x + (size_t)i * dim, L->attn_norm, dim,
                    hp->rms_eps);
        const struct wmat *qkv[3] = {&L->wq, &L->wk, &L->wv};
        float *qkv_out[3] = {c->q, c->k, c->v};
        matmuls(c, c->xb, n, 3, qkv, qkv_out);
#pragma omp for schedule(static)
        for (int32_t i = 0; i < n; i++) qkv_finish(c, L, l, i, b->seq[i]);
        attention(c, l, n, b->seq);
        matmul(c, c->xb, &L->wo, c->att_out, n);
        if (L->attn_post_norm) norm_rows(c->xb, n, dim, L->attn_post_norm, hp->rms_eps);
        kern_add(c->x, c->xb, (size_t)n * dim);
#pragma omp barrier
        if (l == hp->n_layers - 1) {
            /* The last FFN only for the rows that want logits (the cache
             * is complete): packed to the front, in order. */
#pragma omp single
            for (int32_t j = 0; j < nl; j++)
                if (c->logit_src[j] != j)
                    memcpy(c->x + (size_t)j * dim, c->x + (size_t)c->logit_src[j] * dim,
                           sizeof(float) * (size_t)dim);
            n = nl;
            if (n == 0) break;
        }
#pragma omp for schedule(static)
        for (int32_t i = 0; i < n; i++)
            rmsnorm(c->xb + (size_t)i * dim, c->x + (size_t)i * dim, L->ffn_norm, dim, hp->rms_eps);
        const struct wmat *gu[2] = {&L->w_gate, &L->w_up};
        float *gu_out[2] = {c->hb, c->hb2};
        matmuls(c, c->xb, n, 2, gu, gu_out);
        if (hp->ffn_act == FFN_GELU)
            gelu_mul(c->hb, c->hb2, (size_t)n * ffn);
        else
            kern_silu_mul(c->hb, c->hb2, (size_t)n * ffn);
#pragma omp barrier
        matmul(c, c->xb, &L->w_down, c->hb, n);
        if (L->ffn_post_norm) norm_rows(c->xb, n, dim, L->ffn_post_norm, hp->rms_eps);
        kern_add(c->x, c->xb, (size_t)n * dim);
#pragma omp barrier
    }
    /* Logits for the entries that want them (packed rows of x). */
#pragma omp for schedule(static)
    for (int32_t j = 0; j < nl; j++)
        rmsnorm(c->xb + (size_t)j * dim, c->x + (size_t)j * dim, m->out_norm, dim, hp->rms_eps);
    if (nl > 0) matmul(c, c->logits, &m->output, c->xb, nl);
    if (nl > 0 && hp->final_softcap > 0.0f) {
        const float cap = hp->final_softcap, inv = 1.0f / cap;
        const size_t nv = (size_t)nl * (size_t)hp->n_vocab;
#pragma omp for schedule(static)
        for (size_t i = 0; i < nv; i++) c->logits[i] = tanhf(c->logits[i] * inv) * cap;
    }
}

int llm_decode_batch(struct llm_ctx *c, const struct llm_batch *b)
{
    int rc = plan_batch(c, b);
    if (rc < 0) return rc;
    int32_t nl = 0;
    for (int32_t i = 0; i < c->n_batch; i++) {
        int want = i < b->n && (b->logits ? b->logits[i] != 0 : i == b->n - 1);
        c->logit_row[i] = want ? nl : -1;
        if (want) c->logit_src[nl++] = i;
    }
#pragma omp parallel num_threads(c->n_threads)
    forward(c, b, nl);
    for (int32_t i = 0; i < b->n; i++) c->seq_len[b->seq[i]] = c->pos[i] + 1;
    return 0;
}
