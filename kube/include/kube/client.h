/* kube/client.h: the REST client — libcurl transport and typed calls on
 * any group/version/resource.
 *
 * Example:
 *     struct kube_client *c;
 *     kube_client_new(&cfg, NULL, &c);
 *     static const struct kube_resource models = {"kllm.io", "v1alpha1", "models", 1};
 *     cJSON *obj = NULL;
 *     struct kube_status st;
 *     int rc = kube_get(c, &models, "team-a", "tinyllama", &obj, &st);
 *     if (rc == KUBE_ENOTFOUND) ...   // st.reason == "NotFound", st.message from the server
 *     cJSON_Delete(obj);
 *
 * Transport: one libcurl easy handle per call, taken from a pool so
 * connections (and TLS sessions) are reused; TLS is verified unless the
 * config says insecure-skip-tls-verify. A token file is re-read when its
 * mtime changes (service-account token rotation). Response bodies are
 * capped (kube_client_opts.max_body, default 64 MiB).
 *
 * Errors: every call returns 0 or a kube_err. For an HTTP error the code
 * is mapped (404 -> KUBE_ENOTFOUND, 409 -> KUBE_ECONFLICT or KUBE_EEXISTS,
 * 410 -> KUBE_EGONE, 403 -> KUBE_EFORBIDDEN, 422 -> KUBE_EINVALID, ...) and,
 * when st != NULL, *st holds the server's Status (code, reason, message).
 * On success st->code is the HTTP code. Objects returned in *out belong to
 * the caller (cJSON_Delete); objects passed in are only read.
 *
 * Threads: a kube_client may be used from any number of threads at once.
 * kube_client_free must run after every call on it has returned.
 */
#ifndef KUBE_CLIENT_H
#define KUBE_CLIENT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/base.h"
#include "kube/config.h"

struct kube_client;

struct kube_client_opts {
    struct kube_logger log;
    int64_t connect_timeout_ms; /* 0: 10 s */
    int64_t request_timeout_ms; /* 0: 60 s; not applied to watches */
    size_t max_body;            /* 0: 64 MiB */
    const char *user_agent;     /* NULL: "kllm-kube/<version>" */
};

/* The Status an API server sends with an error (or synthesised from the
 * HTTP code when the body is not a Status). */
struct kube_status {
    int32_t code;    /* HTTP status; 0 when no response arrived */
    char reason[64]; /* e.g. "NotFound", "Conflict", "Expired" */
    char message[512];
};

/* Which collection: group "" is the core group (/api/v1). */
struct kube_resource {
    const char *group;
    const char *version;
    const char *resource; /* plural, lower case */
    int namespaced;
};

/* cfg is copied. opts may be NULL. */
int kube_client_new(const struct kube_config *cfg, const struct kube_client_opts *opts,
                    struct kube_client **out);
void kube_client_free(struct kube_client *c);

/* "/apis/g/v/namespaces/ns/res/name/sub" into buf. ns ignored for
 * cluster-scoped resources; name and sub may be NULL. KUBE_ETOOBIG if it does
 * not fit. */
int kube_resource_path(const struct kube_resource *r, const char *ns, const char *name,
                       const char *sub, char *buf, size_t cap);

/* Percent-encode s for a query value into buf. */
int kube_query_escape(const char *s, char *buf, size_t cap);

/* Raw request. path includes the query. body may be NULL. On 2xx *out_body
 * (if given) is a NUL-terminated heap buffer the caller frees. */
int kube_client_do(struct kube_client *c, const char *method, const char *path,
                   const char *content_type, const char *body, size_t body_len, char **out_body,
                   size_t *out_len, struct kube_status *st);

/* Streaming GET: fn is called with each chunk as it arrives (on the calling
 * thread); a non-zero return from fn stops the stream and is returned.
 * *cancel (if given) is polled about once a second; when it becomes non-zero
 * the call returns KUBE_ECANCELED. Returns 0 when the server closes the
 * stream normally. A non-2xx answer is reported like kube_client_do. */
int kube_client_stream(struct kube_client *c, const char *path,
                       int (*fn)(void *ud, const char *data, size_t len), void *ud,
                       const volatile int *cancel, struct kube_status *st);

const struct kube_logger *kube_client_logger(const struct kube_client *c);

/* --- typed calls --- */

struct kube_list_opts {
    const char *label_selector; /* "a=b,c!=d" or NULL */
    const char *field_selector;
    int64_t limit;              /* page size; 0: no limit */
    const char *continue_token; /* from the previous page */
    const char *resource_version;
};

int kube_get(struct kube_client *c, const struct kube_resource *r, const char *ns, const char *name,
             cJSON **out, struct kube_status *st);
/* One page. *out is the List object: .items, .metadata.resourceVersion,
 * .metadata.continue (absent or "" on the last page). */
int kube_list(struct kube_client *c, const struct kube_resource *r, const char *ns,
              const struct kube_list_opts *o, cJSON **out, struct kube_status *st);
/* Every page, following continue; *items is a new JSON array, *rv the
 * collection's resourceVersion (heap). */
int kube_list_all(struct kube_client *c, const struct kube_resource *r, const char *ns,
                  const struct kube_list_opts *o, cJSON **items, char **rv, struct kube_status *st);
int kube_create(struct kube_client *c, const struct kube_resource *r, const char *ns,
                const cJSON *obj, cJSON **out, struct kube_status *st);
/* PUT; obj must carry metadata.resourceVersion for optimistic concurrency:
 * a stale one gives KUBE_ECONFLICT. sub: NULL or "status" / "scale". */
int kube_update(struct kube_client *c, const struct kube_resource *r, const char *ns,
                const char *name, const char *sub, const cJSON *obj, cJSON **out,
                struct kube_status *st);
/* DELETE with optional preconditions (uid / resourceVersion may be NULL). */
int kube_delete(struct kube_client *c, const struct kube_resource *r, const char *ns,
                const char *name, const char *precondition_uid, const char *precondition_rv,
                struct kube_status *st);
/* JSON merge patch (RFC 7386). sub may be NULL, "status" or "scale". */
int kube_patch_merge(struct kube_client *c, const struct kube_resource *r, const char *ns,
                     const char *name, const char *sub, const cJSON *patch, cJSON **out,
                     struct kube_status *st);
/* Server-side apply (PATCH application/apply-patch+yaml with a JSON body). */
int kube_apply(struct kube_client *c, const struct kube_resource *r, const char *ns,
               const char *name, const char *sub, const cJSON *obj, const char *field_manager,
               int force, cJSON **out, struct kube_status *st);
/* Scale subresource: read spec/status replicas, or set spec.replicas. */
int kube_get_scale(struct kube_client *c, const struct kube_resource *r, const char *ns,
                   const char *name, int32_t *spec_replicas, int32_t *status_replicas,
                   struct kube_status *st);
int kube_set_scale(struct kube_client *c, const struct kube_resource *r, const char *ns,
                   const char *name, int32_t replicas, struct kube_status *st);

/* Helpers for reading objects. NULL / 0 when absent. */
const char *kube_obj_str(const cJSON *obj, const char *dotted_path);
const char *kube_obj_name(const cJSON *obj);
const char *kube_obj_namespace(const cJSON *obj);
const char *kube_obj_rv(const cJSON *obj);
/* "ns/name" or "name" into buf; KUBE_ETOOBIG / KUBE_EINVAL. */
int kube_obj_key(const cJSON *obj, char *buf, size_t cap);

#endif
