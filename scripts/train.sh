#!/usr/bin/env bash
# Sets up the machine, builds the examples in build/ (Release) and trains LeNet with batch norm
# on Fashion-MNIST (/usr/share/datasets/fashion-mnist from the dataset-fashion-mnist package).
# Arguments go to the trainer, e.g.  bash scripts/train.sh --help
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

jobs=$(nproc)
generator=()
[[ -f build/CMakeCache.txt ]] || generator=(-G Ninja)  # keep whatever an existing build dir uses
# Same configuration as scripts/test.sh so the two share one build tree; only examples are built.
# With MPI (installed by setup.sh) the trainers can also run data-parallel under mpirun.
mpi=OFF
command -v mpicxx >/dev/null && mpi=ON
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DHNN_BUILD_TESTS=ON -DHNN_BUILD_EXAMPLES=ON \
  -DHNN_WITH_MPI="$mpi"
cmake --build build -j "$jobs" --target hnn_examples

# The LeNet-BN trainer (examples/lenet.cpp) is picked up automatically once it exists: the
# examples CMakeLists builds every examples/*.cpp, and this only checks which binary is there.
if [[ -x build/examples/lenet ]]; then
  exec build/examples/lenet "$@"
elif [[ -x build/examples/batch_norm_basics ]]; then
  echo "train: build/examples/lenet does not exist yet; running build/examples/batch_norm_basics" >&2
  exec build/examples/batch_norm_basics  # the trainer's arguments do not apply here
else
  echo "train: no trainer built (expected build/examples/lenet from examples/lenet.cpp)" >&2
  exit 1
fi
