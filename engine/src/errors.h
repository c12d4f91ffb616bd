/* errors: the one-line reasons the engine's loaders hand back (engine
 * internal). Any thread. */
#ifndef KLLM_ERRORS_H
#define KLLM_ERRORS_H

#include <stddef.h>

/* Formats a reason into buf (nothing when buf is NULL or len 0) and
 * returns rc, so that a failing check reads `return err_set(...)`. */
int err_set(char *buf, size_t len, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
