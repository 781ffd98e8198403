#!/usr/bin/env bash
# Builds the tests with AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/ and runs them
# (not the "install" consumer tests, which build outside projects without sanitizers).
# Optimised lightly (-O1, line tables for the reports) with assertions on: quick to compile,
# still fast enough to run.
# Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

jobs=$(nproc)
generator=()
[[ -f build-asan/CMakeCache.txt ]] || generator=(-G Ninja)
cmake -S . -B build-asan "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
  -DHNN_SANITIZE="address;undefined" -DHNN_BUILD_TESTS=ON -DHNN_BUILD_EXAMPLES=OFF -DHNN_BUILD_BENCHMARKS=OFF
# HNN_SANITIZE_LABELS (space-separated ctest labels, e.g. "robustness io data") limits the build and the run
# to the tests of those labels (a test target is named test_<label>_<file>, a contract program
# contract_<name>); .ci/run uses it to stay within CI's time budget. Unset: the whole suite.
read -r -a labels <<<"${HNN_SANITIZE_LABELS:-}"
if ((${#labels[@]})); then
  targets=()
  while IFS= read -r target; do
    for label in "${labels[@]}"; do
      # contract_NAME builds ../shared/contract/NAME.cpp (label "contract").
      [[ $target == "test_${label}_"* || ($label == contract && $target == contract_*) ]] && targets+=("$target")
    done
  done < <(ninja -C build-asan -t targets all | sed -nE 's/^((test|contract)_[A-Za-z0-9_]+): .*/\1/p' | sort -u)
  ((${#targets[@]})) || { echo "sanitize: no test targets for labels: ${labels[*]}" >&2; exit 1; }
  echo "sanitize: ${#targets[@]} test executables for labels: ${labels[*]}"
  cmake --build build-asan -j "$jobs" --target "${targets[@]}"
  regex=$(IFS='|'; echo "^(${labels[*]})\$")
  set -- -L "$regex" "$@"
else
  cmake --build build-asan -j "$jobs"
fi

# LeakSanitizer is part of this check (on by default with ASan on x86_64 Linux): the last setting of an
# option wins, so detect_leaks=1 goes after whatever ASAN_OPTIONS the caller has.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}
ctest --test-dir build-asan --output-on-failure -j "$jobs" -LE '^install$' "$@"
