/* kllm-agent: the node agent. Standalone mode: serve the --model files over
 * an OpenAI-compatible HTTP API with continuous batching (no Kubernetes).
 *
 * main() parses flags, loads each model and starts its engine thread
 * (sched.c), starts the HTTP server (http.c), then waits for SIGTERM/SIGINT
 * and drains: stop accepting, let in-flight requests finish up to
 * --shutdown-timeout, fail what is left with 503, exit 0. A second signal
 * skips the wait.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kllm/engine.h>

#include <curl/curl.h>

#include "auth.h"
#include "cluster.h"
#include "fetch.h"
#include "http.h"
#include "klog.h"
#include "metrics.h"
#include "scheduler.h"
#include "tmpl.h"

#define MAX_MODELS 16

/* Local paths of downloaded models in use (kept by cache eviction). */
static char fetched[MAX_MODELS][2048];
static int n_fetched;

struct opts {
    const char *model_specs[MAX_MODELS];
    int n_models;
    char host[256];
    uint16_t port;
    const char *api_key_file;
    enum klog_level log_level;
    enum klog_format log_format;
    long long max_body, max_prompt_tokens, max_tokens, parallel, queue_max, threads, ctx_size,
        batch_size, max_connections, shutdown_timeout;
    enum tmpl_kind tmpl_override;
    char cache_dir[1024];
    long long cache_max_bytes;
    /* cluster mode */
    const char *node_name, *kubeconfig, *ns, *advertise;
    int64_t cpu_milli, memory;
};

static void usage(FILE *f)
{
    fputs(
        "usage: kllm-agent --model NAME=PATH [--model NAME=PATH ...] [flags]\n"
        "\n"
        "Serves GGUF models over an OpenAI-compatible HTTP API (standalone mode).\n"
        "\n"
        "  --model NAME=URI          serve the model URI as NAME; repeatable. URI: a path,\n"
        "                            file://PATH, or http(s)://...#sha256=HEX (downloaded)\n"
        "  --cache-dir DIR           where downloaded models are kept (default\n"
        "                            $HOME/.cache/kllm/models)\n"
        "  --cache-max-bytes N       model cache limit; least recently used models not in\n"
        "                            use are evicted, 0: no limit (default 0)\n"
        "  --listen HOST:PORT        API, probes and metrics address (default :8080)\n"
        "  --api-key-file FILE       require 'Authorization: Bearer <key>' on /v1/*\n"
        "  --log-format text|json    (default text)\n"
        "  --log-level debug|info|warn|error (default info)\n"
        "  --parallel N              sequences decoded together per model (default 4)\n"
        "  --queue-max N             requests waiting per model before 429 (default 64)\n"
        "  --threads N               engine threads per model, 0: all cores (default 0)\n"
        "  --ctx-size N              context positions per sequence, 0: model default\n"
        "  --batch-size N            most tokens per decode step (default 512)\n"
        "  --max-body-bytes N        request body limit, else 413 (default 1048576)\n"
        "  --max-prompt-tokens N     prompt limit, else 400 (default 4096)\n"
        "  --max-tokens N            largest max_tokens a request may ask for (default 2048)\n"
        "  --max-connections N       concurrent HTTP connections (default 256)\n"
        "  --shutdown-timeout SECS   drain time on SIGTERM (default 30)\n"
        "  --chat-template FAMILY    render chat with this family instead of the one\n"
        "                            recognised from the file: llama2, llama3, llama3.1,\n"
        "                            chatml, qwen2, qwen3, mistral, mistral-v0.1,\n"
        "                            mistral-v1, mistral-v3, mistral-v3-tekken, mistral-v7,\n"
        "                            mistral-v7-tekken, phi3, gemma, zephyr, deepseek3,\n"
        "                            deepseek-r1\n"
        "  --help, --version\n"
        "\n"
        "\n"
        "Cluster mode (instead of --model): serve the ModelReplicas bound to this node and\n"
        "route requests for every Model in the cluster.\n"
        "  --node-name NAME          the InferenceNode this agent stands for\n"
        "  --kubeconfig FILE         outside a pod (in-cluster config or $KUBECONFIG otherwise)\n"
        "  --namespace NS            namespace of its Lease kllm-node-NAME (default kllm-system)\n"
        "  --advertise HOST:PORT     endpoint written for peers (default $POD_IP or the host\n"
        "                            name, with the --listen port)\n"
        "  --cpu N                   CPU capacity to report, e.g. 4 or 3500m (default: cgroup\n"
        "                            limit, else the CPU count)\n"
        "  --memory BYTES            memory capacity, e.g. 8Gi (default: cgroup limit, else\n"
        "                            MemTotal)\n",
        f);
}

