/* model: build a LLaMA-family model from a parsed GGUF file (hyper-
 * parameters from `<arch>.*` keys, tensors by their GGUF names). */
#include "errors.h"
#include "model.h"
#include "quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct loader {
    const struct gguf_file *f;
    char *err;
    size_t errlen;
};

/* Finds tensor `name` and checks type and shape {n_in, n_out}. */
static int get_mat(struct loader *ld, const char *name, int64_t n_in, int64_t n_out, struct wmat *w)
{
    const struct gguf_tensor *t = gguf_find_tensor(ld->f, name);
    if (!t) return err_set(ld->err, ld->errlen, LLM_ERR_FORMAT, "missing tensor %s", name);
    if (!q_type_supported(t->type))
        return err_set(ld->err, ld->errlen, LLM_ERR_UNSUPPORTED,
                       "tensor %s has type %s, which the engine does not run", name,
                       gguf_type_traits(t->type).name);
    if (t->ne[0] != (uint64_t)n_in || t->ne[1] != (uint64_t)n_out || t->ne[2] != 1 || t->ne[3] != 1)
        return err_set(ld->err, ld->errlen, LLM_ERR_FORMAT,
                       "tensor %s has shape [%llu, %llu], expected [%lld, %lld]", name,
                       (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], (long long)n_in,
                       (long long)n_out);
    if (((uintptr_t)t->data & 1) != 0)
        return err_set(ld->err, ld->errlen, LLM_ERR_FORMAT, "tensor %s is misaligned", name);
    w->type = t->type;
    w->n_in = n_in;
    w->n_out = n_out;
    w->row_bytes = q_row_bytes(t->type, n_in);
    w->data = t->data;
    return 0;
}

/* Finds f32 vector `name` of n elements; absent is an error only when
 * required (*out stays NULL). */
static int get_vec(struct loader *ld, const char *name, int64_t n, const float **out, int required)
{
    const struct gguf_tensor *t = gguf_find_tensor(ld->f, name);
    *out = NULL;
    if (!t)
        return required ? err_set(ld->err, ld->errlen, LLM_ERR_FORMAT, "missing tensor %s", name)
                        : 0;
    if (t->type != LLM_TYPE_F32 || t->ne[0] != (uint64_t)n || t->ne[1] != 1 || t->ne[2] != 1 ||
        t->ne[3] != 1)
        return err_set(ld->err, ld->errlen, LLM_ERR_FORMAT, "tensor %s must be f32 [%lld]", name,
                       (long long)n);
    if (((uintptr_t)t->data & 3) != 0)
        return err_set(ld->err, ld->errlen, LLM_ERR_FORMAT, "tensor %s is misaligned", name);
    *out = (const float *)(const void *)t->data;
    return 0;
}

/* Rows [r0, r0 + n) of a matrix, as a matrix of its own (fused tensors). */
static struct wmat mat_rows(const struct wmat *w, int64_t r0, int64_t n)
{
    struct wmat v = *w;
    v.n_out = n;
    v.data = w->data + (size_t)r0 * w->row_bytes;
    return v;
}

static int get_norm(struct loader *ld, const char *name, int64_t n, const float **out)
{
    return get_vec(ld, name, n, out, 1);
}

/* The rope frequency factors: llama3's rope_freqs, phi3's LongRoPE pair. */
static int load_rope_factors(struct loader *ld, struct llm_model *m)
{
    const int64_t n = m->hp.rope_dim / 2;
    int rc;
    if ((rc = get_vec(ld, "rope_freqs.weight", n, &m->rope_ff, 0)) < 0 || m->rope_ff) return rc;
    if ((rc = get_vec(ld, "rope_factors_short.weight", n, &m->rope_ff, 0)) < 0 ||
        (rc = get_vec(ld, "rope_factors_long.weight", n, &m->rope_ff_long, 0)) < 0)
        return rc;
    if (!m->rope_ff != !m->rope_ff_long)
        return err_set(ld->err, ld->errlen, LLM_ERR_FORMAT,
                       "rope_factors_short/long must come together");
    for (int64_t i = 0; i < n; i++) {
        if (!(m->rope_ff ? m->rope_ff[i] > 0.0f && m->rope_ff_long[i] > 0.0f : 1))
            return err_set(ld->err, ld->errlen, LLM_ERR_FORMAT,
                           "rope frequency factors must be positive");
    }
    return 0;
}

