/* model: build a LLaMA-family model from a parsed GGUF file (hyper-
 * parameters from `<arch>.*` keys, tensors by their GGUF names). */
#include "model.h"
#include "quant.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct loader {
    const struct gguf_file *f;
    char *err;
    size_t errlen;
};

static int fail(struct loader *ld, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct loader *ld, int rc, const char *fmt, ...)
{
    if (ld->err && ld->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ld->err, ld->errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int hp_u32(struct loader *ld, const char *arch, const char *key, int32_t *out, int required,
                  int32_t def)
{
    char full[128];
    uint32_t u;
    snprintf(full, sizeof full, "%s.%s", arch, key);
    if (gguf_get_u32(ld->f, full, &u) < 0) {
        if (required) return fail(ld, LLM_ERR_FORMAT, "missing or invalid metadata %s", full);
        *out = def;
        return 0;
    }
    if (u == 0 || u > (1u << 24))
        return fail(ld, LLM_ERR_FORMAT, "metadata %s=%u is out of range", full, u);
    *out = (int32_t)u;
    return 0;
}

static int hp_f32(struct loader *ld, const char *arch, const char *key, float *out, float def)
{
    char full[128];
    snprintf(full, sizeof full, "%s.%s", arch, key);
    *out = def;
    gguf_get_f32(ld->f, full, out);
    return 0;
}

/* Finds tensor `name` and checks type and shape {n_in, n_out}. */
static int get_mat(struct loader *ld, const char *name, int64_t n_in, int64_t n_out, struct wmat *w)
{
    const struct gguf_tensor *t = gguf_find_tensor(ld->f, name);
    if (!t) return fail(ld, LLM_ERR_FORMAT, "missing tensor %s", name);
    if (!q_type_supported(t->type))
        return fail(ld, LLM_ERR_UNSUPPORTED,
                    "tensor %s has type %s, which the engine does not run "
                    "(supported: f32, f16, bf16, q8_0, q4_0)",
                    name, gguf_type_traits(t->type).name);
    if (t->ne[0] != (uint64_t)n_in || t->ne[1] != (uint64_t)n_out || t->ne[2] != 1 || t->ne[3] != 1)
        return fail(ld, LLM_ERR_FORMAT, "tensor %s has shape [%llu, %llu], expected [%lld, %lld]",
                    name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                    (long long)n_in, (long long)n_out);
    if (((uintptr_t)t->data & 1) != 0)
        return fail(ld, LLM_ERR_FORMAT, "tensor %s is misaligned", name);
    w->type = t->type;
    w->n_in = n_in;
    w->n_out = n_out;
    w->row_bytes = q_row_bytes(t->type, n_in);
    w->data = t->data;
    return 0;
}

static int get_norm(struct loader *ld, const char *name, int64_t n, const float **out)
{
    const struct gguf_tensor *t = gguf_find_tensor(ld->f, name);
    if (!t) return fail(ld, LLM_ERR_FORMAT, "missing tensor %s", name);
    if (t->type != LLM_TYPE_F32 || t->ne[0] != (uint64_t)n || t->ne[1] != 1 || t->ne[2] != 1 ||
        t->ne[3] != 1)
        return fail(ld, LLM_ERR_FORMAT, "tensor %s must be f32 [%lld]", name, (long long)n);
    if (((uintptr_t)t->data & 3) != 0)
        return fail(ld, LLM_ERR_FORMAT, "tensor %s is misaligned", name);
    *out = (const float *)(const void *)t->data;
    return 0;
}

static int load_hparams(struct loader *ld, struct llm_model *m)
{
    struct hparams *hp = &m->hp;
    const char *a = m->arch;
    int rc;
    if ((rc = hp_u32(ld, a, "embedding_length", &hp->dim, 1, 0)) < 0 ||
        (rc = hp_u32(ld, a, "block_count", &hp->n_layers, 1, 0)) < 0 ||
        (rc = hp_u32(ld, a, "feed_forward_length", &hp->ffn_dim, 1, 0)) < 0 ||
        (rc = hp_u32(ld, a, "attention.head_count", &hp->n_heads, 1, 0)) < 0 ||
        (rc = hp_u32(ld, a, "attention.head_count_kv", &hp->n_kv_heads, 0, hp->n_heads)) < 0 ||
        (rc = hp_u32(ld, a, "context_length", &hp->n_ctx_train, 0, 2048)) < 0)
        return rc;
    if (hp->dim % hp->n_heads != 0)
        return fail(ld, LLM_ERR_FORMAT, "embedding length %d is not a multiple of %d heads",
                    hp->dim, hp->n_heads);
    if (hp->n_kv_heads > hp->n_heads || hp->n_heads % hp->n_kv_heads != 0)
        return fail(ld, LLM_ERR_FORMAT, "%d heads cannot share %d KV heads", hp->n_heads,
                    hp->n_kv_heads);
    hp->head_dim = hp->dim / hp->n_heads;
    if (hp->head_dim > 512 || hp->head_dim % 2 != 0)
        return fail(ld, LLM_ERR_UNSUPPORTED, "head size %d is not supported (even, at most 512)",
                    hp->head_dim);
    hp->kv_dim = hp->head_dim * hp->n_kv_heads;
    if ((rc = hp_u32(ld, a, "rope.dimension_count", &hp->rope_dim, 0, hp->head_dim)) < 0) return rc;
    if (hp->rope_dim > hp->head_dim || hp->rope_dim % 2 != 0)
        return fail(ld, LLM_ERR_FORMAT, "rope dimension %d does not fit head size %d", hp->rope_dim,
                    hp->head_dim);
    hp_f32(ld, a, "rope.freq_base", &hp->rope_base, 10000.0f);
    hp_f32(ld, a, "attention.layer_norm_rms_epsilon", &hp->rms_eps, 1e-5f);
    if (!(hp->rope_base > 0.0f) || !(hp->rms_eps > 0.0f) || hp->rms_eps > 1.0f)
        return fail(ld, LLM_ERR_FORMAT, "invalid rope.freq_base or rms epsilon");
    return 0;
}

static int load_tensors(struct loader *ld, struct llm_model *m)
{
    const struct hparams *hp = &m->hp;
    int rc;
    char name[96];
    if ((rc = get_mat(ld, "token_embd.weight", hp->dim, hp->n_vocab, &m->tok_embd)) < 0) return rc;
    if ((rc = get_norm(ld, "output_norm.weight", hp->dim, &m->out_norm)) < 0) return rc;
    if (gguf_find_tensor(ld->f, "output.weight")) {
        if ((rc = get_mat(ld, "output.weight", hp->dim, hp->n_vocab, &m->output)) < 0) return rc;
    } else {
        m->output = m->tok_embd; /* tied embeddings */
    }
    m->layers = calloc((size_t)hp->n_layers, sizeof *m->layers);
    if (!m->layers) return LLM_ERR_NOMEM;
    for (int32_t l = 0; l < hp->n_layers; l++) {
        struct layer *L = &m->layers[l];
#define MAT(suffix, nin, nout, field)                                                              \
    snprintf(name, sizeof name, "blk.%d." suffix ".weight", l);                                    \
    if ((rc = get_mat(ld, name, nin, nout, field)) < 0) return rc
#define NORM(suffix, field)                                                                        \
    snprintf(name, sizeof name, "blk.%d." suffix ".weight", l);                                    \
    if ((rc = get_norm(ld, name, hp->dim, field)) < 0) return rc
        NORM("attn_norm", &L->attn_norm);
        MAT("attn_q", hp->dim, hp->dim, &L->wq);
        MAT("attn_k", hp->dim, hp->kv_dim, &L->wk);
        MAT("attn_v", hp->dim, hp->kv_dim, &L->wv);
        MAT("attn_output", hp->dim, hp->dim, &L->wo);
        NORM("ffn_norm", &L->ffn_norm);
        MAT("ffn_gate", hp->dim, hp->ffn_dim, &L->w_gate);
        MAT("ffn_up", hp->dim, hp->ffn_dim, &L->w_up);
        MAT("ffn_down", hp->ffn_dim, hp->dim, &L->w_down);
#undef MAT
#undef NORM
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
    if (gguf_get_str(f, "general.architecture", &s) < 0) {
        rc = fail(&ld, LLM_ERR_FORMAT, "no general.architecture in the file");
        goto out;
    }
    copy_gstr(m->arch, sizeof m->arch, s);
    if (strcmp(m->arch, "llama") != 0 && strcmp(m->arch, "mistral") != 0) {
        rc = fail(&ld, LLM_ERR_UNSUPPORTED,
                  "architecture '%s' is not supported (llama, mistral are)", m->arch);
        goto out;
    }
    if (gguf_get_str(f, "general.name", &s) == 0) copy_gstr(m->name, sizeof m->name, s);
    if (gguf_get_str(f, "tokenizer.chat_template", &s) == 0 && s.len < (1u << 20)) {
        m->chat_template = malloc(s.len + 1);
        if (!m->chat_template) {
            rc = fail(&ld, LLM_ERR_NOMEM, "out of memory");
            goto out;
        }
        copy_gstr(m->chat_template, s.len + 1, s);
    }
    if ((rc = load_hparams(&ld, m)) < 0) goto out;
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
}

int32_t llm_model_n_vocab(const struct llm_model *m)
{
    return m->hp.n_vocab;
}
const char *llm_model_chat_template(const struct llm_model *m)
{
    return m->chat_template;
}

const char *llm_type_name(int32_t type)
{
    return gguf_type_traits((uint32_t)type).name;
}
