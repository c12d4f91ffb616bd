/* spec.c: cross-field Model checks and duration parsing (op_spec.h). */
#include "op_core.h"
#include "op_spec.h"

#include <stdio.h>
#include <string.h>

static void sp_msg(char *msg, size_t len, const char *text)
{
    if (msg && len) snprintf(msg, len, "%s", text);
}

static bool sp_is_hex64(const char *s)
{
    size_t i;

    if (!s || strlen(s) != 64) return false;
    for (i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

int op_model_validate(const struct op_model_view *m, char *msg, size_t msg_len)
{
    if (!m || !m->uri) {
        sp_msg(msg, msg_len, "spec.source.uri is required");
        return OP_EINVAL;
    }
    if (strncmp(m->uri, "https://", 8) == 0 || strncmp(m->uri, "http://", 7) == 0) {
        if (!sp_is_hex64(m->sha256)) {
            sp_msg(msg, msg_len,
                   "spec.source.sha256 (64 lower-case hex digits) is required for an http(s) "
                   "source");
            return OP_EINVAL;
        }
    } else if (strncmp(m->uri, "file:///", 8) != 0) {
        sp_msg(msg, msg_len, "spec.source.uri must start with https://, http:// or file:///");
        return OP_EINVAL;
    }
    if (m->sha256 && *m->sha256 && !sp_is_hex64(m->sha256)) {
        sp_msg(msg, msg_len, "spec.source.sha256 must be 64 lower-case hex digits");
        return OP_EINVAL;
    }
    if (m->autoscaling) {
        if (m->min_replicas < 0 || m->max_replicas < 1) {
            sp_msg(msg, msg_len, "spec.autoscaling: minReplicas >= 0 and maxReplicas >= 1");
            return OP_EINVAL;
        }
        if (m->min_replicas > m->max_replicas) {
            if (msg && msg_len)
                snprintf(msg, msg_len,
                         "spec.autoscaling.minReplicas (%d) must not exceed maxReplicas (%d)",
                         (int)m->min_replicas, (int)m->max_replicas);
            return OP_EINVAL;
        }
    }
    sp_msg(msg, msg_len, "");
    return OP_OK;
}

int op_duration_parse_ms(const char *s, int64_t *out_ms)
{
    int64_t total = 0;
    const char *p = s;

    if (!s || !out_ms || !*s) return OP_EINVAL;
    while (*p) {
        int64_t n = 0, unit;
        if (*p < '0' || *p > '9') return OP_EINVAL;
        while (*p >= '0' && *p <= '9') {
            if (n > (INT64_MAX - 9) / 10) return OP_ERANGE;
            n = n * 10 + (*p++ - '0');
        }
        if (p[0] == 'm' && p[1] == 's') {
            unit = 1;
            p += 2;
        } else if (*p == 's') {
            unit = 1000;
            p++;
        } else if (*p == 'm') {
            unit = 60 * 1000;
            p++;
        } else if (*p == 'h') {
            unit = 3600 * 1000;
            p++;
        } else {
            return OP_EINVAL;
        }
        if (n > (INT64_MAX - total) / unit) return OP_ERANGE;
        total += n * unit;
    }
    *out_ms = total;
    return OP_OK;
}
