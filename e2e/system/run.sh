#!/bin/sh
# e2e/system/run.sh: the whole system end to end — the real kllm-operator
# (two replicas, leader election) and three real kllm-agents (node-a, node-b,
# node-c) as local processes on a local control plane, installed from what
# the Helm chart renders, driven with kubectl, kubectl kllm and curl. The
# scenarios are described in docs/e2e.md.
#
#   KUBECONFIG=admin.kubeconfig KLLM_CLUSTER_DIR=DIR e2e/system/run.sh
#                           use that cluster (how `make e2e` runs it; DIR is
#                           needed by the API-server restart scenario)
#   e2e/system/run.sh       bring up a private one (KLLM_CLUSTER_DIR default
#                           build/cluster-system) and take it down at the end
#
# Everything it starts it stops (trap), on success and on failure. Prints
# one "ok"/"FAIL" line per check; exit 0 only when every check passed.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SYS_BIN=$BUILD/bin
for b in kllm kllm-agent kllm-operator kubectl-kllm; do
    [ -x "$SYS_BIN/$b" ] || { echo "system: build first (make)" >&2; exit 1; }
done
PATH="$(pwd)/$SYS_BIN:$PATH"
export PATH
SYS_WORK=$(pwd)/$BUILD/e2e-system
# One run at a time per build directory (they would share processes, ports
# and the work directory).
if [ -f "$SYS_WORK.pid" ] && kill -0 "$(cat "$SYS_WORK.pid")" 2>/dev/null; then
    echo "system: another run (pid $(cat "$SYS_WORK.pid")) is using $SYS_WORK" >&2
    exit 1
fi
rm -rf "$SYS_WORK"
mkdir -p "$SYS_WORK"
echo $$ >"$SYS_WORK.pid"
. e2e/system/lib.sh
MODEL=$(pwd)/engine/tests/data/llama-2-tiny-random.gguf
MNS=team-sys
M=$MNS/tiny
failures=0
passes=0
own_cluster=""
t_start=$(date +%s)

. scripts/check-lib.sh
section() { echo "-- [$(($(date +%s) - t_start)) s] $*"; }

