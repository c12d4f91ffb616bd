/* quant_k: the super-block formats (Q2_K..Q6_K, IQ4_XS and their activation
 * format Q8_K) and the non-linear IQ4_NL: quantizers, dequantizers and the
 * scalar reference dots, reached through the q_* entry points of quant.h.
 *
 * Dequantization is bit-exact with ggml's (tests/data/README); the dots add
 * up in the order of ggml's portable C dots (eight running lanes per
 * super-block for Q3_K..Q6_K); the weight quantizers are our own simple
 * least-squares searches, and Q8_K follows ggml's activation quantizer
 * exactly, since the greedy tokens of llama.cpp depend on it.
 */
#include "kllm/engine.h"
#include "quant.h"

#include <math.h>
#include <string.h>

const int8_t q_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                   1,    13,   25,  38,  53,  69,  89,  113};

/* Round half to even, as ggml's float-to-int trick does; NaN gives 0 and
 * huge values saturate instead of being undefined. */
static int nearest(float v)
{
    if (!(fabsf(v) <= 4194303.0f)) return isnan(v) ? 0 : v < 0 ? -4194303 : 4194303;
    return (int)nearbyintf(v);
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---- weight quantizers ---- */

/* x ~ scale * L - min over n values, L in [0, nmax], min >= 0: starts from
 * the range and tries nstep + 1 stretched grids, keeping the weighted
 * least-squares fit (scale, min) with the smallest error. */
static float fit_affine(int n, int nmax, const float *x, const float *w, uint8_t *L, float *min_out,
                        float rmin, float rdelta, int nstep)
{
    float lo = x[0], hi = x[0], sw = 0.0f, sx = 0.0f;
    for (int i = 0; i < n; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
        sw += w[i];
        sx += w[i] * x[i];
    }
    if (lo > 0.0f) lo = 0.0f;
    if (!(hi > lo)) {
        memset(L, 0, (size_t)n);
        *min_out = -lo;
        return 0.0f;
    }
    float scale = (hi - lo) / (float)nmax, best = 0.0f;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clampi(nearest((x[i] - lo) / scale), 0, nmax);
        float e = scale * L[i] + lo - x[i];
        best += w[i] * e * e;
    }
    uint8_t aux[32];
    for (int is = 0; is <= nstep; is++) {
        float iscale = (rmin + rdelta * (float)is + (float)nmax) / (hi - lo);
        float sl = 0.0f, sl2 = 0.0f, sxl = 0.0f;
        for (int i = 0; i < n; i++) {
            aux[i] = (uint8_t)clampi(nearest(iscale * (x[i] - lo)), 0, nmax);
            sl += w[i] * aux[i];
            sl2 += w[i] * aux[i] * aux[i];
            sxl += w[i] * aux[i] * x[i];
        }
        float det = sw * sl2 - sl * sl;
        if (!(det > 0.0f)) continue;
        float s = (sw * sxl - sx * sl) / det, m = (sl2 * sx - sl * sxl) / det;
        if (m > 0.0f) { /* the offset may only lower values */
            m = 0.0f;
            s = sxl / sl2;
        }
        float err = 0.0f;
        for (int i = 0; i < n; i++) {
            float e = s * aux[i] + m - x[i];
            err += w[i] * e * e;
        }
        if (err < best) {
            memcpy(L, aux, (size_t)n);
            best = err;
            scale = s;
            lo = m;
        }
    }
    *min_out = -lo;
    return scale;
}

/* x ~ scale * l, l in [-nmax, nmax - 1], weighted by x^2 (large values
 * matter most): tries 19 grids around nmax / max|x| and keeps the best
 * least-squares scale. Returns the scale (0 for an all-zero group). */
static float fit_symmetric(int n, int nmax, const float *x)
{
    float max = q_signed_max(x, n), amax = fabsf(max);
    if (amax < 1e-15f) return 0.0f;
    float scale = 0.0f, best = -1.0f;
    for (int is = -9; is <= 9; is++) {
        float iscale = -((float)nmax + 0.1f * (float)is) / max;
        float slx = 0.0f, sl2 = 0.0f;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest(iscale * x[i]), -nmax, nmax - 1);
            float w = x[i] * x[i];
            slx += w * x[i] * (float)l;
            sl2 += w * (float)(l * l);
        }
        if (sl2 > 0.0f && (best < 0.0f || slx * slx > best * sl2)) {
            scale = slx / sl2;
            best = scale * slx;
        }
    }
    return scale;
}

