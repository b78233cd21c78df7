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

# AArch64 (the cross build, cmake/aarch64-toolchain.cmake): the dot-product
# variant (sdot) first, plain NEON as the fallback. Halide 14 cannot tell
# whether an ARM CPU has dot product (HALIDE14_NOTES G8); the runtime's
# feature hook asks the kernel (HWCAP_ASIMDDP) before dispatch may pick it.
set(QF_ARM_DOT_PROD arm-64-linux-arm_dot_prod)
set(QF_ARM_BASELINE arm-64-linux)
set(QF_ARM_TARGETS ${QF_ARM_DOT_PROD} ${QF_ARM_BASELINE})

# The targets every kernel library of this build holds.
if (CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(QF_KERNEL_TARGETS ${QF_ARM_TARGETS})
else ()
  set(QF_KERNEL_TARGETS ${QF_X86_TARGETS})
endif ()

# The library that creates the Halide runtime all kernels share.
set(QF_RUNTIME_OWNER qf_cpu_variant_probe)

# qforge_kernel(<library> GENERATOR <generator> [PARAMS k=v ...] [FEATURES f ...] [ASSEMBLY]
#               [TUNING <operator> CLASSES <class> ...])
# One AOT kernel library: every variant of this build's architecture
# (QF_KERNEL_TARGETS) plus its dispatch wrapper, using
# the shared runtime. Appends the library to QF_KERNEL_LIBRARIES.
# TUNING makes the library a slot: entries of the tuned schedule database for
# <operator> with one of the shape classes get a library of their own
# (cmake/QforgeTuned.cmake), which the runtime calls instead of this one. The
# slot's generator, params, features, operator and classes are recorded in
# global properties (QF_TUNING_SLOTS, QF_SLOT_<library>_*) for that step.
function(qforge_kernel name)
  cmake_parse_arguments(ARG "ASSEMBLY" "GENERATOR;TUNING" "PARAMS;FEATURES;CLASSES" ${ARGN})
  if (ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "qforge_kernel(${name}): unexpected arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif ()
  if (ARG_TUNING OR ARG_CLASSES)
    if (NOT ARG_TUNING OR NOT ARG_CLASSES)
      message(FATAL_ERROR "qforge_kernel(${name}): TUNING <operator> and CLASSES <class>... go together")
    endif ()
    set_property(GLOBAL APPEND PROPERTY QF_TUNING_SLOTS ${name})
    set_property(GLOBAL PROPERTY QF_SLOT_${name}_GENERATOR ${ARG_GENERATOR})
    set_property(GLOBAL PROPERTY QF_SLOT_${name}_PARAMS ${ARG_PARAMS})
    set_property(GLOBAL PROPERTY QF_SLOT_${name}_FEATURES ${ARG_FEATURES})
    set_property(GLOBAL PROPERTY QF_SLOT_${name}_OPERATOR ${ARG_TUNING})
    set_property(GLOBAL PROPERTY QF_SLOT_${name}_CLASSES ${ARG_CLASSES})
  endif ()
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
                     TARGETS ${QF_KERNEL_TARGETS}
                     FEATURES no_bounds_query ${ARG_FEATURES}
                     ${extra})
  set(QF_KERNEL_LIBRARIES ${QF_KERNEL_LIBRARIES} ${name} PARENT_SCOPE)
endfunction()
