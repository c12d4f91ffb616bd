/* kllm engine: GGUF LLaMA-family models -> tokens.
 *
 * The engine knows nothing of HTTP or Kubernetes. It loads a GGUF file
 * (mmap'd, every offset checked), tokenizes text, and advances any number of
 * independent sequences through the transformer in one batched step.
 *
 * Worked example (greedy generation, error handling shortened):
 *
 *     struct llm_model *m = NULL;
 *     char err[256];
 *     if (llm_model_load("model.gguf", &m, err, sizeof err) < 0) die(err);
 *     struct llm_ctx_params cp = llm_ctx_default_params();
 *     struct llm_ctx *c = llm_ctx_new(m, &cp);
 *     int32_t toks[512];
 *     int32_t n = llm_tokenize(m, "Once upon a time", 16, true, toks, 512);
 *     struct llm_batch b = {.n = n, .tokens = toks, .seq = seqs0, .logits = last_only};
 *     llm_decode_batch(c, &b);          // prompt: all tokens of seq 0
 *     int32_t next = llm_argmax(llm_get_logits(c, n - 1), llm_model_n_vocab(m));
 *     ... feed `next` back as a one-entry batch, repeat ...
 *     llm_ctx_free(c); llm_model_free(m);
 *
 * Threads: a model is immutable after load and may be shared by any number of
 * threads and contexts. A context (and the sampler) belongs to one thread at a
 * time; llm_decode_batch uses OpenMP threads internally (ctx params).
 * Errors: functions return 0 / a count, or a negative LLM_ERR_* code;
 * llm_strerror() names it. Nothing here prints or exits.
 */
#ifndef KLLM_ENGINE_H
#define KLLM_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum llm_err {
    LLM_OK = 0,
    LLM_ERR_IO = -1,          /* cannot open / read / map the file */
    LLM_ERR_FORMAT = -2,      /* not GGUF, or corrupt / truncated */
    LLM_ERR_UNSUPPORTED = -3, /* valid GGUF, but an architecture or type we do not run */
    LLM_ERR_NOMEM = -4,
    LLM_ERR_ARG = -5,      /* bad argument (token id out of range, bad seq, ...) */
    LLM_ERR_CTX_FULL = -6, /* a sequence would exceed the context size */
    LLM_ERR_NOSPACE = -7,  /* output buffer too small */
};

const char *llm_strerror(int err);

/* ---- model ---- */
struct llm_model;

/* Load a GGUF model. On success *out owns the model (free with
 * llm_model_free). On failure returns LLM_ERR_* and writes a one-line reason
 * into errbuf (if errbuf != NULL). */
int llm_model_load(const char *path, struct llm_model **out, char *errbuf, size_t errlen);
void llm_model_free(struct llm_model *m);

struct llm_model_info {
    char arch[32];
    char name[128];
    int32_t n_vocab;
    int32_t n_ctx_train;
    int32_t dim;
    int32_t n_layers;
    int32_t n_heads;
    int32_t n_kv_heads;
    int32_t head_dim;
    int32_t ffn_dim;
    int32_t rope_dim;
    float rope_freq_base;
    float rms_eps;
    int32_t bos_id;
    int32_t eos_id;
    int32_t unk_id;
    int32_t weight_type; /* enum llm_type of the attention matrices */
    uint64_t n_params;
    uint64_t file_size;
    char vocab_kind[16]; /* "spm" (SentencePiece) or "bpe" (byte-level BPE) */
    char vocab_pre[32];  /* BPE pre-tokenizer (tokenizer.ggml.pre), "" for SPM */
};
void llm_model_get_info(const struct llm_model *m, struct llm_model_info *info);
int32_t llm_model_n_vocab(const struct llm_model *m);
/* counts[t] = how many of the file's tensors have type t (t < n; the quant
 * mix of a Q4_K_M file, say). Returns the number of tensors. */
int32_t llm_model_type_counts(const struct llm_model *m, int32_t *counts, int32_t n);
/* The GGUF tokenizer.chat_template string, or NULL. Owned by the model. */
const char *llm_model_chat_template(const struct llm_model *m);

/* ---- tokenizer ---- */

/* Tokenize `len` bytes of UTF-8 text. add_bos frames the text as a prompt
 * the way the model's metadata asks: BOS first when the vocabulary adds one
 * (tokenizer.ggml.add_bos_token; default true for SentencePiece and the
 * llama-bpe / tekken pre-tokenizers, false for other BPE: Qwen has none),
 * EOS last when tokenizer.ggml.add_eos_token says so. llm_vocab_add_bos
 * tells which. Returns the number of tokens (which may exceed cap: then only
 * cap were written and the caller should retry with a larger buffer), or
 * LLM_ERR_* (LLM_ERR_NOMEM; LLM_ERR_ARG for bad arguments). Bytes that are
 * not UTF-8 are encoded as their byte tokens. Any thread. */
