/* kllm-operator: the program. Parses flags (op_opts), loads the cluster
 * config, starts the controllers' informers (op_ctl), serves /healthz,
 * /readyz and /metrics with libmicrohttpd, and reconciles while it holds
 * the leader Lease "kllm-operator" in --namespace (kube_leader).
 *
 * Shutdown on SIGTERM/SIGINT: stop reconciling (the reconcile in progress
 * finishes), release the Lease so a standby takes over at once, stop the
 * informers and the HTTP server, exit 0.
 *
 * Losing the Lease without being asked (it could not be renewed within the
 * renew deadline, e.g. while the API server restarts) steps down instead
 * of exiting: the worker stops, the controller is rebuilt from scratch (new
 * informers that list again, no in-memory state of the old term: the same
 * clean slate a restarted process would get) and the process campaigns
 * again. The main thread owns the controller; the elector's callbacks only
 * set flags, and the HTTP thread reads the controller under g_ctl_lock.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "klog.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/leader.h"
#include "op_ctl.h"
#include "op_opts.h"

static volatile sig_atomic_t g_stop;
/* g_leading: the elector holds the Lease (its thread writes it);
 * g_lost: a term ended without being asked, the controller must be rebuilt;
 * g_fatal: give up and exit 1. */
static atomic_int g_lost, g_stopping, g_leading, g_fatal;
static pthread_rwlock_t g_ctl_lock = PTHREAD_RWLOCK_INITIALIZER;

