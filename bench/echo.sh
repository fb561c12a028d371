#!/usr/bin/env bash
# echo.sh -- the echo benchmark: curio's echo servers against a raw libev
# callback server (the floor), and asyncio/uvloop for context.
#
# For each configuration (connections x message size), BENCH_RUNS rounds in
# which each C server in turn (libev, curio-echoserv, curio-tcp_server) is
# started pinned to CPU 0 on a fresh port and loaded by bench/echoload
# pinned to CPU 1; each run takes
#   msgs/s        echoload's completed round trips per second
#   cpu us/msg    the server's on-CPU time during echoload's measured window
#                 (echoload reports the window's edges on a pipe), per message
#   p50/p99       round-trip latency, from the run with the median rate
# then one more run, not in the medians, under `perf stat` counting the
# server's system calls in the same window (syscalls per message).  The
# Python servers, there for context, get one run that does both.  A curio
# server's ratio to libev is the median of its per-round ratios (each
# round's runs are seconds apart, so the machine's drift mostly cancels).
#
# Environment:
#   BUILD          build directory (default build): the servers are
#                  $BUILD/examples/echoserv and echoserv2
#   BENCH_OUT      output directory (default $BUILD/bench-out)
#   BENCH_SECONDS  measured seconds per run (default 1)
#   BENCH_RUNS     runs per C server and configuration (default 5)
#   BENCH_CONFIGS  "CONNSxSIZE ..." (default below)
#
# Outputs: $BENCH_OUT/echo.tsv (one row per server and configuration),
# rows appended to $BENCH_OUT/targets.tsv (curio vs libev ratios against
# their targets), $BENCH_OUT/echo-runs.log (every raw echoload line), and a
# table on stdout.  Exit status 1 if any run failed.
set -euo pipefail
export LC_ALL=C                 # printf and awk use '.' for decimals

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

BUILD=${BUILD:-build}
BENCH_OUT=${BENCH_OUT:-$BUILD/bench-out}
BENCH_SECONDS=${BENCH_SECONDS:-1}
BENCH_RUNS=${BENCH_RUNS:-5}
BENCH_CONFIGS=${BENCH_CONFIGS:-"1x100 100x100 1000x100 1x16384 100x16384 1000x16384"}

LOAD=$BUILD/bench/echoload
PYTHON=/usr/bin/python3         # Debian's, where python3-uvloop installs
WARMUP=0.5
# Longest a run may take before the driver gives up on it.  echoload gives
# up by itself when the server does not listen, accept or answer within 5 s;
# its setup (connections opened one at a time) takes well under a second.
RUN_TIMEOUT=$(awk -v s="$BENCH_SECONDS" -v w="$WARMUP" 'BEGIN { print int(s + w + 30) }')

for bin in "$LOAD" "$BUILD/bench/ref/libev_echo" "$BUILD/examples/echoserv" \
           "$BUILD/examples/echoserv2"; do
    [[ -x $bin ]] || { echo "echo.sh: $bin is not built (run make)" >&2; exit 1; }
done

# 1000 connections need more than the usual 1024 descriptors on some hosts.
hard=$(ulimit -Hn)
[[ $hard == unlimited ]] && hard=65536
if (( $(ulimit -n) < 4096 )); then ulimit -n $(( hard < 4096 ? hard : 4096 )) || true; fi

# Server on CPU 0, client on CPU 1, so they do not steal each other's time.
if (( $(nproc) >= 2 )); then
    PIN_SERVER=(taskset -c 0); PIN_CLIENT=(taskset -c 1)
else
    PIN_SERVER=(); PIN_CLIENT=()
fi

