#!/usr/bin/env bash
# Builds the Debian 12 package (issue 20) with CPack: see cmake/package.cmake
# for what goes in. Prints the path of the .deb on its last line.
#   PKG_BUILD_DIR  build directory (default build-pkg; CI passes its main
#                  build, which only needs PEERUP_PACKAGE=ON added)
#   JOBS           parallel build jobs (default 2)
# Needs help2man, pandoc and dpkg-dev (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir=${PKG_BUILD_DIR:-build-pkg}
jobs=${JOBS:-2}
if [ ! -f "$dir/CMakeCache.txt" ]; then
  # The same flags as CI's main build, so ccache serves both.
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPEERUP_DEBUG_INFO=OFF \
    -DPEERUP_TESTS=OFF -DPEERUP_BENCH=OFF -DPEERUP_PACKAGE=ON >/dev/null
else
  cmake "$dir" -DPEERUP_PACKAGE=ON >/dev/null
fi
cmake --build "$dir" -j"$jobs" --target peerup peerup_package_files
rm -f "$dir"/peerup_*.deb
(cd "$dir" && cpack -G DEB >/dev/null)
deb=$(ls "$dir"/peerup_*.deb)
echo "$(realpath "$deb")"
