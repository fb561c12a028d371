#!/usr/bin/env bash
# report.sh -- the results of `make bench`, for people.
#
# Reads $BENCH_OUT/targets.tsv (every benchmark's rows, see bench/bench.h)
# and, when the echo and connections benchmarks ran, $BENCH_OUT/echo.tsv
# and connections.tsv.  Prints the tables, writes them with the machine's
# description to
# $RESULTS_DIR/results.md, plots the echo figures to $RESULTS_DIR/results.png
# (gnuplot, bench/plot.gp), and ends with one line:
#     targets: N met, M missed[: what missed]
#
#   BENCH_OUT    where the benchmarks wrote (default build/bench-out)
#   RESULTS_DIR  where results.md and results.png go (default: bench/)
#   CC           the compiler the benchmarks were built with (default cc)
#
# bash and awk only (any POSIX awk: mawk is Debian's default).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
tab=$'\t'
out=${BENCH_OUT:-build/bench-out}
results=${RESULTS_DIR:-$here}
targets=$out/targets.tsv
echo_tsv=$out/echo.tsv
conn_tsv=$out/connections.tsv
md=$results/results.md
png=$results/results.png

if [ ! -s "$targets" ]; then
    echo "report: no $targets -- run make bench first" >&2
    exit 1
fi
[ -s "$echo_tsv" ] || echo_tsv=
[ -s "$conn_tsv" ] || conn_tsv=

# ------------------------------------------------------------ tables

# A TSV file with a header line as an aligned text table: columns as wide
# as their widest cell; columns of numbers (and "-") right-aligned.
text_table() {
    awk -F'\t' '
    { for (i = 1; i <= NF; i++) {
        cell[NR, i] = $i
        if (length($i) > w[i]) w[i] = length($i)
        if (NR > 1 && $i != "-" && $i !~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/)
          text[i] = 1 }
      if (NF > nf) nf = NF }
    END {
      for (r = 1; r <= NR; r++) {
        line = ""
        for (i = 1; i <= nf; i++)
          line = line (i > 1 ? "  " : "") \
                 sprintf("%" (text[i] ? "-" : "") w[i] "s", cell[r, i])
        sub(/ +$/, "", line)
        print line
      }
    }' "$1"
}

# The same as a markdown table.
md_table() {
    awk -F'\t' '
    { line = "|"
      for (i = 1; i <= NF; i++) {
        c = $i; gsub(/\|/, "\\|", c); line = line " " c " |" }
      print line
      if (NR == 1) { sep = "|"
                     for (i = 1; i <= NF; i++) sep = sep "---|"
                     print sep } }' "$1"
}

# "targets: N met, M missed[: misses]" from the ok column.  A row with a
# ratio is judged on it; one without (no reference, or a reference shown
# only for context) on its value.
summary() {
    awk -F'\t' '
    NR == 1 { next }
    $11 == "yes" { met++ }
    $11 == "no"  { missed++
                   what = ($9 != "-") ? "ratio " $9 : $4 " " $3
                   list = list (list ? "; " : "") $1 ": " $2 " (" what \
                          ", target " $10 ")" }
    END { printf "targets: %d met, %d missed%s\n", met, missed,
                 list ? ": " list : "" }' "$targets"
}

# ------------------------------------------------------------ machine

machine() {
    local cpu cc_version libev
    cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    cc_version=$(${CC:-cc} --version 2>/dev/null | head -1)
    libev=$(dpkg-query -W -f='${Version}' libev-dev 2>/dev/null ||
            dpkg-query -W -f='${Version}' libev4 2>/dev/null || true)
    echo "- CPU: ${cpu:-unknown}, $(nproc) cores"
    echo "- kernel: Linux $(uname -r)"
    echo "- compiler: ${cc_version:-unknown}"
    echo "- libev: ${libev:-unknown}"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
}

# ------------------------------------------------------------ plot