static int bad(const char *fmt, const char *arg)
{
    fputs("kllm-agent: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs(" (see --help)\n", stderr);
    return -1;
}

static int parse_num(const char *name, const char *s, long long lo, long long hi, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "kllm-agent: --%s: '%s' is not an integer in [%lld, %lld] (see --help)\n",
                name, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_listen(const char *s, struct opts *o)
{
    const char *colon = strrchr(s, ':');
    if (!colon) return bad("--listen: '%s' is not HOST:PORT", s);
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= sizeof o->host) return bad("--listen: host in '%s' is too long", s);
    long long port;
    if (parse_num("listen", colon + 1, 0, 65535, &port) < 0) return -1;
    memcpy(o->host, h, hl);
    o->host[hl] = '\0';
    o->port = (uint16_t)port;
    return 0;
}

static bool valid_name(const char *s, size_t n)
{
    if (n == 0 || n >= 128) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-' || c == ':' || c == '/';
        if (!ok) return false;
    }
    return true;
}

static int check_model_spec(const char *spec)
{
    const char *eq = strchr(spec, '=');
    if (!eq) return bad("--model: '%s' is not NAME=PATH", spec);
    if (!valid_name(spec, (size_t)(eq - spec)))
        return bad("--model: bad name in '%s' (use letters, digits, . _ - : /)", spec);
    const char *uri = eq + 1;
    if (!*uri) return bad("--model: '%s' has no path", spec);
    if (fetch_is_remote(uri)) {
        char url[2048], sha[FETCH_SHA256_HEX + 1], err[512];
        if (fetch_parse_uri(uri, url, sizeof url, sha, err, sizeof err) < 0)
            return bad("--model: %s", err);
    }
    return 0;
}

enum {
    OPT_MODEL = 256,
    OPT_LISTEN,
    OPT_KEY,
    OPT_LOG_FORMAT,
    OPT_LOG_LEVEL,
    OPT_PARALLEL,
    OPT_QUEUE,
    OPT_THREADS,
    OPT_CTX,
    OPT_BATCH,
    OPT_BODY,
    OPT_PROMPT,
    OPT_MAXTOK,
    OPT_CONNS,
    OPT_SHUTDOWN,
    OPT_TEMPLATE,
    OPT_CACHE_DIR,
    OPT_CACHE_MAX,
    OPT_NODE,
    OPT_KUBECONFIG,
    OPT_NAMESPACE,
    OPT_ADVERTISE,
    OPT_CPU,
    OPT_MEMORY,
    OPT_HELP,
    OPT_VERSION,
};

