#!/bin/sh
# Writes engine/tests/data/arch-refs.tsv: greedy token ids of the reference
# implementation (llama.cpp) for models of every architecture and tensor
# type, which engine/tests/test_arch.c must reproduce.
#
#   scripts/make-arch-refs.sh KLLM BENCH OUTDIR MARGIN > engine/tests/data/arch-refs.tsv
#
# KLLM: this repo's kllm binary (its make-model writes the models; the test
# writes the same files again from the flags, deterministic in the seed).
# BENCH: the llama.cpp driver of shared/tools/llama-ref (see its README; not
# part of this repo), used for `--gen` (greedy ids) and `--quantize` (the
# reference quantizer). OUTDIR: where the reference-quantized files go (the
# test reads them from engine/tests/data/). MARGIN: a 40-line program built
# against the same llama.cpp (outside this repo, see engine/tests/data/README.md)
# that generates greedily like `bench --gen` and prints each id with its
# margin, the reference's top-1 minus top-2 logit: "id:margin ...".
# Columns: case, make-model flags (or --file PATH), prompt, how many leading
# ids must match, the reference's ids.
set -eu
KLLM=$1
BENCH=$2
OUT=$3
MARGIN=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prompts="Once upon a time|The capital of France is|1 2 3 4 5 6 7 8 9 10"

# case name, flags, n ids, ids that must match, prompts (|-separated)
emit() {
    name=$1 flags=$2 n=$3 must=$4 ps=$5
    case "$flags" in
    --file*) f=${flags#--file } ;;
    *) f=$tmp/m.gguf; "$KLLM" make-model --out "$f" $flags >/dev/null ;;
    esac
    echo "$ps" | tr '|' '\n' | while IFS= read -r p; do
        ids=$("$MARGIN" "$f" "$p" "$n")
        printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$flags" "$p" "$must" "$ids"
    done
}

echo "# greedy ids of llama.cpp (ollama f63eea3d, upstream ec98e2002, CPU, 2 threads) made by"
echo "# scripts/make-arch-refs.sh; see engine/tests/data/README.md"
small="--dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 128 --seed 3 --scale 0.1"
for t in f32 f16; do
    emit "llama3-$t" "--arch llama --type $t $small --rope-factors --rope-base 500000 --tied" 32 32 "$prompts"
    emit "llama-$t" "--arch llama --type $t $small" 32 32 "$prompts"
    emit "qwen2-$t" "--arch qwen2 --type $t $small --tied" 32 32 "$prompts"
    emit "qwen3-$t" "--arch qwen3 --type $t $small --head-dim 32 --tied" 32 32 "$prompts"
    emit "phi3-long-$t" "--arch phi3 --type $t $small --rope-factors --ctx 512" 32 32 "$prompts"
    emit "phi3-short-$t" "--arch phi3 --type $t $small --rope-factors --ctx 4096" 32 32 "$prompts"
    emit "gemma2-$t" "--arch gemma2 --type $t $small --head-dim 32 --swa 8" 32 32 "$prompts"
    emit "gemma3-$t" "--arch gemma3 --type $t --dim 64 --layers 6 --heads 4 --kv-heads 2 --ffn 128 --seed 3 --scale 0.1 --head-dim 32 --swa 8" 32 32 "$prompts"
done

# every tensor type on every architecture: rows of 256 for the K-quants
big="--dim 256 --layers 2 --heads 4 --kv-heads 2 --ffn 512 --seed 5 --scale 0.1"
for t in bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k iq4_nl iq4_xs q4_k_m q5_k_m q3_k_l; do
    emit "llama3-$t" "--arch llama --type $t $big --rope-factors --rope-base 500000" 8 4 "Once upon a time"
    emit "qwen2-$t" "--arch qwen2 --type $t $big --tied" 8 4 "Once upon a time"
    emit "qwen3-$t" "--arch qwen3 --type $t $big" 8 4 "Once upon a time"
    emit "phi3-$t" "--arch phi3 --type $t $big" 8 4 "Once upon a time"
    emit "gemma2-$t" "--arch gemma2 --type $t $big --swa 4" 8 4 "Once upon a time"
    # gemma3: 6 layers, so that one is global (the reference cannot run all-window models)
    emit "gemma3-$t" "--arch gemma3 --type $t --dim 256 --layers 6 --heads 4 --kv-heads 2 --ffn 512 --seed 5 --scale 0.1 --swa 4" 8 4 "Once upon a time"
done

# files written by the reference quantizer itself
"$KLLM" make-model --out "$tmp/l.gguf" --arch llama --type f16 $big --rope-factors --rope-base 500000 >/dev/null
"$BENCH" --quantize "$tmp/l.gguf" "$OUT/llama3-ref-q4_k_m.gguf" q4_k_m >/dev/null 2>&1
"$KLLM" make-model --out "$tmp/q.gguf" --arch qwen2 --type f16 $big --tied >/dev/null
"$BENCH" --quantize "$tmp/q.gguf" "$OUT/qwen2-ref-q5_k_m.gguf" q5_k_m >/dev/null 2>&1
emit "llama3-ref-q4_k_m" "--file engine/tests/data/llama3-ref-q4_k_m.gguf" 16 8 "$prompts"
emit "qwen2-ref-q5_k_m" "--file engine/tests/data/qwen2-ref-q5_k_m.gguf" 16 8 "$prompts"

# the real byte-level BPE vocabularies (copied from shared/models, vocabulary only)
bpe="Hello, world! It's 2026.|<|im_start|>user\nhi<|im_end|>|  leading spaces and ünïcödé 日本語"
tiny="--type f16 --dim 32 --layers 2 --heads 4 --kv-heads 2 --ffn 64 --seed 3 --scale 0.1 --tied"
emit "llama3-vocab" "--arch llama $tiny --rope-base 500000 --vocab-from engine/tests/data/llama-3-vocab.gguf" 16 16 "$bpe"
emit "qwen-vocab" "--arch qwen2 $tiny --vocab-from engine/tests/data/qwen-vocab.gguf" 16 16 "$bpe"