/* The nibble index of the table value nearest to v. */
static uint8_t iq4_index(float v)
{
    int best = 0;
    for (int i = 1; i < 16; i++)
        if (fabsf((float)q_iq4nl_values[i] - v) < fabsf((float)q_iq4nl_values[best] - v)) best = i;
    return (uint8_t)best;
}

/* Least-squares scale of 32 values on the IQ4 table (weighted by x^2). */
static float iq4_fit(const float *x)
{
    float max = q_signed_max(x, QK), amax = fabsf(max);
    if (amax < 1e-15f) return 0.0f;
    float d = max / (float)q_iq4nl_values[0], sqx = 0.0f, sq2 = 0.0f;
    for (int j = 0; j < QK; j++) {
        float q = (float)q_iq4nl_values[iq4_index(x[j] / d)], w = x[j] * x[j];
        sqx += w * q * x[j];
        sq2 += w * q * q;
    }
    return sq2 > 0.0f ? sqx / sq2 : d;
}

/* 32 nibbles for scale d: element j low nibble of byte j, j + 16 high. */
static void iq4_pack(const float *x, float d, uint8_t *qs)
{
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < QK / 2; j++)
        qs[j] = (uint8_t)(iq4_index(x[j] * id) | (iq4_index(x[j + QK / 2] * id) << 4));
}

static void quantize_iq4_nl(const float *x, struct block_iq4_nl *y, int64_t n)
{
    for (int64_t b = 0; b < n / QK; b++) {
        y[b].d = q_f32_to_f16(iq4_fit(x + b * QK));
        iq4_pack(x + b * QK, q_f16_to_f32(y[b].d), y[b].qs);
    }
}

static void quantize_iq4_xs(const float *x, struct block_iq4_xs *y, int64_t n)
{
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        float sc[8], amax = 0.0f, max = 0.0f;
        for (int ib = 0; ib < 8; ib++) {
            sc[ib] = iq4_fit(x + 32 * ib);
            if (fabsf(sc[ib]) > amax) {
                amax = fabsf(sc[ib]);
                max = sc[ib];
            }
        }
        float d = -max / 32.0f;
        y[b].d = q_f32_to_f16(d);
        d = q_f16_to_f32(y[b].d);
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].scales_h = 0;
        memset(y[b].scales_l, 0, sizeof y[b].scales_l);
        for (int ib = 0; ib < 8; ib++) {
            int l = clampi(nearest(id * sc[ib]), -32, 31);
            iq4_pack(x + 32 * ib, d * (float)l, y[b].qs + 16 * ib);
            l += 32;
            y[b].scales_l[ib / 2] |= (uint8_t)((l & 15) << (4 * (ib % 2)));
            y[b].scales_h |= (uint16_t)((l >> 4) << (2 * ib));
        }
    }
}

/* Two-bit quants of 256 values in the Q2_K / Q3_K order: byte l of each
 * 32-byte half holds elements l, l + 32, l + 64, l + 96 of its 128. */
static void pack_2bit(const uint8_t *L, uint8_t *qs)
{
    for (int j = 0; j < QK_K; j += 128)
        for (int l = 0; l < 32; l++)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                      (L[j + l + 96] << 6));
}

static void quantize_q2_k(const float *x, struct block_q2_k *y, int64_t n)
{
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        uint8_t L[QK_K];
        float w[16], sc[16], mn[16], max_sc = 0.0f, max_mn = 0.0f;
        for (int j = 0; j < 16; j++) {
            for (int l = 0; l < 16; l++) w[l] = fabsf(x[16 * j + l]);
            sc[j] = fit_affine(16, 3, x + 16 * j, w, L + 16 * j, &mn[j], -0.5f, 0.1f, 15);
            max_sc = fmaxf(max_sc, sc[j]);
            max_mn = fmaxf(max_mn, mn[j]);
        }
        float isc = max_sc > 0.0f ? 15.0f / max_sc : 0.0f,
              imn = max_mn > 0.0f ? 15.0f / max_mn : 0.0f;
        y[b].d = q_f32_to_f16(max_sc / 15.0f);
        y[b].dmin = q_f32_to_f16(max_mn / 15.0f);
        for (int j = 0; j < 16; j++) {
            int ls = clampi(nearest(isc * sc[j]), 0, 15), lm = clampi(nearest(imn * mn[j]), 0, 15);
            y[b].scales[j] = (uint8_t)(ls | (lm << 4));
            float d = q_f16_to_f32(y[b].d) * (float)ls, dm = q_f16_to_f32(y[b].dmin) * (float)lm;
            for (int l = 0; l < 16; l++)
                L[16 * j + l] =
                    d != 0.0f ? (uint8_t)clampi(nearest((x[16 * j + l] + dm) / d), 0, 3) : 0;
        }
        pack_2bit(L, y[b].qs);
    }
}

