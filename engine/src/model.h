/* model: the loaded model's structures, shared by the engine's modules
 * (engine internal; the public API only sees struct llm_model opaquely).
 *
 * Weights are not copied: each struct wmat points into the mmap'd GGUF.
 * Shapes use GGUF order: a matrix of n_out rows, each n_in elements long
 * (GGUF ne = {n_in, n_out}), so y[r] = dot(row r, x).
 */
#ifndef KLLM_MODEL_H
#define KLLM_MODEL_H

#include "gguf.h"
#include "kllm/engine.h"
#include "vocab.h"

#include <stdint.h>

struct wmat {
    uint32_t type;    /* enum llm_type */
    int64_t n_in;     /* row length */
    int64_t n_out;    /* rows */
    size_t row_bytes; /* bytes per row */
    const uint8_t *data;
};

struct layer {
    const float *attn_norm;      /* [dim] */
    struct wmat wq;              /* [dim] x q_dim (q_dim = n_heads * head_dim) */
    struct wmat wk;              /* [dim] x kv_dim */
    struct wmat wv;              /* [dim] x kv_dim */
    const float *bq, *bk, *bv;   /* [q_dim], [kv_dim], [kv_dim] biases (qwen2), or NULL */
    const float *q_norm;         /* [head_dim] per-head RMSNorm of q (qwen3, gemma3), or NULL */
    const float *k_norm;         /* [head_dim] */
    struct wmat wo;              /* [q_dim] x dim */
    const float *attn_post_norm; /* [dim] norm of the attention output (gemma2/3), or NULL */
    const float *ffn_norm;       /* [dim] */
    struct wmat w_gate;          /* [dim] x ffn (phi3: rows [0, ffn) of the fused ffn_up) */
    struct wmat w_up;            /* [dim] x ffn (phi3: rows [ffn, 2 ffn)) */
    struct wmat w_down;          /* [ffn] x dim */
    const float *ffn_post_norm;  /* [dim] (gemma2/3), or NULL */
    int swa;                     /* 1: sliding-window layer (attends to the last n_swa positions) */
    float rope_base, rope_scale; /* this layer's rope (gemma3's local layers differ) */
};

enum arch_id { ARCH_LLAMA, ARCH_QWEN2, ARCH_QWEN3, ARCH_PHI3, ARCH_GEMMA2, ARCH_GEMMA3 };
enum ffn_act { FFN_SILU, FFN_GELU };

struct hparams {
    int32_t n_vocab, n_ctx_train, dim, n_layers, n_heads, n_kv_heads, head_dim, kv_dim, ffn_dim;
    int32_t q_dim; /* n_heads * head_dim (not always dim: qwen3, gemma) */
    int32_t rope_dim;
    float rope_base, rms_eps;
    /* what the architecture adds to the llama block (arch.c) */
    int32_t arch;        /* enum arch_id */
    int rope_neox;       /* rotate pairs (i, i + rope_dim/2) instead of (2i, 2i+1) */
    float rope_scale;    /* linear rope scaling: positions * rope_scale (1: none) */
    float rope_mscale;   /* rope attention factor: cos/sin scaled by it (1: none) */
    int32_t n_ctx_orig;  /* phi3 LongRoPE: long factors when the context exceeds it */
    int32_t n_swa;       /* sliding window of the swa layers (0: none) */
    int32_t swa_pattern; /* layer l is swa when l % pattern < pattern - 1 (0: none) */
    float rope_base_swa, rope_scale_swa; /* rope of the swa layers */
    float q_scale;       /* q is multiplied by it before attention (phi3, gemma) ... */
    float kq_scale;      /* ... and scores q.k by this (llama, qwen: 1/sqrt(head_dim)) */
    float attn_softcap;  /* scores = c * tanh(scores / c) (0: off) */
    float final_softcap; /* logits = c * tanh(logits / c) (0: off) */
    float embd_scale;    /* embeddings multiplied by it (gemma: sqrt(dim); 1: none) */
    int32_t ffn_act;     /* enum ffn_act */
};

struct llm_model {
    struct gguf_file *gguf;
    struct hparams hp;
    struct vocab vocab; /* vocab.h */
    char arch[32];
    char name[128];
    char *chat_template;       /* NUL-terminated copy, or NULL */
    struct wmat tok_embd;      /* [dim] x n_vocab */
    const float *out_norm;     /* [dim] */
    struct wmat output;        /* [dim] x n_vocab (may alias tok_embd) */
    const float *rope_ff;      /* [rope_dim / 2] rope frequency divisors (llama3 rope_freqs,
                              phi3 LongRoPE factors, chosen per context size), or NULL */
    const float *rope_ff_long; /* phi3: the long factors (rope_ff holds the short ones) */
    struct layer *layers;
    uint64_t n_params;
};

/* Builds a model from a parsed file, taking ownership of f (closed on
 * failure too). why receives a one-line reason on failure. */
int model_from_gguf(struct gguf_file *f, struct llm_model **out, char *why, size_t whylen);

/* arch.c: reads general.architecture and the hyper-parameters into hp
 * (all but n_vocab); refuses by name what the engine does not implement. */
int arch_load_hparams(const struct gguf_file *f, struct hparams *hp, char *arch, size_t archlen,
                      char *why, size_t whylen);
const char *arch_name(int32_t arch);

#endif
