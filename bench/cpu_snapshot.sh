#!/usr/bin/env bash
# Times the CPU snapshot path on generated books: loading, generation, and scenario risk by both
# methods. Prints one line per measurement; the figures in README.md ("Speed") come from this.
# Usage: bench/cpu_snapshot.sh [BUILD_DIR] [WORK_DIR]
# Single runs, for orientation: the repeated-run harness is `marginsync bench` (CUDA issue).
set -euo pipefail
build=${1:-build}
work=${2:-$(mktemp -d)}
bin="$build/marginsync"
[ -x "$bin" ] || { echo "no $bin: build first (see README)" >&2; exit 2; }

stage() {  # summary.json stage time
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['stage_seconds'][sys.argv[2]])" "$1" "$2"
}

for accounts in 100000 1000000; do
  book="$work/book-$accounts"
  positions=$((accounts * 10))
  # generate prints its own wall time: "wrote ... in 3.37 s"
  seconds=$("$bin" generate --accounts "$accounts" --underlyings 20 --positions-per-account 10 \
              --seed 3 --out "$book" | sed -n 's/.* in \([0-9.]*\) s$/\1/p')
  echo "generate       positions=$positions seconds=$seconds"
  "$bin" margin --book "$book" --backend cpu --method delta_gamma --scenarios 1000 -q --out "$work/out-dg-$accounts"
  echo "load           positions=$positions seconds=$(stage "$work/out-dg-$accounts/summary.json" load)"
  echo "delta_gamma    accounts=$accounts scenarios=1000 seconds=$(stage "$work/out-dg-$accounts/summary.json" scenario_risk)"
done
"$bin" convert --book "$work/book-1000000" --out "$work/book-1000000.msb" >/dev/null
"$bin" margin --book "$work/book-1000000.msb" --backend cpu --method delta_gamma --scenarios 100 -q --out "$work/out-snap"
echo "load snapshot  positions=10000000 seconds=$(stage "$work/out-snap/summary.json" load)"
"$bin" margin --book "$work/book-1000000.msb" --backend cpu --method delta_gamma -q --out "$work/out-dg10k"
echo "delta_gamma    accounts=1000000 scenarios=10000 seconds=$(stage "$work/out-dg10k/summary.json" scenario_risk)"
"$bin" margin --book "$work/book-100000" --backend cpu -q --out "$work/out-full"
echo "full           accounts=100000 scenarios=10000 seconds=$(stage "$work/out-full/summary.json" scenario_risk)"
