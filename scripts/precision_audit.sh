#!/usr/bin/env bash
# The precision audit (tests/ops/precision_test.cpp), PyTorch's special values (tests/ops/special_values_test.cpp)
# and the model-level LeNet-BN check (tests/nn/lenet_precision_test.cpp), each built two ways, as a user would:
# with the README's plain line (g++ -std=c++20 -O2, SSE2 only) and with -O3 -march=native -DHNN_WITH_OPENMP
# -fopenmp. Runs all six and writes the audit's table, hnn's error beside PyTorch's for every op, dtype, input
# class and gradient, to tests/ops/PRECISION.md (or to $1). Exits non-zero when any of them fails.
#   bash scripts/precision_audit.sh [output.md]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-tests/ops/PRECISION.md}

bash scripts/setup.sh >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/hnn-precision.XXXXXX")
trap 'rm -rf "$work"' EXIT
cxx=(g++)
command -v ccache >/dev/null && cxx=(ccache g++)
declare -A flags=([plain]="-O2" [native]="-O3 -march=native -DHNN_WITH_OPENMP -fopenmp")
# The audit, PyTorch's special values and the model-level LeNet-BN check, each built both ways (two at a time).
tests=(ops/precision_test ops/special_values_test nn/lenet_precision_test)

build() {  # build <plain|native> <test>
  local name
  name="$1-$(basename "$2")"
  # Relative paths only (the binaries run from the repository root and find tests/references there), so
  # ccache's entries serve every clone of the repository; compiled and linked in two steps, since ccache
  # caches compilations, never a compile-and-link call.
  # shellcheck disable=SC2086  # the flags are words
  if ! { "${cxx[@]}" -std=c++20 ${flags[$1]} -I include -I /usr/include/eigen3 -I tests/support \
           -c "tests/$2.cpp" -o "$work/$name.o" &&
         g++ ${flags[$1]} "$work/$name.o" /usr/lib/libCatch2WithMain.a -o "$work/$name"; } 2>"$work/$name.log"; then
    cat "$work/$name.log" >&2
    return 1
  fi
}
pids=()
for build_kind in plain native; do
  for test in "${tests[@]}"; do
    echo "precision audit: building tests/$test.cpp with g++ -std=c++20 ${flags[$build_kind]}"
    build "$build_kind" "$test" &
    pids+=($!)
    if (( ${#pids[@]} >= 2 )); then wait "${pids[0]}" || true; pids=("${pids[@]:1}"); fi
  done
done
for pid in "${pids[@]}"; do wait "$pid" || true; done

status=0
for build_kind in plain native; do
  for test in "${tests[@]}"; do
    name="$build_kind-$(basename "$test")"
    [[ -x $work/$name ]] || { echo "precision audit: $name did not build" >&2; status=1; continue; }
    if HNN_PRECISION_TABLE="$work/$build_kind.rows" OMP_NUM_THREADS=2 "$work/$name" | tail -n 2; then
      echo "precision audit: $name passed"
    else
      echo "precision audit: $name FAILED" >&2
      status=1
    fi
  done
done
[[ -s $work/plain.rows && -s $work/native.rows ]] || { echo "precision audit: no results" >&2; exit 1; }

# Both runs write their rows in the same order: one table with a column per build.
{
  echo "# Precision audit: hnn against PyTorch"
  echo
  echo "Written by \`bash scripts/precision_audit.sh\` ($(git rev-parse --short HEAD 2>/dev/null || echo unknown),"
  echo "$(g++ --version | head -n 1), $(grep -m 1 -o 'avx512f' /proc/cpuinfo || echo 'no AVX-512') on this machine)."
  echo "Each row: the largest error of hnn's result on an input class, built with the README's plain line"
  echo "(\`-O2\`) and with \`-O3 -march=native -DHNN_WITH_OPENMP -fopenmp\`, beside PyTorch 1.13's own error"
  echo "on the same inputs (tools/references/precision.py). Elementwise ops: maximum relative error over the"
  echo "elements whose exact value is a finite normal number of the dtype; reductions, matmul, linear, conv,"
  echo "batch norm and the losses: normwise, ||got - exact|| / ||exact||. The rule, checked by"
  echo "tests/ops/precision_test.cpp: hnn's error <= max(2x PyTorch's, 4 eps) (eps = 1.2e-7 float, 2.2e-16 double)."
  echo
  echo "| op | dtype | input | result | hnn -O2 | hnn -O3 native | PyTorch | rule |"
  echo "|---|---|---|---|---:|---:|---:|---|"
  paste "$work/plain.rows" "$work/native.rows" | awk -F '\t' '{
    verdict = ($7 == "ok" && $14 == "ok") ? "ok" : "WORSE"
    printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $12, $6, verdict
  }'
} >"$out"
echo "wrote $out ($(grep -c '^| [a-z]' "$out") rows, $(grep -c 'WORSE' "$out" || true) worse than the rule)"
exit $status
