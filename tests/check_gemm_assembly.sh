#!/usr/bin/env bash
# The AVX-512 VNNI variant of the int8 GEMM must multiply with zmm vpdpbusd
# (EVEX, 16 int32 lanes), and no variant may use the VEX form (HALIDE14_NOTES G3).
# Reads the assembly CMake emits for qf_gemm_s32 (cmake/kernels.cmake: ASSEMBLY).
set -euo pipefail
build=${1:?usage: check_gemm_assembly.sh BUILD_DIR}
vnni=$(ls "$build"/qf_gemm_s32-x86-64-linux-*avx512_sapphirerapids*.s)
avx2=$(ls "$build"/qf_gemm_s32-x86-64-linux-avx-avx2-f16c-fma-sse41-*.s)
zmm=$(grep -cE 'vpdpbusd\s+%zmm' "$vnni" || true)
narrow=$(grep -cE 'vpdpbusd\s+%[xy]mm|\{vex\}' "$vnni" || true)
echo "AVX-512 VNNI variant: $zmm zmm vpdpbusd, $narrow xmm/ymm or VEX forms"
[[ $zmm -ge 16 && $narrow -eq 0 ]] || { echo "FAIL: expected zmm vpdpbusd only"; exit 1; }
other=$(grep -cE 'vpdpbusd' "$avx2" || true)
echo "AVX2 variant: $other vpdpbusd (must be 0: no VNNI there)"
[[ $other -eq 0 ]] || { echo "FAIL: VNNI instruction in the AVX2 variant"; exit 1; }
