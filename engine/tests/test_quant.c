/* Element format tests: f16/bf16 conversion against the compiler's own
 * conversions, quantize/dequantize round trips for every type within the
 * format's error bound, dot products against a float reference, and
 * dequantization / activation quantization bit for bit against ggml's
 * outputs (tests/data/quant, made as tests/data/README.md says). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kllm/engine.h"
#include "quant.h"

static uint64_t rng = 88172645463325252ull;
static float frand(void) /* uniform in [-1, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) * 0x1.0p-52 - 1.0);
}

static void test_f16_matches_compiler(void **state)
{
    q_init();
    /* Every half value decodes like _Float16 and encodes back to itself. */
    for (uint32_t h = 0; h < 65536; h++) {
        _Float16 ref;
        uint16_t hh = (uint16_t)h;
        memcpy(&ref, &hh, 2);
        float f = q_f16_to_f32(hh);
        if (isnan((float)ref)) {
            assert_true(isnan(f));
            continue;
        }
        assert_true(f == (float)ref);
        assert_int_equal(q_f32_to_f16(f), hh);
    }
    /* Rounding of arbitrary floats, including ties, overflow and subnormals. */
    for (int i = 0; i < 200000; i++) {
        float f = frand() * powf(2.0f, (float)(i % 40 - 26));
        if (i % 1000 == 0) f = 70000.0f;
        _Float16 ref = (_Float16)f;
        uint16_t rb;
        memcpy(&rb, &ref, 2);
        assert_int_equal(q_f32_to_f16(f), rb);
    }
}

static void test_bf16(void **state)
{
    assert_true(q_bf16_to_f32(q_f32_to_bf16(1.0f)) == 1.0f);
    assert_true(q_bf16_to_f32(q_f32_to_bf16(-2.5f)) == -2.5f);
    for (int i = 0; i < 10000; i++) {
        float f = frand() * 100.0f;
        float back = q_bf16_to_f32(q_f32_to_bf16(f));
        assert_true(fabsf(back - f) <= fabsf(f) * 0x1.0p-8f);
    }
    assert_true(isnan(q_bf16_to_f32(q_f32_to_bf16(NAN))));
}

/* Every weight type, quantized and back: each element within a bound
 * relative to the largest magnitude of its block of 32 (the super-block
 * formats: of its sub-block's super-block, looser), and the RMS error
 * within a bound that says the quantizer actually fits. */
static const struct {
    uint32_t type;
    float max_tol; /* |y - x| / amax of the 256 around it */
    float rms_tol; /* rms(y - x) / rms(x) */
} round_trip_types[] = {
    {LLM_TYPE_F32, 0.0f, 0.0f},
    {LLM_TYPE_F16, 1e-3f, 1e-3f},
    {LLM_TYPE_BF16, 8e-3f, 8e-3f},
    {LLM_TYPE_Q8_0, 1.0f / 127.0f, 0.01f},
    {LLM_TYPE_Q4_0, 1.0f / 8.0f, 0.12f},
    {LLM_TYPE_Q4_1, 1.0f / 15.0f, 0.09f},
    {LLM_TYPE_Q5_0, 1.0f / 16.0f, 0.06f},
    {LLM_TYPE_Q5_1, 1.0f / 31.0f, 0.045f},
    {LLM_TYPE_IQ4_NL, 0.2f, 0.12f},
    {LLM_TYPE_Q2_K, 0.5f, 0.45f},
    {LLM_TYPE_Q3_K, 0.35f, 0.25f},
    {LLM_TYPE_Q4_K, 0.2f, 0.12f},
    {LLM_TYPE_Q5_K, 0.1f, 0.06f},
    {LLM_TYPE_Q6_K, 0.05f, 0.03f},
    {LLM_TYPE_IQ4_XS, 0.2f, 0.12f},
    {LLM_TYPE_Q8_K, 1.0f / 127.0f, 0.01f},
    {LLM_TYPE_Q8_1, 1.0f / 127.0f, 0.01f},
};

