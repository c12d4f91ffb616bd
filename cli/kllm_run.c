/* kllm run / kllm tokenize, and the option helpers the subcommands share. */
#include "kllm/engine.h"
#include "kllm_cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_parse_i64(const char *cmd, const char *flag, const char *s, int64_t min, int64_t max,
                  int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "kllm %s: invalid value '%s' for %s (expected an integer in %lld..%lld)\n",
                cmd, s, flag, (long long)min, (long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_u64(const char *cmd, const char *flag, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') {
        fprintf(stderr, "kllm %s: invalid value '%s' for %s (expected an unsigned integer)\n", cmd,
                s, flag);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_f32(const char *cmd, const char *flag, const char *s, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end || !isfinite(v)) {
        fprintf(stderr, "kllm %s: invalid value '%s' for %s (expected a number)\n", cmd, s, flag);
        return -1;
    }
    *out = v;
    return 0;
}

const char *cli_value(const char *cmd, int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "kllm %s: missing value for %s\n", cmd, argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

/* Tokenizes text (BOS first) into a malloc'd array sized to fit: the count
 * can exceed the text's length (byte fallback gives up to 4 tokens per
 * character), so a short first guess is retried at the reported size.
 * Returns the count or LLM_ERR_*; *out is freed by the caller. */
static int32_t tokenize_all(const struct llm_model *m, const char *text, int32_t **out)
{
    size_t len = strlen(text);
    int32_t cap = (int32_t)len + 16, n;
    *out = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        int32_t *t = realloc(*out, sizeof *t * (size_t)cap);
        if (!t) return LLM_ERR_NOMEM;
        *out = t;
        n = llm_tokenize(m, text, len, true, t, cap);
        if (n <= cap) return n;
        cap = n;
    }
    return LLM_ERR_NOSPACE;
}

static const char run_usage[] =
    "usage: kllm run -m FILE -p PROMPT [options]\n"
    "  -m, --model FILE       GGUF model\n"
    "  -p, --prompt TEXT      prompt (a BOS token is added)\n"
    "  -n, --n-predict N      tokens to generate (default 64)\n"
    "  --temp T               temperature; 0 is greedy (default 0.8)\n"
    "  --top-k K --top-p P --min-p P --repeat-penalty R   sampling (defaults 40, 0.95, 0.05, 1.0)\n"
    "  --seed S               random seed (default 0)\n"
    "  -t, --threads N        threads (default: all cores)\n"
    "  -c, --ctx-size N       context size (default: model's, at most 4096)\n"
    "  --ids                  print generated token ids instead of text\n";

struct run_opts {
    const char *model, *prompt;
    int64_t n_predict, threads, ctx;
    int ids;
    struct llm_sampler_params sp;
};

static int parse_run(int argc, char **argv, struct run_opts *o)
{
    o->sp = llm_sampler_default_params();
    o->n_predict = 64;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int64_t n;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(run_usage, stdout);
            exit(0);
        } else if (strcmp(a, "--ids") == 0) {
            o->ids = 1;
            continue;
        }
        if (!(v = cli_value("run", argc, argv, &i))) return -1;
        if (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0)
            o->model = v;
        else if (strcmp(a, "-p") == 0 || strcmp(a, "--prompt") == 0)
            o->prompt = v;
        else if (strcmp(a, "-n") == 0 || strcmp(a, "--n-predict") == 0) {
            if (cli_parse_i64("run", a, v, 0, 1 << 20, &o->n_predict) < 0) return -1;
        } else if (strcmp(a, "-t") == 0 || strcmp(a, "--threads") == 0) {
            if (cli_parse_i64("run", a, v, 1, 1024, &o->threads) < 0) return -1;
        } else if (strcmp(a, "-c") == 0 || strcmp(a, "--ctx-size") == 0) {
            if (cli_parse_i64("run", a, v, 1, 1 << 20, &o->ctx) < 0) return -1;
        } else if (strcmp(a, "--temp") == 0) {
            if (cli_parse_f32("run", a, v, &o->sp.temperature) < 0) return -1;
        } else if (strcmp(a, "--top-k") == 0) {
            if (cli_parse_i64("run", a, v, 0, 1 << 24, &n) < 0) return -1;
            o->sp.top_k = (int32_t)n;
        } else if (strcmp(a, "--top-p") == 0) {
            if (cli_parse_f32("run", a, v, &o->sp.top_p) < 0) return -1;
        } else if (strcmp(a, "--min-p") == 0) {
            if (cli_parse_f32("run", a, v, &o->sp.min_p) < 0) return -1;
        } else if (strcmp(a, "--repeat-penalty") == 0) {
            if (cli_parse_f32("run", a, v, &o->sp.repeat_penalty) < 0) return -1;
        } else if (strcmp(a, "--seed") == 0) {
            if (cli_parse_u64("run", a, v, &o->sp.seed) < 0) return -1;
        } else {
            fprintf(stderr, "kllm run: unknown option '%s' (try --help)\n", a);
            return -1;
        }
    }
    if (!o->model || !o->prompt) {
        fprintf(stderr, "kllm run: -m FILE and -p PROMPT are required (try --help)\n");
        return -1;
    }
    return 0;
}