TMP=$(mktemp -d)
SERVER_PID="" LOAD_PID="" PERF_PID=""
# shellcheck disable=SC2317  # (called by the trap)
cleanup() {
    local pid
    for pid in $PERF_PID $LOAD_PID $SERVER_PID; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$BENCH_OUT"
RUNLOG=$BENCH_OUT/echo-runs.log
: > "$RUNLOG"
FAILED=0

# ---------------------------------------------------------------- servers

C_SERVERS=(libev curio-echoserv curio-tcp_server)
SERVERS=("${C_SERVERS[@]}")
[[ -x $PYTHON ]] && SERVERS+=(asyncio)
"$PYTHON" -c 'import uvloop' 2>/dev/null && SERVERS+=(uvloop)

# server_command NAME PORT: the command line, in the array CMD.
server_command() {
    case $1 in
        libev)            CMD=("$BUILD/bench/ref/libev_echo" "$2") ;;
        curio-echoserv)   CMD=("$BUILD/examples/echoserv" "$2") ;;
        curio-tcp_server) CMD=("$BUILD/examples/echoserv2" "$2") ;;
        asyncio)          CMD=("$PYTHON" bench/ref/asyncio_echo.py "$2") ;;
        uvloop)           CMD=("$PYTHON" bench/ref/asyncio_echo.py "$2" --uvloop) ;;
    esac
}

# Python is there for context, not as a target: one run, which also counts
# the system calls (perf's cost is lost in Python's own), bounds the time.
is_context() {
    case $1 in asyncio|uvloop) return 0 ;; *) return 1 ;; esac
}

ME=echo.sh
PORT=25499
# shellcheck source=bench/servers.sh
. "$ROOT/bench/servers.sh"

# ---------------------------------------------------------------- one run

# perf stat attached to the server, counting nothing until told: the
# driver enables it at measure-start and disables it at measure-end.
# Every system call, and the polls among them: recv and send are one each
# per message in every server, while how many messages one epoll_wait
# serves depends on how many sockets are ready at once -- on timing, not on
# waste -- so the polls are shown apart.
PERF_EVENTS=raw_syscalls:sys_enter
POLL_EVENTS=syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait
PERF_OK=0
if command -v perf >/dev/null &&
   perf stat -e raw_syscalls:sys_enter -x, -o /dev/null -- true 2>/dev/null; then
    PERF_OK=1
    perf stat -e "$POLL_EVENTS" -x, -o /dev/null -- true 2>/dev/null &&
        PERF_EVENTS+=",$POLL_EVENTS"
fi

perf_start() {
    rm -f "$TMP/perf.ctl" "$TMP/perf.ack" "$TMP/perf.out"
    mkfifo "$TMP/perf.ctl" "$TMP/perf.ack"
    exec {PERF_CTL}<>"$TMP/perf.ctl" {PERF_ACK}<>"$TMP/perf.ack"
    perf stat -e "$PERF_EVENTS" -x, -o "$TMP/perf.out" \
        -p "$SERVER_PID" --delay=-1 --control "fd:$PERF_CTL,$PERF_ACK" \
        >/dev/null 2>"$TMP/perf.err" &
    PERF_PID=$!
    # perf takes a moment to attach; its first ack says it listens, so the
    # "enable" at measure-start is not held up by perf's start-up.
    perf_command disable
}

perf_command() {               # enable / disable, and wait for perf's ack
    kill -0 "$PERF_PID" 2>/dev/null || return 0
    echo "$1" >&"$PERF_CTL"
    read -r -t 5 -u "$PERF_ACK" _ || true
}

