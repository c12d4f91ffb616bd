/* gguf: parse and validate a GGUF image (see gguf.h for the layout). */
#include "gguf.h"
#include "kllm/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAGIC "GGUF"
#define GGUF_DEFAULT_ALIGNMENT 32u

/* A reading cursor over [p, end). Every read checks the remaining length. */
struct cursor {
    const uint8_t *p;
    const uint8_t *end;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static size_t remaining(const struct cursor *c)
{
    return (size_t)(c->end - c->p);
}

static int rd(struct cursor *c, void *dst, size_t n)
{
    if (remaining(c) < n) return -1;
    memcpy(dst, c->p, n);
    c->p += n;
    return 0;
}

static int rd_str(struct cursor *c, struct gguf_str *s)
{
    uint64_t len;
    if (rd(c, &len, 8) < 0 || len > remaining(c)) return -1;
    s->ptr = (const char *)c->p;
    s->len = len;
    c->p += len;
    return 0;
}

struct gguf_str gguf_next_str(const uint8_t **p)
{
    struct gguf_str s;
    memcpy(&s.len, *p, 8);
    s.ptr = (const char *)*p + 8;
    *p += 8 + s.len;
    return s;
}

size_t gguf_vtype_size(uint32_t t)
{
    static const size_t sizes[GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < GGUF_VTYPE_COUNT ? sizes[t] : 0;
}

const char *gguf_vtype_name(uint32_t t)
{
    static const char *const names[GGUF_VTYPE_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"};
    return t < GGUF_VTYPE_COUNT ? names[t] : "?";
}

struct gguf_type_traits gguf_type_traits(uint32_t type)
{
    /* ggml type ids; we compute with a few and can describe the rest. */
    switch (type) {
    case 0: return (struct gguf_type_traits){1, 4, "f32"};
    case 1: return (struct gguf_type_traits){1, 2, "f16"};
    case 2: return (struct gguf_type_traits){32, 18, "q4_0"};
    case 3: return (struct gguf_type_traits){32, 20, "q4_1"};
    case 6: return (struct gguf_type_traits){32, 22, "q5_0"};
    case 7: return (struct gguf_type_traits){32, 24, "q5_1"};
    case 8: return (struct gguf_type_traits){32, 34, "q8_0"};
    case 9: return (struct gguf_type_traits){32, 36, "q8_1"};
    case 10: return (struct gguf_type_traits){256, 84, "q2_K"};
    case 11: return (struct gguf_type_traits){256, 110, "q3_K"};
    case 12: return (struct gguf_type_traits){256, 144, "q4_K"};
    case 13: return (struct gguf_type_traits){256, 176, "q5_K"};
    case 14: return (struct gguf_type_traits){256, 210, "q6_K"};
    case 15: return (struct gguf_type_traits){256, 292, "q8_K"};
    case 20: return (struct gguf_type_traits){32, 18, "iq4_nl"};
    case 23: return (struct gguf_type_traits){256, 136, "iq4_xs"};
    case 24: return (struct gguf_type_traits){1, 1, "i8"};
    case 25: return (struct gguf_type_traits){1, 2, "i16"};
    case 26: return (struct gguf_type_traits){1, 4, "i32"};
    case 27: return (struct gguf_type_traits){1, 8, "i64"};
    case 28: return (struct gguf_type_traits){1, 8, "f64"};
    case 30: return (struct gguf_type_traits){1, 2, "bf16"};
    default: return (struct gguf_type_traits){0, 0, "unknown"};
    }
}

/* Skips one value of type t (validating string lengths). depth guards
 * against arrays of arrays nested without end. */
static int skip_value(struct cursor *c, uint32_t t, struct gguf_kv *kv, int depth)
{
    if (t == GGUF_STR) {
        struct gguf_str s;
        return rd_str(c, &s);
    }
    if (t == GGUF_ARR) {
        uint32_t at;
        uint64_t n;
        if (depth > 0) return -1; /* nested arrays: not used by any model format we read */
        if (rd(c, &at, 4) < 0 || rd(c, &n, 8) < 0) return -1;
        if (at >= GGUF_VTYPE_COUNT || at == GGUF_ARR) return -1;
        if (kv) {
            kv->arr_type = at;
            kv->arr_n = n;
            kv->val = c->p;
        }
        if (at == GGUF_STR) {
            if (n > remaining(c) / 8) return -1;
            for (uint64_t i = 0; i < n; i++) {
                struct gguf_str s;
                if (rd_str(c, &s) < 0) return -1;
            }
            return 0;
        }
        size_t es = gguf_vtype_size(at);
        if (n > remaining(c) / es) return -1;
        c->p += n * es;
        return 0;
    }
    size_t sz = gguf_vtype_size(t);
    if (sz == 0 || remaining(c) < sz) return -1;
    c->p += sz;
    return 0;
}

uint64_t gguf_kv_value_size(const struct gguf_file *f, const struct gguf_kv *kv)
{
    /* Re-walk the (already validated) value. */
    struct cursor c = {kv->val, f->base + f->size};
    if (kv->type == GGUF_ARR) c.p -= 12; /* arr type + count precede the elements */
    const uint8_t *start = c.p;
    skip_value(&c, kv->type, NULL, 0);
    return (uint64_t)(c.p - start);
}

int gguf_str_eq(struct gguf_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && memcmp(s.ptr, c, n) == 0;
}

static int str_eq2(struct gguf_str a, struct gguf_str b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* Hostile files could repeat keys or tensor names; reject like llama.cpp.
 * Quadratic, but only over the (validated, bounded) counts. */
static int find_dup_kv(const struct gguf_kv *kv, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        if (str_eq2(kv[i].key, kv[n].key)) return 1;
    }
    return 0;
}

static int parse_kvs(struct cursor *c, struct gguf_file *f, char *err, size_t errlen)
{
    for (uint64_t i = 0; i < f->n_kv; i++) {
        struct gguf_kv *kv = &f->kv[i];
        if (rd_str(c, &kv->key) < 0 || rd(c, &kv->type, 4) < 0) {
            set_err(err, errlen, "truncated metadata entry %llu", (unsigned long long)i);
            return LLM_ERR_FORMAT;
        }
        if (kv->type >= GGUF_VTYPE_COUNT) {
            set_err(err, errlen, "metadata key '%.*s' has bad value type %u",
                    (int)(kv->key.len > 64 ? 64 : kv->key.len), kv->key.ptr, kv->type);
            return LLM_ERR_FORMAT;
        }
        kv->val = c->p;
        if (skip_value(c, kv->type, kv, 0) < 0) {
            set_err(err, errlen, "metadata key '%.*s': value runs past the end of the file",
                    (int)(kv->key.len > 64 ? 64 : kv->key.len), kv->key.ptr);
            return LLM_ERR_FORMAT;
        }
        if (find_dup_kv(f->kv, i)) {
            set_err(err, errlen, "duplicate metadata key '%.*s'",
                    (int)(kv->key.len > 64 ? 64 : kv->key.len), kv->key.ptr);
            return LLM_ERR_FORMAT;
        }
    }
    return 0;
}

static int parse_tensor_info(struct cursor *c, struct gguf_tensor *t, char *err, size_t errlen)
{
    if (rd_str(c, &t->name) < 0 || rd(c, &t->n_dims, 4) < 0) goto trunc;
    if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS) {
        set_err(err, errlen, "tensor '%.*s' has %u dimensions (1..4 allowed)",
                (int)(t->name.len > 64 ? 64 : t->name.len), t->name.ptr, t->n_dims);
        return LLM_ERR_FORMAT;
    }
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if (rd(c, &t->ne[d], 8) < 0) goto trunc;
    }
    if (rd(c, &t->type, 4) < 0 || rd(c, &t->offset, 8) < 0) goto trunc;
    return 0;
trunc:
    set_err(err, errlen, "truncated tensor info");
    return LLM_ERR_FORMAT;
}

/* Checks shape, type and extent of a tensor against the data section. */
static int check_tensor(const struct gguf_file *f, struct gguf_tensor *t, char *err, size_t errlen)
{
    int nl = (int)(t->name.len > 64 ? 64 : t->name.len);
    uint64_t nel = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        /* Each dim and the product stay below 2^62 so byte counts cannot overflow. */
        if (t->ne[d] == 0 || t->ne[d] > (1ull << 62) / nel) {
            set_err(err, errlen, "tensor '%.*s' has an invalid shape", nl, t->name.ptr);
            return LLM_ERR_FORMAT;
        }
        nel *= t->ne[d];
    }
    struct gguf_type_traits tt = gguf_type_traits(t->type);
    if (tt.blck == 0) {
        set_err(err, errlen, "tensor '%.*s' has unknown type id %u", nl, t->name.ptr, t->type);
        return LLM_ERR_FORMAT;
    }
    if (t->ne[0] % tt.blck != 0) {
        set_err(err, errlen,
                "tensor '%.*s': row length %llu is not a multiple of the %s block (%u)", nl,
                t->name.ptr, (unsigned long long)t->ne[0], tt.name, tt.blck);
        return LLM_ERR_FORMAT;
    }
    t->nbytes = nel / tt.blck * tt.bytes;
    if (t->offset % f->alignment != 0) {
        set_err(err, errlen, "tensor '%.*s' offset %llu is not aligned to %u", nl, t->name.ptr,
                (unsigned long long)t->offset, f->alignment);
        return LLM_ERR_FORMAT;
    }
    size_t avail = f->size - f->data_off;
    if (t->offset > avail || t->nbytes > avail - t->offset) {
        set_err(err, errlen, "tensor '%.*s' (%llu bytes at %llu) runs past the end of the file", nl,
                t->name.ptr, (unsigned long long)t->nbytes, (unsigned long long)t->offset);
        return LLM_ERR_FORMAT;
    }
    t->data = f->base + f->data_off + t->offset;
    return 0;
}

