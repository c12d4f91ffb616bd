# e2e/cluster/lib.sh: shared helpers for the local control plane scripts.
# Sourced, not executed. POSIX sh.

K8S_VERSION=1.20.2
KLLM_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/kllm"
K8S_CACHE="$KLLM_CACHE/k8s-$K8S_VERSION"

log() { echo "cluster: $*" >&2; }
die() { echo "cluster: error: $*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Install Debian packages that are missing. Idempotent: only queries dpkg
# when everything is present. apt is serialised by its own lock; we retry
# a few times because other engineers may be installing at the same time.
ensure_pkgs() {
    missing=""
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing="$missing $p"
        fi
    done
    [ -z "$missing" ] && return 0
    log "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    i=0
    while :; do
        # apt's output goes to stderr: callers capture stdout (up.sh prints
        # the kubeconfig path), which a first run on a fresh machine, where
        # packages get installed here, filled with apt's progress.
        # shellcheck disable=SC2086
        if as_root apt-get install -y -qq --no-install-recommends $missing >&2; then return 0; fi
        i=$((i + 1))
        [ $i -ge 5 ] && die "apt-get install failed:$missing"
        as_root apt-get update -qq >&2 || true
        sleep 5
    done
}

# A free TCP port on 127.0.0.1 (bind to port 0 and read back the kernel's
# choice). Two runs can still race between here and the bind; the callers
# retry on a failed start.
free_port() {
    perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
        LocalPort => 0, ReuseAddr => 1) or die "free_port: $!\n"; print $s->sockport(), "\n"'
}

# The directory that holds one cluster's state (certs, data, logs, pids).
cluster_dir() {
    echo "${KLLM_CLUSTER_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build/cluster}"
}

# start_proc DIR NAME PROGRAM: run DIR/NAME.cmd (a script that execs
# PROGRAM) in its own session, log to DIR/logs/NAME.log, record the pid, and
# wait (up to 5 s) until the shell has exec'd PROGRAM, so that liveness
# checks by program name (pid_is) cannot mistake a starting process for a
# dead one.
start_proc() {
    setsid sh "$1/$2.cmd" </dev/null >>"$1/logs/$2.log" 2>&1 &
    sp_pid=$!
    echo "$sp_pid" >"$1/$2.pid"
    wait_exec "$sp_pid" "$3"
}

# wait_exec PID PROGRAM: waits (up to 5 s) while PID lives and has not yet
# exec'd PROGRAM (it is still "sh" or "setsid").
wait_exec() {
    we_n=0
    while kill -0 "$1" 2>/dev/null && ! pid_is "$1" "$2" && [ $we_n -lt 100 ]; do
        sleep 0.05
        we_n=$((we_n + 1))
    done
}

# Is pid alive and running the program whose path ends in $2?
pid_is() {
    [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] || return 1
    exe=$(tr '\0' ' ' <"/proc/$1/cmdline" | cut -d' ' -f1)
    case "$exe" in *"$2") return 0 ;; esac
    return 1
}
