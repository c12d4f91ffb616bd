/* kernels_kq_avx2: AVX2 + FMA row dots for the formats added after Q8_0 /
 * Q4_0: the K-quants Q4_K, Q5_K, Q6_K against Q8_K activations, and Q5_0,
 * IQ4_NL (Q8_0 activations with f32 scales, KERN_ACT_Q8_F32), Q4_1, Q5_1
 * (Q8_1 activations). Chosen at run time by kernels_avx2.c like the rest of
 * the AVX2 path: compiled without -mavx2, each function carries its own
 * target attribute, so the binary still runs on CPUs without AVX2.
 *
 * The integer parts are exact; only the order of the float additions
 * differs from q_dot_ref (tests bound the difference).
 *
 * Super-blocks: each 32 weights are unpacked to unsigned bytes and
 * multiplied with the int8 activations by maddubs (pairs into int16, no
 * saturation: at most 2 * 63 * 128), then by the sub-block scale with madd
 * (into int32). Offsets (Q4_K / Q5_K mins) come from the activation
 * block's bsums instead of per-element work; Q6_K's -32 is taken per pair
 * of elements so that each int32 lane holds what the reference's does.
 */
#include "kernels.h"
#include "kernels_avx2.h"
#include "kllm/engine.h"
#include "quant.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

/* Bytes ahead of the weights asked for in the single-row dots: the rows
 * stream from memory once per token in decode (see dot_q8_0). */
#define KQ_PF_AHEAD 1024

/* ---- K-quants ---- */

/* ---- single-row K-quant dots (decode: one pass over each weight row,
 * everything in registers, one horizontal sum per row) ---- */

/* int16 element `i` of each 128-bit lane broadcast over the lane. */
#define BCAST16(i) _mm256_set1_epi16((short)(0x0100 + 0x0202 * (i)))

/* Q4_K (five == 0) / Q5_K against Q8_K. */
AVX2 static inline __attribute__((always_inline)) float dot1_k45(int five, const void *w,
                                                                 const void *x, int64_t n)
{
    const struct block_q8_k *y = x;
    const size_t wb = five ? sizeof(struct block_q5_k) : sizeof(struct block_q4_k);
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    float summs = 0.0f;
    for (int64_t k = 0; k < n / QK_K; k++) {
        const uint8_t *blk = (const uint8_t *)w + (size_t)k * wb;
        _mm_prefetch((const char *)blk + KQ_PF_AHEAD, _MM_HINT_T0);
        _mm_prefetch((const char *)blk + KQ_PF_AHEAD + 64, _MM_HINT_T0);
        const struct block_q4_k *b4 = (const void *)blk;
        const struct block_q5_k *b5 = (const void *)blk;
        uint8_t sm[16]; /* eight scales, then eight mins */
        k4_scales(b4->scales, sm, sm + 8);
        __m256i smv = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)sm));
        /* mins . (pair sums of bsums) */
        __m256i bs = _mm256_loadu_si256((const __m256i *)(const void *)y[k].bsums);
        __m128i pair = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
        __m128i pm = _mm_madd_epi16(_mm256_extracti128_si256(smv, 1), pair);
        const float dmin = -y[k].d * _cvtsh_ss(b4->dmin);
        if (five) { /* the reference sums Q5_K's mins term in one float */
            __m128i t =
                _mm_hadd_epi32(_mm_hadd_epi32(pm, _mm_setzero_si128()), _mm_setzero_si128());
            summs = fmaf(dmin, (float)_mm_cvtsi128_si32(t), summs);
        } else {
            accm = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(pm), accm);
        }
        __m256i sc = _mm256_permute2x128_si256(smv, smv, 0x00); /* the scales in both lanes */
        const uint8_t *qs = five ? b5->qs : b4->qs;
        const int8_t *q8 = y[k].qs;
        __m256i hb = five ? _mm256_loadu_si256((const __m256i *)(const void *)b5->qh)
                          : _mm256_setzero_si256();
        __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            __m256i raw = _mm256_loadu_si256((const __m256i *)(const void *)(qs + 32 * c));
            __m256i lo = _mm256_and_si256(raw, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
            if (five) {
                lo = _mm256_or_si256(
                    lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * c), one), 4));
                hi = _mm256_or_si256(
                    hi,
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * c + 1), one), 4));
            }
            __m256i a0 = _mm256_loadu_si256((const __m256i *)(const void *)(q8 + 64 * c));
            __m256i a1 = _mm256_loadu_si256((const __m256i *)(const void *)(q8 + 64 * c + 32));
            __m256i p0 = _mm256_madd_epi16(_mm256_shuffle_epi8(sc, BCAST16(2 * c)),
                                           _mm256_maddubs_epi16(lo, a0));
            __m256i p1 = _mm256_madd_epi16(_mm256_shuffle_epi8(sc, BCAST16(2 * c + 1)),
                                           _mm256_maddubs_epi16(hi, a1));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(y[k].d * _cvtsh_ss(b4->d)), _mm256_cvtepi32_ps(sumi),
                              acc);
    }
    accm = _mm_add_ps(accm, _mm_movehl_ps(accm, accm));
    accm = _mm_add_ss(accm, _mm_movehdup_ps(accm));
    return hsum_ps(acc) + (five ? summs : _mm_cvtss_f32(accm));
}

