/* kernels_avx2: row dot products with AVX2 + FMA + F16C, chosen at run time
 * by kernels.c when the CPU has them (this file is compiled without -mavx2;
 * each function carries its own target attribute).
 *
 * Q8_0 and Q4_0 take Q8_0 activations with f32 scales (KERN_ACT_Q8_F32) and multiply 32 int8 pairs at once
 * (sign trick + maddubs: |a| as unsigned times sign-adjusted b), then scale
 * by the two block scales in float. F16/BF16 widen 8 halves at a time.
 */
#include "kernels.h"
#include "kernels_avx2.h"
#include "kllm/engine.h"
#include "quant.h"

#include <immintrin.h>
#include <math.h>

/* Bytes ahead of the weights read by the single-row Q8_0 dot (decode),
 * see dot_q8_0. */
#define PF_AHEAD 2048

AVX2 static inline float h2f(uint16_t h)
{
    return _cvtsh_ss(h);
}

/* The reference's horizontal sum of its f32 vector sums (AVX2 build):
 * halves added, then two horizontal adds: (v0+v4 + v1+v5) + (v2+v6 + v3+v7). */
AVX2 static inline float hsum_hadd(__m256 v)
{
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    t = _mm_hadd_ps(t, t);
    return _mm_cvtss_f32(_mm_hadd_ps(t, t));
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

/* Block k of a Q8_0 (q4 == 0) or Q4_0 (q4 == 1) row as 32 signed int8
 * values (Q4_0 nibbles unpacked and re-centred), and its scale. */
AVX2 static inline __m256i load_wblock(int q4, const void *w, int64_t k, float *d)
{
    if (q4) {
        const struct block_q4_0 *a = (const struct block_q4_0 *)w + k;
        __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)a->qs);
        /* low lane: elements 0..15 (low nibbles); high lane: 16..31 */
        __m256i q = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
        *d = h2f(a->d);
        return _mm256_sub_epi8(_mm256_and_si256(q, _mm256_set1_epi8(0x0f)), _mm256_set1_epi8(8));
    }
    const struct block_q8_0 *a = (const struct block_q8_0 *)w + k;
    *d = h2f(a->d);
    return _mm256_loadu_si256((const __m256i *)(const void *)a->qs);
}

AVX2 static float dot_q8_0(const void *w, const void *x, int64_t n)
{
    const struct block_q8_0 *a = w;
    const struct kblock_q8f *b = x;
    /* one accumulator, as the reference's kernels have it (same bits) */
    __m256 acc = _mm256_setzero_ps();
    for (int64_t k = 0; k < n / QK; k++) {
        /* In decode the weight rows stream from memory once per token; the
         * hardware prefetchers alone leave each core short of the memory
         * bandwidth. Asking for the line PF_AHEAD bytes on (rows are
         * contiguous: past a row's end is the next row) took medium Q8_0
         * decode from about 21 to 25 t/s and small from 172 to 205 (two
         * threads, interleaved runs). F16 (already at the bandwidth), Q4_0
         * (unpacking-bound) and the 2x4 tiles (compute-bound) did not gain. */
        if ((k & 1) == 0) _mm_prefetch((const char *)(const void *)(a + k) + PF_AHEAD, _MM_HINT_T0);
        __m256 d = _mm256_set1_ps(h2f(a[k].d) * b[k].d);
        __m256 p = dot_i8(_mm256_loadu_si256((const __m256i *)(const void *)a[k].qs),
                          _mm256_loadu_si256((const __m256i *)(const void *)b[k].qs));
        acc = _mm256_fmadd_ps(d, p, acc);
    }
    return hsum_ps(acc);
}

AVX2 static float dot_q4_0(const void *w, const void *x, int64_t n)
{
    const struct kblock_q8f *b = x;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t k = 0; k < n / QK; k++) {
        float da;
        __m256i q = load_wblock(1, w, k, &da);
        __m256 p = dot_i8(q, _mm256_loadu_si256((const __m256i *)(const void *)b[k].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(da * b[k].d), p, acc);
    }
    return hsum_ps(acc);
}

/* F16 weights against activations already widened to f32 (and rounded to
 * f16), one activation row: the reference's vector dot (decode), four
 * accumulators over each 32 elements, reduced pairwise, the rest one by
 * one in double. */