struct op_main {
    struct op_ctl *ctl; /* replaced by the main thread under g_ctl_lock (write) */
    bool elect;
    bool reconciling; /* op_ctl_lead ran on this ctl */
};

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void kube_log(void *ud, enum kube_log_level lvl, const char *msg, const char *const *kv)
{
    (void)ud;
    klog_kv((enum klog_level)lvl, "kube", msg, kv);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *type,
                             const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_http(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_len, void **con_cls)
{
    struct op_main *m = cls;
    (void)version;
    (void)upload;
    (void)con_cls;
    if (*upload_len) {
        *upload_len = 0; /* we take no bodies */
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(conn, 405, "text/plain", "method not allowed\n", 19);
    if (strcmp(url, "/healthz") == 0) return reply(conn, 200, "text/plain", "ok\n", 3);
    if (strcmp(url, "/readyz") == 0) {
        int synced;
        pthread_rwlock_rdlock(&g_ctl_lock);
        synced = m->ctl && op_ctl_synced(m->ctl);
        pthread_rwlock_unlock(&g_ctl_lock);
        if (atomic_load(&g_stopping) || !synced)
            return reply(conn, 503, "text/plain", "not ready\n", 10);
        return reply(conn, 200, "text/plain", "ok\n", 3);
    }
    if (strcmp(url, "/metrics") == 0) {
        char *buf = malloc(8192);
        size_t n;
        enum MHD_Result ret;
        if (!buf) return reply(conn, 500, "text/plain", "out of memory\n", 14);
        pthread_rwlock_rdlock(&g_ctl_lock);
        n = m->ctl ? op_ctl_metrics(m->ctl, buf, 8192) : 0;
        pthread_rwlock_unlock(&g_ctl_lock);
        ret = reply(conn, 200, "text/plain; version=0.0.4", buf, n);
        free(buf);
        return ret;
    }
    return reply(conn, 404, "text/plain", "not found\n", 10);
}

/* The API key from --api-key-file into key (NUL-terminated, surrounding
 * whitespace dropped, at most cap - 1 bytes); 0, or -1 with err set. */
static int read_api_key(const char *path, char *key, size_t cap, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    size_t n, b = 0;

    if (!f) {
        snprintf(err, errlen, "--api-key-file: cannot open %s", path);
        return -1;
    }
    n = fread(key, 1, cap - 1, f);
    if (!feof(f)) n = cap; /* too long, or a read error */
    fclose(f);
    if (n >= cap) {
        snprintf(err, errlen, "--api-key-file: %s is unreadable or longer than %zu bytes", path,
                 cap - 2);
        return -1;
    }
    while (n > 0 && strchr(" \t\r\n", key[n - 1])) n--;
    key[n] = '\0';
    while (key[b] && strchr(" \t\r\n", key[b])) b++;
    memmove(key, key + b, n - b + 1);
    if (!key[0]) {
        snprintf(err, errlen, "--api-key-file: %s is empty", path);
        return -1;
    }
    return 0;
}

/* Elector callbacks (its thread): flags only; the main loop acts on them. */
static void on_started(void *ud)
{
    (void)ud;
    atomic_store(&g_leading, 1);
}

static void on_stopped(void *ud)
{
    (void)ud;
    if (!atomic_load(&g_leading)) return;
    atomic_store(&g_leading, 0);
    if (atomic_load(&g_stopping)) return;
    klogf(KLOG_WARN, "operator", "leadership lost; stepping down and campaigning again");
    atomic_store(&g_lost, 1);
}

/* Main thread: a fresh controller in place of m->ctl (stopped and freed
 * first, so no reconcile runs while it is replaced). */
static int ctl_rebuild(struct op_main *m, struct kube_client *c, const struct op_ctl_opts *co)
{
    struct op_ctl *old, *fresh = NULL;
    int rc;

    pthread_rwlock_wrlock(&g_ctl_lock);
    old = m->ctl;
    m->ctl = NULL;
    m->reconciling = false;
    pthread_rwlock_unlock(&g_ctl_lock);
    op_ctl_free(old);
    rc = op_ctl_new(c, co, &fresh);
    if (!rc) rc = op_ctl_start(fresh);
    if (rc) {
        op_ctl_free(fresh);
        return rc;
    }
    pthread_rwlock_wrlock(&g_ctl_lock);
    m->ctl = fresh;
    pthread_rwlock_unlock(&g_ctl_lock);
    return 0;
}

static void on_new_leader(void *ud, const char *id)
{
    const char *kv[] = {"identity", id ? id : "", NULL};
    (void)ud;
    klog_kv(KLOG_INFO, "operator", "leader", kv);
}

int main(int argc, char **argv)
{
    struct op_opts o;
    struct kube_config cfg;
    struct kube_client *c = NULL;
    struct kube_leader *le = NULL;
    struct MHD_Daemon *httpd = NULL;
    struct op_main m = {NULL, true, false};
    struct op_ctl_opts co;
    struct sigaction sa;
    char err[512] = "", id[300], api_key[1024];
    enum klog_level lvl;
    enum klog_format fmt;
    int rc = 1;

    memset(&cfg, 0, sizeof(cfg));
    if (op_opts_parse(argc, argv, &o, err, sizeof(err))) {
        fprintf(stderr, "kllm-operator: %s\n", err);
        return 2;
    }
    if (o.help) {
        fputs(op_opts_usage, stdout);
        return 0;
    }
    if (o.version) {
        printf("kllm-operator %s\n", KLLM_VERSION);
        return 0;
    }
    klog_parse_level(o.log_level, &lvl);
    klog_parse_format(o.log_format, &fmt);
    klog_setup(lvl, fmt, 2);

    if (o.id) {
        snprintf(id, sizeof(id), "%s", o.id);
    } else {
        char host[256] = "kllm-operator";
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        snprintf(id, sizeof(id), "%s_%ld", host, (long)getpid());
    }

    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread: not thread-safe */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (o.kubeconfig)
        rc = kube_config_load_file(&cfg, o.kubeconfig, NULL, err, sizeof(err));
    else
        rc = kube_config_load_default(&cfg, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "kllm-operator: cluster config: %s\n", err[0] ? err : kube_strerror(rc));
        rc = 1;
        goto out;
    }
    {
        struct kube_client_opts cl_opts;
        memset(&cl_opts, 0, sizeof(cl_opts));
        cl_opts.log.fn = kube_log;
        cl_opts.user_agent = "kllm-operator/" KLLM_VERSION;
        rc = kube_client_new(&cfg, &cl_opts, &c);
    }
    if (rc) {
        fprintf(stderr, "kllm-operator: client: %s\n", kube_strerror(rc));
        rc = 1;
        goto out;
    }
    if (o.api_key_file &&
        read_api_key(o.api_key_file, api_key, sizeof(api_key), err, sizeof(err))) {
        fprintf(stderr, "kllm-operator: %s\n", err);
        rc = 1;
        goto out;
    }
    co = (struct op_ctl_opts){
        o.ns, id, o.node_lease_timeout_ms, o.node_grace_ms, NULL, o.api_key_file ? api_key : NULL};
    rc = op_ctl_new(c, &co, &m.ctl);
    if (rc) {
        fprintf(stderr, "kllm-operator: controller: %s\n", kube_strerror(rc));
        rc = 1;
        goto out;
    }

    {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_port = htons(o.listen_port);
        if (o.listen_host[0] && inet_pton(AF_INET, o.listen_host, &sin.sin_addr) != 1) {
            if (strcmp(o.listen_host, "localhost") == 0) {
                sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            } else {
                fprintf(stderr, "kllm-operator: --listen: not an IPv4 address: %s\n",
                        o.listen_host);
                rc = 2;
                goto out;
            }
        }
        httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, o.listen_port,
                                 NULL, NULL, on_http, &m, MHD_OPTION_SOCK_ADDR, &sin,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
        if (!httpd) {
            fprintf(stderr, "kllm-operator: cannot listen on %s:%u\n",
                    o.listen_host[0] ? o.listen_host : "*", (unsigned)o.listen_port);
            rc = 1;
            goto out;
        }
    }

    rc = op_ctl_start(m.ctl);
    if (rc) {
        fprintf(stderr, "kllm-operator: informers: %s\n", kube_strerror(rc));
        rc = 1;
        goto out;
    }
    {
        const char *kv[] = {
            "version",  KLLM_VERSION, "namespace",    o.ns,
            "identity", id,           "leader-elect", o.leader_elect ? "true" : "false",
            NULL};
        klog_kv(KLOG_INFO, "operator", "started", kv);
    }
    if (o.leader_elect) {
        struct kube_leader_opts lo;
        memset(&lo, 0, sizeof(lo));
        lo.ns = o.ns;
        lo.name = "kllm-operator";
        lo.identity = id;
        lo.on_started = on_started;
        lo.on_stopped = on_stopped;
        lo.on_new_leader = on_new_leader;
        lo.ud = &m;
        lo.log.fn = kube_log;
        rc = kube_leader_new(c, &lo, &le);
        if (!rc) rc = kube_leader_start(le);
        if (rc) {
            fprintf(stderr, "kllm-operator: leader election: %s\n", kube_strerror(rc));
            rc = 1;
            goto out;
        }
    } else {
        on_started(&m);
    }

    while (!g_stop && !atomic_load(&g_fatal)) {
        struct timespec ts = {0, 200 * 1000 * 1000};
        if (atomic_exchange(&g_lost, 0)) {
            rc = ctl_rebuild(&m, c, &co);
            if (rc) {
                klogf(KLOG_ERROR, "operator", "cannot restart the controller: %s",
                      kube_strerror(rc));
                atomic_store(&g_fatal, 1);
                break;
            }
        }
        if (atomic_load(&g_leading) && !m.reconciling) {
            klogf(KLOG_INFO, "operator", "became leader; reconciling");
            if (op_ctl_lead(m.ctl)) {
                klogf(KLOG_ERROR, "operator", "cannot start the worker");
                atomic_store(&g_fatal, 1);
                break;
            }
            m.reconciling = true;
        }
        nanosleep(&ts, NULL);
    }
    rc = atomic_load(&g_fatal) && !g_stop ? 1 : 0;
    klogf(KLOG_INFO, "operator", "stopping");
out:
    atomic_store(&g_stopping, 1);
    /* Order: stop reconciling, then give the Lease away, then the caches. */
    if (m.ctl) op_ctl_stop(m.ctl);
    if (le) kube_leader_stop(le);
    kube_leader_free(le);
    if (httpd) MHD_stop_daemon(httpd);
    op_ctl_free(m.ctl);
    kube_client_free(c);
    kube_config_deinit(&cfg);
    curl_global_cleanup();
    if (rc == 0) klogf(KLOG_INFO, "operator", "stopped");
    return rc;
}
