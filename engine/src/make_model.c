/* make_model: llm_make_model — write a random-weight GGUF of any supported
 * architecture and tensor type (or K-quant mix), for tests and benchmarks
 * that must not download anything.
 *
 * The file is laid out as the reference converter lays out real ones: the
 * architecture's metadata keys and tensor names (arch.c reads the same), the
 * tokenizer copied from another GGUF or a 259-token byte vocabulary. Weights
 * are N(0, scale^2); the main norms are 1; q/k norms and post-norms are
 * 1 + N(0, 0.1^2) and biases N(0, scale^2), so that a forward pass that
 * skipped one of them would give other tokens. Deterministic in the seed.
 */
#include "gguf_write.h"
#include "kllm/engine.h"
#include "model.h"
#include "quant.h"
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* n normal samples N(mean, std^2) (Box-Muller), deterministic in the state. */
static void fill_normal(float *x, int64_t n, float mean, float std, uint64_t state)
{
    for (int64_t i = 0; i < n; i += 2) {
        double u1 = rng_unit(&state) + 0x1.0p-53; /* (0, 1]: log(u1) is finite */
        double u2 = rng_unit(&state);
        double r = sqrt(-2.0 * log(u1)) * std;
        x[i] = mean + (float)(r * cos(2.0 * M_PI * u2));
        if (i + 1 < n) x[i + 1] = mean + (float)(r * sin(2.0 * M_PI * u2));
    }
}

static int byte_vocab(struct gguf_writer *w)
{
    enum { N = 259 };
    static char names[N][8];
    const char *strs[N];
    float scores[N];
    int32_t types[N];
    const char *special[3] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < N; i++) {
        if (i < 3) {
            strs[i] = special[i];
            types[i] = i == 0 ? 2 : 3;
        } else {
            snprintf(names[i], sizeof names[i], "<0x%02X>", i - 3);
            strs[i] = names[i];
            types[i] = 6;
        }
        scores[i] = 0.0f;
    }
    int rc = gw_kv_str(w, "tokenizer.ggml.model", "llama");
    if (rc == 0) rc = gw_kv_arr_str(w, "tokenizer.ggml.tokens", strs, N);
    if (rc == 0) rc = gw_kv_arr(w, "tokenizer.ggml.scores", GGUF_F32, scores, N);
    if (rc == 0) rc = gw_kv_arr(w, "tokenizer.ggml.token_type", GGUF_I32, types, N);
    if (rc == 0) rc = gw_kv_u32(w, "tokenizer.ggml.bos_token_id", 1);
    if (rc == 0) rc = gw_kv_u32(w, "tokenizer.ggml.eos_token_id", 2);
    if (rc == 0) rc = gw_kv_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    return rc < 0 ? rc : N;
}

/* Copies tokenizer.* entries; returns the vocabulary size or LLM_ERR_*. */
static int copy_vocab(struct gguf_writer *w, const char *from, char *err, size_t errlen)
{
    struct gguf_file *f = NULL;
    int rc = gguf_open(from, &f, err, errlen);
    if (rc < 0) return rc;
    const struct gguf_kv *toks = gguf_find(f, "tokenizer.ggml.tokens");
    if (!toks || toks->type != GGUF_ARR || toks->arr_n == 0 || toks->arr_n > (1u << 24)) {
        snprintf(err, errlen, "%s has no tokenizer.ggml.tokens", from);
        gguf_close(f);
        return LLM_ERR_FORMAT;
    }
    int n = (int)toks->arr_n;
    for (uint64_t i = 0; i < f->n_kv && rc == 0; i++) {
        const struct gguf_kv *kv = &f->kv[i];
        if (kv->key.len > 10 && memcmp(kv->key.ptr, "tokenizer.", 10) == 0)
            rc = gw_kv_copy(w, f, kv);
    }
    gguf_close(f);
    return rc < 0 ? rc : n;
}

/* ---- the tensor list ---- */

enum init { INIT_WEIGHT, INIT_ONES, INIT_NEAR_ONE, INIT_BIAS, INIT_ROPE_FREQS, INIT_LONGROPE };

