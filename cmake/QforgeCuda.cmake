# CUDA kernels (issue 6): every operator on the CUDA schedules of
# schedules/cuda/, AOT-compiled for the CUDA targets below and linked into the
# runtime, which runs them for Device::cuda (qforge/device.h). The PTX of
# every kernel is validated with ptxas on every build (tests/check_cuda_ptx.sh)
# and tests/test_cuda_kernels.cpp runs them against the references on a
# machine with a CUDA device (it reports SKIPPED elsewhere).
#
# One library per (operator, capability): Halide 14's multi-target dispatch
# does not tell CUDA capabilities apart at run time, and the caller picks the
# library for its device.
option(QFORGE_CUDA "Build the CUDA kernels and validate their PTX" ON)
if (NOT QFORGE_CUDA OR CMAKE_CROSSCOMPILING)
  return()
endif ()

set(QF_CUDA_CAPABILITIES 80 86)
# One Halide runtime (with its CUDA module) for every CUDA library, made by the
# first library of the lowest capability: the runtime's code does not depend
# on the capability (only the kernels' PTX does), and one copy lets a program
# link both capabilities' libraries (the GPU test does) and the CPU kernels.
list(GET QF_CUDA_CAPABILITIES 0 QF_CUDA_RUNTIME_CAPABILITY)
set(QF_CUDA_RUNTIME_OWNER qf_cuda_fake_quant_pt_sm${QF_CUDA_RUNTIME_CAPABILITY})
set(QF_CUDA_KERNELS)  # every CUDA kernel library, for the PTX check and the GPU test

# qforge_cuda_kernel(<name> GENERATOR <generator> [FUSED_MULTIPLY_ADD] [HOST_ONLY] [PARAMS ...] [FEATURES ...])
#
# HOST_ONLY: a pipeline with no device code (the layout probes, which report
# the CUDA schedules' constants to the runtime); kept out of the PTX check.
#
# Every library is strict_float unless it says FUSED_MULTIPLY_ADD (the float32
# GEMMs and convolutions, whose sums are not bit-exact anyway). Why: LLVM's
# NVPTX back end contracts a multiply and an add into fma.rn.f32 whenever the
# target allows fast FP fusion, whatever Halide's per-expression strict_float
# says; that moved one requantized GEMM output by one step on an H100
# (acc * M + 1.5*2^23 rounded once instead of twice). tests/check_cuda_ptx.sh
# rejects fma.rn.f32 in every library that is not FUSED_MULTIPLY_ADD.
function(qforge_cuda_kernel name)
  cmake_parse_arguments(ARG "FUSED_MULTIPLY_ADD;HOST_ONLY" "GENERATOR" "PARAMS;FEATURES" ${ARGN})
  if (NOT ARG_FUSED_MULTIPLY_ADD)
    list(APPEND ARG_FEATURES strict_float)
    list(REMOVE_DUPLICATES ARG_FEATURES)
  endif ()
  foreach (cc IN LISTS QF_CUDA_CAPABILITIES)
    set(lib ${name}_sm${cc})
    set(owner ${QF_CUDA_RUNTIME_OWNER})
    set(extra)
    if (NOT lib STREQUAL owner)
      list(APPEND extra USE_RUNTIME ${owner}.runtime)
    endif ()
    if (ARG_PARAMS)
      list(APPEND extra PARAMS ${ARG_PARAMS})
    endif ()
    add_halide_library(${lib} FROM qforge_gen
                       GENERATOR ${ARG_GENERATOR}
                       TARGETS x86-64-linux-cuda-cuda_capability_${cc}
                       FEATURES no_bounds_query ${ARG_FEATURES}
                       ${extra})
    if (ARG_HOST_ONLY)
      set_property(GLOBAL APPEND PROPERTY QF_CUDA_HOST_KERNELS ${lib})
    else ()
      set_property(GLOBAL APPEND PROPERTY QF_CUDA_KERNELS ${lib})
    endif ()
    if (ARG_FUSED_MULTIPLY_ADD)
      set_property(GLOBAL APPEND PROPERTY QF_CUDA_FMA_KERNELS ${lib})
    endif ()
  endforeach ()
endfunction()

