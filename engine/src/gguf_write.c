/* gguf_write: GGUF v3 writer (see gguf_write.h). Metadata and tensor infos
 * are built in a growable buffer; tensor data is streamed after them. */
#include "gguf_write.h"
#include "kllm/engine.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALIGN 32u

struct tinfo {
    uint64_t nbytes;
};

struct gguf_writer {
    uint8_t *meta; /* encoded kv entries */
    size_t meta_len, meta_cap;
    uint8_t *tens; /* encoded tensor infos (offsets filled as added) */
    size_t tens_len, tens_cap;
    struct tinfo *t;
    uint64_t n_kv, n_t, t_cap;
    uint64_t data_size; /* running aligned size of the data section */
    FILE *fp;
    char *path;           /* final name */
    char *tmp_path;       /* written here, renamed to path by gw_finish */
    uint64_t cur;         /* tensor being written */
    uint64_t cur_written; /* bytes of it written */
    int failed;
};

struct gguf_writer *gw_new(void)
{
    return calloc(1, sizeof(struct gguf_writer));
}

void gw_free(struct gguf_writer *w)
{
    if (!w) return;
    if (w->fp) { /* unfinished: drop the partial file */
        fclose(w->fp);
        unlink(w->tmp_path);
    }
    free(w->meta);
    free(w->tens);
    free(w->t);
    free(w->path);
    free(w->tmp_path);
    free(w);
}

static int put(uint8_t **buf, size_t *len, size_t *cap, const void *src, size_t n)
{
    if (*len + n > *cap) {
        size_t nc = *cap ? *cap : 256;
        while (nc < *len + n) nc *= 2;
        uint8_t *nb = realloc(*buf, nc);
        if (!nb) return LLM_ERR_NOMEM;
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, src, n);
    *len += n;
    return 0;
}

static int meta(struct gguf_writer *w, const void *src, size_t n)
{
    return put(&w->meta, &w->meta_len, &w->meta_cap, src, n);
}

static int meta_str(struct gguf_writer *w, const char *s, size_t n)
{
    uint64_t len = n;
    int rc = meta(w, &len, 8);
    return rc < 0 ? rc : meta(w, s, n);
}

static int kv_head(struct gguf_writer *w, const char *key, uint32_t type)
{
    int rc = meta_str(w, key, strlen(key));
    if (rc == 0) rc = meta(w, &type, 4);
    if (rc == 0) w->n_kv++;
    return rc;
}

int gw_kv_u32(struct gguf_writer *w, const char *key, uint32_t v)
{
    int rc = kv_head(w, key, GGUF_U32);
    return rc < 0 ? rc : meta(w, &v, 4);
}

int gw_kv_f32(struct gguf_writer *w, const char *key, float v)
{
    int rc = kv_head(w, key, GGUF_F32);
    return rc < 0 ? rc : meta(w, &v, 4);
}

int gw_kv_bool(struct gguf_writer *w, const char *key, int v)
{
    uint8_t b = v != 0;
    int rc = kv_head(w, key, GGUF_BOOL);
    return rc < 0 ? rc : meta(w, &b, 1);
}

int gw_kv_str(struct gguf_writer *w, const char *key, const char *v)
{
    int rc = kv_head(w, key, GGUF_STR);
    return rc < 0 ? rc : meta_str(w, v, strlen(v));
}

int gw_kv_arr(struct gguf_writer *w, const char *key, uint32_t elem_type, const void *data,
              uint64_t n)
{
    int rc = kv_head(w, key, GGUF_ARR);
    if (rc == 0) rc = meta(w, &elem_type, 4);
    if (rc == 0) rc = meta(w, &n, 8);
    if (rc == 0) rc = meta(w, data, (size_t)n * gguf_vtype_size(elem_type));
    return rc;
}

int gw_kv_arr_str(struct gguf_writer *w, const char *key, const char *const *strs, uint64_t n)
{
    uint32_t et = GGUF_STR;
    int rc = kv_head(w, key, GGUF_ARR);
    if (rc == 0) rc = meta(w, &et, 4);
    if (rc == 0) rc = meta(w, &n, 8);
    for (uint64_t i = 0; i < n && rc == 0; i++) rc = meta_str(w, strs[i], strlen(strs[i]));
    return rc;
}

int gw_kv_copy(struct gguf_writer *w, const struct gguf_file *f, const struct gguf_kv *kv)
{
    int rc = meta_str(w, kv->key.ptr, (size_t)kv->key.len);
    if (rc == 0) rc = meta(w, &kv->type, 4);
    const uint8_t *start = kv->type == GGUF_ARR ? kv->val - 12 : kv->val;
    if (rc == 0) rc = meta(w, start, (size_t)gguf_kv_value_size(f, kv));
    if (rc == 0) w->n_kv++;
    return rc;
}

