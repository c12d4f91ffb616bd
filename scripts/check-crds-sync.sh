#!/bin/sh
# crds/ is the single source of the CRDs; helm/kllm/crds/ must hold
# byte-identical copies of its *.yaml files and nothing else.
#   scripts/check-crds-sync.sh          check (exit 1 and list differences)
#   scripts/check-crds-sync.sh --fix    make the chart's copy identical
set -eu
cd "$(dirname "$0")/.."
src=crds
dst=helm/kllm/crds
if [ "${1:-}" = "--fix" ]; then
    mkdir -p "$dst"
    rm -f "$dst"/*.yaml
    cp "$src"/*.yaml "$dst"/
    echo "check-crds-sync: copied $src/*.yaml to $dst/"
    exit 0
fi
rc=0
for f in "$src"/*.yaml; do
    b=$(basename "$f")
    if [ ! -f "$dst/$b" ]; then
        echo "check-crds-sync: $dst/$b is missing"
        rc=1
    elif ! cmp -s "$f" "$dst/$b"; then
        echo "check-crds-sync: $dst/$b differs from $f"
        rc=1
    fi
done
for f in "$dst"/*; do
    [ -e "$f" ] || continue
    b=$(basename "$f")
    if [ ! -f "$src/$b" ]; then
        echo "check-crds-sync: $dst/$b has no source in $src/"
        rc=1
    fi
done
if [ $rc -ne 0 ]; then
    echo "check-crds-sync: run scripts/check-crds-sync.sh --fix"
    exit 1
fi
echo "check-crds-sync: ok ($(ls "$src"/*.yaml | wc -l) CRDs identical)"
