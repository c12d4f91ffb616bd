/* op_spec: the checks of a Model spec that the CRD schema cannot express on
 * Kubernetes 1.20 (no CEL rules), and the parsing of its duration strings.
 *
 * The schema already enforces patterns, enums and minimums at `kubectl
 * apply`. What remains is cross-field: autoscaling.minReplicas <=
 * maxReplicas, and a sha256 for every http(s) source (the schema says so
 * too, with an anyOf whose error message is hard to read). The Model
 * controller calls op_model_validate before acting; on failure it sets
 * condition Degraded=True, reason InvalidSpec, with the message, and
 * changes nothing else.
 *
 * Threads: reentrant, no state. Strings are borrowed for the call.
 */
#ifndef OP_SPEC_H
#define OP_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The fields op_model_validate needs, as the controller parsed them. */
struct op_model_view {
    const char *uri;    /* spec.source.uri */
    const char *sha256; /* spec.source.sha256, or NULL */
    bool autoscaling;   /* spec.autoscaling present */
    int32_t min_replicas;
    int32_t max_replicas;
};

/* OP_OK, or OP_EINVAL with a one-line reason in msg (NUL-terminated when
 * msg_len > 0; msg may be NULL), e.g.
 * "spec.autoscaling.minReplicas (5) must not exceed maxReplicas (3)". */
int op_model_validate(const struct op_model_view *m, char *msg, size_t msg_len);

/* Parses a Go-style duration of the CRD's pattern ("90s", "5m", "1h30m",
 * "250ms") into milliseconds. OP_EINVAL when malformed or empty, OP_ERANGE
 * when above INT64_MAX ms; *out_ms untouched on error. */
int op_duration_parse_ms(const char *s, int64_t *out_ms);

#endif
