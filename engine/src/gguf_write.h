/* gguf_write: write a GGUF v3 file (engine internal).
 *
 * Usage: gw_new, add metadata (gw_kv_*) and tensor infos (gw_tensor), then
 * gw_begin_data writes the header, and each tensor's bytes are written in
 * the order they were added with gw_write_data (padding is automatic).
 * gw_finish closes the file; on any error the partial file is removed.
 * One thread owns a writer.
 */
#ifndef KLLM_GGUF_WRITE_H
#define KLLM_GGUF_WRITE_H

#include "gguf.h"

#include <stdint.h>
#include <stdio.h>

struct gguf_writer;

struct gguf_writer *gw_new(void);
void gw_free(struct gguf_writer *w); /* also removes an unfinished file */

int gw_kv_u32(struct gguf_writer *w, const char *key, uint32_t v);
int gw_kv_f32(struct gguf_writer *w, const char *key, float v);
int gw_kv_bool(struct gguf_writer *w, const char *key, int v);
int gw_kv_str(struct gguf_writer *w, const char *key, const char *v);
/* Arrays: elements of a fixed-size type, or strings (GGUF_STR: strs[]). */
int gw_kv_arr(struct gguf_writer *w, const char *key, uint32_t elem_type, const void *data,
              uint64_t n);
int gw_kv_arr_str(struct gguf_writer *w, const char *key, const char *const *strs, uint64_t n);
/* Copies one entry of a parsed file verbatim. */
int gw_kv_copy(struct gguf_writer *w, const struct gguf_file *f, const struct gguf_kv *kv);

/* ne[0] is the row length. */
int gw_tensor(struct gguf_writer *w, const char *name, uint32_t n_dims, const uint64_t *ne,
              uint32_t type);

int gw_begin_data(struct gguf_writer *w, const char *path);
/* Appends bytes of the current tensor; moves to the next one when full. */
int gw_write_data(struct gguf_writer *w, const void *data, size_t n);
int gw_finish(struct gguf_writer *w);

#endif
