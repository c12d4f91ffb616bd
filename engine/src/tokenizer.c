/* tokenizer: SentencePiece (BPE-by-score) tokenization from the GGUF
 * vocabulary (tokenizer.ggml.tokens/scores/token_type).
 *
 * Encoding: spaces become U+2581 ("▁") and one is prepended; the text is
 * split into UTF-8 characters; the adjacent pair whose concatenation is a
 * vocabulary entry with the highest score is merged (leftmost on ties) until
 * no pair merges; a symbol left outside the vocabulary becomes its bytes'
 * <0xNN> tokens (or UNK).
 */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPACE_MARK "\xe2\x96\x81" /* U+2581 */

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

int32_t vocab_find(const struct vocab *v, const char *s, size_t len)
{
    uint32_t mask = v->hash_cap - 1;
    for (uint32_t i = hash_bytes(s, len) & mask;; i = (i + 1) & mask) {
        int32_t id = v->hash[i];
        if (id < 0) return -1;
        if (v->len[id] == len && memcmp(v->text[id], s, len) == 0) return id;
    }
}

static int32_t get_id(const struct gguf_file *f, const char *key, int32_t def, int32_t n)
{
    uint32_t u;
    if (gguf_get_u32(f, key, &u) < 0 || (int64_t)u >= n) return def;
    return (int32_t)u;
}

int vocab_load(struct vocab *v, const struct gguf_file *f, char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    struct gguf_str model;
    if (gguf_get_str(f, "tokenizer.ggml.model", &model) < 0) {
        snprintf(err, errlen, "no tokenizer.ggml.model in the file");
        return LLM_ERR_FORMAT;
    }
    if (!gguf_str_eq(model, "llama")) {
        snprintf(err, errlen, "tokenizer '%.*s' is not supported (SentencePiece 'llama' is)",
                 (int)(model.len > 32 ? 32 : model.len), model.ptr);
        return LLM_ERR_UNSUPPORTED;
    }
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
    /* Pool size: total string bytes plus a NUL each. */
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
    if (!v->text || !v->len || !v->score || !v->type || !v->pool || !v->hash) {
        vocab_free(v);
        return LLM_ERR_NOMEM;
    }
    memset(v->hash, 0xff, v->hash_cap * sizeof *v->hash);
    for (int i = 0; i < 256; i++) v->byte_tok[i] = -1;

    char *dst = v->pool;
    p = toks->val;
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
        uint32_t mask = v->hash_cap - 1;
        for (uint32_t h = hash_bytes(s.ptr, s.len) & mask;; h = (h + 1) & mask) {
            int32_t id = v->hash[h];
            if (id < 0) {
                v->hash[h] = i;
                break;
            }
            if (v->len[id] == s.len && memcmp(v->text[id], s.ptr, s.len) == 0) break;
        }
        unsigned byte;
        if (v->type[i] == TOK_BYTE && s.len == 6 && sscanf(v->text[i], "<0x%02X>", &byte) == 1)
            v->byte_tok[byte & 0xff] = i;
    }
    /* Special tokens that text can name (for LLM_TOKENIZE_SPECIAL). */
    v->special = malloc(sizeof *v->special * (size_t)n);
    if (!v->special) {
        vocab_free(v);
        return LLM_ERR_NOMEM;
    }
    for (int32_t i = 0; i < n; i++) {
        if ((v->type[i] == TOK_CONTROL || v->type[i] == TOK_USER) && v->len[i] > 0)
            v->special[v->n_special++] = i;
    }
    v->bos = get_id(f, "tokenizer.ggml.bos_token_id", 1 < n ? 1 : 0, n);
    v->eos = get_id(f, "tokenizer.ggml.eos_token_id", 2 < n ? 2 : 0, n);
    v->unk = get_id(f, "tokenizer.ggml.unknown_token_id", 0, n);
    v->eot = get_id(f, "tokenizer.ggml.eot_token_id", -1, n);
    v->add_bos = 1;
    gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &v->add_bos);
    v->add_space_prefix = 1;
    gguf_get_bool(f, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix);
    return 0;
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
    memset(v, 0, sizeof *v);
}

/* ---- encoding ---- */