qforge_cuda_kernel(qf_cuda_fake_quant_pt       GENERATOR fake_quant_per_tensor)
qforge_cuda_kernel(qf_cuda_fake_quant_pt_mask  GENERATOR fake_quant_per_tensor_mask)
qforge_cuda_kernel(qf_cuda_fake_quant_pc       GENERATOR fake_quant_per_channel)
qforge_cuda_kernel(qf_cuda_fake_quant_pc_mask  GENERATOR fake_quant_per_channel_mask)
qforge_cuda_kernel(qf_cuda_ste_backward        GENERATOR ste_backward)
qforge_cuda_kernel(qf_cuda_lsq_backward_pt     GENERATOR lsq_backward_per_tensor)
qforge_cuda_kernel(qf_cuda_lsq_backward_pc     GENERATOR lsq_backward_per_channel)
qforge_cuda_kernel(qf_cuda_gemm_s32            GENERATOR gemm_int8_s32)
qforge_cuda_kernel(qf_cuda_gemm_u8             GENERATOR gemm_int8_requant PARAMS requant_type=uint8)
qforge_cuda_kernel(qf_cuda_gemm_s8             GENERATOR gemm_int8_requant PARAMS requant_type=int8)
qforge_cuda_kernel(qf_cuda_gemm_f32            GENERATOR gemm_int8_f32)
qforge_cuda_kernel(qf_cuda_im2col             GENERATOR im2col_int8)
qforge_cuda_kernel(qf_cuda_dconv_s32           GENERATOR direct_conv_int8_s32)
qforge_cuda_kernel(qf_cuda_dconv_u8            GENERATOR direct_conv_int8_requant PARAMS requant_type=uint8)
qforge_cuda_kernel(qf_cuda_dconv_s8            GENERATOR direct_conv_int8_requant PARAMS requant_type=int8)
qforge_cuda_kernel(qf_cuda_dconv_f32           GENERATOR direct_conv_int8_f32)
foreach (pv 1 2 4)
  qforge_cuda_kernel(qf_cuda_rconv${pv}_s32    GENERATOR direct_conv_rows_int8_s32 PARAMS panel_vectors=${pv})
  qforge_cuda_kernel(qf_cuda_rconv${pv}_u8     GENERATOR direct_conv_rows_int8_requant PARAMS requant_type=uint8 panel_vectors=${pv})
endforeach ()
qforge_cuda_kernel(qf_cuda_dwconv_s32          GENERATOR depthwise_conv_int8_s32)
qforge_cuda_kernel(qf_cuda_dwconv_u8           GENERATOR depthwise_conv_int8_requant PARAMS requant_type=uint8)
qforge_cuda_kernel(qf_cuda_dwconv_s8           GENERATOR depthwise_conv_int8_requant PARAMS requant_type=int8)
qforge_cuda_kernel(qf_cuda_dwconv_f32          GENERATOR depthwise_conv_int8_f32)
qforge_cuda_kernel(qf_cuda_pack_gemm_weights   GENERATOR pack_gemm_weights)
qforge_cuda_kernel(qf_cuda_stream_copy         GENERATOR stream_copy)
# float32 training kernels (the CPU build's list: cmake/kernels_train_*.cmake).
qforge_cuda_kernel(qf_cuda_sgemm_layout_probe  GENERATOR sgemm_layout_probe HOST_ONLY)
qforge_cuda_kernel(qf_cuda_sgemm_nn            GENERATOR sgemm_f32 FUSED_MULTIPLY_ADD PARAMS a_transposed=false)
qforge_cuda_kernel(qf_cuda_sgemm_tn            GENERATOR sgemm_f32 FUSED_MULTIPLY_ADD PARAMS a_transposed=true)
qforge_cuda_kernel(qf_cuda_pack_f32            GENERATOR pack_f32 PARAMS transpose=false)
qforge_cuda_kernel(qf_cuda_pack_f32_t          GENERATOR pack_f32 PARAMS transpose=true)
qforge_cuda_kernel(qf_cuda_im2col_f32          GENERATOR im2col_f32)
qforge_cuda_kernel(qf_cuda_col2im_f32          GENERATOR col2im_f32)
qforge_cuda_kernel(qf_cuda_direct_conv_f32     GENERATOR direct_conv_f32 FUSED_MULTIPLY_ADD)
qforge_cuda_kernel(qf_cuda_conv_wgrad_f32      GENERATOR conv_wgrad_f32 FUSED_MULTIPLY_ADD)
foreach (op column_sum channel_affine channel_affine_backward batch_norm_train batch_norm_eval batch_norm_backward
            relu relu_backward max_pool2x2 max_pool2x2_backward sgd_momentum adam
            quantize_u8 quantize_s8 dequantize_u8 dequantize_s8 requantize_u8 requantize_s8)
  qforge_cuda_kernel(qf_cuda_${op}             GENERATOR ${op})
endforeach ()
# Fused multiply-adds inside libdevice's expf / logf (its own accuracy design);
# the loss and gradient are compared with a tolerance anyway.
qforge_cuda_kernel(qf_cuda_softmax_cross_entropy GENERATOR softmax_cross_entropy FUSED_MULTIPLY_ADD)
qforge_cuda_kernel(qf_cuda_max_pool2x2_u8      GENERATOR max_pool2x2_u8)
qforge_cuda_kernel(qf_cuda_max_pool2x2_s8      GENERATOR max_pool2x2_s8)
get_property(QF_CUDA_KERNELS GLOBAL PROPERTY QF_CUDA_KERNELS)
get_property(QF_CUDA_HOST_KERNELS GLOBAL PROPERTY QF_CUDA_HOST_KERNELS)
get_property(QF_CUDA_FMA_KERNELS GLOBAL PROPERTY QF_CUDA_FMA_KERNELS)

# One header that includes every CUDA kernel's (both capabilities), for the
# GPU test and benchmark.
set(all_h "")
foreach (lib IN LISTS QF_CUDA_KERNELS QF_CUDA_HOST_KERNELS)
  string(APPEND all_h "#include \"${lib}.h\"\n")
endforeach ()
file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/qf_cuda_kernels_all.h CONTENT "#pragma once\n${all_h}")
