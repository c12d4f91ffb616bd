/* quant: the tensor element formats (ggml-compatible block layouts) and the
 * scalar reference kernels over them (engine internal). quant.c has the
 * plain and 32-element block formats, quant_k.c the 256-element super-block
 * formats (K-quants, IQ4_XS, Q8_K) and IQ4_NL; docs/internals/engine-quant.md
 * draws the layouts.
 *
 *   F32   4 bytes/element
 *   F16   IEEE half; BF16 upper half of an f32
 *   Q8_0  blocks of 32: f16 d, int8 q[32];            x = d * q
 *   Q4_0  blocks of 32: f16 d, uint8 q[16] (nibbles); x = d * (nibble - 8),
 *         low nibbles hold elements 0..15, high nibbles 16..31
 *   Q4_1  as Q4_0 plus an f16 min m;                  x = d * nibble + m
 *   Q5_0  as Q4_0 plus 32 fifth bits (qh);            x = d * (q5 - 16)
 *   Q5_1  as Q4_1 with the fifth bits;                x = d * q5 + m
 *   Q8_1  Q8_0 plus s = d * sum(q) (activations only)
 *   IQ4_NL blocks of 32: f16 d, nibbles index a fixed table of 16 int8
 *   Q2_K..Q6_K, IQ4_XS, Q8_K: super-blocks of 256 elements (QK_K) split into
 *         sub-blocks of 16 or 32 with small integer scales (see the structs)
 *
 * A matmul quantizes its activations once into the weight type's "dot type"
 * (q_dot_type) and then takes row dot products in that form, as the
 * reference implementation does: F32/F16/BF16 -> themselves; Q8_0, Q4_0,
 * Q5_0, IQ4_NL -> Q8_0; Q4_1, Q5_1 -> Q8_1; K-quants, IQ4_XS -> Q8_K.
 * All functions are pure and thread-safe (after q_init).
 */
#ifndef KLLM_QUANT_H
#define KLLM_QUANT_H

#include <stddef.h>
#include <stdint.h>

#define QK 32    /* elements per block of the 32-element formats */
#define QK_K 256 /* elements per super-block */

struct block_q8_0 {
    uint16_t d;
    int8_t qs[QK];
};
struct block_q4_0 {
    uint16_t d;
    uint8_t qs[QK / 2];
};
struct block_q4_1 {
    uint16_t d, m;
    uint8_t qs[QK / 2];
};
struct block_q5_0 {
    uint16_t d;
    uint8_t qh[4]; /* bit j: fifth bit of element j (little-endian u32) */
    uint8_t qs[QK / 2];
};
struct block_q5_1 {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[QK / 2];
};
struct block_q8_1 {
    uint16_t d, s; /* s: d * sum of qs, in f16 */
    int8_t qs[QK];
};
struct block_iq4_nl {
    uint16_t d;
    uint8_t qs[QK / 2];
};
/* 16 sub-blocks of 16: x = d * (scales & 15) * q2 - dmin * (scales >> 4) */
struct block_q2_k {
    uint8_t scales[QK_K / 16];
    uint8_t qs[QK_K / 4];
    uint16_t d, dmin;
};
/* 16 sub-blocks of 16: x = d * (s6 - 32) * (q2 + 4 * hbit - 4) */
struct block_q3_k {
    uint8_t hmask[QK_K / 8];
    uint8_t qs[QK_K / 4];
    uint8_t scales[12]; /* 16 six-bit scales */
    uint16_t d;
};
/* 8 sub-blocks of 32: x = d * sc * q4 - dmin * m, sc and m six bits each,
 * packed into 12 bytes (q_get_scale_min_k4) */
struct block_q4_k {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qs[QK_K / 2];
};
struct block_q5_k {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
};
/* 16 sub-blocks of 16: x = d * scale * (q6 - 32), scale an int8 */
struct block_q6_k {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    uint16_t d;
};
/* Activations of the super-block types: an f32 scale, and the sums of each
 * 16 quants (for the min terms of Q2_K / Q4_K / Q5_K). */
