#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, replays every seed and
# regression input, then fuzzes each target for a fixed time and prints a table.
#
#   scripts/fuzz.sh [seconds-per-target]   default 20; 0 = replay only (for CI)
#
# Environment:
#   BUILD_DIR     build directory (default: build-fuzz)
#   JOBS          parallel build jobs and fuzz runs (default: 1)
#   FUZZ_JOBS     fuzz runs at a time (default: JOBS)
#   FUZZ_TARGETS  space-separated subset, e.g. "yamux_session noise_handshake"
#
# Fuzzing runs on a copy of each corpus under $BUILD_DIR/fuzz-work, never on
# tests/fuzz/corpus itself; crash inputs land in $BUILD_DIR/fuzz-artifacts.
# Exits non-zero if any replay or fuzz run crashed. Total time is roughly
# (number of targets) x (seconds-per-target), plus the build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SECONDS_PER_TARGET=${1:-20}
BUILD_DIR=${BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-1}
SRC_DIR=tests/fuzz

if ! [[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 [seconds-per-target]" >&2
  exit 2
fi
for tool in clang clang++; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
done

if [ -n "${FUZZ_TARGETS:-}" ]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
else
  targets=()
  for src in "$SRC_DIR"/fuzz_*.cpp; do
    name=$(basename "$src" .cpp)
    targets+=("${name#fuzz_}")
  done
fi

echo "== configure ($BUILD_DIR, clang, PEERUP_FUZZ=ON)"
CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DPEERUP_FUZZ=ON -DPEERUP_TESTS=OFF -DPEERUP_BENCH=OFF >/dev/null

echo "== build (${#targets[@]} targets)"
nice -n 10 cmake --build "$BUILD_DIR" -j "$JOBS" --target "${targets[@]/#/fuzz_}"

bin_dir="$BUILD_DIR/tests/fuzz"
artifacts="$BUILD_DIR/fuzz-artifacts"
work="$BUILD_DIR/fuzz-work"
mkdir -p "$artifacts" "$work"
failed=()

# Seed and regression files of one target (files, not directories, so libFuzzer
# only reads them).
inputs_of() {
  local t=$1
  for kind in corpus regressions; do
    if [ -d "$SRC_DIR/$kind/$t" ]; then
      find "$SRC_DIR/$kind/$t" -type f ! -name '.*' -print
    fi
  done
}

echo "== replay corpus + regressions"
for t in "${targets[@]}"; do
  mapfile -t files < <(inputs_of "$t")
  if [ "${#files[@]}" -eq 0 ]; then
    echo "  $t: no inputs"
    continue
  fi
  mkdir -p "$artifacts/$t"
  if "$bin_dir/fuzz_$t" -artifact_prefix="$artifacts/$t/" "${files[@]}" \
      >"$work/$t.replay.log" 2>&1; then
    echo "  $t: ${#files[@]} inputs ok"
  else
    echo "  $t: FAILED (see $work/$t.replay.log)"
    failed+=("$t (replay)")
  fi
done

# One target's fuzz run: its table row goes to $work/$t.row, a failure line to
# $work/$t.failed. Runs in the background, FUZZ_JOBS at a time.
fuzz_one() {
  local t=$1 corpus="$work/$1/corpus" log="$work/$1.log" status=ok
  rm -rf "$corpus" "$work/$t.failed"
  mkdir -p "$corpus" "$artifacts/$t"
  while IFS= read -r f; do cp "$f" "$corpus/"; done < <(inputs_of "$t")
  "$bin_dir/fuzz_$t" "$corpus" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/$t/" >"$log" 2>&1 ||
    status=CRASH
  local execs rate ft0 ft1 new_ft="-"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1) || true
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1) || true
  # Coverage features gained during this run: ft at the end minus ft after loading the corpus.
  ft0=$(grep -m1 'INITED' "$log" | sed -n 's/.* ft: \([0-9]*\).*/\1/p') || true
  ft1=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.* ft: \([0-9]*\).*/\1/p') || true
  if [ -n "$ft0" ] && [ -n "$ft1" ]; then new_ft=$((ft1 - ft0)); fi
  if [ "$status" = CRASH ]; then
    echo "$t (fuzz: $(grep -m1 -o 'Test unit written to .*' "$log" || echo "see $log"))" >"$work/$t.failed"
    # CI keeps only this output, not build-fuzz: print why it failed and the
    # input itself (libFuzzer's Base64 line), so the crash can be rebuilt from
    # the log with `base64 -d`.
    {
      echo "  --- $t: failure from $log"
      grep -v -E '^ +#[0-9]+ |^#[0-9]+|^(INFO|NOTE|MS):|^ +Combine|^0x|^$' "$log" |
        tail -n 12 | cut -c 1-2000 | sed 's/^/    /' || true
    } >>"$work/$t.failed.log"
  fi
  printf '%-20s %12s %9s %8s %8s  %s\n' "$t" "${execs:--}" "${rate:--}" "${ft1:--}" \
    "$new_ft" "$status" >"$work/$t.row"
  echo "  $t: $status"
}

if [ "$SECONDS_PER_TARGET" -gt 0 ]; then
  # Each libFuzzer run is one process on one core: FUZZ_JOBS (default JOBS)
  # of them at a time halve the wall time on 2 cores, with the same
  # executions per target.
  fuzz_jobs=${FUZZ_JOBS:-$JOBS}
  echo "== fuzz ${SECONDS_PER_TARGET}s per target, $fuzz_jobs at a time"
  running=0
  for t in "${targets[@]}"; do
    rm -f "$work/$t.row" "$work/$t.failed" "$work/$t.failed.log"
    if [ "$running" -ge "$fuzz_jobs" ]; then
      wait -n || true
      running=$((running - 1))
    fi
    fuzz_one "$t" &
    running=$((running + 1))
  done
  wait || true
  echo
  printf '%-20s %12s %9s %8s %8s  %s\n' target executions exec/s features new status
  for t in "${targets[@]}"; do
    if [ -f "$work/$t.row" ]; then cat "$work/$t.row"; else printf '%-20s  did not finish\n' "$t"; failed+=("$t (fuzz: no result)"); fi
    if [ -f "$work/$t.failed" ]; then
      cat "$work/$t.failed.log"
      failed+=("$(cat "$work/$t.failed")")
    fi
  done
fi

if [ "${#failed[@]}" -gt 0 ]; then
  echo
  echo "FAILED:"
  printf '  %s\n' "${failed[@]}"
  echo "Crash inputs: $artifacts/<target>/. Reproduce with $bin_dir/fuzz_<target> <file>;"
  echo "after fixing, copy the input to tests/fuzz/regressions/<target>/."
  exit 1
fi
echo "fuzz: all ok"
