/* Byte-level BPE tests: every line of engine/tests/data/bpe-tokenize.tsv
 * (Hugging Face tokenizer ids) for the Llama 3 and Qwen vocabularies, round
 * trips, special-token parsing on and off, BOS policy, end-of-generation
 * sets, and damaged vocabularies (each one clear error, never a crash).
 *
 * The vocabularies are loaded on their own (vocab_load into a model that
 * has nothing else): the tokenizer needs no weights. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "gguf_write.h"
#include "kllm/engine.h"
#include "model.h"

#define LLAMA3 "engine/tests/data/llama-3-vocab.gguf"
#define QWEN "engine/tests/data/qwen-vocab.gguf"
#define TSV "engine/tests/data/bpe-tokenize.tsv"

static struct llm_model llama3, qwen;

static int load_vocab(const char *path, struct llm_model *m)
{
    struct gguf_file *f = NULL;
    char err[256] = "";
    memset(m, 0, sizeof *m);
    int rc = gguf_open(path, &f, err, sizeof err);
    if (rc == 0) rc = vocab_load(&m->vocab, f, err, sizeof err);
    if (rc < 0) fprintf(stderr, "%s: %s\n", path, err);
    gguf_close(f);
    return rc;
}

static int setup(void **state)
{
    if (load_vocab(LLAMA3, &llama3) < 0) return -1;
    return load_vocab(QWEN, &qwen) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    vocab_free(&llama3.vocab);
    vocab_free(&qwen.vocab);
    return 0;
}

/* Decodes the JSON string at *p (just after the opening quote) into out;
 * returns its length. Handles the escapes the tsv uses and \uXXXX. */
static size_t json_string(const char **p, char *out, size_t cap)
{
    const char *s = *p;
    size_t n = 0;
    while (*s && *s != '"') {
        assert_true(n + 4 < cap);
        if (*s != '\\') {
            out[n++] = *s++;
            continue;
        }
        s++;
        char c = *s++;
        switch (c) {
        case 'n': out[n++] = '\n'; break;
        case 't': out[n++] = '\t'; break;
        case 'r': out[n++] = '\r'; break;
        case 'u': {
            char hex[5] = {0};
            memcpy(hex, s, 4);
            s += 4;
            unsigned long cp = strtoul(hex, NULL, 16);
            assert_true(cp < 0xd800 || cp > 0xdfff); /* the tsv has no surrogates */
            if (cp < 0x80) {
                out[n++] = (char)cp;
            } else if (cp < 0x800) {
                out[n++] = (char)(0xc0 | (cp >> 6));
                out[n++] = (char)(0x80 | (cp & 0x3f));
            } else {
                out[n++] = (char)(0xe0 | (cp >> 12));
                out[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                out[n++] = (char)(0x80 | (cp & 0x3f));
            }
            break;
        }
        default: out[n++] = c; break; /* \" \\ \/ */
        }
    }
    assert_int_equal(*s, '"');
    *p = s + 1;
    return n;
}

struct tsv_case {
    const struct llm_model *m;
    char text[256];
    size_t len;
    int32_t ids[64];
    int32_t n;
};

/* Reads the tsv; returns the number of cases. */
static int read_tsv(struct tsv_case *cases, int cap)
{
    FILE *f = fopen(TSV, "r");
    assert_non_null(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        assert_true(n < cap);
        struct tsv_case *c = &cases[n++];
        const char *p = strchr(line, '\t');
        assert_non_null(p);
        if (strncmp(line, "llama3\t", 7) == 0)
            c->m = &llama3;
        else if (strncmp(line, "qwen\t", 5) == 0)
            c->m = &qwen;
        else
            fail_msg("unknown vocabulary in: %s", line);
        assert_int_equal(p[1], '"');
        p += 2;
        c->len = json_string(&p, c->text, sizeof c->text);
        assert_int_equal(*p, '\t');
        p++;
        c->n = 0;
        while (*p && *p != '\n') {
            char *end;
            long id = strtol(p, &end, 10);
            assert_true(end > p);
            assert_true(c->n < 64);
            c->ids[c->n++] = (int32_t)id;
            p = end;
            while (*p == ' ') p++;
        }
    }
    fclose(f);
    return n;
}

static void test_tsv_exact(void **state)
{
    static struct tsv_case cases[64];
    int n = read_tsv(cases, 64);
    assert_int_equal(n, 34); /* every line of the file, both vocabularies */
    int bad = 0;
    for (int k = 0; k < n; k++) {
        struct tsv_case *c = &cases[k];
        int32_t got[128];
        int32_t ng = llm_tokenize_ex(c->m, c->text, c->len, LLM_TOKENIZE_SPECIAL, got, 128);
        int same = ng == c->n;
        for (int32_t i = 0; same && i < ng; i++) same = got[i] == c->ids[i];
        if (!same) {
            bad++;
            fprintf(stderr, "mismatch (%s) \"%.*s\": got", c->m == &qwen ? "qwen" : "llama3",
                    (int)c->len, c->text);
            for (int32_t i = 0; i < ng && i < 128; i++) fprintf(stderr, " %d", got[i]);
            fprintf(stderr, "\n");
        }
    }
    assert_int_equal(bad, 0);
}

/* Detokenizing piece by piece gives the bytes back, for the tsv strings
 * (special parsing off: "<|im_start|>" is text) and for bytes that are not
 * UTF-8 at all. */
static void check_round_trip(const struct llm_model *m, const char *text, size_t len)
{
    int32_t ids[256];
    int32_t n = llm_tokenize(m, text, len, false, ids, 256);
    assert_true(n >= 0 && n <= 256);
    char out[512];
    size_t ol = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t k = llm_token_to_piece(m, i ? ids[i - 1] : -1, ids[i], out + ol, sizeof out - ol);
        assert_true(k >= 0);
        ol += (size_t)k;
    }
    assert_int_equal(ol, len);
    assert_memory_equal(out, text, len);
}