int gguf_parse(const void *buf, size_t size, struct gguf_file **out, char *err, size_t errlen)
{
    int rc = LLM_ERR_FORMAT;
    struct gguf_file *f = NULL;
    struct cursor c = {buf, (const uint8_t *)buf + size};
    char magic[4];

    *out = NULL;
    if (rd(&c, magic, 4) < 0 || memcmp(magic, GGUF_MAGIC, 4) != 0) {
        set_err(err, errlen, "not a GGUF file (bad magic)");
        goto out;
    }
    f = calloc(1, sizeof *f);
    if (!f) {
        rc = LLM_ERR_NOMEM;
        goto out;
    }
    f->base = buf;
    f->size = size;
    if (rd(&c, &f->version, 4) < 0 || rd(&c, &f->n_tensors, 8) < 0 || rd(&c, &f->n_kv, 8) < 0) {
        set_err(err, errlen, "truncated GGUF header");
        goto out;
    }
    if (f->version != 2 && f->version != 3) {
        set_err(err, errlen, "GGUF version %u is not supported (2 and 3 are)", f->version);
        rc = f->version == 1 ? LLM_ERR_UNSUPPORTED : LLM_ERR_FORMAT;
        goto out;
    }
    /* Each entry needs at least 12 (kv) or 32 (tensor) bytes: a bound on
     * the counts before anything is allocated from them. */
    if (f->n_kv > remaining(&c) / 12 || f->n_tensors > remaining(&c) / 32) {
        set_err(err, errlen, "header counts (%llu keys, %llu tensors) exceed the file size",
                (unsigned long long)f->n_kv, (unsigned long long)f->n_tensors);
        goto out;
    }
    f->kv = calloc(f->n_kv ? f->n_kv : 1, sizeof *f->kv);
    f->tensors = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *f->tensors);
    if (!f->kv || !f->tensors) {
        rc = LLM_ERR_NOMEM;
        goto out;
    }
    rc = parse_kvs(&c, f, err, errlen);
    if (rc < 0) goto out;

    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    const struct gguf_kv *al = gguf_find(f, "general.alignment");
    if (al) {
        uint32_t a = 0;
        if (al->type == GGUF_U32) memcpy(&a, al->val, 4);
        if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 20)) {
            set_err(err, errlen, "general.alignment must be a power of two u32");
            rc = LLM_ERR_FORMAT;
            goto out;
        }
        f->alignment = a;
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        rc = parse_tensor_info(&c, &f->tensors[i], err, errlen);
        if (rc < 0) goto out;
        for (uint64_t j = 0; j < i; j++) {
            if (str_eq2(f->tensors[j].name, f->tensors[i].name)) {
                set_err(err, errlen, "duplicate tensor name '%.*s'",
                        (int)(f->tensors[i].name.len > 64 ? 64 : f->tensors[i].name.len),
                        f->tensors[i].name.ptr);
                rc = LLM_ERR_FORMAT;
                goto out;
            }
        }
    }
    size_t hdr = (size_t)(c.p - (const uint8_t *)buf);
    size_t pad = (f->alignment - hdr % f->alignment) % f->alignment;
    if (f->n_tensors > 0 && pad > remaining(&c)) {
        set_err(err, errlen, "truncated before the tensor data");
        rc = LLM_ERR_FORMAT;
        goto out;
    }
    f->data_off = hdr + (pad > remaining(&c) ? remaining(&c) : pad);
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        rc = check_tensor(f, &f->tensors[i], err, errlen);
        if (rc < 0) goto out;
    }
    *out = f;
    f = NULL;
    rc = 0;
