#!/usr/bin/env bash
# Installs dependencies, builds everything and runs every test under ctest.
# CI runs this through .ci/run; developers can run it as is.
#   BUILD_DIR     build directory (default: build)
#   JOBS          parallel build and test jobs (default: 2, the machine's cores)
#   TEST_TIMEOUT  seconds before ctest kills one test (default: 300)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-2}
TEST_TIMEOUT=${TEST_TIMEOUT:-300}

echo "== dependencies"
bash scripts/install-deps.sh

# js-libp2p 3.x needs Node >= 20 (tests/interop/js/polyfill.mjs covers the
# one Node 22 API it uses). Debian 12's own nodejs is 18: say so plainly.
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "error: node $(node --version) is too old for tests/interop/js; need >= 20" >&2
  exit 1
fi

echo "== npm ci (tests/interop/js, node $(node --version))"
(cd tests/interop/js && npm ci --no-audit --no-fund --prefer-offline --loglevel=error)

echo "== configure + build ($BUILD_DIR)"
cmake -S . -B "$BUILD_DIR" -G Ninja
cmake --build "$BUILD_DIR" -j "$JOBS"


# Hardening (docs/fuzzing.md, docs/security.md), on by default: every fuzz
# target replays its seed corpus and past crash inputs (clang, ASan+UBSan).
# SANITIZE=unit|integration|all also runs those suites under ASan + UBSan +
# LeakSanitizer (a second full build, so it is opt-in for now).
if [ "${FUZZ_REPLAY:-1}" = 1 ]; then
  echo "== fuzz targets: replay corpora and regressions"
  JOBS="$JOBS" bash scripts/fuzz.sh 0
fi
if [ -n "${SANITIZE:-}" ]; then
  echo "== sanitizers (ASan + UBSan + LSan): $SANITIZE"
  JOBS="$JOBS" bash scripts/sanitize.sh "$SANITIZE"
fi

# The main suite last, so its summary line closes the run.
echo "== ctest"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" --timeout "$TEST_TIMEOUT"
