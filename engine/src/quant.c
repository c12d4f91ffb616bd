/* quant: element formats and scalar reference kernels (see quant.h). */
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
    return type == LLM_TYPE_F32 || type == LLM_TYPE_F16 || type == LLM_TYPE_BF16 ||
           type == LLM_TYPE_Q8_0 || type == LLM_TYPE_Q4_0;
}

size_t q_row_bytes(uint32_t type, int64_t n)
{
    switch (type) {
    case LLM_TYPE_F32: return (size_t)n * 4;
    case LLM_TYPE_F16:
    case LLM_TYPE_BF16: return (size_t)n * 2;
    case LLM_TYPE_Q8_0: return (size_t)n / QK * sizeof(struct block_q8_0);
    case LLM_TYPE_Q4_0: return (size_t)n / QK * sizeof(struct block_q4_0);
    default: return 0;
    }
}

uint32_t q_dot_type(uint32_t wtype)
{
    return wtype == LLM_TYPE_Q4_0 ? LLM_TYPE_Q8_0 : wtype;
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
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = q_f32_to_f16(d);
        for (int j = 0; j < QK; j++) y[b].qs[j] = (int8_t)clamp_round(xb[j] * id, -127, 127);
    }
}

static void quantize_q4_0(const float *x, struct block_q4_0 *y, int64_t n)
{
    for (int64_t b = 0; b < n / QK; b++) {
        const float *xb = x + b * QK;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK; j++) {
            if (amax < fabsf(xb[j])) {
                amax = fabsf(xb[j]);
                max = xb[j];
            }
        }
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
    default: break;
    }
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
    default: break;
    }
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
    default: return 0.0f;
    }
}
