#!/usr/bin/env bash
# Runs every command of a marginsync binary on the repository's data and collects the output
# files under DIR, so that two builds can be compared file by file (scripts/compare_outputs.py).
# Usage: scripts/reference_outputs.sh BINARY DIR
# Timings differ run to run; compare_outputs.py leaves them out of the comparison.
set -euo pipefail
bin=$(realpath "$1")
out=$(realpath -m "$2")
here=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$out" && mkdir -p "$out"
cd "$here"
run() {  # NAME ARGS...: runs one command with --out $out/NAME; stdout kept as NAME.stdout
  local name=$1; shift
  "$bin" "$@" --out "$out/$name" > "$out/$name.stdout" 2> "$out/$name.stderr" || echo "exit $?" > "$out/$name.exit"
}
tmp=$out/inputs; mkdir -p "$tmp"
# A small scenario file: two stress scenarios and a historical day.
printf 'scenario_id,underlying,spot_return,vol_change\ns1,BTC,-0.2,0.5\ns1,ETH,-0.25,0.6\ns2,BTC,0.1,-0.1\nh1,ETH,-0.05,0\n' > "$tmp/scenarios.csv"

run margin_sample margin --book data/sample -q
run margin_sample_dg margin --book data/sample --method delta_gamma -q
run margin_sample_file margin --book data/sample --scenario-file "$tmp/scenarios.csv" -q
run margin_generated margin --book data/generated -q
run margin_generated_dg margin --book data/generated --method delta_gamma --scenarios 2000 --seed 7 -q
"$bin" generate --accounts 300 --underlyings 4 --positions-per-account 5 --seed 11 --out "$out/generate" \
  --ticks "$out/generate/ticks.csv" --tick-seconds 20 --tick-rate 2 --jumps-per-hour 30 > /dev/null 2>&1
"$bin" convert --book data/generated --out "$tmp/generated.msb" > /dev/null 2>&1
run margin_snapshot margin --book "$tmp/generated.msb" -q
run stream_crash stream --book data/sample --ticks data/streams/crash.jsonl -q
run stream_calm stream --book data/sample --ticks data/streams/calm_hour.csv -q
run stream_stale stream --book data/sample --ticks data/streams/stale_out_of_order.csv -q
run stream_generated stream --book "$out/generate" --ticks "$out/generate/ticks.csv" --method delta_gamma -q
run cascade_sample cascade --book data/sample --shock BTC=-0.15,ETH=-0.2
run cascade_generated cascade --book data/generated --shock BTC=-0.3 --method delta_gamma
run cascade_grid cascade --book data/sample --shock-grid BTC=-0.05:-0.40:0.05
run replay_crash replay --book data/sample --ticks data/streams/crash.jsonl --engine-interval-ms 0,1000,10000,60000
