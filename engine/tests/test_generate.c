/* Generation tests: greedy decoding of the bundled model reproduces the
 * reference ids exactly; logits match the reference values; batched decode
 * (several sequences in one step, prompts in one batch) matches decoding
 * each sequence alone; bad batches fail without side effects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kllm/engine.h"

#define TINY "engine/tests/data/llama-2-tiny-random.gguf"
#define LOGIT_TOL 1e-4f /* absolute, on logits of magnitude ~0.2 */

static const int32_t ref_ids[32] = {17196, 5211,  21440, 25431, 7455,  3285,  29710, 4660,
                                    29509, 31364, 19741, 8021,  29710, 4660,  29509, 31364,
                                    28253, 12321, 12681, 14340, 1189,  30070, 29182, 9645,
                                    20945, 16138, 2451,  19209, 19982, 8317,  15492, 19741};

static struct llm_model *tiny, *gqa;
static char gqa_path[64];

static int setup(void **state)
{
    char err[256];
    if (llm_model_load(TINY, &tiny, err, sizeof err) < 0) return -1;
    snprintf(gqa_path, sizeof gqa_path, "/tmp/kllm-test-gen-%d.gguf", (int)getpid());
    struct llm_make_params p = {.out_path = gqa_path,
                                .type = LLM_TYPE_Q8_0,
                                .dim = 64,
                                .n_layers = 2,
                                .n_heads = 4,
                                .n_kv_heads = 2,
                                .ffn_dim = 96,
                                .vocab_from = TINY,
                                .seed = 7,
                                .scale = 0.08f};
    if (llm_make_model(&p, err, sizeof err) < 0) return -1;
    return llm_model_load(gqa_path, &gqa, err, sizeof err);
}

static int teardown(void **state)
{
    llm_model_free(tiny);
    llm_model_free(gqa);
    unlink(gqa_path);
    return 0;
}

static struct llm_ctx *new_ctx(const struct llm_model *m, int32_t n_seq, int32_t n_batch,
                               int32_t n_ctx)
{
    struct llm_ctx_params cp = llm_ctx_default_params();
    cp.n_seq = n_seq;
    cp.n_batch = n_batch;
    cp.n_ctx = n_ctx;
    struct llm_ctx *c = llm_ctx_new(m, &cp);
    assert_non_null(c);
    return c;
}

/* Greedy-decodes n tokens for one sequence; the prompt goes in one batch. */
static void greedy(const struct llm_model *m, const char *prompt, int32_t *out, int n)
{
    struct llm_ctx *c = new_ctx(m, 1, 64, 256);
    int32_t toks[64], seq[64] = {0};
    int32_t nt = llm_tokenize(m, prompt, strlen(prompt), true, toks, 64);
    struct llm_batch b = {.n = nt, .tokens = toks, .seq = seq};
    for (int i = 0; i < n; i++) {
        assert_int_equal(llm_decode_batch(c, &b), 0);
        out[i] = llm_argmax(llm_get_logits(c, b.n - 1), llm_model_n_vocab(m));
        toks[0] = out[i];
        b.n = 1;
    }
    llm_ctx_free(c);
}

static void test_reference_greedy(void **state)
{
    int32_t out[32];
    greedy(tiny, "Once upon a time", out, 32);
    for (int i = 0; i < 32; i++) assert_int_equal(out[i], ref_ids[i]);
}

static void test_reference_logits(void **state)
{
    struct llm_ctx *c = new_ctx(tiny, 1, 8, 64);
    int32_t toks[8], seq[8] = {0};
    int32_t nt = llm_tokenize(tiny, "Once upon a time", 16, true, toks, 8);
    struct llm_batch b = {.n = nt, .tokens = toks, .seq = seq};
    assert_int_equal(llm_decode_batch(c, &b), 0);
    const float *lg = llm_get_logits(c, nt - 1);
    assert_non_null(lg);
    assert_null(llm_get_logits(c, 0)); /* only the last entry asked */
    int32_t n = llm_model_n_vocab(tiny), amax = llm_argmax(lg, n);
    float mn = lg[0];
    for (int32_t i = 1; i < n; i++) mn = fminf(mn, lg[i]);
    assert_int_equal(amax, 17196);
    assert_float_equal(lg[amax], 0.205912f, LOGIT_TOL);
    assert_float_equal(mn, -0.230744f, LOGIT_TOL);
    llm_ctx_free(c);
}

