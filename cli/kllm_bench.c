/* kllm bench: prompt processing (ppN), generation (tgN) and batched
 * generation (tgN@bB, aggregate over B sequences) speed, medians of -r runs,
 * plus peak resident memory. Token ids are synthetic (no tokenizer cost). */
#include "kllm/engine.h"
#include "kllm_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Decodes n_gen steps of n_seq sequences (one token each per step) after a
 * one-token prompt; returns tokens/s over the generation steps. */
static int run_gen(struct llm_ctx *c, int32_t n_vocab, int32_t n_seq, int32_t n_gen, double *tps)
{
    int32_t toks[256], seq[256];
    int8_t want[256];
    for (int32_t s = 0; s < n_seq; s++) {
        llm_seq_reset(c, s);
        toks[s] = 1;
        seq[s] = s;
        want[s] = 1;
    }
    struct llm_batch b = {.n = n_seq, .tokens = toks, .seq = seq, .logits = want};
    int rc = llm_decode_batch(c, &b);
    double t0 = now_s();
    for (int32_t i = 0; i < n_gen && rc == 0; i++) {
        for (int32_t s = 0; s < n_seq; s++) toks[s] = llm_argmax(llm_get_logits(c, s), n_vocab);
        rc = llm_decode_batch(c, &b);
    }
    *tps = (double)n_gen * n_seq / (now_s() - t0);
    return rc;
}

static int run_prompt(struct llm_ctx *c, int32_t n_vocab, int32_t n, double *tps)
{
    int32_t *toks = malloc(sizeof *toks * (size_t)n), *seq = calloc((size_t)n, sizeof *seq);
    int rc = LLM_ERR_NOMEM;
    if (toks && seq) {
        for (int32_t i = 0; i < n; i++)
            toks[i] = 1 + (int32_t)((i * 7919u) % (uint32_t)(n_vocab - 1));
        llm_seq_reset(c, 0);
        struct llm_batch b = {.n = n, .tokens = toks, .seq = seq};
        double t0 = now_s();
        rc = llm_decode_batch(c, &b);
        *tps = (double)n / (now_s() - t0);
    }
    free(toks);
    free(seq);
    return rc;
}

static const char bench_usage[] =
    "usage: kllm bench -m FILE [-t THREADS] [-p 128] [-n 128] [-b 1,4,8] [-r 3]\n"
    "prints ppP <t/s>, tgN <t/s>, tgN@bB <aggregate t/s> (medians of -r runs) and peak RSS\n";

int cli_bench(int argc, char **argv)
{
    const char *model = NULL, *batches = "1";
    int64_t threads = 0, n_prompt = 128, n_gen = 128, reps = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(bench_usage, stdout);
            return 0;
        }
        if (!(v = cli_value("bench", argc, argv, &i))) return 2;
        if (strcmp(a, "-m") == 0)
            model = v;
        else if (strcmp(a, "-b") == 0)
            batches = v;
        else if (strcmp(a, "-t") == 0) {
            if (cli_parse_i64("bench", a, v, 1, 1024, &threads) < 0) return 2;
        } else if (strcmp(a, "-p") == 0) {
            if (cli_parse_i64("bench", a, v, 0, 8192, &n_prompt) < 0) return 2;
        } else if (strcmp(a, "-n") == 0) {
            if (cli_parse_i64("bench", a, v, 0, 8192, &n_gen) < 0) return 2;
        } else if (strcmp(a, "-r") == 0) {
            if (cli_parse_i64("bench", a, v, 1, 100, &reps) < 0) return 2;
        } else {
            fprintf(stderr, "kllm bench: unknown option '%s'\n", a);
            return 2;
        }
    }
    if (!model) {
        fprintf(stderr, "kllm bench: -m FILE is required\n");
        return 2;
    }
    int32_t bs[16], nb = 0;
    for (const char *p = batches; *p && nb < 16;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 256 || (*end && *end != ',')) {
            fprintf(stderr, "kllm bench: invalid -b '%s' (comma-separated sizes 1..256)\n",
                    batches);
            return 2;
        }
        bs[nb++] = (int32_t)v;
        p = *end ? end + 1 : end;
    }
    struct llm_model *m = NULL;
    char err[512];
    if (llm_model_load(model, &m, err, sizeof err) < 0) {
        fprintf(stderr, "kllm bench: %s\n", err);
        return 1;
    }
    int32_t max_b = 1;
    for (int i = 0; i < nb; i++) max_b = bs[i] > max_b ? bs[i] : max_b;
    struct llm_ctx_params cp = llm_ctx_default_params();
    cp.n_threads = (int32_t)threads;
    cp.n_seq = max_b;
    cp.n_batch = (int32_t)(n_prompt > max_b ? n_prompt : max_b);
    cp.n_ctx = (int32_t)(n_prompt > n_gen + 1 ? n_prompt : n_gen + 1);
    struct llm_ctx *c = llm_ctx_new(m, &cp);
    int rc = 1;
    if (!c) {
        fprintf(stderr, "kllm bench: cannot allocate the context\n");
        goto out;
    }
    struct llm_model_info mi;
    llm_model_get_info(m, &mi);
    printf("model %s: %s, %.1f M params, %.1f MiB\n", model, llm_type_name(mi.weight_type),
           (double)mi.n_params / 1e6, (double)mi.file_size / 1048576.0);
    double v[100];
    int32_t nv = llm_model_n_vocab(m);
    if (n_prompt > 0) {
        run_prompt(c, nv, (int32_t)n_prompt, &v[0]); /* warm-up: page in the weights */
        for (int r = 0; r < reps; r++) {
            if (run_prompt(c, nv, (int32_t)n_prompt, &v[r]) < 0) goto out;
        }
        printf("pp%lld %.2f\n", (long long)n_prompt, median(v, (int)reps));
    }
    for (int i = 0; i < nb && n_gen > 0; i++) {
        for (int r = 0; r < reps; r++) {
            if (run_gen(c, nv, bs[i], (int32_t)n_gen, &v[r]) < 0) goto out;
        }
        if (bs[i] == 1)
            printf("tg%lld %.2f\n", (long long)n_gen, median(v, (int)reps));
        else
            printf("tg%lld@b%d %.2f\n", (long long)n_gen, bs[i], median(v, (int)reps));
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak_rss_mib %.1f\n", (double)ru.ru_maxrss / 1024.0);
    rc = 0;
out:
    llm_ctx_free(c);
    llm_model_free(m);
    return rc;
}
