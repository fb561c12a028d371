#!/usr/bin/env bash
# connections.sh -- connections at scale: how a server copes with N clients
# that connect in a burst and then stay connected.
#
# For each N in CONN_COUNTS and each server (the raw libev echo server,
# the reference; curio's echoserv and echoserv2 (tcp_server); the chat
# example with --quiet), the server is started pinned to CPU 0 on a fresh
# port and bench/connload, pinned to CPU 1, opens N connections, 64
# connects in flight at a time, each of which must then echo one message
# (chat: receive its greeting line).  One run per server and N takes
#   connect_s         connload's time from its first connect until all N
#                     connections were echoing
#   listen_overflows  the growth of TcpExt ListenOverflows (and
#   listen_drops      ListenDrops) in /proc/net/netstat over the connect
#                     phase: connections the listen queue had no room for
#                     (their SYN or handshake ACK dropped, so a client
#                     waits 1 s or more to retry).  The counters are the
#                     whole network namespace's: anything else connecting
#                     on this machine meanwhile counts too.
#   rss_before_kb     the server's anonymous resident memory (RssAnon in
#   rss_connected_kb  /proc/PID/status: its heap, stacks and anonymous
#                     mappings) once it listens, and with all N
#                     connections idle (connload waits for the driver's
#                     "go" before its message phase), so
#   bytes_per_conn    = (rss_connected - rss_before) * 1024 / N: the
#                     server's user-space memory per idle connection.
#                     Not VmRSS: that also counts the shared libraries'
#                     code pages, which a server first touches while it
#                     serves its first clients (printf's, for one) and
#                     which hold nothing per connection; socket buffers
#                     are the kernel's, in neither.
#   cpu_us_per_msg    the server's on-CPU time over connload's measured
#                     window (BENCH_SECONDS of messages on every
#                     connection: echo round trips, or chat deliveries),
#   rate              per message, and messages per second.
# CONN_RUNS rounds (default 3), each starting every server in turn
# (libev, echoserv, tcp_server, chat), so the drift of a shared machine
# falls on all of them; each figure is the median over the rounds, and a
# ratio to libev is the median of the rounds' ratios (a round's runs are
# seconds apart).  Chat has one line in flight
# at a time (a round ends when all N-1 others have it), so its rate is a
# round's latency; its cpu_us_per_msg is the figure to compare.
#
# Targets (targets.tsv rows, ref libev), for each curio echo server and
# N: bytes_per_conn <= 1024 B and listen_overflows <= 0 (bounds on the
# value itself, libev's figure beside it), connect_s at most 1.5 x
# libev's, and at N = 1000 cpu_us_per_msg at most 1.05 x libev's (100
# connections are echo.sh's).
#
# Environment:
#   BUILD          build directory (default build)
#   BENCH_OUT      output directory (default $BUILD/bench-out)
#   BENCH_SECONDS  measured seconds of messages per run (default 1)
#   CONN_RUNS      rounds per N (default 3)
#   CONN_COUNTS    connection counts (default "1000 9000 max"); "max" is
#                  the descriptor hard limit minus 100 (left for the
#                  server's own), or what the local port range allows
#                  minus 1000, whichever is smaller
#   EXAMPLES_DIR   where echoserv, echoserv2 and chat are (default
#                  $BUILD/examples)
#
# Outputs: $BENCH_OUT/connections.tsv (one row per server and N), rows
# appended to $BENCH_OUT/targets.tsv (group "connections": the curio echo
# servers against their targets; chat's figures are shown, not judged),
# $BENCH_OUT/connections-runs.log (every raw connload line), and a table
# on stdout.  A run that fails gets a row of "-" and verdicts "no", the
# other runs go on, and the exit status is 1.
set -euo pipefail
export LC_ALL=C                 # printf and awk use '.' for decimals

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