static void test_round_trips(void **state)
{
    enum { N = 1024 };
    static float x[N], y[N];
    static uint8_t buf[N * 4];
    for (size_t t = 0; t < sizeof round_trip_types / sizeof round_trip_types[0]; t++) {
        uint32_t type = round_trip_types[t].type;
        for (int trial = 0; trial < 30; trial++) {
            /* Block scales stay normal f16 numbers (below ~6e-5 * 127 they
             * would go subnormal and lose precision, as in the format itself). */
            float scale = powf(10.0f, (float)(trial % 5 - 2));
            for (int i = 0; i < N; i++) x[i] = frand() * scale;
            if (trial % 3 == 1) /* uneven sub-blocks: offsets and outliers */
                for (int i = 0; i < N; i++)
                    x[i] = x[i] * (1.0f + (float)((i / 16) % 5)) + (i % 61 ? 0.0f : 3.0f * scale);
            if (trial == 0) memset(x, 0, sizeof x); /* all-zero blocks: d = 0 */
            memset(buf, 0xa5, sizeof buf);
            q_quantize_row(type, x, buf, N);
            q_dequantize_row(type, buf, y, N);
            double se = 0.0, sx = 0.0;
            for (int b = 0; b < N / 256; b++) {
                float amax = 0.0f;
                for (int j = 0; j < 256; j++) amax = fmaxf(amax, fabsf(x[b * 256 + j]));
                for (int j = 0; j < 256; j++) {
                    int i = b * 256 + j;
                    se += (double)(y[i] - x[i]) * (y[i] - x[i]);
                    sx += (double)x[i] * x[i];
                    if (!(fabsf(y[i] - x[i]) <=
                          round_trip_types[t].max_tol * amax * 1.01f + 1e-30f))
                        fail_msg("%s trial %d [%d]: %g for %g (amax %g)",
                                 llm_type_name((int32_t)type), trial, i, (double)y[i], (double)x[i],
                                 (double)amax);
                }
            }
            if (sx > 0.0 && sqrt(se / sx) > round_trip_types[t].rms_tol)
                fail_msg("%s trial %d: relative rms error %g", llm_type_name((int32_t)type), trial,
                         sqrt(se / sx));
        }
    }
}

/* Row sizes and block sizes against the ggml type table (gguf.c). */
static void test_row_bytes(void **state)
{
    static const struct {
        uint32_t type;
        int32_t blck;
        size_t bytes;
    } t[] = {{LLM_TYPE_F32, 1, 4},      {LLM_TYPE_F16, 1, 2},       {LLM_TYPE_BF16, 1, 2},
             {LLM_TYPE_Q4_0, 32, 18},   {LLM_TYPE_Q4_1, 32, 20},    {LLM_TYPE_Q5_0, 32, 22},
             {LLM_TYPE_Q5_1, 32, 24},   {LLM_TYPE_Q8_0, 32, 34},    {LLM_TYPE_Q8_1, 32, 36},
             {LLM_TYPE_Q2_K, 256, 84},  {LLM_TYPE_Q3_K, 256, 110},  {LLM_TYPE_Q4_K, 256, 144},
             {LLM_TYPE_Q5_K, 256, 176}, {LLM_TYPE_Q6_K, 256, 210},  {LLM_TYPE_Q8_K, 256, 292},
             {LLM_TYPE_IQ4_NL, 32, 18}, {LLM_TYPE_IQ4_XS, 256, 136}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        assert_int_equal(q_block_size(t[i].type), t[i].blck);
        assert_int_equal(q_row_bytes(t[i].type, 4096), 4096 / t[i].blck * t[i].bytes);
        /* only the activation formats are not weight types */
        assert_int_equal(q_type_supported(t[i].type),
                         t[i].type != LLM_TYPE_Q8_1 && t[i].type != LLM_TYPE_Q8_K);
    }
    assert_int_equal(q_row_bytes(99, 256), 0);
    assert_int_equal(q_block_size(99), 0);
    assert_false(q_type_supported(99));
    assert_int_equal(q_dot_type(LLM_TYPE_Q4_1), LLM_TYPE_Q8_1);
    assert_int_equal(q_dot_type(LLM_TYPE_Q5_1), LLM_TYPE_Q8_1);
    assert_int_equal(q_dot_type(LLM_TYPE_Q5_0), LLM_TYPE_Q8_0);
    assert_int_equal(q_dot_type(LLM_TYPE_IQ4_NL), LLM_TYPE_Q8_0);
    assert_int_equal(q_dot_type(LLM_TYPE_Q4_K), LLM_TYPE_Q8_K);
    assert_int_equal(q_dot_type(LLM_TYPE_IQ4_XS), LLM_TYPE_Q8_K);
    assert_int_equal(q_dot_type(LLM_TYPE_F16), LLM_TYPE_F16);
}

