#!/usr/bin/env bash
# The CUDA configuration, compile only (CI machines have nvcc but no GPU): configures build-cuda with
# HNN_WITH_CUDA=ON, builds only the CUDA targets (the hnn_cuda kernel library, the CUDA tests, and the
# cuDNN benchmark when libcudnn is there) through ccache, then runs `ctest -L cuda`, where the tests
# report themselves skipped (exit 77) without a GPU. Exits 0, saying so, when nvcc is missing.
# Architectures: HNN_CUDA_ARCHITECTURES (default 90 = H100/H200, enough for the CI compile check and a
# third of the time of the library default 75;80;90). Jobs: HNN_JOBS (default 2).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

NVCC=/usr/local/cuda/bin/nvcc
if [[ ! -x "$NVCC" ]] && ! command -v nvcc >/dev/null; then
  echo "cuda_build: no nvcc (looked for $NVCC and nvcc on PATH): the CUDA configuration is not built"
  exit 0
fi
[[ -x "$NVCC" ]] || NVCC=$(command -v nvcc)

build_dir=${HNN_CUDA_BUILD_DIR:-build-cuda}
archs=${HNN_CUDA_ARCHITECTURES:-90}
jobs=${HNN_JOBS:-2}

bench=OFF
targets=(hnn_cuda)
for test_source in tests/cuda/*_test.cpp; do  # every CUDA test: test_cuda_<stem>
  test_name=$(basename "$test_source" .cpp)
  targets+=("test_cuda_${test_name}")
done
if compgen -G "/usr/local/cuda/lib64/libcudnn.so*" >/dev/null || compgen -G "/usr/lib/*/libcudnn.so*" >/dev/null; then
  bench=ON
  targets+=(cuda_batch_norm_bench)
else
  echo "cuda_build: libcudnn not found, the CUDA benchmark is not built"
fi

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
fi

# With MPI (setup.sh installs Open MPI) the configuration compiles SyncBatchNorm on CUDA tensors too
# (tests/cuda/sync_batch_norm_cuda_test.cpp).
mpi=OFF
command -v mpicxx >/dev/null && mpi=ON
cmake -S . -B "$build_dir" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CUDA_COMPILER="$NVCC" \
  -DCMAKE_CUDA_ARCHITECTURES="$archs" \
  -DHNN_WITH_CUDA=ON -DHNN_WITH_MPI="$mpi" -DHNN_BUILD_TESTS=ON -DHNN_BUILD_EXAMPLES=OFF -DHNN_BUILD_BENCHMARKS="$bench" \
  "${launcher[@]}" >/dev/null
echo "cuda_build: configured $build_dir (CUDA architectures $archs, MPI $mpi, benchmark $bench)"

cmake --build "$build_dir" -j "$jobs" --target "${targets[@]}"

# Without a GPU every test is reported as skipped (SKIP_RETURN_CODE 77), which ctest counts as passing.
(cd "$build_dir" && ctest -L cuda --output-on-failure -j "$jobs")
