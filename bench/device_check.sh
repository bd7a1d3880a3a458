#!/usr/bin/env bash
# The device check: on a machine with an NVIDIA GPU (an H100 or H200), build this checkout for that
# GPU, run the test suite, time `bench` on the standard sizes of bench/run_standard.sh (1 M and
# 10 M positions, 10,000 scenarios, every backend) and `bench --stream` at 10 M positions, and
# write every step's log and the JSON into OUT_DIR. Within 8 minutes on an H100/H200 with 16
# cores: each step has a time limit, and all of them together a budget (MSYNC_CHECK_BUDGET_S,
# default 465 s). A failing step does not stop the others (except those that need what it makes);
# the summary comes last, and the exit status is 0 only when every step passed.
#
#   bench/device_check.sh [--archive FILE] OUT_DIR [DEPS_DIR]
#
# DEPS_DIR (default .device-deps) is the folder scripts/prepare_device_deps.sh fills with the
# libraries the build needs (nlohmann/json, CLI11, GoogleTest, cpp-httplib, spdlog, pkg-config):
# the GPU machine has the CUDA toolkit, g++ and CMake, but not these, and no network. The build
# (build-device/, ignored by git; MSYNC_CHECK_BUILD_DIR) finds them there and nowhere else
# (step deps_found checks the paths CMake found). --archive FILE also packs OUT_DIR into FILE
# (.tar.gz): the device tool brings back at most 8 files from its output folder.
#
# Steps, in order (the GPU-relevant ones first, so that a short budget still yields them):
#   preflight   the GPU (nvidia-smi), nvcc, g++, CMake, cores; the CUDA architecture to build for
#               (nvidia-smi's compute_cap, e.g. 9.0 -> 90; 90 without a GPU; MSYNC_CHECK_CUDA_ARCH)
#   configure   CMake, CUDA on, Release, tests on
#   deps_found  every package CMake found lies in DEPS_DIR
#   build       marginsync and the test executables, -j$(nproc)
#   tests_gpu   the tests that run on the CUDA backend (names with cuda/Cuda); they skip themselves
#               without a usable device (and the summary says so)
#   bench_1m    bench --accounts 100000 (1 M positions), JSON bench-100000.json
#   bench_10m   bench --accounts 1000000 (10 M positions), JSON bench-1000000.json
#   stream      bench --stream --backend cuda --accounts 1000000, JSON stream-1000000.json (the
#               CPU backend instead without a GPU)
#   tests_rest  the rest of the suite
# Sizes can be narrowed for a trial run: MSYNC_CHECK_ACCOUNTS="100000 1000000" (the bench steps'
# account counts), MSYNC_CHECK_STREAM_ACCOUNTS=1000000, MSYNC_CHECK_REPEATS=5; on a machine slower
# than the GPU machine's 16 cores, MSYNC_CHECK_LIMIT_SCALE=N multiplies the steps' limits and
# MSYNC_CHECK_BUDGET_S sets the budget.
set -uo pipefail

archive=
if [ "${1:-}" = "--archive" ]; then
  archive=${2:?--archive needs a file}
  shift 2
fi
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: bench/device_check.sh [--archive FILE] OUT_DIR [DEPS_DIR]" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1" || exit 2
out=$(cd "$1" && pwd)
deps=${2:-$root/.device-deps}
if [ ! -x "$deps/bin/pkg-config" ]; then
  echo "device_check: $deps is not a prepared folder: run scripts/prepare_device_deps.sh $deps" \
    "where apt reaches the package registry" >&2
  exit 2
fi
deps=$(cd "$deps" && pwd)
build=${MSYNC_CHECK_BUILD_DIR:-$root/build-device}
budget=${MSYNC_CHECK_BUDGET_S:-465}
sizes=${MSYNC_CHECK_ACCOUNTS:-100000 1000000}
stream_accounts=${MSYNC_CHECK_STREAM_ACCOUNTS:-1000000}
repeats=${MSYNC_CHECK_REPEATS:-5}
scale=${MSYNC_CHECK_LIMIT_SCALE:-1} # the step limits times this, for a machine slower than the GPU's
jobs=$(nproc)
started=$(date +%s)
deadline=$((started + budget))
summary=$out/summary.txt
: >"$summary"
failed=0

note() { echo "device_check: $*" | tee -a "$summary"; }

