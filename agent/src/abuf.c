/* abuf: growable byte buffer with a size cap (see abuf.h). */
#include "abuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void abuf_init(struct abuf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void abuf_deinit(struct abuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void abuf_reset(struct abuf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

static int reserve(struct abuf *b, size_t n)
{
    if (n > SIZE_MAX / 2 - b->len) return ABUF_ERR_TOO_BIG;
    if (b->max && b->len + n > b->max) return ABUF_ERR_TOO_BIG;
    size_t need = b->len + n + 1;
    if (need <= b->cap) return ABUF_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return ABUF_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return ABUF_OK;
}

int abuf_append(struct abuf *b, const void *p, size_t n)
{
    int rc = reserve(b, n);
    if (rc < 0) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return ABUF_OK;
}

int abuf_puts(struct abuf *b, const char *s)
{
    return abuf_append(b, s, strlen(s));
}

int abuf_printf(struct abuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return ABUF_ERR_NOMEM;
    int rc = reserve(b, (size_t)n);
    if (rc < 0) return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return ABUF_OK;
}

void abuf_consume(struct abuf *b, size_t n)
{
    if (n >= b->len) {
        abuf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

const char *abuf_str(const struct abuf *b)
{
    return b->data ? b->data : "";
}

char *abuf_take(struct abuf *b)
{
    char *s = b->data;
    if (!s) s = calloc(1, 1);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return s;
}
