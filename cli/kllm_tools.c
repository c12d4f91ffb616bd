/* kllm inspect / kllm make-model. */
#include "kllm/engine.h"
#include "kllm_cli.h"

#include <stdio.h>
#include <string.h>

static void print_line(void *ud, const char *text)
{
    fputs(text, (FILE *)ud);
    fputc('\n', (FILE *)ud);
}

int cli_inspect(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            puts("usage: kllm inspect FILE   prints the GGUF header, metadata and tensor table");
            return 0;
        }
        fprintf(stderr, "usage: kllm inspect FILE\n");
        return 2;
    }
    char err[512];
    int rc = llm_gguf_inspect(argv[1], print_line, stdout, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "kllm inspect: %s\n", err);
        return 1;
    }
    /* Then try to load it as a model, and say whether the engine can run it. */
    struct llm_model *m = NULL;
    if (llm_model_load(argv[1], &m, err, sizeof err) < 0) {
        printf("model: not runnable by this engine\n");
        fprintf(stderr, "kllm inspect: %s\n", err);
        return 1;
    }
    struct llm_model_info mi;
    llm_model_get_info(m, &mi);
    printf("model: %s '%s', %llu parameters, dim %d, %d layers, %d heads (%d KV) of %d, ffn %d, "
           "rope %d/%g, context %d\n",
           mi.arch, mi.name, (unsigned long long)mi.n_params, mi.dim, mi.n_layers, mi.n_heads,
           mi.n_kv_heads, mi.head_dim, mi.ffn_dim, mi.rope_dim, (double)mi.rope_freq_base,
           mi.n_ctx_train);
    int32_t counts[64], nt = llm_model_type_counts(m, counts, 64);
    printf("tensors: %d (", nt);
    for (int32_t t = 0, first = 1; t < 64; t++) {
        if (!counts[t]) continue;
        printf("%s%s %d", first ? "" : ", ", llm_type_name(t), counts[t]);
        first = 0;
    }
    printf(")\n");
    printf("vocabulary: %s%s%s, %d tokens, BOS %d%s, EOS %d\n", llm_vocab_kind(m),
           llm_vocab_pre(m)[0] ? " pre-tokenizer " : "", llm_vocab_pre(m), mi.n_vocab, mi.bos_id,
           llm_vocab_add_bos(m) ? " (added)" : " (not added)", mi.eos_id);
    int32_t eog[32], ne = llm_vocab_eog(m, eog, 32);
    printf("end of generation:");
    for (int32_t i = 0; i < ne && i < 32; i++) {
        char piece[64];
        int32_t pl = llm_token_to_piece(m, -1, eog[i], piece, sizeof piece - 1);
        printf(" %d", eog[i]);
        (void)pl;
    }
    printf("\n");
    const char *tmpl = llm_model_chat_template(m);
    if (tmpl)
        printf("chat template: %zu bytes (the agent names its family at load; --chat-template "
               "overrides)\n",
               strlen(tmpl));
    else
        printf("chat template: none (chat needs --chat-template)\n");
    llm_model_free(m);
    return 0;
}

static const char make_usage[] =
    "usage: kllm make-model --out FILE --type TYPE --dim D --layers L --heads H --ffn F\n"
    "                       [--kv-heads K] [--arch ARCH] [--head-dim N] [--rope-base B]\n"
    "                       [--swa N] [--rope-factors] [--tied] [--vocab-from GGUF]\n"
    "                       [--seed S] [--scale STD] [--ctx N]\n"
    "Writes a GGUF of architecture ARCH (llama, qwen2, qwen3, phi3, gemma2, gemma3; default\n"
    "llama) with random N(0, STD^2) weights (default 0.02), laid out as real files of that\n"
    "family are. TYPE: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k iq4_nl\n"
    "iq4_xs, or a K-quant mix q2_k_m q3_k_s q3_k_m q3_k_l q4_k_s q4_k_m q5_k_s q5_k_m (K-quants\n"
    "need dim, ffn and heads x head-dim to be multiples of 256).\n"
    "--rope-factors: llama gets Llama 3.1 rope_freqs, phi3 LongRoPE factors. --swa: the gemma\n"
    "sliding window. --tied: no output.weight. Without --vocab-from the tokenizer is a\n"
    "259-token byte vocabulary.\n";

int cli_make_model(int argc, char **argv)
{
    struct llm_make_params p = {.type = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int64_t n;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(make_usage, stdout);
            return 0;
        }
        if (strcmp(a, "--rope-factors") == 0 || strcmp(a, "--tied") == 0) {
            *(a[2] == 'r' ? &p.rope_factors : &p.tied) = 1;
            continue;
        }
        if (!(v = cli_value("make-model", argc, argv, &i))) return 2;
        if (strcmp(a, "--out") == 0)
            p.out_path = v;
        else if (strcmp(a, "--vocab-from") == 0)
            p.vocab_from = v;
        else if (strcmp(a, "--arch") == 0)
            p.arch = v;
        else if (strcmp(a, "--rope-base") == 0) {
            if (cli_parse_f32("make-model", a, v, &p.rope_base) < 0 || p.rope_base <= 0) return 2;
        } else if (strcmp(a, "--type") == 0) {
            if ((p.type = llm_make_type(v)) < 0) {
                fprintf(stderr, "kllm make-model: unknown --type '%s' (try --help)\n", v);
                return 2;
            }
        } else if (strcmp(a, "--seed") == 0) {
            if (cli_parse_u64("make-model", a, v, &p.seed) < 0) return 2;
        } else if (strcmp(a, "--scale") == 0) {
            if (cli_parse_f32("make-model", a, v, &p.scale) < 0 || p.scale <= 0) return 2;
        } else {
            int32_t *dst = strcmp(a, "--dim") == 0        ? &p.dim
                           : strcmp(a, "--layers") == 0   ? &p.n_layers
                           : strcmp(a, "--heads") == 0    ? &p.n_heads
                           : strcmp(a, "--kv-heads") == 0 ? &p.n_kv_heads
                           : strcmp(a, "--ffn") == 0      ? &p.ffn_dim
                           : strcmp(a, "--ctx") == 0      ? &p.n_ctx
                           : strcmp(a, "--head-dim") == 0 ? &p.head_dim
                           : strcmp(a, "--swa") == 0      ? &p.n_swa
                                                          : NULL;
            if (!dst) {
                fprintf(stderr, "kllm make-model: unknown option '%s' (try --help)\n", a);
                return 2;
            }
            if (cli_parse_i64("make-model", a, v, 1, 1 << 20, &n) < 0) return 2;
            *dst = (int32_t)n;
        }
    }
    if (!p.out_path || p.type < 0 || !p.dim || !p.n_layers || !p.n_heads || !p.ffn_dim) {
        fprintf(stderr, "kllm make-model: --out, --type, --dim, --layers, --heads and --ffn are "
                        "required (try --help)\n");
        return 2;
    }
    char err[512];
    int rc = llm_make_model(&p, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "kllm make-model: %s\n", err);
        return 1;
    }
    return 0;
}