int gw_tensor(struct gguf_writer *w, const char *name, uint32_t n_dims, const uint64_t *ne,
              uint32_t type)
{
    struct gguf_type_traits tt = gguf_type_traits(type);
    if (tt.blck == 0 || n_dims == 0 || n_dims > GGUF_MAX_DIMS || ne[0] % tt.blck)
        return LLM_ERR_ARG;
    if (w->n_t == w->t_cap) {
        uint64_t nc = w->t_cap ? w->t_cap * 2 : 64;
        struct tinfo *nt = realloc(w->t, sizeof *nt * nc);
        if (!nt) return LLM_ERR_NOMEM;
        w->t = nt;
        w->t_cap = nc;
    }
    uint64_t nel = 1;
    for (uint32_t d = 0; d < n_dims; d++) nel *= ne[d];
    uint64_t nbytes = nel / tt.blck * tt.bytes;
    uint64_t len = strlen(name);
    int rc = put(&w->tens, &w->tens_len, &w->tens_cap, &len, 8);
    if (rc == 0) rc = put(&w->tens, &w->tens_len, &w->tens_cap, name, len);
    if (rc == 0) rc = put(&w->tens, &w->tens_len, &w->tens_cap, &n_dims, 4);
    if (rc == 0) rc = put(&w->tens, &w->tens_len, &w->tens_cap, ne, 8 * (size_t)n_dims);
    if (rc == 0) rc = put(&w->tens, &w->tens_len, &w->tens_cap, &type, 4);
    if (rc == 0) rc = put(&w->tens, &w->tens_len, &w->tens_cap, &w->data_size, 8);
    if (rc < 0) return rc;
    w->t[w->n_t++].nbytes = nbytes;
    w->data_size += (nbytes + ALIGN - 1) / ALIGN * ALIGN;
    return 0;
}

static int pad_to(struct gguf_writer *w, uint64_t pos)
{
    static const uint8_t zeros[ALIGN];
    size_t pad = (size_t)((ALIGN - pos % ALIGN) % ALIGN);
    return pad && fwrite(zeros, 1, pad, w->fp) != pad ? LLM_ERR_IO : 0;
}

int gw_begin_data(struct gguf_writer *w, const char *path)
{
    size_t n = strlen(path);
    w->path = strdup(path);
    w->tmp_path = malloc(n + 5);
    if (!w->path || !w->tmp_path) return LLM_ERR_NOMEM;
    memcpy(w->tmp_path, path, n);
    memcpy(w->tmp_path + n, ".tmp", 5);
    w->fp = fopen(w->tmp_path, "wb");
    if (!w->fp) return LLM_ERR_IO;
    uint32_t version = 3;
    int ok = fwrite("GGUF", 1, 4, w->fp) == 4 && fwrite(&version, 4, 1, w->fp) == 1 &&
             fwrite(&w->n_t, 8, 1, w->fp) == 1 && fwrite(&w->n_kv, 8, 1, w->fp) == 1 &&
             fwrite(w->meta, 1, w->meta_len, w->fp) == w->meta_len &&
             fwrite(w->tens, 1, w->tens_len, w->fp) == w->tens_len;
    if (!ok || pad_to(w, 24 + w->meta_len + w->tens_len) < 0) return LLM_ERR_IO;
    return 0;
}

int gw_write_data(struct gguf_writer *w, const void *data, size_t n)
{
    if (w->cur >= w->n_t || w->cur_written + n > w->t[w->cur].nbytes) return LLM_ERR_ARG;
    if (fwrite(data, 1, n, w->fp) != n) return LLM_ERR_IO;
    w->cur_written += n;
    if (w->cur_written == w->t[w->cur].nbytes) {
        if (pad_to(w, w->cur_written) < 0) return LLM_ERR_IO;
        w->cur++;
        w->cur_written = 0;
    }
    return 0;
}

int gw_finish(struct gguf_writer *w)
{
    if (w->cur != w->n_t) return LLM_ERR_ARG;
    int rc = fclose(w->fp) == 0 ? 0 : LLM_ERR_IO;
    w->fp = NULL;
    if (rc == 0 && rename(w->tmp_path, w->path) != 0) rc = LLM_ERR_IO;
    if (rc < 0) unlink(w->tmp_path);
    return rc;
}