# The count, or "-" if perf failed.
perf_stop() {
    kill -INT "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" 2>/dev/null || true
    PERF_PID=""
    exec {PERF_CTL}>&- {PERF_ACK}>&-
    PERF_COUNT=$(awk -F, '/raw_syscalls:sys_enter/ && $1 ~ /^[0-9]+$/ { print $1 }' \
                 "$TMP/perf.out" 2>/dev/null)
    PERF_COUNT=${PERF_COUNT:--}
    PERF_POLLS=$(awk -F, '/sys_enter_epoll_p?wait/ && $1 ~ /^[0-9]+$/ { n += $1; ok = 1 }
                          END { if (ok) print n }' "$TMP/perf.out" 2>/dev/null)
    PERF_POLLS=${PERF_POLLS:--}
}

# run_load CONNS SIZE MODE: one echoload run against the running server.
# At the window's edges, MODE cpu samples the server's CPU time, MODE perf
# switches perf on and off, MODE cpu+perf does both.  Sets LINE (echoload's
# output) and CPU_DELTA_NS; returns 1 if the run failed.
run_load() {
    local conns=$1 size=$2 mode=$3 sync line cpu0=0 ok=1
    rm -f "$TMP/sync"
    mkfifo "$TMP/sync"
    "${PIN_CLIENT[@]}" "$LOAD" --port "$PORT" --conns "$conns" --size "$size" \
        --seconds "$BENCH_SECONDS" --warmup "$WARMUP" --sync-fd 3 \
        3>"$TMP/sync" >"$TMP/load.out" 2>"$TMP/load.err" &
    LOAD_PID=$!
    exec {sync}<"$TMP/sync"
    if read -r -t "$RUN_TIMEOUT" -u "$sync" line && [[ $line == measure-start ]]; then
        [[ $mode != *cpu* ]] || { server_cpu_ns; cpu0=$CPU_NS; }
        [[ $mode != *perf* ]] || perf_command enable
        if read -r -t "$RUN_TIMEOUT" -u "$sync" line && [[ $line == measure-end ]]; then
            [[ $mode != *cpu* ]] || server_cpu_ns
            [[ $mode != *perf* ]] || perf_command disable
        else
            ok=0
        fi
    else
        ok=0
    fi
    exec {sync}<&-
    if ((ok == 0)); then kill -KILL "$LOAD_PID" 2>/dev/null || true; fi
    wait "$LOAD_PID" || ok=0
    LOAD_PID=""
    CPU_DELTA_NS=$((CPU_NS - cpu0))
    LINE=$(cat "$TMP/load.out")
    if ((ok == 0)) || [[ $LINE != msgs=* ]]; then
        echo "echo.sh: echoload failed:" >&2
        cat "$TMP/load.err" >&2
        return 1
    fi
}

field() {                       # field NAME LINE: the value of NAME=value
    local kv
    for kv in $2; do [[ ${kv%%=*} == "$1" ]] && { echo "${kv#*=}"; return; }; done
    echo -
}

# ---------------------------------------------------------------- results

# From lines "rate cpu_us p50 p99", one per run: the medians (the mean of
# the middle two for an even count), minima and maxima, and the latency of
# the run with the median rate (the lower middle one for an even count).
summarise() {
    sort -g -k1,1 "$1" | awk '
        { rate[NR] = $1; cpu[NR] = $2; p50[NR] = $3; p99[NR] = $4 }
        END {
            m = int((NR + 1) / 2); h = int(NR / 2) + 1
            n = NR; for (i = 1; i <= n; i++) c[i] = cpu[i]
            asort_num(c, n)
            printf "%.0f %.0f %.0f %.2f %.2f %.2f %.1f %.1f\n",
                   (rate[m] + rate[h]) / 2, rate[1], rate[NR],
                   (c[m] + c[h]) / 2, c[1], c[NR], p50[m], p99[m]
        }
        function asort_num(a, n,    i, j, t) {   # insertion sort: n is small
            for (i = 2; i <= n; i++)
                for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
                    t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
                }
        }'
}

ratio() {                       # ratio A B: A/B with 2 decimals, or "-"
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'
}

# verdict RATIO TARGET le|ge FAILED: yes/no; "-" when there is nothing to
# judge (no perf), "no" when the run or its reference failed.
verdict() {
    awk -v r="$1" -v t="$2" -v op="$3" -v failed="$4" 'BEGIN {
        if (failed) print "no"
        else if (r == "-") print "-"
        else if (op == "le") print (r + 0 <= t + 0 ? "yes" : "no")
        else print (r + 0 >= t + 0 ? "yes" : "no") }'
}

