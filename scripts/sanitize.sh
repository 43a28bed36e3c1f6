#!/usr/bin/env bash
# Builds the tests with AddressSanitizer + UndefinedBehaviorSanitizer (and
# LeakSanitizer, which ASan enables on Linux x86_64) and runs them under ctest.
#
#   scripts/sanitize.sh [unit|integration|all]    default: all
#
# Environment:
#   BUILD_DIR     build directory (default: build-asan)
#   JOBS          parallel build and test jobs (default: 1)
#   TEST_TIMEOUT  seconds before ctest kills one test (default: 600; ASan is slow)
#   SANITIZE_FLAGS  optimization and debug flags (default: -O0 -g1 -DNDEBUG)
#
# Any ASan report, leak or UB aborts the test process, so ctest marks it failed.
# Exits non-zero if a build or a test failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SUITES=${1:-all}
BUILD_DIR=${BUILD_DIR:-build-asan}
JOBS=${JOBS:-1}
TEST_TIMEOUT=${TEST_TIMEOUT:-600}

case "$SUITES" in
  unit) labels=(unit) ;;
  integration) labels=(integration) ;;
  all) labels=(unit integration) ;;
  *) echo "usage: $0 [unit|integration|all]" >&2; exit 2 ;;
esac

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=${LSAN_OPTIONS:-}

echo "== configure ($BUILD_DIR, PEERUP_SANITIZE=ON)"
# -O0 -g1 (line tables): the cheapest to compile, and reports still carry
# file:line. CPU seconds for net/host.cpp with -fsanitize=address,undefined
# (measured): -O1 -g1 43.7, -O0 -g1 32.5 (relay_server.cpp: -O2 -g 59, -O1
# -g1 32). The whole step, cold, on an idle machine at -O0: 720 s (1326
# CPU-seconds), of which unit tests 71 s and integration tests 38 s (at -O1
# on a loaded machine: 105 s and 38 s). UBSan's object-size check needs
# optimization; ASan still catches those out-of-bounds accesses.
# SANITIZE_FLAGS overrides it.
cmake -S . -B "$BUILD_DIR" -G Ninja -DPEERUP_SANITIZE=ON -DPEERUP_TESTS=ON -DPEERUP_BENCH=OFF \
  -DPEERUP_UNIT_TESTS=ON -DPEERUP_INTEGRATION_TESTS=ON -DPEERUP_DEBUG_INFO=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="${SANITIZE_FLAGS:--O0 -g1 -DNDEBUG}" >/dev/null
mkdir -p "$BUILD_DIR/sanitize-check"

# LeakSanitizer must really be on: a program that leaks must fail. (It cannot
# run under ptrace-restricted sandboxes; say so instead of passing silently.)
cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")
leak_src="$BUILD_DIR/sanitize-check/leak.cpp"
printf 'int* volatile p;\nint main() { p = new int[4]; p = nullptr; return 0; }\n' >"$leak_src"
"$cxx" -fsanitize=address,undefined -g "$leak_src" -o "$BUILD_DIR/sanitize-check/leak"
if ASAN_OPTIONS=detect_leaks=1 "$BUILD_DIR/sanitize-check/leak" >"$BUILD_DIR/sanitize-check/leak.log" 2>&1; then
  echo "error: LeakSanitizer did not report a deliberate leak; leak checking is off" >&2
  exit 1
fi
if ! grep -q 'detected memory leaks' "$BUILD_DIR/sanitize-check/leak.log"; then
  echo "error: LeakSanitizer failed to run:" >&2
  cat "$BUILD_DIR/sanitize-check/leak.log" >&2
  exit 1
fi
echo "   LeakSanitizer: on (a deliberate leak was reported)"

failed=()
ran=()
for label in "${labels[@]}"; do
  if [ "$label" = unit ]; then
    targets=()
    for dir in tests/unit/*/; do
      if compgen -G "$dir*.cpp" >/dev/null; then targets+=("unit_$(basename "$dir")"); fi
    done
  else
    targets=(integration_tests)
  fi
  echo "== build $label: ${targets[*]}"
  started=$SECONDS
  if ! nice -n 10 cmake --build "$BUILD_DIR" -j "$JOBS" --target "${targets[@]}"; then
    echo "error: $label tests failed to build under sanitizers" >&2
    failed+=("$label (build)")
    continue
  fi
  echo "== build $label: $((SECONDS - started)) s"
  echo "== ctest -L $label"
  started=$SECONDS
  if ! ctest --test-dir "$BUILD_DIR" -L "^${label}\$" --output-on-failure -j "$JOBS" \
      --timeout "$TEST_TIMEOUT"; then
    failed+=("$label (tests)")
  fi
  echo "== ctest -L $label: $((SECONDS - started)) s"
  ran+=("$label")
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo
  echo "sanitize: FAILED: ${failed[*]}"
  exit 1
fi
echo "sanitize: ${ran[*]} clean under ASan + UBSan + LSan"
