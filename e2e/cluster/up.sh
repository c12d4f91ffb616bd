#!/bin/sh
# e2e/cluster/up.sh: start a local control plane — etcd, kube-apiserver,
# kube-controller-manager — on free 127.0.0.1 ports, with client-cert auth,
# RBAC and service-account tokens. Prints the admin kubeconfig path on
# stdout (the last line). State lives in $KLLM_CLUSTER_DIR (default
# build/cluster): certs/, etcd/, logs/, *.pid, *.cmd (how each process was
# started, used by restart-apiserver.sh) and state.env.
#
# If the cluster in that directory is already running, just prints the path.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
dir=$(cluster_dir)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

if [ -f "$dir/state.env" ]; then
    . "$dir/state.env"
    if pid_is "$(cat "$dir/apiserver.pid" 2>/dev/null)" kube-apiserver; then
        log "already running in $dir"
        echo "$dir/admin.kubeconfig"
        exit 0
    fi
    log "stale state in $dir; cleaning up first"
    "$here/down.sh" >/dev/null 2>&1 || true
fi

ensure_pkgs etcd-server openssl curl
# Any kubectl will do (Debian's kubernetes-client 1.20, or a newer one that
# is already installed, e.g. the "kubectl" package that owns the same path).
command -v kubectl >/dev/null 2>&1 || ensure_pkgs kubernetes-client
"$here/build-k8s.sh" >&2 # its output is a log; stdout is the kubeconfig path
bin="$K8S_CACHE/bin"
etcd_bin=$(command -v etcd || echo /usr/bin/etcd)

rm -rf "$dir/etcd" "$dir/certs"
mkdir -p "$dir/certs" "$dir/logs" "$dir/etcd"
chmod 700 "$dir/etcd"
c="$dir/certs"

# --- certificates (openssl CLI) ---
ossl() { openssl "$@" 2>>"$dir/logs/openssl.log"; }
ossl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=kllm-e2e-ca" \
    -keyout "$c/ca.key" -out "$c/ca.crt"
# signed <name> <subject> [extfile]
signed() {
    ossl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$c/$1.key" -out "$c/$1.csr"
    if [ -n "${3:-}" ]; then
        ossl x509 -req -in "$c/$1.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial \
            -days 30 -out "$c/$1.crt" -extfile "$3"
    else
        ossl x509 -req -in "$c/$1.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial \
            -days 30 -out "$c/$1.crt"
    fi
    rm -f "$c/$1.csr"
}
cat >"$c/server.ext" <<'X'
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
X
cat >"$c/client.ext" <<'X'
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
X
signed apiserver "/CN=kube-apiserver" "$c/server.ext"
signed admin "/O=system:masters/CN=kllm-admin" "$c/client.ext"
signed kcm "/CN=system:kube-controller-manager" "$c/client.ext"
ossl genrsa -out "$c/sa.key" 2048
ossl rsa -in "$c/sa.key" -pubout -out "$c/sa.pub"

# Four distinct free ports (the kernel may hand the same one out twice).
while :; do
    etcd_port=$(free_port)
    etcd_peer=$(free_port)
    api_port=$(free_port)
    kcm_port=$(free_port)
    n=$(printf '%s\n' "$etcd_port" "$etcd_peer" "$api_port" "$kcm_port" | sort -u | wc -l)
    [ "$n" -eq 4 ] && break
done

kubeconfig() { # file user cert key
    cat >"$1" <<K
apiVersion: v1
kind: Config
clusters:
- name: kllm-e2e
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $c/ca.crt
users:
- name: $2
  user:
    client-certificate: $3
    client-key: $4
contexts:
- name: kllm-e2e
  context: {cluster: kllm-e2e, user: $2, namespace: default}
current-context: kllm-e2e
K
}
kubeconfig "$dir/admin.kubeconfig" kllm-admin "$c/admin.crt" "$c/admin.key"
kubeconfig "$dir/kcm.kubeconfig" kcm "$c/kcm.crt" "$c/kcm.key"