struct tspec {
    char name[64];
    uint64_t ne[2];
    uint32_t nd, type;
    enum init init;
};

struct plan {
    struct tspec *t;
    int n, cap;
};

static int add(struct plan *p, const char *name, uint64_t n_in, uint64_t n_out, uint32_t type,
               enum init init)
{
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 64;
        struct tspec *t = realloc(p->t, sizeof *t * (size_t)cap);
        if (!t) return LLM_ERR_NOMEM;
        p->t = t;
        p->cap = cap;
    }
    struct tspec *s = &p->t[p->n++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->ne[0] = n_in;
    s->ne[1] = n_out;
    s->nd = n_out > 1 || init == INIT_WEIGHT ? 2 : 1;
    s->type = s->nd == 1 ? LLM_TYPE_F32 : type;
    s->init = init;
    return 0;
}

/* llama.cpp's "use more bits" layers of the _M mixes: the first and last
 * eighth and every third layer between. */
static int more_bits(int32_t l, int32_t n)
{
    return l < n / 8 || l >= 7 * n / 8 || (l - n / 8) % 3 == 2;
}

/* The type of one matrix under a mix (the reference quantizer's main rules
 * for these mixes, without its special cases for 70B, MoE and Falcon). */
static uint32_t mix_type(int32_t mix, const char *what, int32_t l, int32_t n_layers, int gqa4)
{
    uint32_t base = mix == LLM_MIX_Q2_K                              ? LLM_TYPE_Q2_K
                    : mix <= LLM_MIX_Q3_K_L                          ? LLM_TYPE_Q3_K
                    : mix == LLM_MIX_Q4_K_S || mix == LLM_MIX_Q4_K_M ? LLM_TYPE_Q4_K
                                                                     : LLM_TYPE_Q5_K;
    if (strcmp(what, "output") == 0) return LLM_TYPE_Q6_K;
    if (strcmp(what, "attn_v") == 0) {
        switch (mix) {
        case LLM_MIX_Q2_K: return gqa4 ? LLM_TYPE_Q4_K : LLM_TYPE_Q3_K;
        case LLM_MIX_Q3_K_M: return l < 2 ? LLM_TYPE_Q5_K : LLM_TYPE_Q4_K;
        case LLM_MIX_Q3_K_L: return LLM_TYPE_Q5_K;
        case LLM_MIX_Q4_K_S: return l < 4 ? LLM_TYPE_Q5_K : base;
        case LLM_MIX_Q4_K_M:
        case LLM_MIX_Q5_K_M: return more_bits(l, n_layers) ? LLM_TYPE_Q6_K : base;
        default: return base;
        }
    }
    if (strcmp(what, "ffn_down") == 0) {
        switch (mix) {
        case LLM_MIX_Q2_K: return LLM_TYPE_Q3_K;
        case LLM_MIX_Q3_K_M: return l < n_layers / 16 ? LLM_TYPE_Q5_K : LLM_TYPE_Q4_K;
        case LLM_MIX_Q3_K_L: return LLM_TYPE_Q5_K;
        case LLM_MIX_Q4_K_S: return l < n_layers / 8 ? LLM_TYPE_Q5_K : base;
        case LLM_MIX_Q4_K_M:
        case LLM_MIX_Q5_K_M: return more_bits(l, n_layers) ? LLM_TYPE_Q6_K : base;
        default: return base;
        }
    }
    if (strcmp(what, "attn_output") == 0) {
        if (mix == LLM_MIX_Q2_K) return LLM_TYPE_Q3_K;
        if (mix == LLM_MIX_Q3_K_M) return LLM_TYPE_Q4_K;
        if (mix == LLM_MIX_Q3_K_L) return LLM_TYPE_Q5_K;
    }
    if (strcmp(what, "attn_qkv") == 0) {
        if (mix == LLM_MIX_Q4_K_M) return LLM_TYPE_Q5_K;
        if (mix == LLM_MIX_Q5_K_M) return LLM_TYPE_Q6_K;
    }
    return base;
}

