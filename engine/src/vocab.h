/* vocab: the tokenizer's vocabulary and its two encoders (engine internal).
 *
 *   vocab.c      loads tokenizer.ggml.* (tokens, types, special ids, BOS/EOS
 *                policy, the end-of-generation set) and owns struct vocab
 *   tok_spm.c    SentencePiece ("llama"): merges by score, <0xNN> fallback
 *   tok_bpe.c    byte-level BPE ("gpt2"): pre-tokenizer regexes (PCRE2),
 *                GPT-2 byte <-> code point mapping, merges by rank
 *   tokenizer.c  the public llm_tokenize* / llm_token_* front: special-token
 *                partition, then the encoder of the vocabulary's kind
 *
 * A loaded vocab is immutable and may be used by any number of threads at
 * once (each call allocates its own scratch). docs/internals/engine-tokenizer.md
 * describes the pipeline.
 */
#ifndef KLLM_VOCAB_H
#define KLLM_VOCAB_H

#include "gguf.h"

#include <stddef.h>
#include <stdint.h>

enum vocab_kind { VOCAB_SPM = 0, VOCAB_BPE = 1 };

/* tokenizer.ggml.token_type values. */
enum tok_type {
    TOK_NORMAL = 1,
    TOK_UNKNOWN = 2,
    TOK_CONTROL = 3,
    TOK_USER = 4,
    TOK_UNUSED = 5,
    TOK_BYTE = 6
};

struct bpe; /* tok_bpe.c: merges table and compiled pre-tokenizer */

struct vocab {
    int32_t n;
    int32_t kind;      /* enum vocab_kind */
    char pre[32];      /* BPE pre-tokenizer name ("" for SPM) */
    const char **text; /* n pointers into `pool`, NUL-terminated copies */
    uint32_t *len;
    float *score; /* SPM merge scores (0 when the file has none) */
    uint8_t *type;
    char *pool;
    int32_t *hash; /* open addressing: token id or -1; size hash_cap (power of 2) */
    uint32_t hash_cap;
    int32_t byte_tok[256]; /* SPM: id of <0xNN>, or -1 */
    int32_t *special;      /* ids of control / user-defined tokens, for LLM_TOKENIZE_SPECIAL */
    int32_t n_special;
    uint8_t special_first[32];       /* bitmap of the first bytes of special tokens' text */
    int32_t bos, eos, unk, eot, eom; /* -1: none */
    int32_t *eog;                    /* sorted ids that end generation */
    int32_t n_eog;
    int add_bos, add_eos, add_space_prefix;
    struct bpe *bpe; /* VOCAB_BPE only */
    /* rstrip[id]: with special parsing, whitespace after this token is
     * dropped (the reference's rule for Phi-3 files, whose tokenizer marks
     * its added tokens rstrip); NULL for every other vocabulary */
    uint8_t *rstrip;
};

/* Loads the vocabulary of f (which must outlive v only during the call:
 * everything is copied). Returns 0 or LLM_ERR_FORMAT / LLM_ERR_UNSUPPORTED
 * with a one-line reason in err, or LLM_ERR_NOMEM. On failure v is empty
 * and vocab_free(v) is still allowed. */
int vocab_load(struct vocab *v, const struct gguf_file *f, char *err, size_t errlen);
void vocab_free(struct vocab *v);
/* Id of the token whose text is exactly s[0..len), or -1. */
int32_t vocab_find(const struct vocab *v, const char *s, size_t len);
/* Id of the token whose text is a[0..alen) followed by b[0..blen), or -1. */
int32_t vocab_find2(const struct vocab *v, const char *a, size_t alen, const char *b, size_t blen);

/* Appends tok to out when it fits and counts it either way (callers report
 * the full count so that the caller of llm_tokenize can retry). */
static inline void vocab_emit(int32_t *out, int32_t cap, int32_t *n, int32_t tok)
{
    if (*n < cap) out[*n] = tok;
    (*n)++;
}

/* tok_spm.c. prefix_space: prepend the space mark (start of input, or
 * right after a special token). Returns 0 or LLM_ERR_NOMEM. */
int spm_encode(const struct vocab *v, const char *text, size_t len, int prefix_space, int32_t *out,
               int32_t cap, int32_t *n_out);
int32_t spm_piece(const struct vocab *v, int32_t prev, int32_t tok, char *buf, size_t cap);

/* tok_bpe.c. bpe_load reads tokenizer.ggml.merges and .pre into v->bpe
 * (after the tokens are loaded) and sets the pre-tokenizer's BOS default
 * in v->add_bos; errors as vocab_load. */
int bpe_load(struct vocab *v, const struct gguf_file *f, char *err, size_t errlen);
void bpe_free(struct bpe *b);
/* Encodes one run of plain text (no special tokens in it). Returns 0,
 * LLM_ERR_NOMEM, or LLM_ERR_ARG if the regex engine fails. */
int bpe_encode(const struct vocab *v, const char *text, size_t len, int32_t *out, int32_t cap,
               int32_t *n_out);
/* The raw bytes of a normal token (GPT-2 code points mapped back). */
int32_t bpe_piece(const struct vocab *v, int32_t tok, char *buf, size_t cap);

/* A candidate merge of adjacent symbols `left`, `right` in the tokenizers'
 * priority queues (tok_spm.c: prio = the merged token's score; tok_bpe.c:
 * prio = -rank): the highest prio first, then the leftmost pair. key[] is
 * what the tokenizer checks when the entry comes out to see whether it is
 * stale, res what the merge makes. */
struct tok_pair {
    int32_t left, right;
    double prio;
    int32_t key[2], res;
};
/* h has room for one more entry; *n counts the entries. */
void tok_heap_push(struct tok_pair *h, int32_t *n, struct tok_pair x);
/* Removes and returns the first entry; *n must be > 0. */
struct tok_pair tok_heap_pop(struct tok_pair *h, int32_t *n);

#endif
