#!/usr/bin/env bash
# What including hnn costs a user's build: wall time of g++ on small translation units, median of N runs
# (default 5), with libtorch's <torch/torch.h> as the anchor when Debian's libtorch-dev is installed.
#   bash benchmarks/compile_time.sh [RUNS]
# Rows: a translation unit that only includes the header (-fsyntax-only: parsing and template
# definitions), and a small training program (Conv2d, BatchNorm2d, ReLU, Linear, cross entropy, one SGD
# step) compiled and linked at -O2 with each library. Flags are a user's plain line: g++ -std=c++20
# -I include -I /usr/include/eigen3 (no OpenMP, no zlib). Times are wall seconds on this machine; run it
# on a quiet machine and compare rows of one run only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${1:-5}
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "usage: bash benchmarks/compile_time.sh [RUNS]" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

hnn_flags=(-std=c++20 -I "$PWD/include" -I /usr/include/eigen3)
torch_include=/usr/include/torch/csrc/api/include
torch_flags=(-std=c++17 -I "$torch_include")

# median_seconds COMMAND...: runs COMMAND $runs times, prints the median wall time in seconds.
median_seconds() {
  local times=() start end
  for ((k = 0; k < runs; ++k)); do
    start=$(date +%s.%N)
    "$@" >/dev/null || return 1
    end=$(date +%s.%N)
    times+=("$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f", m }'
}

# row LABEL FILE FLAGS...: one line of the table (the file comes first, so FLAGS may end in -l options).
row() {
  local label=$1 file=$2
  shift 2
  local seconds
  seconds=$(median_seconds g++ "$file" "$@") || { echo "compile_time.sh: g++ $file $* failed" >&2; exit 1; }
  printf '%-48s %6s s\n' "$label" "$seconds"
}

include_only() { printf '#include <%s>\nint main() {}\n' "$1" >"$work/$2.cpp"; }
include_only Eigen/Dense eigen
include_only hnn/tensor.hpp tensor
include_only hnn/nn.hpp nn
include_only hnn/hnn.hpp hnn
include_only torch/torch.h torch

cat >"$work/train_hnn.cpp" <<'EOF'
#include <hnn/hnn.hpp>
int main() {
  hnn::Generator gen(0);
  hnn::nn::Sequential model{hnn::nn::Conv2d(hnn::nn::Conv2dOptions(1, 6, 5)), hnn::nn::BatchNorm2d(6),
                            hnn::nn::ReLU(), hnn::nn::Flatten(), hnn::nn::Linear(6 * 24 * 24, 10)};
  hnn::optim::SGD optimizer(model.parameters(), hnn::optim::SGDOptions(0.1));
  const auto x = hnn::randn<float>({8, 1, 28, 28}, gen);
  const auto target = hnn::tensor<int64_t>({0, 1, 2, 3, 4, 5, 6, 7}, {8});
  hnn::nn::CrossEntropyLoss criterion;
  auto loss = criterion(model(x), target);
  optimizer.zero_grad();
  loss.backward();
  optimizer.step();
  return loss.item() > 0 ? 0 : 1;
}
EOF
cat >"$work/train_torch.cpp" <<'EOF'
#include <torch/torch.h>
int main() {
  torch::manual_seed(0);
  torch::nn::Sequential model(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 6, 5)), torch::nn::BatchNorm2d(6),
                              torch::nn::ReLU(), torch::nn::Flatten(), torch::nn::Linear(6 * 24 * 24, 10));
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.1));
  const auto x = torch::randn({8, 1, 28, 28});
  const auto target = torch::arange(8);
  torch::nn::CrossEntropyLoss criterion;
  auto loss = criterion(model->forward(x), target);
  optimizer.zero_grad();
  loss.backward();
  optimizer.step();
  return loss.item<float>() > 0 ? 0 : 1;
}
EOF

echo "compile time, median of $runs (g++ $(g++ -dumpfullversion), $(nproc) cores):"
row "#include <Eigen/Dense> (-fsyntax-only)" "$work/eigen.cpp" "${hnn_flags[@]}" -fsyntax-only
row "#include <hnn/tensor.hpp> (-fsyntax-only)" "$work/tensor.cpp" "${hnn_flags[@]}" -fsyntax-only
row "#include <hnn/nn.hpp> (-fsyntax-only)" "$work/nn.cpp" "${hnn_flags[@]}" -fsyntax-only
row "#include <hnn/hnn.hpp> (-fsyntax-only)" "$work/hnn.cpp" "${hnn_flags[@]}" -fsyntax-only
row "small training program, hnn (-O2, linked)" "$work/train_hnn.cpp" "${hnn_flags[@]}" -O2 -o "$work/train_hnn"
"$work/train_hnn" || { echo "compile_time.sh: the hnn program did not run" >&2; exit 1; }
if [[ -f $torch_include/torch/torch.h ]]; then
  row "#include <torch/torch.h> (-fsyntax-only)" "$work/torch.cpp" "${torch_flags[@]}" -fsyntax-only
  row "small training program, libtorch (-O2, linked)" "$work/train_torch.cpp" "${torch_flags[@]}" -O2 \
    -o "$work/train_torch" -ltorch -ltorch_cpu -lc10
  "$work/train_torch" || { echo "compile_time.sh: the libtorch program did not run" >&2; exit 1; }
else
  echo "libtorch-dev not installed: no anchor rows (apt-get install libtorch-dev)"
fi