static void test_q4_0_layout(void **state)
{
    /* Element j is the low nibble of byte j, element j+16 the high nibble. */
    struct block_q4_0 b = {.d = q_f32_to_f16(0.5f)};
    for (int j = 0; j < 16; j++) b.qs[j] = (uint8_t)((j & 0xf) | ((15 - j) << 4));
    float y[32];
    q_dequantize_row(LLM_TYPE_Q4_0, &b, y, 32);
    for (int j = 0; j < 16; j++) {
        assert_true(y[j] == 0.5f * (float)(j - 8));
        assert_true(y[j + 16] == 0.5f * (float)(15 - j - 8));
    }
}

static void test_dot_products(void **state)
{
    enum { N = 512 };
    float w[N], x[N], wd[N], xd[N];
    uint8_t wq[N * 4], xq[N * 4];
    const uint32_t types[] = {LLM_TYPE_F32,  LLM_TYPE_F16,    LLM_TYPE_BF16,  LLM_TYPE_Q8_0,
                              LLM_TYPE_Q4_0, LLM_TYPE_Q4_1,   LLM_TYPE_Q5_0,  LLM_TYPE_Q5_1,
                              LLM_TYPE_Q2_K, LLM_TYPE_Q3_K,   LLM_TYPE_Q4_K,  LLM_TYPE_Q5_K,
                              LLM_TYPE_Q6_K, LLM_TYPE_IQ4_NL, LLM_TYPE_IQ4_XS};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        for (int i = 0; i < N; i++) {
            w[i] = frand() + (i % 32 == 0 ? 0.5f : 0.0f);
            x[i] = frand();
        }
        uint32_t dt = q_dot_type(types[t]);
        q_quantize_row(types[t], w, wq, N);
        q_quantize_row(dt, x, xq, N);
        q_dequantize_row(types[t], wq, wd, N);
        q_dequantize_row(dt, xq, xd, N);
        double ref = 0.0;
        for (int i = 0; i < N; i++) ref += (double)wd[i] * (double)xd[i];
        float got = q_dot_ref(types[t], wq, xq, N);
        /* Q8_1 carries d * sum(q) rounded to f16 for the min term: up to
         * |m| * |s| * 2^-11 per block more than the dequantized sum */
        double tol = dt == LLM_TYPE_Q8_1 ? 5e-3 : 1e-3;
        if (fabs((double)got - ref) > tol)
            fail_msg("%s: dot %g, dequantized %g", llm_type_name((int32_t)types[t]), (double)got,
                     ref);
    }
}

/* ---- against ggml's own outputs (tests/data/quant/<type>.bin) ---- */

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = malloc(1 << 16);
    *len = buf ? fread(buf, 1, 1 << 16, f) : 0;
    fclose(f);
    return buf;
}

