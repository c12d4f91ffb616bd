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
    printf("model: %s '%s', %llu parameters, vocab %d, dim %d, %d layers, %d heads (%d KV), "
           "ffn %d, rope %d/%g, context %d, weights %s\n",
           mi.arch, mi.name, (unsigned long long)mi.n_params, mi.n_vocab, mi.dim, mi.n_layers,
           mi.n_heads, mi.n_kv_heads, mi.ffn_dim, mi.rope_dim, (double)mi.rope_freq_base,
           mi.n_ctx_train, llm_type_name(mi.weight_type));
    llm_model_free(m);
    return 0;
}

static const char make_usage[] =
    "usage: kllm make-model --out FILE --type f32|f16|bf16|q8_0|q4_0 --dim D --layers L --heads H\n"
    "                       [--kv-heads K] --ffn F [--vocab-from GGUF] [--seed S] [--scale STD]\n"
    "                       [--ctx N]\n"
    "Writes a LLaMA-shaped GGUF with random N(0, STD^2) weights (default 0.02) and norms of 1.\n"
    "Without --vocab-from the tokenizer is a 259-token byte vocabulary.\n";

static int parse_type(const char *s, int32_t *out)
{
    static const struct {
        const char *n;
        int32_t t;
    } types[] = {{"f32", LLM_TYPE_F32},
                 {"f16", LLM_TYPE_F16},
                 {"bf16", LLM_TYPE_BF16},
                 {"q8_0", LLM_TYPE_Q8_0},
                 {"q4_0", LLM_TYPE_Q4_0}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(s, types[i].n) == 0) {
            *out = types[i].t;
            return 0;
        }
    }
    fprintf(stderr, "kllm make-model: unknown --type '%s' (f32, f16, bf16, q8_0, q4_0)\n", s);
    return -1;
}

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
        if (!(v = cli_value("make-model", argc, argv, &i))) return 2;
        if (strcmp(a, "--out") == 0)
            p.out_path = v;
        else if (strcmp(a, "--vocab-from") == 0)
            p.vocab_from = v;
        else if (strcmp(a, "--type") == 0) {
            if (parse_type(v, &p.type) < 0) return 2;
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
