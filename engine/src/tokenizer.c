/* tokenizer: the public llm_tokenize* / llm_token_* / llm_vocab_* API over
 * struct vocab (vocab.h). It cuts the text at special tokens (with
 * LLM_TOKENIZE_SPECIAL), hands each plain run to the encoder of the
 * vocabulary's kind (tok_spm.c, tok_bpe.c), and frames the result with
 * BOS/EOS as the model's metadata asks.
 */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The longest special (control or user-defined) token whose text starts
 * at text[0..len), or -1. Leftmost-longest, as Hugging Face's added-token
 * matcher. */
static int32_t match_special(const struct vocab *v, const char *text, size_t len)
{
    uint8_t c = (uint8_t)text[0];
    if (!(v->special_first[c >> 3] & (1u << (c & 7)))) return -1;
    int32_t best = -1;
    for (int32_t k = 0; k < v->n_special; k++) {
        int32_t id = v->special[k];
        uint32_t tl = v->len[id];
        if (tl <= len && (best < 0 || tl > v->len[best]) && memcmp(text, v->text[id], tl) == 0)
            best = id;
    }
    return best;
}

static int encode_run(const struct vocab *v, const char *text, size_t len, int prefix_space,
                      int32_t *out, int32_t cap, int32_t *n_out)
{
    if (v->kind == VOCAB_BPE) return bpe_encode(v, text, len, out, cap, n_out);
    return spm_encode(v, text, len, prefix_space, out, cap, n_out);
}

int32_t llm_tokenize_ex(const struct llm_model *m, const char *text, size_t len, uint32_t flags,
                        int32_t *out, int32_t cap)
{
    const struct vocab *v = &m->vocab;
    int32_t n_out = 0;
    if (len > (1u << 28) || cap < 0 || (cap > 0 && !out) || (len > 0 && !text)) return LLM_ERR_ARG;
    if ((flags & LLM_TOKENIZE_BOS) && v->add_bos && v->bos >= 0)
        vocab_emit(out, cap, &n_out, v->bos);
    /* Plain text runs between special tokens; a run gets the space prefix
     * (SPM) at the start of the input and right after a special token. */
    int prev_special = 1;
    size_t run = 0;
    for (size_t i = 0; i <= len;) {
        int32_t sp = -1;
        if (i < len && (flags & LLM_TOKENIZE_SPECIAL)) sp = match_special(v, text + i, len - i);
        if (i < len && sp < 0) {
            i++;
            continue;
        }
        if (i > run) {
            int rc = encode_run(v, text + run, i - run, v->add_space_prefix && prev_special, out,
                                cap, &n_out);
            if (rc < 0) return rc;
            prev_special = 0;
        }
        if (sp < 0) break; /* i == len */
        vocab_emit(out, cap, &n_out, sp);
        prev_special = 1;
        i += v->len[sp];
        if (v->rstrip && v->rstrip[sp]) /* ASCII whitespace, as the reference's isspace */
            while (i < len && (text[i] == ' ' || (text[i] >= '\t' && text[i] <= '\r'))) i++;
        run = i;
    }
    if ((flags & LLM_TOKENIZE_BOS) && v->add_eos && v->eos >= 0)
        vocab_emit(out, cap, &n_out, v->eos);
    return n_out;
}

bool llm_token_rstrip(const struct llm_model *m, int32_t tok)
{
    const struct vocab *v = &m->vocab;
    return v->rstrip && tok >= 0 && tok < v->n && v->rstrip[tok];
}

int32_t llm_tokenize(const struct llm_model *m, const char *text, size_t len, bool add_bos,
                     int32_t *out, int32_t cap)
{
    return llm_tokenize_ex(m, text, len, add_bos ? LLM_TOKENIZE_BOS : 0, out, cap);
}

int32_t llm_token_to_piece(const struct llm_model *m, int32_t prev, int32_t tok, char *buf,
                           size_t cap)
{
    const struct vocab *v = &m->vocab;
    if (tok < 0 || tok >= v->n || (cap > 0 && !buf)) return LLM_ERR_ARG;
    if (v->kind == VOCAB_BPE) return bpe_piece(v, tok, buf, cap);
    return spm_piece(v, prev, tok, buf, cap);
}

bool llm_token_is_eog(const struct llm_model *m, int32_t tok)
{
    const struct vocab *v = &m->vocab;
    int32_t lo = 0, hi = v->n_eog;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (v->eog[mid] == tok) return true;
        if (v->eog[mid] < tok)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

int32_t llm_vocab_eog(const struct llm_model *m, int32_t *out, int32_t cap)
{
    const struct vocab *v = &m->vocab;
    for (int32_t i = 0; i < v->n_eog && i < cap; i++) out[i] = v->eog[i];
    return v->n_eog;
}

bool llm_vocab_add_bos(const struct llm_model *m)
{
    return m->vocab.add_bos && m->vocab.bos >= 0;
}

const char *llm_vocab_kind(const struct llm_model *m)
{
    return m->vocab.kind == VOCAB_BPE ? "bpe" : "spm";
}

const char *llm_vocab_pre(const struct llm_model *m)
{
    return m->vocab.pre;
}

int32_t llm_token_bos(const struct llm_model *m)
{
    return m->vocab.bos;
}
int32_t llm_token_eos(const struct llm_model *m)
{
    return m->vocab.eos;
}
