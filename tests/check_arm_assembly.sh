#!/usr/bin/env bash
# The AArch64 dot-product build of the int8 GEMM and of the direct conv must
# multiply with sdot (Halide 14 emits sdot/udot only for same-signedness
# operands: the ARM schedules shift u8 activations to s8, HALIDE14_NOTES G7);
# the plain NEON build must contain none (it runs on CPUs without them).
# Reads the assembly CMake emits (cmake/kernels.cmake: ASSEMBLY).
set -euo pipefail
build=${1:?usage: check_arm_assembly.sh ARM_BUILD_DIR}
status=0
for lib in qf_gemm_s32 qf_dconv_s32; do
    dot=$(ls "$build"/$lib-arm-64-linux-arm_dot_prod-*.s)
    plain=$(ls "$build"/$lib-arm-64-linux-no_bounds_query*.s)
    n_dot=$(grep -cE '^\s+sdot\s+v[0-9]+\.4s' "$dot" || true)
    n_plain=$(grep -cE '^\s+[su]dot\s' "$plain" || true)
    echo "$lib: arm_dot_prod build $n_dot sdot (vector, 4 x int32); plain NEON build $n_plain sdot/udot"
    if [[ $n_dot -lt 16 ]]; then echo "FAIL: $lib: expected a register tile of sdot (>= 16)"; status=1; fi
    if [[ $n_plain -ne 0 ]]; then echo "FAIL: $lib: dot-product instruction in the plain NEON build"; status=1; fi
done
exit $status
