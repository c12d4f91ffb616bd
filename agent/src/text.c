/* text: stop strings, UTF-8 hold-back and repetition checks (see text.h). */
#include "text.h"

#include <string.h>

void text_out_init(struct text_out *t, const char *const *stops, int n_stops)
{
    abuf_init(&t->text, 0);
    t->stops = stops;
    t->n_stops = n_stops;
    t->stopped = false;
}

void text_out_deinit(struct text_out *t)
{
    abuf_deinit(&t->text);
}

int text_out_append(struct text_out *t, const char *piece, size_t n)
{
    if (t->stopped) return 1;
    size_t old = t->text.len;
    int rc = abuf_append(&t->text, piece, n);
    if (rc < 0) return rc;
    const char *s = abuf_str(&t->text);
    size_t best = SIZE_MAX;
    for (int i = 0; i < t->n_stops; i++) {
        size_t sl = strlen(t->stops[i]);
        if (sl == 0 || sl > t->text.len) continue;
        /* A match must end inside the new piece: start searching sl-1 bytes back. */
        size_t from = old >= sl - 1 ? old - (sl - 1) : 0;
        const char *m = memmem(s + from, t->text.len - from, t->stops[i], sl);
        if (m && (size_t)(m - s) < best) best = (size_t)(m - s);
    }
    if (best == SIZE_MAX) return 0;
    t->text.len = best;
    t->text.data[best] = '\0';
    t->stopped = true;
    return 1;
}

size_t text_out_ready(const struct text_out *t, bool final)
{
    size_t len = t->text.len;
    if (final || t->stopped) return len;
    const char *s = abuf_str(&t->text);
    size_t hold = 0;
    for (int i = 0; i < t->n_stops; i++) {
        size_t sl = strlen(t->stops[i]);
        /* longest proper prefix of the stop string that the text ends with */
        for (size_t k = sl > 1 ? sl - 1 : 0; k > hold; k--) {
            if (k <= len && memcmp(s + len - k, t->stops[i], k) == 0) {
                hold = k;
                break;
            }
        }
    }
    return text_utf8_complete(s, len - hold);
}

/* Expected length of a UTF-8 sequence from its lead byte; 0 if not a lead. */
static int seq_len(unsigned char c)
{
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xF0 && c <= 0xF4) return 4;
    return 0;
}

/* Is the second byte valid after lead c (excludes overlongs, surrogates, > U+10FFFF)? */
static int second_ok(unsigned char c, unsigned char d)
{
    if ((d & 0xC0) != 0x80) return 0;
    if (c == 0xE0) return d >= 0xA0;
    if (c == 0xED) return d <= 0x9F;
    if (c == 0xF0) return d >= 0x90;
    if (c == 0xF4) return d <= 0x8F;
    return 1;
}

/* Length of the valid sequence at s (<= n bytes available), 0 if invalid,
 * -k if it is a valid but incomplete prefix of k bytes. */
static int valid_at(const unsigned char *s, size_t n)
{
    int L = seq_len(s[0]);
    if (L <= 1) return L;
    for (int i = 1; i < L; i++) {
        if ((size_t)i >= n) return -i;
        if (i == 1 ? !second_ok(s[0], s[1]) : (s[i] & 0xC0) != 0x80) return 0;
    }
    return L;
}

size_t text_utf8_complete(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        size_t i = n - back;
        if ((u[i] & 0xC0) == 0x80) continue; /* continuation: keep looking for the lead */
        return valid_at(u + i, back) < 0 ? i : n;
    }
    return n;
}

int text_utf8_sanitize(struct abuf *out, const char *s, size_t n)
{
    static const char repl[] = "\xEF\xBF\xBD";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0; /* run: start of the pending valid bytes */
    int rc = 0;
    while (i < n) {
        int L = u[i] == 0 ? 0 : valid_at(u + i, n - i);
        if (L > 0) {
            i += (size_t)L;
            continue;
        }
        if ((rc = abuf_append(out, s + run, i - run)) < 0) return rc;
        if ((rc = abuf_append(out, repl, 3)) < 0) return rc;
        i++;
        run = i;
    }
    return abuf_append(out, s + run, n - run);
}

bool text_is_runaway(const int32_t *toks, int32_t n, int32_t window, int32_t max_period)
{
    if (window <= 0 || n < window) return false;
    const int32_t *w = toks + (n - window);
    for (int32_t p = 1; p <= max_period && p * 2 <= window; p++) {
        int32_t i = p;
        while (i < window && w[i] == w[i - p]) i++;
        if (i == window) return true;
    }
    return false;
}