AVX2 static float dot_f16_f32(const void *w, const void *x, int64_t n)
{
    const uint16_t *a = w;
    const float *b = x;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
#pragma GCC unroll 4 /* keep the accumulators in registers */
        for (int j = 0; j < 4; j++) {
            __m256 va =
                _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(a + i + 8 * j)));
            acc[j] = _mm256_fmadd_ps(va, _mm256_loadu_ps(b + i + 8 * j), acc[j]);
        }
    }
    double s =
        hsum_hadd(_mm256_add_ps(_mm256_add_ps(acc[0], acc[2]), _mm256_add_ps(acc[1], acc[3])));
    for (; i < n; i++) s += (double)(q_f16_to_f32(a[i]) * b[i]);
    return (float)s;
}

AVX2 static inline __m256 load_bf16(const uint16_t *p)
{
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

/* BF16 weights and activations, one activation row: the reference's
 * vector dot (four accumulators over each 32, the rest in double). */
AVX2 static float dot_bf16(const void *w, const void *x, int64_t n)
{
    const uint16_t *a = w, *b = x;
    __m256 c[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 4; j++)
            c[j] = _mm256_fmadd_ps(load_bf16(a + i + 8 * j), load_bf16(b + i + 8 * j), c[j]);
    double s = hsum_ps(_mm256_add_ps(_mm256_add_ps(c[0], c[2]), _mm256_add_ps(c[1], c[3])));
    for (; i < n; i++) s += (double)(q_bf16_to_f32(a[i]) * q_bf16_to_f32(b[i]));
    return (float)s;
}

/* F32 weights, one activation row: the reference's vector dot. */
AVX2 static float dot_f32(const void *w, const void *x, int64_t n)
{
    const float *a = w, *b = x;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 4; j++)
            acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8 * j), _mm256_loadu_ps(b + i + 8 * j),
                                     acc[j]);
    float s =
        hsum_hadd(_mm256_add_ps(_mm256_add_ps(acc[0], acc[2]), _mm256_add_ps(acc[1], acc[3])));
    for (; i < n; i++) s = fmaf(a[i], b[i], s);
    return s;
}

/* ---- one weight row against four activation rows ---- */

AVX2 static inline __m256 hsum4_ps(__m256 a, __m256 b, __m256 c, __m256 d)
{
    /* lanes 0..3 of the result hold the horizontal sums of a, b, c, d, each
     * added in hsum_ps's order (the reference's tile kernels use it) */
    __m128 r0 = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    __m128 r1 = _mm_add_ps(_mm256_castps256_ps128(b), _mm256_extractf128_ps(b, 1));
    __m128 r2 = _mm_add_ps(_mm256_castps256_ps128(c), _mm256_extractf128_ps(c, 1));
    __m128 r3 = _mm_add_ps(_mm256_castps256_ps128(d), _mm256_extractf128_ps(d, 1));
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    return _mm256_castps128_ps256(_mm_add_ps(_mm_add_ps(r0, r2), _mm_add_ps(r1, r3)));
}

/* One Q8_0 / Q4_0 weight row against four Q8_0 activation rows. */
AVX2 static void dot4_q8(int q4, const void *w, const void *x, size_t xs, int64_t n, float out[4])
{
    const struct kblock_q8f *b[4];
    for (int j = 0; j < 4; j++)
        b[j] = (const struct kblock_q8f *)(const void *)((const uint8_t *)x + j * xs);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    for (int64_t k = 0; k < n / QK; k++) {
        float da;
        __m256i qa = load_wblock(q4, w, k, &da);
        __m256i ax = _mm256_sign_epi8(qa, qa);
#pragma GCC unroll 4 /* keep the accumulators in registers */
        for (int j = 0; j < 4; j++) {
            __m256i qb = _mm256_loadu_si256((const __m256i *)(const void *)b[j][k].qs);
            __m256i p16 = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(qb, qa));
            __m256 p = _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
            acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(da * b[j][k].d), p, acc[j]);
        }
    }
    _mm_storeu_ps(out, _mm256_castps256_ps128(hsum4_ps(acc[0], acc[1], acc[2], acc[3])));
}

