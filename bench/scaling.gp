# How each stage of the CPU backend scales (docs/design.md 13.6, bench/RESULTS.md "Scaling"): the
# cost per unit of every stage against accounts and against scenarios, and the peak memory per
# position of a whole run, from the JSON of `marginsync bench --scaling`. A flat line is linear
# cost; a line that climbs is a superlinear step. Needs jq. Regenerate with:
#   marginsync bench --scaling --backend cpu --json bench/results/scaling-cpu-2core.json
#   gnuplot bench/scaling.gp
# or another file: gnuplot -e "in='scaling.json'; out='scaling.png'" bench/scaling.gp
if (!exists("in")) in = "bench/results/scaling-cpu-2core.json"
if (!exists("out")) out = "bench/scaling.png"

set terminal pngcairo size 1500,520 font ",10" noenhanced
set output out

# One stage's points: "accounts scenarios ns_per_unit" per line (cpu backend).
stage_rows(series, method, stage) = sprintf('< jq -r ''.series[] | select(.name == "%s") | .points[] as $p | $p.stages[] | select(.backend == "cpu" and .method == "%s" and .stage == "%s") | "\($p.accounts) \($p.scenarios) \(.ns_per_unit)"'' "%s"', series, method, stage, in)
# A method's whole-run peak memory: "accounts scenarios bytes_per_position" per line.
peak_rows(series, method) = sprintf('< jq -r ''.series[] | select(.name == "%s") | .points[] as $p | $p.peak_memory[] | select(.backend == "cpu" and .method == "%s") | "\($p.accounts) \($p.scenarios) \(.bytes_per_position)"'' "%s"', series, method, in)

set multiplot layout 1,3 title "marginsync bench --scaling, CPU backend: cost per unit (flat = linear)"
set logscale xy
set grid
set key top left font ",9"
set ylabel "ns per unit (log)"

set title "against accounts (10 positions each, fixed scenarios)"
set xlabel "accounts"
plot stage_rows("accounts", "", "load") using 1:3 with linespoints lw 2 pt 7 title "load / position", \
     stage_rows("accounts", "", "upload") using 1:3 with linespoints lw 2 pt 5 title "upload / position", \
     stage_rows("accounts", "", "revalue") using 1:3 with linespoints lw 2 pt 9 title "revalue / position", \
     stage_rows("accounts", "delta_gamma", "scenario risk") using 1:3 with linespoints lw 2 pt 11 title "delta_gamma risk / position-scenario", \
     stage_rows("accounts", "full", "scenario risk") using 1:3 with linespoints lw 2 pt 13 title "full risk / position-scenario"

set title "against scenarios (fixed book)"
set xlabel "scenarios"
plot stage_rows("scenarios", "delta_gamma", "scenario generation") using 2:3 with linespoints lw 2 pt 7 title "delta_gamma generation / underlying-scenario", \
     stage_rows("scenarios", "delta_gamma", "scenario risk") using 2:3 with linespoints lw 2 pt 11 title "delta_gamma risk / position-scenario", \
     stage_rows("scenarios", "full", "scenario generation") using 2:3 with linespoints lw 2 pt 5 title "full generation / underlying-scenario", \
     stage_rows("scenarios", "full", "scenario pricing") using 2:3 with linespoints lw 2 pt 9 title "full pricing / instrument-scenario", \
     stage_rows("scenarios", "full", "scenario risk") using 2:3 with linespoints lw 2 pt 13 title "full risk / position-scenario"

set title "peak memory of a whole run"
set xlabel "accounts"
set ylabel "bytes per position (log)"
set key top right
plot peak_rows("accounts", "delta_gamma") using 1:3 with linespoints lw 2 pt 11 title "delta_gamma", \
     peak_rows("accounts", "full") using 1:3 with linespoints lw 2 pt 13 title "full (its scenario stages on a share of accounts)"
unset multiplot
