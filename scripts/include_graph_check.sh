#!/usr/bin/env bash
# The layering of include/hnn, checked on every #include "hnn/..." line (issue 18, item 2):
#   core < kernels < tensor, autograd < ops < cuda < nn, optim, data, io, utils, distributed
# A file may include its own layer and the layers below it, with two further rules:
#   - only ops/, cuda/ and kernels/ itself include kernels/ (everything else goes through an op);
#   - core/ includes core/ only (the CUDA backend registers its storage from hnn/cuda.hpp).
# The tensor layer's method surface may use ops, as PyTorch's Tensor methods do: the umbrella tensor.hpp,
# tensor/print.hpp, tensor/any_tensor.hpp (a tensor of any dtype: cast, copy and print are Tensor
# methods defined in ops/copy.hpp), autograd/backward.hpp and autograd/gradcheck.hpp.
# Prints every violation as FILE:LINE: message and exits 1 when there is one.
#   bash scripts/include_graph_check.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../include"

layer_of() {  # layer_of <path under include/>: prints "rank name"
  case $1 in
    hnn/core/*) echo "0 core" ;;
    hnn/kernels/*) echo "1 kernels" ;;
    hnn/tensor/* | hnn/autograd/* | hnn/tensor.hpp) echo "2 tensor" ;;
    hnn/ops/*) echo "3 ops" ;;
    hnn/cuda/* | hnn/cuda.hpp) echo "4 cuda" ;;
    hnn/nn/* | hnn/optim/* | hnn/data/* | hnn/io/* | hnn/utils/* | hnn/distributed/* | hnn/impl/*) echo "5 top" ;;
    hnn/nn.hpp | hnn/optim.hpp | hnn/data.hpp | hnn/io.hpp | hnn/utils.hpp | hnn/distributed.hpp) echo "5 top" ;;
    hnn/hnn.hpp) echo "6 umbrella" ;;
    *) echo "? unknown" ;;
  esac
}

may_use_ops() {
  case $1 in
    hnn/tensor.hpp | hnn/tensor/print.hpp | hnn/tensor/any_tensor.hpp | hnn/autograd/backward.hpp | \
      hnn/autograd/gradcheck.hpp) return 0 ;;
  esac
  return 1
}

violations=0
report() {
  echo "$1: $2"
  violations=$((violations + 1))
}

while IFS= read -r file; do
  read -r rank name < <(layer_of "$file")
  if [[ $rank == "?" ]]; then
    report "$file:1" "not in any layer: add it to scripts/include_graph_check.sh's table"
    continue
  fi
  while IFS=: read -r line target; do
    read -r trank tname < <(layer_of "$target")
    if [[ $trank == "?" ]]; then
      report "$file:$line" "includes $target, which is not in any layer"
    elif [[ $name == core && $tname != core ]]; then
      report "$file:$line" "core/ includes core/ only, not $target ($tname)"
    elif [[ $tname == kernels && $name != kernels && $name != ops && $name != cuda ]]; then
      report "$file:$line" "only ops/, cuda/ and kernels/ include kernels/; $name includes $target"
    elif ((trank > rank)) && ! { [[ $tname == ops ]] && may_use_ops "$file"; }; then
      report "$file:$line" "$name (layer $rank) includes $target from the higher layer $tname ($trank)"
    fi
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]hnn/' "$file" |
    sed -E 's/^([0-9]+):.*["<](hnn\/[^">]+)[">].*/\1:\2/')
done < <(find hnn -type f \( -name '*.hpp' -o -name '*.cuh' -o -name '*.cu' -o -name '*.h' \) | sort)

if ((violations)); then
  echo "include graph: $violations violation(s) of the layering above"
  exit 1
fi
echo "include graph: $(find hnn -type f | wc -l) files, layering respected"
