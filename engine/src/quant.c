/* quant: the plain and 32-element block formats and their scalar reference
 * kernels (see quant.h; the super-block formats are in quant_k.c). */
#include "quant.h"
#include "kllm/engine.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

float q_f16_table[65536];
static pthread_once_t f16_once = PTHREAD_ONCE_INIT;

static float f16_decode(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while ((man & 0x400) == 0);
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void build_table(void)
{
    for (uint32_t i = 0; i < 65536; i++) q_f16_table[i] = f16_decode((uint16_t)i);
}

float q_signed_max(const float *x, int64_t n)
{
    float amax = 0.0f, max = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    }
    return max;
}

void q_init(void)
{
    pthread_once(&f16_once, build_table);
}

uint16_t q_f32_to_f16(float f)
{
    /* Round to nearest even, with overflow to inf and subnormals, via the
     * classic float-arithmetic trick (exact for every input). */
    const float scale_to_inf = 0x1.0p+112f;
    const float scale_to_zero = 0x1.0p-110f;
    uint32_t w;
    memcpy(&w, &f, 4);
    float base = (fabsf(f) * scale_to_inf) * scale_to_zero;
    uint32_t shl1_w = w + w;
    uint32_t sign = w & 0x80000000u;
    uint32_t bias = shl1_w & 0xff000000u;
    if (bias < 0x71000000u) bias = 0x71000000u;
    uint32_t bb = (bias >> 1) + 0x07800000u;
    float bf;
    memcpy(&bf, &bb, 4);
    base = bf + base;
    uint32_t bits;
    memcpy(&bits, &base, 4);
    uint32_t exp_bits = (bits >> 13) & 0x00007c00u;
    uint32_t man_bits = bits & 0x00000fffu;
    uint32_t nonsign = exp_bits + man_bits;
    return (uint16_t)((sign >> 16) | (shl1_w > 0xff000000u ? 0x7e00u : nonsign));
}

float q_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t q_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 64); /* quiet NaN */
    return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
}

int q_type_supported(uint32_t type)
{
    switch (type) {
    case LLM_TYPE_F32:
    case LLM_TYPE_F16:
    case LLM_TYPE_BF16:
    case LLM_TYPE_Q8_0:
    case LLM_TYPE_Q4_0:
    case LLM_TYPE_Q4_1:
    case LLM_TYPE_Q5_0:
    case LLM_TYPE_Q5_1:
    case LLM_TYPE_IQ4_NL:
    case LLM_TYPE_Q2_K:
    case LLM_TYPE_Q3_K:
    case LLM_TYPE_Q4_K:
    case LLM_TYPE_Q5_K:
    case LLM_TYPE_Q6_K:
    case LLM_TYPE_IQ4_XS: return 1;
    default: return 0;
    }
}

/* Block size and bytes per block of every type this file knows. */
static int type_layout(uint32_t type, int32_t *blck, size_t *bytes)
{
    switch (type) {
    case LLM_TYPE_F32: *blck = 1, *bytes = 4; return 0;
    case LLM_TYPE_F16:
    case LLM_TYPE_BF16: *blck = 1, *bytes = 2; return 0;
    case LLM_TYPE_Q8_0: *blck = QK, *bytes = sizeof(struct block_q8_0); return 0;
    case LLM_TYPE_Q4_0: *blck = QK, *bytes = sizeof(struct block_q4_0); return 0;
    case LLM_TYPE_Q4_1: *blck = QK, *bytes = sizeof(struct block_q4_1); return 0;
    case LLM_TYPE_Q5_0: *blck = QK, *bytes = sizeof(struct block_q5_0); return 0;
    case LLM_TYPE_Q5_1: *blck = QK, *bytes = sizeof(struct block_q5_1); return 0;
    case LLM_TYPE_Q8_1: *blck = QK, *bytes = sizeof(struct block_q8_1); return 0;
    case LLM_TYPE_IQ4_NL: *blck = QK, *bytes = sizeof(struct block_iq4_nl); return 0;
    case LLM_TYPE_Q2_K: *blck = QK_K, *bytes = sizeof(struct block_q2_k); return 0;
    case LLM_TYPE_Q3_K: *blck = QK_K, *bytes = sizeof(struct block_q3_k); return 0;
    case LLM_TYPE_Q4_K: *blck = QK_K, *bytes = sizeof(struct block_q4_k); return 0;
    case LLM_TYPE_Q5_K: *blck = QK_K, *bytes = sizeof(struct block_q5_k); return 0;
    case LLM_TYPE_Q6_K: *blck = QK_K, *bytes = sizeof(struct block_q6_k); return 0;
    case LLM_TYPE_Q8_K: *blck = QK_K, *bytes = sizeof(struct block_q8_k); return 0;
    case LLM_TYPE_IQ4_XS: *blck = QK_K, *bytes = sizeof(struct block_iq4_xs); return 0;
    default: *blck = 0, *bytes = 0; return -1;
    }
}

