#!/usr/bin/env bash
# examples/arm_gemm: an app that links int8 GEMM kernels qforge-gen emits for
# AArch64 (dot product + plain NEON, one multi-target library per operator),
# cross-built with the toolchain file and run under qemu-aarch64: on qemu's
# default CPU (dot product) and as a Cortex-A53 (none: the app's HWCAP check
# must send dispatch to the plain build). Its output is checked against the
# plain C++ reference inside the app.
#   check_arm_example.sh <qforge-gen> <source dir>
set -euo pipefail
GEN=${1:?usage: check_arm_example.sh <qforge-gen> <source dir>}
SRC=${2:?usage: check_arm_example.sh <qforge-gen> <source dir>}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cmake -S "$SRC/examples/arm_gemm" -B "$WORK/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_TOOLCHAIN_FILE="$SRC/cmake/aarch64-toolchain.cmake" -DQFORGE_GEN="$GEN" >"$WORK/configure.log" 2>&1 ||
    { cat "$WORK/configure.log"; exit 1; }
cmake --build "$WORK/build" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
readelf -h "$WORK/build/arm_gemm" | grep -q 'Machine:.*AArch64' ||
    { echo "FAIL: arm_gemm is not an AArch64 executable"; readelf -h "$WORK/build/arm_gemm"; exit 1; }

status=0
for cpu in max cortex-a53; do
    echo "== qemu-aarch64 -cpu $cpu"
    if ! out=$(qemu-aarch64 -cpu "$cpu" -L /usr/aarch64-linux-gnu "$WORK/build/arm_gemm" 2>&1); then
        echo "$out"; echo "FAIL: arm_gemm on $cpu"; status=1; continue
    fi
    echo "$out"
    want=has; [[ $cpu == cortex-a53 ]] && want=lacks
    grep -q "^CPU: $want dot product" <<<"$out" || { echo "FAIL: expected a CPU that $want dot product"; status=1; }
    grep -q '^ok: ' <<<"$out" || status=1
done
exit $status
