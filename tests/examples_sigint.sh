#!/usr/bin/env bash
# examples_sigint.sh DIR -- the example servers stop cleanly on Ctrl-C.
#
# Each of DIR/echoserv and DIR/chat is started on a free port, sent SIGINT
# once its run has installed the Ctrl-C default (its SigCgt in
# /proc/PID/status has SIGINT), and must then exit by itself, promptly,
# with status 0, having said "NAME: stopped" (core/signals.h: Ctrl-C
# cancels the main task, whose cleanup runs).  Run by `make check`.
set -u
dir=${1:-build/examples}
# Job control: a script's background jobs would otherwise start with
# SIGINT ignored, and a run leaves an ignored SIGINT alone.
set -m
fail=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# Poll (10 ms steps, n of them) until the command succeeds.
within() {
    local n=$1; shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.01
    done
    return 1
}
# The job is a forked shell until it has exec'd the example, and that
# shell catches SIGINT too: so the process must be the example already
# (its /proc exe), and catch SIGINT.
catches_sigint() {
    local mask
    [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$exe" ] || return 1
    mask=$(awk '/^SigCgt:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
    [ -n "$mask" ] && (( 0x$mask & 2 ))
}
gone() { ! kill -0 "$1" 2>/dev/null; }

for name in echoserv chat; do
    bin="$dir/$name"
    [ -x "$bin" ] || { echo "examples_sigint.sh: no $bin"; fail=1; continue; }
    exe=$(readlink -f "$bin")
    "$bin" 0 >"$out" 2>&1 &
    pid=$!
    if ! within 1000 catches_sigint "$pid"; then
        echo "examples_sigint.sh: $name never caught SIGINT"
        kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
        fail=1; continue
    fi
    kill -INT "$pid"
    if ! within 500 gone "$pid"; then
        echo "examples_sigint.sh: $name still running 5 s after SIGINT"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid"
    rc=$?
    if [ "$rc" != 0 ] || ! grep -qx "$name: stopped" "$out"; then
        echo "examples_sigint.sh: $name exited with $rc after SIGINT:"
        cat "$out"
        fail=1
    else
        echo "examples_sigint.sh: $name stopped cleanly on SIGINT"
    fi
done
exit $fail
