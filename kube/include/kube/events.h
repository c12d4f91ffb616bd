/* kube/events.h: an Event recorder (core/v1 Events, what `kubectl
 * describe` shows).
 *
 * kube_recorder_event writes one Event about an object. Repeats of the same
 * (object, type, reason, message) are aggregated like kubectl expects: the
 * existing Event's count goes up and lastTimestamp moves, instead of a new
 * Event each time. The recorder remembers up to 4096 recent Events; if the
 * server has already expired one (404 on the patch) a new one is created.
 *
 * Threads: any thread; calls are synchronous (one or two HTTP requests) and
 * serialised by the recorder. Recording is best effort: the return code is
 * for logging, callers normally ignore it.
 */
#ifndef KUBE_EVENTS_H
#define KUBE_EVENTS_H

#include "kube/client.h"

struct kube_recorder;

/* What the Event is about (involvedObject). Strings are read, not kept. */
struct kube_object_ref {
    const char *api_version; /* e.g. "kllm.io/v1alpha1" */
    const char *kind;        /* e.g. "Model" */
    const char *ns;          /* NULL for cluster-scoped: Event goes to "default" */
    const char *name;
    const char *uid; /* may be NULL */
};

/* component: the reporting controller (source.component, e.g.
 * "kllm-operator"); host: source.host, may be NULL. */
int kube_recorder_new(struct kube_client *c, const char *component, const char *host,
                      struct kube_recorder **out);
void kube_recorder_free(struct kube_recorder *r);

/* type: "Normal" or "Warning"; reason: UpperCamelCase; message: free text
 * (truncated to 1024 bytes). */
int kube_recorder_event(struct kube_recorder *r, const struct kube_object_ref *ref,
                        const char *type, const char *reason, const char *message);

#endif
