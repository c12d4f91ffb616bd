/* Tokenizer tests: the reference tokenizations of llama-2-tiny-random.gguf
 * (engine/tests/data/REFERENCE.md) exactly, and text round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kllm/engine.h"

#define TINY "engine/tests/data/llama-2-tiny-random.gguf"

static struct llm_model *model;

static int setup(void **state)
{
    char err[256];
    return llm_model_load(TINY, &model, err, sizeof err);
}

static int teardown(void **state)
{
    llm_model_free(model);
    return 0;
}

static const struct {
    const char *text;
    int32_t ids[24];
    int32_t n;
} cases[] = {
    {"Once upon a time", {1, 9038, 2501, 263, 931}, 5},
    {"Hello world", {1, 15043, 3186}, 3},
    {" Hello world", {1, 29871, 15043, 3186}, 4},
    {"Hello  world", {1, 15043, 29871, 3186}, 4},
    {"The quick brown fox jumps over the lazy dog.",
     {1, 450, 4996, 17354, 1701, 29916, 432, 17204, 975, 278, 17366, 11203, 29889},
     13},
    {"2+2=4, 1234567890",
     {1, 29871, 29906, 29974, 29906, 29922, 29946, 29892, 29871, 29896, 29906, 29941, 29946, 29945,
      29953, 29955, 29947, 29929, 29900},
     19},
    {"na\xc3\xafve caf\xc3\xa9", {1, 1055, 30085, 345, 274, 28059}, 6},
};

static void test_reference_cases(void **state)
{
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int32_t ids[64];
        int32_t n = llm_tokenize(model, cases[c].text, strlen(cases[c].text), true, ids, 64);
        assert_int_equal(n, cases[c].n);
        for (int32_t i = 0; i < n; i++) assert_int_equal(ids[i], cases[c].ids[i]);
    }
}

/* Detokenizing (piece by piece, as a stream would) gives the text back. */
static void test_round_trip(void **state)
{
    const char *texts[] = {
        "Once upon a time",    "Hello  world",
        "2+2=4, 1234567890",   "na\xc3\xafve caf\xc3\xa9",
        "tabs\tand\nnewlines", "\xe6\xbc\xa2\xe5\xad\x97 emoji \xf0\x9f\x98\x80"};
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        int32_t ids[128];
        int32_t n = llm_tokenize(model, texts[t], strlen(texts[t]), true, ids, 128);
        assert_true(n > 1);
        char out[256];
        size_t len = 0;
        for (int32_t i = 1; i < n; i++) {
            int32_t k = llm_token_to_piece(model, ids[i - 1], ids[i], out + len, sizeof out - len);
            assert_true(k >= 0);
            len += (size_t)k;
        }
        out[len] = '\0';
        assert_string_equal(out, texts[t]);
    }
}

static void test_edges(void **state)
{
    int32_t ids[8];
    assert_int_equal(llm_tokenize(model, "", 0, true, ids, 8), 1);
    assert_int_equal(ids[0], 1);
    assert_int_equal(llm_tokenize(model, "", 0, false, ids, 8), 0);
    /* A short buffer reports the full count and writes only what fits. */
    assert_int_equal(llm_tokenize(model, "Once upon a time", 16, true, ids, 2), 5);
    assert_int_equal(ids[1], 9038);
    /* Bytes that are not UTF-8 fall back to byte tokens. */
    int32_t n = llm_tokenize(model, "\xff\xfe", 2, false, ids, 8);
    assert_true(n >= 2);
    char piece[8];
    assert_int_equal(llm_token_to_piece(model, -1, 1, piece, sizeof piece), 0); /* BOS: control */
    assert_int_equal(llm_token_to_piece(model, -1, 99999, piece, sizeof piece), LLM_ERR_ARG);
    assert_true(llm_token_is_eog(model, 2));
    assert_false(llm_token_is_eog(model, 3));
}

/* With LLM_TOKENIZE_SPECIAL, "</s>" and "<s>" in the text become ids 2 and
 * 1, and each text run between them is encoded as if it stood alone (with
 * the space prefix); without the flag they are plain text. */
