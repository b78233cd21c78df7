#!/usr/bin/env bash
# Installs the Debian packages qforge needs, only those that are missing.
# Runs apt-get directly as root, through sudo otherwise. Idempotent: a machine
# that already has everything is left alone (no apt-get update either).
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache
  libhalide14-0-dev
  libgtest-dev libgmock-dev
  libbenchmark-dev
  nlohmann-json3-dev
  zlib1g-dev
  libopenblas-dev
  dataset-fashion-mnist
  libcli11-dev
  binutils
  libdnnl-dev
  ocl-icd-opencl-dev
  g++-aarch64-linux-gnu qemu-user
)

# `make bench` also compares with PyTorch (bench/pytorch_reference.py).
if [[ ${1:-} == --bench ]]; then
  packages+=(python3-torch python3-numpy)
fi

missing=()
for p in "${packages[@]}"; do

  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} Debian packages present"
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "setup: missing packages (${missing[*]}) and not root, and sudo is not installed" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
