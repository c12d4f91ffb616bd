/* kernels_avx2: row dot products with AVX2 + FMA + F16C, chosen at run time
 * by kernels.c when the CPU has them (this file is compiled without -mavx2;
 * each function carries its own target attribute).
 *
 * Q8_0 and Q4_0 take Q8_0 activations and multiply 32 int8 pairs at once
 * (sign trick + maddubs: |a| as unsigned times sign-adjusted b), then scale
 * by the two block scales in float. F16/BF16 widen 8 halves at a time.
 */
#include "kllm/engine.h"
#include "quant.h"

#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))

AVX2 static inline float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 32 signed int8 pairs -> 8 int32 partial sums, as floats. */
AVX2 static inline __m256 dot_i8(__m256i a, __m256i b)
{
    __m256i ax = _mm256_sign_epi8(a, a);
    __m256i sy = _mm256_sign_epi8(b, a);
    __m256i p16 = _mm256_maddubs_epi16(ax, sy);
    __m256i p32 = _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
    return _mm256_cvtepi32_ps(p32);
}

AVX2 static float dot_q8_0(const void *w, const void *x, int64_t n)
{
    const struct block_q8_0 *a = w, *b = x;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t nb = n / QK, k = 0;
    for (; k + 1 < nb; k += 2) {
        __m256 d0 = _mm256_set1_ps(q_f16_to_f32(a[k].d) * q_f16_to_f32(b[k].d));
        __m256 d1 = _mm256_set1_ps(q_f16_to_f32(a[k + 1].d) * q_f16_to_f32(b[k + 1].d));
        __m256 p0 = dot_i8(_mm256_loadu_si256((const __m256i *)(const void *)a[k].qs),
                           _mm256_loadu_si256((const __m256i *)(const void *)b[k].qs));
        __m256 p1 = dot_i8(_mm256_loadu_si256((const __m256i *)(const void *)a[k + 1].qs),
                           _mm256_loadu_si256((const __m256i *)(const void *)b[k + 1].qs));
        acc0 = _mm256_fmadd_ps(d0, p0, acc0);
        acc1 = _mm256_fmadd_ps(d1, p1, acc1);
    }
    for (; k < nb; k++) {
        __m256 d = _mm256_set1_ps(q_f16_to_f32(a[k].d) * q_f16_to_f32(b[k].d));
        __m256 p = dot_i8(_mm256_loadu_si256((const __m256i *)(const void *)a[k].qs),
                          _mm256_loadu_si256((const __m256i *)(const void *)b[k].qs));
        acc0 = _mm256_fmadd_ps(d, p, acc0);
    }
    return hsum_ps(_mm256_add_ps(acc0, acc1));
}

AVX2 static float dot_q4_0(const void *w, const void *x, int64_t n)
{
    const struct block_q4_0 *a = w;
    const struct block_q8_0 *b = x;
    const __m256i low = _mm256_set1_epi8(0x0f), eight = _mm256_set1_epi8(8);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t k = 0; k < n / QK; k++) {
        __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)a[k].qs);
        /* low lane: elements 0..15 (low nibbles); high lane: 16..31 */
        __m256i q = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
        q = _mm256_sub_epi8(_mm256_and_si256(q, low), eight);
        __m256 d = _mm256_set1_ps(q_f16_to_f32(a[k].d) * q_f16_to_f32(b[k].d));
        __m256 p = dot_i8(q, _mm256_loadu_si256((const __m256i *)(const void *)b[k].qs));
        acc = _mm256_fmadd_ps(d, p, acc);
    }
    return hsum_ps(acc);
}

AVX2 static float dot_f16(const void *w, const void *x, int64_t n)
{
    const uint16_t *a = w, *b = x;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int j = 0; j < 4; j++) {
            __m256 va =
                _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(a + i + 8 * j)));
            __m256 vb =
                _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(b + i + 8 * j)));
            acc[j] = _mm256_fmadd_ps(va, vb, acc[j]);
        }
    }
    for (; i + 8 <= n; i += 8) {
        __m256 va = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(a + i)));
        __m256 vb = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(b + i)));
        acc[0] = _mm256_fmadd_ps(va, vb, acc[0]);
    }
    float s = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for (; i < n; i++) s += q_f16_to_f32(a[i]) * q_f16_to_f32(b[i]);
    return s;
}

AVX2 static inline __m256 load_bf16(const uint16_t *p)
{
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

AVX2 static float dot_bf16(const void *w, const void *x, int64_t n)
{
    const uint16_t *a = w, *b = x;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(load_bf16(a + i), load_bf16(b + i), acc0);
        acc1 = _mm256_fmadd_ps(load_bf16(a + i + 8), load_bf16(b + i + 8), acc1);
    }
    float s = hsum_ps(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) s += q_bf16_to_f32(a[i]) * q_bf16_to_f32(b[i]);
    return s;
}

AVX2 static float dot_f32(const void *w, const void *x, int64_t n)
{
    const float *a = w, *b = x;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    float s = hsum_ps(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

float kern_dot_avx2(uint32_t wtype, const void *w, const void *x, int64_t n);
float kern_dot_avx2(uint32_t wtype, const void *w, const void *x, int64_t n)
{
    switch (wtype) {
    case LLM_TYPE_Q8_0: return dot_q8_0(w, x, n);
    case LLM_TYPE_Q4_0: return dot_q4_0(w, x, n);
    case LLM_TYPE_F16: return dot_f16(w, x, n);
    case LLM_TYPE_BF16: return dot_bf16(w, x, n);
    case LLM_TYPE_F32: return dot_f32(w, x, n);
    default: return 0.0f;
    }
}