int32_t llm_tokenize(const struct llm_model *m, const char *text, size_t len, bool add_bos,
                     int32_t *out, int32_t cap);

/* As llm_tokenize, with flags: LLM_TOKENIZE_BOS is llm_tokenize's add_bos;
 * LLM_TOKENIZE_SPECIAL turns the text of control and user-defined tokens
 * (e.g. "<|im_start|>", "</s>") into their ids instead of encoding it as
 * text — for rendered chat templates, never for untrusted user text alone.
 * Without it such text is ordinary characters. */
enum llm_tokenize_flags { LLM_TOKENIZE_BOS = 1u, LLM_TOKENIZE_SPECIAL = 2u };
int32_t llm_tokenize_ex(const struct llm_model *m, const char *text, size_t len, uint32_t flags,
                        int32_t *out, int32_t cap);

/* True when special parsing drops the whitespace after tok (Phi-3 files:
 * the reference strips it after their special tokens); a caller that
 * tokenizes a prompt in pieces around special tokens must do the same. */
bool llm_token_rstrip(const struct llm_model *m, int32_t tok);

/* Bytes a token stands for when it follows `prev` (-1 at the start) in the
 * output: raw bytes, not always whole UTF-8 characters (a byte-level BPE
 * token, or an SPM byte token, may end inside one: a streaming caller holds
 * an unfinished character back until the next piece). The SentencePiece
 * leading space is dropped after BOS; control tokens give nothing;
 * user-defined tokens give their text. Writes at most cap bytes, no NUL.
 * Returns the byte count, LLM_ERR_NOSPACE, or LLM_ERR_ARG for a bad id. */
int32_t llm_token_to_piece(const struct llm_model *m, int32_t prev, int32_t tok, char *buf,
                           size_t cap);
/* True for the tokens that end generation: EOS, EOT, EOM and the tokens
 * llama.cpp ends on by their text (<|eot_id|>, <|im_end|>, <|endoftext|>,
 * <end_of_turn>, ..., and the FIM pad / repo / file-separator tokens). */
bool llm_token_is_eog(const struct llm_model *m, int32_t tok);
/* The end-of-generation ids in increasing order: writes min(count, cap)
 * into out and returns the count. */
int32_t llm_vocab_eog(const struct llm_model *m, int32_t *out, int32_t cap);
/* Whether add_bos / LLM_TOKENIZE_BOS puts a BOS token first. */
bool llm_vocab_add_bos(const struct llm_model *m);
/* "spm" or "bpe"; and the BPE pre-tokenizer name ("" for SPM). Owned by
 * the model. */
const char *llm_vocab_kind(const struct llm_model *m);
const char *llm_vocab_pre(const struct llm_model *m);
int32_t llm_token_bos(const struct llm_model *m); /* -1: the vocabulary has none */
int32_t llm_token_eos(const struct llm_model *m);

/* ---- context: KV caches for up to n_seq sequences ---- */
struct llm_ctx;

struct llm_ctx_params {
    int32_t n_ctx;     /* positions per sequence (0: min(model's, 4096)) */
    int32_t n_seq;     /* sequences decoded together (continuous batching) */
    int32_t n_batch;   /* most tokens in one llm_decode_batch call */
    int32_t n_threads; /* 0: all available cores */
};
struct llm_ctx_params llm_ctx_default_params(void);

/* Returns NULL on allocation failure or bad params. All memory the decode
 * loop needs is allocated here. The model must outlive the context. */
struct llm_ctx *llm_ctx_new(const struct llm_model *m, const struct llm_ctx_params *p);
void llm_ctx_free(struct llm_ctx *c);
const struct llm_model *llm_ctx_model(const struct llm_ctx *c);
int32_t llm_ctx_n_ctx(const struct llm_ctx *c);
int32_t llm_ctx_n_seq(const struct llm_ctx *c);
int32_t llm_ctx_n_batch(const struct llm_ctx *c);

/* Forget a sequence's KV cache (its next token is at position 0). */
int llm_seq_reset(struct llm_ctx *c, int32_t seq);
/* Number of positions the sequence holds. */
int32_t llm_seq_len(const struct llm_ctx *c, int32_t seq);

/* One step: entry i appends tokens[i] to sequence seq[i] at that sequence's
 * next position. Entries of one sequence must appear in order. logits[i]
 * nonzero asks for that entry's logits (NULL: only the last entry). The
 * arrays are read during the call only. Returns 0 or LLM_ERR_* (on error no
 * sequence has advanced). */
struct llm_batch {
    int32_t n;
    const int32_t *tokens;
    const int32_t *seq;
    const int8_t *logits;
};
int llm_decode_batch(struct llm_ctx *c, const struct llm_batch *b);
/* Logits (n_vocab floats) of batch entry i of the last decode; NULL when that
 * entry asked for none. Valid until the next decode. */
const float *llm_get_logits(const struct llm_ctx *c, int32_t i);