int cli_run(int argc, char **argv)
{
    struct run_opts o = {0};
    struct llm_model *m = NULL;
    struct llm_ctx *c = NULL;
    struct llm_sampler *s = NULL;
    int32_t *toks = NULL, *seqs = NULL;
    int rc = 1;
    char err[512];

    if (parse_run(argc, argv, &o) < 0) return 2;
    if (llm_model_load(o.model, &m, err, sizeof err) < 0) {
        fprintf(stderr, "kllm run: %s\n", err);
        goto out;
    }
    int32_t n = tokenize_all(m, o.prompt, &toks);
    if (n < 0) {
        fprintf(stderr, "kllm run: tokenize: %s\n", llm_strerror(n));
        goto out;
    }
    seqs = calloc((size_t)n, sizeof *seqs);
    if (!seqs) goto out;
    struct llm_ctx_params cp = llm_ctx_default_params();
    cp.n_threads = (int32_t)o.threads;
    cp.n_ctx = (int32_t)o.ctx;
    cp.n_batch = n > 0 ? n : 1;
    c = llm_ctx_new(m, &cp);
    s = llm_sampler_new(&o.sp, llm_model_n_vocab(m));
    if (!c || !s) {
        fprintf(stderr, "kllm run: cannot allocate a context of %lld positions\n",
                (long long)o.ctx);
        goto out;
    }
    if (n + o.n_predict > llm_ctx_n_ctx(c)) {
        fprintf(stderr, "kllm run: prompt (%d tokens) + %lld new tokens exceed the context (%d)\n",
                n, (long long)o.n_predict, llm_ctx_n_ctx(c));
        goto out;
    }
    for (int32_t i = 0; i < n; i++) llm_sampler_accept(s, toks[i]);
    struct llm_batch b = {.n = n, .tokens = toks, .seq = seqs, .logits = NULL};
    int32_t prev = toks[n - 1];
    for (int64_t step = 0; step < o.n_predict; step++) {
        int e = llm_decode_batch(c, &b);
        if (e < 0) {
            fprintf(stderr, "\nkllm run: decode: %s\n", llm_strerror(e));
            goto out;
        }
        int32_t tok = llm_sampler_sample(s, llm_get_logits(c, b.n - 1));
        llm_sampler_accept(s, tok);
        if (o.ids) {
            printf(step ? " %d" : "%d", tok);
        } else {
            char piece[256];
            int32_t len = llm_token_to_piece(m, prev, tok, piece, sizeof piece);
            if (len > 0) fwrite(piece, 1, (size_t)len, stdout);
        }
        fflush(stdout);
        if (llm_token_is_eog(m, tok)) break;
        prev = tok;
        toks[0] = tok;
        b.n = 1;
    }
    putchar('\n');
    rc = 0;
out:
    llm_sampler_free(s);
    llm_ctx_free(c);
    llm_model_free(m);
    free(toks);
    free(seqs);
    return rc;
}

int cli_tokenize(int argc, char **argv)
{
    const char *model = NULL, *text = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            puts("usage: kllm tokenize -m FILE -p TEXT   prints token ids (BOS first)");
            return 0;
        }
        if (!(v = cli_value("tokenize", argc, argv, &i))) return 2;
        if (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0)
            model = v;
        else if (strcmp(a, "-p") == 0 || strcmp(a, "--prompt") == 0)
            text = v;
        else {
            fprintf(stderr, "kllm tokenize: unknown option '%s'\n", a);
            return 2;
        }
    }
    if (!model || !text) {
        fprintf(stderr, "kllm tokenize: -m FILE and -p TEXT are required\n");
        return 2;
    }
    struct llm_model *m = NULL;
    char err[512];
    if (llm_model_load(model, &m, err, sizeof err) < 0) {
        fprintf(stderr, "kllm tokenize: %s\n", err);
        return 1;
    }
    int32_t *ids = NULL;
    int32_t n = tokenize_all(m, text, &ids);
    if (n < 0) {
        fprintf(stderr, "kllm tokenize: %s\n", llm_strerror(n));
    } else {
        for (int32_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        putchar('\n');
    }
    free(ids);
    llm_model_free(m);
    return n < 0 ? 1 : 0;
}
