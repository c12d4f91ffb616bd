/* proxy: forward one API request to a peer agent (cluster router) and
 * stream its answer back to our client as it arrives.
 *
 * A libcurl transfer runs on its own thread and writes the peer's body into
 * a pipe; once the peer's status line is in, the connection thread queues a
 * libmicrohttpd response that reads the pipe, so server-sent events reach
 * the client chunk by chunk. Until then nothing has been sent to our client:
 * a peer that refuses (connection failed, or 503 before any byte) is
 * reported as PROXY_REFUSED and the caller may try another replica. A client
 * that goes away closes the pipe, which aborts the upstream transfer (and so
 * frees the peer's decode slot).
 *
 * Ownership: the transfer state is shared by the two threads and freed by
 * the last one out. Threads: call from a libmicrohttpd connection thread.
 */
#ifndef AGENT_PROXY_H
#define AGENT_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

enum proxy_result {
    PROXY_SENT = 0,     /* a response was queued on c (*ret says how) */
    PROXY_REFUSED = -1, /* nothing sent: try another replica */
};

struct proxy_req {
    const char *endpoint; /* host:port */
    const char *path;     /* "/v1/completions" */
    const char *body;
    size_t body_len;
    const char *authorization; /* passed through; may be NULL */
    int32_t revision;          /* > 0: sent as X-Kllm-Revision */
    int *status;               /* out: the peer's HTTP status */
};

int proxy_forward(struct MHD_Connection *c, const struct proxy_req *pr, enum MHD_Result *ret);

#endif
