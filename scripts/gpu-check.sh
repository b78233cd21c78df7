#!/usr/bin/env bash
# The GPU checks, run from a kit made by scripts/make-gpu-kit.sh on a machine
# with a CUDA device: the kernels and the runtime against the references and
# the CPU (test_cuda_kernels), a short QAT run of qforge-train on the GPU next
# to the same run on the CPU, and the benchmarks next to PyTorch.
#   bash gpu-check.sh [OUT_DIR]
set -uo pipefail
kit=$(cd "$(dirname "$0")" && pwd)
out=${1:-$kit/out}
mkdir -p "$out"
status=0
echo "== kernels and runtime on the GPU (test_cuda_kernels)"
"$kit/test_cuda_kernels" > "$out/test_cuda_kernels.log" 2>&1
rc=$?
grep -v '^\[  OK  \]' "$out/test_cuda_kernels.log"
echo "$(grep -c '^\[  OK  \]' "$out/test_cuda_kernels.log") checks passed; exit $rc"
[[ $rc -ne 0 ]] && status=1
if [[ -f $kit/data/train-images-idx3-ubyte.gz ]]; then
  args=(--data "$kit/data" --epochs 1 --qat-epochs 1 --configs w4a4 --train-limit 10000 --test-limit 2000 --threads 4)
  for device in cuda cpu; do
    echo "== qforge-train --device $device ${args[*]}"
    start=$SECONDS
    "$kit/qforge-train" --device $device --report "$out/report-$device" "${args[@]}" > "$out/train-$device.log" 2>&1
    rc=$?
    grep -E 'device|test accuracy|integer model' "$out/train-$device.log"
    echo "$((SECONDS - start)) s wall"
    [[ $rc -ne 0 ]] && { echo "qforge-train --device $device failed (exit $rc)"; tail -5 "$out/train-$device.log"; status=1; }
  done
fi
echo "== benchmarks next to PyTorch"
PYTHONUNBUFFERED=1 python3 "$kit/cuda_compare.py" "$kit/bench_cuda" --out "$out/cuda_compare.json" \
  > "$out/bench.log" 2>&1 || status=1
sed -n '/^NVIDIA\|^operator\|capability/,$p' "$out/bench.log" | tail -40
exit $status