static void quantize_q3_k(const float *x, struct block_q3_k *y, int64_t n)
{
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        float sc[16], amax = 0.0f, max = 0.0f;
        for (int j = 0; j < 16; j++) {
            sc[j] = fit_symmetric(16, 4, x + 16 * j);
            if (fabsf(sc[j]) > amax) {
                amax = fabsf(sc[j]);
                max = sc[j];
            }
        }
        memset(y[b].scales, 0, 12);
        memset(y[b].hmask, 0, sizeof y[b].hmask);
        float iscale = max != 0.0f ? -32.0f / max : 0.0f;
        y[b].d = q_f32_to_f16(max != 0.0f ? 1.0f / iscale : 0.0f);
        uint8_t L[QK_K];
        for (int j = 0; j < 16; j++) {
            int l = clampi(nearest(iscale * sc[j]), -32, 31) + 32;
            /* low nibbles: scales[0..7] (j < 8 low, j >= 8 high half);
             * top two bits: scales[8 + j % 4] at bit 2 * (j / 4) */
            y[b].scales[j % 8] |= (uint8_t)((l & 15) << (j < 8 ? 0 : 4));
            y[b].scales[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
            float d = q_f16_to_f32(y[b].d) * (float)(l - 32);
            for (int i = 0; i < 16; i++) {
                int q = d != 0.0f ? clampi(nearest(x[16 * j + i] / d), -4, 3) + 4 : 4;
                /* the high bit of element e sits in bit e / 32 of hmask[e % 32] */
                int e = 16 * j + i;
                if (q > 3) y[b].hmask[e % 32] |= (uint8_t)(1u << (e / 32));
                L[e] = (uint8_t)(q & 3);
            }
        }
        pack_2bit(L, y[b].qs);
    }
}

/* Q4_K (bits 4) / Q5_K (bits 5): eight sub-blocks of 32 fitted as
 * scale * q - min; the 8 scales and 8 mins are quantized to six bits
 * against the super-block's d and dmin. */