TSV=$BENCH_OUT/echo.tsv
TARGETS=$BENCH_OUT/targets.tsv
printf 'server\tconns\tsize\trate_med\trate_min\trate_max\tcpu_us_med\tcpu_us_min\tcpu_us_max\tp50_us\tp99_us\tsyscalls_per_msg\tsyscalls_but_polls_per_msg\n' > "$TSV"
[[ -s $TARGETS ]] ||
    printf 'group\tmetric\tunit\tvalue_med\tvalue_min\tvalue_max\tref\tref_med\tratio\ttarget\tok\n' > "$TARGETS"

# paired_ratio FILE REF_FILE COLUMN: the median, over the rounds, of this
# server's figure over libev's in the same round (the files hold one line
# per round, in round order).  Pairing the rounds cancels the machine's
# drift between them, which the ratio of two medians would keep.
paired_ratio() {
    paste -d' ' "$1" "$2" | awk -v c="$3" '
        NF >= 8 && $(c + 4) + 0 > 0 { r[++n] = $c / $(c + 4) }
        END {
            if (!n) { print "-"; exit }
            for (i = 2; i <= n; i++)          # insertion sort: n is small
                for (j = i; j > 1 && r[j - 1] > r[j]; j--) {
                    t = r[j]; r[j] = r[j - 1]; r[j - 1] = t }
            printf "%.2f\n", (r[int((n + 1) / 2)] + r[int(n / 2) + 1]) / 2 }'
}

# target_row METRIC UNIT MED MIN MAX REF_MED TARGET le|ge FAILED [RATIO]
# RATIO, when given, replaces MED / REF_MED.
target_row() {
    local r=${10:-}
    [[ -n $r ]] || r=$(ratio "$3" "$6")
    local bound="<=$7"
    [[ $8 == ge ]] && bound=">=$7"
    printf 'echo\t%s\t%s\t%s\t%s\t%s\tlibev\t%s\t%s\t%s\t%s\n' \
        "$1" "$2" "$3" "$4" "$5" "$6" "$r" "$bound" "$(verdict "$r" "$7" "$8" "$9")" >> "$TARGETS"
}

declare -A REF_RATE REF_CPU REF_SYS REF_IO REF_FAILED
ROW_FAILED=0                    # set by record_failure around its record

print_header() {
    printf '%-17s %-11s %9s %19s %10s %17s %9s %9s %8s   %s\n' \
        server config msgs/s "(min-max)" "cpu_us/msg" "(min-max)" p50_us p99_us sys/msg \
        "vs libev: rate cpu sys"
}