static void test_round_trip(void **state)
{
    static struct tsv_case cases[64];
    int n = read_tsv(cases, 64);
    for (int k = 0; k < n; k++) {
        check_round_trip(&llama3, cases[k].text, cases[k].len);
        check_round_trip(&qwen, cases[k].text, cases[k].len);
    }
    const char *odd[] = {"\xff\xfe", "a\xc3", "\xe6\xbc", "x\x80y\xc0\xafz", "\0nul", ""};
    size_t odd_len[] = {2, 2, 2, 6, 4, 0};
    for (size_t k = 0; k < sizeof odd / sizeof odd[0]; k++) {
        check_round_trip(&llama3, odd[k], odd_len[k]);
        check_round_trip(&qwen, odd[k], odd_len[k]);
    }
}

/* A token may end inside a UTF-8 character: pieces are raw bytes. */
static void test_partial_utf8_pieces(void **state)
{
    /* " 🦙" (20 F0 9F A6 99) is three tokens in both: " \xf0\x9f", "\xa6", "\x99". */
    const struct llm_model *ms[] = {&llama3, &qwen};
    for (int v = 0; v < 2; v++) {
        int32_t ids[8];
        char piece[16];
        assert_int_equal(llm_tokenize(ms[v], " \xf0\x9f\xa6\x99", 5, false, ids, 8), 3);
        assert_int_equal(llm_token_to_piece(ms[v], -1, ids[0], piece, sizeof piece), 3);
        assert_memory_equal(piece, " \xf0\x9f", 3);
        assert_int_equal(llm_token_to_piece(ms[v], ids[0], ids[1], piece, sizeof piece), 1);
        assert_int_equal((uint8_t)piece[0], 0xa6);
        assert_int_equal(llm_token_to_piece(ms[v], ids[1], ids[2], piece, sizeof piece), 1);
        assert_int_equal((uint8_t)piece[0], 0x99);
    }
    int32_t ids[8];
    char piece[16];
    int32_t n;
    /* A piece that does not fit is refused, not cut. */
    n = llm_tokenize(&qwen, " world", 6, false, ids, 8);
    assert_int_equal(n, 1);
    assert_int_equal(llm_token_to_piece(&qwen, -1, ids[0], piece, 3), LLM_ERR_NOSPACE);
    assert_int_equal(llm_token_to_piece(&qwen, -1, ids[0], piece, 6), 6);
    assert_memory_equal(piece, " world", 6);
    assert_int_equal(llm_token_to_piece(&qwen, -1, 151645, piece, sizeof piece), 0); /* control */
    assert_int_equal(llm_token_to_piece(&qwen, -1, -1, piece, sizeof piece), LLM_ERR_ARG);
    assert_int_equal(llm_token_to_piece(&qwen, -1, 1 << 20, piece, sizeof piece), LLM_ERR_ARG);
}

