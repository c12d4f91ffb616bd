/* client.c: libcurl transport (pooled easy handles, TLS from the config,
 * rotating token file) and the typed REST calls of kube/client.h. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kube/client.h"

#define POOL_MAX 16
#define PATH_MAX_LEN 4096
#define TOKEN_MAX (64 << 10)

struct kube_client {
    struct kube_config cfg; /* deep copy */
    struct kube_client_opts o;
    char user_agent[128];
    pthread_mutex_t mu; /* guards pool and token */
    CURL *pool[POOL_MAX];
    int npool;
    char *token;
    struct timespec token_mtime;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void logmsg(const struct kube_client *c, enum kube_log_level lvl, const char *msg,
                   const char *const *kv)
{
    if (c->o.log.fn) c->o.log.fn(c->o.log.ud, lvl, msg, kv);
}

const struct kube_logger *kube_client_logger(const struct kube_client *c)
{
    return &c->o.log;
}

static int dup_bytes(const unsigned char *src, size_t n, unsigned char **dst)
{
    *dst = NULL;
    if (!src) return 0;
    *dst = malloc(n + 1);
    if (!*dst) return KUBE_ENOMEM;
    memcpy(*dst, src, n);
    (*dst)[n] = 0;
    return 0;
}

static int dup_s(const char *s, char **d)
{
    *d = NULL;
    if (!s) return 0;
    *d = strdup(s);
    return *d ? 0 : KUBE_ENOMEM;
}

static char *trim_token(char *t)
{
    size_t n = strlen(t);
    while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == ' ')) t[--n] = '\0';
    return t;
}

int kube_client_new(const struct kube_config *cfg, const struct kube_client_opts *opts,
                    struct kube_client **out)
{
    int rc = 0;
    struct kube_client *c = NULL;
    if (!cfg || !cfg->server || !out) return KUBE_EINVAL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) return KUBE_EIO;
    c = calloc(1, sizeof(*c));
    if (!c) return KUBE_ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    if (opts) c->o = *opts;
    if (c->o.connect_timeout_ms <= 0) c->o.connect_timeout_ms = 10000;
    if (c->o.request_timeout_ms <= 0) c->o.request_timeout_ms = 60000;
    if (c->o.max_body == 0) c->o.max_body = 64u << 20;
    snprintf(c->user_agent, sizeof(c->user_agent), "%s",
             c->o.user_agent ? c->o.user_agent : "kllm-kube/" KLLM_VERSION);
    c->o.user_agent = NULL;
    c->cfg.insecure_skip_tls_verify = cfg->insecure_skip_tls_verify;
    c->cfg.ca_len = cfg->ca_len;
    c->cfg.cert_len = cfg->cert_len;
    c->cfg.key_len = cfg->key_len;
    if ((rc = dup_s(cfg->server, &c->cfg.server)) || (rc = dup_s(cfg->ca_file, &c->cfg.ca_file)) ||
        (rc = dup_bytes(cfg->ca_data, cfg->ca_len, &c->cfg.ca_data)) ||
        (rc = dup_s(cfg->cert_file, &c->cfg.cert_file)) ||
        (rc = dup_bytes(cfg->cert_data, cfg->cert_len, &c->cfg.cert_data)) ||
        (rc = dup_s(cfg->key_file, &c->cfg.key_file)) ||
        (rc = dup_bytes(cfg->key_data, cfg->key_len, &c->cfg.key_data)) ||
        (rc = dup_s(cfg->token, &c->cfg.token)) ||
        (rc = dup_s(cfg->token_file, &c->cfg.token_file)) ||
        (rc = dup_s(cfg->namespace_, &c->cfg.namespace_)))
        goto out;
    if (c->cfg.token) {
        c->token = strdup(c->cfg.token);
        if (!c->token) {
            rc = KUBE_ENOMEM;
            goto out;
        }
        trim_token(c->token);
    }
    *out = c;
    c = NULL;
out:
    kube_client_free(c);
    return rc;
}

