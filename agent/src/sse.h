/* sse: server-sent-event framing for streamed completions.
 *
 * Each event is "data: <payload>\n\n"; the stream ends with
 * "data: [DONE]\n\n" as OpenAI clients expect. A payload never contains a raw
 * newline (cJSON's unformatted output escapes them), but sse_data splits on
 * '\n' into several data: lines anyway so a payload can never end an event
 * early.
 *
 * Threads: any; appends into a caller-owned abuf. Returns 0 or ABUF_ERR_*.
 */
#ifndef AGENT_SSE_H
#define AGENT_SSE_H

#include "abuf.h"

int sse_data(struct abuf *out, const char *payload);
int sse_done(struct abuf *out);

#endif
