#!/usr/bin/env bash
# run.sh -- the rails that are compile-time errors: each tests/compile_fail/
# *.c must fail to compile, with the message its "expect:" line names.
# Usage: run.sh CC CFLAGS...   (run by make check)
set -uo pipefail
cc=$1; shift
dir=$(dirname "$0")
status=0
for src in "$dir"/*.c; do
    expect=$(sed -n 's/^ \* expect: //p' "$src")
    if [[ $(basename "$src") == local_after_begin.c ]] &&
       ! printf '%s\n' "$@" | grep -qx -- -Wjump-misses-init; then
        continue                    # clang: no such warning (docs/tutorial.md)
    fi
    if out=$("$cc" "$@" -c "$src" -o /dev/null 2>&1); then
        echo "compile_fail: $src compiled, but must not"; status=1
    elif ! grep -qF -- "$expect" <<<"$out"; then
        echo "compile_fail: $src failed without \"$expect\":"; echo "$out"
        status=1
    fi
done
[[ $status == 0 ]] && echo "compile_fail: every rail that is a compile error holds"
exit $status
