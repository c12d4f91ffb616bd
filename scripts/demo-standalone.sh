#!/bin/sh
# make demo-standalone: the engine and one agent without Kubernetes.
#  1. the engine CLI on the bundled model (inspect, tokenize, greedy run);
#  2. the standalone agent serving the same model over the OpenAI API,
#     exercised with curl, then stopped with SIGTERM.
set -eu
KLLM=build/bin/kllm
AGENT=build/bin/kllm-agent
MODEL=engine/tests/data/llama-2-tiny-random.gguf
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "engine: kllm inspect $MODEL (first lines)"
$KLLM inspect "$MODEL" | sed -n '1,12p;/^model:/p'
say "engine: kllm tokenize -p 'Once upon a time'"
$KLLM tokenize -m "$MODEL" -p "Once upon a time"
say "engine: kllm run --temp 0 -n 32 (random weights: gibberish by design, but exactly llama.cpp's ids)"
$KLLM run -m "$MODEL" -p "Once upon a time" -n 32 --temp 0 --ids
$KLLM run -m "$MODEL" -p "Once upon a time" -n 32 --temp 0

if [ ! -x "$AGENT" ]; then
    echo "(kllm-agent not built yet: the agent part of the demo is skipped)"
    exit 0
fi
PORT=${KLLM_DEMO_PORT:-$((20000 + $$ % 20000))}
LOG=$(mktemp)
say "agent: kllm-agent --model tiny=$MODEL --listen 127.0.0.1:$PORT"
$AGENT --model "tiny=$MODEL" --listen "127.0.0.1:$PORT" >"$LOG" 2>&1 &
APID=$!
trap 'kill $APID 2>/dev/null; rm -f "$LOG"' EXIT INT TERM
i=0
until curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 $APID 2>/dev/null; then
        echo "agent did not become ready:"; cat "$LOG"; exit 1
    fi
    sleep 0.1
done
say "GET /v1/models"
curl -sS "http://127.0.0.1:$PORT/v1/models"; echo
say "POST /v1/completions"
curl -sS "http://127.0.0.1:$PORT/v1/completions" -H 'Content-Type: application/json' \
    -d '{"model":"tiny","prompt":"Once upon a time","max_tokens":16,"temperature":0}'; echo
say "POST /v1/completions with stream=true (server-sent events)"
curl -sSN "http://127.0.0.1:$PORT/v1/completions" -H 'Content-Type: application/json' \
    -d '{"model":"tiny","prompt":"Hello","max_tokens":4,"temperature":0,"stream":true}'
say "GET /metrics (kllm_ lines)"
curl -sS "http://127.0.0.1:$PORT/metrics" | grep '^kllm_' | head -12
say "stopping the agent with SIGTERM"
kill -TERM $APID
wait $APID && echo "agent exited 0"
trap - EXIT INT TERM
rm -f "$LOG"
cat <<EOT

Try it yourself:
  $AGENT --model tiny=$MODEL --listen 127.0.0.1:8080 &
  curl -s localhost:8080/v1/completions -H 'Content-Type: application/json' \\
       -d '{"model":"tiny","prompt":"Once upon a time","max_tokens":16}'
EOT
