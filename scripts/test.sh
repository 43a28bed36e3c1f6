#!/usr/bin/env bash
# Installs dependencies, builds everything and runs every test under ctest.
# CI runs this through .ci/run; developers can run it as is.
#   BUILD_DIR     build directory (default: build)
#   JOBS          parallel build and test jobs (default: 2, the machine's cores)
#   TEST_TIMEOUT  seconds before ctest kills one test (default: 300)
#   FUZZ_REPLAY, SANITIZE, DEBUG_INFO, TIDY   see below
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-2}
TEST_TIMEOUT=${TEST_TIMEOUT:-300}

# Hardening (docs/fuzzing.md, docs/security.md):
# - FUZZ_REPLAY=1 (default): every fuzz target replays its seed corpus and
#   past crash inputs, then fuzzes for FUZZ_SECONDS (default 5) each: 24 x 5 s
#   is 9.4 M executions in all (clang, ASan + UBSan; scripts/fuzz.sh, build-fuzz).
#   A crash fails the run and leaves its input in build-fuzz/fuzz-artifacts.
#   The targets link only the sans-I/O layers and the parser sources they
#   test: a cold build is 67 compile units, about 3-4 minutes on 2 cores.
# - SANITIZE=all (default): the unit and integration suites run under ASan +
#   UBSan + LSan (scripts/sanitize.sh, a second build in build-asan) and only
#   there: the main build leaves them out, and its ctest runs e2e, interop,
#   fault and lab. SANITIZE=unit or integration sanitizes one suite (the main
#   build then builds and runs the other); SANITIZE=none runs both in the
#   main build only.
# - DEBUG_INFO=0 (default): the main build compiles with -g0
#   (PEERUP_DEBUG_INFO=OFF): nothing in CI reads its debug info. The
#   sanitizer build keeps -g1 for file:line in its reports.
# - TIDY=1 (opt-in): clang-tidy over all of src/ (scripts/tidy.sh).
#   About 15 CPU-minutes (8 min on 2 cores, measured); clean over all of src/
#   at 2d15e22 (session 7: two findings fixed); run it locally before a merge
#   (TIDY_CHANGED_FROM=<rev> scripts/tidy.sh checks only what changed).
# Why this default (measured, 2 cores, g++ 12, cold, CCACHE_DISABLE=1):
#   CPU seconds per unit: net/host.cpp -O2 -g 33.0, -O2 19.8, sanitized -O1
#   -g1 43.7; cli/cmd_diag.cpp -O2 -g 23.2, -O2 16.7; protocols/ping.cpp
#   -O2 -g 6.0, -O2 5.2. Unit + integration are 54 of the main build's 171
#   units (28% of its compile time). A precompiled boost/asio.hpp +
#   awaitable_operators saved 0.3-1.7 s per asio unit (parsing it takes 3.5
#   s, instantiation and codegen dominate), cost 0.5 s per unit without asio
#   and 9 s + 200 MB per target: not adopted.
#   Clean clone, cold (CCACHE_DISABLE=1 bash .ci/run), seconds:
#                      before   after, -O1 san.   after (now)
#     mean load        shared   3.5               1.6 (this run alone)
#     main build       945      548               395
#     fuzz replay      235      228               106
#     sanitizers       1594     1576              690 (build 488 + 95,
#                                                  tests 71 + 34)
#     main ctest       193      193               172 (e2e interop fault lab)
#     whole run        2973     2553 (42.5 min)   1368 (22.8 min)
#   "before": sanitizers opt-in, turned on by hand. The middle column ran
#   these defaults with the sanitizer build at -O1 (now -O0, sanitize.sh);
#   most of its difference from the last column is the machine's load.
SANITIZE=${SANITIZE:-all}
case "$SANITIZE" in
  all) main_suites=(-DPEERUP_UNIT_TESTS=OFF -DPEERUP_INTEGRATION_TESTS=OFF) ;;
  unit) main_suites=(-DPEERUP_UNIT_TESTS=OFF -DPEERUP_INTEGRATION_TESTS=ON) ;;
  integration) main_suites=(-DPEERUP_UNIT_TESTS=ON -DPEERUP_INTEGRATION_TESTS=OFF) ;;
  none) main_suites=(-DPEERUP_UNIT_TESTS=ON -DPEERUP_INTEGRATION_TESTS=ON) ;;
  *) echo "error: SANITIZE=$SANITIZE: expected all, unit, integration or none" >&2; exit 2 ;;
