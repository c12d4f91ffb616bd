#!/bin/sh
# agent/tests/cluster.sh [AGENT [MODEL]]: kllm-agent's cluster mode on a
# real control plane, with the RBAC the Helm chart ships.
#
#   KUBECONFIG=admin.kubeconfig agent/tests/cluster.sh   use that cluster
#   agent/tests/cluster.sh     bring up a private one (e2e/cluster,
#                              KLLM_CLUSTER_DIR default build/cluster-agent)
#                              and take it down at the end, whatever happens
#
# CRDs from crds/, the chart's ServiceAccounts and (Cluster)Roles; two
# agents (node-a, node-b) run as ServiceAccount kllm-agent with a kubeconfig
# that holds only its token. No operator: the test binds ModelReplicas by
# hand. Checks: InferenceNode status and Lease per node; team-a/alpha on
# node-a and team-a/beta on node-b become Ready; a request for either model
# to either agent is answered (the remote one proxied, streaming too), the
# serving agent's metrics count it with a revision label; NS/NAME and plain
# NAME resolution, ambiguity 400; golden prompts that fail make the replica
# Failed; deleting a replica unloads it. Exit 0 only when every check passed.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
AGENT=${1:-$BUILD/bin/kllm-agent}
MODEL=${2:-engine/tests/data/llama-2-tiny-random.gguf}
[ -x "$AGENT" ] || { echo "agent-cluster: build first (make)" >&2; exit 1; }
MODEL=$(cd "$(dirname "$MODEL")" && pwd)/$(basename "$MODEL")
work=$BUILD/agent-cluster
rm -rf "$work"
mkdir -p "$work"
NS=kllm-system
failures=0
pid_a=""
pid_b=""
own_cluster=""

. scripts/check-lib.sh
passes=0
stop_agent() { # stop_agent PID
    [ -n "$1" ] || return 0
    if kill -0 "$1" 2>/dev/null; then
        kill -TERM "$1" 2>/dev/null
        i=0
        while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -KILL "$1" 2>/dev/null
    fi
    wait "$1" 2>/dev/null
}
fs_pid=""
cleanup() {
    [ -n "$fs_pid" ] && kill "$fs_pid" 2>/dev/null
    stop_agent "$pid_a"
    stop_agent "$pid_b"
    [ -n "$own_cluster" ] && ./e2e/cluster/down.sh
}
trap cleanup EXIT
trap 'exit 130' INT TERM

use_cluster agent-cluster "$(pwd)/$BUILD/cluster-agent"
k() { kubectl "$@"; }
jp() { kubectl get "$1" "$2" -n "${4:-team-a}" -o "jsonpath=$3" 2>/dev/null; }
eq() { [ "$(jp "$2" "$3" "$4" "${5:-team-a}")" = "$1" ]; }

# --- API and RBAC --------------------------------------------------------------
k apply -f crds/ >/dev/null || { echo "agent-cluster: CRDs not applied" >&2; exit 1; }
for c in models modelrevisions modelreplicas inferencenodes; do
    k wait --for condition=established --timeout=60s crd/$c.kllm.io >/dev/null || exit 1
done
for n in $NS team-a team-b; do k create namespace $n >/dev/null 2>&1; done

. scripts/chart-lib.sh
chart_renderer && chart_render kllm $NS helm/kllm >"$work/chart.yaml" ||
    { echo "agent-cluster: chart did not render" >&2; exit 1; }
chart_rbac "$work/chart.yaml" >"$work/rbac.yaml"
k apply -n $NS -f "$work/rbac.yaml" >/dev/null || { echo "agent-cluster: RBAC not applied" >&2; exit 1; }
ok "chart RBAC applied"

sa_kubeconfig $NS kllm-agent "$work" || { echo "agent-cluster: no ServiceAccount kubeconfig" >&2; exit 1; }
if k --kubeconfig "$work/sa.kubeconfig" get secrets -n $NS >/dev/null 2>&1; then
    fail "the agent's ServiceAccount can read Secrets"
else
    ok "ServiceAccount kllm-agent is not admin (no Secrets)"
fi

# --- two agents -------------------------------------------------------------------
. e2e/cluster/lib.sh # free_port
port_a=$(free_port)
port_b=$(free_port)
start_agent() { # start_agent NODE PORT
    "$AGENT" --node-name "$1" --kubeconfig "$work/sa.kubeconfig" --namespace $NS \
        --listen "127.0.0.1:$2" --advertise "127.0.0.1:$2" --cpu 2 --memory 4Gi \
        --cache-dir "$work/cache-$1" --threads 1 --shutdown-timeout 5 --log-level debug \
        >"$work/$1.log" 2>&1 &
}
start_agent node-a "$port_a"
pid_a=$!
start_agent node-b "$port_b"
pid_b=$!
A=http://127.0.0.1:$port_a
B=http://127.0.0.1:$port_b