struct shape {
    int32_t arch, dim, n_layers, n_heads, kvh, hd, q_dim, kvd, ffn, tied, rope_factors;
    int32_t type; /* a tensor type or an LLM_MIX_* */
};

static uint32_t type_of(const struct shape *s, const char *what, int32_t l)
{
    if (s->type < LLM_MIX_Q2_K) return (uint32_t)s->type;
    return mix_type(s->type, what, l, s->n_layers, s->n_heads / s->kvh >= 4);
}

static int plan_tensors(const struct shape *s, int32_t n_vocab, struct plan *p)
{
    char name[64];
    const int gemma = s->arch == ARCH_GEMMA2 || s->arch == ARCH_GEMMA3;
    const uint64_t dim = (uint64_t)s->dim, qd = (uint64_t)s->q_dim, kvd = (uint64_t)s->kvd,
                   ffn = (uint64_t)s->ffn;
    /* a tied embedding is the output matrix too: the mixes give it the output's type */
    int rc = add(p, "token_embd.weight", dim, (uint64_t)n_vocab,
                 type_of(s, s->tied ? "output" : "token_embd", 0), INIT_WEIGHT);
    if (rc == 0) rc = add(p, "output_norm.weight", dim, 1, 0, INIT_ONES);
    if (rc == 0 && !s->tied)
        rc = add(p, "output.weight", dim, (uint64_t)n_vocab, type_of(s, "output", 0), INIT_WEIGHT);
    if (rc == 0 && s->rope_factors && s->arch == ARCH_LLAMA)
        rc = add(p, "rope_freqs.weight", (uint64_t)s->hd / 2, 1, 0, INIT_ROPE_FREQS);
    if (rc == 0 && s->rope_factors && s->arch == ARCH_PHI3) {
        rc = add(p, "rope_factors_long.weight", (uint64_t)s->hd / 2, 1, 0, INIT_LONGROPE);
        if (rc == 0)
            rc = add(p, "rope_factors_short.weight", (uint64_t)s->hd / 2, 1, 0, INIT_LONGROPE);
    }
    for (int32_t l = 0; l < s->n_layers && rc == 0; l++) {
#define T(suffix, nin, nout, what, init)                                                           \
    if (rc == 0) {                                                                                 \
        snprintf(name, sizeof name, "blk.%d." suffix, l);                                          \
        rc = add(p, name, nin, nout, type_of(s, what, l), init);                                   \
    }
        T("attn_norm.weight", dim, 1, "", INIT_ONES);
        if (s->arch == ARCH_PHI3) {
            T("attn_qkv.weight", dim, qd + 2 * kvd, "attn_qkv", INIT_WEIGHT);
        } else {
            T("attn_q.weight", dim, qd, "attn_q", INIT_WEIGHT);
            T("attn_k.weight", dim, kvd, "attn_k", INIT_WEIGHT);
            T("attn_v.weight", dim, kvd, "attn_v", INIT_WEIGHT);
        }
        if (s->arch == ARCH_QWEN2) {
            T("attn_q.bias", qd, 1, "", INIT_BIAS);
            T("attn_k.bias", kvd, 1, "", INIT_BIAS);
            T("attn_v.bias", kvd, 1, "", INIT_BIAS);
        }
        if (s->arch == ARCH_QWEN3 || s->arch == ARCH_GEMMA3) {
            T("attn_q_norm.weight", (uint64_t)s->hd, 1, "", INIT_NEAR_ONE);
            T("attn_k_norm.weight", (uint64_t)s->hd, 1, "", INIT_NEAR_ONE);
        }
        T("attn_output.weight", qd, dim, "attn_output", INIT_WEIGHT);
        if (gemma) T("post_attention_norm.weight", dim, 1, "", INIT_NEAR_ONE);
        T("ffn_norm.weight", dim, 1, "", INIT_ONES);
        if (s->arch == ARCH_PHI3) {
            T("ffn_up.weight", dim, 2 * ffn, "ffn_up", INIT_WEIGHT);
        } else {
            T("ffn_gate.weight", dim, ffn, "ffn_gate", INIT_WEIGHT);
            T("ffn_up.weight", dim, ffn, "ffn_up", INIT_WEIGHT);
        }
        T("ffn_down.weight", ffn, dim, "ffn_down", INIT_WEIGHT);
        if (gemma) T("post_ffw_norm.weight", dim, 1, "", INIT_NEAR_ONE);
#undef T
    }
    return rc;
}