void kube_client_free(struct kube_client *c)
{
    if (!c) return;
    for (int i = 0; i < c->npool; i++) curl_easy_cleanup(c->pool[i]);
    kube_config_deinit(&c->cfg);
    free(c->token);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Re-read the token file when it changed; copy the current token into
 * "Authorization: Bearer ..." (heap) or set *hdr NULL when there is none. */
static int auth_header(struct kube_client *c, char **hdr)
{
    int rc = 0;
    struct stat sb;
    *hdr = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->cfg.token_file && stat(c->cfg.token_file, &sb) == 0 &&
        (sb.st_mtim.tv_sec != c->token_mtime.tv_sec ||
         sb.st_mtim.tv_nsec != c->token_mtime.tv_nsec || !c->token)) {
        char *t = NULL;
        if (kube_read_file(c->cfg.token_file, TOKEN_MAX, &t, NULL) == 0) {
            free(c->token);
            c->token = trim_token(t);
            c->token_mtime = sb.st_mtim;
        } else {
            logmsg(c, KUBE_LOG_WARN, "cannot re-read token file",
                   (const char *const[]){"path", c->cfg.token_file, NULL});
        }
    }
    if (c->token && *c->token) {
        size_t n = strlen(c->token) + 32;
        *hdr = malloc(n);
        if (*hdr)
            snprintf(*hdr, n, "Authorization: Bearer %s", c->token);
        else
            rc = KUBE_ENOMEM;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static CURL *handle_take(struct kube_client *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->npool > 0) h = c->pool[--c->npool];
    pthread_mutex_unlock(&c->mu);
    if (h)
        curl_easy_reset(h); /* options only; live connections and TLS sessions are kept */
    else
        h = curl_easy_init();
    return h;
}

static void handle_give(struct kube_client *c, CURL *h)
{
    if (!h) return;
    pthread_mutex_lock(&c->mu);
    if (c->npool < POOL_MAX) {
        c->pool[c->npool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    if (h) curl_easy_cleanup(h);
}

static int setup_tls(struct kube_client *c, CURL *h)
{
    const struct kube_config *k = &c->cfg;
    CURLcode e = CURLE_OK;
    if (k->insecure_skip_tls_verify) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    }
    if (k->ca_data) {
        struct curl_blob b = {k->ca_data, k->ca_len, CURL_BLOB_NOCOPY};
        e = curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
    } else if (k->ca_file) {
        e = curl_easy_setopt(h, CURLOPT_CAINFO, k->ca_file);
    }
    if (e != CURLE_OK) return KUBE_ECONFIG;
    if (k->cert_data) {
        struct curl_blob b = {k->cert_data, k->cert_len, CURL_BLOB_NOCOPY};
        e = curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
    } else if (k->cert_file) {
        e = curl_easy_setopt(h, CURLOPT_SSLCERT, k->cert_file);
    }
    if (e != CURLE_OK) return KUBE_ECONFIG;
    if (k->key_data) {
        struct curl_blob b = {k->key_data, k->key_len, CURL_BLOB_NOCOPY};
        e = curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
    } else if (k->key_file) {
        e = curl_easy_setopt(h, CURLOPT_SSLKEY, k->key_file);
    }
    curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    return e == CURLE_OK ? 0 : KUBE_ECONFIG;
}

/* What the write callback fills. When fn is set and the answer is 2xx,
 * chunks stream to fn; otherwise they collect in buf (capped). */
struct sink {
    CURL *h;
    char *buf;
    size_t len, cap, max;
    int too_big;
    int (*fn)(void *ud, const char *data, size_t len);
    void *ud;
    int fn_rc;
    const volatile int *cancel;
    int canceled;
};

static size_t on_write(char *data, size_t size, size_t nmemb, void *p)
{
    struct sink *s = p;
    size_t n = size * nmemb;
    if (s->fn) {
        long code = 0;
        curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200 && code < 300) {
            s->fn_rc = s->fn(s->ud, data, n);
            return s->fn_rc ? 0 : n;
        }
    }
    if (s->len + n + 1 > s->max) {
        s->too_big = 1;
        return 0;
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 16384;
        while (cap < s->len + n + 1) cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b) {
            s->too_big = 1;
            return 0;
        }
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

static int on_progress(void *p, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
    struct sink *s = p;
    if (s->cancel && *s->cancel) {
        s->canceled = 1;
        return 1;
    }
    return 0;
}

static void status_set(struct kube_status *st, int32_t code, const char *reason,
                       const char *message)
{
    if (!st) return;
    st->code = code;
    snprintf(st->reason, sizeof(st->reason), "%s", reason ? reason : "");
    snprintf(st->message, sizeof(st->message), "%s", message ? message : "");
}

static int map_http(long code, const char *reason)
{
    if (code >= 200 && code < 300) return 0;
    switch (code) {
    case 401: return KUBE_EUNAUTHORIZED;
    case 403: return KUBE_EFORBIDDEN;
    case 404: return KUBE_ENOTFOUND;
    case 409: return reason && strcmp(reason, "AlreadyExists") == 0 ? KUBE_EEXISTS : KUBE_ECONFLICT;
    case 410: return KUBE_EGONE;
    case 422: return KUBE_EINVALID;
    case 429: return KUBE_ETHROTTLED;
    default: return code >= 500 ? KUBE_ESERVER : KUBE_EHTTP;
    }
}

/* Fill st from a Status body if there is one; return the mapped error. */
static int http_error(long code, const char *body, struct kube_status *st)
{
    char reason[64] = "", msg[512] = "";
    cJSON *j = body ? cJSON_Parse(body) : NULL;
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
    if (cJSON_IsString(kind) && strcmp(kind->valuestring, "Status") == 0) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "reason");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
        if (cJSON_IsString(r)) snprintf(reason, sizeof(reason), "%s", r->valuestring);
        if (cJSON_IsString(m)) snprintf(msg, sizeof(msg), "%s", m->valuestring);
    } else if (body) {
        snprintf(msg, sizeof(msg), "%.200s", body);
    }
    cJSON_Delete(j);
    status_set(st, (int32_t)code, reason, msg);
    return map_http(code, reason);
}

