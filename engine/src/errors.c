/* errors: llm_strerror (the status codes in words) and err_set (errors.h). */
#include "errors.h"
#include "kllm/engine.h"

#include <stdarg.h>
#include <stdio.h>

int err_set(char *buf, size_t len, int rc, const char *fmt, ...)
{
    if (buf && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

const char *llm_strerror(int err)
{
    switch (err) {
    case LLM_OK: return "ok";
    case LLM_ERR_IO: return "I/O error";
    case LLM_ERR_FORMAT: return "invalid or corrupt GGUF file";
    case LLM_ERR_UNSUPPORTED: return "unsupported model";
    case LLM_ERR_NOMEM: return "out of memory";
    case LLM_ERR_ARG: return "invalid argument";
    case LLM_ERR_CTX_FULL: return "context full";
    case LLM_ERR_NOSPACE: return "buffer too small";
    default: return "unknown error";
    }
}