/* Llama 3.1's rope frequency divisors (factor 8, low 1, high 4, original
 * context 8192), as its converter writes them. */
static void llama3_rope_freqs(float *x, int64_t n, float base)
{
    const float factor = 8.0f, low = 1.0f, high = 4.0f, orig = 8192.0f;
    for (int64_t i = 0; i < n; i++) {
        float freq = 1.0f / powf(base, (float)(2 * i) / (float)(2 * n));
        float wavelen = 2.0f * (float)M_PI / freq;
        if (wavelen < orig / high) {
            x[i] = 1.0f;
        } else if (wavelen > orig / low) {
            x[i] = factor;
        } else {
            float smooth = (orig / wavelen - low) / (high - low);
            x[i] = 1.0f / ((1.0f - smooth) / factor + smooth);
        }
    }
}

static int write_tensor(struct gguf_writer *w, const struct tspec *t, float std, float rope_base,
                        uint64_t seed, float *rowf, uint8_t *rowq)
{
    const int64_t n_in = (int64_t)t->ne[0], n_out = t->nd == 2 ? (int64_t)t->ne[1] : 1;
    const size_t rb = q_row_bytes(t->type, n_in);
    for (int64_t r = 0; r < n_out; r++) {
        uint64_t st = seed * 0x100000001b3ull + (uint64_t)r;
        switch (t->init) {
        case INIT_WEIGHT: fill_normal(rowf, n_in, 0.0f, std, st); break;
        case INIT_BIAS: fill_normal(rowf, n_in, 0.0f, std, st); break;
        case INIT_NEAR_ONE: fill_normal(rowf, n_in, 1.0f, 0.1f, st); break;
        case INIT_ONES:
            for (int64_t i = 0; i < n_in; i++) rowf[i] = 1.0f;
            break;
        case INIT_ROPE_FREQS: llama3_rope_freqs(rowf, n_in, rope_base); break;
        case INIT_LONGROPE:
            /* factors from 1 (high frequencies) growing to ~4 */
            for (int64_t i = 0; i < n_in; i++)
                rowf[i] = 1.0f + 3.0f * (float)i / (float)n_in + (float)(seed % 7) * 0.05f;
            break;
        }
        q_quantize_row(t->type, rowf, rowq, n_in);
        int rc = gw_write_data(w, rowq, rb);
        if (rc < 0) return rc;
    }
    return 0;
}

static int write_hparams(struct gguf_writer *w, const struct llm_make_params *p,
                         const struct shape *s, float rope_base)
{
    const char *a = arch_name(s->arch);
    char key[96];
    int rc = gw_kv_str(w, "general.architecture", a);
#define U32(k, v)                                                                                  \
    if (rc == 0) {                                                                                 \
        snprintf(key, sizeof key, "%s." k, a);                                                     \
        rc = gw_kv_u32(w, key, (uint32_t)(v));                                                     \
    }
#define F32(k, v)                                                                                  \
    if (rc == 0) {                                                                                 \
        snprintf(key, sizeof key, "%s." k, a);                                                     \
        rc = gw_kv_f32(w, key, v);                                                                 \
    }
    const int32_t n_ctx = p->n_ctx ? p->n_ctx : 2048;
    U32("context_length", n_ctx);
    U32("embedding_length", s->dim);
    U32("block_count", s->n_layers);
    U32("feed_forward_length", s->ffn);
    U32("attention.head_count", s->n_heads);
    U32("attention.head_count_kv", s->kvh);
    U32("rope.dimension_count", s->hd);
    if (s->hd * s->n_heads != s->dim) {
        U32("attention.key_length", s->hd);
        U32("attention.value_length", s->hd);
    }
    F32("rope.freq_base", rope_base);
    int gemma = s->arch == ARCH_GEMMA2 || s->arch == ARCH_GEMMA3;
    F32("attention.layer_norm_rms_epsilon", gemma ? 1e-6f : 1e-5f);
    if (s->arch == ARCH_GEMMA2) {
        U32("attention.sliding_window", p->n_swa ? p->n_swa : 4096);
        F32("attn_logit_softcapping", 50.0f);
        F32("final_logit_softcapping", 30.0f);
    }
    if (s->arch == ARCH_GEMMA3 && p->n_swa) U32("attention.sliding_window", p->n_swa);
    if (s->arch == ARCH_PHI3 && s->rope_factors) {
        U32("rope.scaling.original_context_length", n_ctx / 4 > 0 ? n_ctx / 4 : 1);
        F32("rope.scaling.attn_factor", 1.1902380714238083f);
    }
#undef U32
#undef F32
    return rc;
}