static int perform(struct kube_client *c, const char *method, const char *path,
                   const char *content_type, const char *body, size_t body_len, struct sink *s,
                   int streaming, struct kube_status *st)
{
    int rc = 0;
    CURL *h = NULL;
    struct curl_slist *hdrs = NULL, *t;
    char *auth = NULL, *url = NULL, ct[128], errbuf[CURL_ERROR_SIZE] = "";
    long code = 0;

    status_set(st, 0, "", "");
    if (!path || path[0] != '/') return KUBE_EINVAL;
    if ((rc = auth_header(c, &auth))) goto out;
    size_t ul = strlen(c->cfg.server) + strlen(path) + 1;
    url = malloc(ul);
    h = handle_take(c);
    if (!url || !h) {
        rc = KUBE_ENOMEM;
        goto out;
    }
    snprintf(url, ul, "%s%s", c->cfg.server, path);
    s->h = h;
    t = curl_slist_append(hdrs, "Accept: application/json");
    if (t) hdrs = t;
    if (content_type) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
        t = curl_slist_append(hdrs, ct);
        if (t) hdrs = t;
    }
    if (auth) {
        t = curl_slist_append(hdrs, auth);
        if (t) hdrs = t;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->o.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* gzip when the server offers */
    if (!streaming) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->o.request_timeout_ms);
    if (s->cancel) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, s);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    if ((rc = setup_tls(c, h))) goto out;
    CURLcode e = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (s->canceled) {
        rc = KUBE_ECANCELED;
        status_set(st, (int32_t)code, "Canceled", "canceled by caller");
    } else if (s->fn_rc) {
        rc = s->fn_rc;
        status_set(st, (int32_t)code, "", "stopped by handler");
    } else if (s->too_big) {
        rc = KUBE_ETOOBIG;
        status_set(st, (int32_t)code, "TooBig", "response exceeds the size cap");
    } else if (e != CURLE_OK) {
        rc = e == CURLE_OPERATION_TIMEDOUT ? KUBE_ETIMEDOUT : KUBE_EIO;
        status_set(st, 0, "Transport", errbuf[0] ? errbuf : curl_easy_strerror(e));
        logmsg(c, KUBE_LOG_DEBUG, "request failed",
               (const char *const[]){"method", method, "path", path, "error",
                                     st ? st->message : curl_easy_strerror(e), NULL});
    } else if (code < 200 || code >= 300) {
        rc = http_error(code, s->buf, st);
    } else {
        status_set(st, (int32_t)code, "", "");
    }
out:
    curl_slist_free_all(hdrs);
    if (h) {
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
        handle_give(c, h);
    }
    free(url);
    free(auth);
    return rc;
}

int kube_client_do(struct kube_client *c, const char *method, const char *path,
                   const char *content_type, const char *body, size_t body_len, char **out_body,
                   size_t *out_len, struct kube_status *st)
{
    struct sink s = {0};
    if (!c || !method) return KUBE_EINVAL;
    s.max = c->o.max_body;
    int rc = perform(c, method, path, content_type, body, body_len, &s, 0, st);
    if (rc == 0 && out_body) {
        if (!s.buf) {
            s.buf = calloc(1, 1);
            if (!s.buf) return KUBE_ENOMEM;
        }
        *out_body = s.buf;
        if (out_len) *out_len = s.len;
        s.buf = NULL;
    }
    free(s.buf);
    return rc;
}

