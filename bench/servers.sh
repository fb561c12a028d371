# servers.sh -- starting, stopping and measuring a server under load, for
# the drivers of make bench (bench/echo.sh, bench/connections.sh), which
# source it.  The driver defines server_command NAME PORT (filling the
# array CMD) and sets ME (its name, for messages), TMP (a scratch
# directory), PIN_SERVER (a command prefix, possibly empty), PORT (the
# port before the first to try) and SERVER_PID="".
# shellcheck shell=bash

is_listening() {                # state 0A is LISTEN; ports are in hex
    awk -v port="$(printf ':%04X' "$1")" '
        $4 == "0A" && substr($2, length($2) - 4) == port { found = 1; exit }
        END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# A fresh port for every server start, so no connection of an earlier run
# (TIME_WAIT or worse) can meet the new server.  The caller sets PORT, the
# port before the first.
next_port() {
    PORT=$((PORT + 1))
    while is_listening "$PORT"; do PORT=$((PORT + 1)); done
}

# start_server NAME: start it on a fresh port, wait until it listens.
start_server() {
    next_port
    server_command "$1" "$PORT"
    "${PIN_SERVER[@]}" "${CMD[@]}" >/dev/null 2>"$TMP/server.err" &
    SERVER_PID=$!               # taskset execs: this is the server itself
    local i
    for ((i = 0; i < 250; i++)); do
        is_listening "$PORT" && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.02
    done
    echo "$ME: $1 did not start listening on port $PORT" >&2
    cat "$TMP/server.err" >&2
    stop_server
    return 1
}

stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 250; i++)); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.02
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# The server's on-CPU time in ns, into CPU_NS.  /proc/PID/task/*/schedstat
# counts in ns; the fallback, utime+stime in /proc/PID/stat, only in clock
# ticks (10 ms at CLK_TCK=100), which is coarse but still a few per cent
# of a busy 1.5 s window.
CLK_TCK=$(getconf CLK_TCK)
CPU_NS=0
server_cpu_ns() {
    local f ns rest total=0
    local -a fields
    for f in /proc/"$SERVER_PID"/task/*/schedstat; do
        read -r ns rest 2>/dev/null < "$f" || continue
        total=$((total + ns))
    done
    if ((total == 0)); then
        read -r rest 2>/dev/null < /proc/"$SERVER_PID"/stat || { CPU_NS=0; return; }
        read -r -a fields <<< "${rest##*) }"   # the name may hold spaces
        total=$(( (fields[11] + fields[12]) * (1000000000 / CLK_TCK) ))
    fi
    CPU_NS=$total
}
