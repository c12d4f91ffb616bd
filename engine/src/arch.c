/* arch: the architectures the engine runs and what each adds to the llama
 * block, read from a GGUF file's `<arch>.*` metadata (see
 * docs/internals/engine.md, "Architectures").
 *
 *   llama   rmsnorm, rope on adjacent pairs, GQA, SwiGLU; llama3 rope_freqs
 *   qwen2   + q/k/v biases, NeoX rope (pairs i, i + d/2)
 *   qwen3   + per-head RMSNorm of q and k, NeoX rope, head size from key_length
 *   phi3    fused QKV and gate|up tensors, NeoX rope, LongRoPE factors
 *   gemma2  embeddings * sqrt(dim), GeGLU, post-attention and post-FFN norms,
 *           score and logit soft-capping, every other layer sliding-window
 *   gemma3  gemma2 without score capping, + q/k norms, 5 of 6 layers
 *           sliding-window with their own rope base
 *
 * Anything outside this (another architecture, a rope scaling type we do not
 * implement, experts, per-layer head counts) is refused here by name, so a
 * file is never run wrongly.
 */
#include "errors.h"
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const arch_names[] = {"llama", "qwen2", "qwen3", "phi3", "gemma2", "gemma3"};

const char *arch_name(int32_t arch)
{
    return arch >= 0 && arch < (int32_t)(sizeof arch_names / sizeof arch_names[0])
               ? arch_names[arch]
               : "?";
}

struct hp_reader {
    const struct gguf_file *f;
    const char *arch; /* the key prefix: the file's general.architecture */
    char *why;
    size_t whylen;
};

static const struct gguf_kv *find(struct hp_reader *r, const char *key)
{
    char full[128];
    snprintf(full, sizeof full, "%s.%s", r->arch, key);
    return gguf_find(r->f, full);
}

/* A positive count; arrays (per-layer values) are refused by name. */
static int get_count(struct hp_reader *r, const char *key, int32_t *out, int required, int32_t def)
{
    const struct gguf_kv *kv = find(r, key);
    double d;
    if (!kv) {
        if (required)
            return err_set(r->why, r->whylen, LLM_ERR_FORMAT, "missing metadata %s.%s", r->arch,
                           key);
        *out = def;
        return 0;
    }
    if (kv->type == GGUF_ARR)
        return err_set(r->why, r->whylen, LLM_ERR_UNSUPPORTED, "per-layer %s.%s is not supported",
                       r->arch, key);
    if (gguf_kv_scalar(kv, &d) < 0 || kv->type == GGUF_F32 || kv->type == GGUF_F64 ||
        kv->type == GGUF_BOOL || d < 1 || d > (double)(1 << 24))
        return err_set(r->why, r->whylen, LLM_ERR_FORMAT,
                       "metadata %s.%s is not a count in 1..2^24", r->arch, key);
    *out = (int32_t)d;
    return 0;
}

/* A float (any numeric type); keeps def when absent. */
static int get_float(struct hp_reader *r, const char *key, float *out, float def)
{
    const struct gguf_kv *kv = find(r, key);
    double d;
    *out = def;
    if (!kv) return 0;
    if (kv->type == GGUF_STR || kv->type == GGUF_ARR || gguf_kv_scalar(kv, &d) < 0 || !isfinite(d))
        return err_set(r->why, r->whylen, LLM_ERR_FORMAT, "metadata %s.%s is not a number", r->arch,
                       key);
    *out = (float)d;
    return 0;
}

static int parse_arch(struct hp_reader *r, struct hparams *hp)
{
    for (int32_t i = 0; i < (int32_t)(sizeof arch_names / sizeof arch_names[0]); i++) {
        if (strcmp(r->arch, arch_names[i]) == 0) {
            hp->arch = i;
            return 0;
        }
    }
    if (strcmp(r->arch, "mistral") == 0) { /* some converters name llama-shaped Mistrals so */
        hp->arch = ARCH_LLAMA;
        return 0;
    }
    return err_set(r->why, r->whylen, LLM_ERR_UNSUPPORTED,
                   "architecture '%s' is not supported (llama, mistral, qwen2, qwen3, phi3, "
                   "gemma2, gemma3 are)",
                   r->arch);
}