AVX2 static void dot4_f16(const void *w, const void *x, size_t xs, int64_t n, float out[4])
{
    const uint16_t *a = w;
    const float *b[4]; /* activations widened to f32 (KERN_ACT_F16_AS_F32) */
    for (int j = 0; j < 4; j++) b[j] = (const float *)(const void *)((const uint8_t *)x + j * xs);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 va = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(a + i)));
#pragma GCC unroll 4 /* keep the accumulators in registers */
        for (int j = 0; j < 4; j++) acc[j] = _mm256_fmadd_ps(va, _mm256_loadu_ps(b[j] + i), acc[j]);
    }
    _mm_storeu_ps(out, _mm256_castps256_ps128(hsum4_ps(acc[0], acc[1], acc[2], acc[3])));
    for (; i < n; i++)
        for (int j = 0; j < 4; j++) out[j] += q_f16_to_f32(a[i]) * b[j][i];
}

/* Two weight rows against four activation rows: each activation block is
 * loaded once for both rows, each weight block once for all four. */
AVX2 static inline __attribute__((always_inline)) void
dot2x4_q8(int q4, const void *w0, const void *w1, const void *x, size_t xs, int64_t n, float out[8])
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[8];
    for (int j = 0; j < 8; j++) acc[j] = _mm256_setzero_ps();
    const uint8_t *xb = x;
    const size_t wb = q4 ? sizeof(struct block_q4_0) : sizeof(struct block_q8_0);
    for (int64_t k = 0; k < n / QK; k++) {
        if ((k & 1) == 0) { /* batched decode streams these rows from memory too */
            _mm_prefetch((const char *)w0 + (size_t)k * wb + PF_AHEAD, _MM_HINT_T0);
            _mm_prefetch((const char *)w1 + (size_t)k * wb + PF_AHEAD, _MM_HINT_T0);
        }
        float da[2];
        __m256i qa[2] = {load_wblock(q4, w0, k, &da[0]), load_wblock(q4, w1, k, &da[1])};
#pragma GCC unroll 4 /* keep the accumulators in registers */
        for (int j = 0; j < 4; j++) {
            const struct kblock_q8f *b = (const struct kblock_q8f *)(const void *)(xb + j * xs) + k;
            __m256i qb = _mm256_loadu_si256((const __m256i *)(const void *)b->qs);
            /* sign trick on the activation side: |b| once, the weights'
             * signs moved onto it per row (fewer live registers) */
            __m256i bx = _mm256_sign_epi8(qb, qb);
            float db = b->d;
            __m256i p0 =
                _mm256_madd_epi16(_mm256_maddubs_epi16(bx, _mm256_sign_epi8(qa[0], qb)), ones);
            __m256i p1 =
                _mm256_madd_epi16(_mm256_maddubs_epi16(bx, _mm256_sign_epi8(qa[1], qb)), ones);
            acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(da[0] * db), _mm256_cvtepi32_ps(p0), acc[j]);
            acc[4 + j] =
                _mm256_fmadd_ps(_mm256_set1_ps(da[1] * db), _mm256_cvtepi32_ps(p1), acc[4 + j]);
        }
    }
    _mm_storeu_ps(out, _mm256_castps256_ps128(hsum4_ps(acc[0], acc[1], acc[2], acc[3])));
    _mm_storeu_ps(out + 4, _mm256_castps256_ps128(hsum4_ps(acc[4], acc[5], acc[6], acc[7])));
}

/* The tile compiled once per weight type, so the Q4_0 unpacking constants
 * do not take registers from the Q8_0 loop (which then keeps all eight
 * accumulators in registers). */
AVX2 static void dot2x4_q8_0(const void *w0, const void *w1, const void *x, size_t xs, int64_t n,
                             float out[8])
{
    dot2x4_q8(0, w0, w1, x, xs, n, out);
}

AVX2 static void dot2x4_q4_0(const void *w0, const void *w1, const void *x, size_t xs, int64_t n,
                             float out[8])
{
    dot2x4_q8(1, w0, w1, x, xs, n, out);
}

/* Two F16 weight rows against four f32 activation rows: eight independent
 * accumulators, enough to hide the FMA latency (a 1x4 tile has only four). */
