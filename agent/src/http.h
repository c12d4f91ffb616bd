/* http: the agent's HTTP server — routes, limits, auth, and the glue between
 * libmicrohttpd connections and scheduler jobs.
 *
 * libmicrohttpd runs one thread per connection (capped by max_connections).
 * A connection thread reads the capped body, validates it (api.c), renders
 * and tokenizes the prompt, submits a job (sched.c) and then only waits:
 * a non-streamed request blocks in the handler until the job is done; a
 * streamed one blocks in the response's content reader, turning new text
 * into SSE chunks. While waiting it polls its socket, so a client that hangs
 * up cancels its job and frees the decode slot. No model math runs here.
 *
 * Ownership: the srv borrows the srv_model array, the scheds and the mx;
 * they must outlive srv_free.
 * Threads: srv_new/srv_quiesce/srv_free from the main thread; srv_* getters
 * from any thread.
 */
#ifndef AGENT_HTTP_H
#define AGENT_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kllm/engine.h>

#include "api.h"
#include "metrics.h"
#include "scheduler.h"
#include "tmpl.h"

/* One configured model. name and mx are set before srv_new; model, sched
 * and tmpl are written by the loading thread and then published by setting
 * loaded (HTTP threads touch them only after reading loaded == true). */
struct srv_model {
    char name[128];
    struct mx_model *mx;
    atomic_bool loaded;
    struct llm_model *model;
    struct sched *sched;
    enum tmpl_kind tmpl;
    char tmpl_markers[96]; /* TMPL_NONE: what the file's template held (tmpl_markers) */
    /* HTTP threads using this model now (cluster mode unloads a model only
     * after clearing loaded and seeing this reach 0). */
    atomic_int users;
};

#define SRV_ROUTE_MAX 8

/* Where one request may go, best first (cluster mode). */
struct srv_route {
    int n;
    int slot[SRV_ROUTE_MAX];           /* >= 0: this agent's model slot */
    char endpoint[SRV_ROUTE_MAX][256]; /* slot < 0: a peer agent, host:port */
    int32_t revision[SRV_ROUTE_MAX];   /* the candidate's revision (0: any) */
};

/* The cluster router, called from HTTP threads (so it must be thread-safe).
 * route: resolve the request's model and pin (X-Kllm-Revision, may be
 * NULL) into candidates; local_only (a request another agent proxied here)
 * allows no peers. Returns 0, or an HTTP status (400, 404, 503) with a
 * client message in err and the OpenAI error code in *code (may stay NULL).
 * list: up to cap model ids ("NS/NAME") into ids; returns how many.
 * ready: every assigned replica Ready and the API server reachable.
 * peer_load: delta (+1/-1) requests this agent sends to a peer endpoint. */
struct srv_router {
    int (*route)(void *ud, const char *model, const char *pin, bool local_only,
                 struct srv_route *out, char *err, size_t errlen, const char **code);
    int (*list)(void *ud, char (*ids)[256], int cap);
    bool (*ready)(void *ud);
    void (*peer_load)(void *ud, const char *endpoint, int delta);
    void *ud;
};

struct srv_config {
    const char *host; /* NULL or "": all IPv4 addresses */
    uint16_t port;    /* 0: any free port (see srv_port) */
    size_t max_body;  /* request body cap, bytes */
    int32_t max_prompt_tokens;
    struct api_limits lim;
    unsigned max_connections;
    const char *api_key; /* NULL: /v1 is open */
    /* NULL: standalone (models by --model name); else cluster mode: the
     * models array is a table of slots the cluster code fills and empties,
     * and every API request goes through the router. */
    const struct srv_router *router;
};

struct srv;

/* Binds and starts serving. NULL on failure with a reason in err. */
struct srv *srv_new(const struct srv_config *cfg, struct srv_model *models, int n_models,
                    struct mx *mx, char *err, size_t errlen);
uint16_t srv_port(const struct srv *s);
/* Stop accepting connections; new requests on open ones get 503; /readyz
 * turns 503. In-flight requests continue. */
void srv_quiesce(struct srv *s);
/* Requests currently being handled (including streams being sent). */
int srv_active(const struct srv *s);
/* Stops the daemon, joining every connection thread. Jobs must be able to
 * finish (sched_free fails what is left), or this waits for them. */
void srv_free(struct srv *s);

#endif