int32_t q_block_size(uint32_t type)
{
    int32_t blck;
    size_t bytes;
    type_layout(type, &blck, &bytes);
    return blck;
}

size_t q_row_bytes(uint32_t type, int64_t n)
{
    int32_t blck;
    size_t bytes;
    if (type_layout(type, &blck, &bytes) < 0) return 0;
    return (size_t)(n / blck) * bytes;
}

uint32_t q_dot_type(uint32_t wtype)
{
    switch (wtype) {
    case LLM_TYPE_Q4_0:
    case LLM_TYPE_Q5_0:
    case LLM_TYPE_IQ4_NL: return LLM_TYPE_Q8_0;
    case LLM_TYPE_Q4_1:
    case LLM_TYPE_Q5_1: return LLM_TYPE_Q8_1;
    case LLM_TYPE_Q2_K:
    case LLM_TYPE_Q3_K:
    case LLM_TYPE_Q4_K:
    case LLM_TYPE_Q5_K:
    case LLM_TYPE_Q6_K:
    case LLM_TYPE_IQ4_XS: return LLM_TYPE_Q8_K;
    default: return wtype;
    }
}

/* Float to a clamped integer; NaN (from non-finite weights or activations)
 * becomes 0 instead of undefined behaviour. */
static int clamp_round(float v, int lo, int hi)
{
    if (isnan(v)) return 0;
    if (v <= (float)lo) return lo;
    if (v >= (float)hi) return hi;
    return (int)roundf(v);
}

static void quantize_q8_0(const float *x, struct block_q8_0 *y, int64_t n)
{
    for (int64_t b = 0; b < n / QK; b++) {
        const float *xb = x + b * QK;
        float amax = 0.0f;
        for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(xb[j]));
        float d = amax / 127.0f;
        /* 127 / amax, not 1 / d: the reference's x86 code (they differ in
         * the last bit, and so in a quant now and then) */
        float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[b].d = q_f32_to_f16(d);
        for (int j = 0; j < QK; j++) { /* ties to even, as the reference's x86 rounding */
            float t = xb[j] * id;
            y[b].qs[j] = (int8_t)(isnan(t)       ? 0
                                  : t <= -127.0f ? -127
                                  : t >= 127.0f  ? 127
                                                 : (int)nearbyintf(t));
        }
    }
}

static void quantize_q4_0(const float *x, struct block_q4_0 *y, int64_t n)
{
    for (int64_t b = 0; b < n / QK; b++) {
        const float *xb = x + b * QK;
        float max = q_signed_max(xb, QK);
        float d = max / -8.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = q_f32_to_f16(d);
        for (int j = 0; j < QK / 2; j++) {
            /* truncation of x/d + 8.5, i.e. round half up around the offset 8 */
            int lo = clamp_round(floorf(xb[j] * id + 8.5f), 0, 15);
            int hi = clamp_round(floorf(xb[j + QK / 2] * id + 8.5f), 0, 15);
            y[b].qs[j] = (uint8_t)(lo | (hi << 4));
        }
    }
}

/* Q4_1 / Q5_1 (bits 4 or 5): d = (max - min) / (2^bits - 1), m = min,
 * q = round-half-up((x - min) / d), as the reference quantizer does. */