struct block_q8_k {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
};
/* 8 sub-blocks of 32, six-bit scales (low 4 bits in scales_l, high 2 in
 * scales_h); x = d * (s6 - 32) * table[nibble] */
struct block_iq4_xs {
    uint16_t d;
    uint16_t scales_h;
    uint8_t scales_l[QK_K / 64];
    uint8_t qs[QK_K / 2];
};
_Static_assert(sizeof(struct block_q8_0) == 34, "q8_0 block");
_Static_assert(sizeof(struct block_q4_0) == 18, "q4_0 block");
_Static_assert(sizeof(struct block_q4_1) == 20, "q4_1 block");
_Static_assert(sizeof(struct block_q5_0) == 22, "q5_0 block");
_Static_assert(sizeof(struct block_q5_1) == 24, "q5_1 block");
_Static_assert(sizeof(struct block_q8_1) == 36, "q8_1 block");
_Static_assert(sizeof(struct block_iq4_nl) == 18, "iq4_nl block");
_Static_assert(sizeof(struct block_q2_k) == 84, "q2_K block");
_Static_assert(sizeof(struct block_q3_k) == 110, "q3_K block");
_Static_assert(sizeof(struct block_q4_k) == 144, "q4_K block");
_Static_assert(sizeof(struct block_q5_k) == 176, "q5_K block");
_Static_assert(sizeof(struct block_q6_k) == 210, "q6_K block");
_Static_assert(sizeof(struct block_q8_k) == 292, "q8_K block");
_Static_assert(sizeof(struct block_iq4_xs) == 136, "iq4_xs block");

/* The 16 values an IQ4_NL / IQ4_XS nibble stands for. */
extern const int8_t q_iq4nl_values[16];

extern float q_f16_table[65536]; /* filled by q_init */
static inline float q_f16_to_f32(uint16_t h)
{
    return q_f16_table[h];
}
uint16_t q_f32_to_f16(float f);
float q_bf16_to_f32(uint16_t h);
uint16_t q_f32_to_bf16(float f);
void q_init(void); /* builds the f16 table; called by model load, idempotent */
/* The element of x[0..n) with the largest magnitude (the first of equals;
 * 0 for n == 0), which the ggml quantizers scale by, keeping its sign. */
float q_signed_max(const float *x, int64_t n);

/* True for the weight types the engine computes with (not Q8_1 / Q8_K,
 * which only ever hold activations). */
int q_type_supported(uint32_t type);
/* Elements per block of `type` (1 for F32/F16/BF16), 0 if unknown. Rows
 * must be a multiple of it. */
int32_t q_block_size(uint32_t type);
/* Bytes of one row of n elements (n a multiple of the block size). */
size_t q_row_bytes(uint32_t type, int64_t n);
/* The activation format a weight type's dot product takes. */
uint32_t q_dot_type(uint32_t wtype);

/* Convert n floats to `type` (n a multiple of the block size). Every type
 * q_row_bytes knows, including the activation types Q8_1 and Q8_K. */
void q_quantize_row(uint32_t type, const float *x, void *dst, int64_t n);
/* Convert n elements of `type` to floats, bit for bit as ggml does. */
void q_dequantize_row(uint32_t type, const void *src, float *y, int64_t n);

/* Scalar reference dot product of a weight row (wtype) with an activation
 * row already in q_dot_type(wtype). */
float q_dot_ref(uint32_t wtype, const void *w, const void *x, int64_t n);

/* Sub-block j (0..7) of a Q4_K / Q5_K scales array: six-bit scale and min. */
static inline void q_get_scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* ---- quant_k.c, reached through the q_* entry points above: each returns
 * 0 when it handled `type`, -1 for a type that is not one of its own ---- */
int qk_quantize_row(uint32_t type, const float *x, void *dst, int64_t n);
void q_quantize_q8_k_tile(const float *x, void *dst, int64_t n);
int qk_dequantize_row(uint32_t type, const void *src, float *y, int64_t n);
int qk_dot_ref(uint32_t wtype, const void *w, const void *x, int64_t n, float *out);

#endif