/* Q6_K against Q8_K; the -32 of every quant comes off through bsums. */
AVX2 static float dot1_q6_k(const void *w, const void *x, int64_t n)
{
    const struct block_q6_k *b = w;
    const struct block_q8_k *y = x;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(3), m32 = _mm256_set1_epi8(32);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t k = 0; k < n / QK_K; k++) {
        _mm_prefetch((const char *)(b + k) + KQ_PF_AHEAD, _MM_HINT_T0);
        _mm_prefetch((const char *)(b + k) + KQ_PF_AHEAD + 64, _MM_HINT_T0);
        _mm_prefetch((const char *)(b + k) + KQ_PF_AHEAD + 128, _MM_HINT_T0);
        __m128i sc8 = _mm_loadu_si128((const __m128i *)(const void *)b[k].scales);
        __m256i sumi = _mm256_setzero_si256();
        const int8_t *q8 = y[k].qs;
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(b[k].ql + 64 * h));
            __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)(b[k].ql + 64 * h + 32));
            __m256i hb = _mm256_loadu_si256((const __m256i *)(const void *)(b[k].qh + 32 * h));
            __m256i q[4] = {
                _mm256_or_si256(_mm256_and_si256(a, m4),
                                _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4)),
                _mm256_or_si256(
                    _mm256_and_si256(c, m4),
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4)),
                _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(a, 4), m4),
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m2), 4)),
                _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(c, 4), m4),
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m2), 4)),
            };
#pragma GCC unroll 4
            for (int g = 0; g < 4; g++) {
                const int v = 4 * h + g; /* scales 2v (first 16) and 2v + 1 */
                __m128i pick =
                    _mm_set_epi64x((long long)(0x0101010101010101ull * (unsigned)(2 * v + 1)),
                                   (long long)(0x0101010101010101ull * (unsigned)(2 * v)));
                __m256i s16 = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc8, pick));
                __m256i a8 = _mm256_loadu_si256((const __m256i *)(const void *)(q8 + 32 * v));
                /* the -32 per pair of elements, not from bsums: each int32
                 * lane then holds what the reference's does (the lanes are
                 * summed in float) */
                __m256i p16 =
                    _mm256_sub_epi16(_mm256_maddubs_epi16(q[g], a8), _mm256_maddubs_epi16(m32, a8));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(s16, p16));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(y[k].d * _cvtsh_ss(b[k].d)), _mm256_cvtepi32_ps(sumi),
                              acc);
    }
    return hsum_ps(acc);
}

/* ---- 32-element formats ---- */

/* 32 bits -> 32 bytes of 0x10 (bit set) or 0, byte j for bit j. */
AVX2 static inline __m256i bits_to_16s(const uint8_t *qh)
{
    uint32_t bits;
    memcpy(&bits, qh, 4);
    __m256i v = _mm256_set1_epi32((int)bits);
    /* byte j of the result looks at byte j / 8 of the word ... */
    v = _mm256_shuffle_epi8(v, _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2,
                                                2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    /* ... and keeps bit j % 8 */
    const __m256i sel = _mm256_set1_epi64x(0x8040201008040201ll);
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, sel), sel);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

/* 32 unsigned weight quants (< 128) with 32 int8 activations. */
AVX2 static inline __m256i dot_u8(__m256i a, __m256i b)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1));
}

AVX2 static float dot_q5_0(const void *w, const void *x, int64_t n)
{
    const struct block_q5_0 *a = w;
    const struct kblock_q8f *b = x;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t k = 0; k < n / QK; k++) {
        __m256i q = _mm256_sub_epi8(_mm256_or_si256(nibbles32(a[k].qs), bits_to_16s(a[k].qh)),
                                    _mm256_set1_epi8(16));
        __m256i p = dot_s8(q, _mm256_loadu_si256((const __m256i *)(const void *)b[k].qs));
        acc =
            _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(a[k].d) * b[k].d), _mm256_cvtepi32_ps(p), acc);
    }
    return hsum_ps(acc);
}