traffic_pids=""
cleanup() {
    touch "$SYS_WORK"/traffic-*.stop 2>/dev/null
    for p in $traffic_pids; do kill "$p" 2>/dev/null; done
    sys_stop_all
    [ -n "$own_cluster" ] && ./e2e/cluster/down.sh
    rm -f "$SYS_WORK.pid"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

use_cluster system "$(pwd)/$BUILD/cluster-system"
CLUSTER_DIR=${KLLM_CLUSTER_DIR:-}

jp() { kubectl get "$1" "$2" -n "${4:-$MNS}" -o "jsonpath=$3" 2>/dev/null; }
eq() { [ "$(jp "$2" "$3" "$4" "${5:-$MNS}")" = "$1" ]; }
count_reps() { kubectl get modelreplicas -n $MNS -l "$1" -o name 2>/dev/null | grep -c . || true; }
reps_are() { [ "$(count_reps "$1")" = "$2" ]; }
# ready_reps SELECTOR N: exactly N replicas match and all are Ready.
ready_reps() {
    rr=$(kubectl get modelreplicas -n $MNS -l "$1" -o 'jsonpath={range .items[*]}{.status.phase}{"\n"}{end}' 2>/dev/null)
    [ "$(echo "$rr" | grep -c .)" = "$2" ] && [ "$(echo "$rr" | grep -c '^Ready$')" = "$2" ]
}
events() { # events OBJECT-NAME: "reason: message" lines
    kubectl get events -n $MNS --field-selector "involvedObject.name=$1" \
        -o 'jsonpath={range .items[*]}{.reason}: {.message}{"\n"}{end}' 2>/dev/null
}

# complete_at URL [STREAM]: prints the HTTP code, body in $SYS_WORK/out.
complete_at() {
    curl -s -m 60 -o "$SYS_WORK/out" -w '%{http_code}' "$1/v1/completions" -H 'Content-Type: application/json' -H "$AUTH" \
        -d "{\"model\":\"$M\",\"prompt\":\"Hello\",\"max_tokens\":4,\"temperature\":0${2:+,\"stream\":true}}"
}

# --- traffic: clients that send requests until told to stop ----------------------------
# traffic_start NAME URL...: one client per URL (TRAFFIC_TOKENS tokens a
# request, default 8), each alternating a
# completion and a streamed chat; every result goes to traffic-NAME.codes:
# the HTTP code, "cut" for a stream that did not end with [DONE], or
# "stream-error" for one that carried an error event.
TRAFFIC_TOKENS=8
traffic_start() {
    tn=$1
    shift
    rm -f "$SYS_WORK/traffic-$tn.stop" "$SYS_WORK/traffic-$tn.codes"
    ti=0
    for u in "$@"; do
        ti=$((ti + 1))
        (
            n=0
            while [ ! -f "$SYS_WORK/traffic-$tn.stop" ]; do
                n=$((n + 1))
                out="$SYS_WORK/traffic-$tn.$ti.out"
                if [ $((n % 2)) = 0 ]; then
                    c=$(curl -s -m 60 -o "$out" -w '%{http_code}' "$u/v1/chat/completions" -H "$AUTH" \
                        -H 'Content-Type: application/json' \
                        -d "{\"model\":\"$M\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi $n\"}],\"max_tokens\":$TRAFFIC_TOKENS,\"stream\":true}")
                    [ "$c" = 200 ] && ! grep -q 'data: \[DONE\]' "$out" && c="cut"
                    [ "$c" = 200 ] && grep -q '^data: {"error"' "$out" && c="stream-error"
                else
                    c=$(curl -s -m 60 -o "$out" -w '%{http_code}' "$u/v1/completions" -H "$AUTH" \
                        -H 'Content-Type: application/json' \
                        -d "{\"model\":\"$M\",\"prompt\":\"Once upon a time $n\",\"max_tokens\":$TRAFFIC_TOKENS}")
                fi
                echo "$c $(date +%s) $u" >>"$SYS_WORK/traffic-$tn.codes"
                [ "$c" = 200 ] || cp "$out" "$SYS_WORK/traffic-$tn.failed.$n.$ti" 2>/dev/null
            done
        ) &
        traffic_pids="$traffic_pids $!"
    done
}
# traffic_stop NAME DESCRIPTION: stops the clients, then checks that they
# sent requests and none failed.
traffic_stop() {
    touch "$SYS_WORK/traffic-$1.stop"
    for p in $traffic_pids; do wait "$p" 2>/dev/null; done
    traffic_pids=""
    f="$SYS_WORK/traffic-$1.codes"
    total=$(grep -c . "$f" 2>/dev/null || echo 0)
    bad=$(grep -vc '^200 ' "$f" 2>/dev/null || true)
    if [ "$total" -gt 0 ] && [ "${bad:-0}" = 0 ]; then
        ok "$2: $total requests, 0 failed"
    else
        fail "$2: $total requests, ${bad:-0} failed ($(grep -v '^200 ' "$f" | cut -d' ' -f1 | sort | uniq -c | tr '\n' ' '))"
    fi
}

# =====================================================================================
section "1 install"
# apiKey.enabled: the chart's Secret holds the key every /v1 request needs.
sys_install --set apiKey.enabled=true || { echo "system: install failed" >&2; exit 1; }
ok "chart objects installed ($(grep -c . "$SYS_WORK/install.out") objects: ServiceAccounts, RBAC, the API-key Secret)"
AUTH=$(sys_auth_header)
if kubectl --kubeconfig "$SYS_WORK/sa-operator/sa.kubeconfig" get secrets -n "$SYS_NS" >/dev/null 2>&1; then
    fail "the operator's ServiceAccount can read Secrets"
fi
# Operator: a node whose Lease is 15 s old is NotReady (the agents renew
# every 10 s), its replicas move 2 s later.
# The API key goes with the operator's golden prompts, as the chart mounts it.
OPFLAGS="--node-lease-timeout 15s --node-grace 2s --log-level debug $(sys_key_flag)"
# shellcheck disable=SC2086
sys_start_operator op-1 $OPFLAGS || exit 1
wait_for "operator op-1 leads" 30 eq op-1 lease kllm-operator '{.spec.holderIdentity}' "$SYS_NS"
# shellcheck disable=SC2086
sys_start_operator op-2 $OPFLAGS || exit 1
wait_for "operator op-2 ready (standby)" 30 curl -sf "$(sys_url op-2)/readyz"
for n in node-a node-b node-c; do
    sys_start_agent "$n" --chat-template llama2 --log-level debug || exit 1
done
A=$(sys_url node-a)
B=$(sys_url node-b)
C=$(sys_url node-c)
three_ready() {
    [ "$(kubectl get inferencenodes -o 'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}/{.status.capacity.cpu}/{.status.capacity.memory} {end}')" = \
        "node-a=True/2000m/4294967296 node-b=True/2000m/4294967296 node-c=True/2000m/4294967296 " ]
}
wait_for "kubectl get inode: 3 Ready nodes with capacity (cpu 2, memory 4Gi)" 30 three_ready
kubectl get inode >"$SYS_WORK/inode.txt" 2>&1
sed -n 1p "$SYS_WORK/inode.txt" | grep -q '^NAME' && [ "$(grep -c '^node-' "$SYS_WORK/inode.txt")" = 3 ] &&
    ok "kubectl get inode lists node-a, node-b, node-c" || { fail "kubectl get inode"; cat "$SYS_WORK/inode.txt"; }

# =====================================================================================
section "2 a Model, served through every agent"
sys_fileserver files "$MODEL" || exit 1
FS=$SYS_URL SHA1=$SYS_SHA
# Golden prompt: the bundled model (random weights) answers "Hello" with
# ' Мос"` También player' at temperature 0; the second model does not.
# apply_tiny URL SHA CONTEXT [P95_RATIO [nogolden]]: the p95 latency ratio
# is 100 unless given (the canaries are the same tiny model on shared cores).
apply_tiny() {
    at_golden='
      goldenPrompts:
        - {prompt: "Hello", expect: "player", maxTokens: 4}'
    [ "${5:-}" = nogolden ] && at_golden=""
    cat <<EOF | kubectl apply -f - >/dev/null
apiVersion: kllm.io/v1alpha1
kind: Model
metadata: {name: tiny, namespace: $MNS}
spec:
  source: {uri: "$1", sha256: "$2"}
  engine: {contextSize: $3, parallel: 2}
  resources: {cpu: "1", memory: 1Gi}
  replicas: 2
  revisionHistoryLimit: 0
  rollout:
    steps:
      - setWeight: 50
      - pause: {duration: 2s}
      - setWeight: 50
      - pause: {}
    analysis:
      intervalSeconds: 2
      failureLimit: 2
      maxErrorRate: 0.02
      maxP95LatencyRatio: ${4:-100}$at_golden
EOF
}
kubectl create namespace $MNS >/dev/null
apply_tiny "$FS/v1/tiny.gguf" "$SHA1" 256
wait_for "Model tiny Healthy, 2/2 ready, stable revision 1" 90 eq "Healthy 2/2 1" model tiny '{.status.phase} {.status.ready} {.status.stableRevision}'
nodes=$(kubectl get modelreplicas -n $MNS -o 'jsonpath={range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort -u | grep -c .)
[ "$nodes" = 2 ] && ok "the 2 replicas are on 2 different nodes" || fail "replicas spread: on $nodes node(s)"
grep -q "GET /v1/tiny.gguf" "$SYS_WORK/files.log" && ok "the agents downloaded the model over HTTP" || fail "no download in the file server log"
cached=$(kubectl get inferencenodes -o 'jsonpath={range .items[*]}{.status.cachedModels[*].sha256}{"\n"}{end}' | grep -c "$SHA1")
[ "$cached" = 2 ] && ok "2 InferenceNodes list the model (sha256) in cachedModels" || fail "cachedModels: $cached node(s) list it"
ls "$SYS_WORK"/cache-node-*/* 2>/dev/null | grep -q . && ok "the model is in an agent's cache dir" || fail "nothing in the agents' cache dirs"
for u in "$A" "$B" "$C"; do
    c=$(complete_at "$u")
    [ "$c" = 200 ] && grep -q '"text_completion"' "$SYS_WORK/out" && ok "completion through $u" ||
        fail "completion through $u: $c $(head -c 300 "$SYS_WORK/out")"
    sys_chat "$u" "$M" 1 >"$SYS_WORK/chat.out" 2>&1
    grep -q '"chat.completion.chunk"' "$SYS_WORK/chat.out" && grep -q 'data: \[DONE\]' "$SYS_WORK/chat.out" &&
        ok "streamed chat through $u" || fail "streamed chat through $u: $(head -c 300 "$SYS_WORK/chat.out")"
done
c=$(curl -s -o /dev/null -w '%{http_code}' "$B/v1/completions" -d "{\"model\":\"$M\",\"prompt\":\"x\",\"max_tokens\":1}")
[ "$c" = 401 ] && ok "a request without the API key: 401" || fail "a request without the API key: $c"
kubectl get mdl -n $MNS >"$SYS_WORK/mdl.txt" 2>&1
sed -n 1p "$SYS_WORK/mdl.txt" | grep -q '^NAME *READY *PHASE *STABLE *CANARY *WEIGHT *AGE$' &&
    sed -n 2p "$SYS_WORK/mdl.txt" | grep -q '^tiny *2/2 *Healthy *1 ' &&
    ok "kubectl get mdl: $(sed -n 2p "$SYS_WORK/mdl.txt" | tr -s ' ')" || { fail "kubectl get mdl columns"; cat "$SYS_WORK/mdl.txt"; }

# =====================================================================================
section "3 bad input"
cat >"$SYS_WORK/invalid.yaml" <<EOF
apiVersion: kllm.io/v1alpha1
kind: Model
metadata: {name: invalid, namespace: $MNS}
spec:
  source: {uri: "ftp://example.org/m.gguf", sha256: "$SHA1"}
  replicas: -1
EOF
if kubectl apply -f "$SYS_WORK/invalid.yaml" >"$SYS_WORK/invalid.out" 2>&1; then
    fail "an invalid Model was accepted"
elif grep -q 'spec.source.uri' "$SYS_WORK/invalid.out" && grep -q 'spec.replicas' "$SYS_WORK/invalid.out"; then
    ok "invalid Model rejected: $(head -c 160 "$SYS_WORK/invalid.out")..."
else
    fail "invalid Model rejected without naming the fields: $(cat "$SYS_WORK/invalid.out")"
fi
cat <<EOF | kubectl apply -f - >/dev/null
apiVersion: kllm.io/v1alpha1
kind: Model
metadata: {name: broken, namespace: $MNS}
spec:
  source: {uri: "$FS/v1/broken.gguf", sha256: "0000000000000000000000000000000000000000000000000000000000000000"}
  engine: {contextSize: 256}
  resources: {cpu: "1", memory: 1Gi}
  replicas: 1
EOF
failed_msg() {
    kubectl get modelreplicas -n $MNS -l kllm.io/model=broken -o 'jsonpath={range .items[*]}{.status.phase}: {.status.message}{"\n"}{end}' | grep '^Failed: ' | head -1
}
wait_for "wrong sha256: the replica is Failed" 60 sh -c "kubectl get modelreplicas -n $MNS -l kllm.io/model=broken -o jsonpath='{.items[*].status.phase}' | grep -q Failed"
failed_msg | grep -qi 'sha256' && ok "its message: $(failed_msg)" || fail "Failed replica message: '$(failed_msg)'"
wait_for "Model broken Degraded (ReplicaFailed)" 30 eq "True ReplicaFailed" model broken '{.status.conditions[?(@.type=="Degraded")].status} {.status.conditions[?(@.type=="Degraded")].reason}'
has_event() { events "$1" | grep -qi "$2"; }
wait_for "an Event tells why (sha256)" 30 has_event broken sha256 || events broken
[ "$(complete_at "$A")" = 200 ] && eq "Healthy 2/2" model tiny '{.status.phase} {.status.ready}' &&
    ok "nothing else broke: tiny Healthy 2/2 and serving" || fail "tiny after the broken Model: $(jp model tiny '{.status.phase} {.status.ready}')"
kubectl delete model broken -n $MNS --wait=false >/dev/null
wait_for "Model broken deleted with its replicas" 30 reps_are kllm.io/model=broken 0

# =====================================================================================
section "4 canary rollout, promote, with traffic"
traffic_start canary "$A" "$B" "$C"
# The same file under another URL with a larger context: a new revision.
apply_tiny "$FS/v2/tiny.gguf" "$SHA1" 512
wait_for "revision tiny-2 created" 20 eq 2 modelrevision tiny-2 '{.spec.revision}'
wait_for "canary Ready, paused at the last step, weight 50" 90 eq "Paused 2 50 3" model tiny '{.status.phase} {.status.canaryRevision} {.status.canaryWeight} {.status.currentStep}'
has_steps() { events tiny >"$SYS_WORK/ev.txt"; grep -q '^RolloutStarted' "$SYS_WORK/ev.txt" && grep -q '^StepAdvanced' "$SYS_WORK/ev.txt" && grep -q '^RolloutPaused' "$SYS_WORK/ev.txt"; }
has_steps && ok "the steps advanced: Events RolloutStarted, StepAdvanced, RolloutPaused" || fail "rollout Events: $(cut -d: -f1 "$SYS_WORK/ev.txt" | tr '\n' ' ')"
canary_served() {
    for u in "$A" "$B" "$C"; do curl -s "$u/metrics"; done |
        grep "^kllm_requests_total{model=\"$M\",revision=\"2\",code=\"200\"}" | grep -q ' [1-9]'
}
wait_for "the canary serves part of the traffic" 30 canary_served
# The analysis (golden prompt, error rate, latency) runs every 2 s: two
# runs after the pause began must both have passed.
paused_at=$(date -u -d '+3 sec' +%Y-%m-%dT%H:%M:%SZ)
analysed_after() { expr "$(jp model tiny '{.status.analysis.lastRunAt}')" \> "$1" >/dev/null; }
wait_for "the canary analysis ran during the pause" 30 analysed_after "$paused_at"
eq "Pass 0" model tiny '{.status.analysis.result} {.status.analysis.failedChecks}' && ! events tiny | grep -q '^AnalysisFailed' &&
    ok "the canary passes its analysis: $(jp model tiny '{.status.analysis.message}')" ||
    fail "canary analysis: $(jp model tiny '{.status.analysis}') $(events tiny | grep '^AnalysisFailed')"
kubectl kllm status tiny -n $MNS >"$SYS_WORK/status.txt" 2>&1 && grep -q 'Canary: *2' "$SYS_WORK/status.txt" &&
    ok "kubectl kllm status shows canary 2" || { fail "kubectl kllm status"; cat "$SYS_WORK/status.txt"; }
kubectl kllm promote tiny -n $MNS >/dev/null && ok "kubectl kllm promote" || fail "kubectl kllm promote"
wait_for "revision 2 stable, Healthy 2/2, no canary" 90 eq "Healthy 2 2/2 " model tiny '{.status.phase} {.status.stableRevision} {.status.ready} {.status.canaryRevision}'
wait_for "revision 1 replicas gone" 30 reps_are kllm.io/revision=1 0
wait_for "ModelRevision tiny-1 gone (revisionHistoryLimit 0)" 30 sh -c "! kubectl get modelrevision tiny-1 -n $MNS"
traffic_stop canary "traffic during the canary rollout and promotion"

# =====================================================================================
section "5 automated rollback (golden prompt)"
MODEL2=$SYS_WORK/other.gguf
kllm make-model --out "$MODEL2" --type q8_0 --dim 32 --layers 1 --heads 2 --ffn 32 --vocab-from "$MODEL" --seed 7 >/dev/null ||
    fail "kllm make-model"
sys_fileserver files2 "$MODEL2" || exit 1
FS2=$SYS_URL SHA2=$SYS_SHA
traffic_start rollback "$A" "$B" "$C"
apply_tiny "$FS2/v3/other.gguf" "$SHA2" 512
wait_for "revision tiny-3 created" 20 eq 3 modelrevision tiny-3 '{.spec.revision}'
wait_for "revision 3 rolled back by itself" 90 eq "RolledBack True" model tiny '{.status.phase} {.status.conditions[?(@.type=="RolledBack")].status}'
echo "     RolledBack: $(jp model tiny '{.status.conditions[?(@.type=="RolledBack")].reason}: {.status.conditions[?(@.type=="RolledBack")].message}')"
rb_event() { events tiny | grep -E '^(AnalysisFailed|CanaryReplicaFailed|RolledBack)' | grep -q .; }
wait_for "an Event records the rollback" 20 rb_event || events tiny
wait_for "revision 3 replicas removed" 30 reps_are kllm.io/revision=3 0
eq "2 2/2" model tiny '{.status.stableRevision} {.status.ready}' && ok "stable revision 2 kept 2/2 ready" ||
    fail "stable after the rollback: $(jp model tiny '{.status.stableRevision} {.status.ready}')"
wait_for "tiny-3 outcome RolledBack" 20 eq RolledBack modelrevision tiny-3 '{.status.outcome}'
traffic_stop rollback "traffic during the failed rollout"
kubectl kllm rollback tiny --to 2 -n $MNS >/dev/null && ok "kubectl kllm rollback --to 2 (spec back to the stable)" || fail "kubectl kllm rollback --to 2"
wait_for "Healthy on revision 2 again" 30 eq "Healthy 2 " model tiny '{.status.phase} {.status.stableRevision} {.status.canaryRevision}'

section "5b automated rollback (analysis of live traffic: p95 latency)"
# A much larger model (random weights, about 5 ms a token against the tiny
# one's fraction of a millisecond) as canary, no golden prompt, the p95
# latency limit at 1.2 x the stable's: under traffic of 128-token requests
# the analysis must fail twice and roll it back (5c: an error-rate one).
MODEL3=$SYS_WORK/slow.gguf
kllm make-model --out "$MODEL3" --type q8_0 --dim 512 --layers 8 --heads 8 --ffn 1536 --vocab-from "$MODEL" --seed 9 >/dev/null ||
    fail "kllm make-model (slow)"
sys_fileserver files3 "$MODEL3" || exit 1
FS3=$SYS_URL SHA3=$SYS_SHA
TRAFFIC_TOKENS=128
traffic_start latency "$A" "$B" "$C"
apply_tiny "$FS3/v4/slow.gguf" "$SHA3" 512 1.2 nogolden
slow_canary() { kubectl get modelrevisions -n $MNS -o 'jsonpath={range .items[*]}{.spec.revision} {.spec.source.uri}{"\n"}{end}' | grep 'slow.gguf$' | cut -d' ' -f1; }
wait_for "a revision for the slow model" 20 sh -c "kubectl get modelrevisions -n $MNS -o jsonpath='{.items[*].spec.source.uri}' | grep -q slow.gguf"
slow_rev=$(slow_canary)
wait_for "the slow canary is rolled back by its analysis (AnalysisFailed)" 120 eq "RolledBack AnalysisFailed" model tiny '{.status.phase} {.status.conditions[?(@.type=="RolledBack")].reason}'
af_event() { events tiny | grep '^AnalysisFailed' | grep -qi 'p95\|latency'; }
wait_for "an AnalysisFailed Event names the latency" 20 af_event || events tiny | grep '^AnalysisFailed'
echo "     $(events tiny | grep '^AnalysisFailed' | grep -i 'p95\|latency' | tail -1)"
wait_for "revision $slow_rev replicas removed" 30 reps_are "kllm.io/revision=$slow_rev" 0
eq "2 2/2" model tiny '{.status.stableRevision} {.status.ready}' && ok "stable revision 2 kept 2/2 ready" ||
    fail "stable after the latency rollback: $(jp model tiny '{.status.stableRevision} {.status.ready}')"
traffic_stop latency "traffic during the slow rollout"
TRAFFIC_TOKENS=8
# Back to revision 2's spec, golden prompt included: no new rollout.
apply_tiny "$FS/v2/tiny.gguf" "$SHA1" 512
wait_for "Healthy on revision 2, no canary" 30 eq "Healthy 2 " model tiny '{.status.phase} {.status.stableRevision} {.status.canaryRevision}'
sys_stop files3

# 5c: a canary that answers 500 under traffic. In its GGUF the embedding
# row of the token "▁Once" is NaN: the agent's warm-up ("Hello") passes, but
# every completion of "Once upon a time ..." has non-finite logits, which
# the agent answers with 500 (and counts as an anomaly): the analysis sees
# the canary's error rate and rolls it back. The clients' failures must all
# be those 500s; afterwards the stable serves with none.
section "5c automated rollback: a canary answering errors under traffic"
MODEL4=$SYS_WORK/nan.gguf
kllm make-model --out "$MODEL4.ok" --type f16 --dim 64 --layers 2 --heads 4 --ffn 128 --vocab-from "$MODEL" --seed 11 >/dev/null ||
    fail "kllm make-model (nan)"
# The file offset of the tensor data: output_norm.weight (64 x 1.0f, the
# first norm in the file) found by content, minus its offset in the data.
norm_off=$(kllm inspect "$MODEL4.ok" | awk '$1 == "output_norm.weight" { print $4 }')
once=$(kllm tokenize -m "$MODEL4.ok" -p "Once" | awk '{ print $2 }')
perl -0777 -e 'binmode STDIN; binmode STDOUT; my $d = <STDIN>; my ($norm, $tok) = @ARGV;
    my $p = index($d, pack("f<", 1.0) x 64); die "no norm of 1.0 found\n" if $p < 0;
    substr($d, $p - $norm + $tok * 128, 128) = pack("v", 0x7e00) x 64; print $d' "$norm_off" "$once" \
    <"$MODEL4.ok" >"$MODEL4" || fail "NaN embedding row written into $MODEL4"
sys_fileserver files4 "$MODEL4" || exit 1
FS4=$SYS_URL SHA4=$SYS_SHA
traffic_start errors "$A" "$B" "$C"
apply_tiny "$FS4/v5/nan.gguf" "$SHA4" 256 100 nogolden
wait_for "the erroring canary is rolled back (RolledBack)" 120 eq "RolledBack" model tiny '{.status.phase}'
af_errors() { events tiny | grep '^AnalysisFailed' | grep -q 'error rate'; }
wait_for "an AnalysisFailed Event names the canary's error rate" 20 af_errors
echo "     $(events tiny | grep '^AnalysisFailed' | grep 'error rate' | tail -1)"
wait_for "a nan.gguf revision's replicas removed" 30 sh -c "! kubectl get modelreplicas -n $MNS -o jsonpath='{.items[*].spec.source.uri}' | grep -q nan.gguf"
touch "$SYS_WORK/traffic-errors.stop"
for p in $traffic_pids; do wait "$p" 2>/dev/null; done
traffic_pids=""
f="$SYS_WORK/traffic-errors.codes"
e500=$(grep -c '^500 ' "$f" || true)
# A streamed answer can also fail mid-stream with the same error: when the
# canary itself generates "▁Once", the next step's logits are non-finite
# (an error event after some tokens). Those count as the canary's errors
# when their event says non-finite; anything else is another failure.
estream=$(grep -c '^stream-error ' "$f" || true)
other=$(grep -v '^200 ' "$f" | grep -v '^500 ' | grep -vc '^stream-error ' || true)
bad_stream=0
for g in "$SYS_WORK"/traffic-errors.failed.*; do
    [ -f "$g" ] || continue
    if grep -q '^data: {"error"' "$g" && ! grep '^data: {"error"' "$g" | grep -q 'non-finite'; then
        bad_stream=$((bad_stream + 1))
    fi
done
[ "${e500:-0}" -gt 0 ] && [ "${other:-0}" = 0 ] && [ "$bad_stream" = 0 ] &&
    grep -lq 'non-finite' "$SYS_WORK"/traffic-errors.failed.* 2>/dev/null &&
    ok "under the canary: $(grep -c . "$f") requests, $e500 answered 500 and ${estream:-0} ended with an error event (non-finite logits), no other failure" ||
    fail "under the erroring canary: 500s $e500, non-finite stream errors ${estream:-0}, other failures $other, other stream errors $bad_stream ($(grep -v '^200 ' "$f" | cut -d' ' -f1 | sort | uniq -c | tr '\n' ' '))"
eq "2 2/2" model tiny '{.status.stableRevision} {.status.ready}' && ok "stable revision 2 kept 2/2 ready" ||
    fail "stable after the error rollback: $(jp model tiny '{.status.stableRevision} {.status.ready}')"
apply_tiny "$FS/v2/tiny.gguf" "$SHA1" 512
wait_for "Healthy on revision 2, no canary" 30 eq "Healthy 2 " model tiny '{.status.phase} {.status.stableRevision} {.status.canaryRevision}'
traffic_start after "$A" "$B" "$C"
sleep 3
traffic_stop after "traffic after the error rollback"
sys_stop files4

# =====================================================================================
section "6 autoscaling"
kubectl patch model tiny -n $MNS --type=merge -p '{"spec":{"autoscaling":{"minReplicas":1,"maxReplicas":3,"metric":"concurrency","target":1,"scaleDownDelaySeconds":3}}}' >/dev/null
wait_for "idle: scaled to minReplicas 1" 60 ready_reps kllm.io/model=tiny 1
# Load: 6 clients with long completions against 1 replica of target 1.
load_pids=""
for i in 1 2 3 4 5 6; do
    u=$A
    [ $((i % 3)) = 1 ] && u=$B
    [ $((i % 3)) = 2 ] && u=$C
    (while [ ! -f "$SYS_WORK/load.stop" ]; do
        curl -s -m 60 -o /dev/null -w '%{http_code}\n' "$u/v1/completions" -H 'Content-Type: application/json' -H "$AUTH" \
            -d "{\"model\":\"$M\",\"prompt\":\"Once upon a time\",\"max_tokens\":400}" >>"$SYS_WORK/load.codes"
    done) &
    load_pids="$load_pids $!"
done
traffic_pids="$traffic_pids $load_pids"
wait_for "under load the autoscaler raises replicas to 3" 60 eq 3 model tiny '{.spec.replicas}'
wait_for "3 Ready replicas" 60 ready_reps kllm.io/model=tiny 3
events tiny | grep '^Scaled' | tail -2 | sed 's/^/     /'
touch "$SYS_WORK/load.stop"
for p in $load_pids; do wait "$p" 2>/dev/null; done
traffic_pids=""
bad=$(grep -vc '^200$' "$SYS_WORK/load.codes" || true)
[ "$bad" = 0 ] && ok "load: $(grep -c . "$SYS_WORK/load.codes") requests, 0 failed" || fail "load: $bad failed ($(sort "$SYS_WORK/load.codes" | uniq -c | tr '\n' ' '))"
# The stable window is 60 s; after it the 3 s delay.
wait_for "after the load: back to 1 replica" 150 ready_reps kllm.io/model=tiny 1
kubectl patch model tiny -n $MNS --type=merge -p '{"spec":{"autoscaling":null,"replicas":2}}' >/dev/null
wait_for "autoscaling off: 2 Ready replicas" 60 ready_reps kllm.io/model=tiny 2

# =====================================================================================
section "7 node loss"
victim=$(kubectl get modelreplicas -n $MNS -l kllm.io/model=tiny -o 'jsonpath={.items[0].spec.nodeName}')
survivors=""
for n in node-a node-b node-c; do [ "$n" != "$victim" ] && survivors="$survivors $(sys_url $n)"; done
# shellcheck disable=SC2086
traffic_start nodeloss $survivors
sys_kill "$victim"
echo "     killed the agent of $victim (SIGKILL)"
wait_for "$victim NotReady (Lease expired)" 60 eq False inferencenode "$victim" '{.status.conditions[?(@.type=="Ready")].status}'
wait_for "its replicas rescheduled elsewhere" 60 reps_are "kllm.io/node=$victim" 0
wait_for "Healthy 2/2 on the other nodes" 60 eq "Healthy 2/2" model tiny '{.status.phase} {.status.ready}'
traffic_stop nodeloss "traffic while $victim was lost"

# =====================================================================================
section "8 API server restart"
pids_before=$(for n in op-1 op-2 node-a node-b node-c; do sys_pid "$n"; done | tr '\n' ' ')
live_agents=""
for n in node-a node-b node-c; do [ "$n" != "$victim" ] && live_agents="$live_agents $n"; done
# shellcheck disable=SC2086
traffic_start restart $survivors
if [ -n "$CLUSTER_DIR" ] && ./e2e/cluster/restart-apiserver.sh "$CLUSTER_DIR" >"$SYS_WORK/restart.log" 2>&1; then
    ok "kube-apiserver restarted"
else
    fail "kube-apiserver restart (KLLM_CLUSTER_DIR=$CLUSTER_DIR): $(tail -3 "$SYS_WORK/restart.log")"
fi
kubectl patch model tiny -n $MNS --type=merge -p '{"spec":{"replicas":3}}' >/dev/null
wait_for "a change after the restart reconciles: 3 Ready replicas" 90 ready_reps kllm.io/model=tiny 3
traffic_stop restart "traffic across the API-server restart"
pids_after=$(for n in op-1 op-2 node-a node-b node-c; do sys_alive "$n" && sys_pid "$n"; done | tr '\n' ' ')
[ "$pids_before" = "$pids_after" ] && ok "operators and agents kept running (same pids: $pids_after)" ||
    fail "processes after the restart: before '$pids_before', after '$pids_after'"
for n in $live_agents; do
    wait_for "$n still Ready after the restart" 30 eq True inferencenode "$n" '{.status.conditions[?(@.type=="Ready")].status}'
done

# =====================================================================================
section "9 operator HA"
leader=$(jp lease kllm-operator '{.spec.holderIdentity}' "$SYS_NS")
other=op-2
[ "$leader" = op-2 ] && other=op-1
sys_kill "$leader"
echo "     killed the leader $leader (SIGKILL); the Lease lasts 15 s"
# the standby counts the 15 s from when it saw the last renewal (up to one
# 2 s retry period after it), then tries on its next retry: up to ~19 s
wait_for "$other takes the leader Lease after it expires" 30 eq "$other" lease kllm-operator '{.spec.holderIdentity}' "$SYS_NS"
leads() { curl -sf "$(sys_url "$1")/metrics" | grep -q '^kllm_operator_leader 1'; }
wait_for "$other reconciles as leader (kllm_operator_leader 1)" 20 leads "$other"
kubectl patch model tiny -n $MNS --type=merge -p '{"spec":{"replicas":2}}' >/dev/null
wait_for "the new leader reconciles: 2 replicas" 60 ready_reps kllm.io/model=tiny 2

# =====================================================================================
section "10 uninstall"
kubectl delete model tiny -n $MNS --wait=false >/dev/null
wait_for "Model tiny gone" 60 sh -c "! kubectl get model tiny -n $MNS"
wait_for "no ModelReplicas left" 30 sh -c "[ -z \"\$(kubectl get modelreplicas -A -o name)\" ]"
wait_for "no ModelRevisions left" 60 sh -c "[ -z \"\$(kubectl get modelrevisions -A -o name)\" ]"
no_models() { for n in $live_agents; do curl -s -H "$AUTH" "$(sys_url "$n")/v1/models" | grep -q "\"$M\"" && return 1; done; return 0; }
wait_for "the agents serve no model" 30 no_models
for n in $live_agents $other; do
    sys_stop "$n" 20
    st=$?
    [ $st = 0 ] && ok "$n exits 0 on SIGTERM" || fail "$n exit status $st (log: $SYS_WORK/$n.log)"
done
sys_stop files
sys_stop files2
left=$(awk '{ print $1 }' "$SYS_WORK/procs" 2>/dev/null | tr '\n' ' ')
[ -z "$left" ] && ok "nothing left running" || fail "still running: $left"

echo "system: $passes passed, $failures failed in $(($(date +%s) - t_start)) s (logs in $SYS_WORK)"
[ $failures = 0 ]
