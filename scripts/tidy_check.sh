#!/usr/bin/env bash
# clang-tidy-14 with the committed .clang-tidy over hnn's headers (issue 18, item 7), through two
# translation units: examples/lenet.cpp (a real training program) and tools/tidy/instantiate.cpp (every
# header, the public class templates explicitly instantiated for float and double). Findings in
# include/hnn count (HeaderFilterRegex); any finding fails the check.
#   bash scripts/tidy_check.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh clang-tidy-14 libomp-14-dev >/dev/null  # idempotent: installs only what is missing

flags=(-std=c++20 -Iinclude -I/usr/include/eigen3 -DHNN_WITH_OPENMP -fopenmp)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# The two units side by side (about a minute each).
printf '%s\n' examples/lenet.cpp tools/tidy/instantiate.cpp |
  xargs -P 2 -I{} sh -c 'unit=$1; shift; clang-tidy-14 --quiet "$unit" -- "$@" 2>/dev/null' _ {} "${flags[@]}" >"$out" || true
findings=$(grep -c ': warning: \|: error: ' "$out" || true)
if ((findings)); then
  grep -A3 ': warning: \|: error: ' "$out"
  echo "tidy: $findings finding(s) in include/hnn (see .clang-tidy)"
  exit 1
fi
echo "tidy: no finding in include/hnn (examples/lenet.cpp, tools/tidy/instantiate.cpp)"
