/* kernels_rp_avx2: Q4_K, Q4_0 and IQ4_NL matrices whose row count is a
 * multiple of 8, in the order of the reference's kernels for them (it
 * repacks such matrices into interleaved groups of eight rows, and each
 * output then lives in one float lane): per block (Q4_0, IQ4_NL), per 64
 * elements (Q4_K, the rows of a batch taken four at a time) or per
 * super-block (Q4_K, a lone row) the exact integer dot goes into the float
 * by one FMA with d_w * d_x; Q4_K keeps its mins term in a second float and
 * subtracts it at the end. The integer parts are exact, so the loads, the
 * unpacking and the grouping are free to differ: the four-row kernels unpack
 * each weight block once for four activation rows and reduce four integer
 * dots with one transposing sum.
 */
#include "kernels.h"
#include "kernels_avx2.h"
#include "kllm/engine.h"
#include "quant.h"

#include <math.h>

/* Bytes ahead of the weights asked for in the lone-row dots (decode: the
 * rows stream from memory once per token). */
#define RP_PF_AHEAD 1024

/* ---- Q4_0 / IQ4_NL: 32 elements, f16 scale + 16 bytes of nibbles ---- */

/* Block k of a Q4_0 or IQ4_NL row as 32 signed bytes, its scale in *d. */
AVX2 static inline __m256i b32_block(int iq4, const void *w, int64_t k, __m256i table, float *d)
{
    const struct block_q4_0 *a = (const struct block_q4_0 *)w + k; /* the same layout */
    if ((k & 1) == 0) _mm_prefetch((const char *)a + RP_PF_AHEAD, _MM_HINT_T0); /* rows stream */
    *d = _cvtsh_ss(a->d);
    __m256i q = nibbles32(a->qs);
    return iq4 ? _mm256_shuffle_epi8(table, q) : _mm256_sub_epi8(q, _mm256_set1_epi8(8));
}

AVX2 static inline __m256i iq4_table(void)
{
    const __m128i t = _mm_loadu_si128((const __m128i *)(const void *)q_iq4nl_values);
    return _mm256_set_m128i(t, t);
}

AVX2 static inline __attribute__((always_inline)) float dot1_b32(int iq4, const void *w,
                                                                 const void *x, int64_t n)
{
    const struct kblock_q8f *b = x;
    const __m256i table = iq4_table();
    float acc = 0.0f;
    for (int64_t k = 0; k < n / QK; k++) {
        float dw;
        __m256i q = b32_block(iq4, w, k, table, &dw);
        __m256i p = dot_s8(q, _mm256_loadu_si256((const __m256i *)(const void *)b[k].qs));
        acc = fmaf(hsum_epi32_f(p), dw * b[k].d, acc);
    }
    return acc;
}

AVX2 static inline __attribute__((always_inline)) void
dot4_b32(int iq4, const void *w, const void *x, size_t xs, int64_t n, float out[4])
{
    const struct kblock_q8f *b[4];
    for (int j = 0; j < 4; j++)
        b[j] = (const struct kblock_q8f *)(const void *)((const uint8_t *)x + j * xs);
    const __m256i table = iq4_table(), ones = _mm256_set1_epi16(1);
    __m128 acc = _mm_setzero_ps();
    for (int64_t k = 0; k < n / QK; k++) {
        float dw;
        __m256i q = b32_block(iq4, w, k, table, &dw);
        __m256i qa = _mm256_sign_epi8(q, q), p[4];
        for (int j = 0; j < 4; j++) {
            __m256i qb = _mm256_loadu_si256((const __m256i *)(const void *)b[j][k].qs);
            p[j] = _mm256_madd_epi16(_mm256_maddubs_epi16(qa, _mm256_sign_epi8(qb, q)), ones);
        }
        __m128 d =
            _mm_mul_ps(_mm_set1_ps(dw), _mm_setr_ps(b[0][k].d, b[1][k].d, b[2][k].d, b[3][k].d));
        acc = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum4_epi32(p[0], p[1], p[2], p[3])), d, acc);
    }
    _mm_storeu_ps(out, acc);
}

/* ---- Q4_K against Q8_K ---- */