# record NAME CONNS SIZE SUMMARY SYSCALLS IOCALLS: write the outputs for
# one server (IOCALLS: system calls other than polls).
record() {
    local name=$1 conns=$2 size=$3 sys=$5 io=${6:--} cfg="$2x$3" vs=""
    local rmed rmin rmax cmed cmin cmax p50 p99
    read -r rmed rmin rmax cmed cmin cmax p50 p99 <<< "$4"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$conns" "$size" \
        "$rmed" "$rmin" "$rmax" "$cmed" "$cmin" "$cmax" "$p50" "$p99" "$sys" "$io" >> "$TSV"
    if [[ $name == libev ]]; then
        REF_RATE[$cfg]=$rmed REF_CPU[$cfg]=$cmed REF_SYS[$cfg]=$sys REF_IO[$cfg]=$io
        REF_FAILED[$cfg]=$ROW_FAILED
    elif [[ -n ${REF_RATE[$cfg]:-} ]]; then
        vs="${PAIRED_RATE:-$(ratio "$rmed" "${REF_RATE[$cfg]}")} ${PAIRED_CPU:-$(ratio "$cmed" "${REF_CPU[$cfg]}")} $(ratio "$sys" "${REF_SYS[$cfg]}")"
    fi
    printf '%-17s %-11s %9s %19s %10s %17s %9s %9s %8s   %s\n' "$name" "$cfg" "$rmed" \
        "($rmin-$rmax)" "$cmed" "($cmin-$cmax)" "$p50" "$p99" "$sys" "$vs"
    if [[ $name == curio-* ]]; then
        local ref_rate=${REF_RATE[$cfg]:--} ref_cpu=${REF_CPU[$cfg]:--} ref_sys=${REF_SYS[$cfg]:--}
        local ref_io=${REF_IO[$cfg]:--}
        local failed=$(( ROW_FAILED || ${REF_FAILED[$cfg]:-0} ))
        target_row "msgs/s $name $cfg" msgs/s "$rmed" "$rmin" "$rmax" "$ref_rate" 0.95 ge "$failed" "${PAIRED_RATE:-}"
        target_row "cpu/msg $name $cfg" us "$cmed" "$cmin" "$cmax" "$ref_cpu" 1.05 le "$failed" "${PAIRED_CPU:-}"
        target_row "syscalls/msg $name $cfg" calls "$sys" "$sys" "$sys" "$ref_sys" 1.00 le "$failed"
        target_row "syscalls/msg but polls $name $cfg" calls "$io" "$io" "$io" "$ref_io" 1.00 le "$failed"
    fi
}

# A configuration whose runs failed still gets its rows, with "-" values
# and "no" verdicts, so a failure cannot pass for a missing measurement.
record_failure() {
    FAILED=1 ROW_FAILED=1
    record "$1" "$2" "$3" "- - - - - - - -" - -
    ROW_FAILED=0
}

# fail_config NAME CONNS SIZE: stop the server, show what it said on
# stderr, record the failure.
fail_config() {
    stop_server
    if [[ -s $TMP/server.err ]]; then
        echo "echo.sh: $1 wrote on stderr:" >&2
        cat "$TMP/server.err" >&2
    fi
    record_failure "$@"
}

# measure NAME CONNS SIZE MODE: one run; appends "rate cpu_us p50 p99" to
# $RUNS_FILE (modes with cpu) and sets SYSCALLS (modes with perf).
measure() {
    local name=$1 conns=$2 size=$3 mode=$4 msgs note=""
    [[ $mode != *perf* ]] || perf_start
    if ! run_load "$conns" "$size" "$mode"; then
        [[ $mode != *perf* ]] || perf_stop
        return 1
    fi
    msgs=$(field msgs "$LINE")
    if [[ $mode == *cpu* ]]; then
        note+=" cpu_ns=$CPU_DELTA_NS"
        echo "$(field rate "$LINE")" \
             "$(awk -v ns="$CPU_DELTA_NS" -v m="$msgs" 'BEGIN { printf "%.4f", ns / 1000 / m }')" \
             "$(field p50_us "$LINE") $(field p99_us "$LINE")" >> "$RUNS_FILE"
    fi
    if [[ $mode == *perf* ]]; then
        perf_stop
        note+=" syscalls=$PERF_COUNT"
        [[ $PERF_COUNT == - ]] ||
            SYSCALLS=$(awk -v c="$PERF_COUNT" -v m="$msgs" 'BEGIN { printf "%.2f", c / m }')
        [[ $PERF_COUNT == - || $PERF_POLLS == - ]] ||
            IOCALLS=$(awk -v c="$PERF_COUNT" -v p="$PERF_POLLS" -v m="$msgs" \
                      'BEGIN { printf "%.2f", (c - p) / m }')
    fi
    echo "$name ${conns}x$size $mode: $LINE$note" >> "$RUNLOG"
}

