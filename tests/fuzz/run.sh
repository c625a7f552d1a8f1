#!/usr/bin/env bash
# Build the libFuzzer targets (build-fuzz/, clang, ASan+UBSan) when needed and
# run each for SECONDS on a copy of its seed corpus (tests/fuzz/corpus/TARGET;
# the copy grows, the repository's corpus does not).
#
# Usage: tests/fuzz/run.sh [--build-only] [SECONDS] [TARGET...]
#   SECONDS   per target, default 30; TARGET: sim_request, k8s_watch, ... (default: all)
# Env: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_JOBS (build jobs, default 2),
#      FUZZ_OUT (logs and crashing inputs, default $FUZZ_BUILD_DIR/fuzz-out).
# Prints one line per target: executions, seconds, result. Exits 1 when any
# target crashed, leaked, timed out or ran out of memory (its input is kept
# in FUZZ_OUT/TARGET/), 2 on a usage or build error.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
out=${FUZZ_OUT:-$build/fuzz-out}

build_only=0
if [ "${1:-}" = --build-only ]; then
  build_only=1
  shift
fi
secs=${1:-30}
[ $# -gt 0 ] && shift
case "$secs" in
  '' | *[!0-9]*) echo "run.sh: SECONDS must be a whole number, not '$secs'" >&2; exit 2 ;;
esac
if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in tests/fuzz/fuzz_*.c; do
    t=${f#tests/fuzz/fuzz_}
    t=${t%.c}
    [ "$t" = util ] || targets+=("$t")
  done
fi
for t in "${targets[@]}"; do
  if [ ! -f "tests/fuzz/fuzz_$t.c" ] || [ ! -d "tests/fuzz/corpus/$t" ]; then
    echo "run.sh: unknown target '$t' (no tests/fuzz/fuzz_$t.c or corpus/$t/)" >&2
    exit 2
  fi
done

# -O1: fast enough to fuzz, still good stack traces; assertions stay on.
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS=-O1 \
    -DENABLE_FUZZ=ON -DWERROR=ON -DBUILD_TESTING=OFF >/dev/null || exit 2
fi
cmake --build "$build" -j"${FUZZ_JOBS:-2}" --target "${targets[@]/#/fuzz_}" >/dev/null || {
  echo "run.sh: the fuzz build failed (cmake --build $build)" >&2
  exit 2
}
[ "$build_only" = 1 ] && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$out/$t"
  rm -f "$out/$t"/crash-* "$out/$t"/leak-* "$out/$t"/timeout-* "$out/$t"/oom-*
  cp -r "tests/fuzz/corpus/$t" "$work/$t"
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=("-dict=tests/fuzz/$t.dict")
  log=$out/$t.log
  rc=0
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$out/$t/" "${dict[@]}" "$work/$t" >"$log" 2>&1 || rc=$?
  done_line=$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1 || true)
  runs=$(echo "$done_line" | awk '{print $2}')
  took=$(echo "$done_line" | awk '{print $5}')
  if [ "$rc" -eq 0 ] && [ -n "$done_line" ]; then
    printf '%-18s %10s runs in %4s s  ok\n' "$t" "$runs" "$took"
  else
    failed=1
    printf '%-18s FAILED (exit %d); log %s, input(s): %s\n' "$t" "$rc" "$log" \
      "$(ls "$out/$t" 2>/dev/null | tr '\n' ' ')"
    grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY' "$log" |
      head -n 5 | sed 's/^/    /'
  fi
done
exit "$failed"
