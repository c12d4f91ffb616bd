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

#include <stdint.h>

struct wmat {
    uint32_t type;    /* enum llm_type */
    int64_t n_in;     /* row length */
    int64_t n_out;    /* rows */
    size_t row_bytes; /* bytes per row */
    const uint8_t *data;
};

struct layer {
    const float *attn_norm; /* [dim] */
    struct wmat wq;         /* [dim] x dim */
    struct wmat wk;         /* [dim] x kv_dim */
    struct wmat wv;         /* [dim] x kv_dim */
    struct wmat wo;         /* [dim] x dim */
    const float *ffn_norm;  /* [dim] */
    struct wmat w_gate;     /* [dim] x ffn */
    struct wmat w_up;       /* [dim] x ffn */
    struct wmat w_down;     /* [ffn] x dim */
};

struct hparams {
    int32_t n_vocab, n_ctx_train, dim, n_layers, n_heads, n_kv_heads, head_dim, kv_dim, ffn_dim;
    int32_t rope_dim;
    float rope_base, rms_eps;
};

/* SentencePiece vocabulary with a string -> id hash table. */
enum tok_type {
    TOK_NORMAL = 1,
    TOK_UNKNOWN = 2,
    TOK_CONTROL = 3,
    TOK_USER = 4,
    TOK_UNUSED = 5,
    TOK_BYTE = 6
};
struct vocab {
    int32_t n;
    const char **text; /* n pointers into `pool`, NUL-terminated copies */
    uint32_t *len;
    float *score;
    uint8_t *type;
    char *pool;
    int32_t *hash; /* open addressing: token id or -1; size hash_cap (power of 2) */
    uint32_t hash_cap;
    int32_t byte_tok[256]; /* id of <0xNN>, or -1 */
    int32_t *special;      /* ids of control / user-defined tokens */
    int32_t n_special;
    int32_t bos, eos, unk, eot;
    int add_bos, add_space_prefix;
};

struct llm_model {
    struct gguf_file *gguf;
    struct hparams hp;
    struct vocab vocab;
    char arch[32];
    char name[128];
    char *chat_template;   /* NUL-terminated copy, or NULL */
    struct wmat tok_embd;  /* [dim] x n_vocab */
    const float *out_norm; /* [dim] */
    struct wmat output;    /* [dim] x n_vocab (may alias tok_embd) */
    struct layer *layers;
    uint64_t n_params;
};

/* Builds a model from a parsed file, taking ownership of f (closed on
 * failure too). why receives a one-line reason on failure. */
int model_from_gguf(struct gguf_file *f, struct llm_model **out, char *why, size_t whylen);

int vocab_load(struct vocab *v, const struct gguf_file *f, char *err, size_t errlen);
void vocab_free(struct vocab *v);
int32_t vocab_find(const struct vocab *v, const char *s, size_t len);

#endif
