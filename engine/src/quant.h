/* quant: the tensor element formats (ggml-compatible block layouts) and the
 * scalar reference kernels over them (engine internal).
 *
 *   F32   4 bytes/element
 *   F16   IEEE half; BF16 upper half of an f32
 *   Q8_0  blocks of 32: f16 d, int8 q[32];            x = d * q
 *   Q4_0  blocks of 32: f16 d, uint8 q[16] (nibbles); x = d * (nibble - 8),
 *         low nibbles hold elements 0..15, high nibbles 16..31
 *
 * A matmul quantizes its activations once into the weight type's "dot type"
 * (F32->F32, F16->F16, BF16->BF16, Q8_0/Q4_0->Q8_0) and then takes row dot
 * products in that form, as the reference implementation does.
 * All functions are pure and thread-safe.
 */
#ifndef KLLM_QUANT_H
#define KLLM_QUANT_H

#include <stddef.h>
#include <stdint.h>

#define QK 32

struct block_q8_0 {
    uint16_t d;
    int8_t qs[QK];
};
struct block_q4_0 {
    uint16_t d;
    uint8_t qs[QK / 2];
};
_Static_assert(sizeof(struct block_q8_0) == 34, "q8_0 block");
_Static_assert(sizeof(struct block_q4_0) == 18, "q4_0 block");

extern float q_f16_table[65536]; /* filled by q_init */
static inline float q_f16_to_f32(uint16_t h)
{
    return q_f16_table[h];
}
uint16_t q_f32_to_f16(float f);
float q_bf16_to_f32(uint16_t h);
uint16_t q_f32_to_bf16(float f);
void q_init(void); /* builds the f16 table; called by model load, idempotent */

/* True for the types the engine computes with. */
int q_type_supported(uint32_t type);
/* Bytes of one row of n elements (n a multiple of the block size). */
size_t q_row_bytes(uint32_t type, int64_t n);
/* The activation format a weight type's dot product takes. */
uint32_t q_dot_type(uint32_t wtype);

/* Convert n floats to `type` (n a multiple of the block size). */
void q_quantize_row(uint32_t type, const float *x, void *dst, int64_t n);
/* Convert n elements of `type` to floats. */
void q_dequantize_row(uint32_t type, const void *src, float *y, int64_t n);

/* Scalar reference dot product of a weight row (wtype) with an activation
 * row already in q_dot_type(wtype). */
float q_dot_ref(uint32_t wtype, const void *w, const void *x, int64_t n);

#endif