static void quantize_affine(int bits, const float *x, void *dst, int64_t n)
{
    const int qmax = (1 << bits) - 1;
    for (int64_t b = 0; b < n / QK; b++) {
        const float *xb = x + b * QK;
        float min = xb[0], max = xb[0];
        for (int j = 1; j < QK; j++) {
            min = fminf(min, xb[j]);
            max = fmaxf(max, xb[j]);
        }
        float d = (max - min) / (float)qmax;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint8_t q[QK];
        for (int j = 0; j < QK; j++)
            q[j] = (uint8_t)clamp_round(floorf((xb[j] - min) * id + 0.5f), 0, qmax);
        uint8_t *qs;
        if (bits == 4) {
            struct block_q4_1 *y = (struct block_q4_1 *)dst + b;
            y->d = q_f32_to_f16(d);
            y->m = q_f32_to_f16(min);
            qs = y->qs;
        } else {
            struct block_q5_1 *y = (struct block_q5_1 *)dst + b;
            y->d = q_f32_to_f16(d);
            y->m = q_f32_to_f16(min);
            uint32_t qh = 0;
            for (int j = 0; j < QK; j++) qh |= (uint32_t)(q[j] >> 4) << j;
            memcpy(y->qh, &qh, 4);
            qs = y->qs;
        }
        for (int j = 0; j < QK / 2; j++)
            qs[j] = (uint8_t)((q[j] & 15) | ((q[j + QK / 2] & 15) << 4));
    }
}

/* Q5_0: like Q4_0 around 16: d = max / -16, q = round-half-up(x / d + 16). */
static void quantize_q5_0(const float *x, struct block_q5_0 *y, int64_t n)
{
    for (int64_t b = 0; b < n / QK; b++) {
        const float *xb = x + b * QK;
        float max = q_signed_max(xb, QK);
        float d = max / -16.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = q_f32_to_f16(d);
        uint32_t qh = 0;
        for (int j = 0; j < QK / 2; j++) {
            int lo = clamp_round(floorf(xb[j] * id + 16.5f), 0, 31);
            int hi = clamp_round(floorf(xb[j + QK / 2] * id + 16.5f), 0, 31);
            y[b].qs[j] = (uint8_t)((lo & 15) | ((hi & 15) << 4));
            qh |= (uint32_t)(lo >> 4) << j;
            qh |= (uint32_t)(hi >> 4) << (j + QK / 2);
        }
        memcpy(y[b].qh, &qh, 4);
    }
}

/* Q8_1 activations, with the numbers ggml's x86 (AVX) quantizer produces,
 * which llama.cpp uses on the CPUs we run on: id = 127 / max|x| (not
 * 1 / d), rounding half to even, s = f16(d * sum q). */
static void quantize_q8_1(const float *x, struct block_q8_1 *y, int64_t n)
{
    for (int64_t b = 0; b < n / QK; b++) {
        const float *xb = x + b * QK;
        float amax = 0.0f;
        for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(xb[j]));
        float d = amax / 127.0f;
        float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        int32_t sum = 0;
        for (int j = 0; j < QK; j++) {
            float v = nearbyintf(xb[j] * id);
            int q = isnan(v) ? 0 : v < -128.0f ? -128 : v > 127.0f ? 127 : (int)v;
            y[b].qs[j] = (int8_t)q;
            sum += q;
        }
        y[b].d = q_f32_to_f16(d);
        y[b].s = q_f32_to_f16(d * (float)sum);
    }
}

void q_quantize_row(uint32_t type, const float *x, void *dst, int64_t n)
{
    switch (type) {
    case LLM_TYPE_F32: memcpy(dst, x, (size_t)n * 4); break;
    case LLM_TYPE_F16:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = q_f32_to_f16(x[i]);
        break;
    case LLM_TYPE_BF16:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = q_f32_to_bf16(x[i]);
        break;
    case LLM_TYPE_Q8_0: quantize_q8_0(x, dst, n); break;
    case LLM_TYPE_Q4_0: quantize_q4_0(x, dst, n); break;
    case LLM_TYPE_Q4_1: quantize_affine(4, x, dst, n); break;
    case LLM_TYPE_Q5_1: quantize_affine(5, x, dst, n); break;
    case LLM_TYPE_Q5_0: quantize_q5_0(x, dst, n); break;
    case LLM_TYPE_Q8_1: quantize_q8_1(x, dst, n); break;
    default: qk_quantize_row(type, x, dst, n); break;
    }
}

/* Fifth bit of element j of a Q5 block, as 16 or 0. */
static inline int q5_high(uint32_t qh, int j)
{
    return (int)((qh >> j) & 1u) << 4;
}