out:
    gguf_close(f);
    return rc;
}

int gguf_open(const char *path, struct gguf_file **out, char *err, size_t errlen)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        return LLM_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        set_err(err, errlen, "%s: not a regular file", path);
        close(fd);
        return LLM_ERR_IO;
    }
    if (st.st_size < 24) {
        close(fd);
        set_err(err, errlen, "%s: not a GGUF file (only %lld bytes)", path, (long long)st.st_size);
        return LLM_ERR_FORMAT;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        set_err(err, errlen, "%s: mmap: %s", path, strerror(errno));
        return LLM_ERR_IO;
    }
    /* Best effort: read ahead (the whole model is used every token) and
     * allow huge pages where the kernel supports them for file mappings. */
    madvise(map, (size_t)st.st_size, MADV_WILLNEED);
#ifdef MADV_HUGEPAGE
    madvise(map, (size_t)st.st_size, MADV_HUGEPAGE);
#endif
    char why[200];
    int rc = gguf_parse(map, (size_t)st.st_size, out, why, sizeof why);
    if (rc < 0) {
        set_err(err, errlen, "%s: %s", path, why);
        munmap(map, (size_t)st.st_size);
        return rc;
    }
    (*out)->map = map;
    return 0;
}

void gguf_close(struct gguf_file *f)
{
    if (!f) return;
    if (f->map) munmap(f->map, f->size);
    free(f->kv);
    free(f->tensors);
    free(f);
}