int kube_client_stream(struct kube_client *c, const char *path,
                       int (*fn)(void *ud, const char *data, size_t len), void *ud,
                       const volatile int *cancel, struct kube_status *st)
{
    struct sink s = {0};
    if (!c || !fn) return KUBE_EINVAL;
    s.max = 1 << 20; /* error bodies only */
    s.fn = fn;
    s.ud = ud;
    s.cancel = cancel;
    int rc = perform(c, "GET", path, NULL, NULL, 0, &s, 1, st);
    free(s.buf);
    return rc;
}

/* --- paths --- */

int kube_query_escape(const char *s, char *buf, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        int plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~';
        if (o + (plain ? 1 : 3) >= cap) return KUBE_ETOOBIG;
        if (plain) {
            buf[o++] = (char)ch;
        } else {
            buf[o++] = '%';
            buf[o++] = hex[ch >> 4];
            buf[o++] = hex[ch & 15];
        }
    }
    if (o >= cap) return KUBE_ETOOBIG;
    buf[o] = '\0';
    return 0;
}

int kube_resource_path(const struct kube_resource *r, const char *ns, const char *name,
                       const char *sub, char *buf, size_t cap)
{
    int n;
    if (!r || !r->version || !r->resource || !buf) return KUBE_EINVAL;
    if (r->group && *r->group)
        n = snprintf(buf, cap, "/apis/%s/%s", r->group, r->version);
    else
        n = snprintf(buf, cap, "/api/%s", r->version);
    if (r->namespaced && ns && *ns)
        n += snprintf(buf + n, cap > (size_t)n ? cap - (size_t)n : 0, "/namespaces/%s", ns);
    n += snprintf(buf + n, cap > (size_t)n ? cap - (size_t)n : 0, "/%s", r->resource);
    if (name) n += snprintf(buf + n, cap > (size_t)n ? cap - (size_t)n : 0, "/%s", name);
    if (name && sub) n += snprintf(buf + n, cap > (size_t)n ? cap - (size_t)n : 0, "/%s", sub);
    return (size_t)n < cap ? 0 : KUBE_ETOOBIG;
}

/* Append "&key=escaped(value)" (or "?..." for the first) to buf. */
static int add_query(char *buf, size_t cap, const char *key, const char *value)
{
    char esc[2048];
    if (!value || !*value) return 0;
    int rc = kube_query_escape(value, esc, sizeof(esc));
    if (rc) return rc;
    size_t l = strlen(buf);
    int n = snprintf(buf + l, cap - l, "%c%s=%s", strchr(buf, '?') ? '&' : '?', key, esc);
    return n > 0 && (size_t)n < cap - l ? 0 : KUBE_ETOOBIG;
}

static int parse_body(char *body, cJSON **out)
{
    if (!out) return 0;
    *out = cJSON_Parse(body);
    return *out ? 0 : KUBE_EPARSE;
}

static int call_json(struct kube_client *c, const char *method, const char *path, const char *ctype,
                     const cJSON *obj, cJSON **out, struct kube_status *st)
{
    char *req = NULL, *resp = NULL;
    int rc = 0;
    if (out) *out = NULL;
    if (obj) {
        req = cJSON_PrintUnformatted(obj);
        if (!req) return KUBE_ENOMEM;
    }
    rc = kube_client_do(c, method, path, ctype, req, req ? strlen(req) : 0, &resp, NULL, st);
    if (rc == 0) rc = parse_body(resp, out);
    free(req);
    free(resp);
    return rc;
}

int kube_get(struct kube_client *c, const struct kube_resource *r, const char *ns, const char *name,
             cJSON **out, struct kube_status *st)
{
    char path[PATH_MAX_LEN];
    int rc = kube_resource_path(r, ns, name, NULL, path, sizeof(path));
    return rc ? rc : call_json(c, "GET", path, NULL, NULL, out, st);
}

