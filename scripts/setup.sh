#!/usr/bin/env bash
# Installs what hnn needs on Debian 12 (build tools, Eigen, Catch2, Google Benchmark, nlohmann-json,
# zlib, CLI11, fmt, the Fashion-MNIST data set, Open MPI for the distributed tests). Idempotent: installs only what is missing and
# touches apt not at all when everything is there. Extra package names may be given:
#   bash scripts/setup.sh libtorch-dev libdnnl-dev
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache git pkg-config
  libeigen3-dev catch2 libbenchmark-dev nlohmann-json3-dev zlib1g-dev
  libcli11-dev libfmt-dev dataset-fashion-mnist
  libopenmpi-dev openmpi-bin
  "$@"
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages are installed"
  exit 0
fi

sudo=()
if ((EUID != 0)); then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