static int contains(const int32_t *ids, int32_t n, int32_t id)
{
    for (int32_t i = 0; i < n; i++)
        if (ids[i] == id) return 1;
    return 0;
}

static void test_special_parsing(void **state)
{
    const char *t = "<|im_start|>user\nhi<|im_end|>";
    int32_t on[32], off[32];
    int32_t non = llm_tokenize_ex(&qwen, t, strlen(t), LLM_TOKENIZE_SPECIAL, on, 32);
    int32_t noff = llm_tokenize_ex(&qwen, t, strlen(t), 0, off, 32);
    assert_int_equal(non, 5);
    assert_int_equal(on[0], 151644);
    assert_int_equal(on[4], 151645);
    assert_true(noff > non);
    for (int32_t i = 0; i < noff; i++) assert_true(off[i] < 151643); /* all plain text */
    /* Llama 3's own markers: on and off. */
    const char *l = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>";
    non = llm_tokenize_ex(&llama3, l, strlen(l), LLM_TOKENIZE_SPECIAL, on, 32);
    assert_int_equal(non, 4);
    assert_int_equal(on[0], 128000);
    assert_int_equal(on[1], 128006);
    assert_int_equal(on[3], 128007);
    noff = llm_tokenize_ex(&llama3, l, strlen(l), 0, off, 32);
    for (int32_t i = 0; i < noff; i++) assert_true(off[i] < 128000);
    /* A lone special token; one split across the end of the text is text. */
    assert_int_equal(llm_tokenize_ex(&qwen, "<|im_end|>", 10, LLM_TOKENIZE_SPECIAL, on, 32), 1);
    assert_int_equal(on[0], 151645);
    non = llm_tokenize_ex(&qwen, "<|im_end|", 9, LLM_TOKENIZE_SPECIAL, on, 32);
    assert_false(contains(on, non, 151645));
}

static void test_bos_policy(void **state)
{
    int32_t ids[8];
    assert_true(llm_vocab_add_bos(&llama3));
    assert_false(llm_vocab_add_bos(&qwen));
    assert_int_equal(llm_token_bos(&llama3), 128000);
    assert_int_equal(llm_token_eos(&llama3), 128001);
    assert_int_equal(llm_token_bos(&qwen), 151643);
    assert_int_equal(llm_token_eos(&qwen), 151645);
    assert_int_equal(llm_tokenize(&llama3, "Hello world", 11, true, ids, 8), 3);
    assert_int_equal(ids[0], 128000);
    assert_int_equal(ids[1], 9906);
    assert_int_equal(llm_tokenize(&qwen, "Hello world", 11, true, ids, 8), 2);
    assert_int_equal(ids[0], 9707);
    assert_int_equal(llm_tokenize(&llama3, "", 0, true, ids, 8), 1);
    assert_int_equal(llm_tokenize(&qwen, "", 0, true, ids, 8), 0);
    /* Short buffer: full count, only cap written. */
    ids[1] = -7;
    assert_int_equal(llm_tokenize(&llama3, "Hello world", 11, true, ids, 1), 3);
    assert_int_equal(ids[1], -7);
    assert_string_equal(llm_vocab_kind(&qwen), "bpe");
    assert_string_equal(llm_vocab_pre(&qwen), "qwen2");
    assert_string_equal(llm_vocab_pre(&llama3), "llama-bpe");
}

/* The sets llama.cpp's rules give for these vocabularies: Llama 3 (3.0: no
 * <|eom_id|>) ends on <|end_of_text|> and <|eot_id|>; Qwen on <|endoftext|>,
 * <|im_end|> and the FIM pad / repo-name / file-separator tokens. */
