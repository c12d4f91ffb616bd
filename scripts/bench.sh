#!/bin/sh
# make bench: the engine benchmark table (docs/internals/engine.md,
# "Measured"), then the agent's load benchmark. Figures are printed, never
# asserted.
#
# Models are named SHAPE-TYPE[-ref]: SHAPE small (768 x 12, Llama-2 vocab),
# medium (TinyLlama-1.1B shape: 2048 x 22, 32/4 heads, FFN 5632) or qwen
# (Qwen2.5-1.5B shape: qwen2, 1536 x 28, 12/2 heads, FFN 8960, tied
# embeddings, the real Qwen vocabulary); TYPE f16, q8_0, q4_k_m, q6_k, ...
# Files come from `kllm make-model` (random weights in that type) and are
# kept in bench-models/; with -ref the file is SHAPE-f16 quantized by
# llama.cpp's own quantizer (needs LLAMA_REF_BENCH).
#
# env: KLLM_BENCH_MODELS (default below), KLLM_BENCH_PP (512), KLLM_BENCH_TG
# (128), KLLM_BENCH_REPS (-r, 3), KLLM_BENCH_PAIRS (alternating pairs, 3),
# KLLM_BENCH_THREADS (2), KLLM_BENCH_DIR (bench-models).
# LLAMA_REF_BENCH=PATH: the llama.cpp driver of shared/tools/llama-ref (not
# part of this repo). With it every model runs A B A B ...: kllm, then
# llama.cpp on the same file with the same threads, KLLM_BENCH_PAIRS times;
# the table has the medians of each and their ratio (these machines drift
# +-20 % from hour to hour: only ratios of one run mean anything). Build it
# for the CPU the comparison is about (docs/internals/engine.md).
#
# Columns: ppP, tgN, tgN@b4, tgN@b8 (aggregate) in tokens/s; RSS (peak, MiB;
# llama.cpp's through /usr/bin/time when installed); roof = decode as a
# share of the bandwidth roofline: bytes of weights read per token x tgN /
# the memory read bandwidth (`kllm bench --membw`, measured in this run).
set -eu
KLLM=${KLLM:-build/bin/kllm}
DIR=${KLLM_BENCH_DIR:-bench-models}
PP=${KLLM_BENCH_PP:-512}
TG=${KLLM_BENCH_TG:-128}
REPS=${KLLM_BENCH_REPS:-3}
PAIRS=${KLLM_BENCH_PAIRS:-3}
THREADS=${KLLM_BENCH_THREADS:-2}
REF=${LLAMA_REF_BENCH:-}
DEFAULT="small-f16 small-q8_0 small-q4_k_m medium-f16 medium-q8_0 medium-q4_k_m medium-q6_k qwen-q8_0 qwen-q4_k_m"
[ -n "$REF" ] && DEFAULT="$DEFAULT medium-q4_k_m-ref qwen-q4_k_m-ref"
MODELS=${KLLM_BENCH_MODELS:-$DEFAULT}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$DIR"

# model file for a name, made when absent
model() {
    name=$1 base=${1%-ref} size=${1%%-*}
    type=${base#*-}
    f="$DIR/$name.gguf"
    [ -f "$f" ] && { echo "$f"; return; }
    case $size in
    small) shape="--dim 768 --layers 12 --heads 12 --ffn 2048 --vocab-from engine/tests/data/llama-2-tiny-random.gguf" ;;
    medium) shape="--dim 2048 --layers 22 --heads 32 --kv-heads 4 --ffn 5632 --vocab-from engine/tests/data/llama-2-tiny-random.gguf" ;;
    qwen) shape="--arch qwen2 --dim 1536 --layers 28 --heads 12 --kv-heads 2 --ffn 8960 --tied --vocab-from engine/tests/data/qwen-vocab.gguf" ;;
    *) echo "bench: unknown model size '$size'" >&2; exit 2 ;;
    esac
    if [ "$name" != "$base" ]; then
        [ -n "$REF" ] || { echo "bench: $name needs LLAMA_REF_BENCH" >&2; exit 2; }
        src=$(model "$size-f16")
        echo "bench: $f = $src quantized by llama.cpp ($type)" >&2
        "$REF" --quantize "$src" "$f" "$type" -t "$THREADS" >/dev/null 2>&1 ||
            { echo "bench: llama.cpp could not quantize to $type" >&2; exit 1; }
    else
        echo "bench: generating $f" >&2
        # shellcheck disable=SC2086
        "$KLLM" make-model --out "$f" --type "$type" $shape --seed 1 >/dev/null
    fi
    echo "$f"
}

