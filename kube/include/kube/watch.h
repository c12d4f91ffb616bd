/* kube/watch.h: one watch stream, decoded as it arrives.
 *
 * The API server answers a watch with a chunked stream of JSON objects,
 * one per line: {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}.
 * kube_watch_decoder splits bytes into lines wherever the chunks happen to
 * break (inside a line, inside a UTF-8 sequence, several lines per chunk),
 * parses each line with cJSON and hands the event to a callback. A line is
 * capped (max_line) so a hostile or broken server cannot grow memory.
 *
 * kube_watch runs one stream (GET ...?watch=1) until the server ends it,
 * the handler stops it, or *cancel becomes non-zero. Resuming after a drop,
 * re-listing after 410 Gone and backoff live one level up, in the informer
 * (kube/informer.h), which is what programs should use.
 *
 * Ownership: ev->object belongs to the decoder and is freed after the
 * handler returns, unless the handler takes it by setting ev->object = NULL.
 * Threads: a decoder belongs to one thread; kube_watch runs the handler on
 * the calling thread.
 */
#ifndef KUBE_WATCH_H
#define KUBE_WATCH_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/client.h"

enum kube_event_type {
    KUBE_EVENT_ADDED = 0,
    KUBE_EVENT_MODIFIED = 1,
    KUBE_EVENT_DELETED = 2,
    KUBE_EVENT_BOOKMARK = 3, /* object carries only metadata.resourceVersion */
    KUBE_EVENT_ERROR = 4,    /* object is a Status; code 410 means re-list */
};

struct kube_event {
    enum kube_event_type type;
    cJSON *object;
};

/* Return 0 to continue; anything else stops decoding and is passed back. */
typedef int (*kube_event_fn)(void *ud, struct kube_event *ev);

struct kube_watch_decoder {
    char *buf;
    size_t len, cap, max_line;
    kube_event_fn fn;
    void *ud;
    uint64_t events; /* decoded so far */
};

/* max_line 0: 16 MiB. */
void kube_watch_decoder_init(struct kube_watch_decoder *d, size_t max_line, kube_event_fn fn,
                             void *ud);
/* 0, KUBE_EPARSE (a line is not a watch event), KUBE_ETOOBIG, KUBE_ENOMEM,
 * or the handler's non-zero return. After an error the decoder must be
 * reset (deinit + init). */
int kube_watch_decoder_feed(struct kube_watch_decoder *d, const char *data, size_t len);
/* End of stream: a trailing line without '\n' is decoded; 0 or as feed. */
int kube_watch_decoder_finish(struct kube_watch_decoder *d);
void kube_watch_decoder_deinit(struct kube_watch_decoder *d);

/* Parse one event line (exposed for tests). *ev->object owned by caller. */
int kube_watch_parse_event(const char *line, size_t len, struct kube_event *ev);

struct kube_watch_opts {
    const char *resource_version; /* start after this; NULL/"": server's choice */
    const char *label_selector;
    const char *field_selector;
    int allow_bookmarks;
    int32_t timeout_seconds; /* server-side end of the stream; 0: server default */
    const volatile int *cancel;
};

/* Run one watch stream. Returns 0 when the server closed it cleanly, the
 * handler's non-zero value, KUBE_ECANCELED, or a transport/HTTP error (a
 * 410 at the start is KUBE_EGONE). ERROR events are passed to the handler;
 * they do not end the call by themselves. */
int kube_watch(struct kube_client *c, const struct kube_resource *r, const char *ns,
               const struct kube_watch_opts *o, kube_event_fn fn, void *ud, struct kube_status *st);

#endif