# bench_context NAME CONNS SIZE: a Python server, one run that measures
# CPU and system calls together.
bench_context() {
    local name=$1 conns=$2 size=$3 perf_mode=""
    ((PERF_OK)) && perf_mode=perf
    SYSCALLS=- IOCALLS=-
    RUNS_FILE=$TMP/runs.$name
    : > "$RUNS_FILE"
    start_server "$name" || { record_failure "$@"; return; }
    measure "$@" "cpu${perf_mode:++perf}" || { fail_config "$@"; return; }
    stop_server
    record "$name" "$conns" "$size" "$(summarise "$RUNS_FILE")" "$SYSCALLS" "$IOCALLS"
}

# one_run NAME CONNS SIZE MODE: start the server on a fresh port (nothing
# of an earlier run can meet it), one measured run, stop it.  Returns 1
# (and records nothing) if it failed; the caller records the failure.
one_run() {
    start_server "$1" || return 1
    measure "$@" || { stop_server; return 1; }
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "echo.sh: $1 died" >&2
        stop_server
        return 1
    fi
    stop_server
}

# bench_c_servers CONNS SIZE: the libev reference and the curio servers,
# interleaved run by run (libev, echoserv, tcp_server, libev, ...): this
# machine's speed drifts over seconds, and interleaving spreads the drift
# over every server instead of handing it to whichever ran then.  Then one
# run each under perf, kept out of the medians (counting every system call
# slows a server down a little).
bench_c_servers() {
    local conns=$1 size=$2 i name
    local -A failed=() sys=() io=()
    for name in "${C_SERVERS[@]}"; do : > "$TMP/runs.$name"; done
    for ((i = 0; i < BENCH_RUNS; i++)); do
        for name in "${C_SERVERS[@]}"; do
            [[ -z ${failed[$name]:-} ]] || continue
            RUNS_FILE=$TMP/runs.$name
            one_run "$name" "$conns" "$size" cpu || failed[$name]=1
        done
    done
    for name in "${C_SERVERS[@]}"; do
        SYSCALLS=- IOCALLS=-
        if [[ -z ${failed[$name]:-} ]] && ((PERF_OK)); then
            one_run "$name" "$conns" "$size" perf || failed[$name]=1
        fi
        sys[$name]=$SYSCALLS io[$name]=$IOCALLS
    done
    for name in "${C_SERVERS[@]}"; do        # libev first: the reference
        if [[ -n ${failed[$name]:-} ]]; then
            if [[ -s $TMP/server.err ]]; then
                echo "echo.sh: $name wrote on stderr:" >&2
                cat "$TMP/server.err" >&2
            fi
            record_failure "$name" "$conns" "$size"
        else
            PAIRED_RATE="" PAIRED_CPU=""
            if [[ $name != libev && -z ${failed[libev]:-} ]]; then
                PAIRED_RATE=$(paired_ratio "$TMP/runs.$name" "$TMP/runs.libev" 1)
                PAIRED_CPU=$(paired_ratio "$TMP/runs.$name" "$TMP/runs.libev" 2)
            fi
            record "$name" "$conns" "$size" "$(summarise "$TMP/runs.$name")" \
                   "${sys[$name]}" "${io[$name]}"
            PAIRED_RATE="" PAIRED_CPU=""
        fi
    done
}

# ---------------------------------------------------------------- main

echo "echo benchmark: ${BENCH_SECONDS}s windows, $BENCH_RUNS runs" \
     "(python: 1), servers: ${SERVERS[*]}$( ((PERF_OK)) || echo '; no perf: syscalls -')"
print_header
for cfg in $BENCH_CONFIGS; do
    conns=${cfg%x*} size=${cfg#*x}
    if ! [[ $conns =~ ^[0-9]+$ && $size =~ ^[0-9]+$ ]]; then
        echo "echo.sh: bad configuration '$cfg' (want CONNSxSIZE)" >&2
        exit 1
    fi
    bench_c_servers "$conns" "$size"
    for name in "${SERVERS[@]}"; do
        is_context "$name" && bench_context "$name" "$conns" "$size"
    done
done
echo "wrote $TSV, $TARGETS"
exit "$FAILED"
