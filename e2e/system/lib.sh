# e2e/system/lib.sh: the whole kllm system as local processes on a local
# control plane — shell functions shared by the system e2e suite
# (e2e/system/run.sh) and `make demo` (scripts/demo.sh). Sourced from the
# repository root with SYS_WORK set to a private directory; POSIX sh.
#
#   sys_install               CRDs, namespace, and the chart's ServiceAccounts,
#                             RBAC and Secrets; one token-only kubeconfig per
#                             ServiceAccount (SYS_WORK/sa-operator, sa-agent)
#   sys_fileserver NAME FILE  serve FILE over HTTP; its URL base in SYS_URL,
#                             its sha256 in SYS_SHA
#   sys_start_agent NODE      a cluster-mode agent standing for node NODE
#   sys_start_operator ID     an operator replica (leader election on)
#   sys_stop NAME / sys_kill NAME / sys_stop_all
#
# Every process started here is recorded in SYS_WORK/procs ("NAME PID
# PROGRAM" lines) and stopped only by that pid, checked against PROGRAM
# (pid_is) so that a reused pid is never hit. sys_stop_all stops them all:
# call it from a trap. Logs: SYS_WORK/NAME.log; ports: SYS_WORK/NAME.port.

SYS_NS=${SYS_NS:-kllm-system}
# SYS_SETSID=setsid: start each process in a session of its own, so that it
# outlives the script and the terminal's signals (make demo).
SYS_SETSID=${SYS_SETSID:-}
SYS_BIN=${SYS_BIN:-build/bin}
. e2e/cluster/lib.sh  # free_port, pid_is
. scripts/chart-lib.sh

sys_log() { echo "system: $*" >&2; }

# sys_track NAME PID PROGRAM: records a started process and waits (up to
# 5 s) until it has exec'd PROGRAM, so that sys_alive cannot mistake a
# starting process (still "sh" or "setsid") for a dead one.
sys_track() {
    echo "$1 $2 $3" >>"$SYS_WORK/procs"
    wait_exec "$2" "$3"
}

# sys_wait_healthy NAME PORT WHAT: waits (up to 30 s) for NAME's /healthz
# on PORT; 1 with the log's tail when it dies or never answers.
sys_wait_healthy() {
    wh_i=0
    until curl -sf "http://127.0.0.1:$2/healthz" >/dev/null 2>&1; do
        wh_i=$((wh_i + 1))
        if [ $wh_i -gt 300 ] || ! sys_alive "$1"; then
            sys_log "$3 $1 did not start:"
            tail -5 "$SYS_WORK/$1.log" >&2
            return 1
        fi
        sleep 0.1
    done
}

# sys_pid NAME: the pid of a running process started under NAME, or nothing.
sys_pid() {
    [ -f "$SYS_WORK/procs" ] || return 0
    awk -v n="$1" '$1 == n { p = $2 } END { if (p) print p }' "$SYS_WORK/procs"
}

sys_prog() {
    awk -v n="$1" '$1 == n { p = $3 } END { print p }' "$SYS_WORK/procs"
}

# sys_alive NAME: the process is running (and is still its program).
sys_alive() {
    sa_p=$(sys_pid "$1")
    pid_is "$sa_p" "$(sys_prog "$1")"
}

# sys_stop NAME [SECONDS]: SIGTERM, then SIGKILL after SECONDS (default 10).
# Returns the exit status when the process was our child, else 0.
sys_stop() {
    ss_pid=$(sys_pid "$1")
    [ -n "$ss_pid" ] || return 0
    ss_prog=$(sys_prog "$1")
    ss_rc=0
    if pid_is "$ss_pid" "$ss_prog"; then
        kill -TERM "$ss_pid" 2>/dev/null
        ss_i=0
        while pid_is "$ss_pid" "$ss_prog"; do
            ss_i=$((ss_i + 1))
            if [ $ss_i -gt $((${2:-10} * 10)) ]; then
                kill -KILL "$ss_pid" 2>/dev/null
                ss_rc=137
            fi
            sleep 0.1
        done
    fi
    wait "$ss_pid" 2>/dev/null
    ss_w=$?
    [ $ss_rc = 0 ] && [ $ss_w != 127 ] && ss_rc=$ss_w
    sys_untrack "$1"
    return $ss_rc
}

