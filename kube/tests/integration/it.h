/* it.h: shared helpers of the kube integration tests (need a running
 * control plane: KUBECONFIG, KLLM_CLUSTER_DIR; started by `make e2e`). */
#ifndef KUBE_IT_H
#define KUBE_IT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/client.h"

static const struct kube_resource it_widgets = {"kubetest.kllm.io", "v1", "widgets", 1};
static const struct kube_resource it_namespaces = {"", "v1", "namespaces", 0};

static void it_log(void *ud, enum kube_log_level lvl, const char *msg, const char *const *kv)
{
    if (lvl < KUBE_LOG_INFO && !getenv("KUBE_IT_DEBUG")) return;
    fprintf(stderr, "  [kube] %s", msg);
    for (; kv && kv[0] && kv[1]; kv += 2) fprintf(stderr, " %s=%s", kv[0], kv[1]);
    fputc('\n', stderr);
}

static inline struct kube_client *it_client(void)
{
    struct kube_config cfg;
    struct kube_client *c = NULL;
    char err[256] = "";
    struct kube_client_opts o = {{it_log, NULL}, 0, 0, 0, NULL};
    if (kube_config_load_file(&cfg, NULL, NULL, err, sizeof(err))) {
        fprintf(stderr, "kubeconfig: %s\n", err);
        return NULL;
    }
    if (kube_client_new(&cfg, &o, &c)) c = NULL;
    kube_config_deinit(&cfg);
    return c;
}

static inline void it_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline double it_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int it_ensure_ns(struct kube_client *c, const char *ns)
{
    char buf[256];
    snprintf(buf, sizeof(buf),
             "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}", ns);
    cJSON *o = cJSON_Parse(buf);
    int rc = kube_create(c, &it_namespaces, NULL, o, NULL, NULL);
    cJSON_Delete(o);
    return rc == KUBE_EEXISTS ? 0 : rc;
}

static inline cJSON *it_widget(const char *ns, const char *name, const char *labels_json,
                               int replicas)
{
    char buf[1024];
    snprintf(buf, sizeof(buf),
             "{\"apiVersion\":\"kubetest.kllm.io/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":"
             "\"%s\",\"namespace\":\"%s\",\"labels\":%s},\"spec\":{\"replicas\":%d,\"color\":"
             "\"red\"}}",
             name, ns, labels_json ? labels_json : "{}", replicas);
    return cJSON_Parse(buf);
}

#endif
