/* tools: llm_gguf_inspect (describe a file) and llm_make_model (write a
 * random-weight LLaMA-shaped GGUF for tests and benchmarks). */
#include "gguf_write.h"
#include "kllm/engine.h"
#include "quant.h"
#include "rng.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void emitf(void (*line)(void *, const char *), void *ud, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void emitf(void (*line)(void *, const char *), void *ud, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    line(ud, buf);
}

/* Printable copy of a GGUF string: control bytes escaped, long ones cut. */
static void show_str(char *dst, size_t cap, struct gguf_str s)
{
    size_t o = 0;
    for (uint64_t i = 0; i < s.len && o + 8 < cap; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        if (ch < 0x20 || ch == 0x7f)
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", ch);
        else
            dst[o++] = (char)ch;
    }
    if (o + 8 >= cap && cap > 4)
        memcpy(dst + o, "...", 4);
    else
        dst[o] = '\0';
}

static void show_value(char *dst, size_t cap, const struct gguf_kv *kv)
{
    double d;
    if (kv->type == GGUF_STR) {
        const uint8_t *p = kv->val;
        char tmp[200];
        show_str(tmp, sizeof tmp, gguf_next_str(&p));
        snprintf(dst, cap, "\"%s\"", tmp);
    } else if (kv->type == GGUF_ARR) {
        snprintf(dst, cap, "[%s x %llu]", gguf_vtype_name(kv->arr_type),
                 (unsigned long long)kv->arr_n);
    } else if (gguf_kv_scalar(kv, &d) == 0) {
        if (kv->type == GGUF_F32 || kv->type == GGUF_F64)
            snprintf(dst, cap, "%g", d);
        else if (kv->type == GGUF_BOOL)
            snprintf(dst, cap, "%s", d != 0 ? "true" : "false");
        else
            snprintf(dst, cap, "%.0f", d);
    } else {
        snprintf(dst, cap, "?");
    }
}

int llm_gguf_inspect(const char *path, void (*line)(void *ud, const char *text), void *ud,
                     char *err, size_t errlen)
{
    struct gguf_file *f = NULL;
    int rc = gguf_open(path, &f, err, errlen);
    if (rc < 0) return rc;
    emitf(line, ud,
          "file: %s (%zu bytes), GGUF v%u, %llu metadata keys, %llu tensors, alignment %u", path,
          f->size, f->version, (unsigned long long)f->n_kv, (unsigned long long)f->n_tensors,
          f->alignment);
    emitf(line, ud, "metadata:");
    for (uint64_t i = 0; i < f->n_kv; i++) {
        char key[128], val[256];
        show_str(key, sizeof key, f->kv[i].key);
        show_value(val, sizeof val, &f->kv[i]);
        emitf(line, ud, "  %-40s %-4s %s", key, gguf_vtype_name(f->kv[i].type), val);
    }
    emitf(line, ud, "tensors:");
    emitf(line, ud, "  %-32s %-6s %-24s %12s %12s", "name", "type", "shape", "offset", "bytes");
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const struct gguf_tensor *t = &f->tensors[i];
        char name[128], shape[64];
        size_t o = 0;
        show_str(name, sizeof name, t->name);
        for (uint32_t d = 0; d < t->n_dims; d++)
            o += (size_t)snprintf(shape + o, sizeof shape - o, d ? " x %llu" : "%llu",
                                  (unsigned long long)t->ne[d]);
        emitf(line, ud, "  %-32s %-6s %-24s %12llu %12llu", name, gguf_type_traits(t->type).name,
              shape, (unsigned long long)t->offset, (unsigned long long)t->nbytes);
    }
    gguf_close(f);
    return 0;
}

/* ---- make-model ---- */