static int load_layer(struct loader *ld, struct llm_model *m, int32_t l)
{
    const struct hparams *hp = &m->hp;
    struct layer *L = &m->layers[l];
    const int gemma = hp->arch == ARCH_GEMMA2 || hp->arch == ARCH_GEMMA3;
    char name[96];
    int rc = 0;
#define NAME(suffix) (snprintf(name, sizeof name, "blk.%d." suffix, l), name)
    if ((rc = get_norm(ld, NAME("attn_norm.weight"), hp->dim, &L->attn_norm)) < 0 ||
        (rc = get_norm(ld, NAME("ffn_norm.weight"), hp->dim, &L->ffn_norm)) < 0 ||
        (rc = get_mat(ld, NAME("attn_output.weight"), hp->q_dim, hp->dim, &L->wo)) < 0 ||
        (rc = get_mat(ld, NAME("ffn_down.weight"), hp->ffn_dim, hp->dim, &L->w_down)) < 0)
        return rc;
    if (hp->arch == ARCH_PHI3 && gguf_find_tensor(ld->f, NAME("attn_qkv.weight"))) {
        struct wmat qkv, gu;
        if ((rc = get_mat(ld, name, hp->dim, hp->q_dim + 2 * hp->kv_dim, &qkv)) < 0) return rc;
        L->wq = mat_rows(&qkv, 0, hp->q_dim);
        L->wk = mat_rows(&qkv, hp->q_dim, hp->kv_dim);
        L->wv = mat_rows(&qkv, hp->q_dim + hp->kv_dim, hp->kv_dim);
        if ((rc = get_mat(ld, NAME("ffn_up.weight"), hp->dim, 2 * hp->ffn_dim, &gu)) < 0) return rc;
        L->w_gate = mat_rows(&gu, 0, hp->ffn_dim); /* the first half is the gate */
        L->w_up = mat_rows(&gu, hp->ffn_dim, hp->ffn_dim);
    } else {
        if ((rc = get_mat(ld, NAME("attn_q.weight"), hp->dim, hp->q_dim, &L->wq)) < 0 ||
            (rc = get_mat(ld, NAME("attn_k.weight"), hp->dim, hp->kv_dim, &L->wk)) < 0 ||
            (rc = get_mat(ld, NAME("attn_v.weight"), hp->dim, hp->kv_dim, &L->wv)) < 0)
            return rc;
        if (hp->arch == ARCH_PHI3) {
            if ((rc = get_mat(ld, NAME("ffn_up.weight"), hp->dim, 2 * hp->ffn_dim, &L->w_up)) < 0)
                return rc;
            L->w_gate = mat_rows(&L->w_up, 0, hp->ffn_dim);
            L->w_up = mat_rows(&L->w_up, hp->ffn_dim, hp->ffn_dim);
        } else if ((rc = get_mat(ld, NAME("ffn_gate.weight"), hp->dim, hp->ffn_dim, &L->w_gate)) <
                       0 ||
                   (rc = get_mat(ld, NAME("ffn_up.weight"), hp->dim, hp->ffn_dim, &L->w_up)) < 0) {
            return rc;
        }
    }
    /* Optional biases: qwen2 has them; llama files may. */
    if (hp->arch != ARCH_GEMMA2 && hp->arch != ARCH_GEMMA3 && hp->arch != ARCH_QWEN3) {
        if ((rc = get_vec(ld, NAME("attn_q.bias"), hp->q_dim, &L->bq, 0)) < 0 ||
            (rc = get_vec(ld, NAME("attn_k.bias"), hp->kv_dim, &L->bk, 0)) < 0 ||
            (rc = get_vec(ld, NAME("attn_v.bias"), hp->kv_dim, &L->bv, 0)) < 0)
            return rc;
    }
    if (hp->arch == ARCH_QWEN3 || hp->arch == ARCH_GEMMA3) {
        if ((rc = get_norm(ld, NAME("attn_q_norm.weight"), hp->head_dim, &L->q_norm)) < 0 ||
            (rc = get_norm(ld, NAME("attn_k_norm.weight"), hp->head_dim, &L->k_norm)) < 0)
            return rc;
    }
    if (gemma) {
        if ((rc = get_norm(ld, NAME("post_attention_norm.weight"), hp->dim, &L->attn_post_norm)) <
                0 ||
            (rc = get_norm(ld, NAME("post_ffw_norm.weight"), hp->dim, &L->ffn_post_norm)) < 0)
            return rc;
    }
    /* Tensors the engine would ignore must not be there (a bias we do not add
     * would run the model wrongly). */
    static const char *const unused[] = {"attn_output.bias",    "ffn_down.bias",
                                         "ffn_up.bias",         "ffn_gate.bias",
                                         "ffn_gate_inp.weight", "attn_norm.bias"};
    for (size_t i = 0; i < sizeof unused / sizeof unused[0]; i++) {
        snprintf(name, sizeof name, "blk.%d.%s", l, unused[i]);
        if (gguf_find_tensor(ld->f, name))
            return err_set(ld->err, ld->errlen, LLM_ERR_UNSUPPORTED,
                           "tensor %s is not supported for %s", name, arch_name(hp->arch));
    }
#undef NAME
    L->swa = hp->swa_pattern > 0 && l % hp->swa_pattern < hp->swa_pattern - 1;
    L->rope_base = L->swa ? hp->rope_base_swa : hp->rope_base;
    L->rope_scale = L->swa ? hp->rope_scale_swa : hp->rope_scale;
    return 0;
}

