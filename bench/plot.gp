# plot.gp -- the echo benchmark as two panels, called by bench/report.sh:
#
#   gnuplot -c bench/plot.gp RATE.dat CPU.dat OUT.png "SERVERS" TERMINAL
#
# RATE.dat and CPU.dat: one line per configuration ("conns x size"), then
# median, min and max for each server in the order SERVERS names them
# (space-separated); "-" where a server has no figure.  Bars are the
# medians, error bars span min..max.  Both axes are logarithmic: the
# servers and configurations differ by orders of magnitude.

rate_file = ARG1
cpu_file = ARG2
servers = ARG4
n = words(servers)

set terminal ARG5 size 1100,900 font ",10" noenhanced  # names have _
set output ARG3
set datafile separator "\t"
set datafile missing "-"

set style data histograms
set style histogram errorbars gap 2 lw 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set logscale y
set grid ytics
set key outside right top vertical
set xlabel "connections x message bytes"

set multiplot layout 2,1 title "echo: curio against the reference servers"

set title "messages per second (higher is better)"
set ylabel "messages/s"
plot for [i=1:n] rate_file using \
     (column(3*i-1)):(column(3*i)):(column(3*i+1)):xtic(1) title word(servers, i)

set title "server CPU per message (lower is better)"
set ylabel "CPU µs / message"
plot for [i=1:n] cpu_file using \
     (column(3*i-1)):(column(3*i)):(column(3*i+1)):xtic(1) title word(servers, i)

unset multiplot