# step NAME LIMIT_S COMMAND...: runs COMMAND with its output in OUT_DIR/NAME.log, under the
# smaller of LIMIT_S and what is left of the budget; records PASS, FAIL (exit status) or TIMEOUT.
declare -A status
step() {
  local name=$1 limit=$2
  shift 2
  local left=$((deadline - $(date +%s)))
  if [ "$left" -lt 15 ]; then
    skip "$name" "the budget of ${budget} s is spent"
    return 1
  fi
  limit=$((limit * scale))
  [ "$limit" -gt "$left" ] && limit=$left
  echo "device_check: $name (at most ${limit} s) ..."
  local t0 t1 rc
  t0=$(date +%s.%N)
  if declare -F "$1" >/dev/null; then
    "$@" >"$out/$name.log" 2>&1 # a quick check of this script's own
  else
    timeout -k 10 "$limit" "$@" >"$out/$name.log" 2>&1
  fi
  rc=$?
  t1=$(date +%s.%N)
  local secs word
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  if [ $rc -eq 0 ]; then
    word=PASS
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    word=TIMEOUT
  else
    word="FAIL($rc)"
  fi
  status[$name]=$word
  [ $rc -eq 0 ] || failed=1
  printf '%-11s %-9s %7s s  %s\n' "$name" "$word" "$secs" "$*" >>"$summary"
  if [ $rc -ne 0 ]; then
    # The last lines of the log say why.
    tail -n 5 "$out/$name.log" | sed 's/^/              | /' >>"$summary"
  fi
  return $rc
}
skip() {
  status[$1]=SKIP
  failed=1
  printf '%-11s %-9s %7s    %s\n' "$1" SKIP - "$2" >>"$summary"
}

# ---- preflight: what the machine has ------------------------------------------------------------
{
  echo "checkout: $root ($(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')" \
    "$(git -C "$root" status --porcelain 2>/dev/null | grep -q . && echo '+ changes')"
  echo "date: $(date -u +%FT%TZ)  cores: $jobs  memory: $(free -g 2>/dev/null | awk '/Mem:/ {print $2 " GiB"}')"
  echo "deps: $deps"
  sed 's/^/  /' "$deps/MANIFEST" 2>/dev/null
} >"$out/preflight.log"
gpu=
if command -v nvidia-smi >/dev/null 2>&1 &&
  nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader \
    >"$out/gpu.csv" 2>>"$out/preflight.log" && [ -s "$out/gpu.csv" ]; then
  gpu=$(head -n 1 "$out/gpu.csv")
fi
arch=${MSYNC_CHECK_CUDA_ARCH:-}
if [ -z "$arch" ]; then
  arch=90
  [ -n "$gpu" ] && arch=$(echo "$gpu" | cut -d, -f2 | tr -d ' .')
fi
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
gen="Unix Makefiles"
command -v ninja >/dev/null 2>&1 && gen=Ninja
{
  echo "gpu: ${gpu:-none found by nvidia-smi}"
  echo "cuda architecture: $arch"
  echo "nvcc: $nvcc: $("$nvcc" --version 2>&1 | tail -n 2 | head -n 1)"
  echo "g++: $(g++ --version 2>&1 | head -n 1)"
  echo "cmake: $(cmake --version 2>&1 | head -n 1), generator $gen"
} >>"$out/preflight.log"
cat "$out/preflight.log" >>"$summary"
rm -f "$out/gpu.csv"
if [ -z "$gpu" ]; then
  note "NO GPU: nvidia-smi found none; the CUDA tests skip themselves and bench times the CPU" \
    "backend only (its 'cuda: not timed' line says why). This is not a device check."
  failed=1
fi
echo >>"$summary"

# ---- configure, against the folder only -----------------------------------------------------------
lib=$deps/usr/lib/x86_64-linux-gnu
lib2=$deps/lib/x86_64-linux-gnu # zlib's runtime library lies there
# The environment, not only the cache, so that ctest's consumer_package test (a CMake project of
# its own, configured by the test) finds the same packages. PKG_CONFIG is CMake's pkg-config.
export CMAKE_PREFIX_PATH="$deps/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export PKG_CONFIG=$deps/bin/pkg-config
# The executables find the folder's shared libraries (spdlog, fmt, cpp-httplib and those it needs:
# OpenSSL, zlib, Brotli) through their RPATH: a DT_RPATH (--disable-new-dtags), which the loader
# also searches for the libraries' own dependencies, unlike DT_RUNPATH; -rpath-link lets the
# linker resolve those. No LD_LIBRARY_PATH: nvcc, g++ and CMake keep the machine's own libraries.
link_flags="-Wl,--disable-new-dtags -Wl,-rpath,$lib -Wl,-rpath,$lib2 -Wl,-rpath-link,$lib"
link_flags+=" -Wl,-rpath-link,$lib2"
# Tests and bench in separate steps; OpenMP threads of tests running side by side must not spin.
export OMP_WAIT_POLICY=passive

