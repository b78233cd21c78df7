# Halide target strings for each x86 variant, best first. The multi-target
# dispatcher picks the first whose features the CPU has; the last is the
# fallback. Feature lists are written out in full (HALIDE14_NOTES G1, G2):
# "avx512_sapphirerapids" alone does not link its VNNI intrinsics.
set(QF_X86_AVX512_VNNI
    x86-64-linux-avx-avx2-avx512-avx512_cannonlake-avx512_sapphirerapids-avx512_skylake-f16c-fma-sse41)
set(QF_X86_AVX2 x86-64-linux-avx-avx2-f16c-fma-sse41)
set(QF_X86_SSE41 x86-64-linux-sse41)
set(QF_X86_BASELINE x86-64-linux)
set(QF_X86_TARGETS ${QF_X86_AVX512_VNNI} ${QF_X86_AVX2} ${QF_X86_SSE41} ${QF_X86_BASELINE})

# The library that creates the Halide runtime all kernels share.
set(QF_RUNTIME_OWNER qf_cpu_variant_probe)

# qforge_kernel(<library> GENERATOR <generator> [PARAMS k=v ...] [FEATURES f ...] [ASSEMBLY])
# One AOT kernel library: every x86 variant plus its dispatch wrapper, using
# the shared runtime. Appends the library to QF_KERNEL_LIBRARIES.
function(qforge_kernel name)
  cmake_parse_arguments(ARG "ASSEMBLY" "GENERATOR" "PARAMS;FEATURES" ${ARGN})
  set(extra)
  if (NOT name STREQUAL QF_RUNTIME_OWNER)
    list(APPEND extra USE_RUNTIME ${QF_RUNTIME_OWNER}.runtime)
  endif ()
  if (ARG_ASSEMBLY)
    list(APPEND extra ASSEMBLY ${name}_assembly)
  endif ()
  if (ARG_PARAMS)
    list(APPEND extra PARAMS ${ARG_PARAMS})
  endif ()
  add_halide_library(${name} FROM qforge_gen
                     GENERATOR ${ARG_GENERATOR}
                     TARGETS ${QF_X86_TARGETS}
                     FEATURES no_bounds_query ${ARG_FEATURES}
                     ${extra})
  set(QF_KERNEL_LIBRARIES ${QF_KERNEL_LIBRARIES} ${name} PARENT_SCOPE)
endfunction()
