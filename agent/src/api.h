/* api: the OpenAI wire format — parsing and validating request bodies, and
 * building the JSON replies (full responses, stream chunks, error objects).
 *
 * Pure functions: no I/O, no engine, no threads of their own. The HTTP layer
 * (http.c) feeds a capped body in and gets either a struct api_req or an
 * OpenAI error (status + message + param) out.
 *
 * Ownership: api_req_parse fills a caller-owned struct api_req whose strings
 * it allocates; api_req_deinit frees them (safe on a zeroed or half-filled
 * struct). Builders return a heap string the caller frees, or NULL on
 * allocation failure.
 * Threads: any thread; no shared state.
 */
#ifndef AGENT_API_H
#define AGENT_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum api_kind { API_COMPLETION = 0, API_CHAT = 1 };

#define API_MAX_STOP 4         /* OpenAI allows up to 4 stop sequences */
#define API_MAX_STOP_BYTES 256 /* per stop string */
#define API_MAX_MESSAGES 1024
#define API_MAX_LOGIT_BIAS 1024 /* entries of logit_bias */

/* One logit_bias entry: added to the token's logit before sampling. */
struct api_bias {
    int32_t token; /* >= 0; checked against the vocabulary by the caller */
    float bias;    /* -100 .. 100 */
};

struct api_msg {
    char *role; /* "system" | "user" | "assistant" */
    char *content;
};

struct api_limits {
    int32_t max_tokens;         /* largest max_tokens a request may ask for */
    int32_t default_max_tokens; /* used when a completion request gives none */
};

struct api_req {
    enum api_kind kind;
    char *model;
    char *prompt;         /* API_COMPLETION */
    struct api_msg *msgs; /* API_CHAT */
    int n_msgs;
    int32_t max_tokens; /* >= 1 after parsing */
    bool max_tokens_set;
    float temperature; /* default 1.0 as in OpenAI */
    float top_p;       /* default 1.0 */
    uint64_t seed;
    bool has_seed;
    bool stream;
    bool include_usage; /* stream_options.include_usage */
    char *stop[API_MAX_STOP];
    int n_stop;
    struct api_bias *bias; /* logit_bias, n_bias entries */
    int n_bias;
};

/* Parse and validate a request body of `len` bytes (it need not be
 * NUL-terminated). Returns 0, or -1 with a client-facing message in err and
 * the offending parameter name (or NULL) in *param: always a 400. */
int api_req_parse(enum api_kind kind, const char *body, size_t len, const struct api_limits *lim,
                  struct api_req *out, char *err, size_t errlen, const char **param);
void api_req_deinit(struct api_req *r);

/* {"error":{"message":..,"type":..,"param":..,"code":..}}; param/code may be NULL. */
char *api_error_json(const char *message, const char *type, const char *param, const char *code);
/* The OpenAI error type for an HTTP status (invalid_request_error, ...). */
const char *api_error_type(int status);

enum api_finish { API_FINISH_NONE = 0, API_FINISH_STOP, API_FINISH_LENGTH };
const char *api_finish_name(enum api_finish f); /* NULL for NONE */

struct api_usage {
    int32_t prompt_tokens;
    int32_t completion_tokens;
};

/* Common fields of one response or stream. */
struct api_resp_meta {
    enum api_kind kind;
    const char *id; /* "cmpl-..." / "chatcmpl-..." */
    int64_t created;
    const char *model;
};

/* A complete (non-streamed) response with usage. */
char *api_resp_full(const struct api_resp_meta *m, const char *text, size_t len,
                    enum api_finish fin, const struct api_usage *u);
/* One stream chunk. For chat, role_first adds "role":"assistant" to the
 * delta; text may be NULL (empty delta); fin NONE gives finish_reason null.
 * With usage non-NULL the chunk has empty choices and that usage (the
 * stream_options.include_usage trailer). */
char *api_resp_chunk(const struct api_resp_meta *m, const char *text, size_t len, bool role_first,
                     enum api_finish fin, const struct api_usage *usage);
/* GET /v1/models/{id} body. */
char *api_model_json(const char *id, int64_t created);
/* GET /v1/models body for the given ids. */
char *api_models_json(const char *const *ids, int n, int64_t created);

#endif
