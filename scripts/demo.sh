#!/bin/sh
# scripts/demo.sh [up|down|status]: `make demo` / `make demo-down`, the
# whole local system (docs/e2e.md has the same pieces under test).
#
#   up (make demo)        a local control plane (etcd + kube-apiserver +
#                         kube-controller-manager, e2e/cluster), the CRDs and
#                         the chart's ServiceAccounts, RBAC and Secrets, the
#                         operator and two agents (node-a, node-b) as local
#                         processes, a local HTTP "model registry" serving the
#                         bundled GGUF, and a Model using it; waits until it
#                         is Ready, asks it for a chat completion with curl,
#                         prints what to try next. Everything keeps running
#                         in the background until `make demo-down`.
#   down (make demo-down) stops exactly what `up` started (by recorded pid)
#                         and the control plane. Safe to run twice.
#
# State, logs and the kubeconfig live in build/demo (KLLM_DEMO_DIR).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SYS_BIN=$BUILD/bin
SYS_WORK=${KLLM_DEMO_DIR:-$(pwd)/$BUILD/demo}
export KLLM_CLUSTER_DIR="$SYS_WORK/cluster"
SYS_SETSID=setsid
SYS_AGENT_CPU=4 # room for a canary next to 3 stable replicas of 1 CPU
MODEL=$(pwd)/engine/tests/data/llama-2-tiny-random.gguf
NS=demo
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

down() {
    [ -d "$SYS_WORK" ] || { echo "demo: nothing to stop"; return 0; }
    sys_stop_all
    ./e2e/cluster/down.sh
    echo "demo: stopped (logs kept in $SYS_WORK)"
}

mkdir -p "$SYS_WORK"
SYS_WORK=$(cd "$SYS_WORK" && pwd)
. e2e/system/lib.sh

case "${1:-up}" in
down)
    down
    exit 0
    ;;
up) ;;
*)
    echo "usage: scripts/demo.sh [up|down]" >&2
    exit 2
    ;;
esac

if [ -s "$SYS_WORK/procs" ]; then
    echo "demo: a previous demo is still recorded in $SYS_WORK; stopping it first"
    down >/dev/null 2>&1
fi
rm -rf "$SYS_WORK/sa-operator" "$SYS_WORK/sa-agent" "$SYS_WORK"/*.log "$SYS_WORK"/*.port "$SYS_WORK"/cache-*
# On any failure before the end: stop everything we started.
trap 'echo "demo: failed; stopping what was started (logs in $SYS_WORK)" >&2; down >/dev/null 2>&1' EXIT
trap 'exit 130' INT TERM
fail() {
    echo "demo: $*" >&2
    exit 1
}

say "1/6 local control plane (etcd, kube-apiserver, kube-controller-manager 1.20.2; first run builds it: minutes)"
KUBECONFIG=$(./e2e/cluster/up.sh) || fail "cluster-up failed"
export KUBECONFIG
echo "kubeconfig: $KUBECONFIG"

say "2/6 install: CRDs, namespace $SYS_NS, the chart's ServiceAccounts and RBAC"
sys_install || fail "install failed"
sed 's/^/  /' "$SYS_WORK/install.out"

say "3/6 the operator and two agents (node-a, node-b) as local processes"
sys_start_operator operator || fail "the operator did not start (log: $SYS_WORK/operator.log)"
echo "  kllm-operator   $(sys_url operator)/metrics   log $SYS_WORK/operator.log"
for n in node-a node-b; do
    sys_start_agent "$n" --chat-template llama2 || fail "agent $n did not start (log: $SYS_WORK/$n.log)"
    echo "  kllm-agent $n  $(sys_url "$n")   log $SYS_WORK/$n.log"
done
i=0
until [ "$(kubectl get inferencenodes -o 'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = "True True" ]; do
    i=$((i + 1))
    [ $i -gt 120 ] && fail "the InferenceNodes did not become Ready"
    sleep 0.5
done
kubectl get inferencenodes

say "4/6 a Model: the bundled GGUF from a local HTTP server (download, sha256 check, cache)"
sys_fileserver registry "$MODEL" || fail "the file server did not start"
cat >"$SYS_WORK/model.yaml" <<EOF
apiVersion: kllm.io/v1alpha1
kind: Model
metadata: {name: tiny, namespace: $NS}
spec:
  source:
    uri: $SYS_URL/models/llama-2-tiny-random.gguf
    sha256: "$SYS_SHA"
  engine: {contextSize: 512, parallel: 2}
  resources: {cpu: "1", memory: 1Gi}
  replicas: 2
  rollout:
    steps: [{setWeight: 50}, {pause: {duration: 10s}}]
EOF
cat "$SYS_WORK/model.yaml"
kubectl create namespace $NS >/dev/null 2>&1
kubectl apply -f "$SYS_WORK/model.yaml" || fail "kubectl apply failed"

say "5/6 waiting until the Model is Ready"
i=0
until [ "$(kubectl get model tiny -n $NS -o 'jsonpath={.status.phase} {.status.ready}' 2>/dev/null)" = "Healthy 2/2" ]; do
    i=$((i + 1))
    [ $i -gt 240 ] && fail "Model tiny not Ready after 120 s: $(kubectl get model tiny -n $NS -o 'jsonpath={.status}')"
    sleep 0.5
done
kubectl get models,modelreplicas -n $NS

A=$(sys_url node-a)
B=$(sys_url node-b)
say "6/6 a chat completion through node-a (curl)"
echo "curl -s $A/v1/chat/completions -H 'Content-Type: application/json' -d '{\"model\":\"$NS/tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello, who are you?\"}],\"max_tokens\":16}'"
sys_chat "$A" "$NS/tiny" >"$SYS_WORK/chat.json" || fail "the chat completion failed"
answer=$(jq -r '.choices[0].message.content' "$SYS_WORK/chat.json" 2>/dev/null)
[ -n "$answer" ] && [ "$answer" != null ] || fail "no answer: $(cat "$SYS_WORK/chat.json")"
echo "answer: $answer"
echo "(the bundled model has tiny random weights: its text is gibberish by design)"
trap - EXIT INT TERM

cat <<EOT

The demo keeps running in the background. Try:

  export KUBECONFIG=$KUBECONFIG PATH=$(pwd)/$SYS_BIN:\$PATH
  kubectl get models,modelreplicas,modelrevisions -n $NS
  kubectl get inferencenodes
  kubectl kllm status tiny -n $NS
  kubectl kllm top tiny -n $NS
  kubectl scale model tiny -n $NS --replicas 3          # one more replica
  kubectl patch model tiny -n $NS --type merge -p '{"spec":{"engine":{"contextSize":1024}}}'
                                                        # a canary rollout: watch STABLE/CANARY/WEIGHT
  curl -s $A/v1/models
  curl -s $B/v1/completions -H 'Content-Type: application/json' \\
       -d '{"model":"$NS/tiny","prompt":"Once upon a time","max_tokens":16}'
  curl -sN $A/v1/chat/completions -H 'Content-Type: application/json' \\
       -d '{"model":"$NS/tiny","messages":[{"role":"user","content":"Hi"}],"max_tokens":16,"stream":true}'
  curl -s $A/metrics | grep ^kllm_

Logs: $SYS_WORK/*.log.  Stop everything: make demo-down
EOT