AVX2 static void dot2x4_f16(const void *w0, const void *w1, const void *x, size_t xs, int64_t n,
                            float out[8])
{
    const uint16_t *a0 = w0, *a1 = w1;
    const float *b[4];
    for (int j = 0; j < 4; j++) b[j] = (const float *)(const void *)((const uint8_t *)x + j * xs);
    __m256 acc[8];
    for (int j = 0; j < 8; j++) acc[j] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        if ((i & 31) == 0) { /* one line of each row, ahead (batched decode) */
            _mm_prefetch((const char *)(a0 + i) + PF_AHEAD, _MM_HINT_T0);
            _mm_prefetch((const char *)(a1 + i) + PF_AHEAD, _MM_HINT_T0);
        }
        __m256 v0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(a0 + i)));
        __m256 v1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(a1 + i)));
#pragma GCC unroll 4 /* keep the accumulators in registers */
        for (int j = 0; j < 4; j++) {
            __m256 vb = _mm256_loadu_ps(b[j] + i);
            /* one load for both rows: without this GCC folds the load into
             * both FMAs, and ten loads per step outrun the two load ports */
            __asm__("" : "+x"(vb));
            acc[j] = _mm256_fmadd_ps(v0, vb, acc[j]);
            acc[4 + j] = _mm256_fmadd_ps(v1, vb, acc[4 + j]);
        }
    }
    _mm_storeu_ps(out, _mm256_castps256_ps128(hsum4_ps(acc[0], acc[1], acc[2], acc[3])));
    _mm_storeu_ps(out + 4, _mm256_castps256_ps128(hsum4_ps(acc[4], acc[5], acc[6], acc[7])));
    for (; i < n; i++)
        for (int j = 0; j < 4; j++) {
            out[j] += q_f16_to_f32(a0[i]) * b[j][i];
            out[4 + j] += q_f16_to_f32(a1[i]) * b[j][i];
        }
}

/* ---- activation conversion ---- */

/* n floats to Q8_0 blocks with f32 scales (n a multiple of 32): d = max|x| / 127, q =
 * round-to-nearest-even(x / d), as vector code rounds. Non-finite input
 * gives q = 0 (the conversion of NaN is masked), never undefined values. */
AVX2 void kern_quantize_q8f_avx2(const float *x, struct kblock_q8f *y, int64_t n)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t k = 0; k < n / QK; k++) {
        __m256 v[4];
        __m256 amax = _mm256_setzero_ps();
        for (int j = 0; j < 4; j++) {
            v[j] = _mm256_loadu_ps(x + k * QK + 8 * j);
            amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[j]));
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        float d = _mm_cvtss_f32(m) / 127.0f;
        float id = d != 0.0f ? 127.0f / _mm_cvtss_f32(m) : 0.0f; /* as quant.c's Q8_0 */
        y[k].d = h2f(q_f32_to_f16(d)); /* the value a Q8_0 block would hold */
        __m256 mul = _mm256_set1_ps(id);
        __m256i q[4];
        for (int j = 0; j < 4; j++) {
            __m256 t = _mm256_round_ps(_mm256_mul_ps(v[j], mul),
                                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            t = _mm256_and_ps(t, _mm256_cmp_ps(t, t, _CMP_ORD_Q)); /* NaN -> 0 */
            t = _mm256_min_ps(_mm256_max_ps(t, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
            q[j] = _mm256_cvtps_epi32(t);
        }
        /* pack 32 int32 -> 32 int8 in order */
        __m256i a = _mm256_packs_epi32(q[0], q[1]), b = _mm256_packs_epi32(q[2], q[3]);
        __m256i p = _mm256_packs_epi16(a, b);
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(void *)y[k].qs, p);
    }
}

/* n floats rounded to f16 precision, kept as f32 (KERN_ACT_F16_AS_F32). */
AVX2 void kern_round_f16_avx2(const float *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i),
                                                                _MM_FROUND_TO_NEAREST_INT)));
    for (; i < n; i++) y[i] = q_f16_to_f32(q_f32_to_f16(x[i]));
}

/* ---- attention for one head ---- */

/* As attend_ref in kernels.c (the reference's flash-attention numerics:
 * online softmax, f16 accumulator), eight lanes at a time. */