/* 0 ok, 1 done (help/version printed), -1 bad flags. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"model", required_argument, NULL, OPT_MODEL},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"api-key-file", required_argument, NULL, OPT_KEY},
        {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"parallel", required_argument, NULL, OPT_PARALLEL},
        {"queue-max", required_argument, NULL, OPT_QUEUE},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"ctx-size", required_argument, NULL, OPT_CTX},
        {"batch-size", required_argument, NULL, OPT_BATCH},
        {"max-body-bytes", required_argument, NULL, OPT_BODY},
        {"max-prompt-tokens", required_argument, NULL, OPT_PROMPT},
        {"max-tokens", required_argument, NULL, OPT_MAXTOK},
        {"max-connections", required_argument, NULL, OPT_CONNS},
        {"shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN},
        {"chat-template", required_argument, NULL, OPT_TEMPLATE},
        {"node-name", required_argument, NULL, OPT_NODE},
        {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
        {"namespace", required_argument, NULL, OPT_NAMESPACE},
        {"advertise", required_argument, NULL, OPT_ADVERTISE},
        {"cpu", required_argument, NULL, OPT_CPU},
        {"memory", required_argument, NULL, OPT_MEMORY},
        {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},
        {"cache-max-bytes", required_argument, NULL, OPT_CACHE_MAX},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    int c, idx = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, &idx)) != -1) {
        const char *name = c >= OPT_MODEL && c != '?' && c != ':' ? lo[idx].name : "";
        long long lim = 1LL << 30;
        switch (c) {
        case OPT_MODEL:
            if (o->n_models == MAX_MODELS) return bad("--model: at most %s models", "16");
            if (check_model_spec(optarg) < 0) return -1;
            o->model_specs[o->n_models++] = optarg;
            break;
        case OPT_LISTEN:
            if (parse_listen(optarg, o) < 0) return -1;
            break;
        case OPT_KEY: o->api_key_file = optarg; break;
        case OPT_LOG_FORMAT:
            if (klog_parse_format(optarg, &o->log_format) < 0)
                return bad("--log-format: '%s' is not text or json", optarg);
            break;
        case OPT_LOG_LEVEL:
            if (klog_parse_level(optarg, &o->log_level) < 0)
                return bad("--log-level: '%s' is not debug, info, warn or error", optarg);
            break;
        case OPT_PARALLEL:
            if (parse_num(name, optarg, 1, 256, &o->parallel) < 0) return -1;
            break;
        case OPT_QUEUE:
            if (parse_num(name, optarg, 1, 100000, &o->queue_max) < 0) return -1;
            break;
        case OPT_THREADS:
            if (parse_num(name, optarg, 0, 1024, &o->threads) < 0) return -1;
            break;
        case OPT_CTX:
            if (parse_num(name, optarg, 0, 1 << 20, &o->ctx_size) < 0) return -1;
            break;
        case OPT_BATCH:
            if (parse_num(name, optarg, 1, 1 << 16, &o->batch_size) < 0) return -1;
            break;
        case OPT_BODY:
            if (parse_num(name, optarg, 64, lim, &o->max_body) < 0) return -1;
            break;
        case OPT_PROMPT:
            if (parse_num(name, optarg, 1, 1 << 20, &o->max_prompt_tokens) < 0) return -1;
            break;
        case OPT_MAXTOK:
            if (parse_num(name, optarg, 1, 1 << 20, &o->max_tokens) < 0) return -1;
            break;
        case OPT_CONNS:
            if (parse_num(name, optarg, 1, 100000, &o->max_connections) < 0) return -1;
            break;
        case OPT_SHUTDOWN:
            if (parse_num(name, optarg, 0, 86400, &o->shutdown_timeout) < 0) return -1;
            break;
        case OPT_TEMPLATE:
            if (tmpl_parse(optarg, &o->tmpl_override) < 0)
                return bad("--chat-template: '%s' is not a family this agent renders "
                           "(see --help)",
                           optarg);
            break;
        case OPT_CACHE_DIR:
            if (snprintf(o->cache_dir, sizeof o->cache_dir, "%s", optarg) >=
                (int)sizeof o->cache_dir)
                return bad("--cache-dir: '%s' is too long", optarg);
            break;
        case OPT_CACHE_MAX:
            if (parse_num(name, optarg, 0, (long long)1 << 50, &o->cache_max_bytes) < 0) return -1;
            break;
        case OPT_NODE:
            if (!valid_name(optarg, strlen(optarg)) || strchr(optarg, '/'))
                return bad("--node-name: '%s' is not a valid name", optarg);
            o->node_name = optarg;
            break;
        case OPT_KUBECONFIG: o->kubeconfig = optarg; break;
        case OPT_NAMESPACE:
            if (!valid_name(optarg, strlen(optarg)) || strlen(optarg) > 63 || strchr(optarg, '/'))
                return bad("--namespace: '%s' is not a valid namespace", optarg);
            o->ns = optarg;
            break;
        case OPT_ADVERTISE:
            if (!strrchr(optarg, ':') || strlen(optarg) > 250)
                return bad("--advertise: '%s' is not HOST:PORT", optarg);
            o->advertise = optarg;
            break;
        case OPT_CPU:
            if (cluster_parse_cpu(optarg, &o->cpu_milli) < 0 || o->cpu_milli <= 0)
                return bad("--cpu: '%s' is not a CPU quantity (4, 3500m)", optarg);
            break;
        case OPT_MEMORY:
            if (cluster_parse_bytes(optarg, &o->memory) < 0 || o->memory <= 0)
                return bad("--memory: '%s' is not a byte quantity (8Gi, 8589934592)", optarg);
            break;
        case OPT_HELP: usage(stdout); return 1;
        case OPT_VERSION: printf("kllm-agent %s\n", KLLM_VERSION); return 1;
        default: return bad("unknown flag or missing value: '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return bad("unexpected argument '%s'", argv[optind]);
    bool cluster = o->node_name || o->kubeconfig || o->advertise || o->cpu_milli || o->memory;
    if (cluster && o->n_models)
        return bad("%s", "--model (standalone) and cluster flags exclude each other");
    if (cluster && !o->node_name) return bad("%s", "cluster mode needs --node-name");
    if (!cluster && o->n_models == 0)
        return bad("%s", "no --model given (or --node-name for cluster mode)");
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait for a signal in set for up to `seconds` (< 0: forever). 1 if one came. */
static int wait_signal(const sigset_t *set, double seconds)
{
    if (seconds < 0) {
        int sig = 0;
        return sigwait(set, &sig) == 0 ? 1 : 0;
    }
    struct timespec ts = {.tv_sec = (time_t)seconds,
                          .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
    return sigtimedwait(set, NULL, &ts) > 0 ? 1 : 0;
}

/* A stop signal waits (it is blocked and taken by sigwait later). */
static int stop_pending(void *arg)
{
    sigset_t p;
    if (sigpending(&p) != 0) return 0;
    return sigismember(&p, SIGTERM) == 1 || sigismember(&p, SIGINT) == 1;
}

/* One greedy token through the engine thread before the model is
 * published: a model that cannot decode fails here, not on a client. */
static int warm_up(struct srv_model *sm, char *err, size_t errlen)
{
    int rc = -1;
    int32_t toks[16];
    struct job *j = job_new();
    int32_t n = llm_tokenize(sm->model, "Hello", 5, true, toks, 16);
    if (!j || n < 1 || n > 16 || job_set_prompt(j, toks, n) < 0) {
        snprintf(err, errlen, "warm-up: cannot tokenize");
        goto out;
    }
    j->max_tokens = 1;
    j->sp.temperature = 0;
    j->quiet = true;
    j->t_arrival_ns = sched_clock_ns();
    if (sched_submit(sm->sched, j) < 0) {
        snprintf(err, errlen, "warm-up: cannot submit");
        goto out;
    }
    pthread_mutex_lock(&j->mu);
    while (j->state != JOB_DONE) pthread_cond_wait(&j->cv, &j->mu);
    pthread_mutex_unlock(&j->mu);
    if (j->status) {
        snprintf(err, errlen, "warm-up failed: %s", j->errmsg);
        goto out;
    }
    rc = 0;
out:
    job_unref(j);
    return rc;
}

/* Download (if remote), load and start serving one model; sm->name and
 * sm->mx are set. Publishes sm->loaded on success. */
static int load_model(const char *spec, const struct opts *o, struct mx *mx, struct srv_model *sm)
{
    const char *path = strchr(spec, '=') + 1;
    if (strncmp(path, "file://", 7) == 0) path += 7;
    char err[512] = "";
    char cached[2048];
    if (fetch_is_remote(path)) {
        if (fetch_model(path, o->cache_dir, (uint64_t)o->cache_max_bytes, stop_pending, NULL,
                        cached, sizeof cached, err, sizeof err) < 0) {
            fprintf(stderr, "kllm-agent: model %s: %s\n", sm->name, err);
            return -1;
        }
        path = cached;
        snprintf(fetched[n_fetched++], sizeof fetched[0], "%s", cached);
    }
    const char *kv[] = {"model", sm->name, "path", path, NULL, NULL, NULL};
    klog_kv(KLOG_INFO, "agent", "loading model", kv);
    int rc = llm_model_load(path, &sm->model, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "kllm-agent: model %s: cannot load %s: %s\n", sm->name, path,
                err[0] ? err : llm_strerror(rc));
        return -1;
    }
    const char *jinja = llm_model_chat_template(sm->model);
    sm->tmpl = tmpl_choose(jinja, o->tmpl_override);
    if (sm->tmpl == TMPL_NONE) {
        tmpl_markers(jinja, sm->tmpl_markers, sizeof sm->tmpl_markers);
        const char *kv3[] = {"model",   sm->name,
                             "markers", sm->tmpl_markers[0] ? sm->tmpl_markers : "none",
                             "hint",    "chat answers 400; set --chat-template FAMILY",
                             NULL};
        klog_kv(KLOG_WARN, "agent", jinja ? "chat template not recognised" : "no chat template",
                kv3);
    }
    struct sched_params sp = {
        .parallel = (int32_t)o->parallel,
        .n_ctx = (int32_t)o->ctx_size,
        .n_batch = (int32_t)o->batch_size,
        .n_threads = (int32_t)o->threads,
        .queue_max = (int32_t)o->queue_max,
    };
    sm->sched = sched_new(sm->model, &sp, mx, sm->mx, err, sizeof err);
    if (!sm->sched || warm_up(sm, err, sizeof err) < 0) {
        fprintf(stderr, "kllm-agent: model %s: %s\n", sm->name, err);
        return -1;
    }
    char nctx[16], par[16];
    snprintf(nctx, sizeof nctx, "%d", (int)sched_n_ctx(sm->sched));
    snprintf(par, sizeof par, "%lld", o->parallel);
    const char *kv2[] = {"model",    sm->name, "template", tmpl_name(sm->tmpl), "n_ctx", nctx,
                         "parallel", par,      NULL};
    klog_kv(KLOG_INFO, "agent", "model ready", kv2);
    atomic_store(&sm->loaded, true);
    return 0;
}