cat >"$dir/etcd.cmd" <<E
exec "$etcd_bin" --name kllm-e2e --data-dir "$dir/etcd" \\
  --listen-client-urls http://127.0.0.1:$etcd_port --advertise-client-urls http://127.0.0.1:$etcd_port \\
  --listen-peer-urls http://127.0.0.1:$etcd_peer --initial-advertise-peer-urls http://127.0.0.1:$etcd_peer \\
  --initial-cluster kllm-e2e=http://127.0.0.1:$etcd_peer --listen-metrics-urls "" \\
  --quota-backend-bytes 2147483648 --log-level warn
E
# podtemplates (used by nothing in kllm) bypass the watch cache, so a
# watch on them goes to etcd and an etcd compaction produces a real
# 410 Gone: the kube integration tests use that.
cat >"$dir/apiserver.cmd" <<E
exec "$bin/kube-apiserver" --etcd-servers http://127.0.0.1:$etcd_port \\
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port $api_port --insecure-port 0 \\
  --cert-dir "$dir/certs" --tls-cert-file "$c/apiserver.crt" --tls-private-key-file "$c/apiserver.key" \\
  --client-ca-file "$c/ca.crt" --authorization-mode RBAC \\
  --service-account-key-file "$c/sa.pub" --service-account-signing-key-file "$c/sa.key" \\
  --service-account-issuer https://kubernetes.default.svc --api-audiences https://kubernetes.default.svc \\
  --service-cluster-ip-range 10.0.0.0/24 --allow-privileged=true --profiling=false \\
  --enable-admission-plugins NamespaceLifecycle,ServiceAccount,DefaultStorageClass,ResourceQuota \\
  --watch-cache-sizes podtemplates#0 \\
  --v 1
E
cat >"$dir/kcm.cmd" <<E
exec "$bin/kube-controller-manager" --kubeconfig "$dir/kcm.kubeconfig" \\
  --authentication-kubeconfig "$dir/kcm.kubeconfig" --authorization-kubeconfig "$dir/kcm.kubeconfig" \\
  --bind-address 127.0.0.1 --secure-port $kcm_port --port 0 --leader-elect=false \\
  --service-account-private-key-file "$c/sa.key" --root-ca-file "$c/ca.crt" \\
  --use-service-account-credentials=true --controllers '*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-route,-service' \\
  --v 1
E

# start <name>: run <name>.cmd detached (own session), pid into <name>.pid

cat >"$dir/state.env" <<S
KLLM_CLUSTER_DIR=$dir
KUBECONFIG=$dir/admin.kubeconfig
ETCD_ENDPOINT=http://127.0.0.1:$etcd_port
APISERVER=https://127.0.0.1:$api_port
CA_CERT=$c/ca.crt
S

start_proc "$dir" etcd etcd
i=0
until curl -fsS "http://127.0.0.1:$etcd_port/health" 2>/dev/null | grep -q true; do
    i=$((i + 1))
    pid_is "$(cat "$dir/etcd.pid")" etcd || { tail -20 "$dir/logs/etcd.log" >&2; die "etcd exited"; }
    [ $i -gt 120 ] && die "etcd not healthy after 60 s"
    sleep 0.5
done
start_proc "$dir" apiserver kube-apiserver
"$here/wait-apiserver.sh" "$dir" || die "kube-apiserver not ready (see $dir/logs/apiserver.log)"
start_proc "$dir" kcm kube-controller-manager
# Service-account tokens come from the controller-manager: wait for the
# default namespace's account token so tests can rely on it.
i=0
until kubectl --kubeconfig "$dir/admin.kubeconfig" -n default get serviceaccount default \
    -o jsonpath='{.secrets[0].name}' 2>/dev/null | grep -q .; do
    i=$((i + 1))
    pid_is "$(cat "$dir/kcm.pid")" kube-controller-manager || { tail -20 "$dir/logs/kcm.log" >&2; die "kube-controller-manager exited"; }
    [ $i -gt 240 ] && die "no service-account token after 120 s"
    sleep 0.5
done
log "up: apiserver https://127.0.0.1:$api_port, state in $dir"
echo "$dir/admin.kubeconfig"
