/* op_opts: kllm-operator flag parsing (see op_opts.h). */
#include "op_opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op_core.h"
#include "op_spec.h"

const char op_opts_usage[] =
    "usage: kllm-operator [flags]\n"
    "  --kubeconfig FILE          outside a pod (in-cluster config otherwise)\n"
    "  --namespace NS             its own namespace: leader Lease, node Leases, Events for\n"
    "                             cluster objects (default kllm-system)\n"
    "  --listen HOST:PORT         /healthz /readyz /metrics (default :8081)\n"
    "  --leader-elect[=true|false] elect a leader on a Lease (default true)\n"
    "  --id ID                    leader identity (default HOSTNAME_PID)\n"
    "  --log-format text|json     (default text)\n"
    "  --log-level debug|info|warn|error (default info)\n"
    "  --node-lease-timeout DUR   node Lease age that marks an InferenceNode NotReady (40s)\n"
    "  --node-grace DUR           then wait this long before moving its replicas (30s)\n"
    "  --api-key-file FILE        the agents' API key (their --api-key-file): sent as a\n"
    "                             bearer token with the golden prompts of canary analysis\n"
    "  --help, --version\n";

int op_listen_parse(const char *s, char *host, size_t host_cap, uint16_t *port)
{
    const char *colon;
    char *end = NULL;
    long p;
    size_t hl;

    if (!s || !host || !port || host_cap == 0) return OP_EINVAL;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':') return OP_EINVAL;
        hl = (size_t)(rb - s - 1);
        if (hl >= host_cap) return OP_EINVAL;
        memcpy(host, s + 1, hl);
        host[hl] = '\0';
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) return OP_EINVAL;
        hl = (size_t)(colon - s);
        if (hl >= host_cap || memchr(s, ':', hl)) return OP_EINVAL;
        memcpy(host, s, hl);
        host[hl] = '\0';
    }
    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (errno || !end || *end || end == colon + 1 || p < 0 || p > 65535) return OP_EINVAL;
    *port = (uint16_t)p;
    return OP_OK;
}

static int oo_bool(const char *v, bool *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")) {
        *out = true;
        return OP_OK;
    }
    if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")) {
        *out = false;
        return OP_OK;
    }
    return OP_EINVAL;
}

int op_opts_parse(int argc, char **argv, struct op_opts *o, char *err, size_t errlen)
{
    static const char *const with_value[] = {
        "--kubeconfig", "--namespace",          "--listen",     "--id",           "--log-format",
        "--log-level",  "--node-lease-timeout", "--node-grace", "--api-key-file", NULL};

    if (!o || (argc > 0 && !argv)) return OP_EINVAL;
    memset(o, 0, sizeof(*o));
    o->ns = "kllm-system";
    o->listen_port = 8081;
    o->listen_host = o->listen_buf;
    o->leader_elect = true;
    o->log_format = "text";
    o->log_level = "info";
    o->node_lease_timeout_ms = 40000;
    o->node_grace_ms = 30000;
    if (err && errlen) err[0] = '\0';

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char name[64];
        const char *eq = strchr(a, '=');
        const char *val = NULL;
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        bool takes = false;

        if (strncmp(a, "--", 2) != 0 || nl >= sizeof(name)) {
            snprintf(err, errlen, "unexpected argument %s (see --help)", a);
            return OP_EINVAL;
        }
        memcpy(name, a, nl);
        name[nl] = '\0';
        for (size_t k = 0; with_value[k]; k++)
            if (!strcmp(name, with_value[k])) takes = true;
        if (takes) {
            if (eq) {
                val = eq + 1;
            } else if (i + 1 < argc) {
                val = argv[++i];
            } else {
                snprintf(err, errlen, "%s needs a value", name);
                return OP_EINVAL;
            }
            if (!val[0]) {
                snprintf(err, errlen, "%s needs a non-empty value", name);
                return OP_EINVAL;
            }
        }
        if (!strcmp(name, "--help") && !eq) {
            o->help = true;
        } else if (!strcmp(name, "--version") && !eq) {
            o->version = true;
        } else if (!strcmp(name, "--leader-elect")) {
            o->leader_elect = true;
            if (eq && oo_bool(eq + 1, &o->leader_elect)) {
                snprintf(err, errlen, "--leader-elect: expected true or false, got %s", eq + 1);
                return OP_EINVAL;
            }
        } else if (!strcmp(name, "--kubeconfig")) {
            o->kubeconfig = val;
        } else if (!strcmp(name, "--api-key-file")) {
            o->api_key_file = val;
        } else if (!strcmp(name, "--namespace")) {
            o->ns = val;
        } else if (!strcmp(name, "--id")) {
            o->id = val;
        } else if (!strcmp(name, "--listen")) {
            if (op_listen_parse(val, o->listen_buf, sizeof(o->listen_buf), &o->listen_port)) {
                snprintf(err, errlen, "--listen: expected HOST:PORT, got %s", val);
                return OP_EINVAL;
            }
        } else if (!strcmp(name, "--log-format")) {
            if (strcmp(val, "text") && strcmp(val, "json")) {
                snprintf(err, errlen, "--log-format: expected text or json, got %s", val);
                return OP_EINVAL;
            }
            o->log_format = val;
        } else if (!strcmp(name, "--log-level")) {
            if (strcmp(val, "debug") && strcmp(val, "info") && strcmp(val, "warn") &&
                strcmp(val, "error")) {
                snprintf(err, errlen, "--log-level: expected debug, info, warn or error, got %s",
                         val);
                return OP_EINVAL;
            }
            o->log_level = val;
        } else if (!strcmp(name, "--node-lease-timeout") || !strcmp(name, "--node-grace")) {
            int64_t ms;
            if (op_duration_parse_ms(val, &ms)) {
                snprintf(err, errlen, "%s: expected a duration like 40s, got %s", name, val);
                return OP_EINVAL;
            }
            if (!strcmp(name, "--node-grace"))
                o->node_grace_ms = ms;
            else
                o->node_lease_timeout_ms = ms;
        } else {
            snprintf(err, errlen, "unknown flag %s (see --help)", name);
            return OP_EINVAL;
        }
    }
    return OP_OK;
}
