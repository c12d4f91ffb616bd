/* vocab: loads the GGUF tokenizer.ggml.* metadata into struct vocab (see
 * vocab.h): the token table with its string -> id hash, token types, the
 * special ids, the BOS/EOS policy and the end-of-generation set; then hands
 * the kind-specific part to tok_bpe.c.
 *
 * Special ids and the end-of-generation set follow llama.cpp's derivation,
 * since GGUF files are written for it: ids from metadata, then tokens
 * found by their text where metadata names none.
 */
#include "vocab.h"
#include "kllm/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t hash_step(uint32_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u; /* FNV-1a */
    return h;
}
#define HASH_SEED 2166136261u

int32_t vocab_find2(const struct vocab *v, const char *a, size_t alen, const char *b, size_t blen)
{
    uint32_t mask = v->hash_cap - 1;
    for (uint32_t i = hash_step(hash_step(HASH_SEED, a, alen), b, blen) & mask;;
         i = (i + 1) & mask) {
        int32_t id = v->hash[i];
        if (id < 0) return -1;
        if (v->len[id] == alen + blen && memcmp(v->text[id], a, alen) == 0 &&
            memcmp(v->text[id] + alen, b, blen) == 0)
            return id;
    }
}

int32_t vocab_find(const struct vocab *v, const char *s, size_t len)
{
    return vocab_find2(v, s, len, "", 0);
}

/* Reads an optional token id. Absent: *id keeps its default. Present but
 * not an integer or out of range: an error naming the key, since a wrong
 * BOS or EOS would silently corrupt every prompt or never stop. */
static int get_id(const struct gguf_file *f, const char *key, int32_t n, int32_t *id, char *err,
                  size_t errlen)
{
    if (!gguf_find(f, key)) return 0;
    uint32_t u;
    if (gguf_get_u32(f, key, &u) < 0) {
        snprintf(err, errlen, "%s is not a token id", key);
        return LLM_ERR_FORMAT;
    }
    if ((int64_t)u >= n) {
        snprintf(err, errlen, "%s = %u is out of range (vocabulary of %d)", key, u, (int)n);
        return LLM_ERR_FORMAT;
    }
    *id = (int32_t)u;
    return 0;
}

static int get_bool(const struct gguf_file *f, const char *key, int *out, char *err, size_t errlen)
{
    if (!gguf_find(f, key)) return 0;
    if (gguf_get_bool(f, key, out) < 0) {
        snprintf(err, errlen, "%s is not a bool", key);
        return LLM_ERR_FORMAT;
    }
    return 0;
}

/* The token with the first of names[] that the vocabulary has, or -1
 * (llama.cpp takes whichever its hash map yields first; list order is at
 * least deterministic and puts the usual end-of-turn marker first). */
static int32_t find_any(const struct vocab *v, const char *const *names)
{
    for (; *names; names++) {
        int32_t id = vocab_find(v, *names, strlen(*names));
        if (id >= 0) return id;
    }
    return -1;
}

/* Token texts llama.cpp recognises (llama-vocab.cpp, load()). */
static const char *const eot_names[] = {"<|eot_id|>",
                                        "<|im_end|>",
                                        "<|end|>",
                                        "<end_of_turn>",
                                        "<|endoftext|>",
                                        "<|end_of_text|>",
                                        "<EOT>",
                                        "_<EOT>",
                                        "<\xef\xbd\x9c"
                                        "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
                                        "<end_of_utterance>",
                                        NULL};