# bytes of weights read per decoded token: every tensor but the embedding
# table (one row of it is read), unless the output matrix is that table
weight_bytes() {
    "$KLLM" inspect "$1" | awk '
        $1 == "output.weight" { out = 1 }
        $1 ~ /\.weight$|\.bias$/ && NF >= 6 { b = $NF; if ($1 == "token_embd.weight") e = b; else s += b }
        END { printf "%.0f\n", out ? s : s + e }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# value of key $2 in the lines of file $1 ("key value" pairs anywhere on a line)
field() { awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'; }

BW1=$("$KLLM" bench --membw -t "$THREADS" | awk '{ print $2 }')
echo "memory read bandwidth: $BW1 GB/s ($THREADS threads)"
: >"$TMP/table"
for name in $MODELS; do
    f=$(model "$name")
    wb=$(weight_bytes "$f")
    : >"$TMP/k"
    : >"$TMP/r"
    echo "== $name ($THREADS threads, $(awk -v b="$wb" 'BEGIN { printf "%.0f", b / 1048576 }') MiB of weights per token)"
    p=1
    while [ "$p" -le "$PAIRS" ]; do
        "$KLLM" bench -m "$f" -t "$THREADS" -p "$PP" -n "$TG" -b 1,4,8 -r "$REPS" | tee -a "$TMP/k" | grep -v '^model' | tr '\n' ' '
        echo "(kllm, pair $p)"
        if [ -n "$REF" ]; then
            for b in 4 8; do
                if [ -x /usr/bin/time ]; then
                    /usr/bin/time -f "ref_rss_kib %M" -o "$TMP/rss" "$REF" "$f" -t "$THREADS" -np "$PP" -n "$TG" -r "$REPS" -b "$b" >"$TMP/r1" || true
                    cat "$TMP/rss" >>"$TMP/r"
                else
                    "$REF" "$f" -t "$THREADS" -np "$PP" -n "$TG" -r "$REPS" -b "$b" >"$TMP/r1" || true
                fi
                cat "$TMP/r1" >>"$TMP/r"
                tr '\n' ' ' <"$TMP/r1"
            done
            echo "(llama.cpp, pair $p)"
        fi
        p=$((p + 1))
    done
    kpp=$(field "$TMP/k" "pp$PP" | median)
    ktg=$(field "$TMP/k" "tg$TG" | median)
    kb4=$(field "$TMP/k" "tg$TG@b4" | median)
    kb8=$(field "$TMP/k" "tg$TG@b8" | median)
    krss=$(field "$TMP/k" peak_rss_mib | median)
    roof=$(awk -v b="$wb" -v t="$ktg" -v bw="$BW1" 'BEGIN { printf "%.0f%%\n", 100 * b * t / (bw * 1e9) }')
    if [ -n "$REF" ]; then
        rpp=$(field "$TMP/r" "pp$PP" | median)
        rtg=$(field "$TMP/r" "tg$TG" | median)
        rb4=$(field "$TMP/r" "tg$TG@b4" | median)
        rb8=$(field "$TMP/r" "tg$TG@b8" | median)
        rrss=$(field "$TMP/r" ref_rss_kib | median)
        [ "$rrss" = "-" ] || rrss=$(awk -v k="$rrss" 'BEGIN { printf "%.1f", k / 1024 }')
        printf '%-18s kllm %8s %7s %7s %7s %7s %5s | llama.cpp %8s %7s %7s %7s %7s | ratio %5s %5s %5s %5s\n' \
            "$name" "$kpp" "$ktg" "$kb4" "$kb8" "$krss" "$roof" "$rpp" "$rtg" "$rb4" "$rb8" "$rrss" \
            "$(ratio "$kpp" "$rpp")" "$(ratio "$ktg" "$rtg")" "$(ratio "$kb4" "$rb4")" "$(ratio "$kb8" "$rb8")" >>"$TMP/table"
    else
        printf '%-18s kllm %8s %7s %7s %7s %7s %5s\n' "$name" "$kpp" "$ktg" "$kb4" "$kb8" "$krss" "$roof" >>"$TMP/table"
    fi
done
BW2=$("$KLLM" bench --membw -t "$THREADS" | awk '{ print $2 }')
echo
echo "== table: tokens/s (medians of $PAIRS pairs x $REPS runs), RSS MiB, roof = decode share of $BW1 GB/s (again at the end: $BW2)"
if [ -n "$REF" ]; then
    printf '%-18s %4s %8s %7s %7s %7s %7s %5s | %9s %8s %7s %7s %7s %7s | %5s %5s %5s %5s %5s\n' model "" "pp$PP" "tg$TG" "@b4" "@b8" RSS roof \
        "" "pp$PP" "tg$TG" "@b4" "@b8" RSS "" pp tg "@b4" "@b8"
else
    printf '%-18s %4s %8s %7s %7s %7s %7s %5s\n' model "" "pp$PP" "tg$TG" "@b4" "@b8" RSS roof
fi
cat "$TMP/table"
if [ -x agent/tests/bench.sh ]; then
    echo "== agent load test"
    agent/tests/bench.sh
fi
