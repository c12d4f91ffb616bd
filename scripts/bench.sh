#!/bin/sh
# make bench: the engine benchmark table of issue 3 (random-weight LLaMA
# shapes, Llama-2 vocabulary), generated into bench-models/ when absent,
# then the agent's load benchmark if it is built. Figures are printed, never
# asserted. KLLM_BENCH_MODELS="small-q8_0 ..." narrows the set; KLLM_BENCH_REPS
# sets -r (default 3). LLAMA_REF_BENCH=PATH (the llama.cpp driver of
# shared/tools/llama-ref, not part of this repo) adds, after each model, the
# reference on the same file with the same threads, alternating kllm /
# llama.cpp twice (this machine drifts: compare only pairs of one run).
set -eu
KLLM=build/bin/kllm
VOCAB=engine/tests/data/llama-2-tiny-random.gguf
DIR=${KLLM_BENCH_DIR:-bench-models}
REPS=${KLLM_BENCH_REPS:-3}
THREADS=${KLLM_BENCH_THREADS:-2}
MODELS=${KLLM_BENCH_MODELS:-"small-f16 small-q8_0 small-q4_k_m medium-f16 medium-q8_0 medium-q4_k_m"}
mkdir -p "$DIR"
for name in $MODELS; do
    size=${name%-*}
    type=${name#*-}
    case $size in
    small) shape="--dim 768 --layers 12 --heads 12 --ffn 2048" ;;
    medium) shape="--dim 2048 --layers 22 --heads 32 --kv-heads 4 --ffn 5632" ;;
    *) echo "bench: unknown model size '$size'" >&2; exit 2 ;;
    esac
    f="$DIR/$name.gguf"
    if [ ! -f "$f" ]; then
        echo "bench: generating $f"
        # shellcheck disable=SC2086
        $KLLM make-model --out "$f" --type "$type" $shape --vocab-from "$VOCAB" --seed 1
    fi
    echo "== $name ($THREADS threads)"
    $KLLM bench -m "$f" -t "$THREADS" -p 128 -n 128 -b 1,4,8 -r "$REPS"
    if [ -n "${LLAMA_REF_BENCH:-}" ]; then
        for pair in 1 2; do
            echo "-- pair $pair: kllm, then llama.cpp (pp128 / tg128 tokens/s)"
            $KLLM bench -m "$f" -t "$THREADS" -p 128 -n 128 -b 1 -r "$REPS"
            "$LLAMA_REF_BENCH" "$f" -t "$THREADS" -np 128 -n 128 -r "$REPS"
        done
    fi
done
if [ -x agent/tests/bench.sh ]; then
    echo "== agent load test"
    agent/tests/bench.sh
fi