static int parse_shape(const struct llm_make_params *p, struct shape *s, char *why, size_t len)
{
    memset(s, 0, sizeof *s);
    s->arch = p->arch ? -1 : ARCH_LLAMA;
    for (int32_t i = ARCH_LLAMA; p->arch && i <= ARCH_GEMMA3; i++)
        if (strcmp(p->arch, arch_name(i)) == 0) s->arch = i;
    if (s->arch < 0) {
        snprintf(why, len, "unknown architecture '%s' (llama, qwen2, qwen3, phi3, gemma2, gemma3)",
                 p->arch);
        return LLM_ERR_ARG;
    }
    int mix = p->type >= LLM_MIX_Q2_K && p->type <= LLM_MIX_Q5_K_M;
    if (!mix && !q_type_supported((uint32_t)p->type)) {
        snprintf(why, len, "unsupported tensor type %d", p->type);
        return LLM_ERR_ARG;
    }
    s->type = p->type;
    s->dim = p->dim;
    s->n_layers = p->n_layers;
    s->n_heads = p->n_heads;
    s->kvh = p->n_kv_heads ? p->n_kv_heads : p->n_heads;
    s->hd = p->head_dim ? p->head_dim : (p->n_heads > 0 ? p->dim / p->n_heads : 0);
    s->q_dim = s->hd * s->n_heads;
    s->kvd = s->hd * s->kvh;
    s->ffn = p->ffn_dim;
    s->tied = p->tied || s->arch == ARCH_GEMMA2;
    s->rope_factors = p->rope_factors && (s->arch == ARCH_LLAMA || s->arch == ARCH_PHI3);
    /* K-quant super-blocks are 256 wide: every row length must divide */
    int64_t blk = mix ? 256 : (int64_t)gguf_type_traits((uint32_t)p->type).blck;
    if (blk < 32) blk = 32;
    if (s->dim < 32 || s->n_layers < 1 || s->n_heads < 1 || s->ffn < 32 || s->hd < 2 || s->hd % 2 ||
        (!p->head_dim && s->dim % s->n_heads) || s->dim % blk || s->ffn % blk || s->q_dim % blk ||
        s->kvh > s->n_heads || s->n_heads % s->kvh) {
        snprintf(why, len,
                 "invalid shape: dim, ffn and heads x head size must be multiples of %lld, dim a "
                 "multiple of heads (or --head-dim given), heads a multiple of kv-heads",
                 (long long)blk);
        return LLM_ERR_ARG;
    }
    return 0;
}