static int read_rope(struct hp_reader *r, struct hparams *hp)
{
    int rc;
    float factor;
    char type[32] = "";
    const struct gguf_kv *kv = find(r, "rope.scaling.type");
    if (kv) {
        struct gguf_str s;
        const uint8_t *p = kv->val;
        if (kv->type != GGUF_STR)
            return err_set(r->why, r->whylen, LLM_ERR_FORMAT,
                           "metadata %s.rope.scaling.type is not a string", r->arch);
        s = gguf_next_str(&p);
        snprintf(type, sizeof type, "%.*s", (int)(s.len < 31 ? s.len : 31), s.ptr);
    }
    if ((rc = get_float(r, "rope.freq_base", &hp->rope_base, 10000.0f)) < 0 ||
        (rc = get_float(r, "rope.scaling.factor", &factor, 0.0f)) < 0 ||
        (rc = get_float(r, "rope.scaling.attn_factor", &hp->rope_mscale, 1.0f)) < 0 ||
        (rc = get_count(r, "rope.scaling.original_context_length", &hp->n_ctx_orig, 0,
                        hp->n_ctx_train)) < 0)
        return rc;
    if (factor == 0.0f) {
        if ((rc = get_float(r, "rope.scale_linear", &factor, 0.0f)) < 0) return rc;
    }
    if (!(hp->rope_base > 0.0f) || factor < 0.0f || !(hp->rope_mscale > 0.0f))
        return err_set(r->why, r->whylen, LLM_ERR_FORMAT, "invalid rope parameters");
    hp->rope_scale = factor == 0.0f ? 1.0f : 1.0f / factor;
    if (strcmp(type, "none") == 0) {
        hp->rope_scale = 1.0f;
    } else if (type[0] && strcmp(type, "linear") != 0 &&
               !(strcmp(type, "longrope") == 0 &&
                 (hp->arch == ARCH_LLAMA || hp->arch == ARCH_PHI3))) {
        return err_set(r->why, r->whylen, LLM_ERR_UNSUPPORTED,
                       "rope scaling '%s' is not supported (none, linear, and llama/phi3 "
                       "longrope are)",
                       type);
    }
    hp->rope_neox = hp->arch != ARCH_LLAMA;
    hp->rope_base_swa = hp->rope_base;
    hp->rope_scale_swa = hp->rope_scale;
    return 0;
}

/* The gemma family's sliding windows, soft-capping and attention scale. */
static int read_gemma(struct hp_reader *r, struct hparams *hp)
{
    int rc;
    float swa = 0.0f;
    if ((rc = get_float(r, "attention.sliding_window", &swa, 0.0f)) < 0) return rc;
    if (swa < 0.0f || swa > (float)(1 << 24))
        return err_set(r->why, r->whylen, LLM_ERR_FORMAT, "invalid %s.attention.sliding_window",
                       r->arch);
    if (hp->arch == ARCH_GEMMA2) {
        hp->n_swa = swa > 0.0f ? (int32_t)swa : 4096;
        hp->swa_pattern = 2;
        if ((rc = get_float(r, "attn_logit_softcapping", &hp->attn_softcap, 50.0f)) < 0 ||
            (rc = get_float(r, "final_logit_softcapping", &hp->final_softcap, 30.0f)) < 0)
            return rc;
    } else {
        hp->n_swa = (int32_t)swa;
        hp->swa_pattern = hp->n_swa > 0 ? 6 : 0;
        hp->rope_base_swa = 10000.0f;
        hp->rope_scale_swa = 1.0f;
        if ((rc = get_float(r, "final_logit_softcapping", &hp->final_softcap, 0.0f)) < 0) return rc;
    }
    if (hp->attn_softcap < 0.0f || hp->final_softcap < 0.0f)
        return err_set(r->why, r->whylen, LLM_ERR_FORMAT, "invalid soft-capping value");
    /* The 27B models scale queries by the model width per head, the others
     * by the head size; the layer count tells them apart, as in the
     * reference implementation. */
    int big = (hp->arch == ARCH_GEMMA2 && hp->n_layers == 46) ||
              (hp->arch == ARCH_GEMMA3 && hp->n_layers == 62);
    hp->q_scale = 1.0f / sqrtf((float)(big ? hp->dim / hp->n_heads : hp->head_dim));
    hp->embd_scale = sqrtf((float)hp->dim);
    hp->ffn_act = FFN_GELU;
    return 0;
}