/* ---- sampling ---- */
/* Added to a token's logit before anything else (OpenAI's logit_bias). */
struct llm_logit_bias {
    int32_t token;
    float bias;
};
struct llm_sampler_params {
    float temperature;    /* <= 0: greedy */
    int32_t top_k;        /* <= 0: off */
    float top_p;          /* >= 1: off */
    float min_p;          /* <= 0: off */
    float repeat_penalty; /* 1: off */
    int32_t repeat_last_n;
    uint64_t seed;
    /* copied by llm_sampler_new; tokens outside the vocabulary are ignored */
    const struct llm_logit_bias *logit_bias;
    int32_t n_logit_bias;
};
struct llm_sampler_params llm_sampler_default_params(void);
struct llm_sampler;
struct llm_sampler *llm_sampler_new(const struct llm_sampler_params *p, int32_t n_vocab);
void llm_sampler_free(struct llm_sampler *s);
/* Remember a token (prompt or generated) for the repetition penalty. */
void llm_sampler_accept(struct llm_sampler *s, int32_t tok);
void llm_sampler_reset(struct llm_sampler *s);
/* Pick a token from logits (not modified). Allocation-free. */
int32_t llm_sampler_sample(struct llm_sampler *s, const float *logits);
/* Index of the largest value; ties go to the lowest index. */
int32_t llm_argmax(const float *logits, int32_t n);

/* ---- tools: inspection and synthetic models (used by the CLI and tests) ---- */

/* Describe a GGUF file line by line (header, metadata, tensor table); each
 * line (no newline) goes to `line`. Arrays are summarised. Returns 0 or
 * LLM_ERR_* with a reason in err. Never reads outside the file. */
int llm_gguf_inspect(const char *path, void (*line)(void *ud, const char *text), void *ud,
                     char *err, size_t errlen);

/* Write a GGUF of any supported architecture with random weights: N(0,
 * scale^2) matrices, norms 1 (q/k and post norms 1 + N(0, 0.01)). The
 * tokenizer is copied from vocab_from (a GGUF), or a byte-level vocabulary of
 * 259 tokens is made when it is NULL. Deterministic in the seed. */
enum llm_mix { /* K-quant mixes for llm_make_params.type, as the reference quantizer names them */
               LLM_MIX_Q2_K = 1000,
               LLM_MIX_Q3_K_S,
               LLM_MIX_Q3_K_M,
               LLM_MIX_Q3_K_L,
               LLM_MIX_Q4_K_S,
               LLM_MIX_Q4_K_M,
               LLM_MIX_Q5_K_S,
               LLM_MIX_Q5_K_M,
};
struct llm_make_params {
    const char *out_path;
    int32_t type; /* LLM_TYPE_* of every matrix, or an LLM_MIX_* */
    int32_t dim, n_layers, n_heads, n_kv_heads, ffn_dim;
    int32_t n_ctx; /* context_length to record (0: 2048) */
    const char *vocab_from;
    uint64_t seed;
    float scale;          /* 0: 0.02 */
    const char *arch;     /* llama (NULL), qwen2, qwen3, phi3, gemma2, gemma3 */
    int32_t head_dim;     /* 0: dim / n_heads */
    float rope_base;      /* 0: the family's usual base */
    int32_t n_swa;        /* gemma sliding window (0: gemma2's 4096; gemma3: no window) */
    int32_t rope_factors; /* llama: Llama 3.1 rope_freqs; phi3: LongRoPE factors */
    int32_t tied;         /* no output.weight: the embedding is the output (gemma2 always) */
};
int llm_make_model(const struct llm_make_params *p, char *err, size_t errlen);
/* The llm_make_params.type of a name as `kllm make-model --type` spells it
 * ("f16", "q4_k", "q4_k_m", ...), or -1 for an unknown name. */
int32_t llm_make_type(const char *name);

/* ---- tensor types (GGUF / ggml ids) ---- */
enum llm_type {
    LLM_TYPE_F32 = 0,
    LLM_TYPE_F16 = 1,
    LLM_TYPE_Q4_0 = 2,
    LLM_TYPE_Q4_1 = 3,
    LLM_TYPE_Q5_0 = 6,
    LLM_TYPE_Q5_1 = 7,
    LLM_TYPE_Q8_0 = 8,
    LLM_TYPE_Q8_1 = 9, /* activations only (the dot type of Q4_1, Q5_1) */
    LLM_TYPE_Q2_K = 10,
    LLM_TYPE_Q3_K = 11,
    LLM_TYPE_Q4_K = 12,
    LLM_TYPE_Q5_K = 13,
    LLM_TYPE_Q6_K = 14,
    LLM_TYPE_Q8_K = 15, /* activations only (the dot type of the K-quants, IQ4_XS) */
    LLM_TYPE_IQ4_NL = 20,
    LLM_TYPE_IQ4_XS = 23,
    LLM_TYPE_BF16 = 30,
};
const char *llm_type_name(int32_t type);

#ifdef __cplusplus
}
#endif
#endif
