#!/bin/sh
# e2e/cluster/wait-apiserver.sh DIR: wait until the apiserver of the cluster
# in DIR answers /readyz (up to 180 s: the first start on a busy 2-core
# machine is slow). Exit 1 if it died or never became ready.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
dir=$1
. "$dir/state.env"
c="$dir/certs"
i=0
until curl -fsS --cacert "$c/ca.crt" --cert "$c/admin.crt" --key "$c/admin.key" \
    "$APISERVER/readyz" >/dev/null 2>&1; do
    i=$((i + 1))
    if ! pid_is "$(cat "$dir/apiserver.pid")" kube-apiserver; then
        tail -30 "$dir/logs/apiserver.log" >&2
        exit 1
    fi
    [ $i -gt 360 ] && exit 1
    sleep 0.5
done