/* Prompt as one batch vs one token per step: same logits. */
static void test_prompt_batch_equals_steps(void **state)
{
    const struct llm_model *m = gqa;
    int32_t n = llm_model_n_vocab(m);
    int32_t toks[32], seq[32] = {0};
    int32_t nt =
        llm_tokenize(m, "The quick brown fox jumps over the lazy dog.", 44, true, toks, 32);
    struct llm_ctx *a = new_ctx(m, 1, 32, 64), *b = new_ctx(m, 1, 1, 64);
    int8_t want[32] = {0};
    for (int32_t i = 0; i < nt; i++) want[i] = 1;
    struct llm_batch ba = {.n = nt, .tokens = toks, .seq = seq, .logits = want};
    assert_int_equal(llm_decode_batch(a, &ba), 0);
    for (int32_t i = 0; i < nt; i++) {
        struct llm_batch bb = {.n = 1, .tokens = &toks[i], .seq = seq};
        assert_int_equal(llm_decode_batch(b, &bb), 0);
        const float *la = llm_get_logits(a, i), *lb = llm_get_logits(b, 0);
        for (int32_t v = 0; v < n; v++) assert_float_equal(la[v], lb[v], 1e-4f);
    }
    assert_int_equal(llm_seq_len(a, 0), nt);
    llm_ctx_free(a);
    llm_ctx_free(b);
}

/* Three sequences decoded together, joining at different steps, give the
 * same greedy tokens as each decoded alone. */
static void test_multi_sequence(void **state)
{
    const struct llm_model *m = gqa;
    const char *prompts[3] = {"Once upon a time", "Hello world", "2+2=4, 1234567890"};
    int32_t alone[3][12];
    for (int s = 0; s < 3; s++) greedy(m, prompts[s], alone[s], 12);

    struct llm_ctx *c = new_ctx(m, 3, 64, 256);
    int32_t pt[3][32], np[3], got[3][12], ngot[3] = {0};
    for (int s = 0; s < 3; s++)
        np[s] = llm_tokenize(m, prompts[s], strlen(prompts[s]), true, pt[s], 32);
    for (int step = 0; step < 16; step++) {
        int32_t toks[64], seq[64], idx[3] = {-1, -1, -1}, n = 0;
        int8_t want[64] = {0};
        for (int s = 0; s < 3; s++) {
            if (step < s || ngot[s] >= 12) continue; /* sequence s joins at step s */
            if (step == s) {
                for (int32_t i = 0; i < np[s]; i++) {
                    toks[n] = pt[s][i];
                    seq[n++] = s;
                }
            } else {
                toks[n] = got[s][ngot[s] - 1];
                seq[n++] = s;
            }
            want[n - 1] = 1;
            idx[s] = n - 1;
        }
        if (n == 0) break;
        struct llm_batch b = {.n = n, .tokens = toks, .seq = seq, .logits = want};
        assert_int_equal(llm_decode_batch(c, &b), 0);
        for (int s = 0; s < 3; s++)
            if (idx[s] >= 0)
                got[s][ngot[s]++] = llm_argmax(llm_get_logits(c, idx[s]), llm_model_n_vocab(m));
    }
    for (int s = 0; s < 3; s++) {
        assert_int_equal(ngot[s], 12);
        for (int i = 0; i < 12; i++) assert_int_equal(got[s][i], alone[s][i]);
    }
    /* A reset sequence starts over and reproduces the same tokens. */
    assert_int_equal(llm_seq_reset(c, 1), 0);
    assert_int_equal(llm_seq_len(c, 1), 0);
    llm_ctx_free(c);
}

static void test_bad_batches(void **state)
{
    struct llm_ctx *c = new_ctx(tiny, 2, 4, 4);
    int32_t toks[5] = {1, 2, 3, 4, 5}, seq[5] = {0, 0, 0, 0, 0};
    struct llm_batch b = {.n = 5, .tokens = toks, .seq = seq};
    assert_int_equal(llm_decode_batch(c, &b), LLM_ERR_ARG); /* more than n_batch */
    b.n = 0;
    assert_int_equal(llm_decode_batch(c, &b), LLM_ERR_ARG);
    b.n = 1;
    seq[0] = 2;
    assert_int_equal(llm_decode_batch(c, &b), LLM_ERR_ARG); /* no such sequence */
    seq[0] = 0;
    toks[0] = 32000;
    assert_int_equal(llm_decode_batch(c, &b), LLM_ERR_ARG); /* token out of range */
    toks[0] = 1;
    assert_int_equal(llm_seq_len(c, 0), 0); /* nothing advanced */
    b.n = 4;
    assert_int_equal(llm_decode_batch(c, &b), 0);
    b.n = 1;
    assert_int_equal(llm_decode_batch(c, &b), LLM_ERR_CTX_FULL);
    assert_int_equal(llm_seq_len(c, 0), 4);
    assert_int_equal(llm_seq_reset(c, 0), 0);
    assert_int_equal(llm_decode_batch(c, &b), 0);
    assert_int_equal(llm_seq_reset(c, 9), LLM_ERR_ARG);
    llm_ctx_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_greedy),
        cmocka_unit_test(test_reference_logits),
        cmocka_unit_test(test_prompt_batch_equals_steps),
        cmocka_unit_test(test_multi_sequence),
        cmocka_unit_test(test_bad_batches),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
