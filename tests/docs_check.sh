#!/usr/bin/env bash
# docs_check.sh -- every ```c block of README.md and docs/*.md must compile: a block is a file after tests/docs_check/prelude.h (curio.h and the usual libc headers) unless `<!-- docs_check: MODE DECLARATIONS -->`, right before its fence, says it is a fragment (modes below).
#
# Usage: [CC=cc] bash tests/docs_check.sh [REPO_ROOT]   (run by make check)
#
# The convention.  Every fenced block tagged `c` is compiled with
#   $CC -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror
#       [-Wjump-misses-init, where the compiler has it, as the Makefile]
#       -Wno-unused-function -fsyntax-only -I. -Iinclude -Imacros
#       (-Imacros: blocks quoting co.h include its backends by their own name)
# (the one warning relaxed is inherent to documentation: a block shows a
# static function without its caller; clang reports it, gcc does not under
# -fsyntax-only).  Blocks that are not C are tagged otherwise (```sh,
# ```text); an untagged fence is an error.  An HTML comment on the line(s)
# just before the fence, invisible on the rendered page, says how:
#
#   <!-- docs_check: MODE
#   C declarations the block relies on (optional, any number of lines) -->
#
# The declarations are placed at file scope before the block.  MODE is
#   file      (the default, with no comment) the block is a file: after the
#             prelude, or exactly as written if it begins with `#include`;
#   body      the block is statements of a coroutine body, between
#             CO_BEGIN(t, f) and CO_END, with `f` a FRAME * (FRAME is
#             `struct frame` unless the declarations #define it).  A line
#             holding only `...` ends a head that goes at file scope (the
#             frame's struct, typically) and stands for the elided start
#             of the coroutine;
#   function  the block is statements of a plain function (a main, a
#             thread);
#   alone     the block restates a header's declarations (a struct the
#             header defines): compiled after <stdint.h> & co. only, since
#             with curio.h it would be a redefinition.  Only its syntax is
#             checked, not that it matches the header.
# Diagnostics name the Markdown file and line (#line); a failing block is
# reported as FILE:LINE of its first line.
set -uo pipefail

cc=${CC:-cc}
root=${1:-$(dirname "$0")/..}
cd "$root" || exit 2

flags=(-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror
       -Wno-unused-function
       -fsyntax-only -I. -Iinclude -Imacros)
if "$cc" -Werror -Wjump-misses-init -E -x c /dev/null >/dev/null 2>&1; then
    flags+=(-Wjump-misses-init)
fi

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT

# Split every Markdown file into blocks: N.src (the code, the fence's
# indentation removed), N.meta ("FILE FIRSTLINE MODE"), N.decls.
awk -v out="$tmp" '
function stray() {
    if (ann_end < 0) return
    printf "%s:%d: a docs_check comment not right before a ```c fence\n", FILENAME, ann_end > "/dev/stderr"
    bad = 1
}
function flush_ann() { ann_mode = ""; ann_decls = ""; ann_end = -1 }
FNR == 1 { flush_ann(); inb = 0; inann = 0; inother = 0 }
inother { if ($0 ~ /^ *```[ \t]*$/) inother = 0; next }
inb {
    if ($0 ~ /^ *```[ \t]*$/) { inb = 0; close(src); next }
    line = $0
    if (indent > 0 && substr(line, 1, indent) ~ /^ *$/)
        line = substr(line, indent + 1)
    print line > src
    next
}
/^ *<!-- *docs_check:/ || inann {
    text = $0
    if (!inann) {
        sub(/^ *<!-- *docs_check: */, "", text)
        ann_mode = text; sub(/[ \t].*$/, "", ann_mode); sub(/-->.*$/, "", ann_mode)
        if (text ~ /^[^ \t]*[ \t]/) sub(/^[^ \t]*[ \t]+/, "", text); else text = ""
        ann_decls = ""; inann = 1
    }
    if (text ~ /-->/) { sub(/-->.*$/, "", text); inann = 0; ann_end = FNR }
    ann_decls = ann_decls text "\n"
    next
}
/^ *```[^`]*$/ {
    tag = $0; sub(/^ *```[ \t]*/, "", tag); sub(/[ \t].*$/, "", tag)
    if (tag == "") {
        printf "%s:%d: a fence without a language tag (```c, ```sh, ```text)\n", FILENAME, FNR > "/dev/stderr"
        bad = 1
    }
    if (tag != "c") { stray(); inother = 1 }
    else {
        n++; src = out "/" n ".src"
        match($0, /^ */); indent = RLENGTH
        mode = (ann_end == FNR - 1) ? ann_mode : "file"
        decls = (ann_end == FNR - 1) ? ann_decls : ""
        print FILENAME, FNR + 1, mode > (out "/" n ".meta"); close(out "/" n ".meta")
        printf "%s", decls > (out "/" n ".decls"); close(out "/" n ".decls")
        printf "" > src
        inb = 1
    }
    flush_ann()
    next
}
{ if ($0 !~ /^[ \t]*$/) { stray(); flush_ann() } }
END { exit bad }
' README.md docs/*.md || status=1
status=${status:-0}