static int load_tensors(struct loader *ld, struct llm_model *m)
{
    const struct hparams *hp = &m->hp;
    int rc;
    if ((rc = get_mat(ld, "token_embd.weight", hp->dim, hp->n_vocab, &m->tok_embd)) < 0) return rc;
    if ((rc = get_norm(ld, "output_norm.weight", hp->dim, &m->out_norm)) < 0) return rc;
    if (hp->arch != ARCH_GEMMA2 && gguf_find_tensor(ld->f, "output.weight")) {
        if ((rc = get_mat(ld, "output.weight", hp->dim, hp->n_vocab, &m->output)) < 0) return rc;
    } else {
        m->output = m->tok_embd; /* tied embeddings */
    }
    if (gguf_find_tensor(ld->f, "output.bias"))
        return err_set(ld->err, ld->errlen, LLM_ERR_UNSUPPORTED,
                       "tensor output.bias is not supported");
    if ((rc = load_rope_factors(ld, m)) < 0) return rc;
    m->layers = calloc((size_t)hp->n_layers, sizeof *m->layers);
    if (!m->layers) return LLM_ERR_NOMEM;
    for (int32_t l = 0; l < hp->n_layers; l++) {
        if ((rc = load_layer(ld, m, l)) < 0) return rc;
    }
    for (uint64_t i = 0; i < ld->f->n_tensors; i++) {
        const struct gguf_tensor *t = &ld->f->tensors[i];
        uint64_t nel = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
        m->n_params += nel;
    }
    return 0;
}

static void copy_gstr(char *dst, size_t cap, struct gguf_str s)
{
    size_t n = s.len < cap - 1 ? (size_t)s.len : cap - 1;
    memcpy(dst, s.ptr, n);
    dst[n] = '\0';
}

