/* tok_bpe: byte-level BPE for tokenizer.ggml.model = "gpt2" vocabularies
 * (Llama 3, Qwen 2/2.5/3, DeepSeek, Mistral Nemo, SmolLM, GPT-2, ...).
 *
 * Encoding one run of plain text:
 *   1. pre-tokenize: the regexes of tokenizer.ggml.pre cut the text into
 *      words, each regex re-cutting the pieces of the one before; matches
 *      and the gaps between them are both words (PCRE2, UTF + UCP);
 *   2. each byte of a word becomes one symbol: the token of its GPT-2 code
 *      point (bytes that print as themselves keep their value, the others
 *      are numbered from U+0100 up);
 *   3. the adjacent pair with the lowest merge rank (tokenizer.ggml.merges
 *      index; leftmost on ties) merges into the token of its concatenation,
 *      until no pair has a rank. Some pre-tokenizers (llama-bpe, tekken)
 *      first look the whole word up and emit it when it is a token.
 * Decoding maps a token's code points back to bytes; a token may end in the
 * middle of a UTF-8 character, so pieces are raw bytes.
 *
 * Merges are keyed by the ids of their two halves in a hash table (the
 * Llama 3 vocabulary has 280k of them). The compiled regexes are shared
 * by all threads; each call creates its own match data.
 */
#include "vocab.h"
#include "kllm/engine.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BPE_MAX_RE 6
#define BPE_N_CP 324 /* code points of the byte mapping are below 256 + 68 */
#define MKEY_EMPTY UINT64_MAX

struct bpe {
    pcre2_code *re[BPE_MAX_RE];
    int n_re;
    int ignore_merges;
    int32_t byte_tok[256]; /* token of byte b's code point, or -1 */
    char byte_utf8[256][2];
    uint8_t byte_len[256];
    int16_t cp_byte[BPE_N_CP]; /* code point -> byte, or -1 */
    uint64_t *mkey;            /* (left id << 32 | right id), or MKEY_EMPTY */
    int32_t *mrank, *mres;     /* merge rank and resulting token */
    uint32_t mbits;            /* table size 1 << mbits */
    int32_t n_merges;          /* usable merges (in the table) */
    int32_t n_skipped;         /* merges naming text that is not a token */
};

/* ---- pre-tokenizers by tokenizer.ggml.pre ---- */

#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_CONTRACTIONS "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
/* Llama 3 and Qwen 2 differ only in digits: runs of up to 3 vs single. The
 * Hugging Face originals say (?i:'s|...); spelled out here so that case
 * folding cannot reach characters such as U+017F that fold to 's'. */
#define RE_LLAMA3                                                                                  \
    RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"   \
                    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2                                                                                   \
    RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"        \
                    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_UPPER "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]"
