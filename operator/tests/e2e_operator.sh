#!/bin/sh
# operator/tests/e2e_operator.sh: kllm-operator and kubectl-kllm on a real
# control plane, with the RBAC the Helm chart ships.
#
#   KUBECONFIG=admin.kubeconfig operator/tests/e2e_operator.sh   use that cluster
#   operator/tests/e2e_operator.sh        bring up a private one (e2e/cluster,
#                                         KLLM_CLUSTER_DIR default
#                                         build/cluster-operator-e2e) and take it
#                                         down at the end, whatever happens
#
# Steps: CRDs from crds/; the chart's ServiceAccounts, (Cluster)Roles and
# bindings rendered like scripts/helm-test.sh does; the operator runs with
# a kubeconfig holding only its ServiceAccount token (from the token
# controller). The script plays the agents: it creates InferenceNodes,
# renews their Leases and marks ModelReplicas Ready. Then: Model ->
# finalizer, revision 1, replicas bound to nodes, status Healthy; source
# change -> canary revision 2 through the steps, paused; `kubectl kllm
# promote` -> revision 2 stable, revision 1 replicas gone; `kubectl kllm
# abort` of a third rollout -> RolledBack, stable kept; `kubectl kllm
# rollback --to 2`; a Failed stable replica replaced on another node, then
# after a back-off; a second Model scaled up on load and down only after
# scaleDownDelaySeconds; an agent that hangs on /metrics does not stall the
# other Models and is not read as zero load; a node whose Lease stops -> NotReady, its replicas
# re-created on the other node; SIGTERM releases the leader Lease; deleting
# the Model removes everything. Exit 0 only when every check passed.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
BIN=$BUILD/bin
OP=$BIN/kllm-operator
[ -x "$OP" ] && [ -x "$BIN/kubectl-kllm" ] || { echo "e2e-operator: build first (make)" >&2; exit 1; }
PATH="$(pwd)/$BIN:$PATH"
export PATH
work=$BUILD/e2e-operator
rm -rf "$work"
mkdir -p "$work"
NS=kllm-system
MNS=team-a
SHA1=1111111111111111111111111111111111111111111111111111111111111111
SHA2=2222222222222222222222222222222222222222222222222222222222222222
SHA3=3333333333333333333333333333333333333333333333333333333333333333
SHA4=4444444444444444444444444444444444444444444444444444444444444444
failures=0
op_pid=""
op2_pid=""
renew_pid=""
renew_b_pid=""
own_cluster=""

log() { echo "e2e-operator: $*"; }
. scripts/check-lib.sh
passes=0

cleanup() {
    [ -n "$renew_pid" ] && kill "$renew_pid" 2>/dev/null
    [ -n "$renew_b_pid" ] && kill "$renew_b_pid" 2>/dev/null
    for p in $metrics_pids; do kill "$p" 2>/dev/null; done
    if [ -n "$op_pid" ] && kill -0 "$op_pid" 2>/dev/null; then
        kill -TERM "$op_pid" 2>/dev/null
        wait "$op_pid" 2>/dev/null
    fi
    if [ -n "$op2_pid" ] && kill -0 "$op2_pid" 2>/dev/null; then
        kill -TERM "$op2_pid" 2>/dev/null
        wait "$op2_pid" 2>/dev/null
    fi
    [ -n "$own_cluster" ] && ./e2e/cluster/down.sh
}
trap cleanup EXIT
trap 'exit 130' INT TERM

use_cluster e2e-operator "$(pwd)/$BUILD/cluster-operator-e2e"
k() { kubectl "$@"; }

jp() { # jp KIND NAME JSONPATH [NS]
    kubectl get "$1" "$2" -n "${4:-$MNS}" -o "jsonpath=$3" 2>/dev/null
}
eq() { # eq EXPECTED KIND NAME JSONPATH
    [ "$(jp "$2" "$3" "$4")" = "$1" ]
}
count_reps() { # count_reps SELECTOR
    kubectl get modelreplicas -n $MNS -l "$1" -o name 2>/dev/null | grep -c . || true
}
reps_are() { [ "$(count_reps "$1")" = "$2" ]; }

# --- API and RBAC ---------------------------------------------------------------
k apply -f crds/ >/dev/null || { echo "e2e-operator: CRDs not applied" >&2; exit 1; }
for c in models modelrevisions modelreplicas inferencenodes; do
    k wait --for condition=established --timeout=60s crd/$c.kllm.io >/dev/null || exit 1
done
k create namespace $NS >/dev/null 2>&1
k create namespace $MNS >/dev/null 2>&1

. scripts/chart-lib.sh
chart_renderer && chart_render kllm $NS helm/kllm >"$work/chart.yaml" ||
    { echo "e2e-operator: chart did not render" >&2; exit 1; }
chart_rbac "$work/chart.yaml" >"$work/rbac.yaml"
k apply -n $NS -f "$work/rbac.yaml" >/dev/null || { echo "e2e-operator: RBAC not applied" >&2; exit 1; }
ok "chart RBAC applied ($(grep -c '^kind:' "$work/rbac.yaml") objects)"

# The operator's ServiceAccount token (the token controller fills the secret).
sa_kubeconfig $NS kllm-operator "$work" || { echo "e2e-operator: no ServiceAccount kubeconfig" >&2; exit 1; }
if k --kubeconfig "$work/sa.kubeconfig" get secrets -n $NS >/dev/null 2>&1; then
    fail "the operator's ServiceAccount can read Secrets"
else
    ok "ServiceAccount kllm-operator is not admin (no Secrets)"
fi