static int list_path(const struct kube_resource *r, const char *ns, const struct kube_list_opts *o,
                     char *path, size_t cap)
{
    char num[32];
    int rc = kube_resource_path(r, ns, NULL, NULL, path, cap);
    if (rc || !o) return rc;
    if ((rc = add_query(path, cap, "labelSelector", o->label_selector)) ||
        (rc = add_query(path, cap, "fieldSelector", o->field_selector)) ||
        (rc = add_query(path, cap, "continue", o->continue_token)) ||
        (rc = add_query(path, cap, "resourceVersion", o->resource_version)))
        return rc;
    if (o->limit > 0) {
        snprintf(num, sizeof(num), "%lld", (long long)o->limit);
        rc = add_query(path, cap, "limit", num);
    }
    return rc;
}

int kube_list(struct kube_client *c, const struct kube_resource *r, const char *ns,
              const struct kube_list_opts *o, cJSON **out, struct kube_status *st)
{
    char path[PATH_MAX_LEN];
    int rc = list_path(r, ns, o, path, sizeof(path));
    return rc ? rc : call_json(c, "GET", path, NULL, NULL, out, st);
}

int kube_list_all(struct kube_client *c, const struct kube_resource *r, const char *ns,
                  const struct kube_list_opts *o, cJSON **items, char **rv, struct kube_status *st)
{
    int rc = 0;
    struct kube_list_opts lo = {0};
    cJSON *all = cJSON_CreateArray(), *page = NULL;
    char *cont = NULL;
    *items = NULL;
    if (rv) *rv = NULL;
    if (!all) return KUBE_ENOMEM;
    if (o) lo = *o;
    for (;;) {
        lo.continue_token = cont;
        rc = kube_list(c, r, ns, &lo, &page, st);
        if (rc) goto out;
        cJSON *its = cJSON_DetachItemFromObjectCaseSensitive(page, "items");
        cJSON *it = its ? its->child : NULL;
        while (it) {
            cJSON *next = it->next;
            cJSON_AddItemToArray(all, cJSON_DetachItemViaPointer(its, it));
            it = next;
        }
        cJSON_Delete(its);
        const char *prv = kube_obj_str(page, "metadata.resourceVersion");
        const char *pc = kube_obj_str(page, "metadata.continue");
        if (rv && prv) {
            free(*rv);
            *rv = strdup(prv);
            if (!*rv) {
                rc = KUBE_ENOMEM;
                goto out;
            }
        }
        free(cont);
        cont = pc && *pc ? strdup(pc) : NULL;
        cJSON_Delete(page);
        page = NULL;
        if (!cont) break;
        /* Later pages are served from the same snapshot; no rv with continue. */
        lo.resource_version = NULL;
    }
    *items = all;
    all = NULL;
out:
    cJSON_Delete(page);
    cJSON_Delete(all);
    free(cont);
    if (rc && rv) {
        free(*rv);
        *rv = NULL;
    }
    return rc;
}

int kube_create(struct kube_client *c, const struct kube_resource *r, const char *ns,
                const cJSON *obj, cJSON **out, struct kube_status *st)
{
    char path[PATH_MAX_LEN];
    int rc = kube_resource_path(r, ns, NULL, NULL, path, sizeof(path));
    return rc ? rc : call_json(c, "POST", path, "application/json", obj, out, st);
}

int kube_update(struct kube_client *c, const struct kube_resource *r, const char *ns,
                const char *name, const char *sub, const cJSON *obj, cJSON **out,
                struct kube_status *st)
{
    char path[PATH_MAX_LEN];
    if (!name) return KUBE_EINVAL;
    int rc = kube_resource_path(r, ns, name, sub, path, sizeof(path));
    return rc ? rc : call_json(c, "PUT", path, "application/json", obj, out, st);
}

int kube_delete(struct kube_client *c, const struct kube_resource *r, const char *ns,
                const char *name, const char *precondition_uid, const char *precondition_rv,
                struct kube_status *st)
{
    char path[PATH_MAX_LEN];
    int rc = 0;
    cJSON *opts = NULL;
    if (!name) return KUBE_EINVAL;
    if ((rc = kube_resource_path(r, ns, name, NULL, path, sizeof(path)))) return rc;
    if (precondition_uid || precondition_rv) {
        opts = cJSON_CreateObject();
        cJSON *pre = cJSON_AddObjectToObject(opts, "preconditions");
        if (!pre) {
            rc = KUBE_ENOMEM;
            goto out;
        }
        cJSON_AddStringToObject(opts, "kind", "DeleteOptions");
        cJSON_AddStringToObject(opts, "apiVersion", "v1");
        if (precondition_uid) cJSON_AddStringToObject(pre, "uid", precondition_uid);
        if (precondition_rv) cJSON_AddStringToObject(pre, "resourceVersion", precondition_rv);
    }
    rc = call_json(c, "DELETE", path, opts ? "application/json" : NULL, opts, NULL, st);
out:
    cJSON_Delete(opts);
    return rc;
}