static void test_dequant_matches_ggml(void **state)
{
    q_init();
    static const char *const names[] = {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "iq4_nl",
                                        "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "iq4_xs"};
    float *y = malloc(sizeof(float) * 4096);
    assert_non_null(y);
    for (size_t t = 0; t < sizeof names / sizeof names[0]; t++) {
        char path[128];
        snprintf(path, sizeof path, "engine/tests/data/quant/%s.bin", names[t]);
        size_t len = 0;
        uint8_t *d = read_all(path, &len);
        assert_non_null(d);
        /* "KQRF", u32 type, n, row bytes, dot type; random blocks, their
         * floats; weights, ggml's blocks of them, their floats; ggml's dot */
        uint32_t h[4];
        assert_true(len >= 20 && memcmp(d, "KQRF", 4) == 0);
        memcpy(h, d + 4, sizeof h);
        size_t n = h[1], rb = h[2];
        assert_int_equal(len, 20 + 2 * rb + 3 * 4 * n + 4);
        assert_int_equal(q_row_bytes(h[0], (int64_t)n), rb);
        assert_int_equal(q_dot_type(h[0]), h[3]);
        assert_string_equal(llm_type_name((int32_t)h[0]), names[t]);
        const uint8_t *a = d + 20, *fa = a + rb, *xw = fa + 4 * n, *b = xw + 4 * n, *fb = b + rb;
        q_dequantize_row(h[0], a, y, (int64_t)n);
        if (memcmp(y, fa, 4 * n) != 0)
            fail_msg("%s: random blocks dequantize differently", names[t]);
        q_dequantize_row(h[0], b, y, (int64_t)n);
        if (memcmp(y, fb, 4 * n) != 0)
            fail_msg("%s: ggml's blocks dequantize differently", names[t]);

        /* our reference dot of ggml's blocks with our activations, against
         * ggml's (vector code, its own summation order) */
        float xa[4096], dot_ggml;
        uint8_t act[4096 * 2];
        size_t al = 0;
        uint8_t *ad = read_all("engine/tests/data/quant/act.bin", &al);
        assert_non_null(ad);
        memcpy(xa, ad + 8, 4 * n);
        free(ad);
        memcpy(&dot_ggml, fb + 4 * n, 4);
        q_quantize_row(h[3], xa, act, (int64_t)n);
        float dot = q_dot_ref(h[0], b, act, (int64_t)n);
        float wabs = 0.0f;
        for (size_t i = 0; i < n; i++) wabs += fabsf(((const float *)(const void *)fb)[i]);
        /* Q8_0 activations round as our Q8_0 quantizer does (1 / d), ggml's x86
         * one as 127 / max: single quants may differ by one step */
        float tol =
            h[3] == LLM_TYPE_Q8_0 ? wabs * 2.0f / 127.0f * 0.05f : 1e-4f * (1.0f + fabsf(dot_ggml));
        if (fabsf(dot - dot_ggml) > tol)
            fail_msg("%s: dot %.9g, ggml %.9g", names[t], (double)dot, (double)dot_ggml);
        free(d);
    }
    free(y);
}

/* The activation formats, bit for bit: Q8_K and Q8_1 of the same floats. */
static void test_activations_match_ggml(void **state)
{
    q_init();
    size_t len = 0;
    uint8_t *d = read_all("engine/tests/data/quant/act.bin", &len);
    assert_non_null(d);
    assert_true(len >= 8 && memcmp(d, "KQAC", 4) == 0);
    uint32_t n;
    memcpy(&n, d + 4, 4);
    size_t k8 = q_row_bytes(LLM_TYPE_Q8_K, n), q81 = q_row_bytes(LLM_TYPE_Q8_1, n);
    assert_int_equal(len, 8 + 4 * n + k8 + q81);
    float *x = malloc(4 * n);
    uint8_t *q = malloc(k8 + q81);
    assert_non_null(x);
    assert_non_null(q);
    memcpy(x, d + 8, 4 * n);
    q_quantize_row(LLM_TYPE_Q8_K, x, q, n);
    assert_memory_equal(q, d + 8 + 4 * n, k8);
    q_quantize_row(LLM_TYPE_Q8_1, x, q, n);
    assert_memory_equal(q, d + 8 + 4 * n + k8, q81);
    free(x);
    free(q);
    free(d);
}

/* Layout details the reference data might not pin down on its own. */
static void test_k_layouts(void **state)
{
    q_init();
    /* Q4_K: sub-block j's scale and min (six bits, j >= 4 split) */
    struct block_q4_k b;
    memset(&b, 0, sizeof b);
    b.d = q_f32_to_f16(1.0f);
    b.dmin = q_f32_to_f16(0.5f);
    for (int j = 0; j < 8; j++) {
        int ls = 10 + 6 * j, lm = 63 - 5 * j; /* distinct, some above 15 */
        if (j < 4) {
            b.scales[j] = (uint8_t)ls;
            b.scales[j + 4] = (uint8_t)lm;
        } else {
            b.scales[j + 4] = (uint8_t)((ls & 15) | ((lm & 15) << 4));
            b.scales[j - 4] |= (uint8_t)((ls >> 4) << 6);
            b.scales[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    for (int i = 0; i < QK_K / 2; i++) b.qs[i] = (uint8_t)(i * 7);
    float y[QK_K];
    q_dequantize_row(LLM_TYPE_Q4_K, &b, y, QK_K);
    for (int e = 0; e < QK_K; e++) {
        int j = e / 32, c = e / 64, l = e % 32,
            q = (b.qs[32 * c + l] >> (e % 64 >= 32 ? 4 : 0)) & 15;
        float want = (float)(10 + 6 * j) * (float)q - 0.5f * (float)(63 - 5 * j);
        assert_true(fabsf(y[e] - want) <= 1e-4f * fabsf(want) + 1e-6f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_matches_compiler),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_row_bytes),
        cmocka_unit_test(test_q4_0_layout),
        cmocka_unit_test(test_dot_products),
        cmocka_unit_test(test_dequant_matches_ggml),
        cmocka_unit_test(test_activations_match_ggml),
        cmocka_unit_test(test_k_layouts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
