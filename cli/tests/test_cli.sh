#!/bin/sh
# kllm CLI behaviour: the reference ids through `kllm run`, and one clear
# line + non-zero exit for every kind of bad input. Usage: test_cli.sh KLLM
set -u
KLLM=$1
MODEL=engine/tests/data/llama-2-tiny-random.gguf
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0
check() { # name, expected exit ("nonzero" or a number), stderr pattern, command...
    name=$1 want=$2 pat=$3
    shift 3
    "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ "$want" = nonzero ] && [ $rc -eq 0 ]; then
        echo "FAIL: $name: exit 0, want non-zero"; fails=$((fails + 1)); return
    fi
    if [ "$want" != nonzero ] && [ $rc -ne "$want" ]; then
        echo "FAIL: $name: exit $rc, want $want"; cat "$TMP/err"; fails=$((fails + 1)); return
    fi
    if [ -n "$pat" ] && ! grep -q -- "$pat" "$TMP/err"; then
        echo "FAIL: $name: stderr lacks '$pat':"; cat "$TMP/err"; fails=$((fails + 1)); return
    fi
    if [ "$want" != 0 ] && [ "$(wc -l <"$TMP/err")" -ne 1 ]; then
        echo "FAIL: $name: want exactly one line on stderr:"; cat "$TMP/err"; fails=$((fails + 1)); return
    fi
    echo "ok: $name"
}

REF="17196 5211 21440 25431 7455 3285 29710 4660 29509 31364 19741 8021 29710 4660 29509 31364 28253 12321 12681 14340 1189 30070 29182 9645 20945 16138 2451 19209 19982 8317 15492 19741"
check "run reference ids" 0 "" "$KLLM" run -m "$MODEL" -p "Once upon a time" -n 32 --temp 0 --ids
if [ "$(cat "$TMP/out")" != "$REF" ]; then echo "FAIL: ids differ: $(cat "$TMP/out")"; fails=$((fails + 1)); fi
check "tokenize" 0 "" "$KLLM" tokenize -m "$MODEL" -p "Hello world"
[ "$(cat "$TMP/out")" = "1 15043 3186" ] || { echo "FAIL: tokenize output $(cat "$TMP/out")"; fails=$((fails + 1)); }
check "inspect" 0 "" "$KLLM" inspect "$MODEL"
grep -q "^model: llama" "$TMP/out" || { echo "FAIL: inspect has no model line"; fails=$((fails + 1)); }
check "version" 0 "" "$KLLM" --version

check "missing file" 1 "No such file" "$KLLM" run -m "$TMP/nope.gguf" -p x
printf 'hello, not a model\n%.0s' 1 2 3 >"$TMP/text.gguf"
check "not GGUF" 1 "not a GGUF file" "$KLLM" run -m "$TMP/text.gguf" -p x
check "inspect not GGUF" 1 "not a GGUF file" "$KLLM" inspect "$TMP/text.gguf"
head -c 100000 "$MODEL" >"$TMP/trunc.gguf"
check "truncated" 1 "past the end" "$KLLM" run -m "$TMP/trunc.gguf" -p x
check "directory" 1 "not a regular file" "$KLLM" run -m "$TMP" -p x

# unsupported architecture: the same file with "llama" renamed in place
cp "$MODEL" "$TMP/arch.gguf"
off=$(grep -obUa "general.architecture" "$TMP/arch.gguf" | head -1 | cut -d: -f1)
printf 'gpt_x' | dd of="$TMP/arch.gguf" bs=1 seek=$((off + 20 + 4 + 8)) conv=notrunc 2>/dev/null
check "unsupported arch" 1 "architecture 'gpt_x' is not supported" "$KLLM" run -m "$TMP/arch.gguf" -p x

# unsupported tensor type: a q8_0 matrix relabelled i8 (smaller, so it fits)
"$KLLM" make-model --out "$TMP/q8.gguf" --type q8_0 --dim 64 --layers 1 --heads 4 --ffn 64 || fails=$((fails + 1))
off=$(grep -obUa "blk.0.attn_q.weight" "$TMP/q8.gguf" | head -1 | cut -d: -f1)
# after the name: u32 n_dims, u64 ne[2], then the u32 type
printf '\030' | dd of="$TMP/q8.gguf" bs=1 seek=$((off + 19 + 4 + 16)) conv=notrunc 2>/dev/null
check "unsupported type" 1 "type i8, which the engine does not run" "$KLLM" run -m "$TMP/q8.gguf" -p x
check "inspect unsupported type" 1 "" "$KLLM" inspect "$TMP/q8.gguf"
grep -q "blk.0.attn_q.weight *i8" "$TMP/out" || { echo "FAIL: inspect does not list the i8 tensor"; fails=$((fails + 1)); }

check "bad flag" 2 "unknown option" "$KLLM" run -m "$MODEL" -p x --bogus 1
check "bad number" 2 "invalid value" "$KLLM" run -m "$MODEL" -p x -n ten
check "missing value" 2 "missing value" "$KLLM" run -m "$MODEL" -p
check "unknown command" 2 "unknown command" "$KLLM" frobnicate
check "make-model bad shape" 1 "invalid shape" "$KLLM" make-model --out "$TMP/m.gguf" --type q8_0 --dim 30 --layers 1 --heads 2 --ffn 32
check "make-model" 0 "" "$KLLM" make-model --out "$TMP/m.gguf" --type q4_0 --dim 64 --layers 1 --heads 4 --kv-heads 2 --ffn 64
# byte-vocabulary model: every character falls back to <0xNN> tokens, more
# tokens than input bytes (the CLI must size its buffer for that)
check "byte fallback tokenize" 0 "" "$KLLM" tokenize -m "$TMP/m.gguf" -p "hi"
[ "$(cat "$TMP/out")" = "1 229 153 132 107 108" ] || { echo "FAIL: byte tokens $(cat "$TMP/out")"; fails=$((fails + 1)); }
check "made model runs" 0 "" "$KLLM" run -m "$TMP/m.gguf" -p "hi" -n 4 --temp 0.7 --seed 3
[ -e "$TMP/m.gguf.tmp" ] && { echo "FAIL: temporary file left behind"; fails=$((fails + 1)); }

if [ $fails -ne 0 ]; then echo "test_cli: $fails failure(s)"; exit 1; fi
echo "test_cli: all passed"