struct sym {
    int32_t prev, next;  /* linked list of live symbols; -1 ends */
    uint32_t start, len; /* byte range in the normalised text; len 0 = merged away */
};
struct bigram {
    int32_t left, right;
    float score;
    uint32_t len; /* combined length when queued, to detect stale entries */
};

/* Max-heap on (score, then lowest left index). */
static int bigram_before(const struct bigram *a, const struct bigram *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(struct bigram *h, int32_t *n, struct bigram b)
{
    int32_t i = (*n)++;
    h[i] = b;
    while (i > 0) {
        int32_t parent = (i - 1) / 2;
        if (!bigram_before(&h[i], &h[parent])) break;
        struct bigram t = h[i];
        h[i] = h[parent];
        h[parent] = t;
        i = parent;
    }
}

static struct bigram heap_pop(struct bigram *h, int32_t *n)
{
    struct bigram top = h[0];
    h[0] = h[--(*n)];
    int32_t i = 0;
    for (;;) {
        int32_t l = 2 * i + 1, r = l + 1, best = i;
        if (l < *n && bigram_before(&h[l], &h[best])) best = l;
        if (r < *n && bigram_before(&h[r], &h[best])) best = r;
        if (best == i) break;
        struct bigram t = h[i];
        h[i] = h[best];
        h[best] = t;
        i = best;
    }
    return top;
}

static void try_bigram(const struct vocab *v, const char *text, const struct sym *syms,
                       int32_t left, int32_t right, struct bigram *heap, int32_t *nheap)
{
    if (left < 0 || right < 0) return;
    uint32_t len = syms[left].len + syms[right].len;
    int32_t id = vocab_find(v, text + syms[left].start, len);
    if (id < 0) return;
    heap_push(heap, nheap, (struct bigram){left, right, v->score[id], len});
}

static uint32_t utf8_len(uint8_t c)
{
    static const uint8_t lens[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lens[c >> 4];
}

/* Emits tok into out (counting beyond cap without writing). */
static void emit(int32_t *out, int32_t cap, int32_t *n, int32_t tok)
{
    if (*n < cap) out[*n] = tok;
    (*n)++;
}

/* SentencePiece-encodes one run of plain text, appending to out (counting
 * past cap). prefix_space: prepend the space mark (start of input, or right
 * after a special token). Returns 0 or LLM_ERR_NOMEM. */
static int spm_encode(const struct vocab *v, const char *text, size_t len, int prefix_space,
                      int32_t *out, int32_t cap, int32_t *n_out)
{
    /* Normalise: prefix mark, spaces -> mark. At most 3 bytes per input byte + 3. */
    char *norm = malloc(len * 3 + 3);
    struct sym *syms = malloc(sizeof *syms * (len + 1));
    struct bigram *heap = malloc(sizeof *heap * (3 * (len + 1)));
    int rc = LLM_ERR_NOMEM;
    if (!norm || !syms || !heap) goto out;
    size_t nl = 0;
    if (prefix_space) {
        memcpy(norm, SPACE_MARK, 3);
        nl = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(norm + nl, SPACE_MARK, 3);
            nl += 3;
        } else {
            norm[nl++] = text[i];
        }
    }
    int32_t nsym = 0;
    for (uint32_t off = 0; off < nl;) {
        uint32_t cl = utf8_len((uint8_t)norm[off]);
        if (cl > nl - off) cl = (uint32_t)(nl - off);
        syms[nsym] = (struct sym){nsym - 1, nsym + 1, off, cl};
        nsym++;
        off += cl;
    }
    rc = 0;
    if (nsym == 0) goto out;
    syms[nsym - 1].next = -1;

    int32_t nheap = 0;
    for (int32_t i = 1; i < nsym; i++) try_bigram(v, norm, syms, i - 1, i, heap, &nheap);
    while (nheap > 0) {
        struct bigram b = heap_pop(heap, &nheap);
        struct sym *l = &syms[b.left], *r = &syms[b.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != b.len) continue; /* stale */
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) syms[r->next].prev = b.left;
        try_bigram(v, norm, syms, l->prev, b.left, heap, &nheap);
        try_bigram(v, norm, syms, b.left, l->next, heap, &nheap);
    }
    for (int32_t i = 0; i >= 0; i = syms[i].next) {
        int32_t id = vocab_find(v, norm + syms[i].start, syms[i].len);
        if (id >= 0) {
            emit(out, cap, n_out, id);
            continue;
        }
        for (uint32_t k = 0; k < syms[i].len; k++) {
            int32_t bt = v->byte_tok[(uint8_t)norm[syms[i].start + k]];
            emit(out, cap, n_out, bt >= 0 ? bt : v->unk);
        }
    }
out:
    free(norm);
    free(syms);
    free(heap);
    return rc;
}

