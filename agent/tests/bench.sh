#!/usr/bin/env bash
# Agent load benchmark (run by `make bench`): starts kllm-agent on a model,
# sends N completion requests at several concurrency levels with curl, and
# prints requests/s, generated tokens/s and p50/p95 latency. Figures are
# printed, never asserted.
#
# env: KLLM_AGENT (binary), KLLM_BENCH_AGENT_MODEL (GGUF, default the bundled
# tiny model), KLLM_BENCH_REQUESTS (per level, default 64),
# KLLM_BENCH_CONCURRENCY (default "1 4 16"), KLLM_BENCH_TOKENS (max_tokens,
# default 32), KLLM_BENCH_PARALLEL (--parallel, default 4),
# KLLM_BENCH_AGENT_THREADS (--threads, default 0 = all cores).
set -eu
AGENT=${KLLM_AGENT:-build/bin/kllm-agent}
MODEL=${KLLM_BENCH_AGENT_MODEL:-engine/tests/data/llama-2-tiny-random.gguf}
N=${KLLM_BENCH_REQUESTS:-64}
LEVELS=${KLLM_BENCH_CONCURRENCY:-1 4 16}
TOKENS=${KLLM_BENCH_TOKENS:-32}
PARALLEL=${KLLM_BENCH_PARALLEL:-4}
THREADS=${KLLM_BENCH_AGENT_THREADS:-0}
# The agent shortens libgomp's spin itself (GOMP_SPINCOUNT=3000 unless
# OMP_WAIT_POLICY or GOMP_SPINCOUNT is set): long spins between decode steps
# starve the HTTP threads on small machines, passive waiting slows every
# barrier inside a step.
TMP=$(mktemp -d)
APID=""
cleanup() {
    if [ -n "$APID" ]; then kill "$APID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

"$AGENT" --model bench="$MODEL" --listen 127.0.0.1:0 --parallel "$PARALLEL" --threads "$THREADS" \
    --queue-max 1024 --max-tokens "$TOKENS" >"$TMP/log" 2>&1 &
APID=$!
PORT=""
for _ in $(seq 600); do
    PORT=$(sed -n 's/.*listening.*port=\([0-9]*\).*/\1/p' "$TMP/log" 2>/dev/null)
    [ -n "$PORT" ] && break
    kill -0 "$APID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$PORT" ]; then
    echo "bench: agent did not start:"
    cat "$TMP/log"
    exit 1
fi
URL=http://127.0.0.1:$PORT/v1/completions
BODY=$(printf '{"model":"bench","prompt":"Once upon a time","max_tokens":%d,"temperature":0}' "$TOKENS")

# one request: prints "seconds completion_tokens"
one() {
    local t n
    t=$(curl -s --max-time 600 -o "$TMP/r$1" -w '%{time_total}' -H 'Content-Type: application/json' \
        -d "$BODY" "$URL")
    n=$(jq -r '.usage.completion_tokens // 0' "$TMP/r$1" 2>/dev/null || echo 0)
    printf '%s %s\n' "$t" "$n" # one write per line: safe with xargs -P
}
export -f one
export TMP URL BODY

echo "model $MODEL, --parallel $PARALLEL, --threads $THREADS, OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}, $N requests per level, max_tokens $TOKENS"
printf '%-12s %10s %12s %10s %10s\n' concurrency req/s gen_tok/s p50_ms p95_ms
for c in $LEVELS; do
    t0=$(date +%s%N)
    seq "$N" | xargs -P "$c" -I{} bash -c 'one {}' >"$TMP/lat"
    t1=$(date +%s%N)
    sort -n -k1,1 "$TMP/lat" | awk -v n="$N" -v c="$c" -v ns=$((t1 - t0)) '
        { lat[NR] = $1; tok += $2 }
        END {
            s = ns / 1e9
            i50 = int(NR * 0.50 + 0.5); if (i50 < 1) i50 = 1
            i95 = int(NR * 0.95 + 0.5); if (i95 < 1) i95 = 1; if (i95 > NR) i95 = NR
            printf "%-12d %10.1f %12.1f %10.1f %10.1f\n", c, NR / s, tok / s, lat[i50] * 1000, lat[i95] * 1000
        }'
done
kill -TERM "$APID"
wait "$APID"
APID=""
