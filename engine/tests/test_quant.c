/* Element format tests: f16/bf16 conversion against the compiler's own
 * conversions, quantize/dequantize round trips for every type within the
 * format's error bound, and dot products against a float reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
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

static void test_round_trips(void **state)
{
    enum { N = 256 };
    const struct {
        uint32_t type;
        float rel_tol; /* of the block's max magnitude */
    } types[] = {{LLM_TYPE_F32, 0.0f},
                 {LLM_TYPE_F16, 1e-3f},
                 {LLM_TYPE_BF16, 8e-3f},
                 {LLM_TYPE_Q8_0, 1.0f / 127.0f},
                 {LLM_TYPE_Q4_0, 1.0f / 8.0f}};
    float x[N], y[N];
    uint8_t buf[N * 4];
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        for (int trial = 0; trial < 50; trial++) {
            /* Block scales stay normal f16 numbers (below ~6e-5 * 127 they
             * would go subnormal and lose precision, as in the format itself). */
            float scale = powf(10.0f, (float)(trial % 5 - 2));
            for (int i = 0; i < N; i++) x[i] = frand() * scale;
            if (trial == 0) memset(x, 0, sizeof x); /* all-zero blocks: d = 0 */
            q_quantize_row(types[t].type, x, buf, N);
            q_dequantize_row(types[t].type, buf, y, N);
            for (int b = 0; b < N / 32; b++) {
                float amax = 0.0f;
                for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[b * 32 + j]));
                for (int j = 0; j < 32; j++) {
                    int i = b * 32 + j;
                    assert_true(fabsf(y[i] - x[i]) <= types[t].rel_tol * amax * 1.01f + 1e-30f);
                }
            }
        }
        assert_int_equal(q_row_bytes(types[t].type, N),
                         types[t].type == LLM_TYPE_F32    ? 4 * N
                         : types[t].type == LLM_TYPE_Q8_0 ? 34 * N / 32
                         : types[t].type == LLM_TYPE_Q4_0 ? 18 * N / 32
                                                          : 2 * N);
    }
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
    const uint32_t types[] = {LLM_TYPE_F32, LLM_TYPE_F16, LLM_TYPE_BF16, LLM_TYPE_Q8_0,
                              LLM_TYPE_Q4_0};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        for (int i = 0; i < N; i++) {
            w[i] = frand();
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
        assert_float_equal(got, (float)ref, 1e-3);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_matches_compiler), cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_round_trips),          cmocka_unit_test(test_q4_0_layout),
        cmocka_unit_test(test_dot_products),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
