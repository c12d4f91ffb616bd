#!/bin/sh
# e2e/cluster/restart-apiserver.sh [DIR]: stop the kube-apiserver of the
# cluster in DIR (default: $KLLM_CLUSTER_DIR or build/cluster) and start it
# again with the same flags and port; waits for /readyz. Used by the
# watch-resume integration test.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
dir=${1:-$(cluster_dir)}
pid=$(cat "$dir/apiserver.pid")
if pid_is "$pid" kube-apiserver; then
    kill -TERM "$pid"
    i=0
    while pid_is "$pid" kube-apiserver; do
        i=$((i + 1))
        [ $i -gt 100 ] && kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    done
fi
# The port was just released; the same port keeps clients' URLs valid.
start_proc "$dir" apiserver kube-apiserver
"$here/wait-apiserver.sh" "$dir"