# --- agent stand-in ----------------------------------------------------------------
mknode() { # mknode NAME CPU MEMORY
    cat <<EOF | k apply -f - >/dev/null
apiVersion: kllm.io/v1alpha1
kind: InferenceNode
metadata: {name: $1}
EOF
    now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    k patch inferencenode "$1" --subresource=status --type=merge -p "{\"status\":{
      \"capacity\":{\"cpu\":\"$2\",\"memory\":\"$3\"},\"allocatable\":{\"cpu\":\"$2\",\"memory\":\"$3\"},
      \"endpoint\":\"127.0.0.1:1\",\"agentVersion\":\"stand-in\",
      \"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"AgentReady\",\"lastTransitionTime\":\"$now\"}]}}" >/dev/null
}
renew() { # renew NAME...: create or renew each node's Lease
    for n in "$@"; do
        t=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
        if ! k patch lease "kllm-node-$n" -n $NS --type=merge \
            -p "{\"spec\":{\"renewTime\":\"$t\"}}" >/dev/null 2>&1; then
            cat <<EOF | k apply -f - >/dev/null 2>&1
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: kllm-node-$n, namespace: $NS}
spec: {holderIdentity: $n, leaseDurationSeconds: 40, renewTime: "$t"}
EOF
        fi
    done
}
# Marks every ModelReplica that is bound and not Ready as Ready.
ready_all() {
    for r in $(k get modelreplicas -n $MNS -o 'jsonpath={range .items[?(@.spec.nodeName)]}{.metadata.name}={.status.phase}{"\n"}{end}' 2>/dev/null); do
        case "$r" in *=Ready) continue ;; esac
        k patch modelreplica "${r%%=*}" -n $MNS --subresource=status --type=merge \
            -p '{"status":{"phase":"Ready","endpoint":"127.0.0.1:1"}}' >/dev/null 2>&1
    done
}
# set_ready SELECTOR ENDPOINT: marks the matching bound replicas Ready there.
set_ready() {
    for r in $(k get modelreplicas -n $MNS -l "$1" -o 'jsonpath={range .items[?(@.spec.nodeName)]}{.metadata.name} {end}' 2>/dev/null); do
        k patch modelreplica "$r" -n $MNS --subresource=status --type=merge \
            -p "{\"status\":{\"phase\":\"Ready\",\"endpoint\":\"$2\"}}" >/dev/null 2>&1
    done
}
# metrics_server NAME: serves $work/NAME.prom as /metrics and $work/NAME.json
# for any other path (POST /v1/completions) on a free port (written to
# $work/NAME.port); stands in for an agent.
metrics_pids=""
metrics_server() {
    perl -MIO::Socket::INET -e '
        my ($file, $portfile) = @ARGV;
        my $s = IO::Socket::INET->new(Listen => 16, LocalAddr => "127.0.0.1", LocalPort => 0,
                                      ReuseAddr => 1) or die "listen: $!";
        open(my $pf, ">", $portfile) or die; print $pf $s->sockport(); close $pf;
        while (my $c = $s->accept) {
            my $req = <$c> // "";
            my $len = 0;
            while (my $l = <$c>) {
                $len = $1 if $l =~ /^Content-Length:\s*(\d+)/i;
                last if $l =~ /^\r?\n$/;
            }
            read($c, my $ignored, $len) if $len;
            my $path = $req =~ m{^\S+ /metrics} ? $file : ($file =~ s/\.prom$/.json/r);
            my $body = "";
            if (open(my $f, "<", $path)) { local $/; $body = <$f>; close $f }
            print $c "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
                . length($body) . "\r\n\r\n" . $body;
            close $c;
        }' "$work/$1.prom" "$work/$1.port" &
    metrics_pids="$metrics_pids $!"
    i=0
    while [ ! -s "$work/$1.port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
}
# feed NAME OK_PER_TICK ERR_PER_TICK IN_FLIGHT: counters that grow every 0.5 s.
feed() {
    (n=0; e=0
     while :; do
        n=$((n + $2)); e=$((e + $3))
        printf 'kllm_requests_total{model="%s/tiny",code="200"} %d\nkllm_requests_total{model="%s/tiny",code="500"} %d\nkllm_requests_in_flight{model="%s/tiny"} %d\nkllm_requests_queued{model="%s/tiny"} 0\nkllm_requests_in_flight{model="other/x"} 50\n' \
            $MNS $n $MNS $e $MNS $4 $MNS >"$work/$1.tmp"
        mv "$work/$1.tmp" "$work/$1.prom"
        sleep 0.5
     done) &
    metrics_pids="$metrics_pids $!"
}
mknode node-a 8 16Gi
mknode node-b 8 16Gi
renew node-a node-b
# node-a's Lease is renewed every 2 s by this loop; node-b's by the one below
# until the node-failure step stops it.
(while :; do renew node-a; sleep 2; done) &
renew_pid=$!
(while [ ! -f "$work/kill-node-b" ]; do renew node-b; sleep 2; done) &
renew_b_pid=$!

# --- the operator ------------------------------------------------------------------------
port=$(perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0, ReuseAddr => 1) or die; print $s->sockport()')
"$OP" --kubeconfig "$work/sa.kubeconfig" --namespace $NS --listen "127.0.0.1:$port" \
    --id e2e-op --node-lease-timeout 8s --node-grace 4s --log-level debug >"$work/operator.log" 2>&1 &
op_pid=$!
wait_for "operator /healthz" 20 curl -sf "http://127.0.0.1:$port/healthz"
wait_for "operator /readyz (caches synced)" 30 curl -sf "http://127.0.0.1:$port/readyz"
leader_is() { [ "$(jp lease kllm-operator '{.spec.holderIdentity}' $NS)" = "$1" ]; }
wait_for "operator holds the leader Lease" 30 leader_is e2e-op
# A second replica: serves probes, does not reconcile until it leads.
port2=$(perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0, ReuseAddr => 1) or die; print $s->sockport()')
"$OP" --kubeconfig "$work/sa.kubeconfig" --namespace $NS --listen "127.0.0.1:$port2" \
    --id e2e-op2 --node-lease-timeout 8s --node-grace 4s --log-format json >"$work/operator2.log" 2>&1 &
op2_pid=$!
wait_for "second operator /readyz" 30 curl -sf "http://127.0.0.1:$port2/readyz"
curl -sf "http://127.0.0.1:$port2/metrics" | grep -q '^kllm_operator_leader 0' && ok "second operator is not the leader" || fail "second operator is not the leader"

# --- a Model ---------------------------------------------------------------------------------
model() { # model SHA URI
    cat <<EOF | k apply -f - >/dev/null
apiVersion: kllm.io/v1alpha1
kind: Model
metadata: {name: tiny, namespace: $MNS}
spec:
  source: {uri: "$2", sha256: "$1"}
  resources: {cpu: "2", memory: 1Gi}
  replicas: 2
  revisionHistoryLimit: 1
  rollout:
    steps:
      - setWeight: 50
      - pause: {duration: 1s}
      - setWeight: 50
      - pause: {}
EOF
}
model $SHA1 https://models.example.org/tiny-v1.gguf
wait_for "finalizer on the Model" 20 eq kllm.io/replicas model tiny '{.metadata.finalizers[0]}'
wait_for "revision tiny-1 created" 20 eq 1 modelrevision tiny-1 '{.spec.revision}'
[ "$(jp modelrevision tiny-1 '{.metadata.ownerReferences[0].name}')" = tiny ] && ok "tiny-1 owned by the Model" || fail "tiny-1 owned by the Model"
wait_for "2 replicas of revision 1" 20 reps_are kllm.io/revision=1 2
nodes=$(k get modelreplicas -n $MNS -o 'jsonpath={range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort | tr '\n' ' ')
[ "$nodes" = "node-a node-b " ] && ok "replicas spread over node-a and node-b" || fail "replicas spread over both nodes (got: $nodes)"
[ "$(count_reps kllm.io/node=node-a)" = 1 ] && ok "label kllm.io/node set" || fail "label kllm.io/node set"
wait_for "status Pending while nothing is Ready" 20 eq Pending model tiny '{.status.phase}'
ready_all
wait_for "status Healthy, 2/2 ready, stable revision 1" 20 eq "Healthy 2/2 1" model tiny '{.status.phase} {.status.ready} {.status.stableRevision}'
[ "$(jp model tiny '{.status.selector}')" = kllm.io/model=tiny ] && ok "status.selector" || fail "status.selector"
[ "$(k get --raw /apis/kllm.io/v1alpha1/namespaces/$MNS/models/tiny/scale | jq -r .status.replicas)" = 2 ] &&
    ok "/scale status.replicas 2" || fail "/scale status.replicas 2"

# --- canary rollout ---------------------------------------------------------------------------
model $SHA2 https://models.example.org/tiny-v2.gguf
wait_for "revision tiny-2 created" 20 eq 2 modelrevision tiny-2 '{.spec.revision}'
wait_for "rollout of revision 2 is Progressing" 20 eq "Progressing 2" model tiny '{.status.phase} {.status.canaryRevision}'
wait_for "1 canary replica (50% of 2)" 20 reps_are kllm.io/revision=2 1
[ "$(count_reps kllm.io/revision=1)" = 2 ] && ok "stable keeps 2 replicas" || fail "stable keeps 2 replicas"
[ "$(jp model tiny '{.status.canaryWeight}')" = 0 ] && ok "weight 0 until the canary is Ready" || fail "weight 0 until the canary is Ready"
ready_all
wait_for "paused at step 3, weight 50" 30 eq "Paused 50 3" model tiny '{.status.phase} {.status.canaryWeight} {.status.currentStep}'
k get events -n $MNS --field-selector involvedObject.name=tiny -o 'jsonpath={range .items[*]}{.reason} {end}' >"$work/events.txt"
grep -q RolloutStarted "$work/events.txt" && grep -q RolloutPaused "$work/events.txt" &&
    ok "Events RolloutStarted, RolloutPaused" || fail "Events RolloutStarted, RolloutPaused (got: $(cat "$work/events.txt"))"
kubectl kllm status tiny -n $MNS >"$work/status.txt" 2>&1 && grep -q "Canary:    2 (weight 50%, step 3)" "$work/status.txt" &&
    grep -q '^Revisions:' "$work/status.txt" && grep -Eq '^  tiny-1-[0-9]+ +1 +node-[ab] +Ready' "$work/status.txt" &&
    grep -Eq '^  tiny-2-[0-9]+ +2 +node-[ab] +Ready' "$work/status.txt" &&
    ok "kubectl kllm status shows the canary, revisions and replicas per node" || { fail "kubectl kllm status shows the canary"; cat "$work/status.txt"; }
# Watch the Model and revision 1's replicas through the promotion: agents
# route by status.stableRevision, so the old replicas must go only after
# the status naming revision 2 is written (resourceVersions come from one
# etcd here, so their order is the order of the writes).
k get model tiny -n $MNS --watch --output-watch-events -o json >"$work/watch-model.json" 2>/dev/null &
watch_m=$!
k get modelreplicas -n $MNS -l kllm.io/revision=1 --watch --output-watch-events -o json >"$work/watch-reps.json" 2>/dev/null &
watch_r=$!
sleep 1
kubectl kllm promote tiny -n $MNS >/dev/null && ok "kubectl kllm promote" || fail "kubectl kllm promote"
wait_for "canary scaled to 2" 20 reps_are kllm.io/revision=2 2
ready_all
wait_for "revision 2 is stable, Healthy" 30 eq "Healthy 2 2/2" model tiny '{.status.phase} {.status.stableRevision} {.status.ready}'
wait_for "revision 1 replicas gone" 20 reps_are kllm.io/revision=1 0
sleep 1
kill $watch_m $watch_r 2>/dev/null
wait $watch_m $watch_r 2>/dev/null
rv_stable=$(jq -s '[.[] | select(.object.status.stableRevision == 2) | .object.metadata.resourceVersion | tonumber] | min' "$work/watch-model.json")
rv_gone=$(jq -s '[.[] | select(.type == "DELETED" or .object.metadata.deletionTimestamp != null) | .object.metadata.resourceVersion | tonumber] | min' "$work/watch-reps.json")
[ "$rv_stable" != null ] && [ "$rv_gone" != null ] && [ "$rv_stable" -lt "$rv_gone" ] &&
    ok "revision 1 replicas deleted only after the status names revision 2 (rv $rv_stable < $rv_gone)" ||
    fail "revision 1 replicas deleted only after the status names revision 2 (status rv $rv_stable, first deletion rv $rv_gone)"
[ -z "$(jp model tiny '{.metadata.annotations.kllm\.io/promote}')" ] && ok "promote annotation cleared" || fail "promote annotation cleared"
wait_for "tiny-2 outcome Promoted" 20 eq Promoted modelrevision tiny-2 '{.status.outcome}'
wait_for "tiny-1 outcome Superseded" 20 eq Superseded modelrevision tiny-1 '{.status.outcome}'

# --- abort ---------------------------------------------------------------------------------------
model $SHA3 https://models.example.org/tiny-v3.gguf
wait_for "rollout of revision 3" 20 eq "3" model tiny '{.status.canaryRevision}'
wait_for "1 canary replica of revision 3" 20 reps_are kllm.io/revision=3 1
kubectl kllm abort tiny -n $MNS >/dev/null && ok "kubectl kllm abort" || fail "kubectl kllm abort"
wait_for "phase RolledBack" 20 eq RolledBack model tiny '{.status.phase}'
wait_for "canary replicas removed" 20 reps_are kllm.io/revision=3 0
[ "$(count_reps kllm.io/revision=2)" = 2 ] && ok "stable still has 2 replicas" || fail "stable still has 2 replicas"
[ "$(jp model tiny '{.status.conditions[?(@.type=="RolledBack")].status}')" = True ] && ok "condition RolledBack=True" || fail "condition RolledBack=True"
[ "$(jp modelrevision tiny-3 '{.status.outcome}')" = RolledBack ] && ok "tiny-3 outcome RolledBack" || fail "tiny-3 outcome RolledBack"
kubectl kllm rollback tiny --to 2 -n $MNS >/dev/null && ok "kubectl kllm rollback --to 2" || fail "kubectl kllm rollback --to 2"
wait_for "back on revision 2, Healthy, no canary" 20 eq "Healthy 2 " model tiny '{.status.phase} {.status.stableRevision} {.status.canaryRevision}'
[ "$(jp model tiny '{.spec.source.sha256}')" = $SHA2 ] && ok "spec has revision 2's source" || fail "spec has revision 2's source"
kubectl kllm rollback tiny --to 9 -n $MNS >/dev/null 2>&1 && fail "rollback to a missing revision fails" || ok "rollback to a missing revision fails"
kubectl kllm bogus tiny >/dev/null 2>&1; [ $? = 2 ] && ok "unknown plugin command exits 2" || fail "unknown plugin command exits 2"

# --- canary analysis: a canary with 5xx errors is rolled back by itself ------------------------------
metrics_server good
metrics_server bad
feed good 20 0 4
feed bad 10 5 0
good_ep=127.0.0.1:$(cat "$work/good.port")
bad_ep=127.0.0.1:$(cat "$work/bad.port")
set_ready kllm.io/revision=2 "$good_ep"

k patch model tiny -n $MNS --type=merge -p "{\"spec\":{\"source\":{\"uri\":\"https://models.example.org/tiny-v4.gguf\",\"sha256\":\"$SHA4\"},
  \"rollout\":{\"analysis\":{\"intervalSeconds\":1,\"failureLimit\":2,\"maxErrorRate\":0.05}}}}" >/dev/null
wait_for "rollout of revision 4" 20 eq 4 model tiny '{.status.canaryRevision}'
wait_for "1 canary replica of revision 4" 20 reps_are kllm.io/revision=4 1
set_ready kllm.io/revision=4 "$bad_ep"
wait_for "analysis rolls revision 4 back (AnalysisFailed)" 40 eq "RolledBack AnalysisFailed" model tiny '{.status.phase} {.status.conditions[?(@.type=="RolledBack")].reason}'
wait_for "revision 4 replicas removed" 20 reps_are kllm.io/revision=4 0
[ "$(count_reps kllm.io/revision=2)" = 2 ] && ok "stable kept its 2 replicas" || fail "stable kept its 2 replicas"
[ "$(jp modelrevision tiny-4 '{.status.outcome}')" = RolledBack ] && ok "tiny-4 outcome RolledBack" || fail "tiny-4 outcome RolledBack"
k get events -n $MNS --field-selector involvedObject.name=tiny,reason=AnalysisFailed -o name | grep -q . &&
    ok "Event AnalysisFailed" || fail "Event AnalysisFailed"
[ "$(jp model tiny '{.status.analysis.failedChecks}')" = 2 ] && ok "status.analysis.failedChecks 2" || fail "status.analysis.failedChecks 2 (got $(jp model tiny '{.status.analysis}'))"
kubectl kllm rollback tiny --to 2 -n $MNS >/dev/null && ok "kubectl kllm rollback --to 2 after the failed canary" || fail "rollback --to 2 after the failed canary"
wait_for "back on revision 2 without canary" 20 eq "Healthy 2 " model tiny '{.status.phase} {.status.stableRevision} {.status.canaryRevision}'
revs_are() { [ "$(k get modelrevisions -n $MNS -o 'jsonpath={.items[*].metadata.name}')" = "$1" ]; }
wait_for "revisionHistoryLimit 1: tiny-2 (stable) and tiny-4 left" 20 revs_are "tiny-2 tiny-4"

# --- golden prompts: a canary that answers 2+2= wrongly is rolled back --------------------------------
printf '{"choices":[{"index":0,"text":" 4"}]}' >"$work/good.json"
printf '{"choices":[{"index":0,"text":" 5"}]}' >"$work/bad.json"
feed bad2 20 0 0
metrics_server bad2
bad2_ep=127.0.0.1:$(cat "$work/bad2.port")
printf '{"choices":[{"index":0,"text":" 5"}]}' >"$work/bad2.json"
SHA5=5555555555555555555555555555555555555555555555555555555555555555
k patch model tiny -n $MNS --type=merge -p "{\"spec\":{\"source\":{\"uri\":\"https://models.example.org/tiny-v5.gguf\",\"sha256\":\"$SHA5\"},
  \"rollout\":{\"analysis\":{\"failureLimit\":1,\"goldenPrompts\":[{\"prompt\":\"2+2=\",\"expect\":\"4\",\"maxTokens\":4}]}}}}" >/dev/null
wait_for "rollout of revision 5" 20 eq 5 model tiny '{.status.canaryRevision}'
wait_for "1 canary replica of revision 5" 20 reps_are kllm.io/revision=5 1
set_ready kllm.io/revision=5 "$bad2_ep"
wait_for "wrong golden answer rolls revision 5 back" 40 eq "RolledBack AnalysisFailed" model tiny '{.status.phase} {.status.conditions[?(@.type=="RolledBack")].reason}'
k get events -n $MNS --field-selector involvedObject.name=tiny,reason=AnalysisFailed -o 'jsonpath={.items[*].message}' | grep -q 'golden prompt 2+2= did not answer 4' &&
    ok "Event names the golden prompt" || fail "Event names the golden prompt"
kubectl kllm rollback tiny --to 2 -n $MNS >/dev/null && ok "rollback --to 2 after the golden failure" || fail "rollback --to 2 after the golden failure"
wait_for "back on revision 2 without canary" 20 eq "Healthy 2 " model tiny '{.status.phase} {.status.stableRevision} {.status.canaryRevision}'
k patch model tiny -n $MNS --type=json -p '[{"op":"remove","path":"/spec/rollout/analysis/goldenPrompts"}]' >/dev/null

# --- a Failed canary replica aborts at once ---------------------------------------------------------------
SHA6=6666666666666666666666666666666666666666666666666666666666666666
k patch model tiny -n $MNS --type=merge -p "{\"spec\":{\"source\":{\"uri\":\"https://models.example.org/tiny-v6.gguf\",\"sha256\":\"$SHA6\"}}}" >/dev/null
wait_for "rollout of revision 6" 20 eq 6 model tiny '{.status.canaryRevision}'
wait_for "1 canary replica of revision 6" 20 reps_are kllm.io/revision=6 1
for r in $(k get modelreplicas -n $MNS -l kllm.io/revision=6 -o name); do
    k patch "$r" -n $MNS --subresource=status --type=merge -p '{"status":{"phase":"Failed","message":"sha256 mismatch"}}' >/dev/null
done
wait_for "Failed canary replica: RolledBack CanaryReplicaFailed" 20 eq "RolledBack CanaryReplicaFailed" model tiny '{.status.phase} {.status.conditions[?(@.type=="RolledBack")].reason}'
wait_for "revision 6 replicas removed" 20 reps_are kllm.io/revision=6 0
kubectl kllm rollback tiny -n $MNS >"$work/rb.txt" 2>&1; [ $? = 1 ] && grep -q "no revision before 2" "$work/rb.txt" && ok "rollback without --to: revision 1 was garbage-collected, one clear line" || fail "rollback without --to ($(cat "$work/rb.txt"))"
kubectl kllm rollback tiny --to 2 -n $MNS >/dev/null
wait_for "back on revision 2 without canary" 20 eq "Healthy 2 " model tiny '{.status.phase} {.status.stableRevision} {.status.canaryRevision}'

# --- autoscaling: 4 in flight on 2 replicas against a target of 1 scales up at once (panic) -----------
k patch model tiny -n $MNS --type=merge -p '{"spec":{"autoscaling":{"minReplicas":1,"maxReplicas":3,"metric":"concurrency","target":1,"scaleDownDelaySeconds":1}}}' >/dev/null
wait_for "autoscaler sets spec.replicas 3 (clamped to max)" 30 eq 3 model tiny '{.spec.replicas}'
k get events -n $MNS --field-selector involvedObject.name=tiny,reason=Scaled -o 'jsonpath={.items[*].message}' >"$work/scaled.txt"
grep -q 'replicas 2 -> 3' "$work/scaled.txt" && ok "Event Scaled with the numbers ($(cat "$work/scaled.txt"))" || fail "Event Scaled (got: $(cat "$work/scaled.txt"))"
wait_for "3 replicas of revision 2" 20 reps_are kllm.io/revision=2 3
set_ready kllm.io/revision=2 "$good_ep"
wait_for "status.autoscaling.desiredReplicas 3" 20 eq 3 model tiny '{.status.autoscaling.desiredReplicas}'
wait_for "condition ScalingActive=True" 20 eq "True ValidMetrics" model tiny '{.status.conditions[?(@.type=="ScalingActive")].status} {.status.conditions[?(@.type=="ScalingActive")].reason}' || jp model tiny "{.status.autoscaling} {.status.conditions}"
k patch modelreplica tiny-2-0 -n $MNS --subresource=status --type=merge -p '{"status":{"endpoint":"127.0.0.1:1"}}' >/dev/null
wait_for "a replica without metrics: ScalingActive=False MetricsMissing, replicas held" 20 eq "False MetricsMissing 3" model tiny '{.status.conditions[?(@.type=="ScalingActive")].status} {.status.conditions[?(@.type=="ScalingActive")].reason} {.spec.replicas}'
set_ready kllm.io/revision=2 "$good_ep"
kubectl kllm top tiny -n $MNS >"$work/top.txt" 2>&1
[ "$(awk '$4 == "Ready" && $5 == 4' "$work/top.txt" | wc -l)" = 3 ] &&
    ok "kubectl kllm top: 3 Ready replicas, their agent has 4 in flight" || { fail "kubectl kllm top"; cat "$work/top.txt"; }
k patch model tiny -n $MNS --type=merge -p '{"spec":{"autoscaling":null,"replicas":2}}' >/dev/null
wait_for "autoscaling off, back to 2 replicas" 20 reps_are kllm.io/revision=2 2

# --- a Failed stable replica is replaced on another node, with back-off --------------------------
ready_all
wait_for "Healthy 2/2 before a stable replica fails" 20 eq "Healthy 2/2" model tiny '{.status.phase} {.status.ready}'
not_ready_rep() { # the name of a replica of revision 2 that is not Ready
    k get modelreplicas -n $MNS -l kllm.io/revision=2 -o json | jq -r '[.items[] | select(.status.phase != "Ready")][0].metadata.name // empty'
}
gone() { ! k get modelreplica "$1" -n $MNS >/dev/null 2>&1; }
degraded_says() { jp model tiny '{.status.conditions[?(@.type=="Degraded")].status} {.status.conditions[?(@.type=="Degraded")].reason} {.status.conditions[?(@.type=="Degraded")].message}' | grep -q "^True ReplicaFailed .*$1"; }
victim=$(k get modelreplicas -n $MNS -l kllm.io/revision=2,kllm.io/node=node-a -o 'jsonpath={.items[0].metadata.name}')
on_b=$(count_reps kllm.io/revision=2,kllm.io/node=node-b)
k patch modelreplica "$victim" -n $MNS --subresource=status --type=merge -p '{"status":{"phase":"Failed","message":"load failed: out of memory"}}' >/dev/null
wait_for "Failed stable replica $victim deleted" 20 gone "$victim"
wait_for "its replacement is bound to node-b, not node-a where it failed" 20 reps_are kllm.io/revision=2,kllm.io/node=node-b $((on_b + 1))
k get events -n $MNS --field-selector involvedObject.name=tiny,reason=ReplicaFailed -o 'jsonpath={.items[*].message}' | grep -q "replica $victim failed on node-a (load failed: out of memory); replacing it (replacement 1)" &&
    ok "Event ReplicaFailed names the replica, node and message" || fail "Event ReplicaFailed names the replica, node and message"
wait_for "Degraded=True ReplicaFailed while the replacement loads" 20 degraded_says "replica $victim failed"
[ "$(jp model tiny '{.spec.replicas} {.status.stableRevision}')" = "2 2" ] && ok "no rollout, no scale change" || fail "no rollout, no scale change"
repl=$(not_ready_rep)
[ -n "$repl" ] || fail "a replacement replica that is not Ready yet"
k patch modelreplica "$repl" -n $MNS --subresource=status --type=merge -p '{"status":{"phase":"Failed","message":"load failed: disk full"}}' >/dev/null
wait_for "the replacement fails too: not replaced at once, backing off" 20 degraded_says "replica $repl failed on node-b (load failed: disk full); 1 replaced so far, backing off"
wait_for "replaced after the back-off" 40 gone "$repl"
k get events -n $MNS --field-selector involvedObject.name=tiny,reason=ReplicaFailed -o 'jsonpath={.items[*].message}' | grep -q "replica $repl failed on node-b (load failed: disk full); replacing it (replacement 2)" &&
    ok "Event ReplicaFailed for the 2nd replacement" || fail "Event ReplicaFailed for the 2nd replacement"
wait_for "2 replicas of revision 2 again" 20 reps_are kllm.io/revision=2 2
ready_all
wait_for "Healthy 2/2 and Degraded=False once the replacement is Ready" 20 eq "Healthy 2/2 False" model tiny '{.status.phase} {.status.ready} {.status.conditions[?(@.type=="Degraded")].status}'

# --- autoscaling on load: up at once, down only after scaleDownDelaySeconds ---------------------------
# A second Model whose stand-in agent reports the in-flight requests we write.
metrics_server scaler
scaler_ep=127.0.0.1:$(cat "$work/scaler.port")
load() { # load N: the agent of every scaler replica reports N requests in flight
    printf 'kllm_requests_in_flight{model="%s/scaler"} %d\nkllm_requests_queued{model="%s/scaler"} 0\n' $MNS "$1" $MNS >"$work/scaler.tmp"
    mv "$work/scaler.tmp" "$work/scaler.prom"
}
load 150
cat <<EOF | k apply -f - >/dev/null
apiVersion: kllm.io/v1alpha1
kind: Model
metadata: {name: scaler, namespace: $MNS}
spec:
  source: {uri: "https://models.example.org/scaler.gguf", sha256: "$SHA1"}
  resources: {cpu: 100m, memory: 64Mi}
  replicas: 1
  autoscaling: {minReplicas: 1, maxReplicas: 3, metric: concurrency, target: 100, scaleDownDelaySeconds: 8}
EOF
wait_for "scaler: 1 replica" 20 reps_are kllm.io/model=scaler 1
set_ready kllm.io/model=scaler "$scaler_ep"
wait_for "load 150 on 1 replica (target 100): spec.replicas 2" 30 eq 2 model scaler '{.spec.replicas}'
wait_for "scaler: 2 replicas" 20 reps_are kllm.io/model=scaler 2
set_ready kllm.io/model=scaler "$scaler_ep"
load 350
wait_for "load 350 on 2 replicas: spec.replicas 3 (maxReplicas)" 60 eq 3 model scaler '{.spec.replicas}'
wait_for "scaler: 3 replicas" 20 reps_are kllm.io/model=scaler 3
set_ready kllm.io/model=scaler "$scaler_ep"
wait_for "scaler: 3/3 Ready" 20 eq 3/3 model scaler '{.status.ready}'
load 0
scale_down_delayed() {
    [ "$(jp model scaler '{.spec.replicas}')" = 3 ] && jp model scaler '{.status.autoscaling.message}' | grep -q '^ScaleDownDelayed:'
}
wait_for "idle: the scale-down waits for the delay (ScaleDownDelayed, still 3)" 60 scale_down_delayed
wait_for "after scaleDownDelaySeconds: back to 1 replica" 120 eq 1 model scaler '{.spec.replicas}'
wait_for "scaler: 1 replica left" 20 reps_are kllm.io/model=scaler 1
k get events -n $MNS --field-selector involvedObject.name=scaler,reason=Scaled -o 'jsonpath={range .items[*]}{.message}{"\n"}{end}' >"$work/scaler-events.txt"
grep -q '^replicas 1 -> 2: ScaleUp' "$work/scaler-events.txt" && grep -q '^replicas 2 -> 3: ' "$work/scaler-events.txt" &&
    grep -q '^replicas 3 -> [12]: ScaleDown:' "$work/scaler-events.txt" &&
    ok "Events Scaled: 1 -> 2, 2 -> 3, then ScaleDown" || { fail "Events Scaled up and down"; cat "$work/scaler-events.txt"; }

# --- an agent that hangs on /metrics does not stall the other Models -----------------------------------
# It accepts connections and never answers. Two autoscaled Models with 16
# Ready replicas each there: a worker that scraped them itself would spend
# 16 fetch timeouts on each of their reconciles, back to back, and every
# change of another Model would wait behind them.
perl -MIO::Socket::INET -e '
    my $s = IO::Socket::INET->new(Listen => 128, LocalAddr => "127.0.0.1", LocalPort => 0,
                                  ReuseAddr => 1) or die "listen: $!";
    open(my $pf, ">", $ARGV[0]) or die; print $pf $s->sockport(); close $pf;
    my @keep;
    while (my $c = $s->accept) { push @keep, $c }' "$work/hung.port" &
metrics_pids="$metrics_pids $!"
i=0
while [ ! -s "$work/hung.port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
hung_ep=127.0.0.1:$(cat "$work/hung.port")
for m in hung-a hung-b; do
    cat <<EOF | k apply -f - >/dev/null
apiVersion: kllm.io/v1alpha1
kind: Model
metadata: {name: $m, namespace: $MNS}
spec:
  source: {uri: "https://models.example.org/hung.gguf", sha256: "$SHA1"}
  resources: {cpu: 100m, memory: 16Mi}
  replicas: 16
  autoscaling: {minReplicas: 1, maxReplicas: 16, metric: concurrency, target: 1, scaleDownDelaySeconds: 0}
EOF
done
for m in hung-a hung-b; do
    wait_for "$m: 16 replicas" 30 reps_are kllm.io/model=$m 16
    set_ready kllm.io/model=$m "$hung_ep"
    wait_for "$m: 16/16 Ready at the hanging agent" 30 eq 16/16 model $m '{.status.ready}'
done
hung_scaling() { # the ScalingActive status and reason of both
    for m in hung-a hung-b; do
        jp model $m '{.spec.replicas} {.status.conditions[?(@.type=="ScalingActive")].status} {.status.conditions[?(@.type=="ScalingActive")].reason};'
    done
}
hung_held() { [ "$(hung_scaling)" = "16 False MetricsMissing;16 False MetricsMissing;" ]; }
wait_for "hung-a, hung-b: ScalingActive=False MetricsMissing" 30 hung_held
k patch model tiny -n $MNS --type=merge -p '{"spec":{"replicas":3}}' >/dev/null
wait_for "meanwhile tiny is reconciled: 3 replicas" 10 reps_are kllm.io/model=tiny 3
ready_all
wait_for "tiny Healthy 3/3" 10 eq "Healthy 3/3" model tiny '{.status.phase} {.status.ready}'
hung_held && ok "unscrapable replicas are not zero load: 16 held (scaleDownDelaySeconds 0)" ||
    fail "16 replicas held while metrics are missing (got $(hung_scaling))"
curl -sf "http://127.0.0.1:$port/metrics" | awk '$1 == "kllm_operator_scrape_failures_total" && $2 > 0 {f = 1} END {exit !f}' &&
    ok "the scraper counted failed fetches of the hanging agent" || fail "scrape failures counted"
k delete model hung-a hung-b scaler -n $MNS --wait=false >/dev/null
k patch model tiny -n $MNS --type=merge -p '{"spec":{"replicas":2}}' >/dev/null
gone_models() {
    ! kubectl get model hung-a hung-b scaler -n $MNS -o name 2>/dev/null | grep -q . &&
        [ -z "$(kubectl get modelreplicas -n $MNS -l 'kllm.io/model in (hung-a,hung-b,scaler)' -o name)" ]
}
wait_for "hung-a, hung-b and scaler deleted with their replicas" 60 gone_models
wait_for "tiny back to 2 replicas" 20 reps_are kllm.io/model=tiny 2

# --- node failure --------------------------------------------------------------------------------
touch "$work/kill-node-b"
wait_for "node-b NotReady after its Lease expired" 40 eq "False LeaseExpired" inferencenode node-b '{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].reason}'
wait_for "node-b's replica re-created on node-a" 40 reps_are kllm.io/node=node-b 0
wait_for "2 replicas of revision 2 on node-a" 20 reps_are kllm.io/node=node-a,kllm.io/revision=2 2
ready_all
wait_for "Healthy again, 2/2" 20 eq "Healthy 2/2" model tiny '{.status.phase} {.status.ready}'

# --- nothing fits: the replica waits unbound with the scheduler's reason ---------------------------------
# node-a (8 cpu) holds 4 replicas of 2 cpu; node-b is NotReady.
k patch model tiny -n $MNS --type=merge -p '{"spec":{"replicas":5}}' >/dev/null
unbound() { k get modelreplicas -n $MNS -o 'jsonpath={range .items[*]}{.spec.nodeName}|{.status.phase}|{.status.conditions[?(@.type=="Scheduled")].reason}{"\n"}{end}' | grep -q '^|Pending|Unschedulable$'; }
wait_for "a 5th replica stays Pending, condition Scheduled=False Unschedulable" 20 unbound
wait_for "Model Degraded: Unschedulable" 20 eq "True Unschedulable" model tiny '{.status.conditions[?(@.type=="Degraded")].status} {.status.conditions[?(@.type=="Degraded")].reason}'
k get events -n $MNS --field-selector involvedObject.name=tiny,reason=FailedScheduling -o 'jsonpath={.items[*].message}' | grep -q '0/2 nodes are available' &&
    ok "FailedScheduling Event with the scheduler's reason" || fail "FailedScheduling Event with the scheduler's reason"
k patch model tiny -n $MNS --type=merge -p '{"spec":{"replicas":2}}' >/dev/null
wait_for "back to 2 replicas, none unbound" 20 reps_are kllm.io/model=tiny 2
wait_for "Degraded=False again" 20 eq False model tiny '{.status.conditions[?(@.type=="Degraded")].status}'

# --- metrics, deletion, shutdown ------------------------------------------------------------------
curl -sf "http://127.0.0.1:$port/metrics" >"$work/metrics.txt"
grep -q '^kllm_operator_leader 1' "$work/metrics.txt" && grep -q '^kllm_rollbacks_total 4' "$work/metrics.txt" &&
    grep -q '^kllm_operator_scale_decisions_total [1-9]' "$work/metrics.txt" &&
    ok "/metrics: leader 1, rollbacks 4, scale decisions" || fail "/metrics: leader 1, rollbacks 4, scale decisions"
for m in kllm_operator_reconciles_total kllm_operator_reconcile_errors_total kllm_operator_reconcile_duration_seconds_count \
    kllm_operator_queue_depth kllm_rollouts_total kllm_promotions_total kllm_operator_scrapes_total; do
    grep -q "^$m [0-9]" "$work/metrics.txt" || fail "/metrics has $m"
done
grep -q '^kllm_operator_reconcile_duration_seconds_bucket{le="+Inf"} [1-9]' "$work/metrics.txt" &&
    ok "/metrics: reconcile counts, errors, latency histogram, queue depth, rollouts, scrapes" || fail "/metrics: reconcile latency histogram"
kill -TERM "$op_pid"
wait "$op_pid"
st=$?
op_pid=""
[ $st = 0 ] && ok "operator exits 0 on SIGTERM" || fail "operator exits 0 on SIGTERM (status $st)"
wait_for "second operator takes the Lease" 20 leader_is e2e-op2
# the Lease is taken before the new leader's controller has synced and says so
wait_for "second operator leads (kllm_operator_leader 1)" 20 sh -c "curl -sf http://127.0.0.1:$port2/metrics | grep -q '^kllm_operator_leader 1'"
k delete model tiny -n $MNS --wait=false >/dev/null
wait_for "Model deleted by the new leader (finalizer removed after its replicas)" 30 sh -c "! kubectl get model tiny -n $MNS"
wait_for "no ModelReplicas left" 20 reps_are kllm.io/model=tiny 0
wait_for "ModelRevisions garbage-collected" 60 sh -c "[ -z \"\$(kubectl get modelrevisions -n $MNS -o name)\" ]"
kill -TERM "$op2_pid"
wait "$op2_pid"
st=$?
op2_pid=""
[ $st = 0 ] && ok "second operator exits 0 on SIGTERM" || fail "second operator exits 0 on SIGTERM (status $st)"
leader_is "" && ok "leader Lease released" || fail "leader Lease released"
grep -q '"error"\|level=error\| ERROR ' "$work/operator.log" && log "operator logged errors (see $work/operator.log)"

if [ $failures -gt 0 ]; then
    echo "e2e-operator: $failures check(s) FAILED; operator log: $work/operator.log"
    exit 1
fi
echo "e2e-operator: all checks passed"