int arch_load_hparams(const struct gguf_file *f, struct hparams *hp, char *arch, size_t archlen,
                      char *why, size_t whylen)
{
    struct gguf_str s;
    int rc;
    memset(hp, 0, sizeof *hp);
    if (gguf_get_str(f, "general.architecture", &s) < 0) {
        snprintf(why, whylen, "no general.architecture in the file");
        return LLM_ERR_FORMAT;
    }
    snprintf(arch, archlen, "%.*s", (int)(s.len < archlen - 1 ? s.len : archlen - 1), s.ptr);
    struct hp_reader r = {f, arch, why, whylen};
    if ((rc = parse_arch(&r, hp)) < 0) return rc;

    int32_t n_experts = 0, key_len, val_len;
    if ((rc = get_count(&r, "embedding_length", &hp->dim, 1, 0)) < 0 ||
        (rc = get_count(&r, "block_count", &hp->n_layers, 1, 0)) < 0 ||
        (rc = get_count(&r, "feed_forward_length", &hp->ffn_dim, 1, 0)) < 0 ||
        (rc = get_count(&r, "attention.head_count", &hp->n_heads, 1, 0)) < 0 ||
        (rc = get_count(&r, "attention.head_count_kv", &hp->n_kv_heads, 0, hp->n_heads)) < 0 ||
        (rc = get_count(&r, "context_length", &hp->n_ctx_train, 0, 2048)) < 0 ||
        (rc = get_count(&r, "expert_count", &n_experts, 0, 0)) < 0)
        return rc;
    if (n_experts > 0)
        return err_set(r.why, r.whylen, LLM_ERR_UNSUPPORTED,
                       "mixture-of-experts models (%s.expert_count=%d) are "
                       "not supported",
                       arch, n_experts);
    if (hp->n_kv_heads > hp->n_heads || hp->n_heads % hp->n_kv_heads != 0)
        return err_set(r.why, r.whylen, LLM_ERR_FORMAT, "%d heads cannot share %d KV heads",
                       hp->n_heads, hp->n_kv_heads);
    if ((rc = get_count(&r, "attention.key_length", &key_len, 0, hp->dim / hp->n_heads)) < 0 ||
        (rc = get_count(&r, "attention.value_length", &val_len, 0, key_len)) < 0)
        return rc;
    if (!find(&r, "attention.key_length") && hp->dim % hp->n_heads != 0)
        return err_set(r.why, r.whylen, LLM_ERR_FORMAT,
                       "embedding length %d is not a multiple of %d heads", hp->dim, hp->n_heads);
    if (val_len != key_len)
        return err_set(r.why, r.whylen, LLM_ERR_UNSUPPORTED,
                       "key length %d != value length %d is not supported", key_len, val_len);
    hp->head_dim = key_len;
    if (hp->head_dim > 512 || hp->head_dim % 2 != 0)
        return err_set(r.why, r.whylen, LLM_ERR_UNSUPPORTED,
                       "head size %d is not supported (even, at most 512)", hp->head_dim);
    hp->q_dim = hp->head_dim * hp->n_heads;
    hp->kv_dim = hp->head_dim * hp->n_kv_heads;
    if ((rc = get_count(&r, "rope.dimension_count", &hp->rope_dim, 0, hp->head_dim)) < 0) return rc;
    if (hp->rope_dim > hp->head_dim || hp->rope_dim % 2 != 0)
        return err_set(r.why, r.whylen, LLM_ERR_FORMAT,
                       "rope dimension %d does not fit head size %d", hp->rope_dim, hp->head_dim);
    if (hp->arch == ARCH_LLAMA && hp->rope_dim != hp->head_dim)
        return err_set(r.why, r.whylen, LLM_ERR_FORMAT,
                       "llama rope dimension %d must equal the head size %d", hp->rope_dim,
                       hp->head_dim);
    if ((rc = get_float(&r, "attention.layer_norm_rms_epsilon", &hp->rms_eps, 1e-5f)) < 0)
        return rc;
    if (!(hp->rms_eps > 0.0f) || hp->rms_eps > 1.0f)
        return err_set(r.why, r.whylen, LLM_ERR_FORMAT, "invalid rms epsilon");
    if ((rc = read_rope(&r, hp)) < 0) return rc;

    hp->q_scale = 1.0f;
    hp->kq_scale = 1.0f / sqrtf((float)hp->head_dim);
    hp->embd_scale = 1.0f;
    hp->ffn_act = FFN_SILU;
    if (hp->arch == ARCH_PHI3 || hp->arch == ARCH_GEMMA2 || hp->arch == ARCH_GEMMA3) {
        hp->q_scale = hp->kq_scale; /* applied to q itself, as the reference does */
        hp->kq_scale = 1.0f;
    }
    if (hp->arch == ARCH_GEMMA2 || hp->arch == ARCH_GEMMA3) return read_gemma(&r, hp);
    return 0;
}