# echo.tsv pivoted for a clustered bar chart: one line per configuration
# ("conns x size", by size, then connections), three columns (median,
# min, max) per server; "-" where a server has no figure.  $2: the first
# of the three source columns (rate_med or cpu_us_med).
pivot() {
    awk -F'\t' -v col="$2" '
    NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
    { cfg = $2 "x" $3
      if (!(cfg in seen_cfg)) { seen_cfg[cfg] = $3 "\t" $2
                                cfgs[++ncfg] = cfg }
      if (!($1 in seen_srv)) { seen_srv[$1] = 1; srvs[++nsrv] = $1 }
      v[cfg, $1] = $c "\t" $(c + 1) "\t" $(c + 2) }
    END {
      for (i = 1; i <= ncfg; i++) {
        line = seen_cfg[cfgs[i]] "\t\"" cfgs[i] "\""
        for (j = 1; j <= nsrv; j++) {
          k = cfgs[i] SUBSEP srvs[j]
          line = line "\t" ((k in v) ? v[k] : "-\t-\t-")
        }
        print line
      }
    }' "$1" | sort -t "$tab" -k1,1n -k2,2n | cut -f3-
}

servers() {
    awk -F'\t' 'NR > 1 && !($1 in s) {
        s[$1] = 1; printf "%s%s", n++ ? " " : "", $1 }' "$1"
}

plot() {
    local term=png rate=$out/plot-rate.dat cpu=$out/plot-cpu.dat
    if ! command -v gnuplot >/dev/null; then
        echo "report: gnuplot is not installed" \
             "(apt-get install gnuplot-nox): no plot" >&2
        return 0
    fi
    gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo && term=pngcairo
    pivot "$echo_tsv" rate_med > "$rate"
    pivot "$echo_tsv" cpu_us_med > "$cpu"
    gnuplot -c "$here/plot.gp" "$rate" "$cpu" "$png" "$(servers "$echo_tsv")" \
        "$term" && echo "plot: $png"
}

# ------------------------------------------------------------ output

echo
echo "== targets ($targets)"
text_table "$targets"
if [ -n "$echo_tsv" ]; then
    echo
    echo "== echo ($echo_tsv)"
    text_table "$echo_tsv"
fi
if [ -n "$conn_tsv" ]; then
    echo
    echo "== connections ($conn_tsv)"
    text_table "$conn_tsv"
fi

mkdir -p "$results"
{
    echo "# curio benchmark results"
    echo
    echo "Written by \`make bench\` (bench/report.sh).  Each figure is the"
    echo "median of several runs, with the smallest and largest; ratios"
    echo "compare it with a reference program run alternately in the same"
    echo "process (see the comments at the top of each bench/*.c)."
    echo
    echo "## Machine"
    echo
    machine
    echo
    echo "## Targets"
    echo
    md_table "$targets"
    if [ -n "$echo_tsv" ]; then
        echo
        echo "## Echo servers"
        echo
        echo "Messages per second and server CPU time per message;"
        echo "p50/p99 round-trip latency.  Plot: results.png."
        echo
        md_table "$echo_tsv"
    fi
    if [ -n "$conn_tsv" ]; then
        echo
        echo "## Connections at scale"
        echo
        echo "Medians of rounds (each round starts every server in turn): N"
        echo "clients connect in a burst (64 connects in flight) and each"
        echo "echoes one message (chat: gets its greeting); connect_s is the"
        echo "time until all N did, the listen counters are TcpExt"
        echo "ListenOverflows/ListenDrops over that time (the whole machine's),"
        echo "bytes_per_conn the growth of the server's anonymous resident"
        echo "memory (RssAnon) per idle connection, and cpu_us_per_msg and rate"
        echo "come from the"
        echo "message phase that follows (chat: per line delivered)."
        echo
        md_table "$conn_tsv"
    fi
    echo
    echo "$(summary)"
} > "$md"
echo
echo "report: $md"

if [ -n "$echo_tsv" ]; then
    plot
else
    rm -f "$png"        # a plot from an earlier run would not match
    echo "report: no echo.tsv (echo benchmark not run): no echo table, no plot"
fi

echo
summary
