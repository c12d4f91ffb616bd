/* config.c: kubeconfig (libyaml document API) and in-cluster config. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "kube/base.h"
#include "kube/config.h"

#define KUBECONFIG_MAX (4 << 20)
#define SMALL_FILE_MAX (1 << 20)

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || !errlen) return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int kube_read_file(const char *path, size_t cap, char **out, size_t *len)
{
    int rc = 0;
    char *buf = NULL;
    size_t n = 0, sz = 0;
    if (!path || !out) return KUBE_EINVAL;
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? KUBE_ENOTFOUND : KUBE_EIO;
    for (;;) {
        if (n + 4096 + 1 > sz) {
            size_t nsz = sz ? sz * 2 : 8192;
            char *b = realloc(buf, nsz);
            if (!b) {
                rc = KUBE_ENOMEM;
                goto out;
            }
            buf = b;
            sz = nsz;
        }
        size_t r = fread(buf + n, 1, sz - n - 1, f);
        n += r;
        if (n > cap) {
            rc = KUBE_ETOOBIG;
            goto out;
        }
        if (r == 0) break;
    }
    if (ferror(f)) {
        rc = KUBE_EIO;
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    buf = NULL;
    if (len) *len = n;
out:
    free(buf);
    fclose(f);
    return rc;
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

int kube_base64_decode(const char *in, unsigned char **out, size_t *outlen)
{
    size_t n = strlen(in);
    unsigned char *buf = malloc(n / 4 * 3 + 4);
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    if (!buf) return KUBE_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)in[i];
        if (c == '=') break;
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        int v = b64val(c);
        if (v < 0) {
            free(buf);
            return KUBE_EPARSE;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
        }
    }
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    return 0;
}

void kube_config_deinit(struct kube_config *cfg)
{
    if (!cfg) return;
    free(cfg->server);
    free(cfg->ca_file);
    free(cfg->ca_data);
    free(cfg->cert_file);
    free(cfg->cert_data);
    free(cfg->key_file);
    free(cfg->key_data);
    free(cfg->token);
    free(cfg->token_file);
    free(cfg->namespace_);
    memset(cfg, 0, sizeof(*cfg));
}

/* --- small helpers over a libyaml document --- */

