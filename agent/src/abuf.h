/* abuf: a growable byte buffer with a hard size cap.
 *
 * Everything the agent reads from the network (request bodies) and most of
 * what it writes (JSON, SSE frames, metrics text) goes through an abuf. The
 * contents are always NUL-terminated so they can be handed to cJSON or
 * printed. The cap (max) is checked on every append: a request body can never
 * grow past --max-body-bytes.
 *
 * Ownership: an abuf is caller-owned (abuf_init/abuf_deinit); data belongs to
 * the abuf until abuf_take hands it to the caller.
 * Threads: no locking; one thread at a time.
 */
#ifndef AGENT_ABUF_H
#define AGENT_ABUF_H

#include <stddef.h>

enum abuf_err {
    ABUF_OK = 0,
    ABUF_ERR_NOMEM = -1,
    ABUF_ERR_TOO_BIG = -2, /* the append would exceed max; nothing was appended */
};

struct abuf {
    char *data; /* NULL until the first append; NUL-terminated after it */
    size_t len;
    size_t cap;
    size_t max; /* 0: no limit */
};

void abuf_init(struct abuf *b, size_t max);
void abuf_deinit(struct abuf *b);
void abuf_reset(struct abuf *b); /* len = 0, keeps memory */
int abuf_append(struct abuf *b, const void *p, size_t n);
int abuf_puts(struct abuf *b, const char *s);
int abuf_printf(struct abuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes (n <= len). */
void abuf_consume(struct abuf *b, size_t n);
/* The contents as a "" string even when nothing was appended. */
const char *abuf_str(const struct abuf *b);
/* Hands the heap string to the caller (free() it) and resets b; NULL on
 * allocation failure. */
char *abuf_take(struct abuf *b);

#endif
