/* tools: llm_gguf_inspect (describe a file); llm_make_model is in
 * make_model.c. */
#include "gguf_write.h"
#include "kllm/engine.h"
#include "quant.h"
#include "rng.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void emitf(void (*line)(void *, const char *), void *ud, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void emitf(void (*line)(void *, const char *), void *ud, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    line(ud, buf);
}

/* Printable copy of a GGUF string: control bytes escaped, long ones cut. */
static void show_str(char *dst, size_t cap, struct gguf_str s)
{
    size_t o = 0;
    for (uint64_t i = 0; i < s.len && o + 8 < cap; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        if (ch < 0x20 || ch == 0x7f)
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", ch);
        else
            dst[o++] = (char)ch;
    }
    if (o + 8 >= cap && cap > 4)
        memcpy(dst + o, "...", 4);
    else
        dst[o] = '\0';
}

static void show_value(char *dst, size_t cap, const struct gguf_kv *kv)
{
    double d;
    if (kv->type == GGUF_STR) {
        const uint8_t *p = kv->val;
        char tmp[200];
        show_str(tmp, sizeof tmp, gguf_next_str(&p));
        snprintf(dst, cap, "\"%s\"", tmp);
    } else if (kv->type == GGUF_ARR) {
        snprintf(dst, cap, "[%s x %llu]", gguf_vtype_name(kv->arr_type),
                 (unsigned long long)kv->arr_n);
    } else if (gguf_kv_scalar(kv, &d) == 0) {
        if (kv->type == GGUF_F32 || kv->type == GGUF_F64)
            snprintf(dst, cap, "%g", d);
        else if (kv->type == GGUF_BOOL)
            snprintf(dst, cap, "%s", d != 0 ? "true" : "false");
        else
            snprintf(dst, cap, "%.0f", d);
    } else {
        snprintf(dst, cap, "?");
    }
}

int llm_gguf_inspect(const char *path, void (*line)(void *ud, const char *text), void *ud,
                     char *err, size_t errlen)
{
    struct gguf_file *f = NULL;
    int rc = gguf_open(path, &f, err, errlen);
    if (rc < 0) return rc;
    emitf(line, ud,
          "file: %s (%zu bytes), GGUF v%u, %llu metadata keys, %llu tensors, alignment %u", path,
          f->size, f->version, (unsigned long long)f->n_kv, (unsigned long long)f->n_tensors,
          f->alignment);
    emitf(line, ud, "metadata:");
    for (uint64_t i = 0; i < f->n_kv; i++) {
        char key[128], val[256];
        show_str(key, sizeof key, f->kv[i].key);
        show_value(val, sizeof val, &f->kv[i]);
        emitf(line, ud, "  %-40s %-4s %s", key, gguf_vtype_name(f->kv[i].type), val);
    }
    emitf(line, ud, "tensors:");
    emitf(line, ud, "  %-32s %-6s %-24s %12s %12s", "name", "type", "shape", "offset", "bytes");
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const struct gguf_tensor *t = &f->tensors[i];
        char name[128], shape[64];
        size_t o = 0;
        show_str(name, sizeof name, t->name);
        for (uint32_t d = 0; d < t->n_dims; d++)
            o += (size_t)snprintf(shape + o, sizeof shape - o, d ? " x %llu" : "%llu",
                                  (unsigned long long)t->ne[d]);
        emitf(line, ud, "  %-32s %-6s %-24s %12llu %12llu", name, gguf_type_traits(t->type).name,
              shape, (unsigned long long)t->offset, (unsigned long long)t->nbytes);
    }
    gguf_close(f);
    return 0;
}