AVX2 void kern_attend_avx2(const float *q, const uint16_t *k, const uint16_t *v, size_t kv_stride,
                           int32_t hd, int32_t n_pos, float scale, float softcap, float *scratch,
                           float *out)
{
    /* hd is a multiple of 8 (checked by the caller) and at most 512. */
    __m256 qv[64];
    __m128i acc[64];
    float qs[512];
    const int32_t nv = hd / 8, n32 = hd & ~31;
    for (int32_t j = 0; j < nv; j++) { /* round q to f16 like the K cache */
        qv[j] =
            _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(q + 8 * j), _MM_FROUND_TO_NEAREST_INT));
        _mm256_storeu_ps(qs + 8 * j, qv[j]);
        acc[j] = _mm_setzero_si128();
    }
    if (softcap > 0.0f) scale /= softcap;
    float m = -INFINITY, sum = 0.0f;
    for (int32_t t = 0; t < n_pos; t++) {
        const uint16_t *kt = k + (size_t)t * kv_stride, *vt = v + (size_t)t * kv_stride;
        /* the reference's f16 dot: four accumulators over each 32 elements,
         * reduced pairwise, then the rest one by one in double */
        __m256 d8[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                        _mm256_setzero_ps()};
        for (int32_t j = 0; j < n32 / 8; j++)
            d8[j & 3] = _mm256_fmadd_ps(
                qv[j],
                _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(kt + 8 * j))),
                d8[j & 3]);
        double dot =
            hsum_hadd(_mm256_add_ps(_mm256_add_ps(d8[0], d8[2]), _mm256_add_ps(d8[1], d8[3])));
        for (int32_t d = n32; d < hd; d++) dot += (double)(qs[d] * q_f16_to_f32(kt[d]));
        float s = (float)dot * scale, vs = 1.0f, ms1 = 1.0f;
        if (softcap > 0.0f) s = softcap * tanhf(s);
        if (s > m) {
            const __m256 ms = _mm256_set1_ps(expf(m - s));
            m = s;
            ms1 = _mm256_cvtss_f32(ms);
            for (int32_t j = 0; j < nv; j++)
                acc[j] = _mm256_cvtps_ph(_mm256_mul_ps(_mm256_cvtph_ps(acc[j]), ms),
                                         _MM_FROUND_TO_NEAREST_INT);
        } else {
            vs = expf(s - m);
        }
        const __m256 p = _mm256_set1_ps(vs);
        for (int32_t j = 0; j < nv; j++) {
            __m256 vv =
                _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(vt + 8 * j)));
            acc[j] = _mm256_cvtps_ph(_mm256_fmadd_ps(vv, p, _mm256_cvtph_ps(acc[j])),
                                     _MM_FROUND_TO_NEAREST_INT);
        }
        sum = fmaf(sum, ms1, vs);
    }
    (void)scratch;
    const __m256 inv = _mm256_set1_ps(1.0f / sum);
    for (int32_t j = 0; j < nv; j++)
        _mm256_storeu_ps(out + 8 * j, _mm256_mul_ps(_mm256_cvtph_ps(acc[j]), inv));
}

int kern_dot2x4_avx2(uint32_t wtype, const void *w0, const void *w1, const void *x, size_t xstride,
                     int64_t n, float out[8])
{
    if (wtype == LLM_TYPE_F16) {
        dot2x4_f16(w0, w1, x, xstride, n, out);
        return 1;
    }
    if (wtype == LLM_TYPE_Q8_0) {
        dot2x4_q8_0(w0, w1, x, xstride, n, out);
        return 1;
    }
    if (wtype == LLM_TYPE_Q4_0) {
        dot2x4_q4_0(w0, w1, x, xstride, n, out);
        return 1;
    }
    return 0;
}

void kern_dot4_avx2(uint32_t wtype, const void *w, const void *x, size_t xstride, int64_t n,
                    float out[4])
{
    switch (wtype) {
    case LLM_TYPE_Q8_0: dot4_q8(0, w, x, xstride, n, out); break;
    case LLM_TYPE_Q4_0: dot4_q8(1, w, x, xstride, n, out); break;
    case LLM_TYPE_F16: dot4_f16(w, x, xstride, n, out); break;
    default:
        if (kern_dot4_kq_avx2(wtype, w, x, xstride, n, out) == 0) break;
        for (int j = 0; j < 4; j++)
            out[j] = kern_dot_tile_avx2(wtype, w, (const uint8_t *)x + j * xstride, n);
    }
}

