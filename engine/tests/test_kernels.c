/* Kernel paths against the scalar reference: every path the CPU has, every
 * weight type, awkward lengths (every multiple of the type's block); then
 * the reference greedy ids on each path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "kllm/engine.h"
#include "quant.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float frand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) * 0x1.0p-52 - 1.0);
}

static void test_dot_paths(void **state)
{
    q_init();
    const uint32_t types[] = {LLM_TYPE_F32,  LLM_TYPE_F16,    LLM_TYPE_BF16,  LLM_TYPE_Q8_0,
                              LLM_TYPE_Q4_0, LLM_TYPE_Q4_1,   LLM_TYPE_Q5_0,  LLM_TYPE_Q5_1,
                              LLM_TYPE_Q2_K, LLM_TYPE_Q3_K,   LLM_TYPE_Q4_K,  LLM_TYPE_Q5_K,
                              LLM_TYPE_Q6_K, LLM_TYPE_IQ4_NL, LLM_TYPE_IQ4_XS};
    const int64_t lens[] = {32, 64, 96, 160, 256, 768, 2080, 2304};
    static float w[2304], x[2304];
    static uint8_t wq[2304 * 4], xq[2304 * 4], xk[2304 * 4];
    int tested = 0;
    for (int path = 0; path < KERN_PATH_COUNT; path++) {
        if (kern_force_path(path) < 0) {
            print_message("kernel path %s: not supported by this CPU, skipped\n",
                          kern_path_name(path));
            continue;
        }
        tested++;
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
            for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
                int64_t n = lens[l];
                if (n % q_block_size(types[t])) continue;
                for (int64_t i = 0; i < n; i++) {
                    w[i] = frand();
                    x[i] = frand() * 3.0f;
                }
                q_quantize_row(types[t], w, wq, n);
                q_quantize_row(q_dot_type(types[t]), x, xq, n);
                /* the path's own activation format, from the same floats */
                uint32_t at = kern_act_type(types[t]);
                kern_quantize_rows(at, x, (size_t)n, xk, kern_act_row_bytes(at, n), 1);
                float ref = q_dot_ref(types[t], wq, xq, n);
                float got = kern_dot(types[t], wq, xk, n);
                float tol = 1e-5f * (float)n;
                if (fabsf(got - ref) > tol)
                    fail_msg("path %s type %s n %lld: %g vs reference %g", kern_path_name(path),
                             llm_type_name((int32_t)types[t]), (long long)n, (double)got,
                             (double)ref);
            }
        }
    }
    assert_true(tested >= 1);
    kern_force_path(KERN_SCALAR);
}

/* The batched matmul (2x4 / 1x4 tiles, and the chunking of long rows so that
 * four activation rows stay in L1) on every path against the scalar
 * definitions, then the attention kernel. With nout a multiple of 8, Q4_K,
 * Q4_0 and IQ4_NL take the reference's repacked order (six activation rows:
 * four as a tile, two alone). */
static void matmul_paths(int64_t nin, int nout)
{
    enum { NOUT_MAX = 8, NB = 6 };
    const int NOUT = nout;
    float *w = malloc(sizeof(float) * NOUT_MAX * (size_t)nin),
          *x = malloc(sizeof(float) * NB * (size_t)nin);
    uint8_t *wq = malloc((size_t)nin * NOUT_MAX * 4), *xq = malloc((size_t)nin * NB * 4),
            *xk = malloc((size_t)nin * NB * 4);
    float ref[NB * NOUT_MAX], got[NB * NOUT_MAX];
    assert_non_null(w);
    assert_non_null(x);
    assert_non_null(wq);
    assert_non_null(xq);
    assert_non_null(xk);
    const uint32_t types[] = {LLM_TYPE_F32,  LLM_TYPE_F16,    LLM_TYPE_BF16,  LLM_TYPE_Q8_0,
                              LLM_TYPE_Q4_0, LLM_TYPE_Q4_1,   LLM_TYPE_Q5_0,  LLM_TYPE_Q5_1,
                              LLM_TYPE_Q2_K, LLM_TYPE_Q3_K,   LLM_TYPE_Q4_K,  LLM_TYPE_Q5_K,
                              LLM_TYPE_Q6_K, LLM_TYPE_IQ4_NL, LLM_TYPE_IQ4_XS};
    for (int64_t i = 0; i < NOUT * nin; i++) w[i] = frand();
    for (int64_t i = 0; i < NB * nin; i++) x[i] = frand();
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        if (nin % q_block_size(types[t])) continue;
        uint32_t dt = q_dot_type(types[t]);
        size_t wb = q_row_bytes(types[t], nin), xb = q_row_bytes(dt, nin);
        for (int r = 0; r < NOUT; r++) q_quantize_row(types[t], w + r * nin, wq + r * wb, nin);
        for (int b = 0; b < NB; b++) q_quantize_row(dt, x + b * nin, xq + b * xb, nin);
        for (int r = 0; r < NOUT; r++)
            for (int b = 0; b < NB; b++)
                ref[b * NOUT + r] = q_dot_ref(types[t], wq + r * wb, xq + b * xb, nin);
        for (int path = 0; path < KERN_PATH_COUNT; path++) {
            if (kern_force_path(path) < 0) continue;
            uint32_t at = kern_act_type_mat(types[t], NOUT);
            size_t kb = kern_act_row_bytes(at, nin);
            kern_quantize_rows(at, x, (size_t)nin, xk, kb, NB);
            kern_matmul(types[t], wq, wb, nin, NOUT, xk, kb, got, NOUT, NB);
            for (int i = 0; i < NB * NOUT; i++)
                if (fabsf(got[i] - ref[i]) > 1e-4f * (1.0f + fabsf(ref[i])))
                    fail_msg("matmul n=%lld path %s type %s [%d]: %g vs %g", (long long)nin,
                             kern_path_name(path), llm_type_name((int32_t)types[t]), i,
                             (double)got[i], (double)ref[i]);
        }
    }
    free(w);
    free(x);
    free(wq);
    free(xq);
    free(xk);
}