int kube_patch_merge(struct kube_client *c, const struct kube_resource *r, const char *ns,
                     const char *name, const char *sub, const cJSON *patch, cJSON **out,
                     struct kube_status *st)
{
    char path[PATH_MAX_LEN];
    if (!name || !patch) return KUBE_EINVAL;
    int rc = kube_resource_path(r, ns, name, sub, path, sizeof(path));
    return rc ? rc : call_json(c, "PATCH", path, "application/merge-patch+json", patch, out, st);
}

int kube_apply(struct kube_client *c, const struct kube_resource *r, const char *ns,
               const char *name, const char *sub, const cJSON *obj, const char *field_manager,
               int force, cJSON **out, struct kube_status *st)
{
    char path[PATH_MAX_LEN];
    if (!name || !obj || !field_manager) return KUBE_EINVAL;
    int rc = kube_resource_path(r, ns, name, sub, path, sizeof(path));
    if (!rc) rc = add_query(path, sizeof(path), "fieldManager", field_manager);
    if (!rc && force) rc = add_query(path, sizeof(path), "force", "true");
    /* JSON is YAML, so the apply body can be the object as JSON. */
    return rc ? rc : call_json(c, "PATCH", path, "application/apply-patch+yaml", obj, out, st);
}

int kube_get_scale(struct kube_client *c, const struct kube_resource *r, const char *ns,
                   const char *name, int32_t *spec_replicas, int32_t *status_replicas,
                   struct kube_status *st)
{
    char path[PATH_MAX_LEN];
    cJSON *s = NULL;
    int rc = kube_resource_path(r, ns, name, "scale", path, sizeof(path));
    if (!rc) rc = call_json(c, "GET", path, NULL, NULL, &s, st);
    if (rc) return rc;
    const cJSON *sp =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(s, "spec"), "replicas");
    const cJSON *ss =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(s, "status"), "replicas");
    if (spec_replicas) *spec_replicas = cJSON_IsNumber(sp) ? (int32_t)sp->valuedouble : 0;
    if (status_replicas) *status_replicas = cJSON_IsNumber(ss) ? (int32_t)ss->valuedouble : 0;
    cJSON_Delete(s);
    return 0;
}

int kube_set_scale(struct kube_client *c, const struct kube_resource *r, const char *ns,
                   const char *name, int32_t replicas, struct kube_status *st)
{
    int rc = 0;
    cJSON *p = cJSON_CreateObject(), *spec = cJSON_AddObjectToObject(p, "spec");
    if (!spec || !cJSON_AddNumberToObject(spec, "replicas", replicas)) {
        rc = KUBE_ENOMEM;
        goto out;
    }
    rc = kube_patch_merge(c, r, ns, name, "scale", p, NULL, st);
out:
    cJSON_Delete(p);
    return rc;
}

/* --- object helpers --- */

const char *kube_obj_str(const cJSON *obj, const char *dotted_path)
{
    char part[128];
    const char *p = dotted_path;
    const cJSON *cur = obj;
    while (cur && *p) {
        size_t n = strcspn(p, ".");
        if (n >= sizeof(part)) return NULL;
        memcpy(part, p, n);
        part[n] = '\0';
        cur = cJSON_GetObjectItemCaseSensitive(cur, part);
        p += n;
        if (*p == '.') p++;
    }
    return cJSON_IsString(cur) ? cur->valuestring : NULL;
}

const char *kube_obj_name(const cJSON *obj)
{
    return kube_obj_str(obj, "metadata.name");
}
const char *kube_obj_namespace(const cJSON *obj)
{
    return kube_obj_str(obj, "metadata.namespace");
}
const char *kube_obj_rv(const cJSON *obj)
{
    return kube_obj_str(obj, "metadata.resourceVersion");
}

int kube_obj_key(const cJSON *obj, char *buf, size_t cap)
{
    const char *name = kube_obj_name(obj), *ns = kube_obj_namespace(obj);
    int n;
    if (!name) return KUBE_EINVAL;
    if (ns && *ns)
        n = snprintf(buf, cap, "%s/%s", ns, name);
    else
        n = snprintf(buf, cap, "%s", name);
    return n >= 0 && (size_t)n < cap ? 0 : KUBE_ETOOBIG;
}