static yaml_node_t *ymap_get(yaml_document_t *d, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        if (k && k->type == YAML_SCALAR_NODE &&
            strcmp((const char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

static const char *yscalar(yaml_document_t *d, yaml_node_t *map, const char *key)
{
    yaml_node_t *n = ymap_get(d, map, key);
    if (!n || n->type != YAML_SCALAR_NODE) return NULL;
    return (const char *)n->data.scalar.value;
}

/* The "field" mapping of the entry named name in the sequence list. */
static yaml_node_t *ynamed(yaml_document_t *d, yaml_node_t *root, const char *list,
                           const char *name, const char *field)
{
    yaml_node_t *seq = ymap_get(d, root, list);
    if (!seq || seq->type != YAML_SEQUENCE_NODE) return NULL;
    for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
         i++) {
        yaml_node_t *e = yaml_document_get_node(d, *i);
        const char *n = yscalar(d, e, "name");
        if (n && strcmp(n, name) == 0) return ymap_get(d, e, field);
    }
    return NULL;
}

static int ytrue(const char *s)
{
    return s && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "yes") == 0);
}

/* Duplicate s, resolving a relative path against dir. */
static int dup_path(const char *dir, const char *s, char **out)
{
    *out = NULL;
    if (!s || !*s) return 0;
    if (s[0] == '/' || !dir) {
        *out = strdup(s);
    } else {
        size_t n = strlen(dir) + strlen(s) + 2;
        *out = malloc(n);
        if (*out) snprintf(*out, n, "%s/%s", dir, s);
    }
    return *out ? 0 : KUBE_ENOMEM;
}

static int dup_str(const char *s, char **out)
{
    *out = NULL;
    if (!s) return 0;
    *out = strdup(s);
    return *out ? 0 : KUBE_ENOMEM;
}

static int decode_field(const char *s, unsigned char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (!s || !*s) return 0;
    return kube_base64_decode(s, out, len);
}

int kube_config_load_file(struct kube_config *cfg, const char *path, const char *context, char *err,
                          size_t errlen)
{
    int rc = 0, have_doc = 0, have_parser = 0;
    char *text = NULL, *dir = NULL, *home_path = NULL;
    size_t len = 0;
    yaml_parser_t parser;
    yaml_document_t doc;

    memset(cfg, 0, sizeof(*cfg));
    if (!path) path = getenv("KUBECONFIG");
    if (!path || !*path) {
        const char *home = getenv("HOME");
        if (!home) {
            seterr(err, errlen, "no KUBECONFIG and no HOME");
            rc = KUBE_ECONFIG;
            goto out;
        }
        size_t n = strlen(home) + 16;
        home_path = malloc(n);
        if (!home_path) {
            rc = KUBE_ENOMEM;
            goto out;
        }
        snprintf(home_path, n, "%s/.kube/config", home);
        path = home_path;
    }
    rc = kube_read_file(path, KUBECONFIG_MAX, &text, &len);
    if (rc) {
        seterr(err, errlen, "read %s: %s", path, kube_strerror(rc));
        goto out;
    }
    dir = strdup(path);
    if (!dir) {
        rc = KUBE_ENOMEM;
        goto out;
    }
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else {
        free(dir);
        dir = NULL;
    }

    if (!yaml_parser_initialize(&parser)) {
        rc = KUBE_ENOMEM;
        goto out;
    }
    have_parser = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        seterr(err, errlen, "%s: yaml error at line %zu: %s", path, parser.problem_mark.line + 1,
               parser.problem ? parser.problem : "?");
        rc = KUBE_EPARSE;
        goto out;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || root->type != YAML_MAPPING_NODE) {
        seterr(err, errlen, "%s: not a kubeconfig mapping", path);
        rc = KUBE_EPARSE;
        goto out;
    }
    if (!context) context = yscalar(&doc, root, "current-context");
    if (!context || !*context) {
        seterr(err, errlen, "%s: no current-context", path);
        rc = KUBE_ECONFIG;
        goto out;
    }
    yaml_node_t *ctx = ynamed(&doc, root, "contexts", context, "context");
    if (!ctx) {
        seterr(err, errlen, "%s: context %s not found", path, context);
        rc = KUBE_ECONFIG;
        goto out;
    }
    const char *cluster_name = yscalar(&doc, ctx, "cluster");
    const char *user_name = yscalar(&doc, ctx, "user");
    yaml_node_t *cl = cluster_name ? ynamed(&doc, root, "clusters", cluster_name, "cluster") : NULL;
    if (!cl) {
        seterr(err, errlen, "%s: cluster %s not found", path, cluster_name ? cluster_name : "?");
        rc = KUBE_ECONFIG;
        goto out;
    }
    yaml_node_t *user = user_name ? ynamed(&doc, root, "users", user_name, "user") : NULL;
    const char *server = yscalar(&doc, cl, "server");
    if (!server || !*server) {
        seterr(err, errlen, "%s: cluster %s has no server", path, cluster_name);
        rc = KUBE_ECONFIG;
        goto out;
    }
    size_t sl = strlen(server);
    while (sl > 0 && server[sl - 1] == '/') sl--;
    cfg->server = strndup(server, sl);
    if (!cfg->server) {
        rc = KUBE_ENOMEM;
        goto out;
    }
    cfg->insecure_skip_tls_verify = ytrue(yscalar(&doc, cl, "insecure-skip-tls-verify"));
    if ((rc = dup_path(dir, yscalar(&doc, cl, "certificate-authority"), &cfg->ca_file)) ||
        (rc = decode_field(yscalar(&doc, cl, "certificate-authority-data"), &cfg->ca_data,
                           &cfg->ca_len))) {
        seterr(err, errlen, "%s: certificate-authority: %s", path, kube_strerror(rc));
        goto out;
    }
    if (user) {
        if ((rc = dup_path(dir, yscalar(&doc, user, "client-certificate"), &cfg->cert_file)) ||
            (rc = decode_field(yscalar(&doc, user, "client-certificate-data"), &cfg->cert_data,
                               &cfg->cert_len)) ||
            (rc = dup_path(dir, yscalar(&doc, user, "client-key"), &cfg->key_file)) ||
            (rc = decode_field(yscalar(&doc, user, "client-key-data"), &cfg->key_data,
                               &cfg->key_len)) ||
            (rc = dup_str(yscalar(&doc, user, "token"), &cfg->token)) ||
            (rc = dup_path(dir, yscalar(&doc, user, "tokenFile"), &cfg->token_file))) {
            seterr(err, errlen, "%s: user %s: %s", path, user_name, kube_strerror(rc));
            goto out;
        }
        if (ymap_get(&doc, user, "exec") || ymap_get(&doc, user, "auth-provider")) {
            seterr(err, errlen, "%s: user %s: exec/auth-provider plugins are not supported", path,
                   user_name);
            rc = KUBE_ECONFIG;
            goto out;
        }
    }
    const char *ns = yscalar(&doc, ctx, "namespace");
    rc = dup_str(ns && *ns ? ns : "default", &cfg->namespace_);
out:
    if (have_doc) yaml_document_delete(&doc);
    if (have_parser) yaml_parser_delete(&parser);
    free(text);
    free(dir);
    free(home_path);
    if (rc) kube_config_deinit(cfg);
    return rc;
}

