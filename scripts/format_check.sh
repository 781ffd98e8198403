#!/usr/bin/env bash
# House rules of the source tree (issue 18, item 7): every C++/CUDA file formatted by clang-format-14 with
# the committed .clang-format, and the include layering of scripts/include_graph_check.sh. Prints the
# files that differ (with the first lines of the diff) and exits 1 when any does.
#   bash scripts/format_check.sh          check
#   bash scripts/format_check.sh --fix    reformat in place
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh clang-format-14 >/dev/null  # idempotent: installs only what is missing

mapfile -t files < <(git ls-files -- '*.hpp' '*.cpp' '*.cu' '*.cuh' '*.h')
if [[ ${1:-} == --fix ]]; then
  clang-format-14 --style=file -i "${files[@]}"
  exit 0
fi
bad=0
for f in "${files[@]}"; do
  if ! clang-format-14 --style=file "$f" | cmp -s - "$f"; then
    echo "format: $f differs from clang-format-14 (bash scripts/format_check.sh --fix):"
    clang-format-14 --style=file "$f" | diff -u "$f" - | sed -n '3,12p' || true
    bad=$((bad + 1))
  fi
done
if ((bad)); then
  echo "format: $bad of ${#files[@]} files differ"
  exit 1
fi
echo "format: ${#files[@]} files match clang-format-14"
bash scripts/include_graph_check.sh
