/* kernels: portable implementations of the compute loops (see kernels.h). */
#include "kernels.h"
#include "kllm/engine.h"
#include "quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
/* CPUID leaf 1, ECX bit 29 (clang 14's __builtin_cpu_supports has no "f16c") */
static int has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && ((c >> 29) & 1u);
}
#endif

static int cpu_has(int path)
{
    if (path == KERN_SCALAR) return 1;
#if defined(__x86_64__) || defined(__i386__)
    if (path == KERN_AVX2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
#endif
    return 0;
}

static int current = -1;

const char *kern_path_name(int path)
{
    static const char *const names[KERN_PATH_COUNT] = {"scalar", "avx2"};
    return path >= 0 && path < KERN_PATH_COUNT ? names[path] : "?";
}

int kern_path(void)
{
    if (current < 0) {
        int best = KERN_SCALAR;
        for (int p = KERN_PATH_COUNT - 1; p > 0; p--) {
            if (cpu_has(p)) {
                best = p;
                break;
            }
        }
        const char *env = getenv("KLLM_KERNELS");
        for (int p = 0; env && p < KERN_PATH_COUNT; p++) {
            if (strcmp(env, kern_path_name(p)) == 0 && cpu_has(p)) best = p;
        }
        current = best;
    }
    return current;
}

int kern_force_path(int path)
{
    if (path < 0 || path >= KERN_PATH_COUNT || !cpu_has(path)) return -1;
    current = path;
    return 0;
}

float kern_dot(uint32_t wtype, const void *w, const void *x, int64_t n)
{
    return kern_path() == KERN_AVX2 ? kern_dot_avx2(wtype, w, x, n) : q_dot_ref(wtype, w, x, n);
}

uint32_t kern_act_type(uint32_t wtype)
{
    if (kern_path() == KERN_AVX2) {
        if (wtype == LLM_TYPE_F16) return KERN_ACT_F16_AS_F32;
        if (wtype == LLM_TYPE_Q8_0 || wtype == LLM_TYPE_Q4_0 || wtype == LLM_TYPE_Q5_0 ||
            wtype == LLM_TYPE_IQ4_NL)
            return KERN_ACT_Q8_F32;
    }
    return q_dot_type(wtype);
}

uint32_t kern_act_type_mat(uint32_t wtype, int64_t n_out)
{
    if (kern_path() == KERN_AVX2 && wtype == LLM_TYPE_Q4_K && n_out % 8 == 0)
        return KERN_ACT_Q8_K_RP;
    return kern_act_type(wtype);
}

size_t kern_act_row_bytes(uint32_t act_type, int64_t n)
{
    if (act_type == KERN_ACT_Q8_K_RP) return q_row_bytes(LLM_TYPE_Q8_K, n);
    if (act_type == KERN_ACT_F16_AS_F32) return (size_t)n * 4;
    if (act_type == KERN_ACT_Q8_F32) return (size_t)(n / QK) * sizeof(struct kblock_q8f);
    return q_row_bytes(act_type, n);
}

void kern_quantize_rows(uint32_t act_type, const float *x, size_t n, void *dst, size_t row_bytes,
                        int32_t nrows)
{
#pragma omp for schedule(static) nowait
    for (int32_t b = 0; b < nrows; b++) {
        const float *xr = x + (size_t)b * n;
        uint8_t *d = (uint8_t *)dst + (size_t)b * row_bytes;
        /* the two KERN_ACT_ types are only chosen on the AVX2 path */
        if (act_type == KERN_ACT_F16_AS_F32)
            kern_round_f16_avx2(xr, (float *)(void *)d, (int64_t)n);
        else if (act_type == KERN_ACT_Q8_K_RP)
            if (nrows > 3 && b < nrows - nrows % 4)
                q_quantize_q8_k_tile(xr, d, (int64_t)n);
            else
                q_quantize_row(LLM_TYPE_Q8_K, xr, d, (int64_t)n);
        else if (act_type == KERN_ACT_Q8_F32)
            kern_quantize_q8f_avx2(xr, (struct kblock_q8f *)(void *)d, (int64_t)n);
        else
            q_quantize_row(act_type, xr, d, (int64_t)n);
    }
}

/* One group of four activation rows against weight rows [r0, r1) over the
 * input elements [k0, k0 + kn): 2x4 register tiles where the type has them,
 * 1x4 otherwise. The first chunk (k0 == 0) stores, later ones add. */
static void group_avx2(uint32_t wtype, uint32_t atype, const uint8_t *w, size_t wrow_bytes,
                       int64_t r0, int64_t r1, int64_t k0, int64_t kn, const uint8_t *x4,
                       size_t xrow_bytes, float *o4, size_t out_stride)
{
    const size_t wo = q_row_bytes(wtype, k0), xo = kern_act_row_bytes(atype, k0);
    const uint8_t *xk = x4 + xo;
    float o[8];
    int64_t r = r0;
    for (; r + 1 < r1; r += 2) {
        const uint8_t *w0 = w + (size_t)r * wrow_bytes + wo;
        if (!kern_dot2x4_avx2(wtype, w0, w0 + wrow_bytes, xk, xrow_bytes, kn, o)) break;
        for (int j = 0; j < 4; j++) {
            float *d = o4 + (size_t)j * out_stride + (size_t)r;
            d[0] = k0 ? d[0] + o[j] : o[j];
            d[1] = k0 ? d[1] + o[4 + j] : o[4 + j];
        }
    }
    for (; r < r1; r++) {
        kern_dot4_avx2(wtype, w + (size_t)r * wrow_bytes + wo, xk, xrow_bytes, kn, o);
        for (int j = 0; j < 4; j++) {
            float *d = o4 + (size_t)j * out_stride + (size_t)r;
            *d = k0 ? *d + o[j] : o[j];
        }
    }
}

/* Weight rows [r0, r1) against every activation row. The block's weights
 * stay in L2 while groups of four activation rows pass through L1 in
 * chunks of input elements small enough to stay there (about 16 KiB for the
 * four). With fewer than four activation rows (decode) the rows are simply
 * streamed. */
static void block_avx2(uint32_t wtype, const uint8_t *w, size_t wrow_bytes, int64_t n_in,
                       int64_t r0, int64_t r1, const uint8_t *xb, size_t xrow_bytes, float *out,
                       size_t out_stride, int32_t nrows)
{
    const uint32_t atype = kern_act_type(wtype);
    /* elements per chunk: a multiple of 256 (every block size divides it) */
    int64_t kc = (int64_t)(4096u * 256u / kern_act_row_bytes(atype, 256)) / 256 * 256;
    if (kc < 256) kc = 256;
    int32_t b = 0;
    if ((size_t)nrows * xrow_bytes <= (24u << 10) && n_in <= kc && atype != KERN_ACT_F16_AS_F32) {
        /* few short activation rows (batched decode): they all stay in L1,
         * so each pair of weight rows is fetched once and used for all.
         * Not for f32 (F16-weight) activations: eight rows of 768 fill L1
         * and this order measured 10 % slower there (tg@b8, small-f16). */
        for (int64_t r = r0; r < r1; r += 2)
            for (b = 0; b + 4 <= nrows; b += 4)
                group_avx2(wtype, atype, w, wrow_bytes, r, r + 2 < r1 ? r + 2 : r1, 0, n_in,
                           xb + (size_t)b * xrow_bytes, xrow_bytes, out + (size_t)b * out_stride,
                           out_stride);
    }
    for (; b + 4 <= nrows; b += 4) {
        const uint8_t *x4 = xb + (size_t)b * xrow_bytes;
        float *o4 = out + (size_t)b * out_stride;
        for (int64_t k0 = 0; k0 < n_in; k0 += kc) {
            /* the last chunk takes the rest (any tail the kernels handle) */
            int64_t kn = n_in - k0 < 2 * kc ? n_in - k0 : kc;
            group_avx2(wtype, atype, w, wrow_bytes, r0, r1, k0, kn, x4, xrow_bytes, o4, out_stride);
            if (kn != kc) break;
        }
    }
    /* the rest one by one; the reference sums a lone row (decode) in
     * another order than the rows of a batch */
    float (*dot)(uint32_t, const void *, const void *, int64_t) =
        nrows == 1 ? kern_dot_avx2 : kern_dot_tile_avx2;
    for (; b < nrows; b++)
        for (int64_t r = r0; r < r1; r++)
            out[(size_t)b * out_stride + (size_t)r] =
                dot(wtype, w + (size_t)r * wrow_bytes, xb + (size_t)b * xrow_bytes, n_in);
}

int kern_repacked(uint32_t wtype, int64_t n_out)
{
    return kern_path() == KERN_AVX2 && n_out % 8 == 0 &&
           (wtype == LLM_TYPE_Q4_K || wtype == LLM_TYPE_Q4_0 || wtype == LLM_TYPE_IQ4_NL);
}

/* Matrices the reference repacks (kern_repacked) and then sums in its own
 * order: the activation rows in fours as tiles (when there are more than
 * three), the rest one by one. Groups of four activation rows pass over the
 * weight rows [r0, r1) (the block stays in L2). */
static void block_rp(uint32_t wtype, const uint8_t *w, size_t wrow_bytes, int64_t n_in, int64_t r0,
                     int64_t r1, const uint8_t *xb, size_t xrow_bytes, float *out,
                     size_t out_stride, int32_t nrows)
{
    const int32_t ntile = nrows > 3 ? nrows - nrows % 4 : 0;
    float o[4];
    for (int32_t b = 0; b < nrows; b += 4) {
        const int32_t nb = nrows - b < 4 ? nrows - b : 4;
        const uint8_t *x4 = xb + (size_t)b * xrow_bytes;
        float *o4 = out + (size_t)b * out_stride;
        for (int64_t r = r0; r < r1; r++) {
            const uint8_t *wr = w + (size_t)r * wrow_bytes;
            if (b < ntile) {
                kern_dot4_rp_avx2(wtype, wr, x4, xrow_bytes, n_in, o);
                for (int32_t j = 0; j < 4; j++) o4[(size_t)j * out_stride + (size_t)r] = o[j];
            } else {
                for (int32_t j = 0; j < nb; j++)
                    o4[(size_t)j * out_stride + (size_t)r] =
                        kern_dot_rp_avx2(wtype, wr, x4 + (size_t)j * xrow_bytes, n_in);
            }
        }
    }
}

void kern_matmul(uint32_t wtype, const uint8_t *w, size_t wrow_bytes, int64_t n_in, int64_t n_out,
                 const void *x, size_t xrow_bytes, float *out, size_t out_stride, int32_t nrows)
{
    const uint8_t *xb = x;
    if (kern_path() == KERN_AVX2) {
        const int rp = kern_repacked(wtype, n_out);
        /* Blocks of weight rows of about 192 KiB (an even count, 2..64 rows),
         * split between the threads in contiguous runs. */
        int64_t rpb = (int64_t)((192u << 10) / (wrow_bytes ? wrow_bytes : 1));
        rpb = rpb < 2 ? 2 : rpb > 64 ? 64 : rpb & ~(int64_t)1;
        const int64_t nblk = (n_out + rpb - 1) / rpb;
#pragma omp for schedule(static) nowait
        for (int64_t k = 0; k < nblk; k++) {
            int64_t r0 = k * rpb, r1 = r0 + rpb < n_out ? r0 + rpb : n_out;
            if (rp)
                block_rp(wtype, w, wrow_bytes, n_in, r0, r1, xb, xrow_bytes, out, out_stride,
                         nrows);
            else
                block_avx2(wtype, w, wrow_bytes, n_in, r0, r1, xb, xrow_bytes, out, out_stride,
                           nrows);
        }
        return;
    }
#pragma omp for schedule(static) nowait
    for (int64_t r = 0; r < n_out; r++) {
        const uint8_t *wr = w + (size_t)r * wrow_bytes;
        for (int32_t b = 0; b < nrows; b++)
            out[(size_t)b * out_stride + (size_t)r] =
                q_dot_ref(wtype, wr, xb + (size_t)b * xrow_bytes, n_in);
    }
}

float kern_softmax_exp(float *x, int32_t n, float max)
{
    double sum = 0.0; /* in double, as the reference sums */
    for (int32_t t = 0; t < n; t++) {
        float e = expf(x[t] - max);
        x[t] = e;
        sum += e;
    }
    return (float)(1.0 / sum);
}

/* The reference's CPU flash attention, step by step: one pass over the
 * positions with a running maximum M and sum S, the weighted V sum kept as
 * f16 values (rescaled when M grows), divided by S at the end. Matching its
 * roundings (q, K, V and the accumulator in f16) is what makes greedy
 * tokens agree with it over long generations. */
static void attend_ref(const float *q, const uint16_t *k, const uint16_t *v, size_t kv_stride,
                       int32_t hd, int32_t n_pos, float scale, float softcap, float *scratch,
                       float *out)
{
    float qh[512] = {0}; /* (cppcheck cannot see hd > 0) */
    uint16_t acc[512];
    for (int32_t d = 0; d < hd; d++) {
        qh[d] = q_f16_to_f32(q_f32_to_f16(q[d]));
        acc[d] = 0;
    }
    if (softcap > 0.0f) scale /= softcap;
    float m = -INFINITY, sum = 0.0f;
    for (int32_t t = 0; t < n_pos; t++) {
        const uint16_t *kt = k + (size_t)t * kv_stride, *vt = v + (size_t)t * kv_stride;
        /* the reference's f16 dot (AVX2 build): 4 x 8 lanes over each 32
         * elements, reduced pairwise, the last four as (0+1)+(2+3), then the rest
         * one by one in double */
        float lane[4][8] = {{0}};
        const int32_t n32 = hd & ~31;
        for (int32_t d = 0; d < n32; d++)
            lane[(d / 8) & 3][d % 8] = fmaf(qh[d], q_f16_to_f32(kt[d]), lane[(d / 8) & 3][d % 8]);
        float r[8];
        for (int i = 0; i < 8; i++) r[i] = (lane[0][i] + lane[2][i]) + (lane[1][i] + lane[3][i]);
        for (int i = 0; i < 4; i++) r[i] += r[i + 4];
        double dot = (double)((r[0] + r[1]) + (r[2] + r[3]));
        for (int32_t d = n32; d < hd; d++) dot += (double)(qh[d] * q_f16_to_f32(kt[d]));
        float s = (float)dot * scale, ms = 1.0f, vs = 1.0f;
        if (softcap > 0.0f) s = softcap * tanhf(s);
        if (s > m) {
            ms = expf(m - s);
            m = s;
            for (int32_t d = 0; d < hd; d++) acc[d] = q_f32_to_f16(q_f16_to_f32(acc[d]) * ms);
        } else {
            vs = expf(s - m);
        }
        for (int32_t d = 0; d < hd; d++)
            acc[d] = q_f32_to_f16(q_f16_to_f32(acc[d]) + q_f16_to_f32(vt[d]) * vs);
        sum = fmaf(sum, ms, vs);
    }
    (void)scratch;
    float inv = 1.0f / sum;
    for (int32_t d = 0; d < hd; d++) out[d] = q_f16_to_f32(acc[d]) * inv;
}

void kern_attend(const float *q, const uint16_t *k, const uint16_t *v, size_t kv_stride, int32_t hd,
                 int32_t n_pos, float scale, float softcap, float *scratch, float *out)
{
    if (kern_path() == KERN_AVX2 && hd % 8 == 0)
        kern_attend_avx2(q, k, v, kv_stride, hd, n_pos, scale, softcap, scratch, out);
    else
        attend_ref(q, k, v, kv_stride, hd, n_pos, scale, softcap, scratch, out);
}

/* e^x the way the reference's AVX2 silu computes it: x = n ln2 + b with
 * n = round(x / ln2), a degree-5 polynomial in b, and the exponent added to
 * the bits (max error ~1.5 ulp). Per element exactly what one vector lane
 * gives, so that silu, and the activation quantization after it, round as
 * the reference's do. */
float kern_expf_ref(float x)
{
    const float r = 0x1.8p23f;
    float z = fmaf(x, 0x1.715476p+0f, r), n = z - r;
    float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    uint32_t zb, one = 0x3f800000u;
    memcpy(&zb, &z, 4);
    uint32_t e = zb << 23, kb = e + one;
    float k, u = b * b;
    memcpy(&k, &kb, 4);
    float j = fmaf(
        fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
        u, 0x1.ffffecp-1f * b);
    if (!(fabsf(n) > 126.0f)) return fmaf(k, j, k);
    uint32_t g = n <= 0.0f ? 0x82000000u : 0u, s1b = g + 0x7f000000u, s2b = e - g;
    float s1, s2;
    memcpy(&s1, &s1b, 4);
    memcpy(&s2, &s2b, 4);
    if (fabsf(n) > 192.0f) return s1 * s1;
    return fmaf(s2, j, s2) * s1;
}

void kern_silu_mul(float *g, const float *u, size_t n)
{
    if (kern_path() == KERN_AVX2) {
        /* eight at a time per thread: the chunking never splits a lane group */
        size_t n8 = n / 8;
#pragma omp for schedule(static) nowait
        for (size_t i = 0; i < n8; i++) kern_silu_mul8_avx2(g + 8 * i, u + 8 * i);
        for (size_t i = n8 * 8; i < n; i++) g[i] = g[i] / (1.0f + kern_expf_ref(-g[i])) * u[i];
        return;
    }
#pragma omp for schedule(static) nowait
    for (size_t i = 0; i < n; i++) g[i] = g[i] / (1.0f + kern_expf_ref(0.0f - g[i])) * u[i];
}

void kern_add(float *x, const float *y, size_t n)
{
#pragma omp for schedule(static) nowait
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}