wait_for "node-a healthz" 30 curl -sf "$A/healthz"
wait_for "node-b healthz" 30 curl -sf "$B/healthz"
wait_for "InferenceNode node-a has its endpoint" 30 eq "127.0.0.1:$port_a" inferencenode node-a '{.status.endpoint}'
wait_for "InferenceNode node-b Ready condition" 30 eq True inferencenode node-b '{.status.conditions[?(@.type=="Ready")].status}'
eq 2000m inferencenode node-a '{.status.capacity.cpu}' && ok "node-a capacity cpu 2000m" ||
    fail "node-a capacity cpu: $(jp inferencenode node-a '{.status.capacity}')"
eq 4294967296 inferencenode node-a '{.status.allocatable.memory}' && ok "node-a allocatable memory 4Gi" ||
    fail "node-a allocatable: $(jp inferencenode node-a '{.status.allocatable}')"
eq 0.1.0 inferencenode node-a '{.status.agentVersion}' || [ -n "$(jp inferencenode node-a '{.status.agentVersion}')" ] &&
    ok "node-a agentVersion" || fail "node-a agentVersion"
wait_for "Lease kllm-node-node-a" 20 eq node-a lease kllm-node-node-a '{.spec.holderIdentity}' $NS
wait_for "Lease kllm-node-node-b" 20 eq node-b lease kllm-node-node-b '{.spec.holderIdentity}' $NS
wait_for "node-a readyz (nothing assigned, API reachable)" 20 curl -sf "$A/readyz"