/* The longest special (control or user-defined) token whose text starts
 * at text[0..len), or -1. */
static int32_t match_special(const struct vocab *v, const char *text, size_t len)
{
    int32_t best = -1;
    for (int32_t k = 0; k < v->n_special; k++) {
        int32_t id = v->special[k];
        uint32_t tl = v->len[id];
        if (tl <= len && (best < 0 || tl > v->len[best]) && memcmp(text, v->text[id], tl) == 0)
            best = id;
    }
    return best;
}

int32_t llm_tokenize_ex(const struct llm_model *m, const char *text, size_t len, uint32_t flags,
                        int32_t *out, int32_t cap)
{
    const struct vocab *v = &m->vocab;
    int32_t n_out = 0;
    if (len > (1u << 28) || cap < 0 || (cap > 0 && !out) || (len > 0 && !text)) return LLM_ERR_ARG;
    if (flags & LLM_TOKENIZE_BOS) emit(out, cap, &n_out, v->bos);
    /* Plain text runs between special tokens; a run gets the space prefix
     * at the start of the input and right after a special token. */
    int prev_special = 1;
    size_t run = 0;
    for (size_t i = 0; i <= len;) {
        int32_t sp = -1;
        if (i < len && (flags & LLM_TOKENIZE_SPECIAL)) sp = match_special(v, text + i, len - i);
        if (i < len && sp < 0) {
            i++;
            continue;
        }
        if (i > run) {
            int rc = spm_encode(v, text + run, i - run, v->add_space_prefix && prev_special, out,
                                cap, &n_out);
            if (rc < 0) return rc;
            prev_special = 0;
        }
        if (sp < 0) break; /* i == len */
        emit(out, cap, &n_out, sp);
        prev_special = 1;
        i += v->len[sp];
        run = i;
    }
    return n_out;
}

int32_t llm_tokenize(const struct llm_model *m, const char *text, size_t len, bool add_bos,
                     int32_t *out, int32_t cap)
{
    return llm_tokenize_ex(m, text, len, add_bos ? LLM_TOKENIZE_BOS : 0, out, cap);
}

/* ---- decoding ---- */

int32_t llm_token_to_piece(const struct llm_model *m, int32_t prev, int32_t tok, char *buf,
                           size_t cap)
{
    const struct vocab *v = &m->vocab;
    if (tok < 0 || tok >= v->n) return LLM_ERR_ARG;
    size_t n = 0;
    switch (v->type[tok]) {
    case TOK_CONTROL:
    case TOK_UNUSED: return 0;
    case TOK_BYTE:
        for (int b = 0; b < 256; b++) {
            if (v->byte_tok[b] == tok) {
                if (cap < 1) return LLM_ERR_NOSPACE;
                buf[0] = (char)b;
                return 1;
            }
        }
        return 0;
    default: break;
    }
    const char *s = v->text[tok];
    uint32_t len = v->len[tok];
    int strip = v->add_space_prefix && (prev < 0 || prev == v->bos);
    for (uint32_t i = 0; i < len;) {
        if (i + 3 <= len && memcmp(s + i, SPACE_MARK, 3) == 0) {
            i += 3;
            if (strip && n == 0) {
                strip = 0;
                continue;
            }
            if (n + 1 > cap) return LLM_ERR_NOSPACE;
            buf[n++] = ' ';
        } else {
            if (n + 1 > cap) return LLM_ERR_NOSPACE;
            buf[n++] = s[i++];
        }
        strip = 0;
    }
    return (int32_t)n;
}

bool llm_token_is_eog(const struct llm_model *m, int32_t tok)
{
    return tok == m->vocab.eos || (m->vocab.eot >= 0 && tok == m->vocab.eot);
}

int32_t llm_token_bos(const struct llm_model *m)
{
    return m->vocab.bos;
}
int32_t llm_token_eos(const struct llm_model *m)
{
    return m->vocab.eos;
}
