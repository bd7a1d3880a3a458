#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (AddressSanitizer and UBSan on) and runs each for
# a bounded time. Exits non-zero when any target crashes; the crashing input is kept.
#
#   ./scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 10; 11 targets)
#
# Needs clang and libFuzzer (Debian 12: apt-get install clang libclang-rt-14-dev libomp-14-dev).
# Environment: MSYNC_FUZZ_BUILD (build directory, default build-fuzz), MSYNC_FUZZ_JOBS (build
# parallelism, default 2), MSYNC_FUZZ_TARGETS (a space-separated subset of the targets).
#
# Under the build directory: seeds/<target>/ (the seed corpus, rebuilt from data/ and fuzz/seeds/
# on every run), corpus/<target>/ (what the fuzzer found interesting; kept between runs),
# crashes/<target>-crash-* (inputs that crashed a target) and logs/<target>.log.
# A crash, once fixed, becomes a regression input: copy it to fuzz/regressions/<target>/, where the
# test suite (fuzz_regressions.*) feeds it through the same target in every build.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-10}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [SECONDS_PER_TARGET]" >&2
  exit 2
fi
build=${MSYNC_FUZZ_BUILD:-build-fuzz}
jobs=${MSYNC_FUZZ_JOBS:-2}
all_targets="csv_reader_text instruments_csv accounts_csv positions_csv market_json risk_json
             scenario_csv depth_csv marks_csv tick_lines book_snapshot number_fields"
targets=${MSYNC_FUZZ_TARGETS:-$all_targets}

if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz: clang++ not found (Debian 12: apt-get install clang libclang-rt-14-dev libomp-14-dev)" >&2
  exit 1
fi
launcher=()
if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DMSYNC_FUZZ=ON -DMSYNC_CUDA=OFF \
  -DMSYNC_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >/dev/null
cmake --build "$build" -j"$jobs" --target fuzz_targets

# ---- the seed corpus: data/'s files (the first lines of the large ones) and fuzz/seeds/ ------------
seeds=$build/seeds
rm -rf "$seeds"
seed() {  # seed TARGET FILE [LINES]
  mkdir -p "$seeds/$1"
  local name
  name=$(echo "$2" | tr '/' '_')
  if [ -n "${3:-}" ]; then head -n "$3" "$2" >"$seeds/$1/$name"; else cp "$2" "$seeds/$1/$name"; fi
}
for book in data/sample data/generated; do
  for f in instruments accounts positions; do
    seed "${f}_csv" "$book/$f.csv" 40
    seed csv_reader_text "$book/$f.csv" 40
  done
  seed market_json "$book/market.json"
  seed risk_json "$book/risk.json"
done
for f in data/streams/*.csv data/streams/*.jsonl fuzz/seeds/ticks.csv fuzz/seeds/events.jsonl; do
  seed tick_lines "$f" 30
done
seed scenario_csv fuzz/seeds/scenarios.csv
seed csv_reader_text fuzz/seeds/scenarios.csv
seed depth_csv fuzz/seeds/depth.csv
seed marks_csv fuzz/seeds/marks.csv
seed market_json fuzz/seeds/market_surface.json
mkdir -p "$seeds/number_fields"
n=0
while IFS= read -r line; do
  n=$((n + 1))
  printf '%s' "$line" >"$seeds/number_fields/line$n"
done <fuzz/seeds/numbers.txt
# A small snapshot of the sample book, written by the build's own marginsync.
mkdir -p "$seeds/book_snapshot"
"$build/marginsync" convert --book data/sample --out "$seeds/book_snapshot/sample.msb" -q

# ---- run each target for a bounded time ----------------------------------------------------------
mkdir -p "$build/crashes" "$build/logs"
failed=()
for t in $targets; do
  mkdir -p "$build/corpus/$t"
  log=$build/logs/$t.log
  # -max_len: the seeds are small; longer inputs only slow the search. -timeout: one input taking
  # seconds is a defect. -rss_limit_mb: an input that makes a parser take gigabytes is one too.
  if "$build/fuzz/fuzz_$t" "$build/corpus/$t" "$seeds/$t" -dict=fuzz/marginsync.dict \
      -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$build/crashes/$t-" -print_final_stats=1 >"$log" 2>&1; then
    echo "fuzz: $t: $(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}') runs, no crash"
  else
    echo "fuzz: $t CRASHED; the log's end ($log):"
    tail -n 40 "$log" | sed 's/^/    /'
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]}; inputs kept in $build/crashes/:" >&2
  ls -1 "$build/crashes" | sed 's/^/    /' >&2
  exit 1
fi
echo "fuzz: every target ran ${seconds}s without a crash"
