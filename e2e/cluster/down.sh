#!/bin/sh
# e2e/cluster/down.sh: stop exactly the processes up.sh started (by the pids
# it recorded, checked against the expected program so a reused pid is never
# hit), then remove the etcd data. Logs stay in DIR/logs. Safe to run twice.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
dir=$(cluster_dir)
[ -d "$dir" ] || exit 0
stop() { # name program
    f="$dir/$1.pid"
    [ -f "$f" ] || return 0
    pid=$(cat "$f")
    if pid_is "$pid" "$2"; then
        kill -TERM "$pid" 2>/dev/null
        i=0
        while pid_is "$pid" "$2"; do
            i=$((i + 1))
            if [ $i -gt 50 ]; then
                kill -KILL "$pid" 2>/dev/null
            fi
            sleep 0.2
        done
        log "stopped $1 (pid $pid)"
    fi
    rm -f "$f"
}
stop kcm kube-controller-manager
stop apiserver kube-apiserver
stop etcd etcd
rm -rf "$dir/etcd" "$dir/state.env"
