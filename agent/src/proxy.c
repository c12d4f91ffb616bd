/* proxy: a peer agent's answer streamed through a pipe (see proxy.h). */
#include "proxy.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#define PROXY_CONNECT_MS 2000L

/* Shared by the connection thread and the transfer thread. */
struct xfer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    CURL *curl;
    struct curl_slist *hdrs;
    char *body; /* copy: the request's buffer dies with the request */
    size_t body_len;
    int wfd;         /* pipe write end, owned by the transfer thread */
    bool started;    /* the first body bytes (or the end) arrived */
    bool decided;    /* the connection thread chose accept or reject */
    bool accept;     /* ... and it was accept */
    bool done;       /* transfer finished */
    long code;       /* peer HTTP status, 0 when none */
    char ctype[128]; /* peer Content-Type */
    char retry[16];  /* peer Retry-After */
};

static void xfer_unref(struct xfer *x)
{
    pthread_mutex_lock(&x->mu);
    int left = --x->refs;
    pthread_mutex_unlock(&x->mu);
    if (left) return;
    curl_slist_free_all(x->hdrs);
    curl_easy_cleanup(x->curl);
    free(x->body);
    pthread_cond_destroy(&x->cv);
    pthread_mutex_destroy(&x->mu);
    free(x);
}

/* Copies the value of header `name:` from line p into out if it is that header. */
static void header_value(const char *p, size_t len, const char *name, char *out, size_t cap,
                         pthread_mutex_t *mu)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(p, name, nl) != 0) return;
    const char *v = p + nl;
    size_t vl = len - nl;
    while (vl && (*v == ' ' || *v == '\t')) {
        v++;
        vl--;
    }
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) vl--;
    if (vl >= cap) return;
    pthread_mutex_lock(mu);
    memcpy(out, v, vl);
    out[vl] = '\0';
    pthread_mutex_unlock(mu);
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct xfer *x = arg;
    size_t len = size * n;
    header_value(p, len, "content-type:", x->ctype, sizeof x->ctype, &x->mu);
    header_value(p, len, "retry-after:", x->retry, sizeof x->retry, &x->mu);
    return len;
}

/* First bytes: hand the decision to the connection thread and wait for it. */
static bool wait_decision(struct xfer *x)
{
    long code = 0;
    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
    pthread_mutex_lock(&x->mu);
    x->code = code;
    x->started = true;
    pthread_cond_broadcast(&x->cv);
    while (!x->decided) pthread_cond_wait(&x->cv, &x->mu);
    bool ok = x->accept;
    pthread_mutex_unlock(&x->mu);
    return ok;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct xfer *x = arg;
    size_t len = size * n, off = 0;
    pthread_mutex_lock(&x->mu);
    bool started = x->started;
    pthread_mutex_unlock(&x->mu);
    if (!started && !wait_decision(x)) return 0; /* rejected: abort */
    while (off < len) {
        ssize_t w = write(x->wfd, p + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return 0; /* our client went away: abort upstream */
        off += (size_t)w;
    }
    return len;
}

static void *xfer_main(void *arg)
{
    struct xfer *x = arg;
    CURLcode cc = curl_easy_perform(x->curl);
    long code = 0;
    if (cc == CURLE_OK) curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
    pthread_mutex_lock(&x->mu);
    if (!x->started) x->code = code; /* an empty body: the status is all */
    x->done = true;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    close(x->wfd);
    xfer_unref(x);
    return NULL;
}

int proxy_forward(struct MHD_Connection *c, const struct proxy_req *pr, enum MHD_Result *ret)
{
    int fds[2] = {-1, -1};
    struct xfer *x = calloc(1, sizeof *x);
    char url[512], hdr[600];
    bool thread_started = false;
    int result = PROXY_REFUSED;
    if (!x) return PROXY_REFUSED;
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cv, NULL);
    x->refs = 1;
    x->wfd = -1;
    x->curl = curl_easy_init();
    x->body = malloc(pr->body_len + 1);
    if (!x->curl || !x->body || pipe(fds) != 0) goto out;
    memcpy(x->body, pr->body, pr->body_len);
    x->body_len = pr->body_len;
    x->wfd = fds[1];
    snprintf(url, sizeof url, "http://%s%s", pr->endpoint, pr->path);
    x->hdrs = curl_slist_append(x->hdrs, "Content-Type: application/json");
    x->hdrs = curl_slist_append(x->hdrs, "X-Kllm-Proxied: 1");
    x->hdrs = curl_slist_append(x->hdrs, "Expect:");
    if (pr->revision > 0) {
        snprintf(hdr, sizeof hdr, "X-Kllm-Revision: %d", (int)pr->revision);
        x->hdrs = curl_slist_append(x->hdrs, hdr);
    }
    if (pr->authorization && strlen(pr->authorization) < sizeof hdr - 32) {
        snprintf(hdr, sizeof hdr, "Authorization: %s", pr->authorization);
        x->hdrs = curl_slist_append(x->hdrs, hdr);
    }
    if (!x->hdrs) goto out;
    curl_easy_setopt(x->curl, CURLOPT_URL, url);
    curl_easy_setopt(x->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(x->curl, CURLOPT_POSTFIELDS, x->body);
    curl_easy_setopt(x->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
    curl_easy_setopt(x->curl, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(x->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(x->curl, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(x->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(x->curl, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->curl, CURLOPT_CONNECTTIMEOUT_MS, PROXY_CONNECT_MS);
    curl_easy_setopt(x->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->curl, CURLOPT_PROTOCOLS_STR, "http");

    pthread_t t;
    x->refs = 2;
    if (pthread_create(&t, NULL, xfer_main, x) != 0) {
        x->refs = 1;
        goto out;
    }
    pthread_detach(t);
    thread_started = true;
    fds[1] = -1; /* the transfer thread closes it */

    pthread_mutex_lock(&x->mu);
    while (!x->started && !x->done) pthread_cond_wait(&x->cv, &x->mu);
    long code = x->code;
    bool refused = code == 0 || code == 503;
    x->accept = !refused;
    x->decided = true;
    pthread_cond_broadcast(&x->cv);
    char ctype[128], retry[16];
    memcpy(ctype, x->ctype, sizeof ctype);
    memcpy(retry, x->retry, sizeof retry);
    pthread_mutex_unlock(&x->mu);
    if (refused) goto out;

    *pr->status = (int)code;
    struct MHD_Response *r = MHD_create_response_from_pipe(fds[0]);
    if (!r) goto out;
    fds[0] = -1; /* MHD closes it with the response */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype[0] ? ctype : "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    if (retry[0]) MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, retry);
    *ret = MHD_queue_response(c, (unsigned)code, r);
    MHD_destroy_response(r);
    result = PROXY_SENT;
out:
    if (fds[0] >= 0) close(fds[0]); /* a writer still running gets EPIPE and stops */
    if (!thread_started && fds[1] >= 0) close(fds[1]);
    xfer_unref(x);
    return result;
}