void q_dequantize_row(uint32_t type, const void *src, float *y, int64_t n)
{
    switch (type) {
    case LLM_TYPE_F32: memcpy(y, src, (size_t)n * 4); break;
    case LLM_TYPE_F16:
        for (int64_t i = 0; i < n; i++) y[i] = q_f16_to_f32(((const uint16_t *)src)[i]);
        break;
    case LLM_TYPE_BF16:
        for (int64_t i = 0; i < n; i++) y[i] = q_bf16_to_f32(((const uint16_t *)src)[i]);
        break;
    case LLM_TYPE_Q8_0: {
        const struct block_q8_0 *b = src;
        for (int64_t k = 0; k < n / QK; k++) {
            float d = q_f16_to_f32(b[k].d);
            for (int j = 0; j < QK; j++) y[k * QK + j] = d * (float)b[k].qs[j];
        }
        break;
    }
    case LLM_TYPE_Q4_0: {
        const struct block_q4_0 *b = src;
        for (int64_t k = 0; k < n / QK; k++) {
            float d = q_f16_to_f32(b[k].d);
            for (int j = 0; j < QK / 2; j++) {
                y[k * QK + j] = d * (float)((b[k].qs[j] & 0x0f) - 8);
                y[k * QK + j + QK / 2] = d * (float)((b[k].qs[j] >> 4) - 8);
            }
        }
        break;
    }
    /* Q4_1 / Q5_1: d * q + m in ONE rounding (fmaf). The reference build
     * (gcc -O3 -march=native) contracts that expression into an FMA;
     * fmaf gives the same bits on every CPU (tests/data/README). */
    case LLM_TYPE_Q4_1: {
        const struct block_q4_1 *b = src;
        for (int64_t k = 0; k < n / QK; k++) {
            float d = q_f16_to_f32(b[k].d), m = q_f16_to_f32(b[k].m);
            for (int j = 0; j < QK / 2; j++) {
                y[k * QK + j] = fmaf((float)(b[k].qs[j] & 0x0f), d, m);
                y[k * QK + j + QK / 2] = fmaf((float)(b[k].qs[j] >> 4), d, m);
            }
        }
        break;
    }
    case LLM_TYPE_Q5_1: {
        const struct block_q5_1 *b = src;
        for (int64_t k = 0; k < n / QK; k++) {
            float d = q_f16_to_f32(b[k].d), m = q_f16_to_f32(b[k].m);
            uint32_t qh;
            memcpy(&qh, b[k].qh, 4);
            for (int j = 0; j < QK / 2; j++) {
                int lo = (b[k].qs[j] & 0x0f) | q5_high(qh, j);
                int hi = (b[k].qs[j] >> 4) | q5_high(qh, j + QK / 2);
                y[k * QK + j] = fmaf((float)lo, d, m);
                y[k * QK + j + QK / 2] = fmaf((float)hi, d, m);
            }
        }
        break;
    }
    case LLM_TYPE_Q5_0: {
        const struct block_q5_0 *b = src;
        for (int64_t k = 0; k < n / QK; k++) {
            float d = q_f16_to_f32(b[k].d);
            uint32_t qh;
            memcpy(&qh, b[k].qh, 4);
            for (int j = 0; j < QK / 2; j++) {
                int lo = ((b[k].qs[j] & 0x0f) | q5_high(qh, j)) - 16;
                int hi = ((b[k].qs[j] >> 4) | q5_high(qh, j + QK / 2)) - 16;
                y[k * QK + j] = (float)lo * d;
                y[k * QK + j + QK / 2] = (float)hi * d;
            }
        }
        break;
    }
    case LLM_TYPE_Q8_1: {
        const struct block_q8_1 *b = src;
        for (int64_t k = 0; k < n / QK; k++) {
            float d = q_f16_to_f32(b[k].d);
            for (int j = 0; j < QK; j++) y[k * QK + j] = d * (float)b[k].qs[j];
        }
        break;
    }
    default: qk_dequantize_row(type, src, y, n); break;
    }
}

/* Integer dot of 32 unsigned weight quants (low nibbles, plus fifth bits
 * when qh is non-NULL, minus `off`) with 32 int8 activations. */
