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
# HNN_SANITIZE_LABELS (space-separated ctest labels, e.g. "robustness io data") limits the build and the run
# to the tests of those labels (a test target is named test_<label>_<file>, a contract program
# contract_<name>); .ci/run uses it to stay within CI's time budget. Unset: the whole suite, as
# scripts/test.sh has it: examples (and the CLI cases of the robustness catalogue that run them) and,
# when MPI is installed, the distributed tests under mpiexec.
read -r -a labels <<<"${HNN_SANITIZE_LABELS:-}"
examples=OFF mpi=OFF
if ((${#labels[@]} == 0)); then
  examples=ON
  command -v mpicxx >/dev/null && mpi=ON
fi
cmake -S . -B build-asan "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
  -DHNN_SANITIZE="address;undefined" -DHNN_BUILD_TESTS=ON -DHNN_BUILD_EXAMPLES="$examples" \
  -DHNN_WITH_MPI="$mpi" -DHNN_BUILD_BENCHMARKS=OFF
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
# Open MPI's own allocations that it never frees (tests/sanitizers/lsan.supp says which and why).
export LSAN_OPTIONS=suppressions=$PWD/tests/sanitizers/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}
ctest --test-dir build-asan --output-on-failure -j "$jobs" -LE '^(install|distributed)$' "$@"
if ((${#labels[@]} == 0)) || [[ " ${labels[*]} " == *" distributed "* ]]; then
  # Open MPI is built without frame pointers: only the slow unwinder records the library frames that the
  # suppressions match, so the distributed tests (mpiexec runs, examples included) run with it.
  ASAN_OPTIONS=$ASAN_OPTIONS:fast_unwind_on_malloc=0 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" -L '^distributed$' -LE '^install$' "$@"
fi
