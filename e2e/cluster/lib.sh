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

# os_codename: this Debian release's name (bookworm); OS_RELEASE (default
# /etc/os-release) is for tests.
os_codename() {
    # shellcheck disable=SC1090
    (. "${OS_RELEASE:-/etc/os-release}" && echo "${VERSION_CODENAME:-}")
}

# apt_archive_source: "URI SIGNED-BY" of the machine's own apt source for
# Debian's main component of this release (a user's mirror or proxy, not a
# name we pick), read from sources.list and sources.list.d (one-line and
# deb822 formats); SIGNED-BY is "-" when the entry names no keyring.
# APT_ETC (default /etc/apt) is for tests. Prints nothing and fails when no entry serves main.
apt_archive_source() {
    etc=${APT_ETC:-/etc/apt}
    codename=$(os_codename)
    [ -n "$codename" ] || return 1
    set --
    for f in "$etc/sources.list" "$etc"/sources.list.d/*.list "$etc"/sources.list.d/*.sources; do
        [ -f "$f" ] && set -- "$@" "$f"
    done
    [ $# -gt 0 ] || return 1
    awk -v want="$codename" '
        function has(list, w,   n, a, i) {
            n = split(list, a, /[ \t]+/)
            for (i = 1; i <= n; i++) if (a[i] == w) return 1
            return 0
        }
        # The first entry with a keyring wins (apt refuses a deb-src entry
        # whose Signed-By differs from a deb entry of the same archive),
        # else the first entry.
        function pick(u, k) {
            if (first == "") first = u " " (k == "" ? "-" : k)
            if (keyed == "" && k != "") keyed = u " " k
        }
        function stanza() {
            if (has(ty, "deb") && has(su, want) && has(co, "main") && en != "no" && uri != "") {
                split(uri, u, /[ \t]+/); pick(u[1], sb)
            }
            ty = su = co = uri = sb = en = ""
        }
        FNR == 1 { if (deb822) stanza(); deb822 = (FILENAME ~ /\.sources$/) }
        /^[ \t]*#/ { next }
        deb822 && /^[ \t]*$/ { stanza(); next }
        deb822 {
            k = tolower($1); sub(/:$/, "", k); v = $0; sub(/^[^:]*:[ \t]*/, "", v)
            if (k == "types") ty = v; else if (k == "uris") uri = v
            else if (k == "suites") su = v; else if (k == "components") co = v
            else if (k == "signed-by") sb = v; else if (k == "enabled") en = tolower(v)
            next
        }
        $1 == "deb" {
            i = 2; opts = ""
            if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) { opts = opts " " $i; i++ } opts = opts " " $i; i++ }
            if ($(i + 1) != want) next
            for (j = i + 2; j <= NF; j++) if ($j == "main") {
                key = ""
                if (match(opts, /signed-by=[^] \t]+/)) key = substr(opts, RSTART + 10, RLENGTH - 10)
                pick($i, key); break
            }
        }
        END {
            if (deb822) stanza()
            if (keyed != "") print keyed; else if (first != "") print first
        }
    ' "$@" | grep .
}
