/* op_opts: kllm-operator's command line (DESIGN.md §7), parsed without side
 * effects so that tests can check every flag and every error.
 *
 *   --kubeconfig FILE          outside a pod (in-cluster config otherwise)
 *   --namespace NS             its own namespace (default kllm-system)
 *   --listen HOST:PORT         /healthz /readyz /metrics (default :8081)
 *   --leader-elect[=BOOL]      default true
 *   --id ID                    leader identity (default hostname_pid)
 *   --log-format text|json, --log-level debug|info|warn|error
 *   --node-lease-timeout DUR   Lease age that marks a node NotReady (40s)
 *   --node-grace DUR           then how long before its replicas move (30s)
 *   --api-key-file FILE        the agents' API key, sent with golden prompts
 *   --help, --version
 * Both "--flag value" and "--flag=value" are accepted.
 *
 * Ownership: string fields point into argv (borrowed). Threads: reentrant.
 */
#ifndef OP_OPTS_H
#define OP_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct op_opts {
    const char *kubeconfig; /* NULL: in-cluster, else $KUBECONFIG / ~/.kube/config */
    const char *ns;
    const char *listen_host; /* NULL/"": all addresses; points into listen_buf */
    uint16_t listen_port;
    bool leader_elect;
    const char *id;
    const char *log_format;
    const char *log_level;
    int64_t node_lease_timeout_ms;
    int64_t node_grace_ms;
    const char *api_key_file; /* NULL: the agents need no key */
    bool help, version;
    char listen_buf[256];
};

/* Fills *o from argv. 0, or OP_EINVAL with one line in err (e.g.
 * "unknown flag --foo", "--listen: expected HOST:PORT"). */
int op_opts_parse(int argc, char **argv, struct op_opts *o, char *err, size_t errlen);

/* Splits "HOST:PORT", ":PORT" or "[v6]:PORT" into host (may be "") and
 * port. OP_EINVAL when malformed. */
int op_listen_parse(const char *s, char *host, size_t host_cap, uint16_t *port);

/* The --help text. */
extern const char op_opts_usage[];

#endif
