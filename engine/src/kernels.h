/* kernels: the engine's compute loops behind one small interface (engine
 * internal). Each entry point picks its implementation ("path") at run time
 * from the CPU's features: portable C, or AVX2+FMA+F16C.
 *
 * Threads: the forward pass runs inside ONE OpenMP parallel region per
 * llm_decode_batch call (a persistent team, no fork/join per op). The
 * kern_*_rows / kern_matmul / kern_attend_rows functions contain orphaned
 * `omp for nowait` loops: every thread of the team must call them, and the
 * caller places `#pragma omp barrier` where a later op reads their output.
 * Called outside a parallel region they simply run serially.
 */
#ifndef KLLM_KERNELS_H
#define KLLM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* The default path is the best the CPU supports, or what KLLM_KERNELS=
 * scalar|avx2 in the environment names. */
enum kern_path { KERN_SCALAR = 0, KERN_AVX2 = 1, KERN_PATH_COUNT };
int kern_path(void);
const char *kern_path_name(int path);
/* Select a path (tests, benchmarks): 0, or -1 when the CPU lacks it.
 * Not thread-safe: call before decoding starts. */
int kern_force_path(int path);
/* Row dot product on the current path (formats in quant.h). */
float kern_dot(uint32_t wtype, const void *w, const void *x, int64_t n);

/* The activation format a matmul over `wtype` weights takes on the current
 * path: q_dot_type(wtype), except that the AVX2 path takes F16-weight
 * activations as f32 values already rounded to f16 (KERN_ACT_F16_AS_F32:
 * the same numbers, widened once instead of once per weight row) ... */
#define KERN_ACT_F16_AS_F32 0x10001u
/* ... and Q8_0/Q4_0-weight activations as Q8_0 blocks whose scale is kept
 * widened to f32 (the same f16-rounded value), so no tile converts it;
 * likewise for Q5_0 / IQ4_NL weights. Other types take q_dot_type. */
#define KERN_ACT_Q8_F32 0x10002u
struct kblock_q8f {
    float d;
    int8_t qs[32];
};
/* ... and Q4_K matrices of 8k rows (which the reference repacks) take Q8_K
 * rows of which those of the four-row tiles (all but nrows % 4 when there
 * are more than three) are quantized as its tile quantizer does. */
#define KERN_ACT_Q8_K_RP 0x10003u
uint32_t kern_act_type(uint32_t wtype);
/* kern_act_type for a matrix of n_out rows */
uint32_t kern_act_type_mat(uint32_t wtype, int64_t n_out);
size_t kern_act_row_bytes(uint32_t act_type, int64_t n);

/* Convert nrows rows of n floats (row stride n) into activation rows
 * (kern_act_type) of row_bytes each at dst. Work-shared by rows. */
void kern_quantize_rows(uint32_t dot_type, const float *x, size_t n, void *dst, size_t row_bytes,
                        int32_t nrows);

/* out[b * out_stride + r] = dot(weight row r, activation row b) for
 * r < n_out, b < nrows. Weight rows are wrow_bytes apart; activation rows
 * (already in kern_act_type(wtype)) are xrow_bytes apart. Work-shared by
 * output rows; each weight row is used for 4 activation rows at a time. */
void kern_matmul(uint32_t wtype, const uint8_t *w, size_t wrow_bytes, int64_t n_in, int64_t n_out,
                 const void *x, size_t xrow_bytes, float *out, size_t out_stride, int32_t nrows);

/* One attention head for one query over positions [0, n_pos): scores
 * s = scale * q.k (then softcap * tanh(s / softcap) when softcap > 0) into
 * `scratch` (n_pos floats), softmax, out[hd] = sum p_t v_t. K and V rows are
 * f16, kv_stride elements apart; q is rounded to f16 like K. */
void kern_attend(const float *q, const uint16_t *k, const uint16_t *v, size_t kv_stride, int32_t hd,
                 int32_t n_pos, float scale, float softcap, float *scratch, float *out);

/* x[t] = exp(x[t] - max) for t < n; returns 1 / sum (softmax = x * that). */
float kern_softmax_exp(float *x, int32_t n, float max);

/* g[i] = silu(g[i]) * u[i] over n elements, work-shared. */
void kern_silu_mul(float *g, const float *u, size_t n);
/* e^x as the reference's vectorized silu computes it (kernels.c). */
float kern_expf_ref(float x);
void kern_silu_mul8_avx2(float *g, const float *u); /* eight elements */
/* x[i] += y[i], work-shared. */
void kern_add(float *x, const float *y, size_t n);

/* ---- the AVX2 path (kernels_avx2.c), called through the entry points
 * above; activations in kern_act_type() of the AVX2 path ---- */
float kern_dot_avx2(uint32_t wtype, const void *w, const void *x, int64_t n);
/* As kern_dot_avx2 for a row of a batch of two or more: F16 and F32 sum in
 * the reference's tile order there, its vector order for a single row. */
/* Q4_K, Q4_0 and IQ4_NL in the order of the reference's repacked kernels
 * (matrices whose row count is a multiple of 8: kern_repacked;
 * kernels_rp_avx2.c): a lone activation row, or four rows of a batch's
 * four-row tiles (all but nrows % 4 when there are more than three). */
int kern_repacked(uint32_t wtype, int64_t n_out);
float kern_dot_rp_avx2(uint32_t wtype, const void *w, const void *x, int64_t n);
void kern_dot4_rp_avx2(uint32_t wtype, const void *w, const void *x, size_t xstride, int64_t n,
                       float out[4]);
float kern_dot_tile_avx2(uint32_t wtype, const void *w, const void *x, int64_t n);
/* One weight row against four activation rows xstride bytes apart. */
void kern_dot4_avx2(uint32_t wtype, const void *w, const void *x, size_t xstride, int64_t n,
                    float out[4]);
/* Rows w0, w1 against four activation rows: out[0..3] and out[4..7]. Returns
 * 0 (nothing written) for types without a pair kernel. */
int kern_dot2x4_avx2(uint32_t wtype, const void *w0, const void *w1, const void *x, size_t xstride,
                     int64_t n, float out[8]);
void kern_quantize_q8f_avx2(const float *x, struct kblock_q8f *dst, int64_t n);
/* kernels_kq_avx2.c: the formats after Q8_0 / Q4_0 (Q4_K, Q5_K, Q6_K, Q5_0,
 * IQ4_NL, Q4_1, Q5_1). kern_kq_has_avx2: whether wtype has a kernel there;
 * the dots return 0 when they handled wtype (result in out), -1 when it
 * has no kernel (out untouched). */
int kern_kq_has_avx2(uint32_t wtype);
int kern_dot_kq_avx2(uint32_t wtype, const void *w, const void *x, int64_t n, float *out);
int kern_dot4_kq_avx2(uint32_t wtype, const void *w, const void *x, size_t xstride, int64_t n,
                      float out[4]);
void kern_round_f16_avx2(const float *x, float *y, int64_t n);
void kern_attend_avx2(const float *q, const uint16_t *k, const uint16_t *v, size_t kv_stride,
                      int32_t hd, int32_t n_pos, float scale, float softcap, float *scratch,
                      float *out);

#endif