BUILD=${BUILD:-build}
BENCH_OUT=${BENCH_OUT:-$BUILD/bench-out}
BENCH_SECONDS=${BENCH_SECONDS:-1}
CONN_COUNTS=${CONN_COUNTS:-"1000 9000 max"}
CONN_RUNS=${CONN_RUNS:-3}
EXAMPLES_DIR=${EXAMPLES_DIR:-$BUILD/examples}

LOAD=$BUILD/bench/connload
SERVERS=(libev curio-echoserv curio-tcp_server chat)
# Descriptors left to a server besides its N connections (listener, epoll,
# stdio, libev's own); and local ports left for everything else.
SERVER_FDS=100
PORT_SLACK=1000
# Longest waits for connload's lines.  It gives up by itself 60 s after
# its first connect if not all N are echoing; then it warms up for 0.3 s.
CONNECT_TIMEOUT=90
WINDOW_TIMEOUT=$(awk -v s="$BENCH_SECONDS" 'BEGIN { print int(s + 15) }')

for bin in "$LOAD" "$BUILD/bench/ref/libev_echo" "$EXAMPLES_DIR/echoserv" \
           "$EXAMPLES_DIR/echoserv2" "$EXAMPLES_DIR/chat"; do
    [[ -x $bin ]] || { echo "connections.sh: $bin is not built (run make)" >&2; exit 1; }
done
if ! awk -v s="$BENCH_SECONDS" 'BEGIN { exit !(s + 0 > 0 && s + 0 <= 3600) }'; then
    echo "connections.sh: BENCH_SECONDS='$BENCH_SECONDS' is not a duration" >&2
    exit 1
fi

# ---------------------------------------------------------------- limits

# As many descriptors as allowed, for the servers (started from here, they
# inherit it) and for connload (which raises its own too).
HARD=$(ulimit -Hn)
[[ $HARD == unlimited ]] && HARD=$(cat /proc/sys/fs/nr_open)
ulimit -n "$HARD" || { echo "connections.sh: cannot raise ulimit -n to $HARD" >&2; exit 1; }

# Every connection takes a local port: the range, less some slack for
# whatever else runs here.
read -r PORT_LO PORT_HI < /proc/sys/net/ipv4/ip_local_port_range
PORTS=$((PORT_HI - PORT_LO + 1 - PORT_SLACK))
MAX=$((HARD - SERVER_FDS))
if ((PORTS < MAX)); then
    MAX=$PORTS
    MAX_WHY="local port range $PORT_LO-$PORT_HI less $PORT_SLACK (descriptors would allow $((HARD - SERVER_FDS)))"
else
    MAX_WHY="descriptor hard limit $HARD less $SERVER_FDS for the server's own (local ports would allow $PORTS)"
fi

COUNTS=()
for n in $CONN_COUNTS; do
    if [[ $n == max ]]; then
        echo "connections.sh: max = $MAX: $MAX_WHY"
        n=$MAX
    fi
    if ! [[ $n =~ ^[0-9]+$ ]] || ((n < 2 || n > MAX)); then
        echo "connections.sh: bad connection count '$n' in CONN_COUNTS (want 2..$MAX or max)" >&2
        exit 1
    fi
    COUNTS+=("$n")
done

# Server on CPU 0, client on CPU 1, so they do not steal each other's time.
if (( $(nproc) >= 2 )); then
    PIN_SERVER=(taskset -c 0); PIN_CLIENT=(taskset -c 1)
else
    PIN_SERVER=(); PIN_CLIENT=()
fi