# sys_kill NAME: SIGKILL at once (a crashed process, a lost node).
sys_kill() {
    sk_p=$(sys_pid "$1")
    [ -n "$sk_p" ] && pid_is "$sk_p" "$(sys_prog "$1")" && kill -KILL "$sk_p" 2>/dev/null
    [ -n "$sk_p" ] && wait "$sk_p" 2>/dev/null
    sys_untrack "$1"
}

sys_untrack() {
    [ -f "$SYS_WORK/procs" ] || return 0
    awk -v n="$1" '$1 != n' "$SYS_WORK/procs" >"$SYS_WORK/procs.tmp"
    mv "$SYS_WORK/procs.tmp" "$SYS_WORK/procs"
}

# sys_stop_all: stops every recorded process, the newest first.
sys_stop_all() {
    [ -f "$SYS_WORK/procs" ] || return 0
    for n in $(awk '{ print $1 }' "$SYS_WORK/procs" | sed '1!G;h;$!d'); do
        sys_stop "$n" 5 || true
    done
}

# sys_wait_line FILE REGEX SECONDS: until a line of FILE matches.
sys_wait_line() {
    swl_i=0
    while [ $swl_i -lt $(($3 * 10)) ]; do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
        swl_i=$((swl_i + 1))
    done
    return 1
}

# sys_install: CRDs (crds/), namespace SYS_NS, and what the chart renders
# for it that a cluster without kubelets can use: ServiceAccounts,
# (Cluster)Roles and bindings, Secrets. Chart values from the arguments
# (e.g. --set apiKey.enabled=true). Then the token-only kubeconfigs.
sys_install() {
    kubectl apply -f crds/ >/dev/null || { sys_log "CRDs not applied"; return 1; }
    for c in models modelrevisions modelreplicas inferencenodes; do
        kubectl wait --for condition=established --timeout=60s crd/$c.kllm.io >/dev/null || return 1
    done
    kubectl create namespace "$SYS_NS" >/dev/null 2>&1
    chart_renderer || return 1
    chart_render kllm "$SYS_NS" helm/kllm "$@" >"$SYS_WORK/chart.yaml" ||
        { sys_log "the chart did not render"; return 1; }
    {
        chart_rbac "$SYS_WORK/chart.yaml"
        awk 'BEGIN { RS = "\n---\n" } /\nkind: Secret\n/ { printf "---\n%s\n", $0 }' "$SYS_WORK/chart.yaml"
    } >"$SYS_WORK/install.yaml"
    kubectl apply -n "$SYS_NS" -f "$SYS_WORK/install.yaml" >"$SYS_WORK/install.out" ||
        { sys_log "chart objects not applied"; return 1; }
    for sa in operator agent; do
        mkdir -p "$SYS_WORK/sa-$sa"
        sa_kubeconfig "$SYS_NS" "kllm-$sa" "$SYS_WORK/sa-$sa" || return 1
    done
    # With apiKey.enabled the chart's Secret holds the API key: the file the
    # pods would mount, for the agents and the operator.
    rm -f "$SYS_WORK/api-key"
    if grep -q '^kind: Secret' "$SYS_WORK/install.yaml"; then
        si_key=$(kubectl get secret kllm-api-key -n "$SYS_NS" -o 'jsonpath={.data.api-key}' | base64 -d)
        [ -n "$si_key" ] || { sys_log "no api-key in Secret kllm-api-key"; return 1; }
        (umask 077 && printf '%s' "$si_key" >"$SYS_WORK/api-key")
    fi
    sys_auth_header >/dev/null
}

# sys_auth_header: the header that authenticates an API request, or a
# harmless one when there is no API key (so `curl -H "$(sys_auth_header)"`
# always works).
sys_auth_header() {
    if [ -s "$SYS_WORK/api-key" ]; then
        echo "Authorization: Bearer $(cat "$SYS_WORK/api-key")"
    else
        echo "X-Kllm-No-Auth: 1"
    fi
}