/* The integer dot of 64 elements (chunk c: sub-blocks 2c, 2c + 1). */
AVX2 static inline __m256i q4k_chunk(__m256i lo, __m256i hi, const int8_t *q8, __m256i s0,
                                     __m256i s1)
{
    __m256i a0 = _mm256_loadu_si256((const __m256i *)(const void *)q8);
    __m256i a1 = _mm256_loadu_si256((const __m256i *)(const void *)(q8 + 32));
    return _mm256_add_epi32(_mm256_madd_epi16(s0, _mm256_maddubs_epi16(lo, a0)),
                            _mm256_madd_epi16(s1, _mm256_maddubs_epi16(hi, a1)));
}

/* A shuffle that broadcasts int16 element i of each 128-bit lane. */
AVX2 static inline __m256i bcast16(int i)
{
    return _mm256_set1_epi16((short)(0x0100 + 0x0202 * i));
}

/* The eight 32-element sums of an activation block (pairs of its bsums). */
AVX2 static inline __m128i bsum32(const struct block_q8_k *y)
{
    __m256i bs = _mm256_loadu_si256((const __m256i *)(const void *)y->bsums);
    return _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
}

/* Super-block k of a lone row: its integer dot (8 lanes), its mins term
 * (4 lanes) and the two scales. */
AVX2 static inline __attribute__((always_inline)) __m256i
q4k_block1(const struct block_q4_k *b, const struct block_q8_k *y, __m128i *pm, float *d, float *dm)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    _mm_prefetch((const char *)b + RP_PF_AHEAD, _MM_HINT_T0);
    _mm_prefetch((const char *)b + RP_PF_AHEAD + 64, _MM_HINT_T0);
    /* eight scales, then eight mins, as int16 */
    const __m256i smv = _mm256_cvtepu8_epi16(k4_scales128(b->scales));
    const __m256i sc = _mm256_permute2x128_si256(smv, smv, 0x00); /* the scales, both lanes */
    __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        __m256i raw = _mm256_loadu_si256((const __m256i *)(const void *)(b->qs + 32 * c));
        sumi = _mm256_add_epi32(sumi,
                                q4k_chunk(_mm256_and_si256(raw, m4),
                                          _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4),
                                          y->qs + 64 * c, _mm256_shuffle_epi8(sc, bcast16(2 * c)),
                                          _mm256_shuffle_epi8(sc, bcast16(2 * c + 1))));
    }
    *pm = _mm_madd_epi16(_mm256_extracti128_si256(smv, 1), bsum32(y));
    *d = _cvtsh_ss(b->d) * y->d;
    *dm = _cvtsh_ss(b->dmin) * y->d;
    return sumi;
}

/* A lone row: per super-block, one FMA for the dot and one for the mins,
 * in order; the integer totals of four super-blocks are reduced together. */
AVX2 static float dot1_q4_k(const void *w, const void *x, int64_t n)
{
    const struct block_q4_k *b = w;
    const struct block_q8_k *y = x;
    const int64_t nb = n / QK_K;
    float acc = 0.0f, accm = 0.0f;
    int64_t k = 0;
    for (; k + 4 <= nb; k += 4) {
        __m256i s[4];
        __m128i pm[4];
        float d[4], dm[4], fs[4], fm[4];
        for (int g = 0; g < 4; g++) {
            s[g] = q4k_block1(b + k + g, y + k + g, &pm[g], &d[g], &dm[g]);
        }
        _mm_storeu_ps(fs, _mm_cvtepi32_ps(hsum4_epi32(s[0], s[1], s[2], s[3])));
        __m128i mt = _mm_hadd_epi32(_mm_hadd_epi32(pm[0], pm[1]), _mm_hadd_epi32(pm[2], pm[3]));
        _mm_storeu_ps(fm, _mm_cvtepi32_ps(mt));
        for (int g = 0; g < 4; g++) {
            acc = fmaf(fs[g], d[g], acc);
            accm = fmaf(fm[g], dm[g], accm);
        }
    }
    for (; k < nb; k++) {
        __m128i pm;
        float d, dm;
        __m256i s = q4k_block1(b + k, y + k, &pm, &d, &dm);
        pm = _mm_add_epi32(pm, _mm_shuffle_epi32(pm, 0x4e));
        pm = _mm_add_epi32(pm, _mm_shuffle_epi32(pm, 0xb1));
        acc = fmaf(hsum_epi32_f(s), d, acc);
        accm = fmaf(_mm_cvtss_f32(_mm_cvtepi32_ps(pm)), dm, accm);
    }
    return acc - accm;
}

/* Four rows of a batch: per 64 elements, one FMA per row for the dot and
 * one for the mins; the weights are unpacked once for the four. */