TMP=$(mktemp -d)
SERVER_PID="" LOAD_PID="" SYNC_FD="" GO_FD=""
# shellcheck disable=SC2317  # (called by the trap)
cleanup() {
    local pid
    for pid in $LOAD_PID $SERVER_PID; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    close_fifos
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$BENCH_OUT"
RUNLOG=$BENCH_OUT/connections-runs.log
: > "$RUNLOG"
FAILED=0

# ---------------------------------------------------------------- servers

# server_command NAME PORT: the command line, in the array CMD.
server_command() {
    case $1 in
        libev)            CMD=("$BUILD/bench/ref/libev_echo" "$2") ;;
        curio-echoserv)   CMD=("$EXAMPLES_DIR/echoserv" "$2") ;;
        curio-tcp_server) CMD=("$EXAMPLES_DIR/echoserv2" "$2") ;;
        chat)             CMD=("$EXAMPLES_DIR/chat" "$2" --quiet) ;;
    esac
}

# Not echo.sh's ports: the two may run at once.
ME=connections.sh
PORT=26499
# shellcheck source=bench/servers.sh
. "$ROOT/bench/servers.sh"

# The server's anonymous resident memory in kB, or "-" if it is gone.
server_rss_kb() {
    awk '$1 == "RssAnon:" { print $2; found = 1 }
         END { if (!found) print "-" }' /proc/"$SERVER_PID"/status 2>/dev/null || echo -
}

# "ListenOverflows ListenDrops" from the TcpExt lines of /proc/net/netstat
# (a line of names, then a line of values).
listen_counters() {
    awk '$1 == "TcpExt:" {
            if (!names) { for (i = 2; i <= NF; i++) name[i] = $i; names = 1; next }
            for (i = 2; i <= NF; i++) {
                if (name[i] == "ListenOverflows") o = $i
                if (name[i] == "ListenDrops") d = $i
            }
         }
         END { print o + 0, d + 0 }' /proc/net/netstat
}

# ---------------------------------------------------------------- one run

close_fifos() {
    if [[ -n $SYNC_FD ]]; then exec {SYNC_FD}<&-; SYNC_FD=""; fi
    if [[ -n $GO_FD ]]; then exec {GO_FD}>&-; GO_FD=""; fi
}

field() {                       # field NAME LINE: the value of NAME=value
    local kv
    for kv in $2; do [[ ${kv%%=*} == "$1" ]] && { echo "${kv#*=}"; return; }; done
    echo -
}