int model_from_gguf(struct gguf_file *f, struct llm_model **out, char *why, size_t whylen)
{
    struct llm_model *m = NULL;
    struct loader ld = {f, why, whylen};
    int rc;

    *out = NULL;
    q_init();
    m = calloc(1, sizeof *m);
    if (!m) {
        gguf_close(f);
        return LLM_ERR_NOMEM;
    }
    m->gguf = f;
    struct gguf_str s;
    if ((rc = arch_load_hparams(f, &m->hp, m->arch, sizeof m->arch, why, whylen)) < 0) goto out;
    if (gguf_get_str(f, "general.name", &s) == 0) copy_gstr(m->name, sizeof m->name, s);
    if (gguf_get_str(f, "tokenizer.chat_template", &s) == 0 && s.len < (1u << 20)) {
        m->chat_template = malloc(s.len + 1);
        if (!m->chat_template) {
            rc = err_set(ld.err, ld.errlen, LLM_ERR_NOMEM, "out of memory");
            goto out;
        }
        copy_gstr(m->chat_template, s.len + 1, s);
    }
    if ((rc = vocab_load(&m->vocab, f, why, whylen)) < 0) goto out;
    m->hp.n_vocab = m->vocab.n;
    if ((rc = load_tensors(&ld, m)) < 0) goto out;
    *out = m;
    return 0;
out:
    llm_model_free(m);
    return rc;
}

int llm_model_load(const char *path, struct llm_model **out, char *errbuf, size_t errlen)
{
    struct gguf_file *f = NULL;
    char why[256] = "";
    *out = NULL;
    int rc = gguf_open(path, &f, errbuf, errlen);
    if (rc < 0) return rc;
    rc = model_from_gguf(f, out, why, sizeof why);
    if (rc < 0 && errbuf && errlen)
        snprintf(errbuf, errlen, "%s: %s", path, why[0] ? why : llm_strerror(rc));
    return rc;
}

void llm_model_free(struct llm_model *m)
{
    if (!m) return;
    vocab_free(&m->vocab);
    free(m->layers);
    free(m->chat_template);
    gguf_close(m->gguf);
    free(m);
}

void llm_model_get_info(const struct llm_model *m, struct llm_model_info *info)
{
    memset(info, 0, sizeof *info);
    snprintf(info->arch, sizeof info->arch, "%s", m->arch);
    snprintf(info->name, sizeof info->name, "%s", m->name);
    info->n_vocab = m->hp.n_vocab;
    info->n_ctx_train = m->hp.n_ctx_train;
    info->dim = m->hp.dim;
    info->n_layers = m->hp.n_layers;
    info->n_heads = m->hp.n_heads;
    info->n_kv_heads = m->hp.n_kv_heads;
    info->head_dim = m->hp.head_dim;
    info->ffn_dim = m->hp.ffn_dim;
    info->rope_dim = m->hp.rope_dim;
    info->rope_freq_base = m->hp.rope_base;
    info->rms_eps = m->hp.rms_eps;
    info->bos_id = m->vocab.bos;
    info->eos_id = m->vocab.eos;
    info->unk_id = m->vocab.unk;
    info->weight_type = (int32_t)m->layers[0].wq.type;
    info->n_params = m->n_params;
    info->file_size = m->gguf->size;
    snprintf(info->vocab_kind, sizeof info->vocab_kind, "%s", llm_vocab_kind(m));
    snprintf(info->vocab_pre, sizeof info->vocab_pre, "%s", llm_vocab_pre(m));
}

int32_t llm_model_n_vocab(const struct llm_model *m)
{
    return m->hp.n_vocab;
}
int32_t llm_model_type_counts(const struct llm_model *m, int32_t *counts, int32_t n)
{
    for (int32_t t = 0; t < n; t++) counts[t] = 0;
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
        uint32_t t = m->gguf->tensors[i].type;
        if (t < (uint32_t)n) counts[t]++;
    }
    return (int32_t)m->gguf->n_tensors;
}

const char *llm_model_chat_template(const struct llm_model *m)
{
    return m->chat_template;
}

const char *llm_type_name(int32_t type)
{
    return gguf_type_traits((uint32_t)type).name;
}