static void test_matmul_and_attention_paths(void **state)
{
    enum { HD = 64, NPOS = 37 };
    for (int nout = 7; nout <= 8; nout++) {
        matmul_paths(96, nout);
        matmul_paths(8224, nout); /* several chunks on every activation type */
        matmul_paths(256, nout);
        matmul_paths(8448, nout); /* the same for the super-block types */
    }
    /* attention: K/V rows of HD halves, stride 2*HD (two KV heads interleaved) */
    static uint16_t kc[NPOS * 2 * HD], vc[NPOS * 2 * HD];
    static float q[HD], sc[NPOS], oref[HD], o[HD];
    for (int i = 0; i < NPOS * 2 * HD; i++) {
        kc[i] = q_f32_to_f16(frand());
        vc[i] = q_f32_to_f16(frand());
    }
    for (int i = 0; i < HD; i++) q[i] = frand() * 4.0f;
    kern_force_path(KERN_SCALAR);
    kern_attend(q, kc + HD, vc + HD, 2 * HD, HD, NPOS, 0.125f, 0.0f, sc, oref);
    for (int path = 1; path < KERN_PATH_COUNT; path++) {
        if (kern_force_path(path) < 0) continue;
        kern_attend(q, kc + HD, vc + HD, 2 * HD, HD, NPOS, 0.125f, 0.0f, sc, o);
        for (int i = 0; i < HD; i++)
            if (fabsf(o[i] - oref[i]) > 1e-5f)
                fail_msg("attention path %s [%d]: %g vs %g", kern_path_name(path), i, (double)o[i],
                         (double)oref[i]);
    }
    kern_force_path(KERN_SCALAR);
}

/* The AVX2 activation conversions against the scalar ones: same Q8_0 scales,
 * values within half a step (vector code rounds ties to even), and no
 * undefined values from non-finite input. */
static void test_activation_conversion(void **state)
{
    if (kern_force_path(KERN_AVX2) < 0) {
        print_message("avx2 not supported by this CPU, skipped\n");
        return;
    }
    enum { N = 256 };
    float x[N], y[N], r[N];
    struct kblock_q8f a[N / 32];
    struct block_q8_0 b[N / 32];
    for (int trial = 0; trial < 200; trial++) {
        for (int i = 0; i < N; i++) x[i] = frand() * (float)(1 + trial);
        if (trial == 1) x[5] = x[6] = 0.5f * (x[7] = 127.0f); /* exact ties */
        kern_quantize_q8f_avx2(x, a, N);
        q_quantize_row(LLM_TYPE_Q8_0, x, b, N);
        for (int k = 0; k < N / 32; k++) {
            float d = a[k].d; /* the f16 scale, widened */
            assert_true(d == q_f16_to_f32(b[k].d));
            for (int j = 0; j < 32; j++) {
                assert_true(abs(a[k].qs[j] - b[k].qs[j]) <= 1);
                /* half a step, plus the f16 rounding of the scale times 127 */
                assert_true(fabsf(d * (float)a[k].qs[j] - x[k * 32 + j]) <= 0.57f * d + 1e-6f);
            }
        }
        kern_round_f16_avx2(x, y, N - 3);
        for (int i = 0; i < N - 3; i++) r[i] = q_f16_to_f32(q_f32_to_f16(x[i]));
        assert_memory_equal(y, r, sizeof(float) * (N - 3));
    }
    x[3] = NAN;
    x[40] = INFINITY;
    kern_quantize_q8f_avx2(x, a, N);
    assert_int_equal(a[0].qs[3], 0);                              /* NaN -> 0 */
    for (int j = 0; j < 32; j++) assert_int_equal(a[1].qs[j], 0); /* inf scale -> 0 */
    kern_force_path(KERN_SCALAR);
}

static void test_greedy_every_path(void **state)
{
    static const int32_t ref[16] = {17196, 5211,  21440, 25431, 7455,  3285, 29710, 4660,
                                    29509, 31364, 19741, 8021,  29710, 4660, 29509, 31364};
    struct llm_model *m = NULL;
    char err[256];
    assert_int_equal(
        llm_model_load("engine/tests/data/llama-2-tiny-random.gguf", &m, err, sizeof err), 0);
    for (int path = 0; path < KERN_PATH_COUNT; path++) {
        if (kern_force_path(path) < 0) continue;
        struct llm_ctx_params cp = llm_ctx_default_params();
        struct llm_ctx *c = llm_ctx_new(m, &cp);
        assert_non_null(c);
        int32_t toks[8], seq[8] = {0};
        int32_t n = llm_tokenize(m, "Once upon a time", 16, true, toks, 8);
        struct llm_batch b = {.n = n, .tokens = toks, .seq = seq};
        for (int i = 0; i < 16; i++) {
            assert_int_equal(llm_decode_batch(c, &b), 0);
            toks[0] = llm_argmax(llm_get_logits(c, b.n - 1), llm_model_n_vocab(m));
            if (toks[0] != ref[i])
                fail_msg("path %s: token %d is %d, reference %d", kern_path_name(path), i, toks[0],
                         ref[i]);
            b.n = 1;
        }
        llm_ctx_free(c);
    }
    llm_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dot_paths),
        cmocka_unit_test(test_matmul_and_attention_paths),
        cmocka_unit_test(test_activation_conversion),
        cmocka_unit_test(test_greedy_every_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
