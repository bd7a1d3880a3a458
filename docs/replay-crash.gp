# The cost of engine lag on the sample crash stream (README "The cost of lag"). Regenerate with:
#   marginsync replay --book data/sample --ticks data/streams/crash.jsonl \
#     --engine-interval-ms 0,1000,10000,60000,120000,300000 --out out/replay
#   cp out/replay/replay.csv docs/replay-crash.csv && gnuplot docs/replay-crash.gp
set datafile separator ","
set terminal pngcairo size 900,500 font ",11"
set output "docs/replay-crash.png"
set title "Sample book, crash stream: what engine lag costs"
set xlabel "margin engine interval (s of stream time)"
set ylabel "quote currency"
set logscale x
set xrange [0.5:600]
set key right center
set grid
# Interval 0 (every update) is drawn at 1 s: the stream ticks once a second, so they coincide.
x(ms) = ms > 0 ? ms / 1000.0 : 1.0
plot "docs/replay-crash.csv" every ::1 using (x($1)):6 with linespoints lw 2 pt 7 title "mean shortfall below maintenance at liquidation", \
     "docs/replay-crash.csv" every ::1 using (x($1)):5 with linespoints lw 2 pt 5 title "penalties paid to the insurance fund", \
     "docs/replay-crash.csv" every ::1 using (x($1)):4 with linespoints lw 2 pt 9 title "bad debt"