static void quantize_q45_k(int bits, const float *x, void *dst, int64_t n)
{
    const int nmax = (1 << bits) - 1;
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        uint8_t L[QK_K];
        float w[32], sc[8], mn[8], max_sc = 0.0f, max_mn = 0.0f;
        for (int j = 0; j < 8; j++) {
            float s2 = 0.0f;
            for (int l = 0; l < 32; l++) s2 += x[32 * j + l] * x[32 * j + l];
            float av = sqrtf(s2 / 32.0f);
            for (int l = 0; l < 32; l++) w[l] = av + fabsf(x[32 * j + l]);
            sc[j] = fit_affine(32, nmax, x + 32 * j, w, L + 32 * j, &mn[j],
                               bits == 4 ? -1.0f : -0.5f, 0.1f, bits == 4 ? 20 : 15);
            max_sc = fmaxf(max_sc, sc[j]);
            max_mn = fmaxf(max_mn, mn[j]);
        }
        struct block_q4_k *y4 = bits == 4 ? (struct block_q4_k *)dst + b : NULL;
        struct block_q5_k *y5 = bits == 5 ? (struct block_q5_k *)dst + b : NULL;
        uint8_t *scales = y4 ? y4->scales : y5->scales;
        const uint16_t d16 = q_f32_to_f16(max_sc / 63.0f), dmin16 = q_f32_to_f16(max_mn / 63.0f);
        if (y4) {
            y4->d = d16;
            y4->dmin = dmin16;
        } else {
            y5->d = d16;
            y5->dmin = dmin16;
        }
        float isc = max_sc > 0.0f ? 63.0f / max_sc : 0.0f,
              imn = max_mn > 0.0f ? 63.0f / max_mn : 0.0f;
        memset(scales, 0, 12);
        for (int j = 0; j < 8; j++) {
            int ls = clampi(nearest(isc * sc[j]), 0, 63), lm = clampi(nearest(imn * mn[j]), 0, 63);
            if (j < 4) {
                scales[j] = (uint8_t)ls;
                scales[j + 4] = (uint8_t)lm;
            } else { /* low 4 bits in bytes 8..11, top 2 bits above the first 8 */
                scales[j + 4] = (uint8_t)((ls & 15) | ((lm & 15) << 4));
                scales[j - 4] |= (uint8_t)((ls >> 4) << 6);
                scales[j] |= (uint8_t)((lm >> 4) << 6);
            }
        }
        for (int j = 0; j < 8; j++) {
            uint8_t s, m;
            q_get_scale_min_k4(j, scales, &s, &m);
            float d = q_f16_to_f32(d16) * (float)s, dm = q_f16_to_f32(dmin16) * (float)m;
            for (int l = 0; l < 32; l++)
                L[32 * j + l] =
                    d != 0.0f ? (uint8_t)clampi(nearest((x[32 * j + l] + dm) / d), 0, nmax) : 0;
        }
        /* each 64 elements: 32 bytes, element l low nibble, l + 32 high */
        uint8_t *qs = y5 ? y5->qs : y4->qs;
        if (y5) memset(y5->qh, 0, sizeof y5->qh);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++) {
                int lo = L[64 * c + l], hi = L[64 * c + 32 + l];
                qs[32 * c + l] = (uint8_t)((lo & 15) | ((hi & 15) << 4));
                if (y5) y5->qh[l] |= (uint8_t)(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
            }
    }
}

static void quantize_q6_k(const float *x, struct block_q6_k *y, int64_t n)
{
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        float sc[16], amax = 0.0f, max = 0.0f;
        for (int j = 0; j < 16; j++) {
            sc[j] = fit_symmetric(16, 32, x + 16 * j);
            if (fabsf(sc[j]) > amax) {
                amax = fabsf(sc[j]);
                max = sc[j];
            }
        }
        memset(&y[b], 0, sizeof y[b]);
        if (amax < 1e-15f) continue;
        float iscale = -128.0f / max;
        y[b].d = q_f32_to_f16(1.0f / iscale);
        uint8_t L[QK_K];
        for (int j = 0; j < 16; j++) {
            int s = clampi(nearest(iscale * sc[j]), -128, 127);
            y[b].scales[j] = (int8_t)s;
            float d = q_f16_to_f32(y[b].d) * (float)s;
            for (int i = 0; i < 16; i++)
                L[16 * j + i] =
                    (uint8_t)(d != 0.0f ? clampi(nearest(x[16 * j + i] / d), -32, 31) + 32 : 32);
        }
        /* per 128: ql[l] holds l (low) and l + 64 (high), ql[l + 32] holds
         * l + 32 and l + 96; qh[l] the top two bits of all four */
        for (int h = 0; h < 2; h++) {
            const uint8_t *Lh = L + 128 * h;
            for (int l = 0; l < 32; l++) {
                y[b].ql[64 * h + l] = (uint8_t)((Lh[l] & 15) | ((Lh[l + 64] & 15) << 4));
                y[b].ql[64 * h + l + 32] = (uint8_t)((Lh[l + 32] & 15) | ((Lh[l + 96] & 15) << 4));
                y[b].qh[32 * h + l] =
                    (uint8_t)((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) |
                              ((Lh[l + 96] >> 4) << 6));
            }
        }
    }
}

/* Activations: d = max / -127 (signed: the largest-magnitude value maps
 * to -127 exactly), q = round-half-even(x / d) capped at 127, bsums the
 * sums of each 16 quants. Bit-exact with ggml's (its x86 build uses the
 * same portable code). */