static void test_eog_sets(void **state)
{
    int32_t eog[16];
    const int32_t want_l[] = {128001, 128009};
    const int32_t want_q[] = {151643, 151645, 151662, 151663, 151664};
    assert_int_equal(llm_vocab_eog(&llama3, eog, 16), 2);
    assert_memory_equal(eog, want_l, sizeof want_l);
    assert_int_equal(llm_vocab_eog(&qwen, eog, 16), 5);
    assert_memory_equal(eog, want_q, sizeof want_q);
    assert_int_equal(llm_vocab_eog(&qwen, eog, 2), 5); /* count beyond cap */
    for (int32_t i = 0; i < 5; i++) assert_true(llm_token_is_eog(&qwen, want_q[i]));
    assert_false(llm_token_is_eog(&qwen, 151644)); /* <|im_start|> */
    assert_false(llm_token_is_eog(&llama3, 128000));
    assert_false(llm_token_is_eog(&llama3, 0));
    assert_true(llm_token_is_eog(&llama3, 128009));
}

/* ---- damaged vocabularies ---- */

/* The GPT-2 code point of byte b, as UTF-8 (the test's own mapping). */
static void byte_str(int b, char out[3])
{
    int extra = 0, cp = b;
    for (int x = 0; x < 256; x++) {
        int prints = (x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || x >= 0xae;
        if (!prints) {
            if (x == b) cp = 256 + extra;
            extra++;
        }
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = '\0';
    } else {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        out[2] = '\0';
    }
}

enum damage {
    D_NONE,
    D_NO_MERGES,
    D_MERGES_I32,
    D_MERGE_NO_SPACE,
    D_MERGE_UNKNOWN,
    D_BOS_RANGE,
    D_EOS_STRING,
    D_PRE_UNKNOWN,
    D_PRE_NOT_STR,
    D_TYPES_SHORT,
};

static char tmp_path[64];
static const char *pre_name = "qwen2"; /* tokenizer.ggml.pre of write_vocab */

/* A 256-byte-token vocabulary plus "ab", "abab", "Ġa" and two control
 * tokens, with the given damage, written to tmp_path. */
static void write_vocab(enum damage d)
{
    static char bytes[256][3];
    const char *toks[264];
    int32_t types[264];
    int n = 0;
    for (int b = 0; b < 256; b++) {
        byte_str(b, bytes[b]);
        types[n] = 1;
        toks[n++] = bytes[b];
    }
    const char *extra[] = {"ab", "abab",
                           "\xc4\xa0"
                           "a",
                           "<|im_start|>", "<|im_end|>"};
    for (int k = 0; k < 5; k++) {
        types[n] = k >= 3 ? 3 : 1;
        toks[n++] = extra[k];
    }
    const char *merges[] = {"a b", "ab ab", "\xc4\xa0 a", "ab", "x yz"};
    int n_merges = d == D_MERGE_NO_SPACE ? 4 : d == D_MERGE_UNKNOWN ? 5 : 3;
    const char *const *mp = merges;
    if (d == D_MERGE_UNKNOWN) merges[3] = "x y"; /* "xy" is no token either */
    struct gguf_writer *w = gw_new();
    assert_non_null(w);
    int rc = gw_kv_str(w, "general.architecture", "llama");
    if (rc == 0) rc = gw_kv_str(w, "tokenizer.ggml.model", "gpt2");
    if (rc == 0 && d == D_PRE_UNKNOWN) rc = gw_kv_str(w, "tokenizer.ggml.pre", "klingon");
    if (rc == 0 && d == D_PRE_NOT_STR) rc = gw_kv_u32(w, "tokenizer.ggml.pre", 7);
    if (rc == 0 && d != D_PRE_UNKNOWN && d != D_PRE_NOT_STR)
        rc = gw_kv_str(w, "tokenizer.ggml.pre", pre_name);
    if (rc == 0) rc = gw_kv_arr_str(w, "tokenizer.ggml.tokens", toks, (uint64_t)n);
    if (rc == 0)
        rc = gw_kv_arr(w, "tokenizer.ggml.token_type", GGUF_I32, types,
                       (uint64_t)(d == D_TYPES_SHORT ? n - 1 : n));
    if (rc == 0 && d == D_MERGES_I32)
        rc = gw_kv_arr(w, "tokenizer.ggml.merges", GGUF_I32, types, 3);
    else if (rc == 0 && d != D_NO_MERGES)
        rc = gw_kv_arr_str(w, "tokenizer.ggml.merges", mp, (uint64_t)n_merges);
    if (rc == 0) rc = gw_kv_u32(w, "tokenizer.ggml.bos_token_id", d == D_BOS_RANGE ? 9999 : 259);
    if (rc == 0 && d == D_EOS_STRING)
        rc = gw_kv_str(w, "tokenizer.ggml.eos_token_id", "260");
    else if (rc == 0)
        rc = gw_kv_u32(w, "tokenizer.ggml.eos_token_id", 260);
    if (rc == 0) rc = gw_begin_data(w, tmp_path);
    if (rc == 0) rc = gw_finish(w);
    assert_int_equal(rc, 0);
    gw_free(w);
}

/* Loads tmp_path's vocabulary; returns the rc and the reason in err. */
static int load_tmp(struct llm_model *m, char *err, size_t errlen)
{
    struct gguf_file *f = NULL;
    memset(m, 0, sizeof *m);
    err[0] = '\0';
    int rc = gguf_open(tmp_path, &f, err, errlen);
    assert_int_equal(rc, 0);
    rc = vocab_load(&m->vocab, f, err, errlen);
    gguf_close(f);
    return rc;
}

static void test_damaged_vocab(void **state)
{
    snprintf(tmp_path, sizeof tmp_path, "/tmp/kllm-test-bpe-%d.gguf", (int)getpid());
    const struct {
        enum damage d;
        int rc;
        const char *why;
    } cases[] = {
        {D_NO_MERGES, LLM_ERR_FORMAT, "tokenizer.ggml.merges missing"},
        {D_MERGES_I32, LLM_ERR_FORMAT, "tokenizer.ggml.merges is not an array"},
        {D_MERGE_NO_SPACE, LLM_ERR_FORMAT, "tokenizer.ggml.merges[3]"},
        {D_BOS_RANGE, LLM_ERR_FORMAT, "bos_token_id = 9999 is out of range"},
        {D_EOS_STRING, LLM_ERR_FORMAT, "eos_token_id is not a token id"},
        {D_PRE_UNKNOWN, LLM_ERR_UNSUPPORTED,
         "pre-tokenizer 'klingon' is not supported (default, "
         "llama-bpe, qwen2"},
        {D_PRE_NOT_STR, LLM_ERR_FORMAT, "tokenizer.ggml.pre is not a string"},
        {D_TYPES_SHORT, LLM_ERR_FORMAT, "token_type must be"},
    };
    struct llm_model m;
    char err[256];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        write_vocab(cases[k].d);
        int rc = load_tmp(&m, err, sizeof err);
        if (rc != cases[k].rc || !strstr(err, cases[k].why))
            fail_msg("damage %d: rc %d, err '%s'", (int)cases[k].d, rc, err);
        vocab_free(&m.vocab); /* allowed after a failed load */
    }
    /* Good, and with merges naming text outside the vocabulary (skipped). */
    enum damage ok[] = {D_NONE, D_MERGE_UNKNOWN};
    for (size_t k = 0; k < 2; k++) {
        write_vocab(ok[k]);
        assert_int_equal(load_tmp(&m, err, sizeof err), 0);
        int32_t ids[16];
        /* "abab a" -> "abab" (merges a+b, ab+ab), "Ġa" (merge Ġ+a) */
        assert_int_equal(llm_tokenize(&m, "abab a", 6, false, ids, 16), 2);
        assert_int_equal(ids[0], 257);
        assert_int_equal(ids[1], 258);
        /* "xyz": no merges apply; one token per byte */
        assert_int_equal(llm_tokenize(&m, "xyz", 3, false, ids, 16), 3);
        int32_t eog[4];
        assert_int_equal(llm_vocab_eog(&m, eog, 4), 1); /* <|im_end|> is EOS and EOG */
        assert_int_equal(eog[0], 260);
        vocab_free(&m.vocab);
    }
    unlink(tmp_path);
}

