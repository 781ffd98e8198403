#!/usr/bin/env bash
# Data-parallel LeNet-BN throughput (issue 9): builds benchmarks/distributed_lenet.cpp with mpicxx and runs
# it as 1 rank x 1 thread, 1 rank x 2 threads and 2 ranks x 1 thread (SyncBatchNorm, then per-rank
# BatchNorm), REPEATS times each, alternating, so the machine's noise hits every configuration alike.
# Prints every run's line (step time, samples/s, gradient bytes, all-reduce share); benchmarks/README.md
# holds the table and the scaling model built from them.
#   bash scripts/bench_distributed.sh [REPEATS=3] [STEPS=60]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repeats=${1:-3}
steps=${2:-60}

bash scripts/setup.sh >/dev/null
bin=build/anchors/distributed_lenet
mkdir -p build/anchors
if [[ ! $bin -nt benchmarks/distributed_lenet.cpp ]]; then
  echo "bench_distributed: building $bin" >&2
  mpicxx -std=c++20 -O3 -march=native -fopenmp -DHNN_WITH_OPENMP -DHNN_WITH_MPI -I include \
    -isystem /usr/include/eigen3 benchmarks/distributed_lenet.cpp -o "$bin"
fi

mpirun=(mpirun --allow-run-as-root --oversubscribe)
for ((r = 1; r <= repeats; ++r)); do
  OMP_NUM_THREADS=1 "$bin" --steps "$steps"
  OMP_NUM_THREADS=2 "$bin" --steps "$steps"
  "${mpirun[@]}" -x OMP_NUM_THREADS=1 -np 2 "$bin" --steps "$steps"
  "${mpirun[@]}" -x OMP_NUM_THREADS=1 -np 2 "$bin" --steps "$steps" --local-bn 1
done
