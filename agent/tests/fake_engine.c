/* fake_engine: deterministic engine.h stand-in for agent tests (see fake_engine.h). */
#include "fake_engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kllm/engine.h>

#define FAKE_VOCAB 259
#define TOK_BYTE(b) (3 + (int32_t)(unsigned char)(b))

atomic_int fake_max_seqs_in_batch;
atomic_int fake_decode_calls;

struct llm_model {
    int dummy;
};

struct llm_ctx {
    const struct llm_model *m;
    int32_t n_ctx, n_seq, n_batch;
    int32_t *len;
    float *logits; /* n_batch x FAKE_VOCAB */
    int8_t *has;
};

struct llm_sampler {
    int dummy;
};

const char *llm_strerror(int err)
{
    return err ? "fake engine error" : "ok";
}

int llm_model_load(const char *path, struct llm_model **out, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errbuf) snprintf(errbuf, errlen, "cannot open %s", path);
        return LLM_ERR_IO;
    }
    fclose(f);
    *out = calloc(1, sizeof **out);
    return *out ? 0 : LLM_ERR_NOMEM;
}

void llm_model_free(struct llm_model *m)
{
    free(m);
}

void llm_model_get_info(const struct llm_model *m, struct llm_model_info *info)
{
    memset(info, 0, sizeof *info);
    snprintf(info->arch, sizeof info->arch, "fake");
    info->n_vocab = FAKE_VOCAB;
    info->n_ctx_train = 256;
    info->bos_id = 1;
    info->eos_id = 2;
}

int32_t llm_model_n_vocab(const struct llm_model *m)
{
    return FAKE_VOCAB;
}
const char *llm_model_chat_template(const struct llm_model *m)
{
    return getenv("FAKE_CHAT_TEMPLATE");
}

int32_t llm_tokenize(const struct llm_model *m, const char *text, size_t len, bool add_bos,
                     int32_t *out, int32_t cap)
{
    int32_t n = 0;
    if (add_bos) {
        if (n < cap) out[n] = 1;
        n++;
    }
    for (size_t i = 0; i < len; i++, n++)
        if (n < cap) out[n] = TOK_BYTE(text[i]);
    return n;
}

int32_t llm_token_to_piece(const struct llm_model *m, int32_t prev, int32_t tok, char *buf,
                           size_t cap)
{
    if (tok < 3 || tok >= FAKE_VOCAB) return 0;
    if (cap < 1) return LLM_ERR_NOSPACE;
    buf[0] = (char)(tok - 3);
    return 1;
}

/* The fake vocabulary has no special-token text: SPECIAL changes nothing. */
int32_t llm_tokenize_ex(const struct llm_model *m, const char *text, size_t len, uint32_t flags,
                        int32_t *out, int32_t cap)
{
    return llm_tokenize(m, text, len, (flags & LLM_TOKENIZE_BOS) != 0, out, cap);
}

bool llm_token_rstrip(const struct llm_model *m, int32_t tok)
{
    (void)m;
    (void)tok;
    return false; /* no Phi-3 vocabulary here */
}

bool llm_token_is_eog(const struct llm_model *m, int32_t tok)
{
    return tok == 2;
}
int32_t llm_token_bos(const struct llm_model *m)
{
    return 1;
}
int32_t llm_token_eos(const struct llm_model *m)
{
    return 2;
}

struct llm_ctx_params llm_ctx_default_params(void)
{
    struct llm_ctx_params p = {.n_ctx = 0, .n_seq = 1, .n_batch = 512, .n_threads = 0};
    return p;
}

struct llm_ctx *llm_ctx_new(const struct llm_model *m, const struct llm_ctx_params *p)
{
    if (p->n_seq < 1 || p->n_batch < 1) return NULL;
    struct llm_ctx *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->m = m;
    c->n_ctx = p->n_ctx > 0 ? p->n_ctx : 256;
    c->n_seq = p->n_seq;
    c->n_batch = p->n_batch;
    c->len = calloc((size_t)c->n_seq, sizeof *c->len);
    c->logits = calloc((size_t)c->n_batch * FAKE_VOCAB, sizeof *c->logits);
    c->has = calloc((size_t)c->n_batch, 1);
    if (!c->len || !c->logits || !c->has) {
        llm_ctx_free(c);
        return NULL;
    }
    return c;
}