static void test_special_tokens(void **state)
{
    const char *text = "Hello</s><s>[INST] hi";
    int32_t got[64], a[16], b[16];
    int32_t n = llm_tokenize_ex(model, text, strlen(text), LLM_TOKENIZE_BOS | LLM_TOKENIZE_SPECIAL,
                                got, 64);
    int32_t na = llm_tokenize(model, "Hello", 5, false, a, 16);
    int32_t nb = llm_tokenize(model, "[INST] hi", 9, false, b, 16);
    assert_int_equal(n, 1 + na + 2 + nb);
    assert_int_equal(got[0], 1);
    for (int32_t i = 0; i < na; i++) assert_int_equal(got[1 + i], a[i]);
    assert_int_equal(got[1 + na], 2);
    assert_int_equal(got[2 + na], 1);
    for (int32_t i = 0; i < nb; i++) assert_int_equal(got[3 + na + i], b[i]);

    n = llm_tokenize(model, text, strlen(text), true, got, 64);
    for (int32_t i = 1; i < n; i++) assert_true(got[i] != 1 && got[i] != 2);
    /* A lone special token, and one at the very end. */
    n = llm_tokenize_ex(model, "</s>", 4, LLM_TOKENIZE_SPECIAL, got, 64);
    assert_int_equal(n, 1);
    assert_int_equal(got[0], 2);
    n = llm_tokenize_ex(model, "Hello</s>", 9, LLM_TOKENIZE_SPECIAL, got, 64);
    assert_int_equal(n, na + 1);
    assert_int_equal(got[na], 2);
}

/* Phi-3 files (named so in general.name): special parsing drops the
 * whitespace after a special token, except after <unk>, <s> and
 * <|endoftext|>, as the reference does. The file is a made model with the
 * Llama 2 vocabulary whose name is patched in place. */
static void test_phi3_rstrip(void **state)
{
    char path[64], err[256];
    snprintf(path, sizeof path, "/tmp/kllm-test-phi3-%d.gguf", (int)getpid());
    struct llm_make_params p = {.out_path = path,
                                .type = LLM_TYPE_F16,
                                .dim = 32,
                                .n_layers = 1,
                                .n_heads = 2,
                                .ffn_dim = 32,
                                .vocab_from = TINY};
    assert_int_equal(llm_make_model(&p, err, sizeof err), 0);
    struct llm_model *plain = NULL, *phi = NULL;
    assert_int_equal(llm_model_load(path, &plain, err, sizeof err), 0);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, fp), at = 0;
    while (at + 11 < n && memcmp(buf + at, "kllm-random", 11) != 0) at++;
    assert_true(at + 11 < n);
    assert_int_equal(fseek(fp, (long)at, SEEK_SET), 0);
    assert_int_equal(fwrite("Phi3-random", 1, 11, fp), 11);
    fclose(fp);
    assert_int_equal(llm_model_load(path, &phi, err, sizeof err), 0);
    unlink(path);
    int32_t a[16], b[16];
    const char *s1 = "</s> \n hi", *s2 = "</s>hi", *s3 = "<s> hi", *s4 = "<s>hi";
    int32_t na = llm_tokenize_ex(phi, s1, strlen(s1), LLM_TOKENIZE_SPECIAL, a, 16);
    int32_t nb = llm_tokenize_ex(phi, s2, strlen(s2), LLM_TOKENIZE_SPECIAL, b, 16);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, sizeof a[0] * (size_t)na);
    assert_true(llm_token_rstrip(phi, a[0]));
    na = llm_tokenize_ex(phi, s3, strlen(s3), LLM_TOKENIZE_SPECIAL, a, 16);
    nb = llm_tokenize_ex(phi, s4, strlen(s4), LLM_TOKENIZE_SPECIAL, b, 16);
    assert_true(na != nb || memcmp(a, b, sizeof a[0] * (size_t)na) != 0); /* <s> keeps it */
    na = llm_tokenize_ex(plain, s1, strlen(s1), LLM_TOKENIZE_SPECIAL, a, 16);
    nb = llm_tokenize_ex(plain, s2, strlen(s2), LLM_TOKENIZE_SPECIAL, b, 16);
    assert_true(na != nb); /* other files keep the whitespace */
    assert_false(llm_token_rstrip(plain, a[0]));
    llm_model_free(plain);
    llm_model_free(phi);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_cases), cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_edges),           cmocka_unit_test(test_special_tokens),
        cmocka_unit_test(test_phi3_rstrip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