/* n normal samples N(0, std^2) (Box-Muller), deterministic in the state. */
static void fill_normal(float *x, int64_t n, float std, uint64_t state)
{
    for (int64_t i = 0; i < n; i += 2) {
        double u1 = rng_unit(&state) + 0x1.0p-53; /* (0, 1]: log(u1) is finite */
        double u2 = rng_unit(&state);
        double r = sqrt(-2.0 * log(u1)) * std;
        x[i] = (float)(r * cos(2.0 * M_PI * u2));
        if (i + 1 < n) x[i + 1] = (float)(r * sin(2.0 * M_PI * u2));
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

/* Writes one matrix of n_out rows x n_in, generated row by row. */
static int write_matrix(struct gguf_writer *w, uint32_t type, int64_t n_in, int64_t n_out,
                        float std, uint64_t seed, float *rowf, uint8_t *rowq)
{
    size_t rb = q_row_bytes(type, n_in);
    for (int64_t r = 0; r < n_out; r++) {
        fill_normal(rowf, n_in, std, seed * 0x100000001b3ull + (uint64_t)r);
        q_quantize_row(type, rowf, rowq, n_in);
        int rc = gw_write_data(w, rowq, rb);
        if (rc < 0) return rc;
    }
    return 0;
}

static int write_ones(struct gguf_writer *w, int64_t n, float *rowf)
{
    for (int64_t i = 0; i < n; i++) rowf[i] = 1.0f;
    return gw_write_data(w, rowf, (size_t)n * 4);
}

int llm_make_model(const struct llm_make_params *p, char *err, size_t errlen)
{
    struct gguf_writer *w = NULL;
    float *rowf = NULL;
    uint8_t *rowq = NULL;
    int rc = LLM_ERR_ARG;
    char why[256] = "invalid parameters";

    q_init();
    if (!p->out_path || !q_type_supported((uint32_t)p->type) || p->dim < 32 || p->n_layers < 1 ||
        p->n_heads < 1 || p->dim % p->n_heads || p->ffn_dim < 32 || p->dim % 32 ||
        p->ffn_dim % 32 ||
        (p->n_kv_heads && (p->n_kv_heads > p->n_heads || p->n_heads % p->n_kv_heads))) {
        snprintf(why, sizeof why,
                 "invalid shape: dim and ffn must be multiples of 32, dim a "
                 "multiple of heads, heads a multiple of kv-heads");
        goto out;
    }
    int32_t kvh = p->n_kv_heads ? p->n_kv_heads : p->n_heads;
    int32_t hd = p->dim / p->n_heads, kvd = hd * kvh;
    float std = p->scale > 0.0f ? p->scale : 0.02f;
    w = gw_new();
    if (!w) {
        rc = LLM_ERR_NOMEM;
        goto out;
    }
    char name[64];
    snprintf(name, sizeof name, "kllm-random-d%d-l%d-%s", p->dim, p->n_layers,
             llm_type_name(p->type));
    rc = gw_kv_str(w, "general.architecture", "llama");
    if (rc == 0) rc = gw_kv_str(w, "general.name", name);
    if (rc == 0) rc = gw_kv_u32(w, "llama.context_length", (uint32_t)(p->n_ctx ? p->n_ctx : 2048));
    if (rc == 0) rc = gw_kv_u32(w, "llama.embedding_length", (uint32_t)p->dim);
    if (rc == 0) rc = gw_kv_u32(w, "llama.block_count", (uint32_t)p->n_layers);
    if (rc == 0) rc = gw_kv_u32(w, "llama.feed_forward_length", (uint32_t)p->ffn_dim);
    if (rc == 0) rc = gw_kv_u32(w, "llama.attention.head_count", (uint32_t)p->n_heads);
    if (rc == 0) rc = gw_kv_u32(w, "llama.attention.head_count_kv", (uint32_t)kvh);
    if (rc == 0) rc = gw_kv_u32(w, "llama.rope.dimension_count", (uint32_t)hd);
    if (rc == 0) rc = gw_kv_f32(w, "llama.rope.freq_base", 10000.0f);
    if (rc == 0) rc = gw_kv_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    if (rc < 0) goto out;
    int n_vocab = p->vocab_from ? copy_vocab(w, p->vocab_from, why, sizeof why) : byte_vocab(w);
    if (n_vocab < 0) {
        rc = n_vocab;
        goto out;
    }
    uint32_t mt = (uint32_t)p->type;
    uint64_t ne_embd[2] = {(uint64_t)p->dim, (uint64_t)n_vocab};
    uint64_t ne_norm[1] = {(uint64_t)p->dim};
    rc = gw_tensor(w, "token_embd.weight", 2, ne_embd, mt);
    if (rc == 0) rc = gw_tensor(w, "output_norm.weight", 1, ne_norm, LLM_TYPE_F32);
    if (rc == 0) rc = gw_tensor(w, "output.weight", 2, ne_embd, mt);
    for (int32_t l = 0; l < p->n_layers && rc == 0; l++) {
        uint64_t sq[2] = {(uint64_t)p->dim, (uint64_t)p->dim};
        uint64_t kv[2] = {(uint64_t)p->dim, (uint64_t)kvd};
        uint64_t up[2] = {(uint64_t)p->dim, (uint64_t)p->ffn_dim};
        uint64_t dn[2] = {(uint64_t)p->ffn_dim, (uint64_t)p->dim};
        const struct {
            const char *n;
            const uint64_t *ne;
            uint32_t nd;
        } ts[] = {{"attn_norm", ne_norm, 1}, {"attn_q", sq, 2},      {"attn_k", kv, 2},
                  {"attn_v", kv, 2},         {"attn_output", sq, 2}, {"ffn_norm", ne_norm, 1},
                  {"ffn_gate", up, 2},       {"ffn_up", up, 2},      {"ffn_down", dn, 2}};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0] && rc == 0; i++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, ts[i].n);
            rc = gw_tensor(w, name, ts[i].nd, ts[i].ne, ts[i].nd == 1 ? LLM_TYPE_F32 : mt);
        }
    }
    if (rc < 0) goto out;
    if ((rc = gw_begin_data(w, p->out_path)) < 0) {
        snprintf(why, sizeof why, "cannot write %s", p->out_path);
        goto out;
    }
    int64_t maxrow = p->ffn_dim > p->dim ? p->ffn_dim : p->dim;
    rowf = malloc(sizeof *rowf * (size_t)maxrow);
    rowq = malloc((size_t)maxrow * 4);
    if (!rowf || !rowq) {
        rc = LLM_ERR_NOMEM;
        goto out;
    }
    uint64_t seed = p->seed * 1000003ull + 17;
    rc = write_matrix(w, mt, p->dim, n_vocab, std, seed++, rowf, rowq);
    if (rc == 0) rc = write_ones(w, p->dim, rowf);
    if (rc == 0) rc = write_matrix(w, mt, p->dim, n_vocab, std, seed++, rowf, rowq);
    for (int32_t l = 0; l < p->n_layers && rc == 0; l++) {
        rc = write_ones(w, p->dim, rowf);
        if (rc == 0) rc = write_matrix(w, mt, p->dim, p->dim, std, seed++, rowf, rowq);
        if (rc == 0) rc = write_matrix(w, mt, p->dim, kvd, std, seed++, rowf, rowq);
        if (rc == 0) rc = write_matrix(w, mt, p->dim, kvd, std, seed++, rowf, rowq);
        if (rc == 0) rc = write_matrix(w, mt, p->dim, p->dim, std, seed++, rowf, rowq);
        if (rc == 0) rc = write_ones(w, p->dim, rowf);
        if (rc == 0) rc = write_matrix(w, mt, p->dim, p->ffn_dim, std, seed++, rowf, rowq);
        if (rc == 0) rc = write_matrix(w, mt, p->dim, p->ffn_dim, std, seed++, rowf, rowq);
        if (rc == 0) rc = write_matrix(w, mt, p->ffn_dim, p->dim, std, seed++, rowf, rowq);
    }
    if (rc == 0) rc = gw_finish(w);
    if (rc < 0) snprintf(why, sizeof why, "writing %s failed", p->out_path);
out:
    if (rc < 0 && err && errlen) snprintf(err, errlen, "%s", why);
    gw_free(w);
    free(rowf);
    free(rowq);
    return rc;
}