AVX2 static float dot_iq4_nl(const void *w, const void *x, int64_t n)
{
    const struct block_iq4_nl *a = w;
    const struct kblock_q8f *b = x;
    const __m128i t = _mm_loadu_si128((const __m128i *)(const void *)q_iq4nl_values);
    const __m256i table = _mm256_set_m128i(t, t);
    /* two accumulators (even and odd blocks), the last odd block alone, as
     * the reference sums them */
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    const int64_t nb = n / QK;
    for (int64_t k = 0; k < nb - (nb & 1); k++) {
        __m256i q = _mm256_shuffle_epi8(table, nibbles32(a[k].qs));
        __m256i p = dot_s8(q, _mm256_loadu_si256((const __m256i *)(const void *)b[k].qs));
        acc[k & 1] = _mm256_fmadd_ps(_mm256_set1_ps(b[k].d * _cvtsh_ss(a[k].d)),
                                     _mm256_cvtepi32_ps(p), acc[k & 1]);
    }
    float s = hsum_ps(_mm256_add_ps(acc[0], acc[1]));
    if (nb & 1) {
        const int64_t k = nb - 1;
        __m256i q = _mm256_shuffle_epi8(table, nibbles32(a[k].qs));
        __m256i p = dot_s8(q, _mm256_loadu_si256((const __m256i *)(const void *)b[k].qs));
        s = fmaf(b[k].d * _cvtsh_ss(a[k].d), (float)hsum_epi32(p), s);
    }
    return s;
}

/* Q4_1 (five == 0) / Q5_1 against Q8_1: d d8 sum q q8 + m s8 per block. */
AVX2 static inline __attribute__((always_inline)) float dot_q51(int five, const void *w,
                                                                const void *x, int64_t n)
{
    const struct block_q8_1 *b = x;
    __m256 acc = _mm256_setzero_ps();
    float mins = 0.0f;
    for (int64_t k = 0; k < n / QK; k++) {
        __m256i q;
        float d, m;
        if (five) {
            const struct block_q5_1 *a = (const struct block_q5_1 *)w + k;
            q = _mm256_or_si256(nibbles32(a->qs), bits_to_16s(a->qh));
            d = _cvtsh_ss(a->d);
            m = _cvtsh_ss(a->m);
        } else {
            const struct block_q4_1 *a = (const struct block_q4_1 *)w + k;
            q = nibbles32(a->qs);
            d = _cvtsh_ss(a->d);
            m = _cvtsh_ss(a->m);
        }
        __m256i p = dot_u8(q, _mm256_loadu_si256((const __m256i *)(const void *)b[k].qs));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d * _cvtsh_ss(b[k].d)), _mm256_cvtepi32_ps(p), acc);
        mins += m * _cvtsh_ss(b[k].s);
    }
    return hsum_ps(acc) + mins;
}

AVX2 static float dot_q4_1(const void *w, const void *x, int64_t n)
{
    return dot_q51(0, w, x, n);
}

AVX2 static float dot_q5_1(const void *w, const void *x, int64_t n)
{
    return dot_q51(1, w, x, n);
}

AVX2 static float dot1_q4_k(const void *w, const void *x, int64_t n)
{
    return dot1_k45(0, w, x, n);
}

AVX2 static float dot1_q5_k(const void *w, const void *x, int64_t n)
{
    return dot1_k45(1, w, x, n);
}

int kern_kq_has_avx2(uint32_t wtype)
{
    switch (wtype) {
    case LLM_TYPE_Q4_K:
    case LLM_TYPE_Q5_K:
    case LLM_TYPE_Q6_K:
    case LLM_TYPE_Q5_0:
    case LLM_TYPE_IQ4_NL:
    case LLM_TYPE_Q4_1:
    case LLM_TYPE_Q5_1: return 1;
    default: return 0;
    }
}

int kern_dot_kq_avx2(uint32_t wtype, const void *w, const void *x, int64_t n, float *out)
{
    switch (wtype) {
    case LLM_TYPE_Q4_K: *out = dot1_q4_k(w, x, n); return 0;
    case LLM_TYPE_Q5_K: *out = dot1_q5_k(w, x, n); return 0;
    case LLM_TYPE_Q6_K: *out = dot1_q6_k(w, x, n); return 0;
    case LLM_TYPE_Q5_0: *out = dot_q5_0(w, x, n); return 0;
    case LLM_TYPE_IQ4_NL: *out = dot_iq4_nl(w, x, n); return 0;
    case LLM_TYPE_Q4_1: *out = dot_q4_1(w, x, n); return 0;
    case LLM_TYPE_Q5_1: *out = dot_q5_1(w, x, n); return 0;
    default: return -1;
    }
}

int kern_dot4_kq_avx2(uint32_t wtype, const void *w, const void *x, size_t xstride, int64_t n,
                      float out[4])
{
    /* Four single-row passes: after the first the weight row is in L1, and
     * this measured faster than a 1x4 tile that unpacks each super-block
     * once (its unpacked weights do not fit in the registers): Q4_K 0.235
     * against 0.299 ms for 256 rows of 4096, single thread. */
    if (wtype != LLM_TYPE_Q4_K && wtype != LLM_TYPE_Q5_K && wtype != LLM_TYPE_Q6_K) return -1;
    for (int j = 0; j < 4; j++)
        kern_dot_kq_avx2(wtype, w, (const uint8_t *)x + (size_t)j * xstride, n, &out[j]);
    return 0;
}
