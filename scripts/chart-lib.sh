# scripts/chart-lib.sh: shell functions shared by the scripts that put the
# Helm chart on a real API server (scripts/helm-test.sh,
# agent/tests/cluster.sh, operator/tests/e2e_operator.sh). Source it from the
# repository root; it only defines functions.

# chart_renderer: sets $ht to a helm-template binary, or to "" when a real
# helm is on PATH. Looks at $HELM_TEMPLATE, then helm, then the team's
# shared/tools/helm-template (next to the checkout, or $KLLM_SHARED; CI may
# check out elsewhere). Returns 1 with a message when there is none.
chart_renderer() {
    if [ -n "${HELM_TEMPLATE:-}" ]; then
        ht=$HELM_TEMPLATE
        return 0
    fi
    if command -v helm >/dev/null 2>&1; then
        ht=""
        return 0
    fi
    for d in "${KLLM_SHARED:-}" ../shared /work/shared; do
        if [ -n "$d" ] && [ -x "$d/tools/helm-template/build.sh" ]; then
            ht=$("$d/tools/helm-template/build.sh") && return 0
        fi
    done
    echo "no helm binary and no shared/tools/helm-template (set KLLM_SHARED)" >&2
    return 1
}

# chart_render RELEASE NAMESPACE CHART [renderer flags...]: the rendered
# chart on stdout (chart_renderer must have run).
chart_render() {
    cr_release=$1 cr_ns=$2 cr_chart=$3
    shift 3
    if [ -n "$ht" ]; then
        "$ht" --release "$cr_release" --namespace "$cr_ns" "$@" "$cr_chart"
    else
        helm template "$cr_release" "$cr_chart" --namespace "$cr_ns" "$@"
    fi
}

# chart_rbac FILE: the ServiceAccounts, (Cluster)Roles and bindings of a
# rendered chart, as YAML documents on stdout.
chart_rbac() {
    awk 'BEGIN { RS = "\n---\n" } /\nkind: (ServiceAccount|ClusterRole|ClusterRoleBinding|Role|RoleBinding)\n/ { printf "---\n%s\n", $0 }' "$1"
}

# sa_kubeconfig NAMESPACE SERVICEACCOUNT DIR: waits (up to 60 s) for the
# token controller to issue the ServiceAccount's token, then writes
# DIR/sa.token and DIR/sa.kubeconfig (the current cluster, that token).
# Uses the current $KUBECONFIG; returns 1 when no token appears.
sa_kubeconfig() {
    sk_token=""
    sk_i=0
    while [ -z "$sk_token" ] && [ $sk_i -lt 120 ]; do
        sk_sec=$(kubectl get serviceaccount "$2" -n "$1" -o 'jsonpath={.secrets[0].name}' 2>/dev/null)
        [ -n "$sk_sec" ] && sk_token=$(kubectl get secret "$sk_sec" -n "$1" -o 'jsonpath={.data.token}' 2>/dev/null | base64 -d)
        [ -z "$sk_token" ] && sleep 0.5
        sk_i=$((sk_i + 1))
    done
    [ -n "$sk_token" ] || { echo "no token for ServiceAccount $1/$2" >&2; return 1; }
    sk_server=$(kubectl config view --minify -o 'jsonpath={.clusters[0].cluster.server}')
    sk_ca=$(kubectl config view --minify -o 'jsonpath={.clusters[0].cluster.certificate-authority}')
    sk_dir=$(cd "$3" && pwd)
    printf '%s' "$sk_token" >"$sk_dir/sa.token"
    printf '%s\n' "apiVersion: v1" "kind: Config" "clusters:" "- name: c" \
        "  cluster: {server: \"$sk_server\", certificate-authority: \"$sk_ca\"}" \
        "users:" "- name: $2" "  user: {tokenFile: \"$sk_dir/sa.token\"}" "contexts:" \
        "- name: c" "  context: {cluster: c, user: $2, namespace: $1}" "current-context: c" \
        >"$sk_dir/sa.kubeconfig"
}
