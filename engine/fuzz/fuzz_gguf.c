/* libFuzzer target: any byte string through the GGUF parser, the model
 * builder and, when a model results, tokenization (plain and with special
 * tokens; SPM or BPE by the file), detokenization and two decode steps.
 * Built and run by `make fuzz` (clang -fsanitize=fuzzer,address,undefined);
 * the corpus holds SPM models and one BPE model (engine/fuzz/seeds). */
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "kllm/engine.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gguf_file *f = NULL;
    struct llm_model *m = NULL;
    char err[256];
    if (gguf_parse(data, size, &f, err, sizeof err) < 0) return 0;
    if (model_from_gguf(f, &m, err, sizeof err) < 0) return 0;
    struct llm_model_info mi;
    llm_model_get_info(m, &mi);
    {
        static const char text[] = "<|im_start|>user\nI'm 12345 \xe6\xbc\xa2 \xf0\x9f\xa6\x99"
                                   "\xff<think></s><|eot_id|>  \r\n";
        int32_t ids[64];
        char piece[256];
        for (uint32_t flags = 0; flags < 4; flags++) {
            int32_t n = llm_tokenize_ex(m, text, sizeof text - 1, flags, ids, 64);
            for (int32_t i = 0; i < n && i < 64; i++) {
                llm_token_to_piece(m, i ? ids[i - 1] : -1, ids[i], piece, sizeof piece);
                llm_token_is_eog(m, ids[i]);
            }
        }
        int32_t eog[8];
        llm_vocab_eog(m, eog, 8);
    }
    /* Keep the run cheap: skip shapes that would need large buffers. */
    if ((int64_t)mi.dim * mi.n_vocab <= (1 << 22) && mi.ffn_dim <= 4096) {
        struct llm_ctx_params cp = llm_ctx_default_params();
        cp.n_ctx = 8;
        cp.n_batch = 4;
        cp.n_threads = 1;
        struct llm_ctx *c = llm_ctx_new(m, &cp);
        int32_t toks[4], seq[4] = {0};
        int32_t n = llm_tokenize(m, "a b\xc3\xa9", 5, true, toks, 4);
        if (c && n > 0) {
            struct llm_batch b = {.n = n > 4 ? 4 : n, .tokens = toks, .seq = seq};
            if (llm_decode_batch(c, &b) == 0) {
                char piece[64];
                int32_t t = llm_argmax(llm_get_logits(c, b.n - 1), mi.n_vocab);
                llm_token_to_piece(m, toks[0], t, piece, sizeof piece);
            }
        }
        llm_ctx_free(c);
    }
    llm_model_free(m);
    return 0;
}