static const char *const eom_names[] = {"<|eom_id|>", NULL};
static const char *const fim_pad_names[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", NULL};
static const char *const fim_rep_names[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                            "<REPO>",       "<reponame>",    NULL};
static const char *const fim_sep_names[] = {"<|file_sep|>", NULL};
/* Every token with one of these texts ends generation (and is treated as
 * a control token even where the file's type says otherwise). */
static const char *const eog_names[] = {
    "<|eot_id|>",      "<|im_end|>",         "<|end|>",    "<|return|>", "<|call|>",
    "<end_of_turn>",   "<|endoftext|>",      "<|eom_id|>", "<EOT>",      "_<EOT>",
    "<|end_of_text|>", "<end_of_utterance>", NULL};

static int eog_add(struct vocab *v, int32_t id)
{
    if (id < 0) return 0;
    for (int32_t i = 0; i < v->n_eog; i++)
        if (v->eog[i] == id) return 0;
    v->eog[v->n_eog++] = id;
    return 0;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The end-of-generation set: the FIM pad/repo/separator tokens, every
 * token with an EOG text, then EOS, EOT and EOM. */
static int derive_eog(struct vocab *v, const struct gguf_file *f, char *err, size_t errlen)
{
    int32_t fim_pad = -1, fim_rep = -1, fim_sep = -1;
    int rc;
    if ((rc = get_id(f, "tokenizer.ggml.fim_pad_token_id", v->n, &fim_pad, err, errlen)) < 0 ||
        (rc = get_id(f, "tokenizer.ggml.fim_rep_token_id", v->n, &fim_rep, err, errlen)) < 0 ||
        (rc = get_id(f, "tokenizer.ggml.fim_sep_token_id", v->n, &fim_sep, err, errlen)) < 0)
        return rc;
    /* Found by text: these are control tokens whatever the file says. */
    int32_t *found[] = {&v->eot, &v->eom, &fim_pad, &fim_rep, &fim_sep};
    const char *const *names[] = {eot_names, eom_names, fim_pad_names, fim_rep_names,
                                  fim_sep_names};
    for (size_t k = 0; k < sizeof found / sizeof found[0]; k++) {
        if (*found[k] >= 0) continue;
        *found[k] = find_any(v, names[k]);
        if (*found[k] >= 0) v->type[*found[k]] = TOK_CONTROL;
    }
    /* Capacity: the named tokens (each text names one id) plus six ids. */
    size_t cap = sizeof eog_names / sizeof eog_names[0] + 6;
    v->eog = malloc(sizeof *v->eog * cap);
    if (!v->eog) return LLM_ERR_NOMEM;
    eog_add(v, fim_pad);
    eog_add(v, fim_rep);
    eog_add(v, fim_sep);
    int32_t end_id = -1;
    int has_return = 0, has_call = 0;
    for (const char *const *s = eog_names; *s; s++) {
        int32_t id = vocab_find(v, *s, strlen(*s));
        if (id < 0) continue;
        eog_add(v, id);
        v->type[id] = TOK_CONTROL;
        if (strcmp(*s, "<|end|>") == 0) end_id = id;
        if (strcmp(*s, "<|return|>") == 0) has_return = 1;
        if (strcmp(*s, "<|call|>") == 0) has_call = 1;
    }
    /* The o200k "harmony" format ends a message with <|end|> but a turn with
     * <|return|> or <|call|>: there <|end|> is an ordinary marker. */
    if (has_return && has_call && end_id >= 0) {
        for (int32_t i = 0; i < v->n_eog; i++) {
            if (v->eog[i] == end_id) {
                v->eog[i] = v->eog[--v->n_eog];
                break;
            }
        }
        v->type[end_id] = TOK_USER;
    }
    eog_add(v, v->eos);
    eog_add(v, v->eot);
    eog_add(v, v->eom);
    qsort(v->eog, (size_t)v->n_eog, sizeof *v->eog, cmp_i32);
    return 0;
}

static int load_tokens(struct vocab *v, const struct gguf_file *f, char *err, size_t errlen)
{
    const struct gguf_kv *toks = gguf_find(f, "tokenizer.ggml.tokens");
    const struct gguf_kv *scores = gguf_find(f, "tokenizer.ggml.scores");
    const struct gguf_kv *types = gguf_find(f, "tokenizer.ggml.token_type");
    if (!toks || toks->type != GGUF_ARR || toks->arr_type != GGUF_STR || toks->arr_n == 0 ||
        toks->arr_n > (1u << 24)) {
        snprintf(err, errlen, "tokenizer.ggml.tokens missing or not a string array");
        return LLM_ERR_FORMAT;
    }
    int32_t n = (int32_t)toks->arr_n;
    if (scores && (scores->type != GGUF_ARR || scores->arr_type != GGUF_F32 ||
                   scores->arr_n != (uint64_t)n)) {
        snprintf(err, errlen, "tokenizer.ggml.scores must be %d f32 values", n);
        return LLM_ERR_FORMAT;
    }
    if (types &&
        (types->type != GGUF_ARR || types->arr_type != GGUF_I32 || types->arr_n != (uint64_t)n)) {
        snprintf(err, errlen, "tokenizer.ggml.token_type must be %d i32 values", n);
        return LLM_ERR_FORMAT;
    }
    /* Pool size: total string bytes plus a NUL each (bounded by the file). */
    size_t pool_size = 0;
    const uint8_t *p = toks->val;
    for (int32_t i = 0; i < n; i++) pool_size += gguf_next_str(&p).len + 1;

    v->n = n;
    v->text = calloc((size_t)n, sizeof *v->text);
    v->len = calloc((size_t)n, sizeof *v->len);
    v->score = calloc((size_t)n, sizeof *v->score);
    v->type = calloc((size_t)n, 1);
    v->pool = malloc(pool_size);
    v->hash_cap = 1;
    while (v->hash_cap < (uint32_t)n * 2) v->hash_cap <<= 1;
    v->hash = malloc(v->hash_cap * sizeof *v->hash);
    v->special = malloc(sizeof *v->special * (size_t)n);
    if (!v->text || !v->len || !v->score || !v->type || !v->pool || !v->hash || !v->special)
        return LLM_ERR_NOMEM;
    memset(v->hash, 0xff, v->hash_cap * sizeof *v->hash);

    char *dst = v->pool;
    p = toks->val;
    uint32_t mask = v->hash_cap - 1;
    for (int32_t i = 0; i < n; i++) {
        struct gguf_str s = gguf_next_str(&p);
        memcpy(dst, s.ptr, s.len);
        dst[s.len] = '\0';
        v->text[i] = dst;
        v->len[i] = (uint32_t)s.len;
        dst += s.len + 1;
        if (scores) memcpy(&v->score[i], scores->val + 4 * (size_t)i, 4);
        int32_t t = TOK_NORMAL;
        if (types) memcpy(&t, types->val + 4 * (size_t)i, 4);
        v->type[i] = (uint8_t)(t >= 1 && t <= 6 ? t : TOK_NORMAL);
        /* First occurrence wins, like a map insert. */
        for (uint32_t h = hash_step(HASH_SEED, s.ptr, s.len) & mask;; h = (h + 1) & mask) {
            int32_t id = v->hash[h];
            if (id < 0) {
                v->hash[h] = i;
                break;
            }
            if (v->len[id] == s.len && memcmp(v->text[id], s.ptr, s.len) == 0) break;
        }
    }
    return 0;
}

/* "<0xNN>" -> NN, or -1. */
static int parse_byte_token(const char *s, uint32_t len)
{
    if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int b = 0;
    for (int k = 3; k < 5; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        b = b * 16 + d;
    }
    return b;
}

/* The reference recognises Phi-3 by general.name ("phi-3" or "phi3", any
 * case) and strips the whitespace after its special tokens, except after
 * <unk>, <s> and <|endoftext|>. */
static int phi3_rstrip(struct vocab *v, const struct gguf_file *f)
{
    struct gguf_str name;
    char low[256];
    if (gguf_get_str(f, "general.name", &name) < 0) return 0;
    size_t n = name.len < sizeof low - 1 ? (size_t)name.len : sizeof low - 1;
    for (size_t i = 0; i < n; i++) {
        char c = name.ptr[i];
        low[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    low[n] = '\0';
    if (!strstr(low, "phi-3") && !strstr(low, "phi3")) return 0;
    v->rstrip = calloc((size_t)v->n, 1);
    if (!v->rstrip) return LLM_ERR_NOMEM;
    for (int32_t k = 0; k < v->n_special; k++) v->rstrip[v->special[k]] = 1;
    static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
    int32_t eos = vocab_find(v, "</s>", 4);
    if (eos >= 0) v->rstrip[eos] = 1;
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        int32_t id = vocab_find(v, keep[i], strlen(keep[i]));
        if (id >= 0) v->rstrip[id] = 0;
    }
    return 0;
}

int vocab_load(struct vocab *v, const struct gguf_file *f, char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    for (int i = 0; i < 256; i++) v->byte_tok[i] = -1;
    struct gguf_str model;
    int rc;
    if (gguf_get_str(f, "tokenizer.ggml.model", &model) < 0) {
        snprintf(err, errlen, "no tokenizer.ggml.model in the file");
        return LLM_ERR_FORMAT;
    }
    if (gguf_str_eq(model, "llama")) {
        v->kind = VOCAB_SPM;
    } else if (gguf_str_eq(model, "gpt2")) {
        v->kind = VOCAB_BPE;
    } else {
        snprintf(err, errlen, "tokenizer '%.*s' is not supported (llama, gpt2 are)",
                 (int)(model.len > 32 ? 32 : model.len), model.ptr);
        return LLM_ERR_UNSUPPORTED;
    }
    if ((rc = load_tokens(v, f, err, errlen)) < 0) goto out;
    int32_t n = v->n;

    /* Defaults where the file names no id: llama.cpp's, per kind (BPE's 11
     * is GPT-2's "," placeholder it inherited; real files always set them). */
    if (v->kind == VOCAB_SPM) {
        v->bos = 1 < n ? 1 : -1;
        v->eos = 2 < n ? 2 : -1;
        v->unk = 0;
        v->add_bos = 1;
        v->add_space_prefix = 1;
    } else {
        v->bos = v->eos = 11 < n ? 11 : -1;
        v->unk = -1;
    }
    v->eot = v->eom = -1;
    if (v->kind == VOCAB_SPM) {
        for (int32_t i = 0; i < n; i++) {
            int b = v->type[i] == TOK_BYTE ? parse_byte_token(v->text[i], v->len[i]) : -1;
            if (b >= 0) v->byte_tok[b] = i;
        }
    } else if ((rc = bpe_load(v, f, err, errlen)) < 0) {
        goto out;
    }
    if ((rc = get_id(f, "tokenizer.ggml.bos_token_id", n, &v->bos, err, errlen)) < 0 ||
        (rc = get_id(f, "tokenizer.ggml.eos_token_id", n, &v->eos, err, errlen)) < 0 ||
        (rc = get_id(f, "tokenizer.ggml.unknown_token_id", n, &v->unk, err, errlen)) < 0 ||
        (rc = get_id(f, "tokenizer.ggml.eot_token_id", n, &v->eot, err, errlen)) < 0 ||
        (rc = get_id(f, "tokenizer.ggml.eom_token_id", n, &v->eom, err, errlen)) < 0 ||
        (rc = get_bool(f, "tokenizer.ggml.add_bos_token", &v->add_bos, err, errlen)) < 0 ||
        (rc = get_bool(f, "tokenizer.ggml.add_eos_token", &v->add_eos, err, errlen)) < 0 ||
        (rc = get_bool(f, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix, err, errlen)) <
            0)
        goto out;
    if (v->kind == VOCAB_BPE) v->add_space_prefix = 0; /* byte-level BPE has no space mark */
    if ((rc = derive_eog(v, f, err, errlen)) < 0) goto out;

    /* After derive_eog: it may turn tokens into control tokens. */
    for (int32_t i = 0; i < n; i++) {
        if ((v->type[i] == TOK_CONTROL || v->type[i] == TOK_USER) && v->len[i] > 0) {
            v->special[v->n_special++] = i;
            uint8_t c = (uint8_t)v->text[i][0];
            v->special_first[c >> 3] |= (uint8_t)(1u << (c & 7));
        }
    }
    if ((rc = phi3_rstrip(v, f)) < 0) goto out;
    return 0;
out:
    if (rc == LLM_ERR_NOMEM) snprintf(err, errlen, "out of memory loading the vocabulary");
    vocab_free(v);
    return rc;
}

void vocab_free(struct vocab *v)
{
    free(v->text);
    free(v->len);
    free(v->score);
    free(v->type);
    free(v->pool);
    free(v->hash);
    free(v->special);
    free(v->eog);
    free(v->rstrip);
    bpe_free(v->bpe);
    memset(v, 0, sizeof *v);
}

/* ---- the merge queue of both tokenizers ---- */

static int pair_before(const struct tok_pair *a, const struct tok_pair *b)
{
    return a->prio > b->prio || (a->prio == b->prio && a->left < b->left);
}

void tok_heap_push(struct tok_pair *h, int32_t *n, struct tok_pair x)
{
    int32_t i = (*n)++;
    h[i] = x;
    while (i > 0) {
        int32_t parent = (i - 1) / 2;
        if (!pair_before(&h[i], &h[parent])) break;
        struct tok_pair t = h[i];
        h[i] = h[parent];
        h[parent] = t;
        i = parent;
    }
}

struct tok_pair tok_heap_pop(struct tok_pair *h, int32_t *n)
{
    struct tok_pair top = h[0];
    h[0] = h[--(*n)];
    int32_t i = 0;
    for (;;) {
        int32_t l = 2 * i + 1, r = l + 1, best = i;
        if (l < *n && pair_before(&h[l], &h[best])) best = l;
        if (r < *n && pair_before(&h[r], &h[best])) best = r;
        if (best == i) break;
        struct tok_pair t = h[i];
        h[i] = h[best];
        h[best] = t;
        i = best;
    }
    return top;
}