/* Every truncation and a few thousand byte flips of a small BPE vocabulary:
 * whatever loads also tokenizes and detokenizes without a fault. */
static void test_damaged_bytes(void **state)
{
    snprintf(tmp_path, sizeof tmp_path, "/tmp/kllm-test-bpe-%d.gguf", (int)getpid());
    write_vocab(D_NONE);
    FILE *fp = fopen(tmp_path, "rb");
    assert_non_null(fp);
    static uint8_t img[16384];
    size_t n = fread(img, 1, sizeof img, fp);
    fclose(fp);
    unlink(tmp_path);
    assert_true(n > 0 && n < sizeof img);
    uint64_t seed = 12345;
    for (size_t iter = 0; iter < n + 3000; iter++) {
        size_t len = iter < n ? iter : n;
        uint8_t *copy = malloc(len ? len : 1);
        assert_non_null(copy);
        memcpy(copy, img, len);
        if (iter >= n) {
            for (int k = 0; k < 4; k++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                copy[(seed >> 33) % len] ^= (uint8_t)(1u << ((seed >> 20) & 7));
            }
        }
        struct gguf_file *f = NULL;
        char err[256] = "";
        if (gguf_parse(copy, len, &f, err, sizeof err) == 0) {
            struct llm_model m;
            memset(&m, 0, sizeof m);
            if (vocab_load(&m.vocab, f, err, sizeof err) == 0) {
                int32_t ids[32];
                char piece[64];
                int32_t nt = llm_tokenize_ex(&m, "ab <|im_end|>x\xff", 15,
                                             LLM_TOKENIZE_BOS | LLM_TOKENIZE_SPECIAL, ids, 32);
                for (int32_t i = 0; i < nt && i < 32; i++)
                    llm_token_to_piece(&m, -1, ids[i], piece, sizeof piece);
                vocab_free(&m.vocab);
            } else {
                assert_true(err[0] != '\0');
            }
            gguf_close(f);
        }
        free(copy);
    }
}