# run_load NAME N: connload against the running server, reading the
# server's memory and the listen counters when all N are connected and
# its CPU time at the window's edges.  Sets ROW (the figures after
# server and conns, tab-separated); returns 1 if the run failed.
run_load() {
    local name=$1 n=$2 mode=echo line ok=1 rss0 rss1 ov0 ov1 dr0 dr1 cpu0=0 cpu1=0
    [[ $name == chat ]] && mode=chat
    rss0=$(server_rss_kb)
    read -r ov0 dr0 < <(listen_counters)
    rm -f "$TMP/sync" "$TMP/go"
    mkfifo "$TMP/sync" "$TMP/go"
    # Opened read-write, the fifo does not block here, and connload's
    # stdin opens at once since a writer exists (connload gets only the
    # reading end: the driver's is closed in it).
    exec {GO_FD}<>"$TMP/go"
    "${PIN_CLIENT[@]}" "$LOAD" --port "$PORT" --conns "$n" --mode "$mode" \
        --seconds "$BENCH_SECONDS" --sync-fd 3 {GO_FD}>&- \
        <"$TMP/go" 3>"$TMP/sync" >"$TMP/load.out" 2>"$TMP/load.err" &
    LOAD_PID=$!
    exec {SYNC_FD}<"$TMP/sync"
    if read -r -t "$CONNECT_TIMEOUT" -u "$SYNC_FD" line && [[ $line == "connected "* ]]; then
        # Every connection idle: what the server holds for N clients.
        rss1=$(server_rss_kb)
        read -r ov1 dr1 < <(listen_counters)
        echo go >&"$GO_FD"
        if read -r -t "$WINDOW_TIMEOUT" -u "$SYNC_FD" line && [[ $line == measure-start ]]; then
            server_cpu_ns; cpu0=$CPU_NS
            if read -r -t "$WINDOW_TIMEOUT" -u "$SYNC_FD" line && [[ $line == measure-end ]]; then
                server_cpu_ns; cpu1=$CPU_NS
            else
                ok=0
            fi
        else
            ok=0
        fi
    else
        ok=0
    fi
    close_fifos
    if ((ok == 0)); then kill -KILL "$LOAD_PID" 2>/dev/null || true; fi
    wait "$LOAD_PID" || ok=0
    LOAD_PID=""
    LINE=$(cat "$TMP/load.out")
    echo "$name $n: ${LINE:-(no result)}" >> "$RUNLOG"
    if ((ok == 0)) || [[ $LINE != conns=* ]]; then
        echo "connections.sh: $name, $n connections: connload failed:" >&2
        cat "$TMP/load.err" >&2
        return 1
    fi
    if [[ $rss0 == - || $rss1 == - ]] || ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "connections.sh: $name, $n connections: the server died" >&2
        return 1
    fi
    ROW=$(awk -v c="$(field connect_s "$LINE")" -v n="$n" \
              -v ov="$((ov1 - ov0))" -v dr="$((dr1 - dr0))" \
              -v r0="$rss0" -v r1="$rss1" -v ns="$((cpu1 - cpu0))" \
              -v m="$(field msgs "$LINE")" -v rate="$(field rate "$LINE")" '
        BEGIN { num = "^[0-9]+([.][0-9]+)?$"
                if (c !~ num || m !~ num || m + 0 == 0 || rate !~ num) exit 1
                printf "%s\t%d\t%d\t%d\t%d\t%.0f\t%.2f\t%s\n", c, ov, dr, r0, r1,
                       (r1 - r0) * 1024 / n, ns / 1000 / m, rate }') || {
        echo "connections.sh: $name, $n connections: cannot read connload's line: $LINE" >&2
        return 1
    }
    echo "$name $n: rss_kb=$rss0->$rss1 listen_overflows=$((ov1 - ov0)) listen_drops=$((dr1 - dr0)) cpu_ns=$((cpu1 - cpu0))" >> "$RUNLOG"
}

# one_run NAME N: start, load, stop.  Sets ROW; returns 1 on failure.
one_run() {
    start_server "$1" || return 1
    if ! run_load "$@"; then
        stop_server
        return 1
    fi
    stop_server
}

# ---------------------------------------------------------------- results

TSV=$BENCH_OUT/connections.tsv
TARGETS=$BENCH_OUT/targets.tsv
printf 'server\tconns\tconnect_s\tlisten_overflows\tlisten_drops\trss_before_kb\trss_connected_kb\tbytes_per_conn\tcpu_us_per_msg\trate\n' > "$TSV"
[[ -s $TARGETS ]] ||
    printf 'group\tmetric\tunit\tvalue_med\tvalue_min\tvalue_max\tref\tref_med\tratio\ttarget\tok\n' > "$TARGETS"

# verdict VALUE BOUND FAILED: yes if VALUE <= BOUND; no when the run (or
# the reference a ratio needs) failed; "-" when there is no bound.
verdict() {
    awk -v v="$1" -v t="$2" -v failed="$3" 'BEGIN {
        if (failed) print "no"
        else if (t == "-") print "-"
        else if (v !~ /^-?[0-9]+([.][0-9]+)?$/) print "no"
        else print (v + 0 <= t + 0 ? "yes" : "no") }'
}

