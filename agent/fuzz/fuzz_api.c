/* libFuzzer target for what the agent reads from the network: the OpenAI
 * request parser (api.c), and the text path a completion takes (stop
 * strings, UTF-8 hold-back, sanitizing in text.c) fed with the same bytes.
 * Invariants: no crash/leak/UB; text_out_ready never exceeds the text;
 * sanitized output is valid UTF-8 without NULs. Run with `make fuzz`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "text.h"

static void check_utf8(const unsigned char *s, size_t n)
{
    struct abuf again;
    abuf_init(&again, 0);
    /* valid UTF-8 sanitizes to itself */
    if (text_utf8_sanitize(&again, (const char *)s, n) == 0 &&
        (again.len != n || memcmp(again.data ? again.data : "", s, n) != 0))
        abort();
    if (memchr(s, 0, n)) abort();
    abuf_deinit(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct api_limits lim = {.max_tokens = 512, .default_max_tokens = 16};
    struct api_req r;
    char err[256];
    const char *param;
    enum api_kind kind = size && (data[0] & 1) ? API_CHAT : API_COMPLETION;
    const char *stops[API_MAX_STOP] = {"\n\n", "END"};
    int n_stops = 2;
    if (api_req_parse(kind, (const char *)data, size, &lim, &r, err, sizeof err, &param) == 0) {
        if (r.max_tokens < 1 || r.max_tokens > lim.max_tokens || r.n_stop > API_MAX_STOP) abort();
        for (int i = 0; i < r.n_stop; i++) stops[i] = r.stop[i];
        if (r.n_stop) n_stops = r.n_stop;
    }

    struct text_out t;
    text_out_init(&t, stops, n_stops);
    size_t sent = 0;
    for (size_t off = 0; off < size;) {
        size_t piece = 1 + (data[off] % 7);
        if (piece > size - off) piece = size - off;
        if (text_out_append(&t, (const char *)data + off, piece) < 0) break;
        size_t ready = text_out_ready(&t, false);
        if (ready > t.text.len) abort();
        if (ready > sent) {
            struct abuf clean;
            abuf_init(&clean, 0);
            if (text_utf8_sanitize(&clean, t.text.data + sent, ready - sent) == 0)
                check_utf8((const unsigned char *)abuf_str(&clean), clean.len);
            abuf_deinit(&clean);
            sent = ready;
        }
        off += piece;
    }
    if (text_out_ready(&t, true) != t.text.len) abort();
    text_out_deinit(&t);
    api_req_deinit(&r);
    return 0;
}