configured=0
step configure 150 cmake -S "$root" -B "$build" -G "$gen" -DCMAKE_BUILD_TYPE=Release \
  -DMSYNC_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="$arch" \
  -DMSYNC_BUILD_TESTS=ON -DCMAKE_EXE_LINKER_FLAGS="$link_flags" &&
  configured=1

# Every package CMake found, and where: all of them must be in the folder.
deps_found() {
  local cache=$build/CMakeCache.txt bad=0 var value
  for var in nlohmann_json_DIR CLI11_DIR GTest_DIR spdlog_DIR fmt_DIR PKG_CONFIG_EXECUTABLE \
    pkgcfg_lib_HTTPLIB_cpp-httplib; do
    value=$(grep -E "^$var:[A-Z]+=" "$cache" | head -n 1 | cut -d= -f2-)
    echo "$var = ${value:-<not set>}"
    case "$value" in "$deps"/*) ;; *) bad=1 ;; esac
  done
  # pkg-config's include directories for cpp-httplib (not cached: as pkg-config prints them).
  echo "cpp-httplib cflags: $("$PKG_CONFIG" --cflags cpp-httplib)"
  [ $bad -eq 0 ] || echo "some package was found outside $deps"
  return $bad
}
if [ $configured -eq 1 ]; then
  step deps_found 10 deps_found
else
  skip deps_found "configure failed"
fi

# ---- build ----------------------------------------------------------------------------------------
built=0
if [ $configured -eq 1 ]; then
  # marginsync and every test executable the configure defined (QuantLib's oracle only where
  # QuantLib is installed): what ctest runs, and nothing else.
  targets=$(cmake --build "$build" --target help 2>/dev/null | grep -oE 'marginsync[a-z_]*_tests' |
    sort -u)
  # shellcheck disable=SC2086 # one word per target
  step build 330 cmake --build "$build" -j "$jobs" --target marginsync $targets && built=1
  # Warnings are not errors here (the machine's g++ may warn where CI's does not): count them.
  warnings=$(grep -c -i 'warning' "$out/build.log")
  [ "${warnings:-0}" -gt 0 ] && note "build: $warnings lines of compiler warnings (see build.log)"
else
  skip build "configure failed"
fi

# ---- tests on the GPU, bench, stream, the other tests ---------------------------------------------
gpu_tests='cuda|Cuda|CUDA'
# ctest says "Skipped" only for a test that reports it; GoogleTest's skipped tests pass, so count
# GTEST_SKIP's own lines in the output.
count_skipped() {
  local n
  n=$(grep -c '\[  SKIPPED \]' "$out/$1.log" 2>/dev/null)
  [ "${n:-0}" -gt 0 ] && note "$1: $n GoogleTest cases skipped themselves (see $1.log)"
}
bin=$build/marginsync
if [ $built -eq 1 ]; then
  step tests_gpu 150 ctest --test-dir "$build" -R "$gpu_tests" -j "$jobs" --output-on-failure \
    --timeout 140 -V
  count_skipped tests_gpu
  for accounts in $sizes; do
    positions=$((accounts * 10))
    name=bench_$((positions / 1000))k
    [ $((positions % 1000000)) -eq 0 ] && name=bench_$((positions / 1000000))m
    step "$name" 200 "$bin" bench --accounts "$accounts" --positions-per-account 10 \
      --underlyings 20 --seed 1 --scenarios 10000 --repeats "$repeats" \
      --json "$out/bench-$accounts.json"
  done
  # The stream on the GPU alone: the CPU's risk path (`full`, 10,000 scenarios, about every
  # second of stream time) would take minutes at 10 M positions.
  stream_backend=cuda
  [ -z "$gpu" ] && stream_backend=cpu
  step stream 150 "$bin" bench --stream --backend "$stream_backend" --accounts "$stream_accounts" \
    --positions-per-account 10 --underlyings 20 --seed 1 --json "$out/stream-$stream_accounts.json"
  step tests_rest 240 ctest --test-dir "$build" -E "$gpu_tests" -j "$jobs" --output-on-failure \
    --timeout 230
else
  for name in tests_gpu bench stream tests_rest; do skip "$name" "no build"; done
fi

# ---- summary --------------------------------------------------------------------------------------
total=$(($(date +%s) - started))
{
  echo
  echo "total: ${total} s (budget ${budget} s); logs and JSON in $out"
  [ $failed -eq 0 ] && echo "device check: PASS" || echo "device check: NOT PASSED"
} >>"$summary"
if [ -n "$archive" ]; then
  tar -czf "$archive" -C "$(dirname "$out")" "$(basename "$out")" &&
    echo "archive: $archive" >>"$summary"
fi
echo
cat "$summary"
exit $failed
