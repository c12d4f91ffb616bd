#!/bin/sh
# scripts/helm-test.sh: render the chart helm/kllm and check what it renders.
#
#   scripts/helm-test.sh                      offline checks
#   KUBECONFIG=FILE scripts/helm-test.sh      also against that cluster:
#       installs the CRDs (kubectl apply, they stay), then, in a throw-away
#       namespace, `kubectl apply --dry-run=server` of every rendered
#       variant and of crds/examples/valid/*.yaml, and expects each
#       crds/examples/invalid/*.yaml to be refused with its "# expect:" text.
#
# Renderer: `helm template` when helm is on PATH, else
# ../shared/tools/helm-template (built once into ~/.cache), or $HELM_TEMPLATE.
# Rendered output is kept in $BUILD/helm-test/ (default build/) for reading.
# Exit status 0 when every check passed; each failure is printed.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
out=$BUILD/helm-test
chart=helm/kllm
release=kllm
ns=kllm-system
mkdir -p "$out"
failures=0
pass() { echo "ok   $*"; }
fail() {
    echo "FAIL $*"
    failures=$((failures + 1))
}
check() { # check DESCRIPTION COMMAND...
    what=$1
    shift
    if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi
}

# --- tools -------------------------------------------------------------------
scripts/check-crds-sync.sh || fail "chart CRDs identical to crds/"
${CC:-cc} -std=c11 -Wall -Wextra -Werror -O1 -o "$out/manifest-check" helm/tools/manifest-check.c -lyaml
mc="$out/manifest-check"

. scripts/chart-lib.sh
chart_renderer || exit 1
# render NAME [renderer flags...]: writes $out/NAME.yaml, returns the renderer's status.
render() {
    name=$1
    shift
    chart_render "$release" "$ns" "$chart" --include-crds "$@" >"$out/$name.yaml"
}
has() { grep -q -e "$2" "$out/$1.yaml"; }
hasnt() { ! grep -q -e "$2" "$out/$1.yaml"; }
count() { grep -c -e "$2" "$out/$1.yaml" || true; }

# --- values ------------------------------------------------------------------
if command -v jq >/dev/null 2>&1; then
    check "values.schema.json is JSON" jq empty "$chart/values.schema.json"
fi

# --- render every variant -----------------------------------------------------
variants="default"
render default || fail "render default values"
for f in "$chart"/ci/*.yaml; do
    v=$(basename "$f" .yaml)
    variants="$variants $v"
    render "$v" -f "$f" || fail "render $v"
done
render kube125 --kube-version v1.25.0 || fail "render for Kubernetes 1.25"
variants="$variants kube125"
for v in $variants; do
    if "$mc" "$out/$v.yaml" >"$out/$v.objects" 2>"$out/$v.err"; then
        pass "$v: $(wc -l <"$out/$v.objects") objects, every document parses"
    else
        fail "$v: $(cat "$out/$v.err")"
    fi
    if has "$v" '<no value>'; then fail "$v: '<no value>' in output (a missing value)"; fi
    for o in "Deployment $ns/$release-operator" "DaemonSet $ns/$release-agent" \
        "Service $ns/$release-agent" "Service $ns/$release-agent-metrics" \
        "Service $ns/$release-operator-metrics" "ServiceAccount $ns/$release-operator" \
        "ServiceAccount $ns/$release-agent" "ClusterRole -/$release-operator" \
        "ClusterRole -/$release-agent" "Role $ns/$release-operator" "Role $ns/$release-agent" \
        "CustomResourceDefinition -/models.kllm.io" \
        "CustomResourceDefinition -/modelrevisions.kllm.io" \
        "CustomResourceDefinition -/modelreplicas.kllm.io" \
        "CustomResourceDefinition -/inferencenodes.kllm.io"; do
        grep -qx "$o" "$out/$v.objects" || fail "$v: no $o"
    done
done

# --- what the defaults must say --------------------------------------------------
d=default
check "operator: leader election on" has $d '--leader-elect=true'
check "operator: 2 replicas" has $d '^  replicas: 2$'
check "operator: probes on :8081" has $d 'containerPort: 8081'
check "operator: PDB is policy/v1beta1 on 1.20" has $d '^apiVersion: policy/v1beta1$'
check "operator: PDB is policy/v1 on 1.25" has kube125 '^apiVersion: policy/v1$'
check "agent: --node-name from spec.nodeName" has $d 'fieldPath: spec.nodeName'
check "agent: node name flag" has $d '--node-name=$(NODE_NAME)'
check "agent: hostPath model cache" has $d 'path: /var/lib/kllm/models'
check "agent: probes on :8080" has $d 'containerPort: 8080'
tg=$(sed -n 's/^ *terminationGracePeriodSeconds: *//p' "$out/$d.yaml" | sort -n | tail -1)
if [ "${tg:-0}" -ge 60 ]; then pass "agent: terminationGracePeriodSeconds $tg >= 60"; else fail "agent: terminationGracePeriodSeconds ${tg:-unset}"; fi
check "no hostNetwork" hasnt $d 'hostNetwork: true'
# Two main containers: each must carry the restricted security context.
for s in 'readOnlyRootFilesystem: true' 'allowPrivilegeEscalation: false' 'runAsNonRoot: true' '- ALL'; do
    n=$(count $d "$s")
    if [ "$n" -ge 2 ]; then pass "securityContext '$s' x$n"; else fail "securityContext '$s' only x$n"; fi
