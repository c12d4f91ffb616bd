/* http: routes, limits, auth and job streaming over libmicrohttpd (see http.h). */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "abuf.h"
#include "auth.h"
#include "klog.h"
#include "proxy.h"
#include "sse.h"

#define WAIT_SLICE_MS 100 /* how often a waiting thread checks its client */
#define STREAM_BLOCK 4096 /* MHD buffer size for streamed responses */
#define RETRY_AFTER_S "1" /* Retry-After on 429/503 */
#define MODEL_PREFIX "/v1/models/"
#define PEER_TRIES 3 /* peers one request may be offered to */

struct srv {
    struct MHD_Daemon *d;
    struct srv_config cfg;
    struct srv_model *models;
    int n_models;
    struct mx *mx;
    atomic_bool draining;
    atomic_int active;
    atomic_ullong next_id;
    uint16_t port;
};

enum route {
    ROUTE_NONE = 0,
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
    ROUTE_MODELS,
    ROUTE_MODEL, /* /v1/models/{id} */
    ROUTE_COMPLETIONS,
    ROUTE_CHAT,
};

/* Per-request state (MHD's con_cls); freed in request_completed. */
struct req {
    struct srv *srv;
    enum route route;
    char path[160]; /* for the access log (truncated) */
    uint64_t t0_ns; /* arrival */
    struct abuf body;
    bool too_big;
    bool responded; /* a response was queued early (413/401) */
};

/* A streamed response's state: the content reader's cls, freed by MHD
 * through stream_free once the response is gone. */
struct stream {
    struct srv *srv;
    struct srv_model *sm;
    struct job *job;
    int fd;
    char id[48];
    struct api_resp_meta meta;
    bool include_usage;
    int32_t n_prompt;
    struct abuf pending; /* bytes produced but not yet handed to MHD */
    size_t sent;         /* bytes of job text already sent */
    int phase;           /* 0 head, 1 body, 2 tail, 3 end */
    int status;          /* for the request counter */
    char path[160];
    uint64_t t0_ns;
};

static bool client_gone(int fd)
{
    if (fd < 0) return false;
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    if (poll(&p, 1, 0) <= 0) return false;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

static int conn_fd(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

/* Wait on the job's cv for one slice. Caller holds j->mu. */
static void job_wait_slice(struct job *j)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += WAIT_SLICE_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&j->cv, &j->mu, &ts);
}

/* ---- plain responses ---- */

