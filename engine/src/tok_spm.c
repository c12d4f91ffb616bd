/* tok_spm: SentencePiece (BPE-by-score) encoding and decoding for
 * tokenizer.ggml.model = "llama" vocabularies (see vocab.h).
 *
 * Encoding: spaces become U+2581 ("▁") and one is prepended; the text is
 * split into UTF-8 characters; the adjacent pair whose concatenation is a
 * vocabulary entry with the highest score is merged (leftmost on ties) until
 * no pair merges; a symbol left outside the vocabulary becomes its bytes'
 * <0xNN> tokens (or UNK).
 */
#include "vocab.h"
#include "kllm/engine.h"

#include <stdlib.h>
#include <string.h>

#define SPACE_MARK "\xe2\x96\x81" /* U+2581 */

struct sym {
    int32_t prev, next;  /* linked list of live symbols; -1 ends */
    uint32_t start, len; /* byte range in the normalised text; len 0 = merged away */
};
static void try_bigram(const struct vocab *v, const char *text, const struct sym *syms,
                       int32_t left, int32_t right, struct tok_pair *heap, int32_t *nheap)
{
    if (left < 0 || right < 0) return;
    uint32_t len = syms[left].len + syms[right].len;
    int32_t id = vocab_find(v, text + syms[left].start, len);
    if (id < 0) return;
    /* key[0]: the combined length when queued, to detect stale entries */
    tok_heap_push(heap, nheap, (struct tok_pair){left, right, v->score[id], {(int32_t)len, 0}, id});
}

static uint32_t utf8_len(uint8_t c)
{
    static const uint8_t lens[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lens[c >> 4];
}

/* One run of plain text, appended to out (counted past cap). */
int spm_encode(const struct vocab *v, const char *text, size_t len, int prefix_space, int32_t *out,
               int32_t cap, int32_t *n_out)
{
    /* Normalise: prefix mark, spaces -> mark. At most 3 bytes per input byte + 3. */
    char *norm = malloc(len * 3 + 3);
    struct sym *syms = malloc(sizeof *syms * (len + 1));
    struct tok_pair *heap = malloc(sizeof *heap * (3 * (len + 1)));
    int rc = LLM_ERR_NOMEM;
    if (!norm || !syms || !heap) goto out;
    size_t nl = 0;
    if (prefix_space) {
        memcpy(norm, SPACE_MARK, 3);
        nl = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(norm + nl, SPACE_MARK, 3);
            nl += 3;
        } else {
            norm[nl++] = text[i];
        }
    }
    int32_t nsym = 0;
    for (uint32_t off = 0; off < nl;) {
        uint32_t cl = utf8_len((uint8_t)norm[off]);
        if (cl > nl - off) cl = (uint32_t)(nl - off);
        syms[nsym] = (struct sym){nsym - 1, nsym + 1, off, cl};
        nsym++;
        off += cl;
    }
    rc = 0;
    if (nsym == 0) goto out;
    syms[nsym - 1].next = -1;

    int32_t nheap = 0;
    for (int32_t i = 1; i < nsym; i++) try_bigram(v, norm, syms, i - 1, i, heap, &nheap);
    while (nheap > 0) {
        struct tok_pair b = tok_heap_pop(heap, &nheap);
        struct sym *l = &syms[b.left], *r = &syms[b.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != (uint32_t)b.key[0])
            continue; /* stale */
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) syms[r->next].prev = b.left;
        try_bigram(v, norm, syms, l->prev, b.left, heap, &nheap);
        try_bigram(v, norm, syms, b.left, l->next, heap, &nheap);
    }
    for (int32_t i = 0; i >= 0; i = syms[i].next) {
        int32_t id = vocab_find(v, norm + syms[i].start, syms[i].len);
        if (id >= 0) {
            vocab_emit(out, cap, n_out, id);
            continue;
        }
        for (uint32_t k = 0; k < syms[i].len; k++) {
            int32_t bt = v->byte_tok[(uint8_t)norm[syms[i].start + k]];
            vocab_emit(out, cap, n_out, bt >= 0 ? bt : v->unk);
        }
    }
out:
    free(norm);
    free(syms);
    free(heap);
    return rc;
}

/* The bytes of token tok (valid id) after prev: "▁" becomes a space, and
 * the first one is dropped at the start of the text (prev < 0 or BOS),
 * where encoding added it. */
int32_t spm_piece(const struct vocab *v, int32_t prev, int32_t tok, char *buf, size_t cap)
{
    size_t n = 0;
    switch (v->type[tok]) {
    case TOK_CONTROL:
    case TOK_UNUSED: return 0;
    case TOK_BYTE:
        for (int b = 0; b < 256; b++) {
            if (v->byte_tok[b] == tok) {
                if (cap < 1) return LLM_ERR_NOSPACE;
                buf[0] = (char)b;
                return 1;
            }
        }
        return 0;
    default: break;
    }
    const char *s = v->text[tok];
    uint32_t len = v->len[tok];
    int strip = v->add_space_prefix && (prev < 0 || prev == v->bos);
    for (uint32_t i = 0; i < len;) {
        if (i + 3 <= len && memcmp(s + i, SPACE_MARK, 3) == 0) {
            i += 3;
            if (strip && n == 0) {
                strip = 0;
                continue;
            }
            if (n + 1 > cap) return LLM_ERR_NOSPACE;
            buf[n++] = ' ';
        } else {
            if (n + 1 > cap) return LLM_ERR_NOSPACE;
            buf[n++] = s[i++];
        }
        strip = 0;
    }
    return (int32_t)n;
}