done
check "no Secret without apiKey.enabled" hasnt $d '^kind: Secret'
check "no ServiceMonitor by default" hasnt $d '^kind: ServiceMonitor'
# Least privilege: neither ClusterRole nor Role may touch these, nor use wildcards.
sed -n '/^kind: \(Cluster\)\{0,1\}Role$/,/^---/p' "$out/$d.yaml" >"$out/rbac.yaml"
for r in secrets pods nodes configmaps deployments '\*'; do
    # A resource name in a flow list: [a, b] (so "nodes" is not "inferencenodes").
    case $r in '\*') pat='\*' ;; *) pat="[[ ]$r[],]" ;; esac
    check "RBAC grants nothing on '$r'" hasnt rbac "$pat"
done
check "RBAC rules rendered" has rbac 'inferencenodes/status'
check "api-key helper" has all-features-values '--api-key-file=/etc/kllm/api-key/api-key'
n=$(count all-features-values '--api-key-file=/etc/kllm/api-key/api-key')
if [ "$n" = 2 ]; then pass "apiKey: agent and operator both get --api-key-file"; else fail "apiKey: --api-key-file x$n (want the agent and the operator)"; fi
n=$(count all-features-values 'secretName: kllm-api-key')
if [ "$n" = 2 ]; then pass "apiKey: agent and operator both mount the Secret"; else fail "apiKey: Secret mounted x$n"; fi
check "all features: Secret" grep -qx "Secret $ns/$release-api-key" "$out/all-features-values.objects"
check "all features: ServiceMonitor" grep -qx "ServiceMonitor $ns/$release" "$out/all-features-values.objects"
check "all features: PrometheusRule" grep -qx "PrometheusRule $ns/$release" "$out/all-features-values.objects"
for a in KllmRollbackHappened KllmModelDegraded KllmReplicasUnschedulable KllmAgentDown \
    KllmErrorRateHigh KllmQueueSaturated; do
    check "alert $a" has all-features-values "alert: $a"
done
check "pvc cache uses the claim" has pvc-values 'claimName: kllm-models'
check "existing API-key Secret used" has pvc-values 'secretName: my-kllm-key'
check "emptyDir cache" has emptydir-values 'sizeLimit: 20Gi'
check "no PDB with 1 operator replica" hasnt emptydir-values '^kind: PodDisruptionBudget'
if render bad --set agent.cache.type=pvc 2>/dev/null; then
    fail "pvc cache without existingClaim must not render"
else
    pass "pvc cache without existingClaim is refused"
fi