int32_t llm_make_type(const char *name)
{
    static const struct {
        const char *n;
        int32_t t;
    } types[] = {
        {"f32", LLM_TYPE_F32},      {"f16", LLM_TYPE_F16},       {"bf16", LLM_TYPE_BF16},
        {"q8_0", LLM_TYPE_Q8_0},    {"q4_0", LLM_TYPE_Q4_0},     {"q4_1", LLM_TYPE_Q4_1},
        {"q5_0", LLM_TYPE_Q5_0},    {"q5_1", LLM_TYPE_Q5_1},     {"q2_k", LLM_TYPE_Q2_K},
        {"q3_k", LLM_TYPE_Q3_K},    {"q4_k", LLM_TYPE_Q4_K},     {"q5_k", LLM_TYPE_Q5_K},
        {"q6_k", LLM_TYPE_Q6_K},    {"iq4_nl", LLM_TYPE_IQ4_NL}, {"iq4_xs", LLM_TYPE_IQ4_XS},
        {"q2_k_m", LLM_MIX_Q2_K},   {"q3_k_s", LLM_MIX_Q3_K_S},  {"q3_k_m", LLM_MIX_Q3_K_M},
        {"q3_k_l", LLM_MIX_Q3_K_L}, {"q4_k_s", LLM_MIX_Q4_K_S},  {"q4_k_m", LLM_MIX_Q4_K_M},
        {"q5_k_s", LLM_MIX_Q5_K_S}, {"q5_k_m", LLM_MIX_Q5_K_M}};
    for (size_t i = 0; name && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(name, types[i].n) == 0) return types[i].t;
    return -1;
}

int llm_make_model(const struct llm_make_params *p, char *err, size_t errlen)
{
    struct gguf_writer *w = NULL;
    struct plan plan = {0};
    float *rowf = NULL;
    uint8_t *rowq = NULL;
    struct shape s;
    char why[256] = "invalid parameters";
    int rc = LLM_ERR_ARG;

    q_init();
    if (!p->out_path) goto out;
    if ((rc = parse_shape(p, &s, why, sizeof why)) < 0) goto out;
    const float def_base[] = {10000.0f, 1000000.0f, 1000000.0f, 10000.0f, 10000.0f, 1000000.0f};
    float rope_base = p->rope_base > 0.0f ? p->rope_base : def_base[s.arch];
    w = gw_new();
    if (!w) {
        rc = LLM_ERR_NOMEM;
        goto out;
    }
    char name[96];
    /* no family name in general.name: the reference keys tokenizer rules on it
     * (a "phi3" name expects phi3's special tokens in the vocabulary) */
    snprintf(name, sizeof name, "kllm-random-d%d-l%d-%s", s.dim, s.n_layers,
             p->type >= LLM_MIX_Q2_K ? "mix" : llm_type_name(p->type));
    rc = write_hparams(w, p, &s, rope_base);
    if (rc == 0) rc = gw_kv_str(w, "general.name", name);
    if (rc < 0) goto out;
    int n_vocab = p->vocab_from ? copy_vocab(w, p->vocab_from, why, sizeof why) : byte_vocab(w);
    if (n_vocab < 0) {
        rc = n_vocab;
        goto out;
    }
    if ((rc = plan_tensors(&s, n_vocab, &plan)) < 0) goto out;
    for (int i = 0; i < plan.n && rc == 0; i++)
        rc = gw_tensor(w, plan.t[i].name, plan.t[i].nd, plan.t[i].ne, plan.t[i].type);
    if (rc < 0) goto out;
    if ((rc = gw_begin_data(w, p->out_path)) < 0) {
        snprintf(why, sizeof why, "cannot write %s", p->out_path);
        goto out;
    }
    int64_t maxrow = s.ffn > s.dim ? s.ffn : s.dim;
    if (s.q_dim > maxrow) maxrow = s.q_dim;
    rowf = malloc(sizeof *rowf * (size_t)maxrow);
    rowq = malloc((size_t)maxrow * 4 + 64);
    if (!rowf || !rowq) {
        rc = LLM_ERR_NOMEM;
        goto out;
    }
    const float std = p->scale > 0.0f ? p->scale : 0.02f;
    uint64_t seed = p->seed * 1000003ull + 17;
    for (int i = 0; i < plan.n && rc == 0; i++)
        rc = write_tensor(w, &plan.t[i], std, rope_base, seed++, rowf, rowq);
    if (rc == 0) rc = gw_finish(w);
    if (rc < 0) snprintf(why, sizeof why, "writing %s failed", p->out_path);
out:
    if (rc < 0 && err && errlen) snprintf(err, errlen, "%s", why);
    gw_free(w);
    free(plan.t);
    free(rowf);
    free(rowq);
    return rc;
}