#define RE_LOWER "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]"
#define RE_TEKKEN                                                                                  \
    "[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "*" RE_LOWER "+|[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER             \
    "+" RE_LOWER "*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_GPT4O                                                                                   \
    "[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "*" RE_LOWER "+" RE_CONTRACTIONS                             \
    "?|[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "+" RE_LOWER "*" RE_CONTRACTIONS                           \
    "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_CJK "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"
/* DeepSeek LLM: letters of cased scripts (its tokenizer.json lists them). */
#define RE_DEEPSEEK_LETTERS                                                                        \
    "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-"   \
    "\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}"  \
    "\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-"        \
    "\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-" \
    "\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}"        \
    "\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-"       \
    "\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-"         \
    "\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-"        \
    "\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}"         \
    "\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-"         \
    "\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}"         \
    "\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}"         \
    "\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}"        \
    "\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-"       \
    "\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}"  \
    "\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+"

struct pre_def {
    const char *names[12]; /* the first is the one error messages list */
    const char *re[BPE_MAX_RE];
    int ignore_merges; /* emit a whole word that is a token without merging */
    int add_bos;       /* default of tokenizer.ggml.add_bos_token */
    int no_bos;        /* the vocabulary has no BOS unless the file names one */
};

static const struct pre_def pre_defs[] = {
    {{"default"}, {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}, 0, 0, 0},
    {{"llama-bpe", "llama3", "llama-v3", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"},
     {RE_LLAMA3},
     1,
     1,
     0},
    {{"qwen2", "deepseek-r1-qwen", "kormo", "megrez", "stablelm2", "hunyuan", "grok-2"},
     {RE_QWEN2},
     0,
     0,
     0},
    {{"gpt-2", "phi-2", "mpt", "olmo", "jais", "exaone4", "trillion", "granite-docling", "gigachat",
      "mellum", "a.x-4.0"},
     {RE_GPT2},
     0,
     0,
     0},
    {{"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b"},
     {"\\p{N}", RE_GPT2},
     0,
     0,
     0},
    {{"deepseek-llm"},
     {"[\\r\\n]", RE_DEEPSEEK_LETTERS,
      "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
      "\\s+$", RE_CJK, "\\p{N}+"},
     0,
     0,
     0},
    {{"deepseek-coder"}, {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_CJK, "\\p{N}"}, 0, 0, 0},
    {{"deepseek-v3", "hunyuan-dense"},
     {"\\p{N}{1,3}", "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}"
      "\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     0,
     0,
     0},
    {{"tekken"}, {RE_TEKKEN}, 1, 1, 0},
    {{"gpt-4o", "llama4", "minimax-m2"}, {RE_GPT4O}, 0, 0, 0},
    {{"falcon"}, {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}, 0, 0, 0},
    {{"dbrx", "smaug-bpe"}, {RE_LLAMA3}, 0, 0, 0},
    {{"chatglm-bpe", "glm4"}, {RE_LLAMA3}, 0, 0, 1},
};

static const struct pre_def *pre_find(struct gguf_str name)
{
    for (size_t i = 0; i < sizeof pre_defs / sizeof pre_defs[0]; i++)
        for (int k = 0; k < 12 && pre_defs[i].names[k]; k++)
            if (gguf_str_eq(name, pre_defs[i].names[k])) return &pre_defs[i];
    return NULL;
}

static void pre_list(char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof pre_defs / sizeof pre_defs[0] && n < cap; i++) {
        int w = snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", pre_defs[i].names[0]);
        if (w < 0) break;
        n += (size_t)w;
    }
}

/* ---- the byte <-> code point mapping ---- */

static void byte_map_init(struct bpe *b)
{
    for (int c = 0; c < BPE_N_CP; c++) b->cp_byte[c] = -1;
    int extra = 0;
    for (int x = 0; x < 256; x++) {
        int prints = (x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || x >= 0xae;
        int cp = prints ? x : 256 + extra++;
        b->cp_byte[cp] = (int16_t)x;
        if (cp < 0x80) {
            b->byte_utf8[x][0] = (char)cp;
            b->byte_len[x] = 1;
        } else {
            b->byte_utf8[x][0] = (char)(0xc0 | (cp >> 6));
            b->byte_utf8[x][1] = (char)(0x80 | (cp & 0x3f));
            b->byte_len[x] = 2;
        }
    }
}

/* ---- merges ---- */

static uint32_t merge_slot(uint64_t key, uint32_t bits)
{
    return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> (64 - bits));
}

/* Table index of the merge (left, right), or -1. */
static int32_t merge_find(const struct bpe *b, int32_t left, int32_t right)
{
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    uint32_t mask = (1u << b->mbits) - 1;
    for (uint32_t i = merge_slot(key, b->mbits);; i = (i + 1) & mask) {
        if (b->mkey[i] == key) return (int32_t)i;
        if (b->mkey[i] == MKEY_EMPTY) return -1;
    }
}

static int load_merges(struct vocab *v, struct bpe *b, const struct gguf_file *f, char *err,
                       size_t errlen)
{
    const struct gguf_kv *kv = gguf_find(f, "tokenizer.ggml.merges");
    if (!kv) {
        snprintf(err, errlen, "tokenizer.ggml.merges missing (a BPE vocabulary needs it)");
        return LLM_ERR_FORMAT;
    }
    if (kv->type != GGUF_ARR || kv->arr_type != GGUF_STR || kv->arr_n > (1u << 24)) {
        snprintf(err, errlen, "tokenizer.ggml.merges is not an array of at most 2^24 strings");
        return LLM_ERR_FORMAT;
    }
    int32_t n = (int32_t)kv->arr_n;
    b->mbits = 1;
    while ((1u << b->mbits) < (uint32_t)n * 2) b->mbits++;
    size_t cap = (size_t)1 << b->mbits;
    b->mkey = malloc(sizeof *b->mkey * cap);
    b->mrank = malloc(sizeof *b->mrank * cap);
    b->mres = malloc(sizeof *b->mres * cap);
    if (!b->mkey || !b->mrank || !b->mres) return LLM_ERR_NOMEM;
    memset(b->mkey, 0xff, sizeof *b->mkey * cap);
    uint32_t mask = (uint32_t)cap - 1;
    const uint8_t *p = kv->val;
    for (int32_t i = 0; i < n; i++) {
        struct gguf_str s = gguf_next_str(&p);
        /* The halves are split at the first space after the first byte. */
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
        if (!sp) {
            snprintf(err, errlen, "tokenizer.ggml.merges[%d] is not two tokens and a space",
                     (int)i);
            return LLM_ERR_FORMAT;
        }
        size_t llen = (size_t)(sp - s.ptr), rlen = s.len - llen - 1;
        int32_t l = vocab_find(v, s.ptr, llen);
        int32_t r = vocab_find(v, sp + 1, rlen);
        int32_t res = vocab_find2(v, s.ptr, llen, sp + 1, rlen);
        /* A merge that names or makes text outside the vocabulary could only
         * produce a symbol without a token: leave it out. */
        if (l < 0 || r < 0 || res < 0) {
            b->n_skipped++;
            continue;
        }
        uint64_t key = (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
        for (uint32_t h = merge_slot(key, b->mbits);; h = (h + 1) & mask) {
            if (b->mkey[h] == key) break; /* a repeat: the lower rank stays */
            if (b->mkey[h] == MKEY_EMPTY) {
                b->mkey[h] = key;
                b->mrank[h] = i;
                b->mres[h] = res;
                b->n_merges++;
                break;
            }
        }
    }
    return 0;
}

int bpe_load(struct vocab *v, const struct gguf_file *f, char *err, size_t errlen)
{
    struct gguf_str name = {"default", 7};
    const struct gguf_kv *kv = gguf_find(f, "tokenizer.ggml.pre");
    if (kv && gguf_get_str(f, "tokenizer.ggml.pre", &name) < 0) {
        snprintf(err, errlen, "tokenizer.ggml.pre is not a string");
        return LLM_ERR_FORMAT;
    }
    const struct pre_def *def = pre_find(name);
    if (!def) {
        char names[160];
        pre_list(names, sizeof names);
        snprintf(err, errlen, "pre-tokenizer '%.*s' is not supported (%s)",
                 (int)(name.len > 32 ? 32 : name.len), name.ptr, names);
        return LLM_ERR_UNSUPPORTED;
    }
    snprintf(v->pre, sizeof v->pre, "%.*s", (int)name.len, name.ptr);
    struct bpe *b = calloc(1, sizeof *b);
    if (!b) return LLM_ERR_NOMEM;
    v->bpe = b; /* vocab_free frees it from here on */
    b->ignore_merges = def->ignore_merges;
    v->add_bos = def->add_bos;
    if (def->no_bos) v->bos = -1;
    byte_map_init(b);
    for (int x = 0; x < 256; x++) b->byte_tok[x] = vocab_find(v, b->byte_utf8[x], b->byte_len[x]);

    for (int k = 0; k < BPE_MAX_RE && def->re[k]; k++) {
        int code;
        PCRE2_SIZE at;
        b->re[k] =
            pcre2_compile((PCRE2_SPTR)def->re[k], PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY,
                          &code, &at, NULL);
        if (!b->re[k]) {
            PCRE2_UCHAR msg[120];
            pcre2_get_error_message(code, msg, sizeof msg);
            snprintf(err, errlen, "pre-tokenizer '%s' regex %d: %s at %zu", v->pre, k,
                     (const char *)msg, (size_t)at);
            return LLM_ERR_UNSUPPORTED;
        }
        b->n_re = k + 1;
        /* JIT is an optimisation only: the interpreter gives the same splits. */
        pcre2_jit_compile(b->re[k], PCRE2_JIT_COMPLETE);
    }
    return load_merges(v, b, f, err, errlen);
}

void bpe_free(struct bpe *b)
{
    if (!b) return;
    for (int k = 0; k < b->n_re; k++) pcre2_code_free(b->re[k]);
    free(b->mkey);
    free(b->mrank);
    free(b->mres);
    free(b);
}

/* ---- encoding ---- */

struct span {
    uint32_t off, len;
};
struct bsym {
    int32_t prev, next; /* live symbols of the word; -1 ends */
    int32_t id;         /* token, -1 for a byte without one, -2 once merged away */
};
static void try_pair(const struct bpe *b, const struct bsym *syms, int32_t left, int32_t right,
                     struct tok_pair *heap, int32_t *nheap)
{
    if (left < 0 || right < 0 || syms[left].id < 0 || syms[right].id < 0) return;
    int32_t m = merge_find(b, syms[left].id, syms[right].id);
    if (m < 0) return;
    /* lower rank first; ranks are int32, exact in a double */
    tok_heap_push(
        heap, nheap,
        (struct tok_pair){
            left, right, -(double)b->mrank[m], {syms[left].id, syms[right].id}, b->mres[m]});
}

/* Scratch for one bpe_encode call, sized for its longest possible word. */
struct scratch {
    struct bsym *syms;
    struct tok_pair *heap;
    char *mapped;
};

static void encode_word(const struct vocab *v, const uint8_t *w, uint32_t n, struct scratch *s,
                        int32_t *out, int32_t cap, int32_t *n_out)
{
    const struct bpe *b = v->bpe;
    if (b->ignore_merges && n > 1) {
        size_t ml = 0;
        for (uint32_t i = 0; i < n; i++) {
            memcpy(s->mapped + ml, b->byte_utf8[w[i]], b->byte_len[w[i]]);
            ml += b->byte_len[w[i]];
        }
        int32_t id = vocab_find(v, s->mapped, ml);
        if (id >= 0) {
            vocab_emit(out, cap, n_out, id);
            return;
        }
    }
    struct bsym *syms = s->syms;
    for (uint32_t i = 0; i < n; i++)
        syms[i] = (struct bsym){(int32_t)i - 1, i + 1 < n ? (int32_t)i + 1 : -1, b->byte_tok[w[i]]};
    int32_t nheap = 0;
    for (uint32_t i = 1; i < n; i++) try_pair(b, syms, (int32_t)i - 1, (int32_t)i, s->heap, &nheap);
    while (nheap > 0) {
        struct tok_pair g = tok_heap_pop(s->heap, &nheap);
        struct bsym *l = &syms[g.left], *r = &syms[g.right];
        if (l->id != g.key[0] || r->id != g.key[1] || l->next != g.right) continue; /* stale */
        l->id = g.res;
        l->next = r->next;
        if (r->next >= 0) syms[r->next].prev = g.left;
        r->id = -2;
        try_pair(b, syms, l->prev, g.left, s->heap, &nheap);
        try_pair(b, syms, g.left, l->next, s->heap, &nheap);
    }
    /* A byte whose code point is no token (a broken vocabulary) becomes UNK
     * where there is one, or nothing, as in llama.cpp. */
    for (int32_t i = 0; i >= 0; i = syms[i].next) {
        int32_t id = syms[i].id >= 0 ? syms[i].id : v->unk;
        if (id >= 0) vocab_emit(out, cap, n_out, id);
    }
}

static uint32_t utf8_step(const uint8_t *s, uint32_t n)
{
    uint32_t k = s[0] < 0xc0 ? 1 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
    return k > n ? n : k;
}

/* Cuts every span of cur by re into matches and the gaps between them. */
static int split_spans(const pcre2_code *re, const uint8_t *text, const struct span *cur,
                       size_t ncur, struct span *next, size_t *nnext, pcre2_match_data *md)
{
    size_t nn = 0;
    for (size_t k = 0; k < ncur; k++) {
        const uint8_t *seg = text + cur[k].off;
        uint32_t len = cur[k].len, last = 0, pos = 0;
        while (pos < len) {
            int rc = pcre2_match(re, seg, len, pos, 0, md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) return LLM_ERR_ARG;
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            uint32_t ms = (uint32_t)ov[0], me = (uint32_t)ov[1];
            if (me <= ms) { /* an empty match cuts nothing: look further on */
                pos = ms + utf8_step(seg + ms, len - ms);
                continue;
            }
            if (ms > last) next[nn++] = (struct span){cur[k].off + last, ms - last};
            next[nn++] = (struct span){cur[k].off + ms, me - ms};
            last = pos = me;
        }
        if (last < len) next[nn++] = (struct span){cur[k].off + last, len - last};
    }
    *nnext = nn;
    return 0;
}

int bpe_encode(const struct vocab *v, const char *text, size_t len, int32_t *out, int32_t cap,
               int32_t *n_out)
{
    const struct bpe *b = v->bpe;
    if (len == 0) return 0;
    /* Words partition the text: at most len of them. */
    struct span *a = malloc(sizeof *a * len), *c = malloc(sizeof *c * len);
    struct scratch s = {malloc(sizeof *s.syms * len), malloc(sizeof *s.heap * 3 * len),
                        malloc(2 * len)};
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int rc = LLM_ERR_NOMEM;
    if (!a || !c || !s.syms || !s.heap || !s.mapped || !md) goto out;
    const uint8_t *t = (const uint8_t *)text;
    size_t n = 1;
    a[0] = (struct span){0, (uint32_t)len};
    for (int k = 0; k < b->n_re; k++) {
        size_t nn;
        if ((rc = split_spans(b->re[k], t, a, n, c, &nn, md)) < 0) goto out;
        struct span *tmp = a;
        a = c;
        c = tmp;
        n = nn;
    }
    for (size_t k = 0; k < n; k++) encode_word(v, t + a[k].off, a[k].len, &s, out, cap, n_out);
    rc = 0;
out:
    pcre2_match_data_free(md);
    free(s.mapped);
    free(s.heap);
    free(s.syms);
    free(c);
    free(a);
    return rc;
}

/* ---- decoding ---- */

/* Code point at s[0..n) and its length; an invalid sequence is one byte
 * with *cp = -1. */
static uint32_t utf8_decode(const uint8_t *s, uint32_t n, int32_t *cp)
{
    uint32_t k = utf8_step(s, n);
    *cp = -1;
    if (k == 1) {
        if (s[0] < 0x80) *cp = s[0];
        return 1;
    }
    int32_t c = s[0] & (0x7f >> k);
    for (uint32_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80) return 1;
        c = (c << 6) | (s[i] & 0x3f);
    }
    *cp = c;
    return k;
}

int32_t bpe_piece(const struct vocab *v, int32_t tok, char *buf, size_t cap)
{
    const struct bpe *b = v->bpe;
    const uint8_t *s = (const uint8_t *)v->text[tok];
    uint32_t len = v->len[tok];
    if (v->type[tok] == TOK_USER) { /* added text, not byte-mapped */
        if (len > cap) return LLM_ERR_NOSPACE;
        memcpy(buf, s, len);
        return (int32_t)len;
    }
    if (v->type[tok] != TOK_NORMAL) return 0;
    size_t n = 0;
    for (uint32_t i = 0; i < len;) {
        int32_t cp;
        uint32_t k = utf8_decode(s + i, len - i, &cp);
        if (cp >= 0 && cp < BPE_N_CP && b->cp_byte[cp] >= 0) {
            if (n + 1 > cap) return LLM_ERR_NOSPACE;
            buf[n++] = (char)b->cp_byte[cp];
        } else { /* outside the mapping (a hand-made vocabulary): as written */
            if (n + k > cap) return LLM_ERR_NOSPACE;
            memcpy(buf + n, s + i, k);
            n += k;
        }
        i += k;
    }
    return (int32_t)n;
}