static void quantize_q8_k(const float *x, struct block_q8_k *y, int64_t n)
{
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        float max = q_signed_max(x, QK_K), amax = fabsf(max);
        memset(&y[b], 0, sizeof y[b]);
        if (amax == 0.0f || !isfinite(amax)) continue;
        float iscale = -127.0f / max;
        for (int j = 0; j < QK_K; j++) {
            /* The reference rounds iscale * x[j] with the float trick
             * (+ 1.5 * 2^23, keep the mantissa), and its -O3 -march=native
             * build fuses that multiply and add: the exact product decides
             * ties. |iscale * x[j]| <= 127, so the trick is exact here. */
            float t = fmaf(iscale, x[j], 12582912.0f);
            int32_t bits;
            memcpy(&bits, &t, sizeof bits);
            int v = (bits & 0x007fffff) - 0x00400000;
            y[b].qs[j] = (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            int s = 0;
            for (int i = 0; i < 16; i++) s += y[b].qs[16 * j + i];
            y[b].bsums[j] = (int16_t)s;
        }
        y[b].d = 1.0f / iscale;
    }
}

/* Q8_K as the reference quantizes the activation rows of its four-row
 * tiles (repacked Q4_K): the scale's sign from whether +max|x| occurs, and
 * q = round-half-even of the rounded product. Differs from quantize_q8_k
 * only in ties of those two kinds. */
void q_quantize_q8_k_tile(const float *x, void *dst, int64_t n)
{
    struct block_q8_k *y = dst;
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        float amax = 0.0f;
        for (int j = 0; j < QK_K; j++) amax = fmaxf(amax, fabsf(x[j]));
        int pos = 0;
        for (int j = 0; j < QK_K; j++) pos |= x[j] == amax;
        memset(&y[b], 0, sizeof y[b]);
        if (amax == 0.0f || !isfinite(amax)) continue;
        float iscale = pos ? -127.0f / amax : 127.0f / amax;
        for (int j = 0; j < QK_K; j++) {
            float v = rintf(iscale * x[j]);
            y[b].qs[j] = (int8_t)(v > 127.0f ? 127 : v < -128.0f ? -128 : (int)v);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            int s = 0;
            for (int i = 0; i < 16; i++) s += y[b].qs[16 * j + i];
            y[b].bsums[j] = (int16_t)s;
        }
        y[b].d = 1.0f / iscale;
    }
}

int qk_quantize_row(uint32_t type, const float *x, void *dst, int64_t n)
{
    switch (type) {
    case LLM_TYPE_IQ4_NL: quantize_iq4_nl(x, dst, n); return 0;
    case LLM_TYPE_IQ4_XS: quantize_iq4_xs(x, dst, n); return 0;
    case LLM_TYPE_Q2_K: quantize_q2_k(x, dst, n); return 0;
    case LLM_TYPE_Q3_K: quantize_q3_k(x, dst, n); return 0;
    case LLM_TYPE_Q4_K: quantize_q45_k(4, x, dst, n); return 0;
    case LLM_TYPE_Q5_K: quantize_q45_k(5, x, dst, n); return 0;
    case LLM_TYPE_Q6_K: quantize_q6_k(x, dst, n); return 0;
    case LLM_TYPE_Q8_K: quantize_q8_k(x, dst, n); return 0;
    default: return -1;
    }
}

/* ---- dequantization (bit-exact: the same float operations, in the same
 * order, as the reference build of ggml; where that build contracts
 * a * b - c into one fused rounding, fmaf does the same here) ---- */

/* The 16 six-bit Q3_K scales, minus 32. */
static void q3_k_scales(const uint8_t *s, int *out)
{
    for (int j = 0; j < 16; j++)
        out[j] =
            (((s[j % 8] >> (j < 8 ? 0 : 4)) & 15) | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) -
            32;
}

/* Element e of a Q3_K block as q - 4 (q in 0..7). */
static inline int q3_k_value(const struct block_q3_k *b, int e)
{
    int c = e / 128, r = e % 128; /* 128-half, then 32-row and shift */
    int q = (b->qs[32 * c + r % 32] >> (2 * (r / 32))) & 3;
    return q - ((b->hmask[e % 32] >> (e / 32)) & 1 ? 0 : 4);
}

/* Element e of a Q6_K block as q - 32. */
static inline int q6_k_value(const struct block_q6_k *b, int e)
{
    int h = e / 128, r = e % 128, l = r % 32, g = r / 32; /* g: which of the four */
    int lo = (b->ql[64 * h + l + 32 * (g & 1)] >> (4 * (g >> 1))) & 15;
    int hi = (b->qh[32 * h + l] >> (2 * g)) & 3;
    return (lo | (hi << 4)) - 32;
}

