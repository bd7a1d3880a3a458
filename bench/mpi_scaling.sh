#!/usr/bin/env bash
# Strong and weak scaling of `margin` across MPI ranks on one machine (bench/RESULTS.md, "Across
# ranks"): one process against `mpirun -np 2`, one thread per rank, best of REPEAT runs of each
# stage, and the bytes each rank sent (-v).
#   bench/mpi_scaling.sh BUILD_DIR WORK_DIR [REPEAT]
set -euo pipefail
build=$1 work=$2 repeat=${3:-3}
cli=$build/marginsync
mkdir -p "$work"
export OMP_WAIT_POLICY=passive
book() {  # accounts -> snapshot path
  local f=$work/book-$1.msbook
  [ -f "$f" ] || "$cli" generate --accounts "$1" --underlyings 20 --positions-per-account 10 \
    --seed 1 --snapshot --out "$f" -q
  echo "$f"
}
# label, ranks, accounts, method: best scenario_risk, combine and whole-run wall seconds.
run() {
  local label=$1 ranks=$2 accounts=$3 method=$4 b best=""
  b=$(book "$accounts")
  for _ in $(seq "$repeat"); do
    rm -rf "$work/out"
    local start end
    start=$(date +%s.%N)
    if [ "$ranks" = 1 ]; then
      "$cli" margin --book "$b" --method "$method" --threads 1 --out "$work/out" -q
    else
      mpirun --allow-run-as-root -np "$ranks" "$cli" margin --book "$b" --method "$method" \
        --threads 1 --out "$work/out" -v > /dev/null 2> "$work/stderr"
    fi
    end=$(date +%s.%N)
    local line
    line=$(python3 -c "
import json,sys; s=json.load(open('$work/out/summary.json'))['stage_seconds']
print('%.3f %.3f %.3f %.3f' % (s['scenario_risk'], s.get('combine', 0.0), s['revalue'], $end - $start))")
    best=$(printf '%s\n%s\n' "$best" "$line" | sed '/^$/d' | sort -n | head -1)
  done
  local sent=""
  [ "$ranks" = 1 ] || sent=$(grep -o 'rank [0-9]*: sent [0-9]* bytes' "$work/stderr" | sort | tr '\n' ';')
  echo "$label ranks=$ranks accounts=$accounts method=$method scenario_risk/combine/revalue/wall(s)=$best $sent"
}
for method in full delta_gamma; do
  run strong 1 100000 $method
  run strong 2 100000 $method
  run weak 1 50000 $method
  run weak 2 100000 $method
done
