/* kernels_avx2.h: inline AVX2 helpers shared by the kernels_*_avx2.c files
 * (compiled without -mavx2: every function carries the target attribute,
 * and the files' entry points are reached only when kernels.c has chosen
 * the AVX2 path). */
#ifndef ENGINE_KERNELS_AVX2_H
#define ENGINE_KERNELS_AVX2_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))

/* Horizontal sum in the reference's order (its hsum_float_8): halves
 * added, then (0+2) + (1+3). */
AVX2 static inline float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 static inline int32_t hsum_epi32(__m256i v)
{
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
    return _mm_cvtsi128_si32(t);
}

/* The same total converted to float (as (float)int would), without a
 * trip through a general register. */
AVX2 static inline float hsum_epi32_f(__m256i v)
{
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
    return _mm_cvtss_f32(_mm_cvtepi32_ps(t));
}

/* The four exact totals of four int32x8 vectors. */
AVX2 static inline __m128i hsum4_epi32(__m256i a, __m256i b, __m256i c, __m256i d)
{
    __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d));
    return _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}

/* 32 signed int8 pairs summed into 8 int32 lanes (lane j: elements
 * 4j..4j+3), by the sign trick: |a| unsigned times b with a's signs. */
AVX2 static inline __m256i dot_s8(__m256i a, __m256i b)
{
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* 16 bytes of nibbles -> 32 bytes: elements 0..15 the low nibbles, 16..31
 * the high ones (the Q4_0 / IQ4_NL order). */
AVX2 static inline __m256i nibbles32(const uint8_t *qs)
{
    __m128i raw = _mm_loadu_si128((const __m128i *)(const void *)qs);
    __m256i q = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
    return _mm256_and_si256(q, _mm256_set1_epi8(0x0f));
}

/* The eight six-bit scales and mins of a Q4_K / Q5_K block. */
static inline void k4_scales(const uint8_t *s, uint8_t sc[8], uint8_t mn[8])
{
    uint32_t a[3], u[4];
    memcpy(a, s, 12);
    u[0] = a[0] & 0x3f3f3f3fu;                                               /* scales 0..3 */
    u[1] = (a[2] & 0x0f0f0f0fu) | (((a[0] >> 6) & 0x03030303u) << 4);        /* scales 4..7 */
    u[2] = a[1] & 0x3f3f3f3fu;                                               /* mins 0..3 */
    u[3] = ((a[2] >> 4) & 0x0f0f0f0fu) | (((a[1] >> 6) & 0x03030303u) << 4); /* mins 4..7 */
    memcpy(sc, u, 8);
    memcpy(mn, u + 2, 8);
}

/* The same as 16 bytes in a register (no trip through memory, which a
 * vector load right after the scalar stores would stall on). */
AVX2 static inline __m128i k4_scales128(const uint8_t *s)
{
    uint32_t a[3];
    memcpy(a, s, 12);
    return _mm_set_epi32((int)(((a[2] >> 4) & 0x0f0f0f0fu) | (((a[1] >> 6) & 0x03030303u) << 4)),
                         (int)(a[1] & 0x3f3f3f3fu),
                         (int)((a[2] & 0x0f0f0f0fu) | (((a[0] >> 6) & 0x03030303u) << 4)),
                         (int)(a[0] & 0x3f3f3f3fu));
}

#endif
