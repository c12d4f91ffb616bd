# scripts/check-lib.sh: the check helpers the shell test suites share
# (sourced from the repository root). Each check prints one line starting
# with "ok   " or "FAIL "; $passes and $failures count them (the caller sets
# both to 0 and exits non-zero when failures > 0).

ok() {
    echo "ok   $*"
    passes=$((passes + 1))
}

fail() {
    echo "FAIL $*"
    failures=$((failures + 1))
}

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND every 0.5 s; ok
# when it succeeds within SECONDS, else fail (and return 1).
wait_for() {
    wf_what=$1
    wf_secs=$2
    shift 2
    wf_i=0
    while [ $wf_i -lt $((wf_secs * 2)) ]; do
        if "$@" >/dev/null 2>&1; then
            ok "$wf_what"
            return 0
        fi
        sleep 0.5
        wf_i=$((wf_i + 1))
    done
    fail "$wf_what (after $wf_secs s)"
    return 1
}

# use_cluster TAG DIR: the cluster $KUBECONFIG names, or (unset) a private
# control plane brought up in $KLLM_CLUSTER_DIR (default DIR); then
# own_cluster=1 and the caller's exit trap runs e2e/cluster/down.sh.
use_cluster() {
    [ -n "${KUBECONFIG:-}" ] && return 0
    export KLLM_CLUSTER_DIR="${KLLM_CLUSTER_DIR:-$2}"
    own_cluster=1
    KUBECONFIG=$(./e2e/cluster/up.sh) || { echo "$1: cluster-up failed" >&2; exit 1; }
    export KUBECONFIG
}