/* Element e of a Q4_K (qh NULL) or Q5_K block, unsigned. */
static inline int q45_k_value(const uint8_t *qs, const uint8_t *qh, int e)
{
    int c = e / 64, r = e % 64, l = r % 32, hi = r / 32;
    int q = (qs[32 * c + l] >> (4 * hi)) & 15;
    if (qh) q |= ((qh[l] >> (2 * c + hi)) & 1) << 4;
    return q;
}

int qk_dequantize_row(uint32_t type, const void *src, float *y, int64_t n)
{
    switch (type) {
    case LLM_TYPE_IQ4_NL: {
        const struct block_iq4_nl *b = src;
        for (int64_t k = 0; k < n / QK; k++, y += QK) {
            float d = q_f16_to_f32(b[k].d);
            for (int j = 0; j < QK / 2; j++) {
                y[j] = d * (float)q_iq4nl_values[b[k].qs[j] & 15];
                y[j + QK / 2] = d * (float)q_iq4nl_values[b[k].qs[j] >> 4];
            }
        }
        return 0;
    }
    case LLM_TYPE_IQ4_XS: {
        const struct block_iq4_xs *b = src;
        for (int64_t k = 0; k < n / QK_K; k++) {
            float d = q_f16_to_f32(b[k].d);
            for (int ib = 0; ib < 8; ib++, y += 32) {
                int ls = ((b[k].scales_l[ib / 2] >> (4 * (ib % 2))) & 15) |
                         (((b[k].scales_h >> (2 * ib)) & 3) << 4);
                float dl = d * (float)(ls - 32);
                const uint8_t *qs = b[k].qs + 16 * ib;
                for (int j = 0; j < 16; j++) {
                    y[j] = dl * (float)q_iq4nl_values[qs[j] & 15];
                    y[j + 16] = dl * (float)q_iq4nl_values[qs[j] >> 4];
                }
            }
        }
        return 0;
    }
    case LLM_TYPE_Q2_K: {
        const struct block_q2_k *b = src;
        for (int64_t k = 0; k < n / QK_K; k++, y += QK_K) {
            float d = q_f16_to_f32(b[k].d), dmin = q_f16_to_f32(b[k].dmin);
            for (int e = 0; e < QK_K; e++) {
                int c = e / 128, r = e % 128;
                int q = (b[k].qs[32 * c + r % 32] >> (2 * (r / 32))) & 3;
                uint8_t sc = b[k].scales[e / 16];
                float dl = d * (float)(sc & 15);
                /* the reference build fuses the min's product into the
                 * subtraction: dl * q - dmin * m in one rounding for it */
                y[e] = fmaf(-dmin, (float)(sc >> 4), dl * (float)q);
            }
        }
        return 0;
    }
    case LLM_TYPE_Q3_K: {
        const struct block_q3_k *b = src;
        for (int64_t k = 0; k < n / QK_K; k++, y += QK_K) {
            float d = q_f16_to_f32(b[k].d);
            int sc[16];
            q3_k_scales(b[k].scales, sc);
            for (int e = 0; e < QK_K; e++)
                y[e] = d * (float)sc[e / 16] * (float)q3_k_value(&b[k], e);
        }
        return 0;
    }
    case LLM_TYPE_Q4_K:
    case LLM_TYPE_Q5_K: {
        const int five = type == LLM_TYPE_Q5_K;
        const size_t bs = five ? sizeof(struct block_q5_k) : sizeof(struct block_q4_k);
        for (int64_t k = 0; k < n / QK_K; k++, y += QK_K) {
            const uint8_t *blk = (const uint8_t *)src + (size_t)k * bs;
            const struct block_q4_k *b4 = (const void *)blk;
            const struct block_q5_k *b5 = (const void *)blk;
            float d = q_f16_to_f32(b4->d), dmin = q_f16_to_f32(b4->dmin); /* same offsets */
            const uint8_t *qs = five ? b5->qs : b4->qs, *qh = five ? b5->qh : NULL;
            for (int j = 0; j < 8; j++) {
                uint8_t s, m;
                q_get_scale_min_k4(j, b4->scales, &s, &m);
                float dl = d * (float)s, ml = dmin * (float)m;
                for (int l = 0; l < 32; l++)
                    y[32 * j + l] = fmaf(dl, (float)q45_k_value(qs, qh, 32 * j + l), -ml);
            }
        }
        return 0;
    }
    case LLM_TYPE_Q6_K: {
        const struct block_q6_k *b = src;
        for (int64_t k = 0; k < n / QK_K; k++, y += QK_K) {
            float d = q_f16_to_f32(b[k].d);
            for (int e = 0; e < QK_K; e++)
                y[e] = d * (float)b[k].scales[e / 16] * (float)q6_k_value(&b[k], e);
        }
        return 0;
    }
    case LLM_TYPE_Q8_K: {
        const struct block_q8_k *b = src;
        for (int64_t k = 0; k < n / QK_K; k++, y += QK_K)
            for (int e = 0; e < QK_K; e++) y[e] = b[k].d * (float)b[k].qs[e];
        return 0;
    }
    default: return -1;
    }
}

