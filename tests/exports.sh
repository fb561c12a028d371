#!/usr/bin/env bash
# exports.sh -- libcurio.so exports exactly what the installed headers mark
# CO_API (core/api.h), and the installed headers stay apart from the
# library's private *_impl.h ones.  Usage: exports.sh path/to/libcurio.so
# (run by make check, from the project's root).
#
# Fails when:
#   - the library exports a symbol that no installed header declares with
#     CO_API (a helper that lost its hidden visibility, or a marker
#     forgotten on a public function: fix the header, not this list);
#   - it exports a co__ symbol that is not on INLINE_SUPPORT below;
#   - a declaration marked CO_API is not exported (a typo, or a function
#     declared but never defined);
#   - the library's objects (libcurio.a, beside the .so) define a global
#     with a public name -- anything but co__ -- that is not exported: a
#     CO_API forgotten, or a .c that does not include its own header;
#   - an installed header includes an *_impl.h header.
set -uo pipefail
lib=${1:?usage: exports.sh libcurio.so}

# The co__ names exported only because inline code in the installed
# headers, compiled into programs, refers to them (core/fastpath.h, the
# CO_ON_FINISH checks in core/task.h: timeout regions and task groups).  Not API.  co_wait_enter_at is that
# code's slow path too, but it is public (core/waits.h).
INLINE_SUPPORT="co__running co__no_task co__task_yield_slow
co__timeout_panic_open_region co__wait_refuse co__await_tracking
co__task_chain_note co__group_check_frame"

# What `make install` installs (its rule leaves out *_impl.h).
headers=$(ls include/*.h macros/*.h core/*.h net/*.h sync/*.h | grep -v '_impl\.h$')
status=0
fail() { echo "exports: $*"; status=1; }

for h in $headers; do
    if grep -Hn '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*_impl\.h"' "$h"; then
        fail "$h includes a private *_impl.h header (not installed)"
    fi
done

# Names declared with CO_API: comments and preprocessor lines dropped, each
# declaration from CO_API to its `;`; a function's name is the identifier
# before its parameter list, a variable's the last identifier.
marked=$(perl -0777 -ne '
    s{/\*.*?\*/}{ }gs;                      # comments
    s{^[ \t]*#.*$}{}gm;                     # #define CO_API ..., #ifdef ...
    while (/\bCO_API\b([^;]*);/g) {
        my $d = $1;
        $d =~ s/__attribute__\s*(\((?:[^()]++|(?1))*\))//gs;
        $d =~ s/\bCO_API\b//g;
        if ($d =~ /(\w+)\s*\(/) { print "$1\n" }
        elsif ($d =~ /(\w+)\s*$/) { print "$1\n" }
    }' $headers | sort -u)

# Dynamic symbols the library defines, less the linker's own and those a
# sanitizer build adds (gcc's ASan: an __odr_asan.NAME beside each
# exported variable).
not_ours() {
    grep -vxE '_init|_fini|_edata|_end|__bss_start' |
    grep -vE '^_*(odr_asan|asan|ubsan|tsan|msan|lsan|sanitizer)[._]'
}
exported=$(nm -D --defined-only "$lib" | awk '{ print $NF }' | not_ours |
           sort -u)
[ -n "$exported" ] || { echo "exports: no symbols read from $lib"; exit 1; }

for s in $exported; do
    grep -qxF "$s" <<<"$marked" ||
        fail "$lib exports $s, which no installed header declares CO_API"
    case $s in co__*)
        grep -qw -- "$s" <<<"$INLINE_SUPPORT" ||
            fail "$lib exports $s: a co__ name not on INLINE_SUPPORT" \
                 "(tests/exports.sh); private names stay hidden";;
    esac
done
for s in $marked; do
    grep -qxF "$s" <<<"$exported" ||
        fail "$s is declared CO_API but $lib does not export it"
done
archive=$(dirname "$lib")/libcurio.a
if [ -f "$archive" ]; then
    for s in $(nm --defined-only "$archive" 2>/dev/null |
               awk '$2 ~ /^[TDBRV]$/ { print $3 }' | grep -v '^co__' |
               not_ours | sort -u); do
        grep -qxF "$s" <<<"$exported" ||
            fail "$s is defined by the library with a public name but" \
                 "not exported (a CO_API missing?)"
    done
fi
for s in $INLINE_SUPPORT; do
    grep -qxF "$s" <<<"$exported" ||
        fail "$s is on INLINE_SUPPORT but $lib does not export it"
done

[ $status = 0 ] && echo "exports: $lib exports the $(wc -l <<<"$exported")" \
    "symbols the installed headers mark CO_API, and no other"
exit $status