# summarise FILE: from one ROW per round, the median of every column
# (the mean of the middle two for an even count), as a ROW; then, on a
# second line, each column's minimum and maximum as "min max" pairs.
summarise() {
    awk -F'\t' '
        { for (i = 1; i <= NF; i++) v[i, NR] = $i; nf = NF }
        END {
            for (i = 1; i <= nf; i++) {
                for (r = 1; r <= NR; r++) a[r] = v[i, r] + 0
                for (r = 2; r <= NR; r++)       # insertion sort: NR is small
                    for (j = r; j > 1 && a[j - 1] > a[j]; j--) {
                        t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
                med[i] = (a[int((NR + 1) / 2)] + a[int(NR / 2) + 1]) / 2
                lo[i] = a[1]; hi[i] = a[NR]
            }
            for (i = 1; i <= nf; i++)
                printf "%s%s", (i > 1 ? "\t" : ""), fmt(i, med[i])
            printf "\n"
            for (i = 1; i <= nf; i++)
                printf "%s%s %s", (i > 1 ? "\t" : ""), fmt(i, lo[i]), fmt(i, hi[i])
            printf "\n"
        }
        # connect_s with 4 decimals, cpu with 2, counts and bytes whole
        function fmt(i, x) {
            if (i == 1) return sprintf("%.4f", x)
            if (i == 7) return sprintf("%.2f", x)
            return sprintf("%.0f", x)
        }' "$1"
}

# paired_ratio FILE REF_FILE COLUMN: the median over the rounds of this
# server's figure over libev's in the same round (one ROW per line, in
# round order), or "-".
paired_ratio() {
    paste "$1" "$2" | awk -F'\t' -v c="$3" '
        NF >= 16 && $(c + 8) + 0 > 0 { r[++n] = $c / $(c + 8) }
        END {
            if (!n) { print "-"; exit }
            for (i = 2; i <= n; i++)
                for (j = i; j > 1 && r[j - 1] > r[j]; j--) {
                    t = r[j]; r[j] = r[j - 1]; r[j - 1] = t }
            printf "%.2f\n", (r[int((n + 1) / 2)] + r[int(n / 2) + 1]) / 2 }'
}

# target_row METRIC UNIT MED MIN MAX REF_VALUE RATIO BOUND FAILED: one row
# of targets.tsv, ref libev.  With RATIO "-" the bound is on the value
# itself (libev's figure beside it for context), otherwise on the ratio;
# BOUND "-": shown, not judged.
target_row() {
    local judged=$3 target="-"
    [[ $7 == - ]] || judged=$7
    [[ $8 == - ]] || target="<=$8"
    printf 'connections\t%s\t%s\t%s\t%s\t%s\tlibev\t%s\t%s\t%s\t%s\n' \
        "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$target" "$(verdict "$judged" "$8" "$9")" >> "$TARGETS"
}

declare -A REF                  # libev's medians: REF[N,column]

# record NAME N FAILED: connections.tsv's row (the medians of
# $TMP/rows.NAME, or "-" when FAILED) and the targets.tsv rows.
record() {
    local name=$1 n=$2 failed=$3 connect ov bytes cpu ref_failed
    local rows=$TMP/rows.$name ref_rows=$TMP/rows.libev MED RANGE
    local c_lo c_hi o_lo o_hi b_lo b_hi u_lo u_hi
    if ((failed == 0)); then
        { read -r MED; read -r RANGE; } < <(summarise "$rows")
    else
        MED=$(printf -- '-\t%.0s' 1 2 3 4 5 6 7; printf -)
        RANGE=$(printf -- '- -\t%.0s' 1 2 3 4 5 6 7; printf -- '- -')
    fi
    printf '%s\t%s\t%s\n' "$name" "$n" "$MED" >> "$TSV"
    IFS=$'\t' read -r connect ov _ _ _ bytes cpu _ <<< "$MED"
    IFS=$'\t' read -r c_r o_r _ _ _ b_r u_r _ <<< "$RANGE"
    read -r c_lo c_hi <<< "$c_r"; read -r o_lo o_hi <<< "$o_r"
    read -r b_lo b_hi <<< "$b_r"; read -r u_lo u_hi <<< "$u_r"
    if [[ $name == libev ]]; then
        REF[$n,connect]=$connect REF[$n,ov]=$ov REF[$n,bytes]=$bytes REF[$n,cpu]=$cpu
        REF[$n,failed]=$failed
        return
    fi
    # A ratio is as good as its reference: a failed libev run fails it.
    ref_failed=$((failed || ${REF[$n,failed]:-1}))
    local c_ratio=- u_ratio=-
    if ((ref_failed == 0)); then
        c_ratio=$(paired_ratio "$rows" "$ref_rows" 1)
        u_ratio=$(paired_ratio "$rows" "$ref_rows" 7)
    fi
    if [[ $name == chat ]]; then    # other work than echoing: no targets
        target_row "bytes/conn $name $n conns" B "$bytes" "$b_lo" "$b_hi" "${REF[$n,bytes]:--}" - - "$failed"
        target_row "connect time $name $n conns" s "$connect" "$c_lo" "$c_hi" "${REF[$n,connect]:--}" \
            "$c_ratio" - "$failed"
        return
    fi
    target_row "bytes/conn $name $n conns" B "$bytes" "$b_lo" "$b_hi" "${REF[$n,bytes]:--}" - 1024 "$failed"
    target_row "connect time $name $n conns" s "$connect" "$c_lo" "$c_hi" "${REF[$n,connect]:--}" \
        "$c_ratio" 1.5 "$ref_failed"
    target_row "listen overflows $name $n conns" drops "$ov" "$o_lo" "$o_hi" "${REF[$n,ov]:--}" - 0 "$failed"
    # Message cost at the scale the issue names (100 connections is in
    # echo.sh); at the larger N it is shown in connections.tsv.
    if ((n == 1000)); then
        target_row "cpu/msg $name $n conns" us "$cpu" "$u_lo" "$u_hi" "${REF[$n,cpu]:--}" \
            "$u_ratio" 1.05 "$ref_failed"
    fi
}

# The TSV as an aligned table: text left, numbers right.
print_table() {
    awk -F'\t' '
    { for (i = 1; i <= NF; i++) {
        cell[NR, i] = $i
        if (length($i) > w[i]) w[i] = length($i) }
      if (NF > nf) nf = NF }
    END {
      for (r = 1; r <= NR; r++) {
        line = ""
        for (i = 1; i <= nf; i++)
          line = line (i > 1 ? "  " : "") \
                 sprintf("%" (i == 1 ? "-" : "") w[i] "s", cell[r, i])
        sub(/ +$/, "", line)
        print line
      } }' "$1"
}

# ---------------------------------------------------------------- main

echo "connections benchmark: N = ${COUNTS[*]}, $CONN_RUNS rounds," \
     "${BENCH_SECONDS}s of messages, servers: ${SERVERS[*]}"
for n in "${COUNTS[@]}"; do
    declare -A failed=()
    for name in "${SERVERS[@]}"; do : > "$TMP/rows.$name"; done
    for ((round = 1; round <= CONN_RUNS; round++)); do
        for name in "${SERVERS[@]}"; do     # libev first: the reference
            [[ -z ${failed[$name]:-} ]] || continue
            printf '%-17s %6s conns, round %d: ' "$name" "$n" "$round"
            if one_run "$name" "$n"; then
                IFS=$'\t' read -r connect ov _ r0 r1 bytes cpu rate <<< "$ROW"
                echo "connected in ${connect}s, $ov overflows, RSS ${r0}->${r1} kB" \
                     "($bytes B/conn), $cpu us/msg, $rate msgs/s"
                printf '%s\n' "$ROW" >> "$TMP/rows.$name"
            else
                echo "FAILED"
                if [[ -s $TMP/server.err ]]; then
                    echo "connections.sh: $name wrote on stderr:" >&2
                    cat "$TMP/server.err" >&2
                fi
                FAILED=1
                failed[$name]=1
            fi
        done
    done
    for name in "${SERVERS[@]}"; do
        record "$name" "$n" "$([[ -n ${failed[$name]:-} ]] && echo 1 || echo 0)"
    done
    unset failed
done
echo
print_table "$TSV"
echo "wrote $TSV, $TARGETS"
exit "$FAILED"