/* Eight elements of a row of F32, F16 or BF16 (type) widened to f32, and one. */
AVX2 static inline __m256 load8(uint32_t type, const void *p, int64_t i)
{
    if (type == LLM_TYPE_F16)
        return _mm256_cvtph_ps(
            _mm_loadu_si128((const __m128i *)(const void *)((const uint16_t *)p + i)));
    if (type == LLM_TYPE_BF16) return load_bf16((const uint16_t *)p + i);
    return _mm256_loadu_ps((const float *)p + i);
}
static inline float load1(uint32_t type, const void *p, int64_t i)
{
    if (type == LLM_TYPE_F16) return q_f16_to_f32(((const uint16_t *)p)[i]);
    if (type == LLM_TYPE_BF16) return q_bf16_to_f32(((const uint16_t *)p)[i]);
    return ((const float *)p)[i];
}

/* F32, F16 and BF16 weights, a row of a batch of two or more: the
 * reference's tile order, one accumulator of eight lanes (the 1x4 and 2x4
 * tiles below), hsum_ps. Activations: f32 (f16-rounded for F16), BF16 for
 * BF16. */
AVX2 static inline __attribute__((always_inline)) float dot_tile(uint32_t wt, const void *w,
                                                                 const void *x, int64_t n)
{
    const uint32_t xt = wt == LLM_TYPE_BF16 ? LLM_TYPE_BF16 : LLM_TYPE_F32;
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(load8(wt, w, i), load8(xt, x, i), acc);
    float s = hsum_ps(acc);
    for (; i < n; i++) s += load1(wt, w, i) * load1(xt, x, i);
    return s;
}

AVX2 float kern_dot_tile_avx2(uint32_t wtype, const void *w, const void *x, int64_t n)
{
    switch (wtype) {
    case LLM_TYPE_F16: return dot_tile(LLM_TYPE_F16, w, x, n);
    case LLM_TYPE_BF16: return dot_tile(LLM_TYPE_BF16, w, x, n);
    case LLM_TYPE_F32: return dot_tile(LLM_TYPE_F32, w, x, n);
    default: return kern_dot_avx2(wtype, w, x, n);
    }
}

float kern_dot_avx2(uint32_t wtype, const void *w, const void *x, int64_t n)
{
    switch (wtype) {
    case LLM_TYPE_Q8_0: return dot_q8_0(w, x, n);
    case LLM_TYPE_Q4_0: return dot_q4_0(w, x, n);
    case LLM_TYPE_F16: return dot_f16_f32(w, x, n); /* activations: KERN_ACT_F16_AS_F32 */
    case LLM_TYPE_BF16: return dot_bf16(w, x, n);
    case LLM_TYPE_F32: return dot_f32(w, x, n);
    default: {
        float s;
        if (kern_dot_kq_avx2(wtype, w, x, n, &s) == 0) return s;
        return q_dot_ref(wtype, w, x, n); /* no AVX2 kernel: activations in q_dot_type */
    }
    }
}

/* kern_expf_ref (kernels.c) on eight lanes. */
AVX2 static __m256 expf8(__m256 x)
{
    const __m256 r = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
    const __m256 n = _mm256_sub_ps(z, r);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
    const __m256 k =
        _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1))));
    const __m256 an = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
    const __m256 c = _mm256_cmp_ps(an, _mm256_set1_ps(126), _CMP_GT_OQ);
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(
            _mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
            _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
    if (!_mm256_movemask_ps(c)) return _mm256_fmadd_ps(j, k, k);
    const __m256i g =
        _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
                         _mm256_set1_epi32((int)0x82000000u));
    const __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
    const __m256 d = _mm256_cmp_ps(an, _mm256_set1_ps(192), _CMP_GT_OQ);
    const __m256 big = _mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1);
    const __m256 small = _mm256_fmadd_ps(k, j, k);
    return _mm256_blendv_ps(_mm256_blendv_ps(small, big, c), _mm256_mul_ps(s1, s1), d);
}

AVX2 void kern_silu_mul8_avx2(float *g, const float *u)
{
    __m256 x = _mm256_loadu_ps(g);
    __m256 s = _mm256_div_ps(
        x, _mm256_add_ps(_mm256_set1_ps(1), expf8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
    _mm256_storeu_ps(g, _mm256_mul_ps(s, _mm256_loadu_ps(u)));
}