/* ---- scalar reference dots ---- */

/* Q3_K..Q6_K: super-block k's integer sums kept in eight lanes (element e
 * in lane e % 8) as ggml's portable dot keeps them; the caller scales the
 * lanes by d and adds them into its own eight running sums. */
/* Integer sums in the reference's AVX2 lane layout: element e of a
 * super-block goes to lane (e % 32) / 4. a and q8 point at element `at`. */
static void lanes_add(int32_t lanes[8], const int8_t *a, const int8_t *q8, int scale, int at,
                      int cnt)
{
    for (int e = 0; e < cnt; e++) lanes[((at + e) % 32) / 4] += scale * (int16_t)(a[e] * q8[e]);
}

/* sums[l] += d * lanes[l], fused, as the reference's vector FMA */
static void lanes_fma(float sums[8], float d, const int32_t lanes[8])
{
    for (int l = 0; l < 8; l++) sums[l] = fmaf(d, (float)lanes[l], sums[l]);
}

/* The reference's horizontal sum of eight lanes (hsum_float_8). */
static float hsum8(const float v[8])
{
    float t[4];
    for (int i = 0; i < 4; i++) t[i] = v[i + 4] + v[i];
    return (t[0] + t[2]) + (t[1] + t[3]);
}

int qk_dot_ref(uint32_t wtype, const void *w, const void *x, int64_t n, float *out)
{
    const struct block_q8_k *y = x;
    float sumf = 0.0f, sums[8] = {0}, accm[4] = {0};
    int8_t a[QK_K];
    int32_t lanes[8];
    switch (wtype) {
    case LLM_TYPE_IQ4_NL: {
        const struct block_iq4_nl *b = w;
        const struct block_q8_0 *q = x;
        for (int64_t k = 0; k < n / QK; k++) {
            float d = q_f16_to_f32(q[k].d) * q_f16_to_f32(b[k].d);
            int32_t s1 = 0, s2 = 0;
            for (int j = 0; j < QK / 2; j++) {
                s1 += q[k].qs[j] * q_iq4nl_values[b[k].qs[j] & 15];
                s2 += q[k].qs[j + QK / 2] * q_iq4nl_values[b[k].qs[j] >> 4];
            }
            sumf += d * (float)(s1 + s2);
        }
        break;
    }
    case LLM_TYPE_IQ4_XS: {
        const struct block_iq4_xs *b = w;
        for (int64_t k = 0; k < n / QK_K; k++) {
            float d = q_f16_to_f32(b[k].d) * y[k].d;
            memset(lanes, 0, sizeof lanes);
            for (int ib = 0; ib < 8; ib++) {
                int ls = ((b[k].scales_l[ib / 2] >> (4 * (ib % 2))) & 15) |
                         (((b[k].scales_h >> (2 * ib)) & 3) << 4);
                const uint8_t *qs = b[k].qs + 16 * ib;
                for (int j = 0; j < 16; j++) {
                    a[32 * ib + j] = q_iq4nl_values[qs[j] & 15];
                    a[32 * ib + j + 16] = q_iq4nl_values[qs[j] >> 4];
                }
                lanes_add(lanes, a + 32 * ib, y[k].qs + 32 * ib, ls - 32, 0, 32);
            }
            lanes_fma(sums, d, lanes);
        }
        *out = hsum8(sums);
        return 0;
    }
    case LLM_TYPE_Q2_K: {
        const struct block_q2_k *b = w;
        for (int64_t k = 0; k < n / QK_K; k++) {
            float d = y[k].d * q_f16_to_f32(b[k].d), dmin = -y[k].d * q_f16_to_f32(b[k].dmin);
            for (int l = 0; l < 8; l++) /* the mins: lane l has sub-blocks 2l, 2l + 1 */
                lanes[l] = (b[k].scales[2 * l] >> 4) * y[k].bsums[2 * l] +
                           (b[k].scales[2 * l + 1] >> 4) * y[k].bsums[2 * l + 1];
            lanes_fma(sums, dmin, lanes);
            for (int e = 0; e < QK_K; e++) {
                int c = e / 128, r = e % 128;
                a[e] = (int8_t)((b[k].qs[32 * c + r % 32] >> (2 * (r / 32))) & 3);
            }
            memset(lanes, 0, sizeof lanes);
            for (int j = 0; j < 16; j++)
                lanes_add(lanes, a + 16 * j, y[k].qs + 16 * j, b[k].scales[j] & 15, 16 * j, 16);
            lanes_fma(sums, d, lanes);
        }
        *out = hsum8(sums);
        return 0;
    }
    case LLM_TYPE_Q3_K:
    case LLM_TYPE_Q6_K: {
        for (int64_t k = 0; k < n / QK_K; k++) {
            float d;
            int sc[16];
            if (wtype == LLM_TYPE_Q3_K) {
                const struct block_q3_k *b = (const struct block_q3_k *)w + k;
                for (int e = 0; e < QK_K; e++) a[e] = (int8_t)q3_k_value(b, e);
                q3_k_scales(b->scales, sc);
                d = q_f16_to_f32(b->d) * y[k].d;
            } else {
                const struct block_q6_k *b = (const struct block_q6_k *)w + k;
                for (int e = 0; e < QK_K; e++) a[e] = (int8_t)q6_k_value(b, e);
                for (int j = 0; j < 16; j++) sc[j] = b->scales[j];
                d = q_f16_to_f32(b->d) * y[k].d;
            }
            memset(lanes, 0, sizeof lanes);
            for (int j = 0; j < 16; j++)
                lanes_add(lanes, a + 16 * j, y[k].qs + 16 * j, sc[j], 16 * j, 16);
            lanes_fma(sums, d, lanes);
        }
        *out = hsum8(sums);
        return 0;
    }
    case LLM_TYPE_Q4_K:
    case LLM_TYPE_Q5_K: {
        const int five = wtype == LLM_TYPE_Q5_K;
        const size_t bs = five ? sizeof(struct block_q5_k) : sizeof(struct block_q4_k);
        for (int64_t k = 0; k < n / QK_K; k++) {
            const uint8_t *blk = (const uint8_t *)w + (size_t)k * bs;
            const struct block_q4_k *b4 = (const void *)blk;
            const struct block_q5_k *b5 = (const void *)blk;
            const uint8_t *qs = five ? b5->qs : b4->qs, *qh = five ? b5->qh : NULL;
            for (int e = 0; e < QK_K; e++) a[e] = (int8_t)q45_k_value(qs, qh, e);
            int32_t mins[4] = {0};
            memset(lanes, 0, sizeof lanes);
            for (int j = 0; j < 8; j++) {
                uint8_t s, m;
                q_get_scale_min_k4(j, b4->scales, &s, &m);
                mins[j / 2] += (y[k].bsums[2 * j] + y[k].bsums[2 * j + 1]) * m;
                lanes_add(lanes, a + 32 * j, y[k].qs + 32 * j, s, 0, 32);
            }
            float d = q_f16_to_f32(b4->d) * y[k].d, dmin = -y[k].d * q_f16_to_f32(b4->dmin);
            lanes_fma(sums, d, lanes);
            if (five) { /* the mins: one float for Q5_K, four lanes for Q4_K */
                sumf = fmaf(dmin, (float)(mins[0] + mins[1] + mins[2] + mins[3]), sumf);
            } else {
                for (int l = 0; l < 4; l++) accm[l] = fmaf(dmin, (float)mins[l], accm[l]);
            }
        }
        *out = hsum8(sums) + (five ? sumf : (accm[0] + accm[2]) + (accm[1] + accm[3]));
        return 0;
    }
    default: return -1;
    }
    for (int l = 0; l < 8; l++) sumf += sums[l];
    *out = sumf;
    return 0;
}