AVX2 static void dot4_q4_k(const void *w, const void *x, size_t xs, int64_t n, float out[4])
{
    const struct block_q4_k *b = w;
    const struct block_q8_k *y[4];
    for (int j = 0; j < 4; j++)
        y[j] = (const struct block_q8_k *)(const void *)((const uint8_t *)x + j * xs);
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m128 acc = _mm_setzero_ps(), accm = _mm_setzero_ps();
    for (int64_t k = 0; k < n / QK_K; k++) {
        _mm_prefetch((const char *)(b + k) + RP_PF_AHEAD, _MM_HINT_T0);
        _mm_prefetch((const char *)(b + k) + RP_PF_AHEAD + 64, _MM_HINT_T0);
        const __m256i smv = _mm256_cvtepu8_epi16(k4_scales128(b[k].scales));
        const __m256i sc = _mm256_permute2x128_si256(smv, smv, 0x00);
        const __m128 dx = _mm_setr_ps(y[0][k].d, y[1][k].d, y[2][k].d, y[3][k].d);
        const __m128 d = _mm_mul_ps(_mm_set1_ps(_cvtsh_ss(b[k].d)), dx),
                     dm = _mm_mul_ps(_mm_set1_ps(_cvtsh_ss(b[k].dmin)), dx);
        /* the mins: t[c] holds the 32-element sums 2c, 2c + 1 of each row */
        __m128 t[4] = {_mm_castsi128_ps(bsum32(&y[0][k])), _mm_castsi128_ps(bsum32(&y[1][k])),
                       _mm_castsi128_ps(bsum32(&y[2][k])), _mm_castsi128_ps(bsum32(&y[3][k]))};
        _MM_TRANSPOSE4_PS(t[0], t[1], t[2], t[3]);
        for (int c = 0; c < 4; c++) {
            __m256i raw = _mm256_loadu_si256((const __m256i *)(const void *)(b[k].qs + 32 * c));
            __m256i lo = _mm256_and_si256(raw, m4),
                    hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
            __m256i s0 = _mm256_shuffle_epi8(sc, bcast16(2 * c)),
                    s1 = _mm256_shuffle_epi8(sc, bcast16(2 * c + 1)), p[4];
            for (int j = 0; j < 4; j++) p[j] = q4k_chunk(lo, hi, y[j][k].qs + 64 * c, s0, s1);
            acc = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum4_epi32(p[0], p[1], p[2], p[3])), d, acc);
            /* mins 2c, 2c + 1 (int16) in every 32-bit lane */
            __m128i mc =
                _mm_shuffle_epi8(_mm256_extracti128_si256(smv, 1),
                                 _mm_set1_epi32((int)(0x03020100u + 0x04040404u * (unsigned)c)));
            __m128i im = _mm_madd_epi16(_mm_castps_si128(t[c]), mc);
            accm = _mm_fmadd_ps(_mm_cvtepi32_ps(im), dm, accm);
        }
    }
    _mm_storeu_ps(out, _mm_sub_ps(acc, accm));
}

/* ---- entry points ---- */

AVX2 static float dot1_q4_0(const void *w, const void *x, int64_t n)
{
    return dot1_b32(0, w, x, n);
}
AVX2 static float dot1_iq4_nl(const void *w, const void *x, int64_t n)
{
    return dot1_b32(1, w, x, n);
}
AVX2 static void dot4_q4_0(const void *w, const void *x, size_t xs, int64_t n, float out[4])
{
    dot4_b32(0, w, x, xs, n, out);
}
AVX2 static void dot4_iq4_nl(const void *w, const void *x, size_t xs, int64_t n, float out[4])
{
    dot4_b32(1, w, x, xs, n, out);
}

float kern_dot_rp_avx2(uint32_t wtype, const void *w, const void *x, int64_t n)
{
    if (wtype == LLM_TYPE_Q4_K) return dot1_q4_k(w, x, n);
    if (wtype == LLM_TYPE_Q4_0) return dot1_q4_0(w, x, n);
    return dot1_iq4_nl(w, x, n);
}

void kern_dot4_rp_avx2(uint32_t wtype, const void *w, const void *x, size_t xstride, int64_t n,
                       float out[4])
{
    if (wtype == LLM_TYPE_Q4_K)
        dot4_q4_k(w, x, xstride, n, out);
    else if (wtype == LLM_TYPE_Q4_0)
        dot4_q4_0(w, x, xstride, n, out);
    else
        dot4_iq4_nl(w, x, xstride, n, out);
}
