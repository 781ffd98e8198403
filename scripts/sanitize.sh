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
cmake --build build-asan -j "$jobs"

# LeakSanitizer is part of this check (on by default with ASan on x86_64 Linux): the last setting of an
# option wins, so detect_leaks=1 goes after whatever ASAN_OPTIONS the caller has.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}
ctest --test-dir build-asan --output-on-failure -j "$jobs" -LE '^install$' "$@"
