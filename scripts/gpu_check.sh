#!/usr/bin/env bash
# What to run on a machine with a CUDA GPU (an H100/H200): builds the CUDA configuration for the local
# GPU's architecture, runs the CUDA tests on the device, runs the test executable under
# compute-sanitizer memcheck and racecheck, runs the cuDNN benchmark, and writes everything to a report
# (default gpu_check_report.md; first argument overrides). Exits non-zero when a test or sanitizer fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

report=${1:-gpu_check_report.md}
report=$(realpath -m "$report")
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
export PATH="$CUDA_HOME/bin:$PATH"

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_check: no GPU visible (nvidia-smi -L failed); run this on a machine with a CUDA device" >&2
  exit 2
fi

# The GPU's own architecture (e.g. 90 for H100/H200): compute_cap is "9.0".
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n1 | tr -d ' .')
export HNN_CUDA_ARCHITECTURES=${HNN_CUDA_ARCHITECTURES:-$arch}
export HNN_JOBS=${HNN_JOBS:-$(nproc)}
build_dir=${HNN_CUDA_BUILD_DIR:-build-cuda}
export HNN_CUDA_BUILD_DIR=$build_dir

status=0
{
  echo "# hnn GPU check"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -n1)"
  echo "- nvcc: $(nvcc --version | tail -n1)"
  echo "- architectures: $HNN_CUDA_ARCHITECTURES"
  echo
} >"$report"

section() { printf '\n## %s\n\n```\n' "$1" >>"$report"; }
end_section() { printf '```\n' >>"$report"; }

section "build and ctest -L cuda (scripts/cuda_build.sh)"
if bash scripts/cuda_build.sh >>"$report" 2>&1; then echo "result: PASS" >>"$report"; else echo "result: FAIL" >>"$report"; status=1; fi
end_section

test_exe="$build_dir/tests/cuda/test_cuda_batch_norm_cuda_test"
section "test executable directly (every test case, no skips allowed on a GPU)"
if "$test_exe" --durations yes >>"$report" 2>&1; then echo "result: PASS" >>"$report"; else echo "result: FAIL" >>"$report"; status=1; fi
end_section

sanitizer=$(command -v compute-sanitizer || echo "$CUDA_HOME/bin/compute-sanitizer")
for tool in memcheck racecheck; do
  section "compute-sanitizer --tool $tool"
  # --error-exitcode makes any reported hazard a failure; leak checking for memcheck (the caching
  # allocator frees its blocks at exit).
  extra=()
  [[ $tool == memcheck ]] && extra=(--leak-check full)
  if "$sanitizer" --tool "$tool" --error-exitcode 1 "${extra[@]}" "$test_exe" >>"$report" 2>&1; then
    echo "result: PASS" >>"$report"
  else
    echo "result: FAIL" >>"$report"
    status=1
  fi
  end_section
done

bench="$build_dir/cuda_batch_norm_bench"
section "benchmark: $bench --reps 100 --markdown"
end_section
if [[ -x "$bench" ]]; then
  "$bench" --reps 100 --markdown >>"$report" 2>&1 || status=1
else
  echo "benchmark not built (no cuDNN)" >>"$report"
fi

echo
echo "gpu_check: report written to $report (status $status)"
exit "$status"
