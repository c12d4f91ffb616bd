#!/bin/sh
# e2e/run.sh TEST...: what `make e2e` runs. Brings a private control plane
# up (KLLM_CLUSTER_DIR, default build/cluster-e2e, so a developer's
# `make cluster-up` is left alone), installs the test CRD, runs each test
# program, and always brings the cluster down again (trap), even when a
# test fails or the run is interrupted. Exit status: 0 only if all passed.
set -u
cd "$(dirname "$0")/.."
export KLLM_CLUSTER_DIR="${KLLM_CLUSTER_DIR:-$(pwd)/build/cluster-e2e}"
start=$(date +%s)
# A cluster already running there belongs to someone else's run (two
# `make e2e` at once would take each other's cluster down): refuse.
. e2e/cluster/lib.sh # pid_is
if pid_is "$(cat "$KLLM_CLUSTER_DIR/apiserver.pid" 2>/dev/null)" kube-apiserver; then
    echo "e2e: a control plane is already running in $KLLM_CLUSTER_DIR (another make e2e?);" \
        "wait for it, or set KLLM_CLUSTER_DIR to another directory" >&2
    exit 1
fi
cleanup() {
    ./e2e/cluster/down.sh
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! kc=$(./e2e/cluster/up.sh); then
    echo "e2e: cluster-up failed" >&2
    exit 1
fi
export KUBECONFIG="$kc"
echo "e2e: cluster up after $(($(date +%s) - start)) s ($KUBECONFIG)"
kubectl apply -f e2e/kube/widgets-crd.yaml >/dev/null &&
    kubectl wait --for condition=established --timeout=60s crd/widgets.kubetest.kllm.io >/dev/null ||
    { echo "e2e: test CRD not established" >&2; exit 1; }

failed=""
for t in "$@"; do
    echo "== $t"
    t0=$(date +%s)
    if ! "$t"; then failed="$failed $t"; fi
    echo "   ($(($(date +%s) - t0)) s)"
done
echo "e2e: finished in $(($(date +%s) - start)) s"
if [ -n "$failed" ]; then
    echo "e2e: FAILED:$failed"
    exit 1
fi
echo "e2e: all $# test programs passed"
