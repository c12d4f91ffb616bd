/* sse: server-sent-event framing (see sse.h). */
#include "sse.h"

#include <string.h>

int sse_data(struct abuf *out, const char *payload)
{
    int rc = 0;
    const char *p = payload;
    for (;;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if ((rc = abuf_puts(out, "data: ")) < 0) return rc;
        if ((rc = abuf_append(out, p, n)) < 0) return rc;
        if ((rc = abuf_puts(out, "\n")) < 0) return rc;
        if (!nl) break;
        p = nl + 1;
    }
    return abuf_puts(out, "\n");
}

int sse_done(struct abuf *out)
{
    return abuf_puts(out, "data: [DONE]\n\n");
}
