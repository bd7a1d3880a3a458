#!/usr/bin/env bash
# Installs what marginsync's build, tests and scripts need on Debian 12 (bookworm): run as root, or
# as a user with sudo. Does nothing (and does not touch the network) when all of it is installed.
#
#   ./scripts/setup.sh && cmake -S . -B build && cmake --build build -j2
#
# The CUDA backend additionally needs nvcc (the CUDA toolkit, from NVIDIA; not installed here):
# without it the build is CPU-only.
set -euo pipefail

packages=(
  # Build: compiler (g++ brings libgomp, GCC's OpenMP, and libc6-dev), CMake and make.
  g++ make cmake
  # Libraries: JSON, command-line parsing (header-only), GoogleTest for the test suite.
  nlohmann-json3-dev libcli11-dev libgtest-dev
  # The server (marginsync serve): HTTP (cpp-httplib, found through pkg-config) and its log.
  libcpp-httplib-dev libspdlog-dev pkg-config
  # Runs across machines (mpirun, docs/design.md 16): OpenMPI, found by CMake's FindMPI.
  libopenmpi-dev openmpi-bin
  # Scripts (scripts/*.py) and the format check (scripts/check_format.sh, CI).
  python3 clang-format
)

# Installed means dpkg says "install ok installed" (a removed package can leave "deinstall ...").
missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: everything is installed"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "setup: not root and no sudo; as root run: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