static enum MHD_Result send_buf(struct MHD_Connection *c, int status, const char *ctype, char *body,
                                const char *retry_after, const char *allow)
{
    if (!body) body = strdup("");
    if (!body) return MHD_NO;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (retry_after) MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, retry_after);
    if (allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    if (status == 401) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Count a finished API request (mm NULL: no model chosen) and log one line
 * for it. Prompts and keys are never logged. */
static void request_done(struct srv *s, struct mx_model *mm, const char *path, int status,
                         int32_t prompt_tokens, int32_t gen_tokens, uint64_t t0_ns)
{
    mx_request_done(s->mx, mm, status);
    enum klog_level lvl = status >= 500 ? KLOG_WARN : KLOG_INFO;
    if (!klog_enabled(lvl)) return;
    char st[12], pt[16], gt[16], ms[24];
    snprintf(st, sizeof st, "%d", status);
    snprintf(pt, sizeof pt, "%d", (int)prompt_tokens);
    snprintf(gt, sizeof gt, "%d", (int)gen_tokens);
    snprintf(ms, sizeof ms, "%.1f", (double)(sched_clock_ns() - t0_ns) / 1e6);
    const char *model = mm ? mm->name : "-";
    const char *kv[] = {
        "path", path, "model", model, "status", st, "prompt_tokens", pt, "completion_tokens",
        gt,     "ms", ms,      NULL};
    klog_kv(lvl, "http", "request", kv);
}

/* An OpenAI error object; counts the request for mm (NULL: unrouted). */
static enum MHD_Result send_error(struct srv *s, struct MHD_Connection *c, const struct req *rq,
                                  struct mx_model *mm, int status, const char *msg,
                                  const char *param, const char *code)
{
    request_done(s, mm, rq->path, status, 0, 0, rq->t0_ns);
    char *body = api_error_json(msg, api_error_type(status), param, code);
    const char *retry = status == 429 || status == 503 ? RETRY_AFTER_S : NULL;
    const char *allow = NULL;
    if (status == 405) allow = "GET, POST";
    return send_buf(c, status, "application/json", body, retry, allow);
}

/* ---- helpers ---- */

/* A configured model by name, loaded or not. */
static struct srv_model *find_model(struct srv *s, const char *name)
{
    for (int i = 0; i < s->n_models; i++)
        if (strcmp(s->models[i].name, name) == 0) return &s->models[i];
    return NULL;
}

static bool is_loaded(struct srv_model *sm)
{
    return sm && atomic_load(&sm->loaded);
}

static void make_id(struct srv *s, enum api_kind kind, char *out, size_t cap)
{
    unsigned long long n = atomic_fetch_add(&s->next_id, 1);
    snprintf(out, cap, "%s-%llx%08llx", kind == API_CHAT ? "chatcmpl" : "cmpl",
             (unsigned long long)time(NULL), n);
}

static uint64_t random_seed(struct srv *s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
                 (atomic_fetch_add(&s->next_id, 1) * 0x9E3779B97F4A7C15ull);
    return x;
}

/* ---- streaming ---- */

static void stream_free(void *cls)
{
    struct stream *st = cls;
    pthread_mutex_lock(&st->job->mu);
    bool done = st->job->state == JOB_DONE;
    pthread_mutex_unlock(&st->job->mu);
    if (!done) {
        sched_cancel(st->sm->sched, st->job);
        st->status = JOB_STATUS_CANCELLED;
    }
    pthread_mutex_lock(&st->job->mu);
    int32_t n_gen = st->job->n_gen;
    pthread_mutex_unlock(&st->job->mu);
    request_done(st->srv, st->sm->mx, st->path, st->status, st->n_prompt, n_gen, st->t0_ns);
    job_unref(st->job);
    atomic_fetch_sub(&st->sm->users, 1);
    abuf_deinit(&st->pending);
    free(st);
}

static int stream_chunk(struct stream *st, const char *text, size_t len, bool role,
                        enum api_finish fin, const struct api_usage *u)
{
    char *json = api_resp_chunk(&st->meta, text, len, role, fin, u);
    if (!json) return -1;
    int rc = sse_data(&st->pending, json);
    free(json);
    return rc;
}

/* Produce the next bytes of the stream into st->pending; may block until the
 * job has new text. -1: client gone or out of memory (abort the stream). */
static int stream_fill(struct stream *st)
{
    struct job *j = st->job;
    if (st->phase == 0) {
        st->phase = 1;
        if (st->meta.kind == API_CHAT) return stream_chunk(st, "", 0, true, API_FINISH_NONE, NULL);
    }
    if (st->phase == 1) {
        struct abuf txt;
        abuf_init(&txt, 0);
        pthread_mutex_lock(&j->mu);
        for (;;) {
            bool done = j->state == JOB_DONE;
            size_t ready = text_out_ready(&j->out, done && j->status == 0);
            if (ready > st->sent || done) break;
            pthread_mutex_unlock(&j->mu);
            if (client_gone(st->fd)) {
                sched_cancel(st->sm->sched, j);
                abuf_deinit(&txt);
                return -1;
            }
            pthread_mutex_lock(&j->mu);
            if (j->state != JOB_DONE && text_out_ready(&j->out, false) <= st->sent)
                job_wait_slice(j);
        }
        bool done = j->state == JOB_DONE;
        size_t ready = text_out_ready(&j->out, done && j->status == 0);
        int rc = 0;
        if (ready > st->sent)
            rc = text_utf8_sanitize(&txt, abuf_str(&j->out.text) + st->sent, ready - st->sent);
        st->sent = ready > st->sent ? ready : st->sent;
        int status = j->status;
        enum api_finish fin = j->finish;
        int32_t n_gen = j->n_gen;
        char msg[sizeof j->errmsg];
        memcpy(msg, j->errmsg, sizeof msg);
        pthread_mutex_unlock(&j->mu);
        if (rc == 0 && txt.len)
            rc = stream_chunk(st, txt.data, txt.len, false, API_FINISH_NONE, NULL);
        abuf_deinit(&txt);
        if (rc < 0) return -1;
        if (!done) return 0;
        st->phase = 2;
        st->status = status ? status : 200;
        if (status) {
            char *e = api_error_json(msg, api_error_type(status), NULL, NULL);
            if (!e) return -1;
            rc = sse_data(&st->pending, e);
            free(e);
            if (rc == 0) rc = sse_done(&st->pending);
            st->phase = 3;
            return rc < 0 ? -1 : 0;
        }
        rc = stream_chunk(st, NULL, 0, false, fin, NULL);
        if (rc == 0 && st->include_usage) {
            struct api_usage u = {.prompt_tokens = st->n_prompt, .completion_tokens = n_gen};
            rc = stream_chunk(st, NULL, 0, false, API_FINISH_NONE, &u);
        }
        if (rc == 0) rc = sse_done(&st->pending);
        st->phase = 3;
        return rc < 0 ? -1 : 0;
    }
    return 0;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *st = cls;
    while (st->pending.len == 0) {
        if (st->phase == 3) return MHD_CONTENT_READER_END_OF_STREAM;
        if (stream_fill(st) < 0) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = st->pending.len < max ? st->pending.len : max;
    memcpy(buf, st->pending.data, n);
    abuf_consume(&st->pending, n);
    return (ssize_t)n;
}

/* ---- completions ---- */

/* Wait for a non-streamed job; false if the client went away (job cancelled). */
static bool wait_job(struct srv_model *sm, struct job *j, int fd)
{
    bool gone = false;
    pthread_mutex_lock(&j->mu);
    while (j->state != JOB_DONE) {
        job_wait_slice(j);
        if (j->state == JOB_DONE || gone) continue;
        pthread_mutex_unlock(&j->mu);
        if (client_gone(fd)) {
            gone = true;
            sched_cancel(sm->sched, j);
        }
        pthread_mutex_lock(&j->mu);
    }
    pthread_mutex_unlock(&j->mu);
    return !gone;
}

/* Cluster mode: the router's candidates in order. Returns a local model
 * (with a users reference the caller drops), or NULL when a response was
 * already queued (*ret): an error, or the answer of a peer it was proxied
 * to. A peer that refuses before sending anything (down, or 503) passes
 * the request to the next candidate, up to PEER_TRIES peers. */
static struct srv_model *cluster_pick(struct srv *s, struct MHD_Connection *c, struct req *rq,
                                      const struct api_req *ar, enum MHD_Result *ret)
{
    const struct srv_router *rt = s->cfg.router;
    struct srv_route r;
    char err[512];
    const char *code = NULL;
    const char *pin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Kllm-Revision");
    bool proxied = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Kllm-Proxied") != NULL;
    memset(&r, 0, sizeof r);
    int st = rt->route(rt->ud, ar->model, pin, proxied, &r, err, sizeof err, &code);
    if (st) {
        *ret = send_error(s, c, rq, NULL, st, err, st == 503 ? NULL : "model", code);
        return NULL;
    }
    int tries = 0;
    for (int i = 0; i < r.n && i < SRV_ROUTE_MAX && tries < PEER_TRIES; i++) {
        if (r.slot[i] >= 0) {
            struct srv_model *sm = &s->models[r.slot[i]];
            atomic_fetch_add(&sm->users, 1);
            if (is_loaded(sm)) return sm;
            atomic_fetch_sub(&sm->users, 1); /* unloaded meanwhile */
            continue;
        }
        int status = 0;
        struct proxy_req pr = {
            .endpoint = r.endpoint[i],
            .path = rq->path,
            .body = rq->body.data ? rq->body.data : "",
            .body_len = rq->body.len,
            .authorization =
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
            .revision = r.revision[i],
            .status = &status,
        };
        tries++;
        if (rt->peer_load) rt->peer_load(rt->ud, r.endpoint[i], 1);
        int pr_rc = proxy_forward(c, &pr, ret);
        if (rt->peer_load) rt->peer_load(rt->ud, r.endpoint[i], -1);
        if (pr_rc == PROXY_SENT) {
            mx_proxied(s->mx, status);
            if (klog_enabled(KLOG_INFO)) {
                char stt[12];
                snprintf(stt, sizeof stt, "%d", status);
                const char *kv2[] = {"path", rq->path, "model",       ar->model, "status",
                                     stt,    "peer",   r.endpoint[i], NULL};
                klog_kv(KLOG_INFO, "http", "request proxied", kv2);
            }
            return NULL;
        }
        const char *kv[] = {"model", ar->model, "peer", r.endpoint[i], NULL};
        klog_kv(KLOG_WARN, "router", "peer refused; trying another replica", kv);
    }
    snprintf(err, sizeof err, "no replica of model '%s' can take the request now; retry later",
             ar->model);
    *ret = send_error(s, c, rq, NULL, 503, err, NULL, "no_replica");
    return NULL;
}

static enum MHD_Result handle_completion(struct srv *s, struct MHD_Connection *c, struct req *rq)
{
    struct srv_model *held = NULL;
    enum api_kind kind = rq->route == ROUTE_CHAT ? API_CHAT : API_COMPLETION;
    struct api_req ar;
    char err[256];
    const char *param = NULL;
    struct abuf prompt;
    struct tmpl_out chat;
    int32_t *toks = NULL;
    struct job *j = NULL;
    enum MHD_Result ret = MHD_NO;
    abuf_init(&prompt, s->cfg.max_body * 2 + 4096);
    tmpl_out_init(&chat, s->cfg.max_body * 2 + 4096);
    memset(&ar, 0, sizeof ar);

    if (api_req_parse(kind, rq->body.data ? rq->body.data : "", rq->body.len, &s->cfg.lim, &ar, err,
                      sizeof err, &param) < 0) {
        ret = send_error(s, c, rq, NULL, 400, err, param, NULL);
        goto out;
    }
    struct srv_model *sm;
    if (s->cfg.router) {
        sm = cluster_pick(s, c, rq, &ar, &ret);
        if (!sm) goto out;
    } else {
        sm = find_model(s, ar.model);
        if (!sm) {
            snprintf(err, sizeof err, "The model '%s' does not exist", ar.model);
            ret = send_error(s, c, rq, NULL, 404, err, "model", "model_not_found");
            goto out;
        }
        atomic_fetch_add(&sm->users, 1);
    }
    held = sm;
    if (atomic_load(&s->draining)) {
        ret = send_error(s, c, rq, sm->mx, 503, "the server is shutting down", NULL, NULL);
        goto out;
    }
    if (!is_loaded(sm)) {
        snprintf(err, sizeof err, "model '%s' is still loading; retry later", sm->name);
        ret = send_error(s, c, rq, sm->mx, 503, err, "model", "model_loading");
        goto out;
    }
    if (kind == API_CHAT) {
        if (sm->tmpl == TMPL_NONE) {
            char msg[512];
            snprintf(msg, sizeof msg,
                     "model '%s' has no chat template this server recognises (markers seen: "
                     "%s); start the agent with --chat-template FAMILY or use /v1/completions",
                     sm->name, sm->tmpl_markers[0] ? sm->tmpl_markers : "none");
            ret = send_error(s, c, rq, sm->mx, 400, msg, "messages", "no_chat_template");
            goto out;
        }
        if (tmpl_render(sm->tmpl, ar.msgs, ar.n_msgs, &chat) < 0) {
            ret = send_error(s, c, rq, sm->mx, 413, "the rendered prompt is too large", "messages",
                             NULL);
            goto out;
        }
    } else if (abuf_puts(&prompt, ar.prompt) < 0) {
        ret = send_error(s, c, rq, sm->mx, 413, "the prompt is too large", "prompt", NULL);
        goto out;
    }

    int32_t cap = s->cfg.max_prompt_tokens + 1;
    toks = malloc(sizeof *toks * (size_t)cap);
    if (!toks) goto out;
    /* Chat: the template's markers become special tokens, message content
     * never does (tmpl_tokenize). A raw completion prompt is all client
     * text, tokenized as text (docs/agent.md says why). */
    int32_t n = kind == API_CHAT ? tmpl_tokenize(sm->model, &chat, LLM_TOKENIZE_BOS, toks, cap)
                                 : llm_tokenize_ex(sm->model, abuf_str(&prompt), prompt.len,
                                                   LLM_TOKENIZE_BOS, toks, cap);
    int32_t n_ctx = sched_n_ctx(sm->sched);
    if (n < 0) {
        snprintf(err, sizeof err, "cannot tokenize the prompt: %s", llm_strerror(n));
        ret =
            send_error(s, c, rq, sm->mx, 400, err, kind == API_CHAT ? "messages" : "prompt", NULL);
        goto out;
    }
    if (n > s->cfg.max_prompt_tokens || n >= n_ctx) {
        int32_t lim = s->cfg.max_prompt_tokens < n_ctx - 1 ? s->cfg.max_prompt_tokens : n_ctx - 1;
        snprintf(err, sizeof err, "the prompt is %d tokens, more than this server's limit of %d",
                 (int)n, (int)lim);
        ret = send_error(s, c, rq, sm->mx, 400, err, kind == API_CHAT ? "messages" : "prompt",
                         "context_length_exceeded");
        goto out;
    }

    for (int i = 0; i < ar.n_bias; i++) {
        if (ar.bias[i].token >= llm_model_n_vocab(sm->model)) {
            snprintf(err, sizeof err,
                     "'logit_bias' names token %d, but the model's vocabulary has %d tokens",
                     (int)ar.bias[i].token, (int)llm_model_n_vocab(sm->model));
            ret = send_error(s, c, rq, sm->mx, 400, err, "logit_bias", NULL);
            goto out;
        }
    }

    j = job_new();
    if (!j || job_set_prompt(j, toks, n) < 0) goto out;
    if (ar.n_bias > 0) {
        struct llm_logit_bias lb[API_MAX_LOGIT_BIAS];
        for (int i = 0; i < ar.n_bias; i++)
            lb[i] = (struct llm_logit_bias){ar.bias[i].token, ar.bias[i].bias};
        if (job_set_bias(j, lb, ar.n_bias) < 0) goto out;
    }
    j->max_tokens = ar.max_tokens < n_ctx - n ? ar.max_tokens : n_ctx - n;
    j->sp.temperature = ar.temperature;
    j->sp.top_p = ar.top_p;
    j->sp.top_k = 0;
    j->sp.min_p = 0;
    j->sp.repeat_penalty = 1.0f;
    j->sp.seed = ar.has_seed ? ar.seed : random_seed(s);
    j->t_arrival_ns = sched_clock_ns();
    for (int i = 0; i < ar.n_stop; i++)
        if (job_add_stop(j, ar.stop[i]) < 0) goto out;
    if (kind == API_CHAT && tmpl_stop(sm->tmpl) && job_add_stop(j, tmpl_stop(sm->tmpl)) < 0)
        goto out;

    int rc = sched_submit(sm->sched, j);
    if (rc == SCHED_ERR_FULL) {
        ret =
            send_error(s, c, rq, sm->mx, 429,
                       "too many requests queued for this model; retry later", NULL, "queue_full");
        goto out;
    }
    if (rc < 0) {
        ret = send_error(s, c, rq, sm->mx, 503, "the server is shutting down", NULL, NULL);
        goto out;
    }

    if (ar.stream) {
        struct stream *st = calloc(1, sizeof *st);
        if (!st) {
            sched_cancel(sm->sched, j);
            goto out;
        }
        st->srv = s;
        st->sm = sm;
        st->job = j;
        j = NULL;    /* the stream holds our reference now */
        held = NULL; /* ... and the model's users count */
        st->fd = conn_fd(c);
        make_id(s, kind, st->id, sizeof st->id);
        st->meta = (struct api_resp_meta){
            .kind = kind, .id = st->id, .created = (int64_t)time(NULL), .model = sm->name};
        st->include_usage = ar.include_usage;
        st->n_prompt = n;
        st->status = 200;
        memcpy(st->path, rq->path, sizeof st->path);
        st->t0_ns = rq->t0_ns;
        abuf_init(&st->pending, 0);
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
                                                                   stream_read, st, stream_free);
        if (!r) {
            stream_free(st);
            goto out;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        goto out;
    }

    if (!wait_job(sm, j, conn_fd(c))) {
        request_done(s, sm->mx, rq->path, JOB_STATUS_CANCELLED, n, j->n_gen, rq->t0_ns);
        ret = MHD_NO; /* nobody to answer: close the connection */
        goto out;
    }
    if (j->status) {
        ret = send_error(s, c, rq, sm->mx, j->status, j->errmsg, NULL, NULL);
        goto out;
    }
    struct abuf clean;
    abuf_init(&clean, 0);
    char id[48];
    make_id(s, kind, id, sizeof id);
    struct api_resp_meta meta = {
        .kind = kind, .id = id, .created = (int64_t)time(NULL), .model = sm->name};
    struct api_usage u = {.prompt_tokens = n, .completion_tokens = j->n_gen};
    char *body = NULL;
    if (text_utf8_sanitize(&clean, abuf_str(&j->out.text), j->out.text.len) == 0)
        body = api_resp_full(&meta, abuf_str(&clean), clean.len, j->finish, &u);
    abuf_deinit(&clean);
    if (!body) goto out;
    request_done(s, sm->mx, rq->path, 200, n, j->n_gen, rq->t0_ns);
    ret = send_buf(c, 200, "application/json", body, NULL, NULL);
out:
    job_unref(j);
    if (held) atomic_fetch_sub(&held->users, 1);
    free(toks);
    abuf_deinit(&prompt);
    tmpl_out_deinit(&chat);
    api_req_deinit(&ar);
    return ret;
}

/* ---- routing ---- */

static enum route route_of(const char *url)
{
    static const struct {
        const char *path;
        enum route r;
    } routes[] = {
        {"/healthz", ROUTE_HEALTHZ},
        {"/readyz", ROUTE_READYZ},
        {"/metrics", ROUTE_METRICS},
        {"/v1/models", ROUTE_MODELS},
        {"/v1/completions", ROUTE_COMPLETIONS},
        {"/v1/chat/completions", ROUTE_CHAT},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(url, routes[i].path) == 0) return routes[i].r;
    if (strncmp(url, MODEL_PREFIX, strlen(MODEL_PREFIX)) == 0) return ROUTE_MODEL;
    return ROUTE_NONE;
}

static bool ready(struct srv *s)
{
    if (atomic_load(&s->draining)) return false;
    if (s->cfg.router) return s->cfg.router->ready(s->cfg.router->ud);
    for (int i = 0; i < s->n_models; i++)
        if (!is_loaded(&s->models[i]) || !sched_healthy(s->models[i].sched)) return false;
    return true;
}

static enum MHD_Result handle_get(struct srv *s, struct MHD_Connection *c, const struct req *rq,
                                  const char *url)
{
    switch (rq->route) {
    case ROUTE_HEALTHZ: return send_buf(c, 200, "text/plain", strdup("ok\n"), NULL, NULL);
    case ROUTE_READYZ:
        if (ready(s)) return send_buf(c, 200, "text/plain", strdup("ready\n"), NULL, NULL);
        return send_buf(c, 503, "text/plain", strdup("not ready\n"), NULL, NULL);
    case ROUTE_METRICS: {
        struct abuf b;
        abuf_init(&b, 0);
        if (mx_render(s->mx, &b) < 0) {
            abuf_deinit(&b);
            return MHD_NO;
        }
        return send_buf(c, 200, "text/plain; version=0.0.4; charset=utf-8", abuf_take(&b), NULL,
                        NULL);
    }
    case ROUTE_MODEL: {
        const char *id = url + strlen(MODEL_PREFIX);
        bool known = false;
        if (s->cfg.router) {
            char(*ids)[256] = calloc(MX_MAX_MODELS * 4, sizeof *ids);
            int n = ids ? s->cfg.router->list(s->cfg.router->ud, ids, MX_MAX_MODELS * 4) : 0;
            for (int i = 0; i < n && !known; i++) known = strcmp(ids[i], id) == 0;
            free(ids);
        } else {
            known = is_loaded(find_model(s, id));
        }
        if (!known)
            return send_error(s, c, rq, NULL, 404, "The model does not exist", "model",
                              "model_not_found");
        return send_buf(c, 200, "application/json", api_model_json(id, (int64_t)time(NULL)), NULL,
                        NULL);
    }
    default: {
        if (s->cfg.router) {
            const int cap = MX_MAX_MODELS * 4;
            char(*names)[256] = calloc((size_t)cap, sizeof *names);
            const char **p = calloc((size_t)cap, sizeof *p);
            char *body = NULL;
            if (names && p) {
                int n = s->cfg.router->list(s->cfg.router->ud, names, cap);
                for (int i = 0; i < n; i++) p[i] = names[i];
                body = api_models_json(p, n, (int64_t)time(NULL));
            }
            free(p);
            free(names);
            if (!body) return MHD_NO;
            return send_buf(c, 200, "application/json", body, NULL, NULL);
        }
        const char *ids[MX_MAX_MODELS];
        int n = 0;
        for (int i = 0; i < s->n_models && n < MX_MAX_MODELS; i++)
            if (is_loaded(&s->models[i])) ids[n++] = s->models[i].name;
        return send_buf(c, 200, "application/json", api_models_json(ids, n, (int64_t)time(NULL)),
                        NULL, NULL);
    }
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct srv *s = cls;
    struct req *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq) return MHD_NO;
        rq->srv = s;
        rq->route = route_of(url);
        rq->t0_ns = sched_clock_ns();
        snprintf(rq->path, sizeof rq->path, "%s", url);
        abuf_init(&rq->body, s->cfg.max_body);
        *con_cls = rq;
        atomic_fetch_add(&s->active, 1);

        bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
        bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
        bool gen = rq->route == ROUTE_COMPLETIONS || rq->route == ROUTE_CHAT;
        if (rq->route == ROUTE_NONE) {
            rq->responded = true;
            return send_error(s, c, rq, NULL, 404, "unknown path", NULL, "not_found");
        }
        if ((gen && !post) || (!gen && !get)) {
            rq->responded = true;
            return send_error(s, c, rq, NULL, 405, "method not allowed", NULL, NULL);
        }
        bool v1 = rq->route == ROUTE_MODELS || rq->route == ROUTE_MODEL || gen;
        if (v1 && s->cfg.api_key &&
            !auth_check(
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
                s->cfg.api_key)) {
            rq->responded = true;
            return send_error(s, c, rq, NULL, 401, "missing or invalid API key", NULL,
                              "invalid_api_key");
        }
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (gen && cl) {
            char *end = NULL;
            errno = 0;
            unsigned long long len = strtoull(cl, &end, 10);
            if (errno || end == cl || len > s->cfg.max_body) {
                rq->responded = true;
                return send_error(s, c, rq, NULL, 413, "request body too large", NULL, NULL);
            }
        }
        return MHD_YES;
    }
    if (rq->responded) {
        *upload_data_size = 0; /* discard whatever of the body still arrives */
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!rq->too_big && abuf_append(&rq->body, upload_data, *upload_data_size) < 0)
            rq->too_big = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    rq->responded = true;
    if (rq->too_big) return send_error(s, c, rq, NULL, 413, "request body too large", NULL, NULL);
    if (rq->route == ROUTE_COMPLETIONS || rq->route == ROUTE_CHAT)
        return handle_completion(s, c, rq);
    return handle_get(s, c, rq, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct srv *s = cls;
    struct req *rq = *con_cls;
    if (!rq) return;
    abuf_deinit(&rq->body);
    free(rq);
    *con_cls = NULL;
    atomic_fetch_sub(&s->active, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n') line[--n] = '\0';
    klogf(KLOG_DEBUG, "http", "%s", line);
}

/* ---- lifecycle ---- */

struct srv *srv_new(const struct srv_config *cfg, struct srv_model *models, int n_models,
                    struct mx *mx, char *err, size_t errlen)
{
    struct srv *s = calloc(1, sizeof *s);
    struct addrinfo *ai = NULL;
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->models = models;
    s->n_models = n_models;
    s->mx = mx;
    atomic_init(&s->draining, false);
    atomic_init(&s->active, 0);
    atomic_init(&s->next_id, 1);

    struct sockaddr_in any4 = {.sin_family = AF_INET, .sin_port = htons(cfg->port)};
    const struct sockaddr *sa = (const struct sockaddr *)&any4;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (cfg->host && cfg->host[0]) {
        char port[8];
        snprintf(port, sizeof port, "%u", (unsigned)cfg->port);
        struct addrinfo hints = {.ai_family = AF_UNSPEC,
                                 .ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
        int gai = getaddrinfo(cfg->host, port, &hints, &ai);
        if (gai != 0) {
            snprintf(err, errlen, "cannot resolve listen host %s: %s", cfg->host,
                     gai_strerror(gai));
            goto fail;
        }
        sa = ai->ai_addr;
        if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    }
    /* The logger goes first so MHD reports everything after it through klog. */
    s->d = MHD_start_daemon(flags, cfg->port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
                            mhd_log, NULL, MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_CONNECTION_LIMIT,
                            cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen, "cannot listen on %s:%u (address in use or not permitted)",
                 cfg->host && cfg->host[0] ? cfg->host : "*", (unsigned)cfg->port);
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : cfg->port;
    freeaddrinfo(ai);
    return s;
fail:
    if (ai) freeaddrinfo(ai);
    free(s);
    return NULL;
}

uint16_t srv_port(const struct srv *s)
{
    return s->port;
}

void srv_quiesce(struct srv *s)
{
    atomic_store(&s->draining, true);
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET) close(fd);
}

int srv_active(const struct srv *s)
{
    return atomic_load(&s->active);
}

void srv_free(struct srv *s)
{
    if (!s) return;
    if (s->d) MHD_stop_daemon(s->d);
    free(s);
}