/* Every pre-tokenizer name the engine knows compiles, and its words
 * partition the text: the round trip gives every byte back. */
static void test_every_pre_tokenizer(void **state)
{
    static const char *names[] = {
        "default",     "llama-bpe", "llama3",      "qwen2",        "deepseek-r1-qwen",
        "gpt-2",       "phi-2",     "mpt",         "olmo",         "smollm",
        "starcoder",   "command-r", "refact",      "deepseek-llm", "deepseek-coder",
        "deepseek-v3", "tekken",    "gpt-4o",      "llama4",       "falcon",
        "dbrx",        "smaug-bpe", "chatglm-bpe", "glm4",         "hunyuan-dense"};
    const char *text = "Hello, World! I'm 1234567 ab\t\n\n  x \xe6\xbc\xa2\xe5\xad\x97 "
                       "\xd0\x9f\xd1\x80\xd0\xb8 caf\xc3\xa9 \xf0\x9f\xa6\x99 \xff end  ";
    snprintf(tmp_path, sizeof tmp_path, "/tmp/kllm-test-bpe-%d.gguf", (int)getpid());
    struct llm_model m;
    char err[256];
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        pre_name = names[k];
        write_vocab(D_NONE);
        if (load_tmp(&m, err, sizeof err) != 0) fail_msg("pre '%s': %s", names[k], err);
        assert_string_equal(llm_vocab_pre(&m), names[k]);
        check_round_trip(&m, text, strlen(text));
        vocab_free(&m.vocab);
    }
    pre_name = "qwen2";
    unlink(tmp_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsv_exact),           cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_partial_utf8_pieces), cmocka_unit_test(test_special_parsing),
        cmocka_unit_test(test_bos_policy),          cmocka_unit_test(test_eog_sets),
        cmocka_unit_test(test_damaged_vocab),       cmocka_unit_test(test_damaged_bytes),
        cmocka_unit_test(test_every_pre_tokenizer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
