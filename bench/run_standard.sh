#!/usr/bin/env bash
# The standard benchmark sizes of bench/RESULTS.md: 1M and 10M positions (100k and 1M accounts,
# 10 position rows per account, 20 underlyings, each account trading 1 to 3 of them), 10,000
# scenarios, every available backend. `full` on the CPU runs on a stated fraction of the accounts
# at 10M (the table says which) and reports its throughput.
#
#   bench/run_standard.sh [BUILD_DIR] [OUT_DIR]     (defaults: build, bench/out)
set -euo pipefail
build=${1:-build}
out=${2:-bench/out}
mkdir -p "$out"
bin="$build/marginsync"
for accounts in 100000 1000000; do
  echo "== $accounts accounts x 10 positions, 10000 scenarios"
  "$bin" bench --accounts "$accounts" --positions-per-account 10 --underlyings 20 --seed 1 \
    --scenarios 10000 --repeats "${REPEATS:-5}" --json "$out/bench-$accounts.json"
done