# --- against a cluster ------------------------------------------------------------
if [ -n "${KUBECONFIG:-}" ]; then
    tns=kllm-helm-test-$$
    cleanup() { kubectl delete namespace "$tns" --wait=false >/dev/null 2>&1 || true; }
    trap cleanup EXIT INT TERM
    if kubectl apply -f crds/ >"$out/crds.log" 2>&1 &&
        kubectl wait --for condition=established --timeout=60s $(for f in crds/*.yaml; do printf " -f %s" "$f"; done) >>"$out/crds.log" 2>&1; then
        pass "server: CRDs accepted and Established"
    else
        fail "server: CRDs: $(cat "$out/crds.log")"
    fi
    kubectl create namespace "$tns" >/dev/null
    # Render into the test namespace; monitoring kinds only when the cluster serves them.
    mon=""
    if ! kubectl api-resources --api-group=monitoring.coreos.com 2>/dev/null | grep -q PrometheusRule; then
        mon="--set metrics.serviceMonitor.enabled=false --set metrics.prometheusRule.enabled=false"
    fi
    for v in default all-features-values pvc-values emptydir-values; do
        f=""
        [ "$v" = default ] || f="-f $chart/ci/$v.yaml"
        # shellcheck disable=SC2086
        ns0=$ns
        ns=$tns
        render "server-$v" $f $mon || fail "render server-$v"
        ns=$ns0
        if kubectl apply --dry-run=server -f "$out/server-$v.yaml" >"$out/server-$v.log" 2>&1; then
            pass "server: $v accepted by kubectl apply --dry-run=server"
        else
            fail "server: $v: $(grep -v ' created (server dry run)\| configured (server dry run)\| unchanged' "$out/server-$v.log")"
        fi
    done
    # The RBAC the chart renders, installed for real under a throw-away release
    # name, must give each ServiceAccount what it needs and nothing more.
    ns0=$ns
    rel0=$release
    ns=$tns
    release=kllm-helm-test
    render server-rbac || fail "render server-rbac"
    ns=$ns0
    release=$rel0
    chart_rbac "$out/server-rbac.yaml" >"$out/rbac-only.yaml"
    cleanup() {
        kubectl delete -f "$out/rbac-only.yaml" --ignore-not-found --wait=false >/dev/null 2>&1 || true
        kubectl delete namespace "$tns" --wait=false >/dev/null 2>&1 || true
    }
    if kubectl apply -f "$out/rbac-only.yaml" >"$out/rbac.log" 2>&1; then
        pass "server: RBAC installed ($(grep -c '^kind:' "$out/rbac-only.yaml") objects)"
    else
        fail "server: RBAC: $(cat "$out/rbac.log")"
    fi
    sa=system:serviceaccount:$tns
    # can WHO EXPECT VERB RESOURCE [FLAGS...]
    can() {
        who=$1
        want=$2
        shift 2
        got=$(kubectl auth can-i "$@" --as="$sa:kllm-helm-test-$who" 2>/dev/null || true)
        if [ "$got" = "$want" ]; then pass "rbac: $who can-i $* = $want"; else fail "rbac: $who can-i $* = $got, want $want"; fi
    }
    can operator yes create models.kllm.io -n team-a
    can operator yes delete modelreplicas.kllm.io -n team-a
    can operator yes create modelrevisions.kllm.io -n team-a
    can operator yes update models.kllm.io --subresource=status -n team-a
    can operator yes update models.kllm.io --subresource=scale -n team-a
    can operator yes update modelreplicas.kllm.io --subresource=status -n team-a
    can operator yes update inferencenodes.kllm.io --subresource=status
    can operator no update inferencenodes.kllm.io
    can operator yes create events -n team-a
    can operator yes update leases.coordination.k8s.io -n "$tns"
    can operator no update leases.coordination.k8s.io -n default
    can operator no get secrets -n "$tns"
    can operator no list pods -n team-a
    can agent yes create inferencenodes.kllm.io
    can agent yes update inferencenodes.kllm.io --subresource=status
    can agent yes watch modelreplicas.kllm.io --all-namespaces
    can agent yes update modelreplicas.kllm.io --subresource=status -n team-a
    can agent no update modelreplicas.kllm.io -n team-a
    can agent no create modelreplicas.kllm.io -n team-a
    can agent yes list models.kllm.io --all-namespaces
    can agent no update models.kllm.io -n team-a
    can agent no update models.kllm.io --subresource=status -n team-a
    can agent yes update leases.coordination.k8s.io -n "$tns"
    can agent no get leases.coordination.k8s.io -n default
    can agent no get secrets -n "$tns"
    can agent no create events -n team-a
    for f in crds/examples/valid/*.yaml; do
        if kubectl apply --dry-run=server -n "$tns" -f "$f" >"$out/example.log" 2>&1; then
            pass "server: accepts $f"
        else
            fail "server: refuses $f: $(cat "$out/example.log")"
        fi
    done
    for f in crds/examples/invalid/*.yaml; do
        want=$(sed -n '1s/^# expect: //p' "$f")
        if kubectl apply --dry-run=server -n "$tns" -f "$f" >"$out/example.log" 2>&1; then
            fail "server: accepts invalid $f"
        elif grep -qF -- "$want" "$out/example.log"; then
            pass "server: refuses $f ($want)"
        else
            fail "server: refuses $f but without '$want': $(cat "$out/example.log")"
        fi
    done
fi

if [ $failures -ne 0 ]; then
    echo "helm-test: $failures check(s) failed (rendered output in $out/)"
    exit 1
fi
echo "helm-test: all checks passed"
