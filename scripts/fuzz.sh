#!/bin/bash
# Long fuzzing runs (not part of CI; CI replays the saved corpus and crashes
# through ctest's fuzz_replay_* tests).
#
#   scripts/fuzz.sh TARGET SECONDS [LIBFUZZER_ARG...]
#   scripts/fuzz.sh all SECONDS            # every target in turn, SECONDS each
#   scripts/fuzz.sh list
#
# TARGET is fuzz_session_decode, fuzz_signed_payload, fuzz_legacy, fuzz_json,
# fuzz_config, fuzz_session_key or fuzz_pickle (the "fuzz_" may be left out).
#
# Builds the libFuzzer binaries with clang (-fsanitize=fuzzer,address,undefined)
# into build-fuzz-clang/ (installing clang and libFuzzer's runtime with apt-get
# when missing), then runs TARGET for SECONDS on a working copy of its corpus:
# new inputs go to build-fuzz-clang/corpus/TARGET/, the seeds in
# tests/fuzz/corpus/TARGET/ are only read. A crash, leak or timeout is saved to
# tests/fuzz/crashes/TARGET/ (keep it: the ctest replays it forever), and the
# script exits 1. The last libFuzzer status line (cov:, ft:, exec/s) is printed
# as "fuzz: TARGET ..." and the full log kept in build-fuzz-clang/logs/.
#
# Environment: FUZZ_JOBS=N runs N worker processes (libFuzzer -fork=N);
# FUZZ_MERGE=1 afterwards merges inputs that add coverage into the seed corpus
# (mind its size: tests/fuzz/make_corpus.py keeps it at 200 files a target).
set -euo pipefail

top=$(cd -- "$(dirname -- "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$top/build-fuzz-clang}
targets=(fuzz_session_decode fuzz_signed_payload fuzz_legacy fuzz_json fuzz_config fuzz_session_key fuzz_pickle)

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

[ $# -ge 1 ] || usage
if [ "$1" = list ]; then
  printf '%s\n' "${targets[@]}"
  exit 0
fi
[ $# -ge 2 ] || usage
target=$1 seconds=$2
shift 2
[[ $seconds =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a whole number, got '$seconds'" >&2; exit 2; }
if [ "$target" != all ]; then
  [[ $target == fuzz_* ]] || target=fuzz_$target
  printf '%s\n' "${targets[@]}" | grep -qx -- "$target" || { echo "fuzz.sh: unknown target '$target' (see: fuzz.sh list)" >&2; exit 2; }
fi

# --- tools: clang 14 and libFuzzer's runtime, from Debian
install_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  echo "fuzz.sh: installing ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}
"$top/scripts/deps.sh"
install_packages clang-14 libclang-rt-14-dev
cxx=$(command -v clang++-14 || command -v clang++)
if ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 &&
   ! echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' |
     "$cxx" -x c++ -fsanitize=fuzzer - -o /dev/null 2>/dev/null; then
  echo "fuzz.sh: $cxx cannot link -fsanitize=fuzzer (libFuzzer's runtime is in libclang-rt-14-dev)" >&2
  exit 1
fi

# --- build
cmake -S "$top/tests/fuzz" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
if [ "$target" = all ]; then
  ninja -C "$build" "${targets[@]}"
else
  ninja -C "$build" "$target"
fi

dict_for() {
  case $1 in
    fuzz_json | fuzz_signed_payload | fuzz_legacy) echo "$top/tests/fuzz/json.dict" ;;
    fuzz_config) echo "$top/tests/fuzz/config.dict" ;;
    fuzz_session_decode) echo "$top/tests/fuzz/session_decode.dict" ;;
    fuzz_pickle) echo "$top/tests/fuzz/pickle.dict" ;;
  esac
}

# --- run one target
run_target() {
  local t=$1 secs=$2
  shift 2
  local seeds=$top/tests/fuzz/corpus/$t work=$build/corpus/$t crashes=$top/tests/fuzz/crashes/$t
  local log=$build/logs/$t-$(date -u +%Y%m%dT%H%M%SZ).log
  mkdir -p "$seeds" "$work" "$crashes" "$build/logs"
  local args=(-max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1
              -artifact_prefix="$crashes/")
  local dict
  dict=$(dict_for "$t")
  [ -n "$dict" ] && args+=(-dict="$dict")
  [ -n "${FUZZ_JOBS:-}" ] && args+=(-fork="$FUZZ_JOBS" -ignore_crashes=0)
  echo "fuzz.sh: running $t for ${secs}s (log: ${log#"$top"/})" >&2
  local status=0
  # Leak checking is on (libFuzzer's default with ASan).
  ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$build/$t" "${args[@]}" "$@" "$work" "$seeds" >"$log" 2>&1 || status=$?
  # The last status line, e.g. "#812345 DONE cov: 1234 ft: 5678 corp: 321/40Kb ... exec/s: 13532 rss: 80Mb"
  local last
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  local runs
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | tail -n 1 | awk '{print $2}' || true)
  echo "fuzz: $t ${secs}s runs=${runs:-?} $(echo "$last" | tr -s "\t " "  ")"
  if [ "$status" -ne 0 ]; then
    echo "fuzz.sh: $t FAILED (exit $status); last lines of $log:" >&2
    tail -n 40 "$log" >&2
    grep -E 'Test unit written to' "$log" >&2 || true
    return 1
  fi
  if [ "${FUZZ_MERGE:-0}" = 1 ]; then
    "$build/$t" -merge=1 "$seeds" "$work" >>"$log" 2>&1
    echo "fuzz.sh: merged into ${seeds#"$top"/}: $(find "$seeds" -type f | wc -l) files" >&2
  fi
}

failed=0
if [ "$target" = all ]; then
  for t in "${targets[@]}"; do run_target "$t" "$seconds" "$@" || failed=1; done
else
  run_target "$target" "$seconds" "$@" || failed=1
fi
exit "$failed"
