#!/usr/bin/env bash
# Packs what the GPU checks need into one folder to copy to a machine with a
# CUDA device (which needs no Halide, GTest or apt there: the binaries are
# self-contained), then run `bash <kit>/gpu-check.sh` on it (docs/cuda.md).
#   bash scripts/make-gpu-kit.sh [BUILD_DIR]   ->  BUILD_DIR/gpu-kit
set -euo pipefail
build=${1:-build}
src=$(cd "$(dirname "$0")/.." && pwd)
kit=$build/gpu-kit
rm -rf "$kit"
mkdir -p "$kit/data"
for f in tests/test_cuda_kernels bench/bench_cuda driver/qforge-train; do
  [[ -x $build/$f ]] || { echo "make-gpu-kit: $build/$f is missing; run make build first" >&2; exit 1; }
  cp "$build/$f" "$kit/"
done
cp "$src/bench/cuda_compare.py" "$src/scripts/gpu-check.sh" "$kit/"
data=/usr/share/datasets/fashion-mnist  # Debian's dataset-fashion-mnist
if [[ -d $data ]]; then
  cp "$data"/*.gz "$kit/data/"
else
  echo "make-gpu-kit: no $data: the kit's training check will be skipped" >&2
fi
du -sh "$kit"
