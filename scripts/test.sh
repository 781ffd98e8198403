#!/usr/bin/env bash
# Sets up the machine, builds hnn's tests and examples in build/ (Release) and runs the test
# suite. Exits non-zero when anything fails. Extra arguments go to ctest, e.g.
#   bash scripts/test.sh -L nn        # only the nn tests
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

jobs=$(nproc)
generator=()
[[ -f build/CMakeCache.txt ]] || generator=(-G Ninja)  # keep whatever an existing build dir uses
# MPI (installed by setup.sh) turns on the distributed tests (label "distributed", run under mpiexec).
mpi=OFF
command -v mpicxx >/dev/null && mpi=ON
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DHNN_BUILD_TESTS=ON -DHNN_BUILD_EXAMPLES=ON \
  -DHNN_WITH_MPI="$mpi"
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs" "$@"
