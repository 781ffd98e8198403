#!/usr/bin/env bash
# Speed and memory of hnn's trainers next to libtorch's on the same recipes and data (issue 5):
# LeNet-BN (SGD 0.9, batch 256) and MLP-BN (Adam 1e-3, batch 64) on Fashion-MNIST, 2 threads.
# libtorch gets its best setting here: OpenBLAS instead of Debian's reference BLAS, one OpenBLAS
# thread (its threads fight OpenMP's on 2 cores) and torch::set_num_threads(2). Both sides time
# the training loop only (data already in memory) and report the median epoch's samples/s and the
# process's peak RSS. Runs alternate hnn / libtorch, ROUNDS times, so noise hits both alike.
#   bash scripts/compare_trainers.sh [EPOCHS=3] [ROUNDS=2]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
epochs=${1:-3}
rounds=${2:-2}
threads=2
data=/usr/share/datasets/fashion-mnist

bash scripts/setup.sh libtorch-dev libopenblas0-pthread python3
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DHNN_BUILD_EXAMPLES=ON >/dev/null
cmake --build build --target lenet mlp
mkdir -p build/anchors
if [[ ! build/anchors/libtorch_trainers -nt benchmarks/libtorch_trainers.cpp ]]; then
  echo "compare: building the libtorch anchor (about a minute)"
  g++ -std=c++17 -O2 -I/usr/include/torch/csrc/api/include benchmarks/libtorch_trainers.cpp \
    -o build/anchors/libtorch_trainers -ltorch -ltorch_cpu -lc10 -lz
fi

export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$threads
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for ((round = 1; round <= rounds; ++round)); do
  for model in lenet mlp; do
    line=$(build/examples/$model --epochs "$epochs" --threads "$threads" --data "$data" --quiet --no-checkpoint \
             --out "build/compare-runs/$model" |
           grep '^median_samples_per_s=')
    echo "hnn $model $line" | tee -a "$results"
    line=$(build/anchors/libtorch_trainers --model "$model" --epochs "$epochs" --threads "$threads" --data "$data" |
           grep '^median_samples_per_s=')
    echo "libtorch $model $line" | tee -a "$results"
  done
done

# Median over rounds per (side, model), then the ratios the issue asks for.
python3 - "$results" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    side, model, rest = line.split(maxsplit=2)
    kv = dict(re.findall(r"(\w+)=([0-9.]+)", rest))
    rows.setdefault((side, model), []).append((float(kv["median_samples_per_s"]), float(kv["peak_rss_mb"]),
                                              float(kv["test_acc"])))
print(f"\n{'model':8} {'hnn samples/s':>14} {'libtorch':>10} {'ratio':>6} {'hnn RSS MB':>11} {'libtorch':>9} {'ratio':>6}")
for model in ("lenet", "mlp"):
    h, t = rows[("hnn", model)], rows[("libtorch", model)]
    hs, ts = statistics.median(r[0] for r in h), statistics.median(r[0] for r in t)
    hm, tm = statistics.median(r[1] for r in h), statistics.median(r[1] for r in t)
    print(f"{model:8} {hs:14.0f} {ts:10.0f} {hs / ts:6.2f} {hm:11.1f} {tm:9.1f} {hm / tm:6.2f}")
PY