esac
if [ "${DEBUG_INFO:-0}" = 1 ]; then debug_info=ON; else debug_info=OFF; fi

# Every step prints its wall time, and a table of them closes the run, so CI
# time can be watched against its 40-minute budget.
timings=()
failed_steps=()
step() {  # step <name> <command...>: runs it, times it, records a failure
  local name=$1 started rc=0
  shift
  started=$(date +%s)
  echo "== $name"
  "$@" || rc=$?
  timings+=("$(printf '%-48s %5d s%s' "$name" $(($(date +%s) - started)) \
    "$([ "$rc" = 0 ] || echo "  FAILED ($rc)")")")
  echo "== $name: $(($(date +%s) - started)) s"
  if [ "$rc" != 0 ]; then failed_steps+=("$name"); fi
  return 0
}
summary() {
  echo
  echo "== step times"
  printf '%s\n' "${timings[@]}"
}
must() {  # a step the rest cannot run without
  step "$@"
  if [ "${#failed_steps[@]}" -gt 0 ]; then
    summary
    echo "FAILED: ${failed_steps[*]}" >&2
    exit 1
  fi
}

must "dependencies" bash scripts/install-deps.sh

# js-libp2p 3.x needs Node >= 20 (tests/interop/js/polyfill.mjs covers the
# one Node 22 API it uses). Debian 12's own nodejs is 18: say so plainly.
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "error: node $(node --version) is too old for tests/interop/js; need >= 20" >&2
  exit 1
fi

npm_ci() { (cd "$1" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error); }
must "npm ci (tests/interop/js, node $(node --version))" npm_ci tests/interop/js
# js-libp2p 2.x with @chainsafe/libp2p-quic 1.1.x (its prebuilt linux-x64-gnu
# binary comes from npm): the QUIC interop peer has its own tree. `npm install`
# rather than `npm ci`: the lock pins every package, but it cannot list the
# other platforms' optional binaries (absent from the registry we use), and
# `npm ci` refuses a lock without them. With the lock in place, install takes
# exactly the locked versions and leaves the lock as it is.
npm_install_locked() {
  (cd "$1" && npm install --no-audit --no-fund --prefer-offline --loglevel=error) &&
    git diff --quiet -- "$1/package-lock.json"
}
must "npm install (tests/interop/js-quic, locked)" npm_install_locked tests/interop/js-quic
must "npm ci (tests/interop/js-tls)" npm_ci tests/interop/js-tls

build() {
  cmake -S . -B "$BUILD_DIR" -G Ninja "${main_suites[@]}" -DPEERUP_DEBUG_INFO="$debug_info" &&
    cmake --build "$BUILD_DIR" -j "$JOBS"
}
must "configure + build ($BUILD_DIR)" build

if [ "${FUZZ_REPLAY:-1}" = 1 ]; then
  step "fuzz targets: replay, then fuzz ${FUZZ_SECONDS:-5} s each" \
    env JOBS="$JOBS" bash scripts/fuzz.sh "${FUZZ_SECONDS:-5}"
fi
# One build at a time: each already uses both cores.
# A failed step fails the run at the end, after the other steps have run too.
if [ "$SANITIZE" != none ]; then
  step "sanitizers (ASan + UBSan + LSan): $SANITIZE" \
    env JOBS="$JOBS" bash scripts/sanitize.sh "$SANITIZE"
fi
if [ "${TIDY:-0}" = 1 ]; then
  step "clang-tidy (src/)" env JOBS="$JOBS" bash scripts/tidy.sh
fi

# The Debian package (issue 20): built from the main build (PEERUP_PACKAGE=ON
# only adds the man pages and completion), lintian, then installed, checked,
# removed and purged in a throwaway overlay root. About a minute.
step "Debian package (scripts/package_test.sh)" \
  timeout 600 env PKG_BUILD_DIR="$BUILD_DIR" JOBS="$JOBS" bash scripts/package_test.sh

main_labels() {
  ctest --test-dir "$BUILD_DIR" --print-labels | sed -n 's/^  //p' | tr '\n' ' ' | sed 's/ $//'
}
# The main suite last, so its summary line is near the end of the log.
step "ctest ($BUILD_DIR, $(main_labels))" ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" \
  --timeout "$TEST_TIMEOUT"
summary
if [ "${#failed_steps[@]}" -gt 0 ]; then
  echo "FAILED: ${failed_steps[*]}" >&2
  exit 1
fi
