/* kube/config.h: where the API server is and how to authenticate to it.
 *
 * Two sources: a kubeconfig file (libyaml; current-context or a named one,
 * clusters with server / certificate-authority(-data) /
 * insecure-skip-tls-verify, users with client-certificate(-data) /
 * client-key(-data) / token / tokenFile, context namespace), and the
 * in-cluster service account (KUBERNETES_SERVICE_HOST/PORT, token file that
 * the transport re-reads when it rotates, ca.crt, namespace).
 *
 * Relative file paths in a kubeconfig are resolved against its directory.
 * "-data" fields are base64 and are decoded here, into heap buffers.
 *
 * Ownership: kube_config_load_* fill a caller-owned struct (zero it first
 * or rely on the loader to do so) with heap strings; release with
 * kube_config_deinit (safe on a zeroed struct). On error nothing is left
 * allocated and err (if given) holds a one-line reason.
 * Threads: a config is plain data; share it read-only.
 */
#ifndef KUBE_CONFIG_H
#define KUBE_CONFIG_H

#include <stddef.h>

struct kube_config {
    char *server;           /* "https://host:port", no trailing slash */
    char *ca_file;          /* PEM bundle path, or NULL */
    unsigned char *ca_data; /* PEM bytes, or NULL */
    size_t ca_len;
    char *cert_file; /* client certificate (PEM) */
    unsigned char *cert_data;
    size_t cert_len;
    char *key_file; /* client key (PEM) */
    unsigned char *key_data;
    size_t key_len;
    char *token;      /* bearer token, or NULL */
    char *token_file; /* re-read on change by the transport */
    int insecure_skip_tls_verify;
    char *namespace_; /* context namespace; "default" if unset */
};

/* Load path (NULL: $KUBECONFIG, else ~/.kube/config); context NULL means
 * current-context. 0, KUBE_ECONFIG, KUBE_EPARSE, KUBE_EIO or KUBE_ENOMEM. */
int kube_config_load_file(struct kube_config *cfg, const char *path, const char *context, char *err,
                          size_t errlen);

/* sa_dir NULL: /var/run/secrets/kubernetes.io/serviceaccount. */
int kube_config_load_incluster(struct kube_config *cfg, const char *sa_dir, char *err,
                               size_t errlen);

/* In-cluster when KUBERNETES_SERVICE_HOST is set, else the kubeconfig. */
int kube_config_load_default(struct kube_config *cfg, char *err, size_t errlen);

void kube_config_deinit(struct kube_config *cfg);

/* Decode standard base64 (whitespace ignored) into a new heap buffer. */
int kube_base64_decode(const char *in, unsigned char **out, size_t *outlen);

/* Read a whole file into a NUL-terminated heap buffer, at most cap bytes. */
int kube_read_file(const char *path, size_t cap, char **out, size_t *len);

#endif