int kube_config_load_incluster(struct kube_config *cfg, const char *sa_dir, char *err,
                               size_t errlen)
{
    int rc = 0;
    char path[4096];
    char *ns = NULL;
    memset(cfg, 0, sizeof(*cfg));
    if (!sa_dir) sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host || !port || !*port) {
        seterr(err, errlen, "KUBERNETES_SERVICE_HOST/PORT not set");
        rc = KUBE_ECONFIG;
        goto out;
    }
    size_t n = strlen(host) + strlen(port) + 16;
    cfg->server = malloc(n);
    if (!cfg->server) {
        rc = KUBE_ENOMEM;
        goto out;
    }
    /* IPv6 literals need brackets in a URL. */
    if (strchr(host, ':'))
        snprintf(cfg->server, n, "https://[%s]:%s", host, port);
    else
        snprintf(cfg->server, n, "https://%s:%s", host, port);
    snprintf(path, sizeof(path), "%s/token", sa_dir);
    cfg->token_file = strdup(path);
    snprintf(path, sizeof(path), "%s/ca.crt", sa_dir);
    cfg->ca_file = strdup(path);
    if (!cfg->token_file || !cfg->ca_file) {
        rc = KUBE_ENOMEM;
        goto out;
    }
    /* Fail early if the token is missing; the transport re-reads it later. */
    rc = kube_read_file(cfg->token_file, SMALL_FILE_MAX, &cfg->token, NULL);
    if (rc) {
        seterr(err, errlen, "read %s: %s", cfg->token_file, kube_strerror(rc));
        rc = KUBE_ECONFIG;
        goto out;
    }
    snprintf(path, sizeof(path), "%s/namespace", sa_dir);
    if (kube_read_file(path, 4096, &ns, NULL) == 0) {
        ns[strcspn(ns, " \r\n")] = '\0';
        cfg->namespace_ = ns;
        ns = NULL;
    } else {
        cfg->namespace_ = strdup("default");
        if (!cfg->namespace_) rc = KUBE_ENOMEM;
    }
out:
    free(ns);
    if (rc) kube_config_deinit(cfg);
    return rc;
}

int kube_config_load_default(struct kube_config *cfg, char *err, size_t errlen)
{
    const char *kc = getenv("KUBECONFIG");
    if ((!kc || !*kc) && getenv("KUBERNETES_SERVICE_HOST"))
        return kube_config_load_incluster(cfg, NULL, err, errlen);
    return kube_config_load_file(cfg, NULL, NULL, err, errlen);
}