# --- models and replicas bound by hand ----------------------------------------------
model() { # model NS NAME [GOLDEN_EXPECT]
    g=""
    [ -n "${3:-}" ] && g="
  rollout:
    analysis:
      goldenPrompts:
        - {prompt: \"Hello\", expect: \"$3\", maxTokens: 2}"
    cat <<EOF2 | k apply -f - >/dev/null
apiVersion: kllm.io/v1alpha1
kind: Model
metadata: {name: $2, namespace: $1}
spec:
  source: {uri: "file://$MODEL"}
  resources: {cpu: "1", memory: 1Gi}
  replicas: 1$g
EOF2
}
replica() { # replica NAME MODEL NODE [LABEL_NODE]
    cat <<EOF2 | k apply -f - >/dev/null
apiVersion: kllm.io/v1alpha1
kind: ModelReplica
metadata:
  name: $1
  namespace: team-a
  labels: {kllm.io/model: $2, kllm.io/revision: "1", kllm.io/node: ${4:-$3}}
spec:
  model: $2
  revision: 1
  nodeName: $3
  source: {uri: "file://$MODEL"}
  engine: {contextSize: 256, parallel: 2}
  resources: {cpu: "1", memory: 1Gi}
EOF2
}
model team-a alpha
model team-a beta
model team-b alpha
model team-a gamma zzz-never-produced
# alpha-1-a is bound the way the operator binds: created unlabelled, its
# Scheduled condition written, then labelled for the node (the agent must
# keep the condition when it adds its own).
replica alpha-1-a alpha node-a unbound
k patch modelreplica alpha-1-a -n team-a --subresource=status --type=merge \
    -p '{"status":{"conditions":[{"type":"Scheduled","status":"True","reason":"Bound","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}' >/dev/null
k label modelreplica alpha-1-a -n team-a --overwrite kllm.io/node=node-a >/dev/null
replica beta-1-b beta node-b
replica gamma-1-a gamma node-a
wait_for "alpha-1-a Ready on node-a" 60 eq Ready modelreplica alpha-1-a '{.status.phase}'
wait_for "beta-1-b Ready on node-b" 60 eq Ready modelreplica beta-1-b '{.status.phase}'
eq "127.0.0.1:$port_b" modelreplica beta-1-b '{.status.endpoint}' && ok "beta-1-b endpoint is node-b" ||
    fail "beta-1-b endpoint: $(jp modelreplica beta-1-b '{.status.endpoint}')"
eq True modelreplica alpha-1-a '{.status.conditions[?(@.type=="Ready")].status}' &&
    eq Bound modelreplica alpha-1-a '{.status.conditions[?(@.type=="Scheduled")].reason}' &&
    ok "alpha-1-a Ready condition set, Scheduled kept" ||
    fail "alpha-1-a conditions: $(jp modelreplica alpha-1-a '{.status.conditions}')"
[ -n "$(jp modelreplica alpha-1-a '{.status.readyAt}')" ] && ok "alpha-1-a readyAt set" || fail "alpha-1-a readyAt"
wait_for "gamma-1-a Failed (golden prompt)" 60 eq Failed modelreplica gamma-1-a '{.status.phase}'
jp modelreplica gamma-1-a '{.status.message}' | grep -q "golden prompt" && ok "gamma-1-a message names the golden prompt" ||
    fail "gamma-1-a message: $(jp modelreplica gamma-1-a '{.status.message}')"
wait_for "node-a allocated cpu counts its 2 replicas" 20 eq 2000m inferencenode node-a '{.status.allocated.cpu}'
k delete modelreplica gamma-1-a -n team-a >/dev/null

# --- routing ------------------------------------------------------------------------
complete() { # complete URL MODEL [STREAM]: prints "CODE BODY"
    curl -s -o "$work/out" -w '%{http_code}' "$1/v1/completions" -H 'Content-Type: application/json' \
        -d "{\"model\":\"$2\",\"prompt\":\"Hello\",\"max_tokens\":4,\"temperature\":0${3:+,\"stream\":true}}"
}
check() { # check DESCRIPTION EXPECTED_CODE URL MODEL [STREAM] [GREP]
    code=$(complete "$3" "$4" "${5:-}")
    if [ "$code" = "$2" ] && { [ -z "${6:-}" ] || grep -q -- "$6" "$work/out"; }; then
        ok "$1"
    else
        fail "$1: got $code $(head -c 300 "$work/out")"
    fi
}
served() { # served URL MODEL: 200 requests counted on that agent
    curl -s "$1/metrics" | grep "^kllm_requests_total{model=\"$2\",revision=\"1\",code=\"200\"}" | awk '{print $2}'
}
check "alpha on node-a (local)" 200 "$A" team-a/alpha "" '"text_completion"'
check "beta to node-a is proxied to node-b" 200 "$A" team-a/beta "" '"model":"team-a/beta"'
check "alpha to node-b is proxied to node-a" 200 "$B" team-a/alpha "" '"model":"team-a/alpha"'
check "streamed beta through node-a" 200 "$A" team-a/beta 1 'data: \[DONE\]'
check "plain name beta resolves" 200 "$B" beta
check "plain alpha is ambiguous (team-a, team-b)" 400 "$A" alpha "" 'team-b/alpha'
check "unknown model 404" 404 "$A" team-a/nope
check "team-b/alpha has no replica: 503" 503 "$B" team-b/alpha
[ "$(served "$B" team-a/beta)" = 3 ] && ok "node-b served the 3 beta requests (revision label)" ||
    fail "node-b beta count: $(curl -s "$B/metrics" | grep 'kllm_requests_total{model="team-a/beta"')"
[ "$(served "$A" team-a/alpha)" = 2 ] && ok "node-a served both alpha requests" ||
    fail "node-a alpha count: $(curl -s "$A/metrics" | grep 'kllm_requests_total{model="team-a/alpha"')"
curl -s "$A/metrics" | grep -q '^kllm_proxied_requests_total{result="ok"} [1-9]' &&
    ok "node-a counts what it proxied" || fail "node-a kllm_proxied_requests_total"
curl -s "$B/v1/models" | grep -q '"team-b/alpha"' && ok "/v1/models lists NAMESPACE/NAME" || fail "/v1/models"
code=$(curl -s -o /dev/null -w '%{http_code}' "$A/v1/completions" -H 'X-Kllm-Revision: 7' \
    -d '{"model":"team-a/beta","prompt":"Hello","max_tokens":2}')
[ "$code" = 503 ] && ok "X-Kllm-Revision pins (no revision 7: 503)" || fail "pin to revision 7 gave $code"
wait_for "node-a readyz with its replica" 20 curl -sf "$A/readyz"

# 24 requests at once, half of them through the proxy, half streamed
i=0
while [ $i -lt 24 ]; do
    url=$A
    [ $((i % 2)) = 1 ] && url=$B
    st=""
    [ $((i % 4)) -ge 2 ] && st=',"stream":true'
    curl -s -o /dev/null -w '%{http_code}\n' "$url/v1/completions" \
        -d "{\"model\":\"team-a/alpha\",\"prompt\":\"Hello\",\"max_tokens\":8$st}" >>"$work/par" &
    par_pids="${par_pids:-} $!"
    i=$((i + 1))
done
for p in $par_pids; do wait "$p"; done
[ "$(grep -c '^200$' "$work/par")" = 24 ] && ok "24 concurrent requests (12 proxied) all 200" ||
    fail "concurrent: $(sort "$work/par" | uniq -c | tr '\n' ' ')"
# a client that leaves a proxied stream frees the slot on the peer
curl -s -m 1 -o /dev/null "$B/v1/completions" \
    -d '{"model":"team-a/alpha","prompt":"Hello","max_tokens":2000,"stream":true}' 2>/dev/null
wait_for "node-a frees the slot of a stream abandoned at node-b" 20 sh -c \
    "curl -s $A/metrics | grep -q '^kllm_requests_in_flight{model=\"team-a/alpha\",revision=\"1\"} 0'"

# --- a peer that refuses is retried on another replica ---------------------------------
# A Ready replica whose endpoint refuses connections, plus the real one: every
# request still succeeds (the dead one is tried at most once per request).
replica beta-1-dead beta node-dead
k patch modelreplica beta-1-dead -n team-a --subresource=status --type=merge \
    -p '{"status":{"phase":"Ready","endpoint":"127.0.0.1:1"}}' >/dev/null
sleep 1
okc=0
for n in 1 2 3 4; do [ "$(complete "$A" team-a/beta)" = 200 ] && okc=$((okc + 1)); done
[ $okc = 4 ] && ok "a refusing peer is retried on another replica (4/4)" || fail "refusing peer: $okc/4 ok"
k delete modelreplica beta-1-dead -n team-a >/dev/null

# --- an http(s) source: Downloading with progress, then cachedModels -----------------
if command -v node >/dev/null; then
    SHA=$(sha256sum "$MODEL" | cut -d' ' -f1)
    node agent/tests/fileserver.cjs "$MODEL" 0 1500 >"$work/fs.log" 2>&1 &
    fs_pid=$!
    for _ in $(seq 50); do grep -q '^port ' "$work/fs.log" && break; sleep 0.1; done
    FSURL=http://127.0.0.1:$(sed -n 's/^port //p' "$work/fs.log")/m.gguf
    cat <<EOF2 | k apply -f - >/dev/null
apiVersion: kllm.io/v1alpha1
kind: ModelReplica
metadata:
  name: delta-1-b
  namespace: team-a
  labels: {kllm.io/model: delta, kllm.io/revision: "1", kllm.io/node: node-b}
spec:
  model: delta
  revision: 1
  nodeName: node-b
  source: {uri: "$FSURL", sha256: "$SHA"}
  engine: {contextSize: 256, parallel: 1}
EOF2
    wait_for "delta-1-b Downloading" 20 eq Downloading modelreplica delta-1-b '{.status.phase}'
    wait_for "delta-1-b Ready after the download" 60 eq Ready modelreplica delta-1-b '{.status.phase}'
    eq 100 modelreplica delta-1-b '{.status.progress}' && ok "delta-1-b progress 100" ||
        fail "delta-1-b progress: $(jp modelreplica delta-1-b '{.status.progress}')"
    [ -n "$(jp modelreplica delta-1-b '{.status.startedAt}')" ] && ok "delta-1-b startedAt" || fail "delta-1-b startedAt"
    wait_for "node-b cachedModels lists the download" 20 eq "$SHA" inferencenode node-b '{.status.cachedModels[0].sha256}'
    k delete modelreplica delta-1-b -n team-a >/dev/null
    kill "$fs_pid" 2>/dev/null
    wait "$fs_pid" 2>/dev/null
    fs_pid=""
else
    echo "skip http(s) source (no node)"
fi

# --- deletion unloads ------------------------------------------------------------------
k delete modelreplica beta-1-b -n team-a >/dev/null
wait_for "node-b unloads beta-1-b" 30 sh -c "grep -q 'replica unloaded' $work/node-b.log"
wait_for "beta is gone from routing (503)" 20 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $A/v1/completions -d '{\"model\":\"team-a/beta\",\"prompt\":\"x\",\"max_tokens\":1}')\" = 503 ]"

# --- shutdown ---------------------------------------------------------------------------
stop_agent "$pid_b"
pid_b=""
grep -q 'agent: stopped' "$work/node-b.log" && ok "node-b stopped on SIGTERM" || fail "node-b stop (see $work/node-b.log)"
stop_agent "$pid_a"
pid_a=""
eq Pending modelreplica alpha-1-a '{.status.phase}' && ok "a stopped agent's replica is no longer Ready" ||
    fail "alpha-1-a after stop: $(jp modelreplica alpha-1-a '{.status.phase}')"

if [ $failures -gt 0 ]; then
    echo "agent-cluster: $failures check(s) FAILED (logs in $work)"
    exit 1
fi
echo "agent-cluster: all checks passed"
