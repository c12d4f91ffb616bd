/* gguf: a bounds-checked reader of GGUF v2/v3 files (engine internal).
 *
 * File layout (little endian):
 *   "GGUF" u32 version, u64 n_tensors, u64 n_kv
 *   n_kv x { string key, u32 type, value }       string = u64 len + bytes
 *   n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset }
 *   padding to general.alignment (default 32), then tensor data; each
 *   tensor's offset is relative to the data start and aligned.
 *
 * gguf_parse validates everything once: every length, count, array and
 * tensor extent is checked against the buffer size, so later accessors can
 * read without further checks. A hostile file is an error, never a crash.
 * The parsed file points into the caller's buffer (or the mmap for
 * gguf_open); it is immutable afterwards and safe to share between threads.
 */
#ifndef KLLM_GGUF_H
#define KLLM_GGUF_H

#include <stddef.h>
#include <stdint.h>

enum gguf_vtype {
    GGUF_U8 = 0,
    GGUF_I8 = 1,
    GGUF_U16 = 2,
    GGUF_I16 = 3,
    GGUF_U32 = 4,
    GGUF_I32 = 5,
    GGUF_F32 = 6,
    GGUF_BOOL = 7,
    GGUF_STR = 8,
    GGUF_ARR = 9,
    GGUF_U64 = 10,
    GGUF_I64 = 11,
    GGUF_F64 = 12,
    GGUF_VTYPE_COUNT
};

struct gguf_str {
    const char *ptr; /* not NUL-terminated */
    uint64_t len;
};

struct gguf_kv {
    struct gguf_str key;
    uint32_t type;      /* enum gguf_vtype */
    uint32_t arr_type;  /* element type when type == GGUF_ARR */
    uint64_t arr_n;     /* element count when type == GGUF_ARR */
    const uint8_t *val; /* the value (for arrays: the first element) */
};

#define GGUF_MAX_DIMS 4
struct gguf_tensor {
    struct gguf_str name;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the row length; unused dims are 1 */
    uint32_t type;              /* enum llm_type / ggml type id */
    uint64_t offset;            /* from the data start */
    uint64_t nbytes;
    const uint8_t *data;
};

struct gguf_file {
    const uint8_t *base;
    size_t size;
    uint32_t version;
    uint32_t alignment;
    uint64_t n_kv;
    uint64_t n_tensors;
    struct gguf_kv *kv;
    struct gguf_tensor *tensors;
    size_t data_off;
    void *map; /* set by gguf_open: the mmap to unmap on close */
};

/* Parse a GGUF image of `size` bytes. *out must be freed with gguf_close.
 * Returns 0, LLM_ERR_FORMAT / LLM_ERR_UNSUPPORTED (with a reason in err) or
 * LLM_ERR_NOMEM. */
int gguf_parse(const void *buf, size_t size, struct gguf_file **out, char *err, size_t errlen);
/* mmap a file read-only and parse it. */
int gguf_open(const char *path, struct gguf_file **out, char *err, size_t errlen);
void gguf_close(struct gguf_file *f);

const struct gguf_kv *gguf_find(const struct gguf_file *f, const char *key);
const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *f, const char *name);
int gguf_str_eq(struct gguf_str s, const char *c);

/* Typed getters: 0 on success, LLM_ERR_FORMAT if the key is absent (out
 * untouched) or has an incompatible type/range. */
int gguf_get_u32(const struct gguf_file *f, const char *key, uint32_t *out);
int gguf_get_f32(const struct gguf_file *f, const char *key, float *out);
int gguf_get_bool(const struct gguf_file *f, const char *key, int *out);
int gguf_get_str(const struct gguf_file *f, const char *key, struct gguf_str *out);
/* Scalar value of kv as double (integers, floats, bool); 0 if not scalar. */
int gguf_kv_scalar(const struct gguf_kv *kv, double *out);
/* Read a string at *p (already validated by gguf_parse) and advance p. */
struct gguf_str gguf_next_str(const uint8_t **p);
/* Bytes of kv's encoded value (after its u32 type), for copying it raw. */
uint64_t gguf_kv_value_size(const struct gguf_file *f, const struct gguf_kv *kv);
/* Size in bytes of one element of a fixed-size value type (0 for STR/ARR). */
size_t gguf_vtype_size(uint32_t t);
const char *gguf_vtype_name(uint32_t t);

/* Tensor type table: block size (elements), bytes per block, name. Returns
 * 0 for both sizes when the type id is unknown. */
struct gguf_type_traits {
    uint32_t blck;
    uint32_t bytes;
    const char *name;
};
struct gguf_type_traits gguf_type_traits(uint32_t type);

#endif