static int32_t dot_nibbles(const uint8_t *qs, const uint8_t *qhb, int off, const int8_t *a)
{
    uint32_t qh = 0;
    if (qhb) memcpy(&qh, qhb, 4);
    int32_t lo = 0, hi = 0;
    for (int j = 0; j < QK / 2; j++) {
        lo += ((qs[j] & 0x0f) + (qhb ? q5_high(qh, j) : 0) - off) * a[j];
        hi += ((qs[j] >> 4) + (qhb ? q5_high(qh, j + QK / 2) : 0) - off) * a[j + QK / 2];
    }
    return lo + hi;
}

float q_dot_ref(uint32_t wtype, const void *w, const void *x, int64_t n)
{
    switch (wtype) {
    case LLM_TYPE_F32: {
        const float *a = w, *b = x;
        float s = 0.0f;
        for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
        return s;
    }
    case LLM_TYPE_F16: {
        const uint16_t *a = w, *b = x;
        double s =
            0.0; /* f16 products are exact in f32; summing in double keeps the reference order-free */
        for (int64_t i = 0; i < n; i++) s += (double)(q_f16_to_f32(a[i]) * q_f16_to_f32(b[i]));
        return (float)s;
    }
    case LLM_TYPE_BF16: {
        const uint16_t *a = w, *b = x;
        double s = 0.0;
        for (int64_t i = 0; i < n; i++) s += (double)(q_bf16_to_f32(a[i]) * q_bf16_to_f32(b[i]));
        return (float)s;
    }
    case LLM_TYPE_Q8_0: {
        const struct block_q8_0 *a = w, *b = x;
        float s = 0.0f;
        for (int64_t k = 0; k < n / QK; k++) {
            int32_t si = 0;
            for (int j = 0; j < QK; j++) si += a[k].qs[j] * b[k].qs[j];
            s += (float)si * (q_f16_to_f32(a[k].d) * q_f16_to_f32(b[k].d));
        }
        return s;
    }
    case LLM_TYPE_Q4_0: {
        const struct block_q4_0 *a = w;
        const struct block_q8_0 *b = x;
        float s = 0.0f;
        for (int64_t k = 0; k < n / QK; k++) {
            int32_t si = 0;
            for (int j = 0; j < QK / 2; j++) {
                si += ((a[k].qs[j] & 0x0f) - 8) * b[k].qs[j];
                si += ((a[k].qs[j] >> 4) - 8) * b[k].qs[j + QK / 2];
            }
            s += (float)si * (q_f16_to_f32(a[k].d) * q_f16_to_f32(b[k].d));
        }
        return s;
    }
    case LLM_TYPE_Q5_0: {
        const struct block_q5_0 *a = w;
        const struct block_q8_0 *b = x;
        float s = 0.0f;
        for (int64_t k = 0; k < n / QK; k++)
            s += (q_f16_to_f32(a[k].d) * q_f16_to_f32(b[k].d)) *
                 (float)dot_nibbles(a[k].qs, a[k].qh, 16, b[k].qs);
        return s;
    }
    /* Q4_1 / Q5_1: sum (d q + m) * (d8 q8) = d d8 sum q q8 + m * s8, where the
     * activation block's s = d8 * sum q8 carries the min term. */
    case LLM_TYPE_Q4_1: {
        const struct block_q4_1 *a = w;
        const struct block_q8_1 *b = x;
        float s = 0.0f;
        for (int64_t k = 0; k < n / QK; k++)
            s += (q_f16_to_f32(a[k].d) * q_f16_to_f32(b[k].d)) *
                     (float)dot_nibbles(a[k].qs, NULL, 0, b[k].qs) +
                 q_f16_to_f32(a[k].m) * q_f16_to_f32(b[k].s);
        return s;
    }
    case LLM_TYPE_Q5_1: {
        const struct block_q5_1 *a = w;
        const struct block_q8_1 *b = x;
        float s = 0.0f;
        for (int64_t k = 0; k < n / QK; k++)
            s += (q_f16_to_f32(a[k].d) * q_f16_to_f32(b[k].d)) *
                     (float)dot_nibbles(a[k].qs, a[k].qh, 0, b[k].qs) +
                 q_f16_to_f32(a[k].m) * q_f16_to_f32(b[k].s);
        return s;
    }
    default: {
        float s = 0.0f;
        return qk_dot_ref(wtype, w, x, n, &s) == 0 ? s : 0.0f;
    }
    }
}
