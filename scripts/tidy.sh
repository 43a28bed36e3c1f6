#!/usr/bin/env bash
# Runs clang-tidy-14 (checks in .clang-tidy) over src/ and fails on any
# finding. Needs only a configured build tree for compile_commands.json: it
# configures build-tidy with clang (nothing is compiled), so the compile
# commands are clang's own.
#
#   scripts/tidy.sh                 every .cpp under src/
#   scripts/tidy.sh FILE...         only these files (e.g. what a change touched)
#   TIDY_CHANGED_FROM=<rev> scripts/tidy.sh   only src/ files changed since <rev>
#
# Environment:
#   BUILD_DIR   build tree for compile_commands.json (default: build-tidy)
#   JOBS        parallel clang-tidy processes (default: 2)
#
# Suppress a finding only with a reason: `// NOLINT(<check>): <why>`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD_DIR=${BUILD_DIR:-build-tidy}
JOBS=${JOBS:-2}
TIDY=${TIDY:-clang-tidy-14}
command -v "$TIDY" >/dev/null || { echo "error: $TIDY not found (apt-get install clang-tidy-14)" >&2; exit 1; }

echo "== configure ($BUILD_DIR, clang, compile_commands.json only)"
CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DPEERUP_TESTS=OFF \
  -DPEERUP_BENCH=OFF -DPEERUP_FUZZ=OFF >/dev/null

if [ "$#" -gt 0 ]; then
  files=("$@")
elif [ -n "${TIDY_CHANGED_FROM:-}" ]; then
  mapfile -t files < <(git diff --name-only --diff-filter=AM "$TIDY_CHANGED_FROM" -- 'src/*.cpp')
else
  mapfile -t files < <(find src -name '*.cpp' | sort)
fi
if [ "${#files[@]}" -eq 0 ]; then
  echo "tidy: no files to check"
  exit 0
fi

echo "== clang-tidy (${#files[@]} files, $JOBS jobs)"
log_dir="$BUILD_DIR/tidy-logs"
rm -rf "$log_dir"
mkdir -p "$log_dir"
started=$(date +%s)
# g++-only warning flags in cmake/warnings.cmake must not become clang errors.
printf '%s\n' "${files[@]}" | xargs -P "$JOBS" -I{} sh -c '
  log="$1/$(echo "$2" | tr / _).log"
  if ! nice -n 10 "$3" -p "$4" --quiet --extra-arg=-Wno-unknown-warning-option "$2" >"$log" 2>&1; then
    echo "  FAIL $2"
  fi' _ "$log_dir" {} "$TIDY" "$BUILD_DIR"

failed=$(grep -l -E '(warning|error):' "$log_dir"/*.log 2>/dev/null || true)
elapsed=$(( $(date +%s) - started ))
if [ -n "$failed" ]; then
  echo
  for f in $failed; do grep -E -A3 '(warning|error):' "$f"; done
  echo
  echo "tidy: findings in $(echo "$failed" | wc -l) files (${elapsed}s); logs in $log_dir"
  exit 1
fi
echo "tidy: ${#files[@]} files clean (${elapsed}s)"
