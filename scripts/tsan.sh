#!/usr/bin/env bash
# Builds the tests that run several threads with ThreadSanitizer in build-tsan/ (-O1 -g, tests only) and
# runs them; any report fails the run (halt_on_error=1). The threaded tests:
#   data/dataloader_test              the DataLoader's persistent prefetch worker
#   nn/concurrent_inference_test      four std::threads running one eval-mode LeNet-BN (and its kernels)
#   kernels/batch_norm_kernel_test    the OpenMP batch-norm kernels at 1-4 threads (barriers, merges)
# OpenMP: GCC's libgomp is not built with TSan, so TSan cannot see its barriers and team hand-offs and
# reports races that are not there; suppressing them would hide real ones in our parallel regions too.
# With clang and LLVM's Archer tool (libarcher.so, shipped with clang's libomp) the OpenMP runtime tells
# TSan its synchronisation, so the kernels are checked with OpenMP on: that is the build used when clang++
# and libarcher.so are found (ignore_noninstrumented_modules=1, as Archer asks, skips libomp's own
# accesses). Otherwise the build is GCC with HNN_WITH_OPENMP=OFF (kernels serial; the OpenMP test is
# then left out, since it would check nothing threaded).
# Extra arguments go to every test executable (Catch2 options, e.g. a test name).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# clang-14 and its OpenMP runtime (libomp-14-dev ships libarcher.so): the OpenMP-aware configuration.
bash scripts/setup.sh clang-14 libomp-14-dev

jobs=${HNN_JOBS:-$(nproc)}
targets=(test_data_dataloader_test test_nn_concurrent_inference_test)
archer=""
clang=$(command -v clang++ || command -v clang++-14 || true)
if [[ -n $clang ]]; then
  archer=$(find /usr/lib/llvm-*/lib "$(dirname "$(readlink -f "$clang")")/../lib" -maxdepth 1 -name libarcher.so \
    2>/dev/null | sort -V | tail -n 1 || true)
fi
if [[ -n $archer ]]; then
  cxx=$clang openmp=ON
  targets+=(test_kernels_batch_norm_kernel_test)
  echo "tsan: $cxx with OpenMP checked through Archer ($archer)"
else
  cxx=$(command -v g++) openmp=OFF
  echo "tsan: no clang++ with libarcher.so: $cxx with HNN_WITH_OPENMP=OFF (OpenMP kernels not checked)"
fi

# A build dir configured with another compiler cannot be switched in place.
if [[ -f build-tsan/CMakeCache.txt ]] && ! grep -qx "CMAKE_CXX_COMPILER:[A-Z]*=$cxx" build-tsan/CMakeCache.txt; then
  rm -rf build-tsan
fi
generator=()
[[ -f build-tsan/CMakeCache.txt ]] || generator=(-G Ninja)
cmake -S . -B build-tsan "${generator[@]}" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
  -DHNN_SANITIZE=thread -DHNN_WITH_OPENMP="$openmp" \
  -DHNN_BUILD_TESTS=ON -DHNN_BUILD_EXAMPLES=OFF -DHNN_BUILD_BENCHMARKS=OFF
cmake --build build-tsan -j "$jobs" --target "${targets[@]}"

export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1${TSAN_OPTIONS:+ $TSAN_OPTIONS}"
if [[ -n $archer ]]; then
  export TSAN_OPTIONS="ignore_noninstrumented_modules=1 $TSAN_OPTIONS"
  export OMP_TOOL_LIBRARIES=$archer
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}  # parallel regions need a team even on a one-core runner
fi
for target in "${targets[@]}"; do
  work="build-tsan/tests/work/$target"
  mkdir -p "$work"
  printf -- '--- %s (TSAN_OPTIONS=%s)\n' "$target" "$TSAN_OPTIONS"
  (cd "$work" && "../../$target" "$@")
done
echo "tsan: no data races reported in ${targets[*]}"
