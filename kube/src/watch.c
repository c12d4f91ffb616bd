/* watch.c: line splitting and event decoding of a watch stream, and the
 * single-stream kube_watch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/watch.h"

void kube_watch_decoder_init(struct kube_watch_decoder *d, size_t max_line, kube_event_fn fn,
                             void *ud)
{
    memset(d, 0, sizeof(*d));
    d->max_line = max_line ? max_line : (16u << 20);
    d->fn = fn;
    d->ud = ud;
}

void kube_watch_decoder_deinit(struct kube_watch_decoder *d)
{
    if (!d) return;
    free(d->buf);
    d->buf = NULL;
    d->len = d->cap = 0;
}

int kube_watch_parse_event(const char *line, size_t len, struct kube_event *ev)
{
    static const char *const names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
    int rc = KUBE_EPARSE;
    cJSON *j = cJSON_ParseWithLength(line, len);
    ev->object = NULL;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
    if (!cJSON_IsString(type)) goto out;
    for (int i = 0; i < 5; i++) {
        if (strcmp(type->valuestring, names[i]) == 0) {
            ev->type = (enum kube_event_type)i;
            ev->object = cJSON_DetachItemFromObjectCaseSensitive(j, "object");
            rc = cJSON_IsObject(ev->object) ? 0 : KUBE_EPARSE;
            break;
        }
    }
    if (rc) {
        cJSON_Delete(ev->object);
        ev->object = NULL;
    }
out:
    cJSON_Delete(j);
    return rc;
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return 0;
    return 1;
}

static int emit(struct kube_watch_decoder *d, const char *line, size_t n)
{
    struct kube_event ev;
    if (blank(line, n)) return 0;
    int rc = kube_watch_parse_event(line, n, &ev);
    if (rc) return rc;
    d->events++;
    rc = d->fn(d->ud, &ev);
    cJSON_Delete(ev.object);
    return rc;
}

int kube_watch_decoder_feed(struct kube_watch_decoder *d, const char *data, size_t len)
{
    int rc;
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        if (d->len + take > d->max_line) return KUBE_ETOOBIG;
        if (nl && d->len == 0) {
            /* Whole line inside this chunk: decode in place, no copy. */
            if ((rc = emit(d, data, take))) return rc;
        } else {
            if (d->len + take + 1 > d->cap) {
                size_t cap = d->cap ? d->cap : 4096;
                while (cap < d->len + take + 1) cap *= 2;
                char *b = realloc(d->buf, cap);
                if (!b) return KUBE_ENOMEM;
                d->buf = b;
                d->cap = cap;
            }
            memcpy(d->buf + d->len, data, take);
            d->len += take;
            if (nl) {
                size_t n = d->len;
                d->len = 0;
                if ((rc = emit(d, d->buf, n))) return rc;
            }
        }
        if (!nl) break;
        data += take + 1;
        len -= take + 1;
    }
    return 0;
}

int kube_watch_decoder_finish(struct kube_watch_decoder *d)
{
    size_t n = d->len;
    d->len = 0;
    return n ? emit(d, d->buf, n) : 0;
}

struct stream_ctx {
    struct kube_watch_decoder dec;
};

static int on_chunk(void *ud, const char *data, size_t len)
{
    struct stream_ctx *s = ud;
    return kube_watch_decoder_feed(&s->dec, data, len);
}

int kube_watch(struct kube_client *c, const struct kube_resource *r, const char *ns,
               const struct kube_watch_opts *o, kube_event_fn fn, void *ud, struct kube_status *st)
{
    char path[4096], esc[2048], num[32];
    struct stream_ctx s;
    int rc = kube_resource_path(r, ns, NULL, NULL, path, sizeof(path));
    if (rc) return rc;
    size_t l = strlen(path);
    l += (size_t)snprintf(path + l, sizeof(path) - l, "?watch=1");
    if (o && o->allow_bookmarks)
        l += (size_t)snprintf(path + l, sizeof(path) - l, "&allowWatchBookmarks=true");
    if (o && o->timeout_seconds > 0) {
        snprintf(num, sizeof(num), "%d", (int)o->timeout_seconds);
        l += (size_t)snprintf(path + l, sizeof(path) - l, "&timeoutSeconds=%s", num);
    }
    const char *keys[] = {"resourceVersion", "labelSelector", "fieldSelector"};
    const char *vals[] = {o ? o->resource_version : NULL, o ? o->label_selector : NULL,
                          o ? o->field_selector : NULL};
    for (int i = 0; i < 3; i++) {
        if (!vals[i] || !*vals[i]) continue;
        if ((rc = kube_query_escape(vals[i], esc, sizeof(esc)))) return rc;
        l += (size_t)snprintf(path + l, sizeof(path) - l, "&%s=%s", keys[i], esc);
    }
    if (l >= sizeof(path)) return KUBE_ETOOBIG;
    kube_watch_decoder_init(&s.dec, 0, fn, ud);
    rc = kube_client_stream(c, path, on_chunk, &s, o ? o->cancel : NULL, st);
    if (rc == 0) rc = kube_watch_decoder_finish(&s.dec);
    kube_watch_decoder_deinit(&s.dec);
    return rc;
}
