/* text: the generated text of one request on its way to the client.
 *
 * The engine produces token pieces (raw bytes); the client must see valid
 * UTF-8 and never the start of a stop string that later matches. A
 * struct text_out accumulates pieces, cuts the text at the first stop string,
 * and says how many bytes are safe to send now (text_out_ready): bytes that
 * could still be the beginning of a stop string, or of an unfinished UTF-8
 * character, are held back until the next piece decides.
 *
 * Ownership: caller-owned (text_out_init/_deinit); stop strings are borrowed
 * and must outlive it. Threads: one at a time (the agent guards it with the
 * job's mutex).
 */
#ifndef AGENT_TEXT_H
#define AGENT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abuf.h"

struct text_out {
    struct abuf text; /* everything generated so far (after a stop: cut before it) */
    const char *const *stops;
    int n_stops;
    bool stopped; /* a stop string matched; text ends before it */
};

void text_out_init(struct text_out *t, const char *const *stops, int n_stops);
void text_out_deinit(struct text_out *t);
/* Append a piece. Returns 1 when a stop string matched (the text is cut and
 * later appends are ignored), 0 otherwise, ABUF_ERR_* on failure. */
int text_out_append(struct text_out *t, const char *piece, size_t n);
/* Bytes of text that can be sent now; with final, all of it. */
size_t text_out_ready(const struct text_out *t, bool final);

/* Append n bytes to out as valid UTF-8 without NULs: each invalid sequence
 * or NUL becomes U+FFFD. Returns 0 or ABUF_ERR_*. */
int text_utf8_sanitize(struct abuf *out, const char *s, size_t n);
/* Length of the longest prefix of s[0..n) that does not end inside an
 * incomplete (but so far valid) UTF-8 sequence. */
size_t text_utf8_complete(const char *s, size_t n);

/* Runaway repetition: the last `window` tokens are one short pattern (period
 * 1..max_period) repeated. Used on requests that hit max_tokens. */
bool text_is_runaway(const int32_t *toks, int32_t n, int32_t window, int32_t max_period);

#endif
