/* llm_strerror and type names: the engine's status codes in words. */
#include "kllm/engine.h"

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