declare -A count=([file]=0 [written]=0 [body]=0 [function]=0 [alone]=0)
nfail=0
nblocks=$(find "$tmp" -name '*.meta' | wc -l)
for ((n = 1; n <= nblocks; n++)); do
    read -r file line mode < "$tmp/$n.meta"
    src="$tmp/$n.src" tu="$tmp/$n.c"
    {
        case $mode in
        file)
            if [[ ! -s "$tmp/$n.decls" ]] &&
               grep -qm1 -v '^[[:space:]]*$' "$src" &&
               [[ $(grep -m1 -v '^[[:space:]]*$' "$src") == '#include'* ]]; then
                count[written]=$((count[written] + 1))    # as written
            else
                echo '#include "tests/docs_check/prelude.h"'
            fi
            cat "$tmp/$n.decls"
            echo "#line $line \"$file\""; cat "$src" ;;
        alone)
            echo '#include "tests/docs_check/std.h"'
            cat "$tmp/$n.decls"
            echo "#line $line \"$file\""; cat "$src" ;;
        function)
            echo '#include "tests/docs_check/prelude.h"'
            cat "$tmp/$n.decls"
            echo 'void docs_check_function(void);'
            echo 'void docs_check_function(void) {'
            echo "#line $line \"$file\""; cat "$src"
            echo '}' ;;
        body)
            echo '#include "tests/docs_check/prelude.h"'
            cat "$tmp/$n.decls"
            split=$(grep -n -m1 '^[[:space:]]*\.\.\.[[:space:]]*$' "$src" | cut -d: -f1)
            first=1
            if [[ -n $split ]]; then
                echo "#line $line \"$file\""; head -n $((split - 1)) "$src"
                first=$((split + 1))
            fi
            echo '#ifndef FRAME'
            echo '#define FRAME struct frame'
            echo '#endif'
            echo 'co_status docs_check_body(co_task *t, void *arg);'
            echo 'co_status docs_check_body(co_task *t, void *arg) {'
            echo 'FRAME *f = arg;'
            echo 'CO_BEGIN(t, f);'
            echo "#line $((line + first - 1)) \"$file\""; tail -n +"$first" "$src"
            echo 'CO_END;'
            echo '}' ;;
        *)
            echo "$file:$((line - 1)): docs_check: unknown mode \"$mode\"" >&2
            nfail=$((nfail + 1)); continue ;;
        esac
    } > "$tu"
    count[$mode]=$((count[$mode] + 1))
    if ! out=$("$cc" "${flags[@]}" "$tu" 2>&1); then
        echo "$file:$line: this ($mode) block does not compile with $cc:"
        sed 's/^/    /' <<<"$out"
        nfail=$((nfail + 1))
    fi
done

echo "docs_check: $nblocks C blocks: ${count[file]} files" \
     "(${count[written]} of them as written), $((count[body] + count[function]
     + count[alone])) fragments (body ${count[body]}, function" \
     "${count[function]}, alone ${count[alone]}); $nfail failed, with $cc"
[[ $status == 0 ]] || echo "docs_check: fences or docs_check comments misplaced (above)"
[[ $nfail == 0 && $status == 0 ]]
