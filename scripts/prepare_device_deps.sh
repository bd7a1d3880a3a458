#!/usr/bin/env bash
# Fetches the build's libraries as Debian 12 (bookworm, amd64) packages and unpacks them into a
# folder of the checkout, for a machine that has a compiler, CMake and the CUDA toolkit but none of
# these libraries and no network (the GPU machine of bench/device_check.sh). Run it where apt can
# reach the package registry; root is not needed (apt-get download and dpkg -x install nothing).
#
#   scripts/prepare_device_deps.sh [DIR]        (default: .device-deps, ignored by git)
#
# DIR then holds usr/ as the packages lay it out (CMake packages under usr/lib/x86_64-linux-gnu/cmake
# and usr/share/cmake, pkg-config files, headers, the shared libraries cpp-httplib and spdlog link
# against), bin/pkg-config (pkgconf from the folder, reading only the folder's .pc files, with the
# folder as its sysroot) and MANIFEST (the packages and versions). About 15 MB: documentation,
# sources and the static libraries nobody links are removed.
set -euo pipefail

dir=${1:-.device-deps}
arch=amd64
triplet=x86_64-linux-gnu

# What CMakeLists.txt finds: nlohmann_json, CLI11, GoogleTest (tests/), cpp-httplib through
# pkg-config (so pkg-config itself: pkgconf-bin), spdlog (and fmt, its dependency).
roots=(nlohmann-json3-dev libcli11-dev libgtest-dev libcpp-httplib-dev libspdlog-dev pkgconf-bin)
# Not fetched: the toolchain the GPU machine has (the C library and its headers, libstdc++, libgcc),
# catch2 (spdlog's own tests) and googletest (GoogleTest's sources: libgtest-dev's prebuilt static
# libraries and CMake package are used).
skip=" libc6 libc6-dev libc-dev libgcc-s1 libstdc++6 gcc-12-base catch2 googletest "

# The packages' Depends, followed from the roots and pruned at $skip (apt-cache depends --recurse
# would follow libc6-dev into the whole C toolchain). A virtual package (<name>) must be in $skip.
resolve() {
  local -a queue=("${roots[@]}")
  local -A seen=()
  while [ ${#queue[@]} -gt 0 ]; do
    local pkg=${queue[0]}
    queue=("${queue[@]:1}")
    [ -n "${seen[$pkg]:-}" ] && continue
    seen[$pkg]=1
    echo "$pkg"
    local dep
    for dep in $(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
                   --no-replaces --no-enhances "$pkg:$arch" |
                 sed -n 's/^ *|\{0,1\}Depends: \(.*\)$/\1/p' | sed 's/:.*$//'); do
      local name=${dep#<}
      case "$skip" in *" ${name%>} "*) continue ;; esac
      if [[ $dep == \<* ]]; then
        echo "prepare_device_deps: virtual package $dep (from $pkg) not handled" >&2
        exit 1
      fi
      queue+=("$dep")
    done
  done
}

packages=$(resolve | sort -u)
echo "prepare_device_deps: $(echo "$packages" | wc -l) packages: $(echo $packages)"

rm -rf "$dir"
mkdir -p "$dir/debs"
dir=$(cd "$dir" && pwd)
# apt-get download writes into the current folder; -o APT::Sandbox::User=root avoids the _apt
# user's "couldn't be accessed" warning when run as root.
(cd "$dir/debs" && apt-get download -q -o APT::Sandbox::User=root $(echo "$packages" | sed "s/\$/:$arch/"))

: >"$dir/MANIFEST"
for deb in "$dir"/debs/*.deb; do
  dpkg-deb -W --showformat='${Package} ${Version}\n' "$deb" >>"$dir/MANIFEST"
  dpkg -x "$deb" "$dir"
done
rm -rf "$dir/debs" "$dir/usr/share/doc" "$dir/usr/share/man" "$dir/usr/share/lintian" "$dir/usr/src"
# Static libraries: only GoogleTest's are linked (the others' shared libraries are).
find "$dir/usr/lib/$triplet" -maxdepth 1 -name '*.a' ! -name 'libgtest*.a' -delete

# pkg-config for the folder: pkgconf from the folder (its libpkgconf too), reading only the
# folder's .pc files, with the folder as sysroot so that -I/usr/include and -L/usr/lib/... point
# into it (and are kept: without PKG_CONFIG_ALLOW_SYSTEM_* pkgconf drops them as system paths).
mkdir -p "$dir/bin"
cat >"$dir/bin/pkg-config" <<EOF
#!/bin/sh
d=\$(cd "\$(dirname "\$0")/.." && pwd)
export PKG_CONFIG_LIBDIR="\$d/usr/lib/$triplet/pkgconfig:\$d/usr/share/pkgconfig"
export PKG_CONFIG_PATH=
export PKG_CONFIG_SYSROOT_DIR="\$d"
export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
LD_LIBRARY_PATH="\$d/usr/lib/$triplet\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "\$d/usr/bin/pkgconf" "\$@"
EOF
chmod +x "$dir/bin/pkg-config"
"$dir/bin/pkg-config" --exists cpp-httplib || {
  echo "prepare_device_deps: the folder's pkg-config does not find cpp-httplib" >&2
  exit 1
}

size=$(du -sm "$dir" | cut -f1)
echo "prepare_device_deps: $dir holds $size MB ($(wc -l <"$dir/MANIFEST") packages, see MANIFEST)"
# The device tool carries at most 64 MiB with the working tree.
if [ "$size" -gt 48 ]; then
  echo "prepare_device_deps: $size MB is too much to carry with the checkout (64 MiB in all)" >&2
  exit 1
fi
