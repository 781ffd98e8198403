#!/usr/bin/env bash
# Coverage-guided fuzzing of every file parser (libFuzzer + AddressSanitizer + UndefinedBehaviorSanitizer,
# clang 14): builds the harnesses of tests/fuzz/*_fuzz.cpp, runs each for SECONDS seconds, one after the
# other, and prints one line per target:  target=NAME execs=N crashes=K
# Exits non-zero when any target found a crash, hang (> 1 s), leak or allocation over 256 MiB; the input
# is left in $HNN_FUZZ_BUILD_DIR/findings/NAME/ (turn it into a test under tests/fuzz/regressions/).
#   bash scripts/fuzz.sh 20                      # the CI smoke: 20 s per target
#   bash scripts/fuzz.sh 600 csv safetensors     # only some targets
#   bash scripts/fuzz.sh --make-corpus           # regenerate the committed seeds in tests/fuzz/corpus/
# Each run starts from the seeds, the regression inputs and what earlier runs found (kept in
# $HNN_FUZZ_BUILD_DIR/corpus/NAME). Environment: HNN_FUZZ_BUILD_DIR (default build-fuzz),
# HNN_FUZZ_JOBS (parallel compiles, default nproc), HNN_FUZZ_NICE (nice level of the fuzzers, default 0).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
(($# >= 1)) || usage

bash scripts/setup.sh clang-14 libfuzzer-14-dev >/dev/null

build_dir=${HNN_FUZZ_BUILD_DIR:-build-fuzz}
jobs=${HNN_FUZZ_JOBS:-$(nproc)}
mkdir -p "$build_dir"
cxx=(clang++-14)
command -v ccache >/dev/null && cxx=(ccache clang++-14)
common_flags=(-std=c++20 -g -I include -isystem /usr/include/eigen3 -DHNN_WITH_ZLIB)
fuzz_flags=(-O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
            -fno-omit-frame-pointer "${common_flags[@]}")

if [[ $1 == --make-corpus ]]; then
  "${cxx[@]}" -O1 "${common_flags[@]}" -DHNN_SOURCE_DIR="\"$PWD\"" tests/fuzz/make_corpus.cpp \
    -o "$build_dir/make_corpus" -lz
  rm -rf tests/fuzz/corpus
  "$build_dir/make_corpus" tests/fuzz/corpus
  exit 0
fi

seconds=$1
shift
[[ $seconds =~ ^[0-9]+$ ]] || usage
targets=("$@")
if ((${#targets[@]} == 0)); then
  for source in tests/fuzz/*_fuzz.cpp; do
    name=$(basename "$source" .cpp)
    targets+=("${name%_fuzz}")
  done
fi

# Build what is out of date: a harness is rebuilt when it or a header it includes (listed by -MMD in
# NAME.d) is newer than its binary.
stale=()
for name in "${targets[@]}"; do
  source=tests/fuzz/${name}_fuzz.cpp
  [[ -f $source ]] || { echo "fuzz.sh: no harness $source" >&2; exit 2; }
  binary=$build_dir/$name
  if [[ ! -x $binary || ! -f $binary.d ]]; then
    stale+=("$name")
    continue
  fi
  for dependency in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$binary.d"); do
    if [[ ! -e $dependency || $dependency -nt $binary ]]; then
      stale+=("$name")
      break
    fi
  done
done
if ((${#stale[@]} > 0)); then
  echo "fuzz.sh: building ${stale[*]} (${jobs} at a time)" >&2
  printf '%s\n' "${stale[@]}" | xargs -P "$jobs" -I{} \
    "${cxx[@]}" "${fuzz_flags[@]}" -MMD -MF "$build_dir/{}.d" tests/fuzz/{}_fuzz.cpp -o "$build_dir/{}" -lz
fi

# A small quarantine: ASan's default 256 MiB of freed memory would alone trip the 256 MiB RSS limit.
export ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=16:allocator_may_return_null=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}
failed=0
for name in "${targets[@]}"; do
  corpus=$build_dir/corpus/$name findings=$build_dir/findings/$name log=$build_dir/$name.log
  mkdir -p "$corpus" "$findings"
  inputs=("$corpus" "tests/fuzz/corpus/$name")
  [[ -d tests/fuzz/regressions/$name ]] && inputs+=("tests/fuzz/regressions/$name")
  dict=()  # tests/fuzz/NAME.dict; safetensors.dict for every target whose input is a safetensors file
  [[ -f tests/fuzz/$name.dict ]] && dict=(-dict="tests/fuzz/$name.dict")
  case $name in safetensors_* | checkpoint) dict=(-dict=tests/fuzz/safetensors.dict) ;; esac
  before=$(find "$findings" -type f | wc -l)
  # New inputs go to the first folder only; the committed seeds and regressions are read, never written.
  status=0
  nice -n "${HNN_FUZZ_NICE:-0}" "$build_dir/$name" "${inputs[@]}" "${dict[@]}" -max_total_time="$seconds" \
    -rss_limit_mb=256 -malloc_limit_mb=256 -timeout=1 -print_final_stats=1 \
    -artifact_prefix="$findings/" >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  crashes=$(($(find "$findings" -type f | wc -l) - before))
  ((status == 0 || crashes > 0)) || crashes=1  # died without leaving an input: still a failure
  echo "target=$name execs=${execs:-0} crashes=$crashes"
  if ((crashes > 0)); then
    failed=1
    echo "fuzz.sh: $name failed (exit $status); input in $findings/, log $log:" >&2
    grep -m 1 -A 30 -E '^(==[0-9]+==ERROR|.*runtime error:|==[0-9]+== ERROR: libFuzzer)' "$log" >&2 || tail -n 40 "$log" >&2
  fi
done
exit "$failed"
