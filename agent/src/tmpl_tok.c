/* tmpl_tok: a chat template's segments -> token ids (see tmpl.h).
 *
 * Only template-owned markers may become special tokens; message content
 * never does. A marker is special when the vocabulary says so: tokenized
 * with special parsing it is one token, and that token is not what the same
 * text gives as plain text (so "[INST]" is a control token for Mistral v3's
 * vocabulary and plain text for Llama 2's). The text between two special
 * tokens (template text and content together) is tokenized in one plain
 * call: SentencePiece merges across the segment borders and adds its space
 * prefix once per run, as a whole-string tokenization with special parsing
 * does, so both give the same ids when the content names no special token.
 */
#include <stdlib.h>
#include <string.h>

#include <kllm/engine.h>

#include "tmpl.h"

/* The id of the one special token marker text is, or -1. */
static int32_t special_id(const struct llm_model *m, const char *s, size_t len)
{
    int32_t sp[2], plain[2];
    int32_t n = llm_tokenize_ex(m, s, len, LLM_TOKENIZE_SPECIAL, sp, 2);
    if (n != 1) return -1;
    int32_t np = llm_tokenize_ex(m, s, len, 0, plain, 2);
    return np == 1 && plain[0] == sp[0] ? -1 : sp[0];
}

struct tok_state {
    const struct llm_model *m;
    int32_t *out;
    int32_t cap, n;
};

/* Tokens beyond cap are counted, not written, as llm_tokenize_ex does. */
static int32_t flush(struct tok_state *t, const char *text, size_t len, uint32_t flags)
{
    if (len == 0 && !(flags & LLM_TOKENIZE_BOS)) return 0;
    int32_t room = t->n < t->cap ? t->cap - t->n : 0;
    int32_t r = llm_tokenize_ex(t->m, text, len, flags, room ? t->out + t->n : NULL, room);
    if (r < 0) return r;
    t->n += r;
    return 0;
}

int32_t tmpl_tokenize(const struct llm_model *m, const struct tmpl_out *o, uint32_t flags,
                      int32_t *out, int32_t cap)
{
    struct tok_state t = {.m = m, .out = out, .cap = cap, .n = 0};
    const char *text = abuf_str(&o->text);
    int32_t rc = 0;
    if (flags & LLM_TOKENIZE_BOS) rc = flush(&t, "", 0, LLM_TOKENIZE_BOS);
    /* Segments are back to back in o->text, so a run is one byte range. */
    size_t run = 0;
    for (int i = 0; i < o->n_segs && rc == 0; i++) {
        const struct tmpl_seg *s = &o->segs[i];
        if (s->kind != TMPL_SEG_SPECIAL) continue;
        int32_t id = special_id(m, text + s->off, s->len);
        if (id < 0) continue;
        rc = flush(&t, text + run, s->off > run ? s->off - run : 0, 0);
        if (rc == 0) {
            if (t.n < t.cap) t.out[t.n] = id;
            t.n++;
        }
        run = s->off + s->len;
        /* as whole-string special parsing does (Phi-3: llm_token_rstrip) */
        if (llm_token_rstrip(m, id))
            while (run < o->text.len &&
                   (text[run] == ' ' || (text[run] >= '\t' && text[run] <= '\r')))
                run++;
    }
    if (rc == 0) rc = flush(&t, text + run, o->text.len - run, 0);
    return rc < 0 ? rc : t.n;
}