# sys_key_flag: --api-key-file=FILE when the install has an API key.
sys_key_flag() {
    [ -s "$SYS_WORK/api-key" ] && echo "--api-key-file=$SYS_WORK/api-key"
    return 0
}

# sys_fileserver NAME FILE: an HTTP server for FILE at any path
# (e2e/system/fileserver.pl); sets SYS_URL (http://127.0.0.1:PORT) and
# SYS_SHA (the file's sha256, what a Model's source names).
sys_fileserver() {
    $SYS_SETSID perl e2e/system/fileserver.pl "$2" >"$SYS_WORK/$1.log" 2>&1 &
    sys_track "$1" $! perl
    sys_wait_line "$SYS_WORK/$1.log" '^port ' 10 || { sys_log "file server $1 did not start"; return 1; }
    SYS_URL="http://127.0.0.1:$(sed -n 's/^port //p' "$SYS_WORK/$1.log")"
    SYS_SHA=$(sha256sum "$2" | cut -d' ' -f1)
}

# sys_start_agent NODE [FLAGS...]: kllm-agent --node-name NODE as the
# kllm-agent ServiceAccount, on a free port (SYS_WORK/NODE.port), its own
# cache dir; waits for /healthz. SYS_AGENT_CPU / SYS_AGENT_MEMORY: the
# capacity it reports (2, 4Gi).
sys_start_agent() {
    sa_node=$1
    shift
    sa_port=$(cat "$SYS_WORK/$sa_node.port" 2>/dev/null || free_port)
    echo "$sa_port" >"$SYS_WORK/$sa_node.port"
    $SYS_SETSID "$SYS_BIN/kllm-agent" --node-name "$sa_node" --kubeconfig "$SYS_WORK/sa-agent/sa.kubeconfig" \
        --namespace "$SYS_NS" --listen "127.0.0.1:$sa_port" --advertise "127.0.0.1:$sa_port" \
        --cpu "${SYS_AGENT_CPU:-2}" --memory "${SYS_AGENT_MEMORY:-4Gi}" \
        --cache-dir "$SYS_WORK/cache-$sa_node" --threads 1 --shutdown-timeout 5 $(sys_key_flag) "$@" \
        >>"$SYS_WORK/$sa_node.log" 2>&1 &
    sys_track "$sa_node" $! kllm-agent
    sys_wait_healthy "$sa_node" "$sa_port" agent
}

# sys_start_operator ID [FLAGS...]: kllm-operator --id ID as the
# kllm-operator ServiceAccount; /healthz etc. on SYS_WORK/ID.port.
sys_start_operator() {
    so_id=$1
    shift
    so_port=$(cat "$SYS_WORK/$so_id.port" 2>/dev/null || free_port)
    echo "$so_port" >"$SYS_WORK/$so_id.port"
    $SYS_SETSID "$SYS_BIN/kllm-operator" --kubeconfig "$SYS_WORK/sa-operator/sa.kubeconfig" --namespace "$SYS_NS" \
        --listen "127.0.0.1:$so_port" --id "$so_id" "$@" >>"$SYS_WORK/$so_id.log" 2>&1 &
    sys_track "$so_id" $! kllm-operator
    sys_wait_healthy "$so_id" "$so_port" operator
}

# sys_url NAME: http://127.0.0.1:PORT of an agent or operator.
sys_url() {
    echo "http://127.0.0.1:$(cat "$SYS_WORK/$1.port")"
}

# sys_chat URL MODEL [STREAM]: a chat completion; prints the body.
sys_chat() {
    curl -sS -m 60 "$1/v1/chat/completions" -H 'Content-Type: application/json' -H "$(sys_auth_header)" \
        -d "{\"model\":\"$2\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello, who are you?\"}],\"max_tokens\":16,\"temperature\":0${3:+,\"stream\":true}}"
}
