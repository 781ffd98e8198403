#!/usr/bin/env bash
# Batch-norm benchmarks (issue 3): builds benchmarks/batch_norm_bench in build-bench (-O3, -march=native,
# OpenMP, libtorch and oneDNN anchors when installed) and runs it once per thread count, each in its own
# process (hnn, libtorch and oneDNN share libgomp's thread pool), with medians of 5 repetitions run in
# random order across all sides and shapes (the machine's memory bandwidth drifts by 2x over minutes;
# interleaved, the drift falls on every side alike rather than on whichever side ran during a dip),
# OPENBLAS_NUM_THREADS=1, and the same glibc malloc settings for every side (the binary sets them in
# main). Then prints, per thread count, the table of median times, GB/s and ratios from the JSON output.
#   bash scripts/bench.sh [THREADS...]            default: 1 2
#   MIN_TIME=0.2 FILTER='train/64x64' bash scripts/bench.sh 2
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
threads=("$@")
((${#threads[@]})) || threads=(1 2)
min_time=${MIN_TIME:-0.1}
filter=${FILTER:-}

bash scripts/setup.sh libtorch-dev libdnnl-dev ocl-icd-opencl-dev python3 >/dev/null
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DHNN_BUILD_BENCHMARKS=ON \
  -DHNN_BUILD_TESTS=OFF -DHNN_BUILD_EXAMPLES=OFF -DHNN_NATIVE=ON -DHNN_WITH_OPENMP=ON >/dev/null
cmake --build build-bench --target batch_norm_bench -j 1

out=build-bench/bench-results
mkdir -p "$out"
export OPENBLAS_NUM_THREADS=1 OMP_PROC_BIND=false
jsons=()
for t in "${threads[@]}"; do
  json="$out/batch_norm_${t}t.json"
  echo "bench: $t thread(s) -> $json" >&2
  HNN_BENCH_THREADS=$t OMP_NUM_THREADS=$t build-bench/benchmarks/batch_norm_bench \
    --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true \
    --benchmark_min_time="$min_time" ${filter:+--benchmark_filter="$filter"} \
    --benchmark_out="$json" --benchmark_out_format=json >/dev/null
  jsons+=("$json")
done

python3 - "${jsons[@]}" <<'PY'
import json, math, re, sys

# Traffic model, in multiples of B = bytes of x: what each op must read and write at least once.
TRAFFIC = {"train": 3, "eval": 2, "backward": 5, "copy": 2}
SHAPES = ["256x1024", "4096x1024", "64x256", "64x64x56x56", "128x256x14x14", "256x6x24x24", "256x16x8x8"]

def nbytes(shape):
    n = 1
    for d in shape.split("x"):
        n *= int(d)
    return 4 * n

def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"

def isa_flags():
    for line in open("/proc/cpuinfo"):
        if line.startswith("flags"):
            flags = line.split(":", 1)[1].split()
            return " ".join(f for f in flags if f in ("sse4_2", "avx", "avx2", "fma") or f.startswith("avx512"))
    return "unknown"

def fmt(v, spec):
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)

for path in sys.argv[1:]:
    data = json.load(open(path))
    ctx = data["context"]
    times = {}  # (op, shape, side) -> median real time in us
    for b in data["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        m = re.match(r"bn/(\w+)/([0-9x]+)/(\w+)", b["run_name"])
        if m:
            times[m.groups()] = b["real_time"]  # the binary reports microseconds
    print(f"\n### {ctx.get('threads', '?')} thread(s), {ctx.get('date', '')}, host {ctx.get('host_name', '')}, "
          f"{ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz")
    print("median of 5 repetitions; GB/s = traffic model / time (train 3B, eval 2B, backward 5B, copy 2B);"
          " x side = side's time / hnn's time (> 1: hnn faster)\n")
    print(f"CPU: {cpu_model()}; ISA flags: {isa_flags()}\n")
    print("| op | shape | hnn us | hnn GB/s | of copy BW | torch us | x torch | dnnl nchw us | x dnnl nchw |"
          " dnnl nhwc us | x dnnl nhwc | dnnl 16c us | x dnnl 16c | dnnl 8c us | x dnnl 8c | x fastest dnnl |"
          " hnn nhwc us | nhwc: x dnnl nhwc |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for op in ("train", "eval", "backward"):
        for shape in SHAPES:
            hnn = times.get((op, shape, "hnn"))
            if hnn is None:
                continue
            copy = times.get(("copy", shape, "memcpy"))
            gbps = TRAFFIC[op] * nbytes(shape) / (hnn * 1e-6) / 1e9
            copy_gbps = TRAFFIC["copy"] * nbytes(shape) / (copy * 1e-6) / 1e9 if copy else None
            row = [op, shape, fmt(hnn, ".1f"), fmt(gbps, ".1f"), fmt(gbps / copy_gbps if copy_gbps else None, ".2f")]
            for side in ("torch", "dnnl_nchw", "dnnl_nhwc", "dnnl_16c", "dnnl_8c"):
                t = times.get((op, shape, side))
                row += [fmt(t, ".1f"), fmt(t / hnn if t else None, ".2f")]
            dnnl = [t for side in ("dnnl_nchw", "dnnl_nhwc", "dnnl_16c", "dnnl_8c")
                    if (t := times.get((op, shape, side))) is not None]
            row.append(fmt(min(dnnl) / hnn if dnnl else None, ".2f"))
            nhwc, dnnl_nhwc = times.get((op, shape, "hnn_nhwc")), times.get((op, shape, "dnnl_nhwc"))
            row += [fmt(nhwc, ".1f"), fmt(dnnl_nhwc / nhwc if nhwc and dnnl_nhwc else None, ".2f")]
            print("| " + " | ".join(row) + " |")
    print("\n| shape | copy us | copy GB/s |\n|---|---:|---:|")
    for shape in SHAPES:
        copy = times.get(("copy", shape, "memcpy"))
        if copy:
            print(f"| {shape} | {copy:.1f} | {TRAFFIC['copy'] * nbytes(shape) / (copy * 1e-6) / 1e9:.1f} |")
PY