/* libgomp reads its spin policy from the environment before main runs. Its
 * default (spin ~300k iterations after every parallel region) makes the
 * idle engine threads take the cores the HTTP threads need between decode
 * steps; a short spin keeps barriers inside a step fast and lets the
 * threads sleep between steps. Unless the user chose a policy, re-exec
 * once with GOMP_SPINCOUNT set (if exec fails, run on as we are). */
static void tune_openmp_spin(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("GOMP_SPINCOUNT", "3000", 1) == 0) execv("/proc/self/exe", argv);
}

int main(int argc, char **argv)
{
    tune_openmp_spin(argv);
    struct opts o = {
        .port = 8080,
        .log_level = KLOG_INFO,
        .log_format = KLOG_FORMAT_TEXT,
        .max_body = 1 << 20,
        .max_prompt_tokens = 4096,
        .max_tokens = 2048,
        .parallel = 4,
        .queue_max = 64,
        .batch_size = 512,
        .max_connections = 256,
        .shutdown_timeout = 30,
    };
    struct srv_model models[MAX_MODELS];
    struct mx mx;
    struct srv *srv = NULL;
    struct cluster *cl = NULL;
    char key[AUTH_KEY_MAX + 1];
    char err[256];
    int loaded = 0, rc = 1;
    memset(models, 0, sizeof models);
    mx_init(&mx);

    int p = parse_opts(argc, argv, &o);
    if (p != 0) {
        rc = p > 0 ? 0 : 2;
        goto out;
    }
    klog_setup(o.log_level, o.log_format, 2);
    if (!o.cache_dir[0]) {
        const char *home = getenv("HOME");
        snprintf(o.cache_dir, sizeof o.cache_dir, "%s/.cache/kllm/models",
                 home && home[0] ? home : "/tmp");
    }
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any other thread exists */
    if (o.api_key_file && auth_load_key(o.api_key_file, key, sizeof key, err, sizeof err) < 0) {
        fprintf(stderr, "kllm-agent: %s\n", err);
        goto out;
    }

    /* Signals are taken synchronously by this thread only: block them before
     * any other thread exists so every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Serve first (probes, metrics, 503 "loading" for the API), then load:
     * a long download must not look like a dead process to liveness probes. */
    if (o.node_name) {
        struct cluster_opts co = {
            .node_name = o.node_name,
            .kubeconfig = o.kubeconfig,
            .ns = o.ns,
            .cpu_milli = o.cpu_milli,
            .memory = o.memory,
            .cache_dir = o.cache_dir,
            .cache_max_bytes = (uint64_t)o.cache_max_bytes,
            .n_batch = (int32_t)o.batch_size,
            .queue_max = (int32_t)o.queue_max,
            .threads = (int32_t)o.threads,
            .tmpl_override = o.tmpl_override,
            .drain_ms = (int64_t)o.shutdown_timeout * 1000,
            .slots = models,
            .n_slots = MAX_MODELS,
            .mx = &mx,
        };
        char cerr[512] = "";
        cl = cluster_new(&co, cerr, sizeof cerr);
        if (!cl) {
            fprintf(stderr, "kllm-agent: cluster mode: %s\n", cerr[0] ? cerr : "cannot start");
            goto out;
        }
        for (int i = 0; i < MAX_MODELS; i++) atomic_init(&models[i].loaded, false);
    }
    for (int i = 0; i < o.n_models; i++) {
        struct srv_model *sm = &models[i];
        size_t nl = (size_t)(strchr(o.model_specs[i], '=') - o.model_specs[i]);
        memcpy(sm->name, o.model_specs[i], nl);
        sm->name[nl] = '\0';
        sm->mx = mx_add_model(&mx, sm->name);
        atomic_init(&sm->loaded, false);
    }
    struct srv_config cfg = {
        .host = o.host,
        .port = o.port,
        .max_body = (size_t)o.max_body,
        .max_prompt_tokens = (int32_t)o.max_prompt_tokens,
        .lim = {.max_tokens = (int32_t)o.max_tokens,
                .default_max_tokens = o.max_tokens < 16 ? (int32_t)o.max_tokens : 16},
        .max_connections = (unsigned)o.max_connections,
        .api_key = o.api_key_file ? key : NULL,
        .router = cl ? cluster_router(cl) : NULL,
    };
    srv = srv_new(&cfg, models, cl ? MAX_MODELS : o.n_models, &mx, err, sizeof err);
    if (!srv) {
        fprintf(stderr, "kllm-agent: %s\n", err);
        goto out;
    }
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)srv_port(srv));
    const char *kv[] = {"addr", o.host[0] ? o.host : "*", "port", port, "version", KLLM_VERSION,
                        NULL};
    klog_kv(KLOG_INFO, "agent", "listening", kv);

    if (cl) {
        char adv[300], cerr[512] = "";
        if (o.advertise) {
            snprintf(adv, sizeof adv, "%s", o.advertise);
        } else {
            const char *ip = getenv("POD_IP");
            char host[256] = "localhost";
            if (!ip || !ip[0]) {
                if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "localhost");
                host[sizeof host - 1] = '\0';
                ip = host;
            }
            snprintf(adv, sizeof adv, "%s:%s", ip, port);
        }
        if (cluster_start(cl, adv, cerr, sizeof cerr) < 0) {
            fprintf(stderr, "kllm-agent: cluster mode: %s\n", cerr);
            goto out;
        }
        const char *ckv[] = {"node", o.node_name, "advertise", adv, NULL};
        klog_kv(KLOG_INFO, "agent", "cluster mode", ckv);
    }

    for (; !cl && loaded < o.n_models && !stop_pending(NULL); loaded++) {
        if (load_model(o.model_specs[loaded], &o, &mx, &models[loaded]) < 0) {
            if (stop_pending(NULL)) break; /* interrupted: a normal stop */
            loaded++;                      /* free what it left */
            goto out;
        }
    }
    if (!cl && loaded == o.n_models) {
        if (n_fetched && o.cache_max_bytes > 0) {
            const char *keep[MAX_MODELS];
            for (int i = 0; i < n_fetched; i++) keep[i] = fetched[i];
            fetch_evict(o.cache_dir, (uint64_t)o.cache_max_bytes, keep, n_fetched);
        }
        mx_set_cache_bytes(&mx, fetch_cache_bytes(o.cache_dir));
        klogf(KLOG_INFO, "agent", "ready: %d model(s) loaded", loaded);
    }

    wait_signal(&sigs, -1);
    klogf(KLOG_INFO, "agent", "draining: stop accepting, finishing in-flight requests");
    srv_quiesce(srv);
    double deadline = now_s() + (double)o.shutdown_timeout;
    while (srv_active(srv) > 0 && now_s() < deadline)
        if (wait_signal(&sigs, 0.05)) break; /* a second signal: stop now */
    if (srv_active(srv) > 0)
        klogf(KLOG_WARN, "agent", "drain deadline passed; failing %d request(s)", srv_active(srv));
    for (int i = 0; i < loaded; i++) sched_stop(models[i].sched);
    klogf(KLOG_INFO, "agent", "stopped");
    rc = 0;
out:
    cluster_stop(cl); /* unloads its replicas (failing what is left with 503) */
    srv_free(srv);    /* joins the connection threads: nobody uses the models after this */
    cluster_free(cl);
    for (int i = loaded < MAX_MODELS ? loaded : MAX_MODELS - 1; i >= 0; i--) {
        sched_free(models[i].sched);
        llm_model_free(models[i].model);
    }
    mx_deinit(&mx);
    curl_global_cleanup();
    return rc;
}
