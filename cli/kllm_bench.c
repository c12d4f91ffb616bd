/* kllm bench: prompt processing (ppN), generation (tgN) and batched
 * generation (tgN@bB, aggregate over B sequences) speed, medians of -r runs,
 * plus peak resident memory. Token ids are synthetic (no tokenizer cost).
 * kllm bench --membw: the memory read bandwidth decode is bound by. */
#include "kllm/engine.h"
#include "kllm_cli.h"

#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

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

/* ---- memory read bandwidth: T threads each summing its share of a
 * buffer far larger than the caches; best of 5 passes ---- */
struct bw_part {
    const uint64_t *p;
    size_t n;
    uint64_t sum;
};

static void *bw_read(void *arg)
{
    struct bw_part *w = arg;
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (size_t i = 0; i + 4 <= w->n; i += 4) {
        a += w->p[i];
        b += w->p[i + 1];
        c += w->p[i + 2];
        d += w->p[i + 3];
    }
    w->sum = a + b + c + d;
    return NULL;
}

/* The same with 32-byte loads, where the CPU has them (the kernels' loads). */
__attribute__((target("avx2"))) static void *bw_read_avx2(void *arg)
{
    struct bw_part *w = arg;
    const __m256i *v = (const __m256i *)(const void *)w->p;
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    for (size_t i = 0; i + 16 <= w->n; i += 16, v += 4) {
        a = _mm256_add_epi64(a, _mm256_loadu_si256(v));
        b = _mm256_add_epi64(b, _mm256_loadu_si256(v + 1));
        c = _mm256_add_epi64(c, _mm256_loadu_si256(v + 2));
        d = _mm256_add_epi64(d, _mm256_loadu_si256(v + 3));
    }
    a = _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d));
    uint64_t l[4];
    _mm256_storeu_si256((__m256i *)(void *)l, a);
    w->sum = l[0] + l[1] + l[2] + l[3];
    return NULL;
}

static volatile uint64_t bw_sink; /* the sums, so that no pass is optimized away */

static int membw(int64_t threads, int64_t mib)
{
    size_t n = (size_t)mib << 17; /* uint64 per MiB: 2^17 */
    uint64_t *buf = malloc(n * sizeof *buf);
    if (!buf) {
        fprintf(stderr, "kllm bench: cannot allocate %lld MiB\n", (long long)mib);
        return 1;
    }
    for (size_t i = 0; i < n; i++) buf[i] = i; /* pages in, and not all zero */
    const int avx2 = __builtin_cpu_supports("avx2");
    struct bw_part parts[64];
    pthread_t th[64];
    double best = 0.0;
    uint64_t check = 0;
    for (int pass = 0; pass < 5; pass++) {
        double t0 = now_s();
        size_t per = n / (size_t)threads;
        for (int64_t t = 0; t < threads; t++) {
            parts[t] = (struct bw_part){buf + (size_t)t * per, per, 0};
            pthread_create(&th[t], NULL, avx2 ? bw_read_avx2 : bw_read, &parts[t]);
        }
        for (int64_t t = 0; t < threads; t++) {
            pthread_join(th[t], NULL);
            check += parts[t].sum;
        }
        double gbs = (double)(per * (size_t)threads * sizeof *buf) / (now_s() - t0) / 1e9;
        if (gbs > best) best = gbs;
    }
    free(buf);
    bw_sink = check;
    printf("membw_gbs %.2f (%lld threads, %lld MiB, best of 5)\n", best, (long long)threads,
           (long long)mib);
    return 0;
}

static const char bench_usage[] =
    "usage: kllm bench -m FILE [-t THREADS] [-p 128] [-n 128] [-b 1,4,8] [-r 3]\n"
    "       kllm bench --membw [-t THREADS] [--mib 1024]\n"
    "prints ppP <t/s>, tgN <t/s>, tgN@bB <aggregate t/s> (medians of -r runs) and peak RSS;\n"
    "--membw: the memory read bandwidth of THREADS threads (GB/s, best of 5)\n";

int cli_bench(int argc, char **argv)
{
    const char *model = NULL, *batches = "1";
    int64_t threads = 0, n_prompt = 128, n_gen = 128, reps = 3, mib = 1024;
    int bw = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(bench_usage, stdout);
            return 0;
        }
        if (strcmp(a, "--membw") == 0) {
            bw = 1;
            continue;
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
        } else if (strcmp(a, "--mib") == 0) {
            if (cli_parse_i64("bench", a, v, 64, 65536, &mib) < 0) return 2;
        } else {
            fprintf(stderr, "kllm bench: unknown option '%s'\n", a);
            return 2;
        }
    }
    if (bw) {
        if (threads > 64) {
            fprintf(stderr, "kllm bench: --membw takes at most 64 threads\n");
            return 2;
        }
        return membw(threads ? threads : sysconf(_SC_NPROCESSORS_ONLN), mib);
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