void llm_ctx_free(struct llm_ctx *c)
{
    if (!c) return;
    free(c->len);
    free(c->logits);
    free(c->has);
    free(c);
}

const struct llm_model *llm_ctx_model(const struct llm_ctx *c)
{
    return c->m;
}
int32_t llm_ctx_n_ctx(const struct llm_ctx *c)
{
    return c->n_ctx;
}
int32_t llm_ctx_n_seq(const struct llm_ctx *c)
{
    return c->n_seq;
}
int32_t llm_ctx_n_batch(const struct llm_ctx *c)
{
    return c->n_batch;
}

int llm_seq_reset(struct llm_ctx *c, int32_t seq)
{
    if (seq < 0 || seq >= c->n_seq) return LLM_ERR_ARG;
    c->len[seq] = 0;
    return 0;
}

int32_t llm_seq_len(const struct llm_ctx *c, int32_t seq)
{
    return seq >= 0 && seq < c->n_seq ? c->len[seq] : LLM_ERR_ARG;
}

int llm_decode_batch(struct llm_ctx *c, const struct llm_batch *b)
{
    if (b->n < 1 || b->n > c->n_batch) return LLM_ERR_ARG;
    int32_t add[256] = {0};
    for (int32_t i = 0; i < b->n; i++) {
        int32_t s = b->seq[i];
        if (s < 0 || s >= c->n_seq || s >= 256 || b->tokens[i] < 0 || b->tokens[i] >= FAKE_VOCAB)
            return LLM_ERR_ARG;
        if (c->len[s] + ++add[s] > c->n_ctx) return LLM_ERR_CTX_FULL;
    }
    int seqs = 0;
    for (int s = 0; s < c->n_seq && s < 256; s++) seqs += add[s] > 0;
    if (seqs > atomic_load(&fake_max_seqs_in_batch)) atomic_store(&fake_max_seqs_in_batch, seqs);
    atomic_fetch_add(&fake_decode_calls, 1);
    static const char letters[] = "abcdefghijklmnopqrstuvwxyz ";
    for (int32_t i = 0; i < b->n; i++) {
        int32_t s = b->seq[i], pos = c->len[s]++;
        bool want = b->logits ? b->logits[i] != 0 : i == b->n - 1;
        c->has[i] = want;
        if (!want) continue;
        float *l = c->logits + (size_t)i * FAKE_VOCAB;
        int32_t best = TOK_BYTE(letters[pos % 27]);
        if (b->tokens[i] == TOK_BYTE('!')) best = 2;
        if (b->tokens[i] == TOK_BYTE('~')) best = TOK_BYTE('~'); /* a loop */
        for (int32_t v = 0; v < FAKE_VOCAB; v++) l[v] = v == best ? 10.0f : 0.0f;
        if (b->tokens[i] == TOK_BYTE('#')) l[5] = NAN;
    }
    const char *d = getenv("FAKE_DELAY_US");
    long us = d ? strtol(d, NULL, 10) : 1000;
    if (us > 0) {
        struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

const float *llm_get_logits(const struct llm_ctx *c, int32_t i)
{
    if (i < 0 || i >= c->n_batch || !c->has[i]) return NULL;
    return c->logits + (size_t)i * FAKE_VOCAB;
}

struct llm_sampler_params llm_sampler_default_params(void)
{
    struct llm_sampler_params p = {.temperature = 0.8f,
                                   .top_k = 40,
                                   .top_p = 0.95f,
                                   .min_p = 0.05f,
                                   .repeat_penalty = 1.0f,
                                   .repeat_last_n = 64,
                                   .seed = 0};
    return p;
}

struct llm_sampler *llm_sampler_new(const struct llm_sampler_params *p, int32_t n_vocab)
{
    return calloc(1, sizeof(struct llm_sampler));
}
void llm_sampler_free(struct llm_sampler *s)
{
    free(s);
}
void llm_sampler_accept(struct llm_sampler *s, int32_t tok) {}
void llm_sampler_reset(struct llm_sampler *s) {}

int32_t llm_argmax(const float *logits, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

int32_t llm_sampler_sample(struct llm_sampler *s, const float *logits)
{
    return llm_argmax(logits, FAKE_VOCAB);
}

const char *llm_type_name(int32_t type)
{
    return "f32";
}
