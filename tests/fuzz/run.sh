#!/usr/bin/env bash
# `make fuzz`: configures BUILD with clang + libFuzzer + ASan + UBSan (only on
# first use), builds the fuzz targets, and runs each for SECONDS on a working
# copy of its seed corpus (BUILD/fuzz-corpus/<target>; the repository's
# tests/fuzz/corpus/ is never written). Exits non-zero on the first target
# that finds a crash, a leak, a sanitizer report or a timeout; its input is
# saved as BUILD/fuzz-artifacts/<target>/crash-* (see README.md to reproduce).
#
#   tests/fuzz/run.sh BUILD SECONDS TARGET...
# KSIM_BUILD_LOCK=/tmp/ksim-build.lock serialises configure+build with other
# builds on a shared machine (flock), never the fuzzing itself.
set -euo pipefail
build=$1 seconds=$2
shift 2
targets=("$@")
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/fuzz
lock=()
[ -n "${KSIM_BUILD_LOCK:-}" ] && lock=(flock "$KSIM_BUILD_LOCK")
cxx=${FUZZ_CXX:-clang++}

configure=()
if [ ! -f "$build/CMakeCache.txt" ]; then
  configure=(cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Fuzz -DCMAKE_CXX_COMPILER="$cxx"
             -DCMAKE_PROJECT_INCLUDE="$here/fuzz_build.cmake")
fi
mkdir -p "$build/fuzz-logs"
echo "fuzz: building $(printf 'fuzz_%s ' "${targets[@]}")in $build (log $build/fuzz-logs/build.log)"
if ! "${lock[@]}" sh -c "${configure[*]:+${configure[*]} &&} cmake --build '$build' -j${JOBS:-2} --target $(printf 'fuzz_%s ' "${targets[@]}")" \
    >"$build/fuzz-logs/build.log" 2>&1; then
  grep -E 'error|Error' "$build/fuzz-logs/build.log" | head -30 >&2
  echo "fuzz: build failed (see $build/fuzz-logs/build.log)" >&2
  exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=0:strict_string_checks=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in "${targets[@]}"; do
  corpus=$build/fuzz-corpus/$t artifacts=$build/fuzz-artifacts/$t log=$build/fuzz-logs/$t.log
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  [ -d "$here/corpus/$t" ] && cp -n "$here/corpus/$t"/* "$corpus"/ 2>/dev/null || true
  dict=()
  [ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
  echo "fuzz $t: ${seconds}s, corpus $(ls "$corpus" | wc -l) inputs, log $log"
  rc=0
  "$build/tests/fuzz/fuzz_$t" "${dict[@]}" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1 || rc=$?
  done_line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  echo "fuzz $t: exit=$rc execs=${execs:-?} exec/s=${speed:-?} corpus=$(ls "$corpus" | wc -l) | ${done_line:-no stats}"
  if [ "$rc" -ne 0 ]; then
    echo "fuzz $t: FAILED — last lines of $log:" >&2
    grep -vE '^#[0-9]+ ' "$log" | tail -40 >&2
    ls "$artifacts" >&2
    status=1
    break
  fi
done
exit $status