const struct gguf_kv *gguf_find(const struct gguf_file *f, const char *key)
{
    for (uint64_t i = 0; i < f->n_kv; i++) {
        if (gguf_str_eq(f->kv[i].key, key)) return &f->kv[i];
    }
    return NULL;
}

const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *f, const char *name)
{
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        if (gguf_str_eq(f->tensors[i].name, name)) return &f->tensors[i];
    }
    return NULL;
}

int gguf_kv_scalar(const struct gguf_kv *kv, double *out)
{
    const uint8_t *v = kv->val;
    union {
        uint8_t u8;
        int8_t i8;
        uint16_t u16;
        int16_t i16;
        uint32_t u32;
        int32_t i32;
        float f32;
        uint64_t u64;
        int64_t i64;
        double f64;
    } u;
    size_t sz = gguf_vtype_size(kv->type);
    if (kv->type == GGUF_STR || kv->type == GGUF_ARR || sz == 0) return LLM_ERR_FORMAT;
    memcpy(&u, v, sz);
    switch (kv->type) {
    case GGUF_U8: *out = u.u8; break;
    case GGUF_I8: *out = u.i8; break;
    case GGUF_U16: *out = u.u16; break;
    case GGUF_I16: *out = u.i16; break;
    case GGUF_U32: *out = u.u32; break;
    case GGUF_I32: *out = u.i32; break;
    case GGUF_F32: *out = u.f32; break;
    case GGUF_BOOL: *out = u.u8 != 0; break;
    case GGUF_U64: *out = (double)u.u64; break;
    case GGUF_I64: *out = (double)u.i64; break;
    case GGUF_F64: *out = u.f64; break;
    default: return LLM_ERR_FORMAT;
    }
    return 0;
}

int gguf_get_u32(const struct gguf_file *f, const char *key, uint32_t *out)
{
    const struct gguf_kv *kv = gguf_find(f, key);
    double d;
    if (!kv || kv->type == GGUF_F32 || kv->type == GGUF_F64 || gguf_kv_scalar(kv, &d) < 0)
        return LLM_ERR_FORMAT;
    if (d < 0 || d > 4294967295.0) return LLM_ERR_FORMAT;
    *out = (uint32_t)d;
    return 0;
}

int gguf_get_f32(const struct gguf_file *f, const char *key, float *out)
{
    const struct gguf_kv *kv = gguf_find(f, key);
    double d;
    if (!kv || gguf_kv_scalar(kv, &d) < 0) return LLM_ERR_FORMAT;
    *out = (float)d;
    return 0;
}

int gguf_get_bool(const struct gguf_file *f, const char *key, int *out)
{
    const struct gguf_kv *kv = gguf_find(f, key);
    double d;
    if (!kv || gguf_kv_scalar(kv, &d) < 0) return LLM_ERR_FORMAT;
    *out = d != 0;
    return 0;
}

int gguf_get_str(const struct gguf_file *f, const char *key, struct gguf_str *out)
{
    const struct gguf_kv *kv = gguf_find(f, key);
    if (!kv || kv->type != GGUF_STR) return LLM_ERR_FORMAT;
    const uint8_t *p = kv->val;
    *out = gguf_next_str(&p);
    return 0;
}
